/* Sampling helpers of a language model: ax_softmax_temperature and ax_multinomial.
 * - softmax with a temperature against the formula in double (rtol 1e-6: the reference is
 *   double, axon rounds once to f32 after double math), T = 1 against ax_softmax_forward,
 *   sharper as T falls (max probability up, entropy down), T -> 0 a one-hot (ties share),
 *   huge logits at a tiny T without overflow, NaN and Inf rows as ax_softmax_forward.
 * - multinomial: the empirical distribution of many draws (one per row of a batch of
 *   identical rows, each row its own Philox element) against the probabilities, by Pearson's
 *   chi-square with the bound of a 1e-6 false alarm (Wilson-Hilferty), so a wrong cumulative
 *   sum or an off-by-one in the inverse CDF (which moves whole classes of mass) fails by
 *   orders of magnitude; zero entries never drawn; unnormalised weights; top-k never outside
 *   the k largest and distributed as the renormalised top k, ties to the lower index, k = 1
 *   the first argmax; a row with one non-zero entry; same (seed, offset) same draws, another
 *   offset other draws.
 * - bad input: temperature <= 0, NaN, Inf; negative, NaN, Inf entries and zero rows named by
 *   row; k < 0; shapes and dtypes.
 * - GPU: softmax parity (rtol 1e-5: float exp and division there), the same draws as the CPU
 *   from the same probs (top-k too), and a bad row reported by the next synchronizing call. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ieee.h"

/* The chi-square value exceeded with probability 1e-6 at df degrees of freedom
 * (Wilson-Hilferty; within 5% of the exact quantile for df >= 1, on the safe side). */
static double chi2_bound(int df) {
    const double z = 4.753; /* upper 1e-6 point of N(0, 1) */
    double a = 2.0 / (9.0 * df), c = 1.0 - a + z * sqrt(a);
    return df * c * c * c;
}

/* rows copies of the row p [v] on ctx. */
static ax_tensor *repeat_rows(ax_ctx *ctx, const float *p, int64_t v, int64_t rows) {
    float *all = malloc((size_t)(rows * v) * sizeof *all);
    for (int64_t r = 0; r < rows; r++)
        memcpy(all + r * v, p, (size_t)v * sizeof *p);
    int64_t shape[2] = {rows, v};
    ax_tensor *t = th_tensor(ctx, 2, shape, all);
    free(all);
    return t;
}

/* Draws of ax_multinomial over rows copies of p; counts[v] gets how often each index came. */
static void draw_counts(ax_ctx *ctx, const float *p, int64_t v, int64_t rows, int64_t k,
                        uint64_t seed, int64_t *counts) {
    ax_tensor *probs = repeat_rows(ctx, p, v, rows), *out = NULL;
    AX_ASSERT_OK(ax_tensor_create(ctx, AX_I32, 1, &rows, &out));
    AX_ASSERT_OK(ax_multinomial(ctx, probs, k, seed, 0, out));
    int32_t *got = malloc((size_t)rows * sizeof *got);
    AX_ASSERT_OK(ax_tensor_to_host(out, got, (size_t)rows * sizeof *got));
    memset(counts, 0, (size_t)v * sizeof *counts);
    for (int64_t r = 0; r < rows; r++) {
        cr_assert(got[r] >= 0 && got[r] < v, "draw %lld = %d outside [0, %lld)", (long long)r,
                  got[r], (long long)v);
        counts[got[r]]++;
    }
    free(got);
    ax_tensor_destroy(probs), ax_tensor_destroy(out);
}

/* Pearson's chi-square of counts against the distribution q (sums to 1); entries with q = 0
 * must have no draws. */
static void assert_distribution(const int64_t *counts, const double *q, int64_t v, int64_t rows,
                                const char *what) {
    double chi2 = 0.0;
    int df = -1;
    for (int64_t j = 0; j < v; j++) {
        if (q[j] == 0.0) {
            cr_assert_eq(counts[j], 0, "%s: index %lld has probability 0 and was drawn %lld times",
                         what, (long long)j, (long long)counts[j]);
            continue;
        }
        double e = (double)rows * q[j], d = (double)counts[j] - e;
        chi2 += d * d / e;
        df++;
    }
    if (df < 1)
        return; /* one possible outcome: the zero checks above are the test */
    cr_assert(chi2 <= chi2_bound(df), "%s: chi-square %.2f > %.2f (df %d)", what, chi2,
              chi2_bound(df), df);
}

