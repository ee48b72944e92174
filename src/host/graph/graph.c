/* Graphs: creation and destruction, the node list, inputs and parameters, and lookups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"

#include "../core/alloc.h"
#include "../core/view.h"
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
    return ax_fail(st, fn, "%s: %s", what, ax_last_error());
}

ax_status ax_graph_layer_name(const char *fn, const ax_graph *g, const char *me,
                              char *node_name) {
    if (g->compiled)
        return ax_fail(AX_ERR_STATE, fn, "the graph is compiled; nodes are added before");
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i]->name, me) == 0)
            return ax_fail(AX_ERR_INVALID_ARG, fn, "a node is already named '%s'", me);
    snprintf(node_name, AX_NODE_NAME_MAX, "%s", me);
    return AX_OK;
}

ax_status ax_graph_layer_end(const char *fn, ax_graph *g, int n_nodes, const char *node_name,
                             int params_made, ax_status st) {
    if (st == AX_OK)
        return AX_OK;
    ax_graph_truncate(g, n_nodes);
    if (params_made)
        return st;
    char what[AX_NODE_NAME_MAX + 8];
    snprintf(what, sizeof what, "node '%s'", node_name);
    return ax_graph_rewrap(st, fn, what);
}

const char *ax_graph_label(const ax_graph *g, const char *name, const char *prefix, char *buf,
                           size_t size) {
    if (name)
        return name;
    snprintf(buf, size, "%s%d", prefix, g->n_nodes);
    return buf;
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

int ax_graph_compare_ptr(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
    return (x > y) - (x < y);
}

int ax_graph_is_planned(const ax_graph *g, const ax_tensor *t) {
    return g && t && g->n_planned &&
           bsearch(&t, g->planned, (size_t)g->n_planned, sizeof *g->planned,
                   ax_graph_compare_ptr);
}

/* Destroy t, one of g's tensors: one that borrows the memory plan's arena keeps it. */
static void tensor_free(const ax_graph *g, ax_tensor *t) {
    if (ax_graph_is_planned(g, t))
        ax_tensor_destroy_borrowed(t);
    else
        ax_tensor_destroy(t);
}

static void node_free(ax_node *node) {
    if (!node)
        return;
    const ax_graph *g = node->graph;
    ax_handle_remove(node, AX_HANDLE_NODE);
    if (node->value_borrowed)
        ax_tensor_destroy_borrowed(node->value);
    else
        tensor_free(g, node->value);
    tensor_free(g, node->grad);
    for (int i = 0; i < AX_NODE_MAX_STATE; i++)
        ax_tensor_destroy(node->state[i]);
    for (int i = 0; i < node->n_in; i++)
        tensor_free(g, node->scratch[i]);
    free(node->params);
    free(node->in); /* one block: in, outs, scratch, dx, needs_grad */
    free(node);
}

void ax_graph_destroy(ax_graph *g) {
    if (!ax_handle_remove(g, AX_HANDLE_GRAPH))
        return; /* NULL, destroyed already, or not a graph */
    for (int i = 0; i < g->n_nodes; i++)
        node_free(g->nodes[i]);
    for (int i = 0; i < g->n_buffers; i++)
        ax_tensor_destroy(g->buffers[i].value);
    free(g->buffers);
    free(g->planned);
    ax_tensor_destroy(g->arena);
    ax_tensor_destroy(g->one);
    free(g->nodes);
    free(g->params);
    free(g->param_values);
    free(g->param_grads);
    ax_ctx_release(g->ctx);
    free(g);
}

void ax_graph_truncate(ax_graph *g, int n_nodes) {
    while (g->n_buffers > 0 && g->buffers[g->n_buffers - 1].owner->id >= n_nodes)
        ax_tensor_destroy(g->buffers[--g->n_buffers].value);
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

/* Grow *array (of elem bytes each) to hold n + extra entries. */
static int reserve(void **array, int *cap, int n, int extra, size_t elem) {
    if (n + extra <= *cap)
        return 1;
    int new_cap = *cap ? 2 * *cap : 16;
    while (new_cap < n + extra)
        new_cap *= 2;
    void *p = ax_realloc(*array, (size_t)new_cap * elem);
    if (!p)
        return 0;
    *array = p;
    *cap = new_cap;
    return 1;
}

int ax_graph_reserve_params(ax_graph *g) {
    if (!reserve((void **)&g->params, &g->cap_params, g->n_params, 1, sizeof *g->params))
        return 0;
    int cap = g->cap_params; /* the value and grad arrays follow the node array's capacity */
    ax_tensor **values = ax_realloc(g->param_values, (size_t)cap * sizeof *values);
    if (values)
        g->param_values = values;
    ax_tensor **grads = ax_realloc(g->param_grads, (size_t)cap * sizeof *grads);
    if (grads)
        g->param_grads = grads;
    return values && grads;
}

ax_status ax_graph_buffer_add(const char *fn, ax_graph *g, ax_node *owner, const char *what,
                              int ndim, const int64_t *shape) {
    ax_buffer b = {.owner = owner};
    int len = snprintf(b.name, sizeof b.name, "%s.%s", owner->name, what);
    if (len < 0 || (size_t)len >= sizeof b.name)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "buffer name '%s.%s' is too long", owner->name,
                       what);
    if (!reserve((void **)&g->buffers, &g->cap_buffers, g->n_buffers, 1, sizeof *g->buffers))
        return ax_fail(AX_ERR_OOM, fn, "out of host memory");
    if (ndim >= 0)
        AX_TRY(ax_graph_wrap(ax_tensor_zeros(g->ctx, AX_F32, ndim, shape, &b.value), fn, owner));
    if (!owner->n_buffers)
        owner->buffer0 = g->n_buffers;
    owner->n_buffers++;
    g->buffers[g->n_buffers++] = b;
    return AX_OK;
}

