// bench_pool: 2-D max and average pooling (forward and backward) in GB/s, against a device-to-device copy measured in the same run and against cuDNN's
// pooling (cudnnPoolingForward / Backward, NCHW, FP32) where cuDNN was found at build time.
// Bytes are what each implementation must move at least, each tensor once: ours max forward
// reads x and writes y and the int32 indices, its backward reads indices and dy and writes
// dx; cuDNN's max backward reads x, y and dy instead (it recomputes the argmax). The cuDNN
// column is the ratio of times (cuDNN ms / ours ms; > 1: ours faster) on the same layer.
//
// Before timing, each of our outputs is compared in full with the CPU reference on the same
// input (the max and its indices exactly, the averages to 1e-5), and cuDNN's forward with
// ours. Inputs are random, never zeros. Batches are chosen so that every input is >= 100 MB,
// larger than L2, so that every run streams from device memory. Median of the runs after
// warm-up, CUDA events on the context's stream.
//
// Before the GPU table a CPU table gives the reference's milliseconds on a small layer.
// Usage: bench_pool [--quick]   (--quick: quarter batches, fewer runs)
// Without a CUDA device it prints "no CUDA device" after the CPU table and exits 0.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <string>
#include <vector>

#ifdef AXON_BENCH_CUDNN
#include <cudnn.h>
#endif

#define BENCH_NAME "bench_pool"
#include "bench_util.cuh"

