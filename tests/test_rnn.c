/* The recurrent ops (ax_rnn_*): PyTorch golden cases (tests/golden/gen_rnn.py) with layers and
 * directions composed here as the graph layer will, gradient checks of every cell and of whole
 * sequences, planted errors each of those must catch, extremes (saturation, NaN, Inf, T = 1,
 * a shorter last sequence, states carried in place, the gates' tanh at its edges), bad input,
 * and GPU parity with the CPU reference (skipped where no GPU works). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "gradcheck.h"
#include "helpers.h"
#include "host/common/rnn_step.h"
#include "../src/host/core/internal.h" /* a view into a tensor's tail */

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
            ax_tensor *hT = th_nan_tensor(ctx, 2, ss),
                      *cT = lstm ? th_nan_tensor(ctx, 2, ss) : NULL;
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
            ax_tensor *dh0 = th_nan_tensor(ctx, 2, ss),
                      *dc0 = lstm ? th_nan_tensor(ctx, 2, ss) : NULL;
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
    ax_tensor *dhT = th_tensor(ctx, 2, ss, r + ny),
              *dcT = lstm ? th_tensor(ctx, 2, ss, r + ny + nh) : NULL;
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

/* A bidirectional layer as the graph will compose it: the forward direction writes columns
 * 0..H of y [T, N, 2H], the reverse one H..2H, and the backward of both accumulates one dx
 * (accumulate_dx). Inputs x, h0 of each direction, W_ih and W_hh of each (no biases: eight
 * inputs at most); outputs y, then each direction's hT. */
typedef struct bidir_gc {
    ax_rnn_mode mode;
    int64_t T, N, in, H;
    ax_tensor *reserve[2];
} bidir_gc;

static ax_status bidir_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    const bidir_gc *p = op->params;
    int64_t ys[3] = {p->T, p->N, 2 * p->H}, ss[2] = {p->N, p->H};
    ax_tensor *yt = zeros(ctx, 3, ys), *hT = th_nan_tensor(ctx, 2, ss);
    float *out = ax_tensor_data(y);
    const int64_t ny = p->T * p->N * 2 * p->H, nh = p->N * p->H;
    ax_status st = AX_OK;
    for (int d = 0; d < 2 && st == AX_OK; d++) {
        ax_rnn_weights w = {x[3 + 2 * d], x[4 + 2 * d], NULL, NULL};
        ax_rnn_desc desc = {p->mode, d, d * p->H, 0};
        st = ax_rnn_forward(ctx, &desc, p->T, x[0], x[1 + d], NULL, &w, yt, hT, NULL,
                            p->reserve[d]);
        if (st == AX_OK)
            st = ax_tensor_to_host(hT, out + ny + d * nh, (size_t)nh * sizeof(float));
    }
    if (st == AX_OK)
        st = ax_tensor_to_host(yt, out, (size_t)ny * sizeof(float));
    ax_tensor_destroy(yt), ax_tensor_destroy(hT);
    return st;
}

static ax_status bidir_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                           const ax_tensor *dy, ax_tensor *const *dx) {
    (void)y;
    const bidir_gc *p = op->params;
    const float *r = ax_tensor_const_data(dy);
    const int64_t ny = p->T * p->N * 2 * p->H, nh = p->N * p->H;
    int64_t ys[3] = {p->T, p->N, 2 * p->H}, ss[2] = {p->N, p->H};
    ax_tensor *dyt = th_tensor(ctx, 3, ys, r);
    ax_status st = dx[0] ? ax_fill(ctx, dx[0], 0.0f) : AX_OK;
    for (int d = 0; d < 2 && st == AX_OK; d++) {
        ax_tensor *dhT = th_tensor(ctx, 2, ss, r + ny + d * nh);
        ax_tensor *g[2] = {dx[3 + 2 * d], dx[4 + 2 * d]};
        for (int k = 0; k < 2 && st == AX_OK; k++)
            if (g[k])
                st = ax_fill(ctx, g[k], 0.0f);
        ax_rnn_weights w = {x[3 + 2 * d], x[4 + 2 * d], NULL, NULL};
        ax_rnn_grads dw = {g[0], g[1], NULL, NULL};
        ax_rnn_desc desc = {p->mode, d, d * p->H, 1};
        if (st == AX_OK)
            st = ax_rnn_backward(ctx, &desc, p->T, x[0], &w, p->reserve[d], dyt, dhT, NULL,
                                 dx[0], dx[1 + d], NULL, &dw);
        ax_tensor_destroy(dhT);
    }
    ax_tensor_destroy(dyt);
    return st;
}

Test(rnn_gradcheck, bidirectional_layer) {
    ax_ctx *ctx = th_cpu_ctx();
    const ax_rnn_mode modes[] = {AX_RNN_GRU, AX_RNN_TANH, AX_RNN_GRU_TEXTBOOK};
    for (int m = 0; m < 3; m++) {
        bidir_gc p = {modes[m], 5, 2, 3, 4, {NULL, NULL}};
        const int64_t G = ax_rnn_gate_count(p.mode);
        int64_t xs[3] = {5, 2, 3}, ss[2] = {2, 4}, wi[2] = {G * 4, 3}, wh[2] = {G * 4, 4};
        gc_op op;
        memset(&op, 0, sizeof op);
        op.name = "bidirectional layer";
        op.forward = bidir_fwd;
        op.backward = bidir_bwd;
        op.params = &p;
        const uint64_t seed = 700 + 10 * (uint64_t)m;
        add_in(&op, "x", th_random_tensor(ctx, 3, xs, seed, -1, 1, 0));
        add_in(&op, "h0 forward", th_random_tensor(ctx, 2, ss, seed + 1, -1, 1, 0));
        add_in(&op, "h0 reverse", th_random_tensor(ctx, 2, ss, seed + 2, -1, 1, 0));
        for (int d = 0; d < 2; d++) {
            add_in(&op, d ? "w_ih reverse" : "w_ih forward",
                   th_random_tensor(ctx, 2, wi, seed + 3 + (uint64_t)d, -0.5f, 0.5f, 0));
            add_in(&op, d ? "w_hh reverse" : "w_hh forward",
                   th_random_tensor(ctx, 2, wh, seed + 5 + (uint64_t)d, -0.5f, 0.5f, 0));
            p.reserve[d] = reserve_for(ctx, p.mode, 5, 2, 4);
        }
        op.y_ndim = 1;
        op.y_shape[0] = 5 * 2 * 8 + 2 * 8;
        gc_assert(ctx, &op, 13);
        gc_op_free(&op);
        ax_tensor_destroy(p.reserve[0]), ax_tensor_destroy(p.reserve[1]);
    }
    ax_ctx_destroy(ctx);
}

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

/* ---------------------------------------------------------------- whole runs on any device */

typedef struct seq_cfg {
    ax_rnn_mode mode;
    int reverse, bias;
    int64_t T, S, N, in, H, Y, off;
} seq_cfg;

/* Host inputs of a run (c0, dcT: LSTM only; biases when cfg.bias). */
typedef struct seq_host {
    float *x, *h0, *c0, *wih, *whh, *bih, *bhh, *dy, *dhT, *dcT;
} seq_host;

/* Host outputs of a run: y [T, N, Y] (unwritten parts NaN), hT, cT, and every gradient. */
typedef struct seq_out {
    float *y, *hT, *cT, *dx, *dh0, *dc0, *dwih, *dwhh, *dbih, *dbhh;
} seq_out;

static float *rnd_host(int64_t n, uint64_t seed, float lo, float hi) {
    float *v = malloc((size_t)n * sizeof *v);
    cr_assert(v);
    th_random(v, n, seed, lo, hi);
    return v;
}

static seq_host seq_inputs(const seq_cfg *c, uint64_t seed) {
    const int64_t GH = ax_rnn_gate_count(c->mode) * c->H, nh = c->N * c->H;
    const int lstm = c->mode == AX_RNN_LSTM;
    const float a = 1.0f / sqrtf((float)c->H); /* PyTorch's initialisation range */
    seq_host h = {
        rnd_host(c->T * c->N * c->in, seed, -1, 1), rnd_host(nh, seed + 1, -1, 1),
        lstm ? rnd_host(nh, seed + 2, -1, 1) : NULL, rnd_host(GH * c->in, seed + 3, -a, a),
        rnd_host(GH * c->H, seed + 4, -a, a), c->bias ? rnd_host(GH, seed + 5, -a, a) : NULL,
        c->bias ? rnd_host(GH, seed + 6, -a, a) : NULL,
        rnd_host(c->T * c->N * c->Y, seed + 7, -1, 1), rnd_host(nh, seed + 8, -1, 1),
        lstm ? rnd_host(nh, seed + 9, -1, 1) : NULL};
    return h;
}

