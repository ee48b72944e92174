/* Recurrent layers (ax_graph_rnn, ax_graph_lstm, ax_graph_gru), as PyTorch's nn.RNN, nn.LSTM
 * and nn.GRU: num_layers stacked layers of one or two directions over ops.h's
 * ax_rnn_forward / ax_rnn_backward (one layer, one direction each), dropout between layers
 * while training, batch_first as a swap of x's and y's first two dims.
 *
 * Inputs: x, then h0 and c0 when given, then per layer l and direction d (k = l D + d, the
 * order of PyTorch's state_dict) w_ih [G H, in_l], w_hh [G H, H] and, with biases, b_ih and
 * b_hh [G H] (in_0 = in, in_l = D H above). Outputs: y [T, N, D H] (batch_first [N, T, D H]),
 * h_n and c_n [L D, N, H] (c_n: the LSTM only), the nodes "<name>", "<name>:1", "<name>:2".
 *
 * The node's own tensors (state), all sized for the longest sequence and the largest batch,
 * so shorter runs use their first elements without recompiling:
 *   RESERVE  L D reserves of ax_rnn_reserve_numel(mode, T, N, H) elements, one per layer
 *            and direction (what each backward reads from its forward, and its scratch)
 *   WORK     the outputs of layers 0 .. L-2 [T, N, D H] each (dropped out in place: the next
 *            layer's x), then batch_first's time-major x, y (and dy) and dx, and the
 *            backward's two alternating gradients of the layers' inputs [T, N, D H]
 *   HC, CC   with carry_state: the states carried from one forward to the next [L D, N, H]
 *            (row b of a run is row b of the carried state, whatever the run's batch) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../graph_internal.h"

#include "../../core/alloc.h"
#include "../../ops/check.h"

typedef struct rnn_params {
    ax_rnn_mode mode;
    int64_t in, hidden;
    int layers, dirs;
    int batch_first, bias, carry, has_h0, has_c0;
    float dropout;
    int64_t max_t, max_n;
    int64_t reserve; /* elements of one layer and direction's reserve at max_t, max_n */
} rnn_params;

enum { RESERVE, WORK, HC, CC };

/* Offsets (elements) of WORK's parts at the largest sizes. */
struct work_layout {
    int64_t ys, xt, yt, dxt, d0, d1, total;
};

/* *acc += a b c; 0 when it overflows int64 (all >= 0). */
static int add3(int64_t *acc, int64_t a, int64_t b, int64_t c) {
    if (a && b > INT64_MAX / a)
        return 0;
    int64_t ab = a * b;
    if (ab && c > (INT64_MAX - *acc) / ab)
        return 0;
    *acc += ab * c;
    return 1;
}

static int work_layout_of(const rnn_params *p, struct work_layout *w) {
    const int64_t tn = p->max_t * p->max_n, dh = p->dirs * p->hidden;
    const struct {
        int64_t *field, count, size;
    } parts[] = {
        {&w->ys, p->layers - 1, dh},     {&w->xt, p->batch_first, p->in},
        {&w->yt, p->batch_first, dh},    {&w->dxt, p->batch_first, p->in},
        {&w->d0, p->layers > 1, dh},     {&w->d1, p->layers > 2, dh},
    };
    if (p->max_n && p->max_t > INT64_MAX / p->max_n)
        return 0;
    int64_t at = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        *parts[i].field = at;
        if (!add3(&at, parts[i].count, tn, parts[i].size))
            return 0;
    }
    w->total = at ? at : 1;
    return 1;
}

/* ---------------------------------------------------------------- checks and shapes */

/* x: 3-d f32, batched on axis 1 (time-major) or 0 (batch_first), its time axis the other
 * one or none; in: its last dim. */
