/* A stand-in for the CUDA runtime header, for the host emulation of the kernels
 * (tests/kernel_emu): the few types and calls that src/host/cuda/cuda_internal.h and the
 * kernels use, with no CUDA toolkit needed. */
#ifndef AX_FAKE_CUDA_RUNTIME_API_H
#define AX_FAKE_CUDA_RUNTIME_API_H

typedef int cudaError_t;
enum { cudaSuccess = 0 };
typedef struct CUstream_st *cudaStream_t;

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

static inline cudaError_t cudaGetLastError(void) { return cudaSuccess; }

#endif
