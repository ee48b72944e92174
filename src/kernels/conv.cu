// 2-D convolution: hand-written implicit-GEMM kernels (FP32 FFMA, no im2col buffer in global
// memory) for forward, backward-data and backward-filter. NCHW, w [K, C/G, R, S], groups G.
//
// Each pass is a GEMM  out[m, n] = sum_q A[m, q] B[q, n]  per group g, whose operands are
// gathered on the fly from the tensors while a block loads its tiles into shared memory
// (P = OH*OW output pixels, CRS = C/G*R*S, (c, r, s) and (img, i, j) unflattened row-major):
//
//   pass              m           n                q              A[m, q]              B[q, n]
//   forward           k < K/G     (img, i, j)      (c, r, s)      w[gK/G+m, c, r, s]   x[img, gC/G+c, hi, wi]
//   backward-data     c < C/G     (img, hi, wi)    (k, r, s)      w[gK/G+k, m, r, s]   dy[img, gK/G+k, i, j]
//   backward-filter   k < K/G     (c, r, s)        (img, i, j)    dy[img, gK/G+m, i, j] x[img, gC/G+c, hi, wi]
//
// with hi = i*sh - pt + r*dh, wi = j*sw - pl + s*dw; x reads as 0 outside the input, and in
// backward-data dy reads as 0 unless hi + pt - r*dh is a non-negative multiple of sh whose
// quotient is < OH (likewise the width). Outputs: y[img, gK/G+m, i, j] (+ b), dx[img, gC/G+m,
// hi, wi], dw[gK/G+m, n].
//
// One tile kernel for all three, in two block-tile shapes (128 x 128 with 8 x 8 outputs per
// thread, or 64 x 64 with 4 x 4, picked by a small cost model), 256 threads, operands staged
// in double-buffered shared memory as [q][m] and [q][n]. Every gather checks its bounds
// (m < M, n < N, q < Q and the image borders), so any size works; grid x: n-tiles, y:
// m-tiles, z: (group, split).
//
// Backward-filter is deterministic: its reduction over q = N*OH*OW is cut into a fixed number
// of splits chosen on the host from the geometry only; each split's block sums its q range in
// a fixed order into its own slice of scratch, and a second kernel adds the slices in split
// order. No atomics, so two runs give bit-identical dw.
//
// Specialised paths, each described where it is defined, take the geometries they fit
// (choose_algo, at the end, is the one place that picks): 1x1 stride-1 unpadded layers as
// batched SGEMMs (gemm.cu), depthwise layers (groups = C = K) by direct kernels, and 3x3
// stride-1 forwards and backward-datas by Winograd F(2x2, 3x3). All are deterministic.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../host/common/conv_geom.h"
#include "../host/cuda/cuda_internal.h"
#include "kernels.h"

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxGridYZ = 65535;
// Scratch bounds in floats (tests/kernel_emu/emu_conv.cpp sets small ones, so that its small
// geometries reach the chunked code paths): backward-filter partial sums, Winograd's U, V, M.
#ifndef AX_CONV_MAX_PARTIALS
#define AX_CONV_MAX_PARTIALS ((int64_t)1 << 24)
#endif
#ifndef AX_CONV_WINOGRAD_SCRATCH
#define AX_CONV_WINOGRAD_SCRATCH ((int64_t)1 << 26)
#endif
constexpr int64_t kMaxPartials = AX_CONV_MAX_PARTIALS;         // 64 MiB
constexpr int64_t kWinogradScratch = AX_CONV_WINOGRAD_SCRATCH; // 256 MiB

// The geometry as the device reads it (a copy of ax_conv2d_geom).
struct Geom {
    int64_t n, c, h, w, k, r, s, oh, ow, sh, sw, pt, pl, dh, dw, groups, cg, kg;
};

Geom to_geom(const ax_conv2d_geom *g) {
    return Geom{g->n,        g->c,        g->h,       g->w,       g->k,      g->r,
                g->s,        g->oh,       g->ow,      g->stride_h, g->stride_w, g->pad_top,
                g->pad_left, g->dil_h,    g->dil_w,   g->groups,  g->cg,     g->kg};
}

// Each pass describes its GEMM to tile_product by M, N, Q and two gathers. A thread loads
// one row m of A and one column n of B throughout (see tile_product), so the part of the
// address that depends on m alone (a Row) and on n alone (a Col, with the unflattened
// pixel or tap) is computed once per block; a(row, q) and b(col, q) add the part of q.

// forward: A = w_g [K/G, CRS], B = im2col(x_g) [CRS, N*P], out = y
struct Forward {
    Geom g;
    const float *x, *w, *b;
    float *y;
    struct Row {
        const float *w; // w[gK/G + m, :]
    };
    struct Col {
        const float *x;   // x[img, gC/G, :, :]
        int64_t hi0, wi0; // i sh - pt, j sw - pl for pixel (img, i, j)
    };
    __device__ int64_t M() const { return g.kg; }
    __device__ int64_t N() const { return g.n * g.oh * g.ow; }
    __device__ int64_t Q() const { return g.cg * g.r * g.s; }
    __device__ Row row(int64_t grp, int64_t m) const { return Row{w + (grp * g.kg + m) * Q()}; }
    __device__ Col col(int64_t grp, int64_t n) const {
        const int64_t p = g.oh * g.ow, img = n / p, ij = n - img * p, i = ij / g.ow;
        return Col{x + (img * g.c + grp * g.cg) * g.h * g.w, i * g.sh - g.pt,
                   (ij - i * g.ow) * g.sw - g.pl};
    }
    __device__ float a(const Row &rw, int64_t q) const { return rw.w[q]; }
    // x[img, gC/G + c, hi0 + r dh, wi0 + s dw] for tap q = (c, r, s), 0 in the padding
    __device__ float b_(const Col &cl, int64_t q) const {
        const int64_t rs = g.r * g.s, c = q / rs, t = q - c * rs, r = t / g.s;
        const int64_t hi = cl.hi0 + r * g.dh, wi = cl.wi0 + (t - r * g.s) * g.dw;
        if (hi < 0 || hi >= g.h || wi < 0 || wi >= g.w)
            return 0.0f;
        return cl.x[(c * g.h + hi) * g.w + wi];
    }
    __device__ void store(int64_t, int64_t grp, int64_t m, int64_t n, float v) const {
        const int64_t p = g.oh * g.ow, img = n / p, ij = n % p, k = grp * g.kg + m;
        y[(img * g.k + k) * p + ij] = b ? v + b[k] : v;
    }
};

