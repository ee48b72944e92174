/* Gradient checks of the CPU reference: every op's backward against central differences of
 * its forward (tests/support/gradcheck.h states the step, the tolerance and why). Shapes and
 * values are random from fixed seeds; each test names its op. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gradcheck.h"
#include "helpers.h"

/* Parameters of every op tested here (each op reads the fields it needs). */
typedef struct op_args {
    ax_transpose ta, tb;
    float alpha;
    int axis;
    int variant; /* mean instead of sum, log-softmax instead of softmax, L2 instead of L1 */
    ax_activation act;
    float slope;
    ax_reduction reduction;
    float p, lambda;
    uint64_t seed, offset;
} op_args;

#define ARGS(op) ((const op_args *)(op)->params)

/* ---------------------------------------------------------------- forward / backward pairs */

static ax_status gemm_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    const op_args *a = ARGS(op);
    return ax_gemm(ctx, a->ta, a->tb, a->alpha, x[0], x[1], 0.0f, y);
}

static ax_status gemm_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                          const ax_tensor *dy, ax_tensor *const *dx) {
    const op_args *a = ARGS(op);
    (void)y;
    return ax_gemm_backward(ctx, a->ta, a->tb, a->alpha, x[0], x[1], dy, dx[0], dx[1]);
}

static ax_status dense_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    return ax_dense_forward(ctx, x[0], x[1], op->n_inputs > 2 ? x[2] : NULL, y);
}

static ax_status dense_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                           const ax_tensor *dy, ax_tensor *const *dx) {
    (void)y;
    return ax_dense_backward(ctx, x[0], x[1], dy, dx[0], dx[1], op->n_inputs > 2 ? dx[2] : NULL);
}

/* y = x + b along axis (ax_bias_add accumulates into a copy of x). */
static ax_status bias_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    ax_status st = ax_tensor_copy(y, x[0]);
    return st != AX_OK ? st : ax_bias_add(ctx, y, x[1], ARGS(op)->axis);
}

static ax_status bias_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                          const ax_tensor *dy, ax_tensor *const *dx) {
    (void)x;
    (void)y;
    return ax_bias_grad(ctx, dy, ARGS(op)->axis, dx[1]);
}

static ax_status reduce_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    const op_args *a = ARGS(op);
    return a->variant ? ax_mean(ctx, x[0], a->axis, y) : ax_sum(ctx, x[0], a->axis, y);
}

static ax_status reduce_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                            const ax_tensor *dy, ax_tensor *const *dx) {
    const op_args *a = ARGS(op);
    (void)x;
    (void)y;
    return a->variant ? ax_mean_backward(ctx, dy, a->axis, dx[0])
                      : ax_sum_backward(ctx, dy, a->axis, dx[0]);
}

static ax_status act_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    return ax_activation_forward(ctx, ARGS(op)->act, ARGS(op)->slope, x[0], y);
}

/* Passes only the tensor the activation needs (x for the ReLUs, y for sigmoid and tanh). */
static ax_status act_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                         const ax_tensor *dy, ax_tensor *const *dx) {
    const op_args *a = ARGS(op);
    int needs_y = a->act == AX_ACT_SIGMOID || a->act == AX_ACT_TANH;
    return ax_activation_backward(ctx, a->act, a->slope, needs_y ? NULL : x[0], needs_y ? y : NULL,
                                  dy, dx[0]);
}

static ax_status softmax_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    return ARGS(op)->variant ? ax_log_softmax_forward(ctx, x[0], y)
                             : ax_softmax_forward(ctx, x[0], y);
}

static ax_status softmax_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                             const ax_tensor *dy, ax_tensor *const *dx) {
    (void)x;
    return ARGS(op)->variant ? ax_log_softmax_backward(ctx, y, dy, dx[0])
                             : ax_softmax_backward(ctx, y, dy, dx[0]);
}

