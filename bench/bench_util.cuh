// Error exits shared by the CUDA benches: a bench stops at its first failure, naming the step
// and the library's message. Define BENCH_NAME (the program's name) before including.
#ifndef AX_BENCH_UTIL_CUH
#define AX_BENCH_UTIL_CUH

#include <stdio.h>
#include <stdlib.h>

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

} // namespace

#endif