// backward-data: A[c, (k, r, s)] = w, B[(k, r, s), (img, hi, wi)] = dy where it lines up
struct BackwardData {
    Geom g;
    const float *dy, *w;
    float *dx;
    struct Row {
        const float *w; // w[gK/G, m, :, :]; output channel k adds k C/G R S
    };
    struct Col {
        const float *dy;  // dy[img, gK/G, :, :]
        int64_t th0, tw0; // hi + pt, wi + pl for input pixel (img, hi, wi)
    };
    __device__ int64_t M() const { return g.cg; }
    __device__ int64_t N() const { return g.n * g.h * g.w; }
    __device__ int64_t Q() const { return g.kg * g.r * g.s; }
    __device__ Row row(int64_t grp, int64_t m) const {
        return Row{w + (grp * g.kg * g.cg + m) * g.r * g.s};
    }
    __device__ Col col(int64_t grp, int64_t n) const {
        const int64_t hw = g.h * g.w, img = n / hw, t = n - img * hw, hi = t / g.w;
        return Col{dy + (img * g.k + grp * g.kg) * g.oh * g.ow, hi + g.pt,
                   t - hi * g.w + g.pl};
    }
    __device__ float a(const Row &rw, int64_t q) const {
        const int64_t rs = g.r * g.s, k = q / rs;
        return rw.w[k * g.cg * rs + (q - k * rs)];
    }
    // dy[img, gK/G + k, i, j] where i sh = hi + pt - r dh and j sw = wi + pl - s dw have
    // solutions inside the output, for q = (k, r, s); else 0
    __device__ float b_(const Col &cl, int64_t q) const {
        const int64_t rs = g.r * g.s, k = q / rs, t = q - k * rs, r = t / g.s;
        const int64_t th = cl.th0 - r * g.dh, tw = cl.tw0 - (t - r * g.s) * g.dw;
        if (th < 0 || tw < 0 || th % g.sh != 0 || tw % g.sw != 0)
            return 0.0f;
        const int64_t i = th / g.sh, j = tw / g.sw;
        if (i >= g.oh || j >= g.ow)
            return 0.0f;
        return cl.dy[(k * g.oh + i) * g.ow + j];
    }
    __device__ void store(int64_t, int64_t grp, int64_t m, int64_t n, float v) const {
        const int64_t hw = g.h * g.w, img = n / hw;
        dx[(img * g.c + grp * g.cg + m) * hw + n % hw] = v;
    }
};

// backward-filter: A[k, (img, i, j)] = dy, B[(img, i, j), (c, r, s)] = x; each split's sum
// goes to its own dw-sized slice of out
struct BackwardFilter {
    Geom g;
    const float *x, *dy;
    float *out; // splits x [K, CRS]: split z's partial dw at out + z K CRS
    struct Row {
        const float *dy; // dy[0, gK/G + m, :, :]; image img adds img K P
    };
    struct Col {
        const float *x;     // x[0, gC/G + c, :, :]; image img adds img C H W
        int64_t roff, soff; // r dh - pt, s dw - pl for tap (c, r, s)
    };
    __device__ int64_t M() const { return g.kg; }
    __device__ int64_t N() const { return g.cg * g.r * g.s; }
    __device__ int64_t Q() const { return g.n * g.oh * g.ow; }
    __device__ Row row(int64_t grp, int64_t m) const {
        return Row{dy + (grp * g.kg + m) * g.oh * g.ow};
    }
    __device__ Col col(int64_t grp, int64_t n) const {
        const int64_t rs = g.r * g.s, c = n / rs, t = n - c * rs, r = t / g.s;
        return Col{x + (grp * g.cg + c) * g.h * g.w, r * g.dh - g.pt,
                   (t - r * g.s) * g.dw - g.pl};
    }
    __device__ float a(const Row &rw, int64_t q) const {
        const int64_t p = g.oh * g.ow, img = q / p;
        return rw.dy[img * g.k * p + (q - img * p)];
    }
    // x[img, gC/G + c, i sh + roff, j sw + soff] for pixel q = (img, i, j), 0 in the padding
    __device__ float b_(const Col &cl, int64_t q) const {
        const int64_t p = g.oh * g.ow, img = q / p, ij = q - img * p, i = ij / g.ow;
        const int64_t hi = i * g.sh + cl.roff, wi = (ij - i * g.ow) * g.sw + cl.soff;
        if (hi < 0 || hi >= g.h || wi < 0 || wi >= g.w)
            return 0.0f;
        return cl.x[(img * g.c * g.h + hi) * g.w + wi];
    }
    __device__ void store(int64_t split, int64_t grp, int64_t m, int64_t n, float v) const {
        const int64_t crs = N();
        out[split * g.k * crs + (grp * g.kg + m) * crs + n] = v;
    }
};

// Two block-tile shapes of the tile kernel, both with 256 threads as 16 x 16; thread (tx, ty)
// owns rows ty + 16 i (i < TT) and columns tx + 16 j (j < TT) of the block's tile:
//
//     shape     tile        k-tile   thread tile   FFMA per shared-memory load
//     large     128 x 128   8        8 x 8         4
//     medium     64 x  64   16       4 x 4         2
//
// Each thread gathers 4 values of A and 4 of B per k-tile, always in the same row m of A and
// column n of B (so their Row and Col are computed once), at k-rows lq + STEP l. Shared
// memory is double-buffered: the gathers of k-tile t + 1 go into registers before the block
// multiplies k-tile t out of one buffer and are stored into the other after it, so the loads'
// latency hides behind the FFMAs and one barrier per k-tile suffices.
template <int kTile, int kDepth> struct TileShape {
    static constexpr int T = kTile, BK = kDepth, TT = kTile / 16;
    static constexpr int STEP = kThreads / kTile; // k-rows between one thread's gathers
    static_assert(kTile * kDepth == 4 * kThreads && kTile % 16 == 0 && kThreads % kTile == 0,
                  "4 gathers per operand per thread per k-tile");
};
using LargeTile = TileShape<128, 8>;
using MediumTile = TileShape<64, 16>;

