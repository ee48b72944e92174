/* The backward pass: each node's backward step (its op descriptor's), run in reverse creation
 * order as compile.c planned it, and the parameter gradients' zeroing. */
#include "graph_internal.h"

#include "../ops/check.h"

/* One node's backward step, adding its edges' scratch gradients where planned. */
static ax_status node_backward(ax_graph *g, ax_node *node) {
    ax_tensor **t = node->dx; /* where each input's gradient goes */
    int accumulates = (node->op->flags & AX_OPF_ACCUMULATES) != 0;
    for (int k = 0; k < node->n_in; k++)
        t[k] = !node->needs_grad[k] ? NULL
               : node->scratch[k] ? node->scratch[k] : node->in[k]->grad;
    AX_TRY(node->op->backward(g, node, t));
    for (int k = 0; k < node->n_in && !accumulates; k++)
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
    /* Gradients no consumer overwrites (an unused output of a multi-output op, the input of a
     * view whose steps add into it) start at zero. */
    for (int i = 0; i < loss->id; i++) {
        ax_node *node = g->nodes[i];
        if (node->grad && !node->grad_written && !(node->op->flags & AX_OPF_SOURCE))
            AX_TRY(ax_graph_wrap(ax_fill(g->ctx, node->grad, 0.0f), __func__, node));
    }
    AX_TRY(ax_graph_wrap(ax_tensor_copy(loss->grad, g->one), __func__, loss));
    for (int i = loss->id; i >= 0; i--) {
        ax_node *node = g->nodes[i];
        if (node->grad && !(node->op->flags & (AX_OPF_SOURCE | AX_OPF_OUTPUT_SLOT)))
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
