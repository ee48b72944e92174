/* CPU reference of batch normalization over the channels of x viewed as [outer, C, inner]:
 * channel c holds the M = outer inner values x[o, c, i]. Statistics are two passes in double
 * (the mean, then the sum of squared deviations from it), so a channel of 1e4 + small noise
 * keeps its variance; every per-channel sum accumulates in double, each row of `inner`
 * values in four partial sums (row_sum), the rows in order. */
#include <math.h>

#include "../common/batchnorm_stats.h"
#include "cpu.h"

/* Element (o, c, i) of an [outer, C, inner] array. */
#define AT(p, o, c, i) ((p)[((o) * channels + (c)) * inner + (i)])

/* Sums over one contiguous row of n values in four double accumulators (element i goes to
 * accumulator i mod 4, added together at the end): four independent chains of additions
 * instead of one, so the sums run at the adder's throughput, not its latency. */
static double row_sum(const float *x, int64_t n) {
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            s[k] += x[i + k];
    for (; i < n; i++)
        s[i % 4] += x[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* sum (x - mu)^2 over a row, accumulated as row_sum. */
static double row_sum_sq_dev(const float *x, int64_t n, double mu) {
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) {
            const double d = x[i + k] - mu;
            s[k] += d * d;
        }
    for (; i < n; i++) {
        const double d = x[i] - mu;
        s[i % 4] += d * d;
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* *sdy += sum dy and *sdyx += sum dy (x - mu) invstd over a row, accumulated as row_sum. */
static void row_sums_dy(const float *dy, const float *x, int64_t n, double mu, double invstd,
                        double *sdy, double *sdyx) {
    double a[4] = {0.0, 0.0, 0.0, 0.0}, b[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) {
            const double g = dy[i + k];
            a[k] += g;
            b[k] += g * (x[i + k] - mu) * invstd;
        }
    for (; i < n; i++) {
        const double g = dy[i];
        a[i % 4] += g;
        b[i % 4] += g * (x[i] - mu) * invstd;
    }
    *sdy += (a[0] + a[1]) + (a[2] + a[3]);
    *sdyx += (b[0] + b[1]) + (b[2] + b[3]);
}

/* mean = sum x / M, var = sum (x - mean)^2 / M (biased) of channel c. */
static void channel_stats(const float *x, int64_t outer, int64_t channels, int64_t inner,
                          int64_t c, double *mean, double *var) {
    const double m = (double)outer * (double)inner;
    double s = 0.0;
    for (int64_t o = 0; o < outer; o++)
        s += row_sum(&AT(x, o, c, 0), inner);
    const double mu = s / m;
    double ss = 0.0;
    for (int64_t o = 0; o < outer; o++)
        ss += row_sum_sq_dev(&AT(x, o, c, 0), inner, mu);
    *mean = mu;
    *var = ss / m;
}

/* y = (x - mean) invstd gamma + beta for channel c, in double, rounded once. */
static void channel_normalize(const float *x, float *y, int64_t outer, int64_t channels,
                              int64_t inner, int64_t c, double mean, double invstd,
                              const float *gamma, const float *beta) {
    const double g = gamma ? gamma[c] : 1.0, b = beta ? beta[c] : 0.0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            AT(y, o, c, i) = (float)((AT(x, o, c, i) - mean) * invstd * g + b);
}

/* Training: mean, var of the batch; invstd = 1 / sqrt(var + eps);
 *           running_mean = (1 - f) running_mean + f mean,
 *           running_var  = (1 - f) running_var  + f var M / (M - 1)   (M >= 2, checked above) */
ax_status ax_cpu_batch_norm_forward_training(ax_ctx *ctx, const float *x, const float *gamma,
                                             const float *beta, float *y, int64_t outer,
                                             int64_t channels, int64_t inner, float eps,
                                             float factor, float *running_mean,
                                             float *running_var, float *save_mean,
                                             float *save_invstd) {
    (void)ctx;
    const double m = (double)outer * (double)inner;
    for (int64_t c = 0; c < channels; c++) {
        double mean = 0.0, var = 0.0;
        channel_stats(x, outer, channels, inner, c, &mean, &var);
        const double invstd = ax_bn_channel_update(c, mean, var, m, eps, factor, running_mean,
                                                   running_var, save_mean, save_invstd);
        channel_normalize(x, y, outer, channels, inner, c, mean, invstd, gamma, beta);
    }
    return AX_OK;
}

/* Evaluation: y = (x - mean) / sqrt(var + eps) gamma + beta with the given statistics. */
ax_status ax_cpu_batch_norm_forward_inference(ax_ctx *ctx, const float *x, const float *gamma,
                                              const float *beta, const float *mean,
                                              const float *var, float eps, float *y,
                                              int64_t outer, int64_t channels, int64_t inner) {
    (void)ctx;
    for (int64_t c = 0; c < channels; c++)
        channel_normalize(x, y, outer, channels, inner, c, mean[c],
                          1.0 / sqrt((double)var[c] + (double)eps), gamma, beta);
    return AX_OK;
}

/* xhat = (x - mean) invstd, per channel:
 *   dbeta  = sum dy,  dgamma = sum dy xhat
 *   training:   dx = gamma invstd (dy - dbeta / M - xhat dgamma / M)
 *   evaluation: dx = gamma invstd dy   (mean and invstd are constants) */
ax_status ax_cpu_batch_norm_backward(ax_ctx *ctx, int training, const float *x,
                                     const float *dy, const float *gamma, const float *mean,
                                     const float *stat, float eps, float *dx, float *dgamma,
                                     float *dbeta, int64_t outer, int64_t channels,
                                     int64_t inner) {
    (void)ctx;
    const double m = (double)outer * (double)inner;
    for (int64_t c = 0; c < channels; c++) {
        const double mu = mean[c];
        const double invstd = training ? (double)stat[c] : 1.0 / sqrt((double)stat[c] + eps);
        double sdy = 0.0, sdyx = 0.0;
        for (int64_t o = 0; o < outer; o++)
            row_sums_dy(&AT(dy, o, c, 0), &AT(x, o, c, 0), inner, mu, invstd, &sdy, &sdyx);
        if (dbeta)
            dbeta[c] = (float)sdy;
        if (dgamma)
            dgamma[c] = (float)sdyx;
        if (!dx)
            continue;
        const double k = (gamma ? gamma[c] : 1.0) * invstd;
        const double mdy = training ? sdy / m : 0.0, mdyx = training ? sdyx / m : 0.0;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++) {
                const double xhat = (AT(x, o, c, i) - mu) * invstd;
                AT(dx, o, c, i) = (float)(k * (AT(dy, o, c, i) - mdy - xhat * mdyx));
            }
    }
    return AX_OK;
}
