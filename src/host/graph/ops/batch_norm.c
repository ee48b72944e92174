/* batch_norm over the channels (dim 1) of x [N, C], [N, C, L] or [N, C, H, W] (ops.h's
 * ax_batch_norm_*), as PyTorch's BatchNorm1d / BatchNorm2d with affine and
 * track_running_stats: parameters "<name>.weight" (1) and "<name>.bias" (0) [C]; buffers
 * "<name>.running_mean" (0), "<name>.running_var" (1) [C] and "<name>.num_batches_tracked".
 * Training normalises with the batch statistics and updates the running ones; eval uses the
 * running statistics. */
#include <stdio.h>

#include "../graph_internal.h"

#include "../../ops/check.h"

typedef struct bn_params {
    float momentum; /* in [0, 1], or negative: the cumulative average (AX_BN_CUMULATIVE) */
    float eps;
} bn_params;

/* node->state: the batch's mean and invstd [C], from the training forward to its backward. */
enum { SAVE_MEAN, SAVE_INVSTD };

static ax_status bn_infer(const char *fn, const char *me, ax_node *const *in,
                          const void *params, ax_out_shape *out) {
    const bn_params *p = params;
    const ax_node *x = in[0];
    char sx[128];
    AX_TRY(ax_infer_rows(fn, me, x, "x"));
    if (x->value->ndim < 2 || x->value->ndim > 4)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': x '%s' has shape %s, needs [N, C], "
                       "[N, C, L] or [N, C, H, W]", me, x->name,
                       ax_node_shape_str(x, sx, sizeof sx));
    if (!(p->momentum <= 1.0f)) /* NaN too */
        return ax_fail(AX_ERR_INVALID_ARG, fn, "node '%s': momentum %g is above 1 (negative "
                       "means the cumulative average)", me, (double)p->momentum);
    if (!(p->eps > 0.0f && p->eps <= 3.4e38f))
        return ax_fail(AX_ERR_INVALID_ARG, fn, "node '%s': eps %g must be finite and > 0", me,
                       (double)p->eps);
    ax_infer_like(x, out);
    return AX_OK;
}

static ax_status bn_forward(ax_graph *g, ax_node *node) {
    const bn_params *p = node->params;
    ax_buffer *b = &g->buffers[node->buffer0]; /* running_mean, running_var, counter */
    const ax_tensor *x = ax_in_value(node, 0), *gamma = ax_in_value(node, 1),
                    *beta = ax_in_value(node, 2);
    if (!g->training)
        return ax_batch_norm_forward_inference(g->ctx, x, gamma, beta, b[0].value, b[1].value,
                                               p->eps, node->value);
    return ax_batch_norm_forward_training(g->ctx, x, gamma, beta, p->eps, p->momentum,
                                          b[0].value, b[1].value, &b[2].count, node->value,
                                          node->state[SAVE_MEAN], node->state[SAVE_INVSTD]);
}

static ax_status bn_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    const bn_params *p = node->params;
    const ax_buffer *b = &g->buffers[node->buffer0];
    const ax_tensor *x = ax_in_value(node, 0), *gamma = ax_in_value(node, 1);
    if (!g->forward_training)
        return ax_batch_norm_backward_inference(g->ctx, x, node->grad, gamma, b[0].value,
                                                b[1].value, p->eps, dx[0], dx[1], dx[2]);
    return ax_batch_norm_backward_training(g->ctx, x, node->grad, gamma,
                                           node->state[SAVE_MEAN], node->state[SAVE_INVSTD],
                                           dx[0], dx[1], dx[2]);
}

const ax_op_desc ax_op_batch_norm = {
    .name = "bn", .params_size = sizeof(bn_params), .n_out = 1,
    .saves = AX_SAVES_IN(0) | AX_SAVES_IN(1), .infer = bn_infer, .forward = bn_forward,
    .backward = bn_backward,
};

/* The node's saved statistics and its buffers (running_var starts at 1). */
static ax_status make_state(const char *fn, ax_graph *g, ax_node *node, int64_t c) {
    for (int k = SAVE_MEAN; k <= SAVE_INVSTD; k++)
        AX_TRY(ax_graph_wrap(ax_tensor_zeros(g->ctx, AX_F32, 1, &c, &node->state[k]), fn,
                             node));
    AX_TRY(ax_graph_buffer_add(fn, g, node, "running_mean", 1, &c));
    AX_TRY(ax_graph_buffer_add(fn, g, node, "running_var", 1, &c));
    AX_TRY(ax_graph_wrap(ax_fill(g->ctx, g->buffers[node->buffer0 + 1].value, 1.0f), fn,
                         node));
    return ax_graph_buffer_add(fn, g, node, "num_batches_tracked", -1, NULL);
}

ax_status ax_graph_batch_norm(ax_graph *g, const char *name, ax_node *x, float momentum,
                              float eps, ax_node **out) {
    const char *fn = __func__;
    char buf[AX_NODE_NAME_MAX], pname[AX_NODE_NAME_MAX + 8], sx[128];
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    AX_TRY(ax_graph_check(fn, g));
    const char *me = ax_graph_label(g, name, "bn", buf, sizeof buf);
    AX_TRY(ax_graph_check_node(fn, g, x, "x"));
    if (x->value->dtype != AX_F32)
        return ax_fail(AX_ERR_DTYPE, fn, "node '%s': x '%s' holds i32, needs f32", me, x->name);
    if (x->value->ndim < 2 || x->value->ndim > 4)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': x '%s' has shape %s, needs [N, C], "
                       "[N, C, L] or [N, C, H, W]", me, x->name,
                       ax_node_shape_str(x, sx, sizeof sx));
    char node_name[AX_NODE_NAME_MAX]; /* fail before creating the parameters */
    AX_TRY(ax_graph_layer_name(fn, g, me, node_name));

    int64_t c = x->value->shape[1];
    ax_init ones = {.kind = AX_INIT_CONSTANT, .value = 1.0f}, zeros = {.kind = AX_INIT_ZEROS};
    bn_params p = {momentum, eps};
    ax_node *in[3] = {x, NULL, NULL}, *node = NULL;
    const char *what[] = {"x", "weight", "bias"};
    const int n_nodes = g->n_nodes;
    snprintf(pname, sizeof pname, "%s.weight", node_name);
    ax_status st = ax_graph_param(g, pname, 1, &c, &ones, &in[1]);
    snprintf(pname, sizeof pname, "%s.bias", node_name);
    if (st == AX_OK)
        st = ax_graph_param(g, pname, 1, &c, &zeros, &in[2]);
    int params_made = st == AX_OK;
    if (st == AX_OK)
        st = ax_graph_op(fn, g, node_name, &ax_op_batch_norm, 3, in, what, &p, &node);
    if (st == AX_OK)
        st = make_state(fn, g, node, c);
    /* on failure: parameters, node, its state and its buffers go */
    AX_TRY(ax_graph_layer_end(fn, g, n_nodes, node_name, params_made, st));
    *out = node;
    return AX_OK;
}
