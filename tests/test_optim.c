/* First-order optimizers, gradient clipping and learning-rate schedules: the API on the CPU,
 * PyTorch's trajectories and schedules (golden, from tests/golden/gen_optim.py), CUDA against
 * the CPU reference (parity), and bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "helpers.h"
#include "host/optim/optim_state.h" /* the state tensors, to compare with PyTorch's */

/* ---------------------------------------------------------------- the variants under test */

typedef enum family { SGD, ADAGRAD, ADADELTA, RMSPROP, ADAM, ADAMW } family;

typedef struct variant {
    const char *name; /* tests/golden/optim/<name>.txt */
    family fam;
} variant;

static const variant variants[] = {
    {"sgd", SGD},
    {"sgd_weight_decay", SGD},
    {"sgd_momentum", SGD},
    {"sgd_nesterov", SGD},
    {"adagrad", ADAGRAD},
    {"adagrad_decay", ADAGRAD},
    {"adadelta", ADADELTA},
    {"adadelta_weight_decay", ADADELTA},
    {"rmsprop", RMSPROP},
    {"rmsprop_momentum", RMSPROP},
    {"rmsprop_centered", RMSPROP},
    {"adam", ADAM},
    {"adam_weight_decay", ADAM},
    {"adam_amsgrad", ADAM},
    {"adamw", ADAMW},
    {"adamw_amsgrad", ADAMW},
};
enum { VARIANTS = sizeof variants / sizeof variants[0] };

/* Hyperparameter `name` of a golden case, or dflt when the case leaves it at the default. */
static double hp(const gd_case *c, const char *name, double dflt) {
    for (int i = 0; i < c->count; i++)
        if (strcmp(c->t[i].name, name) == 0) {
            /* the file holds the f32 of PyTorch's Python float (a short decimal such as
             * 0.999): its 7 significant digits give the decimal, and strtod its double */
            char decimal[32];
            snprintf(decimal, sizeof decimal, "%.7g", (double)c->t[i].f[0]);
            return strtod(decimal, NULL);
        }
    return dflt;
}

/* The optimizer a golden case describes, on ctx. */
static ax_optimizer *make_optimizer(ax_ctx *ctx, family fam, const gd_case *c) {
    ax_optimizer *opt = NULL;
    switch (fam) {
    case SGD: {
        ax_sgd_config cfg = ax_sgd_defaults();
        cfg.lr = hp(c, "lr", cfg.lr);
        cfg.momentum = hp(c, "momentum", cfg.momentum);
        cfg.dampening = hp(c, "dampening", cfg.dampening);
        cfg.weight_decay = hp(c, "weight_decay", cfg.weight_decay);
        cfg.nesterov = hp(c, "nesterov", 0) != 0;
        AX_ASSERT_OK(ax_optimizer_create_sgd(ctx, &cfg, &opt));
        break;
    }
    case ADAGRAD: {
        ax_adagrad_config cfg = ax_adagrad_defaults();
        cfg.lr = hp(c, "lr", cfg.lr);
        cfg.lr_decay = hp(c, "lr_decay", cfg.lr_decay);
        cfg.weight_decay = hp(c, "weight_decay", cfg.weight_decay);
        cfg.initial_accumulator_value =
            hp(c, "initial_accumulator_value", cfg.initial_accumulator_value);
        cfg.eps = hp(c, "eps", cfg.eps);
        AX_ASSERT_OK(ax_optimizer_create_adagrad(ctx, &cfg, &opt));
        break;
    }
    case ADADELTA: {
        ax_adadelta_config cfg = ax_adadelta_defaults();
        cfg.lr = hp(c, "lr", cfg.lr);
        cfg.rho = hp(c, "rho", cfg.rho);
        cfg.eps = hp(c, "eps", cfg.eps);
        cfg.weight_decay = hp(c, "weight_decay", cfg.weight_decay);
        AX_ASSERT_OK(ax_optimizer_create_adadelta(ctx, &cfg, &opt));
        break;
    }
    case RMSPROP: {
        ax_rmsprop_config cfg = ax_rmsprop_defaults();
        cfg.lr = hp(c, "lr", cfg.lr);
        cfg.alpha = hp(c, "alpha", cfg.alpha);
        cfg.eps = hp(c, "eps", cfg.eps);
        cfg.weight_decay = hp(c, "weight_decay", cfg.weight_decay);
        cfg.momentum = hp(c, "momentum", cfg.momentum);
        cfg.centered = hp(c, "centered", 0) != 0;
        AX_ASSERT_OK(ax_optimizer_create_rmsprop(ctx, &cfg, &opt));
        break;
    }
    default: {
        ax_adam_config cfg = fam == ADAMW ? ax_adamw_defaults() : ax_adam_defaults();
        cfg.lr = hp(c, "lr", cfg.lr);
        cfg.beta1 = hp(c, "beta1", cfg.beta1);
        cfg.beta2 = hp(c, "beta2", cfg.beta2);
        cfg.eps = hp(c, "eps", cfg.eps);
        cfg.weight_decay = hp(c, "weight_decay", cfg.weight_decay);
        cfg.amsgrad = hp(c, "amsgrad", 0) != 0;
        if (fam == ADAMW)
            AX_ASSERT_OK(ax_optimizer_create_adamw(ctx, &cfg, &opt));
        else
            AX_ASSERT_OK(ax_optimizer_create_adam(ctx, &cfg, &opt));
        break;
    }
    }
    return opt;
}

/* A 1-D tensor of n elements from host data. */
static ax_tensor *vec_tensor(ax_ctx *ctx, int64_t n, const float *data) {
    return th_tensor(ctx, 1, &n, data);
}

/* ---------------------------------------------------------------- api */

