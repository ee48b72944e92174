/* flatten: x [N, d1, d2, ...] -> y [N, d1 d2 ...], a view of x's storage (no copy; x is
 * contiguous), so a convolution stack feeds a dense layer. The backward copies dy into dx
 * under x's shape. */
#include "../graph_internal.h"

#include "../../core/view.h"
#include "../../ops/check.h"

static ax_status flatten_infer(const char *fn, const char *me, ax_node *const *in,
                               const void *params, ax_out_shape *out) {
    (void)params;
    const ax_node *x = in[0];
    char sx[128];
    AX_TRY(ax_infer_rows(fn, me, x, "x"));
    if (x->value->ndim < 2)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': x '%s' has shape %s, needs 2 dims or more",
                       me, x->name, ax_node_shape_str(x, sx, sizeof sx));
    int64_t rest = 1;
    for (int i = 1; i < x->value->ndim; i++)
        rest *= x->max_shape[i]; /* the product of x's own dims: no overflow */
    out->dtype = x->value->dtype;
    out->ndim = 2;
    out->shape[0] = x->max_shape[0];
    out->shape[1] = rest;
    out->batched = x->batched;
    return AX_OK;
}

static ax_status flatten_forward(ax_graph *g, ax_node *node) {
    (void)g;
    node->value->data = node->in[0]->value->data; /* the run's shape is set */
    return AX_OK;
}

/* dx = dy, through a view of dx under dy's shape. */
static ax_status flatten_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    (void)g;
    if (!dx[0])
        return AX_OK;
    ax_tensor flat = *node->grad;
    flat.data = dx[0]->data;
    AX_TRY(ax_tensor_view_open(__func__, &flat));
    ax_status st = ax_tensor_copy(&flat, node->grad);
    ax_tensor_view_close(&flat);
    return st;
}

const ax_op_desc ax_op_flatten = {
    .name = "flatten", .n_out = 1, .flags = AX_OPF_VIEW, .infer = flatten_infer,
    .forward = flatten_forward, .backward = flatten_backward,
};

ax_status ax_graph_flatten(ax_graph *g, const char *name, ax_node *x, ax_node **out) {
    const char *what[] = {"x"};
    ax_node *node = NULL;
    AX_TRY(ax_graph_op(__func__, g, name, &ax_op_flatten, 1, &x, what, NULL, &node));
    ax_tensor_borrow(node->value, x->value->data); /* its own storage goes; forward points it */
    node->value_borrowed = 1;
    *out = node;
    return AX_OK;
}
