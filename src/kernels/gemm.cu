// SGEMM: hand-written FP32 SIMT kernels (FFMA, no tensor cores, no cuBLAS).
//
//     C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b]        for b < batch, row-major
//
//     op(A) is [m, k]: A[i * lda + p], or A[p * lda + i] when trans_a (A stored [k, m])
//     op(B) is [k, n]: B[p * ldb + j], or B[j * ldb + p] when trans_b (B stored [n, k])
//     A[b] = a + b * stride_a (likewise B, C); a stride of 0 shares the operand.
//
// One kernel template, three block-tile shapes, all with 256 threads (8 warps):
//
//     shape    block tile     k-tile  thread tile          fragment reads from smem
//     large    128 x 128      8       8 x 8 (2x2 of 4x4)   float4
//     medium    64 x  64      16      4 x 4                float4
//     small     32 x  32      32      2 x 2                float2
//
// Every shape has (tile x k-tile) = 1024 floats per operand per k-tile, so each thread moves
// exactly one float4 of A and one of B per k-tile. Shared memory holds both operands as
// [k][m] and [k][n] (m or n contiguous, rows padded by 4 floats), double-buffered: while the
// block multiplies k-tile t out of one buffer, each thread has already issued the global
// loads of k-tile t + 1 into registers and stores them into the other buffer afterwards, so
// one __syncthreads per k-tile suffices.
//
// Transposes are template flags of the loader: an operand whose k dimension is contiguous in
// memory (A not transposed, B transposed) is read 4 k-values at a time and written to shared
// memory transposed (4 scalar stores, conflict-free for the large tile thanks to the padding);
// an operand whose m (or n) dimension is contiguous is read and stored as one float4.
//
// 16-byte global loads (and C's 16-byte loads/stores) are used only where the run-time checks
// allow them: base pointer 16-byte aligned, leading dimension and batch stride multiples of 4,
// and the 4 values inside the matrix. Everything else falls back to guarded scalar accesses,
// so any m, n, k >= 1 (up to 2^31 - 1025) and any leading dimension work. Values outside the
// matrix read as 0.
//
// The launcher picks the tile shape from a small cost model (waves of blocks over the SMs,
// weighted by each shape's per-SM efficiency), so small and skinny products still spread
// over the GPU. The grid is x: n-tiles, y: m-tiles, z: batch; y and z are split into several
// launches when they exceed 65535. alpha == 0 does not read A or B (C = beta C, as in BLAS),
// and beta == 0 never reads C.
#include <stdint.h>

#include "../host/cuda/cuda_internal.h"
#include "kernels.h"

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxGridYZ = 65535;
// m, n and k up to this keep every in-kernel index (which may run a tile past the end) in int.
constexpr int kMaxDim = INT32_MAX - 1024;

// ---------------------------------------------------------------- tile shapes

template <int kTile, int kBK, int kVec, int kRep, int kMinBlocksPerSM> struct TileShape {
    static constexpr int BM = kTile; // block tile rows (m)
    static constexpr int BN = kTile; // block tile columns (n)
    static constexpr int BK = kBK;   // k-tile depth
    static constexpr int VEC = kVec; // floats per fragment read from shared memory
    static constexpr int REP = kRep; // fragments per thread along m and along n
    static constexpr int TM = kVec * kRep; // thread tile rows
    static constexpr int TN = kVec * kRep; // thread tile columns
    static constexpr int MIN_BLOCKS = kMinBlocksPerSM;

    // 8 warps as 4 (m) x 2 (n); 32 lanes of a warp as 4 (m) x 8 (n).
    static constexpr int WARPS_M = 4, WARPS_N = 2;
    static constexpr int LANES_M = 4, LANES_N = 8;
    static constexpr int WM = BM / WARPS_M; // warp tile rows
    static constexpr int WN = BN / WARPS_N; // warp tile columns
    // A thread's fragments lie SUB_M rows (SUB_N columns) apart inside its warp tile.
    static constexpr int SUB_M = LANES_M * VEC;
    static constexpr int SUB_N = LANES_N * VEC;
    // Shared-memory row length: the tile plus 4 floats of padding (keeps 16-byte alignment).
    static constexpr int LDS = kTile + 4;

    static_assert(WARPS_M * WARPS_N * 32 == kThreads, "8 warps");
    static_assert(BM * BK == 4 * kThreads && BN * BK == 4 * kThreads,
                  "one float4 per thread per operand per k-tile");
    static_assert(WM == REP * SUB_M && WN == REP * SUB_N, "thread tiles cover the warp tile");
    static_assert(BK % 4 == 0 && kTile % 4 == 0, "float4 loads");
    static_assert(VEC == 2 || VEC == 4, "fragment width");
};

