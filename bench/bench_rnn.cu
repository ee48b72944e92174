// bench_rnn: axon's recurrent layers (ax_rnn_forward / ax_rnn_backward: one SGEMM for the
// input projection of all steps, per step one SGEMM of h by W_hh and one fused pointwise
// kernel) against cuDNN's RNN API (cudnnRNNForward, cudnnRNNBackwardData_v8,
// cudnnRNNBackwardWeights_v8; CUDNN_RNN_ALGO_STANDARD, FP32 data and math, CUDNN_FMA_MATH so
// no TF32) on the same device in the same run; and the CPU reference on the char-level
// model's layer size. PyTorch's nn.LSTM / nn.GRU at the same sizes: bench/pytorch/rnn_layers.py
// (a separate table; same method, median of runs after warm-up).
//
// GPU cases: LSTM and GRU, H = 512 and 1024, T = 100, batch 64 and batch 1 (latency), 1 layer
// and 2 layers (ours: two layer calls, the second over the first's y; cuDNN: numLayers = 2).
// The input size is H. Passes: forward (training mode, reserve written) and forward+backward
// (forward, backward data, backward weights accumulated).
// Each case is checked first: ours (outputs pre-filled with NaN) against cuDNN with the same
// weights (copied into cuDNN's weight space with cudnnGetRNNWeightParams, gates in PyTorch's
// order, which is cuDNN's): y, hT and dx, max |ours - cuDNN| / max |cuDNN| < 1e-3 (100 steps
// of f32 recurrences summed in other orders) and every element finite; a failure prints FAIL
// and the bench exits 1 at the end. Inputs are uniform: x in [-1, 1), weights in
// +-1/sqrt(H) (PyTorch's initialisation).
// Timing: CUDA events around each call on the context's stream, queued behind a spin kernel;
// ours and cuDNN alternate; median of the runs after warm-up. Work per step is small GEMMs, so
// one input set is used (no rotation over L2).
//
// Usage: bench_rnn [--quick]   (--quick: H = 512, 1 layer, fewer runs, for scripts/gpu-check)
// Without a CUDA device it prints the CPU table and "no CUDA device: GPU table skipped", and
// exits 0.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vector>

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "axon.h"
#include "host/cuda/cuda_internal.h" // ax_stream(ctx): events and cuDNN on the ctx's stream

#define BENCH_NAME "bench_rnn"
#include "bench_util.cuh"

namespace {

struct Case {
    ax_rnn_mode mode;
    int64_t h, n, t;
    int layers;
};

const char *mode_name(ax_rnn_mode m) { return m == AX_RNN_LSTM ? "LSTM" : "GRU"; }

ax_tensor *make(ax_ctx *ctx, std::vector<int64_t> shape) {
    ax_tensor *t = nullptr;
    ok(ax_tensor_create(ctx, AX_F32, (int)shape.size(), shape.data(), &t), "create tensor");
    return t;
}

// One layer of ours: weights, gradients, reserve, and its output (the next layer's input).
struct Layer {
    ax_tensor *w[4] = {nullptr}, *g[4] = {nullptr}, *reserve = nullptr, *y = nullptr,
              *dx = nullptr, *hT = nullptr, *cT = nullptr;
};

// Our stack of layers on ctx, and the inputs.
struct Ours {
    Case c;
    ax_tensor *x = nullptr, *dy = nullptr;
    std::vector<Layer> l;

