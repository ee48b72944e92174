// Sampling helpers of a language model.
//
// softmax_temperature: one warp per row (grid-stride), y = e^((x - m) / T) / sum e^((x - m) / T)
// with m the row's max; each lane's strided partial max and sum, then a butterfly over the
// warp in a fixed order (deterministic). A row holding NaN or +Inf, or only -Inf, gives NaN
// (x - m is NaN somewhere), as ax_softmax_forward.
//
// multinomial: one thread per row runs ../host/common/sampling.h, the code the CPU reference
// runs, with u = ax_philox_uniform(seed, offset, row): the same probs give the same draw on
// both. A row that is no distribution gets -1 and is recorded in the context's device check
// (cuda_internal.h), reported by the next synchronizing call.
#include <math.h>
#include <stdint.h>

#include "../host/common/philox.h"
#include "../host/common/sampling.h"
#include "../host/cuda/cuda_internal.h"
#include "kernels.h"

namespace {

constexpr int kThreads = 256;
constexpr unsigned kFull = 0xffffffffu;

__global__ void __launch_bounds__(kThreads)
    softmax_temperature_kernel(const float *x, float *y, int64_t rows, int64_t cols, float t) {
    const int lane = threadIdx.x & 31;
    const int64_t warps = (int64_t)gridDim.x * (kThreads / 32);
    for (int64_t r = ((int64_t)blockIdx.x * kThreads + threadIdx.x) / 32; r < rows; r += warps) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float m = -INFINITY;
        for (int64_t j = lane; j < cols; j += 32) {
            const float v = xr[j];
            m = isnan(v) || v > m ? v : m; // a NaN stays (x - m is then NaN: a NaN row)
        }
        for (int s = 16; s > 0; s >>= 1) {
            const float o = __shfl_xor_sync(kFull, m, s);
            m = isnan(o) || o > m ? o : m;
        }
        float sum = 0.0f;
        for (int64_t j = lane; j < cols; j += 32)
            sum = __fadd_rn(sum, expf(__fdiv_rn(__fsub_rn(xr[j], m), t)));
        for (int s = 16; s > 0; s >>= 1)
            sum = __fadd_rn(sum, __shfl_xor_sync(kFull, sum, s));
        __syncwarp(); // every lane has read the row before any writes (y may alias x)
        for (int64_t j = lane; j < cols; j += 32)
            yr[j] = __fdiv_rn(expf(__fdiv_rn(__fsub_rn(xr[j], m), t)), sum);
    }
}

__global__ void __launch_bounds__(kThreads)
    multinomial_kernel(const float *probs, int64_t rows, int64_t cols, int64_t top_k,
                       uint64_t seed, uint64_t offset, int32_t *out, ax_cuda_check *chk) {
    for (int64_t r = (int64_t)blockIdx.x * kThreads + threadIdx.x; r < rows;
         r += (int64_t)gridDim.x * kThreads) {
        const int64_t j = ax_sample_row(probs + r * cols, cols, top_k,
                                        ax_philox_uniform(seed, offset, (uint64_t)r));
        if (j < 0 && atomicCAS(&chk->claimed, 0, 1) == 0) {
            chk->what = AX_CUDA_CHECK_MULTINOMIAL;
            chk->pos = (long long)r;
            chk->value = (long long)(j == -1 ? -1 : -2 - j);
            chk->bound = (long long)cols;
        }
        out[r] = j < 0 ? -1 : (int32_t)j;
    }
}

} // namespace

extern "C" ax_status ax_cuda_softmax_temperature(ax_ctx *ctx, const float *x, float *y,
                                                 int64_t rows, int64_t cols,
                                                 float temperature) {
    softmax_temperature_kernel<<<ax_cuda_blocks(ctx, rows * 32, kThreads), kThreads, 0,
                                 ax_stream(ctx)>>>(x, y, rows, cols, temperature);
    return ax_cuda_status(cudaGetLastError(), "ax_softmax_temperature",
                          "launch of softmax_temperature_kernel");
}

extern "C" ax_status ax_cuda_multinomial(ax_ctx *ctx, const float *probs, int64_t rows,
                                         int64_t cols, int64_t top_k, uint64_t seed,
                                         uint64_t offset, int32_t *out) {
    const char *fn = "ax_multinomial";
    ax_cuda_check *chk = nullptr;
    AX_TRY(ax_cuda_device_check(ctx, fn, &chk));
    multinomial_kernel<<<ax_cuda_blocks(ctx, rows, kThreads), kThreads, 0, ax_stream(ctx)>>>(
        probs, rows, cols, top_k, seed, offset, out, chk);
    return ax_cuda_status(cudaGetLastError(), fn, "launch of multinomial_kernel");
}
