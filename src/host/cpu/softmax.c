/* CPU reference of softmax and log-softmax along rows of `cols` elements, max-subtracted and
 * accumulated in double. y may alias x: only the last pass over a row writes, and it reads
 * x[j] before it writes y[j]. */
#include <math.h>

#include "cpu.h"

/* log sum_j e^x[j] = max + log(sum_j e^(x[j] - max)), which cannot overflow */
double ax_cpu_logsumexp(const float *x, int64_t n) {
    double max = x[0], sum = 0.0;
    for (int64_t j = 1; j < n; j++)
        if (x[j] > max)
            max = x[j];
    for (int64_t j = 0; j < n; j++)
        sum += exp(x[j] - max);
    return max + log(sum);
}

/* softmax:     y = e^(x - max) / sum e^(x - max)
 * log-softmax: y = x - max - log(sum e^(x - max)) */
ax_status ax_cpu_softmax_forward(ax_ctx *ctx, int is_log, const float *x, float *y,
                                 int64_t rows, int64_t cols) {
    (void)ctx;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        double lse = ax_cpu_logsumexp(xr, cols);
        if (is_log)
            for (int64_t j = 0; j < cols; j++)
                yr[j] = (float)(xr[j] - lse);
        else /* e^(x - lse) = e^(x - max) / sum e^(x - max) */
            for (int64_t j = 0; j < cols; j++)
                yr[j] = (float)exp(xr[j] - lse);
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
