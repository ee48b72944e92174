/* Golden cases from PyTorch (tests/golden/gen_dense.py, committed under tests/golden/dense):
 * the CPU reference must reproduce PyTorch's values. These catch convention errors that a
 * self-consistent gradient check cannot: the weight layout [out, in], mean versus sum, the
 * leaky ReLU slope, where dloss enters, the 1/2 of the L2 penalty, accumulation.
 *
 * Tolerance: both sides compute in f32 with O(10) terms per value, so they differ by a few
 * ulp; rtol 1e-5 (~80 ulp) plus atol 1e-6 for values that come out of cancellation (dx of
 * softmax, gradients near 0) is loose for rounding and far too tight for any convention
 * error (a wrong scale, a missing term or a transposed weight changes values by O(1)). */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "helpers.h"
#include "ieee.h"

#define G_ATOL 1e-6
#define G_RTOL 1e-5
#define AREA "dense"

/* An output tensor shaped like golden tensor `name`, NaN-filled. */
static ax_tensor *nan_like(ax_ctx *ctx, const gd_case *c, const char *name) {
    const gd_tensor *t = gd_get(c, name);
    return th_nan_tensor(ctx, t->ndim, t->shape);
}

static void expect(const ax_tensor *got, const gd_case *c, const char *name) {
    gd_assert_close(got, c, name, G_ATOL, G_RTOL);
}

/* For the cases with NaN, +-Inf and +-0 (tests/support/ieee.h): NaN must be NaN, Inf the same
 * infinity, finite values within the usual tolerance and zeros as `zeros` says. */
static void expect_ieee(const ax_tensor *got, const gd_case *c, const char *name,
                        th_zero_rule zeros) {
    const gd_tensor *want = gd_get(c, name);
    cr_assert_eq(ax_tensor_numel(got), want->numel, "%s: %s has %lld elements, expected %lld",
                 c->path, name, (long long)ax_tensor_numel(got), (long long)want->numel);
    float *host = th_to_host(got);
    char what[600];
    snprintf(what, sizeof what, "%s: %s", c->path, name);
    th_assert_ieee(host, want->f, want->numel, G_ATOL, G_RTOL, zeros, what);
    free(host);
}

/* Up to 8 tensors destroyed together at the end of a test. */
typedef struct bag {
    ax_tensor *t[8];
    int n;
} bag;

static ax_tensor *keep(bag *b, ax_tensor *t) {
    cr_assert(b->n < 8);
    return b->t[b->n++] = t;
}

static void bag_free(bag *b) {
    for (int i = 0; i < b->n; i++)
        ax_tensor_destroy(b->t[i]);
    b->n = 0;
}

/* ---------------------------------------------------------------- linear */

static void linear_case(const char *name, int with_bias) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load(AREA, name);
    bag b = {0};
    ax_tensor *x = keep(&b, gd_tensor_on(ctx, c, "x")), *w = keep(&b, gd_tensor_on(ctx, c, "w"));
    ax_tensor *bias = with_bias ? keep(&b, gd_tensor_on(ctx, c, "b")) : NULL;
    ax_tensor *dy = keep(&b, gd_tensor_on(ctx, c, "dy")), *y = keep(&b, nan_like(ctx, c, "y"));
    ax_tensor *dx = keep(&b, nan_like(ctx, c, "dx")), *dw = keep(&b, nan_like(ctx, c, "dw"));
    ax_tensor *db = with_bias ? keep(&b, nan_like(ctx, c, "db")) : NULL;
    AX_ASSERT_OK(ax_dense_forward(ctx, x, w, bias, y));
    expect(y, c, "y");
    AX_ASSERT_OK(ax_dense_backward(ctx, x, w, dy, dx, dw, db));
    expect(dx, c, "dx");
    expect(dw, c, "dw");
    if (db)
        expect(db, c, "db");
    bag_free(&b);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

Test(golden, dense_linear_layout_out_in) { linear_case("linear", 1); }
Test(golden, dense_linear_without_bias) { linear_case("linear_nobias", 0); }

/* ---------------------------------------------------------------- activations */

