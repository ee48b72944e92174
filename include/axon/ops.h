/* axon ops: each op validates its arguments once, then runs on its context's backend.
 *
 * Rules shared by every op:
 * - All tensors must belong to ctx (AX_ERR_DEVICE otherwise) and be f32 unless stated.
 * - Outputs are written, never accumulated into, unless the op says "accumulates".
 * - Any gradient output of a backward may be NULL when it is not needed.
 * - An output may alias an input only where the op says so (AX_ERR_INVALID_ARG otherwise).
 * - Calls are asynchronous on CUDA: errors of the launch are reported at once, faults of the
 *   kernel by the next synchronizing call. */
#ifndef AXON_OPS_H
#define AXON_OPS_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- elementwise */

AX_API ax_status ax_fill(ax_ctx *ctx, ax_tensor *y, float value); /* f32 or i32 (value integral) */
AX_API ax_status ax_scale(ax_ctx *ctx, float alpha, const ax_tensor *x,
                          ax_tensor *y); /* y = alpha x; y may alias x */
/* y += alpha x, one fused multiply-add per element (rounded once, as PyTorch's
 * y.add_(x, alpha=alpha) on CUDA and FMA CPUs); y must not alias x. */
AX_API ax_status ax_axpy(ax_ctx *ctx, float alpha, const ax_tensor *x, ax_tensor *y);
/* y = a + b and y = a * b, same shapes; y may alias a or b. */
AX_API ax_status ax_add(ax_ctx *ctx, const ax_tensor *a, const ax_tensor *b, ax_tensor *y);
AX_API ax_status ax_mul(ax_ctx *ctx, const ax_tensor *a, const ax_tensor *b, ax_tensor *y);
/* Backward of y = a * b: da = dy * b, db = dy * a. */
AX_API ax_status ax_mul_backward(ax_ctx *ctx, const ax_tensor *a, const ax_tensor *b,
                                 const ax_tensor *dy, ax_tensor *da, ax_tensor *db);

/* ---------------------------------------------------------------- GEMM */

typedef enum ax_transpose { AX_NO_TRANS = 0, AX_TRANS = 1 } ax_transpose;

/* C = alpha * op(A) op(B) + beta * C, row-major.
 * op(A) is [M, K]: A is [M, K], or [K, M] with AX_TRANS; likewise op(B) is [K, N].
 * Batched (strided) form: C is [batch, M, N]; A and B are [batch, ., .], or 2-D and then
 * shared by every batch entry (stride 0). C must not alias A or B. beta = 0 ignores C's
 * old contents (NaN included). */
AX_API ax_status ax_gemm(ax_ctx *ctx, ax_transpose trans_a, ax_transpose trans_b, float alpha,
                         const ax_tensor *a, const ax_tensor *b, float beta, ax_tensor *c);
/* Backward of C = alpha op(A) op(B) (beta's term has no gradient to A, B):
 * da = d/dA, db = d/dB, shaped like A and B. */
AX_API ax_status ax_gemm_backward(ax_ctx *ctx, ax_transpose trans_a, ax_transpose trans_b,
                                  float alpha, const ax_tensor *a, const ax_tensor *b,
                                  const ax_tensor *dc, ax_tensor *da, ax_tensor *db);

/* ---------------------------------------------------------------- dense layer */

/* y = x W^T + b.  x [N, in], w [out, in] (PyTorch's nn.Linear layout), b [out] or NULL,
 * y [N, out]. */
AX_API ax_status ax_dense_forward(ax_ctx *ctx, const ax_tensor *x, const ax_tensor *w,
                                  const ax_tensor *b, ax_tensor *y);
/* dx = dy W [N, in], dw = dy^T x [out, in], db = column sums of dy [out]. */
AX_API ax_status ax_dense_backward(ax_ctx *ctx, const ax_tensor *x, const ax_tensor *w,
                                   const ax_tensor *dy, ax_tensor *dx, ax_tensor *dw,
                                   ax_tensor *db);

/* ---------------------------------------------------------------- bias, reductions */

/* y += b broadcast along `axis` of y: b has y.shape[axis] elements (axis -1: the last dim,
 * as after a dense layer; axis 1: the channels of NCHW). Accumulates into y. */
AX_API ax_status ax_bias_add(ax_ctx *ctx, ax_tensor *y, const ax_tensor *b, int axis);
/* db = sum of dy over every axis but `axis` (the gradient of ax_bias_add). */
AX_API ax_status ax_bias_grad(ax_ctx *ctx, const ax_tensor *dy, int axis, ax_tensor *db);

/* y = sum (or mean) of x over one axis; y has x's shape without that axis (numel must
 * match; any shape with that element count is accepted). */
