/* What both backends of batch norm do with a channel's batch statistics (src/host/cpu/
 * batchnorm.c, src/kernels/batchnorm.cu), so the two cannot drift apart. */
#ifndef AX_BATCHNORM_STATS_H
#define AX_BATCHNORM_STATS_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define AX_BN_FN static inline __host__ __device__
#else
#define AX_BN_FN static inline
#endif

/* Channel c's batch mean and biased var over m values: writes the saved mean and inverse std
 * (either may be NULL) and moves the running statistics (both or neither) by factor towards
 * the mean and the unbiased variance var m / (m - 1), as PyTorch. Returns 1 / sqrt(var + eps). */
AX_BN_FN double ax_bn_channel_update(int64_t c, double mean, double var, double m, float eps,
                                     float factor, float *running_mean, float *running_var,
                                     float *save_mean, float *save_invstd) {
    const double invstd = 1.0 / sqrt(var + (double)eps), f = factor;
    if (save_mean)
        save_mean[c] = (float)mean;
    if (save_invstd)
        save_invstd[c] = (float)invstd;
    if (running_mean) {
        running_mean[c] = (float)((1.0 - f) * running_mean[c] + f * mean);
        running_var[c] = (float)((1.0 - f) * running_var[c] + f * var * m / (m - 1.0));
    }
    return invstd;
}

#endif