/* The case run with the slope it was made with, or with `slope` instead when given. */
static void activation_case_slope(const char *name, ax_activation act, const float *slope_given) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load(AREA, name);
    bag b = {0};
    float slope = slope_given ? *slope_given : gd_scalar(c, "slope");
    ax_tensor *x = keep(&b, gd_tensor_on(ctx, c, "x")), *dy = keep(&b, gd_tensor_on(ctx, c, "dy"));
    ax_tensor *y = keep(&b, nan_like(ctx, c, "y")), *dx = keep(&b, nan_like(ctx, c, "dx"));
    AX_ASSERT_OK(ax_activation_forward(ctx, act, slope, x, y));
    expect_ieee(y, c, "y", TH_ZERO_SIGN);
    AX_ASSERT_OK(ax_activation_backward(ctx, act, slope, x, y, dy, dx));
    expect_ieee(dx, c, "dx", TH_ZERO_SIGN);
    bag_free(&b);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

static void activation_case(const char *name, ax_activation act) {
    activation_case_slope(name, act, NULL);
}

Test(golden, sigmoid_forward_backward) { activation_case("act_sigmoid", AX_ACT_SIGMOID); }
Test(golden, tanh_forward_backward) { activation_case("act_tanh", AX_ACT_TANH); }
Test(golden, relu_forward_backward) { activation_case("act_relu", AX_ACT_RELU); }
/* ReLU's derivative at the points the golden case's random inputs miss (ops.h): 0 at +0 and
 * -0 (taken from the left, as PyTorch), dy at NaN, and dx may alias dy. */
Test(golden, relu_backward_at_zero_and_nan) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t n[1] = {6};
    const float hx[6] = {0.0f, -0.0f, NAN, -1.0f, 2.0f, 1e-30f};
    const float hdy[6] = {3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f};
    const float want[6] = {0.0f, 0.0f, 5.0f, 0.0f, 7.0f, 8.0f};
    ax_tensor *x = th_tensor(ctx, 1, n, hx), *dy = th_tensor(ctx, 1, n, hdy);
    AX_ASSERT_OK(ax_activation_backward(ctx, AX_ACT_RELU, 0.0f, x, NULL, dy, dy));
    float *got = th_to_host(dy);
    for (int i = 0; i < 6; i++)
        cr_assert(got[i] == want[i], "x = %g: dx = %g, expected %g", (double)hx[i],
                  (double)got[i], (double)want[i]);
    free(got);
    ax_tensor_destroy(x);
    ax_tensor_destroy(dy);
    ax_ctx_destroy(ctx);
}
Test(golden, leaky_relu_default_slope) {
    activation_case("act_leaky_relu", AX_ACT_LEAKY_RELU);
    /* the case's slope is PyTorch's default, which must be ours */
    gd_case *c = gd_load(AREA, "act_leaky_relu");
    cr_assert_eq(gd_scalar(c, "slope"), AX_LEAKY_RELU_SLOPE);
    gd_free(c);
}
Test(golden, leaky_relu_slope_0_2) { activation_case("act_leaky_relu_0.2", AX_ACT_LEAKY_RELU); }

/* Leaky ReLU's y = act(x) and dx = dy act'(x) through a graph: loss = sum(act(x) * dy) with x
 * and dy parameters, so x's gradient is dx. */
