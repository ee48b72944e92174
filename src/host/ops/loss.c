/* Public entry points of the losses: mean squared error, softmax cross-entropy with i32
 * labels, binary cross-entropy with logits. Each forward writes one element `loss`; each
 * backward writes d loss / d input scaled by dloss[0] (dloss NULL means 1). The backends get
 * scale = 1 / count for the mean and 1 for the sum. */
#include "check.h"

static ax_status check_reduction(const char *fn, ax_reduction reduction) {
    if (reduction == AX_REDUCE_MEAN || reduction == AX_REDUCE_SUM)
        return AX_OK;
    return ax_fail(AX_ERR_INVALID_ARG, fn,
                   "reduction = %d is neither AX_REDUCE_MEAN nor AX_REDUCE_SUM", (int)reduction);
}

static float reduction_scale(ax_reduction reduction, int64_t count) {
    return reduction == AX_REDUCE_MEAN ? 1.0f / (float)count : 1.0f;
}

/* Inputs of MSE and BCE: two f32 tensors of the same shape. */
static ax_status check_pair(const char *fn, ax_ctx *ctx, const ax_tensor *a, const char *a_name,
                            const ax_tensor *b, const char *b_name, ax_reduction reduction) {
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(ax_check_tensor(fn, ctx, a, a_name, AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, b, b_name, AX_F32));
    AX_TRY(ax_check_same_shape(fn, a, a_name, b, b_name));
    return check_reduction(fn, reduction);
}

/* Inputs of the cross-entropy: logits [N, C], i32 labels with N elements. */
static ax_status check_ce(const char *fn, ax_ctx *ctx, const ax_tensor *logits,
                          const ax_tensor *labels, ax_reduction reduction) {
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(ax_check_tensor(fn, ctx, logits, "logits", AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, labels, "labels", AX_I32));
    AX_TRY(ax_check_ndim(fn, logits, "logits", 2, 2));
    AX_TRY(ax_check_numel(fn, labels, "labels", logits->shape[0]));
    return check_reduction(fn, reduction);
}

/* An output aliases neither input nor dloss. */
static ax_status check_no_alias_in(const char *fn, const ax_tensor *out, const char *out_name,
                                   const ax_tensor *a, const char *a_name, const ax_tensor *b,
                                   const char *b_name, const ax_tensor *dloss) {
    AX_TRY(ax_check_no_alias(fn, out, out_name, a, a_name));
    AX_TRY(ax_check_no_alias(fn, out, out_name, b, b_name));
    return ax_check_no_alias(fn, out, out_name, dloss, "dloss");
}

/* The forward's output: one f32 element of ctx, aliasing no input. */
static ax_status check_loss(const char *fn, ax_ctx *ctx, const ax_tensor *loss,
                            const ax_tensor *a, const char *a_name, const ax_tensor *b,
                            const char *b_name) {
    AX_TRY(ax_check_scalar(fn, ctx, loss, "loss"));
    return check_no_alias_in(fn, loss, "loss", a, a_name, b, b_name, NULL);
}

/* The backward's output: shaped like the input `a`, aliasing no input; dloss optional, one
 * element. */
static ax_status check_grad(const char *fn, ax_ctx *ctx, const ax_tensor *dloss,
                            const ax_tensor *grad, const char *grad_name, const ax_tensor *a,
                            const char *a_name, const ax_tensor *b, const char *b_name) {
    if (dloss)
        AX_TRY(ax_check_scalar(fn, ctx, dloss, "dloss"));
    AX_TRY(ax_check_tensor(fn, ctx, grad, grad_name, AX_F32));
    AX_TRY(ax_check_same_shape(fn, a, a_name, grad, grad_name));
    return check_no_alias_in(fn, grad, grad_name, a, a_name, b, b_name, dloss);
}

/* ---------------------------------------------------------------- MSE: (pred - target)^2 */

