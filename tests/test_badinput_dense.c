/* Bad input to the dense and elementwise ops of ops.h (fill, scale, axpy, add, mul are in
 * test_elementwise.c): NULL context and tensors, wrong dtypes, tensors of another context,
 * shapes that do not fit, forbidden aliasing, bad enums and values, bad labels. Each must
 * return the documented status with a message naming the call (AX_ASSERT_FAILS). Every
 * tensor comes from the fixture and is destroyed by its fini (the sanitizer build checks
 * that nothing leaks). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "helpers.h"

static ax_ctx *g_ctx, *g_other;
static ax_tensor *g_made[96];
static int g_count;

static void setup(void) {
    g_ctx = th_cpu_ctx();
    g_other = th_cpu_ctx();
    g_count = 0;
}

static void teardown(void) {
    for (int i = 0; i < g_count; i++)
        ax_tensor_destroy(g_made[i]);
    g_count = 0;
    ax_ctx_destroy(g_ctx);
    ax_ctx_destroy(g_other);
}

TestSuite(badinput, .init = setup, .fini = teardown);

/* DIMS(2, 3) expands to the ndim and shape arguments: 2, (int64_t[]){2, 3}. */
#define DIMS(...)                                                                                  \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]) { __VA_ARGS__ }

/* A tensor of ctx, kept for teardown; f32 ones are filled with 0.5, i32 ones with 0. */
static ax_tensor *make(ax_ctx *ctx, ax_dtype dtype, int ndim, const int64_t *shape) {
    cr_assert(g_count < (int)(sizeof g_made / sizeof g_made[0]));
    ax_tensor *t = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, dtype, ndim, shape, &t));
    if (dtype == AX_F32)
        AX_ASSERT_OK(ax_fill(ctx, t, 0.5f));
    return g_made[g_count++] = t;
}

static ax_tensor *f32(int ndim, const int64_t *shape) { return make(g_ctx, AX_F32, ndim, shape); }
static ax_tensor *i32(int ndim, const int64_t *shape) { return make(g_ctx, AX_I32, ndim, shape); }
/* An f32 tensor of another (CPU) context. */
static ax_tensor *foreign(int ndim, const int64_t *shape) {
    return make(g_other, AX_F32, ndim, shape);
}

#define BAD_ENUM 7

/* ---------------------------------------------------------------- GEMM */

Test(badinput, gemm) {
    ax_ctx *c = g_ctx;
    const char *fn = "ax_gemm";
    ax_tensor *a = f32(DIMS(2, 3)), *b = f32(DIMS(3, 4)), *y = f32(DIMS(2, 4));
    AX_ASSERT_OK(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, b, 0, y));
    AX_ASSERT_FAILS(ax_gemm(NULL, AX_NO_TRANS, AX_NO_TRANS, 1, a, b, 0, y), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, NULL, b, 0, y), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, NULL, 0, y), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, b, 0, NULL), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, i32(DIMS(2, 3)), b, 0, y), AX_ERR_DTYPE,
                    fn);
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, b, 0, i32(DIMS(2, 4))), AX_ERR_DTYPE,
                    fn);
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, foreign(DIMS(3, 4)), 0, y),
                    AX_ERR_DEVICE, fn);
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, b, 0, foreign(DIMS(2, 4))),
                    AX_ERR_DEVICE, fn);
    AX_ASSERT_FAILS(ax_gemm(c, (ax_transpose)BAD_ENUM, AX_NO_TRANS, 1, a, b, 0, y),
                    AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, (ax_transpose)-1, 1, a, b, 0, y), AX_ERR_INVALID_ARG,
                    fn);
    /* inner dimensions: op(A) [2, 3] against op(B) = B^T [4, 3] */
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, AX_TRANS, 1, a, b, 0, y), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_gemm(c, AX_TRANS, AX_NO_TRANS, 1, a, b, 0, y), AX_ERR_SHAPE, fn);
    /* C of the wrong shape, 1-D and 4-D operands */
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, b, 0, f32(DIMS(4, 2))), AX_ERR_SHAPE,
                    fn);
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, f32(DIMS(6)), b, 0, y), AX_ERR_SHAPE,
                    fn);
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, f32(DIMS(1, 1, 2, 3)), b, 0, y),
                    AX_ERR_SHAPE, fn);
    /* batched: a 3-D operand needs a 3-D C, and the batch sizes must agree */
    ax_tensor *a3 = f32(DIMS(5, 2, 3)), *b3 = f32(DIMS(4, 3, 4)), *y3 = f32(DIMS(5, 2, 4));
    AX_ASSERT_OK(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, a3, b, 0, y3));
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, a3, b, 0, y), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, a3, b3, 0, y3), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, b3, 0, y3), AX_ERR_SHAPE, fn);
    /* C must not alias A or B */
    ax_tensor *sq = f32(DIMS(3, 3));
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, sq, sq, 0, sq), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_gemm(c, AX_NO_TRANS, AX_NO_TRANS, 1, f32(DIMS(3, 3)), sq, 1, sq),
                    AX_ERR_INVALID_ARG, fn);
}

