/* The 2-D convolution (ax_conv2d_*): output shape, CPU reference against a direct double
 * loop written here (random geometries, a multi-chunk case), gradient checks, PyTorch golden
 * cases (tests/golden/gen_conv.py), bad input, and GPU parity with the reference (skipped where
 * no GPU works). */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef AXON_TEST_CUDNN
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "dnn_check.h"
#include "host/cuda/cuda_internal.h" /* ax_stream: cuDNN runs on the context's stream */
#endif

#include "golden.h"
#include "gradcheck.h"
#include "helpers.h"

/* A convolution case: descriptor and sizes. x [n, c, h, w], w [k, c/groups, r, s]. */
typedef struct conv_case {
    const char *name;
    ax_conv2d_desc d;
    int64_t n, c, h, w, k, r, s;
    int bias;
} conv_case;

static ax_conv2d_desc desc_of(int sh, int sw, int pt, int pb, int pl, int pr, int dh, int dw,
                              int groups) {
    ax_conv2d_desc d = ax_conv2d_desc_default();
    d.stride_h = sh;
    d.stride_w = sw;
    d.pad_top = pt;
    d.pad_bottom = pb;
    d.pad_left = pl;
    d.pad_right = pr;
    d.dilation_h = dh;
    d.dilation_w = dw;
    d.groups = groups;
    return d;
}

static void shapes_of(const conv_case *cc, int64_t *xs, int64_t *ws, int64_t *bs, int64_t *ys) {
    xs[0] = cc->n, xs[1] = cc->c, xs[2] = cc->h, xs[3] = cc->w;
    ws[0] = cc->k, ws[1] = cc->c / cc->d.groups, ws[2] = cc->r, ws[3] = cc->s;
    bs[0] = cc->k;
    AX_ASSERT_OK(ax_conv2d_output_shape(&cc->d, xs, ws, ys));
}

/* Shapes and fresh random host inputs (uniform in [-1, 1)) of a case. */
typedef struct conv_io {
    int64_t xs[4], ws[4], bs[1], ys[4], nx, nw, ny;
    float *hx, *hw, *hb, *hdy;
} conv_io;

static conv_io io_make(const conv_case *cc, uint64_t seed) {
    conv_io io;
    shapes_of(cc, io.xs, io.ws, io.bs, io.ys);
    io.nx = th_numel(4, io.xs), io.nw = th_numel(4, io.ws), io.ny = th_numel(4, io.ys);
    io.hx = malloc((size_t)io.nx * sizeof *io.hx);
    io.hw = malloc((size_t)io.nw * sizeof *io.hw);
    io.hb = malloc((size_t)cc->k * sizeof *io.hb);
    io.hdy = malloc((size_t)io.ny * sizeof *io.hdy);
    cr_assert(io.hx && io.hw && io.hb && io.hdy);
    th_random(io.hx, io.nx, seed, -1, 1);
    th_random(io.hw, io.nw, seed + 1, -1, 1);
    th_random(io.hb, cc->k, seed + 2, -1, 1);
    th_random(io.hdy, io.ny, seed + 3, -1, 1);
    return io;
}

static void io_free(conv_io *io) {
    free(io->hx), free(io->hw), free(io->hb), free(io->hdy);
}

/* ---------------------------------------------------------------- a direct reference in double
 * Straight from the definition in ops.h, independent of the library's im2col. */

typedef struct direct {
    double *y, *dx, *dw, *db;
} direct;

static direct direct_conv(const conv_case *cc, const int64_t *ys, const float *x, const float *w,
                          const float *b, const float *dy) {
    const ax_conv2d_desc *d = &cc->d;
    int64_t cg = cc->c / d->groups, kg = cc->k / d->groups, oh = ys[2], ow = ys[3];
    direct o;
    o.y = calloc((size_t)(cc->n * cc->k * oh * ow), sizeof(double));
    o.dx = calloc((size_t)(cc->n * cc->c * cc->h * cc->w), sizeof(double));
    o.dw = calloc((size_t)(cc->k * cg * cc->r * cc->s), sizeof(double));
    o.db = calloc((size_t)cc->k, sizeof(double));
    cr_assert(o.y && o.dx && o.dw && o.db);
    for (int64_t n = 0; n < cc->n; n++)
        for (int64_t k = 0; k < cc->k; k++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    int64_t yi = ((n * cc->k + k) * oh + i) * ow + j;
                    double acc = b ? b[k] : 0.0, g = dy[yi];
                    o.db[k] += g;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t r = 0; r < cc->r; r++)
                            for (int64_t s = 0; s < cc->s; s++) {
                                int64_t hi = i * d->stride_h - d->pad_top + r * d->dilation_h;
                                int64_t wi = j * d->stride_w - d->pad_left + s * d->dilation_w;
                                if (hi < 0 || hi >= cc->h || wi < 0 || wi >= cc->w)
                                    continue;
                                int64_t ci = (k / kg) * cg + c;
                                int64_t xi = ((n * cc->c + ci) * cc->h + hi) * cc->w + wi;
                                int64_t wix = ((k * cg + c) * cc->r + r) * cc->s + s;
                                acc += (double)w[wix] * x[xi];
                                o.dx[xi] += (double)w[wix] * g;
                                o.dw[wix] += (double)x[xi] * g;
                            }
                    o.y[yi] = acc;
                }
    return o;
}

static void direct_free(direct *o) {
    free(o->y);
    free(o->dx);
    free(o->dw);
    free(o->db);
}

/* |got - want| <= tol * (1 + |want|), with NaN never passing. */
static void assert_near_double(const float *got, const double *want, int64_t n, double tol,
                               const char *what, const char *case_name) {
    for (int64_t i = 0; i < n; i++)
        cr_assert(fabs((double)got[i] - want[i]) <= tol * (1.0 + fabs(want[i])),
                  "%s: %s[%lld] = %.9g, expected %.9g", case_name, what, (long long)i,
                  (double)got[i], want[i]);
}

/* The library on ctx against direct_conv: y, dx, dw, db, from fresh random inputs and NaN-filled
 * outputs. tol covers f32 sums of up to a few thousand terms of size ~1. */
static void check_against_direct(ax_ctx *ctx, const conv_case *cc, uint64_t seed, double tol) {
    conv_io io = io_make(cc, seed);
    const int64_t *xs = io.xs, *ws = io.ws, *bs = io.bs, *ys = io.ys;
    const int64_t nx = io.nx, nw = io.nw, ny = io.ny;
    const float *hx = io.hx, *hw = io.hw, *hb = io.hb, *hdy = io.hdy;
    ax_tensor *x = th_tensor(ctx, 4, xs, hx), *w = th_tensor(ctx, 4, ws, hw);
    ax_tensor *b = cc->bias ? th_tensor(ctx, 1, bs, hb) : NULL, *dy = th_tensor(ctx, 4, ys, hdy);
    ax_tensor *y = th_nan_tensor(ctx, 4, ys), *dx = th_nan_tensor(ctx, 4, xs);
    ax_tensor *dw = th_nan_tensor(ctx, 4, ws), *db = th_nan_tensor(ctx, 1, bs);
    AX_ASSERT_OK(ax_conv2d_forward(ctx, &cc->d, x, w, b, y));
    AX_ASSERT_OK(ax_conv2d_backward(ctx, &cc->d, x, w, dy, dx, dw, db));
    direct ref = direct_conv(cc, ys, hx, hw, cc->bias ? hb : NULL, hdy);
    float *gy = th_to_host(y), *gdx = th_to_host(dx), *gdw = th_to_host(dw), *gdb = th_to_host(db);
    assert_near_double(gy, ref.y, ny, tol, "y", cc->name);
    assert_near_double(gdx, ref.dx, nx, tol, "dx", cc->name);
    assert_near_double(gdw, ref.dw, nw, tol, "dw", cc->name);
    assert_near_double(gdb, ref.db, cc->k, tol, "db", cc->name);
    free(gy), free(gdx), free(gdw), free(gdb);
    direct_free(&ref);
    io_free(&io);
    ax_tensor_destroy(x), ax_tensor_destroy(w), ax_tensor_destroy(b), ax_tensor_destroy(dy);
    ax_tensor_destroy(y), ax_tensor_destroy(dx), ax_tensor_destroy(dw), ax_tensor_destroy(db);
}

/* The geometries every check runs over: stride > 1, asymmetric padding, dilation, groups,
 * depthwise, odd sizes, batch 1, 1x1, even kernels, a kernel as large as the padded input,
 * taps that miss the input whatever the output column. */
