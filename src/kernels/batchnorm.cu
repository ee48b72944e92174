// Batch normalization over the channels of x viewed as [outer, C, inner]: channel c holds the
// M = outer inner values x[(o C + c) inner + i].
//
// Passes over the data (the floor the issue names):
// - training forward, 2: channel_partials_* reads x once for the statistics; bn_apply* reads
//   x and writes y. Between them bn_forward_finish (one thread per channel) adds the partials.
// - training backward, 2 (reading x and dy twice, writing dx once): channel_partials_* for
//   sum dy and sum dy (x - mean), then bn_apply* for dx.
// - evaluation forward 1, evaluation backward 1 (plus channel_partials_* when dgamma or dbeta
//   is wanted).
//
// Two layouts of the work: rows of inner >= kRowPath values go to the row kernels (a block per
// row, the channel found once per row); shorter rows ([N, C], small feature maps) to the column
// kernel for the sums (x viewed as [outer, C inner], threads along the C inner columns, so
// loads coalesce even for [N, C]) and to the flat apply kernel (one division per element,
// 32-bit indices where the sizes allow).
//
// Statistics: each thread sums d = x - K and d^2 in double, with K = x[0, c, 0] a sample of
// the channel, so E[d^2] - E[d]^2 does not cancel (d is within a few standard deviations):
// a channel of 1e4 + small noise keeps its variance.
//
// Determinism: no atomics. Channel c's values are split into `splits` fixed shares of the
// rows o (splits fixed by the device and the shape), each summed in a fixed order inside its
// block, then all partials of the channel in a fixed order by one thread (Layout). Reruns give
// the same bits.
//
// Aliasing: y may alias x and dx may alias dy; bn_apply reads each element and then writes it
// from the same thread.
#include "../host/common/batchnorm_stats.h"
#include "common.cuh"
#include "kernels.h"

namespace {

constexpr int kChannelThreads = 128;

// Sums of a channel: s0 and s1 (what they are depends on the term).
struct Pair {
    double s0, s1;
};

// Statistics: d = x - K, s0 += d, s1 += d^2.
struct StatsTerm {
    const float *x;
    int64_t inner;
    __device__ __forceinline__ double begin(int64_t c) const { return (double)x[c * inner]; }
    __device__ __forceinline__ void add(int64_t e, double k, double &s0, double &s1) const {
        const double d = (double)x[e] - k;
        s0 += d;
        s1 += d * d;
    }
};

// Backward: s0 += dy, s1 += dy (x - mean).
struct GradTerm {
    const float *x, *dy, *mean;
    __device__ __forceinline__ double begin(int64_t c) const { return (double)mean[c]; }
    __device__ __forceinline__ void add(int64_t e, double mu, double &s0, double &s1) const {
        const double g = (double)dy[e];
        s0 += g;
        s1 += g * ((double)x[e] - mu);
    }
};

// Where the partial sums of the share k of the rows lie: partial[k cols + c per + i] for
// i < per, cols = C per. The row kernel has per = 1 (a share's sum per channel), the column
// kernel per = inner (a share's sum per column c inner + i).
struct Layout {
    int64_t splits, cols, per;
};

// Column kernel (inner < kRowPath): x viewed as [outer, cols = C inner]; a block of 32 x 8
// threads takes 32 columns (x, coalesced) and the rows o = 8 k + y, o += 8 splits of share
// k = blockIdx.y; the 8 row groups are then added in order. Column tiles grid-stride over
// blockIdx.x (block-uniform).
template <class Term>
__global__ void __launch_bounds__(kThreads)
    channel_partials_cols(Term term, int64_t outer, int64_t cols, int64_t inner,
                          Pair *partial) {
    __shared__ Pair part[8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int64_t tiles = (cols + 31) / 32;
    for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const int64_t j = tile * 32 + tx;
        double s0 = 0.0, s1 = 0.0;
        if (j < cols && outer > 0) {
            const double k = term.begin(j / inner);
            for (int64_t o = (int64_t)blockIdx.y * 8 + ty; o < outer; o += (int64_t)gridDim.y * 8)
                term.add(o * cols + j, k, s0, s1);
        }
        part[ty][tx] = Pair{s0, s1};
        __syncthreads();
        if (ty == 0 && j < cols) {
            Pair t = part[0][tx];
#pragma unroll
            for (int r = 1; r < 8; r++) {
                t.s0 += part[r][tx].s0;
                t.s1 += part[r][tx].s1;
            }
            partial[(int64_t)blockIdx.y * cols + j] = t;
        }
        __syncthreads(); // part is free for the next tile
    }
}

// Row kernel (inner >= kRowPath): share k = blockIdx.x of channel c is the rows o = k,
// k + splits, ... (splits <= outer), each row's inner values read by the whole block, so the
// inner loop has no division. Channels grid-stride over blockIdx.y (block-uniform, so
// block_sum is reached by all).
template <class Term>
__global__ void __launch_bounds__(kThreads)
    channel_partials_rows(Term term, int64_t outer, int64_t channels, int64_t inner,
                          Pair *partial) {
    for (int64_t c = blockIdx.y; c < channels; c += gridDim.y) {
        const double k = term.begin(c);
        double s0 = 0.0, s1 = 0.0;
        for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
            const int64_t base = (o * channels + c) * inner;
            for (int64_t i = threadIdx.x; i < inner; i += blockDim.x)
                term.add(base + i, k, s0, s1);
        }
        s0 = block_sum(s0);
        s1 = block_sum(s1);
        if (threadIdx.x == 0)
            partial[(int64_t)blockIdx.x * channels + c] = Pair{s0, s1};
    }
}