static void normalise(const float *p, int64_t v, double *q) {
    double s = 0.0;
    for (int64_t j = 0; j < v; j++)
        s += p[j];
    for (int64_t j = 0; j < v; j++)
        q[j] = p[j] / s;
}

/* ---------------------------------------------------------------- softmax with temperature */

static void softmax_t_ref(const float *x, int64_t v, double t, double *q) {
    double m = x[0], s = 0.0;
    for (int64_t j = 1; j < v; j++)
        m = x[j] > m ? x[j] : m;
    for (int64_t j = 0; j < v; j++)
        s += exp((x[j] - m) / t);
    for (int64_t j = 0; j < v; j++)
        q[j] = exp((x[j] - m) / t) / s;
}

static float *softmax_t(ax_ctx *ctx, const float *x, int64_t rows, int64_t v, float t) {
    int64_t shape[2] = {rows, v};
    ax_tensor *tx = th_tensor(ctx, 2, shape, x), *ty = th_nan_tensor(ctx, 2, shape);
    AX_ASSERT_OK(ax_softmax_temperature(ctx, tx, t, ty));
    float *y = th_to_host(ty);
    ax_tensor_destroy(tx), ax_tensor_destroy(ty);
    return y;
}

static const float kLogits[8] = {1.5f, -0.25f, 0.75f, 3.0f, -2.0f, 0.0f, 2.25f, 1.0f};

Test(sampling, softmax_temperature_formula) {
    ax_ctx *ctx = th_cpu_ctx();
    const float temps[] = {0.25f, 0.5f, 1.0f, 2.0f, 4.0f, 1e3f};
    double prev_max = 2.0, prev_entropy = -1.0;
    for (size_t k = 0; k < sizeof temps / sizeof *temps; k++) {
        float *y = softmax_t(ctx, kLogits, 1, 8, temps[k]);
        double q[8], ent = 0.0, mx = 0.0;
        softmax_t_ref(kLogits, 8, temps[k], q);
        float qf[8];
        for (int j = 0; j < 8; j++) {
            qf[j] = (float)q[j];
            ent -= q[j] * log(q[j]);
            mx = q[j] > mx ? q[j] : mx;
        }
        th_assert_close(y, qf, 8, 0.0, 1e-6, "softmax(x / T)");
        /* a higher temperature flattens: the top probability falls, the entropy rises */
        cr_assert(y[3] < prev_max && ent > prev_entropy, "T = %g is not flatter than before",
                  (double)temps[k]);
        prev_max = y[3], prev_entropy = ent;
        free(y);
    }
    /* T = 1 is the plain softmax */
    int64_t shape[2] = {1, 8};
    ax_tensor *tx = th_tensor(ctx, 2, shape, kLogits), *ty = th_nan_tensor(ctx, 2, shape);
    AX_ASSERT_OK(ax_softmax_forward(ctx, tx, ty));
    float *plain = th_to_host(ty), *t1 = softmax_t(ctx, kLogits, 1, 8, 1.0f);
    th_assert_close(t1, plain, 8, 0.0, 1e-6, "T = 1");
    free(plain), free(t1);
    ax_tensor_destroy(tx), ax_tensor_destroy(ty);
    ax_ctx_destroy(ctx);
}

/* T -> 0: a one-hot of the maximum, shared by ties; logits of 1e30 at T = 1e-3 (x / T would
 * overflow) are fine. */
