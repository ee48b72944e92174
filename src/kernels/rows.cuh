// Row-wise helpers of softmax (softmax.cu) and cross-entropy (loss.cu): rows of `cols`
// floats, max-subtracted, two paths chosen by the row length.
//
// Warp path (cols <= kMaxWarpCols): a group of Lanes lanes (1, 8 or 32) per row holds the whole
// row in registers (RowFrag), so the row is read from memory once and every reduction is a
// butterfly inside the group. With 16-byte aligned rows (base aligned, cols % 4 == 0) each lane
// loads float4 chunks; otherwise single floats, coalesced across the group.
//
// Block path (longer rows): one block of kRowBlock threads per row, a pass per reduction
// (max, sum) and one to write; the later passes read the row again, mostly from L2.
#ifndef AX_KERNELS_ROWS_CUH
#define AX_KERNELS_ROWS_CUH

#include <math.h>

#include "common.cuh"

namespace {

constexpr int64_t kMaxWarpCols = 1024;
constexpr int kRowBlock = 512;

// The part of a row that lane `lane` of a group of Lanes holds, Elems floats:
// Vec: float4 chunk q at column (q Lanes + lane) 4; scalar: element j at column j Lanes + lane.
// Columns >= n are not read and hold `fill`.
template <int Lanes, int Elems, bool Vec> struct RowFrag {
    static_assert(!Vec || Elems % 4 == 0, "float4 chunks");
    float v[Elems];

    __device__ __forceinline__ static int64_t col(int j, int lane) {
        return Vec ? ((int64_t)(j / 4) * Lanes + lane) * 4 + j % 4 : (int64_t)j * Lanes + lane;
    }

    __device__ __forceinline__ void load(const float *row, int64_t n, int lane, float fill) {
        if constexpr (Vec) {
#pragma unroll
            for (int q = 0; q < Elems / 4; q++) {
                const int64_t c = col(4 * q, lane);
                float t[4] = {fill, fill, fill, fill};
                if (c < n)
                    load_w<4>(row, c, t);
#pragma unroll
                for (int k = 0; k < 4; k++)
                    v[4 * q + k] = t[k];
            }
        } else {
#pragma unroll
            for (int j = 0; j < Elems; j++) {
                const int64_t c = col(j, lane);
                v[j] = c < n ? row[c] : fill;
            }
        }
    }

    __device__ __forceinline__ void store(float *row, int64_t n, int lane) const {
        if constexpr (Vec) {
#pragma unroll
            for (int q = 0; q < Elems / 4; q++) {
                const int64_t c = col(4 * q, lane);
                const float t[4] = {v[4 * q], v[4 * q + 1], v[4 * q + 2], v[4 * q + 3]};
                if (c < n)
                    store_w<4>(row, c, t);
            }
        } else {
#pragma unroll
            for (int j = 0; j < Elems; j++) {
                const int64_t c = col(j, lane);
                if (c < n)
                    row[c] = v[j];
            }
        }
    }

    // max over the row (fill -inf)
    __device__ __forceinline__ float row_max() const {
        float m = -INFINITY;
#pragma unroll
        for (int j = 0; j < Elems; j++)
            m = fmaxf(m, v[j]);
        return group_reduce<Lanes>(m, Max{});
    }

    // sum of e^(v - m) over the row (fill -inf gives 0)
    __device__ __forceinline__ float row_sum_exp(float m) const {
        float s = 0.0f;
#pragma unroll
        for (int j = 0; j < Elems; j++)
            s += expf(v[j] - m);
        return group_reduce<Lanes>(s, Sum{});
    }

    // sum over the row (fill 0)
    __device__ __forceinline__ float row_sum() const {
        float s = 0.0f;
#pragma unroll
        for (int j = 0; j < Elems; j++)
            s += v[j];
        return group_reduce<Lanes>(s, Sum{});
    }
};

// Rows of the warp path: for each row r of this block's share (a block-uniform loop),
// body(r, n, lane) with n = cols for a real row, and r = 0, n = 0 (nothing read or written)
// past the last row, so that every lane of the warp reaches the group reductions together.
template <int Lanes, class Body>
__device__ __forceinline__ void for_warp_rows(int64_t rows, int64_t cols, Body body) {
    constexpr int64_t per_block = kThreads / Lanes;
    const int lane = threadIdx.x % Lanes;
    for (int64_t base = blockIdx.x * per_block; base < rows;
         base += (int64_t)gridDim.x * per_block) {
        const int64_t r = base + threadIdx.x / Lanes;
        const bool real = r < rows;
        body(real ? r : 0, real ? cols : 0, lane);
    }
}

// A warp-path shape as a type, for the launchers: kernel<S::lanes, S::elems, S::vec>.
template <int Lanes, int Elems, bool Vec> struct WarpShape {
    static constexpr int lanes = Lanes, elems = Elems;
    static constexpr bool vec = Vec;
};

template <int Lanes, int Elems, class F> void pick_vec(bool vec, F &f) {
    if (vec)
        f(WarpShape<Lanes, Elems, true>{});
    else
        f(WarpShape<Lanes, Elems, false>{});
}

// Calls f(WarpShape<...>{}) with the warp-path shape for cols <= kMaxWarpCols: the fewest
// lanes and registers that hold a row.

template <class F> void with_warp_shape(int64_t cols, bool vec, F &&f) {
    if (cols <= 4)
        pick_vec<1, 4>(vec, f);
    else if (cols <= 32)
        pick_vec<8, 4>(vec, f);
    else if (cols <= 128)
        pick_vec<32, 4>(vec, f);
    else if (cols <= 256)
        pick_vec<32, 8>(vec, f);
    else if (cols <= 512)
        pick_vec<32, 16>(vec, f);
    else
        pick_vec<32, 32>(vec, f);
}

// Blocks for the warp path: enough groups for the rows, at most `cap`.
inline unsigned warp_path_blocks(int64_t rows, int64_t cols, unsigned cap) {
    const int lanes = cols <= 4 ? 1 : cols <= 32 ? 8 : 32;
    return min_blocks(cap, (rows + kThreads / lanes - 1) / (kThreads / lanes));
}

// ---------------------------------------------------------------- block path

// f(c) for each chunk of W = Vec ? 4 : 1 columns of a row that this thread owns.
template <bool Vec, class F> __device__ __forceinline__ void for_chunks(int64_t cols, F f) {
    constexpr int W = Vec ? 4 : 1;
    for (int64_t c = (int64_t)threadIdx.x * W; c < cols; c += (int64_t)blockDim.x * W)
        f(c);
}

// max of a row, valid in every thread of the block
template <bool Vec> __device__ float block_row_max(const float *row, int64_t cols) {
    constexpr int W = Vec ? 4 : 1;
    float m = -INFINITY;
    for_chunks<Vec>(cols, [&](int64_t c) {
        float v[W];
        load_w<W>(row, c, v);
#pragma unroll
        for (int k = 0; k < W; k++)
            m = fmaxf(m, v[k]);
    });
    return block_reduce(m, Max{}, -INFINITY);
}

// sum of e^(x - m) over a row (double accumulation: rows may be very long)
template <bool Vec> __device__ float block_row_sum_exp(const float *row, int64_t cols, float m) {
    constexpr int W = Vec ? 4 : 1;
    double s = 0.0;
    for_chunks<Vec>(cols, [&](int64_t c) {
        float v[W];
        load_w<W>(row, c, v);
        float t = 0.0f;
#pragma unroll
        for (int k = 0; k < W; k++)
            t += expf(v[k] - m);
        s += t;
    });
    return (float)block_sum(s);
}

// Blocks for the block path: one row each, at most `cap`.
inline unsigned block_path_blocks(int64_t rows, unsigned cap) { return min_blocks(cap, rows); }

} // namespace

#endif
