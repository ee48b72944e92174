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
// One tile kernel for all three: a 64 x 64 block tile, k-tiles of 16, 256 threads each
// computing 4 x 4 outputs (rows ty + 16a, columns tx + 16b), operands staged in shared memory
// as [q][m] and [q][n]. Every gather checks its bounds (m < M, n < N, q < Q and the image
// borders), so any size works; grid x: n-tiles, y: m-tiles, z: (group, split).
//
// Backward-filter is deterministic: its reduction over q = N*OH*OW is cut into a fixed number
// of splits chosen on the host from the geometry only; each split's block sums its q range in
// a fixed order into its own slice of scratch, and a second kernel adds the slices in split
// order. No atomics, so two runs give bit-identical dw.
#include <stdint.h>

#include "../host/common/conv_geom.h"
#include "../host/cuda/cuda_internal.h"
#include "kernels.h"

namespace {

constexpr int kBM = 64, kBN = 64, kBK = 16, kThreads = 256;
static_assert(kBM == kBN && kThreads == 4 * kBM && kBK == 16,
              "tile_product: 4 threads per tile column, each filling 4 of the 16 k-rows");
constexpr int64_t kMaxGridYZ = 65535;
constexpr int64_t kMaxPartials = (int64_t)1 << 24; // floats of backward-filter split scratch

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

// out[m, n] = sum_{q in [q0, q1)} A[m, q] B[q, n] for the block's 64 x 64 tile of group grp;
// sums in ascending q, each thread's 16 sums in registers (a fixed order: deterministic).
template <class P>
__device__ __forceinline__ void tile_product(const P &p, int64_t grp, int64_t m0, int64_t n0,
                                             int64_t q0, int64_t q1, float (&acc)[4][4]) {
    __shared__ float as[kBK][kBM + 4];
    __shared__ float bs[kBK][kBN + 4];
    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    // this thread's row of A and column of B in the tile, and its first k-tile row
    const int lm = tid % kBM, ln = tid % kBN, lq = tid / kBM;
    const bool m_ok = m0 + lm < p.M(), n_ok = n0 + ln < p.N();
    typename P::Row row{};
    typename P::Col col{};
    if (m_ok)
        row = p.row(grp, m0 + lm);
    if (n_ok)
        col = p.col(grp, n0 + ln);
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
            acc[i][j] = 0.0f;
    for (int64_t qt = q0; qt < q1; qt += kBK) {
        // A tile [kBM][kBK] stored as [q][m], B tile [kBK][kBN] as [q][n]: the thread fills
        // rows lq, lq + 4, lq + 8, lq + 12 of both, in its column lm (ln)
#pragma unroll
        for (int l = 0; l < kBK / 4; l++) {
            const int tq = lq + 4 * l;
            const int64_t q = qt + tq;
            as[tq][lm] = m_ok && q < q1 ? p.a(row, q) : 0.0f;
            bs[tq][ln] = n_ok && q < q1 ? p.b_(col, q) : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int q = 0; q < kBK; q++) {
            float av[4], bv[4];
#pragma unroll
            for (int i = 0; i < 4; i++)
                av[i] = as[q][ty + 16 * i];
#pragma unroll
            for (int j = 0; j < 4; j++)
                bv[j] = bs[q][tx + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++)
                    acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
    }
}

// Every pass: grid z = (group - g0) * splits + split; split z sums q in
// [z * per, min(Q, (z + 1) * per)) and stores through p.store (forward and backward-data run
// with one split, per = Q).
template <class P>
__global__ void __launch_bounds__(kThreads)
    conv_gemm_kernel(P p, int64_t g0, int64_t splits, int64_t per) {
    const int64_t grp = g0 + blockIdx.z / splits, split = blockIdx.z % splits;
    const int64_t m0 = (int64_t)blockIdx.y * kBM, n0 = (int64_t)blockIdx.x * kBN;
    const int64_t q0 = split * per, q1 = q0 + per < p.Q() ? q0 + per : p.Q();
    float acc[4][4];
    tile_product(p, grp, m0, n0, q0, q1, acc);
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int64_t m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
            if (m < p.M() && n < p.N())
                p.store(split, grp, m, n, acc[i][j]);
        }
}

// dw[e] = sum_{z < splits} part[z * total + e], in ascending z
__global__ void split_sum_kernel(const float *part, float *dw, int64_t total, int64_t splits) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        float s = part[e];
        for (int64_t z = 1; z < splits; z++)
            s += part[z * total + e];
        dw[e] = s;
    }
}

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Launch conv_gemm_kernel for an M x N product per group, q cut into `splits` ranges of
// `per`; grid z holds at most 65535 (group, split) pairs per launch.
template <class P>
ax_status launch_gemm(ax_ctx *ctx, const P &p, int64_t m, int64_t n, int64_t groups,
                      int64_t splits, int64_t per, const char *fn) {
    const int64_t mt = cdiv(m, kBM), nt = cdiv(n, kBN);
    if (mt > kMaxGridYZ || nt > INT32_MAX)
        return ax_fail(AX_ERR_UNSUPPORTED, fn,
                       "a GEMM of %lld x %lld per group is beyond the CUDA kernel's grid",
                       (long long)m, (long long)n);
    const int64_t per_launch = kMaxGridYZ / splits;
    for (int64_t g0 = 0; g0 < groups; g0 += per_launch) {
        const int64_t gz = groups - g0 < per_launch ? groups - g0 : per_launch;
        dim3 grid((unsigned)nt, (unsigned)mt, (unsigned)(gz * splits));
        conv_gemm_kernel<P><<<grid, kThreads, 0, ax_stream(ctx)>>>(p, g0, splits, per);
        AX_TRY(ax_cuda_status(cudaGetLastError(), fn, "launch of conv_gemm_kernel"));
    }
    return AX_OK;
}

} // namespace