static ax_status check_x(const char *fn, const char *me, const ax_node *x, int batch_first,
                         int64_t in) {
    char sx[128];
    const int b_axis = batch_first ? 0 : 1, t_axis = batch_first ? 1 : 0;
    if (x->value->dtype != AX_F32)
        return ax_fail(AX_ERR_DTYPE, fn, "node '%s': x '%s' holds i32, needs f32", me, x->name);
    if (x->value->ndim != 3)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': x '%s' has shape %s, needs 3 dims (%s)",
                       me, x->name, ax_node_shape_str(x, sx, sizeof sx),
                       batch_first ? "[N, T, in], batch_first" : "[T, N, in]");
    if (!x->batched || x->batch_axis != b_axis ||
        (x->time_axis != t_axis && x->time_axis != -1))
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': x '%s' of shape %s has its batch on axis "
                       "%d and its time on axis %d; %s needs the batch on axis %d and the time "
                       "on axis %d (ax_graph_input_typed)", me, x->name,
                       ax_node_shape_str(x, sx, sizeof sx), x->batched ? x->batch_axis : -1,
                       x->time_axis, batch_first ? "batch_first" : "time-major", b_axis, t_axis);
    if (in && x->max_shape[2] != in)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': x '%s' has shape %s, %lld features; the "
                       "layer's input_size is %lld", me, x->name,
                       ax_node_shape_str(x, sx, sizeof sx), (long long)x->max_shape[2],
                       (long long)in);
    return AX_OK;
}

/* h0 or c0: [L D, N, H], batched on axis 1, no time axis. */
static ax_status check_state0(const char *fn, const char *me, const ax_node *s,
                              const char *what, int64_t ld, int64_t n, int64_t h) {
    char ss[128];
    if (s->value->ndim != 3 || s->max_shape[0] != ld || s->max_shape[1] != n ||
        s->max_shape[2] != h || !s->batched || s->batch_axis != 1 || s->time_axis != -1)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': %s '%s' has shape %s%s; needs [%lld, %lld, "
                       "%lld] (layers x directions, batch, hidden) with its batch on axis 1",
                       me, what, s->name, ax_node_shape_str(s, ss, sizeof ss),
                       s->batched ? "" : " (not batched)", (long long)ld, (long long)n,
                       (long long)h);
    return AX_OK;
}

static void seq_shape(const ax_node *x, int batch_first, int64_t cols, ax_out_shape *o) {
    o->dtype = AX_F32;
    o->ndim = 3;
    o->shape[0] = x->max_shape[0];
    o->shape[1] = x->max_shape[1];
    o->shape[2] = cols;
    o->batched = 1;
    o->batch_axis = batch_first ? 0 : 1;
    o->time_axis = x->time_axis;
}

static ax_status rnn_infer(const char *fn, const char *me, ax_node *const *in,
                           const void *params, ax_out_shape *out) {
    const rnn_params *p = params;
    const int64_t ld = (int64_t)p->layers * p->dirs;
    AX_TRY(check_x(fn, me, in[0], p->batch_first, p->in));
    if (p->has_h0)
        AX_TRY(check_state0(fn, me, in[1], "h0", ld, p->max_n, p->hidden));
    if (p->has_c0)
        AX_TRY(check_state0(fn, me, in[1 + p->has_h0], "c0", ld, p->max_n, p->hidden));
    seq_shape(in[0], p->batch_first, p->dirs * p->hidden, &out[0]);
    for (int j = 1; j <= (p->mode == AX_RNN_LSTM ? 2 : 1); j++)
        out[j] = (ax_out_shape){.dtype = AX_F32, .ndim = 3, .shape = {ld, p->max_n, p->hidden},
                                .batched = 1, .batch_axis = 1, .time_axis = -1};
    return AX_OK;
}

/* ---------------------------------------------------------------- views */

/* A run's view of the elements of base from offset on, shaped [d0, d1, d2] (d2 0: [d0, d1]).
 * Registered as a live tensor until view_close. */
