/* Truncated Newton (Newton-CG) as scipy.optimize.minimize(method="Newton-CG") runs it
 * (scipy/optimize/_optimize.py, _minimize_newtoncg; Nocedal & Wright, Numerical Optimization,
 * Algorithm 7.1): conjugate gradients on the damped Newton system (H + lambda I) p = -g,
 * stopped early by the forcing term (1-norms, as scipy) or on non-positive curvature, then
 * scipy's Moré-Thuente line search along p (more_thuente.c). Hessian-vector products are
 * exact (a callback) or forward differences of gradients. */
#include <float.h>
#include <limits.h>
#include <math.h>

#include "second_order.h"

ax_newton_cg_config ax_newton_cg_defaults(void) {
    return (ax_newton_cg_config){
        .max_iter = 0,
        .cg_max_iter = 0,
        .tolerance_grad = 1e-5f,
        .tolerance_step = 1e-5f,
        .tolerance_change = 1e-9f,
        .damping = 0.0f,
        .forcing_max = 0.5f,
        .c1 = 1e-4f,
        .c2 = 0.9f,
        .max_line_search = 100,
        .monitor = NULL,
        .monitor_user = NULL,
    };
}

static ax_status check_config(const char *fn, const ax_newton_cg_config *c) {
    AX_TRY(ax_so_require(fn, c->max_iter >= 0, "max_iter = %d is negative", c->max_iter));
    AX_TRY(ax_so_require(fn, c->cg_max_iter >= 0, "cg_max_iter = %d is negative",
                         c->cg_max_iter));
    AX_TRY(ax_so_require(fn, isfinite(c->tolerance_grad) && c->tolerance_grad >= 0.0f,
                         "tolerance_grad = %g is not >= 0", (double)c->tolerance_grad));
    AX_TRY(ax_so_require(fn, isfinite(c->tolerance_step) && c->tolerance_step >= 0.0f,
                         "tolerance_step = %g is not >= 0", (double)c->tolerance_step));
    AX_TRY(ax_so_require(fn, isfinite(c->tolerance_change) && c->tolerance_change >= 0.0f,
                         "tolerance_change = %g is not >= 0", (double)c->tolerance_change));
    AX_TRY(ax_so_require(fn, isfinite(c->damping) && c->damping >= 0.0f,
                         "damping = %g is not >= 0", (double)c->damping));
    AX_TRY(ax_so_require(fn, c->forcing_max >= 0.0f && c->forcing_max < 1.0f,
                         "forcing_max = %g is not in [0, 1)", (double)c->forcing_max));
    AX_TRY(ax_so_require(fn, c->c1 > 0.0f && c->c1 < c->c2 && c->c2 < 1.0f,
                         "c1 = %g and c2 = %g do not satisfy 0 < c1 < c2 < 1", (double)c->c1,
                         (double)c->c2));
    return ax_so_require(fn, c->max_line_search >= 1, "max_line_search = %d is not >= 1",
                         c->max_line_search);
}

/* Work vectors shaped like x: gradients now and at the trial point, the step p, CG's
 * residual r, direction d and B d, the iterate before the step, and the finite-difference
 * point and gradient. */
typedef struct newton_ws {
    ax_tensor *g, *g_new, *p, *r, *d, *bd, *x0, *xh, *gh;
} newton_ws;

/* a.b (the device's f32 result) as a double: Newton-CG's scalars are doubles, as scipy's. */
static ax_status dot(ax_so_run *run, const ax_tensor *a, const ax_tensor *b, double *out) {
    float v;
    AX_TRY(ax_so_dot(run, a, b, &v));
    *out = v;
    return AX_OK;
}

/* The Hessian-vector product oracle at the current iterate. */
typedef struct hvp_oracle {
    ax_hvp_fn hvp;       /* NULL: forward differences */
    float damping;       /* lambda of H + lambda I */
    const ax_tensor *x;  /* the iterate */
    const ax_tensor *g;  /* the gradient there */
    double x_norm;       /* |x|, for the difference step */
} hvp_oracle;

/* out = (H + lambda I) v. Without an hvp callback, H v ~ (g(x + h v) - g) / h with
 * h = sqrt(FLT_EPSILON) (1 + |x|) / |v|: the step that balances the truncation error
 * O(h |v|^2) against the rounding error O(FLT_EPSILON |g| / h) in single precision. */