    void create(ax_ctx *ctx, const Case &cc, uint64_t seed) {
        c = cc;
        const int64_t G = ax_rnn_gate_count(c.mode), H = c.h;
        x = make(ctx, {c.t, c.n, H});
        dy = make(ctx, {c.t, c.n, H});
        ok(ax_rng_uniform(ctx, x, -1.0f, 1.0f, seed, 0), "x");
        ok(ax_rng_uniform(ctx, dy, -1.0f, 1.0f, seed + 1, 0), "dy");
        const float a = 1.0f / sqrtf((float)H);
        int64_t numel = 0;
        ok(ax_rnn_reserve_numel(c.mode, c.t, c.n, H, &numel), "reserve size");
        l.resize((size_t)c.layers);
        for (int k = 0; k < c.layers; k++) {
            Layer &y = l[(size_t)k];
            const std::vector<int64_t> shapes[4] = {{G * H, H}, {G * H, H}, {G * H}, {G * H}};
            for (int i = 0; i < 4; i++) {
                y.w[i] = make(ctx, shapes[i]);
                y.g[i] = make(ctx, shapes[i]);
                ok(ax_rng_uniform(ctx, y.w[i], -a, a, seed + 10 + 4 * (uint64_t)k + i, 0), "w");
                ok(ax_fill(ctx, y.g[i], 0.0f), "zero gradient");
            }
            y.reserve = make(ctx, {numel});
            y.y = make(ctx, {c.t, c.n, H});
            y.dx = make(ctx, {c.t, c.n, H});
            y.hT = make(ctx, {c.n, H});
            if (c.mode == AX_RNN_LSTM)
                y.cT = make(ctx, {c.n, H});
            ok(ax_fill(ctx, y.y, NAN), "NaN y");
            ok(ax_fill(ctx, y.dx, NAN), "NaN dx");
        }
    }

    void forward(ax_ctx *ctx) {
        ax_rnn_desc d = {c.mode, 0, 0, 0};
        for (int k = 0; k < c.layers; k++) {
            Layer &y = l[(size_t)k];
            ax_rnn_weights w = {y.w[0], y.w[1], y.w[2], y.w[3]};
            ok(ax_rnn_forward(ctx, &d, c.t, k ? l[(size_t)k - 1].y : x, nullptr, nullptr, &w,
                              y.y, y.hT, y.cT, y.reserve),
               "ax_rnn_forward");
        }
    }

    void backward(ax_ctx *ctx) {
        ax_rnn_desc d = {c.mode, 0, 0, 0};
        for (int k = c.layers - 1; k >= 0; k--) {
            Layer &y = l[(size_t)k];
            ax_rnn_weights w = {y.w[0], y.w[1], y.w[2], y.w[3]};
            ax_rnn_grads g = {y.g[0], y.g[1], y.g[2], y.g[3]};
            ok(ax_rnn_backward(ctx, &d, c.t, k ? l[(size_t)k - 1].y : x, &w, y.reserve,
                               k == c.layers - 1 ? dy : l[(size_t)k + 1].dx, nullptr, nullptr,
                               y.dx, nullptr, nullptr, &g),
               "ax_rnn_backward");
        }
    }

    void destroy() {
        for (Layer &y : l) {
            for (int i = 0; i < 4; i++)
                ax_tensor_destroy(y.w[i]), ax_tensor_destroy(y.g[i]);
            ax_tensor *t[] = {y.reserve, y.y, y.dx, y.hT, y.cT};
            for (ax_tensor *p : t)
                ax_tensor_destroy(p);
        }
        ax_tensor_destroy(x);
        ax_tensor_destroy(dy);
    }
};

// cuDNN's RNN of the same case, with our weights copied in.
struct Dnn {
    cudnnHandle_t h;
    cudnnRNNDescriptor_t rnn;
    cudnnRNNDataDescriptor_t xd, yd;
    cudnnTensorDescriptor_t hd, md, bd;
    cudnnDropoutDescriptor_t drop;
    size_t wsize = 0, work = 0, reserve = 0;
    void *w = nullptr, *dw = nullptr, *ws = nullptr, *rs = nullptr;
    float *y = nullptr, *dx = nullptr, *hy = nullptr, *cy = nullptr;
    int32_t *seq = nullptr;