AX_API ax_status ax_sum(ax_ctx *ctx, const ax_tensor *x, int axis, ax_tensor *y);
AX_API ax_status ax_mean(ax_ctx *ctx, const ax_tensor *x, int axis, ax_tensor *y);
/* dx = dy broadcast back along axis (divided by x.shape[axis] for the mean). */
AX_API ax_status ax_sum_backward(ax_ctx *ctx, const ax_tensor *dy, int axis, ax_tensor *dx);
AX_API ax_status ax_mean_backward(ax_ctx *ctx, const ax_tensor *dy, int axis, ax_tensor *dx);

/* out[0] (+)= sum of x^2, out has one element; accumulate = 1 adds to out[0], so the squares
 * of many tensors add up to a global norm for gradient clipping. */
AX_API ax_status ax_sum_squares(ax_ctx *ctx, const ax_tensor *x, int accumulate, ax_tensor *out);

/* out[0] = a.b = sum_e a[e] b[e] over two tensors of the same element count (any shapes),
 * out one element. Products and sums in double, rounded to f32 once: on CUDA per-block
 * partial sums then one fixed-order sum of them, so the same inputs on the same device give
 * the same bits on every run (no atomics). */
AX_API ax_status ax_dot(ax_ctx *ctx, const ax_tensor *a, const ax_tensor *b, ax_tensor *out);
/* out[0] = max_e |x[e]| (NaN when any element is NaN), out one element. */
AX_API ax_status ax_abs_max(ax_ctx *ctx, const ax_tensor *x, ax_tensor *out);

/* Regularization penalties (out has one element, accumulates: out[0] += penalty;
 * dw accumulates: dw += gradient; either may be NULL).
 * L1: lambda * sum |w|, gradient lambda * sign(w) (0 at w = 0).
 * L2: lambda / 2 * sum w^2, gradient lambda * w (so lambda matches SGD's weight_decay). */
AX_API ax_status ax_l1_penalty(ax_ctx *ctx, const ax_tensor *w, float lambda, ax_tensor *out,
                               ax_tensor *dw);
AX_API ax_status ax_l2_penalty(ax_ctx *ctx, const ax_tensor *w, float lambda, ax_tensor *out,
                               ax_tensor *dw);

/* ---------------------------------------------------------------- activations */

/* Activation functions. The same enum names the nonlinearity of an initialiser's gain
 * (graph.h: ax_nonlinearity is this type, ax_init_gain takes it), in the order and with the
 * names of PyTorch's torch.nn.init.calculate_gain, so an activation and its gain cannot be
 * mixed up. Gains in brackets. */
typedef enum ax_activation {
    AX_ACT_LINEAR = 0,     /* the identity [1]: a gain only, the activation ops refuse it */
    AX_ACT_SIGMOID = 1,    /* 1 / (1 + e^-x) [1] */
    AX_ACT_TANH = 2,       /* [5/3] */
    AX_ACT_RELU = 3,       /* x < 0 ? 0 : x (NaN and -0 pass through) [sqrt(2)] */
    AX_ACT_LEAKY_RELU = 4, /* x > 0 ? x : slope x [sqrt(2 / (1 + slope^2))] */
} ax_activation;

/* Leaky ReLU's slope where 0 is given (PyTorch's default negative_slope): slope 0 would be
 * plain ReLU, which is AX_ACT_RELU. The activation ops on every backend, the graph's
 * activation node and ax_init_gain all read a slope of 0 (or -0) as this. */
#define AX_LEAKY_RELU_SLOPE 0.01f

/* y = act(x); slope is used by leaky ReLU only (finite; 0 means AX_LEAKY_RELU_SLOPE).
 * y may alias x. */
AX_API ax_status ax_activation_forward(ax_ctx *ctx, ax_activation act, float slope,
                                       const ax_tensor *x, ax_tensor *y);
/* dx = dy * act'(x). Needs x for (leaky) ReLU and y for sigmoid and tanh; the one not needed
 * may be NULL. dx may alias dy. At x = +-0 the derivative is taken from the left, as PyTorch:
 * 0 for ReLU, slope for leaky ReLU; at x = NaN ReLU passes dy and leaky ReLU gives slope dy. */
AX_API ax_status ax_activation_backward(ax_ctx *ctx, ax_activation act, float slope,
                                        const ax_tensor *x, const ax_tensor *y,
                                        const ax_tensor *dy, ax_tensor *dx);

/* ---------------------------------------------------------------- softmax */

