/* CPU reference of softmax and log-softmax along rows of `cols` elements, max-subtracted and
 * accumulated in double. y may alias x: only the last pass over a row writes, and it reads
 * x[j] before it writes y[j]. */
#include <math.h>

#include "cpu.h"

/* The max m of a row and log sum_j e^(x[j] - m), which cannot overflow. */
double ax_cpu_log_sum_shifted(const float *x, int64_t n, double *max) {
    double m = x[0], sum = 0.0;
    for (int64_t j = 1; j < n; j++)
        if (x[j] > m)
            m = x[j];
    for (int64_t j = 0; j < n; j++)
        sum += exp(x[j] - m);
    *max = m;
    return log(sum);
}

/* log-softmax: y = (x - m) - log(sum e^(x - m)), in PyTorch's order, so that a row [-0] gives
 *              +0 as it does there (and on CUDA)
 * softmax:     y = e^((x - m) - log(sum e^(x - m))) = e^(x - m) / sum e^(x - m) */
ax_status ax_cpu_softmax_forward(ax_ctx *ctx, int is_log, const float *x, float *y,
                                 int64_t rows, int64_t cols) {
    (void)ctx;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        double m = 0.0, ls = ax_cpu_log_sum_shifted(xr, cols, &m);
        for (int64_t j = 0; j < cols; j++) {
            double z = (xr[j] - m) - ls;
            yr[j] = (float)(is_log ? z : exp(z));
        }
    }
    return AX_OK;
}

/* softmax:     dx = y (dy - sum(dy y))
 * log-softmax: dx = dy - e^y sum(dy) */
ax_status ax_cpu_softmax_backward(ax_ctx *ctx, int is_log, const float *y, const float *dy,
                                  float *dx, int64_t rows, int64_t cols) {
    (void)ctx;
    for (int64_t r = 0; r < rows; r++) {
        const float *yr = y + r * cols, *dyr = dy + r * cols;
        float *dxr = dx + r * cols;
        double s = 0.0;
        if (is_log) {
            for (int64_t j = 0; j < cols; j++)
                s += dyr[j];
            for (int64_t j = 0; j < cols; j++)
                dxr[j] = (float)(dyr[j] - exp(yr[j]) * s);
        } else {
            for (int64_t j = 0; j < cols; j++)
                s += (double)dyr[j] * yr[j];
            for (int64_t j = 0; j < cols; j++)
                dxr[j] = (float)(yr[j] * (dyr[j] - s));
        }
    }
    return AX_OK;
}