static ax_status hessian_vector(ax_so_run *run, newton_ws *w, const hvp_oracle *o,
                                const ax_tensor *v, ax_tensor *out) {
    ax_ctx *ctx = run->ctx;
    run->hvp_calls++;
    if (o->hvp) {
        ax_clear_error();
        ax_status st = o->hvp(run->user, o->x, v, out);
        if (st != AX_OK)
            return ax_so_callback_failed(run, st, "hvp callback", run->hvp_calls);
    } else {
        double vv;
        float f;
        AX_TRY(dot(run, v, v, &vv));
        if (vv == 0.0)
            return ax_fill(ctx, out, 0.0f);
        double h = sqrt((double)FLT_EPSILON) * (1.0 + o->x_norm) / sqrt(vv);
        AX_TRY(ax_so_step(ctx, o->x, (float)h, v, w->xh));
        AX_TRY(ax_so_eval(run, w->xh, &f, w->gh));
        AX_TRY(ax_tensor_copy(out, w->gh));
        AX_TRY(ax_axpy(ctx, -1.0f, o->g, out));
        AX_TRY(ax_scale(ctx, (float)(1.0 / h), out, out));
    }
    return o->damping > 0.0f ? ax_axpy(ctx, o->damping, v, out) : AX_OK;
}

/* p ~ -(H + lambda I)^-1 g by CG from p = 0, as scipy's inner loop:
 *   r = g, d = -g; repeat while |r|_1 > tol: c = d.Bd; if 0 <= c <= 3 DBL_EPSILON stop; if
 *   c < 0 stop (keep p, or on the first iteration p = -(r.r / |c|) g); a = r.r / c; p += a d;
 *   r += a Bd; d = -r + (r.r_new / r.r_old) d. */
static ax_status truncated_cg(ax_so_run *run, newton_ws *w, const hvp_oracle *o,
                              int max_iter, double tol) {
    ax_ctx *ctx = run->ctx;
    double rr, dbd, rr_new;
    AX_TRY(ax_fill(ctx, w->p, 0.0f));
    AX_TRY(ax_tensor_copy(w->r, w->g));
    AX_TRY(ax_scale(ctx, -1.0f, w->g, w->d));
    AX_TRY(dot(run, w->r, w->r, &rr));
    for (int j = 0; j < max_iter; j++) {
        float r_max, r_sum;
        AX_TRY(ax_so_abs_stats(run, w->r, &r_max, &r_sum));
        if (r_sum <= tol)
            break;
        AX_TRY(hessian_vector(run, w, o, w->d, w->bd));
        AX_TRY(dot(run, w->d, w->bd, &dbd));
        if (dbd >= 0.0 && dbd <= 3.0 * DBL_EPSILON)
            break;
        if (dbd < 0.0) /* negative curvature: scaled steepest descent if nothing better */
            return j == 0 ? ax_scale(ctx, (float)(rr / -dbd), w->d, w->p) : AX_OK;
        double alpha = rr / dbd;
        AX_TRY(ax_axpy(ctx, (float)alpha, w->d, w->p));
        AX_TRY(ax_axpy(ctx, (float)alpha, w->bd, w->r));
        AX_TRY(dot(run, w->r, w->r, &rr_new));
        AX_TRY(ax_scale(ctx, (float)(rr_new / rr), w->d, w->d));
        AX_TRY(ax_axpy(ctx, -1.0f, w->r, w->d));
        rr = rr_new;
    }
    return AX_OK;
}