Test(badinput, gemm_backward) {
    ax_ctx *c = g_ctx;
    const char *fn = "ax_gemm_backward";
    ax_tensor *a = f32(DIMS(2, 3)), *b = f32(DIMS(3, 4)), *dc = f32(DIMS(2, 4));
    ax_tensor *da = f32(DIMS(2, 3)), *db = f32(DIMS(3, 4));
    AX_ASSERT_OK(ax_gemm_backward(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, b, dc, da, db));
    AX_ASSERT_OK(ax_gemm_backward(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, b, dc, NULL, NULL));
    AX_ASSERT_FAILS(ax_gemm_backward(NULL, AX_NO_TRANS, AX_NO_TRANS, 1, a, b, dc, da, db),
                    AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_gemm_backward(c, AX_NO_TRANS, AX_NO_TRANS, 1, NULL, b, dc, da, db),
                    AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_gemm_backward(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, b, NULL, da, db),
                    AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_gemm_backward(c, (ax_transpose)BAD_ENUM, AX_NO_TRANS, 1, a, b, dc, da, db),
                    AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_gemm_backward(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, b, i32(DIMS(2, 4)), da, db),
                    AX_ERR_DTYPE, fn);
    AX_ASSERT_FAILS(ax_gemm_backward(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, b, dc, i32(DIMS(2, 3)), db),
                    AX_ERR_DTYPE, fn);
    AX_ASSERT_FAILS(
        ax_gemm_backward(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, b, dc, da, foreign(DIMS(3, 4))),
        AX_ERR_DEVICE, fn);
    AX_ASSERT_FAILS(ax_gemm_backward(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, b, f32(DIMS(2, 5)), da, db),
                    AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_gemm_backward(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, b, dc, f32(DIMS(3, 2)), db),
                    AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_gemm_backward(c, AX_NO_TRANS, AX_NO_TRANS, 1, a, b, dc, da, f32(DIMS(4, 3))),
                    AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_gemm_backward(c, AX_NO_TRANS, AX_TRANS, 1, a, b, dc, da, db), AX_ERR_SHAPE,
                    fn);
    /* gradients must not alias the inputs or each other */
    ax_tensor *sq = f32(DIMS(3, 3)), *sb = f32(DIMS(3, 3)), *sc = f32(DIMS(3, 3));
    AX_ASSERT_FAILS(ax_gemm_backward(c, AX_NO_TRANS, AX_NO_TRANS, 1, sq, sb, sc, sc, NULL),
                    AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_gemm_backward(c, AX_NO_TRANS, AX_NO_TRANS, 1, sq, sb, sc, sb, NULL),
                    AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_gemm_backward(c, AX_NO_TRANS, AX_NO_TRANS, 1, sq, sb, sc, NULL, sq),
                    AX_ERR_INVALID_ARG, fn);
    ax_tensor *g = f32(DIMS(3, 3));
    AX_ASSERT_FAILS(ax_gemm_backward(c, AX_NO_TRANS, AX_NO_TRANS, 1, sq, sb, sc, g, g),
                    AX_ERR_INVALID_ARG, fn);
}

/* ---------------------------------------------------------------- dense */

Test(badinput, dense_forward) {
    ax_ctx *c = g_ctx;
    const char *fn = "ax_dense_forward";
    ax_tensor *x = f32(DIMS(4, 3)), *w = f32(DIMS(2, 3)), *b = f32(DIMS(2)), *y = f32(DIMS(4, 2));
    AX_ASSERT_OK(ax_dense_forward(c, x, w, b, y));
    AX_ASSERT_OK(ax_dense_forward(c, x, w, NULL, y));
    AX_ASSERT_FAILS(ax_dense_forward(NULL, x, w, b, y), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_dense_forward(c, NULL, w, b, y), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_dense_forward(c, x, NULL, b, y), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_dense_forward(c, x, w, b, NULL), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_dense_forward(c, i32(DIMS(4, 3)), w, b, y), AX_ERR_DTYPE, fn);
    AX_ASSERT_FAILS(ax_dense_forward(c, x, w, i32(DIMS(2)), y), AX_ERR_DTYPE, fn);
    AX_ASSERT_FAILS(ax_dense_forward(c, x, foreign(DIMS(2, 3)), b, y), AX_ERR_DEVICE, fn);
    AX_ASSERT_FAILS(ax_dense_forward(c, x, w, foreign(DIMS(2)), y), AX_ERR_DEVICE, fn);
    /* w in [in, out] (the transposed layout) is a shape error, as are y and b */
    AX_ASSERT_FAILS(ax_dense_forward(c, x, f32(DIMS(3, 2)), b, y), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_dense_forward(c, x, w, b, f32(DIMS(4, 3))), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_dense_forward(c, x, w, b, f32(DIMS(2, 4))), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_dense_forward(c, x, w, f32(DIMS(3)), y), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_dense_forward(c, f32(DIMS(12)), w, b, y), AX_ERR_SHAPE, fn);
    /* y must not alias x, w or b */
    ax_tensor *sq = f32(DIMS(3, 3)), *w3 = f32(DIMS(3, 3));
    AX_ASSERT_FAILS(ax_dense_forward(c, sq, w3, NULL, sq), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_dense_forward(c, sq, w3, NULL, w3), AX_ERR_INVALID_ARG, fn);
}

Test(badinput, dense_backward) {
    ax_ctx *c = g_ctx;
    const char *fn = "ax_dense_backward";
    ax_tensor *x = f32(DIMS(4, 3)), *w = f32(DIMS(2, 3)), *dy = f32(DIMS(4, 2));
    ax_tensor *dx = f32(DIMS(4, 3)), *dw = f32(DIMS(2, 3)), *db = f32(DIMS(2));
    AX_ASSERT_OK(ax_dense_backward(c, x, w, dy, dx, dw, db));
    AX_ASSERT_OK(ax_dense_backward(c, x, w, dy, NULL, NULL, NULL));
    AX_ASSERT_FAILS(ax_dense_backward(NULL, x, w, dy, dx, dw, db), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_dense_backward(c, NULL, w, dy, dx, dw, db), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_dense_backward(c, x, NULL, dy, dx, dw, db), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_dense_backward(c, x, w, NULL, dx, dw, db), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_dense_backward(c, x, w, i32(DIMS(4, 2)), dx, dw, db), AX_ERR_DTYPE, fn);
    AX_ASSERT_FAILS(ax_dense_backward(c, x, w, dy, dx, i32(DIMS(2, 3)), db), AX_ERR_DTYPE, fn);
    AX_ASSERT_FAILS(ax_dense_backward(c, x, w, dy, foreign(DIMS(4, 3)), dw, db), AX_ERR_DEVICE, fn);
    AX_ASSERT_FAILS(ax_dense_backward(c, x, w, dy, dx, dw, foreign(DIMS(2))), AX_ERR_DEVICE, fn);
    AX_ASSERT_FAILS(ax_dense_backward(c, x, w, f32(DIMS(4, 3)), dx, dw, db), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_dense_backward(c, x, w, dy, f32(DIMS(3, 4)), dw, db), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_dense_backward(c, x, w, dy, dx, f32(DIMS(3, 2)), db), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_dense_backward(c, x, w, dy, dx, dw, f32(DIMS(4))), AX_ERR_SHAPE, fn);
    /* gradients must not alias the inputs or each other */
    ax_tensor *sq = f32(DIMS(3, 3)), *w3 = f32(DIMS(3, 3)), *d3 = f32(DIMS(3, 3));
    ax_tensor *g3 = f32(DIMS(3, 3));
    AX_ASSERT_FAILS(ax_dense_backward(c, sq, w3, d3, d3, NULL, NULL), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_dense_backward(c, sq, w3, d3, NULL, w3, NULL), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_dense_backward(c, sq, w3, d3, g3, g3, NULL), AX_ERR_INVALID_ARG, fn);
}

