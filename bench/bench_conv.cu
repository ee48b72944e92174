// bench_conv: axon's hand-written convolution (ax_conv2d_forward / _backward) against cuDNN
// on the same device in the same run, for forward, backward-data and backward-filter; and the
// CPU reference (im2col + OpenBLAS) on the MNIST CNN's layers.
//
// Each GPU row names the path the CUDA entry point takes on that layer and pass (conv.cu's
// choose_algo: generic implicit GEMM, pointwise 1x1 SGEMM, depthwise direct, Winograd
// F(2x2, 3x3)); where that is a specialised path, the generic implicit GEMM is checked and
// timed too (forced by AX_CONV_ALGO=generic, an internal switch of conv.cu), so each row shows
// whether the specialised path pays: ours, generic and cuDNN side by side.
//
// GPU cases: the 3x3 and 1x1 layers of ResNet-18/50 at batch 32 (and 128 without --quick), a
// depthwise 3x3 layer (MobileNet), a strided 3x3 layer, and the MNIST CNN's two convolutions
// at batch 256. cuDNN runs with FP32 math (CUDNN_FMA_MATH: no TF32) and, per pass, the fastest
// algorithm cudnnFind*AlgorithmEx finds with a 256 MiB workspace.
// Each pass is checked first (both paths): ours (output pre-filled with NaN) against cuDNN,
// max |ours - cuDNN| / max |cuDNN| < 1e-4 and every element finite; a failing pass prints
// FAIL and the bench exits 1 at the end. Inputs are uniform in [-1, 1) (ax_rng_uniform).
// Timing: CUDA events on the context's stream around each call, queued behind a spin kernel so
// that the host's launch latency is not measured; ours and cuDNN alternate; median of the runs
// after warm-up. The convolutions are compute-bound, so one input set is used (no rotation
// over L2). GFLOP/s = 2 N K OH OW (C/G) R S / time for every pass (backward-bias is not timed).
//
// Usage: bench_conv [--quick]   (--quick: batch 32 only, fewer runs, for scripts/gpu-check)
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

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "axon.h"
#include "host/common/conv_geom.h"
#include "host/cuda/cuda_internal.h" // ax_stream(ctx): events and cuDNN on the ctx's stream
#include "kernels/kernels.h"         // ax_cuda_conv2d_algo: the path a layer takes

#define BENCH_NAME "bench_conv"
#include "bench_util.cuh"

