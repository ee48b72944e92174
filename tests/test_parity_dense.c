/* Parity of the CUDA kernels with the CPU reference: the same fresh random inputs (never
 * zeros) on both, outputs pre-filled with NaN on both, sizes with odd tails and large ones;
 * |gpu - cpu| <= atol + rtol |cpu| element-wise with NaN and Inf rejected (th_assert_close),
 * bit-exact (th_assert_equal) for dropout. Every GPU test skips where no GPU works.
 *
 * Tolerances, each with its reason:
 * - GEMM (and dense, whose products are GEMMs): inputs uniform in [-1, 1], so a length-K dot
 *   product has partial sums of rms sqrt(k)/3 and an f32 rounding error of rms ~eps K / 8
 *   (~1.5e-8 K) for a serial sum, less for blocked sums; both sides carry one. atol = 1e-6 K
 *   is ~15x the largest such difference expected over a million outputs, yet ~1e-4 of the
 *   typical |result| sqrt(K)/3 at K = 1000: a wrong index, tile or tail is O(1) off, and a
 *   TF32 product (~1e-4 sqrt(K) off) fails too. rtol 1e-5 covers alpha and beta's roundings.
 * - Reductions over `count` elements of size <= 2 (sum, mean, bias_grad, dense db): the CPU
 *   sums in double; the GPU in f32, in any order. The worst order, a serial loop (say one
 *   thread per column of bias_grad), has partial sums ~sqrt(k) and a rounding error of rms
 *   (eps/2) sigma count / sqrt(6) ~ 3e-8 count; atol = 1e-6 count covers it with a wide
 *   margin (the sums themselves are ~sqrt(count), so they may cancel to near 0 and an rtol
 *   alone cannot), while a lost or doubled element (an error of O(1)) still fails for every
 *   count tested here (<= 4099). rtol 1e-5.
 * - Scalar losses, sum of squares, penalties: positive terms, rtol 2e-5 (f32 tree sums lose
 *   ~eps log2(n) ~ 3e-6 at n = 4M), atol 1e-6.
 * - Activations, softmax, per-element loss gradients: libm versus CUDA's expf/tanhf differ by
 *   a few ulp and softmax normalizes by a differently ordered sum: rtol 1e-5, atol 1e-6
 *   (values near 0 come out of cancellations such as 1 - sigmoid or y * (dy - <dy, y>)).
 * - Broadcasts and exact elementwise rules (sum/mean backward, ReLU): rtol 1e-6, atol 0.
 *
 * Special values (the last section): NaN, +-Inf, +-0, denormals, +-1e4 and +-3e38 planted in
 * the random inputs, compared with th_assert_ieee (NaN as NaN, Inf by sign, zeros by sign bit
 * where both backends compute the same correctly rounded operations), with the tolerances
 * above for the finite values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "helpers.h"
#include "ieee.h"

#define CPU 0
#define GPU 1
/* for (int s = CPU; s <= GPU; s++) */
#define BOTH(s) for (int s = CPU; s <= GPU; s++)

#define ACT_ATOL 1e-6
#define ACT_RTOL 1e-5
#define LOSS_ATOL 1e-6
#define LOSS_RTOL 2e-5
#define EXACT_RTOL 1e-6

/* The CPU and the GPU context of one test. */
typedef struct duo {
    ax_ctx *ctx[2];
} duo;

/* One tensor on both sides, with the same contents. */
typedef struct pair {
    ax_tensor *t[2];
} pair;

static duo duo_open(void) {
    duo d;
    d.ctx[GPU] = th_gpu_ctx_or_skip();
    d.ctx[CPU] = th_cpu_ctx();
    return d;
}

static void duo_close(duo *d) {
    AX_ASSERT_OK(ax_ctx_synchronize(d->ctx[GPU]));
    ax_ctx_destroy(d->ctx[CPU]);
    ax_ctx_destroy(d->ctx[GPU]);
}

static pair pair_random(duo *d, int ndim, const int64_t *shape, uint64_t seed, float lo, float hi) {
    pair p;
    BOTH(s) p.t[s] = th_random_tensor(d->ctx[s], ndim, shape, seed, lo, hi, 1e-3f);
    return p;
}

static pair pair_nan(duo *d, int ndim, const int64_t *shape) {
    pair p;
    BOTH(s) p.t[s] = th_nan_tensor(d->ctx[s], ndim, shape);
    return p;
}

static pair pair_i32(duo *d, int ndim, const int64_t *shape, const int32_t *data) {
    pair p;
    BOTH(s) p.t[s] = th_tensor_i32(d->ctx[s], ndim, shape, data);
    return p;
}

static void pair_free(pair *p) {
    BOTH(s) {
        ax_tensor_destroy(p->t[s]);
        p->t[s] = NULL;
    }
}

/* pair_free of each argument, e.g. PAIRS_FREE(&x, &y) */
#define PAIRS_FREE(...)                                                                            \
    do {                                                                                           \
        pair *all_[] = {__VA_ARGS__};                                                              \
        for (size_t i_ = 0; i_ < sizeof all_ / sizeof all_[0]; i_++)                               \
            pair_free(all_[i_]);                                                                   \
    } while (0)

/* GPU result against the CPU reference. */
static void pair_expect(const pair *p, double atol, double rtol, const char *what) {
    float *ref = th_to_host(p->t[CPU]), *got = th_to_host(p->t[GPU]);
    th_assert_close(got, ref, ax_tensor_numel(p->t[CPU]), atol, rtol, what);
    free(ref);
    free(got);
}

static void pair_expect_equal(const pair *p, const char *what) {
    float *ref = th_to_host(p->t[CPU]), *got = th_to_host(p->t[GPU]);
    th_assert_equal(got, ref, ax_tensor_numel(p->t[CPU]), what);
    free(ref);
    free(got);
}

/* ---------------------------------------------------------------- special-value inputs */

/* Planted at every 3rd element (cycling) of random data: NaN, +-Inf, +-0, denormals, values
 * whose e^x overflows float (+-100) and double (+-1e4), values near FLT_MAX. */
static const float specials[] = {NAN,   INFINITY, -INFINITY, 0.0f,  -0.0f,  1e-40f, -1e-40f,
                                 3e38f, -3e38f,   1e4f,      -1e4f, 100.0f, -100.0f};
#define N_SPECIALS ((int64_t)(sizeof specials / sizeof specials[0]))

/* n random floats in [lo, hi) (|x| >= 1e-3) with specials[(i / 3 + phase) % N_SPECIALS] at
 * every i = phase % 3 (mod 3), leaving out finite specials beyond max_finite in magnitude;
 * malloc'ed. */
static float *special_host_within(int64_t n, uint64_t seed, float lo, float hi, int64_t phase,
                                  float max_finite) {
    float *h = malloc((size_t)n * sizeof *h);
    cr_assert_not_null(h);
    th_random_away_from_zero(h, n, seed, lo, hi, 1e-3f);
    for (int64_t i = phase % 3; i < n; i += 3) {
        float v = specials[(i / 3 + phase) % N_SPECIALS];
        if (!isfinite(v) || fabsf(v) <= max_finite)
            h[i] = v;
    }
    return h;
}

static float *special_host(int64_t n, uint64_t seed, float lo, float hi, int64_t phase) {
    return special_host_within(n, seed, lo, hi, phase, INFINITY);
}

static pair pair_host(duo *d, int ndim, const int64_t *shape, const float *h) {
    pair p;
    BOTH(s) p.t[s] = th_tensor(d->ctx[s], ndim, shape, h);
    return p;
}

static pair pair_special(duo *d, int64_t n, uint64_t seed, float lo, float hi, int64_t phase,
                         float max_finite) {
    float *h = special_host_within(n, seed, lo, hi, phase, max_finite);
    int64_t shape[1] = {n};
    pair p = pair_host(d, 1, shape, h);
    free(h);
    return p;
}

/* GPU result against the CPU reference, special values compared as values. */
static void pair_expect_ieee(const pair *p, double atol, double rtol, th_zero_rule zeros,
                             const char *what) {
    float *ref = th_to_host(p->t[CPU]), *got = th_to_host(p->t[GPU]);
    th_assert_ieee(got, ref, ax_tensor_numel(p->t[CPU]), atol, rtol, zeros, what);
    free(ref);
    free(got);
}

