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

/* Checks that kernels make of data the host does not read (an embedding index out of range,
 * a row of probabilities that is no distribution), without a synchronization of their own:
 * the first failing thread of any kernel claims the context's record (atomicCAS on claimed)
 * and writes what it found. The context's next synchronizing call (ax_ctx_synchronize, a copy
 * to the host) copies the record back within the wait it makes anyway, clears it, and
 * returns AX_ERR_INVALID_ARG with the message of the call that queued the kernel. */
typedef struct ax_cuda_check {
    int claimed; /* 0: nothing recorded */
    int what;    /* AX_CUDA_CHECK_* */
    long long pos, value, bound;
} ax_cuda_check;

enum {
    AX_CUDA_CHECK_EMBEDDING_FORWARD = 1,  /* pos: position i, value: the index, bound: vocab */
    AX_CUDA_CHECK_EMBEDDING_BACKWARD = 2, /* the same */
    AX_CUDA_CHECK_MULTINOMIAL = 3,        /* pos: row, value: the bad column or -1 (sum 0) */
};

/* ctx's record on the device: allocated and zeroed on ctx's stream at the first call. */
ax_status ax_cuda_device_check(ax_ctx *ctx, const char *fn, ax_cuda_check **out);

#ifdef __cplusplus
}
#endif

#endif