    void create(cudnnHandle_t handle, const Case &c, const Ours &o) {
        h = handle;
        const int H = (int)c.h, N = (int)c.n, T = (int)c.t;
        cudnn_ok(cudnnCreateRNNDescriptor(&rnn), "rnn descriptor");
        cudnn_ok(cudnnCreateDropoutDescriptor(&drop), "dropout descriptor");
        cudnn_ok(cudnnSetDropoutDescriptor(drop, h, 0.0f, nullptr, 0, 0), "dropout");
        cudnn_ok(cudnnSetRNNDescriptor_v8(rnn, CUDNN_RNN_ALGO_STANDARD,
                                          c.mode == AX_RNN_LSTM ? CUDNN_LSTM : CUDNN_GRU,
                                          CUDNN_RNN_DOUBLE_BIAS, CUDNN_UNIDIRECTIONAL,
                                          CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT,
                                          CUDNN_FMA_MATH, H, H, H, c.layers, drop,
                                          CUDNN_RNN_PADDED_IO_DISABLED),
                 "cudnnSetRNNDescriptor_v8");
        std::vector<int> lens((size_t)N, T);
        cudnn_ok(cudnnCreateRNNDataDescriptor(&xd), "x descriptor");
        cudnn_ok(cudnnCreateRNNDataDescriptor(&yd), "y descriptor");
        cudnn_ok(cudnnSetRNNDataDescriptor(xd, CUDNN_DATA_FLOAT,
                                           CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED, T, N, H,
                                           lens.data(), nullptr),
                 "x descriptor");
        cudnn_ok(cudnnSetRNNDataDescriptor(yd, CUDNN_DATA_FLOAT,
                                           CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED, T, N, H,
                                           lens.data(), nullptr),
                 "y descriptor");
        const int dims[3] = {c.layers, N, H}, strides[3] = {N * H, H, 1};
        cudnn_ok(cudnnCreateTensorDescriptor(&hd), "h descriptor");
        cudnn_ok(cudnnSetTensorNdDescriptor(hd, CUDNN_DATA_FLOAT, 3, dims, strides), "h");
        cudnn_ok(cudnnCreateTensorDescriptor(&md), "m descriptor");
        cudnn_ok(cudnnCreateTensorDescriptor(&bd), "b descriptor");
        cudnn_ok(cudnnGetRNNWeightSpaceSize(h, rnn, &wsize), "weight space size");
        cudnn_ok(cudnnGetRNNTempSpaceSizes(h, rnn, CUDNN_FWD_MODE_TRAINING, xd, &work, &reserve),
                 "temp space sizes");
        cuda_ok(cudaMalloc(&w, wsize), "weights");
        cuda_ok(cudaMalloc(&dw, wsize), "weight gradients");
        cuda_ok(cudaMemset(dw, 0, wsize), "weight gradients");
        cuda_ok(cudaMalloc(&ws, work), "workspace");
        cuda_ok(cudaMalloc(&rs, reserve), "reserve");
        const size_t seq_bytes = (size_t)T * N * H * sizeof(float);
        cuda_ok(cudaMalloc(&y, seq_bytes), "y");
        cuda_ok(cudaMalloc(&dx, seq_bytes), "dx");
        cuda_ok(cudaMalloc(&hy, (size_t)c.layers * N * H * sizeof(float)), "hy");
        cuda_ok(cudaMalloc(&cy, (size_t)c.layers * N * H * sizeof(float)), "cy");
        cuda_ok(cudaMalloc(&seq, (size_t)N * sizeof(int32_t)), "seq lengths");
        cuda_ok(cudaMemcpy(seq, lens.data(), (size_t)N * sizeof(int32_t), cudaMemcpyHostToDevice),
                "seq lengths");
        // our weights into cuDNN's space: linear layer k < G is W_ih's gate k, G + k W_hh's
        const int G = ax_rnn_gate_count(c.mode);
        const size_t block = (size_t)H * H * sizeof(float), bias = (size_t)H * sizeof(float);
        for (int layer = 0; layer < c.layers; layer++)
            for (int k = 0; k < 2 * G; k++) {
                void *m = nullptr, *b = nullptr;
                cudnn_ok(cudnnGetRNNWeightParams(h, rnn, layer, wsize, w, k, md, &m, bd, &b),
                         "cudnnGetRNNWeightParams");
                const Layer &l = o.l[(size_t)layer];
                const int which = k < G ? 0 : 1, gate = k % G;
                const char *wp = (const char *)ax_tensor_const_data(l.w[which]);
                const char *bp = (const char *)ax_tensor_const_data(l.w[2 + which]);
                cuda_ok(cudaMemcpy(m, wp + gate * block, block, cudaMemcpyDeviceToDevice), "W");
                cuda_ok(cudaMemcpy(b, bp + gate * bias, bias, cudaMemcpyDeviceToDevice), "b");
            }
    }