// The per-channel coefficients of bn_apply: out = p dy + q (float)(x - mean) + r.
struct Coef {
    double *mean;
    float *p, *q, *r;
};

// Sum of channel c's partials, in share order, then column order.
__device__ __forceinline__ Pair sum_partials(const Pair *partial, int64_t c, Layout l) {
    Pair t{0.0, 0.0};
    for (int64_t k = 0; k < l.splits; k++)
        for (int64_t i = 0; i < l.per; i++) {
            const Pair &p = partial[k * l.cols + c * l.per + i];
            t.s0 += p.s0;
            t.s1 += p.s1;
        }
    return t;
}

// Training forward, per channel, with d = x - K summed:
//   mean = K + S0 / M, var = S1 / M - (S0 / M)^2 (biased), invstd = 1 / sqrt(var + eps);
//   running_mean = (1 - f) running_mean + f mean, running_var = (1 - f) running_var
//   + f var M / (M - 1); y = gamma invstd (x - mean) + beta, so q = gamma invstd, r = beta.
__global__ void bn_forward_finish(const Pair *partial, Layout layout, const float *x,
                                  int64_t channels, int64_t inner, double m, float eps,
                                  float factor, const float *gamma, const float *beta,
                                  float *running_mean, float *running_var, float *save_mean,
                                  float *save_invstd, Coef coef) {
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < channels;
         c += (int64_t)gridDim.x * blockDim.x) {
        const Pair t = sum_partials(partial, c, layout);
        const double d = t.s0 / m;
        const double mean = (double)x[c * inner] + d;
        const double var = fmax(t.s1 / m - d * d, 0.0);
        const double invstd = ax_bn_channel_update(c, mean, var, m, eps, factor, running_mean,
                                                   running_var, save_mean, save_invstd);
        coef.mean[c] = mean;
        coef.q[c] = (float)((gamma ? (double)gamma[c] : 1.0) * invstd);
        coef.r[c] = beta ? beta[c] : 0.0f;
    }
}

// Evaluation forward: q = gamma / sqrt(var + eps), r = beta, from the given statistics.
__global__ void bn_inference_coef(const float *mean, const float *var, float eps,
                                  const float *gamma, const float *beta, int64_t channels,
                                  Coef coef) {
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < channels;
         c += (int64_t)gridDim.x * blockDim.x) {
        const double invstd = 1.0 / sqrt((double)var[c] + (double)eps);
        coef.mean[c] = (double)mean[c];
        coef.q[c] = (float)((gamma ? (double)gamma[c] : 1.0) * invstd);
        coef.r[c] = beta ? beta[c] : 0.0f;
    }
}

