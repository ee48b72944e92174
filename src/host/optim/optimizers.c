/* First-order optimizers: configs and their checks, lazily allocated state, and the step that
 * turns a config and the step count into one struct ax_optim_update (../common/optim_update.h) and runs it on
 * the parameters' device, one fused backend call per parameter. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/optim.h"

#include "../core/alloc.h"
#include "../core/handles.h"
#include "../ops/check.h"
#include "optim_state.h"
#include "../common/optim_update.h"

#define MAX_STATES 3                   /* state tensors per parameter, s0..s2 */

/* What the first step saw of one parameter, and its state. */
typedef struct slot {
    int ndim;
    int64_t shape[AX_MAX_DIMS];
    ax_tensor *state[MAX_STATES]; /* NULL where the variant has no such state */
} slot;

struct ax_optimizer {
    ax_ctx *ctx; /* holds a reference */
    ax_optim_family family;
    int decoupled; /* AdamW */
    union {
        ax_sgd_config sgd;
        ax_adagrad_config adagrad;
        ax_adadelta_config adadelta;
        ax_rmsprop_config rmsprop;
        ax_adam_config adam;
    } cfg;
    double lr;      /* the current learning rate (cfg's lr is the initial one) */
    int64_t steps;  /* steps taken */
    int nparams;    /* 0 until the first step */
    slot *slots;    /* nparams of them */
};

/* ---------------------------------------------------------------- defaults */

ax_sgd_config ax_sgd_defaults(void) {
    return (ax_sgd_config){.lr = 1e-3, .momentum = 0.0, .dampening = 0.0, .weight_decay = 0.0,
                           .nesterov = 0};
}

ax_adagrad_config ax_adagrad_defaults(void) {
    return (ax_adagrad_config){.lr = 1e-2, .lr_decay = 0.0, .weight_decay = 0.0,
                               .initial_accumulator_value = 0.0, .eps = 1e-10};
}

ax_adadelta_config ax_adadelta_defaults(void) {
    return (ax_adadelta_config){.lr = 1.0, .rho = 0.9, .eps = 1e-6, .weight_decay = 0.0};
}

ax_rmsprop_config ax_rmsprop_defaults(void) {
    return (ax_rmsprop_config){.lr = 1e-2, .alpha = 0.99, .eps = 1e-8, .weight_decay = 0.0,
                               .momentum = 0.0, .centered = 0};
}

ax_adam_config ax_adam_defaults(void) {
    return (ax_adam_config){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                            .weight_decay = 0.0, .amsgrad = 0};
}

ax_adam_config ax_adamw_defaults(void) {
    ax_adam_config cfg = ax_adam_defaults();
    cfg.weight_decay = 1e-2;
    return cfg;
}

/* ---------------------------------------------------------------- hyperparameter checks */

/* value is finite and >= 0 */
static ax_status check_nonneg(const char *fn, const char *name, double value) {
    if (isfinite(value) && value >= 0.0)
        return AX_OK;
    return ax_fail(AX_ERR_INVALID_ARG, fn, "%s = %g must be finite and >= 0", name, value);
}

/* 0 <= value < 1 (open) or 0 <= value <= 1 */
static ax_status check_unit(const char *fn, const char *name, double value, int open) {
    if (value >= 0.0 && (open ? value < 1.0 : value <= 1.0))
        return AX_OK;
    return ax_fail(AX_ERR_INVALID_ARG, fn, "%s = %g must be in [0, 1%s", name, value,
                   open ? ")" : "]");
}

static ax_status check_sgd(const char *fn, const ax_sgd_config *c) {
    AX_TRY(check_nonneg(fn, "lr", c->lr));
    AX_TRY(check_nonneg(fn, "momentum", c->momentum));
    if (!isfinite(c->dampening))
        return ax_fail(AX_ERR_INVALID_ARG, fn, "dampening = %g is not finite", c->dampening);
    AX_TRY(check_nonneg(fn, "weight_decay", c->weight_decay));
    if (c->nesterov && (c->momentum <= 0.0 || c->dampening != 0.0))
        return ax_fail(AX_ERR_INVALID_ARG, fn,
                       "Nesterov momentum needs momentum > 0 and dampening = 0 (momentum = %g, "
                       "dampening = %g)",
                       c->momentum, c->dampening);
    return AX_OK;
}

static ax_status check_adagrad(const char *fn, const ax_adagrad_config *c) {
    AX_TRY(check_nonneg(fn, "lr", c->lr));
    AX_TRY(check_nonneg(fn, "lr_decay", c->lr_decay));
    AX_TRY(check_nonneg(fn, "weight_decay", c->weight_decay));
    AX_TRY(check_nonneg(fn, "initial_accumulator_value", c->initial_accumulator_value));
    return check_nonneg(fn, "eps", c->eps);
}