static ax_status view_open(ax_tensor *v, const ax_tensor *base, int64_t offset, int64_t d0,
                           int64_t d1, int64_t d2) {
    *v = *base;
    v->data = (float *)base->data + offset;
    v->ndim = d2 ? 3 : 2;
    v->shape[0] = d0, v->shape[1] = d1, v->shape[2] = d2;
    v->numel = d0 * d1 * (d2 ? d2 : 1);
    v->capacity = v->numel;
    return ax_tensor_view_open(__func__, v);
}

/* The views of one call, by slot: opening a slot closes the view it held. */
enum { V_XT, V_YT, V_DXT, V_OUT0, V_OUT1, V_XIN, V_D0, V_D1, V_H0, V_C0, V_HT, V_CT, V_RES,
       V_COUNT };

struct views {
    ax_tensor t[V_COUNT];
    unsigned char live[V_COUNT];
};

static void close_view(struct views *vs, int slot) {
    if (vs->live[slot])
        ax_tensor_view_close(&vs->t[slot]);
    vs->live[slot] = 0;
}

static ax_status open_view(struct views *vs, int slot, const ax_tensor *base, int64_t offset,
                           int64_t d0, int64_t d1, int64_t d2, ax_tensor **out) {
    close_view(vs, slot);
    AX_TRY(view_open(&vs->t[slot], base, offset, d0, d1, d2));
    vs->live[slot] = 1;
    *out = &vs->t[slot];
    return AX_OK;
}

static void close_views(struct views *vs) {
    for (int i = 0; i < V_COUNT; i++)
        close_view(vs, i);
}

/* Everything a forward or backward of the run's t steps and n rows needs. */
struct run {
    const rnn_params *p;
    int64_t t, n, dh;
    struct work_layout w;
    ax_tensor *const *st; /* node->state */
    int first_param, per_dir;
};

static struct run run_of(const ax_node *node, const ax_tensor *x) {
    const rnn_params *p = node->params;
    struct run r = {.p = p, .dh = p->dirs * p->hidden, .st = node->state,
                    .first_param = 1 + p->has_h0 + p->has_c0, .per_dir = p->bias ? 4 : 2};
    r.t = x->shape[p->batch_first ? 1 : 0];
    r.n = x->shape[p->batch_first ? 0 : 1];
    work_layout_of(p, &r.w); /* checked at build */
    return r;
}

static ax_rnn_weights weights_of(const ax_node *node, const struct run *r, int k) {
    ax_node *const *w = node->in + r->first_param + k * r->per_dir;
    return (ax_rnn_weights){w[0]->value, w[1]->value, r->p->bias ? w[2]->value : NULL,
                            r->p->bias ? w[3]->value : NULL};
}

/* [t, n, cols] at offset of WORK. */
static ax_status work_seq(struct views *vs, int slot, const struct run *r, int64_t offset,
                          int64_t cols, ax_tensor **out) {
    return open_view(vs, slot, r->st[WORK], offset, r->t, r->n, cols, out);
}

/* Layer l's output (l < L - 1): the next layer's x. */
static ax_status layer_out(struct views *vs, int slot, const struct run *r, int l,
                           ax_tensor **out) {
    return work_seq(vs, slot, r, r->w.ys + l * r->p->max_t * r->p->max_n * r->dh, r->dh, out);
}

/* Row block k ([n, H]) of a [L D, n, H] tensor of the run (pitch n), or of a carried state
 * (pitch max_n); NULL stays NULL. */
static ax_status state_of(struct views *vs, int slot, const struct run *r, const ax_tensor *s,
                          int64_t pitch, int k, ax_tensor **out) {
    *out = NULL;
    if (!s)
        return AX_OK;
    return open_view(vs, slot, s, k * pitch * r->p->hidden, r->n, r->p->hidden, 0, out);
}

/* Layer and direction k's reserve, at the largest sizes (the run uses its first elements). */
static ax_status reserve_of(struct views *vs, const struct run *r, int k, ax_tensor **out) {
    return open_view(vs, V_RES, r->st[RESERVE], k * r->p->reserve, r->p->reserve, 1, 0, out);
}

