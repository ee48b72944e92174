/* The recurrent ops (ax_rnn_*): PyTorch golden cases (tests/golden/gen_rnn.py) with layers and
 * directions composed here as the graph layer will, gradient checks of every cell and of whole
 * sequences, planted errors each of those must catch, extremes (saturation, NaN, Inf, T = 1,
 * a shorter last sequence, states carried in place), bad input, and GPU parity with the CPU
 * reference (skipped where no GPU works). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "gradcheck.h"
#include "helpers.h"

#define MODES 5
static const ax_rnn_mode kModes[MODES] = {AX_RNN_TANH, AX_RNN_RELU, AX_RNN_LSTM, AX_RNN_GRU,
                                          AX_RNN_GRU_TEXTBOOK};
static const char *const kModeNames[MODES] = {"tanh", "relu", "lstm", "gru", "gru_textbook"};

static ax_tensor *zeros(ax_ctx *ctx, int ndim, const int64_t *shape) {
    ax_tensor *t = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, ndim, shape, &t));
    return t;
}

static ax_tensor *zeros_like(ax_ctx *ctx, const ax_tensor *t) {
    int64_t s[AX_MAX_DIMS];
    for (int i = 0; i < ax_tensor_ndim(t); i++)
        s[i] = ax_tensor_dim(t, i);
    return zeros(ctx, ax_tensor_ndim(t), s);
}

static ax_tensor *reserve_for(ax_ctx *ctx, ax_rnn_mode mode, int64_t T, int64_t N, int64_t H) {
    int64_t n = 0;
    AX_ASSERT_OK(ax_rnn_reserve_numel(mode, T, N, H, &n));
    return th_nan_tensor(ctx, 1, &n);
}

/* worst |got - want| / (atol + rtol |want|) over n values; NaN or Inf in got is infinite */
static double worst_ratio(const float *got, const float *want, int64_t n, double atol,
                          double rtol) {
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double r = fabs((double)got[i] - want[i]) / (atol + rtol * fabs((double)want[i]));
        if (!isfinite(got[i]) || !(r <= worst))
            worst = isfinite(got[i]) ? r : INFINITY;
    }
    return worst;
}

/* ---------------------------------------------------------------- PyTorch golden cases */

#define GOLDEN_ATOL 2e-5
#define GOLDEN_RTOL 2e-4

static const gd_tensor *gd_find(const gd_case *c, const char *name) {
    for (int i = 0; i < c->count; i++)
        if (strcmp(c->t[i].name, name) == 0)
            return &c->t[i];
    return NULL;
}

/* How a golden run is altered to show that the comparison catches a convention error. */
typedef enum golden_plant {
    PLANT_NONE = 0,
    PLANT_SWAP_GATES = 1, /* gate blocks 0 and 1 (LSTM i, f; GRU r, z) of every weight swapped */
} golden_plant;

typedef struct golden_result {
    double worst;
    char what[64];
} golden_result;

static void note(golden_result *r, double ratio, const char *what, int layer, int dir) {
    if (!(ratio <= r->worst)) {
        r->worst = ratio;
        snprintf(r->what, sizeof r->what, "%s (layer %d, direction %d)", what, layer, dir);
    }
}

/* t (on any device) against golden tensor `name`, from element offset off, numel(t) values. */
static void compare_golden(golden_result *r, const ax_tensor *t, const gd_case *c,
                           const char *name, int64_t off, int layer, int dir) {
    const gd_tensor *g = gd_get(c, name);
    const int64_t n = ax_tensor_numel(t);
    cr_assert(off + n <= g->numel, "%s: golden %s is too small", c->path, name);
    float *got = th_to_host(t);
    note(r, worst_ratio(got, g->f + off, n, GOLDEN_ATOL, GOLDEN_RTOL), name, layer, dir);
    free(got);
}

/* A weight of the case on ctx, gate blocks 0 and 1 swapped when asked; NULL when absent. */
static ax_tensor *golden_weight(ax_ctx *ctx, const gd_case *c, const char *name, int64_t H,
                                golden_plant plant) {
    const gd_tensor *g = gd_find(c, name);
    if (!g)
        return NULL;
    float *v = malloc((size_t)g->numel * sizeof *v);
    cr_assert(v);
    memcpy(v, g->f, (size_t)g->numel * sizeof *v);
    const int64_t block = H * (g->numel / g->shape[0]); /* H rows */
    if (plant == PLANT_SWAP_GATES)
        for (int64_t i = 0; i < block; i++) {
            float t = v[i];
            v[i] = v[block + i];
            v[block + i] = t;
        }
    ax_tensor *t = th_tensor(ctx, g->ndim, g->shape, v);
    free(v);
    return t;
}

