// Shared by the GPU benches: the device line every table starts with, and the timer (CUDA
// events on the context's stream, warm-up runs, then the median of the timed runs). Include
// after bench_util.cuh (ok, cuda_ok, BENCH_NAME) and host/cuda/cuda_internal.h (ax_stream).
#ifndef AX_BENCH_GPU_CUH
#define AX_BENCH_GPU_CUH

#include <stdio.h>

#include <algorithm>
#include <functional>
#include <vector>

#include <cuda_runtime_api.h>

#include "axon.h"

namespace {

// A context on CUDA device 0, or NULL after printing "no CUDA device" (the bench then exits 0).
ax_ctx *open_gpu(void) {
    ax_ctx *ctx = nullptr;
    if (ax_cuda_device_count() == 0) {
        printf("no CUDA device\n");
        return nullptr;
    }
    if (ax_ctx_create(AX_DEVICE_CUDA, 0, &ctx) != AX_OK) {
        printf("no CUDA device (%s)\n", ax_last_error());
        return nullptr;
    }
    return ctx;
}

// "BENCH_NAME: <device> (sm_XY, N SMs), SM clock ..., CUDA runtime a.b, driver c.d" without
// the newline (a bench may add its library versions).
void print_device(const ax_ctx *ctx) {
    ax_device_info info;
    ok(ax_ctx_device_info(ctx, &info), "ax_ctx_device_info");
    int sm_khz = 0, mem_khz = 0, runtime = 0, driver = 0;
    cudaDeviceGetAttribute(&sm_khz, cudaDevAttrClockRate, info.index);
    cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, info.index);
    cudaRuntimeGetVersion(&runtime);
    cudaDriverGetVersion(&driver);
    printf(BENCH_NAME ": %s (sm_%d%d, %d SMs), SM clock %d MHz (max), memory clock %d MHz, "
                      "CUDA runtime %d.%d, driver %d.%d",
           info.name, info.cc_major, info.cc_minor, info.multiprocessors, sm_khz / 1000,
           mem_khz / 1000, runtime / 1000, runtime % 1000 / 10, driver / 1000,
           driver % 1000 / 10);
}

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
    // median milliseconds of run() over reps runs, after warm-up
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
