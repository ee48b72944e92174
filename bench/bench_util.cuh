// Error exits shared by the CUDA benches: a bench stops at its first failure, naming the step
// and the library's message. Define BENCH_NAME (the program's name) before including.
#ifndef AX_BENCH_UTIL_CUH
#define AX_BENCH_UTIL_CUH

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include <cuda_runtime_api.h>

#include "axon.h"
#include "host/cuda/cuda_internal.h" // ax_stream(ctx)

namespace {

[[noreturn]] void die(const char *what) {
    fprintf(stderr, BENCH_NAME ": %s: %s\n", what, ax_last_error());
    exit(1);
}

void ok(ax_status st, const char *what) {
    if (st != AX_OK)
        die(what);
}

void cuda_ok(cudaError_t err, const char *what) {
    if (err != cudaSuccess) {
        fprintf(stderr, BENCH_NAME ": %s: %s\n", what, cudaGetErrorString(err));
        exit(1);
    }
}

#ifdef CUDNN_MAJOR // the bench included <cudnn.h> first
void cudnn_ok(cudnnStatus_t st, const char *what) {
    if (st != CUDNN_STATUS_SUCCESS) {
        fprintf(stderr, BENCH_NAME ": %s: %s\n", what, cudnnGetErrorString(st));
        exit(1);
    }
}
#endif

// The benches' one option: --quick (fewer sizes and runs, for scripts/gpu-check). Anything
// else prints the usage and exits 2.
bool parse_quick(int argc, char **argv) {
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") != 0) {
            fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
            exit(2);
        }
        quick = true;
    }
    return quick;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// A context on CUDA device 0, or NULL after printing "no CUDA device" (the bench then exits 0
// after its CPU table, if it has one).
ax_ctx *open_gpu(void) {
    ax_ctx *ctx = nullptr;
    if (ax_cuda_device_count() == 0) {
        printf("no CUDA device: GPU table skipped\n");
        return nullptr;
    }
    if (ax_ctx_create(AX_DEVICE_CUDA, 0, &ctx) != AX_OK) {
        printf("no CUDA device (%s): GPU table skipped\n", ax_last_error());
        return nullptr;
    }
    return ctx;
}

// The same, with the device's description.
ax_ctx *gpu_ctx_or_skip(ax_device_info *info) {
    ax_ctx *ctx = open_gpu();
    if (ctx)
        ok(ax_ctx_device_info(ctx, info), "ax_ctx_device_info");
    return ctx;
}

// max |ours - ref| / max |ref| over two same-sized tensors (read back here); -1 when ours
// holds a NaN or an infinity. Destroys ref.
double rel_diff_and_free(const ax_tensor *ours, ax_tensor *ref) {
    std::vector<float> got((size_t)ax_tensor_numel(ours)), want(got.size());
    ok(ax_tensor_to_host(ours, got.data(), got.size() * sizeof(float)), "ours to host");
    ok(ax_tensor_to_host(ref, want.data(), want.size() * sizeof(float)), "reference to host");
    ax_tensor_destroy(ref);
    double max_diff = 0, max_ref = 0;
    for (size_t i = 0; i < got.size(); i++) {
        if (!std::isfinite(got[i]))
            return -1.0;
        max_diff = std::max(max_diff, fabs((double)got[i] - (double)want[i]));
        max_ref = std::max(max_ref, fabs((double)want[i]));
    }
    return max_ref > 0 ? max_diff / max_ref : max_diff;
}

// Clocks and versions printed with every table.
struct GpuClocks {
    int sm_khz = 0, mem_khz = 0, runtime = 0, driver = 0;
};

GpuClocks gpu_clocks(int device) {
    GpuClocks c;
    cudaDeviceGetAttribute(&c.sm_khz, cudaDevAttrClockRate, device);
    cudaDeviceGetAttribute(&c.mem_khz, cudaDevAttrMemoryClockRate, device);
    cudaRuntimeGetVersion(&c.runtime);
    cudaDriverGetVersion(&c.driver);
    return c;
}

// Holds the stream for about `cycles` SM clocks, so that the launches queued after it start
// back to back once it ends.
__global__ void spin_kernel(long long cycles) {
    const long long start = clock64();
    while (clock64() - start < cycles) {
    }
}

