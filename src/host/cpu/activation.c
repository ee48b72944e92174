/* CPU reference of the activations; each value is computed in double and rounded once. */
#include <math.h>

#include "axon/ops.h"
#include "cpu.h"

/* sigmoid(x) = 1 / (1 + e^-x), written so that e^z never overflows: for x < 0 it is
 * e^x / (1 + e^x). */
double ax_cpu_sigmoid(double x) {
    if (x >= 0.0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

ax_status ax_cpu_activation_forward(ax_ctx *ctx, int act, float slope, const float *x,
                                    float *y, int64_t n) {
    (void)ctx;
    switch (act) {
    case AX_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++)
            y[i] = (float)ax_cpu_sigmoid(x[i]);
        return AX_OK;
    case AX_ACT_TANH:
        for (int64_t i = 0; i < n; i++)
            y[i] = (float)tanh(x[i]);
        return AX_OK;
    case AX_ACT_RELU: /* x < 0 ? 0 : x, so NaN passes through */
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] < 0.0f ? 0.0f : x[i];
        return AX_OK;
    case AX_ACT_LEAKY_RELU: /* x > 0 ? x : slope x */
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
        return AX_OK;
    default:
        return AX_FAIL(AX_ERR_INVALID_ARG, "unknown activation %d", act);
    }
}

/* dx = dy * act'(x): sigmoid' = y (1 - y), tanh' = 1 - y^2, relu' = x <= 0 ? 0 : 1,
 * leaky' = x > 0 ? 1 : slope. As PyTorch: the derivative at +-0 is taken from the left, and at
 * x = NaN ReLU passes dy (its mask is relu(x) <= 0) while leaky ReLU scales it by slope. */
ax_status ax_cpu_activation_backward(ax_ctx *ctx, int act, float slope, const float *x,
                                     const float *y, const float *dy, float *dx, int64_t n) {
    (void)ctx;
    switch (act) {
    case AX_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++)
            dx[i] = (float)((double)dy[i] * y[i] * (1.0 - y[i]));
        return AX_OK;
    case AX_ACT_TANH:
        for (int64_t i = 0; i < n; i++)
            dx[i] = (float)((double)dy[i] * (1.0 - (double)y[i] * y[i]));
        return AX_OK;
    case AX_ACT_RELU: /* dy read unconditionally: a select, not a branch per element */
        for (int64_t i = 0; i < n; i++) {
            float g = dy[i];
            dx[i] = x[i] <= 0.0f ? 0.0f : g;
        }
        return AX_OK;
    case AX_ACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++)
            dx[i] = x[i] > 0.0f ? dy[i] : slope * dy[i];
        return AX_OK;
    default:
        return AX_FAIL(AX_ERR_INVALID_ARG, "unknown activation %d", act);
    }
}