static void leaky_relu_graph_case(const char *name, float slope) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load(AREA, name);
    const gd_tensor *xs = gd_get(c, "x");
    ax_graph *g = NULL;
    ax_node *x = NULL, *dy = NULL, *a = NULL, *m = NULL, *rows = NULL, *loss = NULL;
    ax_init zeros = {.kind = AX_INIT_ZEROS};
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    AX_ASSERT_OK(ax_graph_param(g, "x", xs->ndim, xs->shape, &zeros, &x));
    AX_ASSERT_OK(ax_graph_param(g, "dy", xs->ndim, xs->shape, &zeros, &dy));
    AX_ASSERT_OK(ax_graph_activation(g, "a", AX_ACT_LEAKY_RELU, slope, x, &a));
    AX_ASSERT_OK(ax_graph_mul(g, "m", a, dy, &m));
    AX_ASSERT_OK(ax_graph_sum(g, "rows", m, 1, &rows));
    AX_ASSERT_OK(ax_graph_sum(g, "loss", rows, 0, &loss));
    AX_ASSERT_OK(ax_graph_compile(g, loss));
    size_t bytes = (size_t)xs->numel * sizeof(float);
    AX_ASSERT_OK(ax_tensor_set_from_host(ax_graph_value(g, x), xs->f, bytes));
    AX_ASSERT_OK(ax_tensor_set_from_host(ax_graph_value(g, dy), gd_get(c, "dy")->f, bytes));
    AX_ASSERT_OK(ax_graph_zero_grad(g));
    AX_ASSERT_OK(ax_graph_forward(g));
    AX_ASSERT_OK(ax_graph_backward(g));
    expect_ieee(ax_graph_value(g, a), c, "y", TH_ZERO_SIGN);
    expect_ieee(ax_graph_grad(g, x), c, "dx", TH_ZERO_SIGN);
    ax_graph_destroy(g);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

/* Slope 0 (or -0) is leaky ReLU's default slope AX_LEAKY_RELU_SLOPE (plain ReLU is AX_ACT_RELU):
 * given 0, the op and the graph's activation node reproduce PyTorch's F.leaky_relu with its
 * default negative_slope, forward and backward; given 0.2, the 0.2 case. */
Test(golden, leaky_relu_slope_0_means_the_default) {
    static const float zero = 0.0f, minus_zero = -0.0f;
    activation_case_slope("act_leaky_relu", AX_ACT_LEAKY_RELU, &zero);
    activation_case_slope("act_special_leaky_relu", AX_ACT_LEAKY_RELU, &minus_zero);
    leaky_relu_graph_case("act_leaky_relu", 0.0f);
    leaky_relu_graph_case("act_leaky_relu_0.2", 0.2f);
}

/* AX_ACT_LINEAR names the identity's gain; there is no activation op for it. */
Test(golden, linear_is_a_gain_not_an_activation_op) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t shape[1] = {3};
    ax_tensor *x = th_nan_tensor(ctx, 1, shape), *y = th_nan_tensor(ctx, 1, shape);
    AX_ASSERT_FAILS(ax_activation_forward(ctx, AX_ACT_LINEAR, 0, x, y), AX_ERR_INVALID_ARG,
                    "ax_activation_forward");
    AX_ASSERT_FAILS(ax_activation_backward(ctx, AX_ACT_LINEAR, 0, x, x, x, y), AX_ERR_INVALID_ARG,
                    "ax_activation_backward");
    ax_tensor_destroy(x);
    ax_tensor_destroy(y);
    ax_ctx_destroy(ctx);
}

/* NaN, +-Inf, +-0, denormals and saturating x, with finite and with NaN / Inf / +-0 dy: NaN
 * propagates (ReLU passes NaN forward, and dy backward at x = NaN), relu(-0) = -0, and the
 * gradient at x = +-0 is PyTorch's: 0 for ReLU, slope dy for leaky ReLU, 1/4 and 1 dy for
 * sigmoid and tanh. Zeros are compared by sign bit. */
Test(golden, sigmoid_special_values) { activation_case("act_special_sigmoid", AX_ACT_SIGMOID); }
Test(golden, tanh_special_values) { activation_case("act_special_tanh", AX_ACT_TANH); }
Test(golden, relu_special_values) { activation_case("act_special_relu", AX_ACT_RELU); }
Test(golden, leaky_relu_special_values) {
    activation_case("act_special_leaky_relu", AX_ACT_LEAKY_RELU);
    activation_case("act_special_leaky_relu_0.2", AX_ACT_LEAKY_RELU);
}

/* ---------------------------------------------------------------- softmax */