// Median GPU milliseconds of ours() and of theirs(), called alternately reps times after
// `warmup` calls of each. Every timed call sits between two events on ctx's stream, all
// queued behind a spin kernel (2 ms plus 50 us per call at sm_khz), so each event pair
// measures the GPU time of one call, not the host's launch latency.
void time_alternating(ax_ctx *ctx, int sm_khz, int warmup, int reps,
                      const std::function<void()> &ours, const std::function<void()> &theirs,
                      double *ours_ms, double *theirs_ms) {
    for (int i = 0; i < warmup; i++) {
        ours();
        theirs();
    }
    ok(ax_ctx_synchronize(ctx), "warm-up");
    cudaStream_t stream = ax_stream(ctx);
    std::vector<cudaEvent_t> ev((size_t)(4 * reps));
    for (cudaEvent_t &e : ev)
        cuda_ok(cudaEventCreate(&e), "cudaEventCreate");
    spin_kernel<<<1, 1, 0, stream>>>((long long)sm_khz * (2 + reps / 10));
    cuda_ok(cudaGetLastError(), "spin_kernel");
    for (int r = 0; r < reps; r++) {
        cuda_ok(cudaEventRecord(ev[(size_t)(4 * r + 0)], stream), "cudaEventRecord");
        ours();
        cuda_ok(cudaEventRecord(ev[(size_t)(4 * r + 1)], stream), "cudaEventRecord");
        cuda_ok(cudaEventRecord(ev[(size_t)(4 * r + 2)], stream), "cudaEventRecord");
        theirs();
        cuda_ok(cudaEventRecord(ev[(size_t)(4 * r + 3)], stream), "cudaEventRecord");
    }
    ok(ax_ctx_synchronize(ctx), "timed runs");
    std::vector<double> a, b;
    for (int r = 0; r < reps; r++) {
        float t = 0.0f;
        cuda_ok(cudaEventElapsedTime(&t, ev[(size_t)(4 * r)], ev[(size_t)(4 * r + 1)]),
                "cudaEventElapsedTime");
        a.push_back(t);
        cuda_ok(cudaEventElapsedTime(&t, ev[(size_t)(4 * r + 2)], ev[(size_t)(4 * r + 3)]),
                "cudaEventElapsedTime");
        b.push_back(t);
    }
    for (cudaEvent_t &e : ev)
        cudaEventDestroy(e);
    *ours_ms = median(a);
    *theirs_ms = median(b);
}

// "<bench>: <device> (sm_XY, N SMs), SM clock ..., memory clock ..., CUDA runtime X.Y,
// driver X.Y" without the newline, for the head of a GPU table.
void print_device(const char *bench, const ax_ctx *ctx) {
    ax_device_info info;
    ok(ax_ctx_device_info(ctx, &info), "ax_ctx_device_info");
    int sm_khz = 0, mem_khz = 0, runtime = 0, driver = 0;
    cudaDeviceGetAttribute(&sm_khz, cudaDevAttrClockRate, info.index);
    cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, info.index);
    cudaRuntimeGetVersion(&runtime);
    cudaDriverGetVersion(&driver);
    printf("%s: %s (sm_%d%d, %d SMs), SM clock %d MHz (max), memory clock %d MHz, "
           "CUDA runtime %d.%d, driver %d.%d",
           bench, info.name, info.cc_major, info.cc_minor, info.multiprocessors, sm_khz / 1000,
           mem_khz / 1000, runtime / 1000, runtime % 1000 / 10, driver / 1000,
           driver % 1000 / 10);
}

// Median milliseconds of run() over reps runs after warmup runs, timed with CUDA events on
// ctx's stream.
struct Timer {
    ax_ctx *ctx;
    int warmup, reps;
    cudaEvent_t start, stop;
    Timer(ax_ctx *c, int w, int r) : ctx(c), warmup(w), reps(r) {
        cuda_ok(cudaEventCreate(&start), "cudaEventCreate");
        cuda_ok(cudaEventCreate(&stop), "cudaEventCreate");
    }
    ~Timer() {
        cudaEventDestroy(start);
        cudaEventDestroy(stop);
    }
    double median_ms(const std::function<void()> &run) {
        for (int i = 0; i < warmup; i++)
            run();
        ok(ax_ctx_synchronize(ctx), "warm-up");
        std::vector<double> ms;
        cudaStream_t s = ax_stream(ctx);
        for (int i = 0; i < reps; i++) {
            cuda_ok(cudaEventRecord(start, s), "cudaEventRecord");
            run();
            cuda_ok(cudaEventRecord(stop, s), "cudaEventRecord");
            cuda_ok(cudaEventSynchronize(stop), "cudaEventSynchronize");
            float t = 0.0f;
            cuda_ok(cudaEventElapsedTime(&t, start, stop), "cudaEventElapsedTime");
            ms.push_back(t);
        }
        ok(ax_ctx_synchronize(ctx), "timed runs");
        std::sort(ms.begin(), ms.end());
        return ms[ms.size() / 2];
    }
};

} // namespace

#endif
