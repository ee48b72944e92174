/* Learning-rate schedules: PyTorch's closed forms of StepLR, ExponentialLR, CosineAnnealingLR,
 * with LinearLR's warm-up put in front as SequentialLR does. Host-side and pure. */
#include <math.h>

#include "axon/optim.h"

#include "../core/internal.h"

static const double kPi = 3.14159265358979323846;

/* The checks shared by the builders and ax_lr_schedule_value (fn NULL: no message). */
static ax_status check_schedule(const char *fn, const ax_lr_schedule *s) {
    if (!s)
        return fn ? ax_fail(AX_ERR_INVALID_ARG, fn, "out is NULL") : AX_ERR_INVALID_ARG;
    const char *why = NULL;
    if (!(isfinite(s->base_lr) && s->base_lr >= 0.0f))
        why = "base_lr must be finite and >= 0";
    else if (s->kind == AX_LR_STEP && s->step_size < 1)
        why = "step_size must be >= 1";
    else if ((s->kind == AX_LR_STEP || s->kind == AX_LR_EXPONENTIAL) &&
             !(isfinite(s->gamma) && s->gamma >= 0.0f))
        why = "gamma must be finite and >= 0";
    else if (s->kind == AX_LR_COSINE && s->t_max < 1)
        why = "t_max must be >= 1";
    else if (s->kind == AX_LR_COSINE && !(isfinite(s->eta_min) && s->eta_min >= 0.0f))
        why = "eta_min must be finite and >= 0";
    else if (s->kind < AX_LR_CONSTANT || s->kind > AX_LR_COSINE)
        why = "unknown schedule kind";
    else if (s->warmup_steps < 0)
        why = "warmup_steps must be >= 0";
    else if (s->warmup_steps > 0 &&
             !(s->warmup_start_factor > 0.0f && s->warmup_start_factor <= 1.0f))
        why = "the warm-up start factor must be in (0, 1]";
    if (!why)
        return AX_OK;
    return fn ? ax_fail(AX_ERR_INVALID_ARG, fn, "%s", why) : AX_ERR_INVALID_ARG;
}

/* Check s, then copy it to out. */
static ax_status build(const char *fn, const ax_lr_schedule *s, ax_lr_schedule *out) {
    if (!out)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "out is NULL");
    AX_TRY(check_schedule(fn, s));
    *out = *s;
    return AX_OK;
}

ax_status ax_lr_schedule_constant(float base_lr, ax_lr_schedule *out) {
    ax_lr_schedule s = {.kind = AX_LR_CONSTANT, .base_lr = base_lr};
    return build(__func__, &s, out);
}

ax_status ax_lr_schedule_step(float base_lr, int64_t step_size, float gamma,
                              ax_lr_schedule *out) {
    ax_lr_schedule s = {.kind = AX_LR_STEP, .base_lr = base_lr, .step_size = step_size,
                        .gamma = gamma};
    return build(__func__, &s, out);
}

ax_status ax_lr_schedule_exponential(float base_lr, float gamma, ax_lr_schedule *out) {
    ax_lr_schedule s = {.kind = AX_LR_EXPONENTIAL, .base_lr = base_lr, .gamma = gamma};
    return build(__func__, &s, out);
}

ax_status ax_lr_schedule_cosine(float base_lr, int64_t t_max, float eta_min,
                                ax_lr_schedule *out) {
    ax_lr_schedule s = {.kind = AX_LR_COSINE, .base_lr = base_lr, .t_max = t_max,
                        .eta_min = eta_min};
    return build(__func__, &s, out);
}

ax_status ax_lr_schedule_add_warmup(ax_lr_schedule *s, int64_t warmup_steps,
                                    float start_factor) {
    if (!s)
        return AX_FAIL(AX_ERR_INVALID_ARG, "s is NULL");
    if (warmup_steps < 1)
        return AX_FAIL(AX_ERR_INVALID_ARG, "warmup_steps = %lld must be >= 1",
                       (long long)warmup_steps);
    ax_lr_schedule w = *s;
    w.warmup_steps = warmup_steps;
    w.warmup_start_factor = start_factor;
    return build(__func__, &w, s);
}

float ax_lr_schedule_value(const ax_lr_schedule *s, int64_t t) {
    if (check_schedule(NULL, s) != AX_OK || t < 0)
        return NAN;
    const double base = s->base_lr;
    if (t < s->warmup_steps) {
        /* LinearLR: base (f + (1 - f) t / warmup_steps) */
        const double f = s->warmup_start_factor;
        return (float)(base * (f + (1.0 - f) * (double)t / (double)s->warmup_steps));
    }
    t -= s->warmup_steps; /* the schedule proper starts after the warm-up */
    switch (s->kind) {
    case AX_LR_STEP: /* base gamma^floor(t / step_size) */
        return (float)(base * pow(s->gamma, (double)(t / s->step_size)));
    case AX_LR_EXPONENTIAL: /* base gamma^t */
        return (float)(base * pow(s->gamma, (double)t));
    case AX_LR_COSINE: /* eta_min + (base - eta_min) (1 + cos(pi t / t_max)) / 2 */
        return (float)(s->eta_min +
                       (base - s->eta_min) * (1.0 + cos(kPi * (double)t / (double)s->t_max)) / 2.0);
    default:
        return (float)base;
    }
}