// out[m, n] = sum_{q in [q0, q1)} A[m, q] B[q, n] for the block's tile of group grp; sums in
// ascending q, each thread's TT x TT sums in registers (a fixed order: deterministic).
template <class S, class P>
__device__ __forceinline__ void tile_product(const P &p, int64_t grp, int64_t m0, int64_t n0,
                                             int64_t q0, int64_t q1,
                                             float (&acc)[S::TT][S::TT]) {
    __shared__ float as[2][S::BK][S::T + 4]; // [buffer][q][m]
    __shared__ float bs[2][S::BK][S::T + 4]; // [buffer][q][n]
    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    // this thread's row of A and column of B in the tile, and its first k-row
    const int lmn = tid % S::T, lq = tid / S::T;
    const bool m_ok = m0 + lmn < p.M(), n_ok = n0 + lmn < p.N();
    typename P::Row row{};
    typename P::Col col{};
    if (m_ok)
        row = p.row(grp, m0 + lmn);
    if (n_ok)
        col = p.col(grp, n0 + lmn);
#pragma unroll
    for (int i = 0; i < S::TT; i++)
#pragma unroll
        for (int j = 0; j < S::TT; j++)
            acc[i][j] = 0.0f;
    float ra[4], rb[4];
    // the thread's gathers of the k-tile at qt (0 past q1 and outside the matrix) ...
    auto gather = [&](int64_t qt) {
#pragma unroll
        for (int l = 0; l < 4; l++) {
            const int64_t q = qt + lq + S::STEP * l;
            ra[l] = m_ok && q < q1 ? p.a(row, q) : 0.0f;
            rb[l] = n_ok && q < q1 ? p.b_(col, q) : 0.0f;
        }
    };
    // ... and their place in shared buffer buf
    auto put = [&](int buf) {
#pragma unroll
        for (int l = 0; l < 4; l++) {
            as[buf][lq + S::STEP * l][lmn] = ra[l];
            bs[buf][lq + S::STEP * l][lmn] = rb[l];
        }
    };
    gather(q0);
    put(0);
    __syncthreads();
    int buf = 0;
    for (int64_t qt = q0; qt < q1; qt += S::BK) {
        const bool next = qt + S::BK < q1;
        if (next)
            gather(qt + S::BK);
#pragma unroll
        for (int q = 0; q < S::BK; q++) {
            float av[S::TT], bv[S::TT];
#pragma unroll
            for (int i = 0; i < S::TT; i++)
                av[i] = as[buf][q][ty + 16 * i];
#pragma unroll
            for (int j = 0; j < S::TT; j++)
                bv[j] = bs[buf][q][tx + 16 * j];
#pragma unroll
            for (int i = 0; i < S::TT; i++)
#pragma unroll
                for (int j = 0; j < S::TT; j++)
                    acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        // buffer buf ^ 1 was last read in the previous k-tile, which every thread finished
        // before the barrier that ended it; this barrier publishes the stores
        if (next)
            put(buf ^ 1);
        __syncthreads();
        buf ^= 1;
    }
}

// Every pass: grid z = (group - g0) * splits + split; split z sums q in
// [z * per, min(Q, (z + 1) * per)) and stores through p.store (forward and backward-data run
// with one split, per = Q).
template <class S, class P>
__global__ void __launch_bounds__(kThreads, 2) // <= 128 registers: 2 blocks per SM
    conv_gemm_kernel(P p, int64_t g0, int64_t splits, int64_t per) {
    const int64_t grp = g0 + blockIdx.z / splits, split = blockIdx.z % splits;
    const int64_t m0 = (int64_t)blockIdx.y * S::T, n0 = (int64_t)blockIdx.x * S::T;
    const int64_t q0 = split * per, q1 = q0 + per < p.Q() ? q0 + per : p.Q();
    float acc[S::TT][S::TT];
    tile_product<S>(p, grp, m0, n0, q0, q1, acc);
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll
    for (int i = 0; i < S::TT; i++)
#pragma unroll
        for (int j = 0; j < S::TT; j++) {
            const int64_t m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
            if (m < p.M() && n < p.N())
                p.store(split, grp, m, n, acc[i][j]);
        }
}

// dw[e] = sum_{z < splits} part[z * total + e], in ascending z; with add, dw[e] + that sum
// (dw[e] first, then part[0], part[1], ...)
__global__ void split_sum_kernel(const float *part, float *dw, int64_t total, int64_t splits,
                                 bool add) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        float s = add ? dw[e] + part[e] : part[e];
        for (int64_t z = 1; z < splits; z++)
            s += part[z * total + e];
        dw[e] = s;
    }
}

// Queue split_sum_kernel (fn: the launcher that asks).
ax_status split_sum(ax_ctx *ctx, const float *part, float *dw, int64_t total, int64_t splits,
                    bool add, const char *fn) {
    split_sum_kernel<<<ax_cuda_blocks(ctx, total, kThreads), kThreads, 0, ax_stream(ctx)>>>(
        part, dw, total, splits, add);
    return ax_cuda_status(cudaGetLastError(), fn, "launch of split_sum_kernel");
}

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Launch conv_gemm_kernel with tile shape S for an M x N product per group, q cut into
// `splits` ranges of `per`; grid z holds at most 65535 (group, split) pairs per launch.
template <class S, class P>
ax_status launch_gemm(ax_ctx *ctx, const P &p, int64_t m, int64_t n, int64_t groups,
                      int64_t splits, int64_t per, const char *fn) {
    const int64_t mt = cdiv(m, S::T), nt = cdiv(n, S::T);
    if (mt > kMaxGridYZ || nt > INT32_MAX)
        return ax_fail(AX_ERR_UNSUPPORTED, fn,
                       "a GEMM of %lld x %lld per group is beyond the CUDA kernel's grid",
                       (long long)m, (long long)n);
    const int64_t per_launch = kMaxGridYZ / splits;
    for (int64_t g0 = 0; g0 < groups; g0 += per_launch) {
        const int64_t gz = groups - g0 < per_launch ? groups - g0 : per_launch;
        dim3 grid((unsigned)nt, (unsigned)mt, (unsigned)(gz * splits));
        conv_gemm_kernel<S, P><<<grid, kThreads, 0, ax_stream(ctx)>>>(p, g0, splits, per);
        AX_TRY(ax_cuda_status(cudaGetLastError(), fn, "launch of conv_gemm_kernel"));
    }
    return AX_OK;
}

// ---------------------------------------------------------------- generic: implicit GEMM

// The large tile unless the medium one finishes sooner by a simple model (as gemm.cu's): the
// rounds of blocks an SM runs (ceil(blocks / SMs)) times a block's tile area over its shape's
// relative efficiency (FFMA per shared load: large 1, medium 1/2); on a tie, the medium tile
// (less work past the edges). A function of the geometry and the SM count only.
bool large_tile(const ax_ctx *ctx, int64_t m, int64_t n, int64_t blocks_per_tile) {
    const int64_t sms = ctx->info.multiprocessors > 0 ? ctx->info.multiprocessors : 1;
    const int64_t large = cdiv(m, LargeTile::T) * cdiv(n, LargeTile::T) * blocks_per_tile;
    const int64_t medium = cdiv(m, MediumTile::T) * cdiv(n, MediumTile::T) * blocks_per_tile;
    const double cost_large = (double)cdiv(large, sms) * LargeTile::T * LargeTile::T;
    const double cost_medium = (double)cdiv(medium, sms) * MediumTile::T * MediumTile::T * 2.0;
    return cost_large < cost_medium;
}