    void forward(const Case &c, const void *x) {
        cudnn_ok(cudnnRNNForward(h, rnn, CUDNN_FWD_MODE_TRAINING, seq, xd, x, yd, y, hd, nullptr,
                                 hy, hd, nullptr, c.mode == AX_RNN_LSTM ? cy : nullptr, wsize, w,
                                 work, ws, reserve, rs),
                 "cudnnRNNForward");
    }

    // zero initial states and no gradient of the final ones (NULL), as ours
    void backward(const void *x, const void *dy) {
        cudnn_ok(cudnnRNNBackwardData_v8(h, rnn, seq, yd, y, dy, xd, dx, hd, nullptr, nullptr,
                                         nullptr, hd, nullptr, nullptr, nullptr, wsize, w, work,
                                         ws, reserve, rs),
                 "cudnnRNNBackwardData_v8");
        cudnn_ok(cudnnRNNBackwardWeights_v8(h, rnn, CUDNN_WGRAD_MODE_ADD, seq, xd, x, hd,
                                            nullptr, yd, y, wsize, dw, work, ws, reserve, rs),
                 "cudnnRNNBackwardWeights_v8");
    }

    void destroy() {
        void *p[] = {w, dw, ws, rs, y, dx, hy, cy, seq};
        for (void *q : p)
            cudaFree(q);
        cudnnDestroyRNNDataDescriptor(xd);
        cudnnDestroyRNNDataDescriptor(yd);
        cudnnDestroyTensorDescriptor(hd);
        cudnnDestroyTensorDescriptor(md);
        cudnnDestroyTensorDescriptor(bd);
        cudnnDestroyDropoutDescriptor(drop);
        cudnnDestroyRNNDescriptor(rnn);
    }
};

// max |ours - theirs| / max |theirs| over n floats on the device; -1 for a non-finite value.
double rel_diff(const void *ours, const void *theirs, size_t n) {
    std::vector<float> a(n), b(n);
    cuda_ok(cudaMemcpy(a.data(), ours, n * sizeof(float), cudaMemcpyDeviceToHost), "ours");
    cuda_ok(cudaMemcpy(b.data(), theirs, n * sizeof(float), cudaMemcpyDeviceToHost), "cuDNN");
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!std::isfinite(a[i]))
            return -1.0;
        d = std::max(d, fabs((double)a[i] - b[i]));
        m = std::max(m, fabs((double)b[i]));
    }
    return m > 0 ? d / m : d;
}

// ---------------------------------------------------------------- CPU

double now_s() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cpu_table(bool quick) {
    ax_ctx *ctx = nullptr;
    ok(ax_ctx_create(AX_DEVICE_CPU, 0, &ctx), "CPU context");
    const int reps = quick ? 2 : 5;
    printf("CPU reference (OpenBLAS GEMMs + the step loop), median of %d runs, 1 layer, "
           "in = H, T = 64, batch 32 (the char-level model's layer)\n",
           reps);
    printf("%-6s %6s %12s %16s\n", "cell", "H", "fwd ms", "fwd+bwd ms");
    const ax_rnn_mode modes[2] = {AX_RNN_LSTM, AX_RNN_GRU};
    for (ax_rnn_mode m : modes) {
        Case c = {m, 256, 32, 64, 1};
        Ours o;
        o.create(ctx, c, 1);
        std::vector<double> f, fb;
        for (int r = 0; r < reps; r++) {
            double t0 = now_s();
            o.forward(ctx);
            double t1 = now_s();
            o.backward(ctx);
            double t2 = now_s();
            f.push_back(1e3 * (t1 - t0));
            fb.push_back(1e3 * (t2 - t0));
        }
        printf("%-6s %6lld %12.2f %16.2f\n", mode_name(m), (long long)c.h, median(f), median(fb));
        o.destroy();
    }
    printf("\n");
    ax_ctx_destroy(ctx);
}