Test(sampling, softmax_temperature_extremes) {
    ax_ctx *ctx = th_cpu_ctx();
    float x[2][4] = {{1.0f, 3.0f, 2.9f, 3.0f}, {1e30f, -1e30f, 9e29f, 0.0f}};
    float *y = softmax_t(ctx, &x[0][0], 2, 4, 1e-3f);
    float want[8] = {0, 0.5f, 0, 0.5f, 1, 0, 0, 0};
    th_assert_close(y, want, 8, 1e-30, 1e-6, "tiny T"); /* e^-100 / 2 at index 2 */
    free(y);
    /* PyTorch's rules for NaN and Inf, as ax_softmax_forward */
    float z[4][3] = {{NAN, 1.0f, 2.0f}, {INFINITY, 1.0f, 2.0f}, {-INFINITY, -INFINITY, -INFINITY},
                     {-INFINITY, 0.0f, 0.0f}};
    float *s = softmax_t(ctx, &z[0][0], 4, 3, 0.5f);
    float wz[12] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0.0f, 0.5f, 0.5f};
    th_assert_ieee(s, wz, 12, 0.0, 1e-6, TH_ZERO_VALUE, "NaN and Inf rows");
    free(s);
    ax_ctx_destroy(ctx);
}

Test(badinput, softmax_temperature) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t shape[2] = {2, 3}, other[2] = {3, 2};
    ax_tensor *x = th_random_tensor(ctx, 2, shape, 1, -1.0f, 1.0f, 0.0f);
    ax_tensor *y = th_nan_tensor(ctx, 2, shape), *yo = th_nan_tensor(ctx, 2, other), *yi = NULL;
    AX_ASSERT_OK(ax_tensor_create(ctx, AX_I32, 2, shape, &yi));
    const char *f = "ax_softmax_temperature";
    const float bad_t[] = {0.0f, -0.0f, -1.0f, NAN, INFINITY, -INFINITY};
    for (size_t k = 0; k < sizeof bad_t / sizeof *bad_t; k++)
        AX_ASSERT_FAILS(ax_softmax_temperature(ctx, x, bad_t[k], y), AX_ERR_INVALID_ARG, f);
    AX_ASSERT_FAILS(ax_softmax_temperature(ctx, x, 1.0f, yo), AX_ERR_SHAPE, f);
    AX_ASSERT_FAILS(ax_softmax_temperature(ctx, x, 1.0f, yi), AX_ERR_DTYPE, f);
    AX_ASSERT_FAILS(ax_softmax_temperature(ctx, NULL, 1.0f, y), AX_ERR_INVALID_ARG, f);
    AX_ASSERT_FAILS(ax_softmax_temperature(NULL, x, 1.0f, y), AX_ERR_INVALID_ARG, f);
    float *host = th_to_host(y);
    for (int e = 0; e < 6; e++)
        cr_assert(isnan(host[e]), "y written by a refused call");
    free(host);
    ax_tensor_destroy(x), ax_tensor_destroy(y), ax_tensor_destroy(yo), ax_tensor_destroy(yi);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- multinomial */

#define DRAWS 40000

/* unnormalised weights with zeros at both ends and inside */
static const float kWeights[9] = {0.0f, 0.6f, 0.15f, 0.0f, 0.9f, 0.3f, 0.15f, 0.9f, 0.0f};

Test(sampling, multinomial_matches_probabilities) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t counts[9];
    double q[9];
    normalise(kWeights, 9, q);
    draw_counts(ctx, kWeights, 9, DRAWS, 0, 42, counts);
    assert_distribution(counts, q, 9, DRAWS, "weights");
    ax_ctx_destroy(ctx);
}

/* Draws from softmax(logits / T) follow it at each T. */
Test(sampling, multinomial_with_temperature) {
    ax_ctx *ctx = th_cpu_ctx();
    const float temps[] = {0.5f, 1.0f, 3.0f};
    for (size_t k = 0; k < 3; k++) {
        float *p = softmax_t(ctx, kLogits, 1, 8, temps[k]);
        double q[8];
        softmax_t_ref(kLogits, 8, temps[k], q);
        int64_t counts[8];
        draw_counts(ctx, p, 8, DRAWS, 0, 7 + k, counts);
        assert_distribution(counts, q, 8, DRAWS, "softmax(x / T)");
        free(p);
    }
    ax_ctx_destroy(ctx);
}