/* Slice k of a golden [L D, N, H] state as an [N, H] tensor. */
static ax_tensor *golden_state(ax_ctx *ctx, const gd_case *c, const char *name, int64_t k,
                               int64_t N, int64_t H) {
    const gd_tensor *g = gd_find(c, name);
    if (!g)
        return NULL;
    int64_t s[2] = {N, H};
    return th_tensor(ctx, 2, s, g->f + k * N * H);
}

/* Runs the case on ctx with `mode`, layer by layer and direction by direction through
 * ax_rnn_forward and ax_rnn_backward (the reverse direction writing columns H..2H of the same
 * y, both directions accumulating into one dx), and compares every output and gradient. */
static golden_result golden_run(ax_ctx *ctx, const char *name, ax_rnn_mode mode,
                                golden_plant plant) {
    gd_case *c = gd_load("rnn", name);
    const gd_tensor *dims = gd_get(c, "dims");
    const int64_t T = (int64_t)dims->f[0], N = (int64_t)dims->f[1], H = (int64_t)dims->f[3];
    const int L = (int)dims->f[4];
    const int D = gd_find(c, "weight_ih_l0_reverse") ? 2 : 1;
    const int lstm = mode == AX_RNN_LSTM;
    golden_result r = {0.0, ""};
    ax_tensor *in[3] = {gd_tensor_on(ctx, c, "x"), NULL, NULL}; /* in[l + 1] = y of layer l */
    ax_tensor *res[2][2] = {{NULL}}, *wt[2][2][4] = {{{NULL}}};
    int64_t ys[3] = {T, N, D * H}, ss[2] = {N, H};
    for (int l = 0; l < L; l++) {
        in[l + 1] = th_nan_tensor(ctx, 3, ys);
        for (int d = 0; d < D; d++) {
            const char *sfx = d ? "_reverse" : "";
            const char *base[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
            for (int k = 0; k < 4; k++) {
                char wn[32];
                snprintf(wn, sizeof wn, "%s_l%d%s", base[k], l, sfx);
                wt[l][d][k] = golden_weight(ctx, c, wn, H, plant);
            }
            ax_rnn_weights w = {wt[l][d][0], wt[l][d][1], wt[l][d][2], wt[l][d][3]};
            ax_tensor *h0 = golden_state(ctx, c, "h0", l * D + d, N, H);
            ax_tensor *c0 = lstm ? golden_state(ctx, c, "c0", l * D + d, N, H) : NULL;
            ax_tensor *hT = th_nan_tensor(ctx, 2, ss), *cT = lstm ? th_nan_tensor(ctx, 2, ss) : NULL;
            res[l][d] = reserve_for(ctx, mode, T, N, H);
            ax_rnn_desc desc = {mode, d, d * H, 0};
            AX_ASSERT_OK(ax_rnn_forward(ctx, &desc, T, in[l], h0, c0, &w, in[l + 1], hT, cT,
                                        res[l][d]));
            compare_golden(&r, hT, c, "hT", (l * D + d) * N * H, l, d);
            if (lstm)
                compare_golden(&r, cT, c, "cT", (l * D + d) * N * H, l, d);
            ax_tensor_destroy(h0), ax_tensor_destroy(c0), ax_tensor_destroy(hT);
            ax_tensor_destroy(cT);
        }
    }
    compare_golden(&r, in[L], c, "y", 0, L - 1, -1);
    ax_tensor *dy = gd_tensor_on(ctx, c, "dy");
    for (int l = L - 1; l >= 0; l--) {
        const int64_t in_cols = ax_tensor_dim(in[l], 2);
        int64_t xs[3] = {T, N, in_cols};
        ax_tensor *dx = zeros(ctx, 3, xs);
        for (int d = 0; d < D; d++) {
            const char *sfx = d ? "_reverse" : "";
            const char *base[4] = {"dweight_ih", "dweight_hh", "dbias_ih", "dbias_hh"};
            ax_tensor *g[4] = {NULL};
            for (int k = 0; k < 4; k++)
                if (wt[l][d][k]) /* zeroed: the gradients accumulate */
                    g[k] = zeros_like(ctx, wt[l][d][k]);
            ax_rnn_weights w = {wt[l][d][0], wt[l][d][1], wt[l][d][2], wt[l][d][3]};
            ax_rnn_grads dw = {g[0], g[1], g[2], g[3]};
            ax_tensor *dhT = golden_state(ctx, c, "dhT", l * D + d, N, H);
            ax_tensor *dcT = lstm ? golden_state(ctx, c, "dcT", l * D + d, N, H) : NULL;
            ax_tensor *dh0 = th_nan_tensor(ctx, 2, ss), *dc0 = lstm ? th_nan_tensor(ctx, 2, ss) : NULL;
            ax_rnn_desc desc = {mode, d, d * H, 1};
            AX_ASSERT_OK(ax_rnn_backward(ctx, &desc, T, in[l], &w, res[l][d], dy, dhT, dcT, dx,
                                         dh0, dc0, &dw));
            for (int k = 0; k < 4; k++) {
                char gn[32];
                snprintf(gn, sizeof gn, "%s_l%d%s", base[k], l, sfx);
                if (g[k])
                    compare_golden(&r, g[k], c, gn, 0, l, d);
                ax_tensor_destroy(g[k]);
            }
            compare_golden(&r, dh0, c, "dh0", (l * D + d) * N * H, l, d);
            if (lstm)
                compare_golden(&r, dc0, c, "dc0", (l * D + d) * N * H, l, d);
            ax_tensor_destroy(dhT), ax_tensor_destroy(dcT), ax_tensor_destroy(dh0);
            ax_tensor_destroy(dc0);
        }
        ax_tensor_destroy(dy);
        dy = dx; /* the gradient of the layer below's output */
    }
    compare_golden(&r, dy, c, "dx", 0, 0, -1);
    ax_tensor_destroy(dy);
    for (int l = 0; l < L; l++)
        for (int d = 0; d < D; d++) {
            ax_tensor_destroy(res[l][d]);
            for (int k = 0; k < 4; k++)
                ax_tensor_destroy(wt[l][d][k]);
        }
    for (int l = 0; l <= L; l++)
        ax_tensor_destroy(in[l]);
    gd_free(c);
    return r;
}

static void golden_case(ax_ctx *ctx, const char *name, ax_rnn_mode mode) {
    golden_result r = golden_run(ctx, name, mode, PLANT_NONE);
    cr_assert(r.worst <= 1.0, "%s: %s is off by %.3g x the tolerance %g + %g |want|", name,
              r.what, r.worst, GOLDEN_ATOL, GOLDEN_RTOL);
    cr_log_info("golden %s: worst %s at %.3f of the tolerance", name, r.what, r.worst);
}

static void golden_cpu(const char *name, ax_rnn_mode mode) {
    ax_ctx *ctx = th_cpu_ctx();
    golden_case(ctx, name, mode);
    ax_ctx_destroy(ctx);
}

Test(rnn_golden, tanh_bidirectional) { golden_cpu("rnn_tanh_bi", AX_RNN_TANH); }
Test(rnn_golden, relu_bidirectional) { golden_cpu("rnn_relu_bi", AX_RNN_RELU); }
Test(rnn_golden, lstm_bidirectional) { golden_cpu("lstm_bi", AX_RNN_LSTM); }
Test(rnn_golden, gru_bidirectional) { golden_cpu("gru_bi", AX_RNN_GRU); }
Test(rnn_golden, gru_textbook_bidirectional) { golden_cpu("gru_textbook_bi", AX_RNN_GRU_TEXTBOOK); }
Test(rnn_golden, lstm_two_layers) { golden_cpu("lstm_2layer", AX_RNN_LSTM); }
Test(rnn_golden, gru_two_layers_bidirectional_no_bias) { golden_cpu("gru_2layer_bi", AX_RNN_GRU); }
Test(rnn_golden, tanh_n1_h1_long) { golden_cpu("rnn_tanh_n1_h1", AX_RNN_TANH); }

/* Convention errors that a self-consistent gradient check cannot see: swapped gate blocks and
 * one GRU form run in place of the other. Each must miss the golden by far. */
static void expect_golden_fails(const char *name, ax_rnn_mode mode, golden_plant plant) {
    ax_ctx *ctx = th_cpu_ctx();
    golden_result r = golden_run(ctx, name, mode, plant);
    cr_assert(r.worst > 10.0, "%s run as mode %d (plant %d) matched PyTorch (worst %.3g: %s)",
              name, (int)mode, (int)plant, r.worst, r.what);
    cr_log_info("golden %s, mode %d, plant %d: caught at %.3g x (%s)", name, (int)mode,
                (int)plant, r.worst, r.what);
    ax_ctx_destroy(ctx);
}

Test(rnn_golden, planted_convention_errors_are_caught) {
    expect_golden_fails("lstm_bi", AX_RNN_LSTM, PLANT_SWAP_GATES);
    expect_golden_fails("gru_bi", AX_RNN_GRU, PLANT_SWAP_GATES);
    expect_golden_fails("gru_bi", AX_RNN_GRU_TEXTBOOK, PLANT_NONE);
    expect_golden_fails("gru_textbook_bi", AX_RNN_GRU, PLANT_NONE);
    expect_golden_fails("rnn_tanh_bi", AX_RNN_RELU, PLANT_NONE);
}

/* ---------------------------------------------------------------- gradient checks
 * The op under check maps (x, h0, [c0], w_ih, w_hh, [b_ih, b_hh]) to the concatenation
 * [y (sequences only), hT, (cT)] (gradcheck.h: L = sum(that * r)); its backward splits dL/d
 * of that into dy, dhT, dcT. Columns of y outside this direction's and rows t >= seq_len read
 * 0 (the forward does not write them), so their r has no gradient to pass on. Tolerances are
 * gradcheck.h's defaults: the gates are smooth, inputs and weights small enough
 * ([-1, 1], [-0.5, 0.5]) to keep them off saturation, and the ReLU cases use inputs whose
 * pre-activations stay away from the kink (rnn_relu_margin). */

/* What the backward wrapper breaks on purpose (planted errors the check must catch). */
typedef enum gc_plant {
    GC_PLANT_NONE = 0,
    GC_PLANT_FORGET_GRAD, /* the forget gate's rows of dW_ih and dW_hh dropped (LSTM) */
    GC_PLANT_CELL_CARRY,  /* dc0 dropped: the f * dc term to the previous cell (LSTM) */
    GC_PLANT_SCALE,       /* every gradient 1% too large */
} gc_plant;

typedef struct rnn_gc {
    ax_rnn_mode mode;
    int cell, reverse, bias;
    gc_plant plant;
    int64_t T, S, N, in, H, Y, y_offset;
    int ix_c0, ix_w; /* inputs: x, h0, [c0], w_ih, w_hh, [b_ih, b_hh] */
    ax_tensor *reserve;
} rnn_gc;

static int64_t gc_seq_numel(const rnn_gc *p) { return p->cell ? 0 : p->T * p->N * p->Y; }

static ax_rnn_weights gc_weights(const rnn_gc *p, ax_tensor *const *x) {
    ax_rnn_weights w = {x[p->ix_w], x[p->ix_w + 1], p->bias ? x[p->ix_w + 2] : NULL,
                        p->bias ? x[p->ix_w + 3] : NULL};
    return w;
}

static ax_status gc_rnn_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    const rnn_gc *p = op->params;
    const int lstm = p->mode == AX_RNN_LSTM;
    int64_t ys[3] = {p->T, p->N, p->Y}, ss[2] = {p->N, p->H};
    ax_tensor *yt = p->cell ? NULL : zeros(ctx, 3, ys), *hT = th_nan_tensor(ctx, 2, ss);
    ax_tensor *cT = lstm ? th_nan_tensor(ctx, 2, ss) : NULL;
    ax_tensor *c0 = p->ix_c0 >= 0 ? x[p->ix_c0] : NULL;
    ax_rnn_weights w = gc_weights(p, x);
    ax_rnn_desc d = {p->mode, p->reverse, p->y_offset, 0};
    ax_status st = p->cell ? ax_rnn_cell_forward(ctx, p->mode, x[0], x[1], c0, &w, hT, cT,
                                                 p->reserve)
                           : ax_rnn_forward(ctx, &d, p->S, x[0], x[1], c0, &w, yt, hT, cT,
                                            p->reserve);
    float *out = ax_tensor_data(y);
    const int64_t ny = gc_seq_numel(p), nh = p->N * p->H;
    if (st == AX_OK && yt)
        st = ax_tensor_to_host(yt, out, (size_t)ny * sizeof(float));
    if (st == AX_OK)
        st = ax_tensor_to_host(hT, out + ny, (size_t)nh * sizeof(float));
    if (st == AX_OK && cT)
        st = ax_tensor_to_host(cT, out + ny + nh, (size_t)nh * sizeof(float));
    ax_tensor_destroy(yt), ax_tensor_destroy(hT), ax_tensor_destroy(cT);
    return st;
}

