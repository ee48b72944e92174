/* Gradient descent with a fixed step, x_k+1 = x_k - lr g_k: the baseline the second-order
 * methods are measured against (for an L-smooth, mu-strongly convex f and lr = 1/L the loss
 * gap shrinks by 1 - mu/L per step). */
#include <math.h>

#include "second_order.h"

ax_gradient_descent_config ax_gradient_descent_defaults(void) {
    return (ax_gradient_descent_config){
        .lr = 0.1f,
        .max_iter = 1000,
        .tolerance_grad = 1e-5f,
        .monitor = NULL,
        .monitor_user = NULL,
    };
}

static ax_status check_config(const char *fn, const ax_gradient_descent_config *c) {
    AX_TRY(ax_so_require(fn, isfinite(c->lr) && c->lr > 0.0f, "lr = %g is not > 0",
                         (double)c->lr));
    AX_TRY(ax_so_require(fn, c->max_iter >= 1, "max_iter = %d is not >= 1", c->max_iter));
    return ax_so_require(fn, isfinite(c->tolerance_grad) && c->tolerance_grad >= 0.0f,
                         "tolerance_grad = %g is not >= 0", (double)c->tolerance_grad);
}

/* The iterations; *reason says why they stopped. On a failure x is the last iterate. */
static ax_status minimize(ax_so_run *run, const ax_gradient_descent_config *cfg, ax_tensor *g,
                          ax_tensor *x0, ax_tensor *x, ax_opt_stop *reason) {
    AX_TRY(ax_so_start(run, x, g, cfg->tolerance_grad, reason));
    while (*reason == AX_OPT_STOP_NONE) {
        run->step = cfg->lr;
        float loss;
        AX_TRY(ax_tensor_copy(x0, x));
        AX_TRY(ax_axpy(run->ctx, -cfg->lr, g, x));
        ax_status st = ax_so_eval(run, x, &loss, g);
        if (st != AX_OK) { /* e.g. a step too long for the curvature: keep the last iterate */
            ax_tensor_copy(x, x0);
            return st;
        }
        AX_TRY(ax_so_accept(run, x, loss, g, cfg->tolerance_grad, cfg->max_iter, cfg->monitor,
                            cfg->monitor_user, reason));
    }
    return AX_OK;
}

ax_status ax_gradient_descent_minimize(ax_ctx *ctx, const ax_gradient_descent_config *cfg,
                                       ax_objective_fn fn, void *user, ax_tensor *x,
                                       ax_opt_report *report) {
    if (report)
        *report = (ax_opt_report){0};
    ax_so_run run;
    AX_TRY(ax_so_begin(&run, __func__, ctx, cfg, fn, user, x));
    ax_tensor *g = NULL, *x0 = NULL;
    ax_opt_stop reason = AX_OPT_STOP_NONE;
    ax_status st = check_config(__func__, cfg);
    if (st == AX_OK)
        st = ax_so_vector(&run, x, &g);
    if (st == AX_OK)
        st = ax_so_vector(&run, x, &x0);
    if (st == AX_OK)
        st = minimize(&run, cfg, g, x0, x, &reason);
    if (run.evaluations > 0)
        ax_so_report(&run, report, st == AX_OK ? reason : AX_OPT_STOP_NONE);
    ax_tensor_destroy(g);
    ax_tensor_destroy(x0);
    ax_so_end(&run);
    return st;
}