/* PyTorch's defaults are Python floats: the doubles nearest the decimals, not the floats. */
Test(api, defaults_are_pytorchs) {
    ax_sgd_config sgd = ax_sgd_defaults();
    cr_assert(sgd.lr == 1e-3 && sgd.momentum == 0 && sgd.dampening == 0 &&
              sgd.weight_decay == 0 && !sgd.nesterov);
    ax_adagrad_config ag = ax_adagrad_defaults();
    cr_assert(ag.lr == 1e-2 && ag.lr_decay == 0 && ag.weight_decay == 0 &&
              ag.initial_accumulator_value == 0 && ag.eps == 1e-10);
    ax_adadelta_config ad = ax_adadelta_defaults();
    cr_assert(ad.lr == 1.0 && ad.rho == 0.9 && ad.eps == 1e-6 && ad.weight_decay == 0);
    ax_rmsprop_config rp = ax_rmsprop_defaults();
    cr_assert(rp.lr == 1e-2 && rp.alpha == 0.99 && rp.eps == 1e-8 && rp.momentum == 0 &&
              !rp.centered && rp.weight_decay == 0);
    ax_adam_config adam = ax_adam_defaults(), adamw = ax_adamw_defaults();
    cr_assert(adam.lr == 1e-3 && adam.beta1 == 0.9 && adam.beta2 == 0.999 && adam.eps == 1e-8 &&
              adam.weight_decay == 0 && !adam.amsgrad);
    cr_assert(adamw.lr == 1e-3 && adamw.weight_decay == 1e-2);
}

Test(api, plain_sgd_step_is_w_minus_lr_g) {
    ax_ctx *ctx = th_cpu_ctx();
    float w[3] = {1, -2, 3}, g[3] = {0.5f, 1, -4}, out[3];
    ax_tensor *tw = vec_tensor(ctx, 3, w), *tg = vec_tensor(ctx, 3, g);
    ax_optimizer *opt = NULL;
    AX_ASSERT_OK(ax_optimizer_create_sgd(ctx, NULL, &opt)); /* NULL: the defaults */
    AX_ASSERT_OK(ax_optimizer_set_lr(opt, 0.5f));
    float lr = 0;
    AX_ASSERT_OK(ax_optimizer_get_lr(opt, &lr));
    cr_assert_eq(lr, 0.5f);
    ax_tensor *grads[1] = {tg};
    AX_ASSERT_OK(ax_optimizer_step(opt, 1, &tw, grads));
    AX_ASSERT_OK(ax_optimizer_step(opt, 1, &tw, grads));
    AX_ASSERT_OK(ax_tensor_to_host(tw, out, sizeof out));
    for (int i = 0; i < 3; i++)
        cr_assert_eq(out[i], w[i] - 0.5f * g[i] - 0.5f * g[i]);
    int64_t steps = 0;
    AX_ASSERT_OK(ax_optimizer_step_count(opt, &steps));
    cr_assert_eq(steps, 2);
    ax_optimizer_destroy(opt);
    ax_optimizer_destroy(NULL);
    ax_tensor_destroy(tw);
    ax_tensor_destroy(tg);
    ax_ctx_destroy(ctx);
}

/* An optimizer keeps its context alive: destroying the context first is safe, and the
 * next step reports the destroyed context. */
Test(api, optimizer_outlives_its_context_safely) {
    ax_ctx *ctx = th_cpu_ctx();
    float w[2] = {1, 2}, g[2] = {1, 1};
    ax_tensor *tw = vec_tensor(ctx, 2, w), *tg = vec_tensor(ctx, 2, g);
    ax_optimizer *opt = NULL;
    ax_adam_config cfg = ax_adam_defaults();
    AX_ASSERT_OK(ax_optimizer_create_adam(ctx, &cfg, &opt));
    ax_tensor *grads[1] = {tg};
    AX_ASSERT_OK(ax_optimizer_step(opt, 1, &tw, grads));
    ax_ctx_destroy(ctx);
    AX_ASSERT_FAILS(ax_optimizer_step(opt, 1, &tw, grads), AX_ERR_STATE, "ax_optimizer_step");
    ax_optimizer_destroy(opt);
    ax_tensor_destroy(tw);
    ax_tensor_destroy(tg);
}

/* SGD's weight_decay is the gradient of ax_l2_penalty with the same lambda. */
Test(api, sgd_weight_decay_equals_l2_penalty_gradient) {
    ax_ctx *ctx = th_cpu_ctx();
    enum { N = 33 };
    float w[N], g[N];
    th_random(w, N, 11, -2, 2);
    th_random(g, N, 12, -1, 1);
    ax_tensor *w1 = vec_tensor(ctx, N, w), *w2 = vec_tensor(ctx, N, w),
              *g1 = vec_tensor(ctx, N, g), *g2 = vec_tensor(ctx, N, g);
    ax_sgd_config decay = ax_sgd_defaults(), plain = ax_sgd_defaults();
    decay.lr = plain.lr = 0.1f;
    decay.momentum = plain.momentum = 0.9f;
    decay.weight_decay = 0.05f;
    ax_optimizer *a = NULL, *b = NULL;
    AX_ASSERT_OK(ax_optimizer_create_sgd(ctx, &decay, &a));
    AX_ASSERT_OK(ax_optimizer_create_sgd(ctx, &plain, &b));
    for (int step = 0; step < 3; step++) {
        AX_ASSERT_OK(ax_tensor_set_from_host(g2, g, sizeof g));
        AX_ASSERT_OK(ax_l2_penalty(ctx, w2, 0.05f, NULL, g2)); /* g2 = g + 0.05 w2 */
        ax_tensor *ga[1] = {g1}, *gb[1] = {g2};
        AX_ASSERT_OK(ax_optimizer_step(a, 1, &w1, ga));
        AX_ASSERT_OK(ax_optimizer_step(b, 1, &w2, gb));
    }
    float *r1 = th_to_host(w1), *r2 = th_to_host(w2);
    th_assert_close(r1, r2, N, 1e-7, 1e-6, "sgd weight_decay vs l2 penalty");
    free(r1);
    free(r2);
    ax_optimizer_destroy(a);
    ax_optimizer_destroy(b);
    ax_tensor_destroy(w1);
    ax_tensor_destroy(w2);
    ax_tensor_destroy(g1);
    ax_tensor_destroy(g2);
    ax_ctx_destroy(ctx);
}

