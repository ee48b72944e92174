/* Running a compiled graph: feeding inputs, the batch and sequence length, the mode, and the
 * forward pass. A batched node's dim batch_axis and a sequence node's dim time_axis follow
 * the run (at most their compiled size: the storage of the largest is reused). */
#include <string.h>

#include "graph_internal.h"

#include "../core/view.h"
#include "../ops/check.h"

static ax_status check_compiled(const char *fn, const ax_graph *g) {
    AX_TRY(ax_graph_check(fn, g));
    if (!g->compiled)
        return ax_fail(AX_ERR_STATE, fn, "the graph is not compiled (ax_graph_compile)");
    return AX_OK;
}

/* t's shape: like's max shape with its batch dim n and its time dim steps. */
static ax_status fit(const char *fn, const ax_node *like, int64_t n, int64_t steps,
                     ax_tensor *t) {
    int64_t shape[AX_MAX_DIMS];
    memcpy(shape, like->max_shape, sizeof shape);
    if (like->batched)
        shape[like->batch_axis] = n;
    if (like->time_axis >= 0)
        shape[like->time_axis] = steps;
    return ax_tensor_set_shape(fn, t, t->ndim, shape);
}

static int varies(const ax_node *node) { return node->batched || node->time_axis >= 0; }

ax_status ax_graph_set_dims(const char *fn, ax_graph *g, int64_t n, int64_t t, int with_inputs) {
    for (int i = 0; i < g->n_nodes; i++) {
        ax_node *node = g->nodes[i];
        if (!varies(node) || (node->op == &ax_op_input && !with_inputs))
            continue;
        AX_TRY(ax_graph_wrap(fit(fn, node, n, t, node->value), fn, node));
        if (node->grad)
            AX_TRY(ax_graph_wrap(fit(fn, node, n, t, node->grad), fn, node));
    }
    /* Scratch tensors are shaped like their edge's input. */
    for (int i = 0; i < g->n_nodes; i++) {
        ax_node *node = g->nodes[i];
        for (int k = 0; k < node->n_in; k++)
            if (node->scratch[k] && varies(node->in[k]))
                AX_TRY(ax_graph_wrap(fit(fn, node->in[k], n, t, node->scratch[k]), fn, node));
    }
    g->seq_len = t;
    return AX_OK;
}

/* The run's batch: the first input's rows (the max batch before any feed). */
static int64_t current_batch(const ax_graph *g);

ax_status ax_graph_set_batch(ax_graph *g, int64_t n) {
    AX_TRY(check_compiled(__func__, g));
    if (n < 1 || n > g->max_batch)
        return AX_FAIL(AX_ERR_SHAPE, "batch %lld is outside [1, %lld], the compiled max batch",
                       (long long)n, (long long)g->max_batch);
    return ax_graph_set_dims(__func__, g, n, g->seq_len, 1);
}

ax_status ax_graph_set_seq_len(ax_graph *g, int64_t t) {
    AX_TRY(check_compiled(__func__, g));
    if (!g->max_seq)
        return AX_FAIL(AX_ERR_STATE, "the graph has no sequence input");
    if (t < 1 || t > g->max_seq)
        return AX_FAIL(AX_ERR_SHAPE, "sequence length %lld is outside [1, %lld], the compiled "
                       "longest", (long long)t, (long long)g->max_seq);
    return ax_graph_set_dims(__func__, g, current_batch(g), t, 1);
}

int64_t ax_graph_seq_len(const ax_graph *g) {
    return ax_handle_live(g, AX_HANDLE_GRAPH) ? g->seq_len : 0;
}

/* The first input's rows, or 0 without inputs. */
static const ax_node *first_input(const ax_graph *g) {
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == &ax_op_input)
            return g->nodes[i];
    return NULL;
}

static int64_t current_batch(const ax_graph *g) {
    const ax_node *in = first_input(g);
    return in ? in->value->shape[in->batch_axis] : 0;
}

int64_t ax_graph_batch(const ax_graph *g) {
    return ax_handle_live(g, AX_HANDLE_GRAPH) ? current_batch(g) : 0;
}

static const char *dtype_name(ax_dtype dtype) { return dtype == AX_F32 ? "f32" : "i32"; }

/* input is an input node of the compiled g and takes dtype. */
static ax_status check_input(const char *fn, ax_graph *g, ax_node *input, ax_dtype dtype,
                             const char *what) {
    AX_TRY(check_compiled(fn, g));
    AX_TRY(ax_graph_check_node(fn, g, input, "input"));
    if (input->op != &ax_op_input)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "node '%s' is not an input", input->name);
    if (input->value->dtype != dtype)
        return ax_fail(AX_ERR_DTYPE, fn, "input '%s' takes %s, %s is %s", input->name,
                       dtype_name(input->value->dtype), what, dtype_name(dtype));
    return AX_OK;
}

