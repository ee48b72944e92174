/* Reductions over one axis: sum and mean (y drops the axis). */
#include "../graph_internal.h"

#include "../../ops/check.h"

typedef struct reduce_params {
    int axis; /* as given; normalised to >= 0 by the inference */
} reduce_params;

static ax_status reduce_infer(const char *fn, const char *me, ax_node *const *in,
                              const void *params, ax_out_shape *out) {
    const reduce_params *p = params;
    const ax_node *x = in[0];
    int nd = x->value->ndim;
    int a = p->axis < 0 ? p->axis + nd : p->axis;
    if (a < 0 || a >= nd) {
        char sx[128];
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': axis %d is outside x '%s' of shape %s", me,
                       p->axis, x->name, ax_node_shape_str(x, sx, sizeof sx));
    }
    out->dtype = AX_F32;
    out->ndim = nd - 1;
    for (int i = 0, j = 0; i < nd; i++)
        if (i != a)
            out->shape[j++] = x->value->shape[i];
    out->batched = x->batched && a != x->batch_axis;
    out->batch_axis = x->batch_axis - (x->batch_axis > a);
    out->time_axis = x->time_axis == a ? -1 : x->time_axis - (x->time_axis > a);
    return AX_OK;
}

/* The axis normalised to >= 0 (the inference checked it). */
static int axis_of(const ax_node *node) {
    const reduce_params *p = node->params;
    return p->axis < 0 ? p->axis + node->in[0]->value->ndim : p->axis;
}

static ax_status sum_forward(ax_graph *g, ax_node *node) {
    return ax_sum(g->ctx, ax_in_value(node, 0), axis_of(node), node->value);
}

static ax_status sum_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    return ax_sum_backward(g->ctx, node->grad, axis_of(node), dx[0]);
}

const ax_op_desc ax_op_sum = {
    .name = "sum", .params_size = sizeof(reduce_params), .n_out = 1, .infer = reduce_infer,
    .forward = sum_forward, .backward = sum_backward,
};

static ax_status mean_forward(ax_graph *g, ax_node *node) {
    return ax_mean(g->ctx, ax_in_value(node, 0), axis_of(node), node->value);
}

static ax_status mean_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    return ax_mean_backward(g->ctx, node->grad, axis_of(node), dx[0]);
}

const ax_op_desc ax_op_mean = {
    .name = "mean", .params_size = sizeof(reduce_params), .n_out = 1, .infer = reduce_infer,
    .forward = mean_forward, .backward = mean_backward,
};

static ax_status reduce(const char *fn, ax_graph *g, const char *name, const ax_op_desc *op,
                        ax_node *x, int axis, ax_node **out) {
    const char *what[] = {"x"};
    reduce_params p = {axis};
    return ax_graph_op(fn, g, name, op, 1, &x, what, &p, out);
}

ax_status ax_graph_sum(ax_graph *g, const char *name, ax_node *x, int axis, ax_node **out) {
    return reduce(__func__, g, name, &ax_op_sum, x, axis, out);
}

ax_status ax_graph_mean(ax_graph *g, const char *name, ax_node *x, int axis, ax_node **out) {
    return reduce(__func__, g, name, &ax_op_mean, x, axis, out);
}
