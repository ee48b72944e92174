/* The library's allocations, host and device, go through these wrappers so that a test can
 * make the n-th one fail (ax_alloc_fail_nth) and check that every error path cleans up. */
#ifndef AX_ALLOC_H
#define AX_ALLOC_H

#include <stddef.h>
#include <stdio.h>

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

void *ax_malloc(size_t size);
void *ax_calloc(size_t count, size_t size);
void *ax_realloc(void *ptr, size_t size);
char *ax_strdup(const char *s);
/* fdopen: its FILE is a host allocation too (fails with errno ENOMEM when injected). */
FILE *ax_fdopen(int fd, const char *mode);

/* ctx's backend allocation of bytes into *out; AX_ERR_OOM naming fn when injected. Release
 * with ax_device_free. */
ax_status ax_device_alloc(const char *fn, ax_ctx *ctx, size_t bytes, void **out);
void ax_device_free(ax_ctx *ctx, void *ptr);
/* Device allocations not yet freed, all contexts together (tests check none leaks). */
long ax_device_live(void);
/* The most device allocations live at once since the last call (which it starts again from
 * the count live now): a test's view of a call's peak. */
long ax_device_live_peak_reset(void);

/* Test hook, not in the public headers (and not exported from the shared library): make
 * allocation number n (0 is the next one; host and device allocations counted together) fail,
 * and every other one succeed. n < 0 turns injection off. */
void ax_alloc_fail_nth(long n);
/* 1 when the failure set by ax_alloc_fail_nth has happened. */
int ax_alloc_fail_hit(void);

#ifdef __cplusplus
}
#endif

#endif