/* top-k keeps the k largest (ties to the lower index) and draws them in proportion. */
Test(sampling, multinomial_top_k) {
    ax_ctx *ctx = th_cpu_ctx();
    /* the 3 largest of kWeights: 0.9 at 4 and 7, then 0.6 at 1 */
    int64_t counts[9];
    double q[9] = {0, 0.6 / 2.4, 0, 0, 0.9 / 2.4, 0, 0, 0.9 / 2.4, 0};
    draw_counts(ctx, kWeights, 9, DRAWS, 3, 5, counts);
    assert_distribution(counts, q, 9, DRAWS, "top 3");
    /* ties at the threshold: 0.15 at 2 and 6, k = 5 keeps index 2 only */
    double q5[9] = {0, 0.6 / 2.85, 0.15 / 2.85, 0, 0.9 / 2.85, 0.3 / 2.85, 0, 0.9 / 2.85, 0};
    draw_counts(ctx, kWeights, 9, DRAWS, 5, 6, counts);
    assert_distribution(counts, q5, 9, DRAWS, "top 5 (a tie at the threshold)");
    /* k = 2 on a tie of the two largest, k = 1 the first of them */
    double q2[9] = {0, 0, 0, 0, 0.5, 0, 0, 0.5, 0};
    draw_counts(ctx, kWeights, 9, DRAWS, 2, 7, counts);
    assert_distribution(counts, q2, 9, DRAWS, "top 2");
    double q1[9] = {0, 0, 0, 0, 1, 0, 0, 0, 0};
    draw_counts(ctx, kWeights, 9, 1000, 1, 8, counts);
    assert_distribution(counts, q1, 9, 1000, "top 1: the first argmax");
    /* k >= V is all; k larger than the non-zero entries keeps the zeros, never drawn */
    double q_all[9];
    normalise(kWeights, 9, q_all);
    draw_counts(ctx, kWeights, 9, DRAWS, 9, 9, counts);
    assert_distribution(counts, q_all, 9, DRAWS, "top 9 of 9");
    draw_counts(ctx, kWeights, 9, DRAWS, 8, 10, counts);
    assert_distribution(counts, q_all, 9, DRAWS, "top 8 of 6 non-zero");
    ax_ctx_destroy(ctx);
}

/* One non-zero entry is always drawn, wherever it is, with or without top-k; tiny and huge
 * weights are fine. */
Test(sampling, multinomial_single_outcome) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t counts[5];
    for (int pos = 0; pos < 5; pos++) {
        float p[5] = {0, 0, 0, 0, 0};
        p[pos] = pos == 0 ? 1e-45f : pos == 4 ? 3e38f : 1.0f;
        double q[5] = {0, 0, 0, 0, 0};
        q[pos] = 1.0;
        draw_counts(ctx, p, 5, 500, 0, 20 + pos, counts);
        assert_distribution(counts, q, 5, 500, "one non-zero");
        draw_counts(ctx, p, 5, 500, 2, 30 + pos, counts);
        assert_distribution(counts, q, 5, 500, "one non-zero, top 2");
    }
    /* a one-column row */
    float one = 0.25f;
    double q1 = 1.0;
    int64_t c1;
    draw_counts(ctx, &one, 1, 10, 0, 3, &c1);
    assert_distribution(&c1, &q1, 1, 10, "one column");
    ax_ctx_destroy(ctx);
}

static int32_t *draws(ax_ctx *ctx, const ax_tensor *probs, int64_t rows, int64_t k,
                      uint64_t seed, uint64_t offset) {
    ax_tensor *out = NULL;
    AX_ASSERT_OK(ax_tensor_create(ctx, AX_I32, 1, &rows, &out));
    AX_ASSERT_OK(ax_multinomial(ctx, probs, k, seed, offset, out));
    int32_t *got = malloc((size_t)rows * sizeof *got);
    AX_ASSERT_OK(ax_tensor_to_host(out, got, (size_t)rows * sizeof *got));
    ax_tensor_destroy(out);
    return got;
}