/* The losses: x[0] is the differentiated input, x[1] the target or the labels; the scalar
 * loss is y and its backward gets dloss = dy = r. */
static ax_status mse_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    return ax_mse_loss_forward(ctx, x[0], x[1], ARGS(op)->reduction, y);
}

static ax_status mse_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                         const ax_tensor *dy, ax_tensor *const *dx) {
    (void)y;
    return ax_mse_loss_backward(ctx, x[0], x[1], ARGS(op)->reduction, dy, dx[0]);
}

static ax_status ce_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    return ax_cross_entropy_forward(ctx, x[0], x[1], ARGS(op)->reduction, y);
}

static ax_status ce_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                        const ax_tensor *dy, ax_tensor *const *dx) {
    (void)y;
    return ax_cross_entropy_backward(ctx, x[0], x[1], ARGS(op)->reduction, dy, dx[0]);
}

static ax_status bce_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    return ax_bce_with_logits_forward(ctx, x[0], x[1], ARGS(op)->reduction, y);
}

static ax_status bce_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                         const ax_tensor *dy, ax_tensor *const *dx) {
    (void)y;
    return ax_bce_with_logits_backward(ctx, x[0], x[1], ARGS(op)->reduction, dy, dx[0]);
}

/* Penalties accumulate: start from 0, and scale the gradient by dy (= dL/dpenalty). */
static ax_status penalty(const gc_op *op, ax_ctx *ctx, const ax_tensor *w, ax_tensor *out,
                         ax_tensor *dw) {
    const op_args *a = ARGS(op);
    return a->variant ? ax_l2_penalty(ctx, w, a->lambda, out, dw)
                      : ax_l1_penalty(ctx, w, a->lambda, out, dw);
}

static ax_status penalty_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    ax_status st = ax_fill(ctx, y, 0.0f);
    return st != AX_OK ? st : penalty(op, ctx, x[0], y, NULL);
}

static ax_status penalty_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                             const ax_tensor *dy, ax_tensor *const *dx) {
    float r = 0;
    (void)y;
    ax_status st = ax_tensor_to_host(dy, &r, sizeof r);
    if (st == AX_OK)
        st = ax_fill(ctx, dx[0], 0.0f);
    if (st == AX_OK)
        st = penalty(op, ctx, x[0], NULL, dx[0]);
    return st != AX_OK ? st : ax_scale(ctx, r, dx[0], dx[0]);
}

static ax_status dropout_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    const op_args *a = ARGS(op);
    return ax_dropout_forward(ctx, a->p, a->seed, a->offset, x[0], y);
}

static ax_status dropout_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                             const ax_tensor *dy, ax_tensor *const *dx) {
    const op_args *a = ARGS(op);
    (void)x;
    (void)y;
    return ax_dropout_backward(ctx, a->p, a->seed, a->offset, dy, dx[0]);
}

static ax_status mul_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    (void)op;
    return ax_mul(ctx, x[0], x[1], y);
}

static ax_status mul_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                         const ax_tensor *dy, ax_tensor *const *dx) {
    (void)op;
    (void)y;
    return ax_mul_backward(ctx, x[0], x[1], dy, dx[0], dx[1]);
}

/* ---------------------------------------------------------------- setup helpers */

/* Small random dims from a fixed seed (splitmix64). */
static int64_t rand_dim(uint64_t *state, int lo, int hi) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return lo + (int64_t)(z % (uint64_t)(hi - lo + 1));
}

static gc_op make_op(const char *name, gc_forward_fn forward, gc_backward_fn backward,
                     const op_args *args, int y_ndim, const int64_t *y_shape) {
    gc_op op = {0};
    op.name = name;
    op.forward = forward;
    op.backward = backward;
    op.params = args;
    op.y_ndim = y_ndim;
    for (int d = 0; d < y_ndim; d++)
        op.y_shape[d] = y_shape[d];
    return op;
}

