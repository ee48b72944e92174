/* Internals shared by the full-batch minimizers (L-BFGS, Newton-CG, gradient descent):
 * vectors shaped like x on x's device, dot products and norms reduced on the device (only
 * their scalars come back to the host), checked evaluations of the objective, the report. */
#ifndef AX_SECOND_ORDER_H
#define AX_SECOND_ORDER_H

#include "axon/ops.h"
#include "axon/optim.h"

#include "../ops/check.h"

/* What every minimizer carries: the public call's name for messages, the objective, and
 * the bookkeeping the report is made of. */
typedef struct ax_so_run {
    const char *fn_name;
    ax_ctx *ctx;
    ax_objective_fn fn;
    void *user;
    int64_t n;          /* numel(x) */
    ax_tensor *scalar[2]; /* one element each, on the device: where dot products and max |v|
                             (0) and sums of |v| (1) land */
    int iterations, evaluations, hvp_calls;
    float loss;     /* at the last accepted iterate */
    float grad_max; /* max |g_i| there */
    float grad_sum; /* sum |g_i| there */
    double step;    /* the last iteration's step length t (the report's step) */
} ax_so_run;

/* Check ctx, cfg (as a pointer), fn and x, then set up run (nothing allocated on failure). */
ax_status ax_so_begin(ax_so_run *run, const char *fn_name, ax_ctx *ctx, const void *cfg,
                      ax_objective_fn fn, void *user, const ax_tensor *x);
/* Release what ax_so_begin allocated. */
void ax_so_end(ax_so_run *run);

/* A new vector shaped like x on x's device (*out NULL on failure). */
ax_status ax_so_vector(ax_so_run *run, const ax_tensor *x, ax_tensor **out);

/* a.b, reduced on the device (ax_dot: double sums, deterministic), the f32 result read back. */
ax_status ax_so_dot(ax_so_run *run, const ax_tensor *a, const ax_tensor *b, float *out);
/* max_i |v_i| and, when sum_abs is not NULL, sum_i |v_i| (f32 results of reductions on the
 * device, NaN when v holds one). */
ax_status ax_so_abs_stats(ax_so_run *run, const ax_tensor *v, float *max_abs, float *sum_abs);

/* y = x + t d (y distinct from x and d). */
ax_status ax_so_step(ax_ctx *ctx, const ax_tensor *x, float t, const ax_tensor *d,
                     ax_tensor *y);

/* A callback (the objective, the hvp) returned st: st, with a message naming the minimizer,
 * `what` failed, at its count-th call, and the callback's own message. Call right after the
 * callback (ax_clear_error before it), so that ax_last_error is the callback's. */
ax_status ax_so_callback_failed(const ax_so_run *run, ax_status st, const char *what,
                                int count);

/* loss = fn(x) and grad (may be NULL), counted. A failing callback's status comes back with
 * a message naming the minimizer; a non-finite loss is AX_ERR_INVALID_ARG. */
ax_status ax_so_eval(ax_so_run *run, const ax_tensor *x, float *loss, ax_tensor *grad);

/* The first evaluation: loss and g at x become the accepted iterate; *reason is
 * AX_OPT_STOP_GRAD_TOL when x already meets tolerance_grad, else AX_OPT_STOP_NONE. */
ax_status ax_so_start(ax_so_run *run, const ax_tensor *x, ax_tensor *g, float tolerance_grad,
                      ax_opt_stop *reason);

/* An iteration ended at x with this loss and gradient g: count it, make it the
 * accepted iterate, call the monitor (shown x), and apply the tests every minimizer shares, in this
 * order: max |g_i| <= tolerance_grad, the monitor's stop, max_iter. *reason is the first
 * that holds, else AX_OPT_STOP_NONE (the minimizer's own tests come next). */
ax_status ax_so_accept(ax_so_run *run, const ax_tensor *x, float loss, const ax_tensor *g,
                       float tolerance_grad, int max_iter, ax_opt_monitor_fn monitor,
                       void *monitor_user, ax_opt_stop *reason);

/* Fill report (may be NULL) from run: counts, the last accepted iterate, reason
 * (AX_OPT_STOP_NONE after a failure). */
void ax_so_report(const ax_so_run *run, ax_opt_report *report, ax_opt_stop reason);

/* AX_ERR_INVALID_ARG naming the call when ok is false (fmt says which value is wrong). */
ax_status ax_so_require(const char *fn_name, int ok, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* PyTorch's strong-Wolfe line search (torch/optim/lbfgs.py, _strong_wolfe, in its mix of f32
 * and double arithmetic: see line_search.c) from x0 along d:
 * f0, g0 and gtd0 = g0.d describe x0 and t is the first trial step; at most 1 + max_ls
 * evaluations (counted in run). Trial points are evaluated in x. On return *t is the step
 * found, *loss and g the loss and gradient at x0 + t d, and x holds that point.
 * ws holds four vectors shaped like x (the trial gradient, the previous one, the bracket's two). */
ax_status ax_so_strong_wolfe(ax_so_run *run, ax_tensor *x, const ax_tensor *x0,
                             const ax_tensor *d, float f0, const ax_tensor *g0, float gtd0,
                             float tolerance_change, int max_ls, ax_tensor *const ws[4],
                             double *t, float *loss, ax_tensor *g);

/* scipy's Newton-CG line search (line_search_wolfe1: Moré and Thuente, MINPACK's dcsrch) from
 * x0 along p: f0 and gtp0 = g0.p describe x0 and t1 is the first trial step; at most max_ls
 * evaluations (counted in run). On success (*found = 1) *t is a step with sufficient
 * decrease (c1) and curvature (c2), *loss and g describe x0 + t p, and x holds that point;
 * otherwise x = x0. */
ax_status ax_so_more_thuente(ax_so_run *run, ax_tensor *x, const ax_tensor *x0,
                             const ax_tensor *p, float f0, double gtp0, double t1, double c1,
                             double c2, int max_ls, double *t, float *loss, ax_tensor *g,
                             int *found);

#endif
