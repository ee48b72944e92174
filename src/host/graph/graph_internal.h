/* The graph's data structures, shared by build (graph.c, ops/), compile.c, autodiff.c and
 * run.c. A node is one op applied to its inputs; what the op is lives in its descriptor
 * (ax_op_desc, one per op in src/host/graph/ops/, listed in ops/registry.h), so compile, run
 * and autodiff never look at which op a node holds. */
#ifndef AX_GRAPH_INTERNAL_H
#define AX_GRAPH_INTERNAL_H

#include <stddef.h>

#include "axon/graph.h"

#include "../core/handles.h"
#include "../core/internal.h"

#define AX_NODE_NAME_MAX 96
#define AX_NODE_MAX_STATE 4    /* per-node state tensors an op keeps (ax_node.state) */
#define AX_NODE_MAX_OUTPUTS 8  /* outputs of one op */

/* An output's shape, as an op's shape inference gives it (at the largest batch and sequence).
 * batched: shape[batch_axis] follows the run's batch; time_axis >= 0: shape[time_axis]
 * follows the run's sequence length. Inference starts from batch_axis 0 and time_axis -1. */
typedef struct ax_out_shape {
    ax_dtype dtype;
    int ndim;
    int64_t shape[AX_MAX_DIMS];
    int batched;
    int batch_axis;
    int time_axis;
} ax_out_shape;

/* Descriptor flags. */
enum {
    /* The node is output slot params->slot of in[0] (a multi-output op's extra output): no
     * compute, and no gradient edge (the producer reads this node's gradient itself). */
    AX_OPF_OUTPUT_SLOT = 1u << 0,
    /* The backward adds into its inputs' gradients itself; dx[k] is a scratch tensor of the
     * input's shape it may use (penalties: raw gradient, then scaled by the upstream one). */
    AX_OPF_ACCUMULATES = 1u << 1,
    /* A source: no inputs, nothing to compute (inputs, parameters). */
    AX_OPF_SOURCE = 1u << 2,
    /* With AX_OPF_ACCUMULATES: no scratch; dx[k] is input k's gradient itself, added to. */
    AX_OPF_NO_SCRATCH = 1u << 4,
    /* The value is a view of in[0]'s storage that the forward points (no copy); it is never
     * planned, and in[0]'s value lives as long as the view's. */
    AX_OPF_VIEW = 1u << 3,
};

#define AX_SAVES_IN(k) (1u << (k))
#define AX_SAVES_OUT (1u << 31)

/* One graph op: everything the graph knows about it. */
typedef struct ax_op_desc {
    const char *name;   /* the default node-name prefix ("dense" gives "dense3") */
    size_t params_size; /* bytes of its params struct, which each node keeps a copy of */
    int n_out;          /* outputs (>= 1); output j > 0 is an AX_OPF_OUTPUT_SLOT node */
    unsigned int_inputs; /* bit k: input k is i32 (labels, indices); others are f32 */
    unsigned no_grad;    /* bit k: input k never takes a gradient (labels, targets) */
    unsigned flags;      /* AX_OPF_* */
    /* What the backward reads besides the output gradients, for the memory plan: bit k the
     * value of input k, AX_SAVES_OUT the node's own outputs. A value is kept from its forward
     * to the last backward that reads it; an undeclared read would see reused memory. */
    unsigned saves;
    /* The outputs' shapes (out[n_out]) from the inputs (already checked live, of this graph,
     * of the declared dtypes) and params; me is the node's name for messages. */
    ax_status (*infer)(const char *fn, const char *me, ax_node *const *in, const void *params,
                       ax_out_shape *out);
    /* Compute the node's outputs from its inputs' values. NULL: nothing to do. */
    ax_status (*forward)(ax_graph *g, ax_node *node);
    /* Write the gradient of input k into dx[k] (NULL when input k needs none) from the
     * outputs' gradients (node->grad, and outs[j]->grad for j > 0, all set). */
    ax_status (*backward)(ax_graph *g, ax_node *node, ax_tensor *const *dx);
} ax_op_desc;

/* A buffer: named state of a node that is saved and loaded but not trained (never in the
 * parameter list): an f32 tensor (a running mean), or an int64 counter held on the host
 * (num_batches_tracked, I64 in checkpoints). */
