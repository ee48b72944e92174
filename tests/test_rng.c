/* Philox4x32-10: Random123's known-answer vectors, the statistics of the fills, and
 * bit-identical CPU and CUDA fills for the same (seed, offset). */
#include <math.h>
#include <stdlib.h>

#include "helpers.h"
#include "host/common/philox.h"

/* Random123's kat_vectors for philox4x32 with 10 rounds: counter, key -> output. */
static const struct {
    uint32_t ctr[4], key[2], out[4];
} philox_kat[] = {
    {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

Test(rng, philox_known_answer_vectors) {
    for (size_t i = 0; i < sizeof philox_kat / sizeof philox_kat[0]; i++) {
        uint64_t block = philox_kat[i].ctr[0] | (uint64_t)philox_kat[i].ctr[1] << 32;
        uint64_t offset = philox_kat[i].ctr[2] | (uint64_t)philox_kat[i].ctr[3] << 32;
        uint64_t seed = philox_kat[i].key[0] | (uint64_t)philox_kat[i].key[1] << 32;
        philox4x32_ctr_t r = ax_philox_block(seed, offset, block);
        for (int w = 0; w < 4; w++)
            cr_assert_eq(r.v[w], philox_kat[i].out[w], "vector %zu word %d: %08x != %08x", i, w,
                         r.v[w], philox_kat[i].out[w]);
    }
}

Test(rng, portable_log_and_sincos_are_accurate) {
    for (int i = 1; i <= 1 << 16; i++) {
        float x = (float)i / (float)(1 << 16);
        cr_assert(fabs(ax_portable_log(x) - log((double)x)) <= 2e-7 * fabs(log((double)x)) + 1e-7,
                  "log(%g)", (double)x);
        float s, c;
        ax_portable_sincos_2pi(x - 1.0f / (1 << 16), &s, &c);
        double angle = 6.283185307179586 * (double)(x - 1.0f / (1 << 16));
        cr_assert(fabs(s - sin(angle)) < 3e-7 && fabs(c - cos(angle)) < 3e-7, "sincos(%g)", angle);
    }
}

/* Fill n elements on ctx with kind 0 uniform, 1 normal, 2 bernoulli; return a host copy. */
static float *fill(ax_ctx *ctx, int kind, int64_t n, uint64_t seed, uint64_t offset) {
    int64_t shape[1] = {n};
    ax_tensor *t = th_nan_tensor(ctx, 1, shape);
    if (kind == 0)
        AX_ASSERT_OK(ax_rng_uniform(ctx, t, -2.0f, 3.0f, seed, offset));
    else if (kind == 1)
        AX_ASSERT_OK(ax_rng_normal(ctx, t, 0.5f, 2.0f, seed, offset));
    else
        AX_ASSERT_OK(ax_rng_bernoulli(ctx, t, 0.3f, seed, offset));
    float *host = th_to_host(t);
    ax_tensor_destroy(t);
    return host;
}

static void moments(const float *x, int64_t n, double *mean, double *var) {
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    *mean = s / n;
    for (int64_t i = 0; i < n; i++)
        s2 += (x[i] - *mean) * (x[i] - *mean);
    *var = s2 / n;
}

Test(rng, uniform_normal_bernoulli_statistics) {
    ax_ctx *ctx = th_cpu_ctx();
    enum { N = 1 << 18 };
    double mean, var;
    /* N = 262144 draws: the standard error of the mean is sigma / 512, so 5 sigma bounds */
    float *u = fill(ctx, 0, N, 7, 0);
    for (int64_t i = 0; i < N; i++)
        cr_assert(u[i] >= -2.0f && u[i] < 3.0f);
    moments(u, N, &mean, &var);
    cr_assert(fabs(mean - 0.5) < 5 * sqrt(25.0 / 12) / 512, "uniform mean %g", mean);
    cr_assert(fabs(var - 25.0 / 12) < 0.02 * 25.0 / 12, "uniform variance %g", var);
    float *z = fill(ctx, 1, N, 7, 0);
    moments(z, N, &mean, &var);
    cr_assert(fabs(mean - 0.5) < 5 * 2.0 / 512, "normal mean %g", mean);
    cr_assert(fabs(var - 4.0) < 0.02 * 4.0, "normal variance %g", var);
    float *b = fill(ctx, 2, N, 7, 0);
    moments(b, N, &mean, &var);
    for (int64_t i = 0; i < N; i++)
        cr_assert(b[i] == 0.0f || b[i] == 1.0f);
    cr_assert(fabs(mean - 0.3) < 5 * sqrt(0.21) / 512, "bernoulli mean %g", mean);
    free(u);
    free(z);
    free(b);
    ax_ctx_destroy(ctx);
}

Test(rng, streams_depend_on_seed_and_offset_only) {
    ax_ctx *ctx = th_cpu_ctx();
    float *a = fill(ctx, 1, 1000, 11, 3), *b = fill(ctx, 1, 1000, 11, 3);
    float *c = fill(ctx, 1, 1000, 11, 4), *d = fill(ctx, 1, 1000, 12, 3);
    float *prefix = fill(ctx, 1, 333, 11, 3); /* element e does not depend on the size */
    th_assert_equal(a, b, 1000, "same seed and offset");
    th_assert_equal(prefix, a, 333, "prefix");
    int same_c = 0, same_d = 0;
    for (int i = 0; i < 1000; i++) {
        same_c += a[i] == c[i];
        same_d += a[i] == d[i];
    }
    cr_assert(same_c < 5 && same_d < 5, "other offset or seed should give other numbers");
    free(a);
    free(b);
    free(c);
    free(d);
    free(prefix);
    ax_ctx_destroy(ctx);
}

Test(parity, rng_fills_bit_identical_on_cpu_and_gpu) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
    ax_ctx *cpu = th_cpu_ctx();
    const int64_t sizes[] = {1, 7, 33, 257, 100003, 1 << 22};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int kind = 0; kind < 3; kind++) {
            float *ref = fill(cpu, kind, sizes[s], 0x5eed0000u + s, 9);
            float *got = fill(gpu, kind, sizes[s], 0x5eed0000u + s, 9);
            th_assert_equal(got, ref, sizes[s], kind == 0 ? "uniform" : kind == 1 ? "normal"
                                                                                 : "bernoulli");
            free(ref);
            free(got);
        }
    ax_ctx_destroy(cpu);
    ax_ctx_destroy(gpu);
}