// Backward, per channel (partial NULL: no sums were taken, only dx in evaluation):
//   dbeta = S0 = sum dy, dgamma = S1 invstd = sum dy xhat, k = gamma invstd;
//   training:   dx = k dy - k dbeta / M - k invstd dgamma / M (x - mean):
//               p = k, q = -k invstd dgamma / M, r = -k dbeta / M
//   evaluation: dx = k dy: p = k, q = r = 0
__global__ void bn_backward_finish(const Pair *partial, Layout layout, int training,
                                   const float *mean, const float *stat, float eps,
                                   const float *gamma, int64_t channels, double m,
                                   float *dgamma, float *dbeta, Coef coef) {
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < channels;
         c += (int64_t)gridDim.x * blockDim.x) {
        const double invstd =
            training ? (double)stat[c] : 1.0 / sqrt((double)stat[c] + (double)eps);
        const Pair t = partial ? sum_partials(partial, c, layout) : Pair{0.0, 0.0};
        const double sdy = t.s0, sdyx = t.s1 * invstd;
        if (dbeta)
            dbeta[c] = (float)sdy;
        if (dgamma)
            dgamma[c] = (float)sdyx;
        const double k = (gamma ? (double)gamma[c] : 1.0) * invstd;
        coef.mean[c] = (double)mean[c];
        coef.p[c] = (float)k;
        coef.q[c] = training ? (float)(-k * invstd * sdyx / m) : 0.0f;
        coef.r[c] = training ? (float)(-k * sdy / m) : 0.0f;
    }
}

// out[e] = p[c] dy[e] + q[c] (float)(x[e] - mean[c]) + r[c], c = (e / inner) % C, as
// fmaf(q, d, fmaf(p, dy, r)); without dy the p term is absent, without x the q term.
template <bool HasDy, bool HasX, typename Idx>
__global__ void __launch_bounds__(kThreads)
    bn_apply(const float *x, const float *dy, float *out, Idx n, Idx channels, Idx inner,
             Coef coef) {
    const Idx stride = (Idx)gridDim.x * blockDim.x;
    for (Idx e = (Idx)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += stride) {
        const Idx c = (e / inner) % channels;
        float v = coef.r[c];
        if constexpr (HasDy)
            v = fmaf(coef.p[c], dy[e], v);
        if constexpr (HasX)
            v = fmaf(coef.q[c], (float)((double)x[e] - coef.mean[c]), v);
        out[e] = v;
    }
}

// bn_apply by rows r = o C + c of inner values (inner >= kRowPath): the channel and its
// coefficients once per row, no division per element.
template <bool HasDy, bool HasX>
__global__ void __launch_bounds__(kThreads)
    bn_apply_rows(const float *x, const float *dy, float *out, int64_t rows, int64_t channels,
                  int64_t inner, Coef coef) {
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        const int64_t c = row % channels, base = row * inner;
        const float p = coef.p[c], q = coef.q[c], r = coef.r[c];
        const double mean = coef.mean[c];
        for (int64_t i = threadIdx.x; i < inner; i += blockDim.x) {
            float v = r;
            if constexpr (HasDy)
                v = fmaf(p, dy[base + i], v);
            if constexpr (HasX)
                v = fmaf(q, (float)((double)x[base + i] - mean), v);
            out[base + i] = v;
        }
    }
}

// Rows at least this long take the row kernels.
constexpr int64_t kRowPath = 128;

// Scratch: the partials (splits cols pairs) and the coefficients (C each).
struct Scratch {
    Pair *partial;
    Coef coef;
};