template <class S>
ax_status generic_forward(ax_ctx *ctx, const ax_conv2d_geom *g, const float *x, const float *w,
                          const float *b, float *y, const char *fn) {
    Forward p{to_geom(g), x, w, b, y};
    const int64_t q = g->cg * g->r * g->s;
    return launch_gemm<S>(ctx, p, g->kg, g->n * g->oh * g->ow, g->groups, 1, q, fn);
}

ax_status generic_forward(ax_ctx *ctx, const ax_conv2d_geom *g, const float *x, const float *w,
                          const float *b, float *y, const char *fn) {
    return large_tile(ctx, g->kg, g->n * g->oh * g->ow, g->groups)
               ? generic_forward<LargeTile>(ctx, g, x, w, b, y, fn)
               : generic_forward<MediumTile>(ctx, g, x, w, b, y, fn);
}

template <class S>
ax_status generic_backward_data(ax_ctx *ctx, const ax_conv2d_geom *g, const float *dy,
                                const float *w, float *dx, const char *fn) {
    BackwardData p{to_geom(g), dy, w, dx};
    const int64_t q = g->kg * g->r * g->s;
    return launch_gemm<S>(ctx, p, g->cg, g->n * g->h * g->w, g->groups, 1, q, fn);
}

ax_status generic_backward_data(ax_ctx *ctx, const ax_conv2d_geom *g, const float *dy,
                                const float *w, float *dx, const char *fn) {
    return large_tile(ctx, g->cg, g->n * g->h * g->w, g->groups)
               ? generic_backward_data<LargeTile>(ctx, g, dy, w, dx, fn)
               : generic_backward_data<MediumTile>(ctx, g, dy, w, dx, fn);
}

// Splits of a deterministic reduction of q terms for `blocks` blocks (tiles or channels) whose
// partial sums take `floats` floats per split: about two waves of blocks over the SMs, each
// split at least min_len terms long, at most 64 splits and at most kMaxPartials floats of
// partial sums (when one split's are fewer). A function of the geometry and the SM count
// only, so the same call on the same device always sums in the same order; no split is
// empty with per = cdiv(q, splits).
int64_t reduction_splits(const ax_ctx *ctx, int64_t blocks, int64_t q, int64_t min_len,
                         int64_t floats) {
    const int64_t sms = ctx->info.multiprocessors > 0 ? ctx->info.multiprocessors : 1;
    int64_t splits = cdiv(2 * sms, blocks);
    if (splits > q / min_len)
        splits = q / min_len;
    if (splits > 64)
        splits = 64;
    if (splits > kMaxPartials / floats)
        splits = kMaxPartials / floats;
    if (splits < 1)
        splits = 1;
    return cdiv(q, cdiv(q, splits));
}

// backward-filter's splits for tile shape S (each at least 512 pixels long)
template <class S> int64_t filter_splits(const ax_ctx *ctx, const ax_conv2d_geom *g) {
    const int64_t n = g->cg * g->r * g->s;
    const int64_t tiles = cdiv(g->kg, S::T) * cdiv(n, S::T) * g->groups;
    return reduction_splits(ctx, tiles, g->n * g->oh * g->ow, 512, g->k * n);
}

template <class S>
ax_status generic_backward_filter(ax_ctx *ctx, const ax_conv2d_geom *g, const float *x,
                                  const float *dy, float *dw, const char *fn) {
    const int64_t m = g->kg, n = g->cg * g->r * g->s, q = g->n * g->oh * g->ow;
    const int64_t total = g->k * n;
    const int64_t splits = filter_splits<S>(ctx, g), per = cdiv(q, splits);
    float *part = dw;
    if (splits > 1)
        AX_TRY(ax_ctx_scratch(ctx, (size_t)(splits * total) * sizeof(float), (void **)&part));
    BackwardFilter p{to_geom(g), x, dy, part};
    AX_TRY(launch_gemm<S>(ctx, p, m, n, g->groups, splits, per, fn));
    if (splits > 1)
        AX_TRY(split_sum(ctx, part, dw, total, splits, false, fn));
    return AX_OK;
}

ax_status generic_backward_filter(ax_ctx *ctx, const ax_conv2d_geom *g, const float *x,
                                  const float *dy, float *dw, const char *fn) {
    const int64_t m = g->kg, n = g->cg * g->r * g->s;
    return large_tile(ctx, m, n, g->groups * filter_splits<LargeTile>(ctx, g))
               ? generic_backward_filter<LargeTile>(ctx, g, x, dy, dw, fn)
               : generic_backward_filter<MediumTile>(ctx, g, x, dy, dw, fn);
}

// ---------------------------------------------------------------- pointwise: 1x1 as SGEMM
//
// r = s = 1, stride 1, no padding, groups 1 (so OH = H, OW = W, P = H W): per image img
//
//   forward           y[img]  [K, P] = w [K, C]   x[img]  [C, P]      (+ b[k] per row)
//   backward-data     dx[img] [C, P] = w^T [C, K] dy[img] [K, P]
//   backward-filter   dw      [K, C] = sum_img dy[img] [K, P] x[img]^T [P, C]
//
// Forward and backward-data are one call of the SGEMM (gemm.cu) batched over the images
// (w shared: stride 0). Backward-filter batches the per-image products into slices of
// scratch, a chunk of images at a time (at most kMaxPartials floats), and adds the slices
// in image order onto dw (split_sum_kernel): a fixed order, no atomics.

// (with a 1x1 kernel at stride 1, OH = H + pt + pb and OW = W + pl + pr: equal sizes mean no
// padding)
bool pointwise_fits(const ax_conv2d_geom *g) {
    return g->r == 1 && g->s == 1 && g->stride_h == 1 && g->stride_w == 1 && g->oh == g->h &&
           g->ow == g->w && g->groups == 1;
}

ax_status pointwise_forward(ax_ctx *ctx, const ax_conv2d_geom *g, const float *x,
                            const float *w, const float *b, float *y) {
    const int64_t p = g->h * g->w;
    AX_TRY(ax_cuda_gemm(ctx, 0, 0, g->k, p, g->c, 1.0f, w, g->c, 0, x, p, g->c * p, 0.0f, y, p,
                        g->k * p, g->n));
    return b ? ax_cuda_bias_add(ctx, y, b, g->n, g->k, p) : AX_OK;
}

