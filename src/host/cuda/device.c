/* CUDA backend glue: device query, context stream, stream-ordered memory, status mapping. */
#include <stdio.h>
#include <string.h>

#include "cuda_internal.h"
#include "../../kernels/kernels.h"

ax_status ax_cuda_status(cudaError_t err, const char *fn, const char *what) {
    if (err == cudaSuccess)
        return AX_OK;
    ax_status st = err == cudaErrorMemoryAllocation ? AX_ERR_OOM : AX_ERR_CUDA;
    return ax_fail(st, fn, "%s: %s (%s)", what, cudaGetErrorString(err), cudaGetErrorName(err));
}

static int cuda_count(void) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError(); /* clear: "no driver" is an answer, not a failure */
        return 0;
    }
    return count;
}

unsigned ax_cuda_blocks(const ax_ctx *ctx, int64_t n, int threads) {
    int64_t want = (n + threads - 1) / threads;
    int64_t cap = (int64_t)ctx->info.multiprocessors * 32; /* enough waves for grid-stride */
    if (want > cap)
        want = cap;
    return want < 1 ? 1u : (unsigned)want;
}

static ax_status cuda_ctx_init(ax_ctx *ctx, int index) {
    int count = cuda_count();
    if (count == 0)
        return ax_fail(AX_ERR_DEVICE, "ax_ctx_create", "no usable CUDA device (the runtime "
                                                       "finds none, or no driver is loaded)");
    if (index >= count)
        return ax_fail(AX_ERR_DEVICE, "ax_ctx_create", "CUDA device %d requested, %d present",
                       index, count);
    struct cudaDeviceProp prop;
    AX_TRY(ax_cuda_status(cudaSetDevice(index), "ax_ctx_create", "cudaSetDevice"));
    AX_TRY(ax_cuda_status(cudaGetDeviceProperties(&prop, index), "ax_ctx_create",
                          "cudaGetDeviceProperties"));
    int pools = 0;
    cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, index);
    if (!pools)
        return ax_fail(AX_ERR_DEVICE, "ax_ctx_create",
                       "CUDA device %d (%s) has no stream-ordered allocator", index, prop.name);
    cudaStream_t stream;
    AX_TRY(ax_cuda_status(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking),
                          "ax_ctx_create", "cudaStreamCreate"));
    /* keep freed blocks in the pool instead of returning them to the driver each sync */
    cudaMemPool_t pool;
    if (cudaDeviceGetDefaultMemPool(&pool, index) == cudaSuccess) {
        uint64_t threshold = UINT64_MAX;
        cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold);
    }
    ctx->stream = stream;
    ctx->info.kind = AX_DEVICE_CUDA;
    ctx->info.index = index;
    snprintf(ctx->info.name, sizeof ctx->info.name, "%s", prop.name);
    ctx->info.cc_major = prop.major;
    ctx->info.cc_minor = prop.minor;
    ctx->info.multiprocessors = prop.multiProcessorCount;
    ctx->info.total_memory = prop.totalGlobalMem;
    return AX_OK;
}

/* Every entry of this backend runs on ctx's device: the current device is per host thread
 * and the application, or a context on another GPU, may have changed it since the last call.
 * cudaGetDevice is a thread-local read, so the common case costs no driver call. */
static ax_status cuda_enter(const ax_ctx *ctx, const char *fn) {
    int current = -1;
    if (cudaGetDevice(&current) == cudaSuccess && current == ctx->info.index)
        return AX_OK;
    return ax_cuda_status(cudaSetDevice(ctx->info.index), fn, "cudaSetDevice");
}

static void cuda_ctx_fini(ax_ctx *ctx) {
    cuda_enter(ctx, "ax_ctx_destroy");
    if (ctx->device_check)
        cudaFreeAsync(ctx->device_check, ax_stream(ctx));
    cudaStreamSynchronize(ax_stream(ctx));
    cudaStreamDestroy(ax_stream(ctx));
}

ax_status ax_cuda_device_check(ax_ctx *ctx, const char *fn, ax_cuda_check **out) {
    if (!ctx->device_check) {
        void *p = NULL;
        AX_TRY(ax_cuda_status(cudaMallocAsync(&p, sizeof(ax_cuda_check), ax_stream(ctx)), fn,
                              "cudaMallocAsync of the device check"));
        cudaError_t err = cudaMemsetAsync(p, 0, sizeof(ax_cuda_check), ax_stream(ctx));
        if (err != cudaSuccess) {
            cudaFreeAsync(p, ax_stream(ctx));
            return ax_cuda_status(err, fn, "cudaMemsetAsync of the device check");
        }
        ctx->device_check = p;
    }
    *out = (ax_cuda_check *)ctx->device_check;
    return AX_OK;
}

/* The message of a claimed record (fn: the public call that queued the kernel). */
static ax_status check_failure(const ax_cuda_check *h, const char *sync_fn) {
    switch (h->what) {
    case AX_CUDA_CHECK_EMBEDDING_FORWARD:
    case AX_CUDA_CHECK_EMBEDDING_BACKWARD:
        return ax_fail(AX_ERR_INVALID_ARG,
                       h->what == AX_CUDA_CHECK_EMBEDDING_FORWARD ? "ax_embedding_forward"
                                                                  : "ax_embedding_backward",
                       "indices[%lld] = %lld is outside [0, %lld) (found on the device, "
                       "reported by %s)",
                       h->pos, h->value, h->bound, sync_fn);
    case AX_CUDA_CHECK_MULTINOMIAL:
        if (h->value < 0)
            return ax_fail(AX_ERR_INVALID_ARG, "ax_multinomial",
                           "row %lld of probs: its kept entries sum to 0, nothing to draw "
                           "(found on the device, reported by %s)",
                           h->pos, sync_fn);
        return ax_fail(AX_ERR_INVALID_ARG, "ax_multinomial",
                       "probs[%lld, %lld] is negative, NaN or Inf; entries must be finite and "
                       ">= 0 (found on the device, reported by %s)",
                       h->pos, h->value, sync_fn);
    default:
        return ax_fail(AX_ERR_CUDA, sync_fn, "a kernel recorded an unknown check %d", h->what);
    }
}

