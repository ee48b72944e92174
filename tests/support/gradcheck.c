#include "gradcheck.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

/* The "alone" backward (other gradient outputs NULL) must agree to within rounding. */
#define GC_ALONE_RTOL 1e-6
#define GC_ALONE_ATOL 1e-7

gc_tolerance gc_default_tolerance(void) {
    gc_tolerance tol = {GC_H_REL, GC_ATOL, GC_RTOL, GC_NOISE_ULPS};
    return tol;
}

static int fail(gc_result *res, ax_status status, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, args);
    va_end(args);
    res->ok = 0;
    if (res->status == AX_OK)
        res->status = status;
    return 0;
}

static const char *input_name(const gc_op *op, int i, char *buf, size_t size) {
    if (op->x_name[i])
        return op->x_name[i];
    snprintf(buf, size, "x%d", i);
    return buf;
}

/* A NaN-filled f32 tensor shaped like t, or NULL. */
static ax_tensor *nan_like(ax_ctx *ctx, const ax_tensor *t) {
    int ndim = ax_tensor_ndim(t);
    int64_t shape[AX_MAX_DIMS];
    for (int d = 0; d < ndim; d++)
        shape[d] = ax_tensor_dim(t, d);
    ax_tensor *out = NULL;
    if (ax_tensor_create(ctx, AX_F32, ndim, shape, &out) != AX_OK)
        return NULL;
    if (ax_fill(ctx, out, NAN) != AX_OK) {
        ax_tensor_destroy(out);
        return NULL;
    }
    return out;
}

/* Workspace of one check. */
typedef struct gc_state {
    ax_ctx *ctx;
    const gc_op *op;
    ax_tensor *y, *dy;
    float *y0, *yp, *ym, *yq; /* y at x, x + h, x - h and the probe */
    float *r;
    int64_t ny;
} gc_state;

/* y = f(x) into ybuf and L = sum(y * r) in double; 0 on failure (recorded in res). */
static int eval_loss(gc_state *s, gc_result *res, float *ybuf, double *out) {
    ax_status st = ax_fill(s->ctx, s->y, NAN);
    if (st == AX_OK)
        st = s->op->forward(s->op, s->ctx, s->op->x, s->y);
    if (st == AX_OK)
        st = ax_tensor_to_host(s->y, ybuf, (size_t)s->ny * sizeof(float));
    if (st != AX_OK)
        return fail(res, st, "%s: forward failed: %s", s->op->name, ax_last_error());
    double sum = 0;
    for (int64_t j = 0; j < s->ny; j++)
        sum += (double)ybuf[j] * (double)s->r[j];
    *out = sum;
    return 1;
}

/* The size of the terms of L that depend on the perturbed element: sum over the outputs
 * that differ between y+ and y-, or between y0 and a probe y(x + 0.5 max(1, |x|)) (a change
 * below an output's resolution leaves y+ = y-), of max(|y+|, |y-|) |r|. The outputs that do
 * not depend on it are bit-identical in both evaluations and cancel exactly in
 * L(x+h) - L(x-h); the others carry an f32 rounding of a few eps each. */
static double dependent_terms(const gc_state *s) {
    double sum = 0;
    for (int64_t j = 0; j < s->ny; j++)
        if (s->yp[j] != s->ym[j] || s->yq[j] != s->y0[j])
            sum += fmax(fabs((double)s->yp[j]), fabs((double)s->ym[j])) * fabs((double)s->r[j]);
    return sum;
}

