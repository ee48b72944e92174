/* The op entries of the backend table, declared once. Each line is
 *     AX_BACKEND_ENTRY(return type, name, (parameters))
 * and the includer defines AX_BACKEND_ENTRY to make of it what it needs: the fields of
 * struct ax_backend (backend.h), the CPU functions ax_cpu_<name> (cpu/cpu.h) and the CUDA
 * launchers ax_cuda_<name> (kernels/kernels.h), and both tables (cpu/backend.c,
 * cuda/device.c). Adding an entry is one line here plus its two implementations.
 *
 * The contract of every entry is in backend.h. No include guard: included once per use. */
#ifndef AX_BACKEND_ENTRY
#error "define AX_BACKEND_ENTRY(ret, name, params) before including backend_entries.h"
#endif

/* Philox fills of y[0..n) (see common/philox.h for the exact streams) */
AX_BACKEND_ENTRY(ax_status, rng_uniform, (ax_ctx *ctx, float *y, int64_t n, float low,
                                          float high, uint64_t seed, uint64_t offset))
AX_BACKEND_ENTRY(ax_status, rng_normal, (ax_ctx *ctx, float *y, int64_t n, float mean,
                                         float stddev, uint64_t seed, uint64_t offset))
AX_BACKEND_ENTRY(ax_status, rng_bernoulli, (ax_ctx *ctx, float *y, int64_t n, float p,
                                            uint64_t seed, uint64_t offset))

/* elementwise, n elements */
AX_BACKEND_ENTRY(ax_status, fill_f32, (ax_ctx *ctx, float *y, int64_t n, float value))
AX_BACKEND_ENTRY(ax_status, fill_i32, (ax_ctx *ctx, int32_t *y, int64_t n, int32_t value))
AX_BACKEND_ENTRY(ax_status, scale, (ax_ctx *ctx, int64_t n, float alpha, const float *x,
                                    float *y))
AX_BACKEND_ENTRY(ax_status, axpy, (ax_ctx *ctx, int64_t n, float alpha, const float *x,
                                   float *y))
AX_BACKEND_ENTRY(ax_status, add, (ax_ctx *ctx, int64_t n, const float *a, const float *b,
                                  float *y))
AX_BACKEND_ENTRY(ax_status, mul, (ax_ctx *ctx, int64_t n, const float *a, const float *b,
                                  float *y))

/* C[i] = alpha op(A[i]) op(B[i]) + beta C[i] for i < batch, row-major, with leading
 * dimensions lda/ldb/ldc and batch strides (a stride of 0 shares the operand).
 * op(A) is [m, k], op(B) is [k, n]. beta == 0 must not read C. */
AX_BACKEND_ENTRY(ax_status, gemm,
                 (ax_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                  float alpha, const float *a, int64_t lda, int64_t stride_a, const float *b,
                  int64_t ldb, int64_t stride_b, float beta, float *c, int64_t ldc,
                  int64_t stride_c, int64_t batch))

/* y[o, d, i] += b[d] */
AX_BACKEND_ENTRY(ax_status, bias_add, (ax_ctx *ctx, float *y, const float *b, int64_t outer,
                                       int64_t dim, int64_t inner))
/* y[o, i] = scale * sum_d x[o, d, i] */
AX_BACKEND_ENTRY(ax_status, reduce_sum, (ax_ctx *ctx, const float *x, float *y, int64_t outer,
                                         int64_t dim, int64_t inner, float scale))
/* db[d] = sum_{o, i} dy[o, d, i] */
AX_BACKEND_ENTRY(ax_status, bias_grad, (ax_ctx *ctx, const float *dy, float *db, int64_t outer,
                                        int64_t dim, int64_t inner))
/* dx[o, d, i] = scale * dy[o, i] */
AX_BACKEND_ENTRY(ax_status, broadcast, (ax_ctx *ctx, const float *dy, float *dx, int64_t outer,
                                        int64_t dim, int64_t inner, float scale))
/* out[0] = (accumulate ? out[0] : 0) + sum x^2 */
AX_BACKEND_ENTRY(ax_status, sum_squares, (ax_ctx *ctx, const float *x, int64_t n,
                                          int accumulate, float *out))
/* out[0] = sum_e a[e] b[e], products and sum in double, rounded once; deterministic */
AX_BACKEND_ENTRY(ax_status, dot, (ax_ctx *ctx, const float *a, const float *b, int64_t n,
                                  float *out))
/* out[0] = max_e |x[e]|, NaN when any x[e] is NaN */
AX_BACKEND_ENTRY(ax_status, abs_max, (ax_ctx *ctx, const float *x, int64_t n, float *out))
/* out[0] += penalty, dw += gradient; out or dw may be NULL (see ops.h for the formulas) */
AX_BACKEND_ENTRY(ax_status, l1_penalty, (ax_ctx *ctx, const float *w, int64_t n, float lambda,
                                         float *out, float *dw))
