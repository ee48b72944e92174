/* Batch normalization (ax_batch_norm_*): gradient checks of the CPU reference in training and
 * evaluation mode, golden cases from PyTorch (tests/golden/gen_batchnorm.py: running
 * statistics after several steps, momentum None, evaluation, both backwards, 1d and 2d
 * shapes), the stability of the statistics (1e4 + small noise), the running-statistics
 * bookkeeping, bad input, and parity of the CUDA kernels with the CPU reference (skipped
 * where no GPU works). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "gradcheck.h"
#include "helpers.h"

/* DIMS(2, 3) expands to the ndim and shape arguments: 2, (int64_t[]){2, 3}. */
#define DIMS(...)                                                                                  \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]) { __VA_ARGS__ }

static ax_tensor *vec_of(ax_ctx *ctx, int64_t c, const float *data) {
    return th_tensor(ctx, 1, (int64_t[]){c}, data);
}

static ax_tensor *nan_vec(ax_ctx *ctx, int64_t c) { return th_nan_tensor(ctx, 1, (int64_t[]){c}); }

/* Values of x viewed as [outer, C, inner]. */
typedef struct view {
    int64_t outer, channels, inner;
} view;

static view view_of(int ndim, const int64_t *shape) {
    view v = {shape[0], shape[1], 1};
    for (int d = 2; d < ndim; d++)
        v.inner *= shape[d];
    return v;
}

/* ================================================================ gradient checks */

/* Training: x[0] = x, x[1] = gamma, x[2] = beta (absent without affine).
 * Evaluation: the same, with the running statistics (constants) in the params. */
typedef struct bn_args {
    int training;
    float eps;
    ax_tensor *running_mean, *running_var; /* evaluation only */
} bn_args;

static ax_status bn_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    const bn_args *a = op->params;
    const ax_tensor *gamma = op->n_inputs > 1 ? x[1] : NULL, *beta = op->n_inputs > 2 ? x[2] : NULL;
    if (!a->training)
        return ax_batch_norm_forward_inference(ctx, x[0], gamma, beta, a->running_mean,
                                               a->running_var, a->eps, y);
    return ax_batch_norm_forward_training(ctx, x[0], gamma, beta, a->eps, AX_BN_MOMENTUM, NULL,
                                          NULL, NULL, y, NULL, NULL);
}

static ax_status bn_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                        const ax_tensor *dy, ax_tensor *const *dx) {
    const bn_args *a = op->params;
    const ax_tensor *gamma = op->n_inputs > 1 ? x[1] : NULL;
    ax_tensor *dgamma = op->n_inputs > 1 ? dx[1] : NULL, *dbeta = op->n_inputs > 2 ? dx[2] : NULL;
    if (!a->training)
        return ax_batch_norm_backward_inference(ctx, x[0], dy, gamma, a->running_mean,
                                                a->running_var, a->eps, dx[0], dgamma, dbeta);
    /* the statistics the training forward saved, recomputed into fresh tensors */
    (void)y;
    int64_t c = ax_tensor_dim(x[0], 1);
    ax_tensor *mean = nan_vec(ctx, c), *invstd = nan_vec(ctx, c), *tmp = NULL;
    ax_status st = ax_tensor_create(ctx, AX_F32, op->y_ndim, op->y_shape, &tmp);
    if (st == AX_OK)
        st = ax_batch_norm_forward_training(ctx, x[0], gamma, op->n_inputs > 2 ? x[2] : NULL,
                                            a->eps, AX_BN_MOMENTUM, NULL, NULL, NULL, tmp, mean,
                                            invstd);
    if (st == AX_OK)
        st = ax_batch_norm_backward_training(ctx, x[0], dy, gamma, mean, invstd, dx[0], dgamma,
                                             dbeta);
    ax_tensor_destroy(mean);
    ax_tensor_destroy(invstd);
    ax_tensor_destroy(tmp);
    return st;
}

/* A batch norm gc_op over x of the given shape; affine adds gamma and beta. x is spread per
 * channel (offsets and scales differ) so a mix-up of channels shows. */
static gc_op bn_op(ax_ctx *ctx, const char *name, bn_args *args, int ndim, const int64_t *shape,
                   int affine, uint64_t seed) {
    gc_op op = {0};
    op.name = name;
    op.forward = bn_fwd;
    op.backward = bn_bwd;
    op.params = args;
    op.y_ndim = ndim;
    memcpy(op.y_shape, shape, (size_t)ndim * sizeof shape[0]);
    view v = view_of(ndim, shape);
    int64_t n = th_numel(ndim, shape);
    float *h = malloc((size_t)n * sizeof *h);
    cr_assert_not_null(h);
    th_random(h, n, seed, -2.0f, 2.0f);
    for (int64_t e = 0; e < n; e++) {
        int64_t c = (e / v.inner) % v.channels;
        h[e] = h[e] * (float)(1 + c) + 0.5f * (float)c;
    }
    op.x[0] = th_tensor(ctx, ndim, shape, h);
    op.x_name[0] = "x";
    op.wrt[0] = 1;
    op.n_inputs = 1;
    free(h);
    if (affine) {
        int64_t sc[1] = {v.channels};
        op.x[1] = th_random_tensor(ctx, 1, sc, seed + 1, 0.5f, 1.5f, 0.0f);
        op.x[2] = th_random_tensor(ctx, 1, sc, seed + 2, -1.0f, 1.0f, 0.0f);
        op.x_name[1] = "gamma";
        op.x_name[2] = "beta";
        op.wrt[1] = op.wrt[2] = 1;
        op.n_inputs = 3;
    }
    if (!args->training) {
        int64_t sc[1] = {v.channels};
        args->running_mean = th_random_tensor(ctx, 1, sc, seed + 3, -1.0f, 1.0f, 0.0f);
        args->running_var = th_random_tensor(ctx, 1, sc, seed + 4, 0.5f, 4.0f, 0.0f);
    }
    return op;
}

static void bn_args_free(bn_args *a) {
    ax_tensor_destroy(a->running_mean);
    ax_tensor_destroy(a->running_var);
    a->running_mean = a->running_var = NULL;
}

static void bn_check(ax_ctx *ctx, int training, int ndim, const int64_t *shape, int affine,
                     uint64_t seed) {
    char name[96];
    snprintf(name, sizeof name, "batch norm %s %d-d [%lld, %lld, ...]%s",
             training ? "training" : "evaluation", ndim, (long long)shape[0],
             (long long)shape[1], affine ? "" : " (no affine)");
    bn_args args = {training, AX_BN_EPS, NULL, NULL};
    gc_op op = bn_op(ctx, name, &args, ndim, shape, affine, seed);
    gc_assert(ctx, &op, seed + 7);
    gc_op_free(&op);
    bn_args_free(&args);
}

Test(batchnorm, gradcheck_training) {
    ax_ctx *ctx = th_cpu_ctx();
    bn_check(ctx, 1, DIMS(5, 3), 1, 100);          /* 1d [N, C] */
    bn_check(ctx, 1, DIMS(2, 3), 1, 110);          /* M = 2, the smallest batch */
    bn_check(ctx, 1, DIMS(3, 2, 7), 1, 120);       /* 1d [N, C, L] */
    bn_check(ctx, 1, DIMS(2, 3, 3, 5), 1, 130);    /* 2d */
    bn_check(ctx, 1, DIMS(1, 2, 4, 3), 1, 140);    /* 2d, batch 1 */
    bn_check(ctx, 1, DIMS(3, 2, 2, 1, 3), 1, 150); /* 5 dims: 3d */
    bn_check(ctx, 1, DIMS(4, 3, 5), 0, 160);       /* affine=False */
    ax_ctx_destroy(ctx);
}