static ax_status gc_rnn_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x,
                            const ax_tensor *y, const ax_tensor *dy, ax_tensor *const *dx) {
    (void)y;
    const rnn_gc *p = op->params;
    const int lstm = p->mode == AX_RNN_LSTM;
    const float *r = ax_tensor_const_data(dy);
    const int64_t ny = gc_seq_numel(p), nh = p->N * p->H;
    int64_t ys[3] = {p->T, p->N, p->Y}, ss[2] = {p->N, p->H};
    ax_tensor *dyt = p->cell ? NULL : th_tensor(ctx, 3, ys, r);
    ax_tensor *dhT = th_tensor(ctx, 2, ss, r + ny), *dcT = lstm ? th_tensor(ctx, 2, ss, r + ny + nh) : NULL;
    ax_rnn_weights w = gc_weights(p, x);
    ax_tensor *g[4] = {dx[p->ix_w], dx[p->ix_w + 1], p->bias ? dx[p->ix_w + 2] : NULL,
                       p->bias ? dx[p->ix_w + 3] : NULL};
    ax_status st = AX_OK;
    for (int k = 0; k < 4 && st == AX_OK; k++)
        if (g[k]) /* the weight gradients accumulate */
            st = ax_fill(ctx, g[k], 0.0f);
    ax_rnn_grads dw = {g[0], g[1], g[2], g[3]};
    ax_tensor *dc0 = p->ix_c0 >= 0 ? dx[p->ix_c0] : NULL;
    ax_rnn_desc d = {p->mode, p->reverse, p->y_offset, 0};
    if (st == AX_OK)
        st = p->cell ? ax_rnn_cell_backward(ctx, p->mode, x[0], &w, p->reserve, dhT, dcT, 0,
                                            dx[0], dx[1], dc0, &dw)
                     : ax_rnn_backward(ctx, &d, p->S, x[0], &w, p->reserve, dyt, dhT, dcT,
                                       dx[0], dx[1], dc0, &dw);
    if (st == AX_OK && p->plant == GC_PLANT_FORGET_GRAD) {
        for (int k = 0; k < 2; k++)
            if (g[k]) {
                float *v = ax_tensor_data(g[k]);
                const int64_t cols = ax_tensor_dim(g[k], 1);
                memset(v + p->H * cols, 0, (size_t)(p->H * cols) * sizeof(float));
            }
    } else if (st == AX_OK && p->plant == GC_PLANT_CELL_CARRY && dc0) {
        st = ax_fill(ctx, dc0, 0.0f);
    } else if (st == AX_OK && p->plant == GC_PLANT_SCALE) {
        for (int i = 0; i < op->n_inputs && st == AX_OK; i++)
            if (dx[i])
                st = ax_scale(ctx, 1.01f, dx[i], dx[i]);
    }
    ax_tensor_destroy(dyt), ax_tensor_destroy(dhT), ax_tensor_destroy(dcT);
    return st;
}

