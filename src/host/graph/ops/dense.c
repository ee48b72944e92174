/* Products: the dense layer (y = x W^T + b, with its parameters) and matmul. */
#include <math.h>
#include <stdio.h>

#include "../graph_internal.h"

#include "../../ops/check.h"

/* ---------------------------------------------------------------- matmul */

typedef struct matmul_params {
    ax_transpose trans_a, trans_b;
} matmul_params;

static ax_status matmul_infer(const char *fn, const char *me, ax_node *const *in,
                              const void *params, ax_out_shape *out) {
    const matmul_params *p = params;
    const ax_node *a = in[0], *b = in[1];
    const int64_t *da = a->value->shape, *db = b->value->shape;
    char sa[128], sb[128];
    if (a->value->ndim != 2 || b->value->ndim != 2)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': a '%s' %s and b '%s' %s must both be 2-D",
                       me, a->name, ax_node_shape_str(a, sa, sizeof sa), b->name,
                       ax_node_shape_str(b, sb, sizeof sb));
    AX_TRY(ax_infer_rows(fn, me, a, "a"));
    AX_TRY(ax_infer_rows(fn, me, b, "b"));
    int ta = p->trans_a == AX_TRANS, tb = p->trans_b == AX_TRANS;
    int64_t m = da[ta], k = da[!ta], kb = db[tb], n = db[!tb];
    if (k != kb)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "node '%s': a '%s'%s has shape %s, b '%s'%s has shape %s: inner dims "
                       "%lld and %lld differ",
                       me, a->name, ta ? "^T" : "", ax_node_shape_str(a, sa, sizeof sa), b->name,
                       tb ? "^T" : "", ax_node_shape_str(b, sb, sizeof sb), (long long)k,
                       (long long)kb);
    /* Where the batch (dim 0 of a batched node) lands: dim 0 of y (a, untransposed), or the
     * contracted dim (a^T b, both batched). Anything else would move it off dim 0. */
    int a_batch_m = a->batched && !ta, a_batch_k = a->batched && ta;
    int b_batch_k = b->batched && !tb, b_batch_n = b->batched && tb;
    if (b_batch_n || a_batch_k != b_batch_k)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "node '%s': a '%s'%s %s%s and b '%s'%s %s%s: the batch must be y's first "
                       "dim or contracted on both sides",
                       me, a->name, ta ? "^T" : "", ax_node_shape_str(a, sa, sizeof sa),
                       a->batched ? " (batched)" : "", b->name, tb ? "^T" : "",
                       ax_node_shape_str(b, sb, sizeof sb), b->batched ? " (batched)" : "");
    out->dtype = AX_F32;
    out->ndim = 2;
    out->shape[0] = m;
    out->shape[1] = n;
    out->batched = a_batch_m;
    return AX_OK;
}

static ax_status matmul_forward(ax_graph *g, ax_node *node) {
    const matmul_params *p = node->params;
    return ax_gemm(g->ctx, p->trans_a, p->trans_b, 1.0f, ax_in_value(node, 0),
                   ax_in_value(node, 1), 0.0f, node->value);
}

static ax_status matmul_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    const matmul_params *p = node->params;
    return ax_gemm_backward(g->ctx, p->trans_a, p->trans_b, 1.0f, ax_in_value(node, 0),
                            ax_in_value(node, 1), node->grad, dx[0], dx[1]);
}

const ax_op_desc ax_op_matmul = {
    .name = "matmul", .saves = AX_SAVES_IN(0) | AX_SAVES_IN(1),
    .params_size = sizeof(matmul_params), .n_out = 1, .infer = matmul_infer,
    .forward = matmul_forward, .backward = matmul_backward,
};

ax_status ax_graph_matmul(ax_graph *g, const char *name, ax_node *a, ax_transpose trans_a,
                          ax_node *b, ax_transpose trans_b, ax_node **out) {
    ax_node *in[] = {a, b};
    const char *what[] = {"a", "b"};
    matmul_params p = {trans_a == AX_TRANS ? AX_TRANS : AX_NO_TRANS,
                       trans_b == AX_TRANS ? AX_TRANS : AX_NO_TRANS};
    return ax_graph_op(__func__, g, name, &ax_op_matmul, 2, in, what, &p, out);
}

/* ---------------------------------------------------------------- dense */

/* in: x [..., in], weight [out, in], bias [out] -> y [..., out] with x's batch and time axes
 * (as nn.Linear on [*, in]: a sequence [T, N, in] gives [T, N, out]). */