Test(batchnorm, gradcheck_evaluation) {
    ax_ctx *ctx = th_cpu_ctx();
    bn_check(ctx, 0, DIMS(5, 3), 1, 200);
    bn_check(ctx, 0, DIMS(1, 4), 1, 210); /* one value per channel is fine in evaluation */
    bn_check(ctx, 0, DIMS(3, 2, 7), 1, 220);
    bn_check(ctx, 0, DIMS(2, 3, 3, 5), 1, 230);
    bn_check(ctx, 0, DIMS(2, 3, 4), 0, 240);
    ax_ctx_destroy(ctx);
}

/* The checker catches a backward that is 1% off, and the evaluation formula (statistics
 * taken as constants) used for a training backward. */
static ax_status eval_formula_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x,
                                  const ax_tensor *y, const ax_tensor *dy, ax_tensor *const *dx) {
    (void)y;
    int64_t c = ax_tensor_dim(x[0], 1);
    ax_tensor *mean = nan_vec(ctx, c), *invstd = nan_vec(ctx, c), *var = nan_vec(ctx, c);
    ax_tensor *tmp = th_nan_tensor(ctx, op->y_ndim, op->y_shape);
    ax_status st = ax_batch_norm_forward_training(ctx, x[0], x[1], x[2], AX_BN_EPS, 0.0f, NULL,
                                                  NULL, NULL, tmp, mean, invstd);
    float *h = th_to_host(invstd);
    for (int64_t k = 0; k < c; k++) /* var = 1 / invstd^2 - eps, the batch's own */
        h[k] = (float)(1.0 / ((double)h[k] * h[k]) - AX_BN_EPS);
    if (st == AX_OK)
        st = ax_tensor_set_from_host(var, h, (size_t)c * sizeof *h);
    free(h);
    if (st == AX_OK)
        st = ax_batch_norm_backward_inference(ctx, x[0], dy, x[1], mean, var, AX_BN_EPS, dx[0],
                                              dx[1], dx[2]);
    ax_tensor_destroy(mean);
    ax_tensor_destroy(invstd);
    ax_tensor_destroy(var);
    ax_tensor_destroy(tmp);
    return st;
}

typedef struct scaled {
    const gc_op *base;
    float factor;
    int which;
} scaled;

static ax_status scaled_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                            const ax_tensor *dy, ax_tensor *const *dx) {
    const scaled *s = op->params;
    ax_status st = s->base->backward(s->base, ctx, x, y, dy, dx);
    if (st == AX_OK && dx[s->which])
        st = ax_scale(ctx, s->factor, dx[s->which], dx[s->which]);
    return st;
}

static ax_status scaled_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    const scaled *s = op->params;
    return s->base->forward(s->base, ctx, x, y);
}

Test(batchnorm, gradcheck_catches_planted_errors) {
    ax_ctx *ctx = th_cpu_ctx();
    bn_args args = {1, AX_BN_EPS, NULL, NULL};
    gc_op base = bn_op(ctx, "batch norm training", &args, DIMS(3, 2, 5), 1, 300);
    gc_result good = gc_check(ctx, &base, 301, gc_default_tolerance());
    cr_assert(good.ok, "the unmodified op must pass: %s", good.message);
    for (int which = 0; which < 3; which++) {
        scaled s = {&base, 1.01f, which};
        gc_op bad = base;
        bad.forward = scaled_fwd;
        bad.backward = scaled_bwd;
        bad.params = &s;
        gc_result r = gc_check(ctx, &bad, 301, gc_default_tolerance());
        cr_assert(!r.ok && r.status == AX_OK, "gradient %d scaled by 1.01 passed: %s", which,
                  r.message);
    }
    gc_op wrong = base;
    wrong.backward = eval_formula_bwd;
    gc_result r = gc_check(ctx, &wrong, 301, gc_default_tolerance());
    cr_assert(!r.ok && r.status == AX_OK,
              "the evaluation backward passed as the training one: %s", r.message);
    gc_op_free(&base);
    ax_ctx_destroy(ctx);
}

/* ================================================================ golden cases (PyTorch) */

#define GOLD_ATOL 2e-5
#define GOLD_RTOL 1e-4

/* Replays a case of gen_batchnorm.py on ctx: the training steps from rm0, rv0 with
 * num_batches_tracked from 0, the last step's backward, then evaluation forward and backward. */
static void golden_case(ax_ctx *ctx, const char *name) {
    gd_case *g = gd_load("batchnorm", name);
    const gd_tensor *params = gd_get(g, "params"), *xs = gd_get(g, "xs");
    int steps = (int)params->f[0];
    float momentum = params->f[1], eps = params->f[2];
    const int ndim = xs->ndim - 1;
    const int64_t *shape = xs->shape + 1, step_numel = xs->numel / steps;
    int64_t c = shape[1];
    int affine = 0;
    for (int k = 0; k < g->count; k++)
        affine |= strcmp(g->t[k].name, "gamma") == 0;
    ax_tensor *gamma = affine ? gd_tensor_on(ctx, g, "gamma") : NULL;
    ax_tensor *beta = affine ? gd_tensor_on(ctx, g, "beta") : NULL;
    ax_tensor *rm = gd_tensor_on(ctx, g, "rm0"), *rv = gd_tensor_on(ctx, g, "rv0");
    ax_tensor *mean = nan_vec(ctx, c), *invstd = nan_vec(ctx, c);
    ax_tensor *y = th_nan_tensor(ctx, ndim, shape);
    int64_t nbt = 0;
    ax_tensor *x = NULL;
    for (int k = 0; k < steps; k++) {
        ax_tensor_destroy(x);
        x = th_tensor(ctx, ndim, shape, xs->f + k * step_numel);
        AX_ASSERT_OK(ax_batch_norm_forward_training(ctx, x, gamma, beta, eps, momentum, rm, rv,
                                                    &nbt, y, mean, invstd));
    }
    cr_assert_eq(nbt, gd_get(g, "nbt")->i[0], "%s: num_batches_tracked %lld", name,
                 (long long)nbt);
    gd_assert_close(rm, g, "rm", GOLD_ATOL, GOLD_RTOL);
    gd_assert_close(rv, g, "rv", GOLD_ATOL, GOLD_RTOL);
    gd_assert_close(y, g, "y", GOLD_ATOL, GOLD_RTOL);
    gd_assert_close(mean, g, "mean", GOLD_ATOL, GOLD_RTOL);
    gd_assert_close(invstd, g, "invstd", GOLD_ATOL, GOLD_RTOL);

    ax_tensor *dy = gd_tensor_on(ctx, g, "dy"), *dx = th_nan_tensor(ctx, ndim, shape);
    ax_tensor *dgamma = nan_vec(ctx, c), *dbeta = nan_vec(ctx, c);
    AX_ASSERT_OK(ax_batch_norm_backward_training(ctx, x, dy, gamma, mean, invstd, dx, dgamma,
                                                 dbeta));
    gd_assert_close(dx, g, "dx", GOLD_ATOL, GOLD_RTOL);
    if (affine) {
        gd_assert_close(dgamma, g, "dgamma", GOLD_ATOL, GOLD_RTOL);
        gd_assert_close(dbeta, g, "dbeta", GOLD_ATOL, GOLD_RTOL);
    }

    ax_tensor *xe = gd_tensor_on(ctx, g, "xe"), *dye = gd_tensor_on(ctx, g, "dye");
    AX_ASSERT_OK(ax_batch_norm_forward_inference(ctx, xe, gamma, beta, rm, rv, eps, y));
    gd_assert_close(y, g, "ye", GOLD_ATOL, GOLD_RTOL);
    AX_ASSERT_OK(ax_fill(ctx, dx, NAN));
    AX_ASSERT_OK(ax_fill(ctx, dgamma, NAN));
    AX_ASSERT_OK(ax_fill(ctx, dbeta, NAN));
    AX_ASSERT_OK(ax_batch_norm_backward_inference(ctx, xe, dye, gamma, rm, rv, eps, dx, dgamma,
                                                  dbeta));
    gd_assert_close(dx, g, "dxe", GOLD_ATOL, GOLD_RTOL);
    if (affine) {
        gd_assert_close(dgamma, g, "dgammae", GOLD_ATOL, GOLD_RTOL);
        gd_assert_close(dbeta, g, "dbetae", GOLD_ATOL, GOLD_RTOL);
    }
    ax_tensor *all[] = {gamma, beta, rm, rv, mean, invstd, y, x, dy, dx, dgamma, dbeta, xe, dye};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        ax_tensor_destroy(all[k]);
    gd_free(g);
}

