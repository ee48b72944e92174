/* The line search of scipy.optimize's Newton-CG (scipy's line_search_wolfe1): the safeguarded
 * search of Moré and Thuente, "Line search algorithms with guaranteed sufficient decrease"
 * (ACM TOMS 20(3), 1994), as MINPACK-2's dcsrch and dcstep run it, so that Newton-CG takes
 * scipy's steps. It finds t with
 *     f(t) <= f(0) + c1 t f'(0)   and   |f'(t)| <= c2 |f'(0)|
 * (ftol = c1, gtol = c2) in [T_MIN, T_MAX], keeping an interval [stx, sty] that holds such a
 * step and choosing trial steps by cubic and quadratic interpolation. Scalars in double. */
#include <math.h>

#include "second_order.h"

#define T_MIN 1e-8  /* scipy's amin */
#define T_MAX 50.0  /* scipy's amax */
#define T_XTOL 1e-14 /* relative width below which the interval counts as closed */
#define XTRAP_LO 1.1 /* the extrapolation range before a bracket: [t + 1.1 (t - stx), */
#define XTRAP_HI 4.0 /*                                            t + 4 (t - stx)] */

/* One end of the interval: step, value, derivative. */
typedef struct mt_point {
    double t, f, g;
} mt_point;

static double sign_of(double v) { return (v > 0.0) - (v < 0.0); }

/* The minimizer of the cubic through a and b (values and derivatives) whose theta =
 * 3 (f_a - f_b) / (t_b - t_a) + g_a + g_b the caller computes (in MINPACK's order of the
 * terms), as t_a + r (t_b - t_a), written to avoid overflow (scaled by s); `flip` negates
 * gamma when the interval runs the other way. */
static double cubic_step(const mt_point *a, const mt_point *b, double theta, int flip) {
    const double s = fmax(fabs(theta), fmax(fabs(a->g), fabs(b->g)));
    double gamma = s * sqrt((theta / s) * (theta / s) - (a->g / s) * (b->g / s));
    if (flip)
        gamma = -gamma;
    const double p = (gamma - a->g) + theta, q = ((gamma - a->g) + gamma) + b->g;
    return a->t + p / q * (b->t - a->t);
}

/* 3 (f_a - f_b) / (t_b - t_a) + g1 + g2 */
static double theta_of(const mt_point *a, const mt_point *b, double g1, double g2) {
    return 3.0 * (a->f - b->f) / (b->t - a->t) + g1 + g2;
}

/* dcstep: from the interval ends x (the best step so far) and y and the trial p, the next
 * trial step, and the interval updated; *bracketed once a minimizer is enclosed. */
static double mt_step(mt_point *x, mt_point *y, const mt_point *p, int *bracketed,
                      double lo, double hi) {
    const double sgnd = sign_of(p->g) * sign_of(x->g);
    double next;
    if (p->f > x->f) {
        /* case 1: a higher value; the minimizer is bracketed. Cubic or, if much farther,
         * halfway to the quadratic through x's value and slope and p's value. */
        const double tc = cubic_step(x, p, theta_of(x, p, x->g, p->g), p->t < x->t);
        const double tq =
            x->t + x->g / ((x->f - p->f) / (p->t - x->t) + x->g) / 2.0 * (p->t - x->t);
        next = fabs(tc - x->t) <= fabs(tq - x->t) ? tc : tc + (tq - tc) / 2.0;
        *bracketed = 1;
    } else if (sgnd < 0.0) {
        /* case 2: lower value, derivatives of opposite signs: bracketed; the step farther
         * from p of the cubic and the secant */
        const double tc = cubic_step(p, x, theta_of(x, p, x->g, p->g), p->t > x->t);
        const double tq = p->t + p->g / (p->g - x->g) * (x->t - p->t);
        next = fabs(tc - p->t) > fabs(tq - p->t) ? tc : tq;
        *bracketed = 1;
    } else if (fabs(p->g) < fabs(x->g)) {
        /* case 3: lower value, same sign, the derivative decreases in magnitude: the cubic
         * may have no minimizer in the direction of the step, then use the bound */
        const double theta = theta_of(x, p, x->g, p->g);
        const double s = fmax(fabs(theta), fmax(fabs(x->g), fabs(p->g)));
        double gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) - (x->g / s) * (p->g / s)));
        if (p->t > x->t)
            gamma = -gamma;
        const double r = ((gamma - p->g) + theta) / ((gamma + (x->g - p->g)) + gamma);
        const double tc = r < 0.0 && gamma != 0.0 ? p->t + r * (x->t - p->t)
                          : p->t > x->t           ? hi
                                                  : lo;
        const double tq = p->t + p->g / (p->g - x->g) * (x->t - p->t);
        if (*bracketed) { /* the nearer of the two, but at most 0.66 of the way to y */
            next = fabs(tc - p->t) < fabs(tq - p->t) ? tc : tq;
            const double cap = p->t + 0.66 * (y->t - p->t);
            next = p->t > x->t ? fmin(cap, next) : fmax(cap, next);
        } else { /* the farther, within [lo, hi] */
            next = fabs(tc - p->t) > fabs(tq - p->t) ? tc : tq;
            next = fmin(fmax(next, lo), hi);
        }
    } else if (*bracketed) {
        /* case 4: lower value, same sign, the derivative does not decrease: the cubic
         * through p and y */
        next = cubic_step(p, y, theta_of(p, y, y->g, p->g), p->t > y->t);
    } else {
        next = p->t > x->t ? hi : lo;
    }
    /* the new interval */
    if (p->f > x->f) {
        *y = *p;
    } else {
        if (sgnd < 0.0)
            *y = *x;
        *x = *p;
    }
    return next;
}

