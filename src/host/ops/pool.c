/* Public entry points of 2-D max and average pooling and of the global average pool: the
 * descriptor and the shapes are checked here once, and the geometry handed to the backend
 * (../common/pool2d.h). The output size follows PyTorch's pooling_output_shape exactly. */
#include <stdint.h>

#include "../common/pool2d.h"
#include "check.h"

ax_pool2d_desc ax_pool2d_desc_default(int kernel_h, int kernel_w) {
    ax_pool2d_desc d = {0};
    d.kernel_h = kernel_h;
    d.kernel_w = kernel_w;
    d.stride_h = kernel_h;
    d.stride_w = kernel_w;
    d.dilation_h = 1;
    d.dilation_w = 1;
    d.count_include_pad = 1;
    return d;
}

/* One axis of the descriptor: positive kernel, stride and dilation, 0 <= pad <= kernel / 2
 * (PyTorch: "pad should be at most half of effective kernel size" is checked on the kernel). */
static ax_status check_axis_desc(const char *fn, const char *axis, int k, int s, int p, int d,
                                 int is_avg) {
    if (k < 1)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "kernel_%s = %d, must be >= 1", axis, k);
    if (s < 1)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "stride_%s = %d, must be >= 1", axis, s);
    if (d < 1)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "dilation_%s = %d, must be >= 1", axis, d);
    if (is_avg && d != 1)
        return ax_fail(AX_ERR_INVALID_ARG, fn,
                       "dilation_%s = %d, the average pool has no dilation (must be 1)", axis, d);
    if (p < 0)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "pad_%s = %d, must be >= 0", axis, p);
    if (p > k / 2)
        return ax_fail(AX_ERR_INVALID_ARG, fn,
                       "pad_%s = %d is more than half of kernel_%s = %d (at most %d)", axis, p,
                       axis, k, k / 2);
    return AX_OK;
}

static ax_status check_desc(const char *fn, const ax_pool2d_desc *desc, int is_avg) {
    if (!desc)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "desc is NULL");
    AX_TRY(check_axis_desc(fn, "h", desc->kernel_h, desc->stride_h, desc->pad_h,
                           desc->dilation_h, is_avg));
    return check_axis_desc(fn, "w", desc->kernel_w, desc->stride_w, desc->pad_w,
                           desc->dilation_w, is_avg);
}

