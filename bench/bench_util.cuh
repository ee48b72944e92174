// Error exits shared by the CUDA benches: a bench stops at its first failure, naming the step
// and the library's message. Define BENCH_NAME (the program's name) before including.
#ifndef AX_BENCH_UTIL_CUH
#define AX_BENCH_UTIL_CUH

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <functional>
#include <vector>

#include <cuda_runtime_api.h>

#include "axon.h"
#include "host/cuda/cuda_internal.h" // ax_stream(ctx), for the events

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

// "<bench>: <device> (sm_XY, N SMs), SM clock ..., memory clock ..., CUDA runtime X.Y,
// driver X.Y" without the newline, for the head of a GPU table.
void print_device(const char *bench, ax_ctx *ctx) {
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
