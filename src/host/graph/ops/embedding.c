/* embedding: indices (i32, any shape, e.g. [N, T] or time-major [T, N]) -> rows of the
 * parameter "<name>.weight" [V, D], out = indices' shape + [D] with the indices' batch and
 * time axes (a shorter last batch or sequence shrinks it without recompiling). The backward
 * adds its scatter straight into the weight's gradient (no [V, D] scratch). */
#include <stdio.h>

#include "../graph_internal.h"

#include "../../ops/check.h"

static ax_status embedding_infer(const char *fn, const char *me, ax_node *const *in,
                                 const void *params, ax_out_shape *out) {
    (void)fn, (void)me, (void)params; /* the builder checked the indices and made w to fit */
    const ax_node *idx = in[0];
    out->dtype = AX_F32;
    out->ndim = idx->value->ndim + 1;
    for (int i = 0; i < idx->value->ndim; i++)
        out->shape[i] = idx->max_shape[i];
    out->shape[idx->value->ndim] = in[1]->value->shape[1];
    out->batched = idx->batched;
    out->batch_axis = idx->batch_axis;
    out->time_axis = idx->time_axis;
    return AX_OK;
}

static ax_status embedding_forward(ax_graph *g, ax_node *node) {
    return ax_embedding_forward(g->ctx, ax_in_value(node, 0), ax_in_value(node, 1), node->value);
}

/* dx[1] is the weight's gradient itself: accumulate into it (AX_OPF_NO_SCRATCH). */
static ax_status embedding_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    if (!dx[1])
        return AX_OK;
    return ax_embedding_backward(g->ctx, ax_in_value(node, 0), node->grad, 1, dx[1]);
}

const ax_op_desc ax_op_embedding = {
    .name = "embedding", .n_out = 1, .int_inputs = 1u << 0, .no_grad = 1u << 0,
    .flags = AX_OPF_ACCUMULATES | AX_OPF_NO_SCRATCH, .saves = AX_SAVES_IN(0),
    .infer = embedding_infer, .forward = embedding_forward, .backward = embedding_backward,
};

ax_status ax_graph_embedding(ax_graph *g, const char *name, ax_node *indices, int64_t vocab,
                             int64_t dim, ax_node **out) {
    const char *fn = __func__;
    char buf[AX_NODE_NAME_MAX], si[128], pname[AX_NODE_NAME_MAX + 8];
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    AX_TRY(ax_graph_check(fn, g));
    const char *me = ax_graph_label(g, name, "embedding", buf, sizeof buf);
    AX_TRY(ax_graph_check_node(fn, g, indices, "indices"));
    if (indices->value->dtype != AX_I32)
        return ax_fail(AX_ERR_DTYPE, fn, "node '%s': indices '%s' holds f32, needs i32 token ids",
                       me, indices->name);
    if (indices->value->ndim + 1 > AX_MAX_DIMS)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': indices '%s' of shape %s leave no dim for "
                       "the embedding (at most %d dims)", me, indices->name,
                       ax_node_shape_str(indices, si, sizeof si), AX_MAX_DIMS - 1);
    if (vocab < 1 || vocab > (int64_t)INT32_MAX + 1)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': vocab is %lld, must be in [1, 2^31]", me,
                       (long long)vocab);
    if (dim < 1)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': dim is %lld, must be >= 1", me,
                       (long long)dim);
    if (vocab > INT64_MAX / dim)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': a [%lld, %lld] table overflows int64", me,
                       (long long)vocab, (long long)dim);
    char node_name[AX_NODE_NAME_MAX]; /* fail before creating the parameter */
    AX_TRY(ax_graph_layer_name(fn, g, me, node_name));

    int64_t wshape[2] = {vocab, dim};
    ax_init winit = {.kind = AX_INIT_NORMAL, .mean = 0.0f, .std = 1.0f}; /* nn.Embedding's */
    ax_node *w = NULL;
    const int n_nodes = g->n_nodes; /* on failure, remove the parameter */
    snprintf(pname, sizeof pname, "%s.weight", node_name);
    ax_status st = ax_graph_param(g, pname, 2, wshape, &winit, &w);
    ax_node *in[] = {indices, w};
    const char *what[] = {"indices", "weight"};
    if (st == AX_OK)
        st = ax_graph_op(fn, g, node_name, &ax_op_embedding, 2, in, what, NULL, out);
    return ax_graph_layer_end(fn, g, n_nodes, node_name, w != NULL, st);
}
