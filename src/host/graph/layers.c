/* Node builders of the computing ops: argument checks and shape inference. Every error names
 * the node being built (its given name, or the one it would get) and the shapes involved. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph_internal.h"

#include "../ops/check.h"

/* The name the node will have: name, or "<op_name><id>" as ax_graph_add_node gives it. */
static const char *label(const ax_graph *g, const char *name, const char *op_name, char *buf,
                         size_t size) {
    if (name)
        return name;
    snprintf(buf, size, "%s%d", op_name, g->n_nodes);
    return buf;
}

static const char *shape_of(const ax_node *n, char *buf, size_t size) {
    return ax_shape_str(n->value, buf, size);
}

/* The common prologue: out is set to NULL, g is live, every input node belongs to g and
 * is f32 (labels are checked by the cross-entropy itself). */
static ax_status prologue(const char *fn, ax_graph *g, ax_node **out, int n, ax_node *const *in,
                          const char *const *what, const char *node_name) {
    if (!out)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "out is NULL");
    *out = NULL;
    AX_TRY(ax_graph_check(fn, g));
    for (int i = 0; i < n; i++) {
        AX_TRY(ax_graph_check_node(fn, g, in[i], what[i]));
        if (in[i]->value->dtype != AX_F32 && strcmp(what[i], "labels") != 0)
            return ax_fail(AX_ERR_DTYPE, fn, "node '%s': %s '%s' holds i32 labels, not f32",
                           node_name, what[i], in[i]->name);
    }
    return AX_OK;
}

/* Shape of a node's value as an array (at the max batch). */
static const int64_t *dims(const ax_node *n) { return n->value->shape; }
static int ndim_of(const ax_node *n) { return n->value->ndim; }

/* A one-input op whose output has x's shape. */
static ax_status unary(const char *fn, ax_graph *g, const char *name, const char *op_name,
                       ax_op op, ax_node *x, int min_ndim, ax_node **out, ax_node **node) {
    char buf[AX_NODE_NAME_MAX], sx[128];
    const char *what[] = {"x"};
    const char *me = g ? label(g, name, op_name, buf, sizeof buf) : "";
    AX_TRY(prologue(fn, g, out, 1, &x, what, me));
    if (ndim_of(x) < min_ndim)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': x '%s' has shape %s, needs %d dims or more",
                       me, x->name, shape_of(x, sx, sizeof sx), min_ndim);
    AX_TRY(ax_graph_add_node(fn, g, name, op_name, op, AX_F32, ndim_of(x), dims(x), x->batched,
                             1, &x, node));
    *out = *node;
    return AX_OK;
}

ax_status ax_graph_activation(ax_graph *g, const char *name, ax_activation act, float slope,
                              ax_node *x, ax_node **out) {
    if (act < AX_ACT_SIGMOID || act > AX_ACT_LEAKY_RELU)
        return AX_FAIL(AX_ERR_INVALID_ARG, "unknown activation %d", (int)act);
    static const char *names[] = {"linear", "sigmoid", "tanh", "relu", "leaky_relu"};
    ax_node *node = NULL;
    AX_TRY(unary(__func__, g, name, names[act], AX_OP_ACTIVATION, x, 0, out, &node));
    node->act = act;
    node->alpha = slope;
    return AX_OK;
}

ax_status ax_graph_softmax(ax_graph *g, const char *name, ax_node *x, ax_node **out) {
    ax_node *node = NULL;
    return unary(__func__, g, name, "softmax", AX_OP_SOFTMAX, x, 1, out, &node);
}

ax_status ax_graph_log_softmax(ax_graph *g, const char *name, ax_node *x, ax_node **out) {
    ax_node *node = NULL;
    return unary(__func__, g, name, "log_softmax", AX_OP_LOG_SOFTMAX, x, 1, out, &node);
}

ax_status ax_graph_scale(ax_graph *g, const char *name, float alpha, ax_node *x,
                         ax_node **out) {
    ax_node *node = NULL;
    AX_TRY(unary(__func__, g, name, "scale", AX_OP_SCALE, x, 0, out, &node));
    node->alpha = alpha;
    return AX_OK;
}

