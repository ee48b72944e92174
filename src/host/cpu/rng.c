/* CPU Philox fills; the formulas match src/kernels/rng.cu operation for operation. */
#include "../common/philox.h"
#include "cpu.h"

ax_status ax_cpu_rng_uniform(ax_ctx *ctx, float *y, int64_t n, float low, float high,
                             uint64_t seed, uint64_t offset) {
    (void)ctx;
    float range = AX_ADD(high, -low);
    for (int64_t i = 0; i < n; i++)
        y[i] = AX_ADD(low, AX_MUL(range, ax_philox_uniform(seed, offset, (uint64_t)i)));
    return AX_OK;
}

ax_status ax_cpu_rng_normal(ax_ctx *ctx, float *y, int64_t n, float mean, float stddev,
                            uint64_t seed, uint64_t offset) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++)
        y[i] = AX_ADD(mean, AX_MUL(stddev, ax_philox_normal(seed, offset, (uint64_t)i)));
    return AX_OK;
}

ax_status ax_cpu_rng_bernoulli(ax_ctx *ctx, float *y, int64_t n, float p, uint64_t seed,
                               uint64_t offset) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++)
        y[i] = ax_philox_uniform(seed, offset, (uint64_t)i) < p ? 1.0f : 0.0f;
    return AX_OK;
}
