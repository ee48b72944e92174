/* Running a compiled graph: feeding inputs, the batch, the mode, and the forward pass. */
#include "graph_internal.h"

#include "../ops/check.h"

static ax_status check_compiled(const char *fn, const ax_graph *g) {
    AX_TRY(ax_graph_check(fn, g));
    if (!g->compiled)
        return ax_fail(AX_ERR_STATE, fn, "the graph is not compiled (ax_graph_compile)");
    return AX_OK;
}

/* Give every batched tensor of the graph n rows (inputs included when with_inputs). */
static ax_status set_rows(const char *fn, ax_graph *g, int64_t n, int with_inputs) {
    for (int i = 0; i < g->n_nodes; i++) {
        ax_node *node = g->nodes[i];
        if (!node->batched || (node->op == &ax_op_input && !with_inputs))
            continue;
        AX_TRY(ax_graph_wrap(ax_tensor_set_rows(fn, node->value, n), fn, node));
        if (node->grad)
            AX_TRY(ax_graph_wrap(ax_tensor_set_rows(fn, node->grad, n), fn, node));
    }
    /* Scratch tensors are shaped like their edge's input. */
    for (int i = 0; i < g->n_nodes; i++) {
        ax_node *node = g->nodes[i];
        for (int k = 0; k < node->n_in; k++)
            if (node->scratch[k] && node->in[k]->batched)
                AX_TRY(ax_graph_wrap(ax_tensor_set_rows(fn, node->scratch[k], n), fn, node));
    }
    return AX_OK;
}

ax_status ax_graph_set_batch(ax_graph *g, int64_t n) {
    AX_TRY(check_compiled(__func__, g));
    if (n < 1 || n > g->max_batch)
        return AX_FAIL(AX_ERR_SHAPE, "batch %lld is outside [1, %lld], the compiled max batch",
                       (long long)n, (long long)g->max_batch);
    return set_rows(__func__, g, n, 1);
}

/* The first input's rows, or 0 without inputs. */
static const ax_node *first_input(const ax_graph *g) {
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == &ax_op_input)
            return g->nodes[i];
    return NULL;
}

int64_t ax_graph_batch(const ax_graph *g) {
    if (!ax_handle_live(g, AX_HANDLE_GRAPH))
        return 0;
    const ax_node *in = first_input(g);
    return in ? in->value->shape[0] : 0;
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
    int fits = src->ndim == v->ndim && src->shape[0] >= 1 && src->shape[0] <= g->max_batch;
    for (int i = 1; fits && i < v->ndim; i++)
        fits = src->shape[i] == v->shape[i];
    if (!fits) {
        char ss[128], sv[128];
        int64_t rows = v->shape[0];
        v->shape[0] = g->max_batch; /* show the compiled shape */
        ax_shape_str(v, sv, sizeof sv);
        v->shape[0] = rows;
        return AX_FAIL(AX_ERR_SHAPE,
                       "input '%s' has shape %s (the first dim the max batch), src has shape %s",
                       input->name, sv, ax_shape_str(src, ss, sizeof ss));
    }
    AX_TRY(ax_graph_wrap(ax_tensor_set_rows(__func__, v, src->shape[0]), __func__, input));
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
    AX_TRY(ax_graph_wrap(ax_tensor_set_rows(fn, v, rows), fn, input));
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
    /* The batch is the inputs' rows, which must agree. */
    const ax_node *first = first_input(g);
    int64_t n = first ? first->value->shape[0] : 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ax_node *node = g->nodes[i];
        if (node->op == &ax_op_input && node->value->shape[0] != n)
            return AX_FAIL(AX_ERR_SHAPE, "input '%s' holds %lld rows, input '%s' holds %lld",
                           first->name, (long long)n, node->name,
                           (long long)node->value->shape[0]);
    }
    if (n)
        AX_TRY(set_rows(__func__, g, n, 0));
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