using LargeTile = TileShape<128, 8, 4, 2, 2>; // <= 128 registers: 2 blocks per SM
using MediumTile = TileShape<64, 16, 4, 1, 2>;
using SmallTile = TileShape<32, 32, 2, 1, 2>;

// ---------------------------------------------------------------- kernel arguments

// m, n, k fit in int (the launcher checks), so in-kernel indices are 32-bit; element offsets
// (row * ld, batch * stride) are 64-bit.
struct GemmParams {
    int m, n, k;
    float alpha, beta;
    const float *a;
    int64_t lda, stride_a;
    const float *b;
    int64_t ldb, stride_b;
    float *c;
    int64_t ldc, stride_c;
    bool vec_a, vec_b, vec_c; // 16-byte accesses allowed (alignment checked by the launcher)
};

// ---------------------------------------------------------------- global -> shared loader

// Moves one operand's k-tiles (kBK values of k times kTile values of m or n), one after
// another, from global memory into shared buffers laid out [k][mn] with row length kLds.
// For each k-tile, each thread moves the 4 consecutive floats of the operand's contiguous
// dimension that start at:
//
//   kKContig  (A not transposed, B transposed): element (mn, k) is src[mn * ld + k];
//             thread t takes mn = t / (kBK/4), k = 4 (t % (kBK/4)) .. + 3, and stores them
//             transposed into S[k + c][mn].
//   !kKContig (A transposed, B not transposed): element (mn, k) is src[k * ld + mn];
//             thread t takes k = t / (kTile/4), mn = 4 (t % (kTile/4)) .. + 3, and stores
//             them as one float4 into S[k][mn .. mn + 3].
//
// (mn and k relative to the tile.) Elements with mn >= mn_extent or k >= k_extent read as 0.
template <int kTile, int kBK, int kLds, bool kKContig> struct TileLoader {
    const float *ptr; // this thread's first element of the next k-tile
    int64_t step;     // elements from one k-tile to the next
    int mn_left;      // mn_extent minus this thread's global mn (<= 0: outside the matrix)
    int k;            // this thread's global k in the next k-tile
    int k_extent;
    int smem_at;      // this thread's first element in the shared buffer
    bool vec;

    __device__ TileLoader(const float *src, int64_t ld, int tile_start, int mn_extent,
                          int k_extent_, bool vec_, int tid)
        : k_extent(k_extent_), vec(vec_) {
        int tile_mn, tile_k;
        if constexpr (kKContig) {
            tile_mn = tid / (kBK / 4);
            tile_k = 4 * (tid % (kBK / 4));
        } else {
            tile_k = tid / (kTile / 4);
            tile_mn = 4 * (tid % (kTile / 4));
        }
        const int mn = tile_start + tile_mn;
        mn_left = mn_extent - mn;
        k = tile_k;
        smem_at = tile_k * kLds + tile_mn;
        if constexpr (kKContig) {
            ptr = mn_left > 0 ? src + mn * ld + tile_k : src; // a row outside is never read
            step = kBK;
        } else {
            ptr = src + tile_k * ld + mn;
            step = kBK * ld;
        }
    }

    // The 4 values of the next k-tile; moves on to the one after.
    __device__ float4 fetch() {
        float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
        if constexpr (kKContig) { // 4 values along k
            if (mn_left > 0) {
                if (vec && k + 3 < k_extent) {
                    v = __ldg(reinterpret_cast<const float4 *>(ptr));
                } else {
                    if (k < k_extent)
                        v.x = __ldg(ptr);
                    if (k + 1 < k_extent)
                        v.y = __ldg(ptr + 1);
                    if (k + 2 < k_extent)
                        v.z = __ldg(ptr + 2);
                    if (k + 3 < k_extent)
                        v.w = __ldg(ptr + 3);
                }
            }
        } else { // 4 values along mn
            if (k < k_extent) {
                if (vec && mn_left >= 4) {
                    v = __ldg(reinterpret_cast<const float4 *>(ptr));
                } else {
                    if (mn_left > 0)
                        v.x = __ldg(ptr);
                    if (mn_left > 1)
                        v.y = __ldg(ptr + 1);
                    if (mn_left > 2)
                        v.z = __ldg(ptr + 2);
                    if (mn_left > 3)
                        v.w = __ldg(ptr + 3);
                }
            }
        }
        ptr += step;
        k += kBK;
        return v;
    }

    // Write what fetch returned into the shared buffer S ([kBK][kLds]).
    __device__ void store(float *S, float4 v) const {
        if constexpr (kKContig) {
            S[smem_at + 0 * kLds] = v.x;
            S[smem_at + 1 * kLds] = v.y;
            S[smem_at + 2 * kLds] = v.z;
            S[smem_at + 3 * kLds] = v.w;
        } else {
            *reinterpret_cast<float4 *>(S + smem_at) = v;
        }
    }
};

