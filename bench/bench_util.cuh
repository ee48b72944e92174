// Error exits shared by the CUDA benches: a bench stops at its first failure, naming the step
// and the library's message. Define BENCH_NAME (the program's name) before including.
#ifndef AX_BENCH_UTIL_CUH
#define AX_BENCH_UTIL_CUH

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "axon.h"

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

} // namespace

#endif