/* Along the last dimension, max-subtracted (rows of +-1e4 or 3e38 are fine). As in PyTorch, a
 * row holding NaN or +Inf, or only -Inf, gives NaN; -Inf entries beside a finite one give 0.
 * y may alias x. */
AX_API ax_status ax_softmax_forward(ax_ctx *ctx, const ax_tensor *x, ax_tensor *y);
/* dx = y * (dy - sum(dy * y)). */
AX_API ax_status ax_softmax_backward(ax_ctx *ctx, const ax_tensor *y, const ax_tensor *dy,
                                     ax_tensor *dx);
AX_API ax_status ax_log_softmax_forward(ax_ctx *ctx, const ax_tensor *x, ax_tensor *y);
/* dx = dy - exp(y) * sum(dy). */
AX_API ax_status ax_log_softmax_backward(ax_ctx *ctx, const ax_tensor *y, const ax_tensor *dy,
                                         ax_tensor *dx);

/* ---------------------------------------------------------------- losses */

typedef enum ax_reduction { AX_REDUCE_MEAN = 0, AX_REDUCE_SUM = 1 } ax_reduction;

/* Each loss writes its scalar value into `loss` (one element, stays on the device) and its
 * backward writes d loss / d input, scaled by dloss[0] (one element; NULL means 1). */

/* MSE: mean or sum of (pred - target)^2 over all elements. */
AX_API ax_status ax_mse_loss_forward(ax_ctx *ctx, const ax_tensor *pred, const ax_tensor *target,
                                     ax_reduction reduction, ax_tensor *loss);
AX_API ax_status ax_mse_loss_backward(ax_ctx *ctx, const ax_tensor *pred,
                                      const ax_tensor *target, ax_reduction reduction,
                                      const ax_tensor *dloss, ax_tensor *dpred);

/* Softmax cross-entropy: logits [N, C], labels i32 [N] in [0, C) (else AX_ERR_INVALID_ARG,
 * checked on the device without a wild read); mean over N or sum. */
AX_API ax_status ax_cross_entropy_forward(ax_ctx *ctx, const ax_tensor *logits,
                                          const ax_tensor *labels, ax_reduction reduction,
                                          ax_tensor *loss);
/* dlogits = (softmax(logits) - onehot(labels)) * dloss / (N for the mean). */
AX_API ax_status ax_cross_entropy_backward(ax_ctx *ctx, const ax_tensor *logits,
                                           const ax_tensor *labels, ax_reduction reduction,
                                           const ax_tensor *dloss, ax_tensor *dlogits);

/* Binary cross-entropy with logits, the stable form
 * max(x, 0) - x t + log(1 + e^-|x|), mean over all elements or sum; targets in [0, 1].
 * As in PyTorch, x = +Inf gives Inf for t < 1 and NaN for t = 1, x = -Inf gives NaN. */
AX_API ax_status ax_bce_with_logits_forward(ax_ctx *ctx, const ax_tensor *logits,
                                            const ax_tensor *targets, ax_reduction reduction,
                                            ax_tensor *loss);
/* dlogits = (sigmoid(x) - t) * dloss / (numel for the mean). */
AX_API ax_status ax_bce_with_logits_backward(ax_ctx *ctx, const ax_tensor *logits,
                                             const ax_tensor *targets, ax_reduction reduction,
                                             const ax_tensor *dloss, ax_tensor *dlogits);

/* ---------------------------------------------------------------- dropout */

/* Inverted dropout: y = x * keep / (1 - p), keep = (Philox uniform of element e >= p) from
 * (seed, offset) exactly as ax_rng_uniform draws it, so CPU and CUDA masks are bit-identical
 * and the backward regenerates the mask instead of storing it. p in [0, 1]: p = 0 copies,
 * p = 1 multiplies everything by 0. A dropped element is x * 0, as in PyTorch: NaN and +-Inf
 * give NaN (a NaN is never hidden), x < 0 gives -0. y may alias x. */
AX_API ax_status ax_dropout_forward(ax_ctx *ctx, float p, uint64_t seed, uint64_t offset,
                                    const ax_tensor *x, ax_tensor *y);
/* dx = dy * keep / (1 - p) with the same (p, seed, offset). dx may alias dy. */
AX_API ax_status ax_dropout_backward(ax_ctx *ctx, float p, uint64_t seed, uint64_t offset,
                                     const ax_tensor *dy, ax_tensor *dx);

/* ---------------------------------------------------------------- batch norm */

