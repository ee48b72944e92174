/* L-BFGS as torch.optim.LBFGS.step() runs it (torch/optim/lbfgs.py), over one flat parameter
 * tensor on any device: the two-loop recursion (Nocedal & Wright, Numerical Optimization,
 * Algorithm 7.4) over the last history_size pairs, PyTorch's first step length, its
 * stopping tests, and optionally its strong-Wolfe line search (line_search.c).
 *
 * In PyTorch's arithmetic: every scalar made from tensors (dot products, ro = 1 / y.s,
 * H_diag, the two-loop's alphas and betas, the slope g.d, sum |g|, max |d t|) is an f32
 * tensor, and the Python constants they meet (1e-10, tolerance_change, lr) are rounded to
 * f32 there; losses, their differences and the step t are doubles. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "../core/alloc.h"
#include "second_order.h"

/* PyTorch skips a pair whose curvature y.s (an f32 tensor) is not above this (rounded to f32
 * for the comparison). */
#define LBFGS_MIN_CURVATURE 1e-10f

ax_lbfgs_config ax_lbfgs_defaults(void) {
    return (ax_lbfgs_config){
        .lr = 1.0f,
        .max_iter = 20,
        .max_eval = 0,
        .tolerance_grad = 1e-7f,
        .tolerance_change = 1e-9f,
        .history_size = 100,
        .line_search = AX_LINE_SEARCH_NONE,
        .monitor = NULL,
        .monitor_user = NULL,
    };
}

static ax_status check_config(const char *fn, const ax_lbfgs_config *c) {
    AX_TRY(ax_so_require(fn, isfinite(c->lr) && c->lr > 0.0f, "lr = %g is not > 0",
                         (double)c->lr));
    AX_TRY(ax_so_require(fn, c->max_iter >= 1, "max_iter = %d is not >= 1", c->max_iter));
    AX_TRY(ax_so_require(fn, c->max_eval >= 0, "max_eval = %d is negative", c->max_eval));
    AX_TRY(ax_so_require(fn, isfinite(c->tolerance_grad) && c->tolerance_grad >= 0.0f,
                         "tolerance_grad = %g is not >= 0", (double)c->tolerance_grad));
    AX_TRY(ax_so_require(fn, isfinite(c->tolerance_change) && c->tolerance_change >= 0.0f,
                         "tolerance_change = %g is not >= 0", (double)c->tolerance_change));
    AX_TRY(ax_so_require(fn, c->history_size >= 1, "history_size = %d is not >= 1",
                         c->history_size));
    return ax_so_require(fn,
                         c->line_search == AX_LINE_SEARCH_NONE ||
                             c->line_search == AX_LINE_SEARCH_STRONG_WOLFE,
                         "line_search = %d is not an ax_line_search", (int)c->line_search);
}

/* Work vectors, all shaped like x, allocated once. The history holds `count` pairs (s, y),
 * oldest first, in slots [0, count); slot `count` is where the next pair is formed, so a
 * rejected pair overwrites nothing, and when the history is full the oldest slot is
 * recycled (PyTorch's pop(0)). */
typedef struct lbfgs_ws {
    ax_tensor *g, *g_prev, *d, *x0, *ls[4];
    int slots; /* history pairs kept: min(history_size, max_iter) */
    ax_tensor **s, **y; /* slots + 1 each */
    float *ro, *al;     /* 1 / y.s per pair; the two-loop's alphas */
    int count;
} lbfgs_ws;

static void ws_free(lbfgs_ws *w) {
    ax_tensor *vecs[] = {w->g, w->g_prev, w->d, w->x0, w->ls[0], w->ls[1], w->ls[2], w->ls[3]};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
        ax_tensor_destroy(vecs[i]);
    for (int i = 0; w->s && w->y && i <= w->slots; i++) {
        ax_tensor_destroy(w->s[i]);
        ax_tensor_destroy(w->y[i]);
    }
    free(w->s);
    free(w->y);
    free(w->ro);
    free(w->al);
}