/* A node of op named name with an output of shape s, not yet in the graph: its value, its
 * arrays (in, outs, scratch, dx, needs_grad in one block), a copy of params, its handle. */
static ax_status node_new(const char *fn, ax_graph *g, const char *name, const ax_op_desc *op,
                          int n_in, ax_node *const *in, int n_out, const void *params,
                          const ax_out_shape *s, ax_node **out) {
    ax_node *node = ax_calloc(1, sizeof *node);
    if (!node)
        return ax_fail(AX_ERR_OOM, fn, "out of host memory");
    snprintf(node->name, sizeof node->name, "%s", name);
    node->op = op;
    node->param_index = -1;
    size_t bytes = (size_t)n_in * (sizeof *node->in + 2 * sizeof *node->scratch + 1) +
                   (size_t)n_out * sizeof *node->outs;
    char *block = ax_calloc(1, bytes);
    ax_status st = block ? AX_OK : ax_fail(AX_ERR_OOM, fn, "out of host memory");
    if (st == AX_OK) {
        node->in = (ax_node **)block;
        node->outs = node->in + n_in;
        node->scratch = (ax_tensor **)(node->outs + n_out);
        node->dx = node->scratch + n_in;
        node->needs_grad = (unsigned char *)(node->dx + n_in);
        node->n_in = n_in;
        node->n_out = n_out;
    }
    if (st == AX_OK && op->params_size) {
        node->params = ax_malloc(op->params_size);
        if (node->params)
            memcpy(node->params, params, op->params_size);
        else
            st = ax_fail(AX_ERR_OOM, fn, "out of host memory");
    }
    /* A source's value is filled before compile; any other gets its bytes from the plan. */
    if (st == AX_OK)
        st = ax_graph_wrap(op->flags & AX_OPF_SOURCE
                               ? ax_tensor_zeros(g->ctx, s->dtype, s->ndim, s->shape, &node->value)
                               : ax_tensor_create_unbacked(fn, g->ctx, s->dtype, s->ndim, s->shape,
                                                           &node->value),
                           fn, node);
    if (st == AX_OK)
        st = ax_handle_add(fn, node, AX_HANDLE_NODE);
    if (st != AX_OK) {
        ax_tensor_destroy(node->value);
        free(node->params);
        free(block);
        free(node);
        return st;
    }
    node->graph = g;
    node->batched = s->batched;
    node->batch_axis = s->batch_axis;
    node->time_axis = s->time_axis;
    memcpy(node->max_shape, s->shape, sizeof node->max_shape);
    for (int i = 0; i < n_in; i++) {
        node->in[i] = in[i];
        node->trainable |= in[i]->trainable;
    }
    *out = node;
    return AX_OK;
}

/* Check the op's inputs: live nodes of g, each of the dtype the op declares. */
static ax_status check_inputs(const char *fn, const ax_graph *g, const char *me,
                              const ax_op_desc *op, int n_in, ax_node *const *in,
                              const char *const *what) {
    for (int k = 0; k < n_in; k++) {
        const char *name = what ? what[k] : "input";
        AX_TRY(ax_graph_check_node(fn, g, in[k], name));
        ax_dtype want = (op->int_inputs >> k) & 1u ? AX_I32 : AX_F32;
        if (in[k]->value->dtype != want)
            return ax_fail(AX_ERR_DTYPE, fn, "node '%s': %s '%s' holds %s, needs %s", me,
                           name, in[k]->name, in[k]->value->dtype == AX_I32 ? "i32" : "f32",
                           want == AX_I32 ? "i32" : "f32");
    }
    return AX_OK;
}

