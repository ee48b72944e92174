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

/* the vector types, their makers and the read-only load that gemm.cu uses */
struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(8) float2 {
    float x, y;
};
static inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
static inline float2 make_float2(float x, float y) { return {x, y}; }
template <class T> static inline T __ldg(const T *p) { return *p; }
#define __align__(n) __attribute__((aligned(n)))

#endif
