/* Losses (scalar nodes, mean reduction; targets and labels take no gradient) and the
 * parameter penalties L1 and L2. */
#include <math.h>

#include "../graph_internal.h"

#include "../../ops/check.h"

/* ---------------------------------------------------------------- pred vs target */

static ax_status pair_infer(const char *fn, const char *me, ax_node *const *in,
                            const void *params, ax_out_shape *out) {
    const char *const *what = params; /* the builder's names of the two inputs */
    AX_TRY(ax_infer_same(fn, me, in[0], what[0], in[1], "target"));
    if (in[1]->trainable)
        return ax_fail(AX_ERR_INVALID_ARG, fn,
                       "node '%s': target '%s' depends on parameters; targets carry no gradient",
                       me, in[1]->name);
    ax_infer_scalar(out);
    return AX_OK;
}

static ax_status mse_forward(ax_graph *g, ax_node *node) {
    return ax_mse_loss_forward(g->ctx, ax_in_value(node, 0), ax_in_value(node, 1),
                               AX_REDUCE_MEAN, node->value);
}

static ax_status mse_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    return ax_mse_loss_backward(g->ctx, ax_in_value(node, 0), ax_in_value(node, 1),
                                AX_REDUCE_MEAN, node->grad, dx[0]);
}

/* params: the names of the inputs in messages, for the inference only (not kept). */
const ax_op_desc ax_op_mse = {
    .name = "mse", .saves = AX_SAVES_IN(0) | AX_SAVES_IN(1),
    .n_out = 1, .no_grad = 1u << 1, .infer = pair_infer,
    .forward = mse_forward, .backward = mse_backward,
};

static ax_status bce_forward(ax_graph *g, ax_node *node) {
    return ax_bce_with_logits_forward(g->ctx, ax_in_value(node, 0), ax_in_value(node, 1),
                                      AX_REDUCE_MEAN, node->value);
}

static ax_status bce_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    return ax_bce_with_logits_backward(g->ctx, ax_in_value(node, 0), ax_in_value(node, 1),
                                       AX_REDUCE_MEAN, node->grad, dx[0]);
}

const ax_op_desc ax_op_bce = {
    .name = "bce", .saves = AX_SAVES_IN(0) | AX_SAVES_IN(1),
    .n_out = 1, .no_grad = 1u << 1, .infer = pair_infer,
    .forward = bce_forward, .backward = bce_backward,
};

static ax_status pair_loss(const char *fn, ax_graph *g, const char *name, const ax_op_desc *op,
                           ax_node *pred, const char *pred_what, ax_node *target,
                           ax_node **out) {
    ax_node *in[] = {pred, target};
    const char *what[] = {pred_what, "target"};
    return ax_graph_op(fn, g, name, op, 2, in, what, what, out);
}

ax_status ax_graph_mse_loss(ax_graph *g, const char *name, ax_node *pred, ax_node *target,
                            ax_node **out) {
    return pair_loss(__func__, g, name, &ax_op_mse, pred, "pred", target, out);
}

ax_status ax_graph_bce_with_logits(ax_graph *g, const char *name, ax_node *logits,
                                   ax_node *targets, ax_node **out) {
    return pair_loss(__func__, g, name, &ax_op_bce, logits, "logits", targets, out);
}

/* ---------------------------------------------------------------- cross-entropy */

/* logits [N, C] f32, labels [N] i32 (declared by the descriptor, not by name); or a sequence,
 * logits [..., C] and labels [...] with the same dims, batch and time axes (C not one of
 * them): every position is one row, the mean over all of them (a time-major language model's
 * [T, N, V] logits against [T, N] next tokens, as PyTorch's cross_entropy on the flattened
 * [T N, V] and [T N]). */
static ax_status cross_entropy_infer(const char *fn, const char *me, ax_node *const *in,
                                     const void *params, ax_out_shape *out) {
    (void)params;
    const ax_node *logits = in[0], *labels = in[1];
    int k = logits->value->ndim - 1; /* the class dim */
    int ok = k >= 1 && labels->value->ndim == k && logits->batched == labels->batched &&
             logits->time_axis == labels->time_axis && logits->time_axis != k &&
             (!logits->batched || (logits->batch_axis == labels->batch_axis &&
                                   logits->batch_axis != k));
    for (int i = 0; ok && i < k; i++)
        ok = labels->max_shape[i] == logits->max_shape[i];
    if (!ok) {
        char sa[128], sb[128];
        return ax_fail(AX_ERR_SHAPE, fn,
                       "node '%s': logits '%s' has shape %s, labels '%s' has shape %s; needs "
                       "[N, C] and [N], or [..., C] and [...] with the same batch and time axes",
                       me, logits->name, ax_node_shape_str(logits, sa, sizeof sa), labels->name,
                       ax_node_shape_str(labels, sb, sizeof sb));
    }
    ax_infer_scalar(out);
    return AX_OK;
}

static ax_status cross_entropy_forward(ax_graph *g, ax_node *node) {
    ax_tensor vx;
    const ax_tensor *x = NULL;
    AX_TRY(ax_graph_rows_open(ax_in_value(node, 0), &vx, &x));
    ax_status st = ax_cross_entropy_forward(g->ctx, x, ax_in_value(node, 1), AX_REDUCE_MEAN,
                                            node->value);
    ax_graph_rows_close(x, &vx);
    return st;
}

static ax_status cross_entropy_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    ax_tensor vx, vdx;
    const ax_tensor *x = NULL, *gx = NULL;
    AX_TRY(ax_graph_rows_open(ax_in_value(node, 0), &vx, &x));
    ax_status st = ax_graph_rows_open(dx[0], &vdx, &gx);
    if (st == AX_OK) {
        st = ax_cross_entropy_backward(g->ctx, x, ax_in_value(node, 1), AX_REDUCE_MEAN,
                                       node->grad, (ax_tensor *)gx);
        ax_graph_rows_close(gx, &vdx);
    }
    ax_graph_rows_close(x, &vx);
    return st;
}