static const conv_case kCases[] = {
    {"plain 3x3", {1, 1, 0, 0, 0, 0, 1, 1, 1}, 2, 3, 5, 6, 4, 3, 3, 1},
    {"stride 2x3, asym pad", {2, 3, 2, 0, 1, 3, 1, 1, 1}, 2, 2, 7, 8, 3, 3, 2, 1},
    {"dilation 2x3", {1, 1, 1, 1, 1, 1, 2, 3, 1}, 1, 3, 9, 10, 2, 3, 3, 0},
    {"groups 2, stride 2", {2, 2, 1, 1, 0, 0, 1, 1, 2}, 3, 4, 6, 7, 6, 2, 3, 1},
    {"depthwise 5", {1, 1, 1, 1, 1, 1, 1, 1, 5}, 2, 5, 6, 5, 5, 3, 3, 1},
    {"depthwise x2 stride 2", {2, 1, 0, 1, 2, 0, 1, 2, 3}, 1, 3, 7, 9, 6, 3, 2, 1},
    {"odd 7x5 kernel 5x3 pads 3/1/0/2", {1, 2, 3, 1, 0, 2, 1, 1, 1}, 1, 3, 7, 5, 5, 5, 3, 1},
    {"1x1 stride 2", {2, 2, 0, 0, 0, 0, 1, 1, 1}, 2, 6, 5, 5, 4, 1, 1, 0},
    {"even 4x4 same", {1, 1, 1, 2, 1, 2, 1, 1, 1}, 1, 2, 6, 5, 3, 4, 4, 1},
    {"kernel = padded input", {3, 1, 1, 1, 0, 0, 2, 1, 1}, 2, 2, 3, 4, 2, 3, 4, 1},
    {"stride > kernel, dilated, groups 3", {3, 2, 2, 1, 1, 2, 2, 2, 3}, 2, 6, 11, 9, 3, 2, 2, 1},
    /* the last tap column (s dw = 6) lies past the input (w = 3) for every output column */
    {"dilated taps past the input, stride 5", {1, 5, 0, 0, 0, 9, 1, 3, 1}, 1, 2, 4, 3, 2, 2, 3, 1},
};
#define N_CASES (int)(sizeof kCases / sizeof kCases[0])

/* ---------------------------------------------------------------- output shape */

Test(conv_shape, pytorch_formula) {
    int64_t xs[4] = {2, 4, 11, 9}, ws[4] = {6, 2, 3, 2}, ys[4];
    ax_conv2d_desc d = desc_of(2, 3, 2, 1, 0, 4, 2, 3, 2);
    AX_ASSERT_OK(ax_conv2d_output_shape(&d, xs, ws, ys));
    /* OH = (11 + 3 - 2*2 - 1) / 2 + 1 = 5, OW = (9 + 4 - 3*1 - 1) / 3 + 1 = 4 */
    cr_assert(ys[0] == 2 && ys[1] == 6 && ys[2] == 5 && ys[3] == 4, "[%lld %lld %lld %lld]",
              (long long)ys[0], (long long)ys[1], (long long)ys[2], (long long)ys[3]);
    /* exactly fitting kernel: one output */
    int64_t xs1[4] = {1, 1, 3, 3}, ws1[4] = {1, 1, 5, 5};
    d = desc_of(1, 1, 1, 1, 1, 1, 1, 1, 1);
    AX_ASSERT_OK(ax_conv2d_output_shape(&d, xs1, ws1, ys));
    cr_assert(ys[2] == 1 && ys[3] == 1);
    /* the default descriptor */
    d = ax_conv2d_desc_default();
    cr_assert(d.stride_h == 1 && d.stride_w == 1 && d.dilation_h == 1 && d.dilation_w == 1 &&
              d.groups == 1 && d.pad_top == 0 && d.pad_bottom == 0 && d.pad_left == 0 &&
              d.pad_right == 0);
    int64_t xs2[4] = {3, 5, 8, 7}, ws2[4] = {2, 5, 3, 4};
    AX_ASSERT_OK(ax_conv2d_output_shape(&d, xs2, ws2, ys));
    cr_assert(ys[0] == 3 && ys[1] == 2 && ys[2] == 6 && ys[3] == 4);
}

/* ---------------------------------------------------------------- reference vs direct loop */

Test(conv_cpu, matches_direct_definition) {
    ax_ctx *ctx = th_cpu_ctx();
    for (int i = 0; i < N_CASES; i++)
        check_against_direct(ctx, &kCases[i], 100 + 10 * (uint64_t)i, 1e-5);
    ax_ctx_destroy(ctx);
}

/* The CPU reference builds im2col for at most 2^18 floats at a time (src/host/cpu/conv.c):
 * C/g * R * S = 72 and 100 x 100 outputs need 3 chunks per image (3640 pixels each); a
 * second case has columns of 2^18 + 9 floats (more than the bound: one pixel per chunk). */
Test(conv_cpu, several_chunks) {
    ax_ctx *ctx = th_cpu_ctx();
    conv_case big = {"3 chunks", {1, 1, 1, 1, 1, 1, 1, 1, 1}, 2, 8, 100, 100, 3, 3, 3, 1};
    check_against_direct(ctx, &big, 7, 1e-4); /* dw sums 20000 terms */
    conv_case wide = {"column over the bound", {1, 1, 0, 0, 0, 0, 1, 1, 1}, 1, 1, 5, 262153, 2,
                      1, 262153, 1};
    check_against_direct(ctx, &wide, 8, 1e-4);
    /* 39 * 3 * 3 = 351 floats a column: 746-pixel chunks, which end or start inside a row, in
     * the columns that read only padding (stride 2, padding 9): a chunk whose last row segment
     * lies wholly in the left padding (12 columns, a boundary at column 2), and one whose
     * first segment lies wholly in the right padding (11 columns, a boundary at column 9). */
    conv_case left = {"chunk ends in the left padding", {2, 2, 9, 9, 9, 9, 1, 1, 1}, 1, 39,
                      109, 7, 2, 3, 3, 1};
    check_against_direct(ctx, &left, 9, 1e-4);
    conv_case right = {"chunk starts in the right padding", {2, 2, 9, 9, 9, 9, 1, 1, 1}, 1, 39,
                       119, 5, 2, 3, 3, 0};
    check_against_direct(ctx, &right, 10, 1e-4);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- gradient checks */

static ax_status gc_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    const conv_case *cc = op->params;
    return ax_conv2d_forward(ctx, &cc->d, x[0], x[1], op->n_inputs > 2 ? x[2] : NULL, y);
}

static ax_status gc_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, const ax_tensor *y,
                        const ax_tensor *dy, ax_tensor *const *dx) {
    const conv_case *cc = op->params;
    (void)y;
    return ax_conv2d_backward(ctx, &cc->d, x[0], x[1], dy, dx[0], dx[1],
                              op->n_inputs > 2 ? dx[2] : NULL);
}

static gc_op conv_gc_op(ax_ctx *ctx, const conv_case *cc, uint64_t seed) {
    int64_t xs[4], ws[4], bs[1], ys[4];
    shapes_of(cc, xs, ws, bs, ys);
    gc_op op = {0};
    op.name = cc->name;
    op.forward = gc_fwd;
    op.backward = gc_bwd;
    op.params = cc;
    op.y_ndim = 4;
    memcpy(op.y_shape, ys, sizeof ys);
    op.x[0] = th_random_tensor(ctx, 4, xs, seed, -2, 2, 0);
    op.x[1] = th_random_tensor(ctx, 4, ws, seed + 1, -1, 1, 0);
    op.x_name[0] = "x";
    op.x_name[1] = "w";
    op.wrt[0] = op.wrt[1] = 1;
    op.n_inputs = 2;
    if (cc->bias) {
        op.x[2] = th_random_tensor(ctx, 1, bs, seed + 2, -1, 1, 0);
        op.x_name[2] = "b";
        op.wrt[2] = 1;
        op.n_inputs = 3;
    }
    return op;
}

/* Every geometry, x, w and b against central differences (tolerance: gradcheck.h; the
 * convolution is bilinear, so the differences are exact up to f32 rounding). */
Test(conv_gradcheck, every_geometry) {
    ax_ctx *ctx = th_cpu_ctx();
    for (int i = 0; i < N_CASES; i++) {
        gc_op op = conv_gc_op(ctx, &kCases[i], 300 + 10 * (uint64_t)i);
        gc_assert(ctx, &op, 305 + 10 * (uint64_t)i);
        gc_op_free(&op);
    }
    ax_ctx_destroy(ctx);
}

