// src/kernels/gemm.cu on the host (emu.h), as emu_cuda_gemm: the SGEMM that conv.cu's
// pointwise and Winograd paths call. Its own translation unit, since both kernel files keep
// their constants in an anonymous namespace under the same names.
#include "emu.h"
#include "emu_names.h"

#include "gemm_emu.cu.inc" // src/kernels/gemm.cu with its launches rewritten