/* Dropout after layer l: its own seed, with the graph's offset for this node and step (no
 * other node draws with this seed and offset). */
static uint64_t dropout_seed(const ax_graph *g, int l) {
    return g->seed + (uint64_t)(l + 1) * UINT64_C(0x9E3779B97F4A7C15);
}

/* ---------------------------------------------------------------- forward */

/* y = layer L-1 of ... layer 0 of x, the final states into h_n (c_n), and with carry_state
 * into the carried states. */
static ax_status forward_layers(ax_graph *g, ax_node *node, struct views *vs,
                                const struct run *r, const ax_tensor *x) {
    const rnn_params *p = r->p;
    const int lstm = p->mode == AX_RNN_LSTM;
    const ax_tensor *h0 = p->carry ? r->st[HC] : p->has_h0 ? ax_in_value(node, 1) : NULL;
    const ax_tensor *c0 = p->carry ? r->st[CC]
                          : p->has_c0 ? ax_in_value(node, 1 + p->has_h0) : NULL;
    const int64_t pitch0 = p->carry ? p->max_n : r->n;
    ax_tensor *xin = (ax_tensor *)x, *y = node->value;
    if (p->batch_first) {
        AX_TRY(work_seq(vs, V_XT, r, r->w.xt, p->in, &xin));
        AX_TRY(ax_tensor_swap01(__func__, x, xin));
        AX_TRY(work_seq(vs, V_YT, r, r->w.yt, r->dh, &y));
    }
    for (int l = 0; l < p->layers; l++) {
        ax_tensor *out = y;
        if (l < p->layers - 1) /* alternate slots: the previous layer's output is xin */
            AX_TRY(layer_out(vs, V_OUT0 + l % 2, r, l, &out));
        for (int d = 0; d < p->dirs; d++) {
            const int k = l * p->dirs + d;
            ax_rnn_desc desc = {.mode = p->mode, .reverse = d, .y_offset = d * p->hidden};
            ax_rnn_weights w = weights_of(node, r, k);
            ax_tensor *hk, *ck, *hT, *cT, *res;
            AX_TRY(state_of(vs, V_H0, r, h0, pitch0, k, &hk));
            AX_TRY(state_of(vs, V_C0, r, lstm ? c0 : NULL, pitch0, k, &ck));
            AX_TRY(state_of(vs, V_HT, r, node->outs[1]->value, r->n, k, &hT));
            AX_TRY(state_of(vs, V_CT, r, lstm ? node->outs[2]->value : NULL, r->n, k, &cT));
            AX_TRY(reserve_of(vs, r, k, &res));
            AX_TRY(ax_rnn_forward(g->ctx, &desc, r->t, xin, hk, ck, &w, out, hT, cT, res));
        }
        if (l < p->layers - 1 && p->dropout > 0.0f && g->training)
            AX_TRY(ax_dropout_forward(g->ctx, p->dropout, dropout_seed(g, l),
                                      ax_dropout_offset(g->step, node->id), out, out));
        xin = out;
    }
    if (p->batch_first)
        AX_TRY(ax_tensor_swap01(__func__, y, node->value));
    /* the final states become the next forward's initial states (rows 0 .. n - 1) */
    for (int s = 0; p->carry && s < 1 + lstm; s++) {
        for (int k = 0; k < p->layers * p->dirs; k++) {
            ax_tensor *from, *to;
            AX_TRY(state_of(vs, V_HT, r, node->outs[1 + s]->value, r->n, k, &from));
            AX_TRY(state_of(vs, V_H0, r, r->st[HC + s], p->max_n, k, &to));
            AX_TRY(ax_tensor_copy(to, from));
        }
    }
    return AX_OK;
}

static ax_status rnn_forward(ax_graph *g, ax_node *node) {
    const ax_tensor *x = ax_in_value(node, 0);
    struct run r = run_of(node, x);
    struct views vs = {.live = {0}};
    ax_status st = forward_layers(g, node, &vs, &r, x);
    close_views(&vs);
    return st;
}