/* ReLU: inputs redrawn (seed + 1000 k) until every pre-activation of the forward is at least
 * `margin` from 0, so no central difference (steps of 1e-2 relative) straddles the kink
 * (0.015: about 6% of the draws of an N = 3, H = 7, 5-step case qualify). */
static int rnn_relu_margin(ax_ctx *ctx, gc_op *op, const rnn_gc *p, float margin);

static void add_in(gc_op *op, const char *name, ax_tensor *t) {
    op->x_name[op->n_inputs] = name;
    op->wrt[op->n_inputs] = 1;
    op->x[op->n_inputs++] = t;
}

/* A gradcheck op over p (filled here: indices, reserve), inputs drawn from seed. */
static gc_op rnn_gc_op(ax_ctx *ctx, rnn_gc *p, const char *name, uint64_t seed) {
    const int64_t G = ax_rnn_gate_count(p->mode), H = p->H, N = p->N;
    gc_op op;
    memset(&op, 0, sizeof op);
    op.name = name;
    op.forward = gc_rnn_fwd;
    op.backward = gc_rnn_bwd;
    op.params = p;
    int64_t xs[3] = {p->T, N, p->in}, ss[2] = {N, H}, wi[2] = {G * H, p->in}, wh[2] = {G * H, H};
    int64_t bs[1] = {G * H};
    if (p->cell)
        xs[0] = N, xs[1] = p->in;
    add_in(&op, "x", th_random_tensor(ctx, p->cell ? 2 : 3, xs, seed, -1, 1, 0));
    add_in(&op, "h0", th_random_tensor(ctx, 2, ss, seed + 1, -1, 1, 0));
    p->ix_c0 = -1;
    if (p->mode == AX_RNN_LSTM) {
        p->ix_c0 = op.n_inputs;
        add_in(&op, "c0", th_random_tensor(ctx, 2, ss, seed + 2, -1, 1, 0));
    }
    p->ix_w = op.n_inputs;
    add_in(&op, "w_ih", th_random_tensor(ctx, 2, wi, seed + 3, -0.5f, 0.5f, 0));
    add_in(&op, "w_hh", th_random_tensor(ctx, 2, wh, seed + 4, -0.5f, 0.5f, 0));
    if (p->bias) {
        add_in(&op, "b_ih", th_random_tensor(ctx, 1, bs, seed + 5, -0.5f, 0.5f, 0));
        add_in(&op, "b_hh", th_random_tensor(ctx, 1, bs, seed + 6, -0.5f, 0.5f, 0));
    }
    p->reserve = reserve_for(ctx, p->mode, p->T, N, H);
    op.y_ndim = 1;
    op.y_shape[0] = gc_seq_numel(p) + (p->mode == AX_RNN_LSTM ? 2 : 1) * N * H;
    if (p->mode == AX_RNN_RELU)
        for (uint64_t k = 1; !rnn_relu_margin(ctx, &op, p, 0.015f); k++) {
            cr_assert(k < 1000, "%s: no draw keeps ReLU's pre-activations off the kink", name);
            for (int i = 0; i < op.n_inputs; i++) {
                float *v = ax_tensor_data(op.x[i]);
                const int64_t n = ax_tensor_numel(op.x[i]);
                th_random(v, n, seed + 1000 * k + (uint64_t)i, i < p->ix_w ? -1 : -0.5f,
                          i < p->ix_w ? 1 : 0.5f);
            }
        }
    return op;
}

/* The pre-activations of the ReLU forward are recomputed here from its outputs: a = h' where
 * h' > 0; where h' = 0 the pre-activation is a = W_ih x + b_ih + W_hh h + b_hh, computed in
 * double from the inputs (h from the previous step's output). */
static int rnn_relu_margin(ax_ctx *ctx, gc_op *op, const rnn_gc *p, float margin) {
    const int64_t N = p->N, H = p->H, in = p->in, steps = p->cell ? 1 : p->S;
    float *y = th_nan_buffer(op->y_shape[0]);
    ax_tensor *yt = th_tensor(ctx, 1, op->y_shape, y);
    AX_ASSERT_OK(gc_rnn_fwd(op, ctx, op->x, yt));
    const float *out = ax_tensor_const_data(yt);
    const float *x = ax_tensor_const_data(op->x[0]), *h0 = ax_tensor_const_data(op->x[1]);
    const float *wi = ax_tensor_const_data(op->x[p->ix_w]);
    const float *wh = ax_tensor_const_data(op->x[p->ix_w + 1]);
    const float *bi = p->bias ? ax_tensor_const_data(op->x[p->ix_w + 2]) : NULL;
    const float *bh = p->bias ? ax_tensor_const_data(op->x[p->ix_w + 3]) : NULL;
    int ok = 1;
    for (int64_t k = 0; k < steps && ok; k++) {
        const int64_t t = p->reverse ? steps - 1 - k : k;
        for (int64_t b = 0; b < N && ok; b++) {
            const float *hp = k == 0 ? h0 + b * H
                                     : out + ((p->reverse ? t + 1 : t - 1) * N + b) * p->Y +
                                           p->y_offset;
            for (int64_t j = 0; j < H && ok; j++) {
                double a = (bi ? bi[j] : 0.0) + (bh ? bh[j] : 0.0);
                for (int64_t i = 0; i < in; i++)
                    a += (double)wi[j * in + i] * x[(t * N + b) * in + i];
                for (int64_t i = 0; i < H; i++)
                    a += (double)wh[j * H + i] * hp[i];
                ok = fabs(a) >= margin;
            }
        }
    }
    ax_tensor_destroy(yt);
    free(y);
    return ok;
}

