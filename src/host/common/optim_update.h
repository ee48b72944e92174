/* The per-element update rules of the first-order optimizers, shared by the CPU reference
 * (src/host/cpu/optim.c) and the CUDA kernel (src/kernels/optim.cu), so both backends run the
 * same formulas in the same order. The host (optimizers.c) turns a config and the step count
 * into a struct ax_optim_update; everything that depends on the hyperparameters and the step
 * only (1 - beta, bias corrections, Adagrad's decayed lr, AdamW's decay factor) is computed
 * there once, in double, and rounded to f32 once, as PyTorch's Python floats are.
 *
 * Each rule updates one element: w (the parameter), g (its gradient, read only) and the state
 * elements s0, s1, s2 of its family (NULL where the variant has no such state):
 *   SGD       s0 momentum buffer (momentum != 0)
 *   Adagrad   s0 sum of squares
 *   Adadelta  s0 square average v, s1 delta average u
 *   RMSprop   s0 square average v, s1 momentum buffer (momentum > 0), s2 grad average (centered)
 *   Adam(W)   s0 m, s1 v, s2 vmax (amsgrad) */
#ifndef AX_OPTIM_UPDATE_H
#define AX_OPTIM_UPDATE_H

#include <math.h>

#ifdef __CUDACC__
#define AX_RULE static inline __host__ __device__
#else
#define AX_RULE static inline
#endif

typedef enum ax_optim_family {
    AX_OPTIM_SGD = 0,
    AX_OPTIM_ADAGRAD = 1,
    AX_OPTIM_ADADELTA = 2,
    AX_OPTIM_RMSPROP = 3,
    AX_OPTIM_ADAM = 4, /* Adam and AdamW */
} ax_optim_family;

/* One step's hyperparameters, as the rules use them. */
struct ax_optim_update {
    int family;                  /* ax_optim_family */
    float lr; /* the step's lr; Adagrad: lr / (1 + (t - 1) lr_decay); Adam: lr / (1 - beta1^t) */
    float weight_decay;          /* coupled decay g += weight_decay w (0: none) */
    float eps;
    float momentum;              /* SGD, RMSprop */
    float one_minus_dampening;   /* SGD: 1 - dampening */
    int nesterov;                /* SGD */
    int first_step;              /* SGD: the momentum buffer starts as the gradient */
    float rho;                   /* Adadelta rho, RMSprop alpha, Adam beta2 */
    float one_minus_rho;         /* 1 - rho */
    float one_minus_beta1;       /* Adam: 1 - beta1 */
    int centered;                /* RMSprop */
    int amsgrad;                 /* Adam */
    float decay_scale;           /* AdamW: w *= 1 - lr weight_decay before the update (1: none) */
    float bias_correction2_sqrt; /* Adam: sqrt(1 - beta2^t) */
};

/* d = g + weight_decay w */
AX_RULE float ax_coupled_decay(const struct ax_optim_update *a, float w, float g) {
    return a->weight_decay != 0.0f ? g + a->weight_decay * w : g;
}

AX_RULE void ax_sgd_rule(const struct ax_optim_update *a, float *w, float g, float *buf) {
    float d = ax_coupled_decay(a, *w, g);
    if (a->momentum != 0.0f) {
        /* buf = d (first step), else buf = momentum buf + (1 - dampening) d */
        *buf = a->first_step ? d : a->momentum * *buf + a->one_minus_dampening * d;
        /* nesterov: d = d + momentum buf; else d = buf */
        d = a->nesterov ? d + a->momentum * *buf : *buf;
    }
    *w -= a->lr * d; /* w -= lr d */
}

AX_RULE void ax_adagrad_rule(const struct ax_optim_update *a, float *w, float g, float *sum) {
    g = ax_coupled_decay(a, *w, g);
    *sum += g * g;                         /* sum += g^2 */
    *w -= a->lr * g / (sqrtf(*sum) + a->eps); /* w -= clr g / (sqrt(sum) + eps) */
}

AX_RULE void ax_adadelta_rule(const struct ax_optim_update *a, float *w, float g, float *v,
                              float *u) {
    const float rho = a->rho;
    g = ax_coupled_decay(a, *w, g);
    *v = rho * *v + a->one_minus_rho * g * g;                   /* v = rho v + (1 - rho) g^2 */
    float delta = sqrtf(*u + a->eps) / sqrtf(*v + a->eps) * g; /* sqrt(u+eps)/sqrt(v+eps) g */
    *u = rho * *u + a->one_minus_rho * delta * delta;           /* u = rho u + (1-rho) delta^2 */
    *w -= a->lr * delta;                                          /* w -= lr delta */
}

AX_RULE void ax_rmsprop_rule(const struct ax_optim_update *a, float *w, float g, float *v,
                             float *buf, float *gavg) {
    const float alpha = a->rho;
    g = ax_coupled_decay(a, *w, g);
    *v = alpha * *v + a->one_minus_rho * g * g; /* v = alpha v + (1 - alpha) g^2 */
    float avg;
    if (a->centered) {
        *gavg += a->one_minus_rho * (g - *gavg);  /* a = lerp(a, g, 1 - alpha) */
        avg = sqrtf(*v - *gavg * *gavg) + a->eps; /* sqrt(v - a^2) + eps */
    } else {
        avg = sqrtf(*v) + a->eps; /* sqrt(v) + eps */
    }
    if (a->momentum > 0.0f) {
        *buf = a->momentum * *buf + g / avg; /* buf = momentum buf + g / avg */
        *w -= a->lr * *buf;                  /* w -= lr buf */
    } else {
        *w -= a->lr * g / avg; /* w -= lr g / avg */
    }
}

AX_RULE void ax_adam_rule(const struct ax_optim_update *a, float *w, float g, float *m, float *v,
                          float *vmax) {
    *w *= a->decay_scale; /* AdamW: w *= 1 - lr weight_decay */
    g = ax_coupled_decay(a, *w, g);
    const float beta2 = a->rho;
    *m += a->one_minus_beta1 * (g - *m);          /* m = lerp(m, g, 1 - beta1) */
    *v = beta2 * *v + a->one_minus_rho * g * g; /* v = beta2 v + (1 - beta2) g^2 */
    float vhat = *v;
    if (a->amsgrad) {
        *vmax = fmaxf(*vmax, *v); /* vmax = max(vmax, v) */
        vhat = *vmax;
    }
    /* w -= lr / (1 - beta1^t) m / (sqrt(v) / sqrt(1 - beta2^t) + eps); a->lr holds the
     * first factor */
    float denom = sqrtf(vhat) / a->bias_correction2_sqrt + a->eps;
    *w -= a->lr * *m / denom;
}

/* The rule of a->family on one element. */
AX_RULE void ax_optim_rule(const struct ax_optim_update *a, float *w, float g, float *s0,
                           float *s1, float *s2) {
    switch (a->family) {
    case AX_OPTIM_SGD: ax_sgd_rule(a, w, g, s0); break;
    case AX_OPTIM_ADAGRAD: ax_adagrad_rule(a, w, g, s0); break;
    case AX_OPTIM_ADADELTA: ax_adadelta_rule(a, w, g, s0, s1); break;
    case AX_OPTIM_RMSPROP: ax_rmsprop_rule(a, w, g, s0, s1, s2); break;
    default: ax_adam_rule(a, w, g, s0, s1, s2); break;
    }
}

#endif
