/* The graph's data structures, shared by build (graph.c, layers.c), compile.c, autodiff.c and
 * run.c. */
#ifndef AX_GRAPH_INTERNAL_H
#define AX_GRAPH_INTERNAL_H

#include "axon/graph.h"

#include "../core/handles.h"
#include "../core/internal.h"

#define AX_NODE_NAME_MAX 96
#define AX_NODE_MAX_INPUTS 3

typedef enum ax_op {
    AX_OP_INPUT, /* f32 data or i32 labels, fed */
    AX_OP_PARAM,
    AX_OP_DENSE, /* in: x, weight, bias */
    AX_OP_ACTIVATION,
    AX_OP_SOFTMAX,
    AX_OP_LOG_SOFTMAX,
    AX_OP_ADD,
    AX_OP_MUL,
    AX_OP_SCALE,
    AX_OP_SUM,
    AX_OP_MEAN,
    AX_OP_MATMUL,
    AX_OP_DROPOUT,
    AX_OP_MSE,
    AX_OP_CROSS_ENTROPY,
    AX_OP_BCE,
    AX_OP_L1,
    AX_OP_L2,
} ax_op;

struct ax_node {
    ax_graph *graph;
    int id;                        /* creation index: a topological order */
    char name[AX_NODE_NAME_MAX];
    ax_op op;
    int n_in;
    ax_node *in[AX_NODE_MAX_INPUTS];
    int batched;                   /* shape[0] follows the run's batch */
    int trainable;                 /* a parameter, or computed from one */
    int param_index;               /* AX_OP_PARAM: index in the graph's parameter list */
    ax_tensor *value;              /* allocated at build, for the largest batch */
    ax_tensor *grad;               /* allocated at compile when on the loss's path */
    /* Backward plan (compile): for input i with a gradient, write into in[i]->grad directly
     * (the first writer of an intermediate) or into scratch[i], then add it. */
    ax_tensor *scratch[AX_NODE_MAX_INPUTS];
    int needs_grad[AX_NODE_MAX_INPUTS];
    /* op arguments */
    ax_activation act;
    float alpha; /* scale factor, activation slope, dropout p, penalty lambda */
    int axis;    /* sum, mean: normalised to >= 0 */
    ax_transpose trans_a, trans_b;
};

struct ax_graph {
    ax_ctx *ctx; /* holds a reference */
    uint64_t seed;
    ax_node **nodes; /* creation order */
    int n_nodes, cap_nodes;
    ax_node **params; /* parameter nodes, creation order */
    ax_tensor **param_values, **param_grads;
    int n_params, cap_params;
    int64_t max_batch; /* 0 until a batched input exists */
    int compiled;
    ax_node *loss;
    ax_tensor *one; /* scalar 1, seeds the backward */
    int training;
    uint64_t step;       /* training forwards so far: the dropout offset's counter */
    int forward_done;    /* a forward ran since the compile */
    int forward_training; /* mode of the last forward, for the dropout backward */
};

/* Check g is a live graph of a live context (fn names the public call). */
ax_status ax_graph_check(const char *fn, const ax_graph *g);
/* Check node is a live node of g; what names the argument ("x", "logits"). */
ax_status ax_graph_check_node(const char *fn, const ax_graph *g, const ax_node *node,
                              const char *what);

/* Re-record a failed op's status with the public call and the node in front of its message:
 * "ax_graph_forward: node 'fc1': ax_dense_forward: ...". Returns st (AX_OK passes through). */
ax_status ax_graph_wrap(ax_status st, const char *fn, const ax_node *node);
/* The same with any prefix: "fn: what: <the failed call's message>". */
ax_status ax_graph_rewrap(ax_status st, const char *fn, const char *what);

/* A new node of g (graph.c): checks the graph is still being built, names it (name or
 * "<op_name><id>"), checks the name is unique, allocates its value of shape (batched:
 * shape[0] is the max batch) and appends it. */
ax_status ax_graph_add_node(const char *fn, ax_graph *g, const char *name, const char *op_name,
                            ax_op op, ax_dtype dtype, int ndim, const int64_t *shape,
                            int batched, int n_in, ax_node *const *in, ax_node **out);

/* Remove the nodes created after the first n_nodes (and the parameters among them): a failed
 * builder call leaves the graph as it was. */
void ax_graph_truncate(ax_graph *g, int n_nodes);

/* Dropout offset of a node at a training step: disjoint from the parameters' offsets
 * (0 .. n_params - 1) by the top bit. */
static inline uint64_t ax_dropout_offset(uint64_t step, int node_id) {
    return (UINT64_C(1) << 63) | (step << 24) | (uint64_t)node_id;
}

#endif
