// Philox fills; each element is a pure function of (seed, offset, index), computed with the
// same correctly rounded operations as the CPU reference (src/host/cpu/rng.c).
#include "../host/common/philox.h"
#include "../host/cuda/cuda_internal.h"
#include "kernels.h"

namespace {

constexpr int kThreads = 256;

// y[e] = low + (high - low) u(e)
__global__ void uniform_kernel(float *y, int64_t n, float low, float range, uint64_t seed,
                               uint64_t offset) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = AX_ADD(low, AX_MUL(range, ax_philox_uniform(seed, offset, (uint64_t)i)));
}

// y[e] = mean + stddev z(e)
__global__ void normal_kernel(float *y, int64_t n, float mean, float stddev, uint64_t seed,
                              uint64_t offset) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = AX_ADD(mean, AX_MUL(stddev, ax_philox_normal(seed, offset, (uint64_t)i)));
}

// y[e] = u(e) < p
__global__ void bernoulli_kernel(float *y, int64_t n, float p, uint64_t seed, uint64_t offset) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = ax_philox_uniform(seed, offset, (uint64_t)i) < p ? 1.0f : 0.0f;
}

} // namespace

extern "C" ax_status ax_cuda_rng_uniform(ax_ctx *ctx, float *y, int64_t n, float low,
                                         float high, uint64_t seed, uint64_t offset) {
    float range = AX_ADD(high, -low); // rounded on the host exactly as the CPU path does
    uniform_kernel<<<ax_cuda_blocks(ctx, n, kThreads), kThreads, 0, ax_stream(ctx)>>>(
        y, n, low, range, seed, offset);
    return AX_CUDA_LAUNCHED("uniform_kernel");
}

extern "C" ax_status ax_cuda_rng_normal(ax_ctx *ctx, float *y, int64_t n, float mean,
                                        float stddev, uint64_t seed, uint64_t offset) {
    normal_kernel<<<ax_cuda_blocks(ctx, n, kThreads), kThreads, 0, ax_stream(ctx)>>>(
        y, n, mean, stddev, seed, offset);
    return AX_CUDA_LAUNCHED("normal_kernel");
}

extern "C" ax_status ax_cuda_rng_bernoulli(ax_ctx *ctx, float *y, int64_t n, float p,
                                           uint64_t seed, uint64_t offset) {
    bernoulli_kernel<<<ax_cuda_blocks(ctx, n, kThreads), kThreads, 0, ax_stream(ctx)>>>(
        y, n, p, seed, offset);
    return AX_CUDA_LAUNCHED("bernoulli_kernel");
}