static void seq_host_free(seq_host *h) {
    float *p[] = {h->x, h->h0, h->c0, h->wih, h->whh, h->bih, h->bhh, h->dy, h->dhT, h->dcT};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
}

static void seq_out_free(seq_out *o) {
    float *p[] = {o->y, o->hT, o->cT, o->dx, o->dh0, o->dc0, o->dwih, o->dwhh, o->dbih, o->dbhh};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
}

static ax_tensor *maybe(ax_ctx *ctx, int ndim, const int64_t *shape, const float *data) {
    return data ? th_tensor(ctx, ndim, shape, data) : NULL;
}

static float *host_or_null(const ax_tensor *t) { return t ? th_to_host(t) : NULL; }

/* Forward and backward of one layer and direction on ctx: outputs NaN-filled first, weight
 * gradients zeroed (they accumulate), dx overwritten. */
static seq_out seq_run(ax_ctx *ctx, const seq_cfg *c, const seq_host *in) {
    const int64_t GH = ax_rnn_gate_count(c->mode) * c->H;
    const int lstm = c->mode == AX_RNN_LSTM;
    int64_t xs[3] = {c->T, c->N, c->in}, ys[3] = {c->T, c->N, c->Y}, ss[2] = {c->N, c->H};
    int64_t wis[2] = {GH, c->in}, whs[2] = {GH, c->H}, bs[1] = {GH};
    ax_tensor *x = th_tensor(ctx, 3, xs, in->x), *h0 = th_tensor(ctx, 2, ss, in->h0);
    ax_tensor *c0 = maybe(ctx, 2, ss, in->c0), *wih = th_tensor(ctx, 2, wis, in->wih);
    ax_tensor *whh = th_tensor(ctx, 2, whs, in->whh), *bih = maybe(ctx, 1, bs, in->bih);
    ax_tensor *bhh = maybe(ctx, 1, bs, in->bhh), *dy = th_tensor(ctx, 3, ys, in->dy);
    ax_tensor *dhT = th_tensor(ctx, 2, ss, in->dhT), *dcT = maybe(ctx, 2, ss, in->dcT);
    ax_tensor *y = th_nan_tensor(ctx, 3, ys), *hT = th_nan_tensor(ctx, 2, ss);
    ax_tensor *cT = lstm ? th_nan_tensor(ctx, 2, ss) : NULL, *dx = th_nan_tensor(ctx, 3, xs);
    ax_tensor *dh0 = th_nan_tensor(ctx, 2, ss), *dc0 = lstm ? th_nan_tensor(ctx, 2, ss) : NULL;
    ax_tensor *dwih = zeros(ctx, 2, wis), *dwhh = zeros(ctx, 2, whs);
    ax_tensor *dbih = c->bias ? zeros(ctx, 1, bs) : NULL,
              *dbhh = c->bias ? zeros(ctx, 1, bs) : NULL;
    ax_tensor *res = reserve_for(ctx, c->mode, c->T, c->N, c->H);
    ax_rnn_weights w = {wih, whh, bih, bhh};
    ax_rnn_grads g = {dwih, dwhh, dbih, dbhh};
    ax_rnn_desc d = {c->mode, c->reverse, c->off, 0};
    AX_ASSERT_OK(ax_rnn_forward(ctx, &d, c->S, x, h0, c0, &w, y, hT, cT, res));
    AX_ASSERT_OK(ax_rnn_backward(ctx, &d, c->S, x, &w, res, dy, dhT, dcT, dx, dh0, dc0, &g));
    seq_out o = {th_to_host(y),    th_to_host(hT),   host_or_null(cT),   th_to_host(dx),
                 th_to_host(dh0),  host_or_null(dc0), th_to_host(dwih),  th_to_host(dwhh),
                 host_or_null(dbih), host_or_null(dbhh)};
    ax_tensor *all[] = {x,  h0, c0, wih, whh, bih, bhh,  dy,   dhT,  dcT, y,   hT,
                        cT, dx, dh0, dc0, dwih, dwhh, dbih, dbhh, res};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ax_tensor_destroy(all[i]);
    return o;
}

/* The written part of y (columns off .. off + H of rows t < S) and every other output. */
static void seq_compare(const seq_cfg *c, const seq_out *got, const seq_out *ref, double atol,
                        double rtol, const char *what) {
    const int64_t GH = ax_rnn_gate_count(c->mode) * c->H, nh = c->N * c->H;
    char m[160];
    for (int64_t r = 0; r < c->S * c->N; r++) {
        snprintf(m, sizeof m, "%s: y row %lld", what, (long long)r);
        th_assert_close(got->y + r * c->Y + c->off, ref->y + r * c->Y + c->off, c->H, atol, rtol,
                        m);
    }
    const struct {
        const char *name;
        const float *g, *r;
        int64_t n;
    } parts[] = {
        {"hT", got->hT, ref->hT, nh},          {"cT", got->cT, ref->cT, nh},
        {"dx", got->dx, ref->dx, c->T * c->N * c->in},
        {"dh0", got->dh0, ref->dh0, nh},       {"dc0", got->dc0, ref->dc0, nh},
        {"dw_ih", got->dwih, ref->dwih, GH * c->in}, {"dw_hh", got->dwhh, ref->dwhh, GH * c->H},
        {"db_ih", got->dbih, ref->dbih, GH},   {"db_hh", got->dbhh, ref->dbhh, GH},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        cr_assert((parts[i].g == NULL) == (parts[i].r == NULL));
        if (!parts[i].g)
            continue;
        snprintf(m, sizeof m, "%s: %s", what, parts[i].name);
        th_assert_close(parts[i].g, parts[i].r, parts[i].n, atol, rtol, m);
    }
}

/* ---------------------------------------------------------------- semantics */

/* seq_len < T: the same as a run over the first seq_len steps; rows t >= seq_len of y keep
 * their NaN, dx there is 0. Forward and reverse, every mode. */
Test(rnn_seq, shorter_sequence_matches_truncated_input) {
    ax_ctx *ctx = th_cpu_ctx();
    for (int m = 0; m < MODES; m++)
        for (int rev = 0; rev < 2; rev++) {
            seq_cfg full = {kModes[m], rev, 1, 7, 4, 3, 5, 6, 9, 2};
            seq_cfg part = full;
            part.T = part.S = 4;
            seq_host in = seq_inputs(&full, 3000 + 10 * (uint64_t)m + (uint64_t)rev);
            seq_out a = seq_run(ctx, &full, &in), b = seq_run(ctx, &part, &in);
            seq_compare(&part, &a, &b, 1e-6, 1e-5, kModeNames[m]);
            for (int64_t e = 4 * 3 * 9; e < 7 * 3 * 9; e++)
                cr_assert(isnan(a.y[e]), "%s: y[%lld] written beyond seq_len", kModeNames[m],
                          (long long)e);
            for (int64_t e = 4 * 3 * 5; e < 7 * 3 * 5; e++)
                cr_assert(a.dx[e] == 0.0f, "%s: dx[%lld] = %g beyond seq_len", kModeNames[m],
                          (long long)e, (double)a.dx[e]);
            seq_out_free(&a), seq_out_free(&b);
            seq_host_free(&in);
        }
    ax_ctx_destroy(ctx);
}

/* A cell is a sequence of one step: the same h', c' and gradients. */
Test(rnn_seq, one_step_equals_cell) {
    ax_ctx *ctx = th_cpu_ctx();
    for (int m = 0; m < MODES; m++) {
        const ax_rnn_mode mode = kModes[m];
        const int lstm = mode == AX_RNN_LSTM;
        seq_cfg c = {mode, 0, 1, 1, 1, 3, 4, 5, 5, 0};
        seq_host in = seq_inputs(&c, 3100 + (uint64_t)m);
        seq_out s = seq_run(ctx, &c, &in);
        const int64_t GH = ax_rnn_gate_count(mode) * 5;
        int64_t xs[2] = {3, 4}, ss[2] = {3, 5}, wis[2] = {GH, 4}, whs[2] = {GH, 5}, bs[1] = {GH};
        ax_tensor *x = th_tensor(ctx, 2, xs, in.x), *h = th_tensor(ctx, 2, ss, in.h0);
        ax_tensor *cc = maybe(ctx, 2, ss, in.c0), *wih = th_tensor(ctx, 2, wis, in.wih);
        ax_tensor *whh = th_tensor(ctx, 2, whs, in.whh), *bih = th_tensor(ctx, 1, bs, in.bih);
        ax_tensor *bhh = th_tensor(ctx, 1, bs, in.bhh);
        /* the cell's dh_out is dy + dhT of the sequence */
        float dho[15];
        for (int i = 0; i < 15; i++)
            dho[i] = in.dy[i] + in.dhT[i];
        ax_tensor *dh_out = th_tensor(ctx, 2, ss, dho), *dc_out = maybe(ctx, 2, ss, in.dcT);
        ax_tensor *ho = th_nan_tensor(ctx, 2, ss), *co = lstm ? th_nan_tensor(ctx, 2, ss) : NULL;
        ax_tensor *dx = th_nan_tensor(ctx, 2, xs), *dh = th_nan_tensor(ctx, 2, ss);
        ax_tensor *dc = lstm ? th_nan_tensor(ctx, 2, ss) : NULL;
        ax_tensor *dwih = zeros(ctx, 2, wis), *dwhh = zeros(ctx, 2, whs);
        ax_tensor *dbih = zeros(ctx, 1, bs), *dbhh = zeros(ctx, 1, bs);
        ax_tensor *res = reserve_for(ctx, mode, 1, 3, 5);
        ax_rnn_weights w = {wih, whh, bih, bhh};
        ax_rnn_grads g = {dwih, dwhh, dbih, dbhh};
        AX_ASSERT_OK(ax_rnn_cell_forward(ctx, mode, x, h, cc, &w, ho, co, res));
        AX_ASSERT_OK(
            ax_rnn_cell_backward(ctx, mode, x, &w, res, dh_out, dc_out, 0, dx, dh, dc, &g));
        seq_out o = {th_to_host(ho), th_to_host(ho), host_or_null(co), th_to_host(dx),
                     th_to_host(dh), host_or_null(dc), th_to_host(dwih), th_to_host(dwhh),
                     th_to_host(dbih), th_to_host(dbhh)};
        memcpy(o.y, s.y, 15 * sizeof(float)); /* compared through hT */
        seq_compare(&c, &o, &s, 1e-6, 1e-6, kModeNames[m]);
        th_assert_close(s.y, s.hT, 15, 0, 0, "y of the single step is hT");
        seq_out_free(&o), seq_out_free(&s);
        seq_host_free(&in);
        ax_tensor *all[] = {x, h, cc, wih, whh, bih, bhh, dh_out, dc_out, ho, co, dx, dh, dc,
                            dwih, dwhh, dbih, dbhh, res};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            ax_tensor_destroy(all[i]);
    }
    ax_ctx_destroy(ctx);
}

/* States carried in place (truncated BPTT): two calls of 3 steps with hT aliasing h0 and cT
 * aliasing c0 give the 6-step call's y and final state; a backward run twice on the same
 * reserve doubles the accumulated weight gradients and an accumulate_dx dx, and gives the same
 * dh0 (overwritten). */