/* ---------------------------------------------------------------- backward */

/* The gradients of layer-direction k's parameters: the edges' scratch tensors (which the
 * backward overwrites: zeroed here, as ax_rnn_backward adds into them) or NULL. */
static ax_status param_grads(ax_graph *g, const struct run *r, int k, ax_tensor *const *dx,
                             ax_rnn_grads *out) {
    ax_tensor *const *gs = dx + r->first_param + k * r->per_dir;
    for (int i = 0; i < r->per_dir; i++)
        if (gs[i])
            AX_TRY(ax_fill(g->ctx, gs[i], 0.0f));
    *out = (ax_rnn_grads){gs[0], gs[1], r->p->bias ? gs[2] : NULL, r->p->bias ? gs[3] : NULL};
    return AX_OK;
}

/* Backpropagation through the layers from the top: dy of layer l is dx of layer l + 1
 * (through its dropout), h_n's and c_n's gradients enter at each layer's last step. */
static ax_status backward_layers(ax_graph *g, ax_node *node, struct views *vs,
                                 const struct run *r, ax_tensor *const *dx) {
    const rnn_params *p = r->p;
    const int lstm = p->mode == AX_RNN_LSTM;
    ax_tensor *xin0 = node->in[0]->value, *dy = node->grad, *dx0 = dx[0];
    ax_tensor *dh0 = p->has_h0 ? dx[1] : NULL, *dc0 = p->has_c0 ? dx[1 + p->has_h0] : NULL;
    if (p->batch_first) {
        AX_TRY(work_seq(vs, V_XT, r, r->w.xt, p->in, &xin0));
        AX_TRY(work_seq(vs, V_YT, r, r->w.yt, r->dh, &dy));
        AX_TRY(ax_tensor_swap01(__func__, node->grad, dy));
        if (dx0)
            AX_TRY(work_seq(vs, V_DXT, r, r->w.dxt, p->in, &dx0));
    }
    for (int l = p->layers - 1; l >= 0; l--) {
        ax_tensor *xin = xin0, *dxl = dx0;
        if (l > 0) { /* alternate slots: dy is the previous dxl */
            const int odd = (p->layers - 1 - l) % 2;
            AX_TRY(layer_out(vs, V_XIN, r, l - 1, &xin));
            AX_TRY(work_seq(vs, V_D0 + odd, r, odd ? r->w.d1 : r->w.d0, r->dh, &dxl));
        }
        for (int d = 0; d < p->dirs; d++) {
            const int k = l * p->dirs + d;
            ax_rnn_desc desc = {.mode = p->mode, .reverse = d, .y_offset = d * p->hidden,
                                .accumulate_dx = d > 0};
            ax_rnn_weights w = weights_of(node, r, k);
            ax_rnn_grads dw;
            ax_tensor *dhT, *dcT, *dh0k, *dc0k, *res;
            AX_TRY(param_grads(g, r, k, dx, &dw));
            AX_TRY(state_of(vs, V_HT, r, node->outs[1]->grad, r->n, k, &dhT));
            AX_TRY(state_of(vs, V_CT, r, lstm ? node->outs[2]->grad : NULL, r->n, k, &dcT));
            AX_TRY(state_of(vs, V_H0, r, dh0, r->n, k, &dh0k));
            AX_TRY(state_of(vs, V_C0, r, dc0, r->n, k, &dc0k));
            AX_TRY(reserve_of(vs, r, k, &res));
            AX_TRY(ax_rnn_backward(g->ctx, &desc, r->t, xin, &w, res, dy, dhT, dcT, dxl, dh0k,
                                   dc0k, &dw));
        }
        if (l > 0 && p->dropout > 0.0f && g->forward_training)
            AX_TRY(ax_dropout_backward(g->ctx, p->dropout, dropout_seed(g, l - 1),
                                       ax_dropout_offset(g->step, node->id), dxl, dxl));
        dy = dxl;
    }
    if (p->batch_first && dx[0])
        AX_TRY(ax_tensor_swap01(__func__, dx0, dx[0]));
    return AX_OK;
}

