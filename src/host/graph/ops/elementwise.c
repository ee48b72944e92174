/* Elementwise graph ops: add, mul (a and b of one shape), scale (alpha x). */
#include "../graph_internal.h"

#include "../../ops/check.h"

static ax_status same_infer(const char *fn, const char *me, ax_node *const *in,
                            const void *params, ax_out_shape *out) {
    (void)params;
    AX_TRY(ax_infer_same(fn, me, in[0], "a", in[1], "b"));
    ax_infer_like(in[0], out);
    return AX_OK;
}

static ax_status binary(const char *fn, ax_graph *g, const char *name, const ax_op_desc *op,
                        ax_node *a, ax_node *b, ax_node **out) {
    ax_node *in[] = {a, b};
    const char *what[] = {"a", "b"};
    return ax_graph_op(fn, g, name, op, 2, in, what, NULL, out);
}

/* y = a + b: dy flows to both unchanged. */
static ax_status add_forward(ax_graph *g, ax_node *node) {
    return ax_add(g->ctx, ax_in_value(node, 0), ax_in_value(node, 1), node->value);
}

static ax_status add_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    (void)g;
    for (int k = 0; k < 2; k++)
        if (dx[k])
            AX_TRY(ax_tensor_copy(dx[k], node->grad));
    return AX_OK;
}

const ax_op_desc ax_op_add = {
    .name = "add", .n_out = 1, .infer = same_infer, .forward = add_forward,
    .backward = add_backward,
};

ax_status ax_graph_add(ax_graph *g, const char *name, ax_node *a, ax_node *b, ax_node **out) {
    return binary(__func__, g, name, &ax_op_add, a, b, out);
}

/* y = a * b. */
static ax_status mul_forward(ax_graph *g, ax_node *node) {
    return ax_mul(g->ctx, ax_in_value(node, 0), ax_in_value(node, 1), node->value);
}

static ax_status mul_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    return ax_mul_backward(g->ctx, ax_in_value(node, 0), ax_in_value(node, 1), node->grad, dx[0],
                           dx[1]);
}

const ax_op_desc ax_op_mul = {
    .name = "mul", .saves = AX_SAVES_IN(0) | AX_SAVES_IN(1),
    .n_out = 1, .infer = same_infer, .forward = mul_forward,
    .backward = mul_backward,
};

ax_status ax_graph_mul(ax_graph *g, const char *name, ax_node *a, ax_node *b, ax_node **out) {
    return binary(__func__, g, name, &ax_op_mul, a, b, out);
}

/* y = alpha x. */
typedef struct scale_params {
    float alpha;
} scale_params;

static ax_status like_infer(const char *fn, const char *me, ax_node *const *in,
                            const void *params, ax_out_shape *out) {
    (void)fn, (void)me, (void)params;
    ax_infer_like(in[0], out);
    return AX_OK;
}

static ax_status scale_forward(ax_graph *g, ax_node *node) {
    const scale_params *p = node->params;
    return ax_scale(g->ctx, p->alpha, ax_in_value(node, 0), node->value);
}

static ax_status scale_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    const scale_params *p = node->params;
    return ax_scale(g->ctx, p->alpha, node->grad, dx[0]);
}

const ax_op_desc ax_op_scale = {
    .name = "scale", .params_size = sizeof(scale_params), .n_out = 1, .infer = like_infer,
    .forward = scale_forward, .backward = scale_backward,
};

ax_status ax_graph_scale(ax_graph *g, const char *name, float alpha, ax_node *x,
                         ax_node **out) {
    const char *what[] = {"x"};
    scale_params p = {alpha};
    return ax_graph_op(__func__, g, name, &ax_op_scale, 1, &x, what, &p, out);
}
