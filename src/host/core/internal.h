/* Internal definitions shared by the core, the op entry points and the backends. */
#ifndef AX_INTERNAL_H
#define AX_INTERNAL_H

#include <stdint.h>

#include "axon/core.h"

/* The counters are C11 atomics. C++ units (the CUDA kernels) include this header only for
 * the layout and never touch them; _Atomic long has long's size and alignment there. */
#ifdef __cplusplus
#define AX_ATOMIC(type) type
extern "C" {
#else
#include <stdatomic.h>
#define AX_ATOMIC(type) _Atomic(type)
#endif

struct ax_backend;

/* Handles are recognised by the registry of live handles (handles.h), never by reading
 * their memory. */
struct ax_ctx {
    AX_ATOMIC(int) destroyed; /* ax_ctx_destroy was called; freed when the last user goes */
    AX_ATOMIC(long) refs;     /* 1 for the user's handle (until destroyed) + 1 per tensor,
                                 graph and optimizer of the context */
    const struct ax_backend *backend;
    ax_device_info info;
    void *stream;   /* cudaStream_t on CUDA, NULL on the CPU */
    uint64_t seed;
    void *scratch;  /* device scratch, grown on demand (ax_ctx_scratch) */
    size_t scratch_bytes;
    /* A failure with no caller to report it (a free, possibly on another thread), returned
     * with its message by the next ax_ctx_synchronize: 0 none, -1 being recorded, else the
     * ax_status. Only the thread that moves it from 0 to -1 writes the message. */
    AX_ATOMIC(int) deferred_status;
    char deferred_error[256];
    /* CUDA: the record of the checks kernels make of data the host does not read (an index
     * out of range), allocated at its first use (cuda_internal.h: ax_cuda_device_check) */
    void *device_check;
};

struct ax_tensor {
    ax_ctx *ctx;
    ax_dtype dtype;
    int ndim;
    int64_t shape[AX_MAX_DIMS];
    int64_t numel;
    int64_t capacity; /* elements allocated (>= numel; ax_tensor_set_rows can grow back to it) */
    void *data;
};

/* Record the thread's last error ("fn: message") and return status. */
ax_status ax_fail(ax_status status, const char *fn, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* AX_FAIL(status, "format", args...) names the enclosing function in the message. */
#define AX_FAIL(status, ...) ax_fail((status), __func__, __VA_ARGS__)

/* AX_TRY(expr): return the status of expr when it is not AX_OK. */
#define AX_TRY(expr)                                                                           \
    do {                                                                                       \
        ax_status ax_try_status_ = (expr);                                                     \
        if (ax_try_status_ != AX_OK)                                                           \
            return ax_try_status_;                                                             \
    } while (0)

/* Set shape[0] of t (ndim >= 1) to rows, keeping the other dims, within the elements
 * allocated at creation: the last partial batch of a graph or a data loader reuses the
 * storage of a full one. fn names the public call in the error message. */
ax_status ax_tensor_set_rows(const char *fn, ax_tensor *t, int64_t rows);

/* dst [B, A, C] = src [A, B, C] with its first two dims swapped (time-major <-> batch-first
 * sequences): A strided copies on src's device; dst and src of the same context, dtype and
 * numel, not overlapping. fn names the public call. */
ax_status ax_tensor_swap01(const char *fn, const ax_tensor *src, ax_tensor *dst);

/* A view is a copy of a live tensor's struct under another shape, sharing its storage and
 * its context reference (never destroyed). Open makes it a live tensor for the calls that
 * take it; close forgets it again before it goes out of scope. */
ax_status ax_tensor_view_open(const char *fn, ax_tensor *view);
void ax_tensor_view_close(ax_tensor *view);

/* Device scratch of at least `bytes`, valid until the next call on ctx (stream-ordered). */
ax_status ax_ctx_scratch(ax_ctx *ctx, size_t bytes, void **out);

/* Take one reference to ctx (an object that needs it to stay allocated), and release it;
 * the last release frees the context. Atomic: any thread. */
void ax_ctx_retain(ax_ctx *ctx);
void ax_ctx_release(ax_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif
