// The CUDA glue a kernel file calls, for its host emulation (emu.h): included once by each
// emu_*.cpp (one translation unit per emulation program)
// after its kernel file, whose calls of ax_cuda_status and ax_cuda_blocks the test renamed to
// these (#define ax_cuda_status emu_cuda_status, #define ax_cuda_blocks emu_cuda_blocks).
#ifndef AX_KERNEL_EMU_GLUE_H
#define AX_KERNEL_EMU_GLUE_H

#include <cstdint>

extern "C" ax_status emu_cuda_status(cudaError_t, const char *, const char *) {
    return AX_OK;
}
extern "C" unsigned emu_cuda_blocks(const ax_ctx *, int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads; // a short grid-stride loop: at most 5 blocks
    return b > 5 ? 5u : b < 1 ? 1u : (unsigned)b;
}

#endif
