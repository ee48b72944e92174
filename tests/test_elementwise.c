/* fill, scale, axpy, add, mul (and mul's backward): values on the CPU, CPU/GPU parity,
 * bad input; and the CPU sums over an axis, exact across their accumulator blocks. */
#include <math.h>
#include <stdlib.h>

#include "helpers.h"

enum { OP_SCALE, OP_AXPY, OP_ADD, OP_MUL, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"scale", "axpy", "add", "mul"};

/* Run op on ctx over host inputs a, b (n elements); return the host result. */
static float *run_op(ax_ctx *ctx, int op, const float *a, const float *b, int64_t n) {
    int64_t shape[1] = {n};
    ax_tensor *ta = th_tensor(ctx, 1, shape, a), *tb = th_tensor(ctx, 1, shape, b);
    ax_tensor *y = op == OP_AXPY ? th_tensor(ctx, 1, shape, b) : th_nan_tensor(ctx, 1, shape);
    switch (op) {
    case OP_SCALE: AX_ASSERT_OK(ax_scale(ctx, -1.5f, ta, y)); break;
    case OP_AXPY: AX_ASSERT_OK(ax_axpy(ctx, 0.75f, ta, y)); break;
    case OP_ADD: AX_ASSERT_OK(ax_add(ctx, ta, tb, y)); break;
    default: AX_ASSERT_OK(ax_mul(ctx, ta, tb, y)); break;
    }
    float *out = th_to_host(y);
    ax_tensor_destroy(ta);
    ax_tensor_destroy(tb);
    ax_tensor_destroy(y);
    return out;
}

static float expected(int op, float a, float b) {
    switch (op) {
    case OP_SCALE: return -1.5f * a;
    case OP_AXPY: return fmaf(0.75f, a, b); /* one rounding, as PyTorch's add(alpha=) */
    case OP_ADD: return a + b;
    default: return a * b;
    }
}

Test(api, elementwise_ops_compute_their_formulas) {
    ax_ctx *ctx = th_cpu_ctx();
    enum { N = 257 };
    float a[N], b[N], want[N];
    th_random(a, N, 1, -4, 4);
    th_random(b, N, 2, -4, 4);
    for (int op = 0; op < OP_COUNT; op++) {
        for (int i = 0; i < N; i++)
            want[i] = expected(op, a[i], b[i]);
        float *got = run_op(ctx, op, a, b, N);
        th_assert_equal(got, want, N, op_names[op]); /* each is one correctly rounded op */
        free(got);
    }
    ax_ctx_destroy(ctx);
}

Test(api, scale_and_add_may_alias) {
    ax_ctx *ctx = th_cpu_ctx();
    float a[3] = {1, 2, 3}, out[3];
    int64_t shape[1] = {3};
    ax_tensor *t = th_tensor(ctx, 1, shape, a);
    AX_ASSERT_OK(ax_scale(ctx, 2.0f, t, t));
    AX_ASSERT_OK(ax_add(ctx, t, t, t));
    AX_ASSERT_OK(ax_tensor_to_host(t, out, sizeof out));
    cr_assert(out[0] == 4 && out[1] == 8 && out[2] == 12);
    ax_tensor_destroy(t);
    ax_ctx_destroy(ctx);
}

Test(api, mul_backward_gives_both_gradients) {
    ax_ctx *ctx = th_cpu_ctx();
    float a[4] = {1, 2, 3, 4}, b[4] = {-1, 0.5f, 2, 3}, dy[4] = {1, -1, 2, 0.5f};
    int64_t shape[1] = {4};
    ax_tensor *ta = th_tensor(ctx, 1, shape, a), *tb = th_tensor(ctx, 1, shape, b),
              *tdy = th_tensor(ctx, 1, shape, dy), *da = th_nan_tensor(ctx, 1, shape),
              *db = th_nan_tensor(ctx, 1, shape);
    AX_ASSERT_OK(ax_mul_backward(ctx, ta, tb, tdy, da, db));
    float *ga = th_to_host(da), *gb = th_to_host(db);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(ga[i], dy[i] * b[i]);
        cr_assert_eq(gb[i], dy[i] * a[i]);
    }
    AX_ASSERT_OK(ax_mul_backward(ctx, ta, tb, tdy, NULL, db)); /* optional outputs */
    free(ga);
    free(gb);
    ax_tensor_destroy(ta);
    ax_tensor_destroy(tb);
    ax_tensor_destroy(tdy);
    ax_tensor_destroy(da);
    ax_tensor_destroy(db);
    ax_ctx_destroy(ctx);
}