namespace {

struct Layer {
    const char *name;
    int64_t n, c, h, w;
    int k, s, p;
    int avg;               // 0 max, 1 avg (count_include_pad), 2 avg excluding padding
};

// The pools of ResNet (stem 3x3/2 max, pad 1), VGG / MNIST CNN (2x2/2), an average 3x3/2
// with padding both ways.
const Layer kLayers[] = {
    {"resnet stem max 3x3/2 p1", 32, 64, 112, 112, 3, 2, 1, 0},
    {"mnist cnn max 2x2/2 (32ch)", 1024, 32, 28, 28, 2, 2, 0, 0},
    {"mnist cnn max 2x2/2 (64ch)", 2048, 64, 14, 14, 2, 2, 0, 0},
    {"vgg max 2x2/2", 32, 128, 112, 112, 2, 2, 0, 0},
    {"avg 2x2/2", 32, 256, 56, 56, 2, 2, 0, 1},
    {"avg 3x3/2 p1 incl pad", 32, 256, 56, 56, 3, 2, 1, 1},
    {"avg 3x3/2 p1 excl pad", 32, 256, 56, 56, 3, 2, 1, 2},
};

ax_pool2d_desc desc_of(const Layer &l) {
    ax_pool2d_desc d = ax_pool2d_desc_default(l.k, l.k);
    d.stride_h = d.stride_w = l.s;
    d.pad_h = d.pad_w = l.p;
    d.count_include_pad = l.avg != 2;
    return d;
}

ax_tensor *make(ax_ctx *ctx, const int64_t *shape, ax_dtype dtype = AX_F32) {
    ax_tensor *t = nullptr;
    ok(ax_tensor_create(ctx, dtype, 4, shape, &t), "ax_tensor_create");
    return t;
}

template <typename T> std::vector<T> host(const ax_tensor *t) {
    std::vector<T> h((size_t)ax_tensor_numel(t));
    ok(ax_tensor_to_host(t, h.data(), h.size() * sizeof(T)), "ax_tensor_to_host");
    return h;
}

// |got - want| <= atol + rtol |want| everywhere (NaN fails); exits on the first failure.
void expect_close(const char *what, const std::vector<float> &got, const std::vector<float> &want,
                  double atol, double rtol) {
    for (size_t i = 0; i < got.size(); i++)
        if (!(fabs((double)got[i] - want[i]) <= atol + rtol * fabs((double)want[i]))) {
            fprintf(stderr, BENCH_NAME ": %s: element %zu = %.9g, reference %.9g\n", what, i,
                    (double)got[i], (double)want[i]);
            exit(1);
        }
}

double now_ms() {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

// The CPU reference's ms on one layer (median of 5).
void cpu_table() {
    ax_ctx *cpu = nullptr;
    ok(ax_ctx_create(AX_DEVICE_CPU, 0, &cpu), "ax_ctx_create cpu");
    const Layer l = {"mnist cnn max 2x2/2 (32ch)", 64, 32, 28, 28, 2, 2, 0, 0};
    ax_pool2d_desc d = desc_of(l);
    int64_t xs[4] = {l.n, l.c, l.h, l.w}, ys[4];
    ok(ax_pool2d_output_shape(&d, xs, ys), "ax_pool2d_output_shape");
    ax_tensor *x = make(cpu, xs), *y = make(cpu, ys), *dy = make(cpu, ys), *dx = make(cpu, xs);
    ax_tensor *idx = make(cpu, ys, AX_I32);
    ok(ax_rng_uniform(cpu, x, -1.0f, 1.0f, 1, 0), "ax_rng_uniform");
    ok(ax_rng_uniform(cpu, dy, -1.0f, 1.0f, 2, 0), "ax_rng_uniform");
    printf("CPU reference, x [%lld, %lld, %lld, %lld], 2x2/2, median of 5 (ms):\n",
           (long long)l.n, (long long)l.c, (long long)l.h, (long long)l.w);
    const char *names[4] = {"max fwd", "max bwd", "avg fwd", "avg bwd"};
    for (int op = 0; op < 4; op++) {
        std::vector<double> ms;
        for (int r = 0; r < 5; r++) {
            double t0 = now_ms();
            ok(op == 0   ? ax_max_pool2d_forward(cpu, &d, x, y, idx)
               : op == 1 ? ax_max_pool2d_backward(cpu, &d, idx, dy, dx)
               : op == 2 ? ax_avg_pool2d_forward(cpu, &d, x, y)
                         : ax_avg_pool2d_backward(cpu, &d, dy, dx),
               names[op]);
            ms.push_back(now_ms() - t0);
        }
        std::sort(ms.begin(), ms.end());
        printf("  %-10s %8.2f\n", names[op], ms[2]);
    }
    for (ax_tensor *t : {x, y, dy, dx, idx})
        ax_tensor_destroy(t);
    ax_ctx_destroy(cpu);
}

#ifdef AXON_BENCH_CUDNN
void dnn_ok(cudnnStatus_t st, const char *what) {
    if (st != CUDNN_STATUS_SUCCESS) {
        fprintf(stderr, BENCH_NAME ": %s: %s\n", what, cudnnGetErrorString(st));
        exit(1);
    }
}

struct Dnn {
    cudnnHandle_t h = nullptr;
    cudnnPoolingDescriptor_t pool = nullptr;
    cudnnTensorDescriptor_t xd = nullptr, yd = nullptr;
    Dnn(ax_ctx *ctx, const Layer &l, const int64_t *ys) {
        dnn_ok(cudnnCreate(&h), "cudnnCreate");
        dnn_ok(cudnnSetStream(h, ax_stream(ctx)), "cudnnSetStream");
        dnn_ok(cudnnCreatePoolingDescriptor(&pool), "cudnnCreatePoolingDescriptor");
        cudnnPoolingMode_t mode = l.avg == 0   ? CUDNN_POOLING_MAX_DETERMINISTIC
                                  : l.avg == 1 ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                                               : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
        dnn_ok(cudnnSetPooling2dDescriptor(pool, mode, CUDNN_NOT_PROPAGATE_NAN, l.k, l.k, l.p,
                                           l.p, l.s, l.s),
               "cudnnSetPooling2dDescriptor");
        dnn_ok(cudnnCreateTensorDescriptor(&xd), "cudnnCreateTensorDescriptor");
        dnn_ok(cudnnCreateTensorDescriptor(&yd), "cudnnCreateTensorDescriptor");
        dnn_ok(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)l.n,
                                          (int)l.c, (int)l.h, (int)l.w),
               "cudnnSetTensor4dDescriptor x");
        dnn_ok(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)ys[0],
                                          (int)ys[1], (int)ys[2], (int)ys[3]),
               "cudnnSetTensor4dDescriptor y");
    }
    ~Dnn() {
        cudnnDestroyTensorDescriptor(xd);
        cudnnDestroyTensorDescriptor(yd);
        cudnnDestroyPoolingDescriptor(pool);
        cudnnDestroy(h);
    }
    void forward(const void *x, void *y) {
        const float one = 1.0f, zero = 0.0f;
        dnn_ok(cudnnPoolingForward(h, pool, &one, xd, x, &zero, yd, y), "cudnnPoolingForward");
    }
    void backward(const void *x, const void *y, const void *dy, void *dx) {
        const float one = 1.0f, zero = 0.0f;
        dnn_ok(cudnnPoolingBackward(h, pool, &one, yd, y, yd, dy, xd, x, &zero, xd, dx),
               "cudnnPoolingBackward");
    }
};
#endif

