// bench_elementwise: the memory-bound ops (activations, softmax, cross-entropy, dropout, each
// forward and backward) in GB/s, against a device-to-device copy measured on the same device in
// the same run. Bytes are what an op must move at least: each input read once, each output
// written once. Inputs are random (ax_rng_uniform), never zeros; each op's output is checked
// against a host reference on a sample (and for NaN / Inf everywhere) before it is timed.
// Timing: CUDA events on the context's stream after warm-up, median of the runs. 64M elements
// (256 MB per tensor) are far larger than L2, so every run streams from device memory.
//
// Usage: bench_elementwise [--quick]   (--quick: 16M elements, fewer runs, for scripts)
// Without a CUDA device it prints "no CUDA device" and exits 0.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "axon.h"
#include "host/cuda/cuda_internal.h" // ax_stream(ctx), for the events

#define BENCH_NAME "bench_elementwise"
#include "bench_util.cuh"

namespace {

struct Tensor {
    ax_tensor *t = nullptr;
    int64_t n = 0;
};

Tensor make(ax_ctx *ctx, int ndim, const int64_t *shape, ax_dtype dtype = AX_F32) {
    Tensor r;
    ok(ax_tensor_create(ctx, dtype, ndim, shape, &r.t), "ax_tensor_create");
    r.n = ax_tensor_numel(r.t);
    return r;
}

std::vector<float> host(const Tensor &t) {
    std::vector<float> h((size_t)t.n);
    ok(ax_tensor_to_host(t.t, h.data(), h.size() * sizeof(float)), "ax_tensor_to_host");
    return h;
}

// ---------------------------------------------------------------- checks

struct Checker {
    const char *op;
    int bad = 0;
    double worst = 0.0;
    void expect(double got, double want, double atol, double rtol, int64_t at) {
        const double err = fabs(got - want);
        const double lim = atol + rtol * fabs(want);
        if (!(err <= lim)) { // NaN fails too
            if (bad < 5)
                fprintf(stderr, "  %s: element %lld = %.9g, reference %.9g\n", op, (long long)at,
                        got, want);
            bad++;
        }
        if (err / lim > worst)
            worst = err / lim;
    }
};

// every element finite
void check_finite(const char *op, const std::vector<float> &v) {
    for (size_t i = 0; i < v.size(); i++)
        if (!std::isfinite(v[i])) {
            fprintf(stderr, "bench_elementwise: %s: element %zu is %g\n", op, i, (double)v[i]);
            exit(1);
        }
}

// Sample positions: the first and last few, and a stride through the middle.
std::vector<int64_t> sample(int64_t n, int count) {
    std::vector<int64_t> s;
    for (int64_t i = 0; i < 8 && i < n; i++)
        s.push_back(i);
    for (int k = 0; k < count; k++)
        s.push_back((int64_t)((double)k / count * (double)n) % n);
    for (int64_t i = n - 8 < 0 ? 0 : n - 8; i < n; i++)
        s.push_back(i);
    return s;
}

double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

double ref_logsumexp(const float *row, int64_t cols) {
    double m = row[0], s = 0.0;
    for (int64_t j = 1; j < cols; j++)
        m = std::max(m, (double)row[j]);
    for (int64_t j = 0; j < cols; j++)
        s += exp(row[j] - m);
    return m + log(s);
}

struct Row {
    std::string op;
    double gbs;
};

} // namespace

