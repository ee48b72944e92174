/* Embedding lookup (ax_embedding_forward / ax_embedding_backward).
 * - golden: torch.nn.Embedding's output and weight gradient (tests/golden/gen_embedding.py)
 *   with repeated indices, unused rows, a one-row and a one-column table, and the accumulating
 *   backward (prior + gradient), on the CPU reference and on the GPU where one works.
 * - the backward's order: every element of dweight is one f32 sum in increasing i, checked
 *   bit for bit against a sum written out here (the order CUDA follows too), and a second run
 *   gives the same bits.
 * - gradcheck of the weight (tests/support/gradcheck.h); a planted error is caught.
 * - IEEE values pass through the gather unchanged (NaN, +-Inf, -0).
 * - bad input: out-of-range indices (V, -1, INT32_MIN, INT32_MAX) forward and backward with
 *   nothing written, wrong dtypes, shapes, NULLs, another context, aliasing.
 * - GPU: parity with the CPU reference (bit-identical: a gather, and the same sums in the same
 *   order) on odd sizes with NaN-filled outputs, two backward runs bit-identical, and an
 *   out-of-range index reported by the next synchronizing call (and only once).
 *
 * Tolerances: the forward copies, so it is exact; the golden backward adds at most 4 values
 * of N(0, 1) in f32 on both sides in the same order, so 1e-6 absolute and relative covers the
 * text round trip (9 significant digits); a row added to the wrong index is off by O(1). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "gradcheck.h"
#include "helpers.h"
#include "ieee.h"

#define GOLD_TOL 1e-6

/* ---------------------------------------------------------------- golden */

static void golden_one(ax_ctx *ctx, const char *name) {
    gd_case *c = gd_load("embedding", name);
    ax_tensor *idx = gd_tensor_on(ctx, c, "idx"), *w = gd_tensor_on(ctx, c, "weight");
    ax_tensor *dout = gd_tensor_on(ctx, c, "dout"), *prior = gd_tensor_on(ctx, c, "prior");
    const gd_tensor *gout = gd_get(c, "out");
    ax_tensor *out = th_nan_tensor(ctx, gout->ndim, gout->shape);
    ax_tensor *dw = th_nan_tensor(ctx, 2, gd_get(c, "weight")->shape);
    AX_ASSERT_OK(ax_embedding_forward(ctx, idx, w, out));
    gd_assert_close(out, c, "out", 0.0, 0.0);
    AX_ASSERT_OK(ax_embedding_backward(ctx, idx, dout, 0, dw));
    gd_assert_close(dw, c, "dweight", GOLD_TOL, GOLD_TOL);
    AX_ASSERT_OK(ax_embedding_backward(ctx, idx, dout, 1, prior));
    gd_assert_close(prior, c, "dweight_acc", GOLD_TOL, GOLD_TOL);
    ax_tensor *tensors[] = {idx, w, dout, prior, out, dw};
    for (size_t k = 0; k < sizeof tensors / sizeof *tensors; k++)
        ax_tensor_destroy(tensors[k]);
    gd_free(c);
}

