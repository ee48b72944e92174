// Bias add, axis sums and their broadcasts, sum of squares, dot products, max |x|,
// L1 / L2 penalties.
//
// Every reduction here is deterministic: no atomics; each sum has a fixed split into blocks
// and a fixed order inside them for a given device and shape, so reruns give the same bits.
// Sums accumulate in double per thread (one add per element, cheap next to the load).
//
// Axis sums over the middle of an [outer, dim, inner] view:
// - inner == 1 (rows): one warp per row, float4 loads when rows are 16-byte aligned; with
//   few long rows each row is split into chunks whose partial sums (scratch) a second pass
//   adds up.
// - inner > 1 (columns): blocks of 32 x 8 threads, x along inner (coalesced), y along dim;
//   with few blocks the dim axis is split into chunks in the same way.
#include "common.cuh"
#include "kernels.h"

namespace {

// Position (o, d, i) of flat element e in an [outer, dim, inner] view; step() moves to e + 1
// without dividing again.
struct Coord {
    int64_t o, d, i;
    __device__ __forceinline__ Coord(int64_t e, int64_t dim, int64_t inner) {
        int64_t q = e / inner;
        i = e - q * inner;
        o = q / dim;
        d = q - o * dim;
    }
    __device__ __forceinline__ void step(int64_t dim, int64_t inner) {
        if (++i == inner) {
            i = 0;
            if (++d == dim) {
                d = 0;
                ++o;
            }
        }
    }
};

// y[o, d, i] += b[d]
struct BiasAddOp {
    static constexpr int kInputs = 1;
    const float *b;
    int64_t dim, inner;
    template <int W>
    __device__ __forceinline__ void apply(int64_t e0, const float (&y_in)[W], const float (&)[W],
                                          float (&y)[W]) const {
        Coord c(e0, dim, inner);
#pragma unroll
        for (int k = 0; k < W; k++) {
            y[k] = __fadd_rn(y_in[k], b[c.d]);
            c.step(dim, inner);
        }
    }
};

// dx[o, d, i] = scale * dy[o, i]
struct BroadcastOp {
    static constexpr int kInputs = 0;
    const float *dy;
    int64_t dim, inner;
    float scale;
    template <int W>
    __device__ __forceinline__ void apply(int64_t e0, const float (&)[W], const float (&)[W],
                                          float (&dx)[W]) const {
        Coord c(e0, dim, inner);
#pragma unroll
        for (int k = 0; k < W; k++) {
            dx[k] = __fmul_rn(scale, dy[c.o * inner + c.i]);
            c.step(dim, inner);
        }
    }
};

// x^2
struct SquareTerm {
    static constexpr int kInputs = 1;
    __device__ float f(float x, float) const { return __fmul_rn(x, x); }
};

// |w|
struct AbsTerm {
    static constexpr int kInputs = 1;
    __device__ float f(float w, float) const { return fabsf(w); }
};

// dw += lambda sign(w), sign(0) = 0
struct L1GradOp {
    static constexpr int kInputs = 2;
    float lambda;
    __device__ float f(float w, float dw) const {
        float sign = w > 0.0f ? 1.0f : w < 0.0f ? -1.0f : 0.0f;
        return __fadd_rn(dw, __fmul_rn(lambda, sign));
    }
};

// dw += lambda w
struct L2GradOp {
    static constexpr int kInputs = 2;
    float lambda;
    __device__ float f(float w, float dw) const { return __fadd_rn(dw, __fmul_rn(lambda, w)); }
};

// a[e] b[e] in double (exact: a product of two floats fits), W of them summed in order
struct DotTerm {
    static constexpr int kInputs = 2;
    template <int W>
    __device__ __forceinline__ double sum(int64_t, const float (&a)[W], const float (&b)[W]) const {
        double s = 0.0;
#pragma unroll
        for (int k = 0; k < W; k++)
            s += (double)a[k] * (double)b[k];
        return s;
    }
};

// max of magnitudes where a NaN wins: commutative, so every lane of a butterfly agrees
struct NanMaxAbs {
    __device__ __forceinline__ float operator()(float a, float b) const {
        return a > b || isnan(a) ? a : b;
    }
};

// Stage 1 of max |x|: block k takes its grid-stride share and writes partial[k], or out[0]
// at once when it is the only block. Stage 2 runs the same kernel over the partials.
__global__ void __launch_bounds__(kThreads)
    abs_max_kernel(const float *x, int64_t n, float *partial, float *out) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    float m = 0.0f;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += stride)
        m = NanMaxAbs{}(m, fabsf(x[e]));
    m = block_reduce(m, NanMaxAbs{}, 0.0f);
    if (threadIdx.x == 0)
        (gridDim.x == 1 ? out : partial)[blockIdx.x] = m;
}