static void softmax_case(const char *name, int log, th_zero_rule zeros) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load(AREA, name);
    bag b = {0};
    ax_tensor *x = keep(&b, gd_tensor_on(ctx, c, "x")), *dy = keep(&b, gd_tensor_on(ctx, c, "dy"));
    ax_tensor *y = keep(&b, nan_like(ctx, c, "y")), *dx = keep(&b, nan_like(ctx, c, "dx"));
    AX_ASSERT_OK(log ? ax_log_softmax_forward(ctx, x, y) : ax_softmax_forward(ctx, x, y));
    expect_ieee(y, c, "y", zeros);
    AX_ASSERT_OK(log ? ax_log_softmax_backward(ctx, y, dy, dx)
                     : ax_softmax_backward(ctx, y, dy, dx));
    expect_ieee(dx, c, "dx", zeros);
    bag_free(&b);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

/* Row 3 of x is shifted by +80 (exp overflows unless the max is subtracted). */
Test(golden, softmax_forward_backward) { softmax_case("softmax", 0, TH_ZERO_VALUE); }
Test(golden, log_softmax_forward_backward) { softmax_case("log_softmax", 1, TH_ZERO_VALUE); }

/* Rows whose e^x overflows or underflows even in double without the max subtraction (+-1e4),
 * ties, 3e38 (x - max overflows float), one finite value among -Inf, signed zeros, and rows
 * with NaN or +Inf (all NaN, as in PyTorch) or all -Inf (NaN); then a single column, where
 * every finite x gives softmax 1 and log-softmax 0. Forward and backward. */
Test(golden, softmax_extreme_rows) {
    softmax_case("softmax_extreme", 0, TH_ZERO_SIGN);
    softmax_case("softmax_one_column", 0, TH_ZERO_SIGN);
}
Test(golden, log_softmax_extreme_rows) {
    softmax_case("log_softmax_extreme", 1, TH_ZERO_SIGN);
    softmax_case("log_softmax_one_column", 1, TH_ZERO_SIGN);
}

/* ---------------------------------------------------------------- losses */

typedef enum { LOSS_MSE, LOSS_CE, LOSS_BCE } loss_kind;

/* Each case holds input, target, dloss, loss and the gradient; dloss = 1 is passed as NULL
 * (ops.h: NULL means 1), other values as a tensor. */
static void loss_case(const char *name, loss_kind kind, ax_reduction red, const char *input,
                      const char *target, const char *grad) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load(AREA, name);
    bag b = {0};
    ax_tensor *x = keep(&b, gd_tensor_on(ctx, c, input));
    ax_tensor *t = keep(&b, gd_tensor_on(ctx, c, target));
    ax_tensor *dloss =
        gd_scalar(c, "dloss") == 1.0f ? NULL : keep(&b, gd_tensor_on(ctx, c, "dloss"));
    ax_tensor *loss = keep(&b, nan_like(ctx, c, "loss")), *dx = keep(&b, nan_like(ctx, c, grad));
    switch (kind) {
    case LOSS_MSE:
        AX_ASSERT_OK(ax_mse_loss_forward(ctx, x, t, red, loss));
        AX_ASSERT_OK(ax_mse_loss_backward(ctx, x, t, red, dloss, dx));
        break;
    case LOSS_CE:
        AX_ASSERT_OK(ax_cross_entropy_forward(ctx, x, t, red, loss));
        AX_ASSERT_OK(ax_cross_entropy_backward(ctx, x, t, red, dloss, dx));
        break;
    default:
        AX_ASSERT_OK(ax_bce_with_logits_forward(ctx, x, t, red, loss));
        AX_ASSERT_OK(ax_bce_with_logits_backward(ctx, x, t, red, dloss, dx));
        break;
    }
    expect(loss, c, "loss");
    expect(dx, c, grad);
    bag_free(&b);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

Test(golden, cross_entropy_mean_and_sum) {
    loss_case("cross_entropy_mean", LOSS_CE, AX_REDUCE_MEAN, "logits", "labels", "dlogits");
    loss_case("cross_entropy_sum", LOSS_CE, AX_REDUCE_SUM, "logits", "labels", "dlogits");
}

Test(golden, mse_loss_mean_and_sum) {
    loss_case("mse_mean", LOSS_MSE, AX_REDUCE_MEAN, "pred", "target", "dpred");
    loss_case("mse_sum", LOSS_MSE, AX_REDUCE_SUM, "pred", "target", "dpred");
}

