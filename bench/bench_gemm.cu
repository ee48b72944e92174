// bench_gemm: axon's hand-written SGEMM (ax_gemm) against cuBLAS cublasSgemm (FP32, default
// math mode) on the same device in the same run, and OpenBLAS cblas_sgemm on the CPU.
//
// GPU cases: square m = n = k = 256 .. 8192, and the products of the MNIST MLP
// (784 -> 256 -> 128 -> 10) at batch 256 and 64: the forward y = x W^T (NT), and the
// backward dW = dy^T x (TN) and dx = dy W (NN).
// Each case is checked first: our result (output pre-filled with NaN, beta = 0) against
// cuBLAS's, max |ours - cuBLAS| / max |cuBLAS| < 1e-4, every element finite; a case that
// fails prints FAIL and the bench exits 1 at the end. Inputs are uniform in [-1, 1)
// (ax_rng_uniform), never zeros.
// Timing: CUDA events on the context's stream. All timed launches are queued behind a short
// spin kernel, so each event pair measures the GPU time of one call, not the host's launch
// latency. Ours and cuBLAS alternate, each on its own input set; the sets rotate over more
// than 3x the L2 size, so small cases run from device memory, not from L2. Median of the
// runs after warm-up. GFLOP/s = 2 m n k / time.
//
// Usage: bench_gemm [--quick]   (--quick: a few cases, fewer runs, for scripts/gpu-check)
// Without a CUDA device it prints the CPU table and "no CUDA device: GPU table skipped", and
// exits 0.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <cblas.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "axon.h"
#include "host/cuda/cuda_internal.h" // ax_stream(ctx): events and cuBLAS on the ctx's stream

#define BENCH_NAME "bench_gemm"
#include "bench_util.cuh"

namespace {

void cublas_ok(cublasStatus_t st, const char *what) {
    if (st != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "bench_gemm: %s: cuBLAS status %d\n", what, (int)st);
        exit(1);
    }
}

double gflops(int64_t m, int64_t n, int64_t k, double ms) {
    return 2.0 * (double)m * (double)n * (double)k / (ms * 1e-3) / 1e9;
}

struct Case {
    std::string name;
    int ta, tb; // op(A) = A^T when ta, op(B) = B^T when tb
    int64_t m, n, k;
};

// One product's operands on ctx: A stored [m, k] ([k, m] when ta), B [k, n] ([n, k] when tb),
// C [m, n].
struct Operands {
    ax_tensor *a = nullptr, *b = nullptr, *c = nullptr;
    void create(ax_ctx *ctx, const Case &cs, uint64_t seed) {
        const int64_t sa[2] = {cs.ta ? cs.k : cs.m, cs.ta ? cs.m : cs.k};
        const int64_t sb[2] = {cs.tb ? cs.n : cs.k, cs.tb ? cs.k : cs.n};
        const int64_t sc[2] = {cs.m, cs.n};
        ok(ax_tensor_create(ctx, AX_F32, 2, sa, &a), "ax_tensor_create a");
        ok(ax_tensor_create(ctx, AX_F32, 2, sb, &b), "ax_tensor_create b");
        ok(ax_tensor_create(ctx, AX_F32, 2, sc, &c), "ax_tensor_create c");
        ok(ax_rng_uniform(ctx, a, -1.0f, 1.0f, seed, 0), "ax_rng_uniform a");
        ok(ax_rng_uniform(ctx, b, -1.0f, 1.0f, seed, 1), "ax_rng_uniform b");
    }
    void destroy() {
        ax_tensor_destroy(a);
        ax_tensor_destroy(b);
        ax_tensor_destroy(c);
        a = b = c = nullptr;
    }
};

float *f32(ax_tensor *t) { return static_cast<float *>(ax_tensor_data(t)); }

// ---------------------------------------------------------------- CPU (OpenBLAS)

double now_s() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cpu_table(bool quick) {
    ax_ctx *cpu = nullptr;
    ok(ax_ctx_create(AX_DEVICE_CPU, 0, &cpu), "ax_ctx_create(CPU)");
    printf("\nCPU (OpenBLAS cblas_sgemm, row-major NN, %d threads; %s)\n",
           openblas_get_num_threads(), openblas_get_config());
    printf("%-10s %12s %12s\n", "size", "ms", "GFLOP/s");
    const std::vector<int64_t> sizes =
        quick ? std::vector<int64_t>{256, 512, 1024} : std::vector<int64_t>{256, 512, 1024, 2048};
    for (int64_t s : sizes) {
        Operands op;
        op.create(cpu, Case{"", 0, 0, s, s, s}, 77);
        const int reps = quick ? 3 : (s >= 2048 ? 5 : 10);
        std::vector<double> ms;
        for (int r = -1; r < reps; r++) { // r = -1: warm-up
            const double t0 = now_s();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s, (int)s, (int)s, 1.0f,
                        f32(op.a), (int)s, f32(op.b), (int)s, 0.0f, f32(op.c), (int)s);
            const double t1 = now_s();
            if (r >= 0)
                ms.push_back((t1 - t0) * 1e3);
        }
        const double t = median(ms);
        printf("%-10lld %12.3f %12.1f\n", (long long)s, t, gflops(s, s, s, t));
        op.destroy();
    }
    ax_ctx_destroy(cpu);
}