// ---------------------------------------------------------------- axis sums

// Where a sum lands: y[j] = (float)(scale * v), or partial[j] = v (double, unscaled) when
// partial is set (a first stage, or an intermediate of bias_grad).
struct SumOut {
    float *y;
    double *partial;
    double scale;
    __device__ __forceinline__ void write(int64_t j, double v) const {
        if (partial)
            partial[j] = v;
        else
            y[j] = (float)(scale * v);
    }
};

constexpr int kWarpsPerBlock = kThreads / 32;

// out[r * splits + k] = sum of x[r, c] for c in chunk k = [k chunk, (k + 1) chunk) of row r;
// one warp per (row, chunk). Vec: float rows, 16-byte aligned, len % 4 == 0, chunk % 4 == 0.
template <typename T, bool Vec>
__global__ void __launch_bounds__(kThreads)
    row_sum_kernel(const T *x, int64_t rows, int64_t len, int64_t chunk, int64_t splits,
                   SumOut out) {
    const int lane = threadIdx.x & 31;
    const int64_t warps = (int64_t)gridDim.x * kWarpsPerBlock;
    for (int64_t seg = blockIdx.x * (int64_t)kWarpsPerBlock + (threadIdx.x >> 5);
         seg < rows * splits; seg += warps) { // warp-uniform
        const int64_t r = seg / splits, k = seg - r * splits;
        const int64_t begin = k * chunk, end = min(begin + chunk, len);
        const T *row = x + r * len;
        double acc = 0.0;
        if constexpr (Vec) {
            for (int64_t c = begin + 4 * lane; c < end; c += 128) {
                float v[4];
                load_w<4>(row, c, v);
                acc += (v[0] + v[1]) + (v[2] + v[3]);
            }
        } else {
            for (int64_t c = begin + lane; c < end; c += 32)
                acc += (double)row[c];
        }
        acc = group_reduce<32>(acc, Sum{});
        if (lane == 0)
            out.write(seg, acc);
    }
}

// out[(k outer + o) inner + i] = sum of x[o, d, i] for d in chunk k of dim; blockIdx.z = k.
template <typename T>
__global__ void __launch_bounds__(256)
    col_sum_kernel(const T *x, int64_t outer, int64_t dim, int64_t inner, int64_t chunk,
                   SumOut out) {
    __shared__ double part[8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int64_t k = blockIdx.z;
    const int64_t d0 = k * chunk, d1 = min(d0 + chunk, dim);
    const int64_t tiles = (inner + 31) / 32;
    for (int64_t o = blockIdx.y; o < outer; o += gridDim.y) {     // block-uniform
        for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) { // block-uniform
            const int64_t i = t * 32 + tx;
            double acc = 0.0;
            if (i < inner)
                for (int64_t d = d0 + ty; d < d1; d += 8)
                    acc += (double)x[(o * dim + d) * inner + i];
            part[ty][tx] = acc;
            __syncthreads();
            if (ty == 0 && i < inner) {
                double s = part[0][tx];
#pragma unroll
                for (int j = 1; j < 8; j++)
                    s += part[j][tx];
                out.write((k * outer + o) * inner + i, s);
            }
            __syncthreads();
        }
    }
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// How a row sum is split: `splits` chunks of `chunk` elements (a multiple of 4) per row,
// enough warps to fill the device when the rows are few and long.
struct RowPlan {
    int64_t chunk, splits;
};

RowPlan plan_rows(const ax_ctx *ctx, int64_t rows, int64_t len) {
    const int64_t want = (int64_t)ctx->info.multiprocessors * 64; // warps of a full device
    int64_t splits = 1;
    if (rows < want && len > 2048) {
        splits = ceil_div(want, rows);
        if (splits > ceil_div(len, 1024))
            splits = ceil_div(len, 1024);
    }
    int64_t chunk = (ceil_div(len, splits) + 3) / 4 * 4;
    return {chunk, ceil_div(len, chunk)};
}

// Doubles of scratch a row sum needs for its partials.
int64_t row_scratch(const ax_ctx *ctx, int64_t rows, int64_t len) {
    RowPlan p = plan_rows(ctx, rows, len);
    return p.splits > 1 ? rows * p.splits : 0;
}

// out[r] = sum_c x[r, c] over rows x len; `partial` holds row_scratch() doubles.
template <typename T>
ax_status row_sum(ax_ctx *ctx, const char *fn, const T *x, int64_t rows, int64_t len,
                  SumOut out, double *partial) {
    const RowPlan p = plan_rows(ctx, rows, len);
    const SumOut first = p.splits > 1 ? SumOut{nullptr, partial, 1.0} : out;
    const unsigned blocks = ax_cuda_blocks(ctx, rows * p.splits, kWarpsPerBlock);
    cudaStream_t stream = ax_stream(ctx);
    if (sizeof(T) == 4 && aligned16(x) && len % 4 == 0)
        row_sum_kernel<T, sizeof(T) == 4>
            <<<blocks, kThreads, 0, stream>>>(x, rows, len, p.chunk, p.splits, first);
    else
        row_sum_kernel<T, false>
            <<<blocks, kThreads, 0, stream>>>(x, rows, len, p.chunk, p.splits, first);
    AX_TRY(launched(fn, "launch of row_sum_kernel"));
    if (p.splits == 1)
        return AX_OK;
    row_sum_kernel<double, false><<<ax_cuda_blocks(ctx, rows, kWarpsPerBlock), kThreads, 0,
                                    stream>>>(partial, rows, p.splits, p.splits, 1, out);
    return launched(fn, "launch of row_sum_kernel (partials)");
}

// How a column sum is split: `splits` chunks of `chunk` along dim when the grid is small.
struct ColPlan {
    dim3 grid;
    int64_t chunk;
};

ColPlan plan_cols(const ax_ctx *ctx, int64_t outer, int64_t dim, int64_t inner) {
    const int64_t gx = ceil_div(inner, 32) < 65535 ? ceil_div(inner, 32) : 65535;
    const int64_t gy = outer < 65535 ? outer : 65535;
    const int64_t want = (int64_t)ctx->info.multiprocessors * 8; // blocks of a full device
    int64_t splits = 1;
    if (gx * gy < want && dim > 64) {
        splits = ceil_div(want, gx * gy);
        if (splits > ceil_div(dim, 32))
            splits = ceil_div(dim, 32);
        if (splits > 65535)
            splits = 65535;
    }
    const int64_t chunk = ceil_div(dim, splits);
    return {dim3((unsigned)gx, (unsigned)gy, (unsigned)ceil_div(dim, chunk)), chunk};
}

int64_t col_scratch(const ax_ctx *ctx, int64_t outer, int64_t dim, int64_t inner) {
    ColPlan p = plan_cols(ctx, outer, dim, inner);
    return p.grid.z > 1 ? (int64_t)p.grid.z * outer * inner : 0;
}

// out[o, i] = sum_d x[o, d, i]; `partial` holds col_scratch() doubles.
template <typename T>
ax_status col_sum(ax_ctx *ctx, const char *fn, const T *x, int64_t outer, int64_t dim,
                  int64_t inner, SumOut out, double *partial) {
    const ColPlan p = plan_cols(ctx, outer, dim, inner);
    const dim3 block(32, 8);
    cudaStream_t stream = ax_stream(ctx);
    const bool split = p.grid.z > 1;
    col_sum_kernel<T><<<p.grid, block, 0, stream>>>(x, outer, dim, inner, p.chunk,
                                                    split ? SumOut{nullptr, partial, 1.0} : out);
    AX_TRY(launched(fn, "launch of col_sum_kernel"));
    if (!split)
        return AX_OK;
    // the partials are [splits, outer * inner]: a column sum with outer 1
    const int64_t n = outer * inner, splits = p.grid.z;
    const dim3 grid2((unsigned)(ceil_div(n, 32) < 65535 ? ceil_div(n, 32) : 65535), 1, 1);
    col_sum_kernel<double><<<grid2, block, 0, stream>>>(partial, 1, splits, n, splits, out);
    return launched(fn, "launch of col_sum_kernel (partials)");
}

// Middle-axis sum of [outer, dim, inner] into out, rows or columns as suits the layout.
template <typename T>
ax_status axis_sum(ax_ctx *ctx, const char *fn, const T *x, int64_t outer, int64_t dim,
                   int64_t inner, SumOut out, double *partial) {
    if (inner == 1)
        return row_sum(ctx, fn, x, outer, dim, out, partial);
    return col_sum(ctx, fn, x, outer, dim, inner, out, partial);
}

int64_t axis_scratch(const ax_ctx *ctx, int64_t outer, int64_t dim, int64_t inner) {
    return inner == 1 ? row_scratch(ctx, outer, dim) : col_scratch(ctx, outer, dim, inner);
}

} // namespace

extern "C" ax_status ax_cuda_bias_add(ax_ctx *ctx, float *y, const float *b, int64_t outer,
                                      int64_t dim, int64_t inner) {
    return launch_map(ctx, __func__, "launch of bias add", BiasAddOp{b, dim, inner},
                      outer * dim * inner, y, nullptr, y);
}

extern "C" ax_status ax_cuda_broadcast(ax_ctx *ctx, const float *dy, float *dx, int64_t outer,
                                       int64_t dim, int64_t inner, float scale) {
    return launch_map(ctx, __func__, "launch of broadcast", BroadcastOp{dy, dim, inner, scale},
                      outer * dim * inner, nullptr, nullptr, dx);
}

extern "C" ax_status ax_cuda_reduce_sum(ax_ctx *ctx, const float *x, float *y, int64_t outer,
                                        int64_t dim, int64_t inner, float scale) {
    double *partial = nullptr;
    const int64_t need = axis_scratch(ctx, outer, dim, inner);
    if (need > 0)
        AX_TRY(ax_ctx_scratch(ctx, (size_t)need * sizeof(double), (void **)&partial));
    return axis_sum(ctx, __func__, x, outer, dim, inner, SumOut{y, nullptr, scale}, partial);
}

// db[d] = sum_{o, i} dy[o, d, i]:
// inner == 1: column sums of dy as [outer, dim];
// otherwise:  t[o, d] = sum_i dy[o, d, i] (row sums, in double), then db = column sums of t.
extern "C" ax_status ax_cuda_bias_grad(ax_ctx *ctx, const float *dy, float *db, int64_t outer,
                                       int64_t dim, int64_t inner) {
    const SumOut out{db, nullptr, 1.0};
    if (inner == 1 || outer == 1) {
        // [outer, dim] column sums, or [dim, inner] row sums
        const int64_t o2 = inner == 1 ? 1 : dim, d2 = inner == 1 ? outer : inner,
                      i2 = inner == 1 ? dim : 1;
        double *partial = nullptr;
        const int64_t need = axis_scratch(ctx, o2, d2, i2);
        if (need > 0)
            AX_TRY(ax_ctx_scratch(ctx, (size_t)need * sizeof(double), (void **)&partial));
        return axis_sum(ctx, __func__, dy, o2, d2, i2, out, partial);
    }
    const int64_t rows = outer * dim;
    const int64_t need_rows = row_scratch(ctx, rows, inner);
    const int64_t need_cols = col_scratch(ctx, 1, outer, dim);
    double *t = nullptr;
    AX_TRY(ax_ctx_scratch(ctx, (size_t)(rows + need_rows + need_cols) * sizeof(double),
                          (void **)&t));
    AX_TRY(row_sum(ctx, __func__, dy, rows, inner, SumOut{nullptr, t, 1.0}, t + rows));
    return col_sum(ctx, __func__, (const double *)t, 1, outer, dim, out, t + rows + need_rows);
}

extern "C" ax_status ax_cuda_sum_squares(ax_ctx *ctx, const float *x, int64_t n, int accumulate,
                                         float *out) {
    return launch_reduce(ctx, __func__, "launch of sum of squares", PointwiseTerm<SquareTerm>{},
                         n, x, nullptr, ScalarOut{out, 1.0, accumulate});
}

extern "C" ax_status ax_cuda_l1_penalty(ax_ctx *ctx, const float *w, int64_t n, float lambda,
                                        float *out, float *dw) {
    if (out)
        AX_TRY(launch_reduce(ctx, __func__, "launch of L1 penalty", PointwiseTerm<AbsTerm>{}, n,
                             w, nullptr, ScalarOut{out, (double)lambda, 1}));
    if (dw)
        AX_TRY(launch_map(ctx, __func__, "launch of L1 gradient", Pointwise<L1GradOp>{{lambda}},
                          n, w, dw, dw));
    return AX_OK;
}

extern "C" ax_status ax_cuda_l2_penalty(ax_ctx *ctx, const float *w, int64_t n, float lambda,
                                        float *out, float *dw) {
    if (out)
        AX_TRY(launch_reduce(ctx, __func__, "launch of L2 penalty", PointwiseTerm<SquareTerm>{},
                             n, w, nullptr, ScalarOut{out, 0.5 * (double)lambda, 1}));
    if (dw)
        AX_TRY(launch_map(ctx, __func__, "launch of L2 gradient", Pointwise<L2GradOp>{{lambda}},
                          n, w, dw, dw));
    return AX_OK;
}

extern "C" ax_status ax_cuda_dot(ax_ctx *ctx, const float *a, const float *b, int64_t n,
                                 float *out) {
    return launch_reduce(ctx, __func__, "launch of dot", DotTerm{}, n, a, b,
                         ScalarOut{out, 1.0, 0});
}

extern "C" ax_status ax_cuda_abs_max(ax_ctx *ctx, const float *x, int64_t n, float *out) {
    const unsigned blocks = min_blocks(resident_blocks(ctx, kThreads), ceil_div(n, kThreads));
    float *partial = nullptr;
    if (blocks > 1)
        AX_TRY(ax_ctx_scratch(ctx, blocks * sizeof(float), (void **)&partial));
    cudaStream_t stream = ax_stream(ctx);
    abs_max_kernel<<<blocks, kThreads, 0, stream>>>(x, n, partial, out);
    AX_TRY(launched(__func__, "launch of abs_max_kernel"));
    if (blocks == 1)
        return AX_OK;
    abs_max_kernel<<<1, kThreads, 0, stream>>>(partial, blocks, nullptr, out);
    return launched(__func__, "launch of abs_max_kernel (partials)");
}
