/* Public entry points of the 2-D convolution: the descriptor, the output shape, forward and
 * backward (data, filter, bias). Shapes: x [N, C, H, W], w [K, C/groups, R, S], b [K],
 * y and dy [N, K, OH, OW] (PyTorch's nn.Conv2d layout). The bias passes go through the
 * backend's bias_add and bias_grad entries. */
#include <inttypes.h>

#include "check.h"

#include "../common/conv_geom.h"

ax_conv2d_desc ax_conv2d_desc_default(void) {
    ax_conv2d_desc d = {.stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                        .groups = 1};
    return d;
}

static int mul_overflows(int64_t a, int64_t b) { return a != 0 && b > INT64_MAX / a; }

/* The descriptor's fields are in range. */
static ax_status check_desc(const char *fn, const ax_conv2d_desc *d) {
    if (!d)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "desc is NULL");
    if (d->stride_h < 1 || d->stride_w < 1)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "stride (%d, %d) must be >= 1", d->stride_h,
                       d->stride_w);
    if (d->dilation_h < 1 || d->dilation_w < 1)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "dilation (%d, %d) must be >= 1", d->dilation_h,
                       d->dilation_w);
    if (d->pad_top < 0 || d->pad_bottom < 0 || d->pad_left < 0 || d->pad_right < 0)
        return ax_fail(AX_ERR_INVALID_ARG, fn,
                       "padding (top %d, bottom %d, left %d, right %d) must be >= 0", d->pad_top,
                       d->pad_bottom, d->pad_left, d->pad_right);
    if (d->groups < 1)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "groups = %d must be >= 1", d->groups);
    return AX_OK;
}

/* One spatial axis: out = (in + pad0 + pad1 - dil (k - 1) - 1) / stride + 1, every step
 * checked against int64 overflow; the dilated kernel must fit the padded input. */
static ax_status axis_size(const char *fn, const char *axis, int64_t in, int pad0, int pad1,
                           int64_t k, int dil, int stride, int64_t *out) {
    if (in > INT64_MAX - (int64_t)pad0 - (int64_t)pad1)
        return ax_fail(AX_ERR_SHAPE, fn, "padded %s %" PRId64 " + %d + %d overflows int64",
                       axis, in, pad0, pad1);
    int64_t padded = in + pad0 + pad1;
    if (mul_overflows(k - 1, dil))
        return ax_fail(AX_ERR_SHAPE, fn, "dilated kernel %s %" PRId64 " x %d overflows int64",
                       axis, k, dil);
    int64_t span = (k - 1) * dil + 1;
    if (span > padded)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "kernel %s %" PRId64 " (dilated to %" PRId64 ") is larger than the "
                       "padded input %s %" PRId64,
                       axis, k, span, axis, padded);
    *out = (padded - span) / stride + 1;
    return AX_OK;
}