/* The check fails on a backward that is 1% off (dw only) or has db's sign flipped. */
typedef struct planted {
    const conv_case *cc;
    int which;
    float factor;
} planted;

static ax_status planted_fwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y) {
    const planted *p = op->params;
    return ax_conv2d_forward(ctx, &p->cc->d, x[0], x[1], x[2], y);
}

static ax_status planted_bwd(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x,
                             const ax_tensor *y, const ax_tensor *dy, ax_tensor *const *dx) {
    const planted *p = op->params;
    (void)y;
    ax_status st = ax_conv2d_backward(ctx, &p->cc->d, x[0], x[1], dy, dx[0], dx[1], dx[2]);
    if (st == AX_OK && dx[p->which])
        st = ax_scale(ctx, p->factor, dx[p->which], dx[p->which]);
    return st;
}

Test(conv_gradcheck, planted_error_is_caught) {
    ax_ctx *ctx = th_cpu_ctx();
    const conv_case *cc = &kCases[1];
    const int which[2] = {1, 2};
    const float factor[2] = {1.01f, -1.0f};
    for (int t = 0; t < 2; t++) {
        gc_op op = conv_gc_op(ctx, cc, 900);
        planted p = {cc, which[t], factor[t]};
        op.forward = planted_fwd;
        op.backward = planted_bwd;
        op.params = &p;
        gc_result r = gc_check(ctx, &op, 901, gc_default_tolerance());
        cr_assert(!r.ok, "gradient %d scaled by %g passed: %s", which[t], (double)factor[t],
                  r.message);
        cr_assert_eq(r.status, AX_OK);
        gc_op_free(&op);
    }
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- golden cases from PyTorch */

/* Both sides sum a few dozen f32 products: a few ulp apart; rtol 1e-5 and atol 1e-5 (for
 * values out of cancellation) are far below what any convention error (a flipped kernel, a
 * pad on the wrong side, a stride off by one) changes. */
#define G_ATOL 1e-5
#define G_RTOL 1e-5

static void golden_case(const char *name) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load("conv", name);
    const gd_tensor *p = gd_get(c, "params");
    cr_assert_eq(p->numel, 9);
    ax_conv2d_desc d = desc_of((int)p->f[0], (int)p->f[1], (int)p->f[2], (int)p->f[3],
                               (int)p->f[4], (int)p->f[5], (int)p->f[6], (int)p->f[7],
                               (int)p->f[8]);
    int has_bias = 0;
    for (int i = 0; i < c->count; i++)
        has_bias |= strcmp(c->t[i].name, "b") == 0;
    ax_tensor *x = gd_tensor_on(ctx, c, "x"), *w = gd_tensor_on(ctx, c, "w");
    ax_tensor *dy = gd_tensor_on(ctx, c, "dy");
    ax_tensor *b = has_bias ? gd_tensor_on(ctx, c, "b") : NULL;
    const gd_tensor *gy = gd_get(c, "y"), *gx = gd_get(c, "x"), *gw = gd_get(c, "w");
    int64_t ys[4];
    AX_ASSERT_OK(ax_conv2d_output_shape(&d, gx->shape, gw->shape, ys));
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ys[i], gy->shape[i], "%s: output dim %d", name, i);
    ax_tensor *y = th_nan_tensor(ctx, 4, ys), *dx = th_nan_tensor(ctx, 4, gx->shape);
    ax_tensor *dw = th_nan_tensor(ctx, 4, gw->shape);
    int64_t bs[1] = {ys[1]};
    ax_tensor *db = has_bias ? th_nan_tensor(ctx, 1, bs) : NULL;
    AX_ASSERT_OK(ax_conv2d_forward(ctx, &d, x, w, b, y));
    AX_ASSERT_OK(ax_conv2d_backward(ctx, &d, x, w, dy, dx, dw, db));
    gd_assert_close(y, c, "y", G_ATOL, G_RTOL);
    gd_assert_close(dx, c, "dx", G_ATOL, G_RTOL);
    gd_assert_close(dw, c, "dw", G_ATOL, G_RTOL);
    if (has_bias)
        gd_assert_close(db, c, "db", G_ATOL, G_RTOL);
    ax_tensor_destroy(x), ax_tensor_destroy(w), ax_tensor_destroy(dy), ax_tensor_destroy(b);
    ax_tensor_destroy(y), ax_tensor_destroy(dx), ax_tensor_destroy(dw), ax_tensor_destroy(db);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

Test(conv_golden, basic) { golden_case("conv2d_basic"); }
Test(conv_golden, stride_asymmetric_padding) { golden_case("conv2d_stride_asym_pad"); }
Test(conv_golden, dilation_no_bias) { golden_case("conv2d_dilation"); }
Test(conv_golden, groups) { golden_case("conv2d_groups"); }
Test(conv_golden, depthwise) { golden_case("conv2d_depthwise"); }
Test(conv_golden, same_padding_even_kernel) { golden_case("conv2d_same_even"); }
Test(conv_golden, pointwise_strided) { golden_case("conv2d_pointwise"); }

/* ---------------------------------------------------------------- bad input */

/* The call fails with `status`, its message names fn and contains `word`. */
#define EXPECT_FAIL(expr, status, fn, word)                                                    \
    do {                                                                                       \
        AX_ASSERT_FAILS(expr, status, fn);                                                     \
        cr_assert(strstr(ax_last_error(), word) != NULL, "%s: message \"%s\" lacks \"%s\"",   \
                  #expr, ax_last_error(), word);                                               \
    } while (0)

/* Every element of t still holds v (a refused call wrote nothing). */
static void assert_untouched(const ax_tensor *t, float v) {
    float *h = th_to_host(t);
    for (int64_t i = 0; i < ax_tensor_numel(t); i++)
        cr_assert(h[i] == v, "element %lld changed by a refused call", (long long)i);
    free(h);
}

static ax_tensor *filled(ax_ctx *ctx, ax_dtype dtype, int ndim, const int64_t *shape, float v) {
    ax_tensor *t = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, dtype, ndim, shape, &t));
    if (dtype == AX_F32)
        AX_ASSERT_OK(ax_fill(ctx, t, v));
    return t;
}

