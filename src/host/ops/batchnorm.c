/* Public entry points of batch normalization (ops.h). x, y, dy, dx: [N, C, ...] viewed as
 * [outer = N, C, inner = product of the dims after C]; every per-channel vector has C
 * elements. */
#include <math.h>

#include "check.h"

/* x is an f32 tensor of ctx with 2 or more dims; *outer, *channels, *inner its view. */
static ax_status check_x(const char *fn, ax_ctx *ctx, const ax_tensor *x, int64_t *outer,
                         int64_t *channels, int64_t *inner) {
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(ax_check_tensor(fn, ctx, x, "x", AX_F32));
    AX_TRY(ax_check_ndim(fn, x, "x", 2, AX_MAX_DIMS));
    int64_t in = 1;
    for (int d = 2; d < x->ndim; d++)
        in *= x->shape[d];
    *outer = x->shape[0];
    *channels = x->shape[1];
    *inner = in;
    return AX_OK;
}

/* A per-channel vector: an f32 tensor of ctx with C elements, or NULL when optional. */
static ax_status check_vec(const char *fn, ax_ctx *ctx, const ax_tensor *t, const char *name,
                           int64_t channels, int optional) {
    if (optional)
        AX_TRY(ax_check_optional(fn, ctx, t, name, AX_F32));
    else
        AX_TRY(ax_check_tensor(fn, ctx, t, name, AX_F32));
    return t ? ax_check_numel(fn, t, name, channels) : AX_OK;
}

/* eps is finite and positive. */
static ax_status check_eps(const char *fn, float eps) {
    AX_TRY(ax_check_finite(fn, "eps", eps));
    if (!(eps > 0.0f))
        return ax_fail(AX_ERR_INVALID_ARG, fn, "eps = %g must be > 0", (double)eps);
    return AX_OK;
}

/* out is shaped like x (checked by the caller) and aliases none of the vectors. */
/* The checks both forwards share: x, y of x's shape, gamma and beta [C] or NULL, eps. */
static ax_status check_forward(const char *fn, ax_ctx *ctx, const ax_tensor *x,
                              const ax_tensor *gamma, const ax_tensor *beta, float eps,
                              const ax_tensor *y, int64_t *outer, int64_t *channels,
                              int64_t *inner) {
    AX_TRY(check_x(fn, ctx, x, outer, channels, inner));
    AX_TRY(ax_check_tensor(fn, ctx, y, "y", AX_F32));
    AX_TRY(ax_check_same_shape(fn, x, "x", y, "y"));
    AX_TRY(check_vec(fn, ctx, gamma, "gamma", *channels, 1));
    AX_TRY(check_vec(fn, ctx, beta, "beta", *channels, 1));
    return check_eps(fn, eps);
}

