/* Initialisers: the gains against PyTorch's calculate_gain (golden), every fill's bounds and
 * variance on shapes whose fan-in and fan-out differ (a fan swap changes them by 2x to 40x),
 * the dense layer's default weight and bias, and the one enum shared by activations and gains.
 *
 * Statistics, on n = 100000 draws unless said otherwise (the draws are Philox with a fixed seed,
 * so each test is deterministic; the tolerances say how unlikely a correct fill is to fail):
 * - Uniform U(-b, b): every |v| <= b (1 + 1e-6), and max |v| >= b (1 - 2e-4): a correct fill
 *   misses that with probability (1 - 2e-4)^n = e^-20, so the bound is checked to 2e-4 both
 *   ways. The variance is b^2 / 3 within 2% (its relative standard error is sqrt(0.8 / n) =
 *   0.28%, so 7 standard errors), the mean 0 within 5 standard errors b / sqrt(3 n).
 * - Normal N(0, s^2): variance s^2 within 3% (standard error sqrt(2 / n) = 0.45%, so 6.7), mean
 *   within 5 s / sqrt(n), the share of |v| <= s is 0.6827 within 0.01 (standard error 0.0015)
 *   and max |v| >= 3.5 s (missed with probability e^-46): a uniform fill with the same
 *   variance (57.7% within s, max 1.73 s) fails both.
 * A fan swap or a wrong gain (ReLU's 2 against tanh's 25/9 in the variance, a = sqrt(5)'s 1/3
 * against 1) is far outside these. Finer errors in a constant are caught by the documented
 * contract that the fills are ax_rng_uniform / ax_rng_normal at (seed, offset): the same draws
 * with the expected bound or std must agree to 1e-5 of it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "golden.h"
#include "helpers.h"

#define N_DRAWS 100000

/* |v| against a uniform bound or a normal std, as the header says. */
static void check_stats(const float *v, int64_t n, int uniform, double param, const char *what) {
    double sum = 0, ss = 0, max_abs = 0;
    int64_t within = 0;
    for (int64_t i = 0; i < n; i++) {
        sum += v[i];
        ss += (double)v[i] * v[i];
        max_abs = fmax(max_abs, fabs(v[i]));
        within += fabs(v[i]) <= param;
    }
    double mean = sum / (double)n, var = ss / (double)n - mean * mean;
    if (uniform) {
        double b = param;
        cr_assert(max_abs <= b * (1 + 1e-6), "%s: max |v| %.9g exceeds the bound %.9g", what,
                  max_abs, b);
        cr_assert(max_abs >= b * (1 - 2e-4), "%s: max |v| %.9g, far inside the bound %.9g", what,
                  max_abs, b);
        cr_assert(fabs(var / (b * b / 3) - 1) <= 0.02, "%s: variance %.6g, want b^2/3 = %.6g", what,
                  var, b * b / 3);
        cr_assert(fabs(mean) <= 5 * b / sqrt(3.0 * (double)n), "%s: mean %.3g", what, mean);
    } else {
        double s = param;
        cr_assert(fabs(var / (s * s) - 1) <= 0.03, "%s: variance %.6g, want %.6g", what, var,
                  s * s);
        cr_assert(fabs(mean) <= 5 * s / sqrt((double)n), "%s: mean %.3g", what, mean);
        double share = (double)within / (double)n;
        cr_assert(fabs(share - 0.6827) <= 0.01, "%s: %.4f of |v| <= std, want 0.6827", what, share);
        cr_assert(max_abs >= 3.5 * s, "%s: max |v| %.4g < 3.5 std %.4g: not normal", what, max_abs,
                  3.5 * s);
    }
}

/* t (filled at seed, offset) has the statistics of U(-param, param) or N(0, param^2), and is
 * those same Philox draws to 1e-5 of param. */
