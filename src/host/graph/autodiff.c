/* The backward pass: each node's backward step, run in reverse creation order as compile.c
 * planned it, and the parameter gradients' zeroing. */
#include "graph_internal.h"

#include "../ops/check.h"

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

/* d(lambda sum |w|) or d(lambda/2 sum w^2), times the upstream scalar dy, added to the
 * parameter w's gradient (which accumulates): the raw gradient into the edge's scratch, then
 * scaled by dy on the device. */
static ax_status penalty_backward(ax_ctx *ctx, ax_node *node, const ax_tensor *dy) {
    ax_node *w = node->in[0];
    ax_tensor *raw = node->scratch[0];
    AX_TRY(ax_fill(ctx, raw, 0.0f));
    AX_TRY(node->op == AX_OP_L1 ? ax_l1_penalty(ctx, w->value, node->alpha, NULL, raw)
                                : ax_l2_penalty(ctx, w->value, node->alpha, NULL, raw));
    return add_scaled(ctx, raw, (ax_tensor *)dy, 1.0f, w->grad);
}

/* Write the gradients of node's inputs that need one (into their targets). */
static ax_status step(ax_graph *g, ax_node *node, ax_tensor *const *t) {
    ax_ctx *ctx = g->ctx;
    const ax_tensor *dy = node->grad, *y = node->value;
    const ax_tensor *x0 = node->in[0] ? node->in[0]->value : NULL;
    const ax_tensor *x1 = node->n_in > 1 ? node->in[1]->value : NULL;
    switch (node->op) {
    case AX_OP_INPUT:
    case AX_OP_PARAM: return AX_OK;
    case AX_OP_DENSE: return ax_dense_backward(ctx, x0, x1, dy, t[0], t[1], t[2]);
    case AX_OP_ACTIVATION:
        return ax_activation_backward(ctx, node->act, node->alpha, x0, y, dy, t[0]);
    case AX_OP_SOFTMAX: return ax_softmax_backward(ctx, y, dy, t[0]);
    case AX_OP_LOG_SOFTMAX: return ax_log_softmax_backward(ctx, y, dy, t[0]);
    case AX_OP_ADD:
        for (int k = 0; k < 2; k++)
            if (t[k])
                AX_TRY(ax_tensor_copy(t[k], dy));
        return AX_OK;
    case AX_OP_MUL: return ax_mul_backward(ctx, x0, x1, dy, t[0], t[1]);
    case AX_OP_SCALE: return ax_scale(ctx, node->alpha, dy, t[0]);
    case AX_OP_SUM: return ax_sum_backward(ctx, dy, node->axis, t[0]);
    case AX_OP_MEAN: return ax_mean_backward(ctx, dy, node->axis, t[0]);
    case AX_OP_MATMUL:
        return ax_gemm_backward(ctx, node->trans_a, node->trans_b, 1.0f, x0, x1, dy, t[0], t[1]);
    case AX_OP_DROPOUT:
        if (!g->forward_training)
            return ax_tensor_copy(t[0], dy);
        return ax_dropout_backward(ctx, node->alpha, g->seed, ax_dropout_offset(g->step, node->id),
                                   dy, t[0]);
    case AX_OP_MSE: return ax_mse_loss_backward(ctx, x0, x1, AX_REDUCE_MEAN, dy, t[0]);
    case AX_OP_CROSS_ENTROPY:
        return ax_cross_entropy_backward(ctx, x0, x1, AX_REDUCE_MEAN, dy, t[0]);
    case AX_OP_BCE: return ax_bce_with_logits_backward(ctx, x0, x1, AX_REDUCE_MEAN, dy, t[0]);
    case AX_OP_L1:
    case AX_OP_L2: return penalty_backward(ctx, node, dy);
    }
    return AX_FAIL(AX_ERR_INVALID_ARG, "node '%s' has an unknown op %d", node->name,
                   (int)node->op);
}

/* One node's backward step, adding its edges' scratch gradients where planned. */
static ax_status node_backward(ax_graph *g, ax_node *node) {
    ax_tensor *t[AX_NODE_MAX_INPUTS] = {NULL, NULL, NULL}; /* where each input's gradient goes */
    int penalty = node->op == AX_OP_L1 || node->op == AX_OP_L2;
    for (int k = 0; k < node->n_in; k++)
        if (node->needs_grad[k])
            t[k] = node->scratch[k] ? node->scratch[k] : node->in[k]->grad;
    AX_TRY(step(g, node, t));
    for (int k = 0; k < node->n_in && !penalty; k++)
        if (node->needs_grad[k] && node->scratch[k])
            AX_TRY(ax_axpy(g->ctx, 1.0f, node->scratch[k], node->in[k]->grad));
    return AX_OK;
}

ax_status ax_graph_backward(ax_graph *g) {
    AX_TRY(ax_graph_check(__func__, g));
    if (!g->compiled)
        return AX_FAIL(AX_ERR_STATE, "the graph is not compiled (ax_graph_compile)");
    if (!g->loss)
        return AX_FAIL(AX_ERR_STATE, "the graph was compiled without a loss");
    if (!g->forward_done)
        return AX_FAIL(AX_ERR_STATE, "no forward ran since the graph was compiled");
    ax_node *loss = g->loss;
    if (!loss->grad) /* the loss depends on no parameter */
        return AX_OK;
    AX_TRY(ax_graph_wrap(ax_tensor_copy(loss->grad, g->one), __func__, loss));
    for (int i = loss->id; i >= 0; i--) {
        ax_node *node = g->nodes[i];
        if (node->grad && node->op != AX_OP_PARAM)
            AX_TRY(ax_graph_wrap(node_backward(g, node), __func__, node));
    }
    return AX_OK;
}

ax_status ax_graph_zero_grad(ax_graph *g) {
    AX_TRY(ax_graph_check(__func__, g));
    for (int i = 0; i < g->n_params; i++)
        AX_TRY(ax_graph_wrap(ax_fill(g->ctx, g->param_grads[i], 0.0f), __func__, g->params[i]));
    return AX_OK;
}