static double gemm_atol(int64_t k) { return 1e-6 * (double)k; }
#define GEMM_RTOL 1e-5
static double reduce_atol(int64_t count) { return 1e-6 * (double)count; }
#define REDUCE_RTOL 1e-5

static const int64_t odd_sizes[] = {1, 7, 33, 257, 1001, 4099, (int64_t)1 << 22};
#define N_ODD_SIZES (sizeof odd_sizes / sizeof odd_sizes[0])

/* ---------------------------------------------------------------- GEMM */

static const char *const tname[2] = {"N", "T"};

/* Stored shape of an operand whose op() is [rows, cols] (see the test_gradcheck twin). */
static int operand_shape(int64_t *dims, int64_t batch, ax_transpose t, int64_t rows, int64_t cols) {
    int nd = 0;
    if (batch > 0)
        dims[nd++] = batch;
    dims[nd++] = t == AX_TRANS ? cols : rows;
    dims[nd++] = t == AX_TRANS ? rows : cols;
    return nd;
}

typedef struct gemm_shape {
    int64_t m, n, k;
    int64_t batch_a, batch_b; /* 0: a 2-D operand */
} gemm_shape;

/* C = alpha op(A) op(B) + beta C on both sides (C starts NaN when beta = 0, random
 * otherwise); with `backward`, also dA and dB for a random dC. */
static void gemm_parity(duo *d, gemm_shape g, ax_transpose ta, ax_transpose tb, float alpha,
                        float beta, int backward, uint64_t seed) {
    int64_t batch = g.batch_a > g.batch_b ? g.batch_a : g.batch_b;
    int64_t sa[3], sb[3], sc[3];
    int na = operand_shape(sa, g.batch_a, ta, g.m, g.k);
    int nb = operand_shape(sb, g.batch_b, tb, g.k, g.n);
    int nc = operand_shape(sc, batch, AX_NO_TRANS, g.m, g.n);
    char what[128];
    snprintf(what, sizeof what, "gemm %s%s m=%lld n=%lld k=%lld batch=%lld/%lld beta=%g", tname[ta],
             tname[tb], (long long)g.m, (long long)g.n, (long long)g.k, (long long)g.batch_a,
             (long long)g.batch_b, (double)beta);
    pair a = pair_random(d, na, sa, seed, -1, 1), b = pair_random(d, nb, sb, seed + 1, -1, 1);
    pair c = beta == 0 ? pair_nan(d, nc, sc) : pair_random(d, nc, sc, seed + 2, -1, 1);
    BOTH(s) AX_ASSERT_OK(ax_gemm(d->ctx[s], ta, tb, alpha, a.t[s], b.t[s], beta, c.t[s]));
    pair_expect(&c, gemm_atol(g.k), GEMM_RTOL, what);
    if (backward) {
        pair dc = pair_random(d, nc, sc, seed + 3, -1, 1);
        pair da = pair_nan(d, na, sa), db = pair_nan(d, nb, sb);
        BOTH(s)
        AX_ASSERT_OK(
            ax_gemm_backward(d->ctx[s], ta, tb, alpha, a.t[s], b.t[s], dc.t[s], da.t[s], db.t[s]));
        /* dA sums over n (and the batch when A is shared), dB over m (likewise) */
        pair_expect(&da, gemm_atol(g.n * (g.batch_a ? 1 : (batch ? batch : 1))), GEMM_RTOL,
                    "gemm dA");
        pair_expect(&db, gemm_atol(g.m * (g.batch_b ? 1 : (batch ? batch : 1))), GEMM_RTOL,
                    "gemm dB");
        pair_free(&dc);
        pair_free(&da);
        pair_free(&db);
    }
    pair_free(&a);
    pair_free(&b);
    pair_free(&c);
}

/* Every transpose pair of one shape, with beta = 0 (NaN C) and beta != 0. */
static void gemm_all_transposes(gemm_shape g, int backward, uint64_t seed) {
    duo d = duo_open();
    for (int t = 0; t < 4; t++) {
        ax_transpose ta = (ax_transpose)(t >> 1), tb = (ax_transpose)(t & 1);
        gemm_parity(&d, g, ta, tb, 1.25f, 0.0f, backward, seed + 10 * (uint64_t)t);
        gemm_parity(&d, g, ta, tb, -0.5f, 0.75f, 0, seed + 10 * (uint64_t)t + 5);
    }
    duo_close(&d);
}

Test(parity, gemm_1x1x1) { gemm_all_transposes((gemm_shape){1, 1, 1, 0, 0}, 1, 100); }
Test(parity, gemm_odd_sizes) {
    gemm_all_transposes((gemm_shape){7, 33, 257, 0, 0}, 1, 200);
    gemm_all_transposes((gemm_shape){257, 7, 33, 0, 0}, 1, 250);
    gemm_all_transposes((gemm_shape){33, 1, 129, 0, 0}, 0, 260);
    gemm_all_transposes((gemm_shape){1, 65, 3, 0, 0}, 0, 270);
}
Test(parity, gemm_1000x999x1001) {
    gemm_all_transposes((gemm_shape){1000, 999, 1001, 0, 0}, 0, 300);
}
Test(parity, gemm_square_aligned_512) {
    gemm_all_transposes((gemm_shape){512, 512, 512, 0, 0}, 0, 350);
}
/* Shapes large enough for the CUDA GEMM's 128 x 128 tile: one with odd tails (scalar loads),
 * one with every dimension a multiple of 4 (16-byte loads). */
Test(parity, gemm_large_tile) {
    gemm_all_transposes((gemm_shape){1537, 1531, 67, 0, 0}, 0, 370);
    gemm_all_transposes((gemm_shape){2048, 2052, 36, 0, 0}, 0, 380);
}
Test(parity, gemm_batched) { gemm_all_transposes((gemm_shape){33, 65, 17, 3, 3}, 1, 400); }
Test(parity, gemm_shared_a) { gemm_all_transposes((gemm_shape){31, 9, 45, 0, 4}, 1, 500); }
Test(parity, gemm_shared_b) { gemm_all_transposes((gemm_shape){31, 9, 45, 4, 0}, 1, 600); }

/* ---------------------------------------------------------------- dense, bias, reductions */

static void dense_parity(duo *d, int64_t n, int64_t in, int64_t out, uint64_t seed) {
    int64_t sx[2] = {n, in}, sw[2] = {out, in}, sb[1] = {out}, sy[2] = {n, out};
    pair x = pair_random(d, 2, sx, seed, -1, 1), w = pair_random(d, 2, sw, seed + 1, -1, 1);
    pair b = pair_random(d, 1, sb, seed + 2, -1, 1), y = pair_nan(d, 2, sy);
    pair dy = pair_random(d, 2, sy, seed + 3, -1, 1);
    pair dx = pair_nan(d, 2, sx), dw = pair_nan(d, 2, sw), db = pair_nan(d, 1, sb);
    BOTH(s) AX_ASSERT_OK(ax_dense_forward(d->ctx[s], x.t[s], w.t[s], b.t[s], y.t[s]));
    pair_expect(&y, gemm_atol(in), GEMM_RTOL, "dense y");
    BOTH(s)
    AX_ASSERT_OK(ax_dense_backward(d->ctx[s], x.t[s], w.t[s], dy.t[s], dx.t[s], dw.t[s], db.t[s]));
    pair_expect(&dx, gemm_atol(out), GEMM_RTOL, "dense dx");
    pair_expect(&dw, gemm_atol(n), GEMM_RTOL, "dense dw");
    pair_expect(&db, reduce_atol(n), REDUCE_RTOL, "dense db");
    /* without bias (forward) and with only dw requested (backward) */
    BOTH(s) AX_ASSERT_OK(ax_dense_forward(d->ctx[s], x.t[s], w.t[s], NULL, y.t[s]));
    pair_expect(&y, gemm_atol(in), GEMM_RTOL, "dense y without bias");
    BOTH(s) AX_ASSERT_OK(ax_fill(d->ctx[s], dw.t[s], NAN));
    BOTH(s)
    AX_ASSERT_OK(ax_dense_backward(d->ctx[s], x.t[s], w.t[s], dy.t[s], NULL, dw.t[s], NULL));
    pair_expect(&dw, gemm_atol(n), GEMM_RTOL, "dense dw alone");
    PAIRS_FREE(&x, &w, &b, &y, &dy, &dx, &dw, &db);
}