Test(parity, elementwise_odd_sizes) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
    ax_ctx *cpu = th_cpu_ctx();
    const int64_t sizes[] = {1, 7, 33, 257, 4099, 1 << 22};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s];
        float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
        th_random(a, n, 100 + s, -8, 8);
        th_random(b, n, 200 + s, -8, 8);
        for (int op = 0; op < OP_COUNT; op++) {
            float *ref = run_op(cpu, op, a, b, n), *got = run_op(gpu, op, a, b, n);
            /* one correctly rounded operation each (axpy one fused multiply-add on both) */
            th_assert_equal(got, ref, n, op_names[op]);
            free(ref);
            free(got);
        }
        free(a);
        free(b);
    }
    ax_ctx_destroy(cpu);
    ax_ctx_destroy(gpu);
}

Test(parity, fill_f32_and_i32) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
    int64_t shape[2] = {33, 257};
    ax_tensor *f = th_nan_tensor(gpu, 2, shape), *i = NULL;
    AX_ASSERT_OK(ax_tensor_create(gpu, AX_I32, 2, shape, &i));
    AX_ASSERT_OK(ax_fill(gpu, f, 2.5f));
    AX_ASSERT_OK(ax_fill(gpu, i, -3.0f));
    float *hf = th_to_host(f);
    int32_t *hi = malloc(ax_tensor_nbytes(i));
    AX_ASSERT_OK(ax_tensor_to_host(i, hi, ax_tensor_nbytes(i)));
    for (int64_t k = 0; k < 33 * 257; k++)
        cr_assert(hf[k] == 2.5f && hi[k] == -3);
    free(hf);
    free(hi);
    ax_tensor_destroy(f);
    ax_tensor_destroy(i);
    AX_ASSERT_OK(ax_ctx_synchronize(gpu));
    ax_ctx_destroy(gpu);
}