static void gc_free(gc_op *op, rnn_gc *p) {
    gc_op_free(op);
    ax_tensor_destroy(p->reserve);
}

/* Each cell and four sequences (forward and reverse; N = 1, H = 1 and N = 3, H = 7; T = 6 with
 * a seq_len of 5 on two of them; the reverse ones at a column offset of a wider y). */
static void gradcheck_mode(int m) {
    ax_ctx *ctx = th_cpu_ctx();
    char name[96];
    rnn_gc cell = {.mode = kModes[m], .cell = 1, .bias = 1, .T = 1, .S = 1, .N = 3, .in = 4,
                   .H = 5, .Y = 5};
    snprintf(name, sizeof name, "%s cell", kModeNames[m]);
    gc_op op = rnn_gc_op(ctx, &cell, name, 100 + 10 * (uint64_t)m);
    gc_assert(ctx, &op, 7);
    gc_free(&op, &cell);
    const struct {
        int reverse, bias;
        int64_t T, S, N, in, H, Y, off;
    } seqs[] = {
        {0, 1, 6, 6, 1, 2, 1, 1, 0},
        {1, 1, 6, 5, 1, 3, 1, 3, 2},
        {0, 0, 6, 5, 3, 4, 7, 7, 0},
        {1, 1, 5, 5, 3, 4, 7, 14, 7},
    };
    for (int i = 0; i < 4; i++) {
        rnn_gc p = {.mode = kModes[m], .reverse = seqs[i].reverse, .bias = seqs[i].bias,
                    .T = seqs[i].T, .S = seqs[i].S, .N = seqs[i].N, .in = seqs[i].in,
                    .H = seqs[i].H, .Y = seqs[i].Y, .y_offset = seqs[i].off};
        snprintf(name, sizeof name, "%s seq %s T=%lld S=%lld N=%lld H=%lld%s", kModeNames[m],
                 p.reverse ? "reverse" : "forward", (long long)p.T, (long long)p.S,
                 (long long)p.N, (long long)p.H, p.bias ? "" : " no bias");
        op = rnn_gc_op(ctx, &p, name, 200 + 10 * (uint64_t)m + 100 * (uint64_t)i);
        gc_assert(ctx, &op, 8 + (uint64_t)i);
        gc_free(&op, &p);
    }
    ax_ctx_destroy(ctx);
}