static ax_status ws_alloc(ax_so_run *run, const ax_lbfgs_config *cfg, const ax_tensor *x,
                          lbfgs_ws *w) {
    /* at most max_iter - 1 pairs are ever formed */
    w->slots = cfg->history_size < cfg->max_iter ? cfg->history_size : cfg->max_iter;
    size_t k = (size_t)w->slots + 1;
    w->s = ax_calloc(k, sizeof *w->s);
    w->y = ax_calloc(k, sizeof *w->y);
    w->ro = ax_calloc(k, sizeof *w->ro);
    w->al = ax_calloc(k, sizeof *w->al);
    if (!w->s || !w->y || !w->ro || !w->al)
        return ax_fail(AX_ERR_OOM, run->fn_name, "no host memory for a history of %d",
                       w->slots);
    ax_tensor **vecs[] = {&w->g, &w->g_prev, &w->d, &w->x0};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
        AX_TRY(ax_so_vector(run, x, vecs[i]));
    for (int i = 0; cfg->line_search == AX_LINE_SEARCH_STRONG_WOLFE && i < 4; i++)
        AX_TRY(ax_so_vector(run, x, &w->ls[i]));
    for (size_t i = 0; i < k; i++) {
        AX_TRY(ax_so_vector(run, x, &w->s[i]));
        AX_TRY(ax_so_vector(run, x, &w->y[i]));
    }
    return AX_OK;
}

/* Form the pair s = t d, y = g - g_prev from the last step and keep it when y.s > 1e-10;
 * then H_diag = y.s / y.y (the scaling of H0 = H_diag I). */
static ax_status update_history(ax_so_run *run, lbfgs_ws *w, double t, float *h_diag) {
    ax_tensor *s = w->s[w->count], *y = w->y[w->count];
    float ys, yy;
    AX_TRY(ax_tensor_copy(y, w->g));
    AX_TRY(ax_axpy(run->ctx, -1.0f, w->g_prev, y));
    AX_TRY(ax_scale(run->ctx, (float)t, w->d, s));
    AX_TRY(ax_so_dot(run, y, s, &ys));
    if (!(ys > LBFGS_MIN_CURVATURE))
        return AX_OK;
    AX_TRY(ax_so_dot(run, y, y, &yy));
    w->ro[w->count] = 1.0f / ys;
    *h_diag = ys / yy;
    if (w->count < w->slots) {
        w->count++;
        return AX_OK;
    }
    /* full: drop the oldest pair, whose vectors become the next free slot */
    ax_tensor *s0 = w->s[0], *y0 = w->y[0];
    for (int i = 0; i < w->slots; i++) {
        w->s[i] = w->s[i + 1];
        w->y[i] = w->y[i + 1];
        w->ro[i] = w->ro[i + 1];
    }
    w->s[w->slots] = s0;
    w->y[w->slots] = y0;
    return AX_OK;
}

/* d = -H g by the two-loop recursion:
 *   q = -g; for i = newest..oldest: al_i = ro_i s_i.q, q -= al_i y_i;
 *   r = H_diag q; for i = oldest..newest: be_i = ro_i y_i.r, r += (al_i - be_i) s_i. */
static ax_status two_loop(ax_so_run *run, lbfgs_ws *w, float h_diag) {
    ax_ctx *ctx = run->ctx;
    AX_TRY(ax_scale(ctx, -1.0f, w->g, w->d));
    for (int i = w->count - 1; i >= 0; i--) {
        float sq;
        AX_TRY(ax_so_dot(run, w->s[i], w->d, &sq));
        w->al[i] = sq * w->ro[i];
        AX_TRY(ax_axpy(ctx, -w->al[i], w->y[i], w->d));
    }
    AX_TRY(ax_scale(ctx, h_diag, w->d, w->d));
    for (int i = 0; i < w->count; i++) {
        float yr;
        AX_TRY(ax_so_dot(run, w->y[i], w->d, &yr));
        const float be = yr * w->ro[i];
        AX_TRY(ax_axpy(ctx, w->al[i] - be, w->s[i], w->d));
    }
    return AX_OK;
}

/* x = x0 + t d (x0 = x on entry) with the line search's t (or lr's), and loss, g at the new
 * x. As in PyTorch, the line search may use the evaluations left: max_eval - evaluations. */
static ax_status take_step(ax_so_run *run, const ax_lbfgs_config *cfg, int max_eval,
                           lbfgs_ws *w, ax_tensor *x, float gtd, double *t, float *loss) {
    if (cfg->line_search == AX_LINE_SEARCH_STRONG_WOLFE) {
        return ax_so_strong_wolfe(run, x, w->x0, w->d, *loss, w->g, gtd, cfg->tolerance_change,
                                  max_eval - run->evaluations, w->ls, t, loss, w->g);
    }
    AX_TRY(ax_axpy(run->ctx, (float)*t, w->d, x));
    return ax_so_eval(run, x, loss, w->g);
}

