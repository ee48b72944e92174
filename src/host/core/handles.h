/* The registry of live handles: every object a public create returns is recorded here with
 * its kind until it is destroyed, so that a destroyed (or never created) handle is recognised
 * without reading its memory. A mutex-protected hash set of pointers; safe from any thread.
 *
 * An address freed by a destroy may be handed out again by a later create of the same kind;
 * the old handle then names the new object. The registry catches a use after destroy only
 * until then (the header says so). */
#ifndef AX_HANDLES_H
#define AX_HANDLES_H

#include <stdint.h>

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ax_handle_kind {
    AX_HANDLE_CTX = 1,
    AX_HANDLE_TENSOR,
    AX_HANDLE_GRAPH,
    AX_HANDLE_NODE,
    AX_HANDLE_OPTIMIZER,
    AX_HANDLE_LOADER,
    AX_HANDLE_TEXT,
    AX_HANDLE_SAFETENSORS,
    AX_HANDLE_KINDS /* count, not a kind */
} ax_handle_kind;

/* Record p as a live handle of kind; AX_ERR_OOM naming fn when the registry cannot grow. */
ax_status ax_handle_add(const char *fn, const void *p, ax_handle_kind kind);

/* Forget p. 1 when p was a live handle of kind (the caller then frees it); 0 otherwise (a
 * second destroy, or another kind's handle): nothing happens. */
int ax_handle_remove(const void *p, ax_handle_kind kind);

/* 1 when p is a live handle of kind. */
int ax_handle_live(const void *p, ax_handle_kind kind);

/* AX_OK for a live handle of kind; AX_ERR_INVALID_ARG for NULL ("<name> is NULL"), else
 * AX_ERR_STATE ("<name> is not a live <kind> (destroyed?)"); fn names the public call. */
ax_status ax_handle_check(const char *fn, const void *p, ax_handle_kind kind, const char *name);

/* ctx is a live context: NULL is AX_ERR_INVALID_ARG, a destroyed one AX_ERR_STATE. */
ax_status ax_check_ctx(const char *fn, const ax_ctx *ctx);

/* t is a live tensor whose context is alive (else AX_ERR_STATE; NULL: AX_ERR_INVALID_ARG). */
ax_status ax_check_live(const char *fn, const ax_tensor *t, const char *name);

/* Live handles of kind (tests count them before and after a failed call). */
int64_t ax_handle_count(ax_handle_kind kind);

#ifdef __cplusplus
}
#endif

#endif