static void check_fill(ax_ctx *ctx, const ax_tensor *t, int uniform, double param, uint64_t seed,
                       uint64_t offset, const char *what) {
    int64_t n = ax_tensor_numel(t), shape[1] = {n};
    float *v = th_to_host(t);
    check_stats(v, n, uniform, param, what);
    ax_tensor *ref = th_nan_tensor(ctx, 1, shape);
    AX_ASSERT_OK(uniform ? ax_rng_uniform(ctx, ref, (float)-param, (float)param, seed, offset)
                         : ax_rng_normal(ctx, ref, 0.0f, (float)param, seed, offset));
    float *r = th_to_host(ref);
    for (int64_t i = 0; i < n; i++)
        cr_assert(fabs((double)v[i] - r[i]) <= 1e-5 * param,
                  "%s: v[%lld] = %.9g, the same draw with %s %.9g is %.9g", what, (long long)i,
                  (double)v[i], uniform ? "bound" : "std", param, (double)r[i]);
    free(v);
    free(r);
    ax_tensor_destroy(ref);
}

/* The shapes: a dense weight [out, in] with in = 40 out, and a convolution weight
 * [out, in, kh, kw] with fan_out = 2 fan_in; both hold about N_DRAWS values. */
static const int64_t dense_shape[2] = {50, 2000};    /* fan_in 2000, fan_out 50 */
static const int64_t conv_shape[4] = {64, 32, 7, 7}; /* fan_in 1568, fan_out 3136 */

typedef struct shape_case {
    int ndim;
    const int64_t *shape;
    double fan_in, fan_out;
    const char *name;
} shape_case;