ax_status ax_graph_dropout(ax_graph *g, const char *name, ax_node *x, float p, ax_node **out) {
    if (!(p >= 0.0f && p < 1.0f))
        return AX_FAIL(AX_ERR_INVALID_ARG, "node '%s': p = %g is outside [0, 1)",
                       name ? name : "dropout", (double)p);
    ax_node *node = NULL;
    AX_TRY(unary(__func__, g, name, "dropout", AX_OP_DROPOUT, x, 0, out, &node));
    node->alpha = p;
    return AX_OK;
}

/* a and b of the same shape and batching. */
static ax_status check_same(const char *fn, const char *me, const ax_node *a, const char *an,
                            const ax_node *b, const char *bn) {
    int same = ndim_of(a) == ndim_of(b) && a->batched == b->batched;
    for (int i = 0; same && i < ndim_of(a); i++)
        same = dims(a)[i] == dims(b)[i];
    if (same)
        return AX_OK;
    char sa[128], sb[128];
    return ax_fail(AX_ERR_SHAPE, fn, "node '%s': %s '%s' has shape %s%s, %s '%s' has shape %s%s",
                   me, an, a->name, shape_of(a, sa, sizeof sa), a->batched ? " (batched)" : "",
                   bn, b->name, shape_of(b, sb, sizeof sb), b->batched ? " (batched)" : "");
}

static ax_status binary(const char *fn, ax_graph *g, const char *name, const char *op_name,
                        ax_op op, ax_node *a, ax_node *b, ax_node **out) {
    char buf[AX_NODE_NAME_MAX];
    ax_node *in[] = {a, b};
    const char *what[] = {"a", "b"};
    const char *me = g ? label(g, name, op_name, buf, sizeof buf) : "";
    AX_TRY(prologue(fn, g, out, 2, in, what, me));
    AX_TRY(check_same(fn, me, a, "a", b, "b"));
    return ax_graph_add_node(fn, g, name, op_name, op, AX_F32, ndim_of(a), dims(a), a->batched,
                             2, in, out);
}

ax_status ax_graph_add(ax_graph *g, const char *name, ax_node *a, ax_node *b, ax_node **out) {
    return binary(__func__, g, name, "add", AX_OP_ADD, a, b, out);
}

ax_status ax_graph_mul(ax_graph *g, const char *name, ax_node *a, ax_node *b, ax_node **out) {
    return binary(__func__, g, name, "mul", AX_OP_MUL, a, b, out);
}

static ax_status reduce(const char *fn, ax_graph *g, const char *name, const char *op_name,
                        ax_op op, ax_node *x, int axis, ax_node **out) {
    char buf[AX_NODE_NAME_MAX], sx[128];
    const char *what[] = {"x"};
    const char *me = g ? label(g, name, op_name, buf, sizeof buf) : "";
    AX_TRY(prologue(fn, g, out, 1, &x, what, me));
    int nd = ndim_of(x);
    int a = axis < 0 ? axis + nd : axis;
    if (a < 0 || a >= nd)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': axis %d is outside x '%s' of shape %s", me,
                       axis, x->name, shape_of(x, sx, sizeof sx));
    int64_t shape[AX_MAX_DIMS]; /* x's shape without axis a */
    for (int i = 0, j = 0; i < nd; i++)
        if (i != a)
            shape[j++] = dims(x)[i];
    ax_node *node = NULL;
    AX_TRY(ax_graph_add_node(fn, g, name, op_name, op, AX_F32, nd - 1, shape,
                             x->batched && a != 0, 1, &x, &node));
    node->axis = a;
    *out = node;
    return AX_OK;
}

ax_status ax_graph_sum(ax_graph *g, const char *name, ax_node *x, int axis, ax_node **out) {
    return reduce(__func__, g, name, "sum", AX_OP_SUM, x, axis, out);
}

ax_status ax_graph_mean(ax_graph *g, const char *name, ax_node *x, int axis, ax_node **out) {
    return reduce(__func__, g, name, "mean", AX_OP_MEAN, x, axis, out);
}