Test(batchnorm, golden_2d) {
    ax_ctx *ctx = th_cpu_ctx();
    golden_case(ctx, "bn2d");
    golden_case(ctx, "bn2d_cumulative");
    ax_ctx_destroy(ctx);
}

Test(batchnorm, golden_1d) {
    ax_ctx *ctx = th_cpu_ctx();
    golden_case(ctx, "bn1d_nc");
    golden_case(ctx, "bn1d_ncl_noaffine");
    golden_case(ctx, "bn1d_nc_cumulative");
    ax_ctx_destroy(ctx);
}

/* ================================================================ statistics and bookkeeping */

/* x [8, 2, 16]: channel 0 is 1e4 + U(-0.05, 0.05) (variance ~8e-4, which E[x^2] - E[x]^2 in
 * f32 loses entirely: x^2 ~ 1e8 has an ulp of 8), channel 1 is U(-1, 1). Expected values are
 * computed here in double from the same floats. */
static float *big_offset_host(int64_t n, int64_t inner, uint64_t seed) {
    float *h = malloc((size_t)n * sizeof *h);
    cr_assert_not_null(h);
    th_random(h, n, seed, -1.0f, 1.0f);
    for (int64_t e = 0; e < n; e++)
        if ((e / inner) % 2 == 0)
            h[e] = 1e4f + 0.05f * h[e];
    return h;
}

/* Mean and biased variance of channel c of h viewed as v, two passes in double. */
static void exact_stats(const float *h, view v, int64_t c, double *mean, double *var) {
    double s = 0.0, ss = 0.0, m = (double)(v.outer * v.inner);
    for (int64_t o = 0; o < v.outer; o++)
        for (int64_t i = 0; i < v.inner; i++)
            s += h[(o * v.channels + c) * v.inner + i];
    *mean = s / m;
    for (int64_t o = 0; o < v.outer; o++)
        for (int64_t i = 0; i < v.inner; i++) {
            double d = h[(o * v.channels + c) * v.inner + i] - *mean;
            ss += d * d;
        }
    *var = ss / m;
}

/* The statistics of ctx's forward on the big-offset data, against the exact ones: invstd and
 * the running variance to 1e-4 relative, y to unit variance. */
static void check_big_offset(ax_ctx *ctx) {
    int64_t shape[3] = {8, 2, 16};
    view v = view_of(3, shape);
    int64_t n = th_numel(3, shape);
    float *h = big_offset_host(n, v.inner, 77);
    ax_tensor *x = th_tensor(ctx, 3, shape, h), *y = th_nan_tensor(ctx, 3, shape);
    ax_tensor *mean = nan_vec(ctx, 2), *invstd = nan_vec(ctx, 2);
    ax_tensor *rm = vec_of(ctx, 2, (float[]){0.0f, 0.0f}), *rv = vec_of(ctx, 2, (float[]){1, 1});
    AX_ASSERT_OK(ax_batch_norm_forward_training(ctx, x, NULL, NULL, AX_BN_EPS, 1.0f, rm, rv, NULL,
                                                y, mean, invstd));
    float *hm = th_to_host(mean), *hi = th_to_host(invstd), *hv = th_to_host(rv);
    float *hy = th_to_host(y);
    for (int64_t c = 0; c < 2; c++) {
        double mu = 0.0, var = 0.0, m = (double)(v.outer * v.inner);
        exact_stats(h, v, c, &mu, &var);
        double want_invstd = 1.0 / sqrt(var + AX_BN_EPS), want_rv = var * m / (m - 1.0);
        cr_assert(fabs(hm[c] - mu) <= 1e-7 * fabs(mu) + 1e-6, "channel %lld: mean %.9g, want %.9g",
                  (long long)c, (double)hm[c], mu);
        cr_assert(fabs(hi[c] - want_invstd) <= 1e-4 * want_invstd,
                  "channel %lld: invstd %.9g, want %.9g (variance lost)", (long long)c,
                  (double)hi[c], want_invstd);
        cr_assert(fabs(hv[c] - want_rv) <= 1e-4 * want_rv,
                  "channel %lld: running var %.9g, want %.9g", (long long)c, (double)hv[c],
                  want_rv);
        double sy = 0.0, syy = 0.0; /* y has mean 0 and variance var / (var + eps) */
        for (int64_t o = 0; o < v.outer; o++)
            for (int64_t i = 0; i < v.inner; i++) {
                double t = hy[(o * v.channels + c) * v.inner + i];
                sy += t;
                syy += t * t;
            }
        cr_assert(fabs(sy / m) < 1e-3, "channel %lld: mean of y %g", (long long)c, sy / m);
        cr_assert(fabs(syy / m - var / (var + AX_BN_EPS)) < 1e-3,
                  "channel %lld: variance of y %g", (long long)c, syy / m);
    }
    free(h);
    free(hm);
    free(hi);
    free(hv);
    free(hy);
    ax_tensor *all[] = {x, y, mean, invstd, rm, rv};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        ax_tensor_destroy(all[k]);
}

Test(batchnorm, large_offset_keeps_variance) {
    ax_ctx *ctx = th_cpu_ctx();
    check_big_offset(ctx);
    ax_ctx_destroy(ctx);
}

/* Momentum 0 keeps the running statistics, momentum 1 replaces them, the cumulative average
 * follows num_batches_tracked; no running statistics leave the counter alone; a failed call
 * does not count. */
Test(batchnorm, running_statistics_bookkeeping) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t shape[2] = {4, 2};
    float hx[8] = {1, 10, 2, 20, 3, 30, 6, 40}; /* mean 3, 25; biased var 3.5, 125 */
    ax_tensor *x = th_tensor(ctx, 2, shape, hx), *y = th_nan_tensor(ctx, 2, shape);
    ax_tensor *rm = vec_of(ctx, 2, (float[]){1, 2}), *rv = vec_of(ctx, 2, (float[]){3, 4});
    int64_t nbt = 5;
    AX_ASSERT_OK(ax_batch_norm_forward_training(ctx, x, NULL, NULL, AX_BN_EPS, 0.0f, rm, rv, &nbt,
                                                y, NULL, NULL));
    cr_assert_eq(nbt, 6);
    float *h = th_to_host(rm);
    cr_assert(h[0] == 1.0f && h[1] == 2.0f, "momentum 0 moved running_mean");
    free(h);
    AX_ASSERT_OK(ax_batch_norm_forward_training(ctx, x, NULL, NULL, AX_BN_EPS, 1.0f, rm, rv, NULL,
                                                y, NULL, NULL));
    h = th_to_host(rv);
    th_assert_close(h, (float[]){3.5f * 4 / 3, 125.0f * 4 / 3}, 2, 0, 1e-6, "unbiased var");
    free(h);
    /* cumulative: counter 3 -> 4, factor 1/4 */
    nbt = 3;
    AX_ASSERT_OK(ax_batch_norm_forward_training(ctx, x, NULL, NULL, AX_BN_EPS, AX_BN_CUMULATIVE,
                                                rm, rv, &nbt, y, NULL, NULL));
    cr_assert_eq(nbt, 4);
    h = th_to_host(rm);
    th_assert_close(h, (float[]){0.75f * 3 + 0.25f * 3, 0.75f * 25 + 0.25f * 25}, 2, 0, 1e-6,
                    "cumulative mean");
    free(h);
    ax_tensor *rm2 = vec_of(ctx, 2, (float[]){0, 0});
    AX_ASSERT_OK(ax_batch_norm_forward_training(ctx, x, NULL, NULL, AX_BN_EPS, -0.5f, rm2, rv,
                                                &nbt, y, NULL, NULL));
    cr_assert_eq(nbt, 5);
    h = th_to_host(rm2);
    th_assert_close(h, (float[]){3.0f / 5, 25.0f / 5}, 2, 0, 1e-6, "any negative momentum");
    free(h);
    /* no running statistics: the counter stays */
    AX_ASSERT_OK(ax_batch_norm_forward_training(ctx, x, NULL, NULL, AX_BN_EPS, 0.1f, NULL, NULL,
                                                &nbt, y, NULL, NULL));
    cr_assert_eq(nbt, 5);
    /* a refused call leaves the counter */
    AX_ASSERT_FAILS(ax_batch_norm_forward_training(ctx, x, NULL, NULL, -1.0f, 0.1f, rm, rv, &nbt,
                                                   y, NULL, NULL),
                    AX_ERR_INVALID_ARG, "ax_batch_norm_forward_training");
    cr_assert_eq(nbt, 5);
    ax_tensor *all[] = {x, y, rm, rv, rm2};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        ax_tensor_destroy(all[k]);
    ax_ctx_destroy(ctx);
}

/* y may alias x and dx may alias dy, with the same results (bit for bit) on ctx. */
static void check_in_place(ax_ctx *ctx) {
    int64_t shape[3] = {3, 4, 5};
    ax_tensor *x = th_random_tensor(ctx, 3, shape, 900, -2, 2, 0);
    ax_tensor *xi = th_random_tensor(ctx, 3, shape, 900, -2, 2, 0);
    ax_tensor *g = th_random_tensor(ctx, 1, (int64_t[]){4}, 901, 0.5f, 1.5f, 0);
    ax_tensor *b = th_random_tensor(ctx, 1, (int64_t[]){4}, 902, -1, 1, 0);
    ax_tensor *y = th_nan_tensor(ctx, 3, shape), *mean = nan_vec(ctx, 4), *inv = nan_vec(ctx, 4);
    AX_ASSERT_OK(ax_batch_norm_forward_training(ctx, x, g, b, AX_BN_EPS, 0.1f, NULL, NULL, NULL,
                                                y, mean, inv));
    AX_ASSERT_OK(ax_batch_norm_forward_training(ctx, xi, g, b, AX_BN_EPS, 0.1f, NULL, NULL, NULL,
                                                xi, NULL, NULL));
    float *a = th_to_host(y), *c = th_to_host(xi);
    th_assert_equal(c, a, 60, "y aliasing x");
    free(a);
    free(c);
    ax_tensor *dy = th_random_tensor(ctx, 3, shape, 903, -1, 1, 0);
    ax_tensor *dyi = th_random_tensor(ctx, 3, shape, 903, -1, 1, 0);
    ax_tensor *dx = th_nan_tensor(ctx, 3, shape);
    AX_ASSERT_OK(ax_batch_norm_backward_training(ctx, x, dy, g, mean, inv, dx, NULL, NULL));
    AX_ASSERT_OK(ax_batch_norm_backward_training(ctx, x, dyi, g, mean, inv, dyi, NULL, NULL));
    a = th_to_host(dx);
    c = th_to_host(dyi);
    th_assert_equal(c, a, 60, "dx aliasing dy");
    free(a);
    free(c);
    ax_tensor *all[] = {x, xi, g, b, y, mean, inv, dy, dyi, dx};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        ax_tensor_destroy(all[k]);
}

Test(batchnorm, in_place) {
    ax_ctx *ctx = th_cpu_ctx();
    check_in_place(ctx);
    ax_ctx_destroy(ctx);
}

/* ================================================================ bad input */

static ax_ctx *g_ctx, *g_other;
static ax_tensor *g_made[64];
static int g_count;

static void bad_setup(void) {
    g_ctx = th_cpu_ctx();
    g_other = th_cpu_ctx();
    g_count = 0;
}

static void bad_teardown(void) {
    for (int i = 0; i < g_count; i++)
        ax_tensor_destroy(g_made[i]);
    g_count = 0;
    ax_ctx_destroy(g_ctx);
    ax_ctx_destroy(g_other);
}

/* An f32 tensor of ctx filled with 0.5 (i32: 0), kept for teardown. */
static ax_tensor *make(ax_ctx *ctx, ax_dtype dtype, int ndim, const int64_t *shape) {
    cr_assert(g_count < (int)(sizeof g_made / sizeof g_made[0]));
    ax_tensor *t = NULL;
    AX_ASSERT_OK(ax_tensor_create(ctx, dtype, ndim, shape, &t));
    AX_ASSERT_OK(ax_fill(ctx, t, dtype == AX_F32 ? 0.5f : 0.0f));
    return g_made[g_count++] = t;
}

#define F32(...) make(g_ctx, AX_F32, DIMS(__VA_ARGS__))

#define FWD_TRAIN "ax_batch_norm_forward_training"
#define FWD_EVAL "ax_batch_norm_forward_inference"
#define BWD_TRAIN "ax_batch_norm_backward_training"
#define BWD_EVAL "ax_batch_norm_backward_inference"