ax_status pointwise_backward_data(ax_ctx *ctx, const ax_conv2d_geom *g, const float *dy,
                                  const float *w, float *dx) {
    const int64_t p = g->h * g->w;
    return ax_cuda_gemm(ctx, 1, 0, g->c, p, g->k, 1.0f, w, g->c, 0, dy, p, g->k * p, 0.0f, dx,
                        p, g->c * p, g->n);
}

ax_status pointwise_backward_filter(ax_ctx *ctx, const ax_conv2d_geom *g, const float *x,
                                    const float *dy, float *dw, const char *fn) {
    const int64_t p = g->h * g->w, kc = g->k * g->c;
    int64_t chunk = kMaxPartials / kc; // images per batched call
    if (chunk > g->n)
        chunk = g->n;
    if (chunk < 1)
        chunk = 1;
    float *part = nullptr;
    if (chunk > 1)
        AX_TRY(ax_ctx_scratch(ctx, (size_t)(chunk * kc) * sizeof(float), (void **)&part));
    for (int64_t i0 = 0; i0 < g->n; i0 += chunk) {
        const int64_t cnt = g->n - i0 < chunk ? g->n - i0 : chunk;
        const float *dyi = dy + i0 * g->k * p, *xi = x + i0 * g->c * p;
        if (cnt == 1) { // straight onto dw: dw = (i0 > 0 ? dw : 0) + dy[i0] x[i0]^T
            AX_TRY(ax_cuda_gemm(ctx, 0, 1, g->k, g->c, p, 1.0f, dyi, p, 0, xi, p, 0,
                                i0 > 0 ? 1.0f : 0.0f, dw, g->c, 0, 1));
            continue;
        }
        AX_TRY(ax_cuda_gemm(ctx, 0, 1, g->k, g->c, p, 1.0f, dyi, p, g->k * p, xi, p, g->c * p,
                            0.0f, part, g->c, kc, cnt));
        AX_TRY(split_sum(ctx, part, dw, kc, cnt, i0 > 0, fn));
    }
    return AX_OK;
}

// ---------------------------------------------------------------- depthwise: direct kernels
//
// groups = C = K (one input and one output channel per group): each output is a sum of at
// most R S products, far too short for a GEMM tile, so the kernels are direct.
//
//   forward           y[img, c, i, j]   = b[c] + sum_{r, s} w[c, r, s] x[img, c, hi, wi]
//   backward-data     dx[img, c, hi, wi] = sum_{r, s} w[c, r, s] dy[img, c, i, j]
//                     over the (r, s) with hi + pt - r dh = i sh, wi + pl - s dw = j sw,
//                     0 <= i < OH, 0 <= j < OW
//   backward-filter   dw[c, r, s] = sum_{img, i, j} dy[img, c, i, j] x[img, c, hi, wi]
//
// (hi = i sh - pt + r dh, wi = j sw - pl + s dw; x is 0 outside the input, and taps in the
// padding multiply that 0, so NaN and Inf propagate as in the reference.) Forward and
// backward-data: one thread per output element, sums in ascending (r, s). Backward-filter:
// block (z, c) sums the pixels (img, i, j) of split z of channel c, each thread a strided
// share of them for kTapChunk taps at a time in registers, then a shared-memory tree over the
// threads in a fixed shape; the splits (chosen from the geometry and the SM count) are added
// in split order by split_sum_kernel. No atomics: bit-identical runs.

constexpr int kTapChunk = 8; // taps of a depthwise backward-filter pass held in registers

bool depthwise_fits(const ax_conv2d_geom *g) { return g->cg == 1 && g->kg == 1; }

__global__ void __launch_bounds__(kThreads)
    depthwise_forward_kernel(Geom g, const float *x, const float *w, const float *b, float *y) {
    const int64_t total = g.n * g.k * g.oh * g.ow;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t j = e % g.ow, i = e / g.ow % g.oh, nc = e / (g.oh * g.ow), c = nc % g.c;
        const float *xp = x + nc * g.h * g.w, *wp = w + c * g.r * g.s;
        float acc = 0.0f;
        for (int64_t r = 0; r < g.r; r++) {
            const int64_t hi = i * g.sh - g.pt + r * g.dh;
            const bool h_in = hi >= 0 && hi < g.h;
            for (int64_t s = 0; s < g.s; s++) {
                const int64_t wi = j * g.sw - g.pl + s * g.dw;
                const float v = h_in && wi >= 0 && wi < g.w ? xp[hi * g.w + wi] : 0.0f;
                acc = fmaf(wp[r * g.s + s], v, acc); // padding too: NaN w gives NaN
            }
        }
        y[e] = b ? acc + b[c] : acc;
    }
}

__global__ void __launch_bounds__(kThreads)
    depthwise_backward_data_kernel(Geom g, const float *dy, const float *w, float *dx) {
    const int64_t total = g.n * g.c * g.h * g.w;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t wi = e % g.w, hi = e / g.w % g.h, nc = e / (g.h * g.w), c = nc % g.c;
        const float *dyp = dy + nc * g.oh * g.ow, *wp = w + c * g.r * g.s;
        float acc = 0.0f;
        for (int64_t r = 0; r < g.r; r++) {
            const int64_t th = hi + g.pt - r * g.dh;
            if (th < 0 || th % g.sh != 0 || th / g.sh >= g.oh)
                continue;
            for (int64_t s = 0; s < g.s; s++) {
                const int64_t tw = wi + g.pl - s * g.dw;
                if (tw >= 0 && tw % g.sw == 0 && tw / g.sw < g.ow)
                    acc = fmaf(wp[r * g.s + s], dyp[th / g.sh * g.ow + tw / g.sw], acc);
            }
        }
        dx[e] = acc;
    }
}