namespace {

// A layer: x [n, c, h, w], w [k, c/groups, r, s], symmetric padding (cuDNN's), stride, groups.
struct Layer {
    std::string name;
    int n, c, h, w, k, r, s, pad, stride, groups;
};

ax_conv2d_desc desc_of(const Layer &l) {
    ax_conv2d_desc d = ax_conv2d_desc_default();
    d.stride_h = d.stride_w = l.stride;
    d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = l.pad;
    d.groups = l.groups;
    return d;
}

// The layer's tensors on ctx: inputs random, outputs allocated.
struct Tensors {
    int64_t xs[4], ws[4], ys[4];
    ax_tensor *x = nullptr, *w = nullptr, *y = nullptr, *dy = nullptr, *dx = nullptr,
              *dw = nullptr;
    void create(ax_ctx *ctx, const Layer &l) {
        const int64_t xs0[4] = {l.n, l.c, l.h, l.w}, ws0[4] = {l.k, l.c / l.groups, l.r, l.s};
        memcpy(xs, xs0, sizeof xs);
        memcpy(ws, ws0, sizeof ws);
        const ax_conv2d_desc d = desc_of(l);
        ok(ax_conv2d_output_shape(&d, xs, ws, ys), "ax_conv2d_output_shape");
        ok(ax_tensor_create(ctx, AX_F32, 4, xs, &x), "create x");
        ok(ax_tensor_create(ctx, AX_F32, 4, ws, &w), "create w");
        ok(ax_tensor_create(ctx, AX_F32, 4, ys, &y), "create y");
        ok(ax_tensor_create(ctx, AX_F32, 4, ys, &dy), "create dy");
        ok(ax_tensor_create(ctx, AX_F32, 4, xs, &dx), "create dx");
        ok(ax_tensor_create(ctx, AX_F32, 4, ws, &dw), "create dw");
        ok(ax_rng_uniform(ctx, x, -1.0f, 1.0f, 1, 0), "random x");
        ok(ax_rng_uniform(ctx, w, -1.0f, 1.0f, 2, 0), "random w");
        ok(ax_rng_uniform(ctx, dy, -1.0f, 1.0f, 3, 0), "random dy");
    }
    void destroy() {
        for (ax_tensor *t : {x, w, y, dy, dx, dw})
            ax_tensor_destroy(t);
    }
};

double gflop(const Layer &l, const Tensors &t) {
    return 2.0 * (double)t.ys[0] * (double)t.ys[1] * (double)t.ys[2] * (double)t.ys[3] *
           (double)(l.c / l.groups) * l.r * l.s / 1e9;
}

// ---------------------------------------------------------------- CPU

double now_s() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

std::vector<Layer> mnist_layers(int batch) {
    return {{"mnist conv1 1->32 3x3", batch, 1, 28, 28, 32, 3, 3, 1, 1, 1},
            {"mnist conv2 32->64 3x3", batch, 32, 14, 14, 64, 3, 3, 1, 1, 1}};
}

void cpu_table(bool quick) {
    ax_ctx *ctx = nullptr;
    ok(ax_ctx_create(AX_DEVICE_CPU, 0, &ctx), "CPU context");
    const int reps = quick ? 3 : 10;
    printf("CPU reference (im2col + OpenBLAS), median of %d runs, batch 64\n", reps);
    printf("%-26s %10s %10s %10s\n", "layer", "fwd GF/s", "bwd-d GF/s", "bwd-f GF/s");
    for (const Layer &l : mnist_layers(64)) {
        Tensors t;
        t.create(ctx, l);
        const ax_conv2d_desc d = desc_of(l);
        std::vector<double> ms[3];
        for (int r = 0; r < reps; r++) {
            double t0 = now_s();
            ok(ax_conv2d_forward(ctx, &d, t.x, t.w, nullptr, t.y), "CPU forward");
            double t1 = now_s();
            ok(ax_conv2d_backward(ctx, &d, t.x, t.w, t.dy, t.dx, nullptr, nullptr), "CPU bwd-d");
            double t2 = now_s();
            ok(ax_conv2d_backward(ctx, &d, t.x, t.w, t.dy, nullptr, t.dw, nullptr), "CPU bwd-f");
            double t3 = now_s();
            ms[0].push_back(t1 - t0), ms[1].push_back(t2 - t1), ms[2].push_back(t3 - t2);
        }
        const double gf = gflop(l, t);
        printf("%-26s %10.1f %10.1f %10.1f\n", l.name.c_str(), gf / median(ms[0]),
               gf / median(ms[1]), gf / median(ms[2]));
        t.destroy();
    }
    printf("\n");
    ax_ctx_destroy(ctx);
}

// ---------------------------------------------------------------- GPU

enum Pass { kForward, kBackwardData, kBackwardFilter };
const char *const kPassName[3] = {"fwd", "bwd-data", "bwd-filter"};

// cuDNN's descriptors, algorithms and workspace for one layer.
struct Cudnn {
    cudnnHandle_t h;
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    void *ws;
    size_t ws_bytes;