static void golden_all(ax_ctx *ctx) {
    const char *names[] = {"repeats_2d", "one_row", "one_col", "single"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
        golden_one(ctx, names[k]);
}

Test(golden, embedding_cpu) {
    ax_ctx *ctx = th_cpu_ctx();
    golden_all(ctx);
    ax_ctx_destroy(ctx);
}

Test(golden, embedding_gpu) {
    ax_ctx *ctx = th_gpu_ctx_or_skip();
    golden_all(ctx);
    AX_ASSERT_OK(ax_ctx_synchronize(ctx));
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- the backward's sums */

/* dweight by hand: f32 adds in increasing i, after prior (NULL: from 0). */
static float *scatter_by_hand(const int32_t *idx, int64_t n, const float *dout, int64_t v,
                              int64_t d, const float *prior) {
    float *dw = malloc((size_t)(v * d) * sizeof *dw);
    for (int64_t e = 0; e < v * d; e++)
        dw[e] = prior ? prior[e] : 0.0f;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) {
            volatile float s = dw[idx[i] * d + j] + dout[i * d + j]; /* one rounding each */
            dw[idx[i] * d + j] = s;
        }
    return dw;
}

/* Indices drawn from [0, v) with many repeats (every third one is index 1). */
static int32_t *random_indices(int64_t n, int64_t v, uint64_t seed) {
    float *u = malloc((size_t)n * sizeof *u);
    th_random(u, n, seed, 0.0f, (float)v);
    int32_t *idx = malloc((size_t)n * sizeof *idx);
    for (int64_t i = 0; i < n; i++) {
        int32_t k = (int32_t)u[i];
        idx[i] = i % 3 == 2 && v > 1 ? 1 : (k >= v ? (int32_t)v - 1 : k);
    }
    free(u);
    return idx;
}

Test(embedding, backward_sums_in_index_order) {
    ax_ctx *ctx = th_cpu_ctx();
    const int64_t n = 300, v = 9, d = 7;
    int32_t *idx = random_indices(n, v, 11);
    /* values of mixed magnitude, so a different order of the adds changes the bits */
    float *g = malloc((size_t)(n * d) * sizeof *g), *prior = malloc((size_t)(v * d) * sizeof *prior);
    th_random(g, n * d, 12, -1.0f, 1.0f);
    for (int64_t e = 0; e < n * d; e += 5)
        g[e] *= 1e4f;
    th_random(prior, v * d, 13, -3.0f, 3.0f);
    int64_t ni = n, gs[2] = {n, d}, ws[2] = {v, d};
    ax_tensor *ti = th_tensor_i32(ctx, 1, &ni, idx), *tg = th_tensor(ctx, 2, gs, g);
    ax_tensor *dw = th_nan_tensor(ctx, 2, ws), *acc = th_tensor(ctx, 2, ws, prior);
    AX_ASSERT_OK(ax_embedding_backward(ctx, ti, tg, 0, dw));
    float *want = scatter_by_hand(idx, n, g, v, d, NULL), *got = th_to_host(dw);
    th_assert_equal(got, want, v * d, "dweight (overwrite)");
    AX_ASSERT_OK(ax_embedding_backward(ctx, ti, tg, 1, acc));
    float *want_acc = scatter_by_hand(idx, n, g, v, d, prior), *got_acc = th_to_host(acc);
    th_assert_equal(got_acc, want_acc, v * d, "dweight (accumulate)");
    free(want), free(got), free(want_acc), free(got_acc), free(idx), free(g), free(prior);
    ax_tensor_destroy(ti), ax_tensor_destroy(tg), ax_tensor_destroy(dw), ax_tensor_destroy(acc);
    ax_ctx_destroy(ctx);
}

/* Rows no index names are 0 when overwriting (the NaN they held is gone) and untouched when
 * accumulating. */
Test(embedding, unused_rows) {
    ax_ctx *ctx = th_cpu_ctx();
    int32_t idx[] = {2, 2};
    int64_t ni = 2, gs[2] = {2, 3}, ws[2] = {4, 3};
    float g[6] = {1, 2, 3, 4, 5, 6};
    ax_tensor *ti = th_tensor_i32(ctx, 1, &ni, idx), *tg = th_tensor(ctx, 2, gs, g);
    float tens[12];
    for (int e = 0; e < 12; e++)
        tens[e] = 10.0f;
    ax_tensor *dw = th_nan_tensor(ctx, 2, ws), *acc = th_tensor(ctx, 2, ws, tens);
    AX_ASSERT_OK(ax_embedding_backward(ctx, ti, tg, 0, dw));
    float want[12] = {0, 0, 0, 0, 0, 0, 5, 7, 9, 0, 0, 0};
    float *got = th_to_host(dw);
    th_assert_equal(got, want, 12, "dweight");
    AX_ASSERT_OK(ax_embedding_backward(ctx, ti, tg, 1, acc));
    float want_acc[12] = {10, 10, 10, 10, 10, 10, 15, 17, 19, 10, 10, 10};
    float *ga = th_to_host(acc);
    th_assert_equal(ga, want_acc, 12, "dweight (accumulate)");
    /* any nonzero accumulate adds (ops.h: accumulate ? += : =), not only 1 */
    AX_ASSERT_OK(ax_embedding_backward(ctx, ti, tg, -1, acc));
    float want_twice[12] = {10, 10, 10, 10, 10, 10, 20, 24, 28, 10, 10, 10};
    float *g2 = th_to_host(acc);
    th_assert_equal(g2, want_twice, 12, "dweight (accumulate = -1)");
    free(got), free(ga), free(g2);
    ax_tensor_destroy(ti), ax_tensor_destroy(tg), ax_tensor_destroy(dw), ax_tensor_destroy(acc);
    ax_ctx_destroy(ctx);
}

/* out may be [n, D] or the indices' shape + [D]; a 0-dim tensor is one index. */
Test(embedding, output_shapes) {
    ax_ctx *ctx = th_cpu_ctx();
    float w[6] = {1, 2, 3, 4, 5, 6};
    int32_t idx[4] = {2, 0, 1, 2};
    int64_t ws[2] = {3, 2}, is[2] = {2, 2}, flat[2] = {4, 2}, full[3] = {2, 2, 2};
    ax_tensor *tw = th_tensor(ctx, 2, ws, w), *ti = th_tensor_i32(ctx, 2, is, idx);
    ax_tensor *o1 = th_nan_tensor(ctx, 2, flat), *o2 = th_nan_tensor(ctx, 3, full);
    AX_ASSERT_OK(ax_embedding_forward(ctx, ti, tw, o1));
    AX_ASSERT_OK(ax_embedding_forward(ctx, ti, tw, o2));
    float want[8] = {5, 6, 1, 2, 3, 4, 5, 6}; /* rows 2, 0, 1, 2 */
    float *g1 = th_to_host(o1), *g2 = th_to_host(o2);
    th_assert_equal(g1, want, 8, "out [n, D]");
    th_assert_equal(g2, want, 8, "out [2, 2, D]");
    ax_tensor *scalar = NULL, *o0 = th_nan_tensor(ctx, 1, &ws[1]);
    int32_t one = 2;
    AX_ASSERT_OK(ax_tensor_from_host(ctx, AX_I32, 0, NULL, &one, &scalar));
    AX_ASSERT_OK(ax_embedding_forward(ctx, scalar, tw, o0));
    float *g0 = th_to_host(o0);
    th_assert_equal(g0, want, 2, "out of a 0-dim index (2)");
    free(g1), free(g2), free(g0);
    ax_tensor *ts[] = {tw, ti, o1, o2, scalar, o0};
    for (size_t k = 0; k < 6; k++)
        ax_tensor_destroy(ts[k]);
    ax_ctx_destroy(ctx);
}

/* The gather copies bits: NaN, +-Inf and -0 come out as they went in. */
Test(embedding, ieee_values_pass_through) {
    ax_ctx *ctx = th_cpu_ctx();
    float w[4] = {NAN, INFINITY, -INFINITY, -0.0f};
    int32_t idx[3] = {1, 0, 1};
    int64_t ws[2] = {2, 2}, ni = 3, os[2] = {3, 2};
    ax_tensor *tw = th_tensor(ctx, 2, ws, w), *ti = th_tensor_i32(ctx, 1, &ni, idx);
    ax_tensor *out = th_nan_tensor(ctx, 2, os);
    AX_ASSERT_OK(ax_embedding_forward(ctx, ti, tw, out));
    float want[6] = {-INFINITY, -0.0f, NAN, INFINITY, -INFINITY, -0.0f};
    float *got = th_to_host(out);
    th_assert_ieee(got, want, 6, 0.0, 0.0, TH_ZERO_SIGN, "out");
    cr_assert(signbit(got[1]) && signbit(got[5]), "-0 keeps its sign");
    free(got);
    ax_tensor_destroy(tw), ax_tensor_destroy(ti), ax_tensor_destroy(out);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- gradcheck */

static ax_status emb_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    (void)op;
    return ax_embedding_forward(ctx, x[1], x[0], y);
}

static ax_status emb_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                         const ax_tensor *dy, ax_tensor *const *dx) {
    (void)y;
    if (!dx[0])
        return AX_OK;
    ax_status st = ax_embedding_backward(ctx, x[1], dy, 0, dx[0]);
    if (st == AX_OK && op->params) /* planted error: the gradient added twice */
        st = ax_embedding_backward(ctx, x[1], dy, 1, dx[0]);
    return st;
}

