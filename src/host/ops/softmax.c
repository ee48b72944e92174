/* Public entry points of softmax and log-softmax along the last dimension. */
#include "check.h"

/* x (or y) has at least one dim; out has its shape. *rows, *cols: the rows of the last dim. */
static ax_status check_rows(const char *fn, ax_ctx *ctx, const ax_tensor *in,
                            const char *in_name, const ax_tensor *out, const char *out_name,
                            int64_t *rows, int64_t *cols) {
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(ax_check_tensor(fn, ctx, in, in_name, AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, out, out_name, AX_F32));
    AX_TRY(ax_check_ndim(fn, in, in_name, 1, AX_MAX_DIMS));
    AX_TRY(ax_check_same_shape(fn, in, in_name, out, out_name));
    *cols = in->shape[in->ndim - 1];
    *rows = in->numel / *cols;
    return AX_OK;
}

/* y = softmax(x) or log_softmax(x); y may alias x. */
static ax_status forward(const char *fn, ax_ctx *ctx, const ax_tensor *x, ax_tensor *y,
                         int is_log) {
    int64_t rows = 0, cols = 0;
    AX_TRY(check_rows(fn, ctx, x, "x", y, "y", &rows, &cols));
    AX_TRY(ax_backend_ready(fn, ctx, ctx->backend->softmax_forward != NULL));
    return ctx->backend->softmax_forward(ctx, is_log, ax_f32(x), ax_f32(y), rows, cols);
}

/* dx from y and dy; dx may alias neither (ops.h allows no aliasing here). */
static ax_status backward(const char *fn, ax_ctx *ctx, const ax_tensor *y, const ax_tensor *dy,
                          ax_tensor *dx, int is_log) {
    int64_t rows = 0, cols = 0;
    AX_TRY(check_rows(fn, ctx, y, "y", dx, "dx", &rows, &cols));
    AX_TRY(ax_check_tensor(fn, ctx, dy, "dy", AX_F32));
    AX_TRY(ax_check_same_shape(fn, y, "y", dy, "dy"));
    AX_TRY(ax_check_no_alias(fn, dx, "dx", y, "y"));
    AX_TRY(ax_check_no_alias(fn, dx, "dx", dy, "dy"));
    AX_TRY(ax_backend_ready(fn, ctx, ctx->backend->softmax_backward != NULL));
    return ctx->backend->softmax_backward(ctx, is_log, ax_f32(y), ax_f32(dy), ax_f32(dx), rows,
                                          cols);
}

ax_status ax_softmax_forward(ax_ctx *ctx, const ax_tensor *x, ax_tensor *y) {
    return forward(__func__, ctx, x, y, 0);
}

ax_status ax_softmax_backward(ax_ctx *ctx, const ax_tensor *y, const ax_tensor *dy,
                              ax_tensor *dx) {
    return backward(__func__, ctx, y, dy, dx, 0);
}

ax_status ax_log_softmax_forward(ax_ctx *ctx, const ax_tensor *x, ax_tensor *y) {
    return forward(__func__, ctx, x, y, 1);
}

ax_status ax_log_softmax_backward(ax_ctx *ctx, const ax_tensor *y, const ax_tensor *dy,
                                  ax_tensor *dx) {
    return backward(__func__, ctx, y, dy, dx, 1);
}
