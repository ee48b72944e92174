/* The CPU backend: the reference implementation of every op (see ../backend.h for the
 * contract of each function). */
#ifndef AX_CPU_H
#define AX_CPU_H

#include "../backend.h"

void ax_cpu_ctx_init(ax_ctx *ctx);

/* rng.c */
ax_status ax_cpu_rng_uniform(ax_ctx *ctx, float *y, int64_t n, float low, float high,
                             uint64_t seed, uint64_t offset);
ax_status ax_cpu_rng_normal(ax_ctx *ctx, float *y, int64_t n, float mean, float stddev,
                            uint64_t seed, uint64_t offset);
ax_status ax_cpu_rng_bernoulli(ax_ctx *ctx, float *y, int64_t n, float p, uint64_t seed,
                               uint64_t offset);

/* elementwise.c */
ax_status ax_cpu_fill_f32(ax_ctx *ctx, float *y, int64_t n, float value);
ax_status ax_cpu_fill_i32(ax_ctx *ctx, int32_t *y, int64_t n, int32_t value);
ax_status ax_cpu_scale(ax_ctx *ctx, int64_t n, float alpha, const float *x, float *y);
ax_status ax_cpu_axpy(ax_ctx *ctx, int64_t n, float alpha, const float *x, float *y);
ax_status ax_cpu_add(ax_ctx *ctx, int64_t n, const float *a, const float *b, float *y);
ax_status ax_cpu_mul(ax_ctx *ctx, int64_t n, const float *a, const float *b, float *y);

/* gemm.c: OpenBLAS cblas_sgemm, one call per batch entry */
ax_status ax_cpu_gemm(ax_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                      float alpha, const float *a, int64_t lda, int64_t stride_a,
                      const float *b, int64_t ldb, int64_t stride_b, float beta, float *c,
                      int64_t ldc, int64_t stride_c, int64_t batch);

/* reduce.c: [outer, dim, inner] views (see ../backend.h); sums accumulate in double */
ax_status ax_cpu_bias_add(ax_ctx *ctx, float *y, const float *b, int64_t outer, int64_t dim,
                          int64_t inner);
ax_status ax_cpu_reduce_sum(ax_ctx *ctx, const float *x, float *y, int64_t outer, int64_t dim,
                            int64_t inner, float scale);
ax_status ax_cpu_bias_grad(ax_ctx *ctx, const float *dy, float *db, int64_t outer, int64_t dim,
                           int64_t inner);
ax_status ax_cpu_broadcast(ax_ctx *ctx, const float *dy, float *dx, int64_t outer, int64_t dim,
                           int64_t inner, float scale);
ax_status ax_cpu_sum_squares(ax_ctx *ctx, const float *x, int64_t n, int accumulate,
                             float *out);
ax_status ax_cpu_dot(ax_ctx *ctx, const float *a, const float *b, int64_t n, float *out);
ax_status ax_cpu_abs_max(ax_ctx *ctx, const float *x, int64_t n, float *out);
ax_status ax_cpu_l1_penalty(ax_ctx *ctx, const float *w, int64_t n, float lambda, float *out,
                            float *dw);
ax_status ax_cpu_l2_penalty(ax_ctx *ctx, const float *w, int64_t n, float lambda, float *out,
                            float *dw);

/* activation.c */
double ax_cpu_sigmoid(double x); /* 1 / (1 + e^-x) without overflow */
ax_status ax_cpu_activation_forward(ax_ctx *ctx, int act, float slope, const float *x,
                                    float *y, int64_t n);
ax_status ax_cpu_activation_backward(ax_ctx *ctx, int act, float slope, const float *x,
                                     const float *y, const float *dy, float *dx, int64_t n);

/* softmax.c: rows of `cols` elements */
/* log sum_j e^(x[j] - m) with m = max_j x[j] written to *max (log sum e^x = m + that) */
double ax_cpu_log_sum_shifted(const float *x, int64_t n, double *max);
ax_status ax_cpu_softmax_forward(ax_ctx *ctx, int is_log, const float *x, float *y,
                                 int64_t rows, int64_t cols);
ax_status ax_cpu_softmax_backward(ax_ctx *ctx, int is_log, const float *y, const float *dy,
                                  float *dx, int64_t rows, int64_t cols);

/* loss.c */
ax_status ax_cpu_mse_forward(ax_ctx *ctx, const float *pred, const float *target, int64_t n,
                             float scale, float *loss);
ax_status ax_cpu_mse_backward(ax_ctx *ctx, const float *pred, const float *target, int64_t n,
                              float scale, const float *dloss, float *dpred);
ax_status ax_cpu_cross_entropy_forward(ax_ctx *ctx, const float *logits, const int32_t *labels,
                                       int64_t rows, int64_t cols, float scale, float *loss);
ax_status ax_cpu_cross_entropy_backward(ax_ctx *ctx, const float *logits,
                                        const int32_t *labels, int64_t rows, int64_t cols,
                                        float scale, const float *dloss, float *dlogits);
ax_status ax_cpu_bce_forward(ax_ctx *ctx, const float *logits, const float *targets, int64_t n,
                             float scale, float *loss);
ax_status ax_cpu_bce_backward(ax_ctx *ctx, const float *logits, const float *targets,
                              int64_t n, float scale, const float *dloss, float *dlogits);

/* dropout.c */
ax_status ax_cpu_dropout(ax_ctx *ctx, float p, uint64_t seed, uint64_t offset, const float *x,
                         float *y, int64_t n);

/* optim.c: optimizer updates (rules in ../optim/update.h) and clamp */
ax_status ax_cpu_optim_update(ax_ctx *ctx, const struct ax_optim_update *a, int64_t n, float *w,
                              const float *g, float *s0, float *s1, float *s2);
ax_status ax_cpu_clamp(ax_ctx *ctx, int64_t n, float lo, float hi, const float *x, float *y);

#endif