static gc_op emb_op(ax_ctx *ctx, int64_t n, int64_t v, int64_t d, uint64_t seed,
                    const void *planted) {
    gc_op op = {0};
    op.name = "embedding";
    op.n_inputs = 2;
    int64_t ws[2] = {v, d};
    op.x[0] = th_random_tensor(ctx, 2, ws, seed, -1.0f, 1.0f, 0.0f);
    int32_t *idx = random_indices(n, v, seed + 1);
    op.x[1] = th_tensor_i32(ctx, 1, &n, idx);
    free(idx);
    op.wrt[0] = 1;
    op.x_name[0] = "weight";
    op.x_name[1] = "indices";
    op.y_ndim = 2;
    op.y_shape[0] = n;
    op.y_shape[1] = d;
    op.forward = emb_fwd;
    op.backward = emb_bwd;
    op.params = planted;
    return op;
}

Test(gradcheck, embedding) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t sizes[][3] = {{12, 5, 3}, {1, 1, 1}, {20, 2, 4}, {7, 9, 1}};
    for (size_t k = 0; k < 4; k++) {
        gc_op op = emb_op(ctx, sizes[k][0], sizes[k][1], sizes[k][2], 100 + k, NULL);
        gc_assert(ctx, &op, 200 + k);
        gc_op_free(&op);
    }
    ax_ctx_destroy(ctx);
}