/* dcsrch's state between trial steps. */
typedef struct mt_search {
    double c1, c2;
    double f0, g0, gtest; /* f(0), f'(0), c1 f'(0) */
    mt_point x, y;        /* the interval's ends (x: the best step) */
    int bracketed, stage;
    double width, width1, tmin, tmax;
} mt_search;

static void mt_start(mt_search *s, double t, double f0, double g0, double c1, double c2) {
    *s = (mt_search){.c1 = c1, .c2 = c2, .f0 = f0, .g0 = g0, .gtest = c1 * g0, .stage = 1};
    s->width = T_MAX - T_MIN;
    s->width1 = s->width / 0.5;
    s->x = s->y = (mt_point){0.0, f0, g0};
    s->tmin = 0.0;
    s->tmax = t + XTRAP_HI * t;
}

typedef enum mt_task { MT_EVALUATE, MT_CONVERGED, MT_FAILED } mt_task;

/* dcsrch after an evaluation at *t (value f, derivative g): converged, failed (a warning in
 * MINPACK's terms: rounding, the interval closed, a bound reached), or the next trial *t. */
static mt_task mt_iterate(mt_search *s, double *t, double f, double g) {
    const double ftest = s->f0 + *t * s->gtest;
    if (s->stage == 1 && f <= ftest && g >= 0.0)
        s->stage = 2;
    if (f <= ftest && fabs(g) <= s->c2 * -s->g0)
        return MT_CONVERGED;
    if ((s->bracketed && (*t <= s->tmin || *t >= s->tmax)) ||
        (s->bracketed && s->tmax - s->tmin <= T_XTOL * s->tmax) ||
        (*t == T_MAX && f <= ftest && g <= s->gtest) ||
        (*t == T_MIN && (f > ftest || g >= s->gtest)))
        return MT_FAILED;
    mt_point p = {*t, f, g};
    if (s->stage == 1 && f <= s->x.f && f > ftest) {
        /* before the first step with sufficient decrease and g >= 0, work on the modified
         * function psi(t) = f(t) - f(0) - c1 t f'(0) */
        mt_point xm = {s->x.t, s->x.f - s->x.t * s->gtest, s->x.g - s->gtest};
        mt_point ym = {s->y.t, s->y.f - s->y.t * s->gtest, s->y.g - s->gtest};
        mt_point pm = {p.t, p.f - p.t * s->gtest, p.g - s->gtest};
        *t = mt_step(&xm, &ym, &pm, &s->bracketed, s->tmin, s->tmax);
        s->x = (mt_point){xm.t, xm.f + xm.t * s->gtest, xm.g + s->gtest};
        s->y = (mt_point){ym.t, ym.f + ym.t * s->gtest, ym.g + s->gtest};
    } else {
        *t = mt_step(&s->x, &s->y, &p, &s->bracketed, s->tmin, s->tmax);
    }
    if (s->bracketed) { /* bisect when the interval did not shrink enough in two steps */
        if (fabs(s->y.t - s->x.t) >= 0.66 * s->width1)
            *t = s->x.t + 0.5 * (s->y.t - s->x.t);
        s->width1 = s->width;
        s->width = fabs(s->y.t - s->x.t);
        s->tmin = fmin(s->x.t, s->y.t);
        s->tmax = fmax(s->x.t, s->y.t);
    } else {
        s->tmin = *t + XTRAP_LO * (*t - s->x.t);
        s->tmax = *t + XTRAP_HI * (*t - s->x.t);
    }
    *t = fmin(fmax(*t, T_MIN), T_MAX);
    if (s->bracketed &&
        (*t <= s->tmin || *t >= s->tmax || s->tmax - s->tmin <= T_XTOL * s->tmax))
        *t = s->x.t; /* no progress possible: the best step so far */
    return MT_EVALUATE;
}

ax_status ax_so_more_thuente(ax_so_run *run, ax_tensor *x, const ax_tensor *x0,
                             const ax_tensor *p, float f0, double gtp0, double t1, double c1,
                             double c2, int max_ls, double *t_out, float *loss, ax_tensor *g,
                             int *found) {
    mt_search s;
    double t = t1;
    *found = 0;
    if (!(gtp0 < 0.0) || !(t >= T_MIN && t <= T_MAX))
        return ax_tensor_copy(x, x0); /* not a descent direction (MINPACK's input error) */
    mt_start(&s, t, f0, gtp0, c1, c2);
    for (int k = 0; k < max_ls; k++) {
        float f, gtp;
        AX_TRY(ax_so_step(run->ctx, x0, (float)t, p, x));
        AX_TRY(ax_so_eval(run, x, &f, g));
        AX_TRY(ax_so_dot(run, g, p, &gtp));
        const double t_tried = t;
        const mt_task task = mt_iterate(&s, &t, f, gtp);
        if (task == MT_CONVERGED) {
            *t_out = t_tried;
            *loss = f;
            *found = 1;
            return AX_OK;
        }
        if (task == MT_FAILED || !isfinite(t))
            break;
    }
    return ax_tensor_copy(x, x0);
}