static void add_input(gc_op *op, const char *name, ax_tensor *t, int wrt) {
    op->x_name[op->n_inputs] = name;
    op->wrt[op->n_inputs] = wrt;
    op->x[op->n_inputs++] = t;
}

/* Uniform in [lo, hi), with |x| >= min_abs when min_abs > 0. */
static ax_tensor *rnd(ax_ctx *ctx, int ndim, const int64_t *shape, uint64_t seed, float lo,
                      float hi, float min_abs) {
    return th_random_tensor(ctx, ndim, shape, seed, lo, hi, min_abs);
}

static void check_and_free(ax_ctx *ctx, gc_op *op, uint64_t seed) {
    gc_assert(ctx, op, seed);
    gc_op_free(op);
}

/* Fills dims[0..ndim) with stored shape of a GEMM operand: op(X) is [rows, cols]; transposed
 * storage swaps them; batch > 0 prepends it. Returns ndim. */
static int gemm_operand_shape(int64_t *dims, int64_t batch, ax_transpose t, int64_t rows,
                              int64_t cols) {
    int nd = 0;
    if (batch > 0)
        dims[nd++] = batch;
    dims[nd++] = t == AX_TRANS ? cols : rows;
    dims[nd++] = t == AX_TRANS ? rows : cols;
    return nd;
}

/* dA and dB of C = alpha op(A) op(B) for the four transpose pairs; batched_a / batched_b:
 * that operand is [batch, ., .], else 2-D (shared by every batch entry when the other is
 * batched). */