static const shape_case shapes[] = {{2, dense_shape, 2000, 50, "dense [50, 2000]"},
                                    {4, conv_shape, 1568, 3136, "conv [64, 32, 7, 7]"}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

/* ---------------------------------------------------------------- gains, fans */

/* PyTorch's calculate_gain for every nonlinearity in ax_activation's order (golden), through
 * both spellings of the enum, and leaky ReLU at 0 (the default slope 0.01), 0.2 and sqrt(5). */
Test(init, gains_match_calculate_gain) {
    gd_case *c = gd_load("dense", "init_gains");
    const gd_tensor *gains = gd_get(c, "gains"), *slopes = gd_get(c, "slopes"),
                    *leaky = gd_get(c, "leaky_gains");
    static const ax_activation acts[] = {AX_ACT_LINEAR, AX_ACT_SIGMOID, AX_ACT_TANH, AX_ACT_RELU,
                                         AX_ACT_LEAKY_RELU};
    cr_assert_eq(gains->numel, 5);
    for (int k = 0; k < 5; k++) /* slope 0: leaky ReLU's default slope, as calculate_gain's */
        cr_assert_float_eq(ax_init_gain(acts[k], 0.0f), gains->f[k], 1e-6 * gains->f[k],
                           "ax_init_gain(%d, 0) = %.9g, calculate_gain gives %.9g", (int)acts[k],
                           (double)ax_init_gain(acts[k], 0.0f), (double)gains->f[k]);
    for (int k = 0; k < 2; k++)
        cr_assert_float_eq(ax_init_gain(AX_ACT_LEAKY_RELU, slopes->f[k]), leaky->f[k],
                           1e-6 * leaky->f[k], "leaky gain at slope %g", (double)slopes->f[k]);
    /* the trap of issue 8: an activation passed as a nonlinearity gives its own gain */
    cr_assert_eq(ax_init_gain(AX_ACT_RELU, 0), sqrtf(2.0f));
    cr_assert_eq(ax_init_gain(AX_GAIN_TANH, 0), ax_init_gain(AX_ACT_TANH, 0));
    cr_assert_eq(ax_init_gain(AX_ACT_LEAKY_RELU, -0.0f),
                 ax_init_gain(AX_ACT_LEAKY_RELU, AX_LEAKY_RELU_SLOPE));
    cr_assert(isnan(ax_init_gain((ax_nonlinearity)5, 0)), "an unknown nonlinearity has no gain");
    cr_assert(isnan(ax_init_gain((ax_nonlinearity)-1, 0)));
    gd_free(c);
}

/* One enum: every gain name is the activation of the same name. */
_Static_assert(AX_GAIN_LINEAR == AX_ACT_LINEAR && AX_GAIN_SIGMOID == AX_ACT_SIGMOID &&
                   AX_GAIN_TANH == AX_ACT_TANH && AX_GAIN_RELU == AX_ACT_RELU &&
                   AX_GAIN_LEAKY_RELU == AX_ACT_LEAKY_RELU,
               "ax_nonlinearity and ax_activation number the functions alike");

Test(init, fans_of_dense_and_conv_shapes) {
    ax_ctx *ctx = th_cpu_ctx();
    for (size_t s = 0; s < N_SHAPES; s++) {
        ax_tensor *t = th_nan_tensor(ctx, shapes[s].ndim, shapes[s].shape);
        int64_t fi = 0, fo = 0;
        AX_ASSERT_OK(ax_init_fans(t, &fi, &fo));
        cr_assert(fi == (int64_t)shapes[s].fan_in && fo == (int64_t)shapes[s].fan_out,
                  "%s: fans %lld, %lld", shapes[s].name, (long long)fi, (long long)fo);
        ax_tensor_destroy(t);
    }
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- the fills */

Test(init, xavier_uniform_and_normal) {
    ax_ctx *ctx = th_cpu_ctx();
    static const float gains[] = {1.0f, 2.5f};
    for (size_t s = 0; s < N_SHAPES; s++)
        for (int g = 0; g < 2; g++) {
            ax_tensor *t = th_nan_tensor(ctx, shapes[s].ndim, shapes[s].shape);
            double fans = shapes[s].fan_in + shapes[s].fan_out;
            char what[96];
            snprintf(what, sizeof what, "xavier_uniform gain %g, %s", (double)gains[g],
                     shapes[s].name);
            AX_ASSERT_OK(ax_init_xavier_uniform(ctx, t, gains[g], 11, s));
            check_fill(ctx, t, 1, gains[g] * sqrt(6.0 / fans), 11, s, what);
            snprintf(what, sizeof what, "xavier_normal gain %g, %s", (double)gains[g],
                     shapes[s].name);
            AX_ASSERT_OK(ax_init_xavier_normal(ctx, t, gains[g], 12, s));
            check_fill(ctx, t, 0, gains[g] * sqrt(2.0 / fans), 12, s, what);
            ax_tensor_destroy(t);
        }
    ax_ctx_destroy(ctx);
}

Test(init, lecun_normal_uses_fan_in) {
    ax_ctx *ctx = th_cpu_ctx();
    for (size_t s = 0; s < N_SHAPES; s++) {
        ax_tensor *t = th_nan_tensor(ctx, shapes[s].ndim, shapes[s].shape);
        AX_ASSERT_OK(ax_init_lecun_normal(ctx, t, 13, s));
        check_fill(ctx, t, 0, sqrt(1.0 / shapes[s].fan_in), 13, s, shapes[s].name);
        ax_tensor_destroy(t);
    }
    ax_ctx_destroy(ctx);
}

/* Kaiming uniform and normal for every nonlinearity (leaky ReLU at a = 0, the default slope
 * 0.01, at 0.2 and at sqrt(5)), both modes, both shapes, through the direct call and through
 * ax_init_tensor. The expected gains are written out here, not taken from ax_init_gain. */
Test(init, kaiming_every_nonlinearity_and_mode) {
    ax_ctx *ctx = th_cpu_ctx();
    struct {
        ax_nonlinearity nl;
        float a;
        double gain;
    } cases[] = {
        {AX_ACT_LINEAR, 0, 1.0},
        {AX_ACT_SIGMOID, 0, 1.0},
        {AX_ACT_TANH, 0, 5.0 / 3.0},
        {AX_ACT_RELU, 0, sqrt(2.0)},
        {AX_ACT_LEAKY_RELU, 0, sqrt(2.0 / (1.0 + 0.01 * 0.01))},
        {AX_ACT_LEAKY_RELU, 0.2f, sqrt(2.0 / (1.0 + 0.2 * 0.2))},
        {AX_ACT_LEAKY_RELU, sqrtf(5.0f), sqrt(1.0 / 3.0)},
    };
    uint64_t offset = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (size_t s = 0; s < N_SHAPES; s++)
            for (int mode = AX_FAN_IN; mode <= AX_FAN_OUT; mode++)
                for (int normal = 0; normal < 2; normal++, offset++) {
                    ax_tensor *t = th_nan_tensor(ctx, shapes[s].ndim, shapes[s].shape);
                    double fan = mode == AX_FAN_IN ? shapes[s].fan_in : shapes[s].fan_out;
                    double std = cases[k].gain / sqrt(fan);
                    ax_init init = {.kind =
                                        normal ? AX_INIT_KAIMING_NORMAL : AX_INIT_KAIMING_UNIFORM,
                                    .a = cases[k].a,
                                    .mode = (ax_fan_mode)mode,
                                    .nonlinearity = cases[k].nl};
                    char what[128];
                    snprintf(what, sizeof what, "kaiming_%s nonlinearity %d a %g %s, %s",
                             normal ? "normal" : "uniform", (int)cases[k].nl, (double)cases[k].a,
                             mode == AX_FAN_IN ? "fan_in" : "fan_out", shapes[s].name);
                    if ((offset >> 1) & 1) /* alternately ax_init_tensor and the direct call */
                        AX_ASSERT_OK(ax_init_tensor(ctx, t, &init, 14, offset));
                    else if (normal)
                        AX_ASSERT_OK(ax_init_kaiming_normal(ctx, t, cases[k].a, (ax_fan_mode)mode,
                                                            cases[k].nl, 14, offset));
                    else
                        AX_ASSERT_OK(ax_init_kaiming_uniform(ctx, t, cases[k].a, (ax_fan_mode)mode,
                                                             cases[k].nl, 14, offset));
                    check_fill(ctx, t, !normal, normal ? std : sqrt(3.0) * std, 14, offset, what);
                    ax_tensor_destroy(t);
                }
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- the dense layer */

/* nn.Linear(in, out): weight [out, in] and bias [out] both U(-1/sqrt(in), 1/sqrt(in)). With
 * in = 16, out = 1024 the bias has 1024 draws: max |b| >= 0.99 bound fails a correct fill with
 * probability 0.99^1024 = 3e-5 and a bias drawn with 1/sqrt(out) (8x narrower) always; its
 * variance within 15% (standard error sqrt(0.8 / 1024) = 2.8%). With in = 1024, out = 16, a
 * bias drawn with 1/sqrt(out) (8x wider) leaves the bound. The weights (16384 draws) as
 * check_fill's uniform case, with max |w| >= (1 - 1e-3) bound (missed with probability
 * e^-16). */
static void check_dense_init(int64_t in, int64_t out, uint64_t seed) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g = NULL;
    ax_node *x = NULL, *y = NULL;
    int64_t xs[2] = {4, in};
    AX_ASSERT_OK(ax_graph_create(ctx, seed, &g));
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, xs, &x));
    AX_ASSERT_OK(ax_graph_dense(g, "fc", x, out, &y));
    int iw = -1, ib = -1;
    ax_tensor *w = NULL, *b = NULL;
    AX_ASSERT_OK(ax_graph_param_find(g, "fc.weight", &iw));
    AX_ASSERT_OK(ax_graph_param_find(g, "fc.bias", &ib));
    AX_ASSERT_OK(ax_graph_param_get(g, iw, NULL, &w, NULL));
    AX_ASSERT_OK(ax_graph_param_get(g, ib, NULL, &b, NULL));
    cr_assert_eq(ax_tensor_numel(w), in * out);
    cr_assert_eq(ax_tensor_numel(b), out);
    double bound = 1.0 / sqrt((double)in);
    float *wv = th_to_host(w), *bv = th_to_host(b);
    double wmax = 0, bmax = 0, bss = 0;
    for (int64_t i = 0; i < in * out; i++)
        wmax = fmax(wmax, fabs(wv[i]));
    for (int64_t i = 0; i < out; i++) {
        bmax = fmax(bmax, fabs(bv[i]));
        bss += (double)bv[i] * bv[i];
    }
    cr_assert(wmax <= bound * (1 + 1e-6) && wmax >= bound * (1 - 1e-3),
              "dense(%lld -> %lld) weight: max |w| %.6g, bound 1/sqrt(in) = %.6g", (long long)in,
              (long long)out, wmax, bound);
    cr_assert(bmax <= bound * (1 + 1e-6),
              "dense(%lld -> %lld) bias: max |b| %.6g > 1/sqrt(in) %.6g", (long long)in,
              (long long)out, bmax, bound);
    if (out >= 1024) {
        cr_assert(bmax >= 0.99 * bound, "bias: max |b| %.6g, far inside 1/sqrt(in) = %.6g", bmax,
                  bound);
        double var = bss / (double)out;
        cr_assert(fabs(var / (bound * bound / 3) - 1) <= 0.15, "bias variance %.6g, want %.6g", var,
                  bound * bound / 3);
    }
    if (in * out >= 16384) {
        double wss = 0;
        for (int64_t i = 0; i < in * out; i++)
            wss += (double)wv[i] * wv[i];
        double var = wss / (double)(in * out);
        cr_assert(fabs(var / (bound * bound / 3) - 1) <= 0.05, "weight variance %.6g, want %.6g",
                  var, bound * bound / 3);
    }
    free(wv);
    free(bv);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

Test(init, dense_default_weight_and_bias_use_fan_in) {
    check_dense_init(16, 1024, 31);
    check_dense_init(1024, 16, 32);
    check_dense_init(3, 5000, 33);
}

/* ---------------------------------------------------------------- refusals */

/* An unknown nonlinearity is refused like an unknown mode (it used to fill with gain 1), and so
 * are a non-finite gain or a; the tensor keeps its contents. */
Test(init, unknown_nonlinearity_and_bad_numbers_are_refused) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t shape[2] = {3, 4};
    float ones[12];
    for (int i = 0; i < 12; i++)
        ones[i] = 1.0f;
    ax_tensor *t = th_tensor(ctx, 2, shape, ones);
    const ax_nonlinearity bad = (ax_nonlinearity)9;
    AX_ASSERT_FAILS(ax_init_kaiming_uniform(ctx, t, 0, AX_FAN_IN, bad, 1, 0), AX_ERR_INVALID_ARG,
                    "ax_init_kaiming_uniform");
    AX_ASSERT_FAILS(ax_init_kaiming_normal(ctx, t, 0, AX_FAN_OUT, (ax_nonlinearity)-1, 1, 0),
                    AX_ERR_INVALID_ARG, "ax_init_kaiming_normal");
    ax_init init = {.kind = AX_INIT_KAIMING_NORMAL, .nonlinearity = bad};
    AX_ASSERT_FAILS(ax_init_tensor(ctx, t, &init, 1, 0), AX_ERR_INVALID_ARG,
                    "ax_init_kaiming_normal");
    AX_ASSERT_FAILS(ax_init_kaiming_uniform(ctx, t, 0, (ax_fan_mode)2, AX_ACT_RELU, 1, 0),
                    AX_ERR_INVALID_ARG, "ax_init_kaiming_uniform");
    AX_ASSERT_FAILS(ax_init_kaiming_uniform(ctx, t, NAN, AX_FAN_IN, AX_ACT_LEAKY_RELU, 1, 0),
                    AX_ERR_INVALID_ARG, "ax_init_kaiming_uniform");
    AX_ASSERT_FAILS(ax_init_kaiming_normal(ctx, t, INFINITY, AX_FAN_IN, AX_ACT_LEAKY_RELU, 1, 0),
                    AX_ERR_INVALID_ARG, "ax_init_kaiming_normal");
    AX_ASSERT_FAILS(ax_init_xavier_uniform(ctx, t, NAN, 1, 0), AX_ERR_INVALID_ARG,
                    "ax_init_xavier_uniform");
    AX_ASSERT_FAILS(ax_init_xavier_normal(ctx, t, -INFINITY, 1, 0), AX_ERR_INVALID_ARG,
                    "ax_init_xavier_normal");
    float *v = th_to_host(t);
    th_assert_equal(v, ones, 12, "tensor after refused initialisers");
    free(v);
    /* each known nonlinearity is accepted */
    for (int nl = AX_ACT_LINEAR; nl <= AX_ACT_LEAKY_RELU; nl++)
        AX_ASSERT_OK(ax_init_kaiming_uniform(ctx, t, 0, AX_FAN_IN, (ax_nonlinearity)nl, 1, 0));
    ax_tensor_destroy(t);
    ax_ctx_destroy(ctx);
}