Test(api, clip_grad_norm_scales_to_max_norm) {
    ax_ctx *ctx = th_cpu_ctx();
    float a[2] = {3, 0}, b[1] = {4}, out_a[2], out_b[1];
    ax_tensor *grads[2] = {vec_tensor(ctx, 2, a), vec_tensor(ctx, 1, b)};
    float total = 0;
    /* total = 5 > 1: scaled by 1 / (5 + 1e-6) */
    AX_ASSERT_OK(ax_clip_grad_norm(ctx, 2, grads, 1.0f, 2.0f, 0, &total));
    cr_assert_float_eq(total, 5.0f, 1e-6f);
    AX_ASSERT_OK(ax_tensor_to_host(grads[0], out_a, sizeof out_a));
    AX_ASSERT_OK(ax_tensor_to_host(grads[1], out_b, sizeof out_b));
    cr_assert_float_eq(out_a[0], 3.0f / (5.0f + 1e-6f), 1e-7f);
    cr_assert_eq(out_a[1], 0.0f);
    cr_assert_float_eq(out_b[0], 4.0f / (5.0f + 1e-6f), 1e-7f);
    /* now the norm is below 2: nothing changes */
    AX_ASSERT_OK(ax_clip_grad_norm(ctx, 2, grads, 2.0f, 2.0f, 0, &total));
    cr_assert_float_eq(total, 1.0f, 1e-6f);
    float again[2];
    AX_ASSERT_OK(ax_tensor_to_host(grads[0], again, sizeof again));
    cr_assert(again[0] == out_a[0] && again[1] == out_a[1]);
    AX_ASSERT_OK(ax_clip_grad_norm(ctx, 2, grads, 2.0f, 2.0f, 0, NULL)); /* the norm is optional */
    ax_tensor_destroy(grads[0]);
    ax_tensor_destroy(grads[1]);
    ax_ctx_destroy(ctx);
}

/* Non-finite norms, as torch.nn.utils.clip_grad_norm_ (PyTorch 2.x) answers them:
 *   grads ([inf, -2, 0, -0], [3]), max_norm 1 -> norm inf, grads ([nan, -0, 0, -0], [0])
 *   grads ([nan, -2], [3]), max_norm 1         -> norm nan, grads ([nan, nan], [nan])
 *   grads ([1e30, 2], [3])                    -> norm inf (f32 sum of squares overflows),
 *                                                grads ([0, 0], [0])
 *   error_if_nonfinite=True on either          -> RuntimeError, grads unchanged */