Test(conv_badinput, output_shape) {
    const char *fn = "ax_conv2d_output_shape";
    ax_conv2d_desc d = ax_conv2d_desc_default();
    int64_t xs[4] = {2, 4, 8, 8}, ws[4] = {6, 4, 3, 3}, ys[4] = {-7, -7, -7, -7};
    EXPECT_FAIL(ax_conv2d_output_shape(NULL, xs, ws, ys), AX_ERR_INVALID_ARG, fn, "desc");
    EXPECT_FAIL(ax_conv2d_output_shape(&d, NULL, ws, ys), AX_ERR_INVALID_ARG, fn, "NULL");
    EXPECT_FAIL(ax_conv2d_output_shape(&d, xs, NULL, ys), AX_ERR_INVALID_ARG, fn, "NULL");
    EXPECT_FAIL(ax_conv2d_output_shape(&d, xs, ws, NULL), AX_ERR_INVALID_ARG, fn, "NULL");
    /* negative and zero strides, dilations, paddings, groups */
    const int bad_field_values[2] = {0, -1};
    for (int v = 0; v < 2; v++) {
        int bad = bad_field_values[v];
        d = ax_conv2d_desc_default(), d.stride_h = bad;
        EXPECT_FAIL(ax_conv2d_output_shape(&d, xs, ws, ys), AX_ERR_INVALID_ARG, fn, "stride");
        d = ax_conv2d_desc_default(), d.stride_w = bad;
        EXPECT_FAIL(ax_conv2d_output_shape(&d, xs, ws, ys), AX_ERR_INVALID_ARG, fn, "stride");
        d = ax_conv2d_desc_default(), d.dilation_h = bad;
        EXPECT_FAIL(ax_conv2d_output_shape(&d, xs, ws, ys), AX_ERR_INVALID_ARG, fn, "dilation");
        d = ax_conv2d_desc_default(), d.dilation_w = bad;
        EXPECT_FAIL(ax_conv2d_output_shape(&d, xs, ws, ys), AX_ERR_INVALID_ARG, fn, "dilation");
        d = ax_conv2d_desc_default(), d.groups = bad;
        EXPECT_FAIL(ax_conv2d_output_shape(&d, xs, ws, ys), AX_ERR_INVALID_ARG, fn, "groups");
    }
    int *pads[4];
    for (int p = 0; p < 4; p++) {
        d = ax_conv2d_desc_default();
        pads[0] = &d.pad_top, pads[1] = &d.pad_bottom, pads[2] = &d.pad_left,
        pads[3] = &d.pad_right;
        *pads[p] = -1;
        EXPECT_FAIL(ax_conv2d_output_shape(&d, xs, ws, ys), AX_ERR_INVALID_ARG, fn, "padding");
    }
    /* channels: weight expects 3 per group, input has 4 */
    d = ax_conv2d_desc_default();
    int64_t w3[4] = {6, 3, 3, 3};
    EXPECT_FAIL(ax_conv2d_output_shape(&d, xs, w3, ys), AX_ERR_SHAPE, fn, "channels");
    /* groups 2: in/groups = 2, the weight's 4 is wrong */
    d.groups = 2;
    EXPECT_FAIL(ax_conv2d_output_shape(&d, xs, ws, ys), AX_ERR_SHAPE, fn, "per group");
    /* groups 3 divides neither 4 input channels nor ...; then divides in (6) but not out (4) */
    d.groups = 3;
    int64_t w13[4] = {6, 1, 3, 3};
    EXPECT_FAIL(ax_conv2d_output_shape(&d, xs, w13, ys), AX_ERR_SHAPE, fn, "divide");
    int64_t x6[4] = {2, 6, 8, 8}, w4o[4] = {4, 2, 3, 3};
    EXPECT_FAIL(ax_conv2d_output_shape(&d, x6, w4o, ys), AX_ERR_SHAPE, fn, "divide");
    /* kernel larger than the padded input: 10 > 8, then 9 > 8 + 0 on the width only, then a
     * dilated 3x3 (span 5) on a 3x3 input with padding 1 (5 fits, 6 does not) */
    d = ax_conv2d_desc_default();
    int64_t wbig[4] = {6, 4, 10, 3}, wwide[4] = {6, 4, 3, 9};
    EXPECT_FAIL(ax_conv2d_output_shape(&d, xs, wbig, ys), AX_ERR_SHAPE, fn, "larger");
    EXPECT_FAIL(ax_conv2d_output_shape(&d, xs, wwide, ys), AX_ERR_SHAPE, fn, "width");
    d.pad_left = 1;
    AX_ASSERT_OK(ax_conv2d_output_shape(&d, xs, wwide, ys));
    cr_assert_eq(ys[3], 1);
    int64_t xsmall[4] = {1, 4, 3, 3}, w33[4] = {2, 4, 3, 3};
    d = ax_conv2d_desc_default();
    d.dilation_h = 2, d.pad_top = 1, d.pad_bottom = 1;
    AX_ASSERT_OK(ax_conv2d_output_shape(&d, xsmall, w33, ys));
    cr_assert_eq(ys[2], 1);
    d.pad_bottom = 0;
    EXPECT_FAIL(ax_conv2d_output_shape(&d, xsmall, w33, ys), AX_ERR_SHAPE, fn, "height");
    /* zero-size input or weight dims give no output */
    d = ax_conv2d_desc_default();
    int64_t x0[4] = {0, 4, 8, 8}, w0[4] = {0, 4, 3, 3};
    EXPECT_FAIL(ax_conv2d_output_shape(&d, x0, ws, ys), AX_ERR_SHAPE, fn, ">= 1");
    EXPECT_FAIL(ax_conv2d_output_shape(&d, xs, w0, ys), AX_ERR_SHAPE, fn, ">= 1");
    /* overflow: of the padded size, of the dilated kernel, and of the output's element count */
    int64_t xhuge[4] = {1, 1, INT64_MAX - 1, 1}, w11[4] = {1, 1, 1, 1};
    d.pad_top = 1, d.pad_bottom = 1;
    EXPECT_FAIL(ax_conv2d_output_shape(&d, xhuge, w11, ys), AX_ERR_SHAPE, fn, "overflows");
    d = ax_conv2d_desc_default();
    d.dilation_h = 1 << 30;
    int64_t wlong[4] = {1, 1, INT64_MAX / 1000, 1};
    EXPECT_FAIL(ax_conv2d_output_shape(&d, xhuge, wlong, ys), AX_ERR_SHAPE, fn, "overflows");
    d = ax_conv2d_desc_default();
    /* x has 2^60 elements (fits), the output 2^68 (does not) */
    int64_t xmany[4] = {1 << 20, 1, 1 << 20, 1 << 20}, wmany[4] = {1 << 8, 1, 1, 1};
    EXPECT_FAIL(ax_conv2d_output_shape(&d, xmany, wmany, ys), AX_ERR_SHAPE, fn,
                "output [1048576, 256, 1048576, 1048576] has more elements than int64");
    /* the output fits (2^32), x (2^64) does not */
    int64_t xwide[4] = {(int64_t)1 << 32, (int64_t)1 << 32, 1, 1};
    int64_t wone[4] = {1, (int64_t)1 << 32, 1, 1};
    EXPECT_FAIL(ax_conv2d_output_shape(&d, xwide, wone, ys), AX_ERR_SHAPE, fn,
                "x or w has more elements");
    /* just below: 2^62 output elements are fine for the shape function */
    int64_t xok[4] = {1 << 20, 1, 1 << 20, 1 << 20}, wok[4] = {1 << 2, 1, 1, 1};
    AX_ASSERT_OK(ax_conv2d_output_shape(&d, xok, wok, ys));
    cr_assert(ys[0] == 1 << 20 && ys[1] == 4 && ys[2] == 1 << 20 && ys[3] == 1 << 20);
}