Test(batchnorm, bad_forward_training, .init = bad_setup, .fini = bad_teardown) {
    ax_tensor *x = F32(4, 3, 5), *y = F32(4, 3, 5), *g = F32(3), *b = F32(3), *rm = F32(3);
    ax_tensor *rv = F32(3), *sm = F32(3), *si = F32(3), *c4 = F32(4), *y2 = F32(4, 3, 6);
    ax_tensor *x1 = F32(3), *xi = make(g_ctx, AX_I32, DIMS(4, 3, 5));
    ax_tensor *xo = make(g_other, AX_F32, DIMS(4, 3, 5)), *go = make(g_other, AX_F32, DIMS(3));
    int64_t nbt = 0;
#define TRAIN(x_, g_, b_, eps_, mom_, rm_, rv_, nbt_, y_, sm_, si_)                                \
    ax_batch_norm_forward_training(g_ctx, x_, g_, b_, eps_, mom_, rm_, rv_, nbt_, y_, sm_, si_)
    AX_ASSERT_OK(TRAIN(x, g, b, AX_BN_EPS, 0.1f, rm, rv, &nbt, y, sm, si));
    AX_ASSERT_FAILS(ax_batch_norm_forward_training(NULL, x, g, b, AX_BN_EPS, 0.1f, rm, rv, &nbt,
                                                   y, sm, si),
                    AX_ERR_INVALID_ARG, FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(NULL, g, b, AX_BN_EPS, 0.1f, rm, rv, &nbt, y, sm, si),
                    AX_ERR_INVALID_ARG, FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(x, g, b, AX_BN_EPS, 0.1f, rm, rv, &nbt, NULL, sm, si),
                    AX_ERR_INVALID_ARG, FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(xi, g, b, AX_BN_EPS, 0.1f, rm, rv, &nbt, y, sm, si), AX_ERR_DTYPE,
                    FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(xo, g, b, AX_BN_EPS, 0.1f, rm, rv, &nbt, y, sm, si), AX_ERR_DEVICE,
                    FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(x, go, b, AX_BN_EPS, 0.1f, rm, rv, &nbt, y, sm, si), AX_ERR_DEVICE,
                    FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(x1, NULL, NULL, AX_BN_EPS, 0.1f, NULL, NULL, NULL, x1, NULL, NULL),
                    AX_ERR_SHAPE, FWD_TRAIN); /* 1 dim */
    AX_ASSERT_FAILS(TRAIN(x, g, b, AX_BN_EPS, 0.1f, rm, rv, &nbt, y2, sm, si), AX_ERR_SHAPE,
                    FWD_TRAIN);
    /* every per-channel vector with 4 elements instead of 3 */
    AX_ASSERT_FAILS(TRAIN(x, c4, b, AX_BN_EPS, 0.1f, rm, rv, &nbt, y, sm, si), AX_ERR_SHAPE,
                    FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(x, g, c4, AX_BN_EPS, 0.1f, rm, rv, &nbt, y, sm, si), AX_ERR_SHAPE,
                    FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(x, g, b, AX_BN_EPS, 0.1f, c4, rv, &nbt, y, sm, si), AX_ERR_SHAPE,
                    FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(x, g, b, AX_BN_EPS, 0.1f, rm, c4, &nbt, y, sm, si), AX_ERR_SHAPE,
                    FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(x, g, b, AX_BN_EPS, 0.1f, rm, rv, &nbt, y, c4, si), AX_ERR_SHAPE,
                    FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(x, g, b, AX_BN_EPS, 0.1f, rm, rv, &nbt, y, sm, c4), AX_ERR_SHAPE,
                    FWD_TRAIN);
    /* eps: negative, zero, NaN, infinite */
    AX_ASSERT_FAILS(TRAIN(x, g, b, -1e-5f, 0.1f, rm, rv, &nbt, y, sm, si), AX_ERR_INVALID_ARG,
                    FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(x, g, b, 0.0f, 0.1f, rm, rv, &nbt, y, sm, si), AX_ERR_INVALID_ARG,
                    FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(x, g, b, NAN, 0.1f, rm, rv, &nbt, y, sm, si), AX_ERR_INVALID_ARG,
                    FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(x, g, b, INFINITY, 0.1f, rm, rv, &nbt, y, sm, si), AX_ERR_INVALID_ARG,
                    FWD_TRAIN);
    /* momentum NaN or above 1 */
    AX_ASSERT_FAILS(TRAIN(x, g, b, AX_BN_EPS, NAN, rm, rv, &nbt, y, sm, si), AX_ERR_INVALID_ARG,
                    FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(x, g, b, AX_BN_EPS, 1.5f, rm, rv, &nbt, y, sm, si), AX_ERR_INVALID_ARG,
                    FWD_TRAIN);
    /* running statistics halves, cumulative without a counter, a counter that cannot grow */
    AX_ASSERT_FAILS(TRAIN(x, g, b, AX_BN_EPS, 0.1f, rm, NULL, &nbt, y, sm, si),
                    AX_ERR_INVALID_ARG, FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(x, g, b, AX_BN_EPS, 0.1f, NULL, rv, &nbt, y, sm, si),
                    AX_ERR_INVALID_ARG, FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(x, g, b, AX_BN_EPS, AX_BN_CUMULATIVE, rm, rv, NULL, y, sm, si),
                    AX_ERR_INVALID_ARG, FWD_TRAIN);
    nbt = -1;
    AX_ASSERT_FAILS(TRAIN(x, g, b, AX_BN_EPS, 0.1f, rm, rv, &nbt, y, sm, si), AX_ERR_INVALID_ARG,
                    FWD_TRAIN);
    nbt = INT64_MAX;
    AX_ASSERT_FAILS(TRAIN(x, g, b, AX_BN_EPS, 0.1f, rm, rv, &nbt, y, sm, si), AX_ERR_INVALID_ARG,
                    FWD_TRAIN);
    cr_assert_eq(nbt, INT64_MAX);
    /* one value per channel: [1, 3], [1, 3, 1], [1, 3, 1, 1] */
    ax_tensor *o2 = F32(1, 3), *o3 = F32(1, 3, 1), *o4 = F32(1, 3, 1, 1);
    AX_ASSERT_FAILS(TRAIN(o2, g, b, AX_BN_EPS, 0.1f, NULL, NULL, NULL, o2, NULL, NULL),
                    AX_ERR_SHAPE, FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(o3, g, b, AX_BN_EPS, 0.1f, NULL, NULL, NULL, o3, NULL, NULL),
                    AX_ERR_SHAPE, FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(o4, g, b, AX_BN_EPS, 0.1f, NULL, NULL, NULL, o4, NULL, NULL),
                    AX_ERR_SHAPE, FWD_TRAIN);
    /* aliasing: y with a vector cannot happen by shape, so the written vectors */
    AX_ASSERT_FAILS(TRAIN(x, g, b, AX_BN_EPS, 0.1f, rm, rm, NULL, y, sm, si), AX_ERR_INVALID_ARG,
                    FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(x, g, b, AX_BN_EPS, 0.1f, rm, rv, NULL, y, g, si), AX_ERR_INVALID_ARG,
                    FWD_TRAIN);
    AX_ASSERT_FAILS(TRAIN(x, g, b, AX_BN_EPS, 0.1f, rm, rv, NULL, y, sm, sm), AX_ERR_INVALID_ARG,
                    FWD_TRAIN);
#undef TRAIN
}

Test(batchnorm, bad_forward_inference, .init = bad_setup, .fini = bad_teardown) {
    ax_tensor *x = F32(2, 3, 4, 4), *y = F32(2, 3, 4, 4), *g = F32(3), *b = F32(3), *rm = F32(3);
    ax_tensor *rv = F32(3), *c2 = F32(2), *y2 = F32(2, 3, 4, 5);
    ax_tensor *xo = make(g_other, AX_F32, DIMS(2, 3, 4, 4));
    AX_ASSERT_OK(ax_batch_norm_forward_inference(g_ctx, x, g, b, rm, rv, AX_BN_EPS, y));
    AX_ASSERT_OK(ax_batch_norm_forward_inference(g_ctx, x, NULL, NULL, rm, rv, AX_BN_EPS, x));
    AX_ASSERT_FAILS(ax_batch_norm_forward_inference(NULL, x, g, b, rm, rv, AX_BN_EPS, y),
                    AX_ERR_INVALID_ARG, FWD_EVAL);
    AX_ASSERT_FAILS(ax_batch_norm_forward_inference(g_ctx, x, g, b, NULL, rv, AX_BN_EPS, y),
                    AX_ERR_INVALID_ARG, FWD_EVAL);
    AX_ASSERT_FAILS(ax_batch_norm_forward_inference(g_ctx, x, g, b, rm, NULL, AX_BN_EPS, y),
                    AX_ERR_INVALID_ARG, FWD_EVAL);
    AX_ASSERT_FAILS(ax_batch_norm_forward_inference(g_ctx, xo, g, b, rm, rv, AX_BN_EPS, y),
                    AX_ERR_DEVICE, FWD_EVAL);
    AX_ASSERT_FAILS(ax_batch_norm_forward_inference(g_ctx, x, g, b, rm, rv, AX_BN_EPS, y2),
                    AX_ERR_SHAPE, FWD_EVAL);
    AX_ASSERT_FAILS(ax_batch_norm_forward_inference(g_ctx, x, c2, b, rm, rv, AX_BN_EPS, y),
                    AX_ERR_SHAPE, FWD_EVAL);
    AX_ASSERT_FAILS(ax_batch_norm_forward_inference(g_ctx, x, g, c2, rm, rv, AX_BN_EPS, y),
                    AX_ERR_SHAPE, FWD_EVAL);
    AX_ASSERT_FAILS(ax_batch_norm_forward_inference(g_ctx, x, g, b, c2, rv, AX_BN_EPS, y),
                    AX_ERR_SHAPE, FWD_EVAL);
    AX_ASSERT_FAILS(ax_batch_norm_forward_inference(g_ctx, x, g, b, rm, c2, AX_BN_EPS, y),
                    AX_ERR_SHAPE, FWD_EVAL);
    AX_ASSERT_FAILS(ax_batch_norm_forward_inference(g_ctx, x, g, b, rm, rv, -1.0f, y),
                    AX_ERR_INVALID_ARG, FWD_EVAL);
    AX_ASSERT_FAILS(ax_batch_norm_forward_inference(g_ctx, x, g, b, rm, rv, 0.0f, y),
                    AX_ERR_INVALID_ARG, FWD_EVAL);
}