/* Batch normalization per channel, as torch.nn.BatchNorm1d / BatchNorm2d: x and y have
 * 2 to 8 dims, [N, C], [N, C, L] or [N, C, H, W]; channel c is dim 1 and its statistics run
 * over the M = numel / C values of every other dim.
 *     y = (x - mean[c]) invstd[c] gamma[c] + beta[c],   invstd = 1 / sqrt(var + eps)
 * gamma (PyTorch's weight) and beta (bias) are [C] or NULL (1 and 0: affine=False). eps is
 * finite and > 0 (PyTorch's default AX_BN_EPS). y may alias x. Statistics are numerically
 * stable (a channel of 1e4 + small noise keeps its variance); on CUDA every per-channel sum
 * has a fixed order, so reruns give the same bits. Vectors of [C] elements may have any
 * shape with C elements. */
#define AX_BN_EPS 1e-5f
#define AX_BN_MOMENTUM 0.1f
/* momentum "None" in PyTorch: the running statistics are the cumulative average of the
 * batch statistics, factor 1 / num_batches_tracked. Any negative momentum means this. */
#define AX_BN_CUMULATIVE (-1.0f)

/* Training: mean and var are the batch's, var biased (1/M); M >= 2 (one value per channel is
 * refused, as PyTorch does). When running_mean and running_var are given (both or neither,
 * [C]; PyTorch's track_running_stats), and num_batches_tracked is not NULL, *num_batches_tracked
 * is incremented (after success), and the running statistics become
 *     running_mean = (1 - f) running_mean + f mean
 *     running_var  = (1 - f) running_var  + f var M / (M - 1)     (unbiased)
 * with f = momentum in [0, 1], or f = 1 / *num_batches_tracked (after the increment) when
 * momentum is negative (AX_BN_CUMULATIVE; num_batches_tracked is required then). Without
 * running statistics num_batches_tracked is left alone. save_mean and save_invstd ([C], either
 * may be NULL) receive the batch's mean and invstd, which ax_batch_norm_backward_training
 * takes (cuDNN's saveMean and saveInvVariance). */
AX_API ax_status ax_batch_norm_forward_training(ax_ctx *ctx, const ax_tensor *x,
                                                const ax_tensor *gamma, const ax_tensor *beta,
                                                float eps, float momentum,
                                                ax_tensor *running_mean, ax_tensor *running_var,
                                                int64_t *num_batches_tracked, ax_tensor *y,
                                                ax_tensor *save_mean, ax_tensor *save_invstd);
/* Evaluation: y from the running statistics running_mean and running_var ([C]). */
AX_API ax_status ax_batch_norm_forward_inference(ax_ctx *ctx, const ax_tensor *x,
                                                 const ax_tensor *gamma, const ax_tensor *beta,
                                                 const ax_tensor *running_mean,
                                                 const ax_tensor *running_var, float eps,
                                                 ax_tensor *y);
/* Backward of the training forward, from the saved save_mean and save_invstd ([C]); with
 * xhat = (x - mean) invstd, per channel:
 *     dbeta = sum dy,  dgamma = sum dy xhat,
 *     dx = gamma invstd (dy - dbeta / M - xhat dgamma / M)
 * gamma may be NULL (1); dx, dgamma, dbeta may be NULL; dx may alias dy. */
AX_API ax_status ax_batch_norm_backward_training(ax_ctx *ctx, const ax_tensor *x,
                                                 const ax_tensor *dy, const ax_tensor *gamma,
                                                 const ax_tensor *save_mean,
                                                 const ax_tensor *save_invstd, ax_tensor *dx,
                                                 ax_tensor *dgamma, ax_tensor *dbeta);
/* Backward of the evaluation forward: the running statistics are constants, so
 *     dx = gamma invstd dy,  invstd = 1 / sqrt(running_var + eps),
 * and dgamma, dbeta as above with xhat from the running statistics. */
AX_API ax_status ax_batch_norm_backward_inference(ax_ctx *ctx, const ax_tensor *x,
                                                  const ax_tensor *dy, const ax_tensor *gamma,
                                                  const ax_tensor *running_mean,
                                                  const ax_tensor *running_var, float eps,
                                                  ax_tensor *dx, ax_tensor *dgamma,
                                                  ax_tensor *dbeta);

/* ---------------------------------------------------------------- conv2d */

/* The geometry of a 2-D convolution (cuDNN's convolution descriptor): filled once by the
 * caller, ax_conv2d_desc_default() gives stride 1, no padding, dilation 1, one group.
 * Padding is zero padding per side (top/bottom on H, left/right on W), so "same" padding of
 * an even kernel works. Every field must be >= 0; strides, dilations and groups >= 1. */
typedef struct ax_conv2d_desc {
    int stride_h, stride_w;
    int pad_top, pad_bottom, pad_left, pad_right;
    int dilation_h, dilation_w;
    int groups; /* in and out channels are split into this many groups; = in = out: depthwise */
} ax_conv2d_desc;

