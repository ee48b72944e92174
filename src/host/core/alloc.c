/* Allocation wrappers with failure injection for tests (alloc.h). */
#include "alloc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../backend.h"

/* Allocations left before the injected failure; -1 when none is planned. */
static atomic_long countdown = -1;
static atomic_int hit;
static atomic_long device_live, device_live_peak;

void ax_alloc_fail_nth(long n) {
    atomic_store(&hit, 0);
    atomic_store(&countdown, n < 0 ? -1 : n);
}

int ax_alloc_fail_hit(void) { return atomic_load(&hit); }

/* Count one allocation; 1 when it is the one to fail. */
static int inject(void) {
    if (atomic_load_explicit(&countdown, memory_order_relaxed) < 0)
        return 0;
    if (atomic_fetch_sub(&countdown, 1) != 0)
        return 0;
    atomic_store(&hit, 1);
    errno = ENOMEM;
    return 1;
}

void *ax_malloc(size_t size) { return inject() ? NULL : malloc(size); }

void *ax_calloc(size_t count, size_t size) { return inject() ? NULL : calloc(count, size); }

void *ax_realloc(void *ptr, size_t size) { return inject() ? NULL : realloc(ptr, size); }

char *ax_strdup(const char *s) { return inject() ? NULL : strdup(s); }

FILE *ax_fdopen(int fd, const char *mode) { return inject() ? NULL : fdopen(fd, mode); }

ax_status ax_device_alloc(const char *fn, ax_ctx *ctx, size_t bytes, void **out) {
    if (inject())
        return ax_fail(AX_ERR_OOM, fn, "out of %s memory for %zu bytes (injected)",
                       ctx->backend->name, bytes);
    ax_status st = ctx->backend->alloc(ctx, bytes, out);
    if (st == AX_OK) {
        long live = atomic_fetch_add(&device_live, 1) + 1;
        long peak = atomic_load(&device_live_peak);
        while (live > peak && !atomic_compare_exchange_weak(&device_live_peak, &peak, live)) {
        }
    }
    return st;
}

void ax_device_free(ax_ctx *ctx, void *ptr) {
    if (!ptr) /* nothing was allocated: the count must not drift */
        return;
    atomic_fetch_sub(&device_live, 1);
    ctx->backend->free(ctx, ptr);
}

long ax_device_live(void) { return atomic_load(&device_live); }

long ax_device_live_peak_reset(void) {
    long live = atomic_load(&device_live);
    return atomic_exchange(&device_live_peak, live);
}
