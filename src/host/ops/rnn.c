/* Public entry points of the recurrent layers (one layer, one direction) and cells: checks,
 * then the sequence loop over the backend's GEMM and fused step entries.
 *
 * Shapes: x [T, N, in], h0 c0 hT cT [N, H], y [T, N, Y] (columns y_offset .. y_offset + H),
 * w_ih [G H, in], w_hh [G H, H], b_ih b_hh [G H]; S = seq_len <= T steps run.
 *
 * Forward:  GI [S N, G H] = x W_ih^T                             one GEMM
 *           per step t: GH [N, G H] = h_prev W_hh^T               one GEMM (textbook GRU: the
 *           r, z rows, then the n rows of q = r h_prev: two)
 *           h, c, y[t], saved gates = step(GI[t], GH, biases)    one fused launch (two)
 * Backward, steps in reverse order of the forward:
 *           dGI[t], dGH[t], direct dh, dc = step_back(...)      one fused launch (two)
 *           dh += dGH[t] W_hh                                   one GEMM (textbook: dq = dGI_n
 *           W_hn first, then the r, z rows)
 *   then    dx (+)= dGI W_ih, dW_ih += dGI^T x, dW_hh += dGH^T H_prev (textbook: the n rows
 *           from Q = r h_prev), db_ih += 1^T dGI, db_hh += 1^T dGH   (GEMMs over all S N rows)
 *
 * The reserve (floats, offsets from T, N, H so seq_len < T uses the same layout):
 *   gi   [T, N, G H]     input projections
 *   hs   [T + 1, N, H]   states by slot: the state after time t is slot t + 1 forward, slot
 *                        t in reverse; h0 is slot 0 forward, slot S in reverse. So H_prev of
 *                        every time step is the S N rows from slot `reverse`.
 *   cs   [T + 1, N, H]   the same for c (LSTM)
 *   act  [T, N, K H]     saved gate values by time (common/rnn_step.h), K = 4 or 0
 *   gh   [N, G H]        forward scratch
 *   dgi  [T, N, G H]     backward: dL/dGI by time
 *   dgh  [T, N, G H]     backward: dL/dGH by time (GRU only; dGI serves the other modes)
 *   dh, dc, dq [N, H]    backward carries (dc: LSTM; dq: textbook GRU)
 *   ones [T N]           a column of ones for the bias gradients */
#include <inttypes.h>

#include "check.h"

#include "../common/rnn_step.h"

int ax_rnn_gate_count(ax_rnn_mode mode) {
    return (int)mode >= AX_RNN_TANH && mode <= AX_RNN_GRU_TEXTBOOK ? ax_rnn_step_gates(mode) : 0;
}

/* The reserve's layout (element offsets) for T, N, H. */
struct layout {
    int64_t gi, hs, cs, act, gh, dgi, dgh, dh, dc, dq, ones, total;
};

/* *acc += a b; 0 when it overflows int64 (sizes are >= 0). */
static int add_product(int64_t *acc, int64_t a, int64_t b) {
    if (a != 0 && b > (INT64_MAX - *acc) / a)
        return 0;
    *acc += a * b;
    return 1;
}

/* Places each part after the previous one; 0 when a count overflows. */
static int layout_of(int mode, int64_t T, int64_t N, int64_t H, struct layout *l) {
    if (H > INT64_MAX / 4)
        return 0;
    const int64_t G = ax_rnn_step_gates(mode), K = ax_rnn_step_saved(mode);
    const int lstm = mode == AX_RNN_LSTM, gru = mode == AX_RNN_GRU;
    const int textbook = mode == AX_RNN_GRU_TEXTBOOK;
    int64_t nh = 0, tn = 0, t1 = 0;
    if (!add_product(&nh, N, H) || !add_product(&tn, T, N) || !add_product(&t1, T + 1, 1))
        return 0;
    int64_t at = 0;
    const struct {
        int64_t *field, count, size;
    } parts[] = {
        {&l->gi, tn, G * H},  {&l->hs, t1, nh},          {&l->cs, lstm ? t1 : 0, nh},
        {&l->act, tn, K * H}, {&l->gh, N, G * H},        {&l->dgi, tn, G * H},
        {&l->dgh, gru ? tn : 0, G * H}, {&l->dh, 1, nh}, {&l->dc, lstm, nh},
        {&l->dq, textbook, nh},         {&l->ones, tn, 1},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        *parts[i].field = at;
        if (!add_product(&at, parts[i].count, parts[i].size))
            return 0;
    }
    l->total = at;
    return 1;
}

