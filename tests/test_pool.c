/* Pooling: max pool 2d, avg pool 2d, global average pool.
 * - golden: PyTorch's outputs, indices and gradients (tests/golden/gen_pool.py) on the CPU
 *   reference (and on the GPU where one works): ceil_mode both ways, padding, dilation,
 *   asymmetric kernels, ties, NaN and -Inf, count_include_pad both ways.
 * - output shapes by hand from PyTorch's formula, overflow refused.
 * - gradcheck of the CPU reference (tests/support/gradcheck.h states step and tolerance):
 *   avg pool over many geometries, max pool on inputs whose values in any window are further
 *   apart than twice the step (so no difference changes the argmax).
 * - bad input: every refusal with its status and a message naming the call, outputs intact.
 * - GPU parity with the CPU reference (NaN-filled outputs, odd and large shapes, fresh random
 *   inputs, NaN inputs), and a bit-identical second run of each backward.
 *
 * Tolerances: the maximum and its index are exact (the same comparisons in the same order on
 * every side). A max pool dx adds at most ceil(k/s)^2 values of dy: PyTorch adds them in f32,
 * the reference in double, so rtol 1e-6, atol 1e-6. An average adds at most kh kw values of
 * size ~1 and divides once: f32 sums (PyTorch, CUDA) differ from the double reference by a few
 * ulp of the sum, so atol 1e-6, rtol 1e-5 — a divisor off by one (>= 1/9 relative) or a window
 * shifted by one element (O(1)) fails by orders of magnitude. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef AXON_TEST_CUDNN
#include <cudnn.h>

#include "host/cuda/cuda_internal.h" /* ax_stream: cuDNN runs on the context's stream */
#endif

#include "golden.h"
#include "gradcheck.h"
#include "helpers.h"
#include "ieee.h"

#define AVG_ATOL 1e-6
#define AVG_RTOL 1e-5
#define MAXDX_ATOL 1e-6
#define MAXDX_RTOL 1e-6

static ax_pool2d_desc desc_of(int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                              int ceil_mode, int cip) {
    ax_pool2d_desc d;
    memset(&d, 0, sizeof d);
    d.kernel_h = kh;
    d.kernel_w = kw;
    d.stride_h = sh;
    d.stride_w = sw;
    d.pad_h = ph;
    d.pad_w = pw;
    d.dilation_h = dh;
    d.dilation_w = dw;
    d.ceil_mode = ceil_mode;
    d.count_include_pad = cip;
    return d;
}

static ax_pool2d_desc desc_from_golden(const gd_case *c) {
    const gd_tensor *p = gd_get(c, "params");
    cr_assert(p->i && p->numel == 10, "%s: params is not 10 i32", c->path);
    const int32_t *v = p->i;
    return desc_of(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]);
}

static int32_t *i32_to_host(const ax_tensor *t) {
    int64_t n = ax_tensor_numel(t);
    int32_t *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    cr_assert_not_null(h);
    AX_ASSERT_OK(ax_tensor_to_host(t, h, (size_t)n * sizeof *h));
    return h;
}

static ax_tensor *i32_tensor(ax_ctx *ctx, int ndim, const int64_t *shape, int32_t fill) {
    ax_tensor *t = NULL;
    AX_ASSERT_OK(ax_tensor_create(ctx, AX_I32, ndim, shape, &t));
    AX_ASSERT_OK(ax_fill(ctx, t, (float)fill));
    return t;
}

/* ---------------------------------------------------------------- golden */

static void golden_max(ax_ctx *ctx, const char *name) {
    gd_case *c = gd_load("pool", name);
    ax_pool2d_desc d = desc_from_golden(c);
    const gd_tensor *gy = gd_get(c, "y"), *gidx = gd_get(c, "idx");
    ax_tensor *x = gd_tensor_on(ctx, c, "x"), *dy = gd_tensor_on(ctx, c, "dy");
    ax_tensor *y = th_nan_tensor(ctx, gy->ndim, gy->shape);
    ax_tensor *idx = i32_tensor(ctx, gy->ndim, gy->shape, -7);
    ax_tensor *dx = th_nan_tensor(ctx, 4, gd_get(c, "x")->shape);

    int64_t out[4];
    AX_ASSERT_OK(ax_pool2d_output_shape(&d, gd_get(c, "x")->shape, out));
    for (int i = 0; i < 4; i++)
        cr_assert_eq(out[i], gy->shape[i], "%s: output dim %d is %lld, PyTorch's %lld", name, i,
                     (long long)out[i], (long long)gy->shape[i]);

    AX_ASSERT_OK(ax_max_pool2d_forward(ctx, &d, x, y, idx));
    float *hy = th_to_host(y);
    th_assert_ieee(hy, gy->f, gy->numel, 0.0, 0.0, TH_ZERO_SIGN, name);
    int32_t *hi = i32_to_host(idx);
    for (int64_t e = 0; e < gidx->numel; e++)
        cr_assert_eq(hi[e], gidx->i[e], "%s: idx[%lld] = %d, PyTorch's %d", name, (long long)e,
                     hi[e], gidx->i[e]);
    /* without indices the values are the same */
    AX_ASSERT_OK(ax_fill(ctx, y, NAN));
    AX_ASSERT_OK(ax_max_pool2d_forward(ctx, &d, x, y, NULL));
    free(hy);
    hy = th_to_host(y);
    th_assert_ieee(hy, gy->f, gy->numel, 0.0, 0.0, TH_ZERO_SIGN, name);

    AX_ASSERT_OK(ax_max_pool2d_backward(ctx, &d, idx, dy, dx));
    gd_assert_close(dx, c, "dx", MAXDX_ATOL, MAXDX_RTOL);
    free(hy);
    free(hi);
    ax_tensor_destroy(x);
    ax_tensor_destroy(dy);
    ax_tensor_destroy(y);
    ax_tensor_destroy(idx);
    ax_tensor_destroy(dx);
    gd_free(c);
}

static void golden_avg(ax_ctx *ctx, const char *name) {
    gd_case *c = gd_load("pool", name);
    ax_pool2d_desc d = desc_from_golden(c);
    const gd_tensor *gy = gd_get(c, "y");
    ax_tensor *x = gd_tensor_on(ctx, c, "x"), *dy = gd_tensor_on(ctx, c, "dy");
    ax_tensor *y = th_nan_tensor(ctx, gy->ndim, gy->shape);
    ax_tensor *dx = th_nan_tensor(ctx, 4, gd_get(c, "x")->shape);
    int64_t out[4];
    AX_ASSERT_OK(ax_pool2d_output_shape(&d, gd_get(c, "x")->shape, out));
    for (int i = 0; i < 4; i++)
        cr_assert_eq(out[i], gy->shape[i], "%s: output dim %d is %lld, PyTorch's %lld", name, i,
                     (long long)out[i], (long long)gy->shape[i]);
    AX_ASSERT_OK(ax_avg_pool2d_forward(ctx, &d, x, y));
    gd_assert_close(y, c, "y", AVG_ATOL, AVG_RTOL);
    AX_ASSERT_OK(ax_avg_pool2d_backward(ctx, &d, dy, dx));
    gd_assert_close(dx, c, "dx", AVG_ATOL, AVG_RTOL);
    ax_tensor_destroy(x);
    ax_tensor_destroy(dy);
    ax_tensor_destroy(y);
    ax_tensor_destroy(dx);
    gd_free(c);
}

static const char *const kMaxCases[] = {"max_2x2",      "max_pad_stride", "max_asym",
                                        "max_dilation", "max_ceil_drop",  "max_ceil_add",
                                        "max_ties",     "max_nan"};