const ax_op_desc ax_op_cross_entropy = {
    .name = "cross_entropy", .saves = AX_SAVES_IN(0) | AX_SAVES_IN(1),
    .n_out = 1, .int_inputs = 1u << 1, .no_grad = 1u << 1,
    .infer = cross_entropy_infer, .forward = cross_entropy_forward,
    .backward = cross_entropy_backward,
};

ax_status ax_graph_cross_entropy(ax_graph *g, const char *name, ax_node *logits,
                                 ax_node *labels, ax_node **out) {
    ax_node *in[] = {logits, labels};
    const char *what[] = {"logits", "labels"};
    return ax_graph_op(__func__, g, name, &ax_op_cross_entropy, 2, in, what, NULL, out);
}

/* ---------------------------------------------------------------- penalties */

typedef struct penalty_params {
    float lambda;
} penalty_params;

static ax_status penalty_infer(const char *fn, const char *me, ax_node *const *in,
                               const void *params, ax_out_shape *out) {
    const penalty_params *p = params;
    if (in[0]->op != &ax_op_param)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "node '%s': '%s' is not a parameter", me,
                       in[0]->name);
    if (!isfinite(p->lambda))
        return ax_fail(AX_ERR_INVALID_ARG, fn, "node '%s': lambda is not finite", me);
    ax_infer_scalar(out);
    return AX_OK;
}

/* lambda sum |w| or lambda/2 sum w^2 into y (zeroed first: the penalties add). */
static ax_status penalty_forward(ax_graph *g, ax_node *node) {
    const penalty_params *p = node->params;
    AX_TRY(ax_fill(g->ctx, node->value, 0.0f));
    return node->op == &ax_op_l1 ? ax_l1_penalty(g->ctx, ax_in_value(node, 0), p->lambda,
                                                 node->value, NULL)
                                 : ax_l2_penalty(g->ctx, ax_in_value(node, 0), p->lambda,
                                                 node->value, NULL);
}

/* dst = beta dst + src * s[0] for a one-element s, on the device: a [n, 1] x [1, 1] GEMM over
 * temporary 2-D shapes (restored afterwards). */
static ax_status add_scaled(ax_ctx *ctx, ax_tensor *src, ax_tensor *s, float beta,
                            ax_tensor *dst) {
    int64_t col[2] = {src->numel, 1}, one[2] = {1, 1};
    int src_nd = src->ndim, s_nd = s->ndim;
    int64_t src_shape[AX_MAX_DIMS], s_shape[AX_MAX_DIMS];
    for (int i = 0; i < src_nd; i++)
        src_shape[i] = src->shape[i];
    for (int i = 0; i < s_nd; i++)
        s_shape[i] = s->shape[i];
    AX_TRY(ax_tensor_reshape(src, 2, col));
    AX_TRY(ax_tensor_reshape(dst, 2, col));
    AX_TRY(ax_tensor_reshape(s, 2, one));
    ax_status st = ax_gemm(ctx, AX_NO_TRANS, AX_NO_TRANS, 1.0f, src, s, beta, dst);
    ax_tensor_reshape(src, src_nd, src_shape);
    ax_tensor_reshape(dst, src_nd, src_shape); /* dst has src's shape */
    ax_tensor_reshape(s, s_nd, s_shape);
    return st;
}

/* The raw gradient into the scratch dx[0], then scaled by the upstream scalar on the device
 * and added to the parameter's gradient (which accumulates). */
static ax_status penalty_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    const penalty_params *p = node->params;
    ax_node *w = node->in[0];
    ax_tensor *raw = dx[0];
    AX_TRY(ax_fill(g->ctx, raw, 0.0f));
    AX_TRY(node->op == &ax_op_l1 ? ax_l1_penalty(g->ctx, w->value, p->lambda, NULL, raw)
                                 : ax_l2_penalty(g->ctx, w->value, p->lambda, NULL, raw));
    return add_scaled(g->ctx, raw, node->grad, 1.0f, w->grad);
}

const ax_op_desc ax_op_l1 = {
    .name = "l1", .saves = AX_SAVES_IN(0), .params_size = sizeof(penalty_params), .n_out = 1,
    .flags = AX_OPF_ACCUMULATES, .infer = penalty_infer, .forward = penalty_forward,
    .backward = penalty_backward,
};

const ax_op_desc ax_op_l2 = {
    .name = "l2", .saves = AX_SAVES_IN(0), .params_size = sizeof(penalty_params), .n_out = 1,
    .flags = AX_OPF_ACCUMULATES, .infer = penalty_infer, .forward = penalty_forward,
    .backward = penalty_backward,
};

static ax_status penalty(const char *fn, ax_graph *g, const char *name, const ax_op_desc *op,
                         ax_node *param, float lambda, ax_node **out) {
    const char *what[] = {"param"};
    penalty_params p = {lambda};
    return ax_graph_op(fn, g, name, op, 1, &param, what, &p, out);
}

ax_status ax_graph_l1_penalty(ax_graph *g, const char *name, ax_node *param, float lambda,
                              ax_node **out) {
    return penalty(__func__, g, name, &ax_op_l1, param, lambda, out);
}

ax_status ax_graph_l2_penalty(ax_graph *g, const char *name, ax_node *param, float lambda,
                              ax_node **out) {
    return penalty(__func__, g, name, &ax_op_l2, param, lambda, out);
}