Test(badinput, rng_fills) {
    ax_ctx *ctx = th_cpu_ctx(), *other = th_cpu_ctx();
    int64_t shape[1] = {4};
    ax_tensor *f = NULL, *i = NULL, *o = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 1, shape, &f));
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_I32, 1, shape, &i));
    AX_ASSERT_OK(ax_tensor_zeros(other, AX_F32, 1, shape, &o));
    AX_ASSERT_FAILS(ax_rng_uniform(NULL, f, 0, 1, 1, 0), AX_ERR_INVALID_ARG, "ax_rng_uniform");
    AX_ASSERT_FAILS(ax_rng_uniform(ctx, NULL, 0, 1, 1, 0), AX_ERR_INVALID_ARG, "ax_rng_uniform");
    AX_ASSERT_FAILS(ax_rng_uniform(ctx, i, 0, 1, 1, 0), AX_ERR_DTYPE, "ax_rng_uniform");
    AX_ASSERT_FAILS(ax_rng_uniform(ctx, o, 0, 1, 1, 0), AX_ERR_DEVICE, "ax_rng_uniform");
    AX_ASSERT_FAILS(ax_rng_uniform(ctx, f, 2, 1, 1, 0), AX_ERR_INVALID_ARG, "ax_rng_uniform");
    AX_ASSERT_FAILS(ax_rng_uniform(ctx, f, NAN, 1, 1, 0), AX_ERR_INVALID_ARG, "ax_rng_uniform");
    AX_ASSERT_FAILS(ax_rng_normal(ctx, f, 0, -1, 1, 0), AX_ERR_INVALID_ARG, "ax_rng_normal");
    AX_ASSERT_FAILS(ax_rng_normal(ctx, f, INFINITY, 1, 1, 0), AX_ERR_INVALID_ARG,
                    "ax_rng_normal");
    AX_ASSERT_FAILS(ax_rng_bernoulli(ctx, f, 1.5f, 1, 0), AX_ERR_INVALID_ARG, "ax_rng_bernoulli");
    AX_ASSERT_FAILS(ax_rng_bernoulli(ctx, f, NAN, 1, 0), AX_ERR_INVALID_ARG, "ax_rng_bernoulli");
    ax_tensor_destroy(f);
    ax_tensor_destroy(i);
    ax_tensor_destroy(o);
    ax_ctx_destroy(ctx);
    ax_ctx_destroy(other);
}
