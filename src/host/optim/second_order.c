/* Internals shared by the full-batch minimizers: set-up and checks, device vectors, dot
 * products and norms, checked evaluations of the objective, reports. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "second_order.h"

const char *ax_opt_stop_str(ax_opt_stop reason) {
    switch (reason) {
    case AX_OPT_STOP_NONE: return "AX_OPT_STOP_NONE";
    case AX_OPT_STOP_GRAD_TOL: return "AX_OPT_STOP_GRAD_TOL";
    case AX_OPT_STOP_STEP_TOL: return "AX_OPT_STOP_STEP_TOL";
    case AX_OPT_STOP_LOSS_TOL: return "AX_OPT_STOP_LOSS_TOL";
    case AX_OPT_STOP_MAX_ITER: return "AX_OPT_STOP_MAX_ITER";
    case AX_OPT_STOP_MAX_EVAL: return "AX_OPT_STOP_MAX_EVAL";
    case AX_OPT_STOP_LINE_SEARCH: return "AX_OPT_STOP_LINE_SEARCH";
    case AX_OPT_STOP_MONITOR: return "AX_OPT_STOP_MONITOR";
    }
    return "AX_OPT_STOP_(unknown)";
}

ax_status ax_so_require(const char *fn_name, int ok, const char *fmt, ...) {
    if (ok)
        return AX_OK;
    char msg[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, sizeof msg, fmt, args);
    va_end(args);
    return ax_fail(AX_ERR_INVALID_ARG, fn_name, "%s", msg);
}

ax_status ax_so_begin(ax_so_run *run, const char *fn_name, ax_ctx *ctx, const void *cfg,
                      ax_objective_fn fn, void *user, const ax_tensor *x) {
    memset(run, 0, sizeof *run);
    AX_TRY(ax_check_ctx(fn_name, ctx));
    AX_TRY(ax_so_require(fn_name, cfg != NULL, "cfg is NULL"));
    AX_TRY(ax_so_require(fn_name, fn != NULL, "the objective fn is NULL"));
    AX_TRY(ax_check_tensor(fn_name, ctx, x, "x", AX_F32));
    run->fn_name = fn_name;
    run->ctx = ctx;
    run->fn = fn;
    run->user = user;
    run->n = x->numel;
    const struct ax_backend *be = ctx->backend;
    AX_TRY(ax_backend_ready(fn_name, ctx,
                            be->dot && be->abs_max && be->l1_penalty && be->fill_f32));
    const int64_t one = 1;
    ax_status st = AX_OK;
    for (int i = 0; st == AX_OK && i < 2; i++)
        st = ax_tensor_create(ctx, AX_F32, 1, &one, &run->scalar[i]);
    if (st == AX_OK)
        return AX_OK;
    ax_so_end(run);
    return ax_fail(st, fn_name, "device scalars: %s", ax_last_error());
}

void ax_so_end(ax_so_run *run) {
    for (int i = 0; i < 2; i++) {
        ax_tensor_destroy(run->scalar[i]);
        run->scalar[i] = NULL;
    }
}

ax_status ax_so_vector(ax_so_run *run, const ax_tensor *x, ax_tensor **out) {
    *out = NULL;
    ax_status st = ax_tensor_create(run->ctx, AX_F32, x->ndim, x->shape, out);
    if (st != AX_OK)
        return ax_fail(st, run->fn_name, "work vector of %lld floats: %s", (long long)run->n,
                       ax_status_str(st));
    return AX_OK;
}

/* The device work goes through the ops' entry points, which enter ctx's device: the
 * objective called in between may have made another device current. */
ax_status ax_so_dot(ax_so_run *run, const ax_tensor *a, const ax_tensor *b, float *out) {
    AX_TRY(ax_dot(run->ctx, a, b, run->scalar[0]));
    return ax_tensor_to_host(run->scalar[0], out, sizeof *out);
}