Test(gradcheck, embedding_planted_error_is_caught) {
    ax_ctx *ctx = th_cpu_ctx();
    static const int planted = 1;
    gc_op op = emb_op(ctx, 12, 5, 3, 7, &planted);
    gc_result r = gc_check(ctx, &op, 8, gc_default_tolerance());
    cr_assert(!r.ok, "a doubled gradient passed the check: %s", r.message);
    gc_op_free(&op);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- bad input */

Test(badinput, embedding_index_out_of_range) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t ws[2] = {4, 3}, ni = 3, os[2] = {3, 3};
    ax_tensor *w = th_random_tensor(ctx, 2, ws, 1, -1.0f, 1.0f, 0.0f);
    ax_tensor *dout = th_random_tensor(ctx, 2, os, 2, -1.0f, 1.0f, 0.0f);
    const int32_t bad[] = {4, -1, INT32_MIN, INT32_MAX};
    for (size_t k = 0; k < 4; k++) {
        int32_t idx[3] = {0, 3, bad[k]};
        ax_tensor *ti = th_tensor_i32(ctx, 1, &ni, idx);
        ax_tensor *out = th_nan_tensor(ctx, 2, os), *dw = th_nan_tensor(ctx, 2, ws);
        AX_ASSERT_FAILS(ax_embedding_forward(ctx, ti, w, out), AX_ERR_INVALID_ARG,
                        "ax_embedding_forward");
        cr_assert(strstr(ax_last_error(), "indices[2]") && strstr(ax_last_error(), "[0, 4)"),
                  "message names the position and the range: %s", ax_last_error());
        AX_ASSERT_FAILS(ax_embedding_backward(ctx, ti, dout, 0, dw), AX_ERR_INVALID_ARG,
                        "ax_embedding_backward");
        float *go = th_to_host(out), *gw = th_to_host(dw);
        for (int e = 0; e < 9; e++)
            cr_assert(isnan(go[e]), "out written before the check failed");
        for (int e = 0; e < 12; e++)
            cr_assert(isnan(gw[e]), "dweight written before the check failed");
        free(go), free(gw);
        ax_tensor_destroy(ti), ax_tensor_destroy(out), ax_tensor_destroy(dw);
    }
    ax_tensor_destroy(w), ax_tensor_destroy(dout);
    ax_ctx_destroy(ctx);
}