static const char *const kAvgCases[] = {"avg_2x2",       "avg_pad_incl",  "avg_pad_excl",
                                        "avg_ceil_incl", "avg_ceil_excl", "avg_asym"};

static void golden_global(ax_ctx *ctx) {
    gd_case *c = gd_load("pool", "global_avg");
    const gd_tensor *gy = gd_get(c, "y");
    ax_tensor *x = gd_tensor_on(ctx, c, "x"), *dy4 = gd_tensor_on(ctx, c, "dy");
    ax_tensor *y4 = th_nan_tensor(ctx, 4, gy->shape);
    ax_tensor *dx = th_nan_tensor(ctx, 4, gd_get(c, "x")->shape);
    AX_ASSERT_OK(ax_global_avg_pool_forward(ctx, x, y4));
    gd_assert_close(y4, c, "y", AVG_ATOL, AVG_RTOL);
    AX_ASSERT_OK(ax_global_avg_pool_backward(ctx, dy4, dx));
    gd_assert_close(dx, c, "dx", AVG_ATOL, AVG_RTOL);
    /* the [N, C] form gives the same */
    ax_tensor *y2 = th_nan_tensor(ctx, 2, gy->shape);
    AX_ASSERT_OK(ax_global_avg_pool_forward(ctx, x, y2));
    gd_assert_close(y2, c, "y", AVG_ATOL, AVG_RTOL);
    ax_tensor_destroy(x);
    ax_tensor_destroy(dy4);
    ax_tensor_destroy(y4);
    ax_tensor_destroy(y2);
    ax_tensor_destroy(dx);
    gd_free(c);
}

static void golden_all(ax_ctx *ctx) {
    for (size_t k = 0; k < sizeof kMaxCases / sizeof *kMaxCases; k++)
        golden_max(ctx, kMaxCases[k]);
    for (size_t k = 0; k < sizeof kAvgCases / sizeof *kAvgCases; k++)
        golden_avg(ctx, kAvgCases[k]);
    golden_global(ctx);
}

Test(golden, pool_cpu) {
    ax_ctx *ctx = th_cpu_ctx();
    golden_all(ctx);
    ax_ctx_destroy(ctx);
}

Test(golden, pool_gpu) {
    ax_ctx *ctx = th_gpu_ctx_or_skip();
    golden_all(ctx);
    AX_ASSERT_OK(ax_ctx_synchronize(ctx));
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- output shapes */

static void expect_shape(ax_pool2d_desc d, int64_t h, int64_t w, int64_t oh, int64_t ow) {
    int64_t in[4] = {2, 3, h, w}, out[4] = {-1, -1, -1, -1};
    AX_ASSERT_OK(ax_pool2d_output_shape(&d, in, out));
    cr_assert(out[0] == 2 && out[1] == 3 && out[2] == oh && out[3] == ow,
              "in %lldx%lld, kernel %dx%d stride %dx%d pad %dx%d dilation %dx%d ceil %d: got "
              "[%lld, %lld, %lld, %lld], expected [2, 3, %lld, %lld]",
              (long long)h, (long long)w, d.kernel_h, d.kernel_w, d.stride_h, d.stride_w,
              d.pad_h, d.pad_w, d.dilation_h, d.dilation_w, d.ceil_mode, (long long)out[0],
              (long long)out[1], (long long)out[2], (long long)out[3], (long long)oh,
              (long long)ow);
}

/* By hand from out = floor((in + 2p - d (k - 1) - 1 (+ s - 1)) / s) + 1 and the ceil rule. */
Test(pool, output_shape) {
    expect_shape(ax_pool2d_desc_default(2, 2), 6, 7, 3, 3);
    expect_shape(ax_pool2d_desc_default(3, 1), 9, 4, 3, 4);
    expect_shape(desc_of(3, 3, 2, 2, 1, 1, 1, 1, 0, 1), 7, 8, 4, 4);
    expect_shape(desc_of(3, 3, 2, 2, 1, 1, 1, 1, 1, 1), 7, 8, 4, 5);
    /* ceil adds a window: (6 - 3 + 1) / 2 + 1 = 3 against 2 in floor mode */
    expect_shape(desc_of(3, 3, 2, 2, 0, 0, 1, 1, 0, 1), 6, 6, 2, 2);
    expect_shape(desc_of(3, 3, 2, 2, 0, 0, 1, 1, 1, 1), 6, 6, 3, 3);
    /* ceil adds one that would start at in + pad = 6: dropped again, 3 not 4 */
    expect_shape(desc_of(2, 2, 2, 2, 1, 1, 1, 1, 1, 1), 5, 5, 3, 3);
    /* dilation: extent d (k - 1) + 1 */
    expect_shape(desc_of(3, 3, 1, 1, 1, 1, 2, 3, 0, 1), 8, 9, 6, 5);
    expect_shape(desc_of(2, 3, 1, 2, 1, 1, 4, 1, 0, 1), 7, 10, 5, 5);
    /* kernel == padded input: one output; ceil with a window hanging over both paddings */
    expect_shape(desc_of(4, 4, 1, 1, 1, 1, 1, 1, 0, 1), 2, 2, 1, 1);
    expect_shape(desc_of(4, 4, 2, 2, 1, 1, 1, 1, 1, 1), 1, 1, 1, 1);
    expect_shape(desc_of(1, 1, 3, 5, 0, 0, 1, 1, 0, 1), 10, 11, 4, 3);
    expect_shape(desc_of(1, 1, 3, 5, 0, 0, 1, 1, 1, 1), 10, 11, 4, 3);
}

/* Kernel 2, dilation 3, padding 1 on 2 x 2: the one window's taps (-1 and 2) both miss the
 * input. -Inf (as PyTorch) and index -1; the backward routes nothing. */
Test(pool, max_window_without_taps) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_pool2d_desc d = desc_of(2, 2, 1, 1, 1, 1, 3, 3, 0, 1);
    int64_t xs[4] = {1, 1, 2, 2}, ys[4] = {1, 1, 1, 1};
    const float hx[4] = {1, 2, 3, 4}, hdy[1] = {5};
    ax_tensor *x = th_tensor(ctx, 4, xs, hx), *dy = th_tensor(ctx, 4, ys, hdy);
    ax_tensor *y = th_nan_tensor(ctx, 4, ys), *dx = th_nan_tensor(ctx, 4, xs);
    ax_tensor *idx = i32_tensor(ctx, 4, ys, 7);
    AX_ASSERT_OK(ax_max_pool2d_forward(ctx, &d, x, y, idx));
    AX_ASSERT_OK(ax_max_pool2d_backward(ctx, &d, idx, dy, dx));
    float *hy = th_to_host(y), *hdx = th_to_host(dx);
    int32_t *hi = i32_to_host(idx);
    cr_assert(isinf(hy[0]) && hy[0] < 0, "y = %g, expected -inf", (double)hy[0]);
    cr_assert_eq(hi[0], -1);
    for (int e = 0; e < 4; e++)
        cr_assert(hdx[e] == 0.0f, "dx[%d] = %g", e, (double)hdx[e]);
    free(hy);
    free(hdx);
    free(hi);
    ax_tensor *all[] = {x, dy, y, dx, idx};
    for (size_t k = 0; k < sizeof all / sizeof *all; k++)
        ax_tensor_destroy(all[k]);
    ax_ctx_destroy(ctx);
}