// ---------------------------------------------------------------- fragments

// kVec consecutive floats of shared memory (aligned to 4 kVec bytes) into registers.
template <int kVec> __device__ __forceinline__ void load_fragment(const float *s, float *out) {
    if constexpr (kVec == 4) {
        const float4 v = *reinterpret_cast<const float4 *>(s);
        out[0] = v.x;
        out[1] = v.y;
        out[2] = v.z;
        out[3] = v.w;
    } else {
        const float2 v = *reinterpret_cast<const float2 *>(s);
        out[0] = v.x;
        out[1] = v.y;
    }
}

// c_row[col + j] = alpha acc[j] + beta c_row[col + j] for j < kVec and col + j < n;
// beta == 0 does not read C. vec: c_row + col may be accessed with one kVec-wide access
// when all kVec columns are inside (the launcher checked 16-byte alignment of C, ldc and
// stride_c, and col is a multiple of kVec).
template <int kVec>
__device__ __forceinline__ void store_fragment(float *c_row, int col, int n,
                                               const float *acc, float alpha, float beta,
                                               bool vec) {
    if (vec && col + kVec <= n) {
        if constexpr (kVec == 4) {
            float4 *p = reinterpret_cast<float4 *>(c_row + col);
            float4 out = make_float4(alpha * acc[0], alpha * acc[1], alpha * acc[2],
                                     alpha * acc[3]);
            if (beta != 0.f) {
                const float4 old = *p;
                out.x += beta * old.x;
                out.y += beta * old.y;
                out.z += beta * old.z;
                out.w += beta * old.w;
            }
            *p = out;
        } else {
            float2 *p = reinterpret_cast<float2 *>(c_row + col);
            float2 out = make_float2(alpha * acc[0], alpha * acc[1]);
            if (beta != 0.f) {
                const float2 old = *p;
                out.x += beta * old.x;
                out.y += beta * old.y;
            }
            *p = out;
        }
    } else {
#pragma unroll
        for (int j = 0; j < kVec; ++j) {
            if (col + j < n) {
                float out = alpha * acc[j];
                if (beta != 0.f)
                    out += beta * c_row[col + j];
                c_row[col + j] = out;
            }
        }
    }
}

// ---------------------------------------------------------------- the kernel

// Block (blockIdx.x, blockIdx.y, blockIdx.z) computes the Shape::BM x Shape::BN tile of
// C[blockIdx.z] at rows blockIdx.y * BM, columns blockIdx.x * BN.
// Thread (warp w, lane l) owns rows    w / 2 * WM + l / 8 * VEC + r * SUB_M + i
//                        and columns  w % 2 * WN + l % 8 * VEC + s * SUB_N + j
// for r, s < REP and i, j < VEC.
template <class Shape, bool kAKContig, bool kBKContig>
__global__ void __launch_bounds__(kThreads, Shape::MIN_BLOCKS) gemm_kernel(GemmParams p) {
    constexpr int BK = Shape::BK, LDS = Shape::LDS;
    constexpr int VEC = Shape::VEC, REP = Shape::REP, TM = Shape::TM, TN = Shape::TN;
    __shared__ __align__(16) float a_smem[2][BK * LDS]; // [buffer][k][m]
    __shared__ __align__(16) float b_smem[2][BK * LDS]; // [buffer][k][n]

    const int tid = threadIdx.x;
    const int64_t batch = blockIdx.z;
    const int tile_m = blockIdx.y * Shape::BM; // < m + BM: fits in int (launcher)
    const int tile_n = blockIdx.x * Shape::BN;
    const float *a = p.a + batch * p.stride_a;
    const float *b = p.b + batch * p.stride_b;
    float *c = p.c + batch * p.stride_c;

    TileLoader<Shape::BM, BK, LDS, kAKContig> a_loader(a, p.lda, tile_m, p.m, p.k, p.vec_a,
                                                       tid);
    TileLoader<Shape::BN, BK, LDS, kBKContig> b_loader(b, p.ldb, tile_n, p.n, p.k, p.vec_b,
                                                       tid);

    const int warp = tid / 32, lane = tid % 32;
    const int frag_m = (warp / Shape::WARPS_N) * Shape::WM + (lane / Shape::LANES_N) * VEC;
    const int frag_n = (warp % Shape::WARPS_N) * Shape::WN + (lane % Shape::LANES_N) * VEC;

    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j)
            acc[i][j] = 0.f;

    // k-tile 0 into buffer 0
    a_loader.store(a_smem[0], a_loader.fetch());
    b_loader.store(b_smem[0], b_loader.fetch());
    __syncthreads();

    const int k_tiles = (p.k + BK - 1) / BK;
    int buf = 0;
    for (int t = 0; t < k_tiles; ++t) {
        // Issue the global loads of k-tile t + 1 now; they land while we compute on t.
        const bool has_next = t + 1 < k_tiles;
        float4 a_next = make_float4(0.f, 0.f, 0.f, 0.f), b_next = a_next;
        if (has_next) {
            a_next = a_loader.fetch();
            b_next = b_loader.fetch();
        }

        const float *a_tile = a_smem[buf];
        const float *b_tile = b_smem[buf];
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
            float a_frag[TM], b_frag[TN];
#pragma unroll
            for (int r = 0; r < REP; ++r) {
                load_fragment<VEC>(a_tile + kk * LDS + frag_m + r * Shape::SUB_M,
                                   a_frag + r * VEC);
                load_fragment<VEC>(b_tile + kk * LDS + frag_n + r * Shape::SUB_N,
                                   b_frag + r * VEC);
            }
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TN; ++j)
                    acc[i][j] = fmaf(a_frag[i], b_frag[j], acc[i][j]);
        }

        // Buffer buf ^ 1 was last read in iteration t - 1, which every thread finished
        // before the barrier that ended it; this barrier publishes the stores for t + 1.
        if (has_next) {
            a_loader.store(a_smem[buf ^ 1], a_next);
            b_loader.store(b_smem[buf ^ 1], b_next);
        }
        __syncthreads();
        buf ^= 1;
    }

    // Epilogue: C = alpha acc + beta C, rows and columns guarded.
    const float alpha = p.alpha, beta = p.beta;
