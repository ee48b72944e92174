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

/* reduce.cu */
ax_status ax_cuda_bias_add(ax_ctx *ctx, float *y, const float *b, int64_t outer, int64_t dim,
                           int64_t inner);
ax_status ax_cuda_reduce_sum(ax_ctx *ctx, const float *x, float *y, int64_t outer, int64_t dim,
                             int64_t inner, float scale);
ax_status ax_cuda_bias_grad(ax_ctx *ctx, const float *dy, float *db, int64_t outer, int64_t dim,
                            int64_t inner);
ax_status ax_cuda_broadcast(ax_ctx *ctx, const float *dy, float *dx, int64_t outer, int64_t dim,
                            int64_t inner, float scale);
ax_status ax_cuda_sum_squares(ax_ctx *ctx, const float *x, int64_t n, int accumulate, float *out);
ax_status ax_cuda_dot(ax_ctx *ctx, const float *a, const float *b, int64_t n, float *out);
ax_status ax_cuda_abs_max(ax_ctx *ctx, const float *x, int64_t n, float *out);
ax_status ax_cuda_l1_penalty(ax_ctx *ctx, const float *w, int64_t n, float lambda, float *out,
                             float *dw);
ax_status ax_cuda_l2_penalty(ax_ctx *ctx, const float *w, int64_t n, float lambda, float *out,
                             float *dw);

/* activation.cu */
ax_status ax_cuda_activation_forward(ax_ctx *ctx, int act, float slope, const float *x, float *y,
                                     int64_t n);
ax_status ax_cuda_activation_backward(ax_ctx *ctx, int act, float slope, const float *x,
                                      const float *y, const float *dy, float *dx, int64_t n);

/* softmax.cu */
ax_status ax_cuda_softmax_forward(ax_ctx *ctx, int log, const float *x, float *y, int64_t rows,
                                  int64_t cols);
ax_status ax_cuda_softmax_backward(ax_ctx *ctx, int log, const float *y, const float *dy,
                                   float *dx, int64_t rows, int64_t cols);

/* loss.cu (the cross-entropy pair synchronizes to check the labels) */
ax_status ax_cuda_mse_forward(ax_ctx *ctx, const float *pred, const float *target, int64_t n,
                              float scale, float *loss);
ax_status ax_cuda_mse_backward(ax_ctx *ctx, const float *pred, const float *target, int64_t n,
                               float scale, const float *dloss, float *dpred);
ax_status ax_cuda_cross_entropy_forward(ax_ctx *ctx, const float *logits, const int32_t *labels,
                                        int64_t rows, int64_t cols, float scale, float *loss);
ax_status ax_cuda_cross_entropy_backward(ax_ctx *ctx, const float *logits,
                                         const int32_t *labels, int64_t rows, int64_t cols,
                                         float scale, const float *dloss, float *dlogits);
ax_status ax_cuda_bce_forward(ax_ctx *ctx, const float *logits, const float *targets, int64_t n,
                              float scale, float *loss);
ax_status ax_cuda_bce_backward(ax_ctx *ctx, const float *logits, const float *targets, int64_t n,
                               float scale, const float *dloss, float *dlogits);

/* dropout.cu */
ax_status ax_cuda_dropout(ax_ctx *ctx, float p, uint64_t seed, uint64_t offset, const float *x,
                          float *y, int64_t n);

/* optim.cu: optimizer updates (rules in ../host/optim/update.h) and clamp */
ax_status ax_cuda_optim_update(ax_ctx *ctx, const struct ax_optim_update *a, int64_t n, float *w,
                               const float *g, float *s0, float *s1, float *s2);
ax_status ax_cuda_clamp(ax_ctx *ctx, int64_t n, float lo, float hi, const float *x, float *y);

#ifdef __cplusplus
}
#endif

#endif