/* ---------------------------------------------------------------- bias, reductions */

Test(badinput, bias_add_and_bias_grad) {
    ax_ctx *c = g_ctx;
    ax_tensor *y = f32(DIMS(2, 3, 4)), *b3 = f32(DIMS(3)), *b4 = f32(DIMS(4));
    AX_ASSERT_OK(ax_bias_add(c, y, b4, -1));
    AX_ASSERT_OK(ax_bias_add(c, y, b3, 1));
    AX_ASSERT_FAILS(ax_bias_add(NULL, y, b4, -1), AX_ERR_INVALID_ARG, "ax_bias_add");
    AX_ASSERT_FAILS(ax_bias_add(c, NULL, b4, -1), AX_ERR_INVALID_ARG, "ax_bias_add");
    AX_ASSERT_FAILS(ax_bias_add(c, y, NULL, -1), AX_ERR_INVALID_ARG, "ax_bias_add");
    AX_ASSERT_FAILS(ax_bias_add(c, y, i32(DIMS(4)), -1), AX_ERR_DTYPE, "ax_bias_add");
    AX_ASSERT_FAILS(ax_bias_add(c, y, foreign(DIMS(4)), -1), AX_ERR_DEVICE, "ax_bias_add");
    AX_ASSERT_FAILS(ax_bias_add(c, y, b3, -1), AX_ERR_SHAPE, "ax_bias_add");
    AX_ASSERT_FAILS(ax_bias_add(c, y, b4, 1), AX_ERR_SHAPE, "ax_bias_add");
    AX_ASSERT_FAILS(ax_bias_add(c, y, b4, 3), AX_ERR_INVALID_ARG, "ax_bias_add");
    AX_ASSERT_FAILS(ax_bias_add(c, y, b4, -4), AX_ERR_INVALID_ARG, "ax_bias_add");
    ax_tensor *v = f32(DIMS(5));
    AX_ASSERT_FAILS(ax_bias_add(c, v, v, 0), AX_ERR_INVALID_ARG, "ax_bias_add");

    ax_tensor *db = f32(DIMS(3));
    AX_ASSERT_OK(ax_bias_grad(c, y, 1, db));
    AX_ASSERT_FAILS(ax_bias_grad(NULL, y, 1, db), AX_ERR_INVALID_ARG, "ax_bias_grad");
    AX_ASSERT_FAILS(ax_bias_grad(c, NULL, 1, db), AX_ERR_INVALID_ARG, "ax_bias_grad");
    AX_ASSERT_FAILS(ax_bias_grad(c, y, 1, NULL), AX_ERR_INVALID_ARG, "ax_bias_grad");
    AX_ASSERT_FAILS(ax_bias_grad(c, y, 1, i32(DIMS(3))), AX_ERR_DTYPE, "ax_bias_grad");
    AX_ASSERT_FAILS(ax_bias_grad(c, y, 1, foreign(DIMS(3))), AX_ERR_DEVICE, "ax_bias_grad");
    AX_ASSERT_FAILS(ax_bias_grad(c, y, -1, db), AX_ERR_SHAPE, "ax_bias_grad");
    AX_ASSERT_FAILS(ax_bias_grad(c, y, 3, db), AX_ERR_INVALID_ARG, "ax_bias_grad");
    AX_ASSERT_FAILS(ax_bias_grad(c, v, 0, v), AX_ERR_INVALID_ARG, "ax_bias_grad");
}

typedef ax_status (*reduce_fn)(ax_ctx *, const ax_tensor *, int, ax_tensor *);

/* fn(ctx, full, axis, reduced) for the forwards, fn(ctx, reduced, axis, full) for the
 * backwards: `backward` swaps which argument is the full tensor. */
