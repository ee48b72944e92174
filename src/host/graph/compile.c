/* Compilation: plan the backward of the loss and allocate all of its memory once.
 *
 * Creation order is a topological order (a node's inputs exist before it), so the backward
 * visits nodes in reverse creation order; every consumer of a node runs its backward before
 * the node itself, so the node's gradient is complete by then.
 *
 * Accumulation: the ops write their gradient outputs. Each edge (consumer, input i) whose
 * input needs a gradient either writes the input's gradient directly (the first writer, in
 * backward order, of an intermediate node) or writes a scratch tensor of its own that is then
 * added (ax_axpy) to the gradient: later writers of a node used several times, and every
 * writer of a parameter, whose gradient accumulates across backward calls until zero_grad. */
#include <stdlib.h>

#include "graph_internal.h"

#include "../core/alloc.h"
#include "../core/view.h"
#include "../ops/check.h"

/* A tensor shaped like node's value at the largest batch, without storage: the memory plan
 * gives it its bytes. */
static ax_status like_value(const char *fn, ax_graph *g, const ax_node *node, ax_tensor **out) {
    const ax_tensor *v = node->value;
    ax_status st = ax_tensor_create_unbacked(fn, g->ctx, AX_F32, v->ndim, v->shape, out);
    return ax_graph_wrap(st, fn, node);
}

/* Mark the loss's ancestors in on_path (indexed by node id). */
static void mark_path(const ax_graph *g, const ax_node *loss, char *on_path) {
    on_path[loss->id] = 1;
    for (int i = loss->id; i >= 0; i--) {
        const ax_node *node = g->nodes[i];
        if (!on_path[i])
            continue;
        for (int k = 0; k < node->n_in; k++)
            on_path[node->in[k]->id] = 1;
    }
}

/* node's gradient, when it has none yet. */
static ax_status ensure_grad(const char *fn, ax_graph *g, ax_node *node) {
    return node->grad ? AX_OK : like_value(fn, g, node, &node->grad);
}

/* Gradients and scratch tensors of every node on the loss's path that depends on a
 * parameter; written (by node id) records which gradients already have a writer. */
static ax_status plan(const char *fn, ax_graph *g, const ax_node *loss, const char *on_path,
                      char *written) {
    for (int i = loss->id; i >= 0; i--) {
        ax_node *node = g->nodes[i];
        const ax_op_desc *op = node->op;
        if (!on_path[i] || !node->trainable || (op->flags & AX_OPF_SOURCE))
            continue;
        AX_TRY(ensure_grad(fn, g, node));
        if (op->flags & AX_OPF_OUTPUT_SLOT)
            continue; /* its producer reads the gradient; no edge */
        for (int j = 1; j < node->n_out; j++) /* read by the backward even when unused */
            AX_TRY(ensure_grad(fn, g, node->outs[j]));
        for (int k = 0; k < node->n_in; k++) {
            ax_node *in = node->in[k];
            if (!in->trainable || (op->no_grad >> k) & 1u)
                continue;
            node->needs_grad[k] = 1;
            /* Accumulating ops (penalties) get a scratch of their own to work in. */
            int direct = !(in->op->flags & AX_OPF_SOURCE) && !written[in->id] &&
                         !(op->flags & AX_OPF_ACCUMULATES);
            if (!direct && !(op->flags & AX_OPF_NO_SCRATCH))
                AX_TRY(like_value(fn, g, in, &node->scratch[k]));
            written[in->id] |= direct ? 2 : 1; /* 2: the first writer overwrites */
        }
    }
    for (int i = 0; i < g->n_nodes; i++)
        g->nodes[i]->grad_written = (written[i] & 2) != 0;
    return AX_OK;
}

/* ---------------------------------------------------------------- the memory plan
 *
 * Steps: the forward of node i is step i; with L the loss's id and n the node count, the
 * backward starts at step n (the loss's gradient is seeded and unwritten gradients zeroed)
 * and the backward of node i <= L is step n + 1 + L - i. Each planned tensor lives over the
 * closed interval of steps from its first write to its last read: a value from its
 * producer's forward to its last reader (the forwards of its consumers, and the backwards
 * that declare they read it in their descriptor's saves); a gradient from its first writer's
 * backward to its node's own; a scratch tensor within its node's backward. Outputs (no
 * consumers) and the loss live to the end, so they can be read after a run; so does every
 * value unless the user opted in to reusing values (ax_graph_set_value_reuse). Values and
 * gradients are two pools that never share bytes: a backward writes no value, so every
 * value the backward reads survives it (a second backward, or reading outputs afterwards).
 * In a pool, tensors whose intervals do not overlap may share bytes: each is placed, largest
 * first, at the lowest offset that no overlapping tensor placed before it covers. */

#define PLAN_ALIGN 64 /* bytes: every tensor starts on a cache line of the arena */
#define PLAN_END INT32_MAX