static int mode_ok(ax_rnn_mode mode) { return ax_rnn_gate_count(mode) != 0; }

ax_status ax_rnn_reserve_numel(ax_rnn_mode mode, int64_t T, int64_t N, int64_t H,
                               int64_t *numel) {
    if (!numel)
        return ax_fail(AX_ERR_INVALID_ARG, __func__, "numel is NULL");
    if (!mode_ok(mode))
        return ax_fail(AX_ERR_INVALID_ARG, __func__, "mode %d is not an ax_rnn_mode", (int)mode);
    if (T < 1 || N < 1 || H < 1)
        return ax_fail(AX_ERR_INVALID_ARG, __func__,
                       "T = %" PRId64 ", N = %" PRId64 ", H = %" PRId64 " must be >= 1", T, N, H);
    struct layout l;
    if (T == INT64_MAX || !layout_of(mode, T, N, H, &l))
        return ax_fail(AX_ERR_SHAPE, __func__, "the reserve's size overflows int64");
    *numel = l.total;
    return AX_OK;
}

/* ---------------------------------------------------------------- checks */

/* Sizes and raw pointers of one call, checked. */
struct rnn_call {
    int mode, reverse, accumulate_dx;
    int64_t T, S, N, in, H, G, y_cols, y_offset, dy_cols;
    struct layout l;
    const float *x, *h0, *c0, *w_ih, *w_hh, *b_ih, *b_hh, *dy, *dhT, *dcT;
    float *y, *hT, *cT, *reserve, *dx, *dh0, *dc0, *dw_ih, *dw_hh, *db_ih, *db_hh;
};

/* t has exactly the given 2 or 3 dims. */
static ax_status check_shape(const char *fn, const ax_tensor *t, const char *name, int ndim,
                             int64_t d0, int64_t d1, int64_t d2) {
    const int64_t want[3] = {d0, d1, d2};
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = t->shape[i] == want[i];
    if (ok)
        return AX_OK;
    char s[128];
    if (ndim == 2)
        return ax_fail(AX_ERR_SHAPE, fn, "%s has shape %s, expected [%" PRId64 ", %" PRId64 "]",
                       name, ax_shape_str(t, s, sizeof s), d0, d1);
    return ax_fail(AX_ERR_SHAPE, fn,
                   "%s has shape %s, expected [%" PRId64 ", %" PRId64 ", %" PRId64 "]", name,
                   ax_shape_str(t, s, sizeof s), d0, d1, d2);
}

/* An optional [N, H] state of ctx; cell states only for the LSTM. */
static ax_status check_state(const char *fn, ax_ctx *ctx, const struct rnn_call *c,
                             const ax_tensor *t, const char *name, int is_cell) {
    if (!t)
        return AX_OK;
    if (is_cell && c->mode != AX_RNN_LSTM)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "%s must be NULL: only the LSTM has a cell state",
                       name);
    AX_TRY(ax_check_tensor(fn, ctx, t, name, AX_F32));
    return check_shape(fn, t, name, 2, c->N, c->H, 0);
}

/* The weights (w, w_ih, w_hh given; biases optional) give G, H and in; gradients of the same
 * shapes when dw is not NULL. */