// ---------------------------------------------------------------- GPU

// C = op(A) op(B) through cuBLAS (column-major): the row-major C [m, n] is the column-major
// C^T [n, m] = op(B)^T op(A)^T, whose operands are the stored B and A read as column-major.
void cublas_gemm(cublasHandle_t h, const Case &cs, ax_tensor *a, ax_tensor *b, ax_tensor *c) {
    const float alpha = 1.0f, beta = 0.0f;
    const int lda = (int)(cs.ta ? cs.m : cs.k), ldb = (int)(cs.tb ? cs.k : cs.n);
    cublas_ok(cublasSgemm(h, cs.tb ? CUBLAS_OP_T : CUBLAS_OP_N, cs.ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                          (int)cs.n, (int)cs.m, (int)cs.k, &alpha, f32(b), ldb, f32(a), lda,
                          &beta, f32(c), (int)cs.n),
              "cublasSgemm");
}

void ours_gemm(ax_ctx *ctx, const Case &cs, ax_tensor *a, ax_tensor *b, ax_tensor *c) {
    ok(ax_gemm(ctx, cs.ta ? AX_TRANS : AX_NO_TRANS, cs.tb ? AX_TRANS : AX_NO_TRANS, 1.0f, a, b,
               0.0f, c),
       "ax_gemm");
}

struct Result {
    double rel_err = 0, ours_ms = 0, cublas_ms = 0;
    int sets = 0;
    bool pass = false;
};

// max |ours - ref| / max |ref| of one product, ours computed into a NaN-filled C; -1 when
// ours holds a NaN or an infinity.
double check_case(ax_ctx *ctx, cublasHandle_t h, const Case &cs, Operands &op) {
    const int64_t shape[2] = {cs.m, cs.n};
    ax_tensor *ref = nullptr;
    ok(ax_tensor_create(ctx, AX_F32, 2, shape, &ref), "ax_tensor_create ref");
    ok(ax_fill(ctx, op.c, NAN), "ax_fill NaN");
    ours_gemm(ctx, cs, op.a, op.b, op.c);
    cublas_gemm(h, cs, op.a, op.b, ref);
    ok(ax_ctx_synchronize(ctx), "check run");
    return rel_diff_and_free(op.c, ref);
}

Result run_case(ax_ctx *ctx, cublasHandle_t h, const Case &cs, int64_t l2_bytes, int sm_khz,
                bool quick) {
    Result res;
    // Input sets: enough to span 3x L2 (at least 1, at most 1024).
    const double set_bytes = 4.0 * (double)(cs.m * cs.k + cs.k * cs.n + cs.m * cs.n);
    int64_t sets = (int64_t)ceil(3.0 * (double)l2_bytes / set_bytes);
    sets = std::max<int64_t>(1, std::min<int64_t>(sets, 1024));
    res.sets = (int)sets;
    std::vector<Operands> ops((size_t)sets);
    for (int64_t s = 0; s < sets; s++)
        ops[(size_t)s].create(ctx, cs, 1000 + (uint64_t)s);

    res.rel_err = check_case(ctx, h, cs, ops[0]);
    res.pass = res.rel_err >= 0 && res.rel_err < 1e-4;
    if (!res.pass) {
        for (Operands &op : ops)
            op.destroy();
        return res;
    }

    const int warmup = quick ? 2 : 5;
    const int reps = quick ? 10 : 30;
    // Call i (ours on even i, cuBLAS on odd i) uses set i mod sets.
    int64_t next = 0;
    auto call = [&](bool cublas) {
        Operands &op = ops[(size_t)(next++ % sets)];
        if (cublas)
            cublas_gemm(h, cs, op.a, op.b, op.c);
        else
            ours_gemm(ctx, cs, op.a, op.b, op.c);
    };
    time_alternating(
        ctx, sm_khz, warmup, reps, [&] { call(false); }, [&] { call(true); }, &res.ours_ms,
        &res.cublas_ms);
    for (Operands &op : ops)
        op.destroy();
    return res;
}