/* 2x2 windows, stride 2 (windows that share no tap) on 4 x 4, backward from indices that are
 * not all the forward's: window (0,0) names 2, a tap of window (0,1); (0,1) names its own 3;
 * (1,0) names 16, outside the plane; (1,1) names its own 10 with dy = -0. Only the own indices
 * route, and -0 arrives as +0 (a sum starting at 0, as PyTorch's and the overlapping path's);
 * every other element is +0. */
Test(pool, max_backward_routes_only_own_taps) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_pool2d_desc d = desc_of(2, 2, 2, 2, 0, 0, 1, 1, 0, 1);
    int64_t xs[4] = {1, 1, 4, 4}, ys[4] = {1, 1, 2, 2};
    const float hdy[4] = {1.0f, 2.0f, 3.0f, -0.0f};
    const int32_t hidx[4] = {2, 3, 16, 10};
    ax_tensor *dy = th_tensor(ctx, 4, ys, hdy), *dx = th_nan_tensor(ctx, 4, xs);
    ax_tensor *idx = i32_tensor(ctx, 4, ys, 0);
    AX_ASSERT_OK(ax_tensor_set_from_host(idx, hidx, sizeof hidx));
    AX_ASSERT_OK(ax_max_pool2d_backward(ctx, &d, idx, dy, dx));
    float *hdx = th_to_host(dx);
    for (int e = 0; e < 16; e++) {
        float want = e == 3 ? 2.0f : 0.0f;
        cr_assert(hdx[e] == want && !signbit(hdx[e]), "dx[%d] = %g, expected %g", e,
                  (double)hdx[e], (double)want);
    }
    free(hdx);
    ax_tensor_destroy(dy);
    ax_tensor_destroy(dx);
    ax_tensor_destroy(idx);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- gradcheck */

typedef struct pool_args {
    ax_pool2d_desc d;
    int kind;      /* 0 max, 1 avg, 2 global */
    float planted; /* nonzero: the backward's dx scaled by it (a planted error) */
} pool_args;

#define PARGS(op) ((const pool_args *)(op)->params)

static ax_status pool_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    const pool_args *a = PARGS(op);
    if (a->kind == 0)
        return ax_max_pool2d_forward(ctx, &a->d, x[0], y, NULL);
    if (a->kind == 1)
        return ax_avg_pool2d_forward(ctx, &a->d, x[0], y);
    return ax_global_avg_pool_forward(ctx, x[0], y);
}

/* The max pool's indices come from a forward of their own, as a layer would keep them. */
static ax_status pool_bwd_exact(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x,
                                const ax_tensor *dy, ax_tensor *const *dx) {
    const pool_args *a = PARGS(op);
    if (a->kind == 1)
        return ax_avg_pool2d_backward(ctx, &a->d, dy, dx[0]);
    if (a->kind == 2)
        return ax_global_avg_pool_backward(ctx, dy, dx[0]);
    ax_tensor *idx = NULL, *y2 = NULL;
    int64_t shape[4];
    for (int i = 0; i < 4; i++)
        shape[i] = op->y_shape[i];
    ax_status st = ax_tensor_create(ctx, AX_I32, 4, shape, &idx);
    if (st == AX_OK)
        st = ax_tensor_create(ctx, AX_F32, 4, shape, &y2);
    if (st == AX_OK)
        st = ax_max_pool2d_forward(ctx, &a->d, x[0], y2, idx);
    if (st == AX_OK)
        st = ax_max_pool2d_backward(ctx, &a->d, idx, dy, dx[0]);
    ax_tensor_destroy(idx);
    ax_tensor_destroy(y2);
    return st;
}

static ax_status pool_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                          const ax_tensor *dy, ax_tensor *const *dx) {
    (void)y;
    ax_status st = pool_bwd_exact(op, ctx, x, dy, dx);
    float f = PARGS(op)->planted;
    return st == AX_OK && f != 0.0f && dx[0] ? ax_scale(ctx, f, dx[0], dx[0]) : st;
}

/* x [n, c, h, w]: uniform for the average; for the max a shuffled ladder of values 2 / numel
 * apart in [-1, 1), more than twice the step h = 1e-2 when numel <= 100. planted = 0: the
 * check must pass; else dx is scaled by planted and the check must fail. */
static void pool_check_planted(ax_ctx *ctx, int kind, ax_pool2d_desc d, int64_t n, int64_t c,
                               int64_t h, int64_t w, uint64_t seed, float planted) {
    pool_args args = {d, kind, planted};
    int64_t xs[4] = {n, c, h, w}, ys[4] = {n, c, 1, 1};
    if (kind != 2)
        AX_ASSERT_OK(ax_pool2d_output_shape(&d, xs, ys));
    int64_t numel = n * c * h * w;
    float *hx = malloc((size_t)numel * sizeof *hx);
    cr_assert_not_null(hx);
    if (kind == 0) {
        cr_assert(numel <= 100, "max pool gradcheck needs numel <= 100, not %lld",
                  (long long)numel);
        for (int64_t e = 0; e < numel; e++)
            hx[e] = -1.0f + 2.0f * (float)e / (float)numel;
        uint64_t s = seed;
        for (int64_t e = numel - 1; e > 0; e--) { /* Fisher-Yates, splitmix64 */
            s += 0x9e3779b97f4a7c15ull;
            uint64_t z = s;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            z ^= z >> 31;
            int64_t j = (int64_t)(z % (uint64_t)(e + 1));
            float t = hx[e];
            hx[e] = hx[j];
            hx[j] = t;
        }
    } else {
        th_random(hx, numel, seed, -2.0f, 2.0f);
    }
    char name[160];
    snprintf(name, sizeof name,
             "%s pool x [%lld, %lld, %lld, %lld] k %dx%d s %dx%d p %dx%d d %dx%d ceil %d cip %d",
             kind == 0 ? "max" : kind == 1 ? "avg" : "global avg", (long long)n, (long long)c,
             (long long)h, (long long)w, d.kernel_h, d.kernel_w, d.stride_h, d.stride_w, d.pad_h,
             d.pad_w, d.dilation_h, d.dilation_w, d.ceil_mode, d.count_include_pad);
    gc_op op = {0};
    op.name = name;
    op.forward = pool_fwd;
    op.backward = pool_bwd;
    op.params = &args;
    op.y_ndim = 4;
    for (int i = 0; i < 4; i++)
        op.y_shape[i] = ys[i];
    op.n_inputs = 1;
    op.x[0] = th_tensor(ctx, 4, xs, hx);
    op.x_name[0] = "x";
    op.wrt[0] = 1;
    free(hx);
    if (planted == 0.0f) {
        gc_assert(ctx, &op, seed + 1);
    } else {
        gc_result r = gc_check(ctx, &op, seed + 1, gc_default_tolerance());
        cr_assert(r.status == AX_OK && !r.ok && r.worst > 1.0,
                  "%s: dx scaled by %g passed the check (%s)", name, (double)planted, r.message);
    }
    gc_op_free(&op);
}

static void pool_check(ax_ctx *ctx, int kind, ax_pool2d_desc d, int64_t n, int64_t c, int64_t h,
                       int64_t w, uint64_t seed) {
    pool_check_planted(ctx, kind, d, n, c, h, w, seed, 0.0f);
}

Test(gradcheck, avg_pool2d) {
    ax_ctx *ctx = th_cpu_ctx();
    pool_check(ctx, 1, ax_pool2d_desc_default(2, 2), 2, 3, 5, 7, 100);
    pool_check(ctx, 1, desc_of(3, 3, 2, 2, 1, 1, 1, 1, 0, 1), 1, 2, 7, 6, 101);
    pool_check(ctx, 1, desc_of(3, 3, 2, 2, 1, 1, 1, 1, 0, 0), 1, 2, 7, 6, 102);
    pool_check(ctx, 1, desc_of(3, 3, 2, 2, 1, 1, 1, 1, 1, 1), 1, 2, 6, 8, 103);
    pool_check(ctx, 1, desc_of(3, 3, 2, 2, 1, 1, 1, 1, 1, 0), 1, 2, 6, 8, 104);
    pool_check(ctx, 1, desc_of(2, 4, 1, 3, 1, 2, 1, 1, 1, 1), 2, 1, 5, 9, 105);
    pool_check(ctx, 1, desc_of(3, 2, 3, 1, 0, 1, 1, 1, 0, 0), 1, 1, 8, 5, 106);
    pool_check(ctx, 1, desc_of(4, 4, 2, 2, 1, 1, 1, 1, 1, 0), 1, 1, 1, 1, 107);
    ax_ctx_destroy(ctx);
}

Test(gradcheck, max_pool2d) {
    ax_ctx *ctx = th_cpu_ctx();
    pool_check(ctx, 0, ax_pool2d_desc_default(2, 2), 2, 2, 5, 4, 200);
    pool_check(ctx, 0, desc_of(3, 3, 2, 2, 1, 1, 1, 1, 0, 1), 1, 2, 7, 5, 201);
    pool_check(ctx, 0, desc_of(3, 3, 1, 1, 1, 1, 1, 1, 0, 1), 1, 2, 5, 6, 202); /* overlaps */
    pool_check(ctx, 0, desc_of(3, 3, 2, 2, 1, 1, 1, 1, 1, 1), 1, 2, 6, 8, 203);
    pool_check(ctx, 0, desc_of(3, 2, 1, 2, 1, 1, 2, 3, 0, 1), 1, 1, 8, 9, 204); /* dilation */
    pool_check(ctx, 0, desc_of(2, 2, 2, 2, 1, 1, 1, 1, 1, 1), 1, 3, 5, 5, 205);
    ax_ctx_destroy(ctx);
}

Test(gradcheck, global_avg_pool) {
    ax_ctx *ctx = th_cpu_ctx();
    pool_check(ctx, 2, ax_pool2d_desc_default(1, 1), 2, 3, 5, 7, 300);
    pool_check(ctx, 2, ax_pool2d_desc_default(1, 1), 1, 1, 1, 3, 301);
    ax_ctx_destroy(ctx);
}

/* The checks above can fail: a backward 1% too large or with its sign flipped is caught. */
Test(gradcheck, pool_planted_error_is_caught) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_pool2d_desc d = desc_of(3, 3, 2, 2, 1, 1, 1, 1, 1, 0);
    pool_check_planted(ctx, 1, d, 1, 2, 6, 8, 400, 1.01f);
    pool_check_planted(ctx, 1, d, 1, 2, 6, 8, 401, -1.0f);
    pool_check_planted(ctx, 0, d, 1, 2, 6, 8, 402, 1.01f);
    pool_check_planted(ctx, 0, d, 1, 2, 6, 8, 403, -1.0f);
    pool_check_planted(ctx, 2, d, 2, 3, 5, 7, 404, 1.01f);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- bad input */

/* One refusal of each pooling call with desc d on x [1, 1, h, w] and an output of oshape
 * (status st), and y left as it was (NaN). */
static void refuse_all(ax_pool2d_desc d, int64_t h, int64_t w, const int64_t *oshape,
                       ax_status st) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t xs[4] = {1, 1, h, w};
    ax_tensor *x = th_random_tensor(ctx, 4, xs, 1, -1, 1, 0);
    ax_tensor *dx = th_nan_tensor(ctx, 4, xs);
    ax_tensor *y = th_nan_tensor(ctx, 4, oshape);
    ax_tensor *idx = i32_tensor(ctx, 4, oshape, 0);
    AX_ASSERT_FAILS(ax_max_pool2d_forward(ctx, &d, x, y, idx), st, "ax_max_pool2d_forward");
    AX_ASSERT_FAILS(ax_max_pool2d_backward(ctx, &d, idx, y, dx), st, "ax_max_pool2d_backward");
    d.dilation_h = d.dilation_w = 1;
    AX_ASSERT_FAILS(ax_avg_pool2d_forward(ctx, &d, x, y), st, "ax_avg_pool2d_forward");
    AX_ASSERT_FAILS(ax_avg_pool2d_backward(ctx, &d, y, dx), st, "ax_avg_pool2d_backward");
    float *hy = th_to_host(y), *hdx = th_to_host(dx);
    for (int64_t e = 0; e < ax_tensor_numel(y); e++)
        cr_assert(isnan(hy[e]), "a refused call wrote y[%lld]", (long long)e);
    for (int64_t e = 0; e < ax_tensor_numel(dx); e++)
        cr_assert(isnan(hdx[e]), "a refused call wrote dx[%lld]", (long long)e);
    free(hy);
    free(hdx);
    ax_tensor_destroy(x);
    ax_tensor_destroy(dx);
    ax_tensor_destroy(y);
    ax_tensor_destroy(idx);
    ax_ctx_destroy(ctx);
}

Test(badinput, pool_descriptor) {
    int64_t o3[4] = {1, 1, 3, 3};
    /* each of these would be accepted with the field fixed: desc_of(2, 2, 2, 2, 0, 0, 1, 1) */
    refuse_all(desc_of(0, 2, 2, 2, 0, 0, 1, 1, 0, 1), 6, 6, o3, AX_ERR_INVALID_ARG);
    refuse_all(desc_of(2, -1, 2, 2, 0, 0, 1, 1, 0, 1), 6, 6, o3, AX_ERR_INVALID_ARG);
    refuse_all(desc_of(2, 2, -2, 2, 0, 0, 1, 1, 0, 1), 6, 6, o3, AX_ERR_INVALID_ARG);
    refuse_all(desc_of(2, 2, 2, 0, 0, 0, 1, 1, 0, 1), 6, 6, o3, AX_ERR_INVALID_ARG);
    refuse_all(desc_of(2, 2, 2, 2, -1, 0, 1, 1, 0, 1), 6, 6, o3, AX_ERR_INVALID_ARG);
    refuse_all(desc_of(2, 2, 2, 2, 0, -1, 1, 1, 0, 1), 6, 6, o3, AX_ERR_INVALID_ARG);
    /* padding more than kernel / 2, as PyTorch refuses: kernel 3 pad 2, kernel 2 pad 2 */
    refuse_all(desc_of(3, 3, 2, 2, 2, 0, 1, 1, 0, 1), 6, 6, o3, AX_ERR_INVALID_ARG);
    refuse_all(desc_of(2, 2, 2, 2, 0, 2, 1, 1, 0, 1), 6, 6, o3, AX_ERR_INVALID_ARG);
    /* kernel larger than the padded input: 6 > 3 + 2 (zero-size output) */
    refuse_all(desc_of(6, 2, 1, 1, 1, 0, 1, 1, 0, 1), 3, 6, o3, AX_ERR_SHAPE);
    refuse_all(desc_of(2, 6, 1, 1, 0, 0, 1, 1, 0, 1), 6, 5, o3, AX_ERR_SHAPE);
    /* output of the wrong shape: [1, 1, 3, 3] is right, these are not */
    int64_t o33[4] = {1, 1, 3, 4}, o34[4] = {1, 1, 2, 3}, o35[4] = {1, 2, 3, 3};
    refuse_all(ax_pool2d_desc_default(2, 2), 6, 6, o33, AX_ERR_SHAPE);
    refuse_all(ax_pool2d_desc_default(2, 2), 6, 6, o34, AX_ERR_SHAPE);
    refuse_all(ax_pool2d_desc_default(2, 2), 6, 6, o35, AX_ERR_SHAPE);
    /* ceil mode gives 4x4 here, floor mode 3x3: each refuses the other's shape */
    int64_t o4[4] = {1, 1, 4, 4};
    refuse_all(desc_of(2, 2, 2, 2, 0, 0, 1, 1, 1, 1), 7, 7, o3, AX_ERR_SHAPE);
    refuse_all(desc_of(2, 2, 2, 2, 0, 0, 1, 1, 0, 1), 7, 7, o4, AX_ERR_SHAPE);
}