/* The ends of the inverse CDF: u = 0 exactly draws the first non-zero entry (never a zero
 * before it), u = 1 - 2^-24 the last non-zero (never a zero after it). Seed 1 with these
 * offsets gives those u at row 0 (found by a search over offsets; checked here through
 * ax_rng_uniform, which draws the same stream). */
#define U_ZERO_OFFSET 270842
#define U_MAX_OFFSET 9077817

Test(sampling, multinomial_cdf_ends) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_tensor *u = NULL;
    float uh[2];
    int64_t one = 1;
    AX_ASSERT_OK(ax_tensor_create(ctx, AX_F32, 1, &one, &u));
    AX_ASSERT_OK(ax_rng_uniform(ctx, u, 0.0f, 1.0f, 1, U_ZERO_OFFSET));
    AX_ASSERT_OK(ax_tensor_to_host(u, &uh[0], sizeof(float)));
    AX_ASSERT_OK(ax_rng_uniform(ctx, u, 0.0f, 1.0f, 1, U_MAX_OFFSET));
    AX_ASSERT_OK(ax_tensor_to_host(u, &uh[1], sizeof(float)));
    cr_assert(uh[0] == 0.0f && uh[1] == 1.0f - 0x1p-24f, "u = %a and %a", (double)uh[0],
              (double)uh[1]);
    ax_tensor_destroy(u);
    ax_tensor *p = repeat_rows(ctx, kWeights, 9, 1);
    int32_t *first = draws(ctx, p, 1, 0, 1, U_ZERO_OFFSET);
    int32_t *last = draws(ctx, p, 1, 0, 1, U_MAX_OFFSET);
    int32_t *first_k = draws(ctx, p, 1, 3, 1, U_ZERO_OFFSET);
    int32_t *last_k = draws(ctx, p, 1, 3, 1, U_MAX_OFFSET);
    cr_assert(first[0] == 1 && last[0] == 7, "u = 0 drew %d (want 1), u = max drew %d (want 7)",
              first[0], last[0]);
    cr_assert(first_k[0] == 1 && last_k[0] == 7, "top 3: %d and %d, want 1 and 7", first_k[0],
              last_k[0]);
    free(first), free(last), free(first_k), free(last_k);
    ax_tensor_destroy(p);
    ax_ctx_destroy(ctx);
}

Test(sampling, multinomial_deterministic) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_tensor *p = repeat_rows(ctx, kWeights, 9, 1000);
    int32_t *a = draws(ctx, p, 1000, 0, 5, 3), *b = draws(ctx, p, 1000, 0, 5, 3);
    int32_t *c = draws(ctx, p, 1000, 0, 5, 4), *d = draws(ctx, p, 1000, 0, 6, 3);
    cr_assert(memcmp(a, b, 1000 * sizeof *a) == 0, "same seed and offset, other draws");
    int diff_offset = 0, diff_seed = 0;
    for (int r = 0; r < 1000; r++)
        diff_offset += a[r] != c[r], diff_seed += a[r] != d[r];
    cr_assert(diff_offset > 300 && diff_seed > 300,
              "another offset or seed should redraw: %d and %d of 1000 differ", diff_offset,
              diff_seed);
    free(a), free(b), free(c), free(d);
    ax_tensor_destroy(p);
    ax_ctx_destroy(ctx);
}