Test(golden, bce_with_logits_mean_and_sum) {
    loss_case("bce_with_logits_mean", LOSS_BCE, AX_REDUCE_MEAN, "logits", "targets", "dlogits");
    loss_case("bce_with_logits_sum", LOSS_BCE, AX_REDUCE_SUM, "logits", "targets", "dlogits");
}

/* The forward of one row (or element) at a time, so that a NaN or Inf in one does not hide the
 * others: row r of `input` ([rows, cols], or [n] with cols = 1) and of `target` (labels i32
 * [rows], or targets like input) through the loss with the mean of one row, against
 * want[r]. */
static void per_row_losses(ax_ctx *ctx, const gd_case *c, loss_kind kind, const char *input,
                           const char *target, const char *want_name) {
    const gd_tensor *x = gd_get(c, input), *t = gd_get(c, target), *want = gd_get(c, want_name);
    int64_t rows = want->numel, cols = x->numel / rows;
    int64_t sx[2] = {1, cols}, one[1] = {1};
    for (int64_t r = 0; r < rows; r++) {
        ax_tensor *xr =
            th_tensor(ctx, kind == LOSS_CE ? 2 : 1, kind == LOSS_CE ? sx : one, x->f + r * cols);
        ax_tensor *tr = kind == LOSS_CE ? th_tensor_i32(ctx, 1, one, t->i + r)
                                        : th_tensor(ctx, 1, one, t->f + r);
        ax_tensor *loss = th_nan_tensor(ctx, 1, one);
        AX_ASSERT_OK(kind == LOSS_CE ? ax_cross_entropy_forward(ctx, xr, tr, AX_REDUCE_MEAN, loss)
                     : kind == LOSS_MSE
                         ? ax_mse_loss_forward(ctx, xr, tr, AX_REDUCE_MEAN, loss)
                         : ax_bce_with_logits_forward(ctx, xr, tr, AX_REDUCE_MEAN, loss));
        float got = NAN;
        AX_ASSERT_OK(ax_tensor_to_host(loss, &got, sizeof got));
        char what[600];
        snprintf(what, sizeof what, "%s: %s of row %lld", c->path, want_name, (long long)r);
        /* a zero loss's sign comes from the order of a cancellation: by value */
        th_assert_ieee(&got, want->f + r, 1, G_ATOL, G_RTOL, TH_ZERO_VALUE, what);
        ax_tensor_destroy(xr);
        ax_tensor_destroy(tr);
        ax_tensor_destroy(loss);
    }
}

/* Special-value loss cases: per-row forwards, then the gradient of the sum scaled by dloss
 * over the whole batch (each row's gradient depends on that row only), zeros by sign bit. */
static void loss_special_case(const char *name, loss_kind kind, const char *input,
                              const char *target, const char *want, const char *grad) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load(AREA, name);
    per_row_losses(ctx, c, kind, input, target, want);
    bag b = {0};
    ax_tensor *x = keep(&b, gd_tensor_on(ctx, c, input));
    ax_tensor *t = keep(&b, gd_tensor_on(ctx, c, target));
    ax_tensor *dloss = keep(&b, gd_tensor_on(ctx, c, "dloss"));
    ax_tensor *dx = keep(&b, nan_like(ctx, c, grad));
    AX_ASSERT_OK(kind == LOSS_CE ? ax_cross_entropy_backward(ctx, x, t, AX_REDUCE_SUM, dloss, dx)
                 : kind == LOSS_MSE
                     ? ax_mse_loss_backward(ctx, x, t, AX_REDUCE_SUM, dloss, dx)
                     : ax_bce_with_logits_backward(ctx, x, t, AX_REDUCE_SUM, dloss, dx));
    expect_ieee(dx, c, grad, TH_ZERO_SIGN);
    bag_free(&b);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

/* Cross-entropy on the extreme rows of the softmax cases: +-1e4 (a loss of 2e4, not Inf),
 * 3e38 (Inf where the label's logit is -3e38), an -Inf label logit (Inf, gradient -1 there),
 * NaN and +Inf rows (NaN), and a single column (0 for every finite logit). */
