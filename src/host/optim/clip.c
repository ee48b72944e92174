/* Gradient clipping by global norm and by value (torch.nn.utils.clip_grad_norm_ and
 * clip_grad_value_), in place on the gradients' device. */
#include <math.h>
#include <stdio.h>

#include "axon/optim.h"

#include "../ops/check.h"

/* grads is an array of n f32 tensors of ctx. */
static ax_status check_grads(const char *fn, ax_ctx *ctx, int n, ax_tensor *const *grads) {
    AX_TRY(ax_check_ctx(fn, ctx));
    if (n < 1)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "n = %d, expected at least one gradient", n);
    if (!grads)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "grads is NULL");
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "grads[%d]", i);
        AX_TRY(ax_check_tensor(fn, ctx, grads[i], name, AX_F32));
    }
    return AX_OK;
}

ax_status ax_clip_grad_norm(ax_ctx *ctx, int n, ax_tensor *const *grads, float max_norm,
                            float norm_type, int error_if_nonfinite, float *total_norm_out) {
    AX_TRY(check_grads(__func__, ctx, n, grads));
    if (!(isfinite(max_norm) && max_norm >= 0.0f))
        return AX_FAIL(AX_ERR_INVALID_ARG, "max_norm = %g must be finite and >= 0",
                       (double)max_norm);
    if (norm_type != 2.0f)
        return AX_FAIL(AX_ERR_UNSUPPORTED, "norm_type = %g; only the 2-norm is implemented",
                       (double)norm_type);
    AX_TRY(ax_backend_ready(__func__, ctx,
                            ctx->backend->sum_squares != NULL && ctx->backend->scale != NULL));

    /* total = sqrt(sum over all grads of sum g^2), accumulated on the device */
    ax_tensor *acc = NULL;
    int64_t one = 1;
    ax_status st = ax_tensor_create(ctx, AX_F32, 1, &one, &acc);
    for (int i = 0; st == AX_OK && i < n; i++)
        st = ax_sum_squares(ctx, grads[i], i > 0, acc);
    float sum_sq = 0.0f;
    if (st == AX_OK)
        st = ax_tensor_to_host(acc, &sum_sq, sizeof sum_sq);
    ax_tensor_destroy(acc);
    if (st != AX_OK)
        return AX_FAIL(st, "computing the norm failed: %s", ax_last_error());
    const float total = sqrtf(sum_sq);
    if (total_norm_out)
        *total_norm_out = total;
    if (error_if_nonfinite && !isfinite(total))
        return AX_FAIL(AX_ERR_INVALID_ARG,
                       "the total 2-norm of the %d gradients is %g, so it cannot be clipped "
                       "(gradients left unchanged; error_if_nonfinite = 0 scales them anyway)",
                       n, (double)total);

    /* coef = max_norm / (total + 1e-6), clamped to at most 1; PyTorch multiplies always,
     * which changes nothing at 1. A NaN norm gives a NaN coef that spreads to every element
     * and an infinite one a coef of 0 (inf * 0 = NaN, finite elements become +-0), as in
     * PyTorch. */
    const float coef = max_norm / (total + 1e-6f);
    if (!(coef >= 1.0f))
        for (int i = 0; i < n; i++)
            AX_TRY(ax_scale(ctx, coef, grads[i], grads[i]));
    return AX_OK;
}

ax_status ax_clip_grad_value(ax_ctx *ctx, int n, ax_tensor *const *grads, float clip) {
    AX_TRY(check_grads(__func__, ctx, n, grads));
    if (!(isfinite(clip) && clip >= 0.0f))
        return AX_FAIL(AX_ERR_INVALID_ARG, "clip = %g must be finite and >= 0", (double)clip);
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->clamp != NULL));
    /* g = min(max(g, -clip), clip) */
    for (int i = 0; i < n; i++)
        AX_TRY(ctx->backend->clamp(ctx, grads[i]->numel, -clip, clip, ax_f32(grads[i]),
                                   ax_f32(grads[i])));
    return AX_OK;
}
