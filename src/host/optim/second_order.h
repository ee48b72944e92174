/* Internals shared by the full-batch minimizers (L-BFGS, Newton-CG, gradient descent):
 * vectors shaped like x on x's device, dot products and norms read back to the host, checked
 * evaluations of the objective, the report. */
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
    ax_tensor *dot_out; /* [1, 1], the result of ax_so_dot */
    float *host;        /* n floats, for the max and sum of |v| */
    int iterations, evaluations, hvp_calls;
} ax_so_run;

/* Check ctx, cfg (as a pointer), fn and x, then set up run (nothing allocated on failure). */
ax_status ax_so_begin(ax_so_run *run, const char *fn_name, ax_ctx *ctx, const void *cfg,
                      ax_objective_fn fn, void *user, const ax_tensor *x);
/* Release what ax_so_begin allocated. */
void ax_so_end(ax_so_run *run);

/* A new vector shaped like x on x's device (*out NULL on failure). */
ax_status ax_so_vector(ax_so_run *run, const ax_tensor *x, ax_tensor **out);

/* a.b, computed on the device as the GEMM [1, n] x [n, 1] (the BLAS's f32 sums). */
ax_status ax_so_dot(ax_so_run *run, const ax_tensor *a, const ax_tensor *b, double *out);
/* max_i |v_i| and, when sum_abs is not NULL, sum_i |v_i| (v copied to the host). */
ax_status ax_so_abs_stats(ax_so_run *run, const ax_tensor *v, double *max_abs,
                          double *sum_abs);

/* y = x + t d (y distinct from x and d). */
ax_status ax_so_step(ax_ctx *ctx, const ax_tensor *x, float t, const ax_tensor *d,
                     ax_tensor *y);

/* loss = fn(x) and grad (may be NULL), counted. A failing callback's status comes back with
 * a message naming the minimizer; a non-finite loss is AX_ERR_INVALID_ARG. */
ax_status ax_so_eval(ax_so_run *run, const ax_tensor *x, float *loss, ax_tensor *grad);

/* The monitor's verdict (0: go on; no monitor: 0). */
int ax_so_monitor(ax_opt_monitor_fn monitor, void *user, int iteration, float loss,
                  float grad_max);

/* Fill report (may be NULL) from run and the final values. */
void ax_so_report(const ax_so_run *run, ax_opt_report *report, float loss, float grad_max,
                  ax_opt_stop reason);

/* AX_ERR_INVALID_ARG naming the call when ok is false (fmt says which value is wrong). */
ax_status ax_so_require(const char *fn_name, int ok, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* PyTorch's strong-Wolfe line search (torch/optim/lbfgs.py, _strong_wolfe) from x0 along d:
 * f0, g0 and gtd0 = g0.d describe x0 and t is the first trial step; at most 1 + max_ls
 * evaluations. Trial points are evaluated in x. On return *t is the step found, *loss and g
 * the loss and gradient at x0 + t d, and x holds that point; *evals counts the objective
 * calls made.
 * ws holds four vectors shaped like x (the trial gradient, the previous one, the bracket's two). */
ax_status ax_so_strong_wolfe(ax_so_run *run, ax_tensor *x, const ax_tensor *x0,
                             const ax_tensor *d, float f0, const ax_tensor *g0, double gtd0,
                             float tolerance_change, int max_ls, ax_tensor *const ws[4],
                             double *t, float *loss, ax_tensor *g, int *evals);

#endif