static ax_status check_weights(const char *fn, ax_ctx *ctx, int mode, const ax_rnn_weights *w,
                               const ax_rnn_grads *dw, struct rnn_call *c) {
    if (!mode_ok((ax_rnn_mode)mode))
        return ax_fail(AX_ERR_INVALID_ARG, fn, "mode %d is not an ax_rnn_mode", mode);
    c->mode = mode;
    c->G = ax_rnn_gate_count((ax_rnn_mode)mode);
    if (!w)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "w is NULL");
    AX_TRY(ax_check_tensor(fn, ctx, w->w_ih, "w_ih", AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, w->w_hh, "w_hh", AX_F32));
    AX_TRY(ax_check_ndim(fn, w->w_ih, "w_ih", 2, 2));
    AX_TRY(ax_check_ndim(fn, w->w_hh, "w_hh", 2, 2));
    c->H = w->w_hh->shape[1];
    c->in = w->w_ih->shape[1];
    if (c->H < 1 || c->in < 1)
        return ax_fail(AX_ERR_SHAPE, fn, "hidden size %" PRId64 " and input size %" PRId64
                       " must be >= 1", c->H, c->in);
    if (c->H > INT64_MAX / 4 / c->in)
        return ax_fail(AX_ERR_SHAPE, fn, "the weights are too large");
    const int64_t gh = c->G * c->H;
    AX_TRY(check_shape(fn, w->w_hh, "w_hh", 2, gh, c->H, 0));
    AX_TRY(check_shape(fn, w->w_ih, "w_ih", 2, gh, c->in, 0));
    AX_TRY(ax_check_optional(fn, ctx, w->b_ih, "b_ih", AX_F32));
    AX_TRY(ax_check_optional(fn, ctx, w->b_hh, "b_hh", AX_F32));
    if (w->b_ih)
        AX_TRY(ax_check_numel(fn, w->b_ih, "b_ih", gh));
    if (w->b_hh)
        AX_TRY(ax_check_numel(fn, w->b_hh, "b_hh", gh));
    c->w_ih = ax_f32(w->w_ih), c->w_hh = ax_f32(w->w_hh);
    c->b_ih = ax_f32(w->b_ih), c->b_hh = ax_f32(w->b_hh);
    if (!dw)
        return AX_OK;
    const ax_tensor *ws[4] = {w->w_ih, w->w_hh, w->b_ih, w->b_hh};
    ax_tensor *gs[4] = {dw->w_ih, dw->w_hh, dw->b_ih, dw->b_hh};
    const char *names[4] = {"dw.w_ih", "dw.w_hh", "dw.b_ih", "dw.b_hh"};
    for (int i = 0; i < 4; i++) {
        AX_TRY(ax_check_optional(fn, ctx, gs[i], names[i], AX_F32));
        if (gs[i] && i < 2)
            AX_TRY(ax_check_same_shape(fn, ws[i], i ? "w_hh" : "w_ih", gs[i], names[i]));
        else if (gs[i])
            AX_TRY(ax_check_numel(fn, gs[i], names[i], gh));
    }
    c->dw_ih = ax_f32(dw->w_ih), c->dw_hh = ax_f32(dw->w_hh);
    c->db_ih = ax_f32(dw->b_ih), c->db_hh = ax_f32(dw->b_hh);
    return AX_OK;
}

/* x [T, N, in] (or [N, in] for a cell: T = 1), seq_len, the reserve. */
static ax_status check_input(const char *fn, ax_ctx *ctx, const ax_tensor *x, int cell,
                             int64_t seq_len, const ax_tensor *reserve, struct rnn_call *c) {
    AX_TRY(ax_check_tensor(fn, ctx, x, "x", AX_F32));
    AX_TRY(ax_check_ndim(fn, x, "x", cell ? 2 : 3, cell ? 2 : 3));
    c->T = cell ? 1 : x->shape[0];
    c->N = x->shape[cell ? 0 : 1];
    const int64_t in = x->shape[cell ? 1 : 2];
    if (in != c->in)
        return ax_fail(AX_ERR_SHAPE, fn, "x has %" PRId64 " features, w_ih expects %" PRId64, in,
                       c->in);
    if (c->T < 1 || c->N < 1)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "x has T = %" PRId64 " steps and N = %" PRId64 " rows; both must be >= 1",
                       c->T, c->N);
    if (seq_len < 1 || seq_len > c->T)
        return ax_fail(AX_ERR_SHAPE, fn, "seq_len = %" PRId64 " must be in [1, T = %" PRId64 "]",
                       seq_len, c->T);
    c->S = seq_len;
    if (!layout_of(c->mode, c->T, c->N, c->H, &c->l))
        return ax_fail(AX_ERR_SHAPE, fn, "the reserve's size overflows int64");
    AX_TRY(ax_check_tensor(fn, ctx, reserve, "reserve", AX_F32));
    if (reserve->numel < c->l.total)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "reserve has %" PRId64 " elements, ax_rnn_reserve_numel needs %" PRId64,
                       reserve->numel, c->l.total);
    c->x = ax_f32(x);
    c->reserve = ax_f32(reserve);
    return AX_OK;
}