static void gemm_case(int batched_a, int batched_b, uint64_t seed) {
    ax_ctx *ctx = th_cpu_ctx();
    static const char *const tn[2] = {"N", "T"};
    for (int t = 0; t < 4; t++) {
        uint64_t st = seed + 17 * (uint64_t)t;
        op_args args = {0};
        args.ta = (ax_transpose)(t >> 1);
        args.tb = (ax_transpose)(t & 1);
        args.alpha = (t & 1) ? -0.6f : 1.5f;
        int64_t m = rand_dim(&st, 1, 5), n = rand_dim(&st, 1, 5), k = rand_dim(&st, 1, 5);
        int64_t batch = (batched_a || batched_b) ? rand_dim(&st, 2, 3) : 0;
        int64_t sa[3], sb[3], sc[3];
        int na = gemm_operand_shape(sa, batched_a ? batch : 0, args.ta, m, k);
        int nb = gemm_operand_shape(sb, batched_b ? batch : 0, args.tb, k, n);
        int nc = gemm_operand_shape(sc, batch, AX_NO_TRANS, m, n);
        char name[96];
        snprintf(name, sizeof name, "gemm %s%s%s%s m=%lld n=%lld k=%lld batch=%lld", tn[args.ta],
                 tn[args.tb], batched_a ? " A batched" : " A 2-D",
                 batched_b ? " B batched" : " B 2-D", (long long)m, (long long)n, (long long)k,
                 (long long)batch);
        gc_op op = make_op(name, gemm_fwd, gemm_bwd, &args, nc, sc);
        add_input(&op, "A", rnd(ctx, na, sa, st + 1, -2, 2, 0), 1);
        add_input(&op, "B", rnd(ctx, nb, sb, st + 2, -2, 2, 0), 1);
        check_and_free(ctx, &op, st + 3);
    }
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- GEMM and dense */

Test(gradcheck, gemm_backward_all_transposes) { gemm_case(0, 0, 100); }
Test(gradcheck, gemm_backward_batched) { gemm_case(1, 1, 200); }
Test(gradcheck, gemm_backward_shared_a) { gemm_case(0, 1, 300); }
Test(gradcheck, gemm_backward_shared_b) { gemm_case(1, 0, 400); }

/* x [n, in], w [out, in], b [out] (or none). */
static gc_op dense_op(ax_ctx *ctx, const char *name, int with_bias, uint64_t seed) {
    uint64_t st = seed;
    int64_t n = rand_dim(&st, 1, 5), in = rand_dim(&st, 1, 6), out = rand_dim(&st, 1, 6);
    int64_t sx[2] = {n, in}, sw[2] = {out, in}, sb[1] = {out}, sy[2] = {n, out};
    gc_op op = make_op(name, dense_fwd, dense_bwd, NULL, 2, sy);
    add_input(&op, "x", rnd(ctx, 2, sx, seed + 1, -2, 2, 0), 1);
    add_input(&op, "w", rnd(ctx, 2, sw, seed + 2, -1, 1, 0), 1);
    if (with_bias)
        add_input(&op, "b", rnd(ctx, 1, sb, seed + 3, -1, 1, 0), 1);
    return op;
}

Test(gradcheck, dense_backward) {
    ax_ctx *ctx = th_cpu_ctx();
    for (uint64_t s = 0; s < 4; s++) {
        gc_op op = dense_op(ctx, "dense", 1, 500 + 10 * s);
        check_and_free(ctx, &op, 509 + 10 * s);
    }
    ax_ctx_destroy(ctx);
}

Test(gradcheck, dense_backward_without_bias) {
    ax_ctx *ctx = th_cpu_ctx();
    gc_op op = dense_op(ctx, "dense (no bias)", 0, 600);
    check_and_free(ctx, &op, 601);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- bias, reductions */

static void bias_case(ax_ctx *ctx, int ndim, const int64_t *shape, int axis, uint64_t seed) {
    op_args args = {0};
    args.axis = axis;
    int64_t sb[1] = {shape[axis < 0 ? axis + ndim : axis]};
    char name[64];
    snprintf(name, sizeof name, "bias_add/bias_grad %d-d axis %d", ndim, axis);
    gc_op op = make_op(name, bias_fwd, bias_bwd, &args, ndim, shape);
    add_input(&op, "x", rnd(ctx, ndim, shape, seed, -2, 2, 0), 0);
    add_input(&op, "b", rnd(ctx, 1, sb, seed + 1, -2, 2, 0), 1);
    check_and_free(ctx, &op, seed + 2);
}

Test(gradcheck, bias_grad_axis_last) {
    ax_ctx *ctx = th_cpu_ctx();
    uint64_t st = 700;
    int64_t s2[2] = {rand_dim(&st, 1, 5), rand_dim(&st, 1, 6)};
    int64_t s3[3] = {rand_dim(&st, 1, 3), rand_dim(&st, 1, 3), rand_dim(&st, 2, 5)};
    bias_case(ctx, 2, s2, -1, 710);
    bias_case(ctx, 3, s3, -1, 720);
    ax_ctx_destroy(ctx);
}

Test(gradcheck, bias_grad_axis_channels) {
    ax_ctx *ctx = th_cpu_ctx();
    uint64_t st = 800;
    int64_t s4[4] = {rand_dim(&st, 1, 3), rand_dim(&st, 2, 4), rand_dim(&st, 1, 3),
                     rand_dim(&st, 2, 3)};
    bias_case(ctx, 4, s4, 1, 810);
    ax_ctx_destroy(ctx);
}

/* Sum or mean of a random 3-D x over each axis (and -1). */
static void reduce_case(int mean, uint64_t seed) {
    ax_ctx *ctx = th_cpu_ctx();
    uint64_t st = seed;
    int64_t sx[3] = {rand_dim(&st, 2, 4), rand_dim(&st, 2, 4), rand_dim(&st, 2, 4)};
    static const int axes[] = {0, 1, 2, -1};
    for (int i = 0; i < 4; i++) {
        op_args args = {0};
        args.axis = axes[i];
        args.variant = mean;
        int a = axes[i] < 0 ? axes[i] + 3 : axes[i];
        int64_t sy[2];
        for (int d = 0, j = 0; d < 3; d++)
            if (d != a)
                sy[j++] = sx[d];
        char name[48];
        snprintf(name, sizeof name, "%s axis %d", mean ? "mean" : "sum", axes[i]);
        gc_op op = make_op(name, reduce_fwd, reduce_bwd, &args, 2, sy);
        add_input(&op, "x", rnd(ctx, 3, sx, seed + 10 * (uint64_t)i, -2, 2, 0), 1);
        check_and_free(ctx, &op, seed + 10 * (uint64_t)i + 1);
    }
    ax_ctx_destroy(ctx);
}

Test(gradcheck, sum_backward_each_axis) { reduce_case(0, 900); }
Test(gradcheck, mean_backward_each_axis) { reduce_case(1, 1000); }

/* ---------------------------------------------------------------- activations, softmax */

static void activation_case(ax_activation act, float slope, const char *name, float min_abs,
                            uint64_t seed) {
    ax_ctx *ctx = th_cpu_ctx();
    uint64_t st = seed;
    int64_t sx[2] = {rand_dim(&st, 1, 4), rand_dim(&st, 3, 9)};
    op_args args = {0};
    args.act = act;
    args.slope = slope;
    gc_op op = make_op(name, act_fwd, act_bwd, &args, 2, sx);
    add_input(&op, "x", rnd(ctx, 2, sx, seed + 1, -4, 4, min_abs), 1);
    check_and_free(ctx, &op, seed + 2);
    ax_ctx_destroy(ctx);
}

/* ReLU-like inputs stay at |x| >= 0.1, well beyond the step h = 1e-2 * max(1, |x|) <= 0.04. */
Test(gradcheck, sigmoid_backward) { activation_case(AX_ACT_SIGMOID, 0, "sigmoid", 0, 1100); }
Test(gradcheck, tanh_backward) { activation_case(AX_ACT_TANH, 0, "tanh", 0, 1200); }
Test(gradcheck, relu_backward) { activation_case(AX_ACT_RELU, 0, "relu", 0.1f, 1300); }
Test(gradcheck, leaky_relu_backward) {
    activation_case(AX_ACT_LEAKY_RELU, AX_LEAKY_RELU_SLOPE, "leaky_relu 0.01", 0.1f, 1400);
    activation_case(AX_ACT_LEAKY_RELU, 0.2f, "leaky_relu 0.2", 0.1f, 1410);
}

static void softmax_case(int log, uint64_t seed) {
    ax_ctx *ctx = th_cpu_ctx();
    uint64_t st = seed;
    int64_t s2[2] = {rand_dim(&st, 1, 4), rand_dim(&st, 2, 8)};
    int64_t s3[3] = {2, rand_dim(&st, 1, 3), rand_dim(&st, 2, 6)};
    op_args args = {0};
    args.variant = log;
    gc_op op2 =
        make_op(log ? "log_softmax 2-d" : "softmax 2-d", softmax_fwd, softmax_bwd, &args, 2, s2);
    add_input(&op2, "x", rnd(ctx, 2, s2, seed + 1, -3, 3, 0), 1);
    check_and_free(ctx, &op2, seed + 2);
    gc_op op3 =
        make_op(log ? "log_softmax 3-d" : "softmax 3-d", softmax_fwd, softmax_bwd, &args, 3, s3);
    add_input(&op3, "x", rnd(ctx, 3, s3, seed + 3, -3, 3, 0), 1);
    check_and_free(ctx, &op3, seed + 4);
    ax_ctx_destroy(ctx);
}

Test(gradcheck, softmax_backward) { softmax_case(0, 1500); }
Test(gradcheck, log_softmax_backward) { softmax_case(1, 1600); }

/* ---------------------------------------------------------------- losses */

static const int64_t scalar_shape[1] = {1};

static void loss_case(const char *name, gc_forward_fn fwd, gc_backward_fn bwd, uint64_t seed,
                      int labels, float target_lo, float target_hi) {
    ax_ctx *ctx = th_cpu_ctx();
    static const char *const red_name[2] = {"mean", "sum"};
    for (int red = 0; red < 2; red++) {
        uint64_t st = seed + 100 * (uint64_t)red;
        int64_t rows = rand_dim(&st, 2, 6), cols = rand_dim(&st, 2, 7);
        int64_t sx[2] = {rows, cols};
        op_args args = {0};
        args.reduction = (ax_reduction)red;
        char full[64];
        snprintf(full, sizeof full, "%s (%s)", name, red_name[red]);
        gc_op op = make_op(full, fwd, bwd, &args, 1, scalar_shape);
        add_input(&op, "input", rnd(ctx, 2, sx, st + 1, -3, 3, 0), 1);
        if (labels) {
            int32_t lab[8];
            for (int64_t i = 0; i < rows; i++)
                lab[i] = (int32_t)rand_dim(&st, 0, (int)cols - 1);
            add_input(&op, "labels", th_tensor_i32(ctx, 1, sx, lab), 0);
        } else {
            add_input(&op, "target", rnd(ctx, 2, sx, st + 2, target_lo, target_hi, 0), 0);
        }
        check_and_free(ctx, &op, st + 3);
    }
    ax_ctx_destroy(ctx);
}

Test(gradcheck, mse_loss_backward) { loss_case("mse", mse_fwd, mse_bwd, 1700, 0, -3, 3); }
Test(gradcheck, cross_entropy_backward) {
    loss_case("cross_entropy", ce_fwd, ce_bwd, 1800, 1, 0, 0);
}
Test(gradcheck, bce_with_logits_backward) {
    loss_case("bce_with_logits", bce_fwd, bce_bwd, 1900, 0, 0, 1);
}

/* ---------------------------------------------------------------- penalties, dropout, mul */

static void penalty_case(int l2, const char *name, uint64_t seed) {
    ax_ctx *ctx = th_cpu_ctx();
    uint64_t st = seed;
    int64_t sw[2] = {rand_dim(&st, 1, 4), rand_dim(&st, 2, 6)};
    op_args args = {0};
    args.variant = l2;
    args.lambda = 0.3f;
    gc_op op = make_op(name, penalty_fwd, penalty_bwd, &args, 1, scalar_shape);
    /* L1 has a kink at 0: keep |w| >= 0.1 */
    add_input(&op, "w", rnd(ctx, 2, sw, seed + 1, -2, 2, l2 ? 0.0f : 0.1f), 1);
    check_and_free(ctx, &op, seed + 2);
    ax_ctx_destroy(ctx);
}

Test(gradcheck, l1_penalty_backward) { penalty_case(0, "l1_penalty", 2000); }
Test(gradcheck, l2_penalty_backward) { penalty_case(1, "l2_penalty", 2100); }

/* With (p, seed, offset) fixed the mask is a constant, so dropout is linear in x. p = 1 has
 * a zero gradient (and must not divide by 1 - p = 0). */
Test(gradcheck, dropout_backward) {
    ax_ctx *ctx = th_cpu_ctx();
    static const float ps[] = {0.3f, 0.0f, 0.75f, 1.0f};
    for (int i = 0; i < 4; i++) {
        int64_t sx[2] = {5, 9};
        op_args args = {0};
        args.p = ps[i];
        args.seed = 0x5eed;
        args.offset = 3 + (uint64_t)i;
        char name[32];
        snprintf(name, sizeof name, "dropout p=%g", (double)ps[i]);
        gc_op op = make_op(name, dropout_fwd, dropout_bwd, &args, 2, sx);
        add_input(&op, "x", rnd(ctx, 2, sx, 2200 + (uint64_t)i, -2, 2, 0), 1);
        check_and_free(ctx, &op, 2210 + (uint64_t)i);
    }
    ax_ctx_destroy(ctx);
}

Test(gradcheck, mul_backward) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t s[2] = {3, 7};
    gc_op op = make_op("mul", mul_fwd, mul_bwd, NULL, 2, s);
    add_input(&op, "a", rnd(ctx, 2, s, 2300, -2, 2, 0), 1);
    add_input(&op, "b", rnd(ctx, 2, s, 2301, -2, 2, 0), 1);
    check_and_free(ctx, &op, 2302);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- the checker checks */

/* A wrong backward: the correct one, then every gradient (which < 0) or only gradient `which`
 * multiplied by factor. */
typedef struct planted {
    const gc_op *base;
    float factor;
    int which;
} planted;

static ax_status planted_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    const planted *p = op->params;
    return p->base->forward(p->base, ctx, x, y);
}

static ax_status planted_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                             const ax_tensor *dy, ax_tensor *const *dx) {
    const planted *p = op->params;
    ax_status st = p->base->backward(p->base, ctx, x, y, dy, dx);
    for (int i = 0; i < op->n_inputs && st == AX_OK; i++)
        if (dx[i] && (p->which < 0 || p->which == i))
            st = ax_scale(ctx, p->factor, dx[i], dx[i]);
    return st;
}

