/* Public entry points of the Philox fills. */
#include <math.h>

#include "check.h"

static ax_status check_fill(const char *fn, ax_ctx *ctx, const ax_tensor *t) {
    AX_TRY(ax_check_ctx(fn, ctx));
    return ax_check_tensor(fn, ctx, t, "t", AX_F32);
}

ax_status ax_rng_uniform(ax_ctx *ctx, ax_tensor *t, float low, float high, uint64_t seed,
                         uint64_t offset) {
    AX_TRY(check_fill(__func__, ctx, t));
    if (!isfinite(low) || !isfinite(high) || !(low <= high))
        return AX_FAIL(AX_ERR_INVALID_ARG, "need finite low <= high, got [%g, %g)", (double)low,
                       (double)high);
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->rng_uniform != NULL));
    return ctx->backend->rng_uniform(ctx, ax_f32(t), t->numel, low, high, seed, offset);
}

ax_status ax_rng_normal(ax_ctx *ctx, ax_tensor *t, float mean, float stddev, uint64_t seed,
                        uint64_t offset) {
    AX_TRY(check_fill(__func__, ctx, t));
    if (!isfinite(mean) || !isfinite(stddev) || stddev < 0)
        return AX_FAIL(AX_ERR_INVALID_ARG, "need a finite mean and stddev >= 0, got %g and %g",
                       (double)mean, (double)stddev);
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->rng_normal != NULL));
    return ctx->backend->rng_normal(ctx, ax_f32(t), t->numel, mean, stddev, seed, offset);
}

ax_status ax_rng_bernoulli(ax_ctx *ctx, ax_tensor *t, float p, uint64_t seed, uint64_t offset) {
    AX_TRY(check_fill(__func__, ctx, t));
    if (!(p >= 0.0f && p <= 1.0f))
        return AX_FAIL(AX_ERR_INVALID_ARG, "p = %g is outside [0, 1]", (double)p);
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->rng_bernoulli != NULL));
    return ctx->backend->rng_bernoulli(ctx, ax_f32(t), t->numel, p, seed, offset);
}