Test(api, clip_grad_norm_non_finite_as_pytorch) {
    ax_ctx *ctx = th_cpu_ctx();
    const float inf = INFINITY;
    struct {
        float a[4], b;
        float want_norm, want_a[4], want_b;
    } cases[] = {
        {{inf, -2, 0, -0.0f}, 3, inf, {NAN, -0.0f, 0, -0.0f}, 0},
        {{NAN, -2, 1, 1}, 3, NAN, {NAN, NAN, NAN, NAN}, NAN},
        {{1e30f, 2, 0, 0}, 3, inf, {0, 0, 0, 0}, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        float out_a[4], out_b, total = 0;
        for (int strict = 1; strict >= 0; strict--) {
            ax_tensor *grads[2] = {vec_tensor(ctx, 4, cases[k].a), vec_tensor(ctx, 1, &cases[k].b)};
            ax_status st = ax_clip_grad_norm(ctx, 2, grads, 1.0f, 2.0f, strict, &total);
            AX_ASSERT_OK(ax_tensor_to_host(grads[0], out_a, sizeof out_a));
            AX_ASSERT_OK(ax_tensor_to_host(grads[1], &out_b, sizeof out_b));
            cr_assert(isnan(cases[k].want_norm) ? isnan(total) : total == cases[k].want_norm,
                      "case %zu: norm %g", k, (double)total);
            if (strict) { /* refused, with a message, and nothing changed */
                cr_assert_eq(st, AX_ERR_INVALID_ARG, "case %zu: %s", k, ax_status_str(st));
                cr_assert(strstr(ax_last_error(), "ax_clip_grad_norm") != NULL, "%s",
                          ax_last_error());
                th_assert_equal(out_a, cases[k].a, 4, "unchanged after the refusal");
                cr_assert(out_b == cases[k].b);
            } else {
                AX_ASSERT_OK(st);
                for (int i = 0; i < 5; i++) { /* NaN where NaN, the signs of zeros too */
                    float got = i < 4 ? out_a[i] : out_b;
                    float want = i < 4 ? cases[k].want_a[i] : cases[k].want_b;
                    cr_assert(isnan(want) ? isnan(got)
                                          : got == want && signbit(got) == signbit(want),
                              "case %zu, element %d: %g, PyTorch %g", k, i, (double)got,
                              (double)want);
                }
            }
            ax_tensor_destroy(grads[0]);
            ax_tensor_destroy(grads[1]);
        }
    }
    /* a finite norm is no error under error_if_nonfinite */
    float a[2] = {3, 4};
    ax_tensor *g = vec_tensor(ctx, 2, a);
    float total = 0;
    AX_ASSERT_OK(ax_clip_grad_norm(ctx, 1, &g, 10.0f, 2.0f, 1, &total));
    cr_assert_float_eq(total, 5.0f, 1e-6f);
    ax_tensor_destroy(g);
    ax_ctx_destroy(ctx);
}

Test(api, clip_grad_value_clamps_every_element) {
    ax_ctx *ctx = th_cpu_ctx();
    float g[5] = {-3, -0.5f, 0, 0.25f, 7}, out[5];
    const float want[5] = {-1, -0.5f, 0, 0.25f, 1};
    ax_tensor *t = vec_tensor(ctx, 5, g);
    AX_ASSERT_OK(ax_clip_grad_value(ctx, 1, &t, 1.0f));
    AX_ASSERT_OK(ax_tensor_to_host(t, out, sizeof out));
    th_assert_equal(out, want, 5, "clip_grad_value");
    ax_tensor_destroy(t);
    ax_ctx_destroy(ctx);
}

Test(api, schedules_closed_forms) {
    ax_lr_schedule s;
    AX_ASSERT_OK(ax_lr_schedule_constant(0.3f, &s));
    cr_assert_eq(ax_lr_schedule_value(&s, 1000), 0.3f);
    AX_ASSERT_OK(ax_lr_schedule_step(1.0f, 2, 0.5f, &s));
    cr_assert_eq(ax_lr_schedule_value(&s, 0), 1.0f);
    cr_assert_eq(ax_lr_schedule_value(&s, 1), 1.0f);
    cr_assert_eq(ax_lr_schedule_value(&s, 2), 0.5f);
    cr_assert_eq(ax_lr_schedule_value(&s, 5), 0.25f);
    cr_assert(isnan(ax_lr_schedule_value(&s, -1)));
    cr_assert(isnan(ax_lr_schedule_value(NULL, 0)));
}

/* ---------------------------------------------------------------- golden */

/* N steps of each variant on the fixed problem of grads.txt, every intermediate parameter
 * compared with PyTorch's. Both sides compute in float32 with slightly different operation
 * orders (PyTorch's addcdiv and lerp, its double-precision hyperparameters), so the
 * trajectories drift apart by a few ulp per step: over 10 steps we measured at most 2e-6
 * relative, and 1.2e-7 absolute on entries that cancel to near 0; the test allows
 * rtol 5e-6 + atol 5e-7. */
/* Run the optimizer `want` describes over the gradients of `grads_name` and compare the
 * parameters with want's w0 [K, ...] and w1 [K, ...] every steps / K steps; with state, also
 * the final state under PyTorch's names (exp_avg_sq0: parameter 0's exp_avg_sq). */
static void run_trajectory(ax_ctx *ctx, const char *grads_name, const char *name, family fam,
                           double atol, double rtol, double state_rtol) {
    gd_case *prob = gd_load("optim", grads_name), *want = gd_load("optim", name);
    const gd_tensor *g0 = gd_get(prob, "g0"), *g1 = gd_get(prob, "g1");
    const gd_tensor *t0 = gd_get(want, "w0"), *t1 = gd_get(want, "w1");
    const int64_t steps = g0->shape[0], n0 = g0->numel / steps, n1 = g1->numel / steps;
    const int64_t every = steps / t0->shape[0];
    cr_assert_eq(t0->shape[0] * every, steps);
    ax_tensor *params[2] = {gd_tensor_on(ctx, prob, "w0"), gd_tensor_on(ctx, prob, "w1")};
    ax_tensor *grads[2] = {th_nan_tensor(ctx, 2, gd_get(prob, "w0")->shape),
                           th_nan_tensor(ctx, 1, gd_get(prob, "w1")->shape)};
    ax_optimizer *opt = make_optimizer(ctx, fam, want);
    char what[96];
    for (int64_t t = 0; t < steps; t++) {
        AX_ASSERT_OK(ax_tensor_set_from_host(grads[0], g0->f + t * n0, n0 * sizeof(float)));
        AX_ASSERT_OK(ax_tensor_set_from_host(grads[1], g1->f + t * n1, n1 * sizeof(float)));
        AX_ASSERT_OK(ax_optimizer_step(opt, 2, params, grads));
        if ((t + 1) % every)
            continue;
        const int64_t k = (t + 1) / every - 1;
        float *got0 = th_to_host(params[0]), *got1 = th_to_host(params[1]);
        snprintf(what, sizeof what, "%s w0 after step %lld", name, (long long)t + 1);
        th_assert_close(got0, t0->f + k * n0, n0, atol, rtol, what);
        snprintf(what, sizeof what, "%s w1 after step %lld", name, (long long)t + 1);
        th_assert_close(got1, t1->f + k * n1, n1, atol, rtol, what);
        free(got0);
        free(got1);
    }
    int compared = 0;
    for (int i = 0; state_rtol > 0.0 && i < 2; i++)
        for (int k = 0; k < AX_OPTIM_MAX_STATES; k++) {
            const char *key;
            ax_tensor *st = ax_optimizer_state_tensor(opt, i, k, &key);
            if (!st)
                continue;
            char tname[64];
            snprintf(tname, sizeof tname, "%s%d", key, i);
            snprintf(what, sizeof what, "%s state %s", name, tname);
            const gd_tensor *ref = gd_get(want, tname);
            cr_assert_eq(ref->numel, ax_tensor_numel(st), "%s", what);
            float *got = th_to_host(st);
            th_assert_close(got, ref->f, ref->numel, atol, state_rtol, what);
            free(got);
            compared++;
        }
    cr_assert(state_rtol <= 0.0 || compared >= 2, "%s: no state compared", name);
    ax_optimizer_destroy(opt);
    for (int i = 0; i < 2; i++) {
        ax_tensor_destroy(params[i]);
        ax_tensor_destroy(grads[i]);
    }
    gd_free(prob);
    gd_free(want);
}

Test(golden, every_optimizer_follows_pytorchs_trajectory) {
    ax_ctx *ctx = th_cpu_ctx();
    for (int i = 0; i < VARIANTS; i++)
        run_trajectory(ctx, "grads", variants[i].name, variants[i].fam, 5e-7, 5e-6, 0.0);
    ax_ctx_destroy(ctx);
}

/* The long cases (gen_optim.py's long_*): 300 steps with PyTorch's default betas, alpha and
 * rho, the parameters every 50 steps and the final state (PyTorch's names) compared. f32
 * arithmetic on the hyperparameters (1 - 0.999f = 9.99987e-4 instead of 1e-3) puts
 * exp_avg_sq off by 1.3e-5 relative from the first step, and RMSprop's square_avg by 1e-6;
 * computed in double and rounded once they agree with PyTorch's to a few ulps: we measured
 * at most 3.6e-7 relative on the state and 7.9e-7 on the parameters (RMSprop, beyond 1e-7
 * absolute), so the test allows 1e-6 and 2e-6 (plus 1e-7 absolute for entries near 0). */
static const struct {
    const char *name;
    family fam;
} long_variants[] = {
    {"long_adam", ADAM},         {"long_adam_amsgrad", ADAM}, {"long_adamw", ADAMW},
    {"long_rmsprop", RMSPROP},   {"long_adadelta", ADADELTA}, {"long_adagrad", ADAGRAD},
    {"long_sgd", SGD},
};

Test(golden, long_trajectories_and_state_match_pytorchs) {
    ax_ctx *ctx = th_cpu_ctx();
    for (size_t i = 0; i < sizeof long_variants / sizeof long_variants[0]; i++)
        run_trajectory(ctx, "long_grads", long_variants[i].name, long_variants[i].fam, 1e-7,
                       2e-6, 1e-6);
    ax_ctx_destroy(ctx);
}

/* PyTorch's schedulers step the lr recursively in double; the closed forms agree to a few
 * float ulp. */
static void check_schedule(const gd_case *c, const char *name, const ax_lr_schedule *s) {
    const gd_tensor *want = gd_get(c, name);
    float got[64];
    cr_assert(want->numel <= 64);
    for (int64_t t = 0; t < want->numel; t++)
        got[t] = ax_lr_schedule_value(s, t);
    th_assert_close(got, want->f, want->numel, 1e-7, 1e-5, name);
}

Test(golden, schedules_match_pytorchs_schedulers) {
    gd_case *c = gd_load("optim", "schedules");
    ax_lr_schedule s;
    AX_ASSERT_OK(ax_lr_schedule_step(0.1f, 3, 0.5f, &s));
    check_schedule(c, "step", &s);
    AX_ASSERT_OK(ax_lr_schedule_exponential(0.1f, 0.9f, &s));
    check_schedule(c, "exponential", &s);
    AX_ASSERT_OK(ax_lr_schedule_cosine(0.1f, 10, 0.001f, &s));
    check_schedule(c, "cosine", &s);
    AX_ASSERT_OK(ax_lr_schedule_constant(0.1f, &s));
    AX_ASSERT_OK(ax_lr_schedule_add_warmup(&s, 5, 0.25f));
    check_schedule(c, "warmup", &s);
    AX_ASSERT_OK(ax_lr_schedule_cosine(0.1f, 20, 0.0f, &s));
    AX_ASSERT_OK(ax_lr_schedule_add_warmup(&s, 5, 0.25f));
    check_schedule(c, "warmup_cosine", &s);
    AX_ASSERT_OK(ax_lr_schedule_step(0.1f, 4, 0.5f, &s));
    AX_ASSERT_OK(ax_lr_schedule_add_warmup(&s, 5, 0.25f));
    check_schedule(c, "warmup_step", &s);
    gd_free(c);
}

/* ---------------------------------------------------------------- parity */

/* Three steps of variant v on parameters of n elements, on the CPU and on CUDA from the same
 * random parameters and gradients; the same per-element formulas run on both (src/host/common/optim_update.h), so
 * they differ only by the device's sqrt/division rounding and fused multiply-adds. */
static void parity_case(ax_ctx *cpu, ax_ctx *gpu, const variant *v, int64_t n) {
    gd_case *hps = gd_load("optim", v->name);
    float *w = malloc((size_t)n * sizeof *w), *g = malloc((size_t)n * sizeof *g);
    th_random(w, n, 100 + (uint64_t)n, -2, 2);
    ax_tensor *pc = vec_tensor(cpu, n, w), *pg = vec_tensor(gpu, n, w);
    ax_tensor *gc = th_nan_tensor(cpu, 1, &n), *gg = th_nan_tensor(gpu, 1, &n);
    ax_optimizer *oc = make_optimizer(cpu, v->fam, hps), *og = make_optimizer(gpu, v->fam, hps);
    for (int step = 0; step < 3; step++) {
        th_random(g, n, 200 + (uint64_t)(n * 3 + step), -1.5f, 1.5f);
        AX_ASSERT_OK(ax_tensor_set_from_host(gc, g, (size_t)n * sizeof *g));
        AX_ASSERT_OK(ax_tensor_set_from_host(gg, g, (size_t)n * sizeof *g));
        ax_tensor *grc[1] = {gc}, *grg[1] = {gg};
        AX_ASSERT_OK(ax_optimizer_step(oc, 1, &pc, grc));
        AX_ASSERT_OK(ax_optimizer_step(og, 1, &pg, grg));
    }
    AX_ASSERT_OK(ax_ctx_synchronize(gpu));
    float *rc = th_to_host(pc), *rg = th_to_host(pg);
    char what[96];
    snprintf(what, sizeof what, "%s, n = %lld", v->name, (long long)n);
    th_assert_close(rg, rc, n, 1e-6, 1e-5, what);
    free(rc);
    free(rg);
    free(w);
    free(g);
    ax_optimizer_destroy(oc);
    ax_optimizer_destroy(og);
    ax_tensor_destroy(pc);
    ax_tensor_destroy(pg);
    ax_tensor_destroy(gc);
    ax_tensor_destroy(gg);
    gd_free(hps);
}

static const int64_t parity_sizes[] = {1, 7, 257, 100003};
enum { PARITY_SIZES = sizeof parity_sizes / sizeof parity_sizes[0] };

Test(parity, every_optimizer_update_matches_cpu) {
    ax_ctx *gpu = th_gpu_ctx_or_skip(), *cpu = th_cpu_ctx();
    for (int i = 0; i < VARIANTS; i++)
        for (int s = 0; s < PARITY_SIZES; s++)
            parity_case(cpu, gpu, &variants[i], parity_sizes[s]);
    ax_ctx_destroy(gpu);
    ax_ctx_destroy(cpu);
}

Test(parity, host_tensors_in_a_cuda_optimizer_are_refused) {
    ax_ctx *gpu = th_gpu_ctx_or_skip(), *cpu = th_cpu_ctx();
    float w[3] = {1, 2, 3};
    ax_tensor *pc = vec_tensor(cpu, 3, w), *gc = vec_tensor(cpu, 3, w),
              *pg = vec_tensor(gpu, 3, w), *gg = vec_tensor(gpu, 3, w);
    ax_optimizer *opt = NULL;
    AX_ASSERT_OK(ax_optimizer_create_sgd(gpu, NULL, &opt));
    ax_tensor *grads_cpu[1] = {gc}, *grads_gpu[1] = {gg};
    AX_ASSERT_FAILS(ax_optimizer_step(opt, 1, &pc, grads_gpu), AX_ERR_DEVICE,
                    "ax_optimizer_step");
    AX_ASSERT_FAILS(ax_optimizer_step(opt, 1, &pg, grads_cpu), AX_ERR_DEVICE,
                    "ax_optimizer_step");
    AX_ASSERT_FAILS(ax_clip_grad_value(gpu, 1, grads_cpu, 1.0f), AX_ERR_DEVICE,
                    "ax_clip_grad_value");
    AX_ASSERT_OK(ax_optimizer_step(opt, 1, &pg, grads_gpu));
    ax_optimizer_destroy(opt);
    ax_tensor_destroy(pc);
    ax_tensor_destroy(gc);
    ax_tensor_destroy(pg);
    ax_tensor_destroy(gg);
    ax_ctx_destroy(gpu);
    ax_ctx_destroy(cpu);
}

Test(parity, clipping_matches_cpu) {
    ax_ctx *gpu = th_gpu_ctx_or_skip(), *cpu = th_cpu_ctx();
    for (int s = 0; s < PARITY_SIZES; s++) {
        const int64_t n = parity_sizes[s];
        ax_tensor *c[2] = {th_random_tensor(cpu, 1, &n, 300 + (uint64_t)n, -3, 3, 0),
                           th_random_tensor(cpu, 1, &n, 400 + (uint64_t)n, -3, 3, 0)};
        ax_tensor *g[2] = {th_random_tensor(gpu, 1, &n, 300 + (uint64_t)n, -3, 3, 0),
                           th_random_tensor(gpu, 1, &n, 400 + (uint64_t)n, -3, 3, 0)};
        float norm_c = 0, norm_g = 0;
        AX_ASSERT_OK(ax_clip_grad_value(cpu, 2, c, 1.25f));
        AX_ASSERT_OK(ax_clip_grad_value(gpu, 2, g, 1.25f));
        AX_ASSERT_OK(ax_clip_grad_norm(cpu, 2, c, 0.5f, 2.0f, 0, &norm_c));
        AX_ASSERT_OK(ax_clip_grad_norm(gpu, 2, g, 0.5f, 2.0f, 0, &norm_g));
        cr_assert(fabsf(norm_c - norm_g) <= 1e-5f * norm_c, "norm %g vs %g", (double)norm_g,
                  (double)norm_c);
        for (int i = 0; i < 2; i++) {
            float *rc = th_to_host(c[i]), *rg = th_to_host(g[i]);
            th_assert_close(rg, rc, n, 1e-7, 1e-5, "clipped gradient");
            free(rc);
            free(rg);
            ax_tensor_destroy(c[i]);
            ax_tensor_destroy(g[i]);
        }
    }
    /* non-finite norms spread alike on both devices (NaN and the signs of zeros) */
    const float specials[3][4] = {{INFINITY, -2, 0, -0.0f}, {NAN, -2, 1, 1}, {1e30f, 2, -3, 0}};
    for (int k = 0; k < 3; k++) {
        const int64_t four = 4;
        ax_tensor *c = th_tensor(cpu, 1, &four, specials[k]);
        ax_tensor *g = th_tensor(gpu, 1, &four, specials[k]);
        float norm_c = 0, norm_g = 0;
        AX_ASSERT_OK(ax_clip_grad_norm(cpu, 1, &c, 1.0f, 2.0f, 0, &norm_c));
        AX_ASSERT_OK(ax_clip_grad_norm(gpu, 1, &g, 1.0f, 2.0f, 0, &norm_g));
        cr_assert(isnan(norm_c) ? isnan(norm_g) : norm_c == norm_g, "norm %g vs %g",
                  (double)norm_g, (double)norm_c);
        float *rc = th_to_host(c), *rg = th_to_host(g);
        for (int i = 0; i < 4; i++)
            cr_assert(isnan(rc[i]) ? isnan(rg[i]) : memcmp(&rc[i], &rg[i], sizeof(float)) == 0,
                      "case %d, element %d: GPU %g, CPU %g", k, i, (double)rg[i], (double)rc[i]);
        free(rc);
        free(rg);
        ax_tensor_destroy(c);
        ax_tensor_destroy(g);
    }
    ax_ctx_destroy(gpu);
    ax_ctx_destroy(cpu);
}

/* ---------------------------------------------------------------- badinput */

Test(badinput, bad_hyperparameters) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_optimizer *opt = NULL;

    ax_sgd_config sgd = ax_sgd_defaults();
    sgd.lr = -0.1f;
    AX_ASSERT_FAILS(ax_optimizer_create_sgd(ctx, &sgd, &opt), AX_ERR_INVALID_ARG,
                    "ax_optimizer_create_sgd");
    cr_assert_null(opt);
    sgd = ax_sgd_defaults();
    sgd.lr = NAN;
    AX_ASSERT_FAILS(ax_optimizer_create_sgd(ctx, &sgd, &opt), AX_ERR_INVALID_ARG,
                    "ax_optimizer_create_sgd");
    sgd = ax_sgd_defaults();
    sgd.nesterov = 1; /* no momentum */
    AX_ASSERT_FAILS(ax_optimizer_create_sgd(ctx, &sgd, &opt), AX_ERR_INVALID_ARG,
                    "ax_optimizer_create_sgd");
    sgd.momentum = 0.9f;
    sgd.dampening = 0.1f; /* Nesterov with dampening */
    AX_ASSERT_FAILS(ax_optimizer_create_sgd(ctx, &sgd, &opt), AX_ERR_INVALID_ARG,
                    "ax_optimizer_create_sgd");
    sgd = ax_sgd_defaults();
    sgd.momentum = -0.5f;
    AX_ASSERT_FAILS(ax_optimizer_create_sgd(ctx, &sgd, &opt), AX_ERR_INVALID_ARG,
                    "ax_optimizer_create_sgd");

    ax_adagrad_config ag = ax_adagrad_defaults();
    ag.lr_decay = -1;
    AX_ASSERT_FAILS(ax_optimizer_create_adagrad(ctx, &ag, &opt), AX_ERR_INVALID_ARG,
                    "ax_optimizer_create_adagrad");
    ag = ax_adagrad_defaults();
    ag.initial_accumulator_value = -1;
    AX_ASSERT_FAILS(ax_optimizer_create_adagrad(ctx, &ag, &opt), AX_ERR_INVALID_ARG,
                    "ax_optimizer_create_adagrad");

    ax_adadelta_config ad = ax_adadelta_defaults();
    ad.rho = 1.5f;
    AX_ASSERT_FAILS(ax_optimizer_create_adadelta(ctx, &ad, &opt), AX_ERR_INVALID_ARG,
                    "ax_optimizer_create_adadelta");

    ax_rmsprop_config rp = ax_rmsprop_defaults();
    rp.alpha = -0.1f;
    AX_ASSERT_FAILS(ax_optimizer_create_rmsprop(ctx, &rp, &opt), AX_ERR_INVALID_ARG,
                    "ax_optimizer_create_rmsprop");
    rp = ax_rmsprop_defaults();
    rp.eps = -1e-8f;
    AX_ASSERT_FAILS(ax_optimizer_create_rmsprop(ctx, &rp, &opt), AX_ERR_INVALID_ARG,
                    "ax_optimizer_create_rmsprop");

    ax_adam_config adam = ax_adam_defaults();
    adam.beta1 = 1.0f;
    AX_ASSERT_FAILS(ax_optimizer_create_adam(ctx, &adam, &opt), AX_ERR_INVALID_ARG,
                    "ax_optimizer_create_adam");
    adam = ax_adam_defaults();
    adam.beta2 = -0.1f;
    AX_ASSERT_FAILS(ax_optimizer_create_adam(ctx, &adam, &opt), AX_ERR_INVALID_ARG,
                    "ax_optimizer_create_adam");
    adam = ax_adamw_defaults();
    adam.weight_decay = -0.01f;
    AX_ASSERT_FAILS(ax_optimizer_create_adamw(ctx, &adam, &opt), AX_ERR_INVALID_ARG,
                    "ax_optimizer_create_adamw");

    AX_ASSERT_FAILS(ax_optimizer_create_adam(NULL, NULL, &opt), AX_ERR_INVALID_ARG,
                    "ax_optimizer_create_adam");
    AX_ASSERT_FAILS(ax_optimizer_create_adam(ctx, NULL, NULL), AX_ERR_INVALID_ARG,
                    "ax_optimizer_create_adam");
    cr_assert_null(opt);

    AX_ASSERT_OK(ax_optimizer_create_adam(ctx, NULL, &opt));
    AX_ASSERT_FAILS(ax_optimizer_set_lr(opt, -1), AX_ERR_INVALID_ARG, "ax_optimizer_set_lr");
    AX_ASSERT_FAILS(ax_optimizer_set_lr(opt, INFINITY), AX_ERR_INVALID_ARG,
                    "ax_optimizer_set_lr");
    AX_ASSERT_FAILS(ax_optimizer_set_lr(NULL, 1), AX_ERR_INVALID_ARG, "ax_optimizer_set_lr");
    AX_ASSERT_FAILS(ax_optimizer_get_lr(opt, NULL), AX_ERR_INVALID_ARG, "ax_optimizer_get_lr");
    AX_ASSERT_FAILS(ax_optimizer_step_count(NULL, NULL), AX_ERR_INVALID_ARG,
                    "ax_optimizer_step_count");
    ax_optimizer_destroy(opt);
    ax_ctx_destroy(ctx);
}