Test(golden, cross_entropy_extreme_rows) {
    loss_special_case("cross_entropy_extreme", LOSS_CE, "logits", "labels", "loss_rows", "dlogits");
    loss_special_case("cross_entropy_one_column", LOSS_CE, "logits", "labels", "loss_rows",
                      "dlogits");
}

/* BCE with logits at x = NaN, +-Inf, +-0, +-100, 40, -45 for t = 0, 1, 0.3: PyTorch's
 * (1 - t) x - log sigmoid(x) gives Inf at x = +Inf for t < 1 and NaN at t = 1 and x = -Inf. */
Test(golden, bce_with_logits_special_values) {
    loss_special_case("bce_with_logits_special", LOSS_BCE, "logits", "targets", "loss_elems",
                      "dlogits");
}

/* MSE with NaN, +-Inf, +-0 (the gradient 2 (p - t) keeps the sign of -0 - 0) and squares that
 * overflow float. */
Test(golden, mse_special_values) {
    loss_special_case("mse_special", LOSS_MSE, "pred", "target", "loss_elems", "dpred");
}

/* ---------------------------------------------------------------- elementwise, special values */

/* add, mul, scale by -0.5, axpy (one rounding: b + 2 a stays finite where 2 a alone would
 * overflow), and dropout with p = 1 (x * 0: NaN and Inf give NaN, x < 0 gives -0) and p = 0,
 * on NaN, +-Inf, +-0, denormals and values near FLT_MAX. Zeros by sign bit. */
Test(golden, elementwise_special_values) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load(AREA, "elementwise_special");
    bag b = {0};
    ax_tensor *a = keep(&b, gd_tensor_on(ctx, c, "a")), *bt = keep(&b, gd_tensor_on(ctx, c, "b"));
    ax_tensor *y = keep(&b, nan_like(ctx, c, "a"));
    AX_ASSERT_OK(ax_add(ctx, a, bt, y));
    expect_ieee(y, c, "add", TH_ZERO_SIGN);
    AX_ASSERT_OK(ax_mul(ctx, a, bt, y));
    expect_ieee(y, c, "mul", TH_ZERO_SIGN);
    AX_ASSERT_OK(ax_scale(ctx, -0.5f, a, y));
    expect_ieee(y, c, "scale", TH_ZERO_SIGN);
    AX_ASSERT_OK(ax_axpy(ctx, gd_scalar(c, "alpha"), a, bt)); /* bt += alpha a */
    expect_ieee(bt, c, "axpy", TH_ZERO_SIGN);
    AX_ASSERT_OK(ax_dropout_forward(ctx, 1.0f, 1, 2, a, y));
    expect_ieee(y, c, "dropout1", TH_ZERO_SIGN);
    ax_tensor *dy = keep(&b, gd_tensor_on(ctx, c, "dy"));
    AX_ASSERT_OK(ax_dropout_backward(ctx, 1.0f, 1, 2, dy, y));
    expect_ieee(y, c, "dropout1_dx", TH_ZERO_SIGN);
    AX_ASSERT_OK(ax_dropout_forward(ctx, 0.0f, 1, 2, a, y));
    expect_ieee(y, c, "dropout0", TH_ZERO_SIGN);
    bag_free(&b);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- GEMM */

Test(golden, gemm_alpha_beta) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load(AREA, "gemm_nn");
    bag b = {0};
    ax_tensor *a = keep(&b, gd_tensor_on(ctx, c, "a")), *bm = keep(&b, gd_tensor_on(ctx, c, "b"));
    ax_tensor *cm = keep(&b, gd_tensor_on(ctx, c, "c0"));
    AX_ASSERT_OK(ax_gemm(ctx, AX_NO_TRANS, AX_NO_TRANS, gd_scalar(c, "alpha"), a, bm,
                         gd_scalar(c, "beta"), cm));
    expect(cm, c, "c");
    bag_free(&b);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

