/* Graphs: creation and destruction, the node list, inputs and parameters, and lookups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"

#include "../core/alloc.h"
#include "../ops/check.h"

ax_status ax_graph_check(const char *fn, const ax_graph *g) {
    AX_TRY(ax_handle_check(fn, g, AX_HANDLE_GRAPH, "g"));
    return ax_check_ctx(fn, g->ctx);
}

ax_status ax_graph_check_node(const char *fn, const ax_graph *g, const ax_node *node,
                              const char *what) {
    AX_TRY(ax_handle_check(fn, node, AX_HANDLE_NODE, what));
    if (node->graph != g)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "%s (node '%s') belongs to another graph", what,
                       node->name);
    return AX_OK;
}

ax_status ax_graph_wrap(ax_status st, const char *fn, const ax_node *node) {
    char what[AX_NODE_NAME_MAX + 16];
    snprintf(what, sizeof what, "node '%s'", node->name);
    return ax_graph_rewrap(st, fn, what);
}

ax_status ax_graph_rewrap(ax_status st, const char *fn, const char *what) {
    if (st == AX_OK)
        return st;
    char inner[1024];
    snprintf(inner, sizeof inner, "%s", ax_last_error());
    return ax_fail(st, fn, "%s: %s", what, inner);
}

ax_status ax_graph_create(ax_ctx *ctx, uint64_t seed, ax_graph **out) {
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    AX_TRY(ax_check_ctx(__func__, ctx));
    ax_graph *g = ax_calloc(1, sizeof *g);
    if (!g)
        return AX_FAIL(AX_ERR_OOM, "out of host memory");
    ax_status st = ax_handle_add(__func__, g, AX_HANDLE_GRAPH);
    if (st != AX_OK) {
        free(g);
        return st;
    }
    ax_ctx_retain(ctx);
    g->ctx = ctx;
    g->seed = seed;
    g->training = 1;
    *out = g;
    return AX_OK;
}

static void node_free(ax_node *node) {
    ax_handle_remove(node, AX_HANDLE_NODE);
    ax_tensor_destroy(node->value);
    ax_tensor_destroy(node->grad);
    for (int i = 0; i < AX_NODE_MAX_INPUTS; i++)
        ax_tensor_destroy(node->scratch[i]);
    free(node);
}

void ax_graph_destroy(ax_graph *g) {
    if (!ax_handle_remove(g, AX_HANDLE_GRAPH))
        return; /* NULL, destroyed already, or not a graph */
    for (int i = 0; i < g->n_nodes; i++)
        node_free(g->nodes[i]);
    ax_tensor_destroy(g->one);
    free(g->nodes);
    free(g->params);
    free(g->param_values);
    free(g->param_grads);
    ax_ctx_release(g->ctx);
    free(g);
}

void ax_graph_truncate(ax_graph *g, int n_nodes) {
    while (g->n_nodes > n_nodes) {
        ax_node *node = g->nodes[--g->n_nodes];
        if (node->param_index >= 0)
            g->n_params = node->param_index;
        node_free(node);
    }
}

static ax_node *find_node(const ax_graph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i]->name, name) == 0)
            return g->nodes[i];
    return NULL;
}

/* Grow *array (of elem bytes each) to hold n + 1 entries. */
static int reserve(void **array, int *cap, int n, size_t elem) {
    if (n < *cap)
        return 1;
    int new_cap = *cap ? 2 * *cap : 16;
    void *p = ax_realloc(*array, (size_t)new_cap * elem);
    if (!p)
        return 0;
    *array = p;
    *cap = new_cap;
    return 1;
}

ax_status ax_graph_add_node(const char *fn, ax_graph *g, const char *name, const char *op_name,
                            ax_op op, ax_dtype dtype, int ndim, const int64_t *shape,
                            int batched, int n_in, ax_node *const *in, ax_node **out) {
    if (g->compiled)
        return ax_fail(AX_ERR_STATE, fn, "the graph is compiled; nodes are added before");
    char buf[AX_NODE_NAME_MAX];
    if (!name) {
        snprintf(buf, sizeof buf, "%s%d", op_name, g->n_nodes);
        name = buf;
    }
    if (!name[0] || strlen(name) >= AX_NODE_NAME_MAX)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "node name '%s' is empty or longer than %d",
                       name, AX_NODE_NAME_MAX - 1);
    if (find_node(g, name))
        return ax_fail(AX_ERR_INVALID_ARG, fn, "a node is already named '%s'", name);
    if (!reserve((void **)&g->nodes, &g->cap_nodes, g->n_nodes, sizeof *g->nodes))
        return ax_fail(AX_ERR_OOM, fn, "out of host memory");
    ax_node *node = ax_calloc(1, sizeof *node);
    if (!node)
        return ax_fail(AX_ERR_OOM, fn, "out of host memory");
    snprintf(node->name, sizeof node->name, "%s", name);
    ax_status st = ax_tensor_zeros(g->ctx, dtype, ndim, shape, &node->value);
    if (st == AX_OK)
        st = ax_handle_add(fn, node, AX_HANDLE_NODE);
    if (st != AX_OK) {
        st = ax_graph_wrap(st, fn, node);
        ax_tensor_destroy(node->value);
        free(node);
        return st;
    }
    node->graph = g;
    node->id = g->n_nodes;
    node->op = op;
    node->batched = batched;
    node->param_index = -1;
    node->n_in = n_in;
    for (int i = 0; i < n_in; i++) {
        node->in[i] = in[i];
        node->trainable |= in[i]->trainable;
    }
    g->nodes[g->n_nodes++] = node;
    *out = node;
    return AX_OK;
}