/* A failed step changes nothing: the step count stays, the parameters keep their values. */
static void assert_unchanged(ax_optimizer *opt, const ax_tensor *param, const float *want,
                             int64_t steps_before) {
    int64_t steps = -1;
    AX_ASSERT_OK(ax_optimizer_step_count(opt, &steps));
    cr_assert_eq(steps, steps_before);
    float *got = th_to_host(param);
    th_assert_equal(got, want, ax_tensor_numel(param), "parameter after a failure");
    free(got);
}

Test(badinput, optimizer_step) {
    ax_ctx *ctx = th_cpu_ctx(), *other = th_cpu_ctx();
    float w3[3] = {1, 2, 3}, w4[4] = {1, 2, 3, 4};
    int64_t s3 = 3, s2x2[2] = {2, 2};
    ax_tensor *a = vec_tensor(ctx, 3, w3), *b = vec_tensor(ctx, 4, w4),
              *ga = vec_tensor(ctx, 3, w3), *gb = vec_tensor(ctx, 4, w4),
              *sq = th_tensor(ctx, 2, s2x2, w4), *foreign = vec_tensor(other, 3, w3), *ints = NULL;
    int32_t i3[3] = {1, 2, 3};
    ints = th_tensor_i32(ctx, 1, &s3, i3);
    ax_optimizer *opt = NULL;
    ax_adam_config cfg = ax_adam_defaults();
    cfg.amsgrad = 1;
    AX_ASSERT_OK(ax_optimizer_create_adam(ctx, &cfg, &opt));
    const char *fn = "ax_optimizer_step";

    ax_tensor *p1[1] = {a}, *p2[2] = {a, b};
    ax_tensor *g1[1] = {ga}, *g2[2] = {ga, gb};
    ax_tensor *g_wrong_shape[1] = {gb}, *g_alias[1] = {a}, *g_null[1] = {NULL},
                    *g_foreign[1] = {foreign}, *g_ints[1] = {ints};
    ax_tensor *p_foreign[1] = {foreign};

    AX_ASSERT_FAILS(ax_optimizer_step(NULL, 1, p1, g1), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_optimizer_step(opt, 0, p1, g1), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_optimizer_step(opt, 1, NULL, g1), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_optimizer_step(opt, 1, p1, NULL), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_optimizer_step(opt, 1, p1, g_null), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_optimizer_step(opt, 1, p1, g_wrong_shape), AX_ERR_SHAPE, fn);
    AX_ASSERT_FAILS(ax_optimizer_step(opt, 1, p1, g_alias), AX_ERR_INVALID_ARG, fn);
    AX_ASSERT_FAILS(ax_optimizer_step(opt, 1, p1, g_foreign), AX_ERR_DEVICE, fn);
    AX_ASSERT_FAILS(ax_optimizer_step(opt, 1, p_foreign, g1), AX_ERR_DEVICE, fn);
    AX_ASSERT_FAILS(ax_optimizer_step(opt, 1, p1, g_ints), AX_ERR_DTYPE, fn);
    /* a bad second pair fails before the first is touched */
    ax_tensor *g_second_bad[2] = {ga, ga};
    AX_ASSERT_FAILS(ax_optimizer_step(opt, 2, p2, g_second_bad), AX_ERR_SHAPE, fn);
    assert_unchanged(opt, a, w3, 0);

    /* the first step fixes the count and the shapes */
    AX_ASSERT_OK(ax_optimizer_step(opt, 2, p2, g2));
    float *after = th_to_host(a);
    AX_ASSERT_FAILS(ax_optimizer_step(opt, 1, p1, g1), AX_ERR_SHAPE, fn);
    AX_ASSERT_OK(ax_tensor_reshape(gb, 2, s2x2)); /* [2, 2] pairs, but b was [4] */
    ax_tensor *p_reshaped[2] = {a, sq};
    ax_tensor *g_reshaped[2] = {ga, gb};
    AX_ASSERT_FAILS(ax_optimizer_step(opt, 2, p_reshaped, g_reshaped), AX_ERR_SHAPE, fn);
    assert_unchanged(opt, a, after, 1);
    free(after);

    /* a bad clip or schedule */
    ax_tensor *clip[1] = {a};
    AX_ASSERT_FAILS(ax_clip_grad_norm(ctx, 1, clip, -1, 2, 0, NULL), AX_ERR_INVALID_ARG,
                    "ax_clip_grad_norm");
    AX_ASSERT_FAILS(ax_clip_grad_norm(ctx, 1, clip, 1, 1, 0, NULL), AX_ERR_UNSUPPORTED,
                    "ax_clip_grad_norm");
    AX_ASSERT_FAILS(ax_clip_grad_norm(ctx, 0, clip, 1, 2, 0, NULL), AX_ERR_INVALID_ARG,
                    "ax_clip_grad_norm");
    AX_ASSERT_FAILS(ax_clip_grad_norm(NULL, 1, clip, 1, 2, 0, NULL), AX_ERR_INVALID_ARG,
                    "ax_clip_grad_norm");
    ax_tensor *clip_bad[2] = {a, foreign};
    AX_ASSERT_FAILS(ax_clip_grad_norm(ctx, 2, clip_bad, 1, 2, 0, NULL), AX_ERR_DEVICE,
                    "ax_clip_grad_norm");
    AX_ASSERT_FAILS(ax_clip_grad_value(ctx, 1, clip, NAN), AX_ERR_INVALID_ARG,
                    "ax_clip_grad_value");
    AX_ASSERT_FAILS(ax_clip_grad_value(ctx, 1, NULL, 1), AX_ERR_INVALID_ARG,
                    "ax_clip_grad_value");
    ax_tensor *clip_ints[1] = {ints};
    AX_ASSERT_FAILS(ax_clip_grad_value(ctx, 1, clip_ints, 1), AX_ERR_DTYPE,
                    "ax_clip_grad_value");

    ax_lr_schedule s;
    AX_ASSERT_FAILS(ax_lr_schedule_step(0.1f, 0, 0.5f, &s), AX_ERR_INVALID_ARG,
                    "ax_lr_schedule_step");
    AX_ASSERT_FAILS(ax_lr_schedule_cosine(0.1f, 0, 0, &s), AX_ERR_INVALID_ARG,
                    "ax_lr_schedule_cosine");
    AX_ASSERT_FAILS(ax_lr_schedule_exponential(-1, 0.5f, &s), AX_ERR_INVALID_ARG,
                    "ax_lr_schedule_exponential");
    AX_ASSERT_FAILS(ax_lr_schedule_constant(0.1f, NULL), AX_ERR_INVALID_ARG,
                    "ax_lr_schedule_constant");
    AX_ASSERT_OK(ax_lr_schedule_constant(0.1f, &s));
    AX_ASSERT_FAILS(ax_lr_schedule_add_warmup(&s, 0, 0.5f), AX_ERR_INVALID_ARG,
                    "ax_lr_schedule_add_warmup");
    AX_ASSERT_FAILS(ax_lr_schedule_add_warmup(&s, 3, 0.0f), AX_ERR_INVALID_ARG,
                    "ax_lr_schedule_add_warmup");
    cr_assert_eq(s.warmup_steps, 0, "a failed add_warmup leaves the schedule as it was");
    s.kind = (ax_lr_schedule_kind)42;
    cr_assert(isnan(ax_lr_schedule_value(&s, 0)));

    ax_optimizer_destroy(opt);
    ax_tensor_destroy(a);
    ax_tensor_destroy(b);
    ax_tensor_destroy(ga);
    ax_tensor_destroy(gb);
    ax_tensor_destroy(sq);
    ax_tensor_destroy(foreign);
    ax_tensor_destroy(ints);
    ax_ctx_destroy(ctx);
    ax_ctx_destroy(other);
}