AX_API ax_conv2d_desc ax_conv2d_desc_default(void);

/* y_shape = [N, out, OH, OW] for x_shape [N, in, H, W] and w_shape [out, in/groups, kh, kw]:
 *     OH = (H + pad_top + pad_bottom - dilation_h (kh - 1) - 1) / stride_h + 1
 * (likewise OW), as PyTorch's nn.Conv2d. AX_ERR_SHAPE when the channels do not fit the
 * groups, the dilated kernel is larger than the padded input, or the output is empty;
 * AX_ERR_INVALID_ARG for a bad descriptor; AX_ERR_SHAPE when a size or the output's element
 * count overflows int64. */
AX_API ax_status ax_conv2d_output_shape(const ax_conv2d_desc *desc, const int64_t x_shape[4],
                                        const int64_t w_shape[4], int64_t y_shape[4]);

/* y [N, out, OH, OW] = conv(x [N, in, H, W], w [out, in/groups, kh, kw]) + b [out]
 * (cross-correlation, as PyTorch):
 *     y[n, o, i, j] = b[o] + sum_{c, r, s} w[o, c, r, s] x[n, g in/groups + c,
 *                                                        i stride_h - pad_top + r dilation_h,
 *                                                        j stride_w - pad_left + s dilation_w]
 * with g = o / (out/groups) and x = 0 outside the input. b may be NULL. */
AX_API ax_status ax_conv2d_forward(ax_ctx *ctx, const ax_conv2d_desc *desc, const ax_tensor *x,
                                   const ax_tensor *w, const ax_tensor *b, ax_tensor *y);
/* dx = dL/dx (backward-data), dw = dL/dw (backward-filter), db[o] = sum_{n, i, j} dy[n, o, i, j]
 * (backward-bias), each overwritten; any of dx, dw, db may be NULL. dw is deterministic on
 * every backend: two calls give bit-identical values. */
AX_API ax_status ax_conv2d_backward(ax_ctx *ctx, const ax_conv2d_desc *desc, const ax_tensor *x,
                                    const ax_tensor *w, const ax_tensor *dy, ax_tensor *dx,
                                    ax_tensor *dw, ax_tensor *db);

/* ---------------------------------------------------------------- pooling */

/* A 2-D pooling over NCHW tensors, filled once by the caller (PyTorch's MaxPool2d and
 * AvgPool2d arguments). Per axis: kernel >= 1, stride >= 1 (PyTorch's default is the
 * kernel), padding >= 0 on both sides and at most kernel / 2 (as PyTorch requires),
 * dilation >= 1 (max pool only; the average needs 1). Window o starts at
 * o * stride - padding; a padded position is never the maximum and never summed.
 * Output size: floor((in + 2 pad - dilation (kernel - 1) - 1) / stride) + 1, or with
 * ceil_mode the ceiling, less one when that last window would start at or beyond
 * in + pad (PyTorch's rule: it must start inside the input or the left padding). */
typedef struct ax_pool2d_desc {
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int pad_h, pad_w;
    int dilation_h, dilation_w;
    int ceil_mode;         /* nonzero: round the output size up */
    int count_include_pad; /* average: nonzero divides by the window clipped to the padded
                              input (PyTorch's default True), zero by the input elements
                              under it */
} ax_pool2d_desc;

/* A descriptor with kernel kh x kw, stride = kernel, no padding, dilation 1, floor mode,
 * count_include_pad = 1 (PyTorch's defaults). */
AX_API ax_pool2d_desc ax_pool2d_desc_default(int kernel_h, int kernel_w);

/* out_shape = [N, C, OH, OW] of a pooling of an input [N, C, H, W] (in_shape), checked:
 * AX_ERR_INVALID_ARG for a bad descriptor, AX_ERR_SHAPE when the kernel is larger than the
 * padded input (an output size below 1) or a size overflows int64 (as conv2d). */
AX_API ax_status ax_pool2d_output_shape(const ax_pool2d_desc *desc, const int64_t in_shape[4],
                                        int64_t out_shape[4]);

/* Max pool: x [N, C, H, W], y [N, C, OH, OW]; indices (i32, y's shape, may be NULL) gets the
 * flat index ih * W + iw in its plane of each maximum, as PyTorch's return_indices. Ties go
 * to the first maximum in row-major window order; a window holding NaN gives NaN (its last
 * NaN, as PyTorch's CPU kernel). A window whose dilated taps all fall in the padding (as
 * kernel 2, dilation 3, padding 1 on 2 elements) gives -Inf and index -1 (PyTorch writes an
 * index outside the plane there). H * W must fit in int32 (else AX_ERR_UNSUPPORTED). */