ax_status ax_graph_feed(ax_graph *g, ax_node *input, const ax_tensor *src) {
    AX_TRY(ax_check_live(__func__, src, "src"));
    AX_TRY(check_input(__func__, g, input, src->dtype, "src"));
    ax_tensor *v = input->value;
    /* src is the max shape but for the batch and time dims, 1 to their max */
    int fits = src->ndim == v->ndim;
    for (int i = 0; fits && i < v->ndim; i++) {
        int free_dim = i == input->batch_axis || i == input->time_axis;
        fits = free_dim ? src->shape[i] >= 1 && src->shape[i] <= input->max_shape[i]
                        : src->shape[i] == input->max_shape[i];
    }
    if (!fits) {
        char ss[128], sv[128];
        ax_tensor shown = *v; /* the compiled shape */
        memcpy(shown.shape, input->max_shape, sizeof shown.shape);
        ax_shape_str(&shown, sv, sizeof sv);
        return AX_FAIL(AX_ERR_SHAPE,
                       "input '%s' has shape %s (the %s dim the max batch%s), src has shape %s",
                       input->name, sv, input->batch_axis ? "batch" : "first",
                       input->time_axis >= 0 ? ", the time dim the longest" : "",
                       ax_shape_str(src, ss, sizeof ss));
    }
    AX_TRY(ax_graph_wrap(ax_tensor_set_shape(__func__, v, v->ndim, src->shape), __func__,
                         input));
    if (input->time_axis >= 0)
        g->seq_len = src->shape[input->time_axis];
    return ax_graph_wrap(ax_tensor_copy(v, src), __func__, input);
}

/* rows rows of host data of dtype (element size esize) into input. */
static ax_status feed_host(const char *fn, ax_graph *g, ax_node *input, ax_dtype dtype,
                           const void *data, size_t esize, int64_t rows) {
    AX_TRY(check_input(fn, g, input, dtype, "the data"));
    if (!data)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "data is NULL");
    if (rows < 1 || rows > g->max_batch)
        return ax_fail(AX_ERR_SHAPE, fn, "%lld rows for input '%s': expected 1 to %lld (the max "
                       "batch)", (long long)rows, input->name, (long long)g->max_batch);
    ax_tensor *v = input->value;
    AX_TRY(ax_graph_wrap(fit(fn, input, rows, g->seq_len, v), fn, input));
    return ax_graph_wrap(ax_tensor_set_from_host(v, data, (size_t)v->numel * esize), fn, input);
}

ax_status ax_graph_feed_f32(ax_graph *g, ax_node *input, const float *data, int64_t rows) {
    return feed_host(__func__, g, input, AX_F32, data, sizeof *data, rows);
}

ax_status ax_graph_feed_i32(ax_graph *g, ax_node *input, const int32_t *data, int64_t rows) {
    return feed_host(__func__, g, input, AX_I32, data, sizeof *data, rows);
}

ax_status ax_graph_params(ax_graph *g, ax_param_list *out) {
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = (ax_param_list){0, NULL, NULL};
    AX_TRY(ax_graph_check(__func__, g));
    *out = (ax_param_list){g->n_params, g->param_values, g->param_grads};
    return AX_OK;
}

ax_status ax_graph_set_value_reuse(ax_graph *g, int reuse) {
    AX_TRY(ax_graph_check(__func__, g));
    if (g->compiled)
        return AX_FAIL(AX_ERR_STATE, "the graph is compiled; the memory plan is made by then");
    g->reuse_values = reuse != 0;
    return AX_OK;
}

ax_status ax_graph_set_training(ax_graph *g, int training) {
    AX_TRY(ax_graph_check(__func__, g));
    g->training = training != 0;
    return AX_OK;
}

ax_status ax_graph_forward(ax_graph *g) {
    AX_TRY(check_compiled(__func__, g));
    /* The batch is the inputs' rows and the sequence their steps, which must agree. */
    const ax_node *first = first_input(g), *first_seq = NULL;
    int64_t n = first ? first->value->shape[first->batch_axis] : 0, t = g->seq_len;
    for (int i = 0; i < g->n_nodes; i++) {
        const ax_node *node = g->nodes[i];
        if (node->op != &ax_op_input)
            continue;
        if (node->value->shape[node->batch_axis] != n)
            return AX_FAIL(AX_ERR_SHAPE, "input '%s' holds %lld rows, input '%s' holds %lld",
                           first->name, (long long)n, node->name,
                           (long long)node->value->shape[node->batch_axis]);
        if (node->time_axis < 0)
            continue;
        int64_t steps = node->value->shape[node->time_axis];
        if (first_seq && steps != t)
            return AX_FAIL(AX_ERR_SHAPE, "input '%s' holds %lld steps, input '%s' holds %lld",
                           first_seq->name, (long long)t, node->name, (long long)steps);
        first_seq = first_seq ? first_seq : node;
        t = steps;
    }
    if (n)
        AX_TRY(ax_graph_set_dims(__func__, g, n, t, 0));
    g->forward_done = 0;
    if (g->training)
        g->step++; /* fresh dropout masks */
    for (int i = 0; i < g->n_nodes; i++) {
        ax_node *node = g->nodes[i];
        if (node->op->forward)
            AX_TRY(ax_graph_wrap(node->op->forward(g, node), __func__, node));
    }
    g->forward_done = 1;
    g->forward_training = g->training;
    return AX_OK;
}

ax_status ax_graph_loss(ax_graph *g, float *out) {
    AX_TRY(check_compiled(__func__, g));
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    if (!g->loss)
        return AX_FAIL(AX_ERR_STATE, "the graph was compiled without a loss");
    if (!g->forward_done)
        return AX_FAIL(AX_ERR_STATE, "no forward ran since the graph was compiled");
    return ax_graph_wrap(ax_tensor_to_host(g->loss->value, out, sizeof *out), __func__, g->loss);
}
