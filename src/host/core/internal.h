/* Internal definitions shared by the core, the op entry points and the backends. */
#ifndef AX_INTERNAL_H
#define AX_INTERNAL_H

#include <stdint.h>

#include "axon/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AX_CTX_MAGIC 0x41584358u    /* "AXCX" */
#define AX_TENSOR_MAGIC 0x41585454u /* "AXTT" */
#define AX_DEAD_MAGIC 0xdeadbeefu

struct ax_backend;

struct ax_ctx {
    uint32_t magic;
    int destroyed;  /* ax_ctx_destroy was called; freed when the last tensor goes */
    long refs;      /* 1 for the user's handle (until destroyed) + 1 per live tensor */
    const struct ax_backend *backend;
    ax_device_info info;
    void *stream;   /* cudaStream_t on CUDA, NULL on the CPU */
    uint64_t seed;
    void *scratch;  /* device scratch, grown on demand (ax_ctx_scratch) */
    size_t scratch_bytes;
    ax_status deferred_status; /* a failure with no caller to report it (a free), returned */
    char deferred_error[256];  /* with this message by the next ax_ctx_synchronize */
};

struct ax_tensor {
    uint32_t magic;
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

size_t ax_dtype_size(ax_dtype dtype);

/* Set shape[0] of t (ndim >= 1) to rows, keeping the other dims, within the elements
 * allocated at creation: the last partial batch of a graph or a data loader reuses the
 * storage of a full one. fn names the public call in the error message. */
ax_status ax_tensor_set_rows(const char *fn, ax_tensor *t, int64_t rows);

/* Device scratch of at least `bytes`, valid until the next call on ctx (stream-ordered). */
ax_status ax_ctx_scratch(ax_ctx *ctx, size_t bytes, void **out);

/* Release one reference to ctx; frees it when none remain. */
void ax_ctx_release(ax_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif
