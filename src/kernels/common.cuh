// Device helpers shared by the kernel families (activation, dropout, loss, reduce, softmax):
// the vectorized elementwise map, warp and block reductions in a fixed order, and the
// deterministic two-stage scalar reduction. Everything here has internal linkage, so each
// .cu file gets its own copy and no kernel symbol clashes between translation units.
//
// Aliasing: no pointer is __restrict__ and no load goes through the read-only path, because
// several ops work in place (y may alias x, dx may alias dy). Each element is read and then
// written by the same thread, so in-place use is safe.
#ifndef AX_KERNELS_COMMON_CUH
#define AX_KERNELS_COMMON_CUH

#include <stdint.h>

#include "../host/cuda/cuda_internal.h"

namespace {

constexpr int kThreads = 256;        // threads of the 1-D and row kernels
constexpr int kFinishThreads = 1024; // the one block of a reduction's second stage
constexpr unsigned kFullMask = 0xffffffffu;

inline bool aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

// The launch check for helpers whose kernel name is not a literal (see AX_CUDA_LAUNCHED).
inline ax_status launched(const char *fn, const char *what) {
    return ax_cuda_status(cudaGetLastError(), fn, what);
}

// Blocks that stay resident together for a reduction's first stage: one partial each.
inline unsigned resident_blocks(const ax_ctx *ctx, int threads) {
    int per_sm = 2048 / threads;
    int64_t b = (int64_t)ctx->info.multiprocessors * (per_sm < 1 ? 1 : per_sm);
    return b < 1 ? 1u : (unsigned)b;
}

inline unsigned min_blocks(unsigned a, int64_t b) {
    return b < 1 ? 1u : (int64_t)a < b ? a : (unsigned)b;
}

// ---------------------------------------------------------------- correctly rounded math

// Sigmoid 1 / (1 + e^-x), stable form: e^x / (1 + e^x) for x < 0. Accurate expf, IEEE
// division (no fast math), so it stays within a few ulp of the CPU reference.
__device__ __forceinline__ float sigmoid(float x) {
    if (x >= 0.0f)
        return 1.0f / __fadd_rn(1.0f, expf(-x));
    float e = expf(x);
    return e / __fadd_rn(1.0f, e);
}

// ---------------------------------------------------------------- loads and stores of W floats

// v[0..W) = p[e0..e0+W); W = 4 is one 16-byte load and needs p + e0 16-byte aligned.
template <int W, typename T>
__device__ __forceinline__ void load_w(const T *p, int64_t e0, float (&v)[W]) {
    if constexpr (W == 4) {
        static_assert(sizeof(T) == 4, "16-byte loads are for float data");
        float4 t = *reinterpret_cast<const float4 *>(p + e0);
        v[0] = t.x;
        v[1] = t.y;
        v[2] = t.z;
        v[3] = t.w;
    } else {
#pragma unroll
        for (int k = 0; k < W; k++)
            v[k] = (float)p[e0 + k];
    }
}

template <int W>
__device__ __forceinline__ void store_w(float *p, int64_t e0, const float (&v)[W]) {
    if constexpr (W == 4) {
        *reinterpret_cast<float4 *>(p + e0) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
#pragma unroll
        for (int k = 0; k < W; k++)
            p[e0 + k] = v[k];
    }
}

// ---------------------------------------------------------------- elementwise map

// An Op for map_kernel has `static constexpr int kInputs` (0, 1 or 2 streamed inputs a, b)
// and `template <int W> void apply(e0, a[W], b[W], y[W])` computing elements e0..e0+W-1
// (W = 4 only with e0 % 4 == 0). Pointwise<F> builds one from a scalar `float f(a, b)`.
template <class F> struct Pointwise : F {
    static constexpr int kInputs = F::kInputs;
    template <int W>
    __device__ __forceinline__ void apply(int64_t, const float (&a)[W], const float (&b)[W],
                                          float (&y)[W]) const {
#pragma unroll
        for (int k = 0; k < W; k++)
            y[k] = F::f(a[k], b[k]);
    }
};

// The W elements at e0 of the inputs an Op or Term reads (kInputs of them).
template <int W, class Op>
__device__ __forceinline__ void load_inputs(int64_t e0, const float *a, const float *b,
                                            float (&va)[W], float (&vb)[W]) {
    if constexpr (Op::kInputs >= 1)
        load_w<W>(a, e0, va);
    if constexpr (Op::kInputs >= 2)
        load_w<W>(b, e0, vb);
}

template <int W, class Op>
__device__ __forceinline__ void map_step(const Op &op, int64_t e0, const float (&va)[W],
                                         const float (&vb)[W], float *y) {
    float vy[W];
    op.template apply<W>(e0, va, vb, vy);
    store_w<W>(y, e0, vy);
}

// y[e] = op(e, a[e], b[e]) for e < n, grid-stride. Vec: every pointer is 16-byte aligned;
// float4 steps over the first n - n % 4 elements, two per iteration (v and v + stride, both
// loaded before either is stored, so twice the bytes are in flight), then threads 0..2 take
// the scalar tail. Each element is read and written by one thread, so y may alias a or b.
template <class Op, bool Vec>
__global__ void __launch_bounds__(kThreads)
    map_kernel(Op op, int64_t n, const float *a, const float *b, float *y) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if constexpr (Vec) {
        const int64_t nvec = n >> 2;
        for (int64_t v = e; v < nvec; v += 2 * stride) {
            const bool second = v + stride < nvec;
            float a0[4] = {}, b0[4] = {}, a1[4] = {}, b1[4] = {};
            load_inputs<4, Op>(v << 2, a, b, a0, b0);
            if (second)
                load_inputs<4, Op>((v + stride) << 2, a, b, a1, b1);
            map_step<4>(op, v << 2, a0, b0, y);
            if (second)
                map_step<4>(op, (v + stride) << 2, a1, b1, y);
        }
        e += nvec << 2;
    }
    for (; e < n; e += stride) {
        float a0[1] = {}, b0[1] = {};
        load_inputs<1, Op>(e, a, b, a0, b0);
        map_step<1>(op, e, a0, b0, y);
    }
}

// Queue map_kernel on ctx's stream: the float4 path when y and the inputs the op reads are
// 16-byte aligned, the scalar path otherwise. fn names the launcher, what the kernel.
template <class Op>
ax_status launch_map(ax_ctx *ctx, const char *fn, const char *what, const Op &op, int64_t n,
                     const float *a, const float *b, float *y) {
    if (n <= 0)
        return AX_OK;
    const bool vec = aligned16(y) && (Op::kInputs < 1 || aligned16(a)) &&
                     (Op::kInputs < 2 || aligned16(b));
    cudaStream_t stream = ax_stream(ctx);
    if (vec)
        map_kernel<Op, true>
            <<<ax_cuda_blocks(ctx, (n + 3) / 4, kThreads), kThreads, 0, stream>>>(op, n, a, b, y);
    else
        map_kernel<Op, false>
            <<<ax_cuda_blocks(ctx, n, kThreads), kThreads, 0, stream>>>(op, n, a, b, y);
    return launched(fn, what);
}

// ---------------------------------------------------------------- warp and block reductions

struct Sum {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct Max {
    __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Butterfly over groups of Width lanes (a power of two <= 32); every lane of a group ends with
// the same value (the combining functions are commutative). The whole warp must call it.
template <int Width, typename T, class F> __device__ __forceinline__ T group_reduce(T v, F f) {
#pragma unroll
    for (int o = Width / 2; o > 0; o >>= 1)
        v = f(v, __shfl_xor_sync(kFullMask, v, o, Width));
    return v;
}

// Reduce over the block (blockDim.x a multiple of 32) in a fixed order; the result is valid in
// every thread. The whole block must call it; back-to-back calls are safe.
template <typename T, class F> __device__ T block_reduce(T v, F f, T identity) {
    __shared__ T part[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = group_reduce<32>(v, f);
    __syncthreads(); // the previous call has finished reading part
    if (lane == 0)
        part[warp] = v;
    __syncthreads();
    v = lane < (int)(blockDim.x >> 5) ? part[lane] : identity;
    return group_reduce<32>(v, f);
}

template <typename T> __device__ __forceinline__ T block_sum(T v) {
    return block_reduce(v, Sum{}, T(0));
}

// ---------------------------------------------------------------- scalar reductions

// Where a scalar reduction lands: out[0] = (accumulate ? out[0] : 0) + scale * total, in
// double and rounded once, as the CPU reference does.
struct ScalarOut {
    float *out;
    double scale;
    int accumulate;
    __device__ __forceinline__ void write(double total) const {
        const double base = accumulate ? (double)out[0] : 0.0;
        out[0] = (float)(base + scale * total);
    }
};

// Stage 1: block k sums its grid-stride share of the terms in double and writes partial[k];
// with a single block it writes the result at once. A Term has `kInputs` like a map Op and
// `template <int W> float sum(e0, a[W], b[W])`, the sum of the W terms (pairwise for W = 4).
template <class Term, bool Vec>
__global__ void __launch_bounds__(kThreads)
    reduce_kernel(Term term, int64_t n, const float *a, const float *b, double *partial,
                  ScalarOut out) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    double acc = 0.0;
    if constexpr (Vec) {
        const int64_t nvec = n >> 2;
        for (int64_t v = e; v < nvec; v += 2 * stride) { // two float4 steps, as in map_kernel
            const bool second = v + stride < nvec;
            float a0[4] = {}, b0[4] = {}, a1[4] = {}, b1[4] = {};
            load_inputs<4, Term>(v << 2, a, b, a0, b0);
            if (second)
                load_inputs<4, Term>((v + stride) << 2, a, b, a1, b1);
            acc += term.template sum<4>(v << 2, a0, b0);
            if (second)
                acc += term.template sum<4>((v + stride) << 2, a1, b1);
        }
        e += nvec << 2;
    }
    for (; e < n; e += stride) {
        float a0[1] = {}, b0[1] = {};
        load_inputs<1, Term>(e, a, b, a0, b0);
        acc += term.template sum<1>(e, a0, b0);
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) {
        if (gridDim.x == 1)
            out.write(acc);
        else
            partial[blockIdx.x] = acc;
    }
}

// Stage 2: one block sums the count partials in a fixed order and writes the scalar.
template <typename Acc>
__global__ void __launch_bounds__(kFinishThreads)
    finish_kernel(const Acc *partial, int64_t count, ScalarOut out) {
    Acc acc = 0;
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x)
        acc += partial[i];
    acc = block_sum(acc);
    if (threadIdx.x == 0)
        out.write(acc);
}

// Pointwise<F>-style Term from a scalar `float f(a, b)`: per-element terms summed in float,
// pairwise within a float4, then accumulated in double by the caller.
template <class F> struct PointwiseTerm : F {
    static constexpr int kInputs = F::kInputs;
    template <int W>
    __device__ __forceinline__ float sum(int64_t, const float (&a)[W], const float (&b)[W]) const {
        if constexpr (W == 4)
            return (F::f(a[0], b[0]) + F::f(a[1], b[1])) + (F::f(a[2], b[2]) + F::f(a[3], b[3]));
        else
            return F::f(a[0], b[0]);
    }
};

// Deterministic scalar reduction of n terms: a fixed number of blocks for this device and n,
// a fixed order inside each, then one block over the partials (scratch). Same inputs on the
// same device give the same bits every run.
template <class Term>
ax_status launch_reduce(ax_ctx *ctx, const char *fn, const char *what, const Term &term,
                        int64_t n, const float *a, const float *b, ScalarOut out) {
    const bool vec = (Term::kInputs < 1 || aligned16(a)) && (Term::kInputs < 2 || aligned16(b));
    const int64_t work = vec ? (n + 3) / 4 : n;
    const unsigned blocks =
        min_blocks(resident_blocks(ctx, kThreads), (work + kThreads - 1) / kThreads);
    double *partial = nullptr;
    if (blocks > 1)
        AX_TRY(ax_ctx_scratch(ctx, blocks * sizeof(double), (void **)&partial));
    cudaStream_t stream = ax_stream(ctx);
    if (vec)
        reduce_kernel<Term, true><<<blocks, kThreads, 0, stream>>>(term, n, a, b, partial, out);
    else
        reduce_kernel<Term, false><<<blocks, kThreads, 0, stream>>>(term, n, a, b, partial, out);
    AX_TRY(launched(fn, what));
    if (blocks > 1) {
        finish_kernel<double><<<1, kFinishThreads, 0, stream>>>(partial, blocks, out);
        AX_TRY(launched(fn, "launch of finish_kernel"));
    }
    return AX_OK;
}

} // namespace

#endif
