/* axon optimizers: first-order optimizers with PyTorch's torch.optim update rules and defaults,
 * gradient clipping, learning-rate schedules.
 *
 * An optimizer updates a list of parameter tensors from a list of gradient tensors of the same
 * shapes, in place, on the parameters' device; it does not depend on the graph:
 *
 *     ax_tensor *params[2] = {w, b}, *grads[2] = {dw, db}; // dw, db filled by backward
 *     ax_adam_config cfg = ax_adam_defaults();
 *     cfg.lr = 3e-4f;
 *     ax_optimizer *opt;
 *     ax_optimizer_create_adam(ctx, &cfg, &opt);
 *     ax_lr_schedule sched;
 *     ax_lr_schedule_cosine(cfg.lr, steps, 0.0f, &sched);
 *     for (int64_t step = 0; step < steps; step++) {
 *         ... forward and backward ...
 *         ax_optimizer_set_lr(opt, ax_lr_schedule_value(&sched, step));
 *         ax_clip_grad_norm(ctx, 2, grads, 1.0f, 2.0f, 0, NULL);
 *         ax_optimizer_step(opt, 2, params, grads);
 *     }
 *     ax_optimizer_destroy(opt);
 *
 * The state (momentum buffers, running averages) is allocated on the first step, one set per
 * parameter, keyed by position: later steps must pass the same number of parameters with the
 * same shapes in the same order (AX_ERR_SHAPE otherwise). A step whose arguments fail the
 * checks changes nothing. */
#ifndef AXON_OPTIM_H
#define AXON_OPTIM_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- first-order optimizers */

typedef struct ax_optimizer ax_optimizer;

/* Hyperparameters are doubles, as PyTorch's Python floats are: constants made from them
 * (1 - beta2, 1 - dampening, lr / (1 - beta1^t), sqrt(1 - beta2^t), ...) are computed in double
 * and rounded to f32 once, as PyTorch rounds them where they meet an f32 tensor, so that
 * beta2 = 0.999 gives 1 - beta2 = 1e-3 (f32 arithmetic on 0.999f would give 9.99987e-4) and
 * the state follows PyTorch's to f32 rounding. */

/* SGD (torch.optim.SGD): d = g + weight_decay w;
 * with momentum: buf = d on the first step, then buf = momentum buf + (1 - dampening) d,
 * and d = nesterov ? d + momentum buf : buf; w -= lr d.
 * Nesterov needs momentum > 0 and dampening = 0. */
typedef struct ax_sgd_config {
    double lr;           /* 1e-3 */
    double momentum;     /* 0 */
    double dampening;    /* 0 */
    double weight_decay; /* 0 */
    int nesterov;        /* 0 */
} ax_sgd_config;

/* Adagrad (torch.optim.Adagrad): g += weight_decay w; sum += g^2 (sum starts at
 * initial_accumulator_value); w -= clr g / (sqrt(sum) + eps), clr = lr / (1 + (t - 1) lr_decay)
 * at step t = 1, 2, ... */
typedef struct ax_adagrad_config {
    double lr;                        /* 1e-2 */
    double lr_decay;                  /* 0 */
    double weight_decay;              /* 0 */
    double initial_accumulator_value; /* 0 */
    double eps;                       /* 1e-10 */
} ax_adagrad_config;

/* Adadelta (torch.optim.Adadelta): g += weight_decay w; v = rho v + (1 - rho) g^2;
 * delta = sqrt(u + eps) / sqrt(v + eps) g; u = rho u + (1 - rho) delta^2; w -= lr delta. */
typedef struct ax_adadelta_config {
    double lr;           /* 1.0 */
    double rho;          /* 0.9 */
    double eps;          /* 1e-6 */
    double weight_decay; /* 0 */
} ax_adadelta_config;

/* RMSprop (torch.optim.RMSprop): g += weight_decay w; v = alpha v + (1 - alpha) g^2;
 * centered: a = alpha a + (1 - alpha) g, avg = sqrt(v - a^2) + eps, else avg = sqrt(v) + eps;
 * momentum > 0: buf = momentum buf + g / avg, w -= lr buf; else w -= lr g / avg. */
typedef struct ax_rmsprop_config {
    double lr;           /* 1e-2 */
    double alpha;        /* 0.99 */
    double eps;          /* 1e-8 */
    double weight_decay; /* 0 */
    double momentum;     /* 0 */
    int centered;        /* 0 */
} ax_rmsprop_config;

