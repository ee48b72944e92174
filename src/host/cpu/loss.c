/* CPU reference of the losses. Forward: loss[0] = scale * sum of per-element (per-row) terms,
 * accumulated in double. Backward: d = scale * (dloss ? dloss[0] : 1) * d term. */
#include <math.h>

#include "cpu.h"

/* The factor of every backward: scale * dloss[0], dloss NULL meaning 1. */
static double grad_scale(float scale, const float *dloss) {
    return (double)scale * (dloss ? (double)dloss[0] : 1.0);
}

/* MSE term: (p - t)^2; derivative 2 (p - t). */
ax_status ax_cpu_mse_forward(ax_ctx *ctx, const float *pred, const float *target, int64_t n,
                             float scale, float *loss) {
    (void)ctx;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)pred[i] - target[i];
        s += d * d;
    }
    loss[0] = (float)(scale * s);
    return AX_OK;
}

ax_status ax_cpu_mse_backward(ax_ctx *ctx, const float *pred, const float *target, int64_t n,
                              float scale, const float *dloss, float *dpred) {
    (void)ctx;
    double g = 2.0 * grad_scale(scale, dloss);
    for (int64_t i = 0; i < n; i++)
        dpred[i] = (float)(g * ((double)pred[i] - target[i]));
    return AX_OK;
}

/* Every label in [0, cols), else AX_ERR_INVALID_ARG naming the public call (fn) and the
 * first bad row. */
static ax_status check_labels(const char *fn, const int32_t *labels, int64_t rows,
                              int64_t cols) {
    for (int64_t r = 0; r < rows; r++)
        if (labels[r] < 0 || labels[r] >= cols)
            return ax_fail(AX_ERR_INVALID_ARG, fn, "labels[%lld] = %d is outside [0, %lld)",
                           (long long)r, (int)labels[r], (long long)cols);
    return AX_OK;
}

/* Cross-entropy row term: -log softmax(x)[label] = log(sum e^(x - m)) - (x[label] - m), m the
 * row's max, in PyTorch's order: m + log(sum) would lose the log at |m| ~ 1e38. */
ax_status ax_cpu_cross_entropy_forward(ax_ctx *ctx, const float *logits, const int32_t *labels,
                                       int64_t rows, int64_t cols, float scale, float *loss) {
    (void)ctx;
    AX_TRY(check_labels("ax_cross_entropy_forward", labels, rows, cols));
    double s = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        const float *x = logits + r * cols;
        double m = 0.0, ls = ax_cpu_log_sum_shifted(x, cols, &m);
        s += ls - (x[labels[r]] - m);
    }
    loss[0] = (float)(scale * s);
    return AX_OK;
}

/* d term / d x[j] = softmax(x)[j] - [j == label] = e^((x[j] - m) - ls) - [j == label] */
ax_status ax_cpu_cross_entropy_backward(ax_ctx *ctx, const float *logits,
                                        const int32_t *labels, int64_t rows, int64_t cols,
                                        float scale, const float *dloss, float *dlogits) {
    (void)ctx;
    AX_TRY(check_labels("ax_cross_entropy_backward", labels, rows, cols));
    double g = grad_scale(scale, dloss);
    for (int64_t r = 0; r < rows; r++) {
        const float *x = logits + r * cols;
        float *dx = dlogits + r * cols;
        double m = 0.0, ls = ax_cpu_log_sum_shifted(x, cols, &m);
        for (int64_t j = 0; j < cols; j++)
            dx[j] = (float)(g * (exp((x[j] - m) - ls) - (j == labels[r] ? 1.0 : 0.0)));
    }
    return AX_OK;
}

/* BCE with logits, term: (1 - t) x - log sigmoid(x) = max(x, 0) - x t + log(1 + e^-|x|), which
 * never overflows. At x = +-Inf it is PyTorch's form (1 - t) x - min(x, 0) + log(...), so that
 * x = -Inf, or x = +Inf with t = 1, gives NaN and x = +Inf with t < 1 gives Inf as there;
 * for finite x the first form, which does not cancel (x t against x) for x << 0.
 * derivative: sigmoid(x) - t. */
ax_status ax_cpu_bce_forward(ax_ctx *ctx, const float *logits, const float *targets, int64_t n,
                             float scale, float *loss) {
    (void)ctx;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double x = logits[i], t = targets[i];
        double lin = isinf(x) ? (1.0 - t) * x - fmin(x, 0.0) : fmax(x, 0.0) - x * t;
        s += lin + log1p(exp(-fabs(x)));
    }
    loss[0] = (float)(scale * s);
    return AX_OK;
}

ax_status ax_cpu_bce_backward(ax_ctx *ctx, const float *logits, const float *targets,
                              int64_t n, float scale, const float *dloss, float *dlogits) {
    (void)ctx;
    double g = grad_scale(scale, dloss);
    for (int64_t i = 0; i < n; i++)
        dlogits[i] = (float)(g * (ax_cpu_sigmoid(logits[i]) - targets[i]));
    return AX_OK;
}