#pragma unroll
    for (int i = 0; i < TM; ++i) {
        const int row = tile_m + frag_m + (i / VEC) * Shape::SUB_M + (i % VEC);
        if (row >= p.m)
            continue;
        float *c_row = c + (int64_t)row * p.ldc;
#pragma unroll
        for (int s = 0; s < REP; ++s) {
            const int col = tile_n + frag_n + s * Shape::SUB_N;
            store_fragment<VEC>(c_row, col, p.n, &acc[i][s * VEC], alpha, beta, p.vec_c);
        }
    }
}

// C = beta C (alpha == 0: A and B are not read); beta == 0 writes zeros without reading C.
__global__ void scale_c_kernel(float *c, int64_t m, int64_t n, int64_t ldc, int64_t stride_c,
                               int64_t batch, float beta) {
    const int64_t total = batch * m * n;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t j = e % n, i = (e / n) % m, b = e / (m * n);
        float *at = c + b * stride_c + i * ldc + j;
        *at = beta == 0.f ? 0.f : beta * *at;
    }
}

// ---------------------------------------------------------------- launch

bool aligned16(const void *ptr) { return ((uintptr_t)ptr & 15u) == 0; }

// 16-byte accesses to every batch entry and every row are aligned.
bool vector_ok(const void *ptr, int64_t ld, int64_t stride, int64_t batch) {
    return aligned16(ptr) && ld % 4 == 0 && (batch == 1 || stride % 4 == 0);
}

template <class Shape, bool kAKContig, bool kBKContig>
ax_status launch_shape(ax_ctx *ctx, const GemmParams &p, int64_t batch, int trans_a) {
    const int64_t tiles_m = ((int64_t)p.m + Shape::BM - 1) / Shape::BM;
    const int64_t tiles_n = ((int64_t)p.n + Shape::BN - 1) / Shape::BN;
    for (int64_t b0 = 0; b0 < batch; b0 += kMaxGridYZ) {
        const int64_t nb = batch - b0 < kMaxGridYZ ? batch - b0 : kMaxGridYZ;
        for (int64_t t0 = 0; t0 < tiles_m; t0 += kMaxGridYZ) {
            const int64_t nt = tiles_m - t0 < kMaxGridYZ ? tiles_m - t0 : kMaxGridYZ;
            const int64_t row0 = t0 * Shape::BM; // a multiple of 4: alignment is kept
            GemmParams q = p;
            q.m = p.m - (int)row0;
            q.a = p.a + b0 * p.stride_a + (trans_a ? row0 : row0 * p.lda);
            q.b = p.b + b0 * p.stride_b;
            q.c = p.c + b0 * p.stride_c + row0 * p.ldc;
            const dim3 grid((unsigned)tiles_n, (unsigned)nt, (unsigned)nb);
            gemm_kernel<Shape, kAKContig, kBKContig><<<grid, kThreads, 0, ax_stream(ctx)>>>(q);
            AX_TRY(ax_cuda_status(cudaGetLastError(), "ax_cuda_gemm", "launch of gemm_kernel"));
        }
    }
    return AX_OK;
}

