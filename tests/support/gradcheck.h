/* A generic gradient checker for the CPU reference of an op y = f(x_1, ..., x_k).
 *
 * It fixes a random r shaped like y and looks at the scalar L = sum(y * r), so dL/dy = r. The
 * op's backward, given dy = r, yields the analytic dL/dx_i; the checker compares every element
 * of every requested gradient with the central difference
 *     (L(x + h e) - L(x - h e)) / (x+h - x-h)
 * where L is accumulated in double over the f32 forward and the denominator is the step that
 * was actually taken after rounding x +- h to f32.
 *
 * Step and tolerance (GC_H_REL, GC_ATOL, GC_RTOL, GC_NOISE_ULPS):
 * - h = 1e-2 * max(1, |x|). The truncation error of the central difference, h^2 f'''/6, is
 *   ~2e-5 relative for the smooth ops here (0 for the (bi)linear ones); a smaller h would
 *   make the f32 rounding noise below grow as 1/h. Inputs of ReLU, leaky ReLU and L1 are kept
 *   at |x| >= 0.1, beyond h, so no difference straddles a kink.
 * - The forward is f32, so L(x+h) - L(x-h) carries the rounding of every output that depends
 *   on the perturbed element: a few eps_f32 times the size of those terms (for a scalar loss
 *   that is the whole loss: an MSE sum of 100 gives 4 eps 100 / 0.02 = 2.4e-3). Outputs that
 *   do not depend on it are bit-identical in both evaluations and cancel. So the checker
 *   measures, per element, the size of the dependent terms (outputs that change between x-h
 *   and x+h, or under a large probe step) and allows GC_NOISE_ULPS = 4 eps_f32 of it / 2h.
 * - Element-wise pass: |analytic - numeric| <= GC_ATOL + GC_RTOL |numeric| + that noise,
 *   with GC_RTOL = 2e-3 and GC_ATOL = 1e-5. A gradient off by 1% is off by 0.01 |g|, 5x the
 *   relative part, so it fails wherever |g| stands above the noise and atol, which holds on
 *   some element of every non-degenerate case.
 * Measured over 300 random seeds of every case in test_gradcheck.c: the worst element reaches
 * 0.32 of this tolerance (GEMM; 0.25 log-softmax, 0.21 MSE), a >3x margin; without the noise
 * term the scalar losses reach 20x (MSE sum), which is why it is there; and a backward scaled
 * by 1.01 fails in every case except those whose true gradient is exactly 0 (a softmax row of
 * one class, a ReLU whose inputs are all negative). gradcheck::planted_error_is_caught keeps
 * that shown.
 *
 * The checker also runs the backward once per requested gradient with every other gradient
 * output NULL, and requires the same values (ops.h: any gradient output may be NULL).
 *
 * Every input is a CPU tensor; inputs with wrt[i] = 0 (labels, targets) are never perturbed.
 * Gradient tensors handed to backward are NaN-filled first, so an element the backward does
 * not write is caught. */
#ifndef AX_TEST_GRADCHECK_H
#define AX_TEST_GRADCHECK_H

#include "axon.h"

#define GC_MAX_INPUTS 8
#define GC_H_REL 1e-2
#define GC_ATOL 1e-5
#define GC_RTOL 2e-3
#define GC_NOISE_ULPS 4.0

typedef struct gc_op gc_op;

/* Write y = f(x) (y's old contents are NaN). */
typedef ax_status (*gc_forward_fn)(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x, ax_tensor *y);
/* Write dL/dx_i into every dx[i] that is not NULL, given y = f(x) and dy = dL/dy. */
typedef ax_status (*gc_backward_fn)(const gc_op *op, ax_ctx *ctx, ax_tensor *const *x,
                                    const ax_tensor *y, const ax_tensor *dy, ax_tensor *const *dx);

struct gc_op {
    const char *name; /* for messages, e.g. "gemm NT batched" */
    int n_inputs;
    ax_tensor *x[GC_MAX_INPUTS];       /* CPU tensors; the checker perturbs and restores them */
    int wrt[GC_MAX_INPUTS];            /* 1: check the gradient of x[i] (f32 inputs only) */
    const char *x_name[GC_MAX_INPUTS]; /* for messages ("w"); NULL gives "x<i>" */
    int y_ndim;
    int64_t y_shape[AX_MAX_DIMS];
    gc_forward_fn forward;
    gc_backward_fn backward;
    const void *params; /* whatever forward and backward need besides x */
};

typedef struct gc_tolerance {
    double h_rel, atol, rtol, noise_ulps;
} gc_tolerance;

/* The defaults above. */
gc_tolerance gc_default_tolerance(void);

typedef struct gc_result {
    int ok;            /* every call succeeded and every element is within tolerance */
    ax_status status;  /* the first failing call's status, AX_OK otherwise */
    char message[512]; /* why it failed, or the worst element when it passed */
    double worst;      /* max |a - n| / (atol + rtol |n|) over all elements; <= 1 passes */
    int worst_input;   /* which x[i], -1 when nothing was compared */
    int64_t worst_index;
    double worst_analytic, worst_numeric;
    int64_t checked; /* elements compared */
} gc_result;

/* Run the check (never asserts; r is drawn from seed). */
gc_result gc_check(ax_ctx *ctx, const gc_op *op, uint64_t seed, gc_tolerance tol);

/* gc_check with the default tolerance, asserting that it passes. */
void gc_assert(ax_ctx *ctx, const gc_op *op, uint64_t seed);

/* Destroy op->x[*]. */
void gc_op_free(gc_op *op);

#endif