ax_status ax_graph_matmul(ax_graph *g, const char *name, ax_node *a, ax_transpose trans_a,
                          ax_node *b, ax_transpose trans_b, ax_node **out) {
    const char *fn = __func__;
    char buf[AX_NODE_NAME_MAX], sa[128], sb[128];
    ax_node *in[] = {a, b};
    const char *what[] = {"a", "b"};
    const char *me = g ? label(g, name, "matmul", buf, sizeof buf) : "";
    AX_TRY(prologue(fn, g, out, 2, in, what, me));
    if (ndim_of(a) != 2 || ndim_of(b) != 2)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': a '%s' %s and b '%s' %s must both be 2-D",
                       me, a->name, shape_of(a, sa, sizeof sa), b->name,
                       shape_of(b, sb, sizeof sb));
    int ta = trans_a == AX_TRANS, tb = trans_b == AX_TRANS;
    int64_t m = dims(a)[ta], k = dims(a)[!ta], kb = dims(b)[tb], n = dims(b)[!tb];
    if (k != kb)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "node '%s': a '%s'%s has shape %s, b '%s'%s has shape %s: inner dims "
                       "%lld and %lld differ",
                       me, a->name, ta ? "^T" : "", shape_of(a, sa, sizeof sa), b->name,
                       tb ? "^T" : "", shape_of(b, sb, sizeof sb), (long long)k, (long long)kb);
    /* Where the batch (dim 0 of a batched node) lands: dim 0 of y (a, untransposed), or the
     * contracted dim (a^T b, both batched). Anything else would move it off dim 0. */
    int a_batch_m = a->batched && !ta, a_batch_k = a->batched && ta;
    int b_batch_k = b->batched && !tb, b_batch_n = b->batched && tb;
    if (b_batch_n || a_batch_k != b_batch_k)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "node '%s': a '%s'%s %s%s and b '%s'%s %s%s: the batch must be y's first "
                       "dim or contracted on both sides",
                       me, a->name, ta ? "^T" : "", shape_of(a, sa, sizeof sa),
                       a->batched ? " (batched)" : "", b->name, tb ? "^T" : "",
                       shape_of(b, sb, sizeof sb), b->batched ? " (batched)" : "");
    int64_t shape[2] = {m, n};
    ax_node *node = NULL;
    AX_TRY(ax_graph_add_node(fn, g, name, "matmul", AX_OP_MATMUL, AX_F32, 2, shape, a_batch_m, 2,
                             in, &node));
    node->trans_a = ta ? AX_TRANS : AX_NO_TRANS;
    node->trans_b = tb ? AX_TRANS : AX_NO_TRANS;
    *out = node;
    return AX_OK;
}

ax_status ax_graph_dense(ax_graph *g, const char *name, ax_node *x, int64_t out_features,
                         ax_node **out) {
    const char *fn = __func__;
    char buf[AX_NODE_NAME_MAX], sx[128], pname[AX_NODE_NAME_MAX + 8];
    const char *what[] = {"x"};
    const char *me = g ? label(g, name, "dense", buf, sizeof buf) : "";
    AX_TRY(prologue(fn, g, out, 1, &x, what, me));
    if (ndim_of(x) != 2)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': x '%s' has shape %s, needs [N, in]", me,
                       x->name, shape_of(x, sx, sizeof sx));
    if (out_features < 1)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': out_features is %lld, must be >= 1", me,
                       (long long)out_features);
    if (g->compiled)
        return ax_fail(AX_ERR_STATE, fn, "the graph is compiled; nodes are added before");
    for (int i = 0; i < g->n_nodes; i++) /* fail before creating the parameters */
        if (strcmp(g->nodes[i]->name, me) == 0)
            return ax_fail(AX_ERR_INVALID_ARG, fn, "a node is already named '%s'", me);
    char node_name[AX_NODE_NAME_MAX];
    snprintf(node_name, sizeof node_name, "%s", me);

    int64_t in_features = dims(x)[1];
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
    int64_t shape[2] = {dims(x)[0], out_features};
    if (st == AX_OK)
        st = ax_graph_add_node(fn, g, node_name, "dense", AX_OP_DENSE, AX_F32, 2, shape,
                               x->batched, 3, in, out);
    if (st != AX_OK)
        ax_graph_truncate(g, n_nodes);
    if (w && b) /* the dense node itself failed, its message names fn */
        return st;
    snprintf(pname, sizeof pname, "node '%s'", node_name);
    return ax_graph_rewrap(st, fn, pname);
}