Test(badinput, embedding_arguments) {
    ax_ctx *ctx = th_cpu_ctx(), *other = th_cpu_ctx();
    int64_t ws[2] = {4, 3}, ni = 2, os[2] = {2, 3}, w3[3] = {4, 3, 1}, wrong_d[2] = {2, 4};
    int64_t wrong_n[2] = {3, 3};
    int32_t idx[2] = {1, 2};
    ax_tensor *w = th_random_tensor(ctx, 2, ws, 1, -1.0f, 1.0f, 0.0f);
    ax_tensor *ti = th_tensor_i32(ctx, 1, &ni, idx), *out = th_nan_tensor(ctx, 2, os);
    ax_tensor *fi = th_random_tensor(ctx, 1, &ni, 2, 0.0f, 3.0f, 0.0f); /* f32 indices */
    ax_tensor *wi = th_tensor_i32(ctx, 2, os, (int32_t[6]){0}), *wbad = th_nan_tensor(ctx, 3, w3);
    ax_tensor *od = th_nan_tensor(ctx, 2, wrong_d), *on = th_nan_tensor(ctx, 2, wrong_n);
    ax_tensor *w1 = th_nan_tensor(ctx, 1, ws), *wo = th_random_tensor(other, 2, ws, 3, -1, 1, 0);
    const char *f = "ax_embedding_forward", *b = "ax_embedding_backward";
    AX_ASSERT_FAILS(ax_embedding_forward(NULL, ti, w, out), AX_ERR_INVALID_ARG, f);
    AX_ASSERT_FAILS(ax_embedding_forward(ctx, NULL, w, out), AX_ERR_INVALID_ARG, f);
    AX_ASSERT_FAILS(ax_embedding_forward(ctx, ti, NULL, out), AX_ERR_INVALID_ARG, f);
    AX_ASSERT_FAILS(ax_embedding_forward(ctx, ti, w, NULL), AX_ERR_INVALID_ARG, f);
    AX_ASSERT_FAILS(ax_embedding_forward(ctx, fi, w, out), AX_ERR_DTYPE, f);
    AX_ASSERT_FAILS(ax_embedding_forward(ctx, ti, w, wi), AX_ERR_DTYPE, f);
    AX_ASSERT_FAILS(ax_embedding_forward(ctx, ti, wbad, out), AX_ERR_SHAPE, f);
    AX_ASSERT_FAILS(ax_embedding_forward(ctx, ti, w1, out), AX_ERR_SHAPE, f);
    cr_assert(strstr(ax_last_error(), "weight has shape [4], expected 2 dims"), "%s",
              ax_last_error()); /* the table is blamed, not out */
    AX_ASSERT_FAILS(ax_embedding_forward(ctx, ti, w, od), AX_ERR_SHAPE, f);
    AX_ASSERT_FAILS(ax_embedding_forward(ctx, ti, w, on), AX_ERR_SHAPE, f);
    AX_ASSERT_FAILS(ax_embedding_forward(ctx, ti, wo, out), AX_ERR_DEVICE, f);
    AX_ASSERT_FAILS(ax_embedding_forward(ctx, ti, w, w), AX_ERR_SHAPE, f); /* [4, 3] != 2 rows */
    AX_ASSERT_FAILS(ax_embedding_backward(NULL, ti, out, 0, w), AX_ERR_INVALID_ARG, b);
    AX_ASSERT_FAILS(ax_embedding_backward(ctx, fi, out, 0, w), AX_ERR_DTYPE, b);
    AX_ASSERT_FAILS(ax_embedding_backward(ctx, ti, od, 0, w), AX_ERR_SHAPE, b);
    AX_ASSERT_FAILS(ax_embedding_backward(ctx, ti, out, 0, wbad), AX_ERR_SHAPE, b);
    AX_ASSERT_FAILS(ax_embedding_backward(ctx, ti, out, 0, NULL), AX_ERR_INVALID_ARG, b);
    AX_ASSERT_FAILS(ax_embedding_backward(ctx, ti, out, 0, wo), AX_ERR_DEVICE, b);
    ax_tensor *ts[] = {w, ti, out, fi, wi, wbad, od, on, w1, wo};
    for (size_t k = 0; k < sizeof ts / sizeof *ts; k++)
        ax_tensor_destroy(ts[k]);
    ax_ctx_destroy(ctx), ax_ctx_destroy(other);
}

/* out aliasing weight (the same storage, a shape that fits) is refused. */
Test(badinput, embedding_aliasing) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t ws[2] = {4, 3}, ni = 4;
    int32_t idx[4] = {0, 1, 2, 3};
    ax_tensor *w = th_random_tensor(ctx, 2, ws, 1, -1.0f, 1.0f, 0.0f);
    ax_tensor *ti = th_tensor_i32(ctx, 1, &ni, idx);
    AX_ASSERT_FAILS(ax_embedding_forward(ctx, ti, w, w), AX_ERR_INVALID_ARG,
                    "ax_embedding_forward");
    AX_ASSERT_FAILS(ax_embedding_backward(ctx, ti, w, 0, w), AX_ERR_INVALID_ARG,
                    "ax_embedding_backward");
    ax_tensor_destroy(w), ax_tensor_destroy(ti);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- GPU */

