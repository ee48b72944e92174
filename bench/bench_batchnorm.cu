// bench_batchnorm: batch norm (training forward, training backward, evaluation forward) in GB/s
// against a device-to-device copy measured on the same device in the same run, and against
// cuDNN's NCHW batch norm (CUDNN_BATCHNORM_SPATIAL, the legacy API) when cuDNN was found.
// Bytes are what a pass must move at least: training forward reads x and writes y (8 bytes an
// element; ours reads x twice), backward reads x and dy and writes dx (12), evaluation reads x
// and writes y (8). Each shape's tensors hold >= 100 MB, beyond the L2 of current GPUs, so
// every run streams from device memory.
//
// Checked before timing: our y, dx, dgamma, dbeta, batch mean and invstd against the CPU
// reference on the same inputs (tolerances of tests/test_batchnorm.c's parity cases), and
// cuDNN's y and dx against ours (rtol 1e-4: an independent oracle). Timing: CUDA events on the
// context's stream after warm-up, median of the runs.
//
// Usage: bench_batchnorm [--quick]   (--quick: the first two shapes, fewer runs)
// Without a CUDA device it prints "no CUDA device" and exits 0.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>
#ifdef AXON_BENCH_CUDNN
#include <cudnn.h>
#endif

#include "axon.h"
#include "host/cuda/cuda_internal.h" // ax_stream(ctx), for the events

#define BENCH_NAME "bench_batchnorm"
#include "bench_util.cuh"

namespace {

struct Shape {
    const char *name;
    int ndim;
    int64_t dims[4];
};

// ResNet-like feature maps at batch 128 to 256, and a BatchNorm1d over [N, C]
const Shape kShapes[] = {
    {"2d [128, 64, 56, 56]", 4, {128, 64, 56, 56}},
    {"1d [65536, 512]", 2, {65536, 512, 1, 1}},
    {"2d [128, 256, 28, 28]", 4, {128, 256, 28, 28}},
    {"2d [256, 512, 14, 14]", 4, {256, 512, 14, 14}},
    {"2d [256, 2048, 7, 7]", 4, {256, 2048, 7, 7}},
};

ax_tensor *make(ax_ctx *ctx, int ndim, const int64_t *shape) {
    ax_tensor *t = nullptr;
    ok(ax_tensor_create(ctx, AX_F32, ndim, shape, &t), "ax_tensor_create");
    return t;
}

std::vector<float> host(const ax_tensor *t) {
    std::vector<float> h((size_t)ax_tensor_numel(t));
    ok(ax_tensor_to_host(t, h.data(), h.size() * sizeof(float)), "ax_tensor_to_host");
    return h;
}

// |got - ref| <= atol + rtol |ref| everywhere (NaN fails); exits naming what on failure.
void expect_close(const std::vector<float> &got, const std::vector<float> &ref, double atol,
                  double rtol, const std::string &what) {
    int64_t bad = 0;
    for (size_t i = 0; i < ref.size(); i++)
        if (!(fabs((double)got[i] - ref[i]) <= atol + rtol * fabs((double)ref[i]))) {
            if (bad < 5)
                fprintf(stderr, BENCH_NAME ": %s: element %zu = %.9g, reference %.9g\n",
                        what.c_str(), i, (double)got[i], (double)ref[i]);
            bad++;
        }
    if (bad) {
        fprintf(stderr, BENCH_NAME ": %s: %lld elements off\n", what.c_str(), (long long)bad);
        exit(1);
    }
}

// The tensors of one shape on the GPU (g) and the CPU (c).
struct Set {
    ax_tensor *x, *dy, *y, *dx, *gamma, *beta, *rm, *rv, *mean, *inv, *dgamma, *dbeta;
};

Set make_set(ax_ctx *ctx, const Shape &s) {
    const int64_t c[1] = {s.dims[1]};
    Set t;
    t.x = make(ctx, s.ndim, s.dims);
    t.dy = make(ctx, s.ndim, s.dims);
    t.y = make(ctx, s.ndim, s.dims);
    t.dx = make(ctx, s.ndim, s.dims);
    ax_tensor **vecs[8] = {&t.gamma, &t.beta, &t.rm, &t.rv, &t.mean, &t.inv, &t.dgamma, &t.dbeta};
    for (ax_tensor **v : vecs)
        *v = make(ctx, 1, c);
    return t;
}

void free_set(Set &t) {
    ax_tensor *all[12] = {t.x, t.dy, t.y, t.dx, t.gamma, t.beta,
                          t.rm, t.rv, t.mean, t.inv, t.dgamma, t.dbeta};
    for (ax_tensor *a : all)
        ax_tensor_destroy(a);
}

// The same contents in the CPU set as in the GPU set (inputs only).
void copy_inputs(const Set &from, Set &to) {
    const ax_tensor *src[6] = {from.x, from.dy, from.gamma, from.beta, from.rm, from.rv};
    ax_tensor *dst[6] = {to.x, to.dy, to.gamma, to.beta, to.rm, to.rv};
    for (int k = 0; k < 6; k++) {
        std::vector<float> h = host(src[k]);
        ok(ax_tensor_set_from_host(dst[k], h.data(), h.size() * sizeof(float)), "inputs to CPU");
    }
}

void train_forward(ax_ctx *ctx, Set &t) {
    ok(ax_batch_norm_forward_training(ctx, t.x, t.gamma, t.beta, AX_BN_EPS, AX_BN_MOMENTUM, t.rm,
                                      t.rv, nullptr, t.y, t.mean, t.inv),
       "ax_batch_norm_forward_training");
}

void train_backward(ax_ctx *ctx, Set &t) {
    ok(ax_batch_norm_backward_training(ctx, t.x, t.dy, t.gamma, t.mean, t.inv, t.dx, t.dgamma,
                                       t.dbeta),
       "ax_batch_norm_backward_training");
}

void eval_forward(ax_ctx *ctx, Set &t) {
    ok(ax_batch_norm_forward_inference(ctx, t.x, t.gamma, t.beta, t.rm, t.rv, AX_BN_EPS, t.y),
       "ax_batch_norm_forward_inference");
}

struct Row {
    std::string shape, pass;
    double ours_gbs, cudnn_gbs; // cudnn_gbs 0 when not measured
};

} // namespace