Test(conv_badinput, forward_and_backward) {
    ax_ctx *ctx = th_cpu_ctx(), *other = th_cpu_ctx();
    const char *ff = "ax_conv2d_forward", *fb = "ax_conv2d_backward";
    ax_conv2d_desc d = ax_conv2d_desc_default();
    d.pad_top = 1, d.pad_bottom = 1, d.pad_left = 1, d.pad_right = 1, d.stride_h = 2;
    int64_t xs[4] = {2, 4, 7, 6}, ws[4] = {6, 4, 3, 3}, bs[1] = {6}, ys[4] = {2, 6, 4, 6};
    int64_t ys_wrong[4] = {2, 6, 5, 6}, xs3[3] = {4, 7, 6}, b7[1] = {7};
    const float S = 1234.5f; /* sentinel of outputs */
    ax_tensor *x = filled(ctx, AX_F32, 4, xs, 0.5f), *w = filled(ctx, AX_F32, 4, ws, 0.25f);
    ax_tensor *b = filled(ctx, AX_F32, 1, bs, 0.1f), *y = filled(ctx, AX_F32, 4, ys, S);
    ax_tensor *dy = filled(ctx, AX_F32, 4, ys, 0.5f);
    ax_tensor *dx = filled(ctx, AX_F32, 4, xs, S), *dw = filled(ctx, AX_F32, 4, ws, S);
    ax_tensor *db = filled(ctx, AX_F32, 1, bs, S);
    ax_tensor *xi = filled(ctx, AX_I32, 4, xs, 0), *x3 = filled(ctx, AX_F32, 3, xs3, 0.5f);
    ax_tensor *yw = filled(ctx, AX_F32, 4, ys_wrong, S), *bw = filled(ctx, AX_F32, 1, b7, S);
    ax_tensor *xo = filled(other, AX_F32, 4, xs, 0.5f), *dwo = filled(other, AX_F32, 4, ws, S);
    ax_tensor *w3 = filled(ctx, AX_F32, 4, (int64_t[]){6, 3, 3, 3}, 0.25f);

    /* NULLs */
    EXPECT_FAIL(ax_conv2d_forward(NULL, &d, x, w, b, y), AX_ERR_INVALID_ARG, ff, "ctx");
    EXPECT_FAIL(ax_conv2d_forward(ctx, NULL, x, w, b, y), AX_ERR_INVALID_ARG, ff, "desc");
    EXPECT_FAIL(ax_conv2d_forward(ctx, &d, NULL, w, b, y), AX_ERR_INVALID_ARG, ff, "x");
    EXPECT_FAIL(ax_conv2d_forward(ctx, &d, x, NULL, b, y), AX_ERR_INVALID_ARG, ff, "w");
    EXPECT_FAIL(ax_conv2d_forward(ctx, &d, x, w, b, NULL), AX_ERR_INVALID_ARG, ff, "y");
    EXPECT_FAIL(ax_conv2d_backward(ctx, &d, x, w, NULL, dx, dw, db), AX_ERR_INVALID_ARG, fb,
                "dy");
    /* dtype, rank, context */
    EXPECT_FAIL(ax_conv2d_forward(ctx, &d, xi, w, b, y), AX_ERR_DTYPE, ff, "x");
    EXPECT_FAIL(ax_conv2d_forward(ctx, &d, x3, w, b, y), AX_ERR_SHAPE, ff, "x");
    EXPECT_FAIL(ax_conv2d_forward(ctx, &d, xo, w, b, y), AX_ERR_DEVICE, ff, "x");
    EXPECT_FAIL(ax_conv2d_backward(ctx, &d, x, w, dy, dx, dwo, db), AX_ERR_DEVICE, fb,
                "dw");
    /* geometry: channels, wrong y / dy, wrong bias, bad descriptor */
    EXPECT_FAIL(ax_conv2d_forward(ctx, &d, x, w3, b, y), AX_ERR_SHAPE, ff, "channels");
    EXPECT_FAIL(ax_conv2d_forward(ctx, &d, x, w, b, yw), AX_ERR_SHAPE, ff, "y has shape");
    EXPECT_FAIL(ax_conv2d_backward(ctx, &d, x, w, yw, dx, dw, db), AX_ERR_SHAPE, fb,
                "dy has shape");
    EXPECT_FAIL(ax_conv2d_forward(ctx, &d, x, w, bw, y), AX_ERR_SHAPE, ff, "b");
    EXPECT_FAIL(ax_conv2d_backward(ctx, &d, x, w, dy, dx, dw, bw), AX_ERR_SHAPE, fb, "db");
    EXPECT_FAIL(ax_conv2d_backward(ctx, &d, x, w, dy, dw, NULL, NULL), AX_ERR_SHAPE, fb, "dx");
    EXPECT_FAIL(ax_conv2d_backward(ctx, &d, x, w, dy, NULL, dx, NULL), AX_ERR_SHAPE, fb, "dw");
    ax_conv2d_desc bad = d;
    bad.pad_right = -1;
    EXPECT_FAIL(ax_conv2d_forward(ctx, &bad, x, w, b, y), AX_ERR_INVALID_ARG, ff, "padding");
    bad = d, bad.stride_w = -2;
    EXPECT_FAIL(ax_conv2d_backward(ctx, &bad, x, w, dy, dx, dw, db), AX_ERR_INVALID_ARG, fb,
                "stride");
    bad = d, bad.groups = 4; /* divides 4 inputs but not 6 outputs */
    EXPECT_FAIL(ax_conv2d_forward(ctx, &bad, x, w, b, y), AX_ERR_SHAPE, ff, "divide");
    bad = d, bad.dilation_w = 4; /* span 9 > 6 + 2 */
    EXPECT_FAIL(ax_conv2d_forward(ctx, &bad, x, w, b, y), AX_ERR_SHAPE, ff, "larger");
    /* aliasing */
    EXPECT_FAIL(ax_conv2d_forward(ctx, &d, x, w, b, x), AX_ERR_SHAPE, ff, "y");
    EXPECT_FAIL(ax_conv2d_backward(ctx, &d, x, w, dy, x, NULL, NULL), AX_ERR_INVALID_ARG, fb,
                "dx must not alias x");
    EXPECT_FAIL(ax_conv2d_backward(ctx, &d, x, w, dy, NULL, w, NULL), AX_ERR_INVALID_ARG, fb,
                "dw must not alias w");
    /* nothing was written */
    assert_untouched(y, S);
    assert_untouched(yw, S);
    assert_untouched(dx, S);
    assert_untouched(dw, S);
    assert_untouched(db, S);
    assert_untouched(bw, S);
    /* and the good calls work, all gradients NULL included */
    AX_ASSERT_OK(ax_conv2d_forward(ctx, &d, x, w, b, y));
    AX_ASSERT_OK(ax_conv2d_backward(ctx, &d, x, w, dy, NULL, NULL, NULL));
    AX_ASSERT_OK(ax_conv2d_backward(ctx, &d, x, w, dy, dx, dw, db));

    ax_tensor *all[] = {x, w, b, y, dy, dx, dw, db, xi, x3, yw, bw, xo, dwo, w3};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ax_tensor_destroy(all[i]);
    ax_ctx_destroy(ctx);
    ax_ctx_destroy(other);
}

/* ---------------------------------------------------------------- GPU parity */

/* The five outputs of a case on one context: y, dx, dw, db, and dw of a second run (every
 * output NaN-filled first). */