/* A [T, N, cols] sequence tensor (y or dy) whose columns offset .. offset + H exist. */
static ax_status check_seq(const char *fn, ax_ctx *ctx, const ax_tensor *t, const char *name,
                           const struct rnn_call *c, int64_t *cols) {
    AX_TRY(ax_check_tensor(fn, ctx, t, name, AX_F32));
    AX_TRY(ax_check_ndim(fn, t, name, 3, 3));
    *cols = t->shape[2];
    if (t->shape[0] != c->T || t->shape[1] != c->N || c->y_offset > *cols - c->H) {
        char s[128];
        return ax_fail(AX_ERR_SHAPE, fn,
                       "%s has shape %s, expected [%" PRId64 ", %" PRId64
                       ", >= %" PRId64 "] (y_offset %" PRId64 " + H %" PRId64 ")",
                       name, ax_shape_str(t, s, sizeof s), c->T, c->N, c->y_offset + c->H,
                       c->y_offset, c->H);
    }
    return AX_OK;
}

static int overlap(const ax_tensor *a, const ax_tensor *b) {
    if (!a || !b)
        return 0;
    const char *pa = a->data, *pb = b->data;
    return pa < pb + b->numel * 4 && pb < pa + a->numel * 4;
}

/* No output overlaps an input or another output, except out[i] == in[i] exactly where
 * may_alias[i] (a state carried in place). */
static ax_status check_overlaps(const char *fn, int n_out, const ax_tensor *const *outs,
                                const char *const *out_names, const int *may_alias, int n_in,
                                const ax_tensor *const *ins, const char *const *in_names) {
    for (int o = 0; o < n_out; o++) {
        for (int i = 0; i < n_in; i++) {
            const int same = outs[o] && ins[i] && i == o && may_alias[o] &&
                             outs[o]->data == ins[i]->data && outs[o]->numel == ins[i]->numel;
            if (!same && overlap(outs[o], ins[i]))
                return ax_fail(AX_ERR_INVALID_ARG, fn, "%s overlaps %s", out_names[o],
                               in_names[i]);
        }
        for (int p = 0; p < o; p++)
            if (overlap(outs[o], outs[p]))
                return ax_fail(AX_ERR_INVALID_ARG, fn, "%s overlaps %s", out_names[o],
                               out_names[p]);
    }
    return AX_OK;
}

/* ---------------------------------------------------------------- the loops */

/* Slot of the state before and after time t (see the reserve's layout above). */
static int64_t prev_slot(const struct rnn_call *c, int64_t t) { return t + (c->reverse != 0); }
static int64_t out_slot(const struct rnn_call *c, int64_t t) { return t + (c->reverse == 0); }
static int64_t time_of(const struct rnn_call *c, int64_t k) {
    return c->reverse ? c->S - 1 - k : k;
}

/* C [m, n] = alpha op(A) op(B) + beta C, one matrix. */
static ax_status gemm(ax_ctx *ctx, int ta, int tb, int64_t m, int64_t n, int64_t k,
                      const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                      float *cm, int64_t ldc) {
    return ctx->backend->gemm(ctx, ta, tb, m, n, k, 1.0f, a, lda, 0, b, ldb, 0, beta, cm, ldc,
                              0, 1);
}

/* dst = src (n floats) or 0 when src is NULL. */
static ax_status copy_or_zero(ax_ctx *ctx, float *dst, const float *src, int64_t n) {
    if (src)
        return ctx->backend->copy_on_device(ctx, dst, src, (size_t)n * sizeof(float));
    return ctx->backend->fill_f32(ctx, dst, n, 0.0f);
}