Test(badinput, multinomial) {
    ax_ctx *ctx = th_cpu_ctx();
    const char *f = "ax_multinomial";
    int64_t shape[2] = {3, 4}, rows = 3, two = 2;
    float rows_ok[12] = {1, 2, 3, 4, 0, 0, 1, 0, 4, 3, 2, 1};
    ax_tensor *p = th_tensor(ctx, 2, shape, rows_ok), *out = NULL, *out2 = NULL, *outf = NULL;
    AX_ASSERT_OK(ax_tensor_create(ctx, AX_I32, 1, &rows, &out));
    AX_ASSERT_OK(ax_tensor_create(ctx, AX_I32, 1, &two, &out2));
    AX_ASSERT_OK(ax_tensor_create(ctx, AX_F32, 1, &rows, &outf));
    AX_ASSERT_OK(ax_multinomial(ctx, p, 0, 1, 0, out));
    AX_ASSERT_FAILS(ax_multinomial(ctx, p, -1, 1, 0, out), AX_ERR_INVALID_ARG, f);
    AX_ASSERT_FAILS(ax_multinomial(ctx, p, 0, 1, 0, out2), AX_ERR_SHAPE, f);
    AX_ASSERT_FAILS(ax_multinomial(ctx, p, 0, 1, 0, outf), AX_ERR_DTYPE, f);
    AX_ASSERT_FAILS(ax_multinomial(ctx, p, 0, 1, 0, NULL), AX_ERR_INVALID_ARG, f);
    AX_ASSERT_FAILS(ax_multinomial(ctx, NULL, 0, 1, 0, out), AX_ERR_INVALID_ARG, f);
    AX_ASSERT_FAILS(ax_multinomial(NULL, p, 0, 1, 0, out), AX_ERR_INVALID_ARG, f);
    ax_tensor *p1 = th_tensor(ctx, 1, &shape[1], rows_ok);
    AX_ASSERT_FAILS(ax_multinomial(ctx, p1, 0, 1, 0, out), AX_ERR_SHAPE, f);
    /* rows that are no distribution, named by row (and entry) */
    const float bad[] = {-1.0f, NAN, INFINITY, -INFINITY, -1e-45f};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        float v[12];
        memcpy(v, rows_ok, sizeof v);
        v[6] = bad[k];
        ax_tensor *pb = th_tensor(ctx, 2, shape, v);
        AX_ASSERT_FAILS(ax_multinomial(ctx, pb, 0, 1, 0, out), AX_ERR_INVALID_ARG, f);
        cr_assert(strstr(ax_last_error(), "probs[1, 2]"), "%s", ax_last_error());
        AX_ASSERT_FAILS(ax_multinomial(ctx, pb, 2, 1, 0, out), AX_ERR_INVALID_ARG, f);
        ax_tensor_destroy(pb);
    }
    /* a bad entry first or last in its row (the ends of the scan), with and without top-k */
    for (int col = 0; col < 4; col += 3) {
        float v[12];
        char want[32];
        memcpy(v, rows_ok, sizeof v);
        v[4 + col] = col ? NAN : -1.0f;
        snprintf(want, sizeof want, "probs[1, %d]", col);
        ax_tensor *pb = th_tensor(ctx, 2, shape, v);
        for (int64_t k = 0; k < 3; k += 2) {
            AX_ASSERT_FAILS(ax_multinomial(ctx, pb, k, 1, 0, out), AX_ERR_INVALID_ARG, f);
            cr_assert(strstr(ax_last_error(), want), "%s", ax_last_error());
        }
        ax_tensor_destroy(pb);
    }
    float z[12] = {1, 2, 3, 4, 0, 0, 0, 0, 4, 3, 2, 1};
    ax_tensor *pz = th_tensor(ctx, 2, shape, z);
    AX_ASSERT_FAILS(ax_multinomial(ctx, pz, 0, 1, 0, out), AX_ERR_INVALID_ARG, f);
    cr_assert(strstr(ax_last_error(), "row 1"), "%s", ax_last_error());
    /* -0 is a zero, not a negative entry */
    float nz[4] = {-0.0f, 1.0f, -0.0f, 0.0f};
    ax_tensor *pn = th_tensor(ctx, 2, (int64_t[2]){1, 4}, nz), *o1 = NULL;
    AX_ASSERT_OK(ax_tensor_create(ctx, AX_I32, 1, (int64_t[1]){1}, &o1));
    AX_ASSERT_OK(ax_multinomial(ctx, pn, 0, 9, 0, o1));
    int32_t got = -5;
    AX_ASSERT_OK(ax_tensor_to_host(o1, &got, sizeof got));
    cr_assert_eq(got, 1);
    ax_tensor *ts[] = {p, out, out2, outf, p1, pz, pn, o1};
    for (size_t k = 0; k < sizeof ts / sizeof *ts; k++)
        ax_tensor_destroy(ts[k]);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- GPU */

