// Losses: mean squared error, softmax cross-entropy with int32 labels, binary cross-entropy
// with logits. Forward: a deterministic two-stage reduction into loss[0] = scale * sum of the
// terms (common.cuh). Backward: d = scale * (dloss ? dloss[0] : 1) * d term, elementwise.
//
// Cross-entropy labels: a label outside [0, cols) is never used as an index. The kernels count
// such rows and keep the first one in a LabelCheck (scratch); the launcher copies it back,
// waits for the stream (backend.h allows these two to synchronize) and answers
// AX_ERR_INVALID_ARG naming the row and the label.
#include "rows.cuh"
#include "kernels.h"

namespace {

// g = scale * (dloss ? dloss[0] : 1), the factor of every gradient
__device__ __forceinline__ float grad_factor(float scale, const float *dloss) {
    return dloss ? __fmul_rn(scale, dloss[0]) : scale;
}

// ---------------------------------------------------------------- MSE

// (p - t)^2
struct SquaredErrorTerm {
    static constexpr int kInputs = 2;
    __device__ float f(float p, float t) const {
        const float d = __fsub_rn(p, t);
        return __fmul_rn(d, d);
    }
};

// dpred = 2 g (p - t)
struct MseBackward {
    static constexpr int kInputs = 2;
    float scale;
    const float *dloss;
    __device__ float f(float p, float t) const {
        return __fmul_rn(__fmul_rn(2.0f, grad_factor(scale, dloss)), __fsub_rn(p, t));
    }
};

// ---------------------------------------------------------------- BCE with logits

// max(x, 0) - x t + log(1 + e^-|x|); at x = +-Inf PyTorch's (1 - t) x - min(x, 0) + log(...)
// instead, so that Inf and NaN come out as there (the CPU reference explains)
struct BceTerm {
    static constexpr int kInputs = 2;
    __device__ float f(float x, float t) const {
        const float lin = isinf(x) ? __fsub_rn(__fmul_rn(__fsub_rn(1.0f, t), x), fminf(x, 0.0f))
                                   : __fsub_rn(fmaxf(x, 0.0f), __fmul_rn(x, t));
        return __fadd_rn(lin, log1pf(expf(-fabsf(x))));
    }
};

// dlogits = g (sigmoid(x) - t)
struct BceBackward {
    static constexpr int kInputs = 2;
    float scale;
    const float *dloss;
    __device__ float f(float x, float t) const {
        return __fmul_rn(grad_factor(scale, dloss), __fsub_rn(sigmoid(x), t));
    }
};

// ---------------------------------------------------------------- cross-entropy

// Bad labels seen by a launch: how many, and the first row as rows - r (0: none), so that
// atomicMax keeps the smallest row whatever order the blocks run in.
struct LabelCheck {
    unsigned long long count;
    unsigned long long first;
};

// label of row r when it is in [0, cols); otherwise records the row and returns -1
__device__ __forceinline__ int64_t checked_label(const int32_t *labels, int64_t r, int64_t rows,
                                                 int64_t cols, LabelCheck *chk, bool report) {
    const int32_t label = labels[r];
    if (label >= 0 && label < cols)
        return label;
    if (report) {
        atomicAdd(&chk->count, 1ull);
        atomicMax(&chk->first, (unsigned long long)(rows - r));
    }
    return -1;
}

// loss of a row: log sum e^x - x[label] = log s - (x[label] - m), PyTorch's order (m + log s
// would lose log s at |m| ~ 1e38); 0 for a bad label
__device__ __forceinline__ float row_loss(const float *row, int64_t label, float m, float s) {
    return label < 0 ? 0.0f : __fsub_rn(logf(s), __fsub_rn(row[label], m));
}

// the end of a first stage: partial[block], or loss itself when the grid is one block
__device__ __forceinline__ void write_block_sum(double acc, double *partial, ScalarOut out) {
    acc = block_sum(acc);
    if (threadIdx.x == 0) {
        if (gridDim.x == 1)
            out.write(acc);
        else
            partial[blockIdx.x] = acc;
    }
}

template <int Lanes, int Elems, bool Vec>
__global__ void __launch_bounds__(kThreads)
    ce_forward_warp(const float *x, const int32_t *labels, int64_t rows, int64_t cols,
                    LabelCheck *chk, double *partial, ScalarOut out) {
    double acc = 0.0; // lane 0 of each group, over its rows in order
    for_warp_rows<Lanes>(rows, cols, [&](int64_t r, int64_t n, int lane) {
        RowFrag<Lanes, Elems, Vec> f;
        f.load(x + r * cols, n, lane, -INFINITY);
        const float m = f.row_max();
        const float s = f.row_sum_exp(m);
        if (n > 0 && lane == 0)
            acc += row_loss(x + r * cols, checked_label(labels, r, rows, cols, chk, true), m, s);
    });
    write_block_sum(acc, partial, out);
}

template <bool Vec>
__global__ void __launch_bounds__(kRowBlock)
    ce_forward_block(const float *x, const int32_t *labels, int64_t rows, int64_t cols,
                     LabelCheck *chk, double *partial, ScalarOut out) {
    double acc = 0.0; // thread 0, over the block's rows in order
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) { // block-uniform
        const float *xr = x + r * cols;
        const float m = block_row_max<Vec>(xr, cols);
        const float s = block_row_sum_exp<Vec>(xr, cols, m);
        if (threadIdx.x == 0)
            acc += row_loss(xr, checked_label(labels, r, rows, cols, chk, true), m, s);
    }
    write_block_sum(acc, partial, out);
}