AX_API ax_status ax_max_pool2d_forward(ax_ctx *ctx, const ax_pool2d_desc *desc,
                                       const ax_tensor *x, ax_tensor *y, ax_tensor *indices);
/* dx [N, C, H, W] = each dy routed to the element its index names (the indices of the
 * forward); an element the maximum of several windows gets their sum, added in a fixed
 * order, so two runs give the same bits. An index that is not a tap of its own window
 * (-1, or not from this descriptor's forward) routes nothing: no write goes astray. */
AX_API ax_status ax_max_pool2d_backward(ax_ctx *ctx, const ax_pool2d_desc *desc,
                                        const ax_tensor *indices, const ax_tensor *dy,
                                        ax_tensor *dx);

/* Average pool: y = sum of the window's input elements / divisor (count_include_pad above;
 * dilation must be 1). x [N, C, H, W], y [N, C, OH, OW]. */
AX_API ax_status ax_avg_pool2d_forward(ax_ctx *ctx, const ax_pool2d_desc *desc,
                                       const ax_tensor *x, ax_tensor *y);
/* dx [N, C, H, W] = sum over the windows covering each element of dy / divisor. */
AX_API ax_status ax_avg_pool2d_backward(ax_ctx *ctx, const ax_pool2d_desc *desc,
                                        const ax_tensor *dy, ax_tensor *dx);

/* Global average pool: y[n, c] = mean of x[n, c, :, :]. x [N, C, H, W], y [N, C] or
 * [N, C, 1, 1] (PyTorch's adaptive_avg_pool2d(x, 1)); backward dx = dy / (H W) broadcast. */
AX_API ax_status ax_global_avg_pool_forward(ax_ctx *ctx, const ax_tensor *x, ax_tensor *y);
AX_API ax_status ax_global_avg_pool_backward(ax_ctx *ctx, const ax_tensor *dy, ax_tensor *dx);

/* ---------------------------------------------------------------- recurrent layers */

/* The recurrence of a layer. Weights as PyTorch's nn.RNN / nn.LSTM / nn.GRU for one layer and
 * direction: w_ih [G H, in], w_hh [G H, H], b_ih [G H], b_hh [G H] (either bias may be NULL:
 * 0), gates in blocks of H rows in the order below, G = ax_rnn_gate_count(mode). With
 * a_k = (W_ih,k x + b_ih,k) + (W_hh,k h + b_hh,k) and s the sigmoid:
 *   AX_RNN_TANH, AX_RNN_RELU (G = 1): h' = tanh(a) or relu(a)
 *   AX_RNN_LSTM (G = 4, i f g o): i = s(a_i), f = s(a_f), g = tanh(a_g), o = s(a_o),
 *       c' = f c + i g, h' = o tanh(c')
 *   AX_RNN_GRU (G = 3, r z n; PyTorch's form): r = s(a_r), z = s(a_z),
 *       n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h
 *   AX_RNN_GRU_TEXTBOOK (G = 3, r z n): r = s(a_r), z = s(a_z),
 *       n = tanh(W_in x + b_in + W_hn (r h) + b_hn), h' = (1 - z) h + z n
 *     i.e. h' = (1 - z) h + z tanh(W x + U (r h) + b): the reset gate applied to h before the
 *     recurrent product, and z weighs the new candidate. Its tensors have PyTorch's GRU
 *     shapes and both biases; b = b_in + b_hn (b_hn is not gated by r), so a checkpoint moves
 *     between the forms unchanged though the function differs.
 * Only the LSTM has a cell state c; every c argument must be NULL for the other modes. */
typedef enum ax_rnn_mode {
    AX_RNN_TANH = 0,
    AX_RNN_RELU = 1,
    AX_RNN_LSTM = 2,
    AX_RNN_GRU = 3,
    AX_RNN_GRU_TEXTBOOK = 4,
} ax_rnn_mode;

/* G: 1, 4 or 3; 0 for a value that is not a mode. */
AX_API int ax_rnn_gate_count(ax_rnn_mode mode);

/* One layer, one direction. */
typedef struct ax_rnn_desc {
    ax_rnn_mode mode;
    int reverse;      /* nonzero: steps run t = seq_len - 1 down to 0 (the backward direction
                         of a bidirectional layer); h0 is then the state before step seq_len-1 */
    int64_t y_offset; /* this direction's H columns of y and dy start here (0; H for the
                         reverse half of a bidirectional [T, N, 2H] output) */
    int accumulate_dx; /* backward: dx += (stacked or bidirectional layers sharing one input);
                          zero: dx = */
} ax_rnn_desc;