static ax_status dense_infer(const char *fn, const char *me, ax_node *const *in,
                             const void *params, ax_out_shape *out) {
    (void)fn, (void)me, (void)params; /* the builder checked x and made w, b to fit */
    const ax_node *x = in[0];
    out->dtype = AX_F32;
    out->ndim = x->value->ndim;
    for (int i = 0; i < x->value->ndim; i++)
        out->shape[i] = x->max_shape[i];
    out->shape[out->ndim - 1] = in[1]->value->shape[0];
    out->batched = x->batched;
    out->batch_axis = x->batch_axis;
    out->time_axis = x->time_axis;
    return AX_OK;
}

static ax_status dense_forward(ax_graph *g, ax_node *node) {
    ax_tensor vx, vy;
    const ax_tensor *x = NULL, *y = NULL;
    AX_TRY(ax_graph_rows_open(ax_in_value(node, 0), &vx, &x));
    ax_status st = ax_graph_rows_open(node->value, &vy, &y);
    if (st == AX_OK) {
        st = ax_dense_forward(g->ctx, x, ax_in_value(node, 1), ax_in_value(node, 2),
                              (ax_tensor *)y);
        ax_graph_rows_close(y, &vy);
    }
    ax_graph_rows_close(x, &vx);
    return st;
}

static ax_status dense_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    ax_tensor vx, vdy, vdx;
    const ax_tensor *x = NULL, *dy = NULL, *gx = NULL;
    AX_TRY(ax_graph_rows_open(ax_in_value(node, 0), &vx, &x));
    ax_status st = ax_graph_rows_open(node->grad, &vdy, &dy);
    if (st == AX_OK) {
        st = ax_graph_rows_open(dx[0], &vdx, &gx);
        if (st == AX_OK) {
            st = ax_dense_backward(g->ctx, x, ax_in_value(node, 1), dy, (ax_tensor *)gx, dx[1],
                                   dx[2]);
            ax_graph_rows_close(gx, &vdx);
        }
        ax_graph_rows_close(dy, &vdy);
    }
    ax_graph_rows_close(x, &vx);
    return st;
}

const ax_op_desc ax_op_dense = {
    .name = "dense", .saves = AX_SAVES_IN(0) | AX_SAVES_IN(1),
    .n_out = 1, .infer = dense_infer, .forward = dense_forward,
    .backward = dense_backward,
};

ax_status ax_graph_dense(ax_graph *g, const char *name, ax_node *x, int64_t out_features,
                         ax_node **out) {
    const char *fn = __func__;
    char buf[AX_NODE_NAME_MAX], sx[128], pname[AX_NODE_NAME_MAX + 8];
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    AX_TRY(ax_graph_check(fn, g));
    const char *me = ax_graph_label(g, name, "dense", buf, sizeof buf);
    AX_TRY(ax_graph_check_node(fn, g, x, "x"));
    if (x->value->dtype != AX_F32)
        return ax_fail(AX_ERR_DTYPE, fn, "node '%s': x '%s' holds i32, needs f32", me, x->name);
    int last = x->value->ndim - 1;
    if (last < 1 || (x->batched && x->batch_axis == last) || x->time_axis == last)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "node '%s': x '%s' has shape %s, needs [N, in] or [..., in] (features "
                       "last, not its batch or time axis)",
                       me, x->name, ax_node_shape_str(x, sx, sizeof sx));
    if (out_features < 1)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': out_features is %lld, must be >= 1", me,
                       (long long)out_features);
    char node_name[AX_NODE_NAME_MAX]; /* fail before creating the parameters */
    AX_TRY(ax_graph_layer_name(fn, g, me, node_name));

    int64_t in_features = x->value->shape[last];
    float bound = 1.0f / sqrtf((float)in_features);
    int64_t wshape[2] = {out_features, in_features};
    ax_init winit = {.kind = AX_INIT_KAIMING_UNIFORM, .a = sqrtf(5.0f), .mode = AX_FAN_IN,
                     .nonlinearity = AX_GAIN_LEAKY_RELU};
    ax_init binit = {.kind = AX_INIT_UNIFORM, .low = -bound, .high = bound};
    ax_node *w = NULL, *b = NULL;
    const int n_nodes = g->n_nodes; /* on failure, remove the parameters made so far */
    snprintf(pname, sizeof pname, "%s.weight", node_name);
    ax_status st = ax_graph_param(g, pname, 2, wshape, &winit, &w);
    snprintf(pname, sizeof pname, "%s.bias", node_name);
    if (st == AX_OK)
        st = ax_graph_param(g, pname, 1, &out_features, &binit, &b);
    ax_node *in[] = {x, w, b};
    const char *what[] = {"x", "weight", "bias"};
    if (st == AX_OK)
        st = ax_graph_op(fn, g, node_name, &ax_op_dense, 3, in, what, NULL, out);
    return ax_graph_layer_end(fn, g, n_nodes, node_name, w && b, st);
}