// g (softmax(x) - [is_label]) with softmax(x) = e^(x - m) / s; e / s - 1 is one fused
// multiply-add, as it comes out of a cancellation when the label's probability is near 1
__device__ __forceinline__ float ce_grad(float x, float m, float inv, float g, bool is_label) {
    const float e = expf(x - m);
    return __fmul_rn(g, is_label ? fmaf(e, inv, -1.0f) : __fmul_rn(e, inv));
}

// dlogits = g (softmax(x) - onehot(label)); a row with a bad label gets g softmax(x)
template <int Lanes, int Elems, bool Vec>
__global__ void __launch_bounds__(kThreads)
    ce_backward_warp(const float *x, const int32_t *labels, int64_t rows, int64_t cols,
                     float scale, const float *dloss, float *dx, LabelCheck *chk) {
    const float g = grad_factor(scale, dloss);
    for_warp_rows<Lanes>(rows, cols, [&](int64_t r, int64_t n, int lane) {
        RowFrag<Lanes, Elems, Vec> f;
        f.load(x + r * cols, n, lane, -INFINITY);
        const float m = f.row_max();
        const float inv = 1.0f / f.row_sum_exp(m);
        const int64_t label = n > 0 ? checked_label(labels, r, rows, cols, chk, lane == 0) : -1;
#pragma unroll
        for (int j = 0; j < Elems; j++)
            f.v[j] = ce_grad(f.v[j], m, inv, g, f.col(j, lane) == label);
        f.store(dx + r * cols, n, lane);
    });
}

template <bool Vec>
__global__ void __launch_bounds__(kRowBlock)
    ce_backward_block(const float *x, const int32_t *labels, int64_t rows, int64_t cols,
                      float scale, const float *dloss, float *dx, LabelCheck *chk) {
    constexpr int W = Vec ? 4 : 1;
    const float g = grad_factor(scale, dloss);
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) { // block-uniform
        const float *xr = x + r * cols;
        const float m = block_row_max<Vec>(xr, cols);
        const float inv = 1.0f / block_row_sum_exp<Vec>(xr, cols, m);
        const int64_t label = checked_label(labels, r, rows, cols, chk, threadIdx.x == 0);
        for_chunks<Vec>(cols, [&](int64_t c) {
            float v[W];
            load_w<W>(xr, c, v);
#pragma unroll
            for (int k = 0; k < W; k++)
                v[k] = ce_grad(v[k], m, inv, g, c + k == label);
            store_w<W>(dx + r * cols, c, v);
        });
    }
}

// Zeroed LabelCheck at the start of scratch, then `doubles` partials.
ax_status ce_scratch(ax_ctx *ctx, const char *fn, int64_t doubles, LabelCheck **chk,
                     double **partial) {
    void *p = nullptr;
    AX_TRY(ax_ctx_scratch(ctx, sizeof(LabelCheck) + (size_t)doubles * sizeof(double), &p));
    *chk = (LabelCheck *)p;
    *partial = (double *)((char *)p + sizeof(LabelCheck));
    return ax_cuda_status(cudaMemsetAsync(p, 0, sizeof(LabelCheck), ax_stream(ctx)), fn,
                          "cudaMemsetAsync of the label check");
}

// Waits for the stream, then AX_ERR_INVALID_ARG naming the first bad label, if any.
ax_status ce_check_labels(ax_ctx *ctx, const char *fn, const LabelCheck *chk,
                          const int32_t *labels, int64_t rows, int64_t cols) {
    cudaStream_t stream = ax_stream(ctx);
    LabelCheck h = {0, 0};
    AX_TRY(ax_cuda_status(cudaMemcpyAsync(&h, chk, sizeof h, cudaMemcpyDeviceToHost, stream), fn,
                          "cudaMemcpyAsync of the label check"));
    AX_TRY(ax_cuda_status(cudaStreamSynchronize(stream), fn, "label check"));
    if (h.count == 0)
        return AX_OK;
    const int64_t r = rows - (int64_t)h.first;
    int32_t label = 0;
    AX_TRY(ax_cuda_status(cudaMemcpyAsync(&label, labels + r, sizeof label,
                                          cudaMemcpyDeviceToHost, stream),
                          fn, "cudaMemcpyAsync of a bad label"));
    AX_TRY(ax_cuda_status(cudaStreamSynchronize(stream), fn, "label check"));
    return ax_fail(AX_ERR_INVALID_ARG, fn,
                   "labels[%lld] = %d is outside [0, %lld) (%llu of the %lld labels are)",
                   (long long)r, (int)label, (long long)cols, h.count, (long long)rows);
}

} // namespace

