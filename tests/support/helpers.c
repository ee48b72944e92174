#include "helpers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *th_golden_dir(void) {
    const char *env = getenv("AXON_GOLDEN_DIR");
    return env && *env ? env : AXON_GOLDEN_DIR;
}

int th_message_names(const char *fn) { return strstr(ax_last_error(), fn) != NULL; }

ax_ctx *th_cpu_ctx(void) {
    ax_ctx *ctx = NULL;
    AX_ASSERT_OK(ax_ctx_create(AX_DEVICE_CPU, 0, &ctx));
    return ctx;
}

int th_gpu_required(void) {
    const char *v = getenv("AXON_REQUIRE_GPU");
    return v && *v && strcmp(v, "0") != 0;
}

ax_ctx *th_gpu_ctx_or_skip(void) {
    if (ax_cuda_device_count() == 0) {
        const char *why = "no usable CUDA device on this machine (or libaxon built without CUDA)";
        if (th_gpu_required())
            cr_assert_fail("AXON_REQUIRE_GPU=1 but %s: a GPU test may not skip", why);
        cr_skip("%s", why);
    }
    ax_ctx *ctx = NULL;
    AX_ASSERT_OK(ax_ctx_create(AX_DEVICE_CUDA, 0, &ctx));
    return ctx;
}

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void th_random(float *x, int64_t n, uint64_t seed, float lo, float hi) {
    uint64_t state = seed;
    for (int64_t i = 0; i < n; i++) {
        double u = (double)(splitmix64(&state) >> 11) * (1.0 / 9007199254740992.0);
        x[i] = (float)(lo + (hi - lo) * u);
    }
}

void th_random_away_from_zero(float *x, int64_t n, uint64_t seed, float lo, float hi,
                              float min_abs) {
    th_random(x, n, seed, lo, hi);
    for (int64_t i = 0; i < n; i++)
        if (fabsf(x[i]) < min_abs)
            x[i] = x[i] < 0 ? -min_abs : min_abs;
}

float *th_nan_buffer(int64_t n) {
    float *x = malloc((size_t)n * sizeof *x);
    cr_assert_not_null(x);
    for (int64_t i = 0; i < n; i++)
        x[i] = NAN;
    return x;
}

ax_tensor *th_tensor(ax_ctx *ctx, int ndim, const int64_t *shape, const float *data) {
    ax_tensor *t = NULL;
    AX_ASSERT_OK(ax_tensor_from_host(ctx, AX_F32, ndim, shape, data, &t));
    return t;
}

ax_tensor *th_tensor_i32(ax_ctx *ctx, int ndim, const int64_t *shape, const int32_t *data) {
    ax_tensor *t = NULL;
    AX_ASSERT_OK(ax_tensor_from_host(ctx, AX_I32, ndim, shape, data, &t));
    return t;
}

ax_tensor *th_nan_tensor(ax_ctx *ctx, int ndim, const int64_t *shape) {
    ax_tensor *t = NULL;
    AX_ASSERT_OK(ax_tensor_create(ctx, AX_F32, ndim, shape, &t));
    AX_ASSERT_OK(ax_fill(ctx, t, NAN));
    return t;
}

float *th_to_host(const ax_tensor *t) {
    size_t bytes = ax_tensor_nbytes(t);
    float *x = malloc(bytes ? bytes : 1);
    cr_assert_not_null(x);
    AX_ASSERT_OK(ax_tensor_to_host(t, x, bytes));
    return x;
}

void th_assert_close(const float *got, const float *ref, int64_t n, double atol, double rtol,
                     const char *what) {
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], r = ref[i];
        cr_assert(isfinite(g), "%s[%lld] = %g is not finite (ref %g)", what, (long long)i, g, r);
        cr_assert(fabs(g - r) <= atol + rtol * fabs(r),
                  "%s[%lld] = %.9g, ref %.9g, |diff| %.3g > atol %.3g + rtol %.3g * |ref|", what,
                  (long long)i, g, r, fabs(g - r), atol, rtol);
    }
}

void th_assert_equal(const float *got, const float *ref, int64_t n, const char *what) {
    for (int64_t i = 0; i < n; i++)
        cr_assert(memcmp(&got[i], &ref[i], sizeof(float)) == 0,
                  "%s[%lld] = %.9g differs from %.9g bit for bit", what, (long long)i,
                  (double)got[i], (double)ref[i]);
}

int64_t th_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

ax_tensor *th_random_tensor(ax_ctx *ctx, int ndim, const int64_t *shape, uint64_t seed, float lo,
                            float hi, float min_abs) {
    int64_t n = th_numel(ndim, shape);
    float *host = malloc((size_t)n * sizeof *host);
    cr_assert_not_null(host);
    if (min_abs > 0)
        th_random_away_from_zero(host, n, seed, lo, hi, min_abs);
    else
        th_random(host, n, seed, lo, hi);
    ax_tensor *t = th_tensor(ctx, ndim, shape, host);
    free(host);
    return t;
}