Test(rnn_gradcheck, tanh) { gradcheck_mode(0); }
Test(rnn_gradcheck, relu) { gradcheck_mode(1); }
Test(rnn_gradcheck, lstm) { gradcheck_mode(2); }
Test(rnn_gradcheck, gru) { gradcheck_mode(3); }
Test(rnn_gradcheck, gru_textbook) { gradcheck_mode(4); }

/* Errors planted in the backward (a dropped forget-gate gradient, the cell carry to the
 * previous step dropped, everything 1% too large) fail the check of an LSTM sequence; the
 * unmodified one passes (checked first). */
Test(rnn_gradcheck, planted_errors_are_caught) {
    ax_ctx *ctx = th_cpu_ctx();
    const gc_plant plants[] = {GC_PLANT_FORGET_GRAD, GC_PLANT_CELL_CARRY, GC_PLANT_SCALE};
    for (int i = 0; i < 3; i++) {
        rnn_gc p = {.mode = AX_RNN_LSTM, .bias = 1, .T = 5, .S = 5, .N = 2, .in = 3, .H = 4,
                    .Y = 4};
        gc_op op = rnn_gc_op(ctx, &p, "lstm seq (planted)", 900);
        gc_result good = gc_check(ctx, &op, 11, gc_default_tolerance());
        cr_assert(good.ok, "unmodified: %s", good.message);
        p.plant = plants[i];
        gc_result bad = gc_check(ctx, &op, 11, gc_default_tolerance());
        cr_assert(!bad.ok && bad.status == AX_OK && bad.worst > 1.0,
                  "planted error %d passed: %s", (int)plants[i], bad.message);
        cr_log_info("planted %d caught: %s", (int)plants[i], bad.message);
        gc_free(&op, &p);
    }
    ax_ctx_destroy(ctx);
}