// part[(z C + c) R S + t] = sum over the pixels q in [z per, min((z + 1) per, N OH OW)) of
// channel c of dy x for tap t; grid (splits, C), kThreads threads.
__global__ void __launch_bounds__(kThreads)
    depthwise_backward_filter_kernel(Geom g, const float *x, const float *dy, float *part,
                                     int64_t per) {
    __shared__ float red[kTapChunk][kThreads];
    const int64_t c = blockIdx.y, z = blockIdx.x, p = g.oh * g.ow, rs = g.r * g.s;
    const int64_t q0 = z * per, q1 = q0 + per < g.n * p ? q0 + per : g.n * p;
    const int tid = threadIdx.x;
    for (int64_t t0 = 0; t0 < rs; t0 += kTapChunk) {
        float acc[kTapChunk];
#pragma unroll
        for (int t = 0; t < kTapChunk; t++)
            acc[t] = 0.0f;
        for (int64_t q = q0 + tid; q < q1; q += kThreads) {
            const int64_t img = q / p, ij = q - img * p, i = ij / g.ow, j = ij - i * g.ow;
            const float d = dy[(img * g.c + c) * p + ij];
            const float *xp = x + (img * g.c + c) * g.h * g.w;
#pragma unroll
            for (int t = 0; t < kTapChunk; t++) {
                const int64_t tap = t0 + t, r = tap / g.s;
                const int64_t hi = i * g.sh - g.pt + r * g.dh;
                const int64_t wi = j * g.sw - g.pl + (tap - r * g.s) * g.dw;
                const bool in = hi >= 0 && hi < g.h && wi >= 0 && wi < g.w;
                if (tap < rs) // padding too: NaN dy gives NaN
                    acc[t] = fmaf(d, in ? xp[hi * g.w + wi] : 0.0f, acc[t]);
            }
        }
#pragma unroll
        for (int t = 0; t < kTapChunk; t++)
            red[t][tid] = acc[t];
        __syncthreads();
        for (int half = kThreads / 2; half > 0; half /= 2) {
            if (tid < half)
#pragma unroll
                for (int t = 0; t < kTapChunk; t++)
                    red[t][tid] += red[t][tid + half];
            __syncthreads();
        }
        if (tid < kTapChunk && t0 + tid < rs)
            part[(z * g.c + c) * rs + t0 + tid] = red[tid][0];
        __syncthreads(); // red is read before the next chunk overwrites it
    }
}

ax_status depthwise_forward(ax_ctx *ctx, const ax_conv2d_geom *g, const float *x,
                            const float *w, const float *b, float *y, const char *fn) {
    const int64_t total = g->n * g->k * g->oh * g->ow;
    depthwise_forward_kernel<<<ax_cuda_blocks(ctx, total, kThreads), kThreads, 0,
                               ax_stream(ctx)>>>(to_geom(g), x, w, b, y);
    return ax_cuda_status(cudaGetLastError(), fn, "launch of depthwise_forward_kernel");
}

ax_status depthwise_backward_data(ax_ctx *ctx, const ax_conv2d_geom *g, const float *dy,
                                  const float *w, float *dx, const char *fn) {
    const int64_t total = g->n * g->c * g->h * g->w;
    depthwise_backward_data_kernel<<<ax_cuda_blocks(ctx, total, kThreads), kThreads, 0,
                                     ax_stream(ctx)>>>(to_geom(g), dy, w, dx);
    return ax_cuda_status(cudaGetLastError(), fn, "launch of depthwise_backward_data_kernel");
}

ax_status depthwise_backward_filter(ax_ctx *ctx, const ax_conv2d_geom *g, const float *x,
                                    const float *dy, float *dw, const char *fn) {
    if (g->c > kMaxGridYZ)
        return ax_fail(AX_ERR_UNSUPPORTED, fn,
                       "%lld depthwise channels are beyond the CUDA kernel's grid (%lld)",
                       (long long)g->c, (long long)kMaxGridYZ);
    // one block per channel and split, each split at least 1024 pixels long
    const int64_t q = g->n * g->oh * g->ow, total = g->c * g->r * g->s;
    const int64_t splits = reduction_splits(ctx, g->c, q, 1024, total);
    const int64_t per = cdiv(q, splits);
    float *part = dw;
    if (splits > 1)
        AX_TRY(ax_ctx_scratch(ctx, (size_t)(splits * total) * sizeof(float), (void **)&part));
    depthwise_backward_filter_kernel<<<dim3((unsigned)splits, (unsigned)g->c), kThreads, 0,
                                       ax_stream(ctx)>>>(to_geom(g), x, dy, part, per);
    AX_TRY(ax_cuda_status(cudaGetLastError(), fn, "launch of depthwise_backward_filter_kernel"));
    if (splits > 1)
        AX_TRY(split_sum(ctx, part, dw, total, splits, false, fn));
    return AX_OK;
}

// ---------------------------------------------------------------- Winograd F(2x2, 3x3)

enum class Pass { Forward, BackwardData, BackwardFilter };

// Forward of a 3x3, stride 1, dilation 1, groups 1 convolution (any padding), and its
// backward-data as such a forward (below). Each 2x2 tile
// of output pixels (img, 2 ti .. 2 ti + 1, 2 tj .. 2 tj + 1) comes from the 4x4 input patch
// d_c[u][v] = x[img, c, 2 ti - pt + u, 2 tj - pl + v] (0 outside):
//
//   y_tile[k] = A^T [ sum_c (G w[k, c] G^T) * (B^T d_c B) ] A        (* elementwise, 4x4)
//
//         | 1  0 -1  0 |          | 1    0    0  |
//   B^T = | 0  1  1  0 |      G = | 1/2  1/2  1/2|      A^T = | 1  1  1  0 |
//         | 0 -1  1  0 |          | 1/2 -1/2  1/2|            | 0  1 -1 -1 |
//         | 0  1  0 -1 |          | 0    0    1  |
//
// Four steps, on T = (images of the chunk) x ceil(OH/2) x ceil(OW/2) tiles:
//   1. filter transform   U[pos][k][c] = (G w[k, c] G^T)[pos]              (pos = 4 u + v)
//   2. input transform    V[pos][c][t] = (B^T d_c B)[pos] of tile t
//   3. 16 GEMMs           M[pos] [K, T] = U[pos] [K, C] V[pos] [C, T]    (one batched SGEMM)
//   4. output transform   y tile of (k, t) = A^T M[.][k][t] A (+ b[k]); pixels past OH, OW
//                         are not written
// U, V and M live in scratch; the images go in chunks so that it stays within
// kWinogradScratch floats (a layer whose single image would not fit is left to the implicit
// GEMM). Rounding: the transforms only add, subtract and halve (every entry is 0, +-1/2 or
// +-1), so y differs from a direct sum by a few ulp of the magnitudes summed. emu_conv
// measures it against the CPU reference (inputs in [-1, 1]; it prints max |err| / (1 + |ref|):
// 2e-6 to 2.5e-6 with C = 16 and 9e-6 with C = 64, where the implicit GEMM gives 1.3e-6 to
// 2.5e-6 and 7e-6) and checks it within 1e-4 (1 + |ref|); a wrong matrix entry gives errors
// of order 0.1 to 1. A NaN in x makes the whole 2x2 tile of each window it meets NaN, and an
// Inf may give NaN instead of +-Inf (Inf - Inf in the output transform), as in any Winograd
// convolution.
//
// Backward-data is the forward of another geometry: dx[img, c, hi, wi] = sum_{k, r, s}
// w[k, c, r, s] dy[img, k, hi + pt - r, wi + pl - s] is dy (K channels of OH x OW) convolved
// with w' [C, K, 3, 3], w'[c, k, r', s'] = w[k, c, 2 - r', 2 - s'], padded 2 - pt on top and
// 2 - pl on the left (negative pads just skip rows; reads outside dy are 0), into C channels
// of H x W. The filter transform reads w that way (flip).

