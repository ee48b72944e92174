/* CPU reference of bias add, sums over one axis and their broadcasts, sums of squares, dot
 * products, the largest magnitude, and the L1 / L2 penalties. Tensors are seen as
 * [outer, dim, inner] around the axis (../backend.h); every sum accumulates in double. */
#include <math.h>

#include "cpu.h"

/* The sums keep their double accumulators on the stack, AX_CPU_BLOCK at a time, so that an op
 * never allocates (also not in a backward); each output still sees its terms in the same
 * order as one long accumulator would. */
#define AX_CPU_BLOCK 64

/* y [outer, dim, inner] += b [dim] */
ax_status ax_cpu_bias_add(ax_ctx *ctx, float *y, const float *b, int64_t outer, int64_t dim,
                          int64_t inner) {
    (void)ctx;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t d = 0; d < dim; d++) {
            float *row = y + (o * dim + d) * inner;
            for (int64_t i = 0; i < inner; i++)
                row[i] += b[d];
        }
    return AX_OK;
}

/* y [outer, inner] = scale * sum_d x [outer, dim, inner] */
ax_status ax_cpu_reduce_sum(ax_ctx *ctx, const float *x, float *y, int64_t outer, int64_t dim,
                            int64_t inner, float scale) {
    (void)ctx;
    double acc[AX_CPU_BLOCK];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i0 = 0; i0 < inner; i0 += AX_CPU_BLOCK) { /* columns [i0, i0 + w) */
            int64_t w = inner - i0 < AX_CPU_BLOCK ? inner - i0 : AX_CPU_BLOCK;
            for (int64_t i = 0; i < w; i++)
                acc[i] = 0.0;
            for (int64_t d = 0; d < dim; d++) { /* walk x in memory order, w at a time */
                const float *row = x + (o * dim + d) * inner + i0;
                for (int64_t i = 0; i < w; i++)
                    acc[i] += row[i];
            }
            for (int64_t i = 0; i < w; i++)
                y[o * inner + i0 + i] = (float)((double)scale * acc[i]);
        }
    return AX_OK;
}

/* db [dim] = sum_{o, i} dy [outer, dim, inner] */
ax_status ax_cpu_bias_grad(ax_ctx *ctx, const float *dy, float *db, int64_t outer, int64_t dim,
                           int64_t inner) {
    (void)ctx;
    double acc[AX_CPU_BLOCK];
    for (int64_t d0 = 0; d0 < dim; d0 += AX_CPU_BLOCK) { /* channels [d0, d0 + w) */
        int64_t w = dim - d0 < AX_CPU_BLOCK ? dim - d0 : AX_CPU_BLOCK;
        for (int64_t d = 0; d < w; d++)
            acc[d] = 0.0;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t d = 0; d < w; d++) {
                const float *row = dy + (o * dim + d0 + d) * inner;
                double s = 0.0;
                for (int64_t i = 0; i < inner; i++)
                    s += row[i];
                acc[d] += s;
            }
        for (int64_t d = 0; d < w; d++)
            db[d0 + d] = (float)acc[d];
    }
    return AX_OK;
}

/* dx [outer, dim, inner] = scale * dy [outer, inner] */
ax_status ax_cpu_broadcast(ax_ctx *ctx, const float *dy, float *dx, int64_t outer, int64_t dim,
                           int64_t inner, float scale) {
    (void)ctx;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t d = 0; d < dim; d++) {
            float *row = dx + (o * dim + d) * inner;
            for (int64_t i = 0; i < inner; i++)
                row[i] = scale * dy[o * inner + i];
        }
    return AX_OK;
}

/* sum_e x[e]^2 in double */
static double sum_sq(const float *x, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)x[i] * (double)x[i];
    return s;
}

/* out[0] = (accumulate ? out[0] : 0) + sum x^2 */
ax_status ax_cpu_sum_squares(ax_ctx *ctx, const float *x, int64_t n, int accumulate,
                             float *out) {
    (void)ctx;
    double base = accumulate ? (double)out[0] : 0.0;
    out[0] = (float)(base + sum_sq(x, n));
    return AX_OK;
}

/* out[0] = sum a[e] b[e]: exact products (a float times a float fits a double) summed in
 * double in index order, so the result does not depend on anything but the inputs */
ax_status ax_cpu_dot(ax_ctx *ctx, const float *a, const float *b, int64_t n, float *out) {
    (void)ctx;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    out[0] = (float)s;
    return AX_OK;
}

/* out[0] = max |x[e]|; a NaN wins over every number */
ax_status ax_cpu_abs_max(ax_ctx *ctx, const float *x, int64_t n, float *out) {
    (void)ctx;
    float m = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float v = fabsf(x[i]);
        m = v > m || isnan(v) ? v : m;
        if (isnan(m))
            break;
    }
    out[0] = m;
    return AX_OK;
}

/* L1: out[0] += lambda sum |w|; dw += lambda sign(w), sign(0) = 0 */
ax_status ax_cpu_l1_penalty(ax_ctx *ctx, const float *w, int64_t n, float lambda, float *out,
                            float *dw) {
    (void)ctx;
    if (out) {
        double s = 0.0;
        for (int64_t i = 0; i < n; i++)
            s += fabs((double)w[i]);
        out[0] = (float)((double)out[0] + (double)lambda * s);
    }
    if (dw)
        for (int64_t i = 0; i < n; i++)
            dw[i] += w[i] > 0.0f ? lambda : w[i] < 0.0f ? -lambda : 0.0f;
    return AX_OK;
}

/* L2: out[0] += lambda / 2 sum w^2; dw += lambda w */
ax_status ax_cpu_l2_penalty(ax_ctx *ctx, const float *w, int64_t n, float lambda, float *out,
                            float *dw) {
    (void)ctx;
    if (out)
        out[0] = (float)((double)out[0] + 0.5 * (double)lambda * sum_sq(w, n));
    if (dw)
        for (int64_t i = 0; i < n; i++)
            dw[i] += lambda * w[i];
    return AX_OK;
}