template <class Shape>
ax_status launch_transposes(ax_ctx *ctx, const GemmParams &p, int64_t batch, int trans_a,
                            int trans_b) {
    // A's k is contiguous when A is not transposed; B's k is contiguous when B is.
    if (!trans_a && !trans_b)
        return launch_shape<Shape, true, false>(ctx, p, batch, trans_a);
    if (!trans_a && trans_b)
        return launch_shape<Shape, true, true>(ctx, p, batch, trans_a);
    if (trans_a && !trans_b)
        return launch_shape<Shape, false, false>(ctx, p, batch, trans_a);
    return launch_shape<Shape, false, true>(ctx, p, batch, trans_a);
}

// Relative time of a tile shape: the blocks an SM runs one after another (ceil(blocks/SMs))
// times the work of one block over the shape's per-SM efficiency relative to the large
// tile (smaller thread tiles reuse each shared-memory read for fewer FFMAs). The
// efficiencies are estimates; bench/bench_gemm shows the effect of the choice.
double shape_cost(int64_t m, int64_t n, int64_t batch, int tile, double efficiency, int sms) {
    const int64_t blocks = ((m + tile - 1) / tile) * ((n + tile - 1) / tile) * batch;
    const int64_t rounds = (blocks + sms - 1) / sms;
    return (double)rounds * tile * tile / efficiency;
}

enum class Choice { Large, Medium, Small };

Choice choose_shape(const ax_ctx *ctx, int64_t m, int64_t n, int64_t batch) {
    const int sms = ctx->info.multiprocessors > 0 ? ctx->info.multiprocessors : 1;
    const double large = shape_cost(m, n, batch, LargeTile::BM, 1.0, sms);
    const double medium = shape_cost(m, n, batch, MediumTile::BM, 0.6, sms);
    const double small = shape_cost(m, n, batch, SmallTile::BM, 0.3, sms);
    if (large <= medium && large <= small)
        return Choice::Large;
    return medium <= small ? Choice::Medium : Choice::Small;
}

} // namespace

extern "C" ax_status ax_cuda_gemm(ax_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n,
                                  int64_t k, float alpha, const float *a, int64_t lda,
                                  int64_t stride_a, const float *b, int64_t ldb,
                                  int64_t stride_b, float beta, float *c, int64_t ldc,
                                  int64_t stride_c, int64_t batch) {
    if (m <= 0 || n <= 0 || batch <= 0)
        return AX_OK;
    if (m > kMaxDim || n > kMaxDim || k > kMaxDim)
        return ax_fail(AX_ERR_UNSUPPORTED, "ax_cuda_gemm",
                       "m = %lld, n = %lld, k = %lld: the CUDA GEMM takes dimensions up to %d",
                       (long long)m, (long long)n, (long long)k, kMaxDim);
    if (alpha == 0.f || k <= 0) {
        scale_c_kernel<<<ax_cuda_blocks(ctx, batch * m * n, kThreads), kThreads, 0,
                         ax_stream(ctx)>>>(c, m, n, ldc, stride_c, batch, beta);
        return AX_CUDA_LAUNCHED("scale_c_kernel");
    }

    GemmParams p;
    p.m = (int)m;
    p.n = (int)n;
    p.k = (int)k;
    p.alpha = alpha;
    p.beta = beta;
    p.a = a;
    p.lda = lda;
    p.stride_a = stride_a;
    p.b = b;
    p.ldb = ldb;
    p.stride_b = stride_b;
    p.c = c;
    p.ldc = ldc;
    p.stride_c = stride_c;
    p.vec_a = vector_ok(a, lda, stride_a, batch);
    p.vec_b = vector_ok(b, ldb, stride_b, batch);
    p.vec_c = vector_ok(c, ldc, stride_c, batch);

    switch (choose_shape(ctx, m, n, batch)) {
    case Choice::Large:
        return launch_transposes<LargeTile>(ctx, p, batch, trans_a, trans_b);
    case Choice::Medium:
        return launch_transposes<MediumTile>(ctx, p, batch, trans_a, trans_b);
    case Choice::Small:
    default:
        return launch_transposes<SmallTile>(ctx, p, batch, trans_a, trans_b);
    }
}