// backward-data's dx as a forward geometry (see above)
ax_conv2d_geom backward_data_as_forward(const ax_conv2d_geom *g) {
    ax_conv2d_geom f = *g;
    f.c = f.cg = g->k, f.h = g->oh, f.w = g->ow;
    f.k = f.kg = g->c, f.oh = g->h, f.ow = g->w;
    f.pad_top = 2 - g->pad_top, f.pad_left = 2 - g->pad_left;
    return f;
}

// Winograd's scratch for `images` images: 16 (K C + (C + K) T) floats, T their tiles
int64_t winograd_floats(const ax_conv2d_geom *g, int64_t images) {
    const int64_t tiles = images * ((g->oh + 1) / 2) * ((g->ow + 1) / 2);
    return 16 * (g->k * g->c + (g->c + g->k) * tiles);
}

// The pass (forward or backward-data) runs by Winograd: the shape fits and one image's
// scratch is within the bound.
bool winograd_fits(const ax_conv2d_geom *g, Pass pass) {
    if (pass == Pass::BackwardFilter || g->r != 3 || g->s != 3 || g->stride_h != 1 ||
        g->stride_w != 1 || g->dil_h != 1 || g->dil_w != 1 || g->groups != 1)
        return false;
    const ax_conv2d_geom f = pass == Pass::Forward ? *g : backward_data_as_forward(g);
    return winograd_floats(&f, 1) <= kWinogradScratch;
}

// one thread per (k, c) of K x C filters f = w[k, c] (3x3) -> U[pos][k][c]; with flip,
// f[r][s] = w[c, k, 2 - r, 2 - s] of a w stored [C][K][3][3] (backward-data)
__global__ void __launch_bounds__(kThreads)
    winograd_filter_kernel(const float *w, float *u, int64_t k, int64_t c, bool flip) {
    const int64_t kc = k * c;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < kc;
         e += (int64_t)gridDim.x * blockDim.x) {
        float f[9];
        const float *src = flip ? w + (e % c * k + e / c) * 9 : w + 9 * e;
#pragma unroll
        for (int i = 0; i < 9; i++)
            f[i] = src[flip ? 8 - i : i];
        float t[4][3]; // G f
#pragma unroll
        for (int col = 0; col < 3; col++) {
            const float f0 = f[col], f1 = f[3 + col], f2 = f[6 + col];
            t[0][col] = f0;
            t[1][col] = 0.5f * (f0 + f1 + f2);
            t[2][col] = 0.5f * (f0 - f1 + f2);
            t[3][col] = f2;
        }
#pragma unroll
        for (int row = 0; row < 4; row++) { // (G f) G^T
            const float t0 = t[row][0], t1 = t[row][1], t2 = t[row][2];
            u[(4 * row + 0) * kc + e] = t0;
            u[(4 * row + 1) * kc + e] = 0.5f * (t0 + t1 + t2);
            u[(4 * row + 2) * kc + e] = 0.5f * (t0 - t1 + t2);
            u[(4 * row + 3) * kc + e] = t2;
        }
    }
}

// one thread per (c, t) of the chunk that starts at image img0: V[pos][c][t]
__global__ void __launch_bounds__(kThreads)
    winograd_input_kernel(Geom g, const float *x, float *v, int64_t img0, int64_t tiles) {
    const int64_t th = (g.oh + 1) / 2, tw = (g.ow + 1) / 2, ct = g.c * tiles;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < ct;
         e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = e / tiles, t = e - c * tiles, img = img0 + t / (th * tw);
        const int64_t h0 = 2 * (t / tw % th) - g.pt, w0 = 2 * (t % tw) - g.pl;
        const float *xp = x + (img * g.c + c) * g.h * g.w;
        float d[4][4];
#pragma unroll
        for (int a = 0; a < 4; a++)
#pragma unroll
            for (int bb = 0; bb < 4; bb++) {
                const int64_t hi = h0 + a, wi = w0 + bb;
                d[a][bb] = hi >= 0 && hi < g.h && wi >= 0 && wi < g.w ? xp[hi * g.w + wi] : 0.0f;
            }
        float s[4][4]; // B^T d
#pragma unroll
        for (int col = 0; col < 4; col++) {
            s[0][col] = d[0][col] - d[2][col];
            s[1][col] = d[1][col] + d[2][col];
            s[2][col] = d[2][col] - d[1][col];
            s[3][col] = d[1][col] - d[3][col];
        }
#pragma unroll
        for (int row = 0; row < 4; row++) { // (B^T d) B
            v[(4 * row + 0) * ct + e] = s[row][0] - s[row][2];
            v[(4 * row + 1) * ct + e] = s[row][1] + s[row][2];
            v[(4 * row + 2) * ct + e] = s[row][2] - s[row][1];
            v[(4 * row + 3) * ct + e] = s[row][1] - s[row][3];
        }
    }
}

// one thread per (k, t): M[pos][k][t] -> the tile's (up to) 2x2 pixels of y
__global__ void __launch_bounds__(kThreads)
    winograd_output_kernel(Geom g, const float *m, const float *b, float *y, int64_t img0,
                           int64_t tiles) {
    const int64_t th = (g.oh + 1) / 2, tw = (g.ow + 1) / 2, kt = g.k * tiles;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < kt;
         e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t k = e / tiles, t = e - k * tiles, img = img0 + t / (th * tw);
        const int64_t i0 = 2 * (t / tw % th), j0 = 2 * (t % tw);
        float s[2][4]; // A^T M
#pragma unroll
        for (int col = 0; col < 4; col++) {
            const float m0 = m[col * kt + e], m1 = m[(4 + col) * kt + e];
            const float m2 = m[(8 + col) * kt + e], m3 = m[(12 + col) * kt + e];
            s[0][col] = m0 + m1 + m2;
            s[1][col] = m1 - m2 - m3;
        }
        const float bias = b ? b[k] : 0.0f;
        float *yp = y + (img * g.k + k) * g.oh * g.ow;
#pragma unroll
        for (int a = 0; a < 2; a++) { // (A^T M) A
            const float out[2] = {s[a][0] + s[a][1] + s[a][2], s[a][1] - s[a][2] - s[a][3]};
#pragma unroll
            for (int bb = 0; bb < 2; bb++)
                if (i0 + a < g.oh && j0 + bb < g.ow)
                    yp[(i0 + a) * g.ow + j0 + bb] = out[bb] + bias;
        }
    }
}