ax_status ax_batch_norm_forward_training(ax_ctx *ctx, const ax_tensor *x, const ax_tensor *gamma,
                                         const ax_tensor *beta, float eps, float momentum,
                                         ax_tensor *running_mean, ax_tensor *running_var,
                                         int64_t *num_batches_tracked, ax_tensor *y,
                                         ax_tensor *save_mean, ax_tensor *save_invstd) {
    const char *fn = __func__;
    int64_t outer = 0, channels = 0, inner = 0;
    AX_TRY(check_forward(fn, ctx, x, gamma, beta, eps, y, &outer, &channels, &inner));
    AX_TRY(check_vec(fn, ctx, running_mean, "running_mean", channels, 1));
    AX_TRY(check_vec(fn, ctx, running_var, "running_var", channels, 1));
    AX_TRY(check_vec(fn, ctx, save_mean, "save_mean", channels, 1));
    AX_TRY(check_vec(fn, ctx, save_invstd, "save_invstd", channels, 1));
    if ((running_mean == NULL) != (running_var == NULL))
        return ax_fail(AX_ERR_INVALID_ARG, fn,
                       "running_mean and running_var must be given together (%s is NULL)",
                       running_mean ? "running_var" : "running_mean");
    if (isnan(momentum) || momentum > 1.0f)
        return ax_fail(AX_ERR_INVALID_ARG, fn,
                       "momentum = %g, expected [0, 1] or negative (AX_BN_CUMULATIVE)",
                       (double)momentum);
    const int cumulative = momentum < 0.0f;
    if (running_mean && cumulative && !num_batches_tracked)
        return ax_fail(AX_ERR_INVALID_ARG, fn,
                       "num_batches_tracked is NULL but momentum %g asks for the cumulative "
                       "average (factor 1 / num_batches_tracked)",
                       (double)momentum);
    const int track = running_mean != NULL && num_batches_tracked != NULL;
    if (track && (*num_batches_tracked < 0 || *num_batches_tracked == INT64_MAX))
        return ax_fail(AX_ERR_INVALID_ARG, fn, "num_batches_tracked = %lld cannot be incremented",
                       (long long)*num_batches_tracked);
    const double m = (double)outer * (double)inner;
    if (m < 2.0) {
        char s[128];
        return ax_fail(AX_ERR_SHAPE, fn,
                       "x has shape %s: %lld value(s) per channel, training needs more than 1",
                       ax_shape_str(x, s, sizeof s), (long long)(outer * inner));
    }
    const ax_tensor *vecs[6] = {gamma, beta, running_mean, running_var, save_mean, save_invstd};
    const char *names[6] = {"gamma", "beta", "running_mean", "running_var", "save_mean",
                            "save_invstd"};
    AX_TRY(ax_check_no_alias_any(fn, y, "y", 6, vecs, names));
    /* the written vectors alias neither the inputs nor each other */
    for (int w = 2; w < 6; w++)
        for (int k = 0; k < 6; k++)
            if (k != w && vecs[w] && vecs[k])
                AX_TRY(ax_check_no_alias(fn, vecs[w], names[w], vecs[k], names[k]));
    float factor = momentum;
    if (cumulative)
        factor = track ? (float)(1.0 / (double)(*num_batches_tracked + 1)) : 0.0f;
    AX_TRY(ax_backend_ready(fn, ctx, ctx->backend->batch_norm_forward_training != NULL));
    AX_TRY(ctx->backend->batch_norm_forward_training(
        ctx, ax_f32(x), ax_f32(gamma), ax_f32(beta), ax_f32(y), outer, channels, inner, eps,
        factor, ax_f32(running_mean), ax_f32(running_var), ax_f32(save_mean),
        ax_f32(save_invstd)));
    if (track)
        ++*num_batches_tracked;
    return AX_OK;
}

ax_status ax_batch_norm_forward_inference(ax_ctx *ctx, const ax_tensor *x,
                                          const ax_tensor *gamma, const ax_tensor *beta,
                                          const ax_tensor *running_mean,
                                          const ax_tensor *running_var, float eps,
                                          ax_tensor *y) {
    const char *fn = __func__;
    int64_t outer = 0, channels = 0, inner = 0;
    AX_TRY(check_forward(fn, ctx, x, gamma, beta, eps, y, &outer, &channels, &inner));
    AX_TRY(check_vec(fn, ctx, running_mean, "running_mean", channels, 0));
    AX_TRY(check_vec(fn, ctx, running_var, "running_var", channels, 0));
    const ax_tensor *vecs[4] = {gamma, beta, running_mean, running_var};
    const char *names[4] = {"gamma", "beta", "running_mean", "running_var"};
    AX_TRY(ax_check_no_alias_any(fn, y, "y", 4, vecs, names));
    AX_TRY(ax_backend_ready(fn, ctx, ctx->backend->batch_norm_forward_inference != NULL));
    return ctx->backend->batch_norm_forward_inference(
        ctx, ax_f32(x), ax_f32(gamma), ax_f32(beta), ax_f32(running_mean), ax_f32(running_var),
        eps, ax_f32(y), outer, channels, inner);
}

/* Both backwards: mean and stat are the saved (training) or running (evaluation) statistics,
 * named by mean_name and stat_name. */