static void parity_one(ax_ctx *gpu, ax_ctx *cpu, int64_t n, int64_t v, int64_t d,
                       uint64_t seed) {
    int32_t *idx = random_indices(n, v, seed);
    int64_t ws[2] = {v, d}, os[2] = {n, d};
    float *w = malloc((size_t)(v * d) * sizeof *w), *g = malloc((size_t)(n * d) * sizeof *g);
    float *prior = malloc((size_t)(v * d) * sizeof *prior);
    th_random(w, v * d, seed + 1, -2.0f, 2.0f);
    th_random(g, n * d, seed + 2, -2.0f, 2.0f);
    th_random(prior, v * d, seed + 3, -2.0f, 2.0f);
    ax_ctx *ctxs[2] = {cpu, gpu};
    float *out[2], *dw[2], *acc[2];
    for (int s = 0; s < 2; s++) {
        ax_ctx *c = ctxs[s];
        ax_tensor *ti = th_tensor_i32(c, 1, &n, idx), *tw = th_tensor(c, 2, ws, w);
        ax_tensor *tg = th_tensor(c, 2, os, g), *to = th_nan_tensor(c, 2, os);
        ax_tensor *td = th_nan_tensor(c, 2, ws), *ta = th_tensor(c, 2, ws, prior);
        AX_ASSERT_OK(ax_embedding_forward(c, ti, tw, to));
        AX_ASSERT_OK(ax_embedding_backward(c, ti, tg, 0, td));
        AX_ASSERT_OK(ax_embedding_backward(c, ti, tg, 1, ta));
        AX_ASSERT_OK(ax_ctx_synchronize(c));
        out[s] = th_to_host(to), dw[s] = th_to_host(td), acc[s] = th_to_host(ta);
        if (s == 1) { /* a second run gives the same bits */
            AX_ASSERT_OK(ax_fill(c, td, NAN));
            AX_ASSERT_OK(ax_embedding_backward(c, ti, tg, 0, td));
            float *again = th_to_host(td);
            th_assert_equal(again, dw[1], v * d, "second GPU backward");
            free(again);
        }
        ax_tensor *ts[] = {ti, tw, tg, to, td, ta};
        for (size_t k = 0; k < 6; k++)
            ax_tensor_destroy(ts[k]);
    }
    th_assert_equal(out[1], out[0], n * d, "GPU forward");
    th_assert_equal(dw[1], dw[0], v * d, "GPU backward");
    th_assert_equal(acc[1], acc[0], v * d, "GPU accumulating backward");
    for (int s = 0; s < 2; s++)
        free(out[s]), free(dw[s]), free(acc[s]);
    free(idx), free(w), free(g), free(prior);
}

Test(parity, embedding) {
    ax_ctx *gpu = th_gpu_ctx_or_skip(), *cpu = th_cpu_ctx();
    /* n, V, D: one element; odd tails; many partitions; a vocabulary larger than the
     * partitions; a long batch of a char LM */
    int64_t sizes[][3] = {{1, 1, 1},   {7, 5, 33},  {257, 3, 1},    {33, 1000, 7},
                          {2048, 65, 129}, {5000, 50000, 64}, {100, 7, 1025}};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
        parity_one(gpu, cpu, sizes[k][0], sizes[k][1], sizes[k][2], 300 + 10 * k);
    ax_ctx_destroy(cpu);
    ax_ctx_destroy(gpu);
}

/* On the GPU a bad index returns AX_OK at the call (no synchronization), its row is NaN, and
 * the next synchronizing call reports it, naming the op, the position and the value; the
 * call after that is clean again. */
Test(parity, embedding_bad_index_reported_at_sync) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
    int64_t ws[2] = {4, 3}, ni = 3, os[2] = {3, 3};
    int32_t idx[3] = {0, 7, 3};
    ax_tensor *w = th_random_tensor(gpu, 2, ws, 1, -1.0f, 1.0f, 0.0f);
    ax_tensor *ti = th_tensor_i32(gpu, 1, &ni, idx), *out = th_nan_tensor(gpu, 2, os);
    ax_tensor *dw = th_nan_tensor(gpu, 2, ws);
    AX_ASSERT_OK(ax_embedding_forward(gpu, ti, w, out));
    AX_ASSERT_FAILS(ax_ctx_synchronize(gpu), AX_ERR_INVALID_ARG, "ax_embedding_forward");
    cr_assert(strstr(ax_last_error(), "indices[1] = 7"), "%s", ax_last_error());
    AX_ASSERT_OK(ax_ctx_synchronize(gpu));
    float *go = th_to_host(out);
    cr_assert(isnan(go[3]) && isnan(go[5]) && !isnan(go[0]) && !isnan(go[8]), "row 1 is NaN");
    AX_ASSERT_OK(ax_embedding_backward(gpu, ti, out, 0, dw));
    float host[12];
    AX_ASSERT_FAILS(ax_tensor_to_host(dw, host, sizeof host), AX_ERR_INVALID_ARG,
                    "ax_embedding_backward");
    AX_ASSERT_OK(ax_ctx_synchronize(gpu));
    free(go);
    ax_tensor_destroy(w), ax_tensor_destroy(ti), ax_tensor_destroy(out), ax_tensor_destroy(dw);
    ax_ctx_destroy(gpu);
}