/* Run the backward with only the outputs in want[] (others NULL); host copies into got[]. */
static int run_backward(gc_state *s, gc_result *res, const int *want, float **got) {
    ax_tensor *dx[GC_MAX_INPUTS] = {NULL};
    int ok = 1;
    for (int i = 0; i < s->op->n_inputs && ok; i++)
        if (want[i] && !(dx[i] = nan_like(s->ctx, s->op->x[i])))
            ok = fail(res, AX_ERR_OOM, "%s: could not create a gradient tensor", s->op->name);
    if (ok) {
        ax_status st = s->op->backward(s->op, s->ctx, s->op->x, s->y, s->dy, dx);
        if (st != AX_OK)
            ok = fail(res, st, "%s: backward failed: %s", s->op->name, ax_last_error());
    }
    for (int i = 0; i < s->op->n_inputs && ok; i++) {
        if (!dx[i])
            continue;
        size_t bytes = ax_tensor_nbytes(dx[i]);
        got[i] = malloc(bytes);
        if (!got[i] || ax_tensor_to_host(dx[i], got[i], bytes) != AX_OK)
            ok = fail(res, AX_ERR_OOM, "%s: could not read a gradient back", s->op->name);
    }
    for (int i = 0; i < s->op->n_inputs; i++)
        ax_tensor_destroy(dx[i]);
    return ok;
}

/* The same gradient from the joint and the single backward call. */
static int compare_alone(const gc_op *op, int i, const float *joint, const float *alone, int64_t n,
                         gc_result *res) {
    char nb[16];
    for (int64_t e = 0; e < n; e++) {
        double a = joint[e], b = alone[e];
        if (!(fabs(a - b) <= GC_ALONE_ATOL + GC_ALONE_RTOL * fabs(a)))
            return fail(res, AX_OK,
                        "%s: d%s[%lld] is %.9g with every gradient requested but %.9g when "
                        "only d%s is",
                        op->name, input_name(op, i, nb, sizeof nb), (long long)e, a, b,
                        input_name(op, i, nb, sizeof nb));
    }
    return 1;
}

/* Central differences of input i against the analytic gradient g. */
static int compare_numeric(gc_state *s, int i, const float *g, gc_tolerance tol, gc_result *res) {
    const gc_op *op = s->op;
    float *x = ax_tensor_data(op->x[i]); /* CPU storage */
    int64_t n = ax_tensor_numel(op->x[i]);
    for (int64_t e = 0; e < n; e++) {
        float orig = x[e];
        double h = tol.h_rel * fmax(1.0, fabs((double)orig));
        float xp = (float)(orig + h), xm = (float)(orig - h);
        double lp, lm, lq;
        x[e] = xp;
        int ok = eval_loss(s, res, s->yp, &lp);
        x[e] = xm;
        ok = ok && eval_loss(s, res, s->ym, &lm);
        x[e] = (float)(orig + 0.5 * fmax(1.0, fabs((double)orig)));
        ok = ok && eval_loss(s, res, s->yq, &lq);
        x[e] = orig;
        if (!ok)
            return 0;
        double step = (double)xp - (double)xm;
        double numeric = (lp - lm) / step, analytic = g[e];
        double noise = tol.noise_ulps * FLT_EPSILON * dependent_terms(s) / step;
        double ratio = fabs(analytic - numeric) / (tol.atol + tol.rtol * fabs(numeric) + noise);
        if (!isfinite(analytic) || !isfinite(numeric) || ratio != ratio)
            ratio = INFINITY;
        res->checked++;
        if (ratio > res->worst || res->worst_input < 0) {
            res->worst = ratio;
            res->worst_input = i;
            res->worst_index = e;
            res->worst_analytic = analytic;
            res->worst_numeric = numeric;
        }
    }
    return 1;
}

static void free_state(gc_state *s) {
    ax_tensor_destroy(s->y);
    ax_tensor_destroy(s->dy);
    free(s->y0);
    free(s->yp);
    free(s->ym);
    free(s->yq);
    free(s->r);
}