static ax_status backward(const char *fn, ax_ctx *ctx, int training, const ax_tensor *x,
                          const ax_tensor *dy, const ax_tensor *gamma, const ax_tensor *mean,
                          const char *mean_name, const ax_tensor *stat, const char *stat_name,
                          float eps, ax_tensor *dx, ax_tensor *dgamma, ax_tensor *dbeta) {
    int64_t outer = 0, channels = 0, inner = 0;
    AX_TRY(check_x(fn, ctx, x, &outer, &channels, &inner));
    AX_TRY(ax_check_tensor(fn, ctx, dy, "dy", AX_F32));
    AX_TRY(ax_check_same_shape(fn, x, "x", dy, "dy"));
    AX_TRY(check_vec(fn, ctx, gamma, "gamma", channels, 1));
    AX_TRY(check_vec(fn, ctx, mean, mean_name, channels, 0));
    AX_TRY(check_vec(fn, ctx, stat, stat_name, channels, 0));
    AX_TRY(ax_check_optional(fn, ctx, dx, "dx", AX_F32));
    AX_TRY(check_vec(fn, ctx, dgamma, "dgamma", channels, 1));
    AX_TRY(check_vec(fn, ctx, dbeta, "dbeta", channels, 1));
    if (!training)
        AX_TRY(check_eps(fn, eps));
    const ax_tensor *ins[5] = {x, dy, gamma, mean, stat};
    const char *in_names[5] = {"x", "dy", "gamma", mean_name, stat_name};
    if (dx) {
        AX_TRY(ax_check_same_shape(fn, x, "x", dx, "dx"));
        /* dx may alias dy: each element of dy is read before dx's is written */
        for (int k = 0; k < 5; k++)
            if (k != 1 && ins[k])
                AX_TRY(ax_check_no_alias(fn, dx, "dx", ins[k], in_names[k]));
    }
    ax_tensor *outs[2] = {dgamma, dbeta};
    const char *out_names[2] = {"dgamma", "dbeta"};
    for (int w = 0; w < 2; w++) {
        if (!outs[w])
            continue;
        AX_TRY(ax_check_no_alias_any(fn, outs[w], out_names[w], 5, ins, in_names));
        if (dx)
            AX_TRY(ax_check_no_alias(fn, outs[w], out_names[w], dx, "dx"));
    }
    if (dgamma && dbeta)
        AX_TRY(ax_check_no_alias(fn, dgamma, "dgamma", dbeta, "dbeta"));
    AX_TRY(ax_backend_ready(fn, ctx, ctx->backend->batch_norm_backward != NULL));
    return ctx->backend->batch_norm_backward(ctx, training, ax_f32(x), ax_f32(dy), ax_f32(gamma),
                                             ax_f32(mean), ax_f32(stat), eps, ax_f32(dx),
                                             ax_f32(dgamma), ax_f32(dbeta), outer, channels,
                                             inner);
}

ax_status ax_batch_norm_backward_training(ax_ctx *ctx, const ax_tensor *x, const ax_tensor *dy,
                                          const ax_tensor *gamma, const ax_tensor *save_mean,
                                          const ax_tensor *save_invstd, ax_tensor *dx,
                                          ax_tensor *dgamma, ax_tensor *dbeta) {
    return backward(__func__, ctx, 1, x, dy, gamma, save_mean, "save_mean", save_invstd,
                    "save_invstd", 0.0f, dx, dgamma, dbeta);
}

ax_status ax_batch_norm_backward_inference(ax_ctx *ctx, const ax_tensor *x, const ax_tensor *dy,
                                           const ax_tensor *gamma, const ax_tensor *running_mean,
                                           const ax_tensor *running_var, float eps,
                                           ax_tensor *dx, ax_tensor *dgamma, ax_tensor *dbeta) {
    return backward(__func__, ctx, 0, x, dy, gamma, running_mean, "running_mean", running_var,
                    "running_var", eps, dx, dgamma, dbeta);
}
