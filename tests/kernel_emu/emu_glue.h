// The CUDA glue (src/host/cuda) that a kernel file's launchers call, stood in for by the
// emulation tests, included after the rewritten kernel file: launches and checks succeed,
// a grid-stride grid is capped at EMU_MAX_BLOCKS blocks (a short loop, so every thread strides
// at least once on the larger cases), the device check is one host record (emu_check), and
// emu_main runs a test's cases on a CPU context that claims `sms` multiprocessors.
#ifndef AX_KERNEL_EMU_GLUE_H
#define AX_KERNEL_EMU_GLUE_H

#include <cstdio>

#ifndef EMU_MAX_BLOCKS
#define EMU_MAX_BLOCKS 3
#endif

inline ax_cuda_check emu_check;

extern "C" ax_status emu_cuda_status(cudaError_t, const char *, const char *) { return AX_OK; }

extern "C" unsigned emu_cuda_blocks(const ax_ctx *, int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads;
    return b > EMU_MAX_BLOCKS ? (unsigned)EMU_MAX_BLOCKS : b < 1 ? 1u : (unsigned)b;
}

extern "C" ax_status emu_device_check(ax_ctx *, const char *, ax_cuda_check **out) {
    *out = &emu_check;
    return AX_OK;
}

extern "C" {
#include "host/cpu/cpu.h"
}

// run(ctx) returns the number of failed cases; the exit status is 0 when there are none.
inline int emu_main(const char *name, int sms, int (*run)(ax_ctx *)) {
    ax_ctx *ctx = nullptr;
    if (ax_ctx_create(AX_DEVICE_CPU, 0, &ctx) != AX_OK) {
        printf("FAIL: no CPU context: %s\n", ax_last_error());
        return 1;
    }
    ctx->info.multiprocessors = sms;
    int bad = run(ctx);
    ax_ctx_destroy(ctx);
    printf("%s: %s\n", name, bad ? "FAILED" : "all cases pass");
    return bad != 0;
}

#endif
