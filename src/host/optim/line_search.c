/* PyTorch's strong-Wolfe line search (torch/optim/lbfgs.py: _cubic_interpolate, _strong_wolfe;
 * after Nocedal & Wright, Numerical Optimization, Algorithms 3.5 and 3.6, and minFunc),
 * step for step, so that L-BFGS takes PyTorch's iterates. Scalars are kept in double. */
#include <math.h>

#include "second_order.h"

#define WOLFE_C1 1e-4 /* sufficient decrease: f(t) <= f(0) + c1 t f'(0) */
#define WOLFE_C2 0.9  /* curvature: |f'(t)| <= -c2 f'(0) */

/* Minimizer of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2, clamped to
 * [lo, hi]; the midpoint of [lo, hi] when the cubic has no minimizer (Nocedal & Wright,
 * eq. 3.59):
 *   d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2),  d2 = sqrt(d1^2 - g1 g2),
 *   x = x2 - (x2 - x1) (g2 + d2 - d1) / (g2 - g1 + 2 d2)   (for x1 <= x2). */
static double cubic_interpolate(double x1, double f1, double g1, double x2, double f2,
                                double g2, double lo, double hi) {
    double d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    double d2_square = d1 * d1 - g1 * g2;
    if (d2_square >= 0.0) {
        double d2 = sqrt(d2_square);
        double min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
                                  : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2));
        return fmin(fmax(min_pos, lo), hi);
    }
    return (lo + hi) / 2.0;
}

/* The same, bounded by the two points themselves. */
static double cubic_in_bracket(const double t[2], const double f[2], const double gtd[2]) {
    return cubic_interpolate(t[0], f[0], gtd[0], t[1], f[1], gtd[1], fmin(t[0], t[1]),
                             fmax(t[0], t[1]));
}

/* f, g and the slope g.d at x = x0 + t d. */
static ax_status evaluate(ax_so_run *run, ax_tensor *x, const ax_tensor *x0, double t,
                          const ax_tensor *d, double *f, ax_tensor *g, double *gtd) {
    float loss;
    AX_TRY(ax_so_step(run->ctx, x0, (float)t, d, x));
    AX_TRY(ax_so_eval(run, x, &loss, g));
    *f = loss;
    return ax_so_dot(run, g, d, gtd);
}

/* One end of the bracket: step, loss, slope, and its gradient (a vector of its own). */
typedef struct ls_point {
    double t, f, gtd;
    ax_tensor *g;
} ls_point;

/* dst = src, the gradient copied (dst keeps its own vector). */
static ax_status assign(ls_point *dst, double t, double f, double gtd, const ax_tensor *g) {
    dst->t = t;
    dst->f = f;
    dst->gtd = gtd;
    return dst->g == g ? AX_OK : ax_tensor_copy(dst->g, g);
}

