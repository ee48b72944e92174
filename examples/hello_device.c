/* The first program to run: picks a device (the GPU when one works), says which, runs
 * y = 2 x + 1 over a million Philox-random numbers on it, and checks the result on the host.
 * Usage: hello_device [auto|cpu|cuda] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon.h"

#define CHECK(call)                                                                            \
    do {                                                                                       \
        ax_status st_ = (call);                                                                \
        if (st_ != AX_OK) {                                                                    \
            fprintf(stderr, "error: %s: %s\n", ax_status_str(st_), ax_last_error());           \
            return 1;                                                                          \
        }                                                                                      \
    } while (0)

int main(int argc, char **argv) {
    ax_device_kind kind = AX_DEVICE_AUTO;
    if (argc > 1 && strcmp(argv[1], "cpu") == 0)
        kind = AX_DEVICE_CPU;
    else if (argc > 1 && strcmp(argv[1], "cuda") == 0)
        kind = AX_DEVICE_CUDA;
    else if (argc > 1 && strcmp(argv[1], "auto") != 0) {
        fprintf(stderr, "usage: %s [auto|cpu|cuda]\n", argv[0]);
        return 2;
    }

    ax_ctx *ctx = NULL;
    CHECK(ax_ctx_create(kind, 0, &ctx));
    ax_device_info info;
    CHECK(ax_ctx_device_info(ctx, &info));
    if (info.kind == AX_DEVICE_CUDA)
        printf("device: CUDA %d: %s (sm_%d%d, %d SMs, %.1f GiB)\n", info.index, info.name,
               info.cc_major, info.cc_minor, info.multiprocessors,
               (double)info.total_memory / (1u << 30));
    else
        printf("device: CPU (%d cores, %.1f GiB)%s\n", info.multiprocessors,
               (double)info.total_memory / (1u << 30),
               ax_cuda_device_count() ? "" : " -- no usable CUDA device found");

    enum { N = 1 << 20 };
    int64_t shape[1] = {N};
    ax_tensor *x = NULL, *y = NULL;
    CHECK(ax_tensor_create(ctx, AX_F32, 1, shape, &x));
    CHECK(ax_tensor_create(ctx, AX_F32, 1, shape, &y));
    CHECK(ax_rng_uniform(ctx, x, -1.0f, 1.0f, 42, 0));
    CHECK(ax_fill(ctx, y, 1.0f));
    CHECK(ax_axpy(ctx, 2.0f, x, y)); /* y = 2 x + 1 */

    float *hx = malloc(N * sizeof *hx), *hy = malloc(N * sizeof *hy);
    if (!hx || !hy) {
        fprintf(stderr, "error: out of memory\n");
        return 1;
    }
    CHECK(ax_tensor_to_host(x, hx, N * sizeof *hx));
    CHECK(ax_tensor_to_host(y, hy, N * sizeof *hy));
    int64_t wrong = 0;
    double sum = 0;
    for (int64_t i = 0; i < N; i++) {
        wrong += hy[i] != 2.0f * hx[i] + 1.0f;
        sum += hy[i];
    }
    printf("y = 2x + 1 over %d uniform numbers: mean %.4f (expected about 1), %lld wrong\n", N,
           sum / N, (long long)wrong);
    free(hx);
    free(hy);
    ax_tensor_destroy(x);
    ax_tensor_destroy(y);
    ax_ctx_destroy(ctx);
    if (wrong) {
        printf("FAILED\n");
        return 1;
    }
    printf("OK\n");
    return 0;
}