static ax_status backend_has_all(const char *fn, const ax_ctx *ctx) {
    const struct ax_backend *be = ctx->backend;
    return ax_backend_ready(fn, ctx,
                            be->gemm && be->fill_f32 && be->copy_on_device &&
                                be->rnn_step_forward && be->rnn_step_backward);
}

static ax_status run_forward(ax_ctx *ctx, const struct rnn_call *c) {
    const struct ax_backend *be = ctx->backend;
    const int64_t N = c->N, H = c->H, GH = c->G * H, nh = N * H;
    const int64_t K = ax_rnn_step_saved(c->mode);
    const int textbook = c->mode == AX_RNN_GRU_TEXTBOOK, lstm = c->mode == AX_RNN_LSTM;
    float *r = c->reserve, *gi = r + c->l.gi, *hs = r + c->l.hs, *cs = r + c->l.cs;
    float *act = r + c->l.act, *gh = r + c->l.gh;
    /* GI [S N, G H] = x [S N, in] W_ih^T */
    AX_TRY(gemm(ctx, 0, 1, c->S * N, GH, c->in, c->x, c->in, c->w_ih, c->in, 0.0f, gi, GH));
    const int64_t first = prev_slot(c, time_of(c, 0));
    AX_TRY(copy_or_zero(ctx, hs + first * nh, c->h0, nh));
    if (lstm)
        AX_TRY(copy_or_zero(ctx, cs + first * nh, c->c0, nh));
    for (int64_t k = 0; k < c->S; k++) {
        const int64_t t = time_of(c, k), p = prev_slot(c, t) * nh, o = out_slot(c, t) * nh;
        float *act_t = act + t * N * K * H;
        /* GH = h_prev W_hh^T (textbook: the r and z rows only) */
        AX_TRY(gemm(ctx, 0, 1, N, textbook ? 2 * H : GH, H, hs + p, H, c->w_hh, H, 0.0f, gh,
                    GH));
        struct ax_rnn_step s = {
            .mode = c->mode, .rows = N, .hidden = H, .gi = gi + t * N * GH, .gh = gh,
            .b_ih = c->b_ih, .b_hh = c->b_hh, .h_prev = hs + p, .c_prev = lstm ? cs + p : NULL,
            .h_out = hs + o, .c_out = lstm ? cs + o : NULL,
            .y = c->y ? c->y + t * N * c->y_cols + c->y_offset : NULL, .ldy = c->y_cols,
            .act = act_t};
        AX_TRY(be->rnn_step_forward(ctx, &s));
        if (textbook) { /* GH_n = q W_hn^T, q = r h_prev (saved in act's fourth block) */
            AX_TRY(gemm(ctx, 0, 1, N, H, H, act_t + 3 * H, 4 * H, c->w_hh + 2 * H * H, H, 0.0f,
                        gh + 2 * H, GH));
            s.phase = 1;
            AX_TRY(be->rnn_step_forward(ctx, &s));
        }
    }
    const int64_t last = out_slot(c, time_of(c, c->S - 1)) * nh;
    if (c->hT)
        AX_TRY(be->copy_on_device(ctx, c->hT, hs + last, (size_t)nh * sizeof(float)));
    if (c->cT)
        AX_TRY(be->copy_on_device(ctx, c->cT, cs + last, (size_t)nh * sizeof(float)));
    return AX_OK;
}