static void conv_outputs(ax_ctx *ctx, const conv_case *cc, const conv_io *io, float *out[5]) {
    const int64_t *xs = io->xs, *ws = io->ws, *bs = io->bs, *ys = io->ys;
    ax_tensor *x = th_tensor(ctx, 4, xs, io->hx), *w = th_tensor(ctx, 4, ws, io->hw);
    ax_tensor *b = cc->bias ? th_tensor(ctx, 1, bs, io->hb) : NULL;
    ax_tensor *dy = th_tensor(ctx, 4, ys, io->hdy), *y = th_nan_tensor(ctx, 4, ys);
    ax_tensor *dx = th_nan_tensor(ctx, 4, xs), *dw = th_nan_tensor(ctx, 4, ws);
    ax_tensor *dw2 = th_nan_tensor(ctx, 4, ws), *db = th_nan_tensor(ctx, 1, bs);
    AX_ASSERT_OK(ax_conv2d_forward(ctx, &cc->d, x, w, b, y));
    AX_ASSERT_OK(ax_conv2d_backward(ctx, &cc->d, x, w, dy, dx, dw, db));
    AX_ASSERT_OK(ax_conv2d_backward(ctx, &cc->d, x, w, dy, NULL, dw2, NULL));
    AX_ASSERT_OK(ax_ctx_synchronize(ctx));
    out[0] = th_to_host(y);
    out[1] = th_to_host(dx);
    out[2] = th_to_host(dw);
    out[3] = th_to_host(db);
    out[4] = th_to_host(dw2);
    ax_tensor *all[] = {x, w, b, dy, y, dx, dw, dw2, db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ax_tensor_destroy(all[i]);
}

/* |got - ref| <= atol + rtol |ref| for y, dx, dw (and db when got_db), with rtol 1e-4 and
 * atol 2e-6 sqrt(terms) + 1e-6 (terms: the longest sum of the pass; inputs in [-1, 1]), a few
 * times the expected rounding difference of f32 sums in different orders (Winograd's
 * transforms included: emu_conv measures them) and far below any indexing error. */
static void assert_conv_close(const conv_case *cc, const int64_t *ys, float *const got[4],
                              float *const ref[4], const char *who) {
    const int64_t cg = cc->c / cc->d.groups, kg = cc->k / cc->d.groups;
    const double terms[4] = {(double)(cg * cc->r * cc->s), (double)(kg * cc->r * cc->s),
                             (double)(ys[0] * ys[2] * ys[3]), (double)(ys[0] * ys[2] * ys[3])};
    const int64_t n[4] = {th_numel(4, ys), cc->n * cc->c * cc->h * cc->w,
                          cc->k * cg * cc->r * cc->s, cc->k};
    const char *names[4] = {"y", "dx", "dw", "db"};
    for (int i = 0; i < 4; i++) {
        if (!got[i] || !ref[i])
            continue;
        char what[200];
        snprintf(what, sizeof what, "%s: %s: %s", cc->name, who, names[i]);
        th_assert_close(got[i], ref[i], n[i], 2e-6 * sqrt(terms[i]) + 1e-6, 1e-4, what);
    }
}

/* The CUDA kernels against the CPU reference on the same fresh random inputs, every output
 * NaN-filled first: as dispatched (the specialised path the geometry takes, if any) and with
 * AX_CONV_ALGO=generic (the implicit GEMM). dw is computed twice and must be bit-identical
 * (deterministic backward-filter). */
static void gpu_parity(ax_ctx *gpu, ax_ctx *cpu, const conv_case *cc, uint64_t seed) {
    conv_io io = io_make(cc, seed);
    float *ref[5], *out[5];
    conv_outputs(cpu, cc, &io, ref);
    for (int generic = 0; generic < 2; generic++) {
        if (generic)
            setenv("AX_CONV_ALGO", "generic", 1);
        conv_outputs(gpu, cc, &io, out);
        unsetenv("AX_CONV_ALGO");
        const char *who = generic ? "generic path" : "dispatched path";
        assert_conv_close(cc, io.ys, out, ref, who);
        char what[200];
        snprintf(what, sizeof what, "%s: %s: dw of a second run", cc->name, who);
        th_assert_equal(out[4], out[2], io.nw, what);
        for (int i = 0; i < 5; i++)
            free(out[i]);
    }
    for (int i = 0; i < 5; i++)
        free(ref[i]);
    io_free(&io);
}

/* gpu_parity over n cases, case i with seed seed + 10 i (skipped where no GPU works). */
static void gpu_parity_cases(const conv_case *cases, size_t n, uint64_t seed) {
    ax_ctx *gpu = th_gpu_ctx_or_skip(), *cpu = th_cpu_ctx();
    for (size_t i = 0; i < n; i++)
        gpu_parity(gpu, cpu, &cases[i], seed + 10 * (uint64_t)i);
    ax_ctx_destroy(gpu);
    ax_ctx_destroy(cpu);
}

Test(conv_gpu, parity_every_geometry) { gpu_parity_cases(kCases, (size_t)N_CASES, 700); }

/* Odd and large sizes: tails of every tile (65 output channels, 33 x 33 pixels, 7-channel
 * groups), a layer as in a CNN (batch 16, 64 -> 128 channels, 3x3 on 28 x 28), a long
 * backward-filter reduction that takes several splits (batch 32 on 56 x 56), a 1x1 and a
 * depthwise layer with 257 channels. */
Test(conv_gpu, parity_odd_and_large) {
    static const conv_case big[] = {
        {"tails 65 out, 33x33", {1, 1, 1, 1, 1, 1, 1, 1, 1}, 3, 7, 33, 33, 65, 3, 3, 1},
        {"groups 3 of 7, stride 2", {2, 2, 1, 0, 0, 1, 1, 1, 3}, 2, 21, 31, 29, 9, 3, 3, 1},
        {"cnn 64->128 3x3", {1, 1, 1, 1, 1, 1, 1, 1, 1}, 16, 64, 28, 28, 128, 3, 3, 1},
        {"long wgrad", {1, 1, 1, 1, 1, 1, 1, 1, 1}, 32, 8, 56, 56, 16, 3, 3, 0},
        {"1x1 257->33", {1, 1, 0, 0, 0, 0, 1, 1, 1}, 4, 257, 15, 13, 33, 1, 1, 1},
        {"depthwise 257 5x5 dilated", {1, 1, 4, 4, 4, 4, 2, 2, 257}, 2, 257, 17, 19, 257, 5, 5,
         1},
        {"batch 1, 1x1 image", {1, 1, 0, 0, 0, 0, 1, 1, 1}, 1, 3, 1, 1, 5, 1, 1, 1},
    };
    gpu_parity_cases(big, sizeof big / sizeof big[0], 800);
}

/* The specialised CUDA paths (src/kernels/conv.cu: choose_algo) on the geometries they take,
 * each also run on the implicit GEMM (gpu_parity): 1x1 as batched SGEMMs (odd sizes, batch
 * 1), depthwise (odd channel counts, stride, asymmetric padding, a split backward-filter, one
 * channel), Winograd F(2x2, 3x3) forwards and backward-datas (odd output sizes, asymmetric
 * padding, batch 1 with a 1x1 output). Small enough for compute-sanitizer (scripts/gpu-check runs parity/). */
Test(parity, conv2d_specialised_paths) {
    static const conv_case cases[] = {
        {"1x1 33->17 odd", {1, 1, 0, 0, 0, 0, 1, 1, 1}, 3, 33, 7, 9, 17, 1, 1, 1},
        {"1x1 batch 1, 1x1 image", {1, 1, 0, 0, 0, 0, 1, 1, 1}, 1, 5, 1, 1, 7, 1, 1, 0},
        {"depthwise 33 3x3 stride 2 asym", {2, 2, 1, 0, 0, 1, 1, 1, 33}, 3, 33, 17, 14, 33, 3, 3,
         1},
        {"depthwise 16 3x3 batch 4 40x40", {1, 1, 1, 1, 1, 1, 1, 1, 16}, 4, 16, 40, 40, 16, 3, 3,
         0},
        {"depthwise 1 channel, 1x1 image", {1, 1, 1, 1, 1, 1, 1, 1, 1}, 1, 1, 1, 1, 1, 3, 3, 1},
        {"winograd 16->17 odd 9x11", {1, 1, 1, 1, 1, 1, 1, 1, 1}, 2, 16, 9, 11, 17, 3, 3, 1},
        {"winograd asym pad 0/2/1/0", {1, 1, 0, 2, 1, 0, 1, 1, 1}, 3, 24, 13, 10, 40, 3, 3, 0},
        {"winograd batch 1, 1x1 output", {1, 1, 0, 0, 0, 0, 1, 1, 1}, 1, 16, 3, 3, 16, 3, 3, 1},
        {"winograd pads 3/0/0/3", {1, 1, 3, 0, 0, 3, 1, 1, 1}, 2, 16, 5, 6, 20, 3, 3, 1},
    };
    gpu_parity_cases(cases, sizeof cases / sizeof cases[0], 900);
}

/* The specialised paths on layers as large as a CNN's, where their chunked loops run: a 1x1
 * backward-filter of 80 images of 512 x 512 (two chunks of the 16 Mi floats of partial sums),
 * Winograd on 24 images of 112 x 112 x 32 (two chunks of its 256 MiB of scratch) and on a
 * ResNet layer (64 channels, 28 x 28, batch 8), and a depthwise layer of batch 8 on 56 x 56
 * (a split backward-filter). */
Test(conv_gpu, specialised_paths_large) {
    static const conv_case cases[] = {
        {"1x1 512->512 batch 80 (chunks)", {1, 1, 0, 0, 0, 0, 1, 1, 1}, 80, 512, 7, 7, 512, 1, 1,
         1},
        {"winograd 32->32 112x112 batch 24 (chunks)", {1, 1, 1, 1, 1, 1, 1, 1, 1}, 24, 32, 112,
         112, 32, 3, 3, 1},
        {"winograd 64->64 28x28 batch 8", {1, 1, 1, 1, 1, 1, 1, 1, 1}, 8, 64, 28, 28, 64, 3, 3,
         1},
        {"depthwise 32 3x3 batch 8 56x56", {1, 1, 1, 1, 1, 1, 1, 1, 32}, 8, 32, 56, 56, 32, 3, 3,
         0},
    };
    gpu_parity_cases(cases, sizeof cases / sizeof cases[0], 950);
}

/* ---------------------------------------------------------------- cuDNN as an oracle */

#ifdef AXON_TEST_CUDNN
#define CUDA_OK(expr) cr_assert_eq((expr), cudaSuccess, "%s failed", #expr)

/* cuDNN's descriptors of a case: x as cuDNN sees it (padded explicitly where the padding is
 * asymmetric, which cuDNN's descriptor cannot express), FP32 math without tensor cores
 * (CUDNN_FMA_MATH: no TF32). */
typedef struct dnn_case {
    cudnnHandle_t h;
    cudnnTensorDescriptor_t xd, yd, bd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    int64_t ph, pw; /* x's height and width as cuDNN gets them */
    int explicit_pad;
    void *ws;
    size_t ws_bytes;
} dnn_case;

static const size_t kDnnWorkspace = (size_t)256 << 20;

static dnn_case dnn_make(ax_ctx *gpu, const conv_case *cc, const int64_t *ys) {
    const ax_conv2d_desc *d = &cc->d;
    dnn_case dc;
    dc.explicit_pad = d->pad_top != d->pad_bottom || d->pad_left != d->pad_right;
    dc.ph = cc->h + (dc.explicit_pad ? d->pad_top + d->pad_bottom : 0);
    dc.pw = cc->w + (dc.explicit_pad ? d->pad_left + d->pad_right : 0);
    DNN_OK(cudnnCreate(&dc.h));
    DNN_OK(cudnnSetStream(dc.h, ax_stream(gpu)));
    DNN_OK(cudnnCreateTensorDescriptor(&dc.xd));
    DNN_OK(cudnnCreateTensorDescriptor(&dc.yd));
    DNN_OK(cudnnCreateTensorDescriptor(&dc.bd));
    DNN_OK(cudnnCreateFilterDescriptor(&dc.wd));
    DNN_OK(cudnnCreateConvolutionDescriptor(&dc.cd));
    DNN_OK(cudnnSetTensor4dDescriptor(dc.xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)cc->n,
                                      (int)cc->c, (int)dc.ph, (int)dc.pw));
    DNN_OK(cudnnSetTensor4dDescriptor(dc.yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)ys[0],
                                      (int)ys[1], (int)ys[2], (int)ys[3]));
    DNN_OK(cudnnSetTensor4dDescriptor(dc.bd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, (int)cc->k,
                                      1, 1));
    DNN_OK(cudnnSetFilter4dDescriptor(dc.wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, (int)cc->k,
                                      (int)(cc->c / d->groups), (int)cc->r, (int)cc->s));
    DNN_OK(cudnnSetConvolution2dDescriptor(
        dc.cd, dc.explicit_pad ? 0 : d->pad_top, dc.explicit_pad ? 0 : d->pad_left, d->stride_h,
        d->stride_w, d->dilation_h, d->dilation_w, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    DNN_OK(cudnnSetConvolutionGroupCount(dc.cd, d->groups));
    DNN_OK(cudnnSetConvolutionMathType(dc.cd, CUDNN_FMA_MATH));
    int on, oc, oh, ow;
    DNN_OK(cudnnGetConvolution2dForwardOutputDim(dc.cd, dc.xd, dc.wd, &on, &oc, &oh, &ow));
    cr_assert(on == ys[0] && oc == ys[1] && oh == ys[2] && ow == ys[3],
              "%s: cuDNN's output shape %dx%dx%dx%d", cc->name, on, oc, oh, ow);
    dc.ws_bytes = kDnnWorkspace;
    CUDA_OK(cudaMalloc(&dc.ws, dc.ws_bytes));
    return dc;
}

static void dnn_free(dnn_case *dc) {
    cudaFree(dc->ws);
    cudnnDestroyConvolutionDescriptor(dc->cd);
    cudnnDestroyFilterDescriptor(dc->wd);
    cudnnDestroyTensorDescriptor(dc->bd);
    cudnnDestroyTensorDescriptor(dc->yd);
    cudnnDestroyTensorDescriptor(dc->xd);
    cudnnDestroy(dc->h);
}

/* The first algorithm cuDNN's heuristics rank for a pass that is supported, is not a tensor-
 * core one and fits the workspace (the _v7 queries report support per algorithm); it runs with
 * the descriptor's CUDNN_FMA_MATH. */
#define DNN_PICK(perf, what)                                                                   \
    for (int i_ = 0; i_ < got; i_++)                                                           \
        if (perf[i_].status == CUDNN_STATUS_SUCCESS &&                                         \
            perf[i_].mathType != CUDNN_TENSOR_OP_MATH &&                                       \
            perf[i_].mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION &&                      \
            perf[i_].memory <= kDnnWorkspace)                                                  \
            return perf[i_].algo;                                                              \
    cr_assert_fail("%s: cuDNN offers no FMA algorithm for the %s", cc->name, what)

static cudnnConvolutionFwdAlgo_t dnn_fwd_algo(const dnn_case *dc, const conv_case *cc) {
    cudnnConvolutionFwdAlgoPerf_t perf[16];
    int got = 0;
    DNN_OK(cudnnGetConvolutionForwardAlgorithm_v7(dc->h, dc->xd, dc->wd, dc->cd, dc->yd, 16,
                                                  &got, perf));
    DNN_PICK(perf, "forward");
    return CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
}

static cudnnConvolutionBwdDataAlgo_t dnn_bwd_data_algo(const dnn_case *dc, const conv_case *cc) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[16];
    int got = 0;
    DNN_OK(cudnnGetConvolutionBackwardDataAlgorithm_v7(dc->h, dc->wd, dc->yd, dc->cd, dc->xd,
                                                       16, &got, perf));
    DNN_PICK(perf, "backward-data");
    return CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
}

