// One recurrent step's pointwise part, fused: a single launch per step computes every gate's
// nonlinearity and the state update of all rows x hidden elements (the formulas and the saved
// layout are common/rnn_step.h's, shared with the CPU reference), and one launch per step
// does their backward. The GEMMs around each step are the op's (src/host/ops/rnn.c, through
// the SGEMM entry). The textbook GRU takes two launches per step (phase 0 before the GEMM of
// r h, phase 1 after it).
//
// A thread per element (b, j), grid-stride over rows * hidden with 64-bit indices. Every
// element reads only its own columns j, H + j, ... of its row and writes its own outputs, so
// in-place use of dh and dc (read, then written by the same thread) is safe and no two threads
// write the same address: no atomics, reruns give the same bits.
#include "../host/common/rnn_step.h"
#include "../host/cuda/cuda_internal.h"
#include "kernels.h"

namespace {

constexpr int kStepThreads = 256;

__device__ __forceinline__ void step_at(const ax_rnn_step *s, int64_t b, int64_t j) {
    ax_rnn_step_forward_at(s, b, j);
}
__device__ __forceinline__ void step_at(const ax_rnn_step_grad *s, int64_t b, int64_t j) {
    ax_rnn_step_backward_at(s, b, j);
}

// Step is ax_rnn_step (forward) or ax_rnn_step_grad (backward), passed by value.
template <class Step> __global__ void __launch_bounds__(kStepThreads) rnn_step_kernel(Step s) {
    const int64_t n = s.rows * s.hidden;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t b = e / s.hidden;
        step_at(&s, b, e - b * s.hidden);
    }
}

template <class Step> ax_status launch_step(ax_ctx *ctx, const Step *s, const char *fn) {
    const int64_t n = s->rows * s->hidden;
    if (n <= 0)
        return AX_OK;
    rnn_step_kernel<Step><<<ax_cuda_blocks(ctx, n, kStepThreads), kStepThreads, 0,
                            ax_stream(ctx)>>>(*s);
    return ax_cuda_status(cudaGetLastError(), fn, "launch of rnn_step_kernel");
}

} // namespace

extern "C" ax_status ax_cuda_rnn_step_forward(ax_ctx *ctx, const ax_rnn_step *s) {
    return launch_step(ctx, s, __func__);
}

extern "C" ax_status ax_cuda_rnn_step_backward(ax_ctx *ctx, const ax_rnn_step_grad *s) {
    return launch_step(ctx, s, __func__);
}
