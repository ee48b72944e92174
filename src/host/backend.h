/* The backend table: what each device implements. The op entry points in src/host/ops/
 * validate their arguments once and call these with raw pointers and sizes that are known to
 * be consistent. A NULL entry makes the op answer AX_ERR_UNSUPPORTED.
 *
 * The op entries are listed once, in backend_entries.h; the device and memory entries below
 * are each backend's own (static functions of cpu/backend.c and cuda/device.c).
 *
 * Every function returns AX_OK or a status with its message already set (ax_fail). CUDA
 * entries queue work on ctx's stream and do not synchronize unless they say so.
 *
 * Views: [outer, dim, inner] describes a tensor reduced or broadcast along one axis:
 * outer = product of the dims before the axis, inner = product of the dims after it. */
#ifndef AX_BACKEND_H
#define AX_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ax_optim_update; /* src/host/common/optim_update.h */
struct ax_conv2d_geom;  /* src/host/common/conv_geom.h */
struct ax_pool2d_geom;  /* src/host/common/pool2d.h */
struct ax_rnn_step;     /* src/host/common/rnn_step.h */
struct ax_rnn_step_grad;

struct ax_backend {
    const char *name; /* "cpu", "cuda" */

    /* The device: number of usable devices (NULL: the backend has one, the host); fill
     * ctx->info (and ctx->stream) for device `index` when a context is created, message set
     * on failure; release what ctx_init made (NULL: nothing to release). */
    int (*device_count)(void);
    ax_status (*ctx_init)(ax_ctx *ctx, int index);
    void (*ctx_fini)(ax_ctx *ctx);

    /* Make ctx's device current for the calling thread before work is queued (CUDA:
     * cudaSetDevice when the application or another context switched it); NULL when the
     * backend has nothing to do. fn names the public call in a message. */
    ax_status (*enter)(const ax_ctx *ctx, const char *fn);

    /* memory, each on ctx's device; the copies wait until the data has arrived */
    ax_status (*alloc)(ax_ctx *ctx, size_t bytes, void **out);
    void (*free)(ax_ctx *ctx, void *ptr);
    ax_status (*copy_to_device)(ax_ctx *ctx, void *dst, const void *host_src, size_t bytes);
    ax_status (*copy_to_host)(ax_ctx *ctx, void *host_dst, const void *src, size_t bytes);
    ax_status (*copy_on_device)(ax_ctx *ctx, void *dst, const void *src, size_t bytes);
    /* height rows of width bytes, row r from src + r spitch to dst + r dpitch (pitches >=
     * width, the rows not overlapping): one strided copy on the device */
    ax_status (*copy_2d_on_device)(ax_ctx *ctx, void *dst, size_t dpitch, const void *src,
                                   size_t spitch, size_t width, size_t height);
    ax_status (*synchronize)(ax_ctx *ctx);

    /* the ops: one field per line of backend_entries.h, whose comments give the contract */
#define AX_BACKEND_ENTRY(ret, name, params) ret(*name) params;
#include "backend_entries.h"
#undef AX_BACKEND_ENTRY
};

extern const struct ax_backend ax_cpu_backend;
#ifdef AXON_HAVE_CUDA
extern const struct ax_backend ax_cuda_backend;
#endif

#ifdef __cplusplus
}
#endif

#endif