static ax_status check_adadelta(const char *fn, const ax_adadelta_config *c) {
    AX_TRY(check_nonneg(fn, "lr", c->lr));
    AX_TRY(check_unit(fn, "rho", c->rho, 0));
    AX_TRY(check_nonneg(fn, "eps", c->eps));
    return check_nonneg(fn, "weight_decay", c->weight_decay);
}

static ax_status check_rmsprop(const char *fn, const ax_rmsprop_config *c) {
    AX_TRY(check_nonneg(fn, "lr", c->lr));
    AX_TRY(check_nonneg(fn, "alpha", c->alpha));
    AX_TRY(check_nonneg(fn, "eps", c->eps));
    AX_TRY(check_nonneg(fn, "weight_decay", c->weight_decay));
    return check_nonneg(fn, "momentum", c->momentum);
}

static ax_status check_adam(const char *fn, const ax_adam_config *c) {
    AX_TRY(check_nonneg(fn, "lr", c->lr));
    AX_TRY(check_nonneg(fn, "eps", c->eps));
    AX_TRY(check_unit(fn, "beta1", c->beta1, 1));
    AX_TRY(check_unit(fn, "beta2", c->beta2, 1));
    return check_nonneg(fn, "weight_decay", c->weight_decay);
}

/* ---------------------------------------------------------------- create, destroy */

/* A new optimizer of `family` on ctx; the caller fills cfg and lr. */
static ax_status optimizer_new(const char *fn, ax_ctx *ctx, ax_optim_family family,
                               ax_optimizer **out) {
    ax_optimizer *opt = ax_calloc(1, sizeof *opt);
    if (!opt)
        return ax_fail(AX_ERR_OOM, fn, "could not allocate the optimizer");
    ax_status st = ax_handle_add(fn, opt, AX_HANDLE_OPTIMIZER);
    if (st != AX_OK) {
        free(opt);
        return st;
    }
    opt->ctx = ctx;
    ax_ctx_retain(ctx); /* the state tensors come later; keep ctx alive until destroy */
    opt->family = family;
    *out = opt;
    return AX_OK;
}

/* The checks every create makes before its own. */
static ax_status check_create(const char *fn, ax_ctx *ctx, ax_optimizer **out) {
    if (!out)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "out is NULL");
    *out = NULL;
    return ax_check_ctx(fn, ctx);
}

ax_status ax_optimizer_create_sgd(ax_ctx *ctx, const ax_sgd_config *cfg, ax_optimizer **out) {
    AX_TRY(check_create(__func__, ctx, out));
    ax_sgd_config c = cfg ? *cfg : ax_sgd_defaults();
    AX_TRY(check_sgd(__func__, &c));
    AX_TRY(optimizer_new(__func__, ctx, AX_OPTIM_SGD, out));
    (*out)->cfg.sgd = c;
    (*out)->lr = c.lr;
    return AX_OK;
}

ax_status ax_optimizer_create_adagrad(ax_ctx *ctx, const ax_adagrad_config *cfg,
                                      ax_optimizer **out) {
    AX_TRY(check_create(__func__, ctx, out));
    ax_adagrad_config c = cfg ? *cfg : ax_adagrad_defaults();
    AX_TRY(check_adagrad(__func__, &c));
    AX_TRY(optimizer_new(__func__, ctx, AX_OPTIM_ADAGRAD, out));
    (*out)->cfg.adagrad = c;
    (*out)->lr = c.lr;
    return AX_OK;
}

ax_status ax_optimizer_create_adadelta(ax_ctx *ctx, const ax_adadelta_config *cfg,
                                       ax_optimizer **out) {
    AX_TRY(check_create(__func__, ctx, out));
    ax_adadelta_config c = cfg ? *cfg : ax_adadelta_defaults();
    AX_TRY(check_adadelta(__func__, &c));
    AX_TRY(optimizer_new(__func__, ctx, AX_OPTIM_ADADELTA, out));
    (*out)->cfg.adadelta = c;
    (*out)->lr = c.lr;
    return AX_OK;
}

ax_status ax_optimizer_create_rmsprop(ax_ctx *ctx, const ax_rmsprop_config *cfg,
                                      ax_optimizer **out) {
    AX_TRY(check_create(__func__, ctx, out));
    ax_rmsprop_config c = cfg ? *cfg : ax_rmsprop_defaults();
    AX_TRY(check_rmsprop(__func__, &c));
    AX_TRY(optimizer_new(__func__, ctx, AX_OPTIM_RMSPROP, out));
    (*out)->cfg.rmsprop = c;
    (*out)->lr = c.lr;
    return AX_OK;
}