/* The geometry of x_shape * w_shape under d (d already checked), with y_shape. */
static ax_status conv_geom(const char *fn, const ax_conv2d_desc *d, const int64_t *xs,
                           const int64_t *ws, struct ax_conv2d_geom *g, int64_t *ys) {
    for (int i = 0; i < 4; i++) {
        if (xs[i] < 1 || ws[i] < 1)
            return ax_fail(AX_ERR_SHAPE, fn,
                           "x [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 "] and w [%" PRId64
                           ", %" PRId64 ", %" PRId64 ", %" PRId64 "] must have sizes >= 1",
                           xs[0], xs[1], xs[2], xs[3], ws[0], ws[1], ws[2], ws[3]);
    }
    int64_t groups = d->groups;
    if (xs[1] % groups != 0 || ws[0] % groups != 0)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "groups = %" PRId64 " must divide the input channels (%" PRId64
                       ") and the output channels (%" PRId64 ")",
                       groups, xs[1], ws[0]);
    if (ws[1] != xs[1] / groups)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "input has %" PRId64 " channels (%" PRId64 " per group of %" PRId64
                       "), weight expects %" PRId64 " per group",
                       xs[1], xs[1] / groups, groups, ws[1]);
    int64_t oh = 0, ow = 0;
    AX_TRY(axis_size(fn, "height", xs[2], d->pad_top, d->pad_bottom, ws[2], d->dilation_h,
                     d->stride_h, &oh));
    AX_TRY(axis_size(fn, "width", xs[3], d->pad_left, d->pad_right, ws[3], d->dilation_w,
                     d->stride_w, &ow));
    int64_t numel = xs[0];
    const int64_t rest[3] = {ws[0], oh, ow};
    for (int i = 0; i < 3; i++) {
        if (mul_overflows(numel, rest[i]))
            return ax_fail(AX_ERR_SHAPE, fn,
                           "output [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                           "] has more elements than int64 holds",
                           xs[0], ws[0], oh, ow);
        numel *= rest[i];
    }
    /* the weight's and the input's element counts: a tensor's are checked at creation, but
     * ax_conv2d_output_shape takes bare shapes */
    int64_t wn = ws[0], xn = xs[0];
    for (int i = 1; i < 4; i++) {
        if (mul_overflows(wn, ws[i]) || mul_overflows(xn, xs[i]))
            return ax_fail(AX_ERR_SHAPE, fn, "x or w has more elements than int64 holds");
        wn *= ws[i];
        xn *= xs[i];
    }
    *g = (struct ax_conv2d_geom){.n = xs[0], .c = xs[1], .h = xs[2], .w = xs[3], .k = ws[0],
                                 .r = ws[2], .s = ws[3], .oh = oh, .ow = ow,
                                 .stride_h = d->stride_h, .stride_w = d->stride_w,
                                 .pad_top = d->pad_top, .pad_left = d->pad_left,
                                 .dil_h = d->dilation_h, .dil_w = d->dilation_w,
                                 .groups = groups, .cg = xs[1] / groups, .kg = ws[0] / groups};
    ys[0] = xs[0];
    ys[1] = ws[0];
    ys[2] = oh;
    ys[3] = ow;
    return AX_OK;
}

ax_status ax_conv2d_output_shape(const ax_conv2d_desc *desc, const int64_t x_shape[4],
                                 const int64_t w_shape[4], int64_t y_shape[4]) {
    if (!x_shape || !w_shape || !y_shape)
        return ax_fail(AX_ERR_INVALID_ARG, __func__, "x_shape, w_shape and y_shape must not be NULL");
    AX_TRY(check_desc(__func__, desc));
    struct ax_conv2d_geom g;
    return conv_geom(__func__, desc, x_shape, w_shape, &g, y_shape);
}

/* x, w and y (or dy) are live f32 4-D tensors of ctx that fit desc; *g receives the geometry. */
static ax_status check_conv(const char *fn, ax_ctx *ctx, const ax_conv2d_desc *desc,
                            const ax_tensor *x, const ax_tensor *w, const ax_tensor *y,
                            const char *y_name, struct ax_conv2d_geom *g) {
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(check_desc(fn, desc));
    AX_TRY(ax_check_tensor(fn, ctx, x, "x", AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, w, "w", AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, y, y_name, AX_F32));
    AX_TRY(ax_check_ndim(fn, x, "x", 4, 4));
    AX_TRY(ax_check_ndim(fn, w, "w", 4, 4));
    AX_TRY(ax_check_ndim(fn, y, y_name, 4, 4));
    int64_t ys[4];
    AX_TRY(conv_geom(fn, desc, x->shape, w->shape, g, ys));
    for (int i = 0; i < 4; i++)
        if (y->shape[i] != ys[i]) {
            char sy[128];
            return ax_fail(AX_ERR_SHAPE, fn,
                           "%s has shape %s, expected [%" PRId64 ", %" PRId64 ", %" PRId64
                           ", %" PRId64 "]",
                           y_name, ax_shape_str(y, sy, sizeof sy), ys[0], ys[1], ys[2], ys[3]);
        }
    return AX_OK;
}

