/* Initialisers (PyTorch's torch.nn.init formulas), drawn from Philox through ax_rng_uniform and
 * ax_rng_normal so that CPU and CUDA fill bit-identical values. */
#include <math.h>

#include "axon/graph.h"

#include "../core/internal.h"
#include "../ops/check.h"

float ax_init_gain(ax_nonlinearity nonlinearity, float slope) {
    switch (nonlinearity) {
    case AX_ACT_LINEAR:
    case AX_ACT_SIGMOID: return 1.0f;
    case AX_ACT_TANH: return 5.0f / 3.0f;
    case AX_ACT_RELU: return sqrtf(2.0f);
    case AX_ACT_LEAKY_RELU:
        if (slope == 0.0f)
            slope = AX_LEAKY_RELU_SLOPE;
        return sqrtf(2.0f / (1.0f + slope * slope));
    }
    return NAN;
}

static ax_status fans(const char *fn, const ax_tensor *t, int64_t *fan_in, int64_t *fan_out) {
    AX_TRY(ax_check_live(fn, t, "t"));
    if (t->ndim < 2)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "fan in and fan out need at least 2 dims, t has %d", t->ndim);
    int64_t receptive = 1; /* product of shape[2:] */
    for (int i = 2; i < t->ndim; i++)
        receptive *= t->shape[i];
    *fan_in = t->shape[1] * receptive;
    *fan_out = t->shape[0] * receptive;
    return AX_OK;
}

ax_status ax_init_fans(const ax_tensor *t, int64_t *fan_in, int64_t *fan_out) {
    if (!fan_in || !fan_out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "fan_in or fan_out is NULL");
    return fans(__func__, t, fan_in, fan_out);
}

ax_status ax_init_xavier_uniform(ax_ctx *ctx, ax_tensor *t, float gain, uint64_t seed,
                                 uint64_t offset) {
    int64_t fi = 0, fo = 0;
    AX_TRY(fans(__func__, t, &fi, &fo));
    AX_TRY(ax_check_finite(__func__, "gain", gain));
    float a = gain * (float)sqrt(6.0 / (double)(fi + fo));
    return ax_rng_uniform(ctx, t, -a, a, seed, offset);
}

ax_status ax_init_xavier_normal(ax_ctx *ctx, ax_tensor *t, float gain, uint64_t seed,
                                uint64_t offset) {
    int64_t fi = 0, fo = 0;
    AX_TRY(fans(__func__, t, &fi, &fo));
    AX_TRY(ax_check_finite(__func__, "gain", gain));
    float std = gain * (float)sqrt(2.0 / (double)(fi + fo));
    return ax_rng_normal(ctx, t, 0.0f, std, seed, offset);
}

ax_status ax_init_lecun_normal(ax_ctx *ctx, ax_tensor *t, uint64_t seed, uint64_t offset) {
    int64_t fi = 0, fo = 0;
    AX_TRY(fans(__func__, t, &fi, &fo));
    return ax_rng_normal(ctx, t, 0.0f, (float)sqrt(1.0 / (double)fi), seed, offset);
}

/* gain / sqrt(fan) for Kaiming's fills. */
static ax_status kaiming_std(const char *fn, const ax_tensor *t, float a, ax_fan_mode mode,
                             ax_nonlinearity nonlinearity, float *std) {
    int64_t fi = 0, fo = 0;
    AX_TRY(fans(fn, t, &fi, &fo));
    if (mode != AX_FAN_IN && mode != AX_FAN_OUT)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "unknown fan mode %d", (int)mode);
    AX_TRY(ax_check_finite(fn, "a", a));
    float gain = ax_init_gain(nonlinearity, a);
    if (isnan(gain)) /* not an ax_activation */
        return ax_fail(AX_ERR_INVALID_ARG, fn, "unknown nonlinearity %d", (int)nonlinearity);
    int64_t fan = mode == AX_FAN_IN ? fi : fo;
    *std = gain / (float)sqrt((double)fan);
    return AX_OK;
}

ax_status ax_init_kaiming_uniform(ax_ctx *ctx, ax_tensor *t, float a, ax_fan_mode mode,
                                  ax_nonlinearity nonlinearity, uint64_t seed, uint64_t offset) {
    float std = 0.0f;
    AX_TRY(kaiming_std(__func__, t, a, mode, nonlinearity, &std));
    float bound = sqrtf(3.0f) * std;
    return ax_rng_uniform(ctx, t, -bound, bound, seed, offset);
}

ax_status ax_init_kaiming_normal(ax_ctx *ctx, ax_tensor *t, float a, ax_fan_mode mode,
                                 ax_nonlinearity nonlinearity, uint64_t seed, uint64_t offset) {
    float std = 0.0f;
    AX_TRY(kaiming_std(__func__, t, a, mode, nonlinearity, &std));
    return ax_rng_normal(ctx, t, 0.0f, std, seed, offset);
}

ax_status ax_init_tensor(ax_ctx *ctx, ax_tensor *t, const ax_init *init, uint64_t seed,
                         uint64_t offset) {
    if (!init)
        return AX_FAIL(AX_ERR_INVALID_ARG, "init is NULL");
    switch (init->kind) {
    case AX_INIT_ZEROS: return ax_fill(ctx, t, 0.0f);
    case AX_INIT_CONSTANT: return ax_fill(ctx, t, init->value);
    case AX_INIT_UNIFORM: return ax_rng_uniform(ctx, t, init->low, init->high, seed, offset);
    case AX_INIT_NORMAL: return ax_rng_normal(ctx, t, init->mean, init->std, seed, offset);
    case AX_INIT_XAVIER_UNIFORM: return ax_init_xavier_uniform(ctx, t, init->gain, seed, offset);
    case AX_INIT_XAVIER_NORMAL: return ax_init_xavier_normal(ctx, t, init->gain, seed, offset);
    case AX_INIT_LECUN_NORMAL: return ax_init_lecun_normal(ctx, t, seed, offset);
    case AX_INIT_KAIMING_UNIFORM:
        return ax_init_kaiming_uniform(ctx, t, init->a, init->mode, init->nonlinearity, seed,
                                       offset);
    case AX_INIT_KAIMING_NORMAL:
        return ax_init_kaiming_normal(ctx, t, init->a, init->mode, init->nonlinearity, seed,
                                      offset);
    }
    return AX_FAIL(AX_ERR_INVALID_ARG, "unknown initialiser kind %d", (int)init->kind);
}
