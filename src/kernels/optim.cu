// Optimizer updates and clamp. The update is one fused elementwise pass over the parameter,
// its gradient and up to three state tensors, using the per-element rules the CPU reference
// runs (../host/common/optim_update.h), so both backends compute the same formulas in the same order.
#include "../host/common/optim_update.h"
#include "common.cuh"
#include "kernels.h"

namespace {

// Update the W elements at e0: load w, g and the states present, apply the rule to each
// element, store w and the states back. Every element is read and written by one thread.
template <int W>
__device__ __forceinline__ void update_w(const ax_optim_update &a, int64_t e0, float *w,
                                         const float *g, float *s0, float *s1, float *s2) {
    float vw[W], vg[W], v0[W] = {}, v1[W] = {}, v2[W] = {};
    load_w<W>(w, e0, vw);
    load_w<W>(g, e0, vg);
    if (s0)
        load_w<W>(s0, e0, v0);
    if (s1)
        load_w<W>(s1, e0, v1);
    if (s2)
        load_w<W>(s2, e0, v2);
#pragma unroll
    for (int k = 0; k < W; k++)
        ax_optim_rule(&a, &vw[k], vg[k], &v0[k], &v1[k], &v2[k]);
    store_w<W>(w, e0, vw);
    if (s0)
        store_w<W>(s0, e0, v0);
    if (s1)
        store_w<W>(s1, e0, v1);
    if (s2)
        store_w<W>(s2, e0, v2);
}

// Grid-stride over n elements. Vec: every pointer is 16-byte aligned; float4 steps over the
// first n - n % 4 elements, then the scalar loop takes the tail (any n >= 1).
template <bool Vec>
__global__ void __launch_bounds__(kThreads)
    optim_kernel(ax_optim_update a, int64_t n, float *w, const float *g, float *s0, float *s1,
                 float *s2) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if constexpr (Vec) {
        const int64_t nvec = n >> 2;
        for (int64_t v = e; v < nvec; v += stride)
            update_w<4>(a, v << 2, w, g, s0, s1, s2);
        e += nvec << 2;
    }
    for (; e < n; e += stride)
        update_w<1>(a, e, w, g, s0, s1, s2);
}

inline bool aligned_or_null(const void *p) { return !p || aligned16(p); }

// y = min(max(x, lo), hi); NaN fails both comparisons and passes through
struct Clamp {
    static constexpr int kInputs = 1;
    float lo, hi;
    __device__ float f(float x, float) const { return x < lo ? lo : x > hi ? hi : x; }
};

} // namespace

extern "C" ax_status ax_cuda_optim_update(ax_ctx *ctx, const ax_optim_update *a, int64_t n,
                                          float *w, const float *g, float *s0, float *s1,
                                          float *s2) {
    if (n <= 0)
        return AX_OK;
    const bool vec = aligned16(w) && aligned16(g) && aligned_or_null(s0) &&
                     aligned_or_null(s1) && aligned_or_null(s2);
    cudaStream_t stream = ax_stream(ctx);
    if (vec)
        optim_kernel<true><<<ax_cuda_blocks(ctx, (n + 3) / 4, kThreads), kThreads, 0, stream>>>(
            *a, n, w, g, s0, s1, s2);
    else
        optim_kernel<false><<<ax_cuda_blocks(ctx, n, kThreads), kThreads, 0, stream>>>(
            *a, n, w, g, s0, s1, s2);
    return AX_CUDA_LAUNCHED("optim_kernel");
}

extern "C" ax_status ax_cuda_clamp(ax_ctx *ctx, int64_t n, float lo, float hi, const float *x,
                                   float *y) {
    return launch_map(ctx, __func__, "launch of clamp", Pointwise<Clamp>{{lo, hi}}, n, x,
                      nullptr, y);
}