static void check_reduce(reduce_fn f, const char *fn, int backward) {
    ax_ctx *c = g_ctx;
    ax_tensor *full = f32(DIMS(2, 3, 4)), *red = f32(DIMS(2, 4)), *flat = f32(DIMS(8));
#define CALL(ctx, x, axis, y) (backward ? f(ctx, y, axis, x) : f(ctx, x, axis, y))
    AX_ASSERT_OK(CALL(c, full, 1, red));
    AX_ASSERT_OK(CALL(c, full, 1, flat)); /* any shape with the element count */
    AX_ASSERT_OK(CALL(c, full, -2, red));
    AX_ASSERT_FAILS(CALL(NULL, full, 1, red), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(CALL(c, NULL, 1, red), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(CALL(c, full, 1, NULL), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(CALL(c, full, 1, i32(DIMS(2, 4))), AX_ERR_DTYPE, fn);
    AX_ASSERT_FAILS(CALL(c, full, 1, foreign(DIMS(2, 4))), AX_ERR_DEVICE, fn);
    AX_ASSERT_FAILS(CALL(c, full, 0, red), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(CALL(c, full, 1, f32(DIMS(2, 3))), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(CALL(c, full, 3, red), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(CALL(c, full, -4, red), AX_ERR_INVALID_ARG, fn);
    /* a [1, n] tensor reduced over axis 0 has n elements, like itself: aliasing is refused */
    ax_tensor *row = f32(DIMS(1, 6));
    AX_ASSERT_FAILS(CALL(c, row, 0, row), AX_ERR_INVALID_ARG, fn);
#undef CALL
}

Test(badinput, sum_and_mean) {
    check_reduce(ax_sum, "ax_sum", 0);
    check_reduce(ax_mean, "ax_mean", 0);
}

Test(badinput, sum_and_mean_backward) {
    check_reduce(ax_sum_backward, "ax_sum_backward", 1);
    check_reduce(ax_mean_backward, "ax_mean_backward", 1);
}

Test(badinput, sum_squares) {
    ax_ctx *c = g_ctx;
    const char *fn = "ax_sum_squares";
    ax_tensor *x = f32(DIMS(3, 5)), *out = f32(DIMS(1));
    AX_ASSERT_OK(ax_sum_squares(c, x, 0, out));
    AX_ASSERT_FAILS(ax_sum_squares(NULL, x, 0, out), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_sum_squares(c, NULL, 0, out), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_sum_squares(c, x, 0, NULL), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_sum_squares(c, i32(DIMS(3, 5)), 0, out), AX_ERR_DTYPE, fn);
    AX_ASSERT_FAILS(ax_sum_squares(c, x, 1, i32(DIMS(1))), AX_ERR_DTYPE, fn);
    AX_ASSERT_FAILS(ax_sum_squares(c, x, 1, foreign(DIMS(1))), AX_ERR_DEVICE, fn);
    AX_ASSERT_FAILS(ax_sum_squares(c, x, 1, f32(DIMS(2))), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_sum_squares(c, out, 1, out), AX_ERR_INVALID_ARG, fn);
}

typedef ax_status (*penalty_fn)(ax_ctx *, const ax_tensor *, float, ax_tensor *, ax_tensor *);

static void check_penalty(penalty_fn f, const char *fn) {
    ax_ctx *c = g_ctx;
    ax_tensor *w = f32(DIMS(3, 4)), *out = f32(DIMS(1)), *dw = f32(DIMS(3, 4));
    AX_ASSERT_OK(f(c, w, 0.1f, out, dw));
    AX_ASSERT_OK(f(c, w, 0.1f, NULL, dw));
    AX_ASSERT_OK(f(c, w, 0.1f, out, NULL));
    AX_ASSERT_OK(f(c, w, 0.1f, NULL, NULL));
    AX_ASSERT_FAILS(f(NULL, w, 0.1f, out, dw), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(f(c, NULL, 0.1f, out, dw), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(f(c, i32(DIMS(3, 4)), 0.1f, out, dw), AX_ERR_DTYPE, fn);
    AX_ASSERT_FAILS(f(c, w, 0.1f, out, i32(DIMS(3, 4))), AX_ERR_DTYPE, fn);
    AX_ASSERT_FAILS(f(c, w, 0.1f, foreign(DIMS(1)), dw), AX_ERR_DEVICE, fn);
    AX_ASSERT_FAILS(f(c, w, 0.1f, out, foreign(DIMS(3, 4))), AX_ERR_DEVICE, fn);
    AX_ASSERT_FAILS(f(c, w, 0.1f, f32(DIMS(2)), dw), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(f(c, w, 0.1f, out, f32(DIMS(4, 3))), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(f(c, w, NAN, out, dw), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(f(c, w, INFINITY, out, dw), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(f(c, w, 0.1f, out, w), AX_ERR_INVALID_ARG, fn);
    ax_tensor *one = f32(DIMS(1));
    AX_ASSERT_FAILS(f(c, one, 0.1f, one, NULL), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(f(c, w, 0.1f, one, one), AX_ERR_SHAPE, fn); /* dw must be shaped like w */
}

Test(badinput, l1_and_l2_penalty) {
    check_penalty(ax_l1_penalty, "ax_l1_penalty");
    check_penalty(ax_l2_penalty, "ax_l2_penalty");
}

/* ---------------------------------------------------------------- activations, softmax */

Test(badinput, activation_forward) {
    ax_ctx *c = g_ctx;
    const char *fn = "ax_activation_forward";
    ax_tensor *x = f32(DIMS(2, 5)), *y = f32(DIMS(2, 5));
    AX_ASSERT_OK(ax_activation_forward(c, AX_ACT_TANH, 0, x, y));
    AX_ASSERT_OK(ax_activation_forward(c, AX_ACT_RELU, 0, x, x)); /* y may alias x */
    AX_ASSERT_FAILS(ax_activation_forward(NULL, AX_ACT_TANH, 0, x, y), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_activation_forward(c, AX_ACT_TANH, 0, NULL, y), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_activation_forward(c, AX_ACT_TANH, 0, x, NULL), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_activation_forward(c, (ax_activation)BAD_ENUM, 0, x, y), AX_ERR_INVALID_ARG,
                    fn);
    AX_ASSERT_FAILS(ax_activation_forward(c, (ax_activation)-1, 0, x, y), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_activation_forward(c, AX_ACT_LEAKY_RELU, NAN, x, y), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_activation_forward(c, AX_ACT_SIGMOID, 0, i32(DIMS(2, 5)), y), AX_ERR_DTYPE,
                    fn);
    AX_ASSERT_FAILS(ax_activation_forward(c, AX_ACT_SIGMOID, 0, x, foreign(DIMS(2, 5))),
                    AX_ERR_DEVICE, fn);
    AX_ASSERT_FAILS(ax_activation_forward(c, AX_ACT_SIGMOID, 0, x, f32(DIMS(5, 2))), AX_ERR_SHAPE,
                    fn);
}

Test(badinput, activation_backward) {
    ax_ctx *c = g_ctx;
    const char *fn = "ax_activation_backward";
    ax_tensor *x = f32(DIMS(2, 5)), *y = f32(DIMS(2, 5)), *dy = f32(DIMS(2, 5)),
              *dx = f32(DIMS(2, 5));
    AX_ASSERT_OK(ax_activation_backward(c, AX_ACT_SIGMOID, 0, NULL, y, dy, dx));
    AX_ASSERT_OK(ax_activation_backward(c, AX_ACT_RELU, 0, x, NULL, dy, dx));
    AX_ASSERT_OK(ax_activation_backward(c, AX_ACT_TANH, 0, x, y, dy, dy)); /* dx may alias dy */
    AX_ASSERT_FAILS(ax_activation_backward(NULL, AX_ACT_TANH, 0, x, y, dy, dx), AX_ERR_INVALID_ARG,
                    fn);
    /* the saved tensor the activation needs: y for sigmoid and tanh, x for the ReLUs */
    AX_ASSERT_FAILS(ax_activation_backward(c, AX_ACT_SIGMOID, 0, x, NULL, dy, dx),
                    AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_activation_backward(c, AX_ACT_TANH, 0, x, NULL, dy, dx), AX_ERR_INVALID_ARG,
                    fn);
    AX_ASSERT_FAILS(ax_activation_backward(c, AX_ACT_RELU, 0, NULL, y, dy, dx), AX_ERR_INVALID_ARG,
                    fn);
    AX_ASSERT_FAILS(ax_activation_backward(c, AX_ACT_LEAKY_RELU, 0.01f, NULL, y, dy, dx),
                    AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_activation_backward(c, AX_ACT_TANH, 0, x, y, NULL, dx), AX_ERR_INVALID_ARG,
                    fn);
    AX_ASSERT_FAILS(ax_activation_backward(c, AX_ACT_TANH, 0, x, y, dy, NULL), AX_ERR_INVALID_ARG,
                    fn);
    AX_ASSERT_FAILS(ax_activation_backward(c, (ax_activation)BAD_ENUM, 0, x, y, dy, dx),
                    AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_activation_backward(c, AX_ACT_TANH, 0, x, y, i32(DIMS(2, 5)), dx),
                    AX_ERR_DTYPE, fn);
    AX_ASSERT_FAILS(ax_activation_backward(c, AX_ACT_TANH, 0, x, foreign(DIMS(2, 5)), dy, dx),
                    AX_ERR_DEVICE, fn);
    AX_ASSERT_FAILS(ax_activation_backward(c, AX_ACT_TANH, 0, x, f32(DIMS(10)), dy, dx),
                    AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_activation_backward(c, AX_ACT_RELU, 0, f32(DIMS(3)), NULL, dy, dx),
                    AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_activation_backward(c, AX_ACT_TANH, 0, x, y, dy, f32(DIMS(5, 2))),
                    AX_ERR_SHAPE, fn);
    /* dx may alias dy only */
    AX_ASSERT_FAILS(ax_activation_backward(c, AX_ACT_TANH, 0, NULL, y, dy, y), AX_ERR_INVALID_ARG,
                    fn);
    AX_ASSERT_FAILS(ax_activation_backward(c, AX_ACT_RELU, 0, x, NULL, dy, x), AX_ERR_INVALID_ARG,
                    fn);
}

typedef ax_status (*unary_fn)(ax_ctx *, const ax_tensor *, ax_tensor *);
typedef ax_status (*softmax_bwd_fn)(ax_ctx *, const ax_tensor *, const ax_tensor *, ax_tensor *);

static void check_softmax(unary_fn fwd, const char *fwd_name, softmax_bwd_fn bwd,
                          const char *bwd_name) {
    ax_ctx *c = g_ctx;
    ax_tensor *x = f32(DIMS(3, 4)), *y = f32(DIMS(3, 4)), *dy = f32(DIMS(3, 4)),
              *dx = f32(DIMS(3, 4));
    AX_ASSERT_OK(fwd(c, x, y));
    AX_ASSERT_OK(bwd(c, y, dy, dx));
    AX_ASSERT_FAILS(fwd(NULL, x, y), AX_ERR_INVALID_ARG, fwd_name);
    AX_ASSERT_FAILS(fwd(c, NULL, y), AX_ERR_INVALID_ARG, fwd_name);
    AX_ASSERT_FAILS(fwd(c, x, NULL), AX_ERR_INVALID_ARG, fwd_name);
    AX_ASSERT_FAILS(fwd(c, i32(DIMS(3, 4)), y), AX_ERR_DTYPE, fwd_name);
    AX_ASSERT_FAILS(fwd(c, x, foreign(DIMS(3, 4))), AX_ERR_DEVICE, fwd_name);
    AX_ASSERT_FAILS(fwd(c, x, f32(DIMS(4, 3))), AX_ERR_SHAPE, fwd_name);
    AX_ASSERT_FAILS(fwd(c, x, f32(DIMS(12))), AX_ERR_SHAPE, fwd_name);

    AX_ASSERT_FAILS(bwd(NULL, y, dy, dx), AX_ERR_INVALID_ARG, bwd_name);
    AX_ASSERT_FAILS(bwd(c, NULL, dy, dx), AX_ERR_INVALID_ARG, bwd_name);
    AX_ASSERT_FAILS(bwd(c, y, NULL, dx), AX_ERR_INVALID_ARG, bwd_name);
    AX_ASSERT_FAILS(bwd(c, y, dy, NULL), AX_ERR_INVALID_ARG, bwd_name);
    AX_ASSERT_FAILS(bwd(c, y, i32(DIMS(3, 4)), dx), AX_ERR_DTYPE, bwd_name);
    AX_ASSERT_FAILS(bwd(c, foreign(DIMS(3, 4)), dy, dx), AX_ERR_DEVICE, bwd_name);
    AX_ASSERT_FAILS(bwd(c, y, f32(DIMS(3, 5)), dx), AX_ERR_SHAPE, bwd_name);
    AX_ASSERT_FAILS(bwd(c, y, dy, f32(DIMS(4, 3))), AX_ERR_SHAPE, bwd_name);
    /* the backward says nothing of aliasing, so dx may alias neither y nor dy */
    AX_ASSERT_FAILS(bwd(c, y, dy, y), AX_ERR_INVALID_ARG, bwd_name);
    AX_ASSERT_FAILS(bwd(c, y, dy, dy), AX_ERR_INVALID_ARG, bwd_name);
}

Test(badinput, softmax) {
    check_softmax(ax_softmax_forward, "ax_softmax_forward", ax_softmax_backward,
                  "ax_softmax_backward");
    AX_ASSERT_OK(ax_softmax_forward(g_ctx, f32(DIMS(2, 2)), f32(DIMS(2, 2))));
    ax_tensor *x = f32(DIMS(2, 3));
    AX_ASSERT_OK(ax_softmax_forward(g_ctx, x, x)); /* y may alias x */
}

Test(badinput, log_softmax) {
    check_softmax(ax_log_softmax_forward, "ax_log_softmax_forward", ax_log_softmax_backward,
                  "ax_log_softmax_backward");
    ax_tensor *x = f32(DIMS(2, 3));
    AX_ASSERT_OK(ax_log_softmax_forward(g_ctx, x, x));
}

/* ---------------------------------------------------------------- losses */

typedef ax_status (*loss_fwd_fn)(ax_ctx *, const ax_tensor *, const ax_tensor *, ax_reduction,
                                 ax_tensor *);
typedef ax_status (*loss_bwd_fn)(ax_ctx *, const ax_tensor *, const ax_tensor *, ax_reduction,
                                 const ax_tensor *, ax_tensor *);

/* MSE and BCE with logits: two f32 inputs of the same shape. */
static void check_pair_loss(loss_fwd_fn fwd, const char *fwd_name, loss_bwd_fn bwd,
                            const char *bwd_name) {
    ax_ctx *c = g_ctx;
    const ax_reduction mean = AX_REDUCE_MEAN;
    ax_tensor *x = f32(DIMS(3, 4)), *t = f32(DIMS(3, 4)), *loss = f32(DIMS(1)), *dl = f32(DIMS(1)),
              *dx = f32(DIMS(3, 4));
    AX_ASSERT_OK(fwd(c, x, t, mean, loss));
    AX_ASSERT_OK(fwd(c, x, t, AX_REDUCE_SUM, f32(DIMS(1, 1))));
    AX_ASSERT_OK(bwd(c, x, t, mean, dl, dx));
    AX_ASSERT_OK(bwd(c, x, t, AX_REDUCE_SUM, NULL, dx));
    AX_ASSERT_FAILS(fwd(NULL, x, t, mean, loss), AX_ERR_INVALID_ARG, fwd_name);
    AX_ASSERT_FAILS(fwd(c, NULL, t, mean, loss), AX_ERR_INVALID_ARG, fwd_name);
    AX_ASSERT_FAILS(fwd(c, x, NULL, mean, loss), AX_ERR_INVALID_ARG, fwd_name);
    AX_ASSERT_FAILS(fwd(c, x, t, mean, NULL), AX_ERR_INVALID_ARG, fwd_name);
    AX_ASSERT_FAILS(fwd(c, x, t, (ax_reduction)BAD_ENUM, loss), AX_ERR_INVALID_ARG, fwd_name);
    AX_ASSERT_FAILS(fwd(c, x, i32(DIMS(3, 4)), mean, loss), AX_ERR_DTYPE, fwd_name);
    AX_ASSERT_FAILS(fwd(c, x, t, mean, i32(DIMS(1))), AX_ERR_DTYPE, fwd_name);
    AX_ASSERT_FAILS(fwd(c, foreign(DIMS(3, 4)), t, mean, loss), AX_ERR_DEVICE, fwd_name);
    AX_ASSERT_FAILS(fwd(c, x, t, mean, foreign(DIMS(1))), AX_ERR_DEVICE, fwd_name);
    AX_ASSERT_FAILS(fwd(c, x, f32(DIMS(4, 3)), mean, loss), AX_ERR_SHAPE, fwd_name);
    AX_ASSERT_FAILS(fwd(c, x, t, mean, f32(DIMS(2))), AX_ERR_SHAPE, fwd_name);
    ax_tensor *one = f32(DIMS(1)), *one_t = f32(DIMS(1));
    AX_ASSERT_FAILS(fwd(c, one, one_t, mean, one), AX_ERR_INVALID_ARG, fwd_name);

    AX_ASSERT_FAILS(bwd(NULL, x, t, mean, dl, dx), AX_ERR_INVALID_ARG, bwd_name);
    AX_ASSERT_FAILS(bwd(c, NULL, t, mean, dl, dx), AX_ERR_INVALID_ARG, bwd_name);
    AX_ASSERT_FAILS(bwd(c, x, NULL, mean, dl, dx), AX_ERR_INVALID_ARG, bwd_name);
    AX_ASSERT_FAILS(bwd(c, x, t, mean, dl, NULL), AX_ERR_INVALID_ARG, bwd_name);
    AX_ASSERT_FAILS(bwd(c, x, t, (ax_reduction)-1, dl, dx), AX_ERR_INVALID_ARG, bwd_name);
    AX_ASSERT_FAILS(bwd(c, x, t, mean, i32(DIMS(1)), dx), AX_ERR_DTYPE, bwd_name);
    AX_ASSERT_FAILS(bwd(c, x, t, mean, dl, i32(DIMS(3, 4))), AX_ERR_DTYPE, bwd_name);
    AX_ASSERT_FAILS(bwd(c, x, t, mean, foreign(DIMS(1)), dx), AX_ERR_DEVICE, bwd_name);
    AX_ASSERT_FAILS(bwd(c, x, t, mean, dl, foreign(DIMS(3, 4))), AX_ERR_DEVICE, bwd_name);
    AX_ASSERT_FAILS(bwd(c, x, t, mean, f32(DIMS(2)), dx), AX_ERR_SHAPE, bwd_name);
    AX_ASSERT_FAILS(bwd(c, x, t, mean, dl, f32(DIMS(12))), AX_ERR_SHAPE, bwd_name);
    AX_ASSERT_FAILS(bwd(c, x, f32(DIMS(3, 5)), mean, dl, dx), AX_ERR_SHAPE, bwd_name);
    AX_ASSERT_FAILS(bwd(c, x, t, mean, dl, x), AX_ERR_INVALID_ARG, bwd_name);
    AX_ASSERT_FAILS(bwd(c, x, t, mean, dl, t), AX_ERR_INVALID_ARG, bwd_name);
    ax_tensor *g1 = f32(DIMS(1));
    AX_ASSERT_FAILS(bwd(c, one, one_t, mean, g1, g1), AX_ERR_INVALID_ARG, bwd_name);
}

Test(badinput, mse_loss) {
    check_pair_loss(ax_mse_loss_forward, "ax_mse_loss_forward", ax_mse_loss_backward,
                    "ax_mse_loss_backward");
}

Test(badinput, bce_with_logits) {
    check_pair_loss(ax_bce_with_logits_forward, "ax_bce_with_logits_forward",
                    ax_bce_with_logits_backward, "ax_bce_with_logits_backward");
}

Test(badinput, cross_entropy_arguments) {
    ax_ctx *c = g_ctx;
    const char *ff = "ax_cross_entropy_forward", *fb = "ax_cross_entropy_backward";
    const ax_reduction mean = AX_REDUCE_MEAN;
    ax_tensor *x = f32(DIMS(3, 4)), *lab = i32(DIMS(3)), *loss = f32(DIMS(1)), *dl = f32(DIMS(1));
    ax_tensor *dx = f32(DIMS(3, 4));
    AX_ASSERT_OK(ax_cross_entropy_forward(c, x, lab, mean, loss));
    AX_ASSERT_OK(ax_cross_entropy_backward(c, x, lab, mean, dl, dx));
    AX_ASSERT_OK(ax_cross_entropy_backward(c, x, lab, AX_REDUCE_SUM, NULL, dx));
    AX_ASSERT_FAILS(ax_cross_entropy_forward(NULL, x, lab, mean, loss), AX_ERR_INVALID_ARG, ff);
    AX_ASSERT_FAILS(ax_cross_entropy_forward(c, NULL, lab, mean, loss), AX_ERR_INVALID_ARG, ff);
    AX_ASSERT_FAILS(ax_cross_entropy_forward(c, x, NULL, mean, loss), AX_ERR_INVALID_ARG, ff);
    AX_ASSERT_FAILS(ax_cross_entropy_forward(c, x, lab, mean, NULL), AX_ERR_INVALID_ARG, ff);
    AX_ASSERT_FAILS(ax_cross_entropy_forward(c, x, lab, (ax_reduction)BAD_ENUM, loss),
                    AX_ERR_INVALID_ARG, ff);
    /* f32 labels, i32 logits */
    AX_ASSERT_FAILS(ax_cross_entropy_forward(c, x, f32(DIMS(3)), mean, loss), AX_ERR_DTYPE, ff);
    AX_ASSERT_FAILS(ax_cross_entropy_forward(c, i32(DIMS(3, 4)), lab, mean, loss), AX_ERR_DTYPE,
                    ff);
    AX_ASSERT_FAILS(ax_cross_entropy_forward(c, x, lab, mean, foreign(DIMS(1))), AX_ERR_DEVICE, ff);
    AX_ASSERT_FAILS(ax_cross_entropy_forward(c, foreign(DIMS(3, 4)), lab, mean, loss),
                    AX_ERR_DEVICE, ff);
    AX_ASSERT_FAILS(ax_cross_entropy_forward(c, x, i32(DIMS(4)), mean, loss), AX_ERR_SHAPE, ff);
    AX_ASSERT_FAILS(ax_cross_entropy_forward(c, f32(DIMS(12)), lab, mean, loss), AX_ERR_SHAPE, ff);
    AX_ASSERT_FAILS(ax_cross_entropy_forward(c, f32(DIMS(3, 2, 2)), lab, mean, loss), AX_ERR_SHAPE,
                    ff);
    AX_ASSERT_FAILS(ax_cross_entropy_forward(c, x, lab, mean, f32(DIMS(3))), AX_ERR_SHAPE, ff);

    AX_ASSERT_FAILS(ax_cross_entropy_backward(NULL, x, lab, mean, dl, dx), AX_ERR_INVALID_ARG, fb);
    AX_ASSERT_FAILS(ax_cross_entropy_backward(c, x, NULL, mean, dl, dx), AX_ERR_INVALID_ARG, fb);
    AX_ASSERT_FAILS(ax_cross_entropy_backward(c, x, lab, mean, dl, NULL), AX_ERR_INVALID_ARG, fb);
    AX_ASSERT_FAILS(ax_cross_entropy_backward(c, x, lab, (ax_reduction)-1, dl, dx),
                    AX_ERR_INVALID_ARG, fb);
    AX_ASSERT_FAILS(ax_cross_entropy_backward(c, x, f32(DIMS(3)), mean, dl, dx), AX_ERR_DTYPE, fb);
    AX_ASSERT_FAILS(ax_cross_entropy_backward(c, x, lab, mean, dl, foreign(DIMS(3, 4))),
                    AX_ERR_DEVICE, fb);
    AX_ASSERT_FAILS(ax_cross_entropy_backward(c, x, lab, mean, f32(DIMS(2)), dx), AX_ERR_SHAPE, fb);
    AX_ASSERT_FAILS(ax_cross_entropy_backward(c, x, lab, mean, dl, f32(DIMS(4, 3))), AX_ERR_SHAPE,
                    fb);
    AX_ASSERT_FAILS(ax_cross_entropy_backward(c, x, lab, mean, dl, x), AX_ERR_INVALID_ARG, fb);
}

/* Labels outside [0, C) are AX_ERR_INVALID_ARG, not a wild read or write (the sanitizer build
 * checks the CPU reference; the tensors here are exactly as large as the shapes say). The
 * outputs may or may not be written, but nothing beyond them. */
static void check_bad_labels(ax_ctx *c) {
    static const int32_t bad[][4] = {
        {0, 1, 2, 5},         /* C = 5 is one past the last class */
        {-1, 0, 0, 0},        /* negative */
        {0, INT32_MAX, 0, 0}, /* far out */
        {0, 0, INT32_MIN, 0}, /* far negative */
    };
    int64_t sx[2] = {4, 5}, sl[1] = {4}, one[1] = {1};
    float xv[20];
    th_random(xv, 20, 42, -2, 2);
    ax_tensor *x = th_tensor(c, 2, sx, xv), *loss = th_nan_tensor(c, 1, one);
    ax_tensor *dx = th_nan_tensor(c, 2, sx);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ax_tensor *lab = th_tensor_i32(c, 1, sl, bad[k]);
        for (int red = 0; red < 2; red++) {
            AX_ASSERT_FAILS(ax_cross_entropy_forward(c, x, lab, (ax_reduction)red, loss),
                            AX_ERR_INVALID_ARG, "ax_cross_entropy_forward");
            AX_ASSERT_FAILS(ax_cross_entropy_backward(c, x, lab, (ax_reduction)red, NULL, dx),
                            AX_ERR_INVALID_ARG, "ax_cross_entropy_backward");
        }
        ax_tensor_destroy(lab);
    }
    /* the context still works afterwards */
    static const int32_t good[4] = {0, 4, 2, 1};
    ax_tensor *lab = th_tensor_i32(c, 1, sl, good);
    AX_ASSERT_OK(ax_cross_entropy_forward(c, x, lab, AX_REDUCE_MEAN, loss));
    AX_ASSERT_OK(ax_ctx_synchronize(c));
    float l = NAN;
    AX_ASSERT_OK(ax_tensor_to_host(loss, &l, sizeof l));
    cr_assert(isfinite(l) && l > 0, "loss after the bad labels: %g", (double)l);
    ax_tensor_destroy(lab);
    ax_tensor_destroy(x);
    ax_tensor_destroy(loss);
    ax_tensor_destroy(dx);
}

Test(badinput, cross_entropy_bad_labels) { check_bad_labels(g_ctx); }

Test(badinput, cross_entropy_bad_labels_on_gpu) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
    check_bad_labels(gpu);
    ax_ctx_destroy(gpu);
}

/* ---------------------------------------------------------------- dropout */

typedef ax_status (*dropout_fn)(ax_ctx *, float, uint64_t, uint64_t, const ax_tensor *,
                                ax_tensor *);

static void check_dropout(dropout_fn f, const char *fn) {
    ax_ctx *c = g_ctx;
    ax_tensor *x = f32(DIMS(4, 5)), *y = f32(DIMS(4, 5));
    AX_ASSERT_OK(f(c, 0.5f, 1, 2, x, y));
    AX_ASSERT_OK(f(c, 0.0f, 1, 2, x, y));
    AX_ASSERT_OK(f(c, 1.0f, 1, 2, x, y));
    AX_ASSERT_OK(f(c, 0.5f, 1, 2, x, x)); /* in place */
    AX_ASSERT_FAILS(f(NULL, 0.5f, 1, 2, x, y), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(f(c, 0.5f, 1, 2, NULL, y), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(f(c, 0.5f, 1, 2, x, NULL), AX_ERR_INVALID_ARG, fn);
    static const float bad_p[] = {-0.1f, -1e-30f, 1.0001f, 2.0f, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad_p / sizeof bad_p[0]; i++)
        AX_ASSERT_FAILS(f(c, bad_p[i], 1, 2, x, y), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(f(c, 0.5f, 1, 2, i32(DIMS(4, 5)), y), AX_ERR_DTYPE, fn);
    AX_ASSERT_FAILS(f(c, 0.5f, 1, 2, x, i32(DIMS(4, 5))), AX_ERR_DTYPE, fn);
    AX_ASSERT_FAILS(f(c, 0.5f, 1, 2, foreign(DIMS(4, 5)), y), AX_ERR_DEVICE, fn);
    AX_ASSERT_FAILS(f(c, 0.5f, 1, 2, x, foreign(DIMS(4, 5))), AX_ERR_DEVICE, fn);
    AX_ASSERT_FAILS(f(c, 0.5f, 1, 2, x, f32(DIMS(5, 4))), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(f(c, 0.0f, 1, 2, x, f32(DIMS(20))), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(f(c, 1.0f, 1, 2, x, f32(DIMS(4, 4))), AX_ERR_SHAPE, fn);
}

Test(badinput, dropout) {
    check_dropout(ax_dropout_forward, "ax_dropout_forward");
    check_dropout(ax_dropout_backward, "ax_dropout_backward");
}

/* ---------------------------------------------------------------- destroyed handles */

/* A tensor whose context was destroyed answers AX_ERR_STATE in every op. */
Test(badinput, ops_on_a_destroyed_context) {
    ax_ctx *c = th_cpu_ctx();
    int64_t s[2] = {2, 3}, one[1] = {1};
    ax_tensor *x = NULL, *y = NULL, *l = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(c, AX_F32, 2, s, &x));
    AX_ASSERT_OK(ax_tensor_zeros(c, AX_F32, 2, s, &y));
    AX_ASSERT_OK(ax_tensor_zeros(c, AX_F32, 1, one, &l));
    ax_ctx_destroy(c);
    AX_ASSERT_FAILS(ax_softmax_forward(c, x, y), AX_ERR_STATE, "ax_softmax_forward");
    AX_ASSERT_FAILS(ax_activation_forward(c, AX_ACT_RELU, 0, x, y), AX_ERR_STATE,
                    "ax_activation_forward");
    AX_ASSERT_FAILS(ax_mse_loss_forward(c, x, y, AX_REDUCE_MEAN, l), AX_ERR_STATE,
                    "ax_mse_loss_forward");
    AX_ASSERT_FAILS(ax_dropout_forward(c, 0.5f, 1, 0, x, y), AX_ERR_STATE, "ax_dropout_forward");
    AX_ASSERT_FAILS(ax_gemm(g_ctx, AX_TRANS, AX_NO_TRANS, 1, x, y, 0, f32(DIMS(3, 3))),
                    AX_ERR_STATE, "ax_gemm");
    ax_tensor_destroy(x);
    ax_tensor_destroy(y);
    ax_tensor_destroy(l);
}
