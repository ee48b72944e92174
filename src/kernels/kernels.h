/* Launchers of the hand-written CUDA kernels, one group per src/kernels/<family>.cu.
 * Each has the signature of its entry in struct ax_backend (../host/backend.h): it queues the
 * kernel on ctx's stream, guards every tail, checks the launch, and does not synchronize. */
#ifndef AX_KERNELS_H
#define AX_KERNELS_H

#include "../host/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* rng.cu */
ax_status ax_cuda_rng_uniform(ax_ctx *ctx, float *y, int64_t n, float low, float high,
                              uint64_t seed, uint64_t offset);
ax_status ax_cuda_rng_normal(ax_ctx *ctx, float *y, int64_t n, float mean, float stddev,
                             uint64_t seed, uint64_t offset);
ax_status ax_cuda_rng_bernoulli(ax_ctx *ctx, float *y, int64_t n, float p, uint64_t seed,
                                uint64_t offset);

/* elementwise.cu */
ax_status ax_cuda_fill_f32(ax_ctx *ctx, float *y, int64_t n, float value);
ax_status ax_cuda_fill_i32(ax_ctx *ctx, int32_t *y, int64_t n, int32_t value);
ax_status ax_cuda_scale(ax_ctx *ctx, int64_t n, float alpha, const float *x, float *y);
ax_status ax_cuda_axpy(ax_ctx *ctx, int64_t n, float alpha, const float *x, float *y);
ax_status ax_cuda_add(ax_ctx *ctx, int64_t n, const float *a, const float *b, float *y);
ax_status ax_cuda_mul(ax_ctx *ctx, int64_t n, const float *a, const float *b, float *y);

/* gemm.cu */
ax_status ax_cuda_gemm(ax_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                       float alpha, const float *a, int64_t lda, int64_t stride_a,
                       const float *b, int64_t ldb, int64_t stride_b, float beta, float *c,
                       int64_t ldc, int64_t stride_c, int64_t batch);

#ifdef __cplusplus
}
#endif

#endif
