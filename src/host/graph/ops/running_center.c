/* running_center: y = x - mean(x over the batch) while training, tracking the mean in the
 * buffers running_mean and num_batches_tracked; y = x - running_mean in eval (graph.h). The
 * graph's first op with buffers: BatchNorm's running mean without the variance.
 *
 * The row broadcast is a dense product with an identity weight, y = x I^T + b with
 * b = -mean, which is exact (each y[n, f] is x[n, f] * 1 plus zeros, plus b[f]). */
#include <math.h>
#include <stdlib.h>

#include "../graph_internal.h"

#include "../../core/alloc.h"
#include "../../ops/check.h"

typedef struct running_center_params {
    float momentum;
} running_center_params;

/* node->state: the batch mean [F] (from forward to backward), the identity [F, F], -mean [F]. */
enum { MEAN, IDENTITY, NEG };

static ax_status running_center_infer(const char *fn, const char *me, ax_node *const *in,
                                      const void *params, ax_out_shape *out) {
    const running_center_params *p = params;
    AX_TRY(ax_infer_rows(fn, me, in[0], "x"));
    if (in[0]->value->ndim != 2 || !in[0]->batched) {
        char sx[128];
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': x '%s' has shape %s%s, needs a batched "
                       "[N, F]", me, in[0]->name, ax_node_shape_str(in[0], sx, sizeof sx),
                       in[0]->batched ? "" : " (not batched)");
    }
    if (!(p->momentum >= 0.0f && p->momentum <= 1.0f))
        return ax_fail(AX_ERR_INVALID_ARG, fn, "node '%s': momentum %g is outside [0, 1]", me,
                       (double)p->momentum);
    ax_infer_like(in[0], out);
    return AX_OK;
}

/* y = x - m, for m in state[NEG] as -m. */
static ax_status subtract_rows(ax_graph *g, ax_node *node, const ax_tensor *x, ax_tensor *y) {
    return ax_dense_forward(g->ctx, x, node->state[IDENTITY], node->state[NEG], y);
}

static ax_status running_center_forward(ax_graph *g, ax_node *node) {
    const running_center_params *p = node->params;
    ax_buffer *b = &g->buffers[node->buffer0]; /* running_mean, num_batches_tracked */
    const ax_tensor *x = ax_in_value(node, 0);
    ax_tensor *running = b[0].value, *mean = node->state[MEAN], *neg = node->state[NEG];
    if (!g->training) {
        AX_TRY(ax_scale(g->ctx, -1.0f, running, neg));
        return subtract_rows(g, node, x, node->value);
    }
    AX_TRY(ax_mean(g->ctx, x, 0, mean));
    /* running = (1 - m) running + m mean, with neg as the temporary */
    AX_TRY(ax_scale(g->ctx, -p->momentum, running, neg));
    AX_TRY(ax_axpy(g->ctx, 1.0f, neg, running));
    AX_TRY(ax_axpy(g->ctx, p->momentum, mean, running));
    b[1].count++;
    AX_TRY(ax_scale(g->ctx, -1.0f, mean, neg));
    return subtract_rows(g, node, x, node->value);
}

/* Training: dx = dy - mean(dy over the batch) (the batch mean depends on x); eval: dx = dy. */
static ax_status running_center_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    if (!g->forward_training)
        return ax_tensor_copy(dx[0], node->grad);
    AX_TRY(ax_mean(g->ctx, node->grad, 0, node->state[MEAN]));
    AX_TRY(ax_scale(g->ctx, -1.0f, node->state[MEAN], node->state[NEG]));
    return subtract_rows(g, node, node->grad, dx[0]);
}

const ax_op_desc ax_op_running_center = {
    .name = "running_center", .params_size = sizeof(running_center_params), .n_out = 1,
    .infer = running_center_infer, .forward = running_center_forward,
    .backward = running_center_backward,
};

/* The node's state tensors and buffers. */
static ax_status make_state(const char *fn, ax_graph *g, ax_node *node) {
    int64_t f = node->value->shape[1], square[2] = {f, f};
    AX_TRY(ax_graph_wrap(ax_tensor_zeros(g->ctx, AX_F32, 1, &f, &node->state[MEAN]), fn, node));
    AX_TRY(ax_graph_wrap(ax_tensor_zeros(g->ctx, AX_F32, 1, &f, &node->state[NEG]), fn, node));
    float *eye = ax_calloc((size_t)(f * f), sizeof *eye);
    if (!eye)
        return ax_fail(AX_ERR_OOM, fn, "out of host memory");
    for (int64_t i = 0; i < f; i++)
        eye[i * f + i] = 1.0f;
    ax_status st = ax_tensor_from_host(g->ctx, AX_F32, 2, square, eye, &node->state[IDENTITY]);
    free(eye);
    AX_TRY(ax_graph_wrap(st, fn, node));
    AX_TRY(ax_graph_buffer_add(fn, g, node, "running_mean", 1, &f));
    return ax_graph_buffer_add(fn, g, node, "num_batches_tracked", -1, NULL);
}

ax_status ax_graph_running_center(ax_graph *g, const char *name, ax_node *x, float momentum,
                                  ax_node **out) {
    const char *what[] = {"x"};
    running_center_params p = {momentum};
    ax_node *node = NULL;
    AX_TRY(ax_graph_op(__func__, g, name, &ax_op_running_center, 1, &x, what, &p, &node));
    ax_status st = make_state(__func__, g, node);
    if (st != AX_OK) {
        ax_graph_truncate(g, node->id); /* the node, its state and its buffers */
        return st;
    }
    *out = node;
    return AX_OK;
}