extern "C" ax_status ax_cuda_mse_forward(ax_ctx *ctx, const float *pred, const float *target,
                                         int64_t n, float scale, float *loss) {
    return launch_reduce(ctx, __func__, "launch of mse forward", PointwiseTerm<SquaredErrorTerm>{},
                         n, pred, target, ScalarOut{loss, (double)scale, 0});
}

extern "C" ax_status ax_cuda_mse_backward(ax_ctx *ctx, const float *pred, const float *target,
                                          int64_t n, float scale, const float *dloss,
                                          float *dpred) {
    return launch_map(ctx, __func__, "launch of mse backward",
                      Pointwise<MseBackward>{{scale, dloss}}, n, pred, target, dpred);
}

extern "C" ax_status ax_cuda_bce_forward(ax_ctx *ctx, const float *logits, const float *targets,
                                         int64_t n, float scale, float *loss) {
    return launch_reduce(ctx, __func__, "launch of bce forward", PointwiseTerm<BceTerm>{}, n,
                         logits, targets, ScalarOut{loss, (double)scale, 0});
}

extern "C" ax_status ax_cuda_bce_backward(ax_ctx *ctx, const float *logits, const float *targets,
                                          int64_t n, float scale, const float *dloss,
                                          float *dlogits) {
    return launch_map(ctx, __func__, "launch of bce backward",
                      Pointwise<BceBackward>{{scale, dloss}}, n, logits, targets, dlogits);
}

extern "C" ax_status ax_cuda_cross_entropy_forward(ax_ctx *ctx, const float *logits,
                                                   const int32_t *labels, int64_t rows,
                                                   int64_t cols, float scale, float *loss) {
    const char *fn = "ax_cross_entropy_forward";
    const bool vec = aligned16(logits) && cols % 4 == 0;
    const bool warp = cols <= kMaxWarpCols;
    const unsigned blocks =
        warp ? warp_path_blocks(rows, cols, resident_blocks(ctx, kThreads))
             : block_path_blocks(rows, resident_blocks(ctx, kRowBlock));
    LabelCheck *chk = nullptr;
    double *partial = nullptr;
    AX_TRY(ce_scratch(ctx, fn, blocks, &chk, &partial));
    const ScalarOut out{loss, (double)scale, 0};
    cudaStream_t stream = ax_stream(ctx);
    if (warp)
        with_warp_shape(cols, vec, [&](auto shape) {
            using S = decltype(shape);
            ce_forward_warp<S::lanes, S::elems, S::vec>
                <<<blocks, kThreads, 0, stream>>>(logits, labels, rows, cols, chk, partial, out);
        });
    else if (vec)
        ce_forward_block<true>
            <<<blocks, kRowBlock, 0, stream>>>(logits, labels, rows, cols, chk, partial, out);
    else
        ce_forward_block<false>
            <<<blocks, kRowBlock, 0, stream>>>(logits, labels, rows, cols, chk, partial, out);
    AX_TRY(launched(fn, "launch of cross-entropy forward"));
    if (blocks > 1) {
        finish_kernel<double><<<1, kFinishThreads, 0, stream>>>(partial, blocks, out);
        AX_TRY(launched(fn, "launch of finish_kernel"));
    }
    return ce_check_labels(ctx, fn, chk, labels, rows, cols);
}

extern "C" ax_status ax_cuda_cross_entropy_backward(ax_ctx *ctx, const float *logits,
                                                    const int32_t *labels, int64_t rows,
                                                    int64_t cols, float scale,
                                                    const float *dloss, float *dlogits) {
    const char *fn = "ax_cross_entropy_backward";
    const bool vec = aligned16(logits) && aligned16(dlogits) && cols % 4 == 0;
    LabelCheck *chk = nullptr;
    double *unused = nullptr;
    AX_TRY(ce_scratch(ctx, fn, 0, &chk, &unused));
    cudaStream_t stream = ax_stream(ctx);
    if (cols <= kMaxWarpCols) {
        const unsigned blocks =
            warp_path_blocks(rows, cols, ax_cuda_blocks(ctx, rows * 32, kThreads));
        with_warp_shape(cols, vec, [&](auto shape) {
            using S = decltype(shape);
            ce_backward_warp<S::lanes, S::elems, S::vec><<<blocks, kThreads, 0, stream>>>(
                logits, labels, rows, cols, scale, dloss, dlogits, chk);
        });
    } else {
        const unsigned blocks = block_path_blocks(rows, resident_blocks(ctx, kRowBlock));
        if (vec)
            ce_backward_block<true><<<blocks, kRowBlock, 0, stream>>>(
                logits, labels, rows, cols, scale, dloss, dlogits, chk);
        else
            ce_backward_block<false><<<blocks, kRowBlock, 0, stream>>>(
                logits, labels, rows, cols, scale, dloss, dlogits, chk);
    }
    AX_TRY(launched(fn, "launch of cross-entropy backward"));
    return ce_check_labels(ctx, fn, chk, labels, rows, cols);
}