AX_BACKEND_ENTRY(ax_status, l2_penalty, (ax_ctx *ctx, const float *w, int64_t n, float lambda,
                                         float *out, float *dw))

/* act is an ax_activation; backward gets x and y (either may be NULL when unused) */
AX_BACKEND_ENTRY(ax_status, activation_forward, (ax_ctx *ctx, int act, float slope,
                                                 const float *x, float *y, int64_t n))
AX_BACKEND_ENTRY(ax_status, activation_backward,
                 (ax_ctx *ctx, int act, float slope, const float *x, const float *y,
                  const float *dy, float *dx, int64_t n))

/* rows of `cols` elements; is_log selects log-softmax */
AX_BACKEND_ENTRY(ax_status, softmax_forward, (ax_ctx *ctx, int is_log, const float *x, float *y,
                                              int64_t rows, int64_t cols))
AX_BACKEND_ENTRY(ax_status, softmax_backward,
                 (ax_ctx *ctx, int is_log, const float *y, const float *dy, float *dx,
                  int64_t rows, int64_t cols))

/* losses: loss[0] = scale * sum of the per-element (per-row) terms, scale = 1/count for the
 * mean and 1 for the sum; backward: d = scale * (dloss ? dloss[0] : 1) * d term */
AX_BACKEND_ENTRY(ax_status, mse_forward, (ax_ctx *ctx, const float *pred, const float *target,
                                          int64_t n, float scale, float *loss))
AX_BACKEND_ENTRY(ax_status, mse_backward,
                 (ax_ctx *ctx, const float *pred, const float *target, int64_t n, float scale,
                  const float *dloss, float *dpred))
/* labels outside [0, cols) answer AX_ERR_INVALID_ARG (these two may synchronize) */
AX_BACKEND_ENTRY(ax_status, cross_entropy_forward,
                 (ax_ctx *ctx, const float *logits, const int32_t *labels, int64_t rows,
                  int64_t cols, float scale, float *loss))
AX_BACKEND_ENTRY(ax_status, cross_entropy_backward,
                 (ax_ctx *ctx, const float *logits, const int32_t *labels, int64_t rows,
                  int64_t cols, float scale, const float *dloss, float *dlogits))
AX_BACKEND_ENTRY(ax_status, bce_forward, (ax_ctx *ctx, const float *logits,
                                          const float *targets, int64_t n, float scale,
                                          float *loss))
AX_BACKEND_ENTRY(ax_status, bce_backward,
                 (ax_ctx *ctx, const float *logits, const float *targets, int64_t n,
                  float scale, const float *dloss, float *dlogits))

/* y = x * keep / (1 - p), keep from ax_philox_uniform(seed, offset, e) >= p; the same
 * function serves forward (x, y) and backward (dy, dx); 0 < p < 1 here, the entry point
 * handles p = 0 and p = 1 */
AX_BACKEND_ENTRY(ax_status, dropout, (ax_ctx *ctx, float p, uint64_t seed, uint64_t offset,
                                      const float *x, float *y, int64_t n))

/* one optimizer step over n elements: w and the state s0..s2 updated in place from g by the
 * rule of a->family (common/optim_update.h); states a variant lacks are NULL */
AX_BACKEND_ENTRY(ax_status, optim_update,
                 (ax_ctx *ctx, const struct ax_optim_update *a, int64_t n, float *w,
                  const float *g, float *s0, float *s1, float *s2))
/* y = min(max(x, lo), hi), NaN stays NaN; y may alias x */
AX_BACKEND_ENTRY(ax_status, clamp, (ax_ctx *ctx, int64_t n, float lo, float hi, const float *x,
                                    float *y))

/* batch norm over the channels of x viewed as [outer, channels, inner] (M = outer inner values
 * per channel); gamma and beta may be NULL (1 and 0); y may alias x.
 * training: the batch's mean and biased var (M >= 2); save_mean, save_invstd (either may be
 * NULL) get mean and 1 / sqrt(var + eps); running_mean, running_var (both or neither) become
 * (1 - factor) running + factor (mean, unbiased var) */
AX_BACKEND_ENTRY(ax_status, batch_norm_forward_training,
                 (ax_ctx *ctx, const float *x, const float *gamma, const float *beta, float *y,
                  int64_t outer, int64_t channels, int64_t inner, float eps, float factor,
                  float *running_mean, float *running_var, float *save_mean,
                  float *save_invstd))
/* evaluation: y from the given mean and var (running statistics) */
AX_BACKEND_ENTRY(ax_status, batch_norm_forward_inference,
                 (ax_ctx *ctx, const float *x, const float *gamma, const float *beta,
                  const float *mean, const float *var, float eps, float *y, int64_t outer,
                  int64_t channels, int64_t inner))
/* training = 1: mean and stat are the saved batch mean and inverse std, and dx carries the
 * terms of the statistics; training = 0: mean and stat are the running mean and var
 * (constants, invstd = 1 / sqrt(var + eps)). dx, dgamma, dbeta may be NULL; dx may alias dy */