static void gemm_backward_case(const char *name, ax_transpose ta, ax_transpose tb) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load(AREA, name);
    bag b = {0};
    float alpha = gd_scalar(c, "alpha");
    ax_tensor *a = keep(&b, gd_tensor_on(ctx, c, "a")), *bm = keep(&b, gd_tensor_on(ctx, c, "b"));
    ax_tensor *dc = keep(&b, gd_tensor_on(ctx, c, "dc")), *cm = keep(&b, nan_like(ctx, c, "c"));
    ax_tensor *da = keep(&b, nan_like(ctx, c, "da")), *db = keep(&b, nan_like(ctx, c, "db"));
    AX_ASSERT_OK(ax_gemm(ctx, ta, tb, alpha, a, bm, 0.0f, cm)); /* beta 0 ignores the NaN */
    expect(cm, c, "c");
    AX_ASSERT_OK(ax_gemm_backward(ctx, ta, tb, alpha, a, bm, dc, da, db));
    expect(da, c, "da");
    expect(db, c, "db");
    bag_free(&b);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

Test(golden, gemm_tt_batched_backward) {
    gemm_backward_case("gemm_tt_batched", AX_TRANS, AX_TRANS);
}
Test(golden, gemm_nt_shared_b_backward) {
    gemm_backward_case("gemm_nt_shared_b", AX_NO_TRANS, AX_TRANS);
}

/* ---------------------------------------------------------------- reductions, bias */

Test(golden, sum_mean_bias_reductions) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load(AREA, "reduce");
    bag b = {0};
    ax_tensor *x = gd_tensor_on(ctx, c, "x");
    ax_tensor *out = keep(&b, nan_like(ctx, c, "sum1"));
    AX_ASSERT_OK(ax_sum(ctx, x, 1, out));
    expect(out, c, "sum1");
    ax_tensor *out2 = keep(&b, nan_like(ctx, c, "mean2"));
    AX_ASSERT_OK(ax_mean(ctx, x, -1, out2));
    expect(out2, c, "mean2");
    ax_tensor *out0 = keep(&b, nan_like(ctx, c, "mean0"));
    AX_ASSERT_OK(ax_mean(ctx, x, 0, out0));
    expect(out0, c, "mean0");
    bag_free(&b);

    ax_tensor *dsum = keep(&b, gd_tensor_on(ctx, c, "dsum1"));
    ax_tensor *dx = keep(&b, nan_like(ctx, c, "x"));
    AX_ASSERT_OK(ax_sum_backward(ctx, dsum, 1, dx));
    expect(dx, c, "dsum1_dx");
    ax_tensor *dmean = keep(&b, gd_tensor_on(ctx, c, "dmean2"));
    AX_ASSERT_OK(ax_mean_backward(ctx, dmean, 2, dx));
    expect(dx, c, "dmean2_dx");
    bag_free(&b);

    ax_tensor *y = keep(&b, gd_tensor_on(ctx, c, "x")), *bias = keep(&b, gd_tensor_on(ctx, c, "b"));
    AX_ASSERT_OK(ax_bias_add(ctx, y, bias, 1));
    expect(y, c, "bias1");
    ax_tensor *dy = keep(&b, gd_tensor_on(ctx, c, "dy")), *db = keep(&b, nan_like(ctx, c, "b"));
    AX_ASSERT_OK(ax_bias_grad(ctx, dy, 1, db));
    expect(db, c, "bias1_db");
    ax_tensor *sq = keep(&b, nan_like(ctx, c, "sumsq"));
    AX_ASSERT_OK(ax_sum_squares(ctx, x, 0, sq));
    expect(sq, c, "sumsq");
    AX_ASSERT_OK(ax_sum_squares(ctx, x, 1, sq)); /* accumulates: now twice the sum */
    float twice = 0;
    AX_ASSERT_OK(ax_tensor_to_host(sq, &twice, sizeof twice));
    cr_assert_float_eq(twice, 2 * gd_scalar(c, "sumsq"), 1e-5 * 2 * gd_scalar(c, "sumsq"),
                       "ax_sum_squares with accumulate = 1 gave %g", (double)twice);
    bag_free(&b);
    ax_tensor_destroy(x);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

