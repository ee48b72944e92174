/* Public entry points of inverted dropout. p = 0 copies and p = 1 multiplies by 0 here, with
 * the backend's copy and scale; 0 < p < 1 runs the backend's dropout, which keeps element e
 * when ax_philox_uniform(seed, offset, e) >= p and scales it by 1.0f / (1.0f - p), and
 * multiplies the others by 0. As PyTorch's input * mask, a dropped NaN or Inf is NaN. */
#include "check.h"

/* y = dropout(x), shared by the forward (x, y) and the backward (dy, dx); out may alias in. */
static ax_status dropout(const char *fn, ax_ctx *ctx, float p, uint64_t seed, uint64_t offset,
                         const ax_tensor *in, const char *in_name, ax_tensor *out,
                         const char *out_name) {
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(ax_check_tensor(fn, ctx, in, in_name, AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, out, out_name, AX_F32));
    AX_TRY(ax_check_same_shape(fn, in, in_name, out, out_name));
    if (!(p >= 0.0f && p <= 1.0f))
        return ax_fail(AX_ERR_INVALID_ARG, fn, "p = %g is outside [0, 1]", (double)p);
    const struct ax_backend *be = ctx->backend;
    if (p == 0.0f) {
        if (out->data == in->data)
            return AX_OK;
        AX_TRY(ax_backend_ready(fn, ctx, be->copy_on_device != NULL));
        return be->copy_on_device(ctx, out->data, in->data,
                                  (size_t)in->numel * ax_dtype_size(in->dtype));
    }
    if (p == 1.0f) { /* x * 0, not a fill: NaN and Inf give NaN, x < 0 gives -0 */
        AX_TRY(ax_backend_ready(fn, ctx, be->scale != NULL));
        return be->scale(ctx, in->numel, 0.0f, ax_f32(in), ax_f32(out));
    }
    AX_TRY(ax_backend_ready(fn, ctx, be->dropout != NULL));
    return be->dropout(ctx, p, seed, offset, ax_f32(in), ax_f32(out), in->numel);
}

ax_status ax_dropout_forward(ax_ctx *ctx, float p, uint64_t seed, uint64_t offset,
                             const ax_tensor *x, ax_tensor *y) {
    return dropout(__func__, ctx, p, seed, offset, x, "x", y, "y");
}

ax_status ax_dropout_backward(ax_ctx *ctx, float p, uint64_t seed, uint64_t offset,
                              const ax_tensor *dy, ax_tensor *dx) {
    return dropout(__func__, ctx, p, seed, offset, dy, "dy", dx, "dx");
}