Test(parity, dense_forward_backward) {
    duo d = duo_open();
    dense_parity(&d, 1, 1, 1, 700);
    dense_parity(&d, 7, 33, 257, 710);
    dense_parity(&d, 257, 1001, 10, 720);
    dense_parity(&d, 1000, 784, 129, 730);
    duo_close(&d);
}

static void bias_parity(duo *d, int ndim, const int64_t *shape, int axis, uint64_t seed) {
    int a = axis < 0 ? axis + ndim : axis;
    int64_t sb[1] = {shape[a]}, n = th_numel(ndim, shape);
    pair y = pair_random(d, ndim, shape, seed, -1, 1), b = pair_random(d, 1, sb, seed + 1, -1, 1);
    pair db = pair_nan(d, 1, sb);
    BOTH(s) AX_ASSERT_OK(ax_bias_add(d->ctx[s], y.t[s], b.t[s], axis));
    pair_expect(&y, 0, EXACT_RTOL, "bias_add"); /* one rounded addition */
    BOTH(s) AX_ASSERT_OK(ax_bias_grad(d->ctx[s], y.t[s], axis, db.t[s]));
    pair_expect(&db, reduce_atol(n / shape[a]), REDUCE_RTOL, "bias_grad");
    pair_free(&y);
    pair_free(&b);
    pair_free(&db);
}

Test(parity, bias_add_and_bias_grad) {
    duo d = duo_open();
    int64_t s1[1] = {7}, s2[2] = {1000, 257}, s2b[2] = {4099, 1}, s4[4] = {7, 33, 9, 5},
            s4b[4] = {3, 1, 257, 3}, big[2] = {1 << 12, 1 << 10};
    bias_parity(&d, 1, s1, -1, 800);
    bias_parity(&d, 2, s2, -1, 810);
    bias_parity(&d, 2, s2b, -1, 820);
    bias_parity(&d, 4, s4, 1, 830);
    bias_parity(&d, 4, s4b, 1, 840);
    bias_parity(&d, 2, big, -1, 850);
    bias_parity(&d, 2, big, 0, 860);
    duo_close(&d);
}

/* Sum and mean over each axis of x, and their backwards. */
static void reduce_parity(duo *d, int ndim, const int64_t *shape, uint64_t seed) {
    pair x = pair_random(d, ndim, shape, seed, -1, 1);
    for (int axis = 0; axis < ndim; axis++) {
        int64_t sy[AX_MAX_DIMS];
        for (int i = 0, j = 0; i < ndim; i++)
            if (i != axis)
                sy[j++] = shape[i];
        int ny = ndim - 1 > 0 ? ndim - 1 : 1;
        if (ndim == 1)
            sy[0] = 1;
        for (int mean = 0; mean < 2; mean++) {
            pair y = pair_nan(d, ny, sy), dy = pair_random(d, ny, sy, seed + 7, -1, 1);
            pair dx = pair_nan(d, ndim, shape);
            char what[64];
            snprintf(what, sizeof what, "%s over axis %d of %d-d", mean ? "mean" : "sum", axis,
                     ndim);
            BOTH(s)
            AX_ASSERT_OK(mean ? ax_mean(d->ctx[s], x.t[s], axis, y.t[s])
                              : ax_sum(d->ctx[s], x.t[s], axis, y.t[s]));
            pair_expect(&y, reduce_atol(shape[axis]) / (mean ? (double)shape[axis] : 1.0),
                        REDUCE_RTOL, what);
            BOTH(s)
            AX_ASSERT_OK(mean ? ax_mean_backward(d->ctx[s], dy.t[s], axis, dx.t[s])
                              : ax_sum_backward(d->ctx[s], dy.t[s], axis, dx.t[s]));
            pair_expect(&dx, 0, EXACT_RTOL, what);
            pair_free(&y);
            pair_free(&dy);
            pair_free(&dx);
        }
    }
    pair_free(&x);
}

Test(parity, sum_mean_each_axis) {
    duo d = duo_open();
    int64_t s1[1] = {4099}, s3[3] = {33, 257, 7}, s3b[3] = {1, 1001, 3}, s2[2] = {1 << 11, 1 << 11};
    reduce_parity(&d, 1, s1, 900);
    reduce_parity(&d, 3, s3, 910);
    reduce_parity(&d, 3, s3b, 920);
    reduce_parity(&d, 2, s2, 930);
    duo_close(&d);
}

Test(parity, sum_squares_and_penalties) {
    duo d = duo_open();
    int64_t one[1] = {1};
    for (size_t i = 0; i < N_ODD_SIZES; i++) {
        int64_t n[1] = {odd_sizes[i]};
        pair x = pair_random(&d, 1, n, 1000 + i, -1, 1);
        pair out = pair_random(&d, 1, one, 1010 + i, 0, 1); /* accumulated into */
        pair dw = pair_random(&d, 1, n, 1020 + i, -1, 1);
        BOTH(s) AX_ASSERT_OK(ax_sum_squares(d.ctx[s], x.t[s], 1, out.t[s]));
        pair_expect(&out, LOSS_ATOL, LOSS_RTOL, "sum_squares (accumulate)");
        BOTH(s) AX_ASSERT_OK(ax_sum_squares(d.ctx[s], x.t[s], 0, out.t[s]));
        pair_expect(&out, LOSS_ATOL, LOSS_RTOL, "sum_squares");
        BOTH(s) AX_ASSERT_OK(ax_l1_penalty(d.ctx[s], x.t[s], 0.01f, out.t[s], dw.t[s]));
        pair_expect(&out, LOSS_ATOL, LOSS_RTOL, "l1_penalty out");
        pair_expect(&dw, 0, EXACT_RTOL, "l1_penalty dw");
        BOTH(s) AX_ASSERT_OK(ax_l2_penalty(d.ctx[s], x.t[s], 0.3f, out.t[s], dw.t[s]));
        pair_expect(&out, LOSS_ATOL, LOSS_RTOL, "l2_penalty out");
        pair_expect(&dw, 1e-7, 1e-6, "l2_penalty dw"); /* dw + lambda w may fuse into an FMA */
        BOTH(s) AX_ASSERT_OK(ax_l2_penalty(d.ctx[s], x.t[s], 0.3f, NULL, dw.t[s]));
        BOTH(s) AX_ASSERT_OK(ax_l1_penalty(d.ctx[s], x.t[s], 0.3f, out.t[s], NULL));
        pair_expect(&out, LOSS_ATOL, LOSS_RTOL, "l1_penalty out alone");
        pair_expect(&dw, 1e-7, 1e-6, "l2_penalty dw alone");
        pair_free(&x);
        pair_free(&out);
        pair_free(&dw);
    }
    duo_close(&d);
}

/* ---------------------------------------------------------------- activations, softmax */

/* Every activation forward and backward on random x and dy, then on x and dy with the
 * special values of the last section planted (ReLU passes NaN and keeps -0, the gradients at
 * +-0 and NaN are PyTorch's; zeros by sign bit). */