typedef struct slot {
    ax_tensor *t;
    int pool;        /* 0 values, 1 gradients and scratch */
    int start, end;  /* steps, closed */
    size_t bytes, at; /* size (aligned) and offset */
} slot;

static int step_backward(const ax_graph *g, int i) { return g->n_nodes + 1 + g->loss->id - i; }

/* The last step that reads node's value (the end unless values are reused). */
static int value_end(const ax_graph *g, const ax_node *node, const char *consumed) {
    if (!g->reuse_values || !consumed[node->id] || node == g->loss)
        return PLAN_END;
    int end = node->id;
    if (g->loss && node->grad && (node->op->saves & AX_SAVES_OUT) && node->id <= g->loss->id)
        end = step_backward(g, node->id);
    for (int j = node->id + 1; j < g->n_nodes; j++) {
        const ax_node *c = g->nodes[j];
        if (c->op->flags & AX_OPF_OUTPUT_SLOT)
            continue; /* an output slot reads nothing: its producer writes it */
        if ((c->op->flags & AX_OPF_VIEW) && c->in[0] == node) {
            /* a view of this node reads its storage as long as the view lives */
            int view_end = value_end(g, c, consumed);
            end = view_end > end ? view_end : end;
        }
        for (int k = 0; k < c->n_in; k++) {
            if (c->in[k] != node)
                continue;
            end = j > end ? j : end;
            int reads = g->loss && c->grad && c->id <= g->loss->id && (c->op->saves >> k) & 1u;
            if (reads && step_backward(g, j) > end)
                end = step_backward(g, j);
        }
    }
    return end;
}

/* The first step that writes node's gradient: its last consumer with an edge to it (the
 * first writer in backward order), or the start of the backward (unwritten, the loss). */
static int grad_start(const ax_graph *g, const ax_node *node) {
    if (!node->grad_written) /* zeroed at the start, then added to */
        return g->n_nodes;
    for (int j = g->loss->id; j > node->id; j--) {
        const ax_node *c = g->nodes[j];
        for (int k = 0; k < c->n_in; k++)
            if (c->in[k] == node && c->needs_grad[k])
                return step_backward(g, j);
    }
    return g->n_nodes;
}

/* The planned tensors of g with their intervals into *out (count *n). */
static ax_status collect(const char *fn, const ax_graph *g, const char *consumed, slot **out,
                         int *n) {
    int most = 0;
    for (int i = 0; i < g->n_nodes; i++)
        most += 2 + g->nodes[i]->n_in;
    slot *s = ax_calloc(most ? (size_t)most : 1, sizeof *s);
    if (!s)
        return ax_fail(AX_ERR_OOM, fn, "out of host memory");
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        ax_node *node = g->nodes[i];
        if (node->op->flags & AX_OPF_SOURCE)
            continue;
        int slot_of = node->op->flags & AX_OPF_OUTPUT_SLOT;
        const ax_node *producer = slot_of ? node->in[0] : node;
        if (!(node->op->flags & AX_OPF_VIEW)) /* a view's value is in[0]'s storage */
            s[count++] = (slot){node->value, 0, producer->id, value_end(g, node, consumed), 0,
                                0};
        if (node->grad) {
            int end = step_backward(g, producer->id); /* the producer reads the slots' */
            s[count++] = (slot){node->grad, 1, grad_start(g, node), end, 0, 0};
        }
        for (int k = 0; k < node->n_in; k++)
            if (node->scratch[k]) {
                int at = step_backward(g, i);
                s[count++] = (slot){node->scratch[k], 1, at, at, 0, 0};
            }
    }
    for (int i = 0; i < count; i++) {
        size_t bytes = (size_t)s[i].t->capacity * ax_dtype_size(s[i].t->dtype);
        s[i].bytes = (bytes + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN;
    }
    *out = s;
    *n = count;
    return AX_OK;
}

static int larger_first(const void *a, const void *b) {
    const slot *x = a, *y = b;
    if (x->pool != y->pool)
        return x->pool - y->pool;
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    return x->start - y->start;
}

/* Place each slot at the lowest offset of its pool clear of the overlapping slots placed
 * before it (the gradient pool follows the values'); returns the arena's size. */
static size_t place(slot *s, int n) {
    qsort(s, (size_t)n, sizeof *s, larger_first);
    size_t total = 0, base = 0;
    for (int i = 0; i < n; i++) {
        if (i && s[i].pool != s[i - 1].pool)
            base = total;
        size_t at = base;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int j = 0; j < i; j++) {
                int overlap = s[j].pool == s[i].pool && s[j].start <= s[i].end &&
                              s[i].start <= s[j].end;
                if (overlap && at < s[j].at + s[j].bytes && s[j].at < at + s[i].bytes) {
                    at = s[j].at + s[j].bytes;
                    moved = 1;
                }
            }
        }
        s[i].at = at;
        total = at + s[i].bytes > total ? at + s[i].bytes : total;
    }
    return total;
}

/* Give every planned tensor its own zeroed storage (the no_reuse test switch); on failure
 * none keeps any. */