typedef struct ax_buffer {
    char name[AX_NODE_NAME_MAX + 32]; /* "<node>.<what>", its checkpoint key */
    ax_node *owner;
    ax_tensor *value; /* NULL for a counter */
    int64_t count;
} ax_buffer;

struct ax_node {
    ax_graph *graph;
    int id;                        /* creation index: a topological order */
    char name[AX_NODE_NAME_MAX];
    const ax_op_desc *op;
    void *params;                  /* a copy of the op's params (op->params_size bytes) */
    int n_in;
    ax_node **in;                  /* [n_in] */
    int n_out;                     /* op->n_out: this node is output 0 */
    ax_node **outs;                /* [n_out]: outs[0] is the node, outs[j] its slot-j node */
    int batched;                   /* shape[batch_axis] follows the run's batch */
    int batch_axis;
    int time_axis;                 /* >= 0: shape[time_axis] follows the run's sequence */
    int64_t max_shape[AX_MAX_DIMS]; /* the value's shape at the largest batch and sequence */
    int trainable;                 /* a parameter, or computed from one */
    int param_index;               /* parameters: index in the graph's parameter list */
    ax_tensor *value;              /* allocated at build, for the largest batch */
    ax_tensor *grad;               /* allocated at compile when on the loss's path */
    ax_tensor *state[AX_NODE_MAX_STATE]; /* the op's own tensors (work, saved state) */
    /* Backward plan (compile): for input k with a gradient, write into in[k]->grad directly
     * (the first writer of an intermediate) or into scratch[k], then add it. */
    ax_tensor **scratch;           /* [n_in] */
    ax_tensor **dx;                /* [n_in]: the backward's targets (scratch, grad or NULL) */
    unsigned char *needs_grad;     /* [n_in] */
    int grad_written;              /* a consumer overwrites grad first; else it is zeroed */
    int value_borrowed;            /* a view: value borrows in[0]'s storage */
    int buffer0, n_buffers;        /* its buffers: g->buffers[buffer0 ..] */
};