/* Waits for ctx's stream, reading the device check's record in the same wait (its copy is
 * queued first); a claimed record is cleared and reported. */
static ax_status sync_checked(ax_ctx *ctx, const char *fn, const char *what) {
    cudaStream_t stream = ax_stream(ctx);
    ax_cuda_check h = {0, 0, 0, 0, 0};
    if (ctx->device_check)
        AX_TRY(ax_cuda_status(cudaMemcpyAsync(&h, ctx->device_check, sizeof h,
                                              cudaMemcpyDeviceToHost, stream),
                              fn, "cudaMemcpyAsync of the device check"));
    AX_TRY(ax_cuda_status(cudaStreamSynchronize(stream), fn, what));
    if (!h.claimed)
        return AX_OK;
    AX_TRY(ax_cuda_status(cudaMemsetAsync(ctx->device_check, 0, sizeof h, stream), fn,
                          "cudaMemsetAsync of the device check"));
    return check_failure(&h, fn);
}

static ax_status cuda_alloc(ax_ctx *ctx, size_t bytes, void **out) {
    AX_TRY(cuda_enter(ctx, __func__));
    return ax_cuda_status(cudaMallocAsync(out, bytes ? bytes : 4, ax_stream(ctx)), __func__,
                          "cudaMallocAsync");
}

/* A free has no caller to report to (destroy functions return nothing): a failure is kept in
 * the context and reported by its next ax_ctx_synchronize. */
static void cuda_free(ax_ctx *ctx, void *ptr) {
    if (!ptr)
        return;
    ax_status st = cuda_enter(ctx, "ax_tensor_destroy");
    if (st == AX_OK)
        st = ax_cuda_status(cudaFreeAsync(ptr, ax_stream(ctx)), "ax_tensor_destroy",
                            "cudaFreeAsync");
    int none = 0;
    if (st != AX_OK && atomic_compare_exchange_strong(&ctx->deferred_status, &none, -1)) {
        snprintf(ctx->deferred_error, sizeof ctx->deferred_error, "%s", ax_last_error());
        atomic_store(&ctx->deferred_status, (int)st);
    }
}

static ax_status cuda_copy_to_device(ax_ctx *ctx, void *dst, const void *src, size_t bytes) {
    AX_TRY(cuda_enter(ctx, __func__));
    AX_TRY(ax_cuda_status(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice,
                                          ax_stream(ctx)),
                          __func__, "cudaMemcpyAsync"));
    return ax_cuda_status(cudaStreamSynchronize(ax_stream(ctx)), __func__, "copy to device");
}

static ax_status cuda_copy_to_host(ax_ctx *ctx, void *dst, const void *src, size_t bytes) {
    AX_TRY(cuda_enter(ctx, __func__));
    AX_TRY(ax_cuda_status(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost,
                                          ax_stream(ctx)),
                          __func__, "cudaMemcpyAsync"));
    return sync_checked(ctx, "ax_tensor_to_host", "copy to host");
}

static ax_status cuda_copy_on_device(ax_ctx *ctx, void *dst, const void *src, size_t bytes) {
    AX_TRY(cuda_enter(ctx, __func__));
    return ax_cuda_status(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice,
                                          ax_stream(ctx)),
                          __func__, "cudaMemcpyAsync");
}

static ax_status cuda_copy_2d_on_device(ax_ctx *ctx, void *dst, size_t dpitch, const void *src,
                                        size_t spitch, size_t width, size_t height) {
    AX_TRY(cuda_enter(ctx, __func__));
    return ax_cuda_status(cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, height,
                                            cudaMemcpyDeviceToDevice, ax_stream(ctx)),
                          __func__, "cudaMemcpy2DAsync");
}

static ax_status cuda_synchronize(ax_ctx *ctx) {
    AX_TRY(cuda_enter(ctx, "ax_ctx_synchronize"));
    AX_TRY(sync_checked(ctx, "ax_ctx_synchronize", "work queued on the stream failed"));
    int deferred = atomic_load(&ctx->deferred_status);
    if (deferred <= 0) /* none, or one still being recorded: the next call reports it */
        return AX_OK;
    ax_fail((ax_status)deferred, "ax_ctx_synchronize", "an earlier release failed: %s",
            ctx->deferred_error);
    atomic_store(&ctx->deferred_status, 0);
    return (ax_status)deferred;
}

const struct ax_backend ax_cuda_backend = {
    .name = "cuda",
    .device_count = cuda_count,
    .ctx_init = cuda_ctx_init,
    .ctx_fini = cuda_ctx_fini,
    .enter = cuda_enter,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .copy_to_device = cuda_copy_to_device,
    .copy_to_host = cuda_copy_to_host,
    .copy_on_device = cuda_copy_on_device,
    .copy_2d_on_device = cuda_copy_2d_on_device,
    .synchronize = cuda_synchronize,
#define AX_BACKEND_ENTRY(ret, name, params) .name = ax_cuda_##name,
#include "../backend_entries.h"
#undef AX_BACKEND_ENTRY
};