ax_status ax_so_abs_stats(ax_so_run *run, const ax_tensor *v, float *max_abs, float *sum_abs) {
    AX_TRY(ax_abs_max(run->ctx, v, run->scalar[0]));
    if (sum_abs) { /* scalar[1] = 0 + 1 * sum |v| */
        AX_TRY(ax_fill(run->ctx, run->scalar[1], 0.0f));
        AX_TRY(ax_l1_penalty(run->ctx, v, 1.0f, run->scalar[1], NULL));
        AX_TRY(ax_tensor_to_host(run->scalar[1], sum_abs, sizeof *sum_abs));
    }
    return ax_tensor_to_host(run->scalar[0], max_abs, sizeof *max_abs);
}

ax_status ax_so_step(ax_ctx *ctx, const ax_tensor *x, float t, const ax_tensor *d,
                     ax_tensor *y) {
    AX_TRY(ax_tensor_copy(y, x));
    return ax_axpy(ctx, t, d, y);
}

ax_status ax_so_callback_failed(const ax_so_run *run, ax_status st, const char *what,
                                int count) {
    const char *inner = ax_last_error(); /* the callback's own message; ax_fail copies it */
    return ax_fail(st, run->fn_name, "the %s failed (%s) at call %d%s%s", what,
                   ax_status_str(st), count, inner[0] ? ": " : "", inner);
}

ax_status ax_so_eval(ax_so_run *run, const ax_tensor *x, float *loss, ax_tensor *grad) {
    float f = NAN;
    ax_clear_error();
    ax_status st = run->fn(run->user, x, &f, grad);
    run->evaluations++;
    if (st != AX_OK)
        return ax_so_callback_failed(run, st, "objective", run->evaluations);
    if (!isfinite(f))
        return ax_fail(AX_ERR_INVALID_ARG, run->fn_name,
                       "the objective returned a non-finite loss (%g) at evaluation %d",
                       (double)f, run->evaluations);
    *loss = f;
    return AX_OK;
}

ax_status ax_so_start(ax_so_run *run, const ax_tensor *x, ax_tensor *g, float tolerance_grad,
                      ax_opt_stop *reason) {
    AX_TRY(ax_so_eval(run, x, &run->loss, g));
    AX_TRY(ax_so_abs_stats(run, g, &run->grad_max, &run->grad_sum));
    *reason = run->grad_max <= tolerance_grad ? AX_OPT_STOP_GRAD_TOL : AX_OPT_STOP_NONE;
    return AX_OK;
}

ax_status ax_so_accept(ax_so_run *run, const ax_tensor *x, float loss, const ax_tensor *g,
                       float tolerance_grad, int max_iter, ax_opt_monitor_fn monitor,
                       void *monitor_user, ax_opt_stop *reason) {
    run->iterations++;
    run->loss = loss;
    AX_TRY(ax_so_abs_stats(run, g, &run->grad_max, &run->grad_sum));
    int stop = monitor && monitor(monitor_user, x, run->iterations, loss, run->grad_max);
    if (run->grad_max <= tolerance_grad)
        *reason = AX_OPT_STOP_GRAD_TOL;
    else if (stop)
        *reason = AX_OPT_STOP_MONITOR;
    else if (run->iterations >= max_iter)
        *reason = AX_OPT_STOP_MAX_ITER;
    else
        *reason = AX_OPT_STOP_NONE;
    return AX_OK;
}

void ax_so_report(const ax_so_run *run, ax_opt_report *report, ax_opt_stop reason) {
    if (!report)
        return;
    report->iterations = run->iterations;
    report->evaluations = run->evaluations;
    report->hvp_calls = run->hvp_calls;
    report->loss = run->loss;
    report->grad_max = run->grad_max;
    report->step = run->step;
    report->reason = reason;
    report->converged = reason == AX_OPT_STOP_GRAD_TOL || reason == AX_OPT_STOP_STEP_TOL ||
                        reason == AX_OPT_STOP_LOSS_TOL;
}