ax_status ax_mse_loss_forward(ax_ctx *ctx, const ax_tensor *pred, const ax_tensor *target,
                              ax_reduction reduction, ax_tensor *loss) {
    AX_TRY(check_pair(__func__, ctx, pred, "pred", target, "target", reduction));
    AX_TRY(check_loss(__func__, ctx, loss, pred, "pred", target, "target"));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->mse_forward != NULL));
    return ctx->backend->mse_forward(ctx, ax_f32(pred), ax_f32(target), pred->numel,
                                     reduction_scale(reduction, pred->numel), ax_f32(loss));
}

ax_status ax_mse_loss_backward(ax_ctx *ctx, const ax_tensor *pred, const ax_tensor *target,
                               ax_reduction reduction, const ax_tensor *dloss,
                               ax_tensor *dpred) {
    AX_TRY(check_pair(__func__, ctx, pred, "pred", target, "target", reduction));
    AX_TRY(check_grad(__func__, ctx, dloss, dpred, "dpred", pred, "pred", target, "target"));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->mse_backward != NULL));
    return ctx->backend->mse_backward(ctx, ax_f32(pred), ax_f32(target), pred->numel,
                                      reduction_scale(reduction, pred->numel), ax_f32(dloss),
                                      ax_f32(dpred));
}

/* ---------------------------------------------------------------- cross-entropy, per row:
 * logsumexp(logits) - logits[label]; the mean divides by N */

ax_status ax_cross_entropy_forward(ax_ctx *ctx, const ax_tensor *logits,
                                   const ax_tensor *labels, ax_reduction reduction,
                                   ax_tensor *loss) {
    AX_TRY(check_ce(__func__, ctx, logits, labels, reduction));
    AX_TRY(check_loss(__func__, ctx, loss, logits, "logits", labels, "labels"));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->cross_entropy_forward != NULL));
    int64_t rows = logits->shape[0], cols = logits->shape[1];
    return ctx->backend->cross_entropy_forward(ctx, ax_f32(logits), ax_i32(labels), rows, cols,
                                               reduction_scale(reduction, rows), ax_f32(loss));
}

ax_status ax_cross_entropy_backward(ax_ctx *ctx, const ax_tensor *logits,
                                    const ax_tensor *labels, ax_reduction reduction,
                                    const ax_tensor *dloss, ax_tensor *dlogits) {
    AX_TRY(check_ce(__func__, ctx, logits, labels, reduction));
    AX_TRY(check_grad(__func__, ctx, dloss, dlogits, "dlogits", logits, "logits", labels,
                      "labels"));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->cross_entropy_backward != NULL));
    int64_t rows = logits->shape[0], cols = logits->shape[1];
    return ctx->backend->cross_entropy_backward(ctx, ax_f32(logits), ax_i32(labels), rows,
                                                cols, reduction_scale(reduction, rows),
                                                ax_f32(dloss), ax_f32(dlogits));
}

/* ---------------------------------------------------------------- BCE with logits:
 * max(x, 0) - x t + log(1 + e^-|x|); the mean divides by numel */

ax_status ax_bce_with_logits_forward(ax_ctx *ctx, const ax_tensor *logits,
                                     const ax_tensor *targets, ax_reduction reduction,
                                     ax_tensor *loss) {
    AX_TRY(check_pair(__func__, ctx, logits, "logits", targets, "targets", reduction));
    AX_TRY(check_loss(__func__, ctx, loss, logits, "logits", targets, "targets"));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->bce_forward != NULL));
    return ctx->backend->bce_forward(ctx, ax_f32(logits), ax_f32(targets), logits->numel,
                                     reduction_scale(reduction, logits->numel), ax_f32(loss));
}

ax_status ax_bce_with_logits_backward(ax_ctx *ctx, const ax_tensor *logits,
                                      const ax_tensor *targets, ax_reduction reduction,
                                      const ax_tensor *dloss, ax_tensor *dlogits) {
    AX_TRY(check_pair(__func__, ctx, logits, "logits", targets, "targets", reduction));
    AX_TRY(check_grad(__func__, ctx, dloss, dlogits, "dlogits", logits, "logits", targets,
                      "targets"));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->bce_backward != NULL));
    return ctx->backend->bce_backward(ctx, ax_f32(logits), ax_f32(targets), logits->numel,
                                      reduction_scale(reduction, logits->numel), ax_f32(dloss),
                                      ax_f32(dlogits));
}
