/* Contexts: one device, its stream and memory pool, a seed and scratch space. */
#include <stdlib.h>
#include <string.h>

#include "../backend.h"
#include "alloc.h"
#include "handles.h"

int ax_cuda_device_count(void) {
#ifdef AXON_HAVE_CUDA
    return ax_cuda_backend.device_count();
#else
    return 0;
#endif
}

ax_status ax_ctx_create(ax_device_kind kind, int device_index, ax_ctx **out) {
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    if (kind != AX_DEVICE_AUTO && kind != AX_DEVICE_CPU && kind != AX_DEVICE_CUDA)
        return AX_FAIL(AX_ERR_INVALID_ARG, "unknown device kind %d", (int)kind);
    if (device_index < 0)
        return AX_FAIL(AX_ERR_INVALID_ARG, "device_index %d is negative", device_index);

    ax_ctx *ctx = ax_calloc(1, sizeof *ctx);
    if (!ctx)
        return AX_FAIL(AX_ERR_OOM, "out of host memory");
    atomic_init(&ctx->destroyed, 0);
    atomic_init(&ctx->refs, 1);

    int use_cuda = kind == AX_DEVICE_CUDA || (kind == AX_DEVICE_AUTO && ax_cuda_device_count() > 0);
    if (use_cuda) {
#ifdef AXON_HAVE_CUDA
        ctx->backend = &ax_cuda_backend;
#else
        free(ctx);
        return AX_FAIL(AX_ERR_DEVICE, "AX_DEVICE_CUDA requested, but libaxon was built without "
                                      "CUDA (configure with -DAXON_CUDA=ON)");
#endif
    } else {
        ctx->backend = &ax_cpu_backend;
    }
    ax_status st = ctx->backend->ctx_init(ctx, device_index);
    if (st != AX_OK) {
        free(ctx);
        return st; /* message set by the backend */
    }
    st = ax_handle_add(__func__, ctx, AX_HANDLE_CTX);
    if (st != AX_OK) {
        ax_ctx_release(ctx);
        return st;
    }
    *out = ctx;
    return AX_OK;
}

static void ctx_free(ax_ctx *ctx) {
    if (ctx->scratch)
        ax_device_free(ctx, ctx->scratch);
    if (ctx->backend->ctx_fini)
        ctx->backend->ctx_fini(ctx);
    free(ctx);
}

void ax_ctx_retain(ax_ctx *ctx) { atomic_fetch_add(&ctx->refs, 1); }

void ax_ctx_release(ax_ctx *ctx) {
    if (atomic_fetch_sub(&ctx->refs, 1) == 1)
        ctx_free(ctx);
}

void ax_ctx_destroy(ax_ctx *ctx) {
    if (!ax_handle_remove(ctx, AX_HANDLE_CTX))
        return; /* NULL, destroyed already, or not a context */
    atomic_store(&ctx->destroyed, 1);
    ax_ctx_release(ctx);
}

ax_status ax_ctx_device_info(const ax_ctx *ctx, ax_device_info *out) {
    AX_TRY(ax_check_ctx(__func__, ctx));
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = ctx->info;
    return AX_OK;
}

ax_status ax_ctx_set_seed(ax_ctx *ctx, uint64_t seed) {
    AX_TRY(ax_check_ctx(__func__, ctx));
    ctx->seed = seed;
    return AX_OK;
}

ax_status ax_ctx_get_seed(const ax_ctx *ctx, uint64_t *out) {
    AX_TRY(ax_check_ctx(__func__, ctx));
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = ctx->seed;
    return AX_OK;
}

ax_status ax_ctx_synchronize(ax_ctx *ctx) {
    AX_TRY(ax_check_ctx(__func__, ctx));
    return ctx->backend->synchronize(ctx);
}

ax_status ax_ctx_scratch(ax_ctx *ctx, size_t bytes, void **out) {
    if (bytes > ctx->scratch_bytes) {
        if (ctx->scratch)
            ax_device_free(ctx, ctx->scratch);
        ctx->scratch = NULL;
        ctx->scratch_bytes = 0;
        size_t want = bytes < 4096 ? 4096 : bytes;
        AX_TRY(ax_device_alloc(__func__, ctx, want, &ctx->scratch));
        ctx->scratch_bytes = want;
    }
    *out = ctx->scratch;
    return AX_OK;
}