std::vector<Case> gpu_cases(bool quick) {
    std::vector<Case> cases;
    const std::vector<int64_t> squares =
        quick ? std::vector<int64_t>{256, 1024, 4096}
              : std::vector<int64_t>{256, 512, 1024, 2048, 4096, 8192};
    for (int64_t s : squares)
        cases.push_back({"square " + std::to_string(s), 0, 0, s, s, s});
    // MNIST MLP 784 -> 256 -> 128 -> 10: x [B, in], W [out, in], dy [B, out]
    struct Layer {
        const char *name;
        int64_t in, out;
    } layers[] = {{"fc1", 784, 256}, {"fc2", 256, 128}, {"fc3", 128, 10}};
    const std::vector<int64_t> batches =
        quick ? std::vector<int64_t>{256} : std::vector<int64_t>{256, 64};
    for (int64_t bsz : batches)
        for (const Layer &l : layers) {
            const std::string p = "mlp b" + std::to_string(bsz) + " " + l.name;
            cases.push_back({p + " y=xW^T", 0, 1, bsz, l.out, l.in});  // [B, out]
            cases.push_back({p + " dW=dy^Tx", 1, 0, l.out, l.in, bsz}); // [out, in]
            if (!quick)
                cases.push_back({p + " dx=dyW", 0, 0, bsz, l.in, l.out}); // [B, in]
        }
    return cases;
}

// 0: all cases passed their check; 1: some failed.
int gpu_table(bool quick) {
    ax_device_info info;
    ax_ctx *ctx = gpu_ctx_or_skip(&info);
    if (!ctx)
        return 0;
    int l2 = 0, cublas_version = 0;
    cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, info.index);
    const GpuClocks clk = gpu_clocks(info.index);
    const int sm_khz = clk.sm_khz, mem_khz = clk.mem_khz, runtime = clk.runtime,
              driver = clk.driver;

    cublasHandle_t h;
    cublas_ok(cublasCreate(&h), "cublasCreate");
    cublas_ok(cublasSetStream(h, ax_stream(ctx)), "cublasSetStream");
    cublas_ok(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "cublasSetMathMode"); // FP32, no TF32
    cublas_ok(cublasGetVersion(h, &cublas_version), "cublasGetVersion");

    printf("GPU: %s (sm_%d%d, %d SMs, L2 %d MiB), SM clock %d MHz (max), memory clock %d MHz, "
           "CUDA runtime %d.%d, driver %d.%d, cuBLAS %d\n",
           info.name, info.cc_major, info.cc_minor, info.multiprocessors, l2 >> 20,
           sm_khz / 1000, mem_khz / 1000, runtime / 1000, runtime % 1000 / 10, driver / 1000,
           driver % 1000 / 10, cublas_version);
    printf("ours = ax_gemm (hand-written FP32 SIMT); cuBLAS = cublasSgemm, CUBLAS_DEFAULT_MATH "
           "(FP32); alpha 1, beta 0; median of %d runs\n\n",
           quick ? 10 : 30);
    printf("%-26s %5s %5s %5s %4s %11s %11s %7s %9s %9s %5s\n", "case", "m", "n", "k", "op",
           "ours GF/s", "cuBLAS GF/s", "ratio", "ours ms", "rel err", "sets");

    int failed = 0;
    double ratio_4096 = -1;
    for (const Case &cs : gpu_cases(quick)) {
        const Result r = run_case(ctx, h, cs, l2, sm_khz, quick);
        const char op[3] = {cs.ta ? 'T' : 'N', cs.tb ? 'T' : 'N', 0};
        if (!r.pass) {
            failed = 1;
            printf("%-26s %5lld %5lld %5lld %4s FAIL: %s (max |ours - cuBLAS| / max |cuBLAS|, "
                   "limit 1e-4)\n",
                   cs.name.c_str(), (long long)cs.m, (long long)cs.n, (long long)cs.k, op,
                   r.rel_err < 0 ? "non-finite output" : std::to_string(r.rel_err).c_str());
            fflush(stdout);
            continue;
        }
        const double ours = gflops(cs.m, cs.n, cs.k, r.ours_ms);
        const double theirs = gflops(cs.m, cs.n, cs.k, r.cublas_ms);
        if (cs.m == 4096 && cs.n == 4096 && cs.k == 4096)
            ratio_4096 = ours / theirs;
        printf("%-26s %5lld %5lld %5lld %4s %11.1f %11.1f %7.3f %9.4f %9.2e %5d\n",
               cs.name.c_str(), (long long)cs.m, (long long)cs.n, (long long)cs.k, op, ours,
               theirs, ours / theirs, r.ours_ms, r.rel_err, r.sets);
        fflush(stdout);
    }
    if (ratio_4096 >= 0)
        printf("\n4096^3: ours / cuBLAS = %.3f (target >= 0.70, goal 0.90)\n", ratio_4096);
    if (failed)
        printf("FAIL: some results differ from cuBLAS (see above)\n");
    cublasDestroy(h);
    ax_ctx_destroy(ctx);
    return failed;
}

} // namespace

int main(int argc, char **argv) {
    const bool quick = parse_quick(argc, argv);
    printf("bench_gemm%s\n", quick ? " --quick" : "");
    const int failed = gpu_table(quick);
    cpu_table(quick);
    return failed;
}