typedef struct ax_rnn_weights {
    const ax_tensor *w_ih, *w_hh, *b_ih, *b_hh; /* [G H, in], [G H, H], [G H], [G H] */
} ax_rnn_weights;

/* Gradients of the weights, each NULL (not wanted) or shaped as its weight. They accumulate
 * (+=) on every backward, as a truncated BPTT or the two directions of a shared parameter
 * need: zero them before a step. */
typedef struct ax_rnn_grads {
    ax_tensor *w_ih, *w_hh, *b_ih, *b_hh;
} ax_rnn_grads;

/* Elements (f32) of the reserve of a sequence of T steps, batch N, hidden H: what the backward
 * needs from the forward (input projections, every h and c, the gate activations) and the
 * scratch of both passes. AX_ERR_INVALID_ARG for a bad mode or a size < 1, AX_ERR_SHAPE when
 * the count overflows int64. */
AX_API ax_status ax_rnn_reserve_numel(ax_rnn_mode mode, int64_t T, int64_t N, int64_t H,
                                      int64_t *numel);

/* One layer over a sequence, time-major (batch_first is a transpose by the caller):
 *     x [T, N, in], h0 and c0 [N, H] (NULL: zeros), y [T, N, Y] with Y >= y_offset + H,
 *     hT and cT [N, H], reserve any f32 tensor of at least ax_rnn_reserve_numel(mode, T, N, H)
 *     elements.
 * Steps t < seq_len run (1 <= seq_len <= T: a shorter last sequence in buffers sized for T);
 * y[t, :, y_offset : y_offset + H] = h after the step of time t; other columns and rows
 * t >= seq_len of y are not written. hT, cT: the state after the last step (t = seq_len - 1,
 * or t = 0 in reverse). y, hT, cT may be NULL. hT may alias h0 and cT c0 (states carried in
 * place across calls); no other output may overlap an input or another output.
 * The input projection of all steps is one GEMM, then per step one GEMM of h by W_hh (two for
 * the textbook GRU) and one fused pointwise launch (two for the textbook GRU). */
AX_API ax_status ax_rnn_forward(ax_ctx *ctx, const ax_rnn_desc *desc, int64_t seq_len,
                                const ax_tensor *x, const ax_tensor *h0, const ax_tensor *c0,
                                const ax_rnn_weights *w, ax_tensor *y, ax_tensor *hT,
                                ax_tensor *cT, ax_tensor *reserve);

/* Backpropagation through time of the forward that filled reserve (same desc, seq_len, x and
 * weights). dy [T, N, Y] (columns y_offset ..; NULL: 0), dhT and dcT [N, H] (gradients of hT
 * and cT; NULL: 0). Outputs: dx [T, N, in] (rows t >= seq_len: 0, or left alone with
 * accumulate_dx), dh0 and dc0 [N, H] (overwritten), weight gradients accumulated into dw (NULL
 * or any field NULL: not wanted). The backward only writes the scratch part of the reserve,
 * so it may run again on the same reserve. */
AX_API ax_status ax_rnn_backward(ax_ctx *ctx, const ax_rnn_desc *desc, int64_t seq_len,
                                 const ax_tensor *x, const ax_rnn_weights *w, ax_tensor *reserve,
                                 const ax_tensor *dy, const ax_tensor *dhT, const ax_tensor *dcT,
                                 ax_tensor *dx, ax_tensor *dh0, ax_tensor *dc0,
                                 const ax_rnn_grads *dw);

/* One step (a cell): x [N, in], h and c [N, H] (NULL: zeros) -> h_out, c_out [N, H]
 * (either may be NULL), as ax_rnn_forward with T = 1 (reverse and y_offset ignored); reserve
 * of ax_rnn_reserve_numel(mode, 1, N, H) elements. h_out may alias h and c_out c. */
AX_API ax_status ax_rnn_cell_forward(ax_ctx *ctx, ax_rnn_mode mode, const ax_tensor *x,
                                     const ax_tensor *h, const ax_tensor *c,
                                     const ax_rnn_weights *w, ax_tensor *h_out,
                                     ax_tensor *c_out, ax_tensor *reserve);
/* Its backward: dh_out, dc_out (NULL: 0) -> dx [N, in], dh, dc [N, H] (overwritten; dx
 * accumulates when accumulate_dx is nonzero), weight gradients accumulated as above. */