Test(parity, activations_forward_backward) {
    duo d = duo_open();
    static const ax_activation acts[] = {AX_ACT_SIGMOID, AX_ACT_TANH, AX_ACT_RELU,
                                         AX_ACT_LEAKY_RELU, AX_ACT_LEAKY_RELU};
    static const float slopes[] = {0, 0, 0, AX_LEAKY_RELU_SLOPE, 0.2f};
    static const char *const names[] = {"sigmoid", "tanh", "relu", "leaky_relu", "leaky 0.2"};
    for (size_t i = 0; i < 2 * N_ODD_SIZES; i++) {
        int special = i >= N_ODD_SIZES;
        int64_t n[1] = {odd_sizes[i % N_ODD_SIZES]};
        pair x = special ? pair_special(&d, n[0], 2100 + i, -8, 8, 0, INFINITY)
                         : pair_random(&d, 1, n, 1100 + i, -8, 8);
        /* dy without large finite specials: 1e4 dy would magnify the ulp that libm's and
         * CUDA's tanh / sigmoid may differ by near |y| = 1 beyond the tolerance */
        pair dy = special ? pair_special(&d, n[0], 2110 + i, -1, 1, 1 + (int64_t)i, 1.0f)
                          : pair_random(&d, 1, n, 1110 + i, -1, 1);
        pair y = pair_nan(&d, 1, n), dx = pair_nan(&d, 1, n);
        for (int a = 0; a < 5; a++) {
            char what[64];
            snprintf(what, sizeof what, "%s%s n=%lld", names[a], special ? " special" : "",
                     (long long)n[0]);
            BOTH(s) AX_ASSERT_OK(ax_fill(d.ctx[s], y.t[s], NAN));
            BOTH(s) AX_ASSERT_OK(ax_fill(d.ctx[s], dx.t[s], NAN));
            BOTH(s)
            AX_ASSERT_OK(ax_activation_forward(d.ctx[s], acts[a], slopes[a], x.t[s], y.t[s]));
            pair_expect_ieee(&y, ACT_ATOL, ACT_RTOL, TH_ZERO_SIGN, what);
            BOTH(s)
            AX_ASSERT_OK(ax_activation_backward(d.ctx[s], acts[a], slopes[a], x.t[s], y.t[s],
                                                dy.t[s], dx.t[s]));
            pair_expect_ieee(&dx, ACT_ATOL, ACT_RTOL, TH_ZERO_SIGN, what);
        }
        PAIRS_FREE(&x, &dy, &y, &dx);
    }
    duo_close(&d);
}

static void softmax_parity(duo *d, int64_t rows, int64_t cols, uint64_t seed) {
    int64_t sx[2] = {rows, cols};
    pair x = pair_random(d, 2, sx, seed, -10, 10), dy = pair_random(d, 2, sx, seed + 1, -1, 1);
    pair y = pair_nan(d, 2, sx), dx = pair_nan(d, 2, sx);
    for (int log = 0; log < 2; log++) {
        const char *what = log ? "log_softmax" : "softmax";
        BOTH(s)
        AX_ASSERT_OK(log ? ax_log_softmax_forward(d->ctx[s], x.t[s], y.t[s])
                         : ax_softmax_forward(d->ctx[s], x.t[s], y.t[s]));
        pair_expect(&y, ACT_ATOL, ACT_RTOL, what);
        BOTH(s)
        AX_ASSERT_OK(log ? ax_log_softmax_backward(d->ctx[s], y.t[s], dy.t[s], dx.t[s])
                         : ax_softmax_backward(d->ctx[s], y.t[s], dy.t[s], dx.t[s]));
        pair_expect(&dx, ACT_ATOL, ACT_RTOL, what);
    }
    pair_free(&x);
    pair_free(&dy);
    pair_free(&y);
    pair_free(&dx);
}

Test(parity, softmax_and_log_softmax) {
    duo d = duo_open();
    softmax_parity(&d, 1, 1, 1200);
    softmax_parity(&d, 7, 33, 1210);
    softmax_parity(&d, 33, 257, 1220);
    softmax_parity(&d, 257, 1001, 1230);
    softmax_parity(&d, 3, 50000, 1240);
    softmax_parity(&d, 1 << 16, 10, 1250);
    softmax_parity(&d, 1, 1 << 20, 1260);
    duo_close(&d);
}

/* ---------------------------------------------------------------- losses */

/* MSE and BCE with logits over n elements, both reductions, dloss NULL and 0.7. */
static void elementwise_loss_parity(duo *d, int64_t n, uint64_t seed) {
    int64_t sx[1] = {n}, one[1] = {1};
    pair x = pair_random(d, 1, sx, seed, -6, 6);
    pair target = pair_random(d, 1, sx, seed + 1, -2, 2),
         prob = pair_random(d, 1, sx, seed + 2, 0, 1);
    pair loss = pair_nan(d, 1, one), dx = pair_nan(d, 1, sx),
         dloss = pair_random(d, 1, one, 7, 0.7f, 0.7f);
    for (int red = 0; red < 2; red++) {
        for (int bce = 0; bce < 2; bce++) {
            const char *what = bce ? "bce_with_logits" : "mse";
            pair *t = bce ? &prob : &target;
            BOTH(s)
            AX_ASSERT_OK(
                bce ? ax_bce_with_logits_forward(d->ctx[s], x.t[s], t->t[s], red, loss.t[s])
                    : ax_mse_loss_forward(d->ctx[s], x.t[s], t->t[s], red, loss.t[s]));
            pair_expect(&loss, LOSS_ATOL, LOSS_RTOL, what);
            for (int scaled = 0; scaled < 2; scaled++) {
                const ax_tensor *dl[2] = {scaled ? dloss.t[CPU] : NULL,
                                          scaled ? dloss.t[GPU] : NULL};
                BOTH(s)
                AX_ASSERT_OK(
                    bce ? ax_bce_with_logits_backward(d->ctx[s], x.t[s], t->t[s], red, dl[s],
                                                      dx.t[s])
                        : ax_mse_loss_backward(d->ctx[s], x.t[s], t->t[s], red, dl[s], dx.t[s]));
                pair_expect(&dx, ACT_ATOL / (red == AX_REDUCE_MEAN ? (double)n : 1.0), ACT_RTOL,
                            what);
            }
        }
    }
    PAIRS_FREE(&x, &target, &prob, &loss, &dx, &dloss);
}

Test(parity, mse_and_bce_with_logits) {
    duo d = duo_open();
    for (size_t i = 0; i < N_ODD_SIZES; i++)
        elementwise_loss_parity(&d, odd_sizes[i], 1300 + 10 * i);
    duo_close(&d);
}

static void cross_entropy_parity(duo *d, int64_t rows, int64_t cols, uint64_t seed) {
    int64_t sx[2] = {rows, cols}, sl[1] = {rows}, one[1] = {1};
    int32_t *lab = malloc((size_t)rows * sizeof *lab);
    float *u = malloc((size_t)rows * sizeof *u);
    th_random(u, rows, seed + 9, 0, 1);
    for (int64_t i = 0; i < rows; i++)
        lab[i] = (int32_t)(u[i] * (float)cols) % (int32_t)cols;
    lab[rows - 1] = (int32_t)cols - 1; /* the last class is used */
    pair x = pair_random(d, 2, sx, seed, -10, 10), labels = pair_i32(d, 1, sl, lab);
    pair loss = pair_nan(d, 1, one), dx = pair_nan(d, 2, sx);
    pair dloss = pair_random(d, 1, one, seed + 3, -1.5f, -1.5f);
    for (int red = 0; red < 2; red++) {
        BOTH(s)
        AX_ASSERT_OK(ax_cross_entropy_forward(d->ctx[s], x.t[s], labels.t[s], red, loss.t[s]));
        pair_expect(&loss, LOSS_ATOL, LOSS_RTOL, "cross_entropy loss");
        for (int scaled = 0; scaled < 2; scaled++) {
            BOTH(s)
            AX_ASSERT_OK(ax_cross_entropy_backward(d->ctx[s], x.t[s], labels.t[s], red,
                                                   scaled ? dloss.t[s] : NULL, dx.t[s]));
            pair_expect(&dx, ACT_ATOL / (red == AX_REDUCE_MEAN ? (double)rows : 1.0), ACT_RTOL,
                        "cross_entropy dlogits");
        }
    }
    PAIRS_FREE(&x, &labels, &loss, &dx, &dloss);
    free(lab);
    free(u);
}

Test(parity, cross_entropy) {
    duo d = duo_open();
    cross_entropy_parity(&d, 1, 1, 1400);
    cross_entropy_parity(&d, 7, 33, 1410);
    cross_entropy_parity(&d, 257, 1001, 1420);
    cross_entropy_parity(&d, 1 << 16, 10, 1430);
    cross_entropy_parity(&d, 3, 50000, 1440);
    duo_close(&d);
}