static ax_status rnn_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    struct run r = run_of(node, ax_in_value(node, 0));
    struct views vs = {.live = {0}};
    ax_status st = backward_layers(g, node, &vs, &r, dx);
    close_views(&vs);
    return st;
}

/* The GRU and the plain RNN (outputs y, h_n) and the LSTM (y, h_n, c_n). */
const ax_op_desc ax_op_rnn = {
    .name = "rnn", .params_size = sizeof(rnn_params), .n_out = 2, .saves = AX_SAVES_IN(0),
    .infer = rnn_infer, .forward = rnn_forward, .backward = rnn_backward,
};

const ax_op_desc ax_op_lstm = {
    .name = "lstm", .params_size = sizeof(rnn_params), .n_out = 3, .saves = AX_SAVES_IN(0),
    .infer = rnn_infer, .forward = rnn_forward, .backward = rnn_backward,
};

/* ---------------------------------------------------------------- builders */

/* The params from the options and x (checked, nothing created). */
static ax_status params_of(const char *fn, const char *me, ax_rnn_mode mode, const ax_node *x,
                           const ax_graph_rnn_opts *o, rnn_params *p) {
    if (!o)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "node '%s': opts is NULL", me);
    if (o->hidden_size < 1 || o->num_layers < 0 || o->num_layers > 256)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "node '%s': hidden_size %lld must be >= 1 and "
                       "num_layers %d in [0, 256] (0 means 1)", me, (long long)o->hidden_size,
                       o->num_layers);
    if (!(o->dropout >= 0.0f && o->dropout < 1.0f))
        return ax_fail(AX_ERR_INVALID_ARG, fn, "node '%s': dropout %g is outside [0, 1)", me,
                       (double)o->dropout);
    AX_TRY(check_x(fn, me, x, o->batch_first != 0, o->input_size));
    *p = (rnn_params){.mode = mode, .in = x->max_shape[2], .hidden = o->hidden_size,
                      .layers = o->num_layers ? o->num_layers : 1,
                      .dirs = o->bidirectional ? 2 : 1, .batch_first = o->batch_first != 0,
                      .bias = !o->no_bias, .carry = o->carry_state != 0,
                      .dropout = o->dropout};
    p->max_t = x->max_shape[p->batch_first ? 1 : 0];
    p->max_n = x->max_shape[p->batch_first ? 0 : 1];
    struct work_layout w;
    int64_t ld = 0;
    if (!add3(&ld, p->layers, p->dirs, p->hidden) || p->hidden > INT64_MAX / 4 / p->in ||
        ax_rnn_reserve_numel(mode, p->max_t, p->max_n, p->hidden, &p->reserve) != AX_OK ||
        !add3(&ld, p->layers * p->dirs, p->reserve, 1) || !work_layout_of(p, &w))
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': the layer's sizes overflow int64", me);
    return AX_OK;
}

/* The node's state tensors (zeros), sized for the largest run. */
static ax_status make_state(const char *fn, ax_graph *g, ax_node *node) {
    const rnn_params *p = node->params;
    struct work_layout w;
    work_layout_of(p, &w);
    const int64_t res = p->layers * p->dirs * p->reserve;
    const int64_t hs[3] = {(int64_t)p->layers * p->dirs, p->max_n, p->hidden};
    AX_TRY(ax_graph_wrap(ax_tensor_zeros(g->ctx, AX_F32, 1, &res, &node->state[RESERVE]), fn,
                         node));
    AX_TRY(ax_graph_wrap(ax_tensor_zeros(g->ctx, AX_F32, 1, &w.total, &node->state[WORK]), fn,
                         node));
    for (int s = 0; p->carry && s < (p->mode == AX_RNN_LSTM ? 2 : 1); s++)
        AX_TRY(ax_graph_wrap(ax_tensor_zeros(g->ctx, AX_F32, 3, hs, &node->state[HC + s]), fn,
                             node));
    return AX_OK;
}