/* floor(a / b) for b > 0 (C division truncates toward zero) */
static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Output size of one axis (desc checked):
 *   out = floor((in + 2p - d (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1,
 *   with ceil_mode: out - 1 when (out - 1) s >= in + p (the last window must start inside
 *   the input or the left padding). */
static ax_status axis_size(const char *fn, const char *axis, int64_t in, int k, int s, int p,
                           int d, int ceil_mode, int64_t *out) {
    if (in < 1)
        return ax_fail(AX_ERR_SHAPE, fn, "input size %lld along %s, must be >= 1",
                       (long long)in, axis);
    if (in > INT64_MAX - 2 * (int64_t)p - (int64_t)s)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "input size %lld plus padding along %s overflows int64", (long long)in,
                       axis);
    int64_t extent = (int64_t)d * (k - 1) + 1; /* the dilated kernel, <= 2^62 */
    int64_t num = in + 2 * (int64_t)p - extent + (ceil_mode ? s - 1 : 0);
    int64_t o = floor_div(num, s) + 1;
    if (ceil_mode && (o - 1) * s >= in + p)
        o--;
    if (o < 1)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "kernel %d (dilation %d, extent %lld) is larger than the padded input "
                       "%lld + 2 * %d along %s: output size %lld",
                       k, d, (long long)extent, (long long)in, p, axis, (long long)o);
    *out = o;
    return AX_OK;
}

static ax_status output_shape(const char *fn, const ax_pool2d_desc *desc, int is_avg,
                              const int64_t in[4], int64_t out[4]) {
    AX_TRY(check_desc(fn, desc, is_avg));
    if (in[0] < 1 || in[1] < 1)
        return ax_fail(AX_ERR_SHAPE, fn, "input batch %lld and channels %lld must be >= 1",
                       (long long)in[0], (long long)in[1]);
    int64_t oh = 0, ow = 0;
    AX_TRY(axis_size(fn, "h", in[2], desc->kernel_h, desc->stride_h, desc->pad_h,
                     desc->dilation_h, desc->ceil_mode, &oh));
    AX_TRY(axis_size(fn, "w", in[3], desc->kernel_w, desc->stride_w, desc->pad_w,
                     desc->dilation_w, desc->ceil_mode, &ow));
    int64_t dims[4] = {in[0], in[1], oh, ow}, n = 1;
    for (int i = 0; i < 4; i++) {
        if (n > INT64_MAX / dims[i])
            return ax_fail(AX_ERR_SHAPE, fn,
                           "output [%lld, %lld, %lld, %lld] has more elements than int64 holds",
                           (long long)dims[0], (long long)dims[1], (long long)dims[2],
                           (long long)dims[3]);
        n *= dims[i];
    }
    for (int i = 0; i < 4; i++)
        out[i] = dims[i];
    return AX_OK;
}

ax_status ax_pool2d_output_shape(const ax_pool2d_desc *desc, const int64_t in_shape[4],
                                 int64_t out_shape[4]) {
    if (!in_shape || !out_shape)
        return ax_fail(AX_ERR_INVALID_ARG, __func__, "in_shape or out_shape is NULL");
    /* the shape alone cannot tell max from average: dilation is checked by the ops */
    return output_shape(__func__, desc, 0, in_shape, out_shape);
}

/* big: the input-sized tensor (x, dx), small: the output-sized one (y, dy); both f32 4-D
 * of ctx, small of the shape the descriptor gives for big. Fills g. */
static ax_status check_pool(const char *fn, ax_ctx *ctx, const ax_pool2d_desc *desc, int is_avg,
                            const ax_tensor *big, const char *big_name, const ax_tensor *small,
                            const char *small_name, struct ax_pool2d_geom *g) {
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(ax_check_tensor(fn, ctx, big, big_name, AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, small, small_name, AX_F32));
    AX_TRY(ax_check_ndim(fn, big, big_name, 4, 4));
    AX_TRY(ax_check_ndim(fn, small, small_name, 4, 4));
    int64_t out[4];
    AX_TRY(output_shape(fn, desc, is_avg, big->shape, out));
    for (int i = 0; i < 4; i++)
        if (small->shape[i] != out[i]) {
            char sb[128], ss[128];
            return ax_fail(AX_ERR_SHAPE, fn, "%s has shape %s, so %s must be [%lld, %lld, %lld, "
                                             "%lld], not %s",
                           big_name, ax_shape_str(big, sb, sizeof sb), small_name,
                           (long long)out[0], (long long)out[1], (long long)out[2],
                           (long long)out[3], ax_shape_str(small, ss, sizeof ss));
        }
    AX_TRY(ax_check_no_alias(fn, small, small_name, big, big_name));
    g->planes = out[0] * out[1];
    g->h = big->shape[2];
    g->w = big->shape[3];
    g->oh = out[2];
    g->ow = out[3];
    g->kh = desc->kernel_h;
    g->kw = desc->kernel_w;
    g->sh = desc->stride_h;
    g->sw = desc->stride_w;
    g->ph = desc->pad_h;
    g->pw = desc->pad_w;
    g->dh = desc->dilation_h;
    g->dw = desc->dilation_w;
    g->count_include_pad = desc->count_include_pad != 0;
    return AX_OK;
}

/* The indices of a max pool: i32, the output's shape, and plane offsets that fit in int32. */
static ax_status check_indices(const char *fn, ax_ctx *ctx, const ax_tensor *indices,
                               const ax_tensor *small, const char *small_name,
                               const struct ax_pool2d_geom *g) {
    if (g->h > INT32_MAX / g->w)
        return ax_fail(AX_ERR_UNSUPPORTED, fn,
                       "a plane of %lld x %lld elements is too large for int32 indices",
                       (long long)g->h, (long long)g->w);
    if (!indices)
        return AX_OK;
    AX_TRY(ax_check_tensor(fn, ctx, indices, "indices", AX_I32));
    return ax_check_same_shape(fn, indices, "indices", small, small_name);
}

ax_status ax_max_pool2d_forward(ax_ctx *ctx, const ax_pool2d_desc *desc, const ax_tensor *x,
                                ax_tensor *y, ax_tensor *indices) {
    struct ax_pool2d_geom g;
    AX_TRY(check_pool(__func__, ctx, desc, 0, x, "x", y, "y", &g));
    AX_TRY(check_indices(__func__, ctx, indices, y, "y", &g));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->max_pool2d_forward != NULL));
    return ctx->backend->max_pool2d_forward(ctx, &g, ax_f32(x), ax_f32(y), ax_i32(indices));
}