/* Adam and AdamW (torch.optim.Adam, torch.optim.AdamW) at step t = 1, 2, ...:
 * Adam: g += weight_decay w; AdamW: w *= 1 - lr weight_decay (decoupled decay);
 * m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
 * amsgrad: vmax = max(vmax, v), used in place of v below;
 * w -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps). */
typedef struct ax_adam_config {
    double lr;           /* 1e-3 */
    double beta1;        /* 0.9 */
    double beta2;        /* 0.999 */
    double eps;          /* 1e-8 */
    double weight_decay; /* 0 for Adam, 1e-2 for AdamW */
    int amsgrad;         /* 0 */
} ax_adam_config;

/* PyTorch's defaults (the values in the comments above). */
AX_API ax_sgd_config ax_sgd_defaults(void);
AX_API ax_adagrad_config ax_adagrad_defaults(void);
AX_API ax_adadelta_config ax_adadelta_defaults(void);
AX_API ax_rmsprop_config ax_rmsprop_defaults(void);
AX_API ax_adam_config ax_adam_defaults(void);
AX_API ax_adam_config ax_adamw_defaults(void);

/* Create an optimizer whose state lives on ctx's device. cfg NULL means the defaults.
 * Hyperparameters PyTorch rejects (a negative or non-finite lr, betas outside [0, 1),
 * Nesterov without momentum or with dampening, ...) answer AX_ERR_INVALID_ARG. */
AX_API ax_status ax_optimizer_create_sgd(ax_ctx *ctx, const ax_sgd_config *cfg,
                                         ax_optimizer **out);
AX_API ax_status ax_optimizer_create_adagrad(ax_ctx *ctx, const ax_adagrad_config *cfg,
                                             ax_optimizer **out);
AX_API ax_status ax_optimizer_create_adadelta(ax_ctx *ctx, const ax_adadelta_config *cfg,
                                              ax_optimizer **out);
AX_API ax_status ax_optimizer_create_rmsprop(ax_ctx *ctx, const ax_rmsprop_config *cfg,
                                             ax_optimizer **out);
AX_API ax_status ax_optimizer_create_adam(ax_ctx *ctx, const ax_adam_config *cfg,
                                          ax_optimizer **out);
AX_API ax_status ax_optimizer_create_adamw(ax_ctx *ctx, const ax_adam_config *cfg,
                                           ax_optimizer **out);

/* One update of params[i] from grads[i], i < n: f32 tensors of the optimizer's context, each
 * grad shaped like its parameter and distinct from it. The grads are only read; the array is
 * not const so that the one array of gradients passes to the clipping calls below and here
 * without a cast (C converts T ** to T *const * but not to const T *const *).
 * Asynchronous on CUDA. */
AX_API ax_status ax_optimizer_step(ax_optimizer *opt, int n, ax_tensor *const *params,
                                   ax_tensor *const *grads);

/* The learning rate used by the next step (finite, >= 0), e.g. from a schedule below (kept
 * as the double of that float; the config's lr is kept exactly). */
AX_API ax_status ax_optimizer_set_lr(ax_optimizer *opt, float lr);
AX_API ax_status ax_optimizer_get_lr(const ax_optimizer *opt, float *out);
/* Steps taken so far. */
AX_API ax_status ax_optimizer_step_count(const ax_optimizer *opt, int64_t *out);

/* Frees the optimizer and its state (NULL is fine). */
/* NULL is fine, a second destroy does nothing; a destroyed optimizer answers AX_ERR_STATE.
 * An optimizer keeps its context allocated until it is destroyed, and is used by one thread
 * at a time, like its context (see "threads and handles" in core.h). */
AX_API void ax_optimizer_destroy(ax_optimizer *opt);

/* ---------------------------------------------------------------- gradient clipping */

/* torch.nn.utils.clip_grad_norm_: total = the norm of all grads together (norm_type 2 only);
 * when max_norm / (total + 1e-6) < 1 every grad is scaled by that factor, in place. A
 * non-finite total spreads as in PyTorch: a NaN norm makes every element NaN, an infinite one
 * scales by 0 (the infinite elements become NaN, the rest +-0); with error_if_nonfinite the
 * call fails instead (AX_ERR_INVALID_ARG) and leaves the grads unchanged. The total norm
 * before clipping goes to *total_norm_out (may be NULL; set on that failure too).
 * Synchronizes. */
AX_API ax_status ax_clip_grad_norm(ax_ctx *ctx, int n, ax_tensor *const *grads, float max_norm,
                                   float norm_type, int error_if_nonfinite,
                                   float *total_norm_out);

/* torch.nn.utils.clip_grad_value_: every element clamped to [-clip, clip] in place (NaN stays
 * NaN). clip finite and >= 0. */