Test(badinput, pool_avg_dilation) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t xs[4] = {1, 1, 6, 6}, ys[4] = {1, 1, 2, 2};
    ax_pool2d_desc d = desc_of(2, 2, 2, 2, 0, 0, 2, 2, 0, 1);
    ax_tensor *x = th_random_tensor(ctx, 4, xs, 1, -1, 1, 0), *y = th_nan_tensor(ctx, 4, ys);
    ax_tensor *dx = th_nan_tensor(ctx, 4, xs);
    AX_ASSERT_OK(ax_max_pool2d_forward(ctx, &d, x, y, NULL)); /* the max takes it */
    AX_ASSERT_FAILS(ax_avg_pool2d_forward(ctx, &d, x, y), AX_ERR_INVALID_ARG,
                    "ax_avg_pool2d_forward");
    AX_ASSERT_FAILS(ax_avg_pool2d_backward(ctx, &d, y, dx), AX_ERR_INVALID_ARG,
                    "ax_avg_pool2d_backward");
    ax_tensor_destroy(x);
    ax_tensor_destroy(y);
    ax_tensor_destroy(dx);
    ax_ctx_destroy(ctx);
}

Test(badinput, pool_tensors) {
    ax_ctx *ctx = th_cpu_ctx(), *other = th_cpu_ctx();
    ax_pool2d_desc d = ax_pool2d_desc_default(2, 2);
    int64_t xs[4] = {2, 3, 6, 6}, ys[4] = {2, 3, 3, 3}, x3[3] = {3, 6, 6};
    ax_tensor *x = th_random_tensor(ctx, 4, xs, 1, -1, 1, 0), *y = th_nan_tensor(ctx, 4, ys);
    ax_tensor *dx = th_nan_tensor(ctx, 4, xs), *idx = i32_tensor(ctx, 4, ys, 0);
    ax_tensor *xi = i32_tensor(ctx, 4, xs, 0), *yf_idx = th_nan_tensor(ctx, 4, ys);
    ax_tensor *xo = th_random_tensor(other, 4, xs, 1, -1, 1, 0);
    ax_tensor *xd3 = th_random_tensor(ctx, 3, x3, 1, -1, 1, 0);
    int64_t ys_bad[4] = {2, 3, 3, 2};
    ax_tensor *idx_bad = i32_tensor(ctx, 4, ys_bad, 0);

    AX_ASSERT_FAILS(ax_max_pool2d_forward(NULL, &d, x, y, idx), AX_ERR_INVALID_ARG,
                    "ax_max_pool2d_forward");
    AX_ASSERT_FAILS(ax_max_pool2d_forward(ctx, NULL, x, y, idx), AX_ERR_INVALID_ARG,
                    "ax_max_pool2d_forward");
    AX_ASSERT_FAILS(ax_max_pool2d_forward(ctx, &d, NULL, y, idx), AX_ERR_INVALID_ARG,
                    "ax_max_pool2d_forward");
    AX_ASSERT_FAILS(ax_max_pool2d_forward(ctx, &d, x, NULL, idx), AX_ERR_INVALID_ARG,
                    "ax_max_pool2d_forward");
    AX_ASSERT_FAILS(ax_max_pool2d_forward(ctx, &d, xi, y, idx), AX_ERR_DTYPE,
                    "ax_max_pool2d_forward");
    AX_ASSERT_FAILS(ax_max_pool2d_forward(ctx, &d, x, y, yf_idx), AX_ERR_DTYPE,
                    "ax_max_pool2d_forward");
    AX_ASSERT_FAILS(ax_max_pool2d_forward(ctx, &d, x, y, idx_bad), AX_ERR_SHAPE,
                    "ax_max_pool2d_forward");
    AX_ASSERT_FAILS(ax_max_pool2d_forward(ctx, &d, xo, y, idx), AX_ERR_DEVICE,
                    "ax_max_pool2d_forward");
    AX_ASSERT_FAILS(ax_max_pool2d_forward(ctx, &d, xd3, y, idx), AX_ERR_SHAPE,
                    "ax_max_pool2d_forward");
    AX_ASSERT_FAILS(ax_max_pool2d_backward(ctx, &d, NULL, y, dx), AX_ERR_INVALID_ARG,
                    "ax_max_pool2d_backward");
    AX_ASSERT_FAILS(ax_max_pool2d_backward(ctx, &d, yf_idx, y, dx), AX_ERR_DTYPE,
                    "ax_max_pool2d_backward");
    AX_ASSERT_FAILS(ax_max_pool2d_backward(ctx, &d, idx_bad, y, dx), AX_ERR_SHAPE,
                    "ax_max_pool2d_backward");
    AX_ASSERT_FAILS(ax_max_pool2d_backward(ctx, &d, idx, y, xo), AX_ERR_DEVICE,
                    "ax_max_pool2d_backward");
    AX_ASSERT_FAILS(ax_max_pool2d_backward(ctx, &d, idx, y, NULL), AX_ERR_INVALID_ARG,
                    "ax_max_pool2d_backward");
    AX_ASSERT_FAILS(ax_avg_pool2d_forward(ctx, &d, xi, y), AX_ERR_DTYPE, "ax_avg_pool2d_forward");
    AX_ASSERT_FAILS(ax_avg_pool2d_forward(ctx, &d, xd3, y), AX_ERR_SHAPE,
                    "ax_avg_pool2d_forward");
    AX_ASSERT_FAILS(ax_avg_pool2d_backward(ctx, &d, y, xo), AX_ERR_DEVICE,
                    "ax_avg_pool2d_backward");
    AX_ASSERT_FAILS(ax_avg_pool2d_backward(ctx, NULL, y, dx), AX_ERR_INVALID_ARG,
                    "ax_avg_pool2d_backward");

    /* global: y [N, C] or [N, C, 1, 1] only */
    int64_t g2[2] = {2, 3}, g2b[2] = {3, 2}, g4b[4] = {2, 3, 1, 2}, g3[3] = {2, 3, 1};
    ax_tensor *gy = th_nan_tensor(ctx, 2, g2), *gyb = th_nan_tensor(ctx, 2, g2b);
    ax_tensor *gy4b = th_nan_tensor(ctx, 4, g4b), *gy3 = th_nan_tensor(ctx, 3, g3);
    AX_ASSERT_OK(ax_global_avg_pool_forward(ctx, x, gy));
    AX_ASSERT_FAILS(ax_global_avg_pool_forward(ctx, x, gyb), AX_ERR_SHAPE,
                    "ax_global_avg_pool_forward");
    AX_ASSERT_FAILS(ax_global_avg_pool_forward(ctx, x, gy4b), AX_ERR_SHAPE,
                    "ax_global_avg_pool_forward");
    AX_ASSERT_FAILS(ax_global_avg_pool_forward(ctx, x, gy3), AX_ERR_SHAPE,
                    "ax_global_avg_pool_forward");
    AX_ASSERT_FAILS(ax_global_avg_pool_forward(ctx, xd3, gy), AX_ERR_SHAPE,
                    "ax_global_avg_pool_forward");
    AX_ASSERT_FAILS(ax_global_avg_pool_forward(ctx, xi, gy), AX_ERR_DTYPE,
                    "ax_global_avg_pool_forward");
    AX_ASSERT_FAILS(ax_global_avg_pool_backward(ctx, gyb, dx), AX_ERR_SHAPE,
                    "ax_global_avg_pool_backward");
    AX_ASSERT_FAILS(ax_global_avg_pool_backward(ctx, gy, xo), AX_ERR_DEVICE,
                    "ax_global_avg_pool_backward");
    AX_ASSERT_FAILS(ax_global_avg_pool_backward(NULL, gy, dx), AX_ERR_INVALID_ARG,
                    "ax_global_avg_pool_backward");

    ax_tensor *all[] = {x, y, dx, idx, xi, yf_idx, xo, xd3, idx_bad, gy, gyb, gy4b, gy3};
    for (size_t k = 0; k < sizeof all / sizeof *all; k++)
        ax_tensor_destroy(all[k]);
    ax_ctx_destroy(other);
    ax_ctx_destroy(ctx);
}

