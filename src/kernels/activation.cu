// Activations and their gradients: one vectorized elementwise map each (common.cuh).
// The CPU reference computes in double and rounds once; here accurate expf / tanhf (no fast
// math) and few roundings keep within a few ulp of it. 1 - y^2 is one fused multiply-add,
// rounded once, because near |y| = 1 it comes out of a cancellation; leaky ReLU's slope * x
// is the same single float product as on the CPU.
#include "axon/ops.h"

#include "common.cuh"
#include "kernels.h"

namespace {

// y = 1 / (1 + e^-x)
struct SigmoidForward {
    static constexpr int kInputs = 1;
    __device__ float f(float x, float) const { return sigmoid(x); }
};

// y = tanh x
struct TanhForward {
    static constexpr int kInputs = 1;
    __device__ float f(float x, float) const { return tanhf(x); }
};

// y = x < 0 ? 0 : x, as PyTorch: NaN passes through and relu(-0) = -0
struct ReluForward {
    static constexpr int kInputs = 1;
    __device__ float f(float x, float) const { return x < 0.0f ? 0.0f : x; }
};

// y = x > 0 ? x : slope x
struct LeakyReluForward {
    static constexpr int kInputs = 1;
    float slope;
    __device__ float f(float x, float) const { return x > 0.0f ? x : __fmul_rn(slope, x); }
};

// dx = dy y (1 - y)
struct SigmoidBackward {
    static constexpr int kInputs = 2;
    __device__ float f(float y, float dy) const {
        return __fmul_rn(dy, __fmul_rn(y, __fsub_rn(1.0f, y)));
    }
};

// dx = dy (1 - y^2)
struct TanhBackward {
    static constexpr int kInputs = 2;
    __device__ float f(float y, float dy) const {
        return __fmul_rn(dy, fmaf(-y, y, 1.0f));
    }
};

// dx = x <= 0 ? 0 : dy: 0 at x = +-0, and dy at x = NaN (PyTorch masks where relu(x) <= 0)
struct ReluBackward {
    static constexpr int kInputs = 2;
    __device__ float f(float x, float dy) const { return x <= 0.0f ? 0.0f : dy; }
};

// dx = x > 0 ? dy : slope dy (slope dy at x = +-0 and NaN, as PyTorch)
struct LeakyReluBackward {
    static constexpr int kInputs = 2;
    float slope;
    __device__ float f(float x, float dy) const { return x > 0.0f ? dy : __fmul_rn(slope, dy); }
};

} // namespace

extern "C" ax_status ax_cuda_activation_forward(ax_ctx *ctx, int act, float slope,
                                                const float *x, float *y, int64_t n) {
    switch (act) {
    case AX_ACT_SIGMOID:
        return launch_map(ctx, __func__, "launch of sigmoid forward",
                          Pointwise<SigmoidForward>{}, n, x, nullptr, y);
    case AX_ACT_TANH:
        return launch_map(ctx, __func__, "launch of tanh forward", Pointwise<TanhForward>{}, n,
                          x, nullptr, y);
    case AX_ACT_RELU:
        return launch_map(ctx, __func__, "launch of relu forward", Pointwise<ReluForward>{}, n,
                          x, nullptr, y);
    case AX_ACT_LEAKY_RELU:
        return launch_map(ctx, __func__, "launch of leaky relu forward",
                          Pointwise<LeakyReluForward>{{slope}}, n, x, nullptr, y);
    default:
        return ax_fail(AX_ERR_INVALID_ARG, __func__, "unknown activation %d", act);
    }
}

extern "C" ax_status ax_cuda_activation_backward(ax_ctx *ctx, int act, float slope,
                                                 const float *x, const float *y,
                                                 const float *dy, float *dx, int64_t n) {
    switch (act) {
    case AX_ACT_SIGMOID:
        return launch_map(ctx, __func__, "launch of sigmoid backward",
                          Pointwise<SigmoidBackward>{}, n, y, dy, dx);
    case AX_ACT_TANH:
        return launch_map(ctx, __func__, "launch of tanh backward", Pointwise<TanhBackward>{},
                          n, y, dy, dx);
    case AX_ACT_RELU:
        return launch_map(ctx, __func__, "launch of relu backward", Pointwise<ReluBackward>{},
                          n, x, dy, dx);
    case AX_ACT_LEAKY_RELU:
        return launch_map(ctx, __func__, "launch of leaky relu backward",
                          Pointwise<LeakyReluBackward>{{slope}}, n, x, dy, dx);
    default:
        return ax_fail(AX_ERR_INVALID_ARG, __func__, "unknown activation %d", act);
    }
}