/* Layer k's parameters, named as PyTorch's: "<me>.weight_ih_l<l>[_reverse]", ... */
static ax_status make_params(ax_graph *g, const char *me, const rnn_params *p, ax_node **in) {
    const int64_t gh = ax_rnn_gate_count(p->mode) * p->hidden;
    const float bound = 1.0f / sqrtf((float)p->hidden);
    const ax_init init = {.kind = AX_INIT_UNIFORM, .low = -bound, .high = bound};
    static const char *names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    char pname[AX_NODE_NAME_MAX + 32];
    int at = 0;
    for (int l = 0; l < p->layers; l++) {
        for (int d = 0; d < p->dirs; d++) {
            const int64_t shapes[4][2] = {{gh, l ? p->dirs * p->hidden : p->in},
                                          {gh, p->hidden}, {gh, 0}, {gh, 0}};
            for (int i = 0; i < (p->bias ? 4 : 2); i++) {
                snprintf(pname, sizeof pname, "%s.%s_l%d%s", me, names[i], l,
                         d ? "_reverse" : "");
                AX_TRY(ax_graph_param(g, pname, i < 2 ? 2 : 1, shapes[i], &init, &in[at++]));
            }
        }
    }
    return AX_OK;
}

/* Checks everything, then makes the parameters, the node and its state; on failure the graph
 * is left as it was. */
static ax_status build(const char *fn, ax_graph *g, const char *name, ax_rnn_mode mode,
                       ax_node *x, ax_node *h0, ax_node *c0, const ax_graph_rnn_opts *opts,
                       ax_node **y, ax_node **h_n, ax_node **c_n) {
    static const char *prefix[] = {"rnn", "rnn", "lstm", "gru", "gru"};
    char buf[AX_NODE_NAME_MAX], node_name[AX_NODE_NAME_MAX];
    if (!y)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "y is NULL");
    *y = NULL;
    if (h_n)
        *h_n = NULL;
    if (c_n)
        *c_n = NULL;
    AX_TRY(ax_graph_check(fn, g));
    const char *me = ax_graph_label(g, name, prefix[mode], buf, sizeof buf);
    AX_TRY(ax_graph_check_node(fn, g, x, "x"));
    if (h0)
        AX_TRY(ax_graph_check_node(fn, g, h0, "h0"));
    if (c0)
        AX_TRY(ax_graph_check_node(fn, g, c0, "c0"));
    rnn_params p;
    AX_TRY(params_of(fn, me, mode, x, opts, &p));
    p.has_h0 = h0 != NULL;
    p.has_c0 = c0 != NULL;
    if (p.carry && (h0 || c0))
        return ax_fail(AX_ERR_INVALID_ARG, fn, "node '%s': carry_state takes its initial states "
                       "from the previous forward; h0 and c0 must be NULL", me);
    const int64_t ld = (int64_t)p.layers * p.dirs;
    if (h0)
        AX_TRY(check_state0(fn, me, h0, "h0", ld, p.max_n, p.hidden));
    if (c0)
        AX_TRY(check_state0(fn, me, c0, "c0", ld, p.max_n, p.hidden));
    AX_TRY(ax_graph_layer_name(fn, g, me, node_name));

    const int first_param = 1 + p.has_h0 + p.has_c0;
    const int n_in = first_param + (int)ld * (p.bias ? 4 : 2);
    ax_node **in = ax_calloc((size_t)n_in, sizeof *in);
    const char **what = ax_calloc((size_t)n_in, sizeof *what);
    if (!in || !what) {
        free(in);
        free(what);
        return ax_fail(AX_ERR_OOM, fn, "out of host memory");
    }
    in[0] = x, what[0] = "x";
    if (h0)
        in[1] = h0, what[1] = "h0";
    if (c0)
        in[1 + p.has_h0] = c0, what[1 + p.has_h0] = "c0";
    for (int k = first_param; k < n_in; k++)
        what[k] = "parameter";
    const int n_nodes = g->n_nodes;
    ax_node *node = NULL;
    ax_status st = make_params(g, node_name, &p, in + first_param);
    const int params_made = st == AX_OK;
    if (st == AX_OK)
        st = ax_graph_op(fn, g, node_name, mode == AX_RNN_LSTM ? &ax_op_lstm : &ax_op_rnn, n_in,
                         in, what, &p, &node);
    if (st == AX_OK)
        st = make_state(fn, g, node);
    free(in);
    free(what);
    AX_TRY(ax_graph_layer_end(fn, g, n_nodes, node_name, params_made, st));
    *y = node;
    if (h_n)
        *h_n = node->outs[1];
    if (c_n && mode == AX_RNN_LSTM)
        *c_n = node->outs[2];
    return AX_OK;
}