    void create(cudnnHandle_t handle, const Layer &l, const Tensors &t, void *workspace,
                size_t bytes) {
        h = handle, ws = workspace, ws_bytes = bytes;
        cudnn_ok(cudnnCreateTensorDescriptor(&xd), "x descriptor");
        cudnn_ok(cudnnCreateTensorDescriptor(&yd), "y descriptor");
        cudnn_ok(cudnnCreateFilterDescriptor(&wd), "w descriptor");
        cudnn_ok(cudnnCreateConvolutionDescriptor(&cd), "conv descriptor");
        cudnn_ok(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, l.n, l.c,
                                            l.h, l.w),
                 "set x");
        cudnn_ok(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                            (int)t.ys[0], (int)t.ys[1], (int)t.ys[2],
                                            (int)t.ys[3]),
                 "set y");
        cudnn_ok(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, l.k,
                                            l.c / l.groups, l.r, l.s),
                 "set w");
        cudnn_ok(cudnnSetConvolution2dDescriptor(cd, l.pad, l.pad, l.stride, l.stride, 1, 1,
                                                 CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                 "set conv");
        cudnn_ok(cudnnSetConvolutionGroupCount(cd, l.groups), "group count");
        cudnn_ok(cudnnSetConvolutionMathType(cd, CUDNN_FMA_MATH), "FP32 math");
        int got = 0;
        cudnnConvolutionFwdAlgoPerf_t pf[8];
        cudnn_ok(cudnnFindConvolutionForwardAlgorithmEx(
                     h, xd, ax_tensor_data(t.x), wd, ax_tensor_data(t.w), cd, yd,
                     ax_tensor_data(t.y), 8, &got, pf, ws, ws_bytes),
                 "find forward");
        fwd = pick(pf, got, "forward").algo;
        cudnnConvolutionBwdDataAlgoPerf_t pd[8];
        cudnn_ok(cudnnFindConvolutionBackwardDataAlgorithmEx(
                     h, wd, ax_tensor_data(t.w), yd, ax_tensor_data(t.dy), cd, xd,
                     ax_tensor_data(t.dx), 8, &got, pd, ws, ws_bytes),
                 "find backward data");
        bwd_data = pick(pd, got, "backward data").algo;
        cudnnConvolutionBwdFilterAlgoPerf_t pw[8];
        cudnn_ok(cudnnFindConvolutionBackwardFilterAlgorithmEx(
                     h, xd, ax_tensor_data(t.x), yd, ax_tensor_data(t.dy), cd, wd,
                     ax_tensor_data(t.dw), 8, &got, pw, ws, ws_bytes),
                 "find backward filter");
        bwd_filter = pick(pw, got, "backward filter").algo;
    }
    // The fastest algorithm that ran (results come sorted by time).
    template <class P> static const P &pick(const P *perf, int n, const char *what) {
        for (int i = 0; i < n; i++)
            if (perf[i].status == CUDNN_STATUS_SUCCESS)
                return perf[i];
        fprintf(stderr, "bench_conv: cuDNN found no %s algorithm\n", what);
        exit(1);
    }
    void run(Pass p, Tensors &t, ax_tensor *out) {
        const float one = 1.0f, zero = 0.0f;
        if (p == kForward)
            cudnn_ok(cudnnConvolutionForward(h, &one, xd, ax_tensor_data(t.x), wd,
                                             ax_tensor_data(t.w), cd, fwd, ws, ws_bytes, &zero,
                                             yd, ax_tensor_data(out)),
                     "cudnnConvolutionForward");
        else if (p == kBackwardData)
            cudnn_ok(cudnnConvolutionBackwardData(h, &one, wd, ax_tensor_data(t.w), yd,
                                                  ax_tensor_data(t.dy), cd, bwd_data, ws,
                                                  ws_bytes, &zero, xd, ax_tensor_data(out)),
                     "cudnnConvolutionBackwardData");
        else
            cudnn_ok(cudnnConvolutionBackwardFilter(h, &one, xd, ax_tensor_data(t.x), yd,
                                                    ax_tensor_data(t.dy), cd, bwd_filter, ws,
                                                    ws_bytes, &zero, wd, ax_tensor_data(out)),
                     "cudnnConvolutionBackwardFilter");
    }
    void destroy() {
        cudnnDestroyTensorDescriptor(xd);
        cudnnDestroyTensorDescriptor(yd);
        cudnnDestroyFilterDescriptor(wd);
        cudnnDestroyConvolutionDescriptor(cd);
    }
};

void ours(ax_ctx *ctx, const Layer &l, Pass p, Tensors &t, ax_tensor *out) {
    const ax_conv2d_desc d = desc_of(l);
    if (p == kForward)
        ok(ax_conv2d_forward(ctx, &d, t.x, t.w, nullptr, out), "ours forward");
    else if (p == kBackwardData)
        ok(ax_conv2d_backward(ctx, &d, t.x, t.w, t.dy, out, nullptr, nullptr), "ours bwd-data");
    else
        ok(ax_conv2d_backward(ctx, &d, t.x, t.w, t.dy, nullptr, out, nullptr), "ours bwd-filt");
}

// max |ours - cuDNN| / max |cuDNN| for one pass; -1 when ours holds a NaN or an infinity.
double check_pass(ax_ctx *ctx, const Layer &l, Pass p, Tensors &t, Cudnn &dnn) {
    ax_tensor *mine = p == kForward ? t.y : p == kBackwardData ? t.dx : t.dw;
    ax_tensor *ref = nullptr;
    const int64_t *shape = p == kForward ? t.ys : p == kBackwardData ? t.xs : t.ws;
    ok(ax_tensor_create(ctx, AX_F32, 4, shape, &ref), "create reference");
    ok(ax_fill(ctx, mine, NAN), "NaN fill");
    ours(ctx, l, p, t, mine);
    dnn.run(p, t, ref);
    ok(ax_ctx_synchronize(ctx), "check run");
    return rel_diff_and_free(mine, ref);
}