extern "C" ax_status ax_cuda_conv2d_forward(ax_ctx *ctx, const ax_conv2d_geom *g, const float *x,
                                            const float *w, const float *b, float *y) {
    Forward p{to_geom(g), x, w, b, y};
    const int64_t q = g->cg * g->r * g->s;
    return launch_gemm(ctx, p, g->kg, g->n * g->oh * g->ow, g->groups, 1, q, __func__);
}

extern "C" ax_status ax_cuda_conv2d_backward_data(ax_ctx *ctx, const ax_conv2d_geom *g,
                                                  const float *dy, const float *w, float *dx) {
    BackwardData p{to_geom(g), dy, w, dx};
    const int64_t q = g->kg * g->r * g->s;
    return launch_gemm(ctx, p, g->cg, g->n * g->h * g->w, g->groups, 1, q, __func__);
}

extern "C" ax_status ax_cuda_conv2d_backward_filter(ax_ctx *ctx, const ax_conv2d_geom *g,
                                                    const float *x, const float *dy,
                                                    float *dw) {
    const int64_t m = g->kg, n = g->cg * g->r * g->s, q = g->n * g->oh * g->ow;
    const int64_t mt = cdiv(m, kBM), nt = cdiv(n, kBN), total = g->k * n;
    // Splits of the q range: enough blocks for about two waves over the SMs, each split at
    // least 512 q long, at most 64 splits and at most 64 MiB of partial sums (kMaxPartials
    // floats, when dw itself is smaller than that). A function of the geometry and the device only, so
    // the same call on the same device always sums in the same order.
    const int64_t sms = ctx->info.multiprocessors > 0 ? ctx->info.multiprocessors : 1;
    const int64_t tiles = mt * nt * g->groups;
    int64_t splits = cdiv(2 * sms, tiles);
    if (splits > q / 512)
        splits = q / 512;
    if (splits > 64)
        splits = 64;
    if (splits > kMaxPartials / total)
        splits = kMaxPartials / total;
    if (splits < 1)
        splits = 1;
    const int64_t per = cdiv(q, splits);
    splits = cdiv(q, per); // no empty split
    float *part = dw;
    if (splits > 1)
        AX_TRY(ax_ctx_scratch(ctx, (size_t)(splits * total) * sizeof(float), (void **)&part));
    BackwardFilter p{to_geom(g), x, dy, part};
    AX_TRY(launch_gemm(ctx, p, m, n, g->groups, splits, per, __func__));
    if (splits > 1) {
        split_sum_kernel<<<ax_cuda_blocks(ctx, total, kThreads), kThreads, 0, ax_stream(ctx)>>>(
            part, dw, total, splits);
        AX_TRY(AX_CUDA_LAUNCHED("split_sum_kernel"));
    }
    return AX_OK;
}
