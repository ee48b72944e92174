/* time_step: y = x[t] for a sequence x whose time axis is dim 0, [T, ...] -> [...] (or any x
 * whose dim 0 is neither the batch nor varies: a block of a weight), as a view
 * of x's storage (a time-major step is contiguous): the forward points y at step t of the
 * run's x, the backward adds dy into step t of x's gradient (which starts at zero). */
#include <string.h>

#include "../graph_internal.h"

#include "../../core/view.h"
#include "../../ops/check.h"

typedef struct time_step_params {
    int64_t t;
} time_step_params;

static ax_status time_step_infer(const char *fn, const char *me, ax_node *const *in,
                                 const void *params, ax_out_shape *out) {
    const time_step_params *p = params;
    const ax_node *x = in[0];
    char sx[128];
    int batch_first = x->batched && x->batch_axis == 0;
    if (x->value->ndim < 2 || (x->time_axis != 0 && (x->time_axis >= 0 || batch_first)))
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': x '%s' of shape %s needs 2 dims or more "
                       "and its time axis first (or no time axis and no batch first)", me,
                       x->name, ax_node_shape_str(x, sx, sizeof sx));
    if (p->t < 0 || p->t >= x->max_shape[0])
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': step %lld is outside x '%s' of shape %s", me,
                       (long long)p->t, x->name, ax_node_shape_str(x, sx, sizeof sx));
    out->dtype = x->value->dtype;
    out->ndim = x->value->ndim - 1;
    memcpy(out->shape, x->max_shape + 1, (size_t)out->ndim * sizeof *out->shape);
    out->batched = x->batched;
    out->batch_axis = x->batch_axis - 1;
    out->time_axis = -1;
    return AX_OK;
}

/* The bytes from the start of a [T, ...] tensor to its step t. */
static size_t step_offset(const ax_tensor *x, int64_t t) {
    return (size_t)(t * (x->numel / x->shape[0])) * ax_dtype_size(x->dtype);
}

static ax_status check_step(const ax_node *node, const ax_tensor *x) {
    const time_step_params *p = node->params;
    if (p->t < x->shape[0])
        return AX_OK;
    return AX_FAIL(AX_ERR_SHAPE, "step %lld of '%s', a run of %lld steps", (long long)p->t,
                   node->in[0]->name, (long long)x->shape[0]);
}

static ax_status time_step_forward(ax_graph *g, ax_node *node) {
    (void)g;
    const time_step_params *p = node->params;
    const ax_tensor *x = ax_in_value(node, 0);
    AX_TRY(check_step(node, x));
    node->value->data = (char *)x->data + step_offset(x, p->t); /* the run's shape is set */
    return AX_OK;
}

/* dx[t] += dy through a view of the gradient's step t (dx[0] is x's gradient: no scratch). */
static ax_status time_step_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    const time_step_params *p = node->params;
    ax_tensor *gx = dx[0];
    if (!gx) /* x takes no gradient */
        return AX_OK;
    AX_TRY(check_step(node, gx));
    ax_tensor step = *node->grad;
    step.data = (char *)gx->data + step_offset(gx, p->t);
    AX_TRY(ax_tensor_view_open(__func__, &step));
    ax_status st = ax_axpy(g->ctx, 1.0f, node->grad, &step);
    ax_tensor_view_close(&step);
    return st;
}

const ax_op_desc ax_op_time_step = {
    .name = "time_step", .params_size = sizeof(time_step_params), .n_out = 1,
    .flags = AX_OPF_VIEW | AX_OPF_ACCUMULATES | AX_OPF_NO_SCRATCH, .infer = time_step_infer,
    .forward = time_step_forward, .backward = time_step_backward,
};

ax_status ax_graph_time_step(ax_graph *g, const char *name, ax_node *x, int64_t t,
                             ax_node **out) {
    const char *what[] = {"x"};
    time_step_params p = {t};
    ax_node *node = NULL;
    AX_TRY(ax_graph_op(__func__, g, name, &ax_op_time_step, 1, &x, what, &p, &node));
    ax_tensor_borrow(node->value, x->value->data); /* its own storage goes; forward points it */
    node->value_borrowed = 1;
    *out = node;
    return AX_OK;
}