ax_status scratch_for(ax_ctx *ctx, int64_t channels, Layout l, Scratch *s) {
    const size_t nc = (size_t)channels, np = (size_t)(l.splits * l.cols);
    const size_t bytes = np * sizeof(Pair) + nc * sizeof(double) + 3 * nc * sizeof(float);
    void *base = nullptr;
    AX_TRY(ax_ctx_scratch(ctx, bytes, &base));
    char *p = (char *)base;
    s->partial = (Pair *)p;
    p += np * sizeof(Pair);
    s->coef.mean = (double *)p;
    p += nc * sizeof(double);
    s->coef.p = (float *)p;
    s->coef.q = s->coef.p + nc;
    s->coef.r = s->coef.q + nc;
    return AX_OK;
}

// The layout of the sums for this device and shape: enough blocks to fill the device twice
// over, at most 1024 shares, no share without rows, and at most 4096 partials per channel
// (the finishing thread of a channel adds them serially).
Layout layout_for(const ax_ctx *ctx, int64_t outer, int64_t channels, int64_t inner) {
    const int64_t target = 2 * (int64_t)resident_blocks(ctx, kThreads);
    const bool rows = inner >= kRowPath;
    const int64_t cols = rows ? channels : channels * inner;
    const int64_t blocks_per_share = rows ? channels : (cols + 31) / 32;
    const int64_t most = rows ? outer : (outer + 7) / 8;
    int64_t s = (target + blocks_per_share - 1) / blocks_per_share;
    s = s > most ? most : s;
    s = s > 1024 ? 1024 : s;
    if (!rows && s * inner > 4096)
        s = 4096 / inner;
    return Layout{s < 1 ? 1 : s, cols, rows ? 1 : inner};
}

unsigned channel_blocks(const ax_ctx *ctx, int64_t channels) {
    return ax_cuda_blocks(ctx, channels, kChannelThreads);
}

// 32-bit indices (cheaper divisions) when n <= 2^31 - 1: a grid stride (< 2^31) added to an
// index below n cannot wrap around 2^32.
bool fits32(int64_t n) { return n <= (int64_t)INT32_MAX; }

// The partial sums of term in layout l (layout_for of the same shape).
template <class Term>
ax_status launch_partials(ax_ctx *ctx, const char *fn, const Term &term, int64_t outer,
                          int64_t channels, int64_t inner, Layout l, Pair *partial) {
    cudaStream_t stream = ax_stream(ctx);
    if (l.per == 1 && inner >= kRowPath) {
        const dim3 grid((unsigned)l.splits, (unsigned)(channels < 65535 ? channels : 65535));
        channel_partials_rows<Term>
            <<<grid, kThreads, 0, stream>>>(term, outer, channels, inner, partial);
        return launched(fn, "launch of channel_partials_rows");
    }
    const int64_t tiles = (l.cols + 31) / 32;
    const dim3 grid((unsigned)(tiles < 65535 ? tiles : 65535), (unsigned)l.splits);
    channel_partials_cols<Term>
        <<<grid, dim3(32, 8), 0, stream>>>(term, outer, l.cols, inner, partial);
    return launched(fn, "launch of channel_partials_cols");
}

template <bool HasDy, bool HasX>
ax_status launch_apply(ax_ctx *ctx, const char *fn, const float *x, const float *dy, float *out,
                       int64_t n, int64_t channels, int64_t inner, const Coef &coef) {
    if (n <= 0)
        return AX_OK;
    cudaStream_t stream = ax_stream(ctx);
    if (inner >= kRowPath) {
        const int64_t rows = n / inner;
        bn_apply_rows<HasDy, HasX><<<ax_cuda_blocks(ctx, rows * kThreads, kThreads), kThreads, 0,
                                     stream>>>(x, dy, out, rows, channels, inner, coef);
        return launched(fn, "launch of bn_apply_rows");
    }
    const unsigned blocks = ax_cuda_blocks(ctx, n, kThreads);
    if (fits32(n))
        bn_apply<HasDy, HasX, uint32_t><<<blocks, kThreads, 0, stream>>>(
            x, dy, out, (uint32_t)n, (uint32_t)channels, (uint32_t)inner, coef);
    else
        bn_apply<HasDy, HasX, int64_t>
            <<<blocks, kThreads, 0, stream>>>(x, dy, out, n, channels, inner, coef);
    return launched(fn, "launch of bn_apply");
}

} // namespace