/* The iterations; *reason says why they stopped. On a failure x is the last iterate. */
static ax_status minimize(ax_so_run *run, const ax_lbfgs_config *cfg, lbfgs_ws *w,
                          ax_tensor *x, ax_opt_stop *reason) {
    const int64_t default_eval = (int64_t)cfg->max_iter * 5 / 4; /* PyTorch's max_iter * 1.25 */
    const int max_eval = cfg->max_eval ? cfg->max_eval
                                       : (int)(default_eval < INT_MAX ? default_eval : INT_MAX);
    double t = 0.0;
    float h_diag = 1.0f;
    AX_TRY(ax_so_start(run, x, w->g, cfg->tolerance_grad, reason));

    for (int first = 1; *reason == AX_OPT_STOP_NONE; first = 0) {
        /* the direction */
        if (first) {
            AX_TRY(ax_scale(run->ctx, -1.0f, w->g, w->d)); /* steepest descent */
        } else {
            AX_TRY(update_history(run, w, t, &h_diag));
            AX_TRY(two_loop(run, w, h_diag));
        }
        AX_TRY(ax_tensor_copy(w->g_prev, w->g));

        /* the step: min(1, 1 / |g|_1) lr at first (the scale of g is unknown), then lr;
         * 1 / |g|_1 is an f32 tensor, and so is the product when it is the smaller */
        const float inv_sum = 1.0f / run->grad_sum;
        t = !first ? cfg->lr : inv_sum < 1.0f ? (double)(inv_sum * cfg->lr) : (double)cfg->lr;
        run->step = t; /* as PyTorch's state["t"], even when no step follows */
        float gtd, d_max;
        AX_TRY(ax_so_dot(run, w->g, w->d, &gtd));
        if (gtd > -cfg->tolerance_change) {
            /* no descent left to measure; PyTorch has counted this iteration already */
            run->iterations++;
            *reason = AX_OPT_STOP_STEP_TOL;
            break;
        }
        float loss = run->loss, prev_loss = run->loss;
        AX_TRY(ax_tensor_copy(w->x0, x));
        ax_status st = take_step(run, cfg, max_eval, w, x, gtd, &t, &loss);
        if (st != AX_OK) {
            ax_tensor_copy(x, w->x0); /* give back the last iterate */
            return st;
        }
        run->step = t;

        /* the tests, in PyTorch's order after the shared ones */
        AX_TRY(ax_so_accept(run, x, loss, w->g, cfg->tolerance_grad, cfg->max_iter,
                            cfg->monitor, cfg->monitor_user, reason));
        if (*reason != AX_OPT_STOP_NONE)
            break;
        AX_TRY(ax_so_abs_stats(run, w->d, &d_max, NULL));
        if (run->evaluations >= max_eval)
            *reason = AX_OPT_STOP_MAX_EVAL;
        else if (d_max * fabsf((float)t) <= cfg->tolerance_change) /* max |d t| in f32 */
            *reason = AX_OPT_STOP_STEP_TOL;
        else if (fabs((double)loss - (double)prev_loss) < cfg->tolerance_change)
            *reason = AX_OPT_STOP_LOSS_TOL;
    }
    return AX_OK;
}

ax_status ax_lbfgs_minimize(ax_ctx *ctx, const ax_lbfgs_config *cfg, ax_objective_fn fn,
                            void *user, ax_tensor *x, ax_opt_report *report) {
    if (report)
        *report = (ax_opt_report){0};
    ax_so_run run;
    AX_TRY(ax_so_begin(&run, __func__, ctx, cfg, fn, user, x));
    lbfgs_ws w = {0};
    ax_opt_stop reason = AX_OPT_STOP_NONE;
    ax_status st = check_config(__func__, cfg);
    if (st == AX_OK)
        st = ws_alloc(&run, cfg, x, &w);
    if (st == AX_OK)
        st = minimize(&run, cfg, &w, x, &reason);
    if (run.evaluations > 0)
        ax_so_report(&run, report, st == AX_OK ? reason : AX_OPT_STOP_NONE);
    ws_free(&w);
    ax_so_end(&run);
    return st;
}
