// Softmax and log-softmax along rows of `cols`, forward and backward, max-subtracted.
// Warp path (a row in registers) up to kMaxWarpCols columns, block path beyond (rows.cuh).
// Accurate expf / logf (no fast math); dy - e^y s is one fused multiply-add, as it comes out
// of a cancellation.
#include "rows.cuh"
#include "kernels.h"

namespace {

// softmax:     y = e^(x - m) / s,      m = max x, s = sum e^(x - m)
// log-softmax: y = (x - m) - log s
template <int Lanes, int Elems, bool Vec>
__global__ void __launch_bounds__(kThreads)
    softmax_forward_warp(const float *x, float *y, int64_t rows, int64_t cols, int use_log) {
    for_warp_rows<Lanes>(rows, cols, [&](int64_t r, int64_t n, int lane) {
        RowFrag<Lanes, Elems, Vec> f;
        f.load(x + r * cols, n, lane, -INFINITY);
        const float m = f.row_max();
        if (use_log) {
            const float ls = logf(f.row_sum_exp(m));
#pragma unroll
            for (int j = 0; j < Elems; j++)
                f.v[j] = __fsub_rn(__fsub_rn(f.v[j], m), ls);
        } else {
            float s = 0.0f;
#pragma unroll
            for (int j = 0; j < Elems; j++) {
                f.v[j] = expf(f.v[j] - m);
                s += f.v[j];
            }
            const float inv = 1.0f / group_reduce<Lanes>(s, Sum{});
#pragma unroll
            for (int j = 0; j < Elems; j++)
                f.v[j] = __fmul_rn(f.v[j], inv);
        }
        f.store(y + r * cols, n, lane);
    });
}

template <bool Vec>
__global__ void __launch_bounds__(kRowBlock)
    softmax_forward_block(const float *x, float *y, int64_t rows, int64_t cols, int use_log) {
    constexpr int W = Vec ? 4 : 1;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) { // block-uniform
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        const float m = block_row_max<Vec>(xr, cols);
        const float s = block_row_sum_exp<Vec>(xr, cols, m);
        const float ls = logf(s), inv = 1.0f / s;
        for_chunks<Vec>(cols, [&](int64_t c) {
            float v[W];
            load_w<W>(xr, c, v);
#pragma unroll
            for (int k = 0; k < W; k++)
                v[k] = use_log ? __fsub_rn(__fsub_rn(v[k], m), ls) : __fmul_rn(expf(v[k] - m), inv);
            store_w<W>(yr, c, v);
        });
    }
}

// softmax:     dx = y (dy - sum(dy y))
// log-softmax: dx = dy - e^y sum(dy)
template <int Lanes, int Elems, bool Vec>
__global__ void __launch_bounds__(kThreads)
    softmax_backward_warp(const float *y, const float *dy, float *dx, int64_t rows, int64_t cols,
                          int use_log) {
    for_warp_rows<Lanes>(rows, cols, [&](int64_t r, int64_t n, int lane) {
        RowFrag<Lanes, Elems, Vec> fy, fd;
        fy.load(y + r * cols, n, lane, 0.0f);
        fd.load(dy + r * cols, n, lane, 0.0f);
        if (use_log) {
            const float s = fd.row_sum();
#pragma unroll
            for (int j = 0; j < Elems; j++)
                fd.v[j] = fmaf(-expf(fy.v[j]), s, fd.v[j]);
        } else {
            float dot = 0.0f;
#pragma unroll
            for (int j = 0; j < Elems; j++)
                dot += fy.v[j] * fd.v[j];
            dot = group_reduce<Lanes>(dot, Sum{});
#pragma unroll
            for (int j = 0; j < Elems; j++)
                fd.v[j] = __fmul_rn(fy.v[j], __fsub_rn(fd.v[j], dot));
        }
        fd.store(dx + r * cols, n, lane);
    });
}