// y = conv(x, w) (+ b) for the forward geometry g; flip: w is read as backward-data's w'
ax_status winograd_run(ax_ctx *ctx, const ax_conv2d_geom *g, const float *x, const float *w,
                       const float *b, float *y, bool flip, const char *fn) {
    const int64_t per_img = ((g->oh + 1) / 2) * ((g->ow + 1) / 2), kc = g->k * g->c;
    // images per chunk: as many as kWinogradScratch holds (one at least: winograd_fits)
    int64_t chunk = (kWinogradScratch / 16 - kc) / ((g->c + g->k) * per_img);
    if (chunk > g->n)
        chunk = g->n;
    if (chunk < 1)
        chunk = 1;
    const int64_t tmax = chunk * per_img;
    float *u = nullptr;
    AX_TRY(ax_ctx_scratch(ctx, (size_t)winograd_floats(g, chunk) * sizeof(float), (void **)&u));
    float *v = u + 16 * kc, *m = v + 16 * g->c * tmax;
    const Geom gg = to_geom(g);
    cudaStream_t st = ax_stream(ctx);
    winograd_filter_kernel<<<ax_cuda_blocks(ctx, kc, kThreads), kThreads, 0, st>>>(w, u, g->k,
                                                                                  g->c, flip);
    AX_TRY(ax_cuda_status(cudaGetLastError(), fn, "launch of winograd_filter_kernel"));
    for (int64_t i0 = 0; i0 < g->n; i0 += chunk) {
        const int64_t t = (g->n - i0 < chunk ? g->n - i0 : chunk) * per_img;
        winograd_input_kernel<<<ax_cuda_blocks(ctx, g->c * t, kThreads), kThreads, 0, st>>>(
            gg, x, v, i0, t);
        AX_TRY(ax_cuda_status(cudaGetLastError(), fn, "launch of winograd_input_kernel"));
        AX_TRY(ax_cuda_gemm(ctx, 0, 0, g->k, t, g->c, 1.0f, u, g->c, kc, v, t, g->c * t, 0.0f,
                            m, t, g->k * t, 16));
        winograd_output_kernel<<<ax_cuda_blocks(ctx, g->k * t, kThreads), kThreads, 0, st>>>(
            gg, m, b, y, i0, t);
        AX_TRY(ax_cuda_status(cudaGetLastError(), fn, "launch of winograd_output_kernel"));
    }
    return AX_OK;
}

ax_status winograd_forward(ax_ctx *ctx, const ax_conv2d_geom *g, const float *x,
                           const float *w, const float *b, float *y, const char *fn) {
    return winograd_run(ctx, g, x, w, b, y, false, fn);
}

ax_status winograd_backward_data(ax_ctx *ctx, const ax_conv2d_geom *g, const float *dy,
                                 const float *w, float *dx, const char *fn) {
    const ax_conv2d_geom f = backward_data_as_forward(g);
    return winograd_run(ctx, &f, dy, w, nullptr, dx, true, fn);
}

// ---------------------------------------------------------------- the choice of path

// Which kernels run a pass: the one place that decides, from the geometry only.
// AX_CONV_ALGO=generic in the environment forces the implicit GEMM (for bench_conv and the
// GPU tests, to set a specialised path beside the generic one on the same layer; not API).
enum class Algo { Generic, Pointwise, Depthwise, Winograd };

Algo choose_algo(const ax_conv2d_geom *g, Pass pass) {
    const char *force = getenv("AX_CONV_ALGO");
    if (force && strcmp(force, "generic") == 0)
        return Algo::Generic;
    if (pointwise_fits(g))
        return Algo::Pointwise;
    if (depthwise_fits(g) && (pass != Pass::BackwardFilter || g->c <= kMaxGridYZ))
        return Algo::Depthwise; // (backward-filter's grid y holds the channels)
    // Winograd trades 2.25x fewer multiplications for transforms whose traffic grows with
    // C + K per tile: with few channels (the MNIST CNN's first layer, C = 1) the implicit
    // GEMM is left. The threshold is a first guess until bench_conv runs on a GPU.
    if (winograd_fits(g, pass) && g->c >= 16 && g->k >= 16)
        return Algo::Winograd;
    return Algo::Generic;
}

} // namespace

extern "C" const char *ax_cuda_conv2d_algo(const ax_conv2d_geom *g, int pass) {
    static const char *const names[] = {"generic", "pointwise", "depthwise", "winograd"};
    return names[(int)choose_algo(g, (Pass)pass)];
}

extern "C" ax_status ax_cuda_conv2d_forward(ax_ctx *ctx, const ax_conv2d_geom *g, const float *x,
                                            const float *w, const float *b, float *y) {
    switch (choose_algo(g, Pass::Forward)) {
    case Algo::Pointwise:
        return pointwise_forward(ctx, g, x, w, b, y);
    case Algo::Depthwise:
        return depthwise_forward(ctx, g, x, w, b, y, __func__);
    case Algo::Winograd:
        return winograd_forward(ctx, g, x, w, b, y, __func__);
    case Algo::Generic:
    default:
        return generic_forward(ctx, g, x, w, b, y, __func__);
    }
}

extern "C" ax_status ax_cuda_conv2d_backward_data(ax_ctx *ctx, const ax_conv2d_geom *g,
                                                  const float *dy, const float *w, float *dx) {
    switch (choose_algo(g, Pass::BackwardData)) {
    case Algo::Pointwise:
        return pointwise_backward_data(ctx, g, dy, w, dx);
    case Algo::Depthwise:
        return depthwise_backward_data(ctx, g, dy, w, dx, __func__);
    case Algo::Winograd:
        return winograd_backward_data(ctx, g, dy, w, dx, __func__);
    case Algo::Generic:
    default:
        return generic_backward_data(ctx, g, dy, w, dx, __func__);
    }
}

extern "C" ax_status ax_cuda_conv2d_backward_filter(ax_ctx *ctx, const ax_conv2d_geom *g,
                                                    const float *x, const float *dy,
                                                    float *dw) {
    switch (choose_algo(g, Pass::BackwardFilter)) {
    case Algo::Pointwise:
        return pointwise_backward_filter(ctx, g, x, dy, dw, __func__);
    case Algo::Depthwise:
        return depthwise_backward_filter(ctx, g, x, dy, dw, __func__);
    case Algo::Winograd: // forward only: never chosen here
    case Algo::Generic:
    default:
        return generic_backward_filter(ctx, g, x, dy, dw, __func__);
    }
}