struct ax_graph {
    ax_ctx *ctx; /* holds a reference */
    uint64_t seed;
    ax_node **nodes; /* creation order */
    int n_nodes, cap_nodes;
    ax_node **params; /* parameter nodes, creation order */
    ax_tensor **param_values, **param_grads;
    int n_params, cap_params;
    ax_buffer *buffers; /* creation order */
    int n_buffers, cap_buffers;
    int64_t max_batch; /* 0 until a batched input exists */
    int64_t max_seq, seq_len; /* sequences: the largest length (0: none yet) and the run's */
    int compiled;
    ax_node *loss;
    ax_tensor *one; /* scalar 1, seeds the backward */
    /* Memory plan (compile.c): activations, gradients and scratch tensors whose lifetimes do
     * not overlap share storage in one arena; planned[] are the tensors that borrow it. */
    int no_reuse; /* a switch for tests: every tensor keeps storage of its own */
    int reuse_values; /* ax_graph_set_value_reuse */
    ax_tensor *arena;
    ax_tensor **planned;
    int n_planned;
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

/* The name a new node of g gets: name, or "<prefix><id>" (written into buf). */
const char *ax_graph_label(const ax_graph *g, const char *name, const char *prefix, char *buf,
                           size_t size);

/* Before a layer creates its parameters: g is not compiled and no node is named me (else the
 * failure, naming fn); me is copied into node_name (AX_NODE_NAME_MAX chars). */
ax_status ax_graph_layer_name(const char *fn, const ax_graph *g, const char *me,
                              char *node_name);

/* The end of a layer builder that made its parameters (params_made: all of them) and then
 * its node, with st the first failure (AX_OK: none): on failure the nodes made since n_nodes
 * are removed; a failure of the node itself already names fn, one of a parameter gets
 * "fn: node '<node_name>': " in front. Returns st. */
ax_status ax_graph_layer_end(const char *fn, ax_graph *g, int n_nodes, const char *node_name,
                             int params_made, ax_status st);

/* A new node of op applied to in[0 .. n_in - 1] with a copy of params (op->params_size
 * bytes; NULL when 0): checks out, g and the inputs (live, of g, of the dtypes op declares;
 * what[k] names input k in messages, "input" for all when what is NULL), infers the outputs' shapes, names the node (name or
 * "<op name><id>"), allocates its value(s) and appends it (and its output-slot nodes).
 * *out is the node (output 0). Nothing changes on failure. */
ax_status ax_graph_op(const char *fn, ax_graph *g, const char *name, const ax_op_desc *op,
                      int n_in, ax_node *const *in, const char *const *what, const void *params,
                      ax_node **out);

/* The params of an output-slot node (ax_op_output_slot): which output of in[0] it is. */
typedef struct ax_slot_params {
    int slot;
} ax_slot_params;

/* Room for one more parameter in the graph's parameter arrays; 0 when out of memory. */
int ax_graph_reserve_params(ax_graph *g);

/* Shape-inference helpers (ops/infer.c): a node's shape as text; an f32 output like x (its
 * shape and batching); an f32 scalar; a and b of the same shape and batching (else
 * AX_ERR_SHAPE naming me, both nodes and their shapes). */
const char *ax_node_shape_str(const ax_node *n, char *buf, size_t size);
void ax_infer_like(const ax_node *x, ax_out_shape *out);
void ax_infer_scalar(ax_out_shape *out);
/* x is not a sequence and has its batch (if any) on axis 0, as row-wise ops need. */
ax_status ax_infer_rows(const char *fn, const char *me, const ax_node *x, const char *what);
ax_status ax_infer_same(const char *fn, const char *me, const ax_node *a, const char *an,
                        const ax_node *b, const char *bn);

/* Row-wise ops over the last dim of a sequence ([T, N, C] as [T N, C]): *as = t viewed as
 * [rows, its last dim] through *view (registered until ax_graph_rows_close), or t itself when
 * it is 2-D or NULL. */
ax_status ax_graph_rows_open(const ax_tensor *t, ax_tensor *view, const ax_tensor **as);
void ax_graph_rows_close(const ax_tensor *as, ax_tensor *view);

/* The value of node's input k. */
static inline const ax_tensor *ax_in_value(const ax_node *node, int k) {
    return node->in[k]->value;
}

/* (in[0] + ... + in[n-1], in[0] * in[1]) as two outputs (ops/sum_product.c): an internal op
 * that tests wide and multi-output nodes; *product is the output-slot node "<name>:1". */
ax_status ax_graph_sum_product(ax_graph *g, const char *name, int n, ax_node *const *in,
                               ax_node **sum, ax_node **product);

/* A new buffer "<owner>.<what>" of owner (the last node of g): an f32 tensor of shape filled
 * with zeros, or an int64 counter at 0 when ndim < 0. Nothing changes on failure. */
ax_status ax_graph_buffer_add(const char *fn, ax_graph *g, ax_node *owner, const char *what,
                              int ndim, const int64_t *shape);

/* t borrows the memory plan's arena (g->planned, sorted by address with compare_ptr). */
int ax_graph_compare_ptr(const void *a, const void *b);
int ax_graph_is_planned(const ax_graph *g, const ax_tensor *t);

/* Bytes of device memory the graph holds: parameters and their gradients, inputs, values,
 * gradients, scratch, op state, buffers and the memory plan's arena (each once). */
size_t ax_graph_device_bytes(const ax_graph *g);

/* Give every batched or sequence tensor of g the dims of a run of n rows and t steps (inputs
 * included when with_inputs). */
ax_status ax_graph_set_dims(const char *fn, ax_graph *g, int64_t n, int64_t t, int with_inputs);

/* Remove the nodes created after the first n_nodes (and the parameters among them): a failed
 * builder call leaves the graph as it was. */
void ax_graph_truncate(ax_graph *g, int n_nodes);

/* Dropout offset of a node at a training step: disjoint from the parameters' offsets
 * (0 .. n_params - 1) by the top bit. */
static inline uint64_t ax_dropout_offset(uint64_t step, int node_id) {
    return (UINT64_C(1) << 63) | (step << 24) | (uint64_t)node_id;
}

#include "ops/registry.h" /* the op descriptors */

#endif