ax_status ax_max_pool2d_backward(ax_ctx *ctx, const ax_pool2d_desc *desc,
                                 const ax_tensor *indices, const ax_tensor *dy, ax_tensor *dx) {
    struct ax_pool2d_geom g;
    AX_TRY(check_pool(__func__, ctx, desc, 0, dx, "dx", dy, "dy", &g));
    if (!indices)
        return ax_fail(AX_ERR_INVALID_ARG, __func__, "indices is NULL (the forward's indices "
                                                     "are needed)");
    AX_TRY(check_indices(__func__, ctx, indices, dy, "dy", &g));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->max_pool2d_backward != NULL));
    return ctx->backend->max_pool2d_backward(ctx, &g, ax_i32(indices), ax_f32(dy), ax_f32(dx));
}

ax_status ax_avg_pool2d_forward(ax_ctx *ctx, const ax_pool2d_desc *desc, const ax_tensor *x,
                                ax_tensor *y) {
    struct ax_pool2d_geom g;
    AX_TRY(check_pool(__func__, ctx, desc, 1, x, "x", y, "y", &g));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->avg_pool2d_forward != NULL));
    return ctx->backend->avg_pool2d_forward(ctx, &g, ax_f32(x), ax_f32(y));
}

ax_status ax_avg_pool2d_backward(ax_ctx *ctx, const ax_pool2d_desc *desc, const ax_tensor *dy,
                                 ax_tensor *dx) {
    struct ax_pool2d_geom g;
    AX_TRY(check_pool(__func__, ctx, desc, 1, dx, "dx", dy, "dy", &g));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->avg_pool2d_backward != NULL));
    return ctx->backend->avg_pool2d_backward(ctx, &g, ax_f32(dy), ax_f32(dx));
}

/* x (or dx) [N, C, H, W] and y (or dy) [N, C] or [N, C, 1, 1]: *planes = N C, *area = H W. */
static ax_status check_global(const char *fn, ax_ctx *ctx, const ax_tensor *big,
                              const char *big_name, const ax_tensor *small,
                              const char *small_name, int64_t *planes, int64_t *area) {
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(ax_check_tensor(fn, ctx, big, big_name, AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, small, small_name, AX_F32));
    AX_TRY(ax_check_ndim(fn, big, big_name, 4, 4));
    int ok = (small->ndim == 2 || small->ndim == 4) && small->shape[0] == big->shape[0] &&
             small->shape[1] == big->shape[1] &&
             (small->ndim == 2 || (small->shape[2] == 1 && small->shape[3] == 1));
    if (!ok) {
        char sb[128], ss[128];
        return ax_fail(AX_ERR_SHAPE, fn,
                       "%s has shape %s, so %s must be [%lld, %lld] or [%lld, %lld, 1, 1], not %s",
                       big_name, ax_shape_str(big, sb, sizeof sb), small_name,
                       (long long)big->shape[0], (long long)big->shape[1],
                       (long long)big->shape[0], (long long)big->shape[1],
                       ax_shape_str(small, ss, sizeof ss));
    }
    AX_TRY(ax_check_no_alias(fn, small, small_name, big, big_name));
    *planes = big->shape[0] * big->shape[1];
    *area = big->shape[2] * big->shape[3];
    return AX_OK;
}

/* y[p] = (1 / area) sum_i x[p, i]: the mean over [planes, area, 1] */
ax_status ax_global_avg_pool_forward(ax_ctx *ctx, const ax_tensor *x, ax_tensor *y) {
    int64_t planes = 0, area = 0;
    AX_TRY(check_global(__func__, ctx, x, "x", y, "y", &planes, &area));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->reduce_sum != NULL));
    return ctx->backend->reduce_sum(ctx, ax_f32(x), ax_f32(y), planes, area, 1,
                                    (float)(1.0 / (double)area));
}

/* dx[p, i] = dy[p] / area */
ax_status ax_global_avg_pool_backward(ax_ctx *ctx, const ax_tensor *dy, ax_tensor *dx) {
    int64_t planes = 0, area = 0;
    AX_TRY(check_global(__func__, ctx, dx, "dx", dy, "dy", &planes, &area));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->broadcast != NULL));
    return ctx->backend->broadcast(ctx, ax_f32(dy), ax_f32(dx), planes, area, 1,
                                   (float)(1.0 / (double)area));
}