/* The bias (or its gradient) has k elements; NULL allowed. */
static ax_status check_bias(const char *fn, ax_ctx *ctx, const ax_tensor *b, const char *name,
                            int64_t k) {
    AX_TRY(ax_check_optional(fn, ctx, b, name, AX_F32));
    return b ? ax_check_numel(fn, b, name, k) : AX_OK;
}

ax_status ax_conv2d_forward(ax_ctx *ctx, const ax_conv2d_desc *desc, const ax_tensor *x,
                            const ax_tensor *w, const ax_tensor *b, ax_tensor *y) {
    struct ax_conv2d_geom g;
    AX_TRY(check_conv(__func__, ctx, desc, x, w, y, "y", &g));
    AX_TRY(check_bias(__func__, ctx, b, "b", g.k));
    AX_TRY(ax_check_no_alias_any(__func__, y, "y", 3, (const ax_tensor *[]){x, w, b},
                                 (const char *[]){"x", "w", "b"}));
    const struct ax_backend *be = ctx->backend;
    AX_TRY(ax_backend_ready(__func__, ctx, be->conv2d_forward != NULL));
    return be->conv2d_forward(ctx, &g, ax_f32(x), ax_f32(w), ax_f32(b), ax_f32(y));
}

ax_status ax_conv2d_backward(ax_ctx *ctx, const ax_conv2d_desc *desc, const ax_tensor *x,
                             const ax_tensor *w, const ax_tensor *dy, ax_tensor *dx,
                             ax_tensor *dw, ax_tensor *db) {
    struct ax_conv2d_geom g;
    AX_TRY(check_conv(__func__, ctx, desc, x, w, dy, "dy", &g));
    AX_TRY(ax_check_optional(__func__, ctx, dx, "dx", AX_F32));
    AX_TRY(ax_check_optional(__func__, ctx, dw, "dw", AX_F32));
    AX_TRY(check_bias(__func__, ctx, db, "db", g.k));
    if (dx)
        AX_TRY(ax_check_same_shape(__func__, x, "x", dx, "dx"));
    if (dw)
        AX_TRY(ax_check_same_shape(__func__, w, "w", dw, "dw"));
    const ax_tensor *ins[] = {x, w, dy};
    const char *in_names[] = {"x", "w", "dy"};
    AX_TRY(ax_check_no_alias_any(__func__, dx, "dx", 3, ins, in_names));
    AX_TRY(ax_check_no_alias_any(__func__, dw, "dw", 3, ins, in_names));
    AX_TRY(ax_check_no_alias_any(__func__, db, "db", 3, ins, in_names));
    AX_TRY(ax_check_no_alias(__func__, dw, "dw", dx, "dx"));
    AX_TRY(ax_check_no_alias(__func__, db, "db", dx, "dx"));
    AX_TRY(ax_check_no_alias(__func__, db, "db", dw, "dw"));
    const struct ax_backend *be = ctx->backend;
    AX_TRY(ax_backend_ready(__func__, ctx,
                            (!dx || be->conv2d_backward_data != NULL) &&
                                (!dw || be->conv2d_backward_filter != NULL) &&
                                (!db || be->bias_grad != NULL)));
    if (dx)
        AX_TRY(be->conv2d_backward_data(ctx, &g, ax_f32(dy), ax_f32(w), ax_f32(dx)));
    if (dw)
        AX_TRY(be->conv2d_backward_filter(ctx, &g, ax_f32(x), ax_f32(dy), ax_f32(dw)));
    if (db) /* db[k] = sum over n, oh, ow of dy[n, k, oh, ow] */
        AX_TRY(be->bias_grad(ctx, ax_f32(dy), ax_f32(db), g.n, g.k, g.oh * g.ow));
    return AX_OK;
}
