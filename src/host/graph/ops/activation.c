/* Graph ops that map x to a y of its shape: activations, softmax and log-softmax along the
 * last dim, and inverted dropout. */
#include "../graph_internal.h"

#include "../../ops/check.h"

/* y like x; x of at least *min_ndim dims (params: an int, or NULL for 0). */
static ax_status like_x(const char *fn, const char *me, const ax_node *x, int min_ndim,
                        ax_out_shape *out) {
    if (x->value->ndim < min_ndim) {
        char sx[128];
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': x '%s' has shape %s, needs %d dims or more",
                       me, x->name, ax_node_shape_str(x, sx, sizeof sx), min_ndim);
    }
    ax_infer_like(x, out);
    return AX_OK;
}

static ax_status any_infer(const char *fn, const char *me, ax_node *const *in,
                           const void *params, ax_out_shape *out) {
    (void)params;
    return like_x(fn, me, in[0], 0, out);
}

static ax_status rows_infer(const char *fn, const char *me, ax_node *const *in,
                            const void *params, ax_out_shape *out) {
    (void)params;
    return like_x(fn, me, in[0], 1, out);
}

static ax_status unary(const char *fn, ax_graph *g, const char *name, const ax_op_desc *op,
                       ax_node *x, const void *params, ax_node **out) {
    const char *what[] = {"x"};
    return ax_graph_op(fn, g, name, op, 1, &x, what, params, out);
}

/* ---------------------------------------------------------------- activation */

typedef struct activation_params {
    ax_activation act;
    float slope; /* leaky ReLU; 0 means AX_LEAKY_RELU_SLOPE */
} activation_params;

static ax_status activation_forward(ax_graph *g, ax_node *node) {
    const activation_params *p = node->params;
    return ax_activation_forward(g->ctx, p->act, p->slope, ax_in_value(node, 0), node->value);
}

static ax_status activation_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    const activation_params *p = node->params;
    return ax_activation_backward(g->ctx, p->act, p->slope, ax_in_value(node, 0), node->value,
                                  node->grad, dx[0]);
}

const ax_op_desc ax_op_activation = {
    .name = "activation", .saves = AX_SAVES_IN(0) | AX_SAVES_OUT,
    .params_size = sizeof(activation_params), .n_out = 1,
    .infer = any_infer, .forward = activation_forward, .backward = activation_backward,
};

ax_status ax_graph_activation(ax_graph *g, const char *name, ax_activation act, float slope,
                              ax_node *x, ax_node **out) {
    if (act < AX_ACT_SIGMOID || act > AX_ACT_LEAKY_RELU)
        return AX_FAIL(AX_ERR_INVALID_ARG, "unknown activation %d", (int)act);
    static const char *names[] = {"linear", "sigmoid", "tanh", "relu", "leaky_relu"};
    activation_params p = {act, slope};
    char buf[AX_NODE_NAME_MAX];
    if (!name && g && ax_handle_live(g, AX_HANDLE_GRAPH)) /* "relu3", not "activation3" */
        name = ax_graph_label(g, NULL, names[act], buf, sizeof buf);
    return unary(__func__, g, name, &ax_op_activation, x, &p, out);
}

/* ---------------------------------------------------------------- softmax, log-softmax */

static ax_status softmax_forward(ax_graph *g, ax_node *node) {
    return ax_softmax_forward(g->ctx, ax_in_value(node, 0), node->value);
}

static ax_status softmax_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    return ax_softmax_backward(g->ctx, node->value, node->grad, dx[0]);
}

const ax_op_desc ax_op_softmax = {
    .name = "softmax", .saves = AX_SAVES_OUT,
    .n_out = 1, .infer = rows_infer, .forward = softmax_forward,
    .backward = softmax_backward,
};

ax_status ax_graph_softmax(ax_graph *g, const char *name, ax_node *x, ax_node **out) {
    return unary(__func__, g, name, &ax_op_softmax, x, NULL, out);
}

static ax_status log_softmax_forward(ax_graph *g, ax_node *node) {
    return ax_log_softmax_forward(g->ctx, ax_in_value(node, 0), node->value);
}

static ax_status log_softmax_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    return ax_log_softmax_backward(g->ctx, node->value, node->grad, dx[0]);
}

const ax_op_desc ax_op_log_softmax = {
    .name = "log_softmax", .saves = AX_SAVES_OUT,
    .n_out = 1, .infer = rows_infer, .forward = log_softmax_forward,
    .backward = log_softmax_backward,
};

ax_status ax_graph_log_softmax(ax_graph *g, const char *name, ax_node *x, ax_node **out) {
    return unary(__func__, g, name, &ax_op_log_softmax, x, NULL, out);
}

/* ---------------------------------------------------------------- dropout */

typedef struct dropout_params {
    float p; /* drop probability in [0, 1) */
} dropout_params;

/* Training: a fresh Philox mask per forward (offset from the step and the node); eval: the
 * identity. The backward regenerates the forward's mask from the same offset. */
static ax_status dropout_forward(ax_graph *g, ax_node *node) {
    const dropout_params *p = node->params;
    if (!g->training)
        return ax_tensor_copy(node->value, ax_in_value(node, 0));
    return ax_dropout_forward(g->ctx, p->p, g->seed, ax_dropout_offset(g->step, node->id),
                              ax_in_value(node, 0), node->value);
}

static ax_status dropout_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    const dropout_params *p = node->params;
    if (!g->forward_training)
        return ax_tensor_copy(dx[0], node->grad);
    return ax_dropout_backward(g->ctx, p->p, g->seed, ax_dropout_offset(g->step, node->id),
                               node->grad, dx[0]);
}

const ax_op_desc ax_op_dropout = {
    .name = "dropout", .params_size = sizeof(dropout_params), .n_out = 1, .infer = any_infer,
    .forward = dropout_forward, .backward = dropout_backward,
};

ax_status ax_graph_dropout(ax_graph *g, const char *name, ax_node *x, float p, ax_node **out) {
    if (!(p >= 0.0f && p < 1.0f))
        return AX_FAIL(AX_ERR_INVALID_ARG, "node '%s': p = %g is outside [0, 1)",
                       name ? name : "dropout", (double)p);
    dropout_params params = {p};
    return unary(__func__, g, name, &ax_op_dropout, x, &params, out);
}
