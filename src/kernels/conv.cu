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

// im2col of group grp's input planes, never stored: the element for output pixel
// pix = (img, i, j) and kernel tap tap = (c, r, s), 0 where the tap falls in the padding.
__device__ __forceinline__ float im2col_at(const Geom &g, const float *x, int64_t grp,
                                           int64_t pix, int64_t tap) {
    const int64_t p = g.oh * g.ow, img = pix / p, ij = pix % p, i = ij / g.ow, j = ij % g.ow;
    const int64_t rs = g.r * g.s, c = tap / rs, r = (tap % rs) / g.s, s = tap % g.s;
    const int64_t hi = i * g.sh - g.pt + r * g.dh, wi = j * g.sw - g.pl + s * g.dw;
    if (hi < 0 || hi >= g.h || wi < 0 || wi >= g.w)
        return 0.0f;
    return x[((img * g.c + grp * g.cg + c) * g.h + hi) * g.w + wi];
}

// forward: A = w_g [K/G, CRS], B = im2col(x_g) [CRS, N*P], out = y
struct Forward {
    Geom g;
    const float *x, *w, *b;
    float *y;
    __device__ int64_t M() const { return g.kg; }
    __device__ int64_t N() const { return g.n * g.oh * g.ow; }
    __device__ int64_t Q() const { return g.cg * g.r * g.s; }
    __device__ float a(int64_t grp, int64_t m, int64_t q) const {
        return w[(grp * g.kg + m) * Q() + q];
    }
    __device__ float b_(int64_t grp, int64_t q, int64_t n) const {
        return im2col_at(g, x, grp, n, q);
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
    __device__ int64_t M() const { return g.cg; }
    __device__ int64_t N() const { return g.n * g.h * g.w; }
    __device__ int64_t Q() const { return g.kg * g.r * g.s; }
    __device__ float a(int64_t grp, int64_t m, int64_t q) const {
        const int64_t rs = g.r * g.s, k = q / rs, rsi = q % rs;
        return w[((grp * g.kg + k) * g.cg + m) * rs + rsi];
    }
    __device__ float b_(int64_t grp, int64_t q, int64_t n) const {
        const int64_t hw = g.h * g.w, img = n / hw, hi = (n % hw) / g.w, wi = n % g.w;
        const int64_t rs = g.r * g.s, k = q / rs, r = (q % rs) / g.s, s = q % g.s;
        const int64_t th = hi + g.pt - r * g.dh, tw = wi + g.pl - s * g.dw;
        if (th < 0 || tw < 0 || th % g.sh != 0 || tw % g.sw != 0)
            return 0.0f;
        const int64_t i = th / g.sh, j = tw / g.sw;
        if (i >= g.oh || j >= g.ow)
            return 0.0f;
        return dy[((img * g.k + grp * g.kg + k) * g.oh + i) * g.ow + j];
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
    __device__ int64_t M() const { return g.kg; }
    __device__ int64_t N() const { return g.cg * g.r * g.s; }
    __device__ int64_t Q() const { return g.n * g.oh * g.ow; }
    __device__ float a(int64_t grp, int64_t m, int64_t q) const {
        const int64_t p = g.oh * g.ow, img = q / p;
        return dy[(img * g.k + grp * g.kg + m) * p + q % p];
    }
    __device__ float b_(int64_t grp, int64_t q, int64_t n) const {
        return im2col_at(g, x, grp, q, n);
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
    const int64_t M = p.M(), N = p.N();
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
            acc[i][j] = 0.0f;
    for (int64_t qt = q0; qt < q1; qt += kBK) {
        // each thread loads 4 elements of each operand: element e = tid + 256 l of the tile
#pragma unroll
        for (int l = 0; l < 4; l++) {
            const int e = tid + l * kThreads;
            const int am = e % kBM, aq = e / kBM; // A tile [kBM][kBK] as [q][m]
            const int64_t gm = m0 + am, gq = qt + aq;
            as[aq][am] = gm < M && gq < q1 ? p.a(grp, gm, gq) : 0.0f;
            const int bn = e % kBN, bq = e / kBN; // B tile [kBK][kBN] as [q][n]
            const int64_t gn = n0 + bn, gq2 = qt + bq;
            bs[bq][bn] = gn < N && gq2 < q1 ? p.b_(grp, gq2, gn) : 0.0f;
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