template <bool Vec>
__global__ void __launch_bounds__(kRowBlock)
    softmax_backward_block(const float *y, const float *dy, float *dx, int64_t rows,
                           int64_t cols, int use_log) {
    constexpr int W = Vec ? 4 : 1;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) { // block-uniform
        const float *yr = y + r * cols, *dyr = dy + r * cols;
        double acc = 0.0; // sum(dy) or sum(dy y)
        for_chunks<Vec>(cols, [&](int64_t c) {
            float vy[W], vd[W];
            load_w<W>(yr, c, vy);
            load_w<W>(dyr, c, vd);
            float t = 0.0f;
#pragma unroll
            for (int k = 0; k < W; k++)
                t += use_log ? vd[k] : vy[k] * vd[k];
            acc += t;
        });
        const float s = (float)block_sum(acc);
        for_chunks<Vec>(cols, [&](int64_t c) {
            float vy[W], vd[W];
            load_w<W>(yr, c, vy);
            load_w<W>(dyr, c, vd);
#pragma unroll
            for (int k = 0; k < W; k++)
                vd[k] = use_log ? fmaf(-expf(vy[k]), s, vd[k])
                            : __fmul_rn(vy[k], __fsub_rn(vd[k], s));
            store_w<W>(dx + r * cols, c, vd);
        });
    }
}

} // namespace

extern "C" ax_status ax_cuda_softmax_forward(ax_ctx *ctx, int log, const float *x, float *y,
                                             int64_t rows, int64_t cols) {
    if (rows <= 0 || cols <= 0)
        return AX_OK;
    const bool vec = aligned16(x) && aligned16(y) && cols % 4 == 0;
    cudaStream_t stream = ax_stream(ctx);
    if (cols <= kMaxWarpCols) {
        const unsigned blocks =
            warp_path_blocks(rows, cols, ax_cuda_blocks(ctx, rows * 32, kThreads));
        with_warp_shape(cols, vec, [&](auto shape) {
            using S = decltype(shape);
            softmax_forward_warp<S::lanes, S::elems, S::vec>
                <<<blocks, kThreads, 0, stream>>>(x, y, rows, cols, log);
        });
        return AX_CUDA_LAUNCHED("softmax_forward_warp");
    }
    const unsigned blocks = block_path_blocks(rows, resident_blocks(ctx, kRowBlock));
    if (vec)
        softmax_forward_block<true><<<blocks, kRowBlock, 0, stream>>>(x, y, rows, cols, log);
    else
        softmax_forward_block<false><<<blocks, kRowBlock, 0, stream>>>(x, y, rows, cols, log);
    return AX_CUDA_LAUNCHED("softmax_forward_block");
}

extern "C" ax_status ax_cuda_softmax_backward(ax_ctx *ctx, int log, const float *y,
                                              const float *dy, float *dx, int64_t rows,
                                              int64_t cols) {
    if (rows <= 0 || cols <= 0)
        return AX_OK;
    const bool vec = aligned16(y) && aligned16(dy) && aligned16(dx) && cols % 4 == 0;
    cudaStream_t stream = ax_stream(ctx);
    if (cols <= kMaxWarpCols) {
        const unsigned blocks =
            warp_path_blocks(rows, cols, ax_cuda_blocks(ctx, rows * 32, kThreads));
        with_warp_shape(cols, vec, [&](auto shape) {
            using S = decltype(shape);
            softmax_backward_warp<S::lanes, S::elems, S::vec>
                <<<blocks, kThreads, 0, stream>>>(y, dy, dx, rows, cols, log);
        });
        return AX_CUDA_LAUNCHED("softmax_backward_warp");
    }
    const unsigned blocks = block_path_blocks(rows, resident_blocks(ctx, kRowBlock));
    if (vec)
        softmax_backward_block<true>
            <<<blocks, kRowBlock, 0, stream>>>(y, dy, dx, rows, cols, log);
    else
        softmax_backward_block<false>
            <<<blocks, kRowBlock, 0, stream>>>(y, dy, dx, rows, cols, log);
    return AX_CUDA_LAUNCHED("softmax_backward_block");
}