struct Row {
    std::string op;
    double gbs, vs_dnn; // vs_dnn: cuDNN ms / ours ms, 0 when not measured
};

} // namespace

int main(int argc, char **argv) {
    const bool quick = parse_quick(argc, argv);
    cpu_table();
    ax_ctx *ctx = open_gpu(), *cpu = nullptr;
    if (!ctx)
        return 0;
    ok(ax_ctx_create(AX_DEVICE_CPU, 0, &cpu), "ax_ctx_create cpu");
    Timer timer(ctx, quick ? 2 : 5, quick ? 10 : 30);
    printf("\n");
    print_device(BENCH_NAME, ctx);
    printf(", ");
#ifdef AXON_BENCH_CUDNN
    printf("cuDNN %zu\n", cudnnGetVersion());
#else
    printf("cuDNN not built in\n");
#endif
    printf("median of %d runs after %d warm-up\n", timer.reps, timer.warmup);

    auto gbs = [](double bytes, double ms) { return bytes / (ms * 1e-3) / 1e9; };
    std::vector<Row> table;
    double copy_gbs = 0.0;
    for (const Layer &l0 : kLayers) {
        Layer l = l0;
        if (quick)
            l.n = l.n / 4 > 0 ? l.n / 4 : 1;
        const ax_pool2d_desc d = desc_of(l);
        int64_t xs[4] = {l.n, l.c, l.h, l.w}, ys[4];
        ok(ax_pool2d_output_shape(&d, xs, ys), "ax_pool2d_output_shape");
        const double nx = (double)(l.n * l.c * l.h * l.w), ny = (double)(ys[0] * ys[1] * ys[2] * ys[3]);
        ax_tensor *x = make(ctx, xs), *y = make(ctx, ys), *dy = make(ctx, ys), *dx = make(ctx, xs);
        ax_tensor *idx = make(ctx, ys, AX_I32), *y2 = make(ctx, ys), *dx2 = make(ctx, xs);
        ok(ax_rng_uniform(ctx, x, -1.0f, 1.0f, 7, 0), "ax_rng_uniform x");
        ok(ax_rng_uniform(ctx, dy, -1.0f, 1.0f, 8, 0), "ax_rng_uniform dy");
        const bool is_max = l.avg == 0;
        auto fwd = [&] {
            ok(is_max ? ax_max_pool2d_forward(ctx, &d, x, y, idx) : ax_avg_pool2d_forward(ctx, &d, x, y),
               "forward");
        };
        auto bwd = [&] {
            ok(is_max ? ax_max_pool2d_backward(ctx, &d, idx, dy, dx)
                      : ax_avg_pool2d_backward(ctx, &d, dy, dx),
               "backward");
        };
        fwd();
        bwd();
        { // the whole output against the CPU reference on the same input
            ax_tensor *cx = make(cpu, xs), *cy = make(cpu, ys), *cdy = make(cpu, ys);
            ax_tensor *cdx = make(cpu, xs), *cidx = make(cpu, ys, AX_I32);
            std::vector<float> hx = host<float>(x), hdy = host<float>(dy);
            ok(ax_tensor_set_from_host(cx, hx.data(), hx.size() * 4), "x to cpu");
            ok(ax_tensor_set_from_host(cdy, hdy.data(), hdy.size() * 4), "dy to cpu");
            ok(is_max ? ax_max_pool2d_forward(cpu, &d, cx, cy, cidx) : ax_avg_pool2d_forward(cpu, &d, cx, cy),
               "cpu forward");
            ok(is_max ? ax_max_pool2d_backward(cpu, &d, cidx, cdy, cdx)
                      : ax_avg_pool2d_backward(cpu, &d, cdy, cdx),
               "cpu backward");
            expect_close(l.name, host<float>(y), host<float>(cy), is_max ? 0.0 : 1e-6,
                         is_max ? 0.0 : 1e-5);
            expect_close(l.name, host<float>(dx), host<float>(cdx), 1e-6, 1e-5);
            if (is_max && host<int32_t>(idx) != host<int32_t>(cidx)) {
                fprintf(stderr, BENCH_NAME ": %s: indices differ from the CPU reference\n", l.name);
                return 1;
            }
            for (ax_tensor *t : {cx, cy, cdy, cdx, cidx})
                ax_tensor_destroy(t);
        }
        if (copy_gbs == 0.0) { // a copy of this many bytes, once
            void *px = ax_tensor_data(x), *pd = ax_tensor_data(dx);
            double ms = timer.median_ms([&] {
                cuda_ok(cudaMemcpyAsync(pd, px, (size_t)nx * 4, cudaMemcpyDeviceToDevice,
                                        ax_stream(ctx)),
                        "cudaMemcpyAsync");
            });
            copy_gbs = gbs(8.0 * nx, ms);
        }
        const double fwd_bytes = 4.0 * (nx + ny) + (is_max ? 4.0 * ny : 0.0);
        const double bwd_bytes = 4.0 * (nx + ny) + (is_max ? 4.0 * ny : 0.0);
        const double ours_f = timer.median_ms(fwd), ours_b = timer.median_ms(bwd);
        double dnn_f = 0.0, dnn_b = 0.0;
#ifdef AXON_BENCH_CUDNN
        {
            Dnn dnn(ctx, l, ys);
            void *px = ax_tensor_data(x), *py2 = ax_tensor_data(y2), *pdy = ax_tensor_data(dy);
            void *pdx2 = ax_tensor_data(dx2);
            dnn.forward(px, py2); // cuDNN agrees with ours (the oracle)
            expect_close("cuDNN forward", host<float>(y2), host<float>(y), 1e-6, 1e-5);
            dnn_f = timer.median_ms([&] { dnn.forward(px, py2); });
            dnn_b = timer.median_ms([&] { dnn.backward(px, py2, pdy, pdx2); });
        }
#endif
        char what[128];
        snprintf(what, sizeof what, "%s fwd", l.name);
        table.push_back({what, gbs(fwd_bytes, ours_f), dnn_f > 0 ? dnn_f / ours_f : 0.0});
        snprintf(what, sizeof what, "%s bwd", l.name);
        table.push_back({what, gbs(bwd_bytes, ours_b), dnn_b > 0 ? dnn_b / ours_b : 0.0});
        for (ax_tensor *t : {x, y, dy, dx, idx, y2, dx2})
            ax_tensor_destroy(t);
    }

    printf("\n%-36s %9s %9s %7s %9s\n", "op", "GB/s", "copy GB/s", "ratio", "vs cuDNN");
    for (const Row &r : table) {
        printf("%-36s %9.1f %9.1f %7.3f ", r.op.c_str(), r.gbs, copy_gbs, r.gbs / copy_gbs);
        if (r.vs_dnn > 0)
            printf("%9.3f\n", r.vs_dnn);
        else
            printf("%9s\n", "-");
    }
    printf("\nbytes = each tensor read or written once (ours: max fwd x, y, indices; max bwd "
           "indices, dy, dx); target ratio >= 0.75 of copy; vs cuDNN = cuDNN ms / ours ms.\n");
    ax_ctx_destroy(cpu);
    ax_ctx_destroy(ctx);
    return 0;
}