/* A batched input of shape (shape[0] the max batch), f32 data or i32 labels. */
static ax_status add_input(const char *fn, ax_graph *g, const char *name, ax_dtype dtype,
                           int ndim, const int64_t *shape, ax_node **out) {
    if (!out)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "out is NULL");
    *out = NULL;
    AX_TRY(ax_graph_check(fn, g));
    if (ndim < 1 || ndim > AX_MAX_DIMS || !shape)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "input '%s' needs a shape of 1 to %d dims, the first the batch",
                       name ? name : "", AX_MAX_DIMS);
    if (g->max_batch && shape[0] != g->max_batch)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "input '%s' has a max batch of %lld, the graph's other inputs %lld",
                       name ? name : "", (long long)shape[0], (long long)g->max_batch);
    AX_TRY(ax_graph_add_node(fn, g, name, "input", AX_OP_INPUT, dtype, ndim, shape, 1, 0, NULL,
                             out));
    g->max_batch = shape[0];
    return AX_OK;
}

ax_status ax_graph_input(ax_graph *g, const char *name, int ndim, const int64_t *shape,
                         ax_node **out) {
    return add_input(__func__, g, name, AX_F32, ndim, shape, out);
}

ax_status ax_graph_labels(ax_graph *g, const char *name, int64_t max_batch, ax_node **out) {
    return add_input(__func__, g, name, AX_I32, 1, &max_batch, out);
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
    if (!reserve((void **)&g->params, &g->cap_params, g->n_params, sizeof *g->params))
        return AX_FAIL(AX_ERR_OOM, "out of host memory");
    int cap = g->cap_params; /* the value and grad arrays follow the node array's capacity */
    ax_tensor **values = ax_realloc(g->param_values, (size_t)cap * sizeof *values);
    if (values)
        g->param_values = values;
    ax_tensor **grads = ax_realloc(g->param_grads, (size_t)cap * sizeof *grads);
    if (grads)
        g->param_grads = grads;
    if (!values || !grads)
        return AX_FAIL(AX_ERR_OOM, "out of host memory");

    ax_node *node = NULL;
    AX_TRY(ax_graph_add_node(__func__, g, name, "param", AX_OP_PARAM, AX_F32, ndim, shape, 0, 0,
                             NULL, &node));
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

/* ---------------------------------------------------------------- lookups */

/* node is a live node of the live graph g. */
static int node_of(const ax_graph *g, const ax_node *node) {
    return ax_handle_live(g, AX_HANDLE_GRAPH) && ax_handle_live(node, AX_HANDLE_NODE) &&
           node->graph == g;
}

ax_tensor *ax_graph_value(ax_graph *g, const ax_node *node) {
    return node_of(g, node) ? node->value : NULL;
}

ax_tensor *ax_graph_grad(ax_graph *g, const ax_node *node) {
    return node_of(g, node) ? node->grad : NULL;
}

const char *ax_graph_node_name(const ax_graph *g, const ax_node *node) {
    return node_of(g, node) ? node->name : "";
}

ax_status ax_graph_find(const ax_graph *g, const char *name, ax_node **out) {
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    AX_TRY(ax_graph_check(__func__, g));
    if (!name)
        return AX_FAIL(AX_ERR_INVALID_ARG, "name is NULL");
    *out = find_node(g, name);
    if (!*out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "the graph has no node named '%s'", name);
    return AX_OK;
}

int ax_graph_param_count(const ax_graph *g) {
    return ax_handle_live(g, AX_HANDLE_GRAPH) ? g->n_params : 0;
}

ax_status ax_graph_param_get(ax_graph *g, int index, const char **name, ax_tensor **value,
                             ax_tensor **grad) {
    AX_TRY(ax_graph_check(__func__, g));
    if (index < 0 || index >= g->n_params)
        return AX_FAIL(AX_ERR_INVALID_ARG, "index %d is outside [0, %d)", index, g->n_params);
    const ax_node *node = g->params[index];
    if (name)
        *name = node->name;
    if (value)
        *value = node->value;
    if (grad)
        *grad = node->grad;
    return AX_OK;
}

ax_status ax_graph_param_find(const ax_graph *g, const char *name, int *index) {
    AX_TRY(ax_graph_check(__func__, g));
    if (!name || !index)
        return AX_FAIL(AX_ERR_INVALID_ARG, "name or index is NULL");
    for (int i = 0; i < g->n_params; i++) {
        if (strcmp(g->params[i]->name, name) == 0) {
            *index = i;
            return AX_OK;
        }
    }
    return AX_FAIL(AX_ERR_INVALID_ARG, "the graph has no parameter named '%s'", name);
}
