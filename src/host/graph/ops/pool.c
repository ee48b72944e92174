/* Pooling layers over NCHW (ops.h's ax_*_pool*): max pool (keeping the argmax indices of the
 * forward for the backward), average pool and global average pool [N, C, H, W] -> [N, C]. */
#include <stdio.h>
#include <string.h>

#include "../graph_internal.h"

#include "../../core/view.h"
#include "../../ops/check.h"

typedef struct pool_params {
    ax_pool2d_desc desc;
} pool_params;

/* x [N, C, H, W], batched on axis 0 (or not batched). */
static ax_status check_nchw(const char *fn, const char *me, const ax_node *x) {
    char sx[128];
    if (x->value->ndim != 4)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': x '%s' has shape %s, needs [N, C, H, W]",
                       me, x->name, ax_node_shape_str(x, sx, sizeof sx));
    return ax_infer_rows(fn, me, x, "x");
}

static ax_status pool_infer(const char *fn, const char *me, ax_node *const *in,
                            const void *params, ax_out_shape *out) {
    const pool_params *p = params;
    const ax_node *x = in[0];
    char sx[128];
    AX_TRY(check_nchw(fn, me, x));
    int64_t y[4];
    ax_status st = ax_pool2d_output_shape(&p->desc, x->max_shape, y);
    if (st != AX_OK)
        return ax_fail(st, fn, "node '%s': kernel %dx%d over x '%s' %s: %s", me,
                       p->desc.kernel_h, p->desc.kernel_w, x->name,
                       ax_node_shape_str(x, sx, sizeof sx), ax_last_error());
    out->dtype = AX_F32;
    out->ndim = 4;
    memcpy(out->shape, y, sizeof y);
    out->batched = x->batched;
    return AX_OK;
}

/* ---------------------------------------------------------------- max pool */

/* node->state[0]: the forward's argmax indices, i32 of the output's largest shape. */
static ax_status max_pool_forward(ax_graph *g, ax_node *node) {
    const pool_params *p = node->params;
    ax_tensor *idx = node->state[0];
    AX_TRY(ax_tensor_set_shape(__func__, idx, 4, node->value->shape)); /* the run's batch */
    return ax_max_pool2d_forward(g->ctx, &p->desc, ax_in_value(node, 0), node->value, idx);
}

static ax_status max_pool_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    const pool_params *p = node->params;
    return ax_max_pool2d_backward(g->ctx, &p->desc, node->state[0], node->grad, dx[0]);
}

const ax_op_desc ax_op_max_pool2d = {
    .name = "max_pool", .params_size = sizeof(pool_params), .n_out = 1, .infer = pool_infer,
    .forward = max_pool_forward, .backward = max_pool_backward,
};

static ax_status check_desc(const char *fn, const ax_pool2d_desc *desc, ax_node **out) {
    if (!out)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "out is NULL");
    *out = NULL;
    if (!desc)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "desc is NULL");
    return AX_OK;
}

ax_status ax_graph_max_pool2d(ax_graph *g, const char *name, ax_node *x,
                              const ax_pool2d_desc *desc, ax_node **out) {
    const char *what[] = {"x"};
    AX_TRY(check_desc(__func__, desc, out));
    pool_params p = {*desc};
    ax_node *node = NULL;
    AX_TRY(ax_graph_op(__func__, g, name, &ax_op_max_pool2d, 1, &x, what, &p, &node));
    ax_status st = ax_tensor_zeros(g->ctx, AX_I32, 4, node->max_shape, &node->state[0]);
    if (st != AX_OK) {
        st = ax_graph_wrap(st, __func__, node);
        ax_graph_truncate(g, node->id); /* the node and its state */
        return st;
    }
    *out = node;
    return AX_OK;
}

/* ---------------------------------------------------------------- average pool */

static ax_status avg_pool_infer(const char *fn, const char *me, ax_node *const *in,
                                const void *params, ax_out_shape *out) {
    const pool_params *p = params;
    if (p->desc.dilation_h != 1 || p->desc.dilation_w != 1)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "node '%s': dilation %dx%d, the average pool "
                       "needs 1", me, p->desc.dilation_h, p->desc.dilation_w);
    return pool_infer(fn, me, in, params, out);
}

static ax_status avg_pool_forward(ax_graph *g, ax_node *node) {
    const pool_params *p = node->params;
    return ax_avg_pool2d_forward(g->ctx, &p->desc, ax_in_value(node, 0), node->value);
}

static ax_status avg_pool_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    const pool_params *p = node->params;
    return ax_avg_pool2d_backward(g->ctx, &p->desc, node->grad, dx[0]);
}

const ax_op_desc ax_op_avg_pool2d = {
    .name = "avg_pool", .params_size = sizeof(pool_params), .n_out = 1,
    .infer = avg_pool_infer, .forward = avg_pool_forward, .backward = avg_pool_backward,
};

ax_status ax_graph_avg_pool2d(ax_graph *g, const char *name, ax_node *x,
                              const ax_pool2d_desc *desc, ax_node **out) {
    const char *what[] = {"x"};
    AX_TRY(check_desc(__func__, desc, out));
    pool_params p = {*desc};
    return ax_graph_op(__func__, g, name, &ax_op_avg_pool2d, 1, &x, what, &p, out);
}

/* ---------------------------------------------------------------- global average pool */

static ax_status global_avg_pool_infer(const char *fn, const char *me, ax_node *const *in,
                                       const void *params, ax_out_shape *out) {
    (void)params;
    AX_TRY(check_nchw(fn, me, in[0]));
    out->dtype = AX_F32;
    out->ndim = 2;
    out->shape[0] = in[0]->max_shape[0];
    out->shape[1] = in[0]->max_shape[1];
    out->batched = in[0]->batched;
    return AX_OK;
}

static ax_status global_avg_pool_forward(ax_graph *g, ax_node *node) {
    return ax_global_avg_pool_forward(g->ctx, ax_in_value(node, 0), node->value);
}

static ax_status global_avg_pool_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    return ax_global_avg_pool_backward(g->ctx, node->grad, dx[0]);
}

const ax_op_desc ax_op_global_avg_pool = {
    .name = "global_avg_pool", .n_out = 1, .infer = global_avg_pool_infer,
    .forward = global_avg_pool_forward, .backward = global_avg_pool_backward,
};

ax_status ax_graph_global_avg_pool(ax_graph *g, const char *name, ax_node *x, ax_node **out) {
    const char *what[] = {"x"};
    return ax_graph_op(__func__, g, name, &ax_op_global_avg_pool, 1, &x, what, NULL, out);
}