/* An output that is its input (kernel 1, stride 1 keeps the shape) is refused. */
Test(badinput, pool_aliasing) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_pool2d_desc d = ax_pool2d_desc_default(1, 1);
    int64_t xs[4] = {2, 3, 1, 1};
    ax_tensor *x = th_random_tensor(ctx, 4, xs, 1, -1, 1, 0);
    ax_tensor *idx = i32_tensor(ctx, 4, xs, 0);
    AX_ASSERT_FAILS(ax_max_pool2d_forward(ctx, &d, x, x, idx), AX_ERR_INVALID_ARG,
                    "ax_max_pool2d_forward");
    AX_ASSERT_FAILS(ax_max_pool2d_backward(ctx, &d, idx, x, x), AX_ERR_INVALID_ARG,
                    "ax_max_pool2d_backward");
    AX_ASSERT_FAILS(ax_avg_pool2d_forward(ctx, &d, x, x), AX_ERR_INVALID_ARG,
                    "ax_avg_pool2d_forward");
    AX_ASSERT_FAILS(ax_avg_pool2d_backward(ctx, &d, x, x), AX_ERR_INVALID_ARG,
                    "ax_avg_pool2d_backward");
    AX_ASSERT_FAILS(ax_global_avg_pool_forward(ctx, x, x), AX_ERR_INVALID_ARG,
                    "ax_global_avg_pool_forward");
    AX_ASSERT_FAILS(ax_global_avg_pool_backward(ctx, x, x), AX_ERR_INVALID_ARG,
                    "ax_global_avg_pool_backward");
    ax_tensor_destroy(x);
    ax_tensor_destroy(idx);
    ax_ctx_destroy(ctx);
}

Test(badinput, pool_output_shape) {
    ax_pool2d_desc d = ax_pool2d_desc_default(2, 2);
    int64_t in[4] = {1, 1, 4, 4}, out[4] = {7, 7, 7, 7};
    AX_ASSERT_FAILS(ax_pool2d_output_shape(NULL, in, out), AX_ERR_INVALID_ARG,
                    "ax_pool2d_output_shape");
    AX_ASSERT_FAILS(ax_pool2d_output_shape(&d, NULL, out), AX_ERR_INVALID_ARG,
                    "ax_pool2d_output_shape");
    AX_ASSERT_FAILS(ax_pool2d_output_shape(&d, in, NULL), AX_ERR_INVALID_ARG,
                    "ax_pool2d_output_shape");
    /* zero-size input */
    int64_t zero[4] = {1, 1, 0, 4}, zero_n[4] = {0, 1, 4, 4};
    AX_ASSERT_FAILS(ax_pool2d_output_shape(&d, zero, out), AX_ERR_SHAPE,
                    "ax_pool2d_output_shape");
    AX_ASSERT_FAILS(ax_pool2d_output_shape(&d, zero_n, out), AX_ERR_SHAPE,
                    "ax_pool2d_output_shape");
    /* ceil mode and padding would give an empty input one window */
    ax_pool2d_desc cp = desc_of(2, 2, 2, 2, 1, 1, 1, 1, 1, 1);
    int64_t zero_ceil[4] = {1, 1, 0, 4};
    AX_ASSERT_FAILS(ax_pool2d_output_shape(&cp, zero_ceil, out), AX_ERR_SHAPE,
                    "ax_pool2d_output_shape");
    /* kernel larger than the input */
    int64_t small[4] = {1, 1, 1, 4};
    AX_ASSERT_FAILS(ax_pool2d_output_shape(&d, small, out), AX_ERR_SHAPE,
                    "ax_pool2d_output_shape");
    /* overflow: the padded size, and the element count of the output */
    ax_pool2d_desc p = desc_of(3, 3, 1, 1, 1, 1, 1, 1, 0, 1);
    int64_t huge[4] = {1, 1, INT64_MAX - 1, 4};
    AX_ASSERT_FAILS(ax_pool2d_output_shape(&p, huge, out), AX_ERR_SHAPE,
                    "ax_pool2d_output_shape");
    ax_pool2d_desc c = desc_of(3, 3, 2, 2, 1, 1, 1, 1, 1, 1);
    int64_t huge_ceil[4] = {1, 1, INT64_MAX - 4, 4};
    AX_ASSERT_FAILS(ax_pool2d_output_shape(&c, huge_ceil, out), AX_ERR_SHAPE,
                    "ax_pool2d_output_shape");
    /* the padded size overflows while the output stays small (a huge stride) */
    ax_pool2d_desc strided = desc_of(3, 1, 1 << 30, 1, 1, 0, 1, 1, 0, 1);
    int64_t tall[4] = {1, 1, INT64_MAX - 1, 1};
    AX_ASSERT_FAILS(ax_pool2d_output_shape(&strided, tall, out), AX_ERR_SHAPE,
                    "ax_pool2d_output_shape");
    int64_t many[4] = {(int64_t)1 << 31, (int64_t)1 << 31, (int64_t)1 << 20, 4};
    AX_ASSERT_FAILS(ax_pool2d_output_shape(&d, many, out), AX_ERR_SHAPE,
                    "ax_pool2d_output_shape");
    for (int i = 0; i < 4; i++)
        cr_assert_eq(out[i], 7, "a refused call wrote out[%d]", i);
    /* just inside the limits */
    int64_t big[4] = {1, 1, INT64_MAX / 4, 4};
    AX_ASSERT_OK(ax_pool2d_output_shape(&p, big, out));
    cr_assert_eq(out[2], INT64_MAX / 4);
}

/* ---------------------------------------------------------------- GPU parity */

typedef struct parity_case {
    int64_t n, c, h, w;
    ax_pool2d_desc d;
} parity_case;

/* x on both sides (uniform, |x| >= 1e-3, planted NaNs when nan_every > 0), every output
 * NaN-filled (indices -7) before the call. */