AX_BACKEND_ENTRY(ax_status, batch_norm_backward,
                 (ax_ctx *ctx, int training, const float *x, const float *dy,
                  const float *gamma, const float *mean, const float *stat, float eps,
                  float *dx, float *dgamma, float *dbeta, int64_t outer, int64_t channels,
                  int64_t inner))

/* 2-D convolution, NCHW, w [k, c/groups, r, s], geometry g (common/conv_geom.h), every output
 * overwritten. forward: y = conv(x, w) (+ b[k] when b is not NULL); backward_data: dx from dy
 * and w; backward_filter: dw from x and dy, deterministic (bit-identical between calls) */
AX_BACKEND_ENTRY(ax_status, conv2d_forward, (ax_ctx *ctx, const struct ax_conv2d_geom *g,
                                             const float *x, const float *w, const float *b,
                                             float *y))
AX_BACKEND_ENTRY(ax_status, conv2d_backward_data, (ax_ctx *ctx, const struct ax_conv2d_geom *g,
                                                   const float *dy, const float *w, float *dx))
AX_BACKEND_ENTRY(ax_status, conv2d_backward_filter,
                 (ax_ctx *ctx, const struct ax_conv2d_geom *g, const float *x, const float *dy,
                  float *dw))

/* 2-D pooling over the planes of g (common/pool2d.h). Max: y = the window's maximum, the
 * first one in row-major window order, a NaN when the window holds one (the last NaN);
 * idx (NULL: not written) = its flat index iy * w + ix in the plane. Backward: a gather,
 * dx[p, i] = sum of dy[p, o] over the outputs o whose window covers i with idx[p, o] == i,
 * in a fixed order (deterministic). Average: y = sum over the window / divisor;
 * dx[i] = sum over the windows o covering i of dy[o] / divisor(o). */
AX_BACKEND_ENTRY(ax_status, max_pool2d_forward, (ax_ctx *ctx, const struct ax_pool2d_geom *g,
                                                 const float *x, float *y, int32_t *idx))
AX_BACKEND_ENTRY(ax_status, max_pool2d_backward, (ax_ctx *ctx, const struct ax_pool2d_geom *g,
                                                  const int32_t *idx, const float *dy,
                                                  float *dx))
AX_BACKEND_ENTRY(ax_status, avg_pool2d_forward, (ax_ctx *ctx, const struct ax_pool2d_geom *g,
                                                 const float *x, float *y))
AX_BACKEND_ENTRY(ax_status, avg_pool2d_backward, (ax_ctx *ctx, const struct ax_pool2d_geom *g,
                                                  const float *dy, float *dx))

/* One recurrent step's pointwise part, fused (common/rnn_step.h holds the formulas and the
 * layout): the gate nonlinearities and the state update of every (row, column) of
 * s->rows x s->hidden, and their backward. The GEMMs around it are the op's. */
AX_BACKEND_ENTRY(ax_status, rnn_step_forward, (ax_ctx *ctx, const struct ax_rnn_step *s))
AX_BACKEND_ENTRY(ax_status, rnn_step_backward, (ax_ctx *ctx, const struct ax_rnn_step_grad *s))

/* Embedding, w [vocab, dim]: forward out[i, d] = w[idx[i], d] for i < n; backward
 * dw[v, d] (accumulate ? += : =) the sum of dout[i, d] over i with idx[i] == v, one f32 sum in
 * increasing i (deterministic, the same bits on every backend). An index outside [0, vocab):
 * the CPU answers AX_ERR_INVALID_ARG before writing; CUDA makes the forward's row NaN, skips
 * it in the backward and records it in the context's device check (cuda_internal.h),
 * reported by the next synchronizing call */
AX_BACKEND_ENTRY(ax_status, embedding_forward, (ax_ctx *ctx, const int32_t *idx, int64_t n,
                                                const float *w, int64_t vocab, int64_t dim,
                                                float *out))
AX_BACKEND_ENTRY(ax_status, embedding_backward, (ax_ctx *ctx, const int32_t *idx, int64_t n,
                                                 const float *dout, int64_t vocab, int64_t dim,
                                                 int accumulate, float *dw))

/* Sampling: y = softmax((x - max) / temperature) along rows of `cols` (temperature > 0);
 * multinomial: out[r] = the draw of row r of probs (ops.h: ax_multinomial), top_k 0 = all;
 * a bad row answers AX_ERR_INVALID_ARG (CPU) or is recorded as above with out[r] = -1 (CUDA) */
AX_BACKEND_ENTRY(ax_status, softmax_temperature, (ax_ctx *ctx, const float *x, float *y,
                                                  int64_t rows, int64_t cols,
                                                  float temperature))
AX_BACKEND_ENTRY(ax_status, multinomial, (ax_ctx *ctx, const float *probs, int64_t rows,
                                          int64_t cols, int64_t top_k, uint64_t seed,
                                          uint64_t offset, int32_t *out))
