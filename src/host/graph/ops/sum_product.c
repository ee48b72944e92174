/* sum_product: an internal op of any number (>= 2) of inputs and two outputs,
 * (a_0 + ... + a_{n-1}, a_0 * a_1), that shows and tests wide and multi-output nodes: its
 * second output is an output-slot node, and its backward reads the gradients of both. */
#include "../graph_internal.h"

#include "../../ops/check.h"

/* All inputs of in[0]'s shape; params is the number of inputs (an int). */
static ax_status sum_product_infer(const char *fn, const char *me, ax_node *const *in,
                                   const void *params, ax_out_shape *out) {
    const int *n = params;
    for (int k = 1; k < *n; k++)
        AX_TRY(ax_infer_same(fn, me, in[0], "a_0", in[k], "a_k"));
    ax_infer_like(in[0], &out[0]);
    ax_infer_like(in[0], &out[1]);
    return AX_OK;
}

static ax_status sum_product_forward(ax_graph *g, ax_node *node) {
    ax_tensor *s = node->outs[0]->value;
    AX_TRY(ax_add(g->ctx, ax_in_value(node, 0), ax_in_value(node, 1), s));
    for (int k = 2; k < node->n_in; k++)
        AX_TRY(ax_axpy(g->ctx, 1.0f, ax_in_value(node, k), s));
    return ax_mul(g->ctx, ax_in_value(node, 0), ax_in_value(node, 1), node->outs[1]->value);
}

/* da_k = ds for every k, plus dp * a_1 for k = 0 and dp * a_0 for k = 1. */
static ax_status sum_product_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    const ax_tensor *ds = node->outs[0]->grad, *dp = node->outs[1]->grad;
    AX_TRY(ax_mul_backward(g->ctx, ax_in_value(node, 0), ax_in_value(node, 1), dp, dx[0],
                           dx[1]));
    for (int k = 0; k < node->n_in; k++) {
        if (dx[k] && k < 2)
            AX_TRY(ax_axpy(g->ctx, 1.0f, ds, dx[k]));
        else if (dx[k])
            AX_TRY(ax_tensor_copy(dx[k], ds));
    }
    return AX_OK;
}

const ax_op_desc ax_op_sum_product = {
    .name = "sum_product", .saves = AX_SAVES_IN(0) | AX_SAVES_IN(1),
    .params_size = sizeof(int), .n_out = 2, .infer = sum_product_infer,
    .forward = sum_product_forward, .backward = sum_product_backward,
};

ax_status ax_graph_sum_product(ax_graph *g, const char *name, int n, ax_node *const *in,
                               ax_node **sum, ax_node **product) {
    if (!sum || !product || !in)
        return AX_FAIL(AX_ERR_INVALID_ARG, "sum, product or in is NULL");
    *product = NULL;
    if (n < 2)
        return AX_FAIL(AX_ERR_INVALID_ARG, "%d inputs; needs 2 or more", n);
    ax_node *node = NULL;
    AX_TRY(ax_graph_op(__func__, g, name, &ax_op_sum_product, n, in, NULL, &n, &node));
    *sum = node;
    *product = node->outs[1];
    return AX_OK;
}