/* ---------------------------------------------------------------- losses, penalties */

/* pred and target of the same shape; target carries no gradient. */
static ax_status pair_loss(const char *fn, ax_graph *g, const char *name, const char *op_name,
                           ax_op op, ax_node *pred, const char *pred_what, ax_node *target,
                           ax_node **out) {
    char buf[AX_NODE_NAME_MAX];
    ax_node *in[] = {pred, target};
    const char *what[] = {pred_what, "target"};
    const char *me = g ? label(g, name, op_name, buf, sizeof buf) : "";
    AX_TRY(prologue(fn, g, out, 2, in, what, me));
    AX_TRY(check_same(fn, me, pred, pred_what, target, "target"));
    if (target->trainable)
        return ax_fail(AX_ERR_INVALID_ARG, fn,
                       "node '%s': target '%s' depends on parameters; targets carry no gradient",
                       me, target->name);
    return ax_graph_add_node(fn, g, name, op_name, op, AX_F32, 0, NULL, 0, 2, in, out);
}

ax_status ax_graph_mse_loss(ax_graph *g, const char *name, ax_node *pred, ax_node *target,
                            ax_node **out) {
    return pair_loss(__func__, g, name, "mse", AX_OP_MSE, pred, "pred", target, out);
}

ax_status ax_graph_bce_with_logits(ax_graph *g, const char *name, ax_node *logits,
                                   ax_node *targets, ax_node **out) {
    return pair_loss(__func__, g, name, "bce", AX_OP_BCE, logits, "logits", targets, out);
}

ax_status ax_graph_cross_entropy(ax_graph *g, const char *name, ax_node *logits,
                                 ax_node *labels, ax_node **out) {
    const char *fn = __func__;
    char buf[AX_NODE_NAME_MAX], sa[128], sb[128];
    ax_node *in[] = {logits, labels};
    const char *what[] = {"logits", "labels"};
    const char *me = g ? label(g, name, "cross_entropy", buf, sizeof buf) : "";
    AX_TRY(prologue(fn, g, out, 2, in, what, me));
    if (labels->value->dtype != AX_I32)
        return ax_fail(AX_ERR_DTYPE, fn, "node '%s': labels '%s' is f32; use ax_graph_labels",
                       me, labels->name);
    if (ndim_of(logits) != 2 || ndim_of(labels) != 1 || dims(labels)[0] != dims(logits)[0] ||
        logits->batched != labels->batched)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "node '%s': logits '%s' has shape %s, labels '%s' has shape %s; needs "
                       "[N, C] and [N]",
                       me, logits->name, shape_of(logits, sa, sizeof sa), labels->name,
                       shape_of(labels, sb, sizeof sb));
    return ax_graph_add_node(fn, g, name, "cross_entropy", AX_OP_CROSS_ENTROPY, AX_F32, 0, NULL,
                             0, 2, in, out);
}

static ax_status penalty(const char *fn, ax_graph *g, const char *name, const char *op_name,
                         ax_op op, ax_node *param, float lambda, ax_node **out) {
    char buf[AX_NODE_NAME_MAX];
    const char *what[] = {"param"};
    const char *me = g ? label(g, name, op_name, buf, sizeof buf) : "";
    AX_TRY(prologue(fn, g, out, 1, &param, what, me));
    if (param->op != AX_OP_PARAM)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "node '%s': '%s' is not a parameter", me,
                       param->name);
    if (!isfinite(lambda))
        return ax_fail(AX_ERR_INVALID_ARG, fn, "node '%s': lambda is not finite", me);
    ax_node *node = NULL;
    AX_TRY(ax_graph_add_node(fn, g, name, op_name, op, AX_F32, 0, NULL, 0, 1, &param, &node));
    node->alpha = lambda;
    *out = node;
    return AX_OK;
}

ax_status ax_graph_l1_penalty(ax_graph *g, const char *name, ax_node *param, float lambda,
                              ax_node **out) {
    return penalty(__func__, g, name, "l1", AX_OP_L1, param, lambda, out);
}

ax_status ax_graph_l2_penalty(ax_graph *g, const char *name, ax_node *param, float lambda,
                              ax_node **out) {
    return penalty(__func__, g, name, "l2", AX_OP_L2, param, lambda, out);
}