ax_status ax_so_strong_wolfe(ax_so_run *run, ax_tensor *x, const ax_tensor *x0,
                             const ax_tensor *d, float f0, const ax_tensor *g0, double gtd0,
                             float tolerance_change, int max_ls, ax_tensor *const ws[4],
                             double *t_io, float *loss, ax_tensor *g) {
    ax_tensor *g_new = ws[0], *g_prev = ws[1];
    ls_point br[2] = {{0, 0, 0, ws[2]}, {0, 0, 0, ws[3]}};
    int low = 0, high = 1, done = 0, ls_iter = 0;
    double d_norm, t = *t_io, f_new, gtd_new;
    AX_TRY(ax_so_abs_stats(run, d, &d_norm, NULL));
    AX_TRY(evaluate(run, x, x0, t, d, &f_new, g_new, &gtd_new));

    /* Bracketing phase: grow t until [t_prev, t] holds a point satisfying the strong Wolfe
     * conditions, or t itself does. */
    double t_prev = 0.0, f_prev = f0, gtd_prev = gtd0;
    AX_TRY(ax_tensor_copy(g_prev, g0));
    while (ls_iter < max_ls) {
        int wolfe = fabs(gtd_new) <= -WOLFE_C2 * gtd0;
        if (f_new > f0 + WOLFE_C1 * t * gtd0 || (ls_iter > 1 && f_new >= f_prev) ||
            (!wolfe && gtd_new >= 0.0)) {
            /* Armijo fails, the loss went up, or the slope turned: a minimizer lies between */
            AX_TRY(assign(&br[0], t_prev, f_prev, gtd_prev, g_prev));
            AX_TRY(assign(&br[1], t, f_new, gtd_new, g_new));
            break;
        }
        if (wolfe) { /* t satisfies the strong Wolfe conditions */
            AX_TRY(assign(&br[0], t, f_new, gtd_new, g_new));
            br[1] = (ls_point){t, f_new, gtd_new, br[1].g};
            done = 1;
            break;
        }
        /* extrapolate: the cubic's minimizer within [t + 0.01 (t - t_prev), 10 t] */
        double min_step = t + 0.01 * (t - t_prev), max_step = t * 10.0, tmp = t;
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, min_step, max_step);
        t_prev = tmp;
        f_prev = f_new;
        gtd_prev = gtd_new;
        AX_TRY(ax_tensor_copy(g_prev, g_new));
        AX_TRY(evaluate(run, x, x0, t, d, &f_new, g_new, &gtd_new));
        ls_iter++;
    }
    if (ls_iter == max_ls) { /* out of evaluations (t's conditions untested): [0, t] */
        AX_TRY(assign(&br[0], 0.0, f0, gtd0, g0));
        AX_TRY(assign(&br[1], t, f_new, gtd_new, g_new));
    }

    /* Zoom phase: shrink the bracket; br[low] is the end with the lower loss. */
    int insufficient_progress = 0;
    if (br[0].f > br[1].f) {
        low = 1;
        high = 0;
    }
    while (!done && ls_iter < max_ls) {
        double bt[2] = {br[0].t, br[1].t}, bf[2] = {br[0].f, br[1].f},
               bg[2] = {br[0].gtd, br[1].gtd};
        if (fabs(bt[1] - bt[0]) * d_norm < tolerance_change)
            break; /* the bracket is too small to matter */
        t = cubic_in_bracket(bt, bf, bg);
        /* Keep t at least 10% of the bracket away from its ends; when the last try already
         * was that close (or t fell outside), move it there. */
        double hi = fmax(bt[0], bt[1]), lo = fmin(bt[0], bt[1]), eps = 0.1 * (hi - lo);
        if (fmin(hi - t, t - lo) < eps) {
            if (insufficient_progress || t >= hi || t <= lo) {
                t = fabs(t - hi) < fabs(t - lo) ? hi - eps : lo + eps;
                insufficient_progress = 0;
            } else {
                insufficient_progress = 1;
            }
        } else {
            insufficient_progress = 0;
        }
        AX_TRY(evaluate(run, x, x0, t, d, &f_new, g_new, &gtd_new));
        ls_iter++;
        if (f_new > f0 + WOLFE_C1 * t * gtd0 || f_new >= br[low].f) {
            /* Armijo fails or no better than the low end: t becomes the high end */
            AX_TRY(assign(&br[high], t, f_new, gtd_new, g_new));
            low = br[0].f <= br[1].f ? 0 : 1;
            high = 1 - low;
        } else {
            if (fabs(gtd_new) <= -WOLFE_C2 * gtd0)
                done = 1; /* strong Wolfe holds */
            else if (gtd_new * (br[high].t - br[low].t) >= 0.0)
                AX_TRY(assign(&br[high], br[low].t, br[low].f, br[low].gtd, br[low].g));
            AX_TRY(assign(&br[low], t, f_new, gtd_new, g_new));
        }
    }

    /* the low end is the answer; x was left at the last trial point */
    *t_io = br[low].t;
    *loss = (float)br[low].f;
    AX_TRY(ax_tensor_copy(g, br[low].g));
    return ax_so_step(run->ctx, x0, (float)br[low].t, d, x);
}