AX_API ax_status ax_clip_grad_value(ax_ctx *ctx, int n, ax_tensor *const *grads, float clip);

/* ---------------------------------------------------------------- learning-rate schedules */

typedef enum ax_lr_schedule_kind {
    AX_LR_CONSTANT = 0,    /* base_lr */
    AX_LR_STEP = 1,        /* StepLR: base_lr gamma^floor(t / step_size) */
    AX_LR_EXPONENTIAL = 2, /* ExponentialLR: base_lr gamma^t */
    AX_LR_COSINE = 3,      /* CosineAnnealingLR:
                            * eta_min + (base_lr - eta_min) (1 + cos(pi t / t_max)) / 2 */
} ax_lr_schedule_kind;

/* A schedule is plain data; build it with the functions below (they check the values).
 * With warmup_steps > 0, steps t < warmup_steps follow LinearLR's warm-up,
 * base_lr (f + (1 - f) t / warmup_steps) with f = warmup_start_factor, and the schedule
 * proper starts at t = warmup_steps as its own step 0 (SequentialLR). */
typedef struct ax_lr_schedule {
    ax_lr_schedule_kind kind;
    float base_lr;
    int64_t step_size; /* AX_LR_STEP */
    float gamma;       /* AX_LR_STEP, AX_LR_EXPONENTIAL */
    int64_t t_max;     /* AX_LR_COSINE */
    float eta_min;     /* AX_LR_COSINE */
    int64_t warmup_steps;
    float warmup_start_factor;
} ax_lr_schedule;

AX_API ax_status ax_lr_schedule_constant(float base_lr, ax_lr_schedule *out);
AX_API ax_status ax_lr_schedule_step(float base_lr, int64_t step_size, float gamma,
                                     ax_lr_schedule *out);
AX_API ax_status ax_lr_schedule_exponential(float base_lr, float gamma, ax_lr_schedule *out);
AX_API ax_status ax_lr_schedule_cosine(float base_lr, int64_t t_max, float eta_min,
                                       ax_lr_schedule *out);
/* Put a linear warm-up of warmup_steps (>= 1) from start_factor (in (0, 1]) in front of s. */
AX_API ax_status ax_lr_schedule_add_warmup(ax_lr_schedule *s, int64_t warmup_steps,
                                           float start_factor);

/* The learning rate at step t >= 0 (t = 0 is the first step); NaN for a NULL or invalid
 * schedule or a negative t. A pure function: no state, no error message. */
AX_API float ax_lr_schedule_value(const ax_lr_schedule *s, int64_t t);

/* ---------------------------------------------------------------- second-order methods */

/* Full-batch minimizers of f(x) over one f32 parameter tensor x (any shape, treated as one
 * flat vector of n = numel(x) elements) on any device: L-BFGS with PyTorch's strong-Wolfe
 * line search, truncated Newton (Newton-CG) with Hessian-vector products, and plain gradient
 * descent for comparison. x is updated in place; every work vector lives on x's device,
 * allocated once per call.
 *
 *     ax_lbfgs_config cfg = ax_lbfgs_defaults();
 *     cfg.line_search = AX_LINE_SEARCH_STRONG_WOLFE;
 *     cfg.max_iter = 200;
 *     ax_opt_report rep;
 *     ax_lbfgs_minimize(ctx, &cfg, my_loss, &data, x, &rep);
 *
 * The objective is called at x itself and at trial points, which are tensors of x's shape
 * and context; it must not keep them. A callback's failure comes back as its status (with a
 * message that names the minimizer and repeats the callback's own), a non-finite loss as
 * AX_ERR_INVALID_ARG; either way x holds the last accepted iterate. Every vector stays on
 * the device: steps are axpy/scale there, dot products (ax_dot: double sums, deterministic)
 * and max |v| (ax_abs_max) are reductions there, and only their scalars are read back. So a
 * CUDA stream synchronizes a few times per iteration (once per scalar): these methods are
 * for full-batch problems whose evaluation costs far more than that. */

/* loss = f(x) and, when grad is not NULL, grad = df/dx (shaped like x, on x's device).
 * Return AX_OK, or a status that stops the minimizer. */
typedef ax_status (*ax_objective_fn)(void *user, const ax_tensor *x, float *loss,
                                     ax_tensor *grad);
/* hv = H(x) v, the Hessian of f at x times v (all shaped like x). */
typedef ax_status (*ax_hvp_fn)(void *user, const ax_tensor *x, const ax_tensor *v,
                               ax_tensor *hv);