static void parity_one(ax_ctx *gpu, ax_ctx *cpu, const parity_case *pc, uint64_t seed,
                       int nan_every) {
    const ax_pool2d_desc *d = &pc->d;
    int64_t xs[4] = {pc->n, pc->c, pc->h, pc->w}, ys[4];
    AX_ASSERT_OK(ax_pool2d_output_shape(d, xs, ys));
    int64_t nx = th_numel(4, xs), ny = th_numel(4, ys);
    float *hx = malloc((size_t)nx * sizeof *hx), *hdy = malloc((size_t)ny * sizeof *hdy);
    cr_assert(hx && hdy);
    th_random_away_from_zero(hx, nx, seed, -2.0f, 2.0f, 1e-3f);
    th_random_away_from_zero(hdy, ny, seed + 1, -1.0f, 1.0f, 1e-3f);
    for (int64_t e = nan_every ? (int64_t)(seed % (uint64_t)nan_every) : nx; e < nx;
         e += nan_every)
        hx[e] = NAN;
    ax_ctx *ctx[2] = {cpu, gpu};
    ax_tensor *x[2], *dy[2], *y[2], *idx[2], *dx[2], *ay[2], *adx[2];
    for (int s = 0; s < 2; s++) {
        x[s] = th_tensor(ctx[s], 4, xs, hx);
        dy[s] = th_tensor(ctx[s], 4, ys, hdy);
        y[s] = th_nan_tensor(ctx[s], 4, ys);
        ay[s] = th_nan_tensor(ctx[s], 4, ys);
        idx[s] = i32_tensor(ctx[s], 4, ys, -7);
        dx[s] = th_nan_tensor(ctx[s], 4, xs);
        adx[s] = th_nan_tensor(ctx[s], 4, xs);
        AX_ASSERT_OK(ax_max_pool2d_forward(ctx[s], d, x[s], y[s], idx[s]));
        AX_ASSERT_OK(ax_max_pool2d_backward(ctx[s], d, idx[s], dy[s], dx[s]));
        if (pc->d.dilation_h == 1 && pc->d.dilation_w == 1) {
            AX_ASSERT_OK(ax_avg_pool2d_forward(ctx[s], d, x[s], ay[s]));
            AX_ASSERT_OK(ax_avg_pool2d_backward(ctx[s], d, dy[s], adx[s]));
        }
    }
    char what[160];
    snprintf(what, sizeof what, "x [%lld, %lld, %lld, %lld] k %dx%d s %dx%d p %dx%d d %dx%d c %d",
             (long long)pc->n, (long long)pc->c, (long long)pc->h, (long long)pc->w, d->kernel_h,
             d->kernel_w, d->stride_h, d->stride_w, d->pad_h, d->pad_w, d->dilation_h,
             d->dilation_w, d->ceil_mode);
    float *g = th_to_host(y[1]), *r = th_to_host(y[0]);
    th_assert_ieee(g, r, ny, 0.0, 0.0, TH_ZERO_SIGN, what); /* max: exact, NaN as NaN */
    free(g);
    free(r);
    int32_t *gi = i32_to_host(idx[1]), *ri = i32_to_host(idx[0]);
    for (int64_t e = 0; e < ny; e++)
        cr_assert_eq(gi[e], ri[e], "%s: idx[%lld] gpu %d cpu %d", what, (long long)e, gi[e],
                     ri[e]);
    free(gi);
    free(ri);
    g = th_to_host(dx[1]);
    r = th_to_host(dx[0]);
    th_assert_close(g, r, nx, MAXDX_ATOL, MAXDX_RTOL, what);
    /* a second backward gives the same bits */
    AX_ASSERT_OK(ax_fill(gpu, dx[1], NAN));
    AX_ASSERT_OK(ax_max_pool2d_backward(gpu, d, idx[1], dy[1], dx[1]));
    free(r);
    r = th_to_host(dx[1]);
    th_assert_equal(r, g, nx, what);
    free(g);
    free(r);
    if (pc->d.dilation_h == 1 && pc->d.dilation_w == 1) {
        g = th_to_host(ay[1]);
        r = th_to_host(ay[0]);
        th_assert_ieee(g, r, ny, AVG_ATOL, AVG_RTOL, TH_ZERO_VALUE, what);
        free(g);
        free(r);
        g = th_to_host(adx[1]);
        r = th_to_host(adx[0]);
        th_assert_close(g, r, nx, AVG_ATOL, AVG_RTOL, what);
        free(g);
        free(r);
    }
    for (int s = 0; s < 2; s++) {
        ax_tensor_destroy(x[s]);
        ax_tensor_destroy(dy[s]);
        ax_tensor_destroy(y[s]);
        ax_tensor_destroy(ay[s]);
        ax_tensor_destroy(idx[s]);
        ax_tensor_destroy(dx[s]);
        ax_tensor_destroy(adx[s]);
    }
    free(hx);
    free(hdy);
}

static const parity_case kParity[] = {
    {1, 1, 1, 1, {1, 1, 1, 1, 0, 0, 1, 1, 0, 1}},
    {1, 1, 7, 33, {2, 2, 2, 2, 0, 0, 1, 1, 0, 1}},
    {3, 5, 17, 33, {3, 3, 2, 2, 1, 1, 1, 1, 1, 1}},
    {2, 7, 33, 17, {3, 3, 2, 2, 1, 1, 1, 1, 1, 0}},
    {1, 3, 31, 29, {3, 3, 1, 1, 1, 1, 1, 1, 0, 1}},
    {2, 3, 19, 23, {3, 2, 1, 2, 1, 1, 2, 3, 0, 1}},
    {1, 2, 9, 257, {5, 4, 3, 2, 2, 2, 1, 1, 1, 0}},
    {1, 1, 5, 5, {2, 2, 2, 2, 1, 1, 1, 1, 1, 1}},
    {3, 2, 2, 2, {2, 2, 1, 1, 1, 1, 3, 3, 0, 1}}, /* windows without a tap in the input */
    {8, 64, 113, 127, {3, 3, 2, 2, 1, 1, 1, 1, 1, 1}},
    {32, 64, 56, 56, {2, 2, 2, 2, 0, 0, 1, 1, 0, 1}},
};

/* Every case of kParity, seeds from seed0; nan_every > 0 plants NaN inputs. */
static void parity_all(uint64_t seed0, int nan_every) {
    ax_ctx *gpu = th_gpu_ctx_or_skip(), *cpu = th_cpu_ctx();
    for (size_t k = 0; k < sizeof kParity / sizeof *kParity; k++)
        parity_one(gpu, cpu, &kParity[k], seed0 + 10 * k, nan_every);
    AX_ASSERT_OK(ax_ctx_synchronize(gpu));
    ax_ctx_destroy(cpu);
    ax_ctx_destroy(gpu);
}

Test(parity, pool2d) { parity_all(1000, 0); }

Test(parity, pool2d_nan_inputs) { parity_all(2000, 7); }

/* More than 2^30 elements: the kernels' int64 index path (pool.cu runs int32 below half of
 * int32's range). 4.3 GB per tensor on each side. */
Test(parity, pool2d_int64_indexing, .timeout = 600) {
    ax_ctx *gpu = th_gpu_ctx_or_skip(), *cpu = th_cpu_ctx();
    const parity_case big = {2, 1, 23171, 23173, {3, 2, 2, 2, 1, 1, 1, 1, 1, 0}};
    parity_one(gpu, cpu, &big, 5000, 1000003);
    AX_ASSERT_OK(ax_ctx_synchronize(gpu));
    ax_ctx_destroy(cpu);
    ax_ctx_destroy(gpu);
}

