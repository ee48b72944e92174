/* Shared by the CUDA backend glue (src/host/cuda) and the kernels (src/kernels). */
#ifndef AX_CUDA_INTERNAL_H
#define AX_CUDA_INTERNAL_H

#include <cuda_runtime_api.h>

#include "../backend.h"

#ifdef __cplusplus
extern "C" {
#endif

static inline cudaStream_t ax_stream(const ax_ctx *ctx) { return (cudaStream_t)ctx->stream; }

/* AX_OK for cudaSuccess; otherwise records "fn: what: <CUDA's message>" and returns
 * AX_ERR_OOM for an allocation failure, AX_ERR_CUDA for anything else. */
ax_status ax_cuda_status(cudaError_t err, const char *fn, const char *what);

/* After a launch: reports a launch failure (bad configuration, no kernel image for this
 * device, an earlier asynchronous fault) of `kernel`, called from public op fn. */
#define AX_CUDA_LAUNCHED(kernel) ax_cuda_status(cudaGetLastError(), __func__, "launch of " kernel)

/* Blocks for a grid-stride loop over n elements: enough to fill the device, never 0. */
unsigned ax_cuda_blocks(const ax_ctx *ctx, int64_t n, int threads);

#ifdef __cplusplus
}
#endif

#endif