/* Called after every iteration with the iterate x (read it with ax_tensor_to_host or
 * ax_tensor_const_data; do not keep it), its loss and max_i |grad_i|; return nonzero to stop
 * there (reason AX_OPT_STOP_MONITOR), e.g. once a target loss is reached. */
typedef int (*ax_opt_monitor_fn)(void *user, const ax_tensor *x, int iteration, float loss,
                                 float grad_max);

typedef enum ax_opt_stop {
    AX_OPT_STOP_NONE = 0,    /* not finished: the call failed */
    AX_OPT_STOP_GRAD_TOL,    /* max_i |grad_i| <= tolerance_grad (converged) */
    AX_OPT_STOP_STEP_TOL,    /* the step, or the slope along it, fell below tolerance_change
                              * (converged as far as f32 can tell) */
    AX_OPT_STOP_LOSS_TOL,    /* |f_k - f_k-1| < tolerance_change (converged likewise) */
    AX_OPT_STOP_MAX_ITER,    /* max_iter iterations done */
    AX_OPT_STOP_MAX_EVAL,    /* max_eval evaluations done (L-BFGS) */
    AX_OPT_STOP_LINE_SEARCH, /* no step along the direction decreased f (Newton-CG) */
    AX_OPT_STOP_MONITOR,     /* the monitor asked to stop */
} ax_opt_stop;

typedef struct ax_opt_report {
    int iterations;  /* iterations (steps taken; L-BFGS: PyTorch's n_iter, which also counts
                      * an iteration that stops on its slope); 0 when x0 met tolerance_grad */
    int evaluations; /* calls of the objective, line searches and finite differences included */
    int hvp_calls;   /* Hessian-vector products, exact or by finite differences (Newton-CG) */
    float loss;      /* f at the returned x */
    float grad_max;  /* max_i |grad_i| at the returned x (the norm tolerance_grad tests) */
    double step;     /* the step length t of the last iteration: the line search's (L-BFGS, as
                      * PyTorch's state["t"]; Newton-CG), lr (gradient descent); 0 if none */
    int converged;   /* reason is GRAD_TOL, STEP_TOL or LOSS_TOL */
    ax_opt_stop reason;
} ax_opt_report;

/* Name of a stop reason, e.g. "AX_OPT_STOP_GRAD_TOL". Never NULL. */
AX_API const char *ax_opt_stop_str(ax_opt_stop reason);

typedef enum ax_line_search {
    AX_LINE_SEARCH_NONE = 0,         /* fixed step lr (PyTorch's line_search_fn=None) */
    AX_LINE_SEARCH_STRONG_WOLFE = 1, /* PyTorch's _strong_wolfe: c1 = 1e-4, c2 = 0.9, cubic
                                      * interpolation, up to the evaluations max_eval leaves */
} ax_line_search;

/* L-BFGS exactly as torch.optim.LBFGS.step() runs it (one call = one step() of max_iter
 * iterations): the direction from the two-loop recursion over the last history_size pairs
 * (s = x_k+1 - x_k, y = g_k+1 - g_k, pairs with y.s <= 1e-10 skipped) with H0 = (y.s / y.y) I;
 * the first step is min(1, 1 / sum |g|) lr, later ones lr, or what the strong-Wolfe search
 * (cubic interpolation, zoom) finds from there. Stops on max |g| <= tolerance_grad,
 * g.d > -tolerance_change, max |t d| <= tolerance_change, |f_k - f_k-1| < tolerance_change,
 * max_iter or max_eval. PyTorch's arithmetic too: scalars made from tensors (g.d, y.s,
 * 1 / y.s, the two-loop's coefficients, sum |g|, max |d t|) are f32, and so are the
 * line search's tests, so a trial point whose f32 loss ties f(x) passes sufficient decrease
 * as in PyTorch; losses and t are doubles. The report's iterations are PyTorch's n_iter: an
 * iteration that stops on g.d > -tolerance_change counts, though it takes no step. Without
 * a line search the last iterate is evaluated once more than PyTorch does, so that the
 * report describes the returned x. */
typedef struct ax_lbfgs_config {
    float lr;                   /* 1 */
    int max_iter;               /* 20 */
    int max_eval;               /* 0: max_iter * 5 / 4, as PyTorch */
    float tolerance_grad;       /* 1e-7 */
    float tolerance_change;     /* 1e-9 */
    int history_size;           /* 100 */
    ax_line_search line_search; /* AX_LINE_SEARCH_NONE, as PyTorch */
    ax_opt_monitor_fn monitor;  /* NULL */
    void *monitor_user;
} ax_lbfgs_config;

