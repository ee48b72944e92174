/* Compilation: plan the backward of the loss and allocate all of its memory once.
 *
 * Creation order is a topological order (a node's inputs exist before it), so the backward
 * visits nodes in reverse creation order; every consumer of a node runs its backward before
 * the node itself, so the node's gradient is complete by then.
 *
 * Accumulation: the ops write their gradient outputs. Each edge (consumer, input i) whose
 * input needs a gradient either writes the input's gradient directly (the first writer, in
 * backward order, of an intermediate node) or writes a scratch tensor of its own that is then
 * added (ax_axpy) to the gradient: later writers of a node used several times, and every
 * writer of a parameter, whose gradient accumulates across backward calls until zero_grad. */
#include <stdlib.h>

#include "graph_internal.h"

#include "../core/alloc.h"
#include "../ops/check.h"

/* A zeroed tensor shaped like node's value at the largest batch. */
static ax_status like_value(const char *fn, ax_graph *g, const ax_node *node, ax_tensor **out) {
    const ax_tensor *v = node->value;
    ax_status st = ax_tensor_zeros(g->ctx, AX_F32, v->ndim, v->shape, out);
    return ax_graph_wrap(st, fn, node);
}

/* Mark the loss's ancestors in on_path (indexed by node id). */
static void mark_path(const ax_graph *g, const ax_node *loss, char *on_path) {
    on_path[loss->id] = 1;
    for (int i = loss->id; i >= 0; i--) {
        const ax_node *node = g->nodes[i];
        if (!on_path[i])
            continue;
        for (int k = 0; k < node->n_in; k++)
            on_path[node->in[k]->id] = 1;
    }
}

/* node's gradient, when it has none yet. */
static ax_status ensure_grad(const char *fn, ax_graph *g, ax_node *node) {
    return node->grad ? AX_OK : like_value(fn, g, node, &node->grad);
}

/* Gradients and scratch tensors of every node on the loss's path that depends on a
 * parameter; written (by node id) records which gradients already have a writer. */
static ax_status plan(const char *fn, ax_graph *g, const ax_node *loss, const char *on_path,
                      char *written) {
    for (int i = loss->id; i >= 0; i--) {
        ax_node *node = g->nodes[i];
        const ax_op_desc *op = node->op;
        if (!on_path[i] || !node->trainable || (op->flags & AX_OPF_SOURCE))
            continue;
        AX_TRY(ensure_grad(fn, g, node));
        if (op->flags & AX_OPF_OUTPUT_SLOT)
            continue; /* its producer reads the gradient; no edge */
        for (int j = 1; j < node->n_out; j++) /* read by the backward even when unused */
            AX_TRY(ensure_grad(fn, g, node->outs[j]));
        for (int k = 0; k < node->n_in; k++) {
            ax_node *in = node->in[k];
            if (!in->trainable || (op->no_grad >> k) & 1u)
                continue;
            node->needs_grad[k] = 1;
            /* Accumulating ops (penalties) get a scratch of their own to work in. */
            int direct = !(in->op->flags & AX_OPF_SOURCE) && !written[in->id] &&
                         !(op->flags & AX_OPF_ACCUMULATES);
            if (!direct)
                AX_TRY(like_value(fn, g, in, &node->scratch[k]));
            written[in->id] = 1;
        }
    }
    for (int i = 0; i < g->n_nodes; i++)
        g->nodes[i]->grad_written = written[i];
    return AX_OK;
}

ax_status ax_graph_compile(ax_graph *g, ax_node *loss) {
    AX_TRY(ax_graph_check(__func__, g));
    if (g->compiled)
        return AX_FAIL(AX_ERR_STATE, "the graph is already compiled");
    if (loss) {
        AX_TRY(ax_graph_check_node(__func__, g, loss, "loss"));
        if (loss->value->ndim != 0 || loss->value->dtype != AX_F32) {
            char s[128];
            return AX_FAIL(AX_ERR_SHAPE, "loss '%s' has shape %s; a loss is an f32 scalar []",
                           loss->name, ax_shape_str(loss->value, s, sizeof s));
        }
    }
    ax_status st = ax_tensor_create(g->ctx, AX_F32, 0, NULL, &g->one);
    if (st == AX_OK)
        st = ax_fill(g->ctx, g->one, 1.0f);
    st = ax_graph_rewrap(st, __func__, "the scalar 1 that seeds the backward");
    if (st == AX_OK && loss) {
        char *flags = ax_calloc(2 * (size_t)g->n_nodes, 1); /* on_path, then written */
        if (flags) {
            mark_path(g, loss, flags);
            st = plan(__func__, g, loss, flags, flags + g->n_nodes);
            free(flags);
        } else {
            st = AX_FAIL(AX_ERR_OOM, "out of host memory");
        }
    }
    if (st != AX_OK) { /* leave the graph as it was: not compiled, nothing extra allocated */
        ax_tensor_destroy(g->one);
        g->one = NULL;
        for (int i = 0; i < g->n_nodes; i++) {
            ax_node *node = g->nodes[i];
            if (!(node->op->flags & AX_OPF_SOURCE)) { /* a parameter keeps its own */
                ax_tensor_destroy(node->grad);
                node->grad = NULL;
            }
            node->grad_written = 0;
            for (int k = 0; k < node->n_in; k++) {
                ax_tensor_destroy(node->scratch[k]);
                node->scratch[k] = NULL;
                node->needs_grad[k] = 0;
            }
        }
        return st;
    }
    g->loss = loss;
    g->compiled = 1;
    return AX_OK;
}