/* ---------------------------------------------------------------- dropout */

Test(parity, dropout_bit_exact) {
    duo d = duo_open();
    static const float ps[] = {0.0f, 0.1f, 0.5f, 0.9f, 1.0f};
    for (size_t i = 0; i < N_ODD_SIZES; i++) {
        int64_t n[1] = {odd_sizes[i]};
        pair x = pair_random(&d, 1, n, 1500 + i, -2, 2), y = pair_nan(&d, 1, n);
        for (int k = 0; k < 5; k++) {
            uint64_t seed = 0xabcdef12345ull + (uint64_t)k, offset = 3 * i + (uint64_t)k;
            char what[48];
            snprintf(what, sizeof what, "dropout p=%g n=%lld", (double)ps[k], (long long)n[0]);
            BOTH(s) AX_ASSERT_OK(ax_fill(d.ctx[s], y.t[s], NAN));
            BOTH(s) AX_ASSERT_OK(ax_dropout_forward(d.ctx[s], ps[k], seed, offset, x.t[s], y.t[s]));
            pair_expect_equal(&y, what);
            BOTH(s)
            AX_ASSERT_OK(ax_dropout_backward(d.ctx[s], ps[k], seed, offset, x.t[s], y.t[s]));
            pair_expect_equal(&y, what);
            /* in place */
            pair z = pair_random(&d, 1, n, 1500 + i, -2, 2);
            BOTH(s) AX_ASSERT_OK(ax_dropout_forward(d.ctx[s], ps[k], seed, offset, z.t[s], z.t[s]));
            pair_expect_equal(&z, what);
            pair_free(&z);
        }
        pair_free(&x);
        pair_free(&y);
    }
    duo_close(&d);
}

/* Dropout on ctx keeps exactly the elements whose Philox uniform (ax_rng_uniform with the same
 * seed and offset) is >= p, scales them by 1 / (1 - p), and so keeps about (1 - p) n:
 * within 5 standard deviations of the binomial. */
static void check_dropout_mask(ax_ctx *ctx, int64_t n, float p, uint64_t seed, uint64_t offset) {
    int64_t shape[1] = {n};
    ax_tensor *x = th_random_tensor(ctx, 1, shape, seed ^ 77, -2, 2, 0.1f);
    ax_tensor *y = th_nan_tensor(ctx, 1, shape), *u = th_nan_tensor(ctx, 1, shape);
    AX_ASSERT_OK(ax_dropout_forward(ctx, p, seed, offset, x, y));
    AX_ASSERT_OK(ax_rng_uniform(ctx, u, 0.0f, 1.0f, seed, offset));
    float *hx = th_to_host(x), *hy = th_to_host(y), *hu = th_to_host(u);
    int64_t kept = 0;
    for (int64_t e = 0; e < n; e++) {
        int keep = hu[e] >= p;
        kept += keep;
        if (!keep) {
            cr_assert(hy[e] == 0.0f && signbit(hy[e]) == signbit(hx[e]),
                      "dropped y[%lld] = %g is not x * 0 = %g, u = %.9g, p = %g", (long long)e,
                      (double)hy[e], (double)(hx[e] * 0.0f), (double)hu[e], (double)p);
            continue;
        }
        double want = (double)hx[e] / (1.0 - (double)p);
        cr_assert(fabs(hy[e] - want) <= 2.5e-7 * fabs(want),
                  "kept y[%lld] = %.9g, want x / (1 - p) = %.9g (u = %.9g, p = %g)", (long long)e,
                  (double)hy[e], want, (double)hu[e], (double)p);
    }
    double mean = (1.0 - p) * (double)n, sd = sqrt((double)n * p * (1.0 - p));
    cr_assert(fabs((double)kept - mean) <= 5 * sd + 1e-9, "kept %lld of %lld at p = %g",
              (long long)kept, (long long)n, (double)p);
    free(hx);
    free(hy);
    free(hu);
    ax_tensor_destroy(x);
    ax_tensor_destroy(y);
    ax_tensor_destroy(u);
}

/* The draw of element e at (seed, offset), used as p: that element is then exactly at the
 * threshold and must be kept (keep = u >= p, not u > p). */
static float draw_of(ax_ctx *ctx, uint64_t seed, uint64_t offset, int64_t e) {
    int64_t shape[1] = {e + 1};
    ax_tensor *u = th_nan_tensor(ctx, 1, shape);
    AX_ASSERT_OK(ax_rng_uniform(ctx, u, 0.0f, 1.0f, seed, offset));
    float *h = th_to_host(u), p = h[e];
    cr_assert(p > 0.0f && p < 1.0f, "draw %g", (double)p);
    free(h);
    ax_tensor_destroy(u);
    return p;
}

/* The CPU half runs everywhere; the GPU half needs a GPU. */
Test(parity, dropout_cpu_mask_is_philox_uniform) {
    ax_ctx *ctx = th_cpu_ctx();
    check_dropout_mask(ctx, 100003, 0.1f, 11, 0);
    check_dropout_mask(ctx, 100003, 0.5f, 12, 7);
    check_dropout_mask(ctx, 100003, 0.9f, 13, 1ull << 40);
    check_dropout_mask(ctx, 100003, draw_of(ctx, 14, 3, 777), 14, 3);
    ax_ctx_destroy(ctx);
}