/* Adam and AdamW differ only in where the weight decay goes. */
static ax_status create_adam(const char *fn, ax_ctx *ctx, const ax_adam_config *cfg,
                             int decoupled, ax_optimizer **out) {
    AX_TRY(check_create(fn, ctx, out));
    ax_adam_config c = cfg ? *cfg : decoupled ? ax_adamw_defaults() : ax_adam_defaults();
    AX_TRY(check_adam(fn, &c));
    AX_TRY(optimizer_new(fn, ctx, AX_OPTIM_ADAM, out));
    (*out)->cfg.adam = c;
    (*out)->decoupled = decoupled;
    (*out)->lr = c.lr;
    return AX_OK;
}

ax_status ax_optimizer_create_adam(ax_ctx *ctx, const ax_adam_config *cfg, ax_optimizer **out) {
    return create_adam(__func__, ctx, cfg, 0, out);
}

ax_status ax_optimizer_create_adamw(ax_ctx *ctx, const ax_adam_config *cfg,
                                    ax_optimizer **out) {
    return create_adam(__func__, ctx, cfg, 1, out);
}

static void free_slots(ax_optimizer *opt) {
    for (int i = 0; i < opt->nparams; i++)
        for (int k = 0; k < MAX_STATES; k++)
            ax_tensor_destroy(opt->slots[i].state[k]);
    free(opt->slots);
    opt->slots = NULL;
    opt->nparams = 0;
}

void ax_optimizer_destroy(ax_optimizer *opt) {
    if (!ax_handle_remove(opt, AX_HANDLE_OPTIMIZER))
        return; /* NULL, destroyed already, or not an optimizer */
    free_slots(opt);
    ax_ctx_release(opt->ctx);
    free(opt);
}

/* ---------------------------------------------------------------- lr and queries */

static ax_status check_optimizer(const char *fn, const ax_optimizer *opt) {
    return ax_handle_check(fn, opt, AX_HANDLE_OPTIMIZER, "opt");
}

ax_status ax_optimizer_set_lr(ax_optimizer *opt, float lr) {
    AX_TRY(check_optimizer(__func__, opt));
    AX_TRY(check_nonneg(__func__, "lr", lr));
    opt->lr = lr;
    return AX_OK;
}

ax_status ax_optimizer_get_lr(const ax_optimizer *opt, float *out) {
    AX_TRY(check_optimizer(__func__, opt));
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = (float)opt->lr;
    return AX_OK;
}

ax_status ax_optimizer_step_count(const ax_optimizer *opt, int64_t *out) {
    AX_TRY(check_optimizer(__func__, opt));
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = opt->steps;
    return AX_OK;
}

/* ---------------------------------------------------------------- state */

/* Whether this variant keeps state k (see the table in ../common/optim_update.h). */
static int state_used(const ax_optimizer *opt, int k) {
    switch (opt->family) {
    case AX_OPTIM_SGD: return k == 0 && opt->cfg.sgd.momentum != 0.0;
    case AX_OPTIM_ADAGRAD: return k == 0;
    case AX_OPTIM_ADADELTA: return k <= 1;
    case AX_OPTIM_RMSPROP:
        return k == 0 || (k == 1 && opt->cfg.rmsprop.momentum > 0.0) ||
               (k == 2 && opt->cfg.rmsprop.centered);
    default: return k <= 1 || opt->cfg.adam.amsgrad;
    }
}

/* Initial value of state k: Adagrad's sum starts at initial_accumulator_value, the rest at 0
 * (SGD's momentum buffer is set from the gradient by the first step). */
static float state_init(const ax_optimizer *opt, int k) {
    if (opt->family == AX_OPTIM_ADAGRAD && k == 0)
        return (float)opt->cfg.adagrad.initial_accumulator_value;
    return 0.0f;
}

/* First step: record the shapes and allocate the state of n parameters; on failure nothing
 * is kept and the next step tries again. */