extern "C" ax_status ax_cuda_batch_norm_forward_training(
    ax_ctx *ctx, const float *x, const float *gamma, const float *beta, float *y, int64_t outer,
    int64_t channels, int64_t inner, float eps, float factor, float *running_mean,
    float *running_var, float *save_mean, float *save_invstd) {
    const int64_t m = outer * inner;
    if (channels <= 0 || m <= 0)
        return AX_OK; // M >= 2 is checked by the entry point; nothing to do for C = 0
    const Layout l = layout_for(ctx, outer, channels, inner);
    Scratch s;
    AX_TRY(scratch_for(ctx, channels, l, &s));
    AX_TRY(launch_partials(ctx, __func__, StatsTerm{x, inner}, outer, channels, inner, l,
                           s.partial));
    bn_forward_finish<<<channel_blocks(ctx, channels), kChannelThreads, 0, ax_stream(ctx)>>>(
        s.partial, l, x, channels, inner, (double)m, eps, factor, gamma, beta, running_mean,
        running_var, save_mean, save_invstd, s.coef);
    AX_TRY(AX_CUDA_LAUNCHED("bn_forward_finish"));
    return launch_apply<false, true>(ctx, __func__, x, nullptr, y, m * channels, channels, inner,
                                     s.coef);
}

extern "C" ax_status ax_cuda_batch_norm_forward_inference(ax_ctx *ctx, const float *x,
                                                          const float *gamma, const float *beta,
                                                          const float *mean, const float *var,
                                                          float eps, float *y, int64_t outer,
                                                          int64_t channels, int64_t inner) {
    const int64_t n = outer * channels * inner;
    if (n <= 0)
        return AX_OK;
    Scratch s;
    AX_TRY(scratch_for(ctx, channels, Layout{0, 0, 0}, &s));
    bn_inference_coef<<<channel_blocks(ctx, channels), kChannelThreads, 0, ax_stream(ctx)>>>(
        mean, var, eps, gamma, beta, channels, s.coef);
    AX_TRY(AX_CUDA_LAUNCHED("bn_inference_coef"));
    return launch_apply<false, true>(ctx, __func__, x, nullptr, y, n, channels, inner, s.coef);
}

extern "C" ax_status ax_cuda_batch_norm_backward(ax_ctx *ctx, int training, const float *x,
                                                 const float *dy, const float *gamma,
                                                 const float *mean, const float *stat, float eps,
                                                 float *dx, float *dgamma, float *dbeta,
                                                 int64_t outer, int64_t channels,
                                                 int64_t inner) {
    const int64_t m = outer * inner;
    if (channels <= 0)
        return AX_OK;
    // the sums are needed for dgamma and dbeta, and for dx in training
    const bool sums = dgamma || dbeta || (training && dx);
    const Layout l = sums ? layout_for(ctx, outer, channels, inner) : Layout{0, 0, 0};
    if (!sums && !dx)
        return AX_OK;
    Scratch s;
    AX_TRY(scratch_for(ctx, channels, l, &s));
    if (sums)
        AX_TRY(launch_partials(ctx, __func__, GradTerm{x, dy, mean}, outer, channels, inner,
                               l, s.partial));
    bn_backward_finish<<<channel_blocks(ctx, channels), kChannelThreads, 0, ax_stream(ctx)>>>(
        sums ? s.partial : nullptr, l, training, mean, stat, eps, gamma, channels,
        (double)(m > 0 ? m : 1), dgamma, dbeta, s.coef);
    AX_TRY(AX_CUDA_LAUNCHED("bn_backward_finish"));
    if (!dx)
        return AX_OK;
    if (training)
        return launch_apply<true, true>(ctx, __func__, x, dy, dx, m * channels, channels, inner,
                                        s.coef);
    return launch_apply<true, false>(ctx, __func__, x, dy, dx, m * channels, channels, inner,
                                     s.coef);
}