// The path conv.cu's dispatch takes for the layer's pass.
const char *path_of(const Layer &l, const Tensors &t, Pass p) {
    ax_conv2d_geom g{};
    g.n = l.n, g.c = l.c, g.h = l.h, g.w = l.w, g.k = l.k, g.r = l.r, g.s = l.s;
    g.oh = t.ys[2], g.ow = t.ys[3], g.stride_h = g.stride_w = l.stride;
    g.pad_top = g.pad_left = l.pad, g.dil_h = g.dil_w = 1, g.groups = l.groups;
    g.cg = l.c / l.groups, g.kg = l.k / l.groups;
    return ax_cuda_conv2d_algo(&g, (int)p);
}

// Runs f with the implicit GEMM forced (AX_CONV_ALGO=generic) or as dispatched.
template <class F> void with_path(bool generic, F f) {
    if (generic)
        setenv("AX_CONV_ALGO", "generic", 1);
    f();
    unsetenv("AX_CONV_ALGO");
}

// Median ms of ours and of cuDNN, alternating, behind a spin kernel.
void time_pass(ax_ctx *ctx, const Layer &l, Pass p, Tensors &t, Cudnn &dnn, int sm_khz,
               bool quick, double *ours_ms, double *dnn_ms) {
    ax_tensor *out = p == kForward ? t.y : p == kBackwardData ? t.dx : t.dw;
    time_alternating(
        ctx, sm_khz, quick ? 2 : 5, quick ? 10 : 30, [&] { ours(ctx, l, p, t, out); },
        [&] { dnn.run(p, t, out); }, ours_ms, dnn_ms);
}

std::vector<Layer> gpu_layers(bool quick) {
    std::vector<Layer> out;
    const std::vector<int> batches = quick ? std::vector<int>{32} : std::vector<int>{32, 128};
    for (int b : batches) {
        const std::string p = "b" + std::to_string(b) + " ";
        // ResNet-18/50 3x3 (stride 1) and 1x1 layers
        out.push_back({p + "r18 3x3 64 56", b, 64, 56, 56, 64, 3, 3, 1, 1, 1});
        out.push_back({p + "r18 3x3 128 28", b, 128, 28, 28, 128, 3, 3, 1, 1, 1});
        out.push_back({p + "r18 3x3 256 14", b, 256, 14, 14, 256, 3, 3, 1, 1, 1});
        out.push_back({p + "r18 3x3 512 7", b, 512, 7, 7, 512, 3, 3, 1, 1, 1});
        out.push_back({p + "r50 1x1 256->64 56", b, 256, 56, 56, 64, 1, 1, 0, 1, 1});
        out.push_back({p + "r50 1x1 64->256 56", b, 64, 56, 56, 256, 1, 1, 0, 1, 1});
        out.push_back({p + "r50 1x1 1024->256 14", b, 1024, 14, 14, 256, 1, 1, 0, 1, 1});
        out.push_back({p + "strided 3x3 128->256 /2", b, 128, 28, 28, 256, 3, 3, 1, 2, 1});
        out.push_back({p + "depthwise 3x3 256 28", b, 256, 28, 28, 256, 3, 3, 1, 1, 256});
    }
    for (const Layer &l : mnist_layers(256))
        out.push_back(l);
    return out;
}