Test(batchnorm, bad_backward, .init = bad_setup, .fini = bad_teardown) {
    ax_tensor *x = F32(3, 2, 5), *dy = F32(3, 2, 5), *dx = F32(3, 2, 5), *g = F32(2);
    ax_tensor *m = F32(2), *s = F32(2), *dg = F32(2), *db = F32(2), *c3 = F32(3);
    ax_tensor *dy2 = F32(3, 2, 6), *dx2 = F32(3, 2, 6), *xi = make(g_ctx, AX_I32, DIMS(3, 2, 5));
    ax_tensor *dyo = make(g_other, AX_F32, DIMS(3, 2, 5));
    AX_ASSERT_OK(ax_batch_norm_backward_training(g_ctx, x, dy, g, m, s, dx, dg, db));
    AX_ASSERT_OK(ax_batch_norm_backward_training(g_ctx, x, dy, NULL, m, s, NULL, NULL, NULL));
    AX_ASSERT_OK(ax_batch_norm_backward_inference(g_ctx, x, dy, g, m, s, AX_BN_EPS, dx, dg, db));
    AX_ASSERT_FAILS(ax_batch_norm_backward_training(NULL, x, dy, g, m, s, dx, dg, db),
                    AX_ERR_INVALID_ARG, BWD_TRAIN);
    AX_ASSERT_FAILS(ax_batch_norm_backward_training(g_ctx, x, NULL, g, m, s, dx, dg, db),
                    AX_ERR_INVALID_ARG, BWD_TRAIN);
    AX_ASSERT_FAILS(ax_batch_norm_backward_training(g_ctx, x, dy, g, NULL, s, dx, dg, db),
                    AX_ERR_INVALID_ARG, BWD_TRAIN);
    AX_ASSERT_FAILS(ax_batch_norm_backward_training(g_ctx, x, dy, g, m, NULL, dx, dg, db),
                    AX_ERR_INVALID_ARG, BWD_TRAIN);
    AX_ASSERT_FAILS(ax_batch_norm_backward_training(g_ctx, xi, dy, g, m, s, dx, dg, db),
                    AX_ERR_DTYPE, BWD_TRAIN);
    AX_ASSERT_FAILS(ax_batch_norm_backward_training(g_ctx, x, dyo, g, m, s, dx, dg, db),
                    AX_ERR_DEVICE, BWD_TRAIN);
    AX_ASSERT_FAILS(ax_batch_norm_backward_training(g_ctx, x, dy2, g, m, s, dx, dg, db),
                    AX_ERR_SHAPE, BWD_TRAIN);
    AX_ASSERT_FAILS(ax_batch_norm_backward_training(g_ctx, x, dy, g, m, s, dx2, dg, db),
                    AX_ERR_SHAPE, BWD_TRAIN);
    AX_ASSERT_FAILS(ax_batch_norm_backward_training(g_ctx, x, dy, c3, m, s, dx, dg, db),
                    AX_ERR_SHAPE, BWD_TRAIN);
    AX_ASSERT_FAILS(ax_batch_norm_backward_training(g_ctx, x, dy, g, c3, s, dx, dg, db),
                    AX_ERR_SHAPE, BWD_TRAIN);
    AX_ASSERT_FAILS(ax_batch_norm_backward_training(g_ctx, x, dy, g, m, c3, dx, dg, db),
                    AX_ERR_SHAPE, BWD_TRAIN);
    AX_ASSERT_FAILS(ax_batch_norm_backward_training(g_ctx, x, dy, g, m, s, dx, c3, db),
                    AX_ERR_SHAPE, BWD_TRAIN);
    AX_ASSERT_FAILS(ax_batch_norm_backward_training(g_ctx, x, dy, g, m, s, dx, dg, c3),
                    AX_ERR_SHAPE, BWD_TRAIN);
    /* aliasing: dx with x, dgamma with gamma, dgamma with dbeta */
    AX_ASSERT_FAILS(ax_batch_norm_backward_training(g_ctx, x, dy, g, m, s, x, dg, db),
                    AX_ERR_INVALID_ARG, BWD_TRAIN);
    AX_ASSERT_FAILS(ax_batch_norm_backward_training(g_ctx, x, dy, g, m, s, dx, g, db),
                    AX_ERR_INVALID_ARG, BWD_TRAIN);
    AX_ASSERT_FAILS(ax_batch_norm_backward_training(g_ctx, x, dy, g, m, s, dx, dg, dg),
                    AX_ERR_INVALID_ARG, BWD_TRAIN);
    AX_ASSERT_FAILS(ax_batch_norm_backward_inference(g_ctx, x, dy, g, m, s, -1e-5f, dx, dg, db),
                    AX_ERR_INVALID_ARG, BWD_EVAL);
    AX_ASSERT_FAILS(ax_batch_norm_backward_inference(g_ctx, x, dy, g, m, c3, AX_BN_EPS, dx, dg,
                                                     db),
                    AX_ERR_SHAPE, BWD_EVAL);
    AX_ASSERT_FAILS(ax_batch_norm_backward_inference(g_ctx, x, dy, g, NULL, s, AX_BN_EPS, dx, dg,
                                                     db),
                    AX_ERR_INVALID_ARG, BWD_EVAL);
}

/* ================================================================ GPU parity */

/* Tolerances: both sides take the statistics in double (CPU: two passes; GPU: sums shifted by
 * a sample of the channel, in double, fixed order), so mean and invstd agree to a few f32 ulp
 * (rtol 1e-5, atol 1e-6). y and dx are O(1..10) results of a few f32 operations per element on
 * the GPU against double on the CPU: rtol 1e-5, atol 2e-5. dgamma and dbeta sum M terms of
 * size ~1 each rounded to f32 on the GPU before the double sum: an error of ~6e-8 sqrt(M),
 * so atol 1e-6 sqrt(M) (a lost or doubled element, O(1), still fails), rtol 1e-5. */
#define PAR_RTOL 1e-5
#define PAR_ATOL 2e-5

typedef struct side {
    ax_ctx *ctx;
    ax_tensor *x, *g, *b, *rm, *rv, *y, *mean, *inv, *dy, *dx, *dg, *db;
} side;

static void side_free(side *s) {
    ax_tensor *all[] = {s->x, s->g, s->b, s->rm, s->rv, s->y, s->mean, s->inv, s->dy, s->dx,
                        s->dg, s->db};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        ax_tensor_destroy(all[k]);
}

static void expect_same(const ax_tensor *gpu, const ax_tensor *cpu, double atol, double rtol,
                        const char *what) {
    float *got = th_to_host(gpu), *ref = th_to_host(cpu);
    th_assert_close(got, ref, ax_tensor_numel(cpu), atol, rtol, what);
    free(got);
    free(ref);
}

