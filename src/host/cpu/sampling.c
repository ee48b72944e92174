/* CPU reference of the sampling helpers: softmax with a temperature (in double, as softmax.c)
 * and the multinomial draw of ../common/sampling.h, which the CUDA kernel shares. */
#include <math.h>

#include "../common/philox.h"
#include "../common/sampling.h"
#include "cpu.h"

/* y = e^((x - m) / T) / sum_j e^((x[j] - m) / T), m the row's max. Rows holding NaN or +Inf,
 * or only -Inf, give NaN (x - m is NaN somewhere), as ax_softmax_forward. */
ax_status ax_cpu_softmax_temperature(ax_ctx *ctx, const float *x, float *y, int64_t rows,
                                     int64_t cols, float temperature) {
    (void)ctx;
    const double inv_t = 1.0 / (double)temperature;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        double m = xr[0], sum = 0.0;
        for (int64_t j = 1; j < cols; j++)
            if (xr[j] > m)
                m = xr[j];
        for (int64_t j = 0; j < cols; j++)
            sum += exp((xr[j] - m) * inv_t);
        for (int64_t j = 0; j < cols; j++)
            yr[j] = (float)(exp((xr[j] - m) * inv_t) / sum);
    }
    return AX_OK;
}

ax_status ax_cpu_multinomial(ax_ctx *ctx, const float *probs, int64_t rows, int64_t cols,
                             int64_t top_k, uint64_t seed, uint64_t offset, int32_t *out) {
    (void)ctx;
    const char *fn = "ax_multinomial";
    for (int64_t r = 0; r < rows; r++) {
        int64_t j = ax_sample_row(probs + r * cols, cols, top_k,
                                  ax_philox_uniform(seed, offset, (uint64_t)r));
        if (j == -1)
            return ax_fail(AX_ERR_INVALID_ARG, fn,
                           "row %lld of probs: its kept entries sum to 0, nothing to draw",
                           (long long)r);
        if (j < -1)
            return ax_fail(AX_ERR_INVALID_ARG, fn,
                           "probs[%lld, %lld] = %g; entries must be finite and >= 0",
                           (long long)r, (long long)(-2 - j),
                           (double)probs[r * cols + (-2 - j)]);
        out[r] = (int32_t)j;
    }
    return AX_OK;
}