static ax_status run_backward(ax_ctx *ctx, const struct rnn_call *c) {
    const struct ax_backend *be = ctx->backend;
    const int64_t N = c->N, H = c->H, GH = c->G * H, nh = N * H, rows = c->S * N;
    const int64_t K = ax_rnn_step_saved(c->mode);
    const int textbook = c->mode == AX_RNN_GRU_TEXTBOOK, lstm = c->mode == AX_RNN_LSTM;
    float *r = c->reserve, *hs = r + c->l.hs, *cs = r + c->l.cs, *act = r + c->l.act;
    float *dgi = r + c->l.dgi, *dgh = c->mode == AX_RNN_GRU ? r + c->l.dgh : dgi;
    float *dh = r + c->l.dh, *dc = r + c->l.dc, *dq = r + c->l.dq, *ones = r + c->l.ones;
    AX_TRY(copy_or_zero(ctx, dh, c->dhT, nh));
    if (lstm)
        AX_TRY(copy_or_zero(ctx, dc, c->dcT, nh));
    for (int64_t k = c->S - 1; k >= 0; k--) {
        const int64_t t = time_of(c, k), p = prev_slot(c, t) * nh, o = out_slot(c, t) * nh;
        float *dgi_t = dgi + t * N * GH, *dgh_t = dgh + t * N * GH;
        struct ax_rnn_step_grad g = {
            .mode = c->mode, .rows = N, .hidden = H,
            .dy = c->dy ? c->dy + t * N * c->dy_cols + c->y_offset : NULL, .lddy = c->dy_cols,
            .act = act + t * N * K * H, .h_prev = hs + p, .h_out = hs + o,
            .c_prev = lstm ? cs + p : NULL, .c_out = lstm ? cs + o : NULL, .dq = dq, .dh = dh,
            .dc = lstm ? dc : NULL, .dgi = dgi_t, .dgh = dgh_t};
        AX_TRY(be->rnn_step_backward(ctx, &g));
        if (textbook) { /* dq = dGI_n W_hn, then the reset gate's terms */
            AX_TRY(gemm(ctx, 0, 0, N, H, H, dgi_t + 2 * H, GH, c->w_hh + 2 * H * H, H, 0.0f, dq,
                        H));
            g.phase = 1;
            AX_TRY(be->rnn_step_backward(ctx, &g));
        }
        /* dh += dGH W_hh (textbook: the r and z rows; n went through dq) */
        AX_TRY(gemm(ctx, 0, 0, N, H, textbook ? 2 * H : GH, dgh_t, GH, c->w_hh, H, 1.0f, dh, H));
    }
    if (c->dh0)
        AX_TRY(be->copy_on_device(ctx, c->dh0, dh, (size_t)nh * sizeof(float)));
    if (c->dc0)
        AX_TRY(be->copy_on_device(ctx, c->dc0, dc, (size_t)nh * sizeof(float)));
    if (c->dx) {
        AX_TRY(gemm(ctx, 0, 0, rows, c->in, GH, dgi, GH, c->w_ih, c->in,
                    c->accumulate_dx ? 1.0f : 0.0f, c->dx, c->in));
        if (!c->accumulate_dx && c->S < c->T)
            AX_TRY(be->fill_f32(ctx, c->dx + rows * c->in, (c->T - c->S) * N * c->in, 0.0f));
    }
    if (c->dw_ih)
        AX_TRY(gemm(ctx, 1, 0, GH, c->in, rows, dgi, GH, c->x, c->in, 1.0f, c->dw_ih, c->in));
    const float *h_prev = hs + (c->reverse ? nh : 0); /* H_prev of times 0 .. S-1 */
    if (c->dw_hh && textbook) {
        AX_TRY(gemm(ctx, 1, 0, 2 * H, H, rows, dgi, GH, h_prev, H, 1.0f, c->dw_hh, H));
        AX_TRY(gemm(ctx, 1, 0, H, H, rows, dgi + 2 * H, GH, act + 3 * H, 4 * H, 1.0f,
                    c->dw_hh + 2 * H * H, H));
    } else if (c->dw_hh) {
        AX_TRY(gemm(ctx, 1, 0, GH, H, rows, dgh, GH, h_prev, H, 1.0f, c->dw_hh, H));
    }
    if (c->db_ih || c->db_hh)
        AX_TRY(be->fill_f32(ctx, ones, rows, 1.0f));
    if (c->db_ih) /* db [1, G H] += 1 [1, S N] dGI */
        AX_TRY(gemm(ctx, 0, 0, 1, GH, rows, ones, rows, dgi, GH, 1.0f, c->db_ih, GH));
    if (c->db_hh)
        AX_TRY(gemm(ctx, 0, 0, 1, GH, rows, ones, rows, dgh, GH, 1.0f, c->db_hh, GH));
    return AX_OK;
}

