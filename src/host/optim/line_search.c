/* PyTorch's strong-Wolfe line search (torch/optim/lbfgs.py: _cubic_interpolate, _strong_wolfe;
 * after Nocedal & Wright, Numerical Optimization, Algorithms 3.5 and 3.6, and minFunc),
 * step for step and in PyTorch's arithmetic, so that L-BFGS takes PyTorch's iterates.
 *
 * PyTorch mixes two precisions, and the tests only agree with it when we do the same:
 * - losses f are Python floats (doubles holding f32 values), steps t Python floats (double);
 * - slopes g.d and max |d| are f32 tensors, and any expression that meets one is computed in
 *   f32, its Python operands rounded to f32 first. So the sufficient-decrease test
 *   f_new > f + c1 t g.d compares in f32: f + (f32)(c1 t) g.d rounds to f when the decrease
 *   is below f's ulp, and a step whose f32 loss ties f is accepted (in double it would not
 *   be, and the search would shrink t until it gave up);
 * - the cubic's minimizer is an f32 tensor when it lies inside the bounds, else the bound. */
#include <math.h>

#include "second_order.h"

#define WOLFE_C1 1e-4 /* sufficient decrease: f(t) <= f(0) + c1 t f'(0) */
#define WOLFE_C2 0.9  /* curvature: |f'(t)| <= -c2 f'(0) */

/* Armijo fails: f_new > f0 + c1 t gtd0, evaluated as PyTorch does (c1 t in double, the rest
 * in f32 because gtd0 is an f32 tensor). */
static int armijo_fails(float f_new, float f0, double t, float gtd0) {
    const float decrease = (float)(WOLFE_C1 * t) * gtd0;
    return f_new > f0 + decrease;
}

/* The strong Wolfe curvature condition |g.d(t)| <= -c2 g.d(0), in f32. */
static int curvature_holds(float gtd_new, float gtd0) {
    return fabsf(gtd_new) <= (float)-WOLFE_C2 * gtd0;
}

/* Minimizer of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2, clamped to
 * [lo, hi]; the midpoint of [lo, hi] when the cubic has no minimizer (Nocedal & Wright,
 * eq. 3.59):
 *   d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2),  d2 = sqrt(d1^2 - g1 g2),
 *   x = x2 - (x2 - x1) (g2 + d2 - d1) / (g2 - g1 + 2 d2)   (for x1 <= x2).
 * The slopes are f32, so d1, d2 and x are f32 (the double terms rounded where they join);
 * the clamps compare x with each bound in f32, as Python's min and max do with a tensor. */
static double cubic_interpolate(double x1, double f1, float g1, double x2, double f2, float g2,
                                double lo, double hi) {
    const float d1 = (g1 + g2) - (float)(3.0 * (f1 - f2) / (x1 - x2));
    const float d2_square = d1 * d1 - g1 * g2;
    if (!(d2_square >= 0.0f))
        return (lo + hi) / 2.0;
    const float d2 = sqrtf(d2_square);
    const float min_pos =
        x1 <= x2 ? (float)x2 - (float)(x2 - x1) * (((g2 + d2) - d1) / ((g2 - g1) + 2.0f * d2))
                 : (float)x1 - (float)(x1 - x2) * (((g1 + d2) - d1) / ((g1 - g2) + 2.0f * d2));
    if ((float)lo > min_pos) /* max(min_pos, lo) is the bound */
        return hi < lo ? hi : lo;
    return (float)hi < min_pos ? hi : (double)min_pos;
}

/* The same, bounded by the two points themselves. */
static double cubic_in_bracket(const double t[2], const double f[2], const float gtd[2]) {
    return cubic_interpolate(t[0], f[0], gtd[0], t[1], f[1], gtd[1], fmin(t[0], t[1]),
                             fmax(t[0], t[1]));
}

/* f, g and the slope g.d at x = x0 + t d. */
static ax_status evaluate(ax_so_run *run, ax_tensor *x, const ax_tensor *x0, double t,
                          const ax_tensor *d, float *f, ax_tensor *g, float *gtd) {
    AX_TRY(ax_so_step(run->ctx, x0, (float)t, d, x));
    AX_TRY(ax_so_eval(run, x, f, g));
    return ax_so_dot(run, g, d, gtd);
}

/* One end of the bracket: step, loss, slope, and its gradient (a vector of its own). */
typedef struct ls_point {
    double t;
    float f, gtd;
    ax_tensor *g;
} ls_point;

/* dst = src, the gradient copied (dst keeps its own vector). */
static ax_status assign(ls_point *dst, double t, float f, float gtd, const ax_tensor *g) {
    dst->t = t;
    dst->f = f;
    dst->gtd = gtd;
    return dst->g == g ? AX_OK : ax_tensor_copy(dst->g, g);
}

ax_status ax_so_strong_wolfe(ax_so_run *run, ax_tensor *x, const ax_tensor *x0,
                             const ax_tensor *d, float f0, const ax_tensor *g0, float gtd0,
                             float tolerance_change, int max_ls, ax_tensor *const ws[4],
                             double *t_io, float *loss, ax_tensor *g) {
    ax_tensor *g_new = ws[0], *g_prev = ws[1];
    ls_point br[2] = {{0, 0, 0, ws[2]}, {0, 0, 0, ws[3]}};
    int low = 0, high = 1, done = 0, ls_iter = 0;
    double t = *t_io;
    float d_norm, f_new, gtd_new;
    AX_TRY(ax_so_abs_stats(run, d, &d_norm, NULL));
    AX_TRY(evaluate(run, x, x0, t, d, &f_new, g_new, &gtd_new));

    /* Bracketing phase: grow t until [t_prev, t] holds a point satisfying the strong Wolfe
     * conditions, or t itself does. */
    double t_prev = 0.0;
    float f_prev = f0, gtd_prev = gtd0;
    AX_TRY(ax_tensor_copy(g_prev, g0));
    while (ls_iter < max_ls) {
        int wolfe = curvature_holds(gtd_new, gtd0);
        if (armijo_fails(f_new, f0, t, gtd0) || (ls_iter > 1 && f_new >= f_prev) ||
            (!wolfe && gtd_new >= 0.0f)) {
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
        double bt[2] = {br[0].t, br[1].t}, bf[2] = {br[0].f, br[1].f};
        float bg[2] = {br[0].gtd, br[1].gtd};
        /* the bracket is too small to matter: |t1 - t0| max |d| (f32) < tolerance_change */
        if ((float)fabs(bt[1] - bt[0]) * d_norm < tolerance_change)
            break;
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
        if (armijo_fails(f_new, f0, t, gtd0) || f_new >= br[low].f) {
            /* Armijo fails or no better than the low end: t becomes the high end */
            AX_TRY(assign(&br[high], t, f_new, gtd_new, g_new));
            low = br[0].f <= br[1].f ? 0 : 1;
            high = 1 - low;
        } else {
            if (curvature_holds(gtd_new, gtd0))
                done = 1; /* strong Wolfe holds */
            else if (gtd_new * (float)(br[high].t - br[low].t) >= 0.0f)
                AX_TRY(assign(&br[high], br[low].t, br[low].f, br[low].gtd, br[low].g));
            AX_TRY(assign(&br[low], t, f_new, gtd_new, g_new));
        }
    }

    /* the low end is the answer; x was left at the last trial point */
    *t_io = br[low].t;
    *loss = br[low].f;
    AX_TRY(ax_tensor_copy(g, br[low].g));
    return ax_so_step(run->ctx, x0, (float)br[low].t, d, x);
}