int main(int argc, char **argv) {
    const bool quick = parse_quick(argc, argv);
    ax_ctx *ctx = open_gpu();
    if (!ctx)
        return 0;
    // 64M (16M with --quick) elements, rounded down to whole rows of 1000 so that the same
    // tensors serve the flat ops ([n]) and softmax / cross-entropy ([rows, 1000])
    const int64_t cols = 1000;
    const int64_t rows = (quick ? (int64_t)1 << 24 : (int64_t)1 << 26) / cols;
    const int64_t n = rows * cols, nr = n;
    Timer timer(ctx, quick ? 2 : 5, quick ? 10 : 30);

    print_device(BENCH_NAME, ctx);
    printf("\n");
    printf("%lld elements (%lld MiB per tensor); softmax / cross-entropy as %lld x %lld; "
           "median of %d runs after %d warm-up\n",
           (long long)n, (long long)(n * 4 >> 20), (long long)rows, (long long)cols, timer.reps,
           timer.warmup);

    int64_t flat[1] = {n}, mat[2] = {rows, cols}, lab_shape[1] = {rows}, one[1] = {1};
    Tensor x = make(ctx, 1, flat), y = make(ctx, 1, flat), dy = make(ctx, 1, flat),
           dx = make(ctx, 1, flat);
    Tensor labels = make(ctx, 1, lab_shape, AX_I32), loss = make(ctx, 1, one);
    ok(ax_rng_uniform(ctx, x.t, -4.0f, 4.0f, 11, 0), "ax_rng_uniform x");
    ok(ax_rng_uniform(ctx, dy.t, -1.0f, 1.0f, 12, 0), "ax_rng_uniform dy");
    {
        std::vector<int32_t> h((size_t)rows);
        for (int64_t r = 0; r < rows; r++)
            h[(size_t)r] = (int32_t)((r * 7919) % cols);
        ok(ax_tensor_set_from_host(labels.t, h.data(), h.size() * sizeof(int32_t)),
           "labels to device");
    }
    const std::vector<float> hx = host(x), hdy = host(dy);
    const std::vector<int64_t> at = sample(n, 4096);
    const double sec_per_ms = 1e-3;
    auto gbs = [&](double bytes, double ms) { return bytes / (ms * sec_per_ms) / 1e9; };

    // ------------------------------------------------ the copy
    void *px = ax_tensor_data(x.t), *py = ax_tensor_data(y.t);
    const double copy_ms = timer.median_ms([&] {
        cuda_ok(cudaMemcpyAsync(py, px, (size_t)n * 4, cudaMemcpyDeviceToDevice, ax_stream(ctx)),
                "cudaMemcpyAsync");
    });
    const double copy_gbs = gbs(8.0 * (double)n, copy_ms);

    std::vector<Row> table;
    auto bench = [&](const std::string &op, double bytes, const std::function<void()> &run) {
        table.push_back({op, gbs(bytes, timer.median_ms(run))});
    };

    // ------------------------------------------------ activations
    struct Act {
        const char *name;
        ax_activation act;
        float slope;
    } acts[] = {{"sigmoid", AX_ACT_SIGMOID, 0.0f},
                {"tanh", AX_ACT_TANH, 0.0f},
                {"relu", AX_ACT_RELU, 0.0f},
                {"leaky_relu", AX_ACT_LEAKY_RELU, AX_LEAKY_RELU_SLOPE}};
    for (const Act &a : acts) {
        auto fwd = [&] { ok(ax_activation_forward(ctx, a.act, a.slope, x.t, y.t), a.name); };
        auto bwd = [&] {
            ok(ax_activation_backward(ctx, a.act, a.slope, x.t, y.t, dy.t, dx.t), a.name);
        };
        fwd();
        bwd();
        std::vector<float> hy = host(y), hdx = host(dx);
        check_finite(a.name, hy);
        check_finite(a.name, hdx);
        Checker cf{a.name}, cb{a.name};
        for (int64_t i : at) {
            const double xi = hx[(size_t)i], g = hdy[(size_t)i], yi = hy[(size_t)i];
            double f = 0, d = 0;
            switch (a.act) {
            case AX_ACT_SIGMOID: f = ref_sigmoid(xi); d = g * yi * (1.0 - yi); break;
            case AX_ACT_TANH: f = tanh(xi); d = g * (1.0 - yi * yi); break;
            case AX_ACT_RELU: f = xi > 0 ? xi : 0.0; d = xi > 0 ? g : 0.0; break;
            default: f = xi > 0 ? xi : a.slope * xi; d = xi > 0 ? g : a.slope * g; break;
            }
            cf.expect(yi, f, 1e-6, 1e-5, i);
            cb.expect(hdx[(size_t)i], d, 1e-6, 1e-5, i);
        }
        if (cf.bad || cb.bad) {
            fprintf(stderr, "bench_elementwise: %s: %d + %d sampled elements off\n", a.name,
                    cf.bad, cb.bad);
            return 1;
        }
        // backward reads x (ReLU) or y (sigmoid, tanh), and dy; writes dx
        bench(std::string(a.name) + " fwd", 8.0 * (double)n, fwd);
        bench(std::string(a.name) + " bwd", 12.0 * (double)n, bwd);
    }

    // ------------------------------------------------ softmax, log-softmax (rows x cols)
    ok(ax_tensor_reshape(x.t, 2, mat), "reshape");
    ok(ax_tensor_reshape(y.t, 2, mat), "reshape");
    ok(ax_tensor_reshape(dy.t, 2, mat), "reshape");
    ok(ax_tensor_reshape(dx.t, 2, mat), "reshape");
    const std::vector<int64_t> rows_at = {0, 1, rows / 3, rows / 2, rows - 2, rows - 1};
    for (int is_log = 0; is_log < 2; is_log++) {
        const char *name = is_log ? "log_softmax" : "softmax";
        auto fwd = [&] {
            ok(is_log ? ax_log_softmax_forward(ctx, x.t, y.t) : ax_softmax_forward(ctx, x.t, y.t),
               name);
        };
        auto bwd = [&] {
            ok(is_log ? ax_log_softmax_backward(ctx, y.t, dy.t, dx.t)
                      : ax_softmax_backward(ctx, y.t, dy.t, dx.t),
               name);
        };
        fwd();
        bwd();
        std::vector<float> hy = host(y), hdx = host(dx);
        check_finite(name, hy);
        check_finite(name, hdx);
        Checker cf{name}, cb{name};
        for (int64_t r : rows_at) {
            const float *xr = &hx[(size_t)(r * cols)], *yr = &hy[(size_t)(r * cols)];
            const float *gr = &hdy[(size_t)(r * cols)];
            const double lse = ref_logsumexp(xr, cols);
            double s = 0.0;
            for (int64_t j = 0; j < cols; j++)
                s += is_log ? (double)gr[j] : (double)gr[j] * yr[j];
            for (int64_t j = 0; j < cols; j++) {
                const int64_t e = r * cols + j;
                cf.expect(yr[j], is_log ? xr[j] - lse : exp(xr[j] - lse), 1e-6, 1e-5, e);
                const double d = is_log ? gr[j] - exp(yr[j]) * s : yr[j] * (gr[j] - s);
                cb.expect(hdx[(size_t)e], d, 1e-6, 1e-5, e);
            }
        }
        if (cf.bad || cb.bad) {
            fprintf(stderr, "bench_elementwise: %s: %d + %d sampled elements off\n", name,
                    cf.bad, cb.bad);
            return 1;
        }
        bench(std::string(name) + " fwd", 8.0 * (double)nr, fwd);
        bench(std::string(name) + " bwd", 12.0 * (double)nr, bwd);
    }

    // ------------------------------------------------ cross-entropy (mean)
    {
        const char *name = "cross_entropy";
        auto fwd = [&] {
            ok(ax_cross_entropy_forward(ctx, x.t, labels.t, AX_REDUCE_MEAN, loss.t), name);
        };
        auto bwd = [&] {
            ok(ax_cross_entropy_backward(ctx, x.t, labels.t, AX_REDUCE_MEAN, NULL, dx.t), name);
        };
        fwd();
        bwd();
        float hl = 0.0f;
        ok(ax_tensor_to_host(loss.t, &hl, sizeof hl), "loss to host");
        std::vector<float> hdx = host(dx);
        check_finite(name, hdx);
        Checker cf{name}, cb{name};
        double want = 0.0;
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = &hx[(size_t)(r * cols)];
            want += ref_logsumexp(xr, cols) - xr[(r * 7919) % cols];
        }
        cf.expect(hl, want / (double)rows, 1e-6, 2e-5, 0);
        for (int64_t r : rows_at) {
            const float *xr = &hx[(size_t)(r * cols)];
            const double lse = ref_logsumexp(xr, cols);
            for (int64_t j = 0; j < cols; j++) {
                const double p = exp(xr[j] - lse) - (j == (r * 7919) % cols ? 1.0 : 0.0);
                cb.expect(hdx[(size_t)(r * cols + j)], p / (double)rows, 1e-6 / (double)rows,
                          1e-5, r * cols + j);
            }
        }
        if (cf.bad || cb.bad) {
            fprintf(stderr, "bench_elementwise: %s: %d + %d checks off\n", name, cf.bad, cb.bad);
            return 1;
        }
        // forward: logits and labels in, the scalar out; backward: logits and labels in,
        // dlogits out. Both calls include the label check's copy back and wait.
        bench("cross_entropy fwd", 4.0 * (double)nr + 4.0 * (double)rows + 4.0, fwd);
        bench("cross_entropy bwd", 8.0 * (double)nr + 4.0 * (double)rows, bwd);
    }

    // ------------------------------------------------ dropout p = 0.5
    ok(ax_tensor_reshape(x.t, 1, flat), "reshape");
    ok(ax_tensor_reshape(y.t, 1, flat), "reshape");
    ok(ax_tensor_reshape(dy.t, 1, flat), "reshape");
    ok(ax_tensor_reshape(dx.t, 1, flat), "reshape");
    {
        const float p = 0.5f;
        const uint64_t seed = 1234, offset = 5;
        auto fwd = [&] { ok(ax_dropout_forward(ctx, p, seed, offset, x.t, y.t), "dropout"); };
        auto bwd = [&] { ok(ax_dropout_backward(ctx, p, seed, offset, dy.t, dx.t), "dropout"); };
        fwd();
        bwd();
        std::vector<float> hy = host(y), hdx = host(dx);
        check_finite("dropout", hy);
        int bad = 0;
        int64_t kept = 0;
        for (int64_t i = 0; i < n; i++) {
            // kept in either direction (x or dy may be exactly 0, so neither output alone
            // tells); the same mask both ways: kept values are exactly x * 2 and dy * 2
            const bool k = hy[(size_t)i] != 0.0f || hdx[(size_t)i] != 0.0f;
            kept += k;
            if (k && (hy[(size_t)i] != hx[(size_t)i] * 2.0f ||
                      hdx[(size_t)i] != hdy[(size_t)i] * 2.0f))
                bad++;
        }
        const double frac = (double)kept / (double)n;
        if (bad || fabs(frac - 0.5) > 0.01) {
            fprintf(stderr, "bench_elementwise: dropout: %d elements off, kept %.4f\n", bad, frac);
            return 1;
        }
        bench("dropout fwd", 8.0 * (double)n, fwd);
        bench("dropout bwd", 8.0 * (double)n, bwd);
    }

    printf("\n%-22s %10s %10s %7s\n", "op", "GB/s", "copy GB/s", "ratio");
    printf("%-22s %10.1f %10.1f %7.3f\n", "copy (cudaMemcpy D2D)", copy_gbs, copy_gbs, 1.0);
    for (const Row &r : table)
        printf("%-22s %10.1f %10.1f %7.3f\n", r.op.c_str(), r.gbs, copy_gbs, r.gbs / copy_gbs);
    printf("\nbytes = bytes read + bytes written once each; target ratio >= 0.80 at 64M "
           "elements.\n");

    for (Tensor *t : {&x, &y, &dy, &dx, &labels, &loss})
        ax_tensor_destroy(t->t);
    ax_ctx_destroy(ctx);
    return 0;
}