// ---------------------------------------------------------------- GPU

int gpu_table(bool quick) {
    ax_ctx *ctx = open_gpu();
    if (!ctx)
        return 0;
    print_device("bench_rnn", ctx);
    printf(", cuDNN %zu\n", cudnnGetVersion());
    ax_device_info info;
    ok(ax_ctx_device_info(ctx, &info), "ax_ctx_device_info");
    const int sm_khz = gpu_clocks(info.index).sm_khz;
    cudnnHandle_t h;
    cudnn_ok(cudnnCreate(&h), "cudnnCreate");
    cudnn_ok(cudnnSetStream(h, ax_stream(ctx)), "cudnnSetStream");
    std::vector<Case> cases;
    const ax_rnn_mode modes[2] = {AX_RNN_LSTM, AX_RNN_GRU};
    for (ax_rnn_mode m : modes)
        for (int64_t hs : {512, 1024})
            for (int64_t n : {64, 1})
                for (int layers : {1, 2})
                    if (!quick || (hs == 512 && layers == 1))
                        cases.push_back({m, hs, n, 100, layers});
    const int warmup = quick ? 2 : 5, reps = quick ? 5 : 20;
    printf("T = 100, in = H, median of %d runs; ratio = cuDNN time / ours (> 1: ours faster)\n",
           reps);
    printf("%-5s %5s %4s %3s | %10s %10s %6s | %10s %10s %6s | %9s\n", "cell", "H", "N", "L",
           "fwd ms", "cuDNN", "ratio", "f+b ms", "cuDNN", "ratio", "max err");
    int failed = 0;
    for (const Case &c : cases) {
        Ours o;
        o.create(ctx, c, 7);
        Dnn d;
        d.create(h, c, o);
        const void *x = ax_tensor_const_data(o.x), *dy = ax_tensor_const_data(o.dy);
        // correctness first: y, hT (top layer), dx
        o.forward(ctx);
        o.backward(ctx);
        d.forward(c, x);
        d.backward(x, dy);
        ok(ax_ctx_synchronize(ctx), "check runs");
        const size_t seq = (size_t)(c.t * c.n * c.h), st = (size_t)(c.n * c.h);
        const Layer &top = o.l.back();
        double err = 0;
        const double parts[3] = {
            rel_diff(ax_tensor_const_data(top.y), d.y, seq),
            rel_diff(ax_tensor_const_data(top.hT), (const float *)d.hy + (c.layers - 1) * st, st),
            rel_diff(ax_tensor_const_data(o.l.front().dx), d.dx, seq)};
        for (double p : parts)
            err = p < 0 || err < 0 ? -1.0 : std::max(err, p);
        const bool bad = !(err >= 0 && err < 1e-3);
        failed |= bad;
        double f_ours = 0, f_dnn = 0, fb_ours = 0, fb_dnn = 0;
        time_alternating(ctx, sm_khz, warmup, reps, [&] { o.forward(ctx); },
                         [&] { d.forward(c, x); }, &f_ours, &f_dnn);
        time_alternating(ctx, sm_khz, warmup, reps,
                         [&] {
                             o.forward(ctx);
                             o.backward(ctx);
                         },
                         [&] {
                             d.forward(c, x);
                             d.backward(x, dy);
                         },
                         &fb_ours, &fb_dnn);
        printf("%-5s %5lld %4lld %3d | %10.3f %10.3f %6.2f | %10.3f %10.3f %6.2f | %9.2e%s\n",
               mode_name(c.mode), (long long)c.h, (long long)c.n, c.layers, f_ours, f_dnn,
               f_dnn / f_ours, fb_ours, fb_dnn, fb_dnn / fb_ours, err, bad ? "  FAIL" : "");
        fflush(stdout);
        d.destroy();
        o.destroy();
    }
    if (failed)
        printf("FAIL: some results differ from cuDNN (see above)\n");
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