Test(parity, dropout_gpu_mask_is_philox_uniform) {
    ax_ctx *ctx = th_gpu_ctx_or_skip();
    check_dropout_mask(ctx, (1 << 22) + 3, 0.1f, 11, 0);
    check_dropout_mask(ctx, (1 << 22) + 3, 0.5f, 12, 7);
    check_dropout_mask(ctx, (1 << 22) + 3, 0.9f, 13, 1ull << 40);
    check_dropout_mask(ctx, (1 << 22) + 3, draw_of(ctx, 14, 3, 777), 14, 3);
    AX_ASSERT_OK(ax_ctx_synchronize(ctx));
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- exact rules, in place */

/* p = 0 copies x bit for bit and p = 1 gives x * 0 (zeros with x's sign), forward and
 * backward. */
static void check_dropout_extremes(ax_ctx *ctx) {
    int64_t shape[1] = {1001};
    ax_tensor *x = th_random_tensor(ctx, 1, shape, 1600, -3, 3, 1e-3f);
    ax_tensor *y = th_nan_tensor(ctx, 1, shape);
    float *hx = th_to_host(x), *zeros = malloc(1001 * sizeof *zeros);
    for (int i = 0; i < 1001; i++)
        zeros[i] = hx[i] * 0.0f;
    for (int backward = 0; backward < 2; backward++) {
        AX_ASSERT_OK(backward ? ax_dropout_backward(ctx, 0.0f, 5, 6, x, y)
                              : ax_dropout_forward(ctx, 0.0f, 5, 6, x, y));
        float *hy = th_to_host(y);
        th_assert_equal(hy, hx, 1001, "dropout p = 0");
        free(hy);
        AX_ASSERT_OK(backward ? ax_dropout_backward(ctx, 1.0f, 5, 6, x, y)
                              : ax_dropout_forward(ctx, 1.0f, 5, 6, x, y));
        hy = th_to_host(y);
        th_assert_equal(hy, zeros, 1001, "dropout p = 1");
        free(hy);
    }
    free(hx);
    free(zeros);
    ax_tensor_destroy(x);
    ax_tensor_destroy(y);
}

Test(parity, dropout_cpu_p0_copies_p1_zeros) {
    ax_ctx *ctx = th_cpu_ctx();
    check_dropout_extremes(ctx);
    ax_ctx_destroy(ctx);
}

Test(parity, dropout_gpu_p0_copies_p1_zeros) {
    ax_ctx *ctx = th_gpu_ctx_or_skip();
    check_dropout_extremes(ctx);
    AX_ASSERT_OK(ax_ctx_synchronize(ctx));
    ax_ctx_destroy(ctx);
}

/* The ops that may work in place (ops.h: activation and softmax forwards, the activation
 * backward into dy, dropout both ways) give on ctx in place what the CPU reference gives out
 * of place. */
static void check_in_place(ax_ctx *ctx) {
    ax_ctx *cpu = th_cpu_ctx();
    int64_t shape[2] = {33, 257};
    int64_t n = shape[0] * shape[1];
    float *hx = malloc((size_t)n * sizeof *hx), *hdy = malloc((size_t)n * sizeof *hdy);
    th_random_away_from_zero(hx, n, 1700, -6, 6, 1e-3f);
    th_random_away_from_zero(hdy, n, 1701, -1, 1, 1e-3f);
    ax_tensor *rx = th_tensor(cpu, 2, shape, hx), *rdy = th_tensor(cpu, 2, shape, hdy);
    ax_tensor *ry = th_nan_tensor(cpu, 2, shape), *rdx = th_nan_tensor(cpu, 2, shape);
    for (int op = 0; op < 6; op++) {
        ax_tensor *t = th_tensor(ctx, 2, shape, hx), *g = th_tensor(ctx, 2, shape, hdy);
        ax_tensor *sy = op == 5 ? th_tensor(ctx, 2, shape, hx) : NULL;
        const char *what = "";
        switch (op) {
        case 0: /* sigmoid forward, then its backward with dx = dy */
            what = "sigmoid in place";
            AX_ASSERT_OK(ax_activation_forward(cpu, AX_ACT_SIGMOID, 0, rx, ry));
            AX_ASSERT_OK(ax_activation_backward(cpu, AX_ACT_SIGMOID, 0, NULL, ry, rdy, rdx));
            AX_ASSERT_OK(ax_activation_forward(ctx, AX_ACT_SIGMOID, 0, t, t));
            AX_ASSERT_OK(ax_activation_backward(ctx, AX_ACT_SIGMOID, 0, NULL, t, g, g));
            break;
        case 1:
            what = "leaky_relu in place";
            AX_ASSERT_OK(ax_activation_forward(cpu, AX_ACT_LEAKY_RELU, 0.1f, rx, ry));
            AX_ASSERT_OK(ax_activation_backward(cpu, AX_ACT_LEAKY_RELU, 0.1f, rx, NULL, rdy, rdx));
            AX_ASSERT_OK(ax_activation_backward(ctx, AX_ACT_LEAKY_RELU, 0.1f, t, NULL, g, g));
            AX_ASSERT_OK(ax_activation_forward(ctx, AX_ACT_LEAKY_RELU, 0.1f, t, t));
            break;
        case 2:
            what = "softmax in place";
            AX_ASSERT_OK(ax_softmax_forward(cpu, rx, ry));
            AX_ASSERT_OK(ax_softmax_forward(ctx, t, t));
            break;
        case 3:
            what = "log_softmax in place";
            AX_ASSERT_OK(ax_log_softmax_forward(cpu, rx, ry));
            AX_ASSERT_OK(ax_log_softmax_forward(ctx, t, t));
            break;
        case 4:
            what = "dropout in place";
            AX_ASSERT_OK(ax_dropout_forward(cpu, 0.4f, 9, 1, rx, ry));
            AX_ASSERT_OK(ax_dropout_backward(cpu, 0.4f, 9, 1, rdy, rdx));
            AX_ASSERT_OK(ax_dropout_forward(ctx, 0.4f, 9, 1, t, t));
            AX_ASSERT_OK(ax_dropout_backward(ctx, 0.4f, 9, 1, g, g));
            break;
        default: /* out of place forward, then the backward in place */
            what = "tanh into y, backward in place";
            AX_ASSERT_OK(ax_activation_forward(cpu, AX_ACT_TANH, 0, rx, ry));
            AX_ASSERT_OK(ax_activation_backward(cpu, AX_ACT_TANH, 0, NULL, ry, rdy, rdx));
            AX_ASSERT_OK(ax_activation_forward(ctx, AX_ACT_TANH, 0, sy, t));
            AX_ASSERT_OK(ax_activation_backward(ctx, AX_ACT_TANH, 0, NULL, t, g, g));
            break;
        }
        float *got = th_to_host(t), *want = th_to_host(ry);
        th_assert_close(got, want, n, ACT_ATOL, ACT_RTOL, what);
        free(got);
        free(want);
        if (op != 2 && op != 3) {
            got = th_to_host(g);
            want = th_to_host(rdx);
            th_assert_close(got, want, n, ACT_ATOL, ACT_RTOL, what);
            free(got);
            free(want);
        }
        ax_tensor_destroy(t);
        ax_tensor_destroy(g);
        ax_tensor_destroy(sy);
    }
    free(hx);
    free(hdy);
    ax_tensor_destroy(rx);
    ax_tensor_destroy(rdy);
    ax_tensor_destroy(ry);
    ax_tensor_destroy(rdx);
    ax_ctx_destroy(cpu);
}

Test(parity, in_place_cpu_matches_out_of_place) {
    ax_ctx *ctx = th_cpu_ctx();
    check_in_place(ctx);
    ax_ctx_destroy(ctx);
}

Test(parity, in_place_gpu_matches_cpu) {
    ax_ctx *ctx = th_gpu_ctx_or_skip();
    check_in_place(ctx);
    AX_ASSERT_OK(ax_ctx_synchronize(ctx));
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- special values */

#define N_ROW_KINDS 10

/* rows x cols logits, row r of kind r % N_ROW_KINDS over random values in [-10, 10):
 * 0: x[0] = -1e4, x[last] = 1e4   1: every x - 1e4 (e^x underflows without the max)
 * 2: every x = 1e4 (ties)          3: x[0] = x[1] = 3e38, x[last] = -3e38
 * 4: -Inf but one finite value     5: one NaN          6: one +Inf
 * 7: all -Inf (NaN out)            8: +-0 alternating  9: plain random */
static float *extreme_rows(int64_t rows, int64_t cols, uint64_t seed) {
    float *h = malloc((size_t)(rows * cols) * sizeof *h);
    cr_assert_not_null(h);
    th_random(h, rows * cols, seed, -10, 10);
    for (int64_t r = 0; r < rows; r++) {
        float *x = h + r * cols;
        int64_t at = (r * 7) % cols, last = cols - 1;
        for (int64_t j = 0; j < cols; j++)
            switch (r % N_ROW_KINDS) {
            case 1:
                x[j] -= 1e4f;
                break;
            case 2:
                x[j] = 1e4f;
                break;
            case 4:
                x[j] = j == at ? x[j] : -INFINITY;
                break;
            case 7:
                x[j] = -INFINITY;
                break;
            case 8:
                x[j] = j % 2 ? -0.0f : 0.0f;
                break;
            default:
                break;
            }
        switch (r % N_ROW_KINDS) {
        case 0:
            x[0] = -1e4f, x[last] = 1e4f; /* the maximum last */
            break;
        case 3:
            x[0] = x[cols > 1] = 3e38f, x[last] = -3e38f;
            break;
        case 5:
            x[at] = NAN;
            break;
        case 6:
            x[at] = INFINITY;
            break;
        default:
            break;
        }
    }
    return h;
}

/* Softmax and log-softmax of the extreme rows (warp path up to 1024 columns, block path
 * beyond). Forward zeros by sign bit; the backward's zeros (y = 0 times dy - <dy, y>) by
 * value, as their sign follows a difference of sums taken in different orders. */
static void softmax_special_parity(duo *d, int64_t rows, int64_t cols, uint64_t seed) {
    int64_t sx[2] = {rows, cols};
    float *h = extreme_rows(rows, cols, seed);
    pair x = pair_host(d, 2, sx, h), dy = pair_random(d, 2, sx, seed + 1, -1, 1);
    pair y = pair_nan(d, 2, sx), dx = pair_nan(d, 2, sx);
    for (int log = 0; log < 2; log++) {
        char what[80];
        snprintf(what, sizeof what, "%s of extreme rows, %lld x %lld",
                 log ? "log_softmax" : "softmax", (long long)rows, (long long)cols);
        BOTH(s)
        AX_ASSERT_OK(log ? ax_log_softmax_forward(d->ctx[s], x.t[s], y.t[s])
                         : ax_softmax_forward(d->ctx[s], x.t[s], y.t[s]));
        pair_expect_ieee(&y, ACT_ATOL, ACT_RTOL, TH_ZERO_SIGN, what);
        BOTH(s)
        AX_ASSERT_OK(log ? ax_log_softmax_backward(d->ctx[s], y.t[s], dy.t[s], dx.t[s])
                         : ax_softmax_backward(d->ctx[s], y.t[s], dy.t[s], dx.t[s]));
        pair_expect_ieee(&dx, ACT_ATOL, ACT_RTOL, TH_ZERO_VALUE, what);
    }
    free(h);
    pair_free(&x);
    pair_free(&dy);
    pair_free(&y);
    pair_free(&dx);
}

Test(parity, softmax_extreme_rows) {
    duo d = duo_open();
    /* every warp-path shape (up to 4, 32, 128, 256, 512, 1024 columns), float4 rows
     * (cols % 4 == 0) and scalar ones, and the block path beyond 1024 */
    static const int64_t cols[] = {1, 2, 3, 4, 7, 33, 128, 200, 255, 257, 1001, 1024, 1025, 3000};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        softmax_special_parity(&d, 2 * N_ROW_KINDS + 3, cols[i], 2200 + 10 * i);
    duo_close(&d);
}

/* Cross-entropy of the extreme rows: each of the first N_ROW_KINDS rows alone (so that a NaN
 * row does not hide the others: losses of 2e4, Inf, NaN, 0), the whole batch, and the
 * gradient of the sum scaled by dloss. */
static void cross_entropy_special_parity(duo *d, int64_t rows, int64_t cols, uint64_t seed) {
    int64_t sx[2] = {rows, cols}, sl[1] = {rows}, one[1] = {1}, srow[2] = {1, cols};
    float *h = extreme_rows(rows, cols, seed);
    int32_t *lab = malloc((size_t)rows * sizeof *lab);
    for (int64_t r = 0; r < rows; r++)
        lab[r] = (int32_t)((r * 5 + 3) % cols);
    pair x = pair_host(d, 2, sx, h), labels = pair_i32(d, 1, sl, lab);
    pair loss = pair_nan(d, 1, one), dx = pair_nan(d, 2, sx);
    pair dloss = pair_random(d, 1, one, 7, 0.7f, 0.7f);
    char what[80];
    for (int64_t r = 0; r < N_ROW_KINDS && r < rows; r++) {
        pair xr = pair_host(d, 2, srow, h + r * cols), lr = pair_i32(d, 1, one, lab + r);
        BOTH(s)
        AX_ASSERT_OK(
            ax_cross_entropy_forward(d->ctx[s], xr.t[s], lr.t[s], AX_REDUCE_SUM, loss.t[s]));
        snprintf(what, sizeof what, "cross_entropy of row kind %lld, %lld columns", (long long)r,
                 (long long)cols);
        pair_expect_ieee(&loss, LOSS_ATOL, LOSS_RTOL, TH_ZERO_VALUE, what);
        pair_free(&xr);
        pair_free(&lr);
    }
    snprintf(what, sizeof what, "cross_entropy of extreme rows, %lld x %lld", (long long)rows,
             (long long)cols);
    BOTH(s)
    AX_ASSERT_OK(
        ax_cross_entropy_forward(d->ctx[s], x.t[s], labels.t[s], AX_REDUCE_MEAN, loss.t[s]));
    pair_expect_ieee(&loss, LOSS_ATOL, LOSS_RTOL, TH_ZERO_VALUE, what);
    BOTH(s)
    AX_ASSERT_OK(ax_cross_entropy_backward(d->ctx[s], x.t[s], labels.t[s], AX_REDUCE_SUM,
                                           dloss.t[s], dx.t[s]));
    pair_expect_ieee(&dx, ACT_ATOL, ACT_RTOL, TH_ZERO_VALUE, what);
    PAIRS_FREE(&x, &labels, &loss, &dx, &dloss);
    free(h);
    free(lab);
}

Test(parity, cross_entropy_extreme_rows) {
    duo d = duo_open();
    static const int64_t cols[] = {1, 3, 4, 33, 128, 200, 512, 1001, 1025, 3000};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        cross_entropy_special_parity(&d, 2 * N_ROW_KINDS + 1, cols[i], 2300 + 10 * i);
    duo_close(&d);
}

/* MSE and BCE with logits: each of the first 3 N_SPECIALS elements alone through the forward
 * (NaN, Inf or 0 per element), then the gradient of the whole array for both reductions.
 * BCE targets are random in [0, 1] with exact 0 and 1 planted. */
static void elementwise_loss_special_parity(duo *d, int64_t n, uint64_t seed) {
    int64_t sx[1] = {n}, one[1] = {1};
    float *hx = special_host(n, seed, -6, 6, 0), *ht = special_host(n, seed + 1, -2, 2, 3);
    float *hp = malloc((size_t)n * sizeof *hp);
    th_random(hp, n, seed + 2, 0, 1);
    for (int64_t i = 1; i < n; i += 4)
        hp[i] = (float)(i / 4 % 2);
    pair x = pair_host(d, 1, sx, hx), target = pair_host(d, 1, sx, ht),
         prob = pair_host(d, 1, sx, hp);
    pair loss = pair_nan(d, 1, one), dx = pair_nan(d, 1, sx);
    char what[80];
    for (int bce = 0; bce < 2; bce++) {
        const float *ht_or_hp = bce ? hp : ht;
        for (int64_t i = 0; i < n && i < 3 * N_SPECIALS; i++) {
            pair xi = pair_host(d, 1, one, hx + i), ti = pair_host(d, 1, one, ht_or_hp + i);
            BOTH(s)
            AX_ASSERT_OK(
                bce ? ax_bce_with_logits_forward(d->ctx[s], xi.t[s], ti.t[s], AX_REDUCE_SUM,
                                                 loss.t[s])
                    : ax_mse_loss_forward(d->ctx[s], xi.t[s], ti.t[s], AX_REDUCE_SUM, loss.t[s]));
            snprintf(what, sizeof what, "%s of x = %g, t = %g", bce ? "bce" : "mse", (double)hx[i],
                     (double)ht_or_hp[i]);
            /* BCE's max(x, 0) - x t may cancel down from |x| to |x| (1 - t): the GPU's
             * rounding of x t (|x| eps / 2, eps = 1.2e-7) is then not small next to the result */
            double atol = LOSS_ATOL + (bce && isfinite(hx[i]) ? 1.2e-7 * fabs(hx[i]) : 0.0);
            pair_expect_ieee(&loss, atol, LOSS_RTOL, TH_ZERO_VALUE, what);
            pair_free(&xi);
            pair_free(&ti);
        }
        for (int red = 0; red < 2; red++) {
            pair *t = bce ? &prob : &target;
            snprintf(what, sizeof what, "%s gradient with specials, n = %lld", bce ? "bce" : "mse",
                     (long long)n);
            BOTH(s)
            AX_ASSERT_OK(
                bce ? ax_bce_with_logits_backward(d->ctx[s], x.t[s], t->t[s], red, NULL, dx.t[s])
                    : ax_mse_loss_backward(d->ctx[s], x.t[s], t->t[s], red, NULL, dx.t[s]));
            pair_expect_ieee(&dx, ACT_ATOL / (red == AX_REDUCE_MEAN ? (double)n : 1.0), ACT_RTOL,
                             TH_ZERO_SIGN, what);
        }
    }
    PAIRS_FREE(&x, &target, &prob, &loss, &dx);
    free(hx);
    free(ht);
    free(hp);
}

Test(parity, mse_and_bce_special_values) {
    duo d = duo_open();
    for (size_t i = 0; i < N_ODD_SIZES; i++)
        elementwise_loss_special_parity(&d, odd_sizes[i], 2400 + 10 * i);
    duo_close(&d);
}

/* add, mul, scale, axpy (one fused multiply-add on both) and dropout (x * 0 for a dropped
 * element) on specials: the same correctly rounded operations, so equal, zeros by sign bit
 * and NaN as NaN (a NaN's payload may differ between the backends). */
Test(parity, elementwise_and_dropout_special_values) {
    duo d = duo_open();
    for (size_t i = 0; i < N_ODD_SIZES; i++) {
        int64_t n[1] = {odd_sizes[i]};
        pair a = pair_special(&d, n[0], 2500 + i, -4, 4, 0, INFINITY);
        pair b = pair_special(&d, n[0], 2510 + i, -4, 4, 1 + (int64_t)i, INFINITY);
        pair y = pair_nan(&d, 1, n);
        BOTH(s) AX_ASSERT_OK(ax_add(d.ctx[s], a.t[s], b.t[s], y.t[s]));
        pair_expect_ieee(&y, 0, 0, TH_ZERO_SIGN, "add special");
        BOTH(s) AX_ASSERT_OK(ax_mul(d.ctx[s], a.t[s], b.t[s], y.t[s]));
        pair_expect_ieee(&y, 0, 0, TH_ZERO_SIGN, "mul special");
        BOTH(s) AX_ASSERT_OK(ax_scale(d.ctx[s], -0.5f, a.t[s], y.t[s]));
        pair_expect_ieee(&y, 0, 0, TH_ZERO_SIGN, "scale special");
        BOTH(s) AX_ASSERT_OK(ax_axpy(d.ctx[s], 3.0f, a.t[s], b.t[s]));
        pair_expect_ieee(&b, 0, 0, TH_ZERO_SIGN, "axpy special");
        static const float ps[] = {0.3f, 1.0f};
        for (int k = 0; k < 2; k++) {
            BOTH(s) AX_ASSERT_OK(ax_dropout_forward(d.ctx[s], ps[k], 77, i, a.t[s], y.t[s]));
            pair_expect_ieee(&y, 0, 0, TH_ZERO_SIGN, "dropout special");
            BOTH(s) AX_ASSERT_OK(ax_dropout_backward(d.ctx[s], ps[k], 77, i, b.t[s], y.t[s]));
            pair_expect_ieee(&y, 0, 0, TH_ZERO_SIGN, "dropout backward special");
        }
        pair_free(&a);
        pair_free(&b);
        pair_free(&y);
    }
    duo_close(&d);
}

/* Dropout on ctx of specials follows y = x * (keep ? 1 / (1 - p) : 0) exactly: a dropped NaN
 * or Inf is NaN (PyTorch's input * mask), a dropped x < 0 is -0, kept values are scaled. */
static void check_dropout_special(ax_ctx *ctx, int64_t n, float p) {
    int64_t shape[1] = {n};
    float *hx = special_host(n, 2600, -3, 3, 0);
    ax_tensor *x = th_tensor(ctx, 1, shape, hx);
    ax_tensor *y = th_nan_tensor(ctx, 1, shape), *u = th_nan_tensor(ctx, 1, shape);
    AX_ASSERT_OK(ax_dropout_forward(ctx, p, 5, 9, x, y));
    AX_ASSERT_OK(ax_rng_uniform(ctx, u, 0.0f, 1.0f, 5, 9));
    float *hy = th_to_host(y), *hu = th_to_host(u), *want = malloc((size_t)n * sizeof *want);
    float scale = 1.0f / (1.0f - p);
    int64_t dropped_nan = 0;
    for (int64_t e = 0; e < n; e++) {
        want[e] = hx[e] * (hu[e] >= p ? scale : 0.0f);
        dropped_nan += hu[e] < p && !isfinite(hx[e]);
    }
    cr_assert(dropped_nan > 0, "no NaN or Inf was dropped: the test checks nothing there");
    th_assert_ieee(hy, want, n, 0, 0, TH_ZERO_SIGN, "dropout of specials");
    free(hx);
    free(hy);
    free(hu);
    free(want);
    ax_tensor_destroy(x);
    ax_tensor_destroy(y);
    ax_tensor_destroy(u);
}

Test(parity, dropout_cpu_special_values) {
    ax_ctx *ctx = th_cpu_ctx();
    check_dropout_special(ctx, 4099, 0.5f);
    ax_ctx_destroy(ctx);
}

Test(parity, dropout_gpu_special_values) {
    ax_ctx *ctx = th_gpu_ctx_or_skip();
    check_dropout_special(ctx, (1 << 20) + 3, 0.5f);
    AX_ASSERT_OK(ax_ctx_synchronize(ctx));
    ax_ctx_destroy(ctx);
}

/* Bias add and gradient, sums and means over every axis, sum of squares and penalties with a
 * sparse sprinkling of NaN, +-Inf, -0 and denormals (every 97th element, so most outputs stay
 * finite and are compared too), and sums of -0 only (+0, as PyTorch's sums start at +0). */
Test(parity, bias_and_reductions_special_values) {
    duo d = duo_open();
    static const float sparse[] = {NAN, INFINITY, -INFINITY, -0.0f, 1e-40f};
    int64_t shape[3] = {33, 257, 7}, n = 33 * 257 * 7, sb[1] = {257}, one[1] = {1};
    float *h = malloc((size_t)n * sizeof *h);
    th_random_away_from_zero(h, n, 2700, -1, 1, 1e-3f);
    for (int64_t i = 5; i < n; i += 97)
        h[i] = sparse[(i / 97) % 5];
    pair x = pair_host(&d, 3, shape, h), b = pair_special(&d, 257, 2710, -1, 1, 0, INFINITY);
    pair db = pair_nan(&d, 1, sb), out = pair_nan(&d, 1, one), dw = pair_nan(&d, 3, shape);
    BOTH(s) AX_ASSERT_OK(ax_bias_grad(d.ctx[s], x.t[s], 1, db.t[s]));
    pair_expect_ieee(&db, reduce_atol(n / 257), REDUCE_RTOL, TH_ZERO_SIGN, "bias_grad special");
    BOTH(s) AX_ASSERT_OK(ax_sum_squares(d.ctx[s], x.t[s], 0, out.t[s]));
    pair_expect_ieee(&out, LOSS_ATOL, LOSS_RTOL, TH_ZERO_SIGN, "sum_squares special");
    BOTH(s) AX_ASSERT_OK(ax_fill(d.ctx[s], out.t[s], 0.0f));
    BOTH(s) AX_ASSERT_OK(ax_fill(d.ctx[s], dw.t[s], 0.0f));
    BOTH(s) AX_ASSERT_OK(ax_l1_penalty(d.ctx[s], x.t[s], 0.1f, out.t[s], dw.t[s]));
    pair_expect_ieee(&out, LOSS_ATOL, LOSS_RTOL, TH_ZERO_SIGN, "l1 special");
    pair_expect_ieee(&dw, 0, 0, TH_ZERO_SIGN, "l1 dw special");
    for (int axis = 0; axis < 3; axis++)
        for (int mean = 0; mean < 2; mean++) {
            int64_t sy[2], count = shape[axis];
            for (int i = 0, j = 0; i < 3; i++)
                if (i != axis)
                    sy[j++] = shape[i];
            pair y = pair_nan(&d, 2, sy);
            BOTH(s)
            AX_ASSERT_OK(mean ? ax_mean(d.ctx[s], x.t[s], axis, y.t[s])
                              : ax_sum(d.ctx[s], x.t[s], axis, y.t[s]));
            pair_expect_ieee(&y, reduce_atol(count) / (mean ? (double)count : 1.0), REDUCE_RTOL,
                             TH_ZERO_SIGN, mean ? "mean special" : "sum special");
            pair_free(&y);
        }
    BOTH(s) AX_ASSERT_OK(ax_bias_add(d.ctx[s], x.t[s], b.t[s], 1));
    pair_expect_ieee(&x, 0, 0, TH_ZERO_SIGN, "bias_add special");
    /* all -0: every sum is +0 */
    BOTH(s) AX_ASSERT_OK(ax_fill(d.ctx[s], x.t[s], -0.0f));
    BOTH(s) AX_ASSERT_OK(ax_bias_grad(d.ctx[s], x.t[s], 1, db.t[s]));
    pair_expect_ieee(&db, 0, 0, TH_ZERO_SIGN, "bias_grad of -0");
    float *got = th_to_host(db.t[GPU]);
    cr_assert(got[0] == 0.0f && !signbit(got[0]), "bias_grad of -0 is %g, not +0", (double)got[0]);
    free(got);
    PAIRS_FREE(&x, &b, &db, &out, &dw);
    free(h);
    duo_close(&d);
}