/* ---------------------------------------------------------------- entry points */

/* Forward of a sequence (cell = 0) or a cell (x [N, in], cell = 1). */
static ax_status forward(const char *fn, ax_ctx *ctx, int mode, int reverse, int64_t y_offset,
                         int cell, int64_t seq_len, const ax_tensor *x, const ax_tensor *h0,
                         const ax_tensor *c0, const ax_rnn_weights *w, ax_tensor *y,
                         ax_tensor *hT, ax_tensor *cT, ax_tensor *reserve) {
    AX_TRY(ax_check_ctx(fn, ctx));
    struct rnn_call c = {.reverse = reverse, .y_offset = y_offset};
    AX_TRY(check_weights(fn, ctx, mode, w, NULL, &c));
    AX_TRY(check_input(fn, ctx, x, cell, seq_len, reserve, &c));
    const char *hn = cell ? "h" : "h0", *cn = cell ? "c" : "c0";
    const char *hon = cell ? "h_out" : "hT", *con = cell ? "c_out" : "cT";
    AX_TRY(check_state(fn, ctx, &c, h0, hn, 0));
    AX_TRY(check_state(fn, ctx, &c, c0, cn, 1));
    AX_TRY(check_state(fn, ctx, &c, hT, hon, 0));
    AX_TRY(check_state(fn, ctx, &c, cT, con, 1));
    if (y_offset < 0)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "y_offset = %" PRId64 " must be >= 0", y_offset);
    if (y)
        AX_TRY(check_seq(fn, ctx, y, "y", &c, &c.y_cols));
    const ax_tensor *outs[] = {hT, cT, y, reserve};
    const char *out_names[] = {hon, con, "y", "reserve"};
    const int may_alias[] = {1, 1, 0, 0};
    const ax_tensor *ins[] = {h0, c0, x, w->w_ih, w->w_hh, w->b_ih, w->b_hh};
    const char *in_names[] = {hn, cn, "x", "w_ih", "w_hh", "b_ih", "b_hh"};
    AX_TRY(check_overlaps(fn, 4, outs, out_names, may_alias, 7, ins, in_names));
    AX_TRY(backend_has_all(fn, ctx));
    c.h0 = ax_f32(h0), c.c0 = ax_f32(c0), c.y = ax_f32(y), c.hT = ax_f32(hT), c.cT = ax_f32(cT);
    return run_forward(ctx, &c);
}

/* Backward of a sequence or a cell. */
static ax_status backward(const char *fn, ax_ctx *ctx, int mode, int reverse, int64_t y_offset,
                          int accumulate_dx, int cell, int64_t seq_len, const ax_tensor *x,
                          const ax_rnn_weights *w, ax_tensor *reserve, const ax_tensor *dy,
                          const ax_tensor *dhT, const ax_tensor *dcT, ax_tensor *dx,
                          ax_tensor *dh0, ax_tensor *dc0, const ax_rnn_grads *dw) {
    AX_TRY(ax_check_ctx(fn, ctx));
    struct rnn_call c = {.reverse = reverse, .y_offset = y_offset, .accumulate_dx = accumulate_dx};
    AX_TRY(check_weights(fn, ctx, mode, w, dw, &c));
    AX_TRY(check_input(fn, ctx, x, cell, seq_len, reserve, &c));
    const char *dhn = cell ? "dh_out" : "dhT", *dcn = cell ? "dc_out" : "dcT";
    const char *dh0n = cell ? "dh" : "dh0", *dc0n = cell ? "dc" : "dc0";
    AX_TRY(check_state(fn, ctx, &c, dhT, dhn, 0));
    AX_TRY(check_state(fn, ctx, &c, dcT, dcn, 1));
    AX_TRY(check_state(fn, ctx, &c, dh0, dh0n, 0));
    AX_TRY(check_state(fn, ctx, &c, dc0, dc0n, 1));
    if (y_offset < 0)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "y_offset = %" PRId64 " must be >= 0", y_offset);
    if (dy)
        AX_TRY(check_seq(fn, ctx, dy, "dy", &c, &c.dy_cols));
    if (dx) {
        AX_TRY(ax_check_tensor(fn, ctx, dx, "dx", AX_F32));
        AX_TRY(ax_check_same_shape(fn, x, "x", dx, "dx"));
    }
    const ax_rnn_grads none = {0};
    const ax_rnn_grads *g = dw ? dw : &none;
    const ax_tensor *outs[] = {dh0, dc0, dx, reserve, g->w_ih, g->w_hh, g->b_ih, g->b_hh};
    const char *out_names[] = {dh0n, dc0n, "dx", "reserve", "dw.w_ih", "dw.w_hh", "dw.b_ih",
                               "dw.b_hh"};
    const int may_alias[] = {1, 1, 0, 0, 0, 0, 0, 0};
    const ax_tensor *ins[] = {dhT, dcT, x, dy, w->w_ih, w->w_hh, w->b_ih, w->b_hh};
    const char *in_names[] = {dhn, dcn, "x", "dy", "w_ih", "w_hh", "b_ih", "b_hh"};
    AX_TRY(check_overlaps(fn, 8, outs, out_names, may_alias, 8, ins, in_names));
    AX_TRY(backend_has_all(fn, ctx));
    c.dy = ax_f32(dy), c.dhT = ax_f32(dhT), c.dcT = ax_f32(dcT);
    c.dx = ax_f32(dx), c.dh0 = ax_f32(dh0), c.dc0 = ax_f32(dc0);
    return run_backward(ctx, &c);
}