static ax_status alloc_state(const char *fn, ax_optimizer *opt, int n,
                             ax_tensor *const *params) {
    opt->slots = ax_calloc((size_t)n, sizeof *opt->slots);
    if (!opt->slots)
        return ax_fail(AX_ERR_OOM, fn, "could not allocate the state of %d parameters", n);
    opt->nparams = n;
    for (int i = 0; i < n; i++) {
        slot *s = &opt->slots[i];
        s->ndim = params[i]->ndim;
        for (int d = 0; d < s->ndim; d++)
            s->shape[d] = params[i]->shape[d];
        for (int k = 0; k < MAX_STATES; k++) {
            if (!state_used(opt, k))
                continue;
            ax_status st = ax_tensor_create(opt->ctx, AX_F32, s->ndim, s->shape, &s->state[k]);
            if (st == AX_OK)
                st = ax_fill(opt->ctx, s->state[k], state_init(opt, k));
            if (st != AX_OK) {
                free_slots(opt);
                return ax_fail(st, fn, "could not allocate the optimizer state: %s",
                               ax_last_error());
            }
        }
    }
    return AX_OK;
}

/* ---------------------------------------------------------------- step */

/* The rule's hyperparameters for step t = opt->steps (1 on the first step): every constant
 * computed in double from the double hyperparameters and rounded to f32 once, as PyTorch's
 * Python floats are where they meet an f32 tensor. */
static struct ax_optim_update make_update(const ax_optimizer *opt) {
    const double t = (double)opt->steps;
    struct ax_optim_update a = {.family = opt->family, .lr = (float)opt->lr,
                                .decay_scale = 1.0f, .bias_correction2_sqrt = 1.0f};
    switch (opt->family) {
    case AX_OPTIM_SGD: {
        const ax_sgd_config *c = &opt->cfg.sgd;
        a.weight_decay = (float)c->weight_decay;
        a.momentum = (float)c->momentum;
        a.one_minus_dampening = (float)(1.0 - c->dampening);
        a.nesterov = c->nesterov;
        a.first_step = opt->steps == 1;
        break;
    }
    case AX_OPTIM_ADAGRAD: {
        const ax_adagrad_config *c = &opt->cfg.adagrad;
        a.lr = (float)(opt->lr / (1.0 + (t - 1.0) * c->lr_decay)); /* lr / (1 + (t-1) decay) */
        a.weight_decay = (float)c->weight_decay;
        a.eps = (float)c->eps;
        break;
    }
    case AX_OPTIM_ADADELTA: {
        const ax_adadelta_config *c = &opt->cfg.adadelta;
        a.weight_decay = (float)c->weight_decay;
        a.eps = (float)c->eps;
        a.rho = (float)c->rho;
        a.one_minus_rho = (float)(1.0 - c->rho);
        break;
    }
    case AX_OPTIM_RMSPROP: {
        const ax_rmsprop_config *c = &opt->cfg.rmsprop;
        a.weight_decay = (float)c->weight_decay;
        a.eps = (float)c->eps;
        a.rho = (float)c->alpha;
        a.one_minus_rho = (float)(1.0 - c->alpha);
        a.momentum = (float)c->momentum;
        a.centered = c->centered;
        break;
    }
    default: {
        const ax_adam_config *c = &opt->cfg.adam;
        a.eps = (float)c->eps;
        a.one_minus_beta1 = (float)(1.0 - c->beta1);
        a.rho = (float)c->beta2;
        a.one_minus_rho = (float)(1.0 - c->beta2);
        a.amsgrad = c->amsgrad;
        a.lr = (float)(opt->lr / (1.0 - pow(c->beta1, t)));            /* lr / (1 - beta1^t) */
        a.bias_correction2_sqrt = (float)sqrt(1.0 - pow(c->beta2, t)); /* sqrt(1 - beta2^t) */
        if (opt->decoupled)
            a.decay_scale = (float)(1.0 - opt->lr * c->weight_decay); /* 1 - lr wd */
        else
            a.weight_decay = (float)c->weight_decay;
        break;
    }
    }
    return a;
}

/* params[i] is shaped as on the first step (any shape before it). */
static ax_status check_first_shape(const char *fn, const ax_optimizer *opt, int i,
                                   const ax_tensor *param, const char *pname) {
    if (opt->nparams == 0)
        return AX_OK;
    const slot *s = &opt->slots[i];
    int same = s->ndim == param->ndim;
    for (int d = 0; same && d < s->ndim; d++)
        same = s->shape[d] == param->shape[d];
    if (same)
        return AX_OK;
    ax_tensor first = {.ndim = s->ndim}; /* only for printing the recorded shape */
    memcpy(first.shape, s->shape, sizeof first.shape);
    char now[128], then[128];
    return ax_fail(AX_ERR_SHAPE, fn, "%s has shape %s, but %s on the first step", pname,
                   ax_shape_str(param, now, sizeof now), ax_shape_str(&first, then, sizeof then));
}

/* params[i] and grads[i] are f32 tensors of ctx with the same shape, not aliased, and shaped
 * as on the first step. */