Test(parity, global_avg_pool) {
    ax_ctx *gpu = th_gpu_ctx_or_skip(), *cpu = th_cpu_ctx();
    int64_t shapes[][4] = {{1, 1, 1, 1}, {3, 5, 7, 9}, {2, 33, 1, 257}, {32, 512, 7, 7}};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        int64_t *xs = shapes[k], ys[2] = {xs[0], xs[1]};
        int64_t nx = th_numel(4, xs), ny = th_numel(2, ys);
        ax_ctx *ctx[2] = {cpu, gpu};
        ax_tensor *x[2], *y[2], *dy[2], *dx[2];
        for (int s = 0; s < 2; s++) {
            x[s] = th_random_tensor(ctx[s], 4, xs, 3000 + k, -2, 2, 1e-3f);
            dy[s] = th_random_tensor(ctx[s], 2, ys, 3100 + k, -1, 1, 1e-3f);
            y[s] = th_nan_tensor(ctx[s], 2, ys);
            dx[s] = th_nan_tensor(ctx[s], 4, xs);
            AX_ASSERT_OK(ax_global_avg_pool_forward(ctx[s], x[s], y[s]));
            AX_ASSERT_OK(ax_global_avg_pool_backward(ctx[s], dy[s], dx[s]));
        }
        float *g = th_to_host(y[1]), *r = th_to_host(y[0]);
        /* a mean of up to 257 terms of size <= 2: atol 1e-6 per term as the reductions */
        th_assert_close(g, r, ny, 1e-6 * (double)(xs[2] * xs[3]), AVG_RTOL, "global avg y");
        free(g);
        free(r);
        g = th_to_host(dx[1]);
        r = th_to_host(dx[0]);
        th_assert_close(g, r, nx, 1e-6, AVG_RTOL, "global avg dx");
        free(g);
        free(r);
        for (int s = 0; s < 2; s++) {
            ax_tensor_destroy(x[s]);
            ax_tensor_destroy(y[s]);
            ax_tensor_destroy(dy[s]);
            ax_tensor_destroy(dx[s]);
        }
    }
    AX_ASSERT_OK(ax_ctx_synchronize(gpu));
    ax_ctx_destroy(cpu);
    ax_ctx_destroy(gpu);
}

/* ---------------------------------------------------------------- cuDNN as an oracle */

#ifdef AXON_TEST_CUDNN
#include "dnn_check.h"

/* Our GPU forward and backward against cuDNN's (floor mode, no dilation: what cuDNN has) on
 * random inputs; mode 0 max, 1 average with padding counted, 2 without. */
static void cudnn_case(ax_ctx *gpu, int mode, ax_pool2d_desc d, const int64_t xs[4],
                       uint64_t seed) {
    d.count_include_pad = mode != 2;
    int64_t ys[4];
    AX_ASSERT_OK(ax_pool2d_output_shape(&d, xs, ys));
    int64_t nx = th_numel(4, xs), ny = th_numel(4, ys);
    ax_tensor *x = th_random_tensor(gpu, 4, xs, seed, -2, 2, 1e-3f);
    ax_tensor *dy = th_random_tensor(gpu, 4, ys, seed + 1, -1, 1, 1e-3f);
    ax_tensor *y = th_nan_tensor(gpu, 4, ys), *ry = th_nan_tensor(gpu, 4, ys);
    ax_tensor *dx = th_nan_tensor(gpu, 4, xs), *rdx = th_nan_tensor(gpu, 4, xs);
    ax_tensor *idx = i32_tensor(gpu, 4, ys, -7);
    if (mode == 0) {
        AX_ASSERT_OK(ax_max_pool2d_forward(gpu, &d, x, y, idx));
        AX_ASSERT_OK(ax_max_pool2d_backward(gpu, &d, idx, dy, dx));
    } else {
        AX_ASSERT_OK(ax_avg_pool2d_forward(gpu, &d, x, y));
        AX_ASSERT_OK(ax_avg_pool2d_backward(gpu, &d, dy, dx));
    }
    cudnnHandle_t h;
    cudnnPoolingDescriptor_t pd;
    cudnnTensorDescriptor_t xd, yd;
    DNN_OK(cudnnCreate(&h));
    DNN_OK(cudnnSetStream(h, ax_stream(gpu)));
    DNN_OK(cudnnCreatePoolingDescriptor(&pd));
    DNN_OK(cudnnSetPooling2dDescriptor(
        pd,
        mode == 0   ? CUDNN_POOLING_MAX_DETERMINISTIC
        : mode == 1 ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                    : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING,
        CUDNN_PROPAGATE_NAN, d.kernel_h, d.kernel_w, d.pad_h, d.pad_w, d.stride_h, d.stride_w));
    DNN_OK(cudnnCreateTensorDescriptor(&xd));
    DNN_OK(cudnnCreateTensorDescriptor(&yd));
    DNN_OK(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)xs[0],
                                      (int)xs[1], (int)xs[2], (int)xs[3]));
    DNN_OK(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)ys[0],
                                      (int)ys[1], (int)ys[2], (int)ys[3]));
    const float one = 1.0f, zero = 0.0f;
    DNN_OK(cudnnPoolingForward(h, pd, &one, xd, ax_tensor_data(x), &zero, yd,
                               ax_tensor_data(ry)));
    DNN_OK(cudnnPoolingBackward(h, pd, &one, yd, ax_tensor_data(ry), yd, ax_tensor_data(dy), xd,
                                ax_tensor_data(x), &zero, xd, ax_tensor_data(rdx)));
    AX_ASSERT_OK(ax_ctx_synchronize(gpu));
    char what[96];
    snprintf(what, sizeof what, "cuDNN mode %d, x [%lld, %lld, %lld, %lld] k %dx%d s %d p %d",
             mode, (long long)xs[0], (long long)xs[1], (long long)xs[2], (long long)xs[3],
             d.kernel_h, d.kernel_w, d.stride_h, d.pad_h);
    float *g = th_to_host(y), *r = th_to_host(ry);
    th_assert_close(g, r, ny, AVG_ATOL, AVG_RTOL, what);
    free(g);
    free(r);
    g = th_to_host(dx);
    r = th_to_host(rdx);
    th_assert_close(g, r, nx, AVG_ATOL, AVG_RTOL, what);
    free(g);
    free(r);
    cudnnDestroyTensorDescriptor(xd);
    cudnnDestroyTensorDescriptor(yd);
    cudnnDestroyPoolingDescriptor(pd);
    cudnnDestroy(h);
    ax_tensor *all[] = {x, dy, y, ry, dx, rdx, idx};
    for (size_t k = 0; k < sizeof all / sizeof *all; k++)
        ax_tensor_destroy(all[k]);
}
#endif

/* The hand-written kernels and cuDNN agree (the CPU reference is the parity tests' side). */
Test(parity, pool2d_cudnn_oracle) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
#ifdef AXON_TEST_CUDNN
    const int64_t shapes[][4] = {{2, 3, 17, 33}, {8, 64, 56, 56}, {1, 1, 7, 7}};
    const ax_pool2d_desc descs[] = {ax_pool2d_desc_default(2, 2),
                                    desc_of(3, 3, 2, 2, 1, 1, 1, 1, 0, 1),
                                    desc_of(3, 2, 1, 2, 1, 1, 1, 1, 0, 1)};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (size_t k = 0; k < sizeof descs / sizeof *descs; k++)
            for (int mode = 0; mode < 3; mode++)
                cudnn_case(gpu, mode, descs[k], shapes[s], 4000 + 100 * s + 10 * k + mode);
    ax_ctx_destroy(gpu);
#else
    ax_ctx_destroy(gpu);
    cr_skip("cuDNN was not found when this test was built: the oracle cannot run");
#endif
}
