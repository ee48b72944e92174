/* CPU reference of batch normalization over the channels of x viewed as [outer, C, inner]:
 * channel c holds the M = outer inner values x[o, c, i]. Statistics are two passes in double
 * (the mean, then the sum of squared deviations from it), so a channel of 1e4 + small noise
 * keeps its variance; every per-channel sum accumulates in double. */
#include <math.h>

#include "../common/batchnorm_stats.h"
#include "cpu.h"

/* Element (o, c, i) of an [outer, C, inner] array. */
#define AT(p, o, c, i) ((p)[((o) * channels + (c)) * inner + (i)])

/* mean = sum x / M, var = sum (x - mean)^2 / M (biased) of channel c. */
static void channel_stats(const float *x, int64_t outer, int64_t channels, int64_t inner,
                          int64_t c, double *mean, double *var) {
    const double m = (double)outer * (double)inner;
    double s = 0.0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            s += AT(x, o, c, i);
    const double mu = s / m;
    double ss = 0.0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const double d = AT(x, o, c, i) - mu;
            ss += d * d;
        }
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
            for (int64_t i = 0; i < inner; i++) {
                const double g = AT(dy, o, c, i);
                sdy += g;
                sdyx += g * (AT(x, o, c, i) - mu) * invstd;
            }
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