gc_result gc_check(ax_ctx *ctx, const gc_op *op, uint64_t seed, gc_tolerance tol) {
    gc_result res;
    memset(&res, 0, sizeof res);
    res.ok = 1;
    res.worst_input = -1;
    gc_state s = {ctx,  op,   NULL, NULL, NULL,
                  NULL, NULL, NULL, NULL, th_numel(op->y_ndim, op->y_shape)};
    float *joint[GC_MAX_INPUTS] = {NULL}, *alone[GC_MAX_INPUTS] = {NULL};
    int want[GC_MAX_INPUTS] = {0};
    double l0;

    size_t ybytes = (size_t)s.ny * sizeof(float);
    s.y0 = malloc(ybytes);
    s.yp = malloc(ybytes);
    s.ym = malloc(ybytes);
    s.yq = malloc(ybytes);
    s.r = malloc(ybytes);
    if (!s.y0 || !s.yp || !s.ym || !s.yq || !s.r) {
        fail(&res, AX_ERR_OOM, "%s: out of host memory", op->name);
        goto done;
    }
    /* |r| in [0.5, 1.5]: no output is weighted (nearly) out of the check */
    th_random_away_from_zero(s.r, s.ny, seed, -1.5f, 1.5f, 0.5f);
    ax_status st = ax_tensor_create(ctx, AX_F32, op->y_ndim, op->y_shape, &s.y);
    if (st == AX_OK)
        st = ax_tensor_from_host(ctx, AX_F32, op->y_ndim, op->y_shape, s.r, &s.dy);
    if (st != AX_OK) {
        fail(&res, st, "%s: %s", op->name, ax_last_error());
        goto done;
    }
    /* y at the unperturbed x, for the backward calls, which all run before any perturbation */
    if (!eval_loss(&s, &res, s.y0, &l0))
        goto done;
    for (int i = 0; i < op->n_inputs; i++)
        want[i] = op->wrt[i];
    if (!run_backward(&s, &res, want, joint))
        goto done;
    for (int i = 0; i < op->n_inputs; i++) {
        if (!op->wrt[i])
            continue;
        int only[GC_MAX_INPUTS] = {0};
        only[i] = 1;
        if (!run_backward(&s, &res, only, alone) ||
            !compare_alone(op, i, joint[i], alone[i], ax_tensor_numel(op->x[i]), &res))
            goto done;
    }
    for (int i = 0; i < op->n_inputs; i++)
        if (op->wrt[i] && !compare_numeric(&s, i, joint[i], tol, &res))
            goto done;

    char nb[16];
    const char *worst_name =
        res.worst_input >= 0 ? input_name(op, res.worst_input, nb, sizeof nb) : "-";
    if (!(res.worst <= 1.0))
        fail(&res, AX_OK,
             "%s: d%s[%lld]: analytic %.9g, numeric %.9g (|diff| is %.3g x the tolerance "
             "%.1e + %.1e |numeric| + f32 noise, h = %.0e relative)",
             op->name, worst_name, (long long)res.worst_index, res.worst_analytic,
             res.worst_numeric, res.worst, tol.atol, tol.rtol, tol.h_rel);
    else
        snprintf(res.message, sizeof res.message,
                 "%s: %lld elements, worst d%s[%lld] at %.3f of the tolerance (analytic %.9g, "
                 "numeric %.9g)",
                 op->name, (long long)res.checked, worst_name, (long long)res.worst_index,
                 res.worst, res.worst_analytic, res.worst_numeric);
done:
    for (int i = 0; i < GC_MAX_INPUTS; i++) {
        free(joint[i]);
        free(alone[i]);
    }
    free_state(&s);
    return res;
}

void gc_assert(ax_ctx *ctx, const gc_op *op, uint64_t seed) {
    gc_result res = gc_check(ctx, op, seed, gc_default_tolerance());
    cr_assert(res.ok, "gradcheck %s", res.message);
    cr_assert(res.checked > 0, "gradcheck %s: nothing was compared", op->name);
    cr_log_info("gradcheck %s", res.message);
}

void gc_op_free(gc_op *op) {
    for (int i = 0; i < op->n_inputs; i++) {
        ax_tensor_destroy(op->x[i]);
        op->x[i] = NULL;
    }
}