static cudnnConvolutionBwdFilterAlgo_t dnn_bwd_filter_algo(const dnn_case *dc,
                                                           const conv_case *cc) {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[16];
    int got = 0;
    DNN_OK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(dc->h, dc->xd, dc->yd, dc->cd, dc->wd,
                                                         16, &got, perf));
    DNN_PICK(perf, "backward-filter");
    return CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
}

/* x padded explicitly where cuDNN cannot pad (asymmetric), on the host */
static float *dnn_input(const conv_case *cc, const dnn_case *dc, const float *hx) {
    if (!dc->explicit_pad)
        return NULL;
    float *px = calloc((size_t)(cc->n * cc->c * dc->ph * dc->pw), sizeof *px);
    cr_assert(px);
    for (int64_t nc = 0; nc < cc->n * cc->c; nc++)
        for (int64_t i = 0; i < cc->h; i++)
            memcpy(px + (nc * dc->ph + i + cc->d.pad_top) * dc->pw + cc->d.pad_left,
                   hx + (nc * cc->h + i) * cc->w, (size_t)cc->w * sizeof *px);
    return px;
}

/* cuDNN's y (+ b), dx, dw and db of a case, on the host. */
static void dnn_outputs(ax_ctx *gpu, const conv_case *cc, const conv_io *io, float *out[4]) {
    dnn_case dc = dnn_make(gpu, cc, io->ys);
    float *px = dnn_input(cc, &dc, io->hx);
    const int64_t pxs[4] = {cc->n, cc->c, dc.ph, dc.pw};
    ax_tensor *x = th_tensor(gpu, 4, dc.explicit_pad ? pxs : io->xs, px ? px : io->hx);
    ax_tensor *w = th_tensor(gpu, 4, io->ws, io->hw), *b = th_tensor(gpu, 1, io->bs, io->hb);
    ax_tensor *dy = th_tensor(gpu, 4, io->ys, io->hdy), *y = th_nan_tensor(gpu, 4, io->ys);
    ax_tensor *dx = th_nan_tensor(gpu, 4, dc.explicit_pad ? pxs : io->xs);
    ax_tensor *dw = th_nan_tensor(gpu, 4, io->ws), *db = th_nan_tensor(gpu, 1, io->bs);
    const float one = 1.0f, zero = 0.0f;
    DNN_OK(cudnnConvolutionForward(dc.h, &one, dc.xd, ax_tensor_data(x), dc.wd,
                                   ax_tensor_data(w), dc.cd, dnn_fwd_algo(&dc, cc), dc.ws,
                                   dc.ws_bytes, &zero, dc.yd, ax_tensor_data(y)));
    if (cc->bias)
        DNN_OK(cudnnAddTensor(dc.h, &one, dc.bd, ax_tensor_data(b), &one, dc.yd,
                              ax_tensor_data(y)));
    DNN_OK(cudnnConvolutionBackwardData(dc.h, &one, dc.wd, ax_tensor_data(w), dc.yd,
                                        ax_tensor_data(dy), dc.cd, dnn_bwd_data_algo(&dc, cc),
                                        dc.ws, dc.ws_bytes, &zero, dc.xd, ax_tensor_data(dx)));
    DNN_OK(cudnnConvolutionBackwardFilter(dc.h, &one, dc.xd, ax_tensor_data(x), dc.yd,
                                          ax_tensor_data(dy), dc.cd,
                                          dnn_bwd_filter_algo(&dc, cc), dc.ws, dc.ws_bytes,
                                          &zero, dc.wd, ax_tensor_data(dw)));
    DNN_OK(cudnnConvolutionBackwardBias(dc.h, &one, dc.yd, ax_tensor_data(dy), &zero, dc.bd,
                                        ax_tensor_data(db)));
    AX_ASSERT_OK(ax_ctx_synchronize(gpu));
    out[0] = th_to_host(y);
    out[1] = th_to_host(dx);
    out[2] = th_to_host(dw);
    out[3] = th_to_host(db);
    if (dc.explicit_pad) { /* dx of the unpadded x: the inside of cuDNN's */
        float *crop = malloc((size_t)io->nx * sizeof *crop);
        cr_assert(crop);
        for (int64_t nc = 0; nc < cc->n * cc->c; nc++)
            for (int64_t i = 0; i < cc->h; i++)
                memcpy(crop + (nc * cc->h + i) * cc->w,
                       out[1] + (nc * dc.ph + i + cc->d.pad_top) * dc.pw + cc->d.pad_left,
                       (size_t)cc->w * sizeof *crop);
        free(out[1]);
        out[1] = crop;
    }
    ax_tensor *all[] = {x, w, b, dy, y, dx, dw, db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ax_tensor_destroy(all[i]);
    free(px);
    dnn_free(&dc);
}
#endif

/* cuDNN as an independent oracle (FP32 FMA math, TF32 off) for the three passes and the bias
 * gradient: the hand-written kernels (as dispatched and forced onto the implicit GEMM) and
 * the CPU reference each agree with cuDNN, over stride, symmetric and asymmetric padding
 * (padded explicitly for cuDNN), dilation, groups, depthwise, 1x1, a ResNet stem and batch 1
 * with a 1x1 image; the tolerance is gpu_parity's. */
Test(parity, conv2d_cudnn_oracle) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
#ifdef AXON_TEST_CUDNN
    ax_ctx *cpu = th_cpu_ctx();
    static const conv_case cases[] = {
        {"3x3 pad 1, 16->24 (winograd)", {1, 1, 1, 1, 1, 1, 1, 1, 1}, 2, 16, 15, 17, 24, 3, 3, 1},
        {"3x3 stride 2, asym pad", {2, 2, 0, 1, 1, 0, 1, 1, 1}, 2, 5, 16, 13, 7, 3, 3, 1},
        {"3x3 dilation 2, pad 2", {1, 1, 2, 2, 2, 2, 2, 2, 1}, 2, 6, 12, 14, 5, 3, 3, 0},
        {"groups 4, stride 2", {2, 2, 1, 1, 1, 1, 1, 1, 4}, 2, 8, 11, 9, 12, 3, 3, 1},
        {"depthwise 32 3x3", {1, 1, 1, 1, 1, 1, 1, 1, 32}, 3, 32, 14, 14, 32, 3, 3, 1},
        {"depthwise 17 5x5 stride 2 dil 2 asym", {2, 2, 4, 3, 4, 4, 2, 2, 17}, 2, 17, 19, 20, 17,
         5, 5, 1},
        {"1x1 64->32", {1, 1, 0, 0, 0, 0, 1, 1, 1}, 4, 64, 9, 7, 32, 1, 1, 1},
        {"7x7 stride 2 pad 3 stem", {2, 2, 3, 3, 3, 3, 1, 1, 1}, 2, 3, 33, 35, 16, 7, 7, 0},
        {"batch 1, 1x1 image", {1, 1, 1, 1, 1, 1, 1, 1, 1}, 1, 4, 1, 1, 3, 3, 3, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const conv_case *cc = &cases[i];
        conv_io io = io_make(cc, 1000 + 10 * (uint64_t)i);
        float *dnn[4], *ref[5], *ours[5];
        dnn_outputs(gpu, cc, &io, dnn);
        conv_outputs(cpu, cc, &io, ref);
        assert_conv_close(cc, io.ys, ref, dnn, "CPU reference vs cuDNN");
        for (int generic = 0; generic < 2; generic++) {
            if (generic)
                setenv("AX_CONV_ALGO", "generic", 1);
            conv_outputs(gpu, cc, &io, ours);
            unsetenv("AX_CONV_ALGO");
            assert_conv_close(cc, io.ys, ours, dnn,
                              generic ? "generic path vs cuDNN" : "dispatched path vs cuDNN");
            for (int k = 0; k < 5; k++)
                free(ours[k]);
        }
        for (int k = 0; k < 5; k++)
            free(ref[k]);
        for (int k = 0; k < 4; k++)
            free(dnn[k]);
        io_free(&io);
    }
    ax_ctx_destroy(cpu);
    ax_ctx_destroy(gpu);
#else
    ax_ctx_destroy(gpu);
    cr_skip("cuDNN was not found when this test was built: the oracle cannot run");
#endif
}

/* A tensor of a CPU context handed to a CUDA call (and the other way) is refused. */
Test(conv_gpu, wrong_device) {
    ax_ctx *gpu = th_gpu_ctx_or_skip(), *cpu = th_cpu_ctx();
    ax_conv2d_desc d = ax_conv2d_desc_default();
    int64_t xs[4] = {1, 2, 4, 4}, ws[4] = {3, 2, 3, 3}, ys[4] = {1, 3, 2, 2};
    ax_tensor *x = filled(cpu, AX_F32, 4, xs, 0.5f), *w = filled(gpu, AX_F32, 4, ws, 0.5f);
    ax_tensor *y = filled(gpu, AX_F32, 4, ys, 0.0f);
    EXPECT_FAIL(ax_conv2d_forward(gpu, &d, x, w, NULL, y), AX_ERR_DEVICE, "ax_conv2d_forward",
                "x");
    ax_tensor_destroy(x), ax_tensor_destroy(w), ax_tensor_destroy(y);
    ax_ctx_destroy(gpu);
    ax_ctx_destroy(cpu);
}

/* Outputs aliasing inputs or each other, where the shapes would let them through: x and w of
 * one shape (dx = dw), y of x's shape (dx = dy), and three-element tensors (db = dx, db = dw,
 * forward with b = y). */
Test(conv_badinput, aliasing) {
    ax_ctx *ctx = th_cpu_ctx();
    const char *ff = "ax_conv2d_forward", *fb = "ax_conv2d_backward";
    ax_conv2d_desc d = desc_of(1, 1, 1, 1, 1, 1, 1, 1, 1);
    int64_t s3[4] = {3, 3, 3, 3};
    ax_tensor *x = filled(ctx, AX_F32, 4, s3, 0.5f), *w = filled(ctx, AX_F32, 4, s3, 0.25f);
    ax_tensor *dy = filled(ctx, AX_F32, 4, s3, 0.5f), *g = filled(ctx, AX_F32, 4, s3, 7.0f);
    EXPECT_FAIL(ax_conv2d_backward(ctx, &d, x, w, dy, g, g, NULL), AX_ERR_INVALID_ARG, fb,
                "dw must not alias dx");
    EXPECT_FAIL(ax_conv2d_backward(ctx, &d, x, w, dy, dy, NULL, NULL), AX_ERR_INVALID_ARG, fb,
                "dx must not alias dy");
    EXPECT_FAIL(ax_conv2d_backward(ctx, &d, x, w, dy, NULL, dy, NULL), AX_ERR_INVALID_ARG, fb,
                "dw must not alias dy");
    EXPECT_FAIL(ax_conv2d_forward(ctx, &d, x, w, NULL, w), AX_ERR_INVALID_ARG, ff,
                "y must not alias w");
    assert_untouched(g, 7.0f);
    /* x [1, 1, 1, 3], w [3, 1, 1, 1]: dx, dw and db all have 3 elements */
    ax_conv2d_desc d1 = ax_conv2d_desc_default();
    int64_t xs[4] = {1, 1, 1, 3}, ws[4] = {3, 1, 1, 1}, ys[4] = {1, 3, 1, 3}, b1[4] = {1, 3, 1, 1};
    ax_tensor *x1 = filled(ctx, AX_F32, 4, xs, 0.5f), *w1 = filled(ctx, AX_F32, 4, ws, 0.5f);
    ax_tensor *dy1 = filled(ctx, AX_F32, 4, ys, 0.5f), *dx1 = filled(ctx, AX_F32, 4, xs, 7.0f);
    ax_tensor *dw1 = filled(ctx, AX_F32, 4, ws, 7.0f), *yb = filled(ctx, AX_F32, 4, b1, 7.0f);
    EXPECT_FAIL(ax_conv2d_backward(ctx, &d1, x1, w1, dy1, dx1, NULL, dx1), AX_ERR_INVALID_ARG,
                fb, "db must not alias dx");
    EXPECT_FAIL(ax_conv2d_backward(ctx, &d1, x1, w1, dy1, NULL, dw1, dw1), AX_ERR_INVALID_ARG,
                fb, "db must not alias dw");
    EXPECT_FAIL(ax_conv2d_backward(ctx, &d1, x1, w1, dy1, NULL, NULL, x1), AX_ERR_INVALID_ARG,
                fb, "db must not alias x");
    /* forward with b = y: a 1x1 image, so y [1, 3, 1, 1] has 3 elements, as b must */
    int64_t xs2[4] = {1, 1, 1, 1};
    ax_tensor *x2 = filled(ctx, AX_F32, 4, xs2, 0.5f);
    EXPECT_FAIL(ax_conv2d_forward(ctx, &d1, x2, w1, yb, yb), AX_ERR_INVALID_ARG, ff,
                "y must not alias b");
    assert_untouched(dx1, 7.0f);
    assert_untouched(dw1, 7.0f);
    assert_untouched(yb, 7.0f);
    /* the same tensors in allowed roles work */
    AX_ASSERT_OK(ax_conv2d_backward(ctx, &d1, x1, w1, dy1, dx1, dw1, NULL));
    ax_tensor *all[] = {x, w, dy, g, x1, w1, dy1, dx1, dw1, yb, x2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ax_tensor_destroy(all[i]);
    ax_ctx_destroy(ctx);
}