/* Truncated Newton (Newton-CG) as scipy.optimize.minimize(method="Newton-CG") runs it
 * (Nocedal & Wright, Numerical Optimization, Algorithm 7.1): at x_k, conjugate gradients on
 * (H + damping I) p = -g from p = 0, stopped when |r|_1 <= eta_k |g|_1 with the forcing term
 * eta_k = min(forcing_max, sqrt(|g|_1)) (1-norms, as scipy; superlinear convergence), after
 * cg_max_iter iterations, or on curvature d.(H + damping I) d <= 3 DBL_EPSILON: then p is the
 * CG iterate so far, or on CG's first iteration with negative curvature the steepest-descent
 * step -(g.g / |d.Hd|) g. Then scipy's line search (line_search_wolfe1: Moré and Thuente's
 * search of MINPACK's dcsrch) for t in [1e-8, 50] with f(x + t p) <= f(x) + c1 t g.p and
 * |g(x + t p).p| <= c2 |g.p|, from t = 1 on the first step and then
 * min(1, 2.02 (f_k - f_k-1) / g.p) (1 if that is negative); no such t: stop, reason
 * AX_OPT_STOP_LINE_SEARCH, x unchanged (scipy tries a second search then; we do not).
 * Hessian-vector products come from the hvp callback, or without one from forward
 * differences of gradients: Hv ~ (g(x + h v) - g(x)) / h, h = sqrt(FLT_EPSILON) (1 + |x|) / |v|
 * (one objective evaluation per product; scipy's h = sqrt(DBL_EPSILON), unscaled, would be
 * lost in f32 rounding). Stops on max |g| <= tolerance_grad, |t p|_1 <= n tolerance_step
 * (scipy's xtol = n avextol), |f_k - f_k-1| < tolerance_change, or max_iter. If g.p >= 0 (finite
 * differences can spoil descent) p = -g. */
typedef struct ax_newton_cg_config {
    int max_iter;           /* 0: 200 n Newton steps (scipy's default) */
    int cg_max_iter;        /* 0: 20 n CG iterations per step (scipy's) */
    float tolerance_grad;   /* 1e-5 (0: scipy, which has no gradient test) */
    float tolerance_step;   /* 1e-5: scipy's avextol */
    float tolerance_change; /* 1e-9 (0: scipy) */
    float damping;          /* 0: lambda >= 0 of (H + lambda I) */
    float forcing_max;      /* 0.5: the cap of eta_k, in [0, 1); 0 solves to cg_max_iter */
    float c1;               /* 1e-4: sufficient decrease, in (0, c2) */
    float c2;               /* 0.9: curvature, in (c1, 1) */
    int max_line_search;    /* 100: trial steps per line search */
    ax_opt_monitor_fn monitor;
    void *monitor_user;
} ax_newton_cg_config;

/* Gradient descent with a fixed step: x_k+1 = x_k - lr g_k, until max |g| <= tolerance_grad
 * or max_iter steps (1/L, L the gradient's Lipschitz constant, is the textbook lr). */
typedef struct ax_gradient_descent_config {
    float lr;             /* 0.1 */
    int max_iter;         /* 1000 */
    float tolerance_grad; /* 1e-5 */
    ax_opt_monitor_fn monitor;
    void *monitor_user;
} ax_gradient_descent_config;

/* The defaults in the comments above. */
AX_API ax_lbfgs_config ax_lbfgs_defaults(void);
AX_API ax_newton_cg_config ax_newton_cg_defaults(void);
AX_API ax_gradient_descent_config ax_gradient_descent_defaults(void);

/* Minimize fn from x (f32, of ctx; updated in place). report may be NULL. A config value out
 * of range or a NULL fn/cfg answers AX_ERR_INVALID_ARG, a wrong x AX_ERR_DTYPE or
 * AX_ERR_DEVICE, before fn is called. hvp may be NULL (finite differences). */
AX_API ax_status ax_lbfgs_minimize(ax_ctx *ctx, const ax_lbfgs_config *cfg, ax_objective_fn fn,
                                   void *user, ax_tensor *x, ax_opt_report *report);
AX_API ax_status ax_newton_cg_minimize(ax_ctx *ctx, const ax_newton_cg_config *cfg,
                                       ax_objective_fn fn, ax_hvp_fn hvp, void *user,
                                       ax_tensor *x, ax_opt_report *report);
AX_API ax_status ax_gradient_descent_minimize(ax_ctx *ctx, const ax_gradient_descent_config *cfg,
                                              ax_objective_fn fn, void *user, ax_tensor *x,
                                              ax_opt_report *report);

#ifdef __cplusplus
}
#endif

#endif