ax_status ax_graph_rnn(ax_graph *g, const char *name, ax_node *x, ax_node *h0,
                       const ax_graph_rnn_opts *opts, ax_node **y, ax_node **h_n) {
    ax_rnn_mode mode = AX_RNN_TANH;
    if (opts && opts->nonlinearity == AX_ACT_RELU)
        mode = AX_RNN_RELU;
    else if (opts && opts->nonlinearity != AX_ACT_LINEAR && opts->nonlinearity != AX_ACT_TANH)
        return AX_FAIL(AX_ERR_INVALID_ARG, "nonlinearity %d is neither AX_ACT_TANH nor "
                       "AX_ACT_RELU", (int)opts->nonlinearity);
    return build(__func__, g, name, mode, x, h0, NULL, opts, y, h_n, NULL);
}

ax_status ax_graph_lstm(ax_graph *g, const char *name, ax_node *x, ax_node *h0, ax_node *c0,
                        const ax_graph_rnn_opts *opts, ax_node **y, ax_node **h_n,
                        ax_node **c_n) {
    return build(__func__, g, name, AX_RNN_LSTM, x, h0, c0, opts, y, h_n, c_n);
}

ax_status ax_graph_gru(ax_graph *g, const char *name, ax_node *x, ax_node *h0,
                       const ax_graph_rnn_opts *opts, ax_node **y, ax_node **h_n) {
    const ax_rnn_mode mode = opts && opts->gru_textbook ? AX_RNN_GRU_TEXTBOOK : AX_RNN_GRU;
    return build(__func__, g, name, mode, x, h0, NULL, opts, y, h_n, NULL);
}

/* Zero the carried states of one recurrent layer. */
static ax_status reset_one(ax_graph *g, ax_node *node) {
    for (int s = HC; s <= CC; s++)
        if (node->state[s])
            AX_TRY(ax_graph_wrap(ax_fill(g->ctx, node->state[s], 0.0f), "ax_graph_rnn_reset_state",
                                 node));
    return AX_OK;
}

static int is_recurrent(const ax_node *node) {
    return node->op == &ax_op_rnn || node->op == &ax_op_lstm;
}

ax_status ax_graph_rnn_reset_state(ax_graph *g, ax_node *layer) {
    AX_TRY(ax_graph_check(__func__, g));
    if (!layer) {
        for (int i = 0; i < g->n_nodes; i++)
            if (is_recurrent(g->nodes[i]))
                AX_TRY(reset_one(g, g->nodes[i]));
        return AX_OK;
    }
    AX_TRY(ax_graph_check_node(__func__, g, layer, "layer"));
    if (!is_recurrent(layer))
        return AX_FAIL(AX_ERR_INVALID_ARG, "node '%s' is not a recurrent layer's output y",
                       layer->name);
    return reset_one(g, layer);
}
