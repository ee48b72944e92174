// Inverted dropout, forward and backward alike: y = x * (keep ? scale : 0) with
// keep = (Philox uniform of element e >= p) and scale = 1 / (1 - p), bit-identical to the CPU
// reference: the same Philox words (philox.h) and one correctly rounded multiply. A dropped
// element is x * 0 as in PyTorch (NaN and Inf give NaN, x < 0 gives -0).
#include "../host/common/philox.h"
#include "common.cuh"
#include "kernels.h"

namespace {

struct DropoutOp {
    static constexpr int kInputs = 1;
    float p, scale;
    uint64_t seed, offset;

    __device__ __forceinline__ float keep(uint32_t word, float x) const {
        return __fmul_rn(x, ax_u32_to_unit(word) >= p ? scale : 0.0f);
    }

    // Elements e0..e0+3 (e0 % 4 == 0) are the four words of Philox block e0 / 4: one block
    // per float4 instead of four.
    template <int W>
    __device__ __forceinline__ void apply(int64_t e0, const float (&x)[W], const float (&)[W],
                                          float (&y)[W]) const {
        if constexpr (W == 4) {
            philox4x32_ctr_t r = ax_philox_block(seed, offset, (uint64_t)e0 >> 2);
#pragma unroll
            for (int k = 0; k < 4; k++)
                y[k] = keep(r.v[k], x[k]);
        } else {
#pragma unroll
            for (int k = 0; k < W; k++) {
                uint64_t e = (uint64_t)e0 + k;
                y[k] = keep(ax_philox_block(seed, offset, e >> 2).v[e & 3], x[k]);
            }
        }
    }
};

} // namespace

extern "C" ax_status ax_cuda_dropout(ax_ctx *ctx, float p, uint64_t seed, uint64_t offset,
                                     const float *x, float *y, int64_t n) {
    // rounded on the host in float, as the CPU reference does (0 < p < 1 here)
    const float scale = 1.0f / (1.0f - p);
    return launch_map(ctx, __func__, "launch of dropout", DropoutOp{p, scale, seed, offset}, n,
                      x, nullptr, y);
}
