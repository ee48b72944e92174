// Elementwise kernels: grid-stride loops over n elements, any n >= 1 (no tail assumption).
#include "../host/cuda/cuda_internal.h"
#include "kernels.h"

namespace {

constexpr int kThreads = 256;

template <typename T> __global__ void fill_kernel(T *y, int64_t n, T value) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = value;
}

// y = alpha x
__global__ void scale_kernel(int64_t n, float alpha, const float *x, float *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = alpha * x[i];
}

// y += alpha x, one fused multiply-add (explicit, as the CPU reference's fmaf)
__global__ void axpy_kernel(int64_t n, float alpha, const float *x, float *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = fmaf(alpha, x[i], y[i]);
}

__global__ void add_kernel(int64_t n, const float *a, const float *b, float *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = a[i] + b[i];
}

__global__ void mul_kernel(int64_t n, const float *a, const float *b, float *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = a[i] * b[i];
}

} // namespace

extern "C" ax_status ax_cuda_fill_f32(ax_ctx *ctx, float *y, int64_t n, float value) {
    fill_kernel<<<ax_cuda_blocks(ctx, n, kThreads), kThreads, 0, ax_stream(ctx)>>>(y, n, value);
    return AX_CUDA_LAUNCHED("fill_kernel<float>");
}

extern "C" ax_status ax_cuda_fill_i32(ax_ctx *ctx, int32_t *y, int64_t n, int32_t value) {
    fill_kernel<<<ax_cuda_blocks(ctx, n, kThreads), kThreads, 0, ax_stream(ctx)>>>(y, n, value);
    return AX_CUDA_LAUNCHED("fill_kernel<int32_t>");
}

extern "C" ax_status ax_cuda_scale(ax_ctx *ctx, int64_t n, float alpha, const float *x,
                                   float *y) {
    scale_kernel<<<ax_cuda_blocks(ctx, n, kThreads), kThreads, 0, ax_stream(ctx)>>>(n, alpha, x,
                                                                                    y);
    return AX_CUDA_LAUNCHED("scale_kernel");
}

extern "C" ax_status ax_cuda_axpy(ax_ctx *ctx, int64_t n, float alpha, const float *x,
                                  float *y) {
    axpy_kernel<<<ax_cuda_blocks(ctx, n, kThreads), kThreads, 0, ax_stream(ctx)>>>(n, alpha, x,
                                                                                   y);
    return AX_CUDA_LAUNCHED("axpy_kernel");
}

extern "C" ax_status ax_cuda_add(ax_ctx *ctx, int64_t n, const float *a, const float *b,
                                 float *y) {
    add_kernel<<<ax_cuda_blocks(ctx, n, kThreads), kThreads, 0, ax_stream(ctx)>>>(n, a, b, y);
    return AX_CUDA_LAUNCHED("add_kernel");
}

extern "C" ax_status ax_cuda_mul(ax_ctx *ctx, int64_t n, const float *a, const float *b,
                                 float *y) {
    mul_kernel<<<ax_cuda_blocks(ctx, n, kThreads), kThreads, 0, ax_stream(ctx)>>>(n, a, b, y);
    return AX_CUDA_LAUNCHED("mul_kernel");
}
