/* Public entry points of the activations: sigmoid, tanh, ReLU, leaky ReLU. */
#include "check.h"

/* act is an ax_activation with an op (not AX_ACT_LINEAR); leaky ReLU's slope is finite, and 0
 * becomes AX_LEAKY_RELU_SLOPE in *slope here, before any backend sees it (others ignore
 * slope). */
static ax_status check_act(const char *fn, ax_activation act, float *slope) {
    switch (act) {
    case AX_ACT_SIGMOID:
    case AX_ACT_TANH:
    case AX_ACT_RELU:
        return AX_OK;
    case AX_ACT_LEAKY_RELU:
        if (*slope == 0.0f)
            *slope = AX_LEAKY_RELU_SLOPE;
        return ax_check_finite(fn, "slope", *slope);
    case AX_ACT_LINEAR:
        return ax_fail(AX_ERR_INVALID_ARG, fn,
                       "AX_ACT_LINEAR (the identity) names a gain; it has no activation op");
    }
    return ax_fail(AX_ERR_INVALID_ARG, fn, "unknown activation %d", (int)act);
}

ax_status ax_activation_forward(ax_ctx *ctx, ax_activation act, float slope,
                                const ax_tensor *x, ax_tensor *y) {
    AX_TRY(ax_check_ctx(__func__, ctx));
    AX_TRY(ax_check_tensor(__func__, ctx, x, "x", AX_F32));
    AX_TRY(ax_check_tensor(__func__, ctx, y, "y", AX_F32));
    AX_TRY(ax_check_same_shape(__func__, x, "x", y, "y"));
    AX_TRY(check_act(__func__, act, &slope));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->activation_forward != NULL));
    return ctx->backend->activation_forward(ctx, (int)act, slope, ax_f32(x), ax_f32(y),
                                            x->numel);
}

/* One of x and y that the backward reads (or may be given anyway): shaped like dy, not
 * aliased by dx. A NULL one is an error only when `needed`. */
static ax_status check_saved(const char *fn, ax_ctx *ctx, const ax_tensor *t, const char *name,
                             int needed, const ax_tensor *dy, const ax_tensor *dx) {
    if (!t && needed)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "%s is NULL but this activation needs it", name);
    if (!t)
        return AX_OK;
    AX_TRY(ax_check_tensor(fn, ctx, t, name, AX_F32));
    AX_TRY(ax_check_same_shape(fn, t, name, dy, "dy"));
    return ax_check_no_alias(fn, dx, "dx", t, name);
}

ax_status ax_activation_backward(ax_ctx *ctx, ax_activation act, float slope,
                                 const ax_tensor *x, const ax_tensor *y, const ax_tensor *dy,
                                 ax_tensor *dx) {
    AX_TRY(ax_check_ctx(__func__, ctx));
    AX_TRY(check_act(__func__, act, &slope));
    AX_TRY(ax_check_tensor(__func__, ctx, dy, "dy", AX_F32));
    AX_TRY(ax_check_tensor(__func__, ctx, dx, "dx", AX_F32));
    AX_TRY(ax_check_same_shape(__func__, dy, "dy", dx, "dx"));
    int needs_y = act == AX_ACT_SIGMOID || act == AX_ACT_TANH; /* else x: (leaky) ReLU */
    AX_TRY(check_saved(__func__, ctx, x, "x", !needs_y, dy, dx));
    AX_TRY(check_saved(__func__, ctx, y, "y", needs_y, dy, dx));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->activation_backward != NULL));
    return ctx->backend->activation_backward(ctx, (int)act, slope, ax_f32(x), ax_f32(y),
                                             ax_f32(dy), ax_f32(dx), dy->numel);
}
