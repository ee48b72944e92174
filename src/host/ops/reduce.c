/* Public entry points of bias add and bias gradient, sum and mean over one axis and their
 * backwards, the sum of squares, the dot product, the largest magnitude and the L1 / L2
 * penalties. A tensor reduced or broadcast
 * along an axis is seen as [outer, dim, inner] around it (../backend.h). */
#include <math.h>

#include "check.h"

ax_status ax_bias_add(ax_ctx *ctx, ax_tensor *y, const ax_tensor *b, int axis) {
    AX_TRY(ax_check_ctx(__func__, ctx));
    AX_TRY(ax_check_tensor(__func__, ctx, y, "y", AX_F32));
    AX_TRY(ax_check_tensor(__func__, ctx, b, "b", AX_F32));
    int64_t outer, dim, inner;
    AX_TRY(ax_check_axis(__func__, y, axis, &outer, &dim, &inner));
    AX_TRY(ax_check_numel(__func__, b, "b", dim));
    AX_TRY(ax_check_no_alias(__func__, y, "y", b, "b"));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->bias_add != NULL));
    return ctx->backend->bias_add(ctx, ax_f32(y), ax_f32(b), outer, dim, inner);
}

ax_status ax_bias_grad(ax_ctx *ctx, const ax_tensor *dy, int axis, ax_tensor *db) {
    AX_TRY(ax_check_ctx(__func__, ctx));
    AX_TRY(ax_check_tensor(__func__, ctx, dy, "dy", AX_F32));
    AX_TRY(ax_check_tensor(__func__, ctx, db, "db", AX_F32));
    int64_t outer, dim, inner;
    AX_TRY(ax_check_axis(__func__, dy, axis, &outer, &dim, &inner));
    AX_TRY(ax_check_numel(__func__, db, "db", dim));
    AX_TRY(ax_check_no_alias(__func__, db, "db", dy, "dy"));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->bias_grad != NULL));
    return ctx->backend->bias_grad(ctx, ax_f32(dy), ax_f32(db), outer, dim, inner);
}

/* full [outer, dim, inner] (x of the forward, dx of the backward) and reduced [outer, inner]
 * (y, dy): dtypes, axis, element count, no aliasing. */
static ax_status check_reduce(const char *fn, ax_ctx *ctx, const ax_tensor *full,
                              const char *full_name, const ax_tensor *reduced,
                              const char *reduced_name, int axis, int64_t *outer, int64_t *dim,
                              int64_t *inner) {
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(ax_check_tensor(fn, ctx, full, full_name, AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, reduced, reduced_name, AX_F32));
    AX_TRY(ax_check_axis(fn, full, axis, outer, dim, inner));
    AX_TRY(ax_check_numel(fn, reduced, reduced_name, *outer * *inner));
    return ax_check_no_alias(fn, full, full_name, reduced, reduced_name);
}

/* y = scale * sum of x over axis: scale 1 for the sum, 1 / x.shape[axis] for the mean. */
static ax_status reduce(const char *fn, ax_ctx *ctx, const ax_tensor *x, int axis, ax_tensor *y,
                        int mean) {
    int64_t outer, dim, inner;
    AX_TRY(check_reduce(fn, ctx, x, "x", y, "y", axis, &outer, &dim, &inner));
    AX_TRY(ax_backend_ready(fn, ctx, ctx->backend->reduce_sum != NULL));
    float scale = mean ? 1.0f / (float)dim : 1.0f;
    return ctx->backend->reduce_sum(ctx, ax_f32(x), ax_f32(y), outer, dim, inner, scale);
}

/* dx = scale * dy broadcast along axis, the same scale as the forward. */
static ax_status reduce_backward(const char *fn, ax_ctx *ctx, const ax_tensor *dy, int axis,
                                 ax_tensor *dx, int mean) {
    int64_t outer, dim, inner;
    AX_TRY(check_reduce(fn, ctx, dx, "dx", dy, "dy", axis, &outer, &dim, &inner));
    AX_TRY(ax_backend_ready(fn, ctx, ctx->backend->broadcast != NULL));
    float scale = mean ? 1.0f / (float)dim : 1.0f;
    return ctx->backend->broadcast(ctx, ax_f32(dy), ax_f32(dx), outer, dim, inner, scale);
}

ax_status ax_sum(ax_ctx *ctx, const ax_tensor *x, int axis, ax_tensor *y) {
    return reduce(__func__, ctx, x, axis, y, 0);
}

ax_status ax_mean(ax_ctx *ctx, const ax_tensor *x, int axis, ax_tensor *y) {
    return reduce(__func__, ctx, x, axis, y, 1);
}