ax_status ax_graph_op(const char *fn, ax_graph *g, const char *name, const ax_op_desc *op,
                      int n_in, ax_node *const *in, const char *const *what, const void *params,
                      ax_node **out) {
    if (!out)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "out is NULL");
    *out = NULL;
    AX_TRY(ax_graph_check(fn, g));
    if (g->compiled)
        return ax_fail(AX_ERR_STATE, fn, "the graph is compiled; nodes are added before");
    char buf[AX_NODE_NAME_MAX];
    const char *me = ax_graph_label(g, name, op->name, buf, sizeof buf);
    AX_TRY(check_inputs(fn, g, me, op, n_in, in, what));
    int n_out = op->n_out;
    ax_out_shape shapes[AX_NODE_MAX_OUTPUTS];
    memset(shapes, 0, sizeof shapes);
    for (int j = 0; j < AX_NODE_MAX_OUTPUTS; j++)
        shapes[j].time_axis = -1;
    if (n_out < 1 || n_out > AX_NODE_MAX_OUTPUTS)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "op '%s' has %d outputs", op->name, n_out);
    AX_TRY(op->infer(fn, me, in, params, shapes));
    /* Names: me, then "<me>:<j>" for the other outputs; all must be free. */
    char names[AX_NODE_MAX_OUTPUTS][AX_NODE_NAME_MAX];
    for (int j = 0; j < n_out; j++) {
        int len = j ? snprintf(names[j], sizeof names[j], "%s:%d", me, j)
                    : snprintf(names[j], sizeof names[j], "%s", me);
        if (!me[0] || len >= AX_NODE_NAME_MAX)
            return ax_fail(AX_ERR_INVALID_ARG, fn, "node name '%s' is empty or longer than %d",
                           me, AX_NODE_NAME_MAX - 1 - (n_out > 1 ? 2 : 0));
        if (find_node(g, names[j]))
            return ax_fail(AX_ERR_INVALID_ARG, fn, "a node is already named '%s'", names[j]);
    }
    if (!reserve((void **)&g->nodes, &g->cap_nodes, g->n_nodes, n_out, sizeof *g->nodes))
        return ax_fail(AX_ERR_OOM, fn, "out of host memory");
    ax_node *nodes[AX_NODE_MAX_OUTPUTS] = {NULL};
    ax_status st = node_new(fn, g, names[0], op, n_in, in, n_out, params, &shapes[0], &nodes[0]);
    for (int j = 1; j < n_out && st == AX_OK; j++) {
        ax_slot_params slot = {j};
        st = node_new(fn, g, names[j], &ax_op_output_slot, 1, &nodes[0], 1, &slot, &shapes[j],
                      &nodes[j]);
    }
    if (st != AX_OK) {
        for (int j = 0; j < n_out; j++)
            node_free(nodes[j]);
        return st;
    }
    for (int j = 0; j < n_out; j++) {
        nodes[0]->outs[j] = nodes[j];
        nodes[j]->outs[0] = nodes[j];
        nodes[j]->id = g->n_nodes;
        g->nodes[g->n_nodes++] = nodes[j];
    }
    *out = nodes[0];
    return AX_OK;
}

/* ---------------------------------------------------------------- lookups */

/* node is a live node of the live graph g. */
static int node_of(const ax_graph *g, const ax_node *node) {
    return ax_handle_live(g, AX_HANDLE_GRAPH) && ax_handle_live(node, AX_HANDLE_NODE) &&
           node->graph == g;
}

ax_tensor *ax_graph_value(ax_graph *g, const ax_node *node) {
    return node_of(g, node) && node->value->data ? node->value : NULL;
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

int ax_graph_buffer_count(const ax_graph *g) {
    return ax_handle_live(g, AX_HANDLE_GRAPH) ? g->n_buffers : 0;
}

ax_status ax_graph_buffer_get(ax_graph *g, int index, const char **name, ax_tensor **value,
                              int64_t *count) {
    AX_TRY(ax_graph_check(__func__, g));
    if (index < 0 || index >= g->n_buffers)
        return AX_FAIL(AX_ERR_INVALID_ARG, "index %d is outside [0, %d)", index, g->n_buffers);
    ax_buffer *b = &g->buffers[index];
    if (name)
        *name = b->name;
    if (value)
        *value = b->value;
    if (count)
        *count = b->value ? 0 : b->count;
    return AX_OK;
}

ax_status ax_graph_buffer_find(const ax_graph *g, const char *name, int *index) {
    AX_TRY(ax_graph_check(__func__, g));
    if (!name || !index)
        return AX_FAIL(AX_ERR_INVALID_ARG, "name or index is NULL");
    for (int i = 0; i < g->n_buffers; i++) {
        if (strcmp(g->buffers[i].name, name) == 0) {
            *index = i;
            return AX_OK;
        }
    }
    return AX_FAIL(AX_ERR_INVALID_ARG, "the graph has no buffer named '%s'", name);
}

/* t's allocated bytes when it holds storage of its own. */
static size_t own_bytes(const ax_graph *g, const ax_tensor *t) {
    if (!t || !t->data || ax_graph_is_planned(g, t))
        return 0;
    return (size_t)t->capacity * ax_dtype_size(t->dtype);
}

size_t ax_graph_device_bytes(const ax_graph *g) {
    size_t total = own_bytes(g, g->arena) + own_bytes(g, g->one);
    for (int i = 0; i < g->n_buffers; i++)
        total += own_bytes(g, g->buffers[i].value);
    for (int i = 0; i < g->n_nodes; i++) {
        const ax_node *node = g->nodes[i];
        total += (node->value_borrowed ? 0 : own_bytes(g, node->value)) +
                 own_bytes(g, node->grad);
        for (int k = 0; k < AX_NODE_MAX_STATE; k++)
            total += own_bytes(g, node->state[k]);
        for (int k = 0; k < node->n_in; k++)
            total += own_bytes(g, node->scratch[k]);
    }
    return total;
}