/* Sums and means with Inf - Inf (NaN), NaN, -0 + -0 (PyTorch's sums start at +0) and
 * 3e38 + 3e38 (Inf in float), bias add with -0 and Inf, its gradient, and sums of squares that
 * overflow. */
Test(golden, reductions_special_values) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load(AREA, "reduce_special");
    bag b = {0};
    ax_tensor *x = keep(&b, gd_tensor_on(ctx, c, "x"));
    ax_tensor *s2 = keep(&b, nan_like(ctx, c, "sum2")), *s0 = keep(&b, nan_like(ctx, c, "sum0"));
    AX_ASSERT_OK(ax_sum(ctx, x, 2, s2));
    expect_ieee(s2, c, "sum2", TH_ZERO_SIGN);
    AX_ASSERT_OK(ax_mean(ctx, x, 2, s2));
    expect_ieee(s2, c, "mean2", TH_ZERO_SIGN);
    AX_ASSERT_OK(ax_sum(ctx, x, 0, s0));
    expect_ieee(s0, c, "sum0", TH_ZERO_SIGN);
    ax_tensor *bias = keep(&b, gd_tensor_on(ctx, c, "b")), *db = keep(&b, nan_like(ctx, c, "b"));
    ax_tensor *dy = keep(&b, gd_tensor_on(ctx, c, "dy"));
    AX_ASSERT_OK(ax_bias_grad(ctx, dy, 1, db));
    expect_ieee(db, c, "bias1_db", TH_ZERO_SIGN);
    AX_ASSERT_OK(ax_bias_add(ctx, x, bias, 1)); /* x += b, last: it changes x */
    expect_ieee(x, c, "bias1", TH_ZERO_SIGN);
    bag_free(&b);

    const gd_tensor *xs = gd_get(c, "x");
    int64_t s3[1] = {3}, s12[1] = {12}, one[1] = {1};
    ax_tensor *row = keep(&b, th_tensor(ctx, 1, s3, xs->f + 18));   /* x[1, 2] */
    ax_tensor *half = keep(&b, th_tensor(ctx, 1, s12, xs->f + 12)); /* x[1] */
    ax_tensor *sq = keep(&b, th_nan_tensor(ctx, 1, one));
    AX_ASSERT_OK(ax_sum_squares(ctx, row, 0, sq));
    expect_ieee(sq, c, "sumsq", TH_ZERO_SIGN);
    AX_ASSERT_OK(ax_sum_squares(ctx, half, 0, sq));
    expect_ieee(sq, c, "sumsq_inf", TH_ZERO_SIGN);
    bag_free(&b);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- penalties */

/* out and dw accumulate: they start at out0 and dw0. w[0] is 0: sign(0) = 0 for L1. */
static void penalty_case(const char *name, int l2) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load(AREA, name);
    bag b = {0};
    float lambda = gd_scalar(c, "lambda");
    ax_tensor *w = keep(&b, gd_tensor_on(ctx, c, "w"));
    ax_tensor *out = keep(&b, gd_tensor_on(ctx, c, "out0"));
    ax_tensor *dw = keep(&b, gd_tensor_on(ctx, c, "dw0"));
    AX_ASSERT_OK(l2 ? ax_l2_penalty(ctx, w, lambda, out, dw)
                    : ax_l1_penalty(ctx, w, lambda, out, dw));
    expect(out, c, "out");
    expect(dw, c, "dw");
    bag_free(&b);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

Test(golden, l1_penalty_accumulates) { penalty_case("penalty_l1", 0); }
Test(golden, l2_penalty_matches_weight_decay) { penalty_case("penalty_l2", 1); }

/* ---------------------------------------------------------------- the reader itself */

Test(golden, reader_rejects_malformed_files) {
    char path[] = "/tmp/axon_golden_XXXXXX", err[640];
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("x f32 2 2 2\n1 2 3\n", f); /* one value short */
    fclose(f);
    cr_assert_null(gd_read(path, err, sizeof err));
    cr_assert(strstr(err, "fewer than") != NULL, "%s", err);
    remove(path);
    cr_assert_null(gd_read("/nonexistent/case.txt", err, sizeof err));
}