Test(rnn_seq, carried_state_and_accumulation) {
    ax_ctx *ctx = th_cpu_ctx();
    for (int m = 0; m < MODES; m++) {
        const ax_rnn_mode mode = kModes[m];
        const int lstm = mode == AX_RNN_LSTM;
        seq_cfg c = {mode, 0, 1, 6, 6, 2, 3, 4, 4, 0};
        seq_host in = seq_inputs(&c, 3200 + (uint64_t)m);
        seq_out full = seq_run(ctx, &c, &in);
        const int64_t GH = ax_rnn_gate_count(mode) * 4;
        int64_t xs[3] = {3, 2, 3}, ys[3] = {3, 2, 4}, ss[2] = {2, 4}, wis[2] = {GH, 3};
        int64_t whs[2] = {GH, 4}, bs[1] = {GH};
        ax_tensor *h = th_tensor(ctx, 2, ss, in.h0), *cc = maybe(ctx, 2, ss, in.c0);
        ax_tensor *wih = th_tensor(ctx, 2, wis, in.wih), *whh = th_tensor(ctx, 2, whs, in.whh);
        ax_tensor *bih = th_tensor(ctx, 1, bs, in.bih), *bhh = th_tensor(ctx, 1, bs, in.bhh);
        ax_tensor *res = reserve_for(ctx, mode, 3, 2, 4), *y = th_nan_tensor(ctx, 3, ys);
        ax_rnn_weights w = {wih, whh, bih, bhh};
        ax_rnn_desc d = {mode, 0, 0, 0};
        for (int half = 0; half < 2; half++) {
            ax_tensor *x = th_tensor(ctx, 3, xs, in.x + half * 3 * 2 * 3);
            AX_ASSERT_OK(ax_rnn_forward(ctx, &d, 3, x, h, cc, &w, y, h, cc, res));
            float *yh = th_to_host(y);
            th_assert_close(yh, full.y + half * 3 * 2 * 4, 3 * 2 * 4, 1e-6, 1e-5, "y of a half");
            free(yh);
            ax_tensor_destroy(x);
        }
        float *hh = th_to_host(h);
        th_assert_close(hh, full.hT, 8, 1e-6, 1e-5, "hT carried in place");
        free(hh);
        if (lstm) {
            float *ch = th_to_host(cc);
            th_assert_close(ch, full.cT, 8, 1e-6, 1e-5, "cT carried in place");
            free(ch);
        }
        /* backward twice on the last half's reserve */
        ax_tensor *x = th_tensor(ctx, 3, xs, in.x + 3 * 2 * 3), *dy = th_tensor(ctx, 3, ys, in.dy);
        ax_tensor *dx = zeros(ctx, 3, xs), *dh0 = th_nan_tensor(ctx, 2, ss);
        ax_tensor *dwih = zeros(ctx, 2, wis), *dwhh = zeros(ctx, 2, whs);
        ax_tensor *dbih = zeros(ctx, 1, bs), *dbhh = zeros(ctx, 1, bs);
        ax_rnn_grads g = {dwih, dwhh, dbih, dbhh};
        ax_tensor *gs[5] = {dx, dwih, dwhh, dbih, dbhh};
        float *once[5], *dh_once = NULL;
        ax_rnn_desc da = {mode, 0, 0, 1};
        for (int rep = 0; rep < 2; rep++) {
            AX_ASSERT_OK(
                ax_rnn_backward(ctx, &da, 3, x, &w, res, dy, NULL, NULL, dx, dh0, NULL, &g));
            if (rep == 0) {
                for (int k = 0; k < 5; k++)
                    once[k] = th_to_host(gs[k]);
                dh_once = th_to_host(dh0);
                continue;
            }
            for (int k = 0; k < 5; k++) {
                float *twice = th_to_host(gs[k]);
                const int64_t n = ax_tensor_numel(gs[k]);
                for (int64_t e = 0; e < n; e++)
                    cr_assert(twice[e] == 2.0f * once[k][e], "%s: gradient %d[%lld] = %g, once %g",
                              kModeNames[m], k, (long long)e, (double)twice[e],
                              (double)once[k][e]);
                free(twice);
                free(once[k]);
            }
            float *dh_twice = th_to_host(dh0);
            th_assert_equal(dh_twice, dh_once, 8, "dh0 is overwritten");
            free(dh_twice), free(dh_once);
        }
        ax_tensor *all[] = {h, cc, wih, whh, bih, bhh, res, y, x, dy, dx, dh0, dwih, dwhh, dbih,
                            dbhh};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            ax_tensor_destroy(all[i]);
        seq_out_free(&full);
        seq_host_free(&in);
    }
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- extremes */

/* Huge pre-activations (weights of +-1e4) saturate every sigmoid and tanh: outputs and
 * gradients stay finite. x = +-Inf through positive input weights gives gates at exactly 0
 * or 1 and finite states. (ReLU is unbounded, so it has neither property.) */
Test(rnn_extremes, saturation_and_infinite_input) {
    ax_ctx *ctx = th_cpu_ctx();
    for (int m = 0; m < MODES; m++) {
        if (kModes[m] == AX_RNN_RELU)
            continue;
        seq_cfg c = {kModes[m], m % 2, 1, 6, 6, 2, 3, 4, 4, 0};
        seq_host in = seq_inputs(&c, 3300 + (uint64_t)m);
        const int64_t GH = ax_rnn_gate_count(c.mode) * 4;
        for (int64_t i = 0; i < GH * 3; i++)
            in.wih[i] *= 4e4f;
        for (int64_t i = 0; i < GH * 4; i++)
            in.whh[i] *= 4e4f;
        seq_out o = seq_run(ctx, &c, &in);
        const float *v[] = {o.y, o.hT, o.dx, o.dh0, o.dwih, o.dwhh, o.dbih, o.dbhh};
        const int64_t n[] = {6 * 2 * 4, 8, 6 * 2 * 3, 8, GH * 3, GH * 4, GH, GH};
        for (int k = 0; k < 8; k++)
            for (int64_t e = 0; e < n[k]; e++)
                cr_assert(isfinite(v[k][e]), "%s saturated: output %d[%lld] = %g",
                          kModeNames[m], k, (long long)e, (double)v[k][e]);
        seq_out_free(&o);
        /* x = +Inf, then -Inf, one input feature, positive input weights */
        for (int s = 0; s < 2; s++) {
            seq_cfg c1 = c;
            c1.in = 1;
            seq_host i1 = seq_inputs(&c1, 3400 + (uint64_t)m);
            for (int64_t e = 0; e < 6 * 2; e++)
                i1.x[e] = s ? -INFINITY : INFINITY;
            for (int64_t e = 0; e < GH; e++)
                i1.wih[e] = fabsf(i1.wih[e]) + 0.1f;
            seq_out o1 = seq_run(ctx, &c1, &i1);
            for (int64_t e = 0; e < 6 * 2 * 4; e++)
                cr_assert(isfinite(o1.y[e]), "%s, x = %cInf: y[%lld] = %g", kModeNames[m],
                          s ? '-' : '+', (long long)e, (double)o1.y[e]);
            seq_out_free(&o1);
            seq_host_free(&i1);
        }
        seq_host_free(&in);
    }
    ax_ctx_destroy(ctx);
}

/* A NaN in one row of x makes that row's outputs NaN from its step on (in the direction of
 * the run) and leaves the other rows finite. */
Test(rnn_extremes, nan_propagates) {
    ax_ctx *ctx = th_cpu_ctx();
    for (int m = 0; m < MODES; m++)
        for (int rev = 0; rev < 2; rev++) {
            seq_cfg c = {kModes[m], rev, 1, 5, 5, 3, 2, 4, 4, 0};
            seq_host in = seq_inputs(&c, 3500 + (uint64_t)m);
            in.x[(2 * 3 + 1) * 2] = NAN; /* t = 2, row 1 */
            seq_out o = seq_run(ctx, &c, &in);
            for (int64_t t = 0; t < 5; t++)
                for (int64_t b = 0; b < 3; b++)
                    for (int64_t j = 0; j < 4; j++) {
                        const float v = o.y[(t * 3 + b) * 4 + j];
                        const int after = rev ? t <= 2 : t >= 2;
                        cr_assert(b == 1 && after ? isnan(v) : isfinite(v),
                                  "%s %s: y[%lld, %lld, %lld] = %g", kModeNames[m],
                                  rev ? "reverse" : "forward", (long long)t, (long long)b,
                                  (long long)j, (double)v);
                    }
            seq_out_free(&o);
            seq_host_free(&in);
        }
    ax_ctx_destroy(ctx);
}

/* ax_rnn_tanh (src/host/common/rnn_step.h, the tanh of both backends' gates: a Taylor
 * polynomial below |x| = 1/4, 1 - 2 / (e^2x + 1) above): +-0 gives +-0, tiny x gives x, large
 * |x| and +-Inf give exactly +-1, NaN stays NaN, and 2^20 floats spread over [-20, 20] (both
 * sides of 1/4 densely) are within 10 ulp of the double tanh rounded to float. */
Test(rnn_extremes, tanh_edges_and_accuracy) {
    const float zero = ax_rnn_tanh(0.0f), mzero = ax_rnn_tanh(-0.0f);
    cr_assert(zero == 0.0f && !signbit(zero), "tanh(+0) = %g", (double)zero);
    cr_assert(mzero == 0.0f && signbit(mzero), "tanh(-0) = %g, not -0", (double)mzero);
    const float tiny[] = {1e-30f, -1e-30f, 1e-40f /* subnormal */, -3e-8f, 1e-4f};
    for (int i = 0; i < 5; i++)
        cr_assert(ax_rnn_tanh(tiny[i]) == tiny[i], "tanh(%g) = %g", (double)tiny[i],
                  (double)ax_rnn_tanh(tiny[i]));
    const float big[] = {9.1f, 10.0f, 44.0f, 45.0f, 1e30f, FLT_MAX, INFINITY};
    for (int i = 0; i < 7; i++) {
        cr_assert(ax_rnn_tanh(big[i]) == 1.0f, "tanh(%g) = %.9g", (double)big[i],
                  (double)ax_rnn_tanh(big[i]));
        cr_assert(ax_rnn_tanh(-big[i]) == -1.0f, "tanh(-%g) = %.9g", (double)big[i],
                  (double)ax_rnn_tanh(-big[i]));
    }
    cr_assert(isnan(ax_rnn_tanh(NAN)) && isnan(ax_rnn_tanh(-NAN)), "tanh(NaN) is not NaN");
    double worst = 0.0;
    float worst_x = 0.0f;
    for (int k = 0; k < (1 << 20); k++) {
        /* half the points in [-1, 1] (where the two branches meet), half in [-20, 20] */
        const double u = (k + 0.5) / (1 << 19) - 1.0;
        const float x = (float)(k % 2 ? u : 20.0 * u);
        const float want = (float)tanh((double)x), got = ax_rnn_tanh(x);
        const float a = fabsf(want);
        const double ulp = a > 0.0f ? (double)(nextafterf(a, INFINITY) - a) : 1e-45;
        const double e = fabs((double)got - tanh((double)x)) / ulp;
        if (!(e <= worst)) /* NaN counts as the worst */
            worst = e, worst_x = x;
    }
    cr_assert(worst <= 10.0, "ax_rnn_tanh is %.3g ulp off at x = %.9g", worst, (double)worst_x);
    cr_log_info("ax_rnn_tanh: worst %.2f ulp at x = %.9g", worst, (double)worst_x);
}

/* ---------------------------------------------------------------- bad input */

/* The tensors of an LSTM call (T = 4, N = 2, in = 3, H = 5) for the checks below. */
typedef struct bad_fix {
    ax_ctx *ctx;
    ax_tensor *x, *h0, *c0, *wih, *whh, *bih, *bhh, *y, *hT, *cT, *res;
    ax_tensor *dy, *dx, *dh0, *dc0, *dwih, *dwhh, *dbih, *dbhh;
    ax_rnn_weights w;
    ax_rnn_grads g;
    ax_rnn_desc d;
} bad_fix;

static bad_fix bad_make(void) {
    bad_fix f;
    f.ctx = th_cpu_ctx();
    ax_ctx *ctx = f.ctx;
    int64_t xs[3] = {4, 2, 3}, ys[3] = {4, 2, 5}, ss[2] = {2, 5}, wis[2] = {20, 3};
    int64_t whs[2] = {20, 5}, bs[1] = {20};
    f.x = th_random_tensor(ctx, 3, xs, 1, -1, 1, 0),
    f.h0 = th_random_tensor(ctx, 2, ss, 2, -1, 1, 0);
    f.c0 = th_random_tensor(ctx, 2, ss, 3, -1, 1, 0);
    f.wih = th_random_tensor(ctx, 2, wis, 4, -1, 1, 0),
    f.whh = th_random_tensor(ctx, 2, whs, 5, -1, 1, 0);
    f.bih = th_random_tensor(ctx, 1, bs, 6, -1, 1, 0),
    f.bhh = th_random_tensor(ctx, 1, bs, 7, -1, 1, 0);
    f.y = zeros(ctx, 3, ys), f.hT = zeros(ctx, 2, ss), f.cT = zeros(ctx, 2, ss);
    f.res = reserve_for(ctx, AX_RNN_LSTM, 4, 2, 5);
    f.dy = th_random_tensor(ctx, 3, ys, 8, -1, 1, 0), f.dx = zeros(ctx, 3, xs);
    f.dh0 = zeros(ctx, 2, ss), f.dc0 = zeros(ctx, 2, ss);
    f.dwih = zeros(ctx, 2, wis), f.dwhh = zeros(ctx, 2, whs);
    f.dbih = zeros(ctx, 1, bs), f.dbhh = zeros(ctx, 1, bs);
    f.w = (ax_rnn_weights){f.wih, f.whh, f.bih, f.bhh};
    f.g = (ax_rnn_grads){f.dwih, f.dwhh, f.dbih, f.dbhh};
    f.d = (ax_rnn_desc){AX_RNN_LSTM, 0, 0, 0};
    return f;
}

static void bad_free(bad_fix *f) {
    ax_tensor *all[] = {f->x,  f->h0,  f->c0,  f->wih, f->whh,  f->bih,  f->bhh,
                        f->y,  f->hT,  f->cT,  f->res, f->dy,   f->dx,   f->dh0,
                        f->dc0, f->dwih, f->dwhh, f->dbih, f->dbhh};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ax_tensor_destroy(all[i]);
    ax_ctx_destroy(f->ctx);
}

static ax_status fwd(bad_fix *f) {
    f->w = (ax_rnn_weights){f->wih, f->whh, f->bih, f->bhh};
    return ax_rnn_forward(f->ctx, &f->d, 4, f->x, f->h0, f->c0, &f->w, f->y, f->hT, f->cT,
                          f->res);
}

static ax_status bwd(bad_fix *f) {
    f->w = (ax_rnn_weights){f->wih, f->whh, f->bih, f->bhh};
    f->g = (ax_rnn_grads){f->dwih, f->dwhh, f->dbih, f->dbhh};
    return ax_rnn_backward(f->ctx, &f->d, 4, f->x, &f->w, f->res, f->dy, f->hT, f->cT, f->dx,
                           f->dh0, f->dc0, &f->g);
}

/* A tensor of another shape in place of one argument, then the original back. */
#define WITH(slot, shape_ndim, ...)                                                            \
    for (ax_tensor *saved_ = (slot), *tmp_ = zeros(f.ctx, shape_ndim, (int64_t[]){__VA_ARGS__}); \
         saved_; (slot) = saved_, ax_tensor_destroy(tmp_), saved_ = NULL)                      \
        for (int once_ = ((slot) = tmp_, 1); once_; once_ = 0)

Test(rnn_badinput, shapes_and_sizes) {
    bad_fix f = bad_make();
    AX_ASSERT_OK(fwd(&f));
    AX_ASSERT_OK(bwd(&f));
    /* wrong input size, h0 / c0 / hT of the wrong shape, mismatched weights, short reserve */
    WITH(f.x, 3, 4, 2, 4) AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward");
    WITH(f.x, 2, 4, 2) AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward");
    WITH(f.h0, 2, 2, 4) AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward");
    WITH(f.h0, 3, 1, 2, 5) AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward");
    WITH(f.c0, 2, 3, 5) AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward");
    WITH(f.hT, 2, 5, 2) AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward");
    WITH(f.y, 3, 4, 2, 4) AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward");
    WITH(f.y, 3, 3, 2, 5) AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward");
    WITH(f.wih, 2, 15, 3) AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward"); /* 3H: GRU's */
    WITH(f.wih, 2, 20, 4) AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward");
    WITH(f.whh, 2, 20, 4) AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward");
    WITH(f.whh, 2, 16, 4) AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward");
    WITH(f.bih, 1, 15) AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward");
    WITH(f.bhh, 1, 21) AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward");
    WITH(f.res, 1, 10) AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward");
    /* y_offset: the direction's columns must fit */
    f.d.y_offset = 1;
    AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward");
    f.d.y_offset = -1;
    AX_ASSERT_FAILS(fwd(&f), AX_ERR_INVALID_ARG, "ax_rnn_forward");
    f.d.y_offset = 0;
    /* seq_len 0 and beyond T (a tensor cannot have T = 0 or N = 0: ax_tensor_create refuses
     * empty dims, so seq_len = 0 is the empty sequence) */
    AX_ASSERT_FAILS(ax_rnn_forward(f.ctx, &f.d, 0, f.x, f.h0, f.c0, &f.w, f.y, f.hT, f.cT, f.res),
                    AX_ERR_SHAPE, "ax_rnn_forward");
    AX_ASSERT_FAILS(ax_rnn_forward(f.ctx, &f.d, 5, f.x, f.h0, f.c0, &f.w, f.y, f.hT, f.cT, f.res),
                    AX_ERR_SHAPE, "ax_rnn_forward");
    AX_ASSERT_FAILS(ax_rnn_backward(f.ctx, &f.d, 0, f.x, &f.w, f.res, f.dy, NULL, NULL, f.dx,
                                    NULL, NULL, NULL),
                    AX_ERR_SHAPE, "ax_rnn_backward");
    /* backward: gradients of the wrong shapes */
    WITH(f.dy, 3, 4, 2, 4) AX_ASSERT_FAILS(bwd(&f), AX_ERR_SHAPE, "ax_rnn_backward");
    WITH(f.dx, 3, 4, 2, 5) AX_ASSERT_FAILS(bwd(&f), AX_ERR_SHAPE, "ax_rnn_backward");
    WITH(f.dh0, 2, 5, 2) AX_ASSERT_FAILS(bwd(&f), AX_ERR_SHAPE, "ax_rnn_backward");
    WITH(f.dwih, 2, 3, 20) AX_ASSERT_FAILS(bwd(&f), AX_ERR_SHAPE, "ax_rnn_backward");
    WITH(f.dwhh, 2, 20, 3) AX_ASSERT_FAILS(bwd(&f), AX_ERR_SHAPE, "ax_rnn_backward");
    WITH(f.dbhh, 1, 5) AX_ASSERT_FAILS(bwd(&f), AX_ERR_SHAPE, "ax_rnn_backward");
    WITH(f.res, 1, 100) AX_ASSERT_FAILS(bwd(&f), AX_ERR_SHAPE, "ax_rnn_backward");
    /* cell: x [N, in] only */
    AX_ASSERT_FAILS(ax_rnn_cell_forward(f.ctx, AX_RNN_LSTM, f.x, f.h0, f.c0, &f.w, f.hT, f.cT,
                                        f.res),
                    AX_ERR_SHAPE, "ax_rnn_cell_forward");
    bad_free(&f);
}

Test(rnn_badinput, modes_nulls_and_states) {
    bad_fix f = bad_make();
    AX_ASSERT_FAILS(ax_rnn_forward(NULL, &f.d, 4, f.x, f.h0, f.c0, &f.w, f.y, f.hT, f.cT, f.res),
                    AX_ERR_INVALID_ARG, "ax_rnn_forward");
    AX_ASSERT_FAILS(ax_rnn_cell_backward(NULL, AX_RNN_LSTM, f.x, &f.w, f.res, NULL, NULL, 0, NULL,
                                         NULL, NULL, NULL),
                    AX_ERR_INVALID_ARG, "ax_rnn_cell_backward");
    AX_ASSERT_FAILS(ax_rnn_forward(f.ctx, NULL, 4, f.x, f.h0, f.c0, &f.w, f.y, f.hT, f.cT, f.res),
                    AX_ERR_INVALID_ARG, "ax_rnn_forward");
    AX_ASSERT_FAILS(ax_rnn_forward(f.ctx, &f.d, 4, f.x, f.h0, f.c0, NULL, f.y, f.hT, f.cT, f.res),
                    AX_ERR_INVALID_ARG, "ax_rnn_forward");
    AX_ASSERT_FAILS(ax_rnn_forward(f.ctx, &f.d, 4, NULL, f.h0, f.c0, &f.w, f.y, f.hT, f.cT, f.res),
                    AX_ERR_INVALID_ARG, "ax_rnn_forward");
    AX_ASSERT_FAILS(ax_rnn_forward(f.ctx, &f.d, 4, f.x, f.h0, f.c0, &f.w, f.y, f.hT, f.cT, NULL),
                    AX_ERR_INVALID_ARG, "ax_rnn_forward");
    ax_tensor *keep = f.whh;
    f.whh = NULL;
    AX_ASSERT_FAILS(fwd(&f), AX_ERR_INVALID_ARG, "ax_rnn_forward");
    f.whh = keep;
    f.d.mode = (ax_rnn_mode)7;
    AX_ASSERT_FAILS(fwd(&f), AX_ERR_INVALID_ARG, "ax_rnn_forward");
    AX_ASSERT_FAILS(bwd(&f), AX_ERR_INVALID_ARG, "ax_rnn_backward");
    cr_assert_eq(ax_rnn_gate_count((ax_rnn_mode)7), 0);
    cr_assert_eq(ax_rnn_gate_count((ax_rnn_mode)-1), 0);
    /* a cell state for a mode without one: the LSTM's weights would not fit a GRU anyway, so a
     * GRU of H = 5 with 15-row weights */
    int64_t wis[2] = {15, 3}, whs[2] = {15, 5};
    ax_tensor *gi = zeros(f.ctx, 2, wis), *gh = zeros(f.ctx, 2, whs);
    ax_rnn_weights gw = {gi, gh, NULL, NULL};
    ax_rnn_desc gd = {AX_RNN_GRU, 0, 0, 0};
    AX_ASSERT_OK(ax_rnn_forward(f.ctx, &gd, 4, f.x, f.h0, NULL, &gw, f.y, f.hT, NULL, f.res));
    AX_ASSERT_FAILS(ax_rnn_forward(f.ctx, &gd, 4, f.x, f.h0, f.c0, &gw, f.y, f.hT, NULL, f.res),
                    AX_ERR_INVALID_ARG, "ax_rnn_forward");
    AX_ASSERT_FAILS(ax_rnn_forward(f.ctx, &gd, 4, f.x, f.h0, NULL, &gw, f.y, f.hT, f.cT, f.res),
                    AX_ERR_INVALID_ARG, "ax_rnn_forward");
    AX_ASSERT_FAILS(ax_rnn_backward(f.ctx, &gd, 4, f.x, &gw, f.res, f.dy, NULL, f.cT, f.dx,
                                    NULL, NULL, NULL),
                    AX_ERR_INVALID_ARG, "ax_rnn_backward");
    AX_ASSERT_FAILS(ax_rnn_backward(f.ctx, &gd, 4, f.x, &gw, f.res, f.dy, NULL, NULL, f.dx,
                                    NULL, f.dc0, NULL),
                    AX_ERR_INVALID_ARG, "ax_rnn_backward");
    ax_tensor_destroy(gi), ax_tensor_destroy(gh);
    /* a wrong dtype */
    int64_t ss[2] = {2, 5};
    int32_t iz[10] = {0};
    ax_tensor *hi = th_tensor_i32(f.ctx, 2, ss, iz);
    f.d.mode = AX_RNN_LSTM;
    AX_ASSERT_FAILS(ax_rnn_forward(f.ctx, &f.d, 4, f.x, hi, f.c0, &f.w, f.y, f.hT, f.cT, f.res),
                    AX_ERR_DTYPE, "ax_rnn_forward");
    ax_tensor_destroy(hi);
    /* the reserve size */
    int64_t n = -1;
    AX_ASSERT_FAILS(ax_rnn_reserve_numel(AX_RNN_LSTM, 0, 2, 5, &n), AX_ERR_INVALID_ARG,
                    "ax_rnn_reserve_numel");
    AX_ASSERT_FAILS(ax_rnn_reserve_numel(AX_RNN_LSTM, 4, 2, 0, &n), AX_ERR_INVALID_ARG,
                    "ax_rnn_reserve_numel");
    AX_ASSERT_FAILS(ax_rnn_reserve_numel((ax_rnn_mode)9, 4, 2, 5, &n), AX_ERR_INVALID_ARG,
                    "ax_rnn_reserve_numel");
    AX_ASSERT_FAILS(ax_rnn_reserve_numel(AX_RNN_LSTM, 4, 2, 5, NULL), AX_ERR_INVALID_ARG,
                    "ax_rnn_reserve_numel");
    AX_ASSERT_FAILS(ax_rnn_reserve_numel(AX_RNN_LSTM, INT64_MAX / 2, 4, 5, &n), AX_ERR_SHAPE,
                    "ax_rnn_reserve_numel");
    AX_ASSERT_FAILS(ax_rnn_reserve_numel(AX_RNN_GRU, 1, 1, INT64_MAX / 2, &n), AX_ERR_SHAPE,
                    "ax_rnn_reserve_numel");
    cr_assert_eq(n, -1, "a failed call leaves *numel alone");
    bad_free(&f);
}

/* Outputs overlapping inputs or each other are refused; hT may alias h0 and cT c0 (states
 * carried in place), dh0 dhT and dc0 dcT, and those give the same values as separate
 * tensors. */
Test(rnn_badinput, aliasing) {
    bad_fix f = bad_make();
    ax_ctx *ctx = f.ctx;
    AX_ASSERT_FAILS(ax_rnn_forward(ctx, &f.d, 4, f.x, f.h0, f.c0, &f.w, f.y, f.c0, f.cT, f.res),
                    AX_ERR_INVALID_ARG, "ax_rnn_forward"); /* hT = c0 */
    AX_ASSERT_FAILS(ax_rnn_forward(ctx, &f.d, 4, f.x, f.h0, f.c0, &f.w, f.y, f.hT, f.hT, f.res),
                    AX_ERR_INVALID_ARG, "ax_rnn_forward"); /* cT = hT */
    /* y = x, where in = H lets the shapes through */
    int64_t x5s[3] = {4, 2, 5}, w5s[2] = {20, 5}, big[3] = {4, 2, 1000};
    ax_tensor *x5 = zeros(ctx, 3, x5s), *wih5 = zeros(ctx, 2, w5s), *huge = zeros(ctx, 3, big);
    ax_rnn_weights w5 = {wih5, f.whh, f.bih, f.bhh};
    AX_ASSERT_FAILS(ax_rnn_forward(ctx, &f.d, 4, x5, f.h0, f.c0, &w5, x5, f.hT, f.cT, f.res),
                    AX_ERR_INVALID_ARG, "ax_rnn_forward");
    /* the reserve as y, or as dy in the backward */
    AX_ASSERT_FAILS(ax_rnn_forward(ctx, &f.d, 4, f.x, f.h0, f.c0, &f.w, huge, f.hT, f.cT, huge),
                    AX_ERR_INVALID_ARG, "ax_rnn_forward");
    AX_ASSERT_OK(fwd(&f));
    AX_ASSERT_FAILS(ax_rnn_backward(ctx, &f.d, 4, f.x, &f.w, huge, huge, NULL, NULL, f.dx, NULL,
                                    NULL, NULL),
                    AX_ERR_INVALID_ARG, "ax_rnn_backward");
    /* dx = x, a weight gradient = its weight, dc0 = dh0, dw_ih = dw_hh */
    AX_ASSERT_FAILS(ax_rnn_backward(ctx, &f.d, 4, f.x, &f.w, f.res, f.dy, NULL, NULL, f.x, NULL,
                                    NULL, NULL),
                    AX_ERR_INVALID_ARG, "ax_rnn_backward");
    ax_rnn_grads gw = {f.wih, NULL, NULL, NULL};
    AX_ASSERT_FAILS(ax_rnn_backward(ctx, &f.d, 4, f.x, &f.w, f.res, f.dy, NULL, NULL, f.dx, NULL,
                                    NULL, &gw),
                    AX_ERR_INVALID_ARG, "ax_rnn_backward");
    ax_rnn_grads gb = {NULL, NULL, f.dbih, f.dbih};
    AX_ASSERT_FAILS(ax_rnn_backward(ctx, &f.d, 4, f.x, &f.w, f.res, f.dy, NULL, NULL, f.dx, NULL,
                                    NULL, &gb),
                    AX_ERR_INVALID_ARG, "ax_rnn_backward");
    AX_ASSERT_FAILS(ax_rnn_backward(ctx, &f.d, 4, f.x, &f.w, f.res, f.dy, NULL, NULL, f.dx, f.dh0,
                                    f.dh0, NULL),
                    AX_ERR_INVALID_ARG, "ax_rnn_backward");
    AX_ASSERT_FAILS(ax_rnn_backward(ctx, &f.d, 4, f.x, &f.w, f.res, f.dy, NULL, f.cT, f.dx, f.cT,
                                    NULL, NULL),
                    AX_ERR_INVALID_ARG, "ax_rnn_backward"); /* dh0 = dcT */
    /* allowed: dh0 = dhT and dc0 = dcT, the same values as separate tensors */
    AX_ASSERT_OK(bwd(&f));
    float *dh_sep = th_to_host(f.dh0), *dc_sep = th_to_host(f.dc0);
    ax_tensor *dhT = th_random_tensor(ctx, 2, (int64_t[]){2, 5}, 21, -1, 1, 0);
    ax_tensor *dcT = th_random_tensor(ctx, 2, (int64_t[]){2, 5}, 22, -1, 1, 0);
    AX_ASSERT_OK(ax_rnn_backward(ctx, &f.d, 4, f.x, &f.w, f.res, f.dy, dhT, dcT, NULL, f.dh0,
                                 f.dc0, NULL));
    free(dh_sep), free(dc_sep);
    dh_sep = th_to_host(f.dh0), dc_sep = th_to_host(f.dc0);
    AX_ASSERT_OK(ax_rnn_backward(ctx, &f.d, 4, f.x, &f.w, f.res, f.dy, dhT, dcT, NULL, dhT, dcT,
                                 NULL));
    float *dh_in = th_to_host(dhT), *dc_in = th_to_host(dcT);
    th_assert_equal(dh_in, dh_sep, 10, "dh0 computed in place of dhT");
    th_assert_equal(dc_in, dc_sep, 10, "dc0 computed in place of dcT");
    free(dh_sep), free(dc_sep), free(dh_in), free(dc_in);
    ax_tensor_destroy(x5), ax_tensor_destroy(wih5), ax_tensor_destroy(huge);
    ax_tensor_destroy(dhT), ax_tensor_destroy(dcT);
    bad_free(&f);
}

/* Holes found by the mutation audit of the recurrent family (refusals at their exact edges). */
Test(rnn_badinput, edges_of_the_checks) {
    bad_fix f = bad_make();
    ax_ctx *ctx = f.ctx;
    /* a reserve one element short is refused by both passes; the exact size works */
    int64_t need = 0;
    AX_ASSERT_OK(ax_rnn_reserve_numel(AX_RNN_LSTM, 4, 2, 5, &need));
    cr_assert_eq(ax_tensor_numel(f.res), need);
    AX_ASSERT_OK(fwd(&f));
    WITH(f.res, 1, need - 1) AX_ASSERT_FAILS(fwd(&f), AX_ERR_SHAPE, "ax_rnn_forward");
    WITH(f.res, 1, need - 1) AX_ASSERT_FAILS(bwd(&f), AX_ERR_SHAPE, "ax_rnn_backward");
    /* a negative y_offset in the backward */
    f.d.y_offset = -1;
    AX_ASSERT_FAILS(bwd(&f), AX_ERR_INVALID_ARG, "ax_rnn_backward");
    f.d.y_offset = 0;
    /* the first value past the modes, and T whose T + 1 slots overflow */
    cr_assert_eq(ax_rnn_gate_count((ax_rnn_mode)(AX_RNN_GRU_TEXTBOOK + 1)), 0);
    int64_t n = -1;
    AX_ASSERT_FAILS(ax_rnn_reserve_numel((ax_rnn_mode)(AX_RNN_GRU_TEXTBOOK + 1), 4, 2, 5, &n),
                    AX_ERR_INVALID_ARG, "ax_rnn_reserve_numel");
    AX_ASSERT_FAILS(ax_rnn_reserve_numel(AX_RNN_TANH, INT64_MAX, 1, 1, &n), AX_ERR_SHAPE,
                    "ax_rnn_reserve_numel");
    cr_assert_eq(n, -1);
    /* a cell state for the tanh and ReLU RNNs (weights [H, in], [H, H]) */
    int64_t wis[2] = {5, 3}, whs[2] = {5, 5}, xcs[2] = {2, 3};
    ax_tensor *wi = zeros(ctx, 2, wis), *wh = zeros(ctx, 2, whs), *xc = zeros(ctx, 2, xcs);
    ax_rnn_weights rw = {wi, wh, NULL, NULL};
    for (int m = AX_RNN_TANH; m <= AX_RNN_RELU; m++) {
        ax_rnn_desc rd = {(ax_rnn_mode)m, 0, 0, 0};
        AX_ASSERT_OK(ax_rnn_forward(ctx, &rd, 4, f.x, f.h0, NULL, &rw, f.y, f.hT, NULL, f.res));
        AX_ASSERT_FAILS(ax_rnn_forward(ctx, &rd, 4, f.x, f.h0, f.c0, &rw, f.y, f.hT, NULL, f.res),
                        AX_ERR_INVALID_ARG, "ax_rnn_forward");
        AX_ASSERT_FAILS(ax_rnn_cell_forward(ctx, (ax_rnn_mode)m, xc, f.h0, f.c0, &rw, f.hT,
                                            NULL, f.res),
                        AX_ERR_INVALID_ARG, "ax_rnn_cell_forward");
    }
    ax_tensor_destroy(wi), ax_tensor_destroy(wh), ax_tensor_destroy(xc);
    bad_free(&f);
}

/* An output that starts inside the last quarter of another tensor's bytes overlaps it (the
 * overlap test counts bytes, not elements): the reserve as a view of y's tail. */
Test(rnn_badinput, overlap_of_a_tensors_tail) {
    bad_fix f = bad_make();
    int64_t need = 0, big[3] = {4, 2, 1000};
    AX_ASSERT_OK(ax_rnn_reserve_numel(AX_RNN_LSTM, 4, 2, 5, &need));
    ax_tensor *y = zeros(f.ctx, 3, big);
    ax_tensor tail = *y;
    tail.data = (float *)y->data + y->numel - need;
    tail.ndim = 1, tail.shape[0] = need, tail.numel = need, tail.capacity = need;
    AX_ASSERT_OK(ax_tensor_view_open("test", &tail));
    AX_ASSERT_FAILS(ax_rnn_forward(f.ctx, &f.d, 4, f.x, f.h0, f.c0, &f.w, y, f.hT, f.cT, &tail),
                    AX_ERR_INVALID_ARG, "ax_rnn_forward");
    AX_ASSERT_FAILS(ax_rnn_backward(f.ctx, &f.d, 4, f.x, &f.w, &tail, y, NULL, NULL, f.dx, NULL,
                                    NULL, NULL),
                    AX_ERR_INVALID_ARG, "ax_rnn_backward");
    ax_tensor_view_close(&tail);
    ax_tensor_destroy(y);
    bad_free(&f);
}

/* accumulate_dx with seq_len < T adds into dx's first S steps and leaves the later steps as
 * they were (they are another direction's), and a db_hh asked for alone (no db_ih) is the
 * same sum as beside the other gradients (a fresh NaN reserve: nothing left over). */
Test(rnn_seq, accumulated_dx_and_a_lone_bias_gradient) {
    for (int m = 0; m < MODES; m++) {
        bad_fix f = bad_make();
        ax_ctx *ctx = f.ctx;
        const int64_t G = ax_rnn_gate_count(kModes[m]), S = 3;
        int64_t wis[2] = {G * 5, 3}, whs[2] = {G * 5, 5}, bs[1] = {G * 5}, xs[3] = {4, 2, 3};
        ax_tensor *wi = th_random_tensor(ctx, 2, wis, 31, -0.5f, 0.5f, 0);
        ax_tensor *wh = th_random_tensor(ctx, 2, whs, 32, -0.5f, 0.5f, 0);
        ax_tensor *bi = th_random_tensor(ctx, 1, bs, 33, -0.5f, 0.5f, 0);
        ax_tensor *bh = th_random_tensor(ctx, 1, bs, 34, -0.5f, 0.5f, 0);
        ax_tensor *dbi = zeros(ctx, 1, bs), *dbh = zeros(ctx, 1, bs), *lone = zeros(ctx, 1, bs);
        ax_tensor *res = reserve_for(ctx, kModes[m], 4, 2, 5);
        ax_tensor *dx_acc = th_random_tensor(ctx, 3, xs, 35, -1, 1, 0);
        float *before = th_to_host(dx_acc);
        ax_rnn_weights w = {wi, wh, bi, bh};
        ax_rnn_desc d = {kModes[m], m % 2, 0, 0};
        const int lstm = kModes[m] == AX_RNN_LSTM;
        AX_ASSERT_OK(ax_rnn_forward(ctx, &d, S, f.x, f.h0, lstm ? f.c0 : NULL, &w, f.y, NULL,
                                    NULL, res));
        ax_rnn_grads both = {NULL, NULL, dbi, dbh}, only_hh = {NULL, NULL, NULL, lone};
        AX_ASSERT_OK(ax_rnn_backward(ctx, &d, S, f.x, &w, res, f.dy, NULL, NULL, f.dx, NULL,
                                     NULL, &both));
        d.accumulate_dx = 1;
        AX_ASSERT_OK(ax_rnn_backward(ctx, &d, S, f.x, &w, res, f.dy, NULL, NULL, dx_acc, NULL,
                                     NULL, NULL));
        ax_tensor *res2 = reserve_for(ctx, kModes[m], 4, 2, 5);
        AX_ASSERT_OK(ax_rnn_forward(ctx, &d, S, f.x, f.h0, lstm ? f.c0 : NULL, &w, f.y, NULL,
                                    NULL, res2));
        AX_ASSERT_OK(ax_rnn_backward(ctx, &d, S, f.x, &w, res2, f.dy, NULL, NULL, NULL, NULL,
                                     NULL, &only_hh));
        float *dx = th_to_host(f.dx), *acc = th_to_host(dx_acc);
        float *want = malloc(24 * sizeof *want);
        for (int64_t e = 0; e < 24; e++) /* steps 0 .. S-1 summed, step 3 untouched */
            want[e] = e < S * 6 ? before[e] + dx[e] : before[e];
        th_assert_close(acc, want, 24, 1e-6, 1e-5, kModeNames[m]);
        for (int64_t e = S * 6; e < 24; e++)
            cr_assert_eq(dx[e], 0.0f, "%s: dx of a step past seq_len", kModeNames[m]);
        float *a = th_to_host(dbh), *b = th_to_host(lone);
        th_assert_equal(b, a, G * 5, kModeNames[m]);
        free(dx), free(acc), free(want), free(before), free(a), free(b);
        ax_tensor *all[] = {wi, wh, bi, bh, dbi, dbh, lone, res, res2, dx_acc};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            ax_tensor_destroy(all[i]);
        bad_free(&f);
    }
}

/* ---------------------------------------------------------------- GPU */

/* The CUDA backend (its SGEMM and fused step kernels) against the CPU reference from the same
 * inputs, outputs NaN-filled: every mode, forward and reverse, H = 1, 7, 129, N = 1 and 3,
 * T = 1 and a long T = 100 (the reverse ones at a column offset and seq_len < T).
 * Tolerance 1e-4 + 1e-3 |ref|: f32 GEMMs summed in other orders and the device's expf/tanhf
 * (a few ulp) compounded over up to 100 steps of a contracting recurrence (weights in
 * PyTorch's +-1/sqrt(H)). */
Test(rnn_gpu, parity_with_cpu) {
    ax_ctx *gpu = th_gpu_ctx_or_skip(), *cpu = th_cpu_ctx();
    const int64_t hs[] = {1, 7, 129};
    const struct {
        int64_t T, N;
    } tn[] = {{1, 1}, {1, 3}, {100, 1}, {100, 3}};
    for (int m = 0; m < MODES; m++)
        for (size_t h = 0; h < sizeof hs / sizeof hs[0]; h++)
            for (size_t k = 0; k < sizeof tn / sizeof tn[0]; k++)
                for (int rev = 0; rev < 2; rev++) {
                    const int64_t H = hs[h], T = tn[k].T;
                    seq_cfg c = {kModes[m], rev, (int)(h != 1), T, rev && T > 1 ? T - 3 : T,
                                 tn[k].N, 5, H, rev ? 2 * H + 1 : H, rev ? H + 1 : 0};
                    char what[96];
                    snprintf(what, sizeof what, "%s %s H=%lld T=%lld N=%lld", kModeNames[m],
                             rev ? "reverse" : "forward", (long long)H, (long long)T,
                             (long long)c.N);
                    seq_host in = seq_inputs(&c, 5000 + 100 * (uint64_t)m + 10 * h + k);
                    seq_out a = seq_run(gpu, &c, &in), b = seq_run(cpu, &c, &in);
                    seq_compare(&c, &a, &b, 1e-4, 1e-3, what);
                    /* the columns and rows it must not write stay NaN */
                    for (int64_t e = 0; e < c.T * c.N * c.Y; e++) {
                        const int64_t col = e % c.Y, t = e / (c.N * c.Y);
                        if (col < c.off || col >= c.off + H || t >= c.S)
                            cr_assert(isnan(a.y[e]), "%s: y[%lld] written", what, (long long)e);
                    }
                    seq_out_free(&a), seq_out_free(&b);
                    seq_host_free(&in);
                }
    ax_ctx_destroy(gpu);
    ax_ctx_destroy(cpu);
}

/* Two runs on the GPU give the same bits (no atomics in the step kernels or the SGEMM). */
Test(rnn_gpu, deterministic) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
    for (int m = 0; m < MODES; m++) {
        seq_cfg c = {kModes[m], m % 2, 1, 50, 50, 3, 17, 129, 129, 0};
        seq_host in = seq_inputs(&c, 5900 + (uint64_t)m);
        seq_out a = seq_run(gpu, &c, &in), b = seq_run(gpu, &c, &in);
        seq_compare(&c, &a, &b, 0.0, 0.0, kModeNames[m]);
        seq_out_free(&a), seq_out_free(&b);
        seq_host_free(&in);
    }
    ax_ctx_destroy(gpu);
}