int main(int argc, char **argv) {
    const bool quick = parse_quick(argc, argv);
    ax_ctx *ctx = open_gpu(), *cpu = nullptr;
    if (!ctx)
        return 0;
    ok(ax_ctx_create(AX_DEVICE_CPU, 0, &cpu), "ax_ctx_create CPU");
    print_device(BENCH_NAME, ctx);
#ifdef AXON_BENCH_CUDNN
    const size_t cudnn_v = cudnnGetVersion();
    printf(", cuDNN %zu.%zu.%zu\n", cudnn_v / 10000, cudnn_v % 10000 / 100, cudnn_v % 100);
    cudnnHandle_t handle;
    cudnn_ok(cudnnCreate(&handle), "cudnnCreate");
    cudnn_ok(cudnnSetStream(handle, ax_stream(ctx)), "cudnnSetStream");
    cudnnTensorDescriptor_t xd, cd;
    cudnn_ok(cudnnCreateTensorDescriptor(&xd), "cudnnCreateTensorDescriptor");
    cudnn_ok(cudnnCreateTensorDescriptor(&cd), "cudnnCreateTensorDescriptor");
#else
    printf(", cuDNN not found at build time (no cuDNN column)\n");
#endif
    Timer timer(ctx, quick ? 2 : 5, quick ? 10 : 30);
    printf("median of %d runs after %d warm-up; eps %g, momentum %g\n", timer.reps, timer.warmup,
           (double)AX_BN_EPS, (double)AX_BN_MOMENTUM);
    auto gbs = [](double bytes, double ms) { return bytes / (ms * 1e-3) / 1e9; };

    std::vector<Row> rows;
    double copy_gbs = 0.0;
    const size_t count = quick ? 2 : sizeof kShapes / sizeof kShapes[0];
    for (size_t si = 0; si < count; si++) {
        const Shape &s = kShapes[si];
        Set g = make_set(ctx, s), c = make_set(cpu, s);
        const int64_t n = ax_tensor_numel(g.x);
        ok(ax_rng_normal(ctx, g.x, 0.5f, 2.0f, 100 + si, 0), "ax_rng_normal x");
        ok(ax_rng_uniform(ctx, g.dy, -1.0f, 1.0f, 200 + si, 0), "ax_rng_uniform dy");
        ok(ax_rng_uniform(ctx, g.gamma, 0.5f, 1.5f, 300 + si, 0), "ax_rng_uniform gamma");
        ok(ax_rng_uniform(ctx, g.beta, -1.0f, 1.0f, 400 + si, 0), "ax_rng_uniform beta");
        ok(ax_fill(ctx, g.rm, 0.0f), "ax_fill");
        ok(ax_fill(ctx, g.rv, 1.0f), "ax_fill");
        copy_inputs(g, c);

        if (si == 0) { // the copy, on the first shape's tensors
            const double ms = timer.median_ms([&] { ok(ax_tensor_copy(g.y, g.x), "copy"); });
            copy_gbs = gbs(8.0 * (double)n, ms);
        }

        // check: ours against the CPU reference
        const double m = (double)n / (double)s.dims[1];
        train_forward(ctx, g);
        train_backward(ctx, g);
        train_forward(cpu, c);
        train_backward(cpu, c);
        const double red_atol = 1e-6 * sqrt(m) + 1e-6;
        expect_close(host(g.y), host(c.y), 2e-5, 1e-5, std::string(s.name) + " y");
        expect_close(host(g.mean), host(c.mean), 1e-6, 1e-5, std::string(s.name) + " mean");
        expect_close(host(g.inv), host(c.inv), 1e-6, 1e-5, std::string(s.name) + " invstd");
        expect_close(host(g.dx), host(c.dx), 2e-5, 1e-5, std::string(s.name) + " dx");
        expect_close(host(g.dgamma), host(c.dgamma), red_atol, 1e-5,
                     std::string(s.name) + " dgamma");
        expect_close(host(g.dbeta), host(c.dbeta), red_atol, 1e-5,
                     std::string(s.name) + " dbeta");
        const std::vector<float> ours_y = host(g.y), ours_dx = host(g.dx);

        Row fwd{s.name, "training forward", 0, 0}, bwd{s.name, "training backward", 0, 0},
            inf{s.name, "evaluation forward", 0, 0};
        fwd.ours_gbs = gbs(8.0 * n, timer.median_ms([&] { train_forward(ctx, g); }));
        bwd.ours_gbs = gbs(12.0 * n, timer.median_ms([&] { train_backward(ctx, g); }));
        inf.ours_gbs = gbs(8.0 * n, timer.median_ms([&] { eval_forward(ctx, g); }));

#ifdef AXON_BENCH_CUDNN
        {
            const int dims4[4] = {(int)s.dims[0], (int)s.dims[1],
                                  s.ndim > 2 ? (int)s.dims[2] : 1,
                                  s.ndim > 3 ? (int)s.dims[3] : 1};
            cudnn_ok(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, dims4[0],
                                                dims4[1], dims4[2], dims4[3]),
                     "cudnnSetTensor4dDescriptor");
            cudnn_ok(cudnnDeriveBNTensorDescriptor(cd, xd, CUDNN_BATCHNORM_SPATIAL),
                     "cudnnDeriveBNTensorDescriptor");
            const float one = 1.0f, zero = 0.0f;
            auto f = [](ax_tensor *t) { return (float *)ax_tensor_data(t); };
            ok(ax_fill(ctx, g.rm, 0.0f), "ax_fill");
            ok(ax_fill(ctx, g.rv, 1.0f), "ax_fill");
            auto cudnn_fwd = [&] {
                cudnn_ok(cudnnBatchNormalizationForwardTraining(
                             handle, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd, f(g.x), xd, f(g.y),
                             cd, f(g.gamma), f(g.beta), AX_BN_MOMENTUM, f(g.rm), f(g.rv),
                             AX_BN_EPS, f(g.mean), f(g.inv)),
                         "cudnnBatchNormalizationForwardTraining");
            };
            auto cudnn_bwd = [&] {
                cudnn_ok(cudnnBatchNormalizationBackward(
                             handle, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, xd,
                             f(g.x), xd, f(g.dy), xd, f(g.dx), cd, f(g.gamma), f(g.dgamma),
                             f(g.dbeta), AX_BN_EPS, f(g.mean), f(g.inv)),
                         "cudnnBatchNormalizationBackward");
            };
            auto cudnn_inf = [&] {
                cudnn_ok(cudnnBatchNormalizationForwardInference(
                             handle, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd, f(g.x), xd,
                             f(g.y), cd, f(g.gamma), f(g.beta), f(g.rm), f(g.rv), AX_BN_EPS),
                         "cudnnBatchNormalizationForwardInference");
            };
            cudnn_fwd();
            cudnn_bwd();
            expect_close(host(g.y), ours_y, 1e-4, 1e-4, std::string(s.name) + " cuDNN y");
            expect_close(host(g.dx), ours_dx, 1e-4, 1e-4, std::string(s.name) + " cuDNN dx");
            fwd.cudnn_gbs = gbs(8.0 * n, timer.median_ms(cudnn_fwd));
            bwd.cudnn_gbs = gbs(12.0 * n, timer.median_ms(cudnn_bwd));
            inf.cudnn_gbs = gbs(8.0 * n, timer.median_ms(cudnn_inf));
        }
#endif
        rows.push_back(fwd);
        rows.push_back(bwd);
        rows.push_back(inf);
        free_set(g);
        free_set(c);
    }

    printf("\n%-24s %-20s %9s %9s %9s %9s\n", "shape", "pass", "GB/s", "/copy", "cuDNN",
           "/cuDNN");
    printf("%-24s %-20s %9.1f %9.3f\n", "copy (8 B/element)", "D2D", copy_gbs, 1.0);
    for (const Row &r : rows) {
        printf("%-24s %-20s %9.1f %9.3f", r.shape.c_str(), r.pass.c_str(), r.ours_gbs,
               r.ours_gbs / copy_gbs);
        if (r.cudnn_gbs > 0)
            printf(" %9.1f %9.3f\n", r.cudnn_gbs, r.ours_gbs / r.cudnn_gbs);
        else
            printf(" %9s %9s\n", "-", "-");
    }
    printf("\nbytes = minimum traffic (forward 8, backward 12 B per element); targets: >= 0.75 "
           "of copy for training forward and backward, >= 1.0 of cuDNN\n");
#ifdef AXON_BENCH_CUDNN
    cudnnDestroyTensorDescriptor(xd);
    cudnnDestroyTensorDescriptor(cd);
    cudnnDestroy(handle);
#endif
    ax_ctx_destroy(cpu);
    ax_ctx_destroy(ctx);
    return 0;
}