Test(parity, softmax_temperature) {
    ax_ctx *gpu = th_gpu_ctx_or_skip(), *cpu = th_cpu_ctx();
    int64_t sizes[][2] = {{1, 1}, {3, 7}, {5, 33}, {64, 65}, {2, 50257}, {1000, 129}};
    const float temps[] = {0.01f, 0.7f, 1.0f, 5.0f};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int64_t n = sizes[k][0] * sizes[k][1];
        float *x = malloc((size_t)n * sizeof *x);
        th_random(x, n, 40 + k, -8.0f, 8.0f);
        for (size_t t = 0; t < 4; t++) {
            float *a = softmax_t(cpu, x, sizes[k][0], sizes[k][1], temps[t]);
            float *b = softmax_t(gpu, x, sizes[k][0], sizes[k][1], temps[t]);
            th_assert_close(b, a, n, 1e-30, 1e-5, "GPU softmax(x / T)");
            free(a), free(b);
        }
        free(x);
    }
    ax_ctx_destroy(cpu), ax_ctx_destroy(gpu);
}

/* The same probs (copied bits) give the same draws on both backends. */
Test(parity, multinomial) {
    ax_ctx *gpu = th_gpu_ctx_or_skip(), *cpu = th_cpu_ctx();
    int64_t sizes[][2] = {{1, 1}, {7, 3}, {1000, 65}, {33, 50257}};
    const int64_t ks[] = {0, 1, 5, 40};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int64_t rows = sizes[k][0], v = sizes[k][1], shape[2] = {rows, v};
        float *p = malloc((size_t)(rows * v) * sizeof *p);
        th_random(p, rows * v, 60 + k, 0.0f, 1.0f);
        for (int64_t e = 0; e < rows * v; e += 3)
            p[e] = 0.0f;
        for (int64_t r = 0; r < rows; r++)
            p[r * v + v - 1] = 0.5f; /* no row all zero */
        ax_tensor *pc = th_tensor(cpu, 2, shape, p), *pg = th_tensor(gpu, 2, shape, p);
        for (size_t t = 0; t < 4; t++) {
            int32_t *a = draws(cpu, pc, rows, ks[t], 9, 100 + t);
            int32_t *b = draws(gpu, pg, rows, ks[t], 9, 100 + t);
            for (int64_t r = 0; r < rows; r++)
                cr_assert_eq(b[r], a[r], "row %lld of [%lld, %lld], top_k %lld: GPU %d, CPU %d",
                             (long long)r, (long long)rows, (long long)v, (long long)ks[t], b[r],
                             a[r]);
            free(a), free(b);
        }
        ax_tensor_destroy(pc), ax_tensor_destroy(pg);
        free(p);
    }
    ax_ctx_destroy(cpu), ax_ctx_destroy(gpu);
}

Test(parity, multinomial_bad_row_reported_at_sync) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
    float p[6] = {1, 2, 3, 0.5f, NAN, 1};
    int64_t shape[2] = {2, 3}, rows = 2;
    ax_tensor *tp = th_tensor(gpu, 2, shape, p), *out = NULL;
    AX_ASSERT_OK(ax_tensor_create(gpu, AX_I32, 1, &rows, &out));
    AX_ASSERT_OK(ax_multinomial(gpu, tp, 0, 1, 0, out));
    int32_t got[2];
    AX_ASSERT_FAILS(ax_tensor_to_host(out, got, sizeof got), AX_ERR_INVALID_ARG, "ax_multinomial");
    cr_assert(strstr(ax_last_error(), "probs[1, 1]"), "%s", ax_last_error());
    AX_ASSERT_OK(ax_tensor_to_host(out, got, sizeof got));
    cr_assert(got[0] >= 0 && got[0] < 3 && got[1] == -1, "rows: %d %d", got[0], got[1]);
    ax_tensor_destroy(tp), ax_tensor_destroy(out);
    ax_ctx_destroy(gpu);
}
