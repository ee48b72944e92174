/* Sources: inputs (fed data of a declared dtype and shape), parameters (trained tensors) and
 * the output slots of multi-output ops. None computes anything. */
#include <string.h>

#include "../graph_internal.h"

#include "../../core/alloc.h"
#include "../../ops/check.h"

/* params of an input or a parameter: its declared tensor. */
typedef struct source_params {
    ax_dtype dtype;
    int ndim;
    int64_t shape[AX_MAX_DIMS];
    int batched;
    int batch_axis, time_axis;
} source_params;

static ax_status source_infer(const char *fn, const char *me, ax_node *const *in,
                              const void *params, ax_out_shape *out) {
    (void)fn, (void)me, (void)in;
    const source_params *p = params;
    out->dtype = p->dtype;
    out->ndim = p->ndim;
    memcpy(out->shape, p->shape, sizeof out->shape);
    out->batched = p->batched;
    out->batch_axis = p->batch_axis;
    out->time_axis = p->time_axis;
    return AX_OK;
}

const ax_op_desc ax_op_input = {
    .name = "input", .params_size = sizeof(source_params), .n_out = 1,
    .flags = AX_OPF_SOURCE, .infer = source_infer,
};

const ax_op_desc ax_op_param = {
    .name = "param", .params_size = sizeof(source_params), .n_out = 1,
    .flags = AX_OPF_SOURCE, .infer = source_infer,
};

/* The shape of an output slot is given by its producer's inference (ax_graph_op). */
static ax_status slot_infer(const char *fn, const char *me, ax_node *const *in,
                            const void *params, ax_out_shape *out) {
    (void)me, (void)in, (void)params, (void)out;
    return ax_fail(AX_ERR_INVALID_ARG, fn, "output slots are made by their producer only");
}

const ax_op_desc ax_op_output_slot = {
    .name = "slot", .params_size = sizeof(ax_slot_params), .n_out = 1,
    .flags = AX_OPF_OUTPUT_SLOT, .infer = slot_infer,
};

/* A batched input of dtype and shape (shape[batch_axis] the max batch, shape[time_axis] the
 * longest sequence when time_axis >= 0). */
static ax_status add_input(const char *fn, ax_graph *g, const char *name, ax_dtype dtype,
                           int ndim, const int64_t *shape, int batch_axis, int time_axis,
                           ax_node **out) {
    if (!out)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "out is NULL");
    *out = NULL;
    AX_TRY(ax_graph_check(fn, g));
    if (dtype != AX_F32 && dtype != AX_I32)
        return ax_fail(AX_ERR_DTYPE, fn, "input '%s': dtype %d is neither f32 nor i32",
                       name ? name : "", (int)dtype);
    if (ndim < 1 || ndim > AX_MAX_DIMS || !shape)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "input '%s' needs a shape of 1 to %d dims, the first the batch",
                       name ? name : "", AX_MAX_DIMS);
    if (batch_axis < 0 || batch_axis >= ndim || time_axis < -1 || time_axis >= ndim ||
        time_axis == batch_axis)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "input '%s': batch axis %d and time axis %d of "
                       "%d dims (the time axis is -1 or another dim)", name ? name : "",
                       batch_axis, time_axis, ndim);
    if (g->max_batch && shape[batch_axis] != g->max_batch)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "input '%s' has a max batch of %lld, the graph's other inputs %lld",
                       name ? name : "", (long long)shape[batch_axis], (long long)g->max_batch);
    if (time_axis >= 0 && g->max_seq && shape[time_axis] != g->max_seq)
        return ax_fail(AX_ERR_SHAPE, fn, "input '%s' has a longest sequence of %lld, the "
                       "graph's other sequences %lld", name ? name : "",
                       (long long)shape[time_axis], (long long)g->max_seq);
    source_params p = {.dtype = dtype, .ndim = ndim, .batched = 1, .batch_axis = batch_axis,
                       .time_axis = time_axis};
    memcpy(p.shape, shape, (size_t)ndim * sizeof *shape);
    AX_TRY(ax_graph_op(fn, g, name, &ax_op_input, 0, NULL, NULL, &p, out));
    g->max_batch = shape[batch_axis];
    if (time_axis >= 0)
        g->max_seq = g->seq_len = shape[time_axis];
    return AX_OK;
}

ax_status ax_graph_input_typed(ax_graph *g, const char *name, ax_dtype dtype, int ndim,
                               const int64_t *shape, int batch_axis, int time_axis,
                               ax_node **out) {
    return add_input(__func__, g, name, dtype, ndim, shape, batch_axis, time_axis, out);
}

ax_status ax_graph_input(ax_graph *g, const char *name, int ndim, const int64_t *shape,
                         ax_node **out) {
    return add_input(__func__, g, name, AX_F32, ndim, shape, 0, -1, out);
}

ax_status ax_graph_labels(ax_graph *g, const char *name, int64_t max_batch, ax_node **out) {
    return add_input(__func__, g, name, AX_I32, 1, &max_batch, 0, -1, out);
}

ax_status ax_graph_param(ax_graph *g, const char *name, int ndim, const int64_t *shape,
                         const ax_init *init, ax_node **out) {
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    AX_TRY(ax_graph_check(__func__, g));
    if (!name)
        return AX_FAIL(AX_ERR_INVALID_ARG, "a parameter needs a name (its checkpoint key)");
    if (!init)
        return AX_FAIL(AX_ERR_INVALID_ARG, "parameter '%s': init is NULL", name);
    if (ndim < 0 || ndim > AX_MAX_DIMS || (ndim && !shape))
        return AX_FAIL(AX_ERR_SHAPE, "parameter '%s' needs a shape of 0 to %d dims", name,
                       AX_MAX_DIMS);
    if (!ax_graph_reserve_params(g))
        return AX_FAIL(AX_ERR_OOM, "out of host memory");
    source_params p = {.dtype = AX_F32, .ndim = ndim, .time_axis = -1};
    if (ndim)
        memcpy(p.shape, shape, (size_t)ndim * sizeof *shape);
    ax_node *node = NULL;
    AX_TRY(ax_graph_op(__func__, g, name, &ax_op_param, 0, NULL, NULL, &p, &node));
    /* Remove the node again on failure: it is the last one. */
    ax_status st = ax_tensor_zeros(g->ctx, AX_F32, ndim, shape, &node->grad);
    if (st == AX_OK)
        st = ax_init_tensor(g->ctx, node->value, init, g->seed, (uint64_t)g->n_params);
    if (st != AX_OK) {
        st = ax_graph_wrap(st, __func__, node);
        ax_graph_truncate(g, node->id);
        return st;
    }
    node->trainable = 1;
    node->param_index = g->n_params;
    g->params[g->n_params] = node;
    g->param_values[g->n_params] = node->value;
    g->param_grads[g->n_params] = node->grad;
    g->n_params++;
    *out = node;
    return AX_OK;
}