/* The PyTorch golden cases on the GPU. */
Test(rnn_gpu, golden) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
    golden_case(gpu, "lstm_bi", AX_RNN_LSTM);
    golden_case(gpu, "gru_bi", AX_RNN_GRU);
    golden_case(gpu, "gru_textbook_bi", AX_RNN_GRU_TEXTBOOK);
    golden_case(gpu, "rnn_tanh_bi", AX_RNN_TANH);
    golden_case(gpu, "rnn_relu_bi", AX_RNN_RELU);
    golden_case(gpu, "gru_2layer_bi", AX_RNN_GRU);
    golden_case(gpu, "lstm_2layer", AX_RNN_LSTM);
    ax_ctx_destroy(gpu);
}

/* Tensors of another context (another CPU context, or the GPU's) are refused. */
static void expect_other_context(ax_ctx *other) {
    bad_fix f = bad_make();
    ax_tensor *h0 = zeros(other, 2, (int64_t[]){2, 5});
    AX_ASSERT_FAILS(ax_rnn_forward(f.ctx, &f.d, 4, f.x, h0, f.c0, &f.w, f.y, f.hT, f.cT, f.res),
                    AX_ERR_DEVICE, "ax_rnn_forward");
    AX_ASSERT_FAILS(ax_rnn_backward(f.ctx, &f.d, 4, f.x, &f.w, f.res, f.dy, NULL, NULL, f.dx, h0,
                                    NULL, NULL),
                    AX_ERR_DEVICE, "ax_rnn_backward");
    ax_tensor_destroy(h0);
    bad_free(&f);
}

Test(rnn_badinput, other_context) {
    ax_ctx *other = th_cpu_ctx();
    expect_other_context(other);
    ax_ctx_destroy(other);
}

Test(rnn_gpu, wrong_device) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
    expect_other_context(gpu);
    ax_ctx_destroy(gpu);
}