static ax_status back_each(const char *fn, slot *s, int n) {
    ax_status st = AX_OK;
    for (int i = 0; st == AX_OK && i < n; i++)
        st = ax_tensor_back_zeros(fn, s[i].t);
    for (int i = 0; st != AX_OK && i < n; i++)
        ax_tensor_borrow(s[i].t, NULL);
    return st;
}

/* Plan g's activations, gradients and scratch, allocate the arena and point them into it.
 * Until then they have no storage (values and gradients are made without): the bytes of a
 * graph are allocated once, here. */
static ax_status plan_memory(const char *fn, ax_graph *g) {
    char *consumed = ax_calloc(g->n_nodes ? (size_t)g->n_nodes : 1, 1);
    if (!consumed)
        return ax_fail(AX_ERR_OOM, fn, "out of host memory");
    for (int j = 0; j < g->n_nodes; j++) {
        const ax_node *c = g->nodes[j];
        for (int k = 0; k < c->n_in && !(c->op->flags & AX_OPF_OUTPUT_SLOT); k++)
            consumed[c->in[k]->id] = 1;
    }
    slot *s = NULL;
    int n = 0;
    ax_status st = collect(fn, g, consumed, &s, &n);
    free(consumed);
    if (st != AX_OK)
        return st;
    if (g->no_reuse) {
        st = back_each(fn, s, n);
    } else {
        size_t total = place(s, n);
        int64_t words = (int64_t)(total / sizeof(float));
        g->planned = ax_calloc(n ? (size_t)n : 1, sizeof *g->planned);
        if (!g->planned)
            st = ax_fail(AX_ERR_OOM, fn, "out of host memory");
        if (st == AX_OK && words)
            st = ax_graph_rewrap(ax_tensor_zeros(g->ctx, AX_F32, 1, &words, &g->arena), fn,
                                 "the memory plan's arena");
        for (int i = 0; st == AX_OK && words && i < n; i++) {
            ax_tensor_borrow(s[i].t, (char *)g->arena->data + s[i].at);
            g->planned[g->n_planned++] = s[i].t;
        }
        if (st == AX_OK) {
            qsort(g->planned, (size_t)g->n_planned, sizeof *g->planned, ax_graph_compare_ptr);
        } else {
            free(g->planned);
            g->planned = NULL;
        }
    }
    free(s);
    /* A view points at its input's storage, which exists from now on (in creation order, so a
     * view of a view follows too). Each forward places the view exactly (a time step's
     * offset). */
    for (int i = 0; st == AX_OK && i < g->n_nodes; i++)
        if (g->nodes[i]->op->flags & AX_OPF_VIEW)
            g->nodes[i]->value->data = g->nodes[i]->in[0]->value->data;
    return st;
}

ax_status ax_graph_compile(ax_graph *g, ax_node *loss) {
    AX_TRY(ax_graph_check(__func__, g));
    if (g->compiled)
        return AX_FAIL(AX_ERR_STATE, "the graph is already compiled");
    if (loss) {
        AX_TRY(ax_graph_check_node(__func__, g, loss, "loss"));
        if (loss->value->ndim != 0 || loss->value->dtype != AX_F32) {
            char s[128];
            return AX_FAIL(AX_ERR_SHAPE, "loss '%s' has shape %s; a loss is an f32 scalar []",
                           loss->name, ax_shape_str(loss->value, s, sizeof s));
        }
    }
    ax_status st = ax_tensor_create(g->ctx, AX_F32, 0, NULL, &g->one);
    if (st == AX_OK)
        st = ax_fill(g->ctx, g->one, 1.0f);
    st = ax_graph_rewrap(st, __func__, "the scalar 1 that seeds the backward");
    if (st == AX_OK && loss) {
        char *flags = ax_calloc(2 * (size_t)g->n_nodes, 1); /* on_path, then written */
        if (flags) {
            mark_path(g, loss, flags);
            st = plan(__func__, g, loss, flags, flags + g->n_nodes);
            free(flags);
        } else {
            st = AX_FAIL(AX_ERR_OOM, "out of host memory");
        }
    }
    g->loss = loss;
    if (st == AX_OK)
        st = plan_memory(__func__, g); /* last: nothing holds storage on failure */
    if (st != AX_OK) { /* leave the graph as it was: not compiled, nothing extra allocated */
        g->loss = NULL;
        ax_tensor_destroy(g->one);
        g->one = NULL;
        for (int i = 0; i < g->n_nodes; i++) {
            ax_node *node = g->nodes[i];
            if (!(node->op->flags & AX_OPF_SOURCE)) { /* a parameter keeps its own */
                ax_tensor_destroy(node->grad);
                node->grad = NULL;
            }
            node->grad_written = 0;
            for (int k = 0; k < node->n_in; k++) {
                ax_tensor_destroy(node->scratch[k]);
                node->scratch[k] = NULL;
                node->needs_grad[k] = 0;
            }
        }
        return st;
    }
    g->loss = loss;
    g->compiled = 1;
    return AX_OK;
}