/* The iterations; *reason says why they stopped. On a failure x is the last iterate. */
static ax_status minimize(ax_so_run *run, const ax_newton_cg_config *cfg, ax_hvp_fn hvp,
                          newton_ws *w, ax_tensor *x, ax_opt_stop *reason) {
    const int64_t n = run->n;
    const int max_iter = cfg->max_iter ? cfg->max_iter : (int)(n < 10000000 ? 200 * n : INT_MAX);
    const int cg_max_iter =
        cfg->cg_max_iter ? cfg->cg_max_iter : (int)(n < 100000000 ? 20 * n : INT_MAX);
    double old_loss = NAN; /* f at the previous iterate, for the first trial step */
    AX_TRY(ax_so_start(run, x, w->g, cfg->tolerance_grad, reason));
    while (*reason == AX_OPT_STOP_NONE) {
        /* the Newton step, solved to |r|_1 <= eta |g|_1, eta = min(eta_max, sqrt(|g|_1)) */
        hvp_oracle o = {hvp, cfg->damping, x, w->g, 0.0};
        double gtp;
        const double g_sum = run->grad_sum;
        if (!hvp) {
            AX_TRY(dot(run, x, x, &o.x_norm));
            o.x_norm = sqrt(o.x_norm);
        }
        const double eta = fmin(cfg->forcing_max, sqrt(g_sum));
        AX_TRY(truncated_cg(run, w, &o, cg_max_iter, eta * g_sum));
        AX_TRY(dot(run, w->g, w->p, &gtp));
        if (!(gtp < 0.0)) { /* finite-difference noise can spoil descent: fall back to -g */
            AX_TRY(ax_scale(run->ctx, -1.0f, w->g, w->p));
            AX_TRY(dot(run, w->g, w->g, &gtp));
            gtp = -gtp;
        }

        /* scipy's first trial: 1, or min(1, 1.01 * 2 (f_k - f_k-1) / g.p) once f_k-1 exists */
        const float prev_loss = run->loss;
        double t1 = 1.0, t = 0.0;
        if (isfinite(old_loss) && gtp != 0.0) {
            t1 = fmin(1.0, 1.01 * 2.0 * ((double)prev_loss - old_loss) / gtp);
            if (t1 < 0.0)
                t1 = 1.0;
        }
        float loss = prev_loss, p_max, p_sum;
        int found;
        AX_TRY(ax_tensor_copy(w->x0, x));
        ax_status st = ax_so_more_thuente(run, x, w->x0, w->p, prev_loss, gtp, t1, cfg->c1,
                                          cfg->c2, cfg->max_line_search, &t, &loss, w->g_new,
                                          &found);
        if (st != AX_OK) {
            ax_tensor_copy(x, w->x0); /* give back the last iterate */
            return st;
        }
        if (!found) {
            *reason = AX_OPT_STOP_LINE_SEARCH;
            break;
        }
        run->step = t;
        old_loss = prev_loss;
        ax_tensor *tmp = w->g; /* the gradient at the new x */
        w->g = w->g_new;
        w->g_new = tmp;

        AX_TRY(ax_so_accept(run, x, loss, w->g, cfg->tolerance_grad, max_iter, cfg->monitor,
                            cfg->monitor_user, reason));
        if (*reason != AX_OPT_STOP_NONE)
            break;
        AX_TRY(ax_so_abs_stats(run, w->p, &p_max, &p_sum));
        if (t * p_sum <= (double)n * cfg->tolerance_step) /* |t p|_1 <= xtol */
            *reason = AX_OPT_STOP_STEP_TOL;
        else if (fabs((double)loss - (double)prev_loss) < cfg->tolerance_change)
            *reason = AX_OPT_STOP_LOSS_TOL;
    }
    return AX_OK;
}

ax_status ax_newton_cg_minimize(ax_ctx *ctx, const ax_newton_cg_config *cfg,
                                ax_objective_fn fn, ax_hvp_fn hvp, void *user, ax_tensor *x,
                                ax_opt_report *report) {
    if (report)
        *report = (ax_opt_report){0};
    ax_so_run run;
    AX_TRY(ax_so_begin(&run, __func__, ctx, cfg, fn, user, x));
    newton_ws w = {0};
    ax_tensor **vecs[] = {&w.g, &w.g_new, &w.p, &w.r, &w.d, &w.bd, &w.x0, &w.xh, &w.gh};
    const size_t count = sizeof vecs / sizeof vecs[0];
    ax_opt_stop reason = AX_OPT_STOP_NONE;
    ax_status st = check_config(__func__, cfg);
    for (size_t i = 0; st == AX_OK && i < count; i++)
        st = ax_so_vector(&run, x, vecs[i]);
    if (st == AX_OK)
        st = minimize(&run, cfg, hvp, &w, x, &reason);
    if (run.evaluations > 0)
        ax_so_report(&run, report, st == AX_OK ? reason : AX_OPT_STOP_NONE);
    for (size_t i = 0; i < count; i++)
        ax_tensor_destroy(*vecs[i]);
    ax_so_end(&run);
    return st;
}