Test(badinput, elementwise_ops) {
    ax_ctx *ctx = th_cpu_ctx(), *other = th_cpu_ctx();
    int64_t s3[1] = {3}, s4[1] = {4};
    ax_tensor *a = NULL, *b = NULL, *i = NULL, *o = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 1, s3, &a));
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 1, s4, &b));
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_I32, 1, s3, &i));
    AX_ASSERT_OK(ax_tensor_zeros(other, AX_F32, 1, s3, &o));

    AX_ASSERT_FAILS(ax_fill(NULL, a, 1), AX_ERR_INVALID_ARG, "ax_fill");
    AX_ASSERT_FAILS(ax_fill(ctx, NULL, 1), AX_ERR_INVALID_ARG, "ax_fill");
    AX_ASSERT_FAILS(ax_fill(ctx, o, 1), AX_ERR_DEVICE, "ax_fill");
    AX_ASSERT_FAILS(ax_fill(ctx, i, 1.5f), AX_ERR_INVALID_ARG, "ax_fill");
    AX_ASSERT_FAILS(ax_fill(ctx, i, 3e9f), AX_ERR_INVALID_ARG, "ax_fill");
    AX_ASSERT_FAILS(ax_fill(ctx, i, NAN), AX_ERR_INVALID_ARG, "ax_fill");

    AX_ASSERT_FAILS(ax_scale(ctx, 2, a, b), AX_ERR_SHAPE, "ax_scale");
    AX_ASSERT_FAILS(ax_scale(ctx, 2, i, a), AX_ERR_DTYPE, "ax_scale");
    AX_ASSERT_FAILS(ax_scale(ctx, 2, NULL, a), AX_ERR_INVALID_ARG, "ax_scale");
    AX_ASSERT_FAILS(ax_axpy(ctx, 2, a, a), AX_ERR_INVALID_ARG, "ax_axpy");
    AX_ASSERT_FAILS(ax_axpy(ctx, 2, a, b), AX_ERR_SHAPE, "ax_axpy");
    AX_ASSERT_FAILS(ax_axpy(ctx, 2, o, a), AX_ERR_DEVICE, "ax_axpy");
    AX_ASSERT_FAILS(ax_add(ctx, a, b, a), AX_ERR_SHAPE, "ax_add");
    AX_ASSERT_FAILS(ax_add(ctx, a, a, b), AX_ERR_SHAPE, "ax_add");
    AX_ASSERT_FAILS(ax_add(ctx, a, i, a), AX_ERR_DTYPE, "ax_add");
    AX_ASSERT_FAILS(ax_add(NULL, a, a, a), AX_ERR_INVALID_ARG, "ax_add");
    AX_ASSERT_FAILS(ax_mul(ctx, a, o, a), AX_ERR_DEVICE, "ax_mul");
    AX_ASSERT_FAILS(ax_mul(ctx, a, a, NULL), AX_ERR_INVALID_ARG, "ax_mul");
    AX_ASSERT_FAILS(ax_mul_backward(ctx, a, a, a, a, NULL), AX_ERR_INVALID_ARG,
                    "ax_mul_backward");
    AX_ASSERT_FAILS(ax_mul_backward(ctx, a, a, a, b, NULL), AX_ERR_SHAPE, "ax_mul_backward");

    ax_tensor_destroy(a);
    ax_tensor_destroy(b);
    ax_tensor_destroy(i);
    ax_tensor_destroy(o);
    ax_ctx_destroy(ctx);
    ax_ctx_destroy(other);
}

/* The CPU sums over an axis accumulate in double, a block of columns (channels) at a time on
 * the stack: every output must get exactly the sum that one long double accumulator gives,
 * across block edges and in the partial last block (130 = 2 * 64 + 2, 131 = 2 * 64 + 3). */
Test(api, cpu_sums_exact_across_blocks) {
    ax_ctx *ctx = th_cpu_ctx();
    enum { O = 3, D = 130, I = 131 };
    int64_t xs[3] = {O, D, I}, ys[2] = {O, I}, bs[1] = {D};
    ax_tensor *x = th_random_tensor(ctx, 3, xs, 77, -2.0f, 2.0f, 0.0f);
    ax_tensor *y = th_nan_tensor(ctx, 2, ys), *db = th_nan_tensor(ctx, 1, bs);
    AX_ASSERT_OK(ax_sum(ctx, x, 1, y));
    AX_ASSERT_OK(ax_bias_grad(ctx, x, 1, db));
    float *hx = th_to_host(x), *hy = th_to_host(y), *hb = th_to_host(db);
    for (int o = 0; o < O; o++)
        for (int i = 0; i < I; i++) {
            double acc = 0.0;
            for (int d = 0; d < D; d++)
                acc += hx[((size_t)o * D + d) * I + i];
            cr_assert_eq(hy[o * I + i], (float)acc, "sum [%d, %d]: %.9g, expected %.9g", o, i,
                         (double)hy[o * I + i], acc);
        }
    for (int d = 0; d < D; d++) {
        double acc = 0.0;
        for (int o = 0; o < O; o++) {
            double row = 0.0;
            for (int i = 0; i < I; i++)
                row += hx[((size_t)o * D + d) * I + i];
            acc += row;
        }
        cr_assert_eq(hb[d], (float)acc, "bias_grad [%d]: %.9g, expected %.9g", d,
                     (double)hb[d], acc);
    }
    free(hx);
    free(hy);
    free(hb);
    ax_tensor_destroy(x);
    ax_tensor_destroy(y);
    ax_tensor_destroy(db);
    ax_ctx_destroy(ctx);
}