ax_status ax_sum_backward(ax_ctx *ctx, const ax_tensor *dy, int axis, ax_tensor *dx) {
    return reduce_backward(__func__, ctx, dy, axis, dx, 0);
}

ax_status ax_mean_backward(ax_ctx *ctx, const ax_tensor *dy, int axis, ax_tensor *dx) {
    return reduce_backward(__func__, ctx, dy, axis, dx, 1);
}

ax_status ax_sum_squares(ax_ctx *ctx, const ax_tensor *x, int accumulate, ax_tensor *out) {
    AX_TRY(ax_check_ctx(__func__, ctx));
    AX_TRY(ax_check_tensor(__func__, ctx, x, "x", AX_F32));
    AX_TRY(ax_check_scalar(__func__, ctx, out, "out"));
    AX_TRY(ax_check_no_alias(__func__, out, "out", x, "x"));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->sum_squares != NULL));
    return ctx->backend->sum_squares(ctx, ax_f32(x), x->numel, accumulate != 0, ax_f32(out));
}

ax_status ax_dot(ax_ctx *ctx, const ax_tensor *a, const ax_tensor *b, ax_tensor *out) {
    AX_TRY(ax_check_ctx(__func__, ctx));
    AX_TRY(ax_check_tensor(__func__, ctx, a, "a", AX_F32));
    AX_TRY(ax_check_tensor(__func__, ctx, b, "b", AX_F32));
    AX_TRY(ax_check_numel(__func__, b, "b", a->numel));
    AX_TRY(ax_check_scalar(__func__, ctx, out, "out"));
    AX_TRY(ax_check_no_alias(__func__, out, "out", a, "a"));
    AX_TRY(ax_check_no_alias(__func__, out, "out", b, "b"));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->dot != NULL));
    return ctx->backend->dot(ctx, ax_f32(a), ax_f32(b), a->numel, ax_f32(out));
}

ax_status ax_abs_max(ax_ctx *ctx, const ax_tensor *x, ax_tensor *out) {
    AX_TRY(ax_check_ctx(__func__, ctx));
    AX_TRY(ax_check_tensor(__func__, ctx, x, "x", AX_F32));
    AX_TRY(ax_check_scalar(__func__, ctx, out, "out"));
    AX_TRY(ax_check_no_alias(__func__, out, "out", x, "x"));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->abs_max != NULL));
    return ctx->backend->abs_max(ctx, ax_f32(x), x->numel, ax_f32(out));
}

typedef ax_status (*penalty_fn)(ax_ctx *ctx, const float *w, int64_t n, float lambda,
                                float *out, float *dw);

/* The checks and dispatch of both penalties: lambda finite and >= 0, out one element,
 * dw shaped like w, neither aliasing w nor each other. */
static ax_status penalty(const char *fn, ax_ctx *ctx, const ax_tensor *w, float lambda,
                         ax_tensor *out, ax_tensor *dw, int l1) {
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(ax_check_tensor(fn, ctx, w, "w", AX_F32));
    if (out)
        AX_TRY(ax_check_scalar(fn, ctx, out, "out"));
    AX_TRY(ax_check_optional(fn, ctx, dw, "dw", AX_F32));
    if (dw)
        AX_TRY(ax_check_same_shape(fn, w, "w", dw, "dw"));
    if (!isfinite(lambda) || lambda < 0.0f)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "lambda = %g must be finite and >= 0",
                       (double)lambda);
    AX_TRY(ax_check_no_alias(fn, out, "out", w, "w"));
    AX_TRY(ax_check_no_alias(fn, dw, "dw", w, "w"));
    AX_TRY(ax_check_no_alias(fn, out, "out", dw, "dw"));
    penalty_fn run = l1 ? ctx->backend->l1_penalty : ctx->backend->l2_penalty;
    AX_TRY(ax_backend_ready(fn, ctx, run != NULL));
    if (!out && !dw)
        return AX_OK;
    return run(ctx, ax_f32(w), w->numel, lambda, ax_f32(out), ax_f32(dw));
}

ax_status ax_l1_penalty(ax_ctx *ctx, const ax_tensor *w, float lambda, ax_tensor *out,
                        ax_tensor *dw) {
    return penalty(__func__, ctx, w, lambda, out, dw, 1);
}

ax_status ax_l2_penalty(ax_ctx *ctx, const ax_tensor *w, float lambda, ax_tensor *out,
                        ax_tensor *dw) {
    return penalty(__func__, ctx, w, lambda, out, dw, 0);
}