/* The result of checking `base` with its backward replaced by a planted error. */
static gc_result check_planted(ax_ctx *ctx, const gc_op *base, float factor, int which,
                               uint64_t seed) {
    planted p = {base, factor, which};
    gc_op op = *base;
    op.forward = planted_fwd;
    op.backward = planted_bwd;
    op.params = &p;
    return gc_check(ctx, &op, seed, gc_default_tolerance());
}

static void expect_caught(ax_ctx *ctx, const gc_op *base, float factor, int which, uint64_t seed) {
    gc_result good = gc_check(ctx, base, seed, gc_default_tolerance());
    cr_assert(good.ok, "the unmodified %s must pass: %s", base->name, good.message);
    gc_result bad = check_planted(ctx, base, factor, which, seed);
    cr_assert(!bad.ok, "%s with its gradient %d scaled by %g passed: %s", base->name, which,
              (double)factor, bad.message);
    cr_assert_eq(bad.status, AX_OK, "the failure is a mismatch, not a failed call");
    cr_assert(bad.worst > 1.0);
    cr_log_info("planted x%g in %s: caught at %.2f x the tolerance", (double)factor, base->name,
                bad.worst);
}

Test(gradcheck, planted_error_is_caught) {
    ax_ctx *ctx = th_cpu_ctx();
    /* dense: every gradient 1% too large, then only db with its sign flipped */
    gc_op dense = dense_op(ctx, "dense", 1, 2400);
    expect_caught(ctx, &dense, 1.01f, -1, 2401);
    expect_caught(ctx, &dense, -1.0f, 2, 2402);
    gc_op_free(&dense);

    /* a mean loss has small gradients (~1/N): 1% is still caught there */
    op_args mean = {0};
    mean.reduction = AX_REDUCE_MEAN;
    int64_t sx[2] = {6, 5};
    int32_t labels[6] = {0, 4, 2, 2, 1, 3};
    gc_op ce = make_op("cross_entropy (mean)", ce_fwd, ce_bwd, &mean, 1, scalar_shape);
    add_input(&ce, "logits", rnd(ctx, 2, sx, 2403, -3, 3, 0), 1);
    add_input(&ce, "labels", th_tensor_i32(ctx, 1, sx, labels), 0);
    expect_caught(ctx, &ce, 1.01f, 0, 2404);
    expect_caught(ctx, &ce, -1.0f, 0, 2405);
    gc_op_free(&ce);

    /* a smooth elementwise op, where the check also carries truncation error */
    gc_op th = make_op("tanh", act_fwd, act_bwd, &(op_args){.act = AX_ACT_TANH}, 2, sx);
    add_input(&th, "x", rnd(ctx, 2, sx, 2406, -3, 3, 0), 1);
    expect_caught(ctx, &th, 1.01f, 0, 2407);
    expect_caught(ctx, &th, 0.99f, 0, 2408);
    gc_op_free(&th);
    ax_ctx_destroy(ctx);
}
