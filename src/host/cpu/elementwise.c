/* CPU reference of the elementwise ops. */
#include <math.h>

#include "cpu.h"

ax_status ax_cpu_fill_f32(ax_ctx *ctx, float *y, int64_t n, float value) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++)
        y[i] = value;
    return AX_OK;
}

ax_status ax_cpu_fill_i32(ax_ctx *ctx, int32_t *y, int64_t n, int32_t value) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++)
        y[i] = value;
    return AX_OK;
}

ax_status ax_cpu_scale(ax_ctx *ctx, int64_t n, float alpha, const float *x, float *y) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++)
        y[i] = alpha * x[i];
    return AX_OK;
}

/* y += alpha x as one fused multiply-add, rounded once, as the CUDA kernel and PyTorch's
 * add(x, alpha=) compute it: alpha x may exceed FLT_MAX without making y infinite. */
ax_status ax_cpu_axpy(ax_ctx *ctx, int64_t n, float alpha, const float *x, float *y) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++)
        y[i] = fmaf(alpha, x[i], y[i]);
    return AX_OK;
}

ax_status ax_cpu_add(ax_ctx *ctx, int64_t n, const float *a, const float *b, float *y) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
    return AX_OK;
}

ax_status ax_cpu_mul(ax_ctx *ctx, int64_t n, const float *a, const float *b, float *y) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] * b[i];
    return AX_OK;
}