static ax_status check_desc(const char *fn, const ax_rnn_desc *desc) {
    return desc ? AX_OK : ax_fail(AX_ERR_INVALID_ARG, fn, "desc is NULL");
}

ax_status ax_rnn_forward(ax_ctx *ctx, const ax_rnn_desc *desc, int64_t seq_len,
                         const ax_tensor *x, const ax_tensor *h0, const ax_tensor *c0,
                         const ax_rnn_weights *w, ax_tensor *y, ax_tensor *hT, ax_tensor *cT,
                         ax_tensor *reserve) {
    AX_TRY(check_desc(__func__, desc));
    return forward(__func__, ctx, (int)desc->mode, desc->reverse, desc->y_offset, 0, seq_len, x,
                   h0, c0, w, y, hT, cT, reserve);
}

ax_status ax_rnn_backward(ax_ctx *ctx, const ax_rnn_desc *desc, int64_t seq_len,
                          const ax_tensor *x, const ax_rnn_weights *w, ax_tensor *reserve,
                          const ax_tensor *dy, const ax_tensor *dhT, const ax_tensor *dcT,
                          ax_tensor *dx, ax_tensor *dh0, ax_tensor *dc0,
                          const ax_rnn_grads *dw) {
    AX_TRY(check_desc(__func__, desc));
    return backward(__func__, ctx, (int)desc->mode, desc->reverse, desc->y_offset,
                    desc->accumulate_dx, 0, seq_len, x, w, reserve, dy, dhT, dcT, dx, dh0, dc0,
                    dw);
}

ax_status ax_rnn_cell_forward(ax_ctx *ctx, ax_rnn_mode mode, const ax_tensor *x,
                              const ax_tensor *h, const ax_tensor *c, const ax_rnn_weights *w,
                              ax_tensor *h_out, ax_tensor *c_out, ax_tensor *reserve) {
    return forward(__func__, ctx, (int)mode, 0, 0, 1, 1, x, h, c, w, NULL, h_out, c_out,
                   reserve);
}

ax_status ax_rnn_cell_backward(ax_ctx *ctx, ax_rnn_mode mode, const ax_tensor *x,
                               const ax_rnn_weights *w, ax_tensor *reserve,
                               const ax_tensor *dh_out, const ax_tensor *dc_out,
                               int accumulate_dx, ax_tensor *dx, ax_tensor *dh, ax_tensor *dc,
                               const ax_rnn_grads *dw) {
    return backward(__func__, ctx, (int)mode, 0, 0, accumulate_dx, 1, 1, x, w, reserve, NULL,
                    dh_out, dc_out, dx, dh, dc, dw);
}