/* Fresh inputs from seed on ctx (x from host data hx when given), NaN-filled outputs. */
static side side_open(ax_ctx *ctx, int ndim, const int64_t *shape, const float *hx, int affine,
                      uint64_t seed) {
    side s = {0};
    int64_t c = shape[1];
    int64_t sc[1] = {c};
    s.ctx = ctx;
    s.x = hx ? th_tensor(ctx, ndim, shape, hx) : th_random_tensor(ctx, ndim, shape, seed, -3, 3, 0);
    if (affine) {
        s.g = th_random_tensor(ctx, 1, sc, seed + 1, 0.5f, 1.5f, 0);
        s.b = th_random_tensor(ctx, 1, sc, seed + 2, -1, 1, 0);
    }
    s.rm = th_random_tensor(ctx, 1, sc, seed + 3, -1, 1, 0);
    s.rv = th_random_tensor(ctx, 1, sc, seed + 4, 0.5f, 2, 0);
    s.dy = th_random_tensor(ctx, ndim, shape, seed + 5, -1, 1, 0);
    s.y = th_nan_tensor(ctx, ndim, shape);
    s.dx = th_nan_tensor(ctx, ndim, shape);
    s.mean = nan_vec(ctx, c);
    s.inv = nan_vec(ctx, c);
    s.dg = nan_vec(ctx, c);
    s.db = nan_vec(ctx, c);
    return s;
}

/* Every pass on both backends from the same inputs, compared. */
static void parity_case(ax_ctx *gpu, ax_ctx *cpu, int ndim, const int64_t *shape, int affine,
                        float momentum, const float *hx, uint64_t seed) {
    side s[2] = {side_open(cpu, ndim, shape, hx, affine, seed),
                 side_open(gpu, ndim, shape, hx, affine, seed)};
    view v = view_of(ndim, shape);
    double red_atol = 1e-6 * sqrt((double)(v.outer * v.inner)) + 1e-6;
    char what[160];
    snprintf(what, sizeof what, "[%lld, %lld, inner %lld]%s", (long long)v.outer,
             (long long)v.channels, (long long)v.inner, affine ? "" : " no affine");
    int64_t nbt[2] = {2, 2};
    for (int k = 0; k < 2; k++) {
        side *t = &s[k];
        AX_ASSERT_OK(ax_batch_norm_forward_training(t->ctx, t->x, t->g, t->b, AX_BN_EPS,
                                                    momentum, t->rm, t->rv, &nbt[k], t->y,
                                                    t->mean, t->inv));
        AX_ASSERT_OK(ax_batch_norm_backward_training(t->ctx, t->x, t->dy, t->g, t->mean, t->inv,
                                                     t->dx, t->dg, t->db));
    }
    cr_assert_eq(nbt[1], 3);
    expect_same(s[1].mean, s[0].mean, 1e-6, 1e-5, what);
    expect_same(s[1].inv, s[0].inv, 1e-6, 1e-5, what);
    expect_same(s[1].rm, s[0].rm, 1e-6, 1e-5, what);
    expect_same(s[1].rv, s[0].rv, 1e-6, 1e-5, what);
    expect_same(s[1].y, s[0].y, PAR_ATOL, PAR_RTOL, what);
    expect_same(s[1].dx, s[0].dx, PAR_ATOL, PAR_RTOL, what);
    expect_same(s[1].dg, s[0].dg, red_atol, PAR_RTOL, what);
    expect_same(s[1].db, s[0].db, red_atol, PAR_RTOL, what);
    /* determinism: a rerun of the GPU backward gives the same bits */
    ax_tensor *dg2 = nan_vec(gpu, v.channels), *dx2 = th_nan_tensor(gpu, ndim, shape);
    AX_ASSERT_OK(ax_batch_norm_backward_training(gpu, s[1].x, s[1].dy, s[1].g, s[1].mean,
                                                 s[1].inv, dx2, dg2, NULL));
    float *a = th_to_host(dg2), *b = th_to_host(s[1].dg);
    th_assert_equal(a, b, v.channels, "dgamma rerun");
    free(a);
    free(b);
    a = th_to_host(dx2);
    b = th_to_host(s[1].dx);
    th_assert_equal(a, b, ax_tensor_numel(dx2), "dx rerun");
    free(a);
    free(b);
    ax_tensor_destroy(dg2);
    ax_tensor_destroy(dx2);
    /* evaluation with the updated running statistics; outputs NaN again */
    for (int k = 0; k < 2; k++) {
        side *t = &s[k];
        AX_ASSERT_OK(ax_fill(t->ctx, t->y, NAN));
        AX_ASSERT_OK(ax_fill(t->ctx, t->dx, NAN));
        AX_ASSERT_OK(ax_fill(t->ctx, t->dg, NAN));
        AX_ASSERT_OK(ax_fill(t->ctx, t->db, NAN));
        AX_ASSERT_OK(ax_batch_norm_forward_inference(t->ctx, t->x, t->g, t->b, t->rm, t->rv,
                                                     AX_BN_EPS, t->y));
        AX_ASSERT_OK(ax_batch_norm_backward_inference(t->ctx, t->x, t->dy, t->g, t->rm, t->rv,
                                                      AX_BN_EPS, t->dx, t->dg, t->db));
    }
    expect_same(s[1].y, s[0].y, PAR_ATOL, PAR_RTOL, what);
    expect_same(s[1].dx, s[0].dx, PAR_ATOL, PAR_RTOL, what);
    expect_same(s[1].dg, s[0].dg, red_atol, PAR_RTOL, what);
    expect_same(s[1].db, s[0].db, red_atol, PAR_RTOL, what);
    /* only dx, only dbeta */
    AX_ASSERT_OK(ax_fill(gpu, s[1].dx, NAN));
    AX_ASSERT_OK(ax_batch_norm_backward_training(gpu, s[1].x, s[1].dy, s[1].g, s[1].mean,
                                                 s[1].inv, s[1].dx, NULL, NULL));
    AX_ASSERT_OK(ax_batch_norm_backward_training(cpu, s[0].x, s[0].dy, s[0].g, s[0].mean,
                                                 s[0].inv, s[0].dx, NULL, NULL));
    expect_same(s[1].dx, s[0].dx, PAR_ATOL, PAR_RTOL, what);
    AX_ASSERT_OK(ax_fill(gpu, s[1].db, NAN));
    AX_ASSERT_OK(ax_batch_norm_backward_training(gpu, s[1].x, s[1].dy, s[1].g, s[1].mean,
                                                 s[1].inv, NULL, NULL, s[1].db));
    AX_ASSERT_OK(ax_batch_norm_backward_training(cpu, s[0].x, s[0].dy, s[0].g, s[0].mean,
                                                 s[0].inv, NULL, NULL, s[0].db));
    expect_same(s[1].db, s[0].db, red_atol, PAR_RTOL, what);
    side_free(&s[0]);
    side_free(&s[1]);
}

Test(batchnorm, gpu_parity_shapes) {
    ax_ctx *gpu = th_gpu_ctx_or_skip(), *cpu = th_cpu_ctx();
    parity_case(gpu, cpu, DIMS(2, 1), 1, 0.1f, NULL, 1000);            /* smallest */
    parity_case(gpu, cpu, DIMS(7, 3), 1, 0.1f, NULL, 1010);            /* 1d [N, C] */
    parity_case(gpu, cpu, DIMS(1000, 33), 1, 0.1f, NULL, 1020);        /* long columns */
    parity_case(gpu, cpu, DIMS(2, 5, 33), 0, 0.3f, NULL, 1030);        /* 1d [N, C, L] */
    parity_case(gpu, cpu, DIMS(1, 4, 7, 9), 1, 0.1f, NULL, 1040);      /* batch 1, odd tails */
    parity_case(gpu, cpu, DIMS(3, 7, 1, 257), 1, AX_BN_CUMULATIVE, NULL, 1050);
    parity_case(gpu, cpu, DIMS(3, 2, 127), 1, 0.1f, NULL, 1052);      /* last flat row length */
    parity_case(gpu, cpu, DIMS(3, 2, 128), 1, 0.1f, NULL, 1054);      /* first row-kernel one */
    parity_case(gpu, cpu, DIMS(33, 2, 17, 19), 1, 0.1f, NULL, 1060);   /* many rows */
    parity_case(gpu, cpu, DIMS(4, 1, 257, 257), 1, 0.1f, NULL, 1070);  /* one large channel */
    parity_case(gpu, cpu, DIMS(32, 64, 28, 28), 1, 0.1f, NULL, 1080);  /* large */
    parity_case(gpu, cpu, DIMS(5, 3001, 3), 1, 0.1f, NULL, 1090);      /* many channels */
    parity_case(gpu, cpu, DIMS(4099, 64), 1, 0.1f, NULL, 1092);       /* long [N, C] */
    parity_case(gpu, cpu, DIMS(2, 20000, 127), 1, 0.1f, NULL, 1094);  /* > 65535 column tiles */
    AX_ASSERT_OK(ax_ctx_synchronize(gpu));
    ax_ctx_destroy(cpu);
    ax_ctx_destroy(gpu);
}