AX_API ax_status ax_rnn_cell_backward(ax_ctx *ctx, ax_rnn_mode mode, const ax_tensor *x,
                                      const ax_rnn_weights *w, ax_tensor *reserve,
                                      const ax_tensor *dh_out, const ax_tensor *dc_out,
                                      int accumulate_dx, ax_tensor *dx, ax_tensor *dh,
                                      ax_tensor *dc, const ax_rnn_grads *dw);

/* ---------------------------------------------------------------- embedding */

/* Embedding lookup, as torch.nn.Embedding (no padding_idx, no max_norm):
 *     out[i, :] = weight[indices[i], :]
 * indices i32 of any shape with n >= 1 elements (token ids [N, T] or [T, N]), weight [V, D]
 * f32, out f32 of n D elements whose last dim is D ([n, D], or indices' shape + [D] as
 * PyTorch gives). An index outside [0, V) is AX_ERR_INVALID_ARG naming its position and value:
 * - on the CPU the call returns it and writes nothing;
 * - on CUDA the kernel finds it (the host never reads the indices, so the call costs no
 *   synchronization): its row of out is NaN, the call returns AX_OK, and the context's next
 *   synchronizing call (ax_ctx_synchronize, ax_tensor_to_host, ax_graph_loss) returns
 *   AX_ERR_INVALID_ARG with the message of this call ("ax_embedding_forward: indices[i] = v is
 *   outside [0, V) (found on the device)"). One record is kept per context until it is
 *   reported: the first bad index a kernel recorded.
 * out must not alias weight. */
AX_API ax_status ax_embedding_forward(ax_ctx *ctx, const ax_tensor *indices,
                                      const ax_tensor *weight, ax_tensor *out);
/* dweight [V, D] = scatter-add of dout's rows ([n, D] elements, as out) into the rows the
 * indices name: dweight[v, :] (accumulate ? += : =) sum over i with indices[i] = v of
 * dout[i, :]; rows no index names are 0 (or left as they were when accumulating).
 * Deterministic on both backends, and the same bits on both: every element of dweight is
 * one f32 sum in increasing i (after dweight's old value when accumulating), correctly
 * rounded adds, no atomics. Out-of-range indices as the forward (on CUDA their rows of dout
 * are skipped and reported by the next synchronizing call). */
AX_API ax_status ax_embedding_backward(ax_ctx *ctx, const ax_tensor *indices,
                                       const ax_tensor *dout, int accumulate,
                                       ax_tensor *dweight);

/* ---------------------------------------------------------------- sampling (language models) */

/* probs = softmax(logits / temperature) along the last dim (rows of V), computed as
 * e^((x - max) / T) / sum e^((x - max) / T), so no finite logit overflows at any T.
 * temperature must be finite and > 0 (AX_ERR_INVALID_ARG otherwise): T -> 0 tends to the
 * one-hot of the row's maximum (ties share it equally), which a tiny T gives (every
 * non-maximal entry underflows to 0); for a greedy choice use ax_multinomial with top_k 1.
 * T = 1 is ax_softmax_forward. NaN and Inf follow ax_softmax_forward: a row holding NaN or
 * +Inf, or only -Inf, gives NaN (which ax_multinomial refuses); -Inf beside a finite logit
 * gives 0. probs may alias logits. */
AX_API ax_status ax_softmax_temperature(ax_ctx *ctx, const ax_tensor *logits, float temperature,
                                        ax_tensor *probs);
/* One draw per row of probs [N, V] (f32, rows of non-negative finite weights, not
 * necessarily normalised): out (i32, N elements) gets index j with probability
 * probs[r, j] / sum of the row, restricted to the row's top_k largest entries when
 * 0 < top_k < V (ties go to the lower index; top_k 0, or >= V, means all).
 * The draw: u = ax_philox_uniform(seed, offset, r) in [0, 1) (common/philox.h, element r),
 * target = u S with S the double sum of the kept entries in increasing j, and the first kept
 * j whose running double sum exceeds target (entries of 0 are never drawn). Only IEEE adds,
 * one multiply and comparisons, in a fixed order: the same probs give the same draws on the
 * CPU and on CUDA. A row with a negative, NaN or Inf entry, or whose kept entries sum to 0,
 * is AX_ERR_INVALID_ARG naming the row (on CUDA found by the kernel, out[r] = -1 and reported
 * by the next synchronizing call, as ax_embedding_forward). On CUDA one thread per row walks
 * it serially (top_k adds a 32-step bisection over the row for the k-th largest): meant for
 * sampling a few sequences at a time, not a bulk op. */
AX_API ax_status ax_multinomial(ax_ctx *ctx, const ax_tensor *probs, int64_t top_k,
                                uint64_t seed, uint64_t offset, ax_tensor *out);

#ifdef __cplusplus
}
#endif

#endif