static ax_status check_pair(const char *fn, const ax_optimizer *opt, int i,
                            const ax_tensor *param, const ax_tensor *grad) {
    char pname[32], gname[32];
    snprintf(pname, sizeof pname, "params[%d]", i);
    snprintf(gname, sizeof gname, "grads[%d]", i);
    AX_TRY(ax_check_tensor(fn, opt->ctx, param, pname, AX_F32));
    AX_TRY(ax_check_tensor(fn, opt->ctx, grad, gname, AX_F32));
    AX_TRY(ax_check_same_shape(fn, param, pname, grad, gname));
    AX_TRY(ax_check_no_alias(fn, param, pname, grad, gname));
    return check_first_shape(fn, opt, i, param, pname);
}

ax_status ax_optimizer_step(ax_optimizer *opt, int n, ax_tensor *const *params,
                            ax_tensor *const *grads) {
    AX_TRY(check_optimizer(__func__, opt));
    ax_ctx *ctx = opt->ctx;
    AX_TRY(ax_check_ctx(__func__, ctx));
    if (n < 1)
        return AX_FAIL(AX_ERR_INVALID_ARG, "n = %d, expected at least one parameter", n);
    if (!params || !grads)
        return AX_FAIL(AX_ERR_INVALID_ARG, "%s is NULL", params ? "grads" : "params");
    if (opt->nparams && n != opt->nparams)
        return AX_FAIL(AX_ERR_SHAPE, "n = %d parameters, but the first step had %d", n,
                       opt->nparams);
    for (int i = 0; i < n; i++)
        AX_TRY(check_pair(__func__, opt, i, params[i], grads[i]));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->optim_update != NULL));
    if (opt->nparams == 0)
        AX_TRY(alloc_state(__func__, opt, n, params));

    opt->steps++;
    const struct ax_optim_update a = make_update(opt);
    for (int i = 0; i < n; i++) {
        ax_tensor *const *s = opt->slots[i].state;
        AX_TRY(ctx->backend->optim_update(ctx, &a, params[i]->numel, ax_f32(params[i]),
                                          ax_f32(grads[i]), ax_f32(s[0]), ax_f32(s[1]),
                                          ax_f32(s[2])));
    }
    return AX_OK;
}

/* ---------------------------------------------------------------- state for checkpoints */

ax_status ax_optimizer_state_prepare(const char *fn, ax_optimizer *opt, int n,
                                     ax_tensor *const *params) {
    AX_TRY(check_optimizer(fn, opt));
    if (n < 1 || !params)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "expected at least one parameter");
    if (opt->nparams && n != opt->nparams)
        return ax_fail(AX_ERR_SHAPE, fn, "%d parameters, but the optimizer's first step had %d",
                       n, opt->nparams);
    for (int i = 0; i < n; i++) {
        char pname[32];
        snprintf(pname, sizeof pname, "params[%d]", i);
        AX_TRY(ax_check_tensor(fn, opt->ctx, params[i], pname, AX_F32));
        AX_TRY(check_first_shape(fn, opt, i, params[i], pname));
    }
    return opt->nparams ? AX_OK : alloc_state(fn, opt, n, params);
}

int ax_optimizer_has_state(const ax_optimizer *opt) { return opt->nparams != 0; }

void ax_optimizer_state_drop(ax_optimizer *opt) { free_slots(opt); }

ax_tensor *ax_optimizer_state_tensor(ax_optimizer *opt, int i, int k, const char **name) {
    static const char *const names[][AX_OPTIM_MAX_STATES] = {
        [AX_OPTIM_SGD] = {"momentum_buffer", NULL, NULL},
        [AX_OPTIM_ADAGRAD] = {"sum", NULL, NULL},
        [AX_OPTIM_ADADELTA] = {"square_avg", "acc_delta", NULL},
        [AX_OPTIM_RMSPROP] = {"square_avg", "momentum_buffer", "grad_avg"},
        [AX_OPTIM_ADAM] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    };
    *name = names[opt->family][k];
    return opt->slots[i].state[k];
}

const char *ax_optimizer_family_name(const ax_optimizer *opt) {
    switch (opt->family) {
    case AX_OPTIM_SGD: return "sgd";
    case AX_OPTIM_ADAGRAD: return "adagrad";
    case AX_OPTIM_ADADELTA: return "adadelta";
    case AX_OPTIM_RMSPROP: return "rmsprop";
    default: return opt->decoupled ? "adamw" : "adam";
    }
}

int64_t *ax_optimizer_steps_ref(ax_optimizer *opt) { return &opt->steps; }