Test(batchnorm, gpu_in_place) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
    check_in_place(gpu);
    ax_ctx_destroy(gpu);
}

Test(batchnorm, gpu_large_offset) {
    ax_ctx *gpu = th_gpu_ctx_or_skip(), *cpu = th_cpu_ctx();
    check_big_offset(gpu);
    int64_t shape[3] = {64, 2, 1031}; /* 1e4 + noise again, over many blocks */
    float *h = big_offset_host(th_numel(3, shape), shape[2], 1100);
    parity_case(gpu, cpu, 3, shape, 1, 0.1f, h, 1101);
    free(h);
    ax_ctx_destroy(cpu);
    ax_ctx_destroy(gpu);
}

/* ================================================================ cuDNN as an oracle */

/* cuDNN's NCHW batch norm (CUDNN_BATCHNORM_SPATIAL: x viewed as [N, C, inner, 1]) on the same
 * inputs as the CPU reference: training forward (y, running statistics, saved mean and
 * inverse std), its backward (dx, dgamma, dbeta) and the evaluation forward. An independent
 * implementation, so a convention both of ours might share (biased running variance, a
 * momentum the wrong way round) shows. Tolerances: cuDNN sums in f32 in its own order, so
 * rtol 1e-4 and atol 1e-4 (10 atol for the M-term sums dgamma and dbeta). */
#ifdef AXON_TEST_CUDNN
#include <cuda_runtime_api.h>
#include <cudnn.h>

static void cudnn_ok(cudnnStatus_t st, const char *what) {
    cr_assert_eq(st, CUDNN_STATUS_SUCCESS, "%s: %s", what, cudnnGetErrorString(st));
}

static float *dev(ax_tensor *t) { return ax_tensor_data(t); }

static void cudnn_case(ax_ctx *gpu, ax_ctx *cpu, int ndim, const int64_t *shape, uint64_t seed) {
    side ref = side_open(cpu, ndim, shape, NULL, 1, seed), cu = side_open(gpu, ndim, shape, NULL, 1,
                                                                            seed);
    view v = view_of(ndim, shape);
    const float momentum = 0.1f;
    AX_ASSERT_OK(ax_batch_norm_forward_training(cpu, ref.x, ref.g, ref.b, AX_BN_EPS, momentum,
                                                ref.rm, ref.rv, NULL, ref.y, ref.mean, ref.inv));
    AX_ASSERT_OK(ax_batch_norm_backward_training(cpu, ref.x, ref.dy, ref.g, ref.mean, ref.inv,
                                                 ref.dx, ref.dg, ref.db));
    AX_ASSERT_OK(ax_ctx_synchronize(gpu)); /* inputs in place before cuDNN's stream reads them */
    cudnnHandle_t h;
    cudnnTensorDescriptor_t xd, cd;
    cudnn_ok(cudnnCreate(&h), "cudnnCreate");
    cudnn_ok(cudnnCreateTensorDescriptor(&xd), "cudnnCreateTensorDescriptor");
    cudnn_ok(cudnnCreateTensorDescriptor(&cd), "cudnnCreateTensorDescriptor");
    cudnn_ok(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)v.outer,
                                        (int)v.channels, (int)v.inner, 1),
             "cudnnSetTensor4dDescriptor");
    cudnn_ok(cudnnDeriveBNTensorDescriptor(cd, xd, CUDNN_BATCHNORM_SPATIAL),
             "cudnnDeriveBNTensorDescriptor");
    const float one = 1.0f, zero = 0.0f;
    cudnn_ok(cudnnBatchNormalizationForwardTraining(
                 h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd, dev(cu.x), xd, dev(cu.y), cd,
                 dev(cu.g), dev(cu.b), momentum, dev(cu.rm), dev(cu.rv), AX_BN_EPS, dev(cu.mean),
                 dev(cu.inv)),
             "cudnnBatchNormalizationForwardTraining");
    cudnn_ok(cudnnBatchNormalizationBackward(h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero,
                                             xd, dev(cu.x), xd, dev(cu.dy), xd, dev(cu.dx), cd,
                                             dev(cu.g), dev(cu.dg), dev(cu.db), AX_BN_EPS,
                                             dev(cu.mean), dev(cu.inv)),
             "cudnnBatchNormalizationBackward");
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
    char what[96];
    snprintf(what, sizeof what, "cuDNN [%lld, %lld, inner %lld]", (long long)v.outer,
             (long long)v.channels, (long long)v.inner);
    expect_same(cu.y, ref.y, 1e-4, 1e-4, what);
    expect_same(cu.mean, ref.mean, 1e-4, 1e-4, what);
    expect_same(cu.inv, ref.inv, 1e-4, 1e-4, what);
    expect_same(cu.rm, ref.rm, 1e-4, 1e-4, what);
    expect_same(cu.rv, ref.rv, 1e-4, 1e-4, what);
    expect_same(cu.dx, ref.dx, 1e-4, 1e-4, what);
    expect_same(cu.dg, ref.dg, 1e-3, 1e-4, what);
    expect_same(cu.db, ref.db, 1e-3, 1e-4, what);
    /* evaluation with the updated running statistics */
    AX_ASSERT_OK(ax_batch_norm_forward_inference(cpu, ref.x, ref.g, ref.b, ref.rm, ref.rv,
                                                 AX_BN_EPS, ref.y));
    cudnn_ok(cudnnBatchNormalizationForwardInference(h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd,
                                                     dev(cu.x), xd, dev(cu.y), cd, dev(cu.g),
                                                     dev(cu.b), dev(cu.rm), dev(cu.rv),
                                                     AX_BN_EPS),
             "cudnnBatchNormalizationForwardInference");
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
    expect_same(cu.y, ref.y, 1e-4, 1e-4, what);
    cudnnDestroyTensorDescriptor(xd);
    cudnnDestroyTensorDescriptor(cd);
    cudnnDestroy(h);
    side_free(&ref);
    side_free(&cu);
}
#endif

Test(batchnorm, gpu_cudnn_oracle) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
#ifdef AXON_TEST_CUDNN
    ax_ctx *cpu = th_cpu_ctx();
    cudnn_case(gpu, cpu, DIMS(7, 3), 1200);
    cudnn_case(gpu, cpu, DIMS(2, 5, 33), 1210);
    cudnn_case(gpu, cpu, DIMS(3, 4, 7, 9), 1220);
    cudnn_case(gpu, cpu, DIMS(16, 8, 19, 23), 1230);
    ax_ctx_destroy(cpu);
    ax_ctx_destroy(gpu);
#else
    ax_ctx_destroy(gpu);
    cr_skip("built without cuDNN (FindCUDNN found none): no independent oracle here");
#endif
}