// 0: every pass matched cuDNN; 1: some did not.
int gpu_table(bool quick) {
    ax_device_info info;
    ax_ctx *ctx = gpu_ctx_or_skip(&info);
    if (!ctx)
        return 0;
    const GpuClocks clk = gpu_clocks(info.index);
    cudnnHandle_t h;
    cudnn_ok(cudnnCreate(&h), "cudnnCreate");
    cudnn_ok(cudnnSetStream(h, ax_stream(ctx)), "cudnnSetStream");
    const size_t ws_bytes = (size_t)256 << 20;
    void *ws = nullptr;
    cuda_ok(cudaMalloc(&ws, ws_bytes), "cudaMalloc workspace");
    printf("GPU: %s (sm_%d%d, %d SMs), SM clock %d MHz (max), memory clock %d MHz, CUDA runtime "
           "%d.%d, driver %d.%d, cuDNN %zu\n",
           info.name, info.cc_major, info.cc_minor, info.multiprocessors, clk.sm_khz / 1000,
           clk.mem_khz / 1000, clk.runtime / 1000, clk.runtime % 1000 / 10, clk.driver / 1000,
           clk.driver % 1000 / 10, cudnnGetVersion());
    printf("ours = ax_conv2d as dispatched (path: the kernels it runs, FP32 SIMT); generic = the "
           "implicit GEMM forced, where the path is another; cuDNN = fastest of cudnnFind*Ex, "
           "CUDNN_FMA_MATH, 256 MiB workspace; ratios = cuDNN time / ours; median of %d runs\n\n",
           quick ? 10 : 30);
    printf("%-28s %-10s %-9s %9s %9s %9s %7s %7s %9s\n", "layer", "pass", "path", "ours GF/s",
           "gen GF/s", "cuDNN GF/s", "ours/dnn", "gen/dnn", "rel err");
    int failed = 0;
    double log_sum = 0, log_sum_generic = 0;
    int log_n = 0;
    for (const Layer &l : gpu_layers(quick)) {
        Tensors t;
        t.create(ctx, l);
        Cudnn dnn;
        dnn.create(h, l, t, ws, ws_bytes);
        const double gf = gflop(l, t);
        for (int pi = 0; pi < 3; pi++) {
            const Pass p = (Pass)pi;
            const char *path = path_of(l, t, p);
            const bool special = strcmp(path, "generic") != 0;
            double err[2] = {0, 0}; // dispatched, generic forced
            for (int gen = 0; gen < (special ? 2 : 1); gen++)
                with_path(gen, [&] { err[gen] = check_pass(ctx, l, p, t, dnn); });
            bool bad = false;
            for (int gen = 0; gen < (special ? 2 : 1); gen++)
                if (err[gen] < 0 || err[gen] >= 1e-4) {
                    bad = true;
                    printf("%-28s %-10s %-9s FAIL: %s (max |ours - cuDNN| / max |cuDNN|, limit "
                           "1e-4)\n",
                           l.name.c_str(), kPassName[pi], gen ? "generic" : path,
                           err[gen] < 0 ? "non-finite output" : std::to_string(err[gen]).c_str());
                }
            if (bad) {
                failed = 1;
                continue;
            }
            double a = 0, b = 0, ga = 0, gb = 0;
            time_pass(ctx, l, p, t, dnn, clk.sm_khz, quick, &a, &b);
            if (special)
                with_path(true, [&] { time_pass(ctx, l, p, t, dnn, clk.sm_khz, quick, &ga, &gb); });
            else
                ga = a, gb = b;
            char gen_gf[16] = "-", gen_ratio[16] = "-";
            if (special) {
                snprintf(gen_gf, sizeof gen_gf, "%.1f", gf / (ga * 1e-3));
                snprintf(gen_ratio, sizeof gen_ratio, "%.3f", gb / ga);
            }
            printf("%-28s %-10s %-9s %9.1f %9s %9.1f %7.3f %7s %9.2e\n", l.name.c_str(),
                   kPassName[pi], path, gf / (a * 1e-3), gen_gf, gf / (b * 1e-3), b / a,
                   gen_ratio, std::max(err[0], err[1]));
            fflush(stdout);
            if (p == kForward && l.r == 3 && l.groups == 1 && l.stride == 1) {
                log_sum += log(b / a);
                log_sum_generic += log(gb / ga);
                log_n++;
            }
        }
        dnn.destroy();
        t.destroy();
    }
    if (log_n)
        printf("\n3x3 forward, geometric mean of ours / cuDNN: %.3f (target >= 0.70, goal >= "
               "1.0); implicit GEMM alone: %.3f\n",
               exp(log_sum / log_n), exp(log_sum_generic / log_n));
    if (failed)
        printf("FAIL: some results differ from cuDNN (see above)\n");
    cudaFree(ws);
    cudnnDestroy(h);
    ax_ctx_destroy(ctx);
    return failed;
}

} // namespace

int main(int argc, char **argv) {
    const bool quick = parse_quick(argc, argv);
    cpu_table(quick);
    return gpu_table(quick);
}
