/* Second-order minimizers (L-BFGS, Newton-CG) against gradient descent.
 *
 * The main case is L2-regularized logistic regression on a real MNIST subset (digits 0 and 1,
 * the first LOGREG_SAMPLES of the training set, pixels in [0, 1], a constant 1 appended for
 * the bias): f(w) = mean_i bce(x_i.w, t_i) + lambda/2 |w|^2 with lambda = 1e-3, strongly
 * convex, so the optimum f* is unique. f* comes from Newton-CG run to the end; then each
 * method starts from w = 0 and we count the iterations until f <= f* + 1e-6.
 * Also: L-BFGS and Newton-CG on Rosenbrock, Newton-CG's one-step solve of a quadratic,
 * L-BFGS without a line search, and bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "golden.h"
#include "helpers.h"
#include "mnist.h"

#define TRY(expr)                                                                              \
    do {                                                                                       \
        ax_status try_status_ = (expr);                                                        \
        if (try_status_ != AX_OK)                                                              \
            return try_status_;                                                                \
    } while (0)

/* ---------------------------------------------------------------- MNIST subset */

#define LOGREG_SAMPLES 500
#define LOGREG_LAMBDA 1e-3f
#define MNIST_PIXELS TH_MNIST_PIXELS

/* The first `count` training images of digits 0 and 1: x [count, 785] (pixels / 255, then 1),
 * t [count] (1 for the digit 1). cr_skip()s when the MNIST files are missing. Digits 0 and 1
 * are about a fifth of MNIST, so the first 4000 rows hold well over 500 of them. */
static void load_mnist_01(int count, float *x, float *t) {
    enum { SCAN = 4000 };
    float *images = malloc((size_t)SCAN * MNIST_PIXELS * sizeof *images);
    int32_t *labels = malloc(SCAN * sizeof *labels);
    cr_assert(images && labels);
    th_mnist_train(0, SCAN, images, labels);
    int taken = 0;
    for (int i = 0; i < SCAN && taken < count; i++) {
        if (labels[i] > 1)
            continue;
        float *row = x + (size_t)taken * (MNIST_PIXELS + 1);
        memcpy(row, images + (size_t)i * MNIST_PIXELS, MNIST_PIXELS * sizeof *row);
        row[MNIST_PIXELS] = 1.0f;
        t[taken++] = (float)labels[i];
    }
    free(images);
    free(labels);
    cr_assert_eq(taken, count, "only %d images of 0 and 1 in the first %d rows", taken, SCAN);
}

/* ---------------------------------------------------------------- logistic regression */

typedef struct logreg {
    ax_ctx *ctx;
    int64_t n, d;   /* samples, features (with the bias column) */
    float lambda;
    ax_tensor *x;   /* [n, d] */
    ax_tensor *t;   /* [n, 1] targets */
    ax_tensor *z;   /* [n, 1] logits */
    ax_tensor *dz;  /* [n, 1] d loss / d z, or s (1 - s) */
    ax_tensor *s;   /* [n, 1] sigmoid(z) */
    ax_tensor *one; /* [n, 1] ones */
    ax_tensor *u;   /* [n, 1] */
    ax_tensor *loss;
} logreg;

/* f(w) = mean bce(X w, t) + lambda/2 |w|^2, grad = X^T (sigmoid(X w) - t) / n + lambda w,
 * all with axon ops; w is [d, 1]. */
static ax_status logreg_loss(void *user, const ax_tensor *w, float *loss, ax_tensor *grad) {
    logreg *p = user;
    TRY(ax_gemm(p->ctx, AX_NO_TRANS, AX_NO_TRANS, 1.0f, p->x, w, 0.0f, p->z));
    TRY(ax_bce_with_logits_forward(p->ctx, p->z, p->t, AX_REDUCE_MEAN, p->loss));
    if (grad) {
        TRY(ax_bce_with_logits_backward(p->ctx, p->z, p->t, AX_REDUCE_MEAN, NULL, p->dz));
        TRY(ax_gemm(p->ctx, AX_TRANS, AX_NO_TRANS, 1.0f, p->x, p->dz, 0.0f, grad));
    }
    TRY(ax_l2_penalty(p->ctx, w, p->lambda, p->loss, grad));
    return ax_tensor_to_host(p->loss, loss, sizeof *loss);
}

/* The exact Hessian-vector product H v = X^T diag(s (1 - s)) X v / n + lambda v. */
static ax_status logreg_hvp(void *user, const ax_tensor *w, const ax_tensor *v, ax_tensor *hv) {
    logreg *p = user;
    TRY(ax_gemm(p->ctx, AX_NO_TRANS, AX_NO_TRANS, 1.0f, p->x, w, 0.0f, p->z));
    TRY(ax_activation_forward(p->ctx, AX_ACT_SIGMOID, 0.0f, p->z, p->s));
    /* sigmoid's backward with dy = 1 is s (1 - s) */
    TRY(ax_activation_backward(p->ctx, AX_ACT_SIGMOID, 0.0f, NULL, p->s, p->one, p->dz));
    TRY(ax_gemm(p->ctx, AX_NO_TRANS, AX_NO_TRANS, 1.0f, p->x, v, 0.0f, p->u));
    TRY(ax_mul(p->ctx, p->u, p->dz, p->u));
    TRY(ax_gemm(p->ctx, AX_TRANS, AX_NO_TRANS, 1.0f / (float)p->n, p->x, p->u, 0.0f, hv));
    return ax_axpy(p->ctx, p->lambda, v, hv);
}

/* cr_skip, saying where we looked, when the MNIST files are not here (call first, before
 * anything is allocated). */
static void skip_without_mnist(void) { th_mnist_require(); }

/* The problem on ctx. */
static void logreg_init(logreg *p, ax_ctx *ctx) {
    const int64_t n = LOGREG_SAMPLES, d = MNIST_PIXELS + 1;
    float *x = malloc((size_t)(n * d) * sizeof *x), *t = malloc((size_t)n * sizeof *t);
    cr_assert(x && t);
    load_mnist_01((int)n, x, t);
    *p = (logreg){.ctx = ctx, .n = n, .d = d, .lambda = LOGREG_LAMBDA};
    const int64_t sx[2] = {n, d}, col[2] = {n, 1}, one[1] = {1};
    p->x = th_tensor(ctx, 2, sx, x);
    p->t = th_tensor(ctx, 2, col, t);
    ax_tensor **cols[] = {&p->z, &p->dz, &p->s, &p->one, &p->u};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        AX_ASSERT_OK(ax_tensor_create(ctx, AX_F32, 2, col, cols[i]));
    AX_ASSERT_OK(ax_fill(ctx, p->one, 1.0f));
    AX_ASSERT_OK(ax_tensor_create(ctx, AX_F32, 1, one, &p->loss));
    free(x);
    free(t);
}

static void logreg_free(logreg *p) {
    ax_tensor *all[] = {p->x, p->t, p->z, p->dz, p->s, p->one, p->u, p->loss};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ax_tensor_destroy(all[i]);
}

/* |v|_2 on the host. */
static double norm2(const ax_tensor *v) {
    float *h = th_to_host(v);
    double s = 0.0;
    for (int64_t i = 0; i < ax_tensor_numel(v); i++)
        s += (double)h[i] * h[i];
    free(h);
    return sqrt(s);
}

/* L = the largest eigenvalue of X^T X / (4 n) + lambda I, the Hessian at w = 0 (where
 * s (1 - s) = 1/4 is largest), by power iteration: H(w) <= that matrix for every w, so
 * 1/L is the textbook step of gradient descent. */
static double logreg_lipschitz(logreg *p, ax_tensor *w0) {
    const int64_t shape[2] = {p->d, 1};
    ax_tensor *v = th_random_tensor(p->ctx, 2, shape, 7, 0.0f, 1.0f, 0.0f), *hv = NULL;
    AX_ASSERT_OK(ax_tensor_create(p->ctx, AX_F32, 2, shape, &hv));
    double l = 0.0;
    for (int k = 0; k < 100; k++) {
        AX_ASSERT_OK(ax_scale(p->ctx, (float)(1.0 / norm2(v)), v, v));
        AX_ASSERT_OK(logreg_hvp(p, w0, v, hv));
        l = norm2(hv);
        AX_ASSERT_OK(ax_tensor_copy(v, hv));
    }
    ax_tensor_destroy(v);
    ax_tensor_destroy(hv);
    return l;
}

/* A monitor that stops the minimizer once the loss reaches `target`. */
typedef struct target_monitor {
    float target;
    int reached_at; /* iteration, or -1 */
} target_monitor;

static int stop_at_target(void *user, const ax_tensor *x, int iteration, float loss,
                          float grad_max) {
    (void)x, (void)grad_max;
    target_monitor *m = user;
    if (loss <= m->target && m->reached_at < 0)
        m->reached_at = iteration;
    return m->reached_at >= 0;
}

Test(optim2, logistic_regression_mnist_newton_lbfgs_vs_gd, .timeout = 120) {
    skip_without_mnist();
    ax_ctx *ctx = th_cpu_ctx();
    logreg p;
    logreg_init(&p, ctx);
    const int64_t shape[2] = {p.d, 1};
    ax_tensor *w = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 2, shape, &w));
    ax_opt_report rep;

    /* f*: Newton-CG with exact products, CG solved tightly, until f stops changing */
    ax_newton_cg_config ncfg = ax_newton_cg_defaults();
    ncfg.max_iter = 100;
    ncfg.tolerance_grad = 1e-7f;
    ncfg.forcing_max = 1e-3f;
    ncfg.cg_max_iter = 400;
    AX_ASSERT_OK(ax_newton_cg_minimize(ctx, &ncfg, logreg_loss, logreg_hvp, &p, w, &rep));
    const float f_star = rep.loss;
    cr_log_info("logreg (MNIST 0 vs 1, n = %d, lambda = %g): f* = %.9f after %d Newton-CG "
                "iterations (%s, max|g| = %.2e)",
                LOGREG_SAMPLES, (double)LOGREG_LAMBDA, (double)f_star, rep.iterations,
                ax_opt_stop_str(rep.reason), (double)rep.grad_max);
    cr_assert(rep.grad_max < 1e-4f, "f* is not an optimum: max|g| = %g", (double)rep.grad_max);
    const float target = f_star + 1e-6f;

    /* Newton-CG, default forcing term, exact Hessian-vector products */
    target_monitor newton = {target, -1};
    ncfg = ax_newton_cg_defaults();
    ncfg.monitor = stop_at_target;
    ncfg.monitor_user = &newton;
    AX_ASSERT_OK(ax_fill(ctx, w, 0.0f));
    AX_ASSERT_OK(ax_newton_cg_minimize(ctx, &ncfg, logreg_loss, logreg_hvp, &p, w, &rep));
    cr_log_info("Newton-CG (exact Hv): f* + 1e-6 after %d iterations, %d evaluations, %d "
                "Hessian-vector products",
                newton.reached_at, rep.evaluations, rep.hvp_calls);

    /* Newton-CG with finite-difference products */
    target_monitor newton_fd = {target, -1};
    ncfg.monitor_user = &newton_fd;
    AX_ASSERT_OK(ax_fill(ctx, w, 0.0f));
    AX_ASSERT_OK(ax_newton_cg_minimize(ctx, &ncfg, logreg_loss, NULL, &p, w, &rep));
    cr_log_info("Newton-CG (finite-difference Hv): f* + 1e-6 after %d iterations, %d "
                "evaluations",
                newton_fd.reached_at, rep.evaluations);

    /* L-BFGS with PyTorch's strong-Wolfe line search */
    target_monitor lbfgs = {target, -1};
    ax_lbfgs_config lcfg = ax_lbfgs_defaults();
    lcfg.line_search = AX_LINE_SEARCH_STRONG_WOLFE;
    lcfg.max_iter = 500;
    lcfg.max_eval = 1000;
    lcfg.history_size = 20;
    lcfg.monitor = stop_at_target;
    lcfg.monitor_user = &lbfgs;
    AX_ASSERT_OK(ax_fill(ctx, w, 0.0f));
    AX_ASSERT_OK(ax_lbfgs_minimize(ctx, &lcfg, logreg_loss, &p, w, &rep));
    cr_log_info("L-BFGS (m = 20, strong Wolfe): f* + 1e-6 after %d iterations, %d evaluations",
                lbfgs.reached_at, rep.evaluations);

    /* gradient descent with the step 1/L */
    AX_ASSERT_OK(ax_fill(ctx, w, 0.0f));
    double lip = logreg_lipschitz(&p, w);
    target_monitor gd = {target, -1};
    ax_gradient_descent_config gcfg = ax_gradient_descent_defaults();
    gcfg.lr = (float)(1.0 / lip);
    gcfg.max_iter = 3000;
    gcfg.tolerance_grad = 0.0f;
    gcfg.monitor = stop_at_target;
    gcfg.monitor_user = &gd;
    AX_ASSERT_OK(ax_gradient_descent_minimize(ctx, &gcfg, logreg_loss, &p, w, &rep));
    cr_log_info("gradient descent (lr = 1/L = %.4g): %s%d iterations, f - f* = %.3g at the end",
                (double)gcfg.lr, gd.reached_at >= 0 ? "f* + 1e-6 after " : "not there after ",
                rep.iterations, (double)rep.loss - (double)f_star);

    cr_assert(newton.reached_at >= 1 && newton.reached_at <= 15, "Newton-CG took %d",
              newton.reached_at);
    cr_assert(newton_fd.reached_at >= 1 && newton_fd.reached_at <= 20,
              "Newton-CG (finite differences) took %d", newton_fd.reached_at);
    cr_assert(lbfgs.reached_at >= 1 && lbfgs.reached_at <= 100, "L-BFGS took %d",
              lbfgs.reached_at);
    const int gd_iters = gd.reached_at >= 0 ? gd.reached_at : gcfg.max_iter + 1;
    cr_assert(gd_iters > 10 * lbfgs.reached_at && gd_iters > 10 * newton.reached_at,
              "gradient descent took %d, L-BFGS %d, Newton-CG %d", gd_iters, lbfgs.reached_at,
              newton.reached_at);

    ax_tensor_destroy(w);
    logreg_free(&p);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- small exact problems */

/* Rosenbrock's f(a, b) = (1 - a)^2 + 100 (b - a^2)^2, minimum 0 at (1, 1); evaluated in
 * double from the f32 x. */
static ax_status rosenbrock(void *user, const ax_tensor *x, float *loss, ax_tensor *grad) {
    (void)user;
    const float *v = ax_tensor_const_data(x); /* CPU contexts only: host memory */
    if (!v)
        return AX_ERR_INVALID_ARG;
    double a = v[0], b = v[1], r = b - a * a;
    *loss = (float)((1.0 - a) * (1.0 - a) + 100.0 * r * r);
    if (!grad)
        return AX_OK;
    float g[2] = {(float)(-2.0 * (1.0 - a) - 400.0 * a * r), (float)(200.0 * r)};
    return ax_tensor_set_from_host(grad, g, sizeof g);
}

/* Rosenbrock's exact Hessian times v: [[2 - 400 b + 1200 a^2, -400 a], [-400 a, 200]]. */
static ax_status rosenbrock_hvp(void *user, const ax_tensor *x, const ax_tensor *v,
                                ax_tensor *hv) {
    (void)user;
    float xh[2], vh[2];
    TRY(ax_tensor_to_host(x, xh, sizeof xh));
    TRY(ax_tensor_to_host(v, vh, sizeof vh));
    double a = xh[0], b = xh[1];
    double h00 = 2.0 - 400.0 * b + 1200.0 * a * a, h01 = -400.0 * a, h11 = 200.0;
    float out[2] = {(float)(h00 * vh[0] + h01 * vh[1]), (float)(h01 * vh[0] + h11 * vh[1])};
    return ax_tensor_set_from_host(hv, out, sizeof out);
}

/* x = (-1.2, 1), the classic start. */
static ax_tensor *rosenbrock_start(ax_ctx *ctx) {
    const int64_t shape[1] = {2};
    const float x0[2] = {-1.2f, 1.0f};
    return th_tensor(ctx, 1, shape, x0);
}

Test(optim2, lbfgs_rosenbrock) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_tensor *x = rosenbrock_start(ctx);
    ax_lbfgs_config cfg = ax_lbfgs_defaults();
    cfg.line_search = AX_LINE_SEARCH_STRONG_WOLFE;
    cfg.max_iter = 200;
    cfg.max_eval = 400;
    ax_opt_report rep;
    AX_ASSERT_OK(ax_lbfgs_minimize(ctx, &cfg, rosenbrock, NULL, x, &rep));
    float v[2];
    AX_ASSERT_OK(ax_tensor_to_host(x, v, sizeof v));
    cr_log_info("L-BFGS on Rosenbrock: (%.6f, %.6f), f = %.3g after %d iterations, %d "
                "evaluations (%s)",
                (double)v[0], (double)v[1], (double)rep.loss, rep.iterations, rep.evaluations,
                ax_opt_stop_str(rep.reason));
    /* f32: near (1, 1) the gradient 400 a (a^2 - b) carries rounding of ~1e-7 * 400, so the
     * answer is good to about 1e-3 and f to about 1e-7 */
    cr_assert(rep.converged, "stopped by %s", ax_opt_stop_str(rep.reason));
    cr_assert(fabsf(v[0] - 1.0f) < 2e-3f && fabsf(v[1] - 1.0f) < 4e-3f, "(%g, %g)",
              (double)v[0], (double)v[1]);
    cr_assert(rep.loss < 1e-6f && rep.iterations < 60, "f = %g after %d", (double)rep.loss,
              rep.iterations);
    ax_tensor_destroy(x);
    ax_ctx_destroy(ctx);
}

Test(optim2, newton_cg_rosenbrock) {
    /* non-convex away from the valley: exercises the negative-curvature exit of CG; with
     * exact products and with finite differences */
    ax_ctx *ctx = th_cpu_ctx();
    ax_hvp_fn hvps[2] = {rosenbrock_hvp, NULL};
    for (int k = 0; k < 2; k++) {
        ax_tensor *x = rosenbrock_start(ctx);
        ax_newton_cg_config cfg = ax_newton_cg_defaults();
        cfg.max_iter = 100;
        cfg.tolerance_grad = 1e-4f;
        ax_opt_report rep;
        AX_ASSERT_OK(ax_newton_cg_minimize(ctx, &cfg, rosenbrock, hvps[k], NULL, x, &rep));
        float v[2];
        AX_ASSERT_OK(ax_tensor_to_host(x, v, sizeof v));
        cr_log_info("Newton-CG (%s) on Rosenbrock: (%.6f, %.6f), f = %.3g after %d "
                    "iterations, %d evaluations (%s)",
                    hvps[k] ? "exact Hv" : "finite differences", (double)v[0], (double)v[1],
                    (double)rep.loss, rep.iterations, rep.evaluations,
                    ax_opt_stop_str(rep.reason));
        cr_assert(fabsf(v[0] - 1.0f) < 5e-3f && fabsf(v[1] - 1.0f) < 1e-2f, "(%g, %g)",
                  (double)v[0], (double)v[1]);
        cr_assert(rep.loss < 1e-5f, "f = %g", (double)rep.loss);
        ax_tensor_destroy(x);
    }
    ax_ctx_destroy(ctx);
}

/* f(x) = 1/2 x^T A x - b^T x with A = M^T M + I (symmetric positive definite), n = 6. */
#define QUAD_N 6
typedef struct quadratic {
    double a[QUAD_N][QUAD_N], b[QUAD_N];
    int calls, fail_at; /* fail with AX_ERR_IO at call fail_at (0: never) */
    int nan_at;         /* return a NaN loss from call nan_at on (0: never) */
} quadratic;

static void quadratic_init(quadratic *q, double scale) {
    float m[QUAD_N * QUAD_N], b[QUAD_N];
    th_random(m, QUAD_N * QUAD_N, 11, -1.0f, 1.0f);
    th_random(b, QUAD_N, 12, -1.0f, 1.0f);
    memset(q, 0, sizeof *q);
    for (int i = 0; i < QUAD_N; i++) {
        q->b[i] = b[i];
        for (int j = 0; j < QUAD_N; j++) {
            double s = i == j ? 1.0 : 0.0;
            for (int k = 0; k < QUAD_N; k++)
                s += (double)m[k * QUAD_N + i] * m[k * QUAD_N + j];
            q->a[i][j] = scale * s;
        }
    }
}

/* out = A v on the host. */
static ax_status quadratic_apply(const quadratic *q, const ax_tensor *v, double *av,
                                 double *vh) {
    float f[QUAD_N];
    TRY(ax_tensor_to_host(v, f, sizeof f));
    for (int i = 0; i < QUAD_N; i++)
        vh[i] = f[i];
    for (int i = 0; i < QUAD_N; i++) {
        av[i] = 0.0;
        for (int j = 0; j < QUAD_N; j++)
            av[i] += q->a[i][j] * vh[j];
    }
    return AX_OK;
}

static ax_status quadratic_loss(void *user, const ax_tensor *x, float *loss, ax_tensor *grad) {
    quadratic *q = user;
    q->calls++;
    if (q->fail_at && q->calls >= q->fail_at) {
        ax_clear_error();
        return AX_ERR_IO;
    }
    double ax[QUAD_N], xh[QUAD_N], f = 0.0;
    float g[QUAD_N];
    TRY(quadratic_apply(q, x, ax, xh));
    for (int i = 0; i < QUAD_N; i++) {
        f += 0.5 * xh[i] * ax[i] - q->b[i] * xh[i];
        g[i] = (float)(ax[i] - q->b[i]);
    }
    *loss = q->nan_at && q->calls >= q->nan_at ? NAN : (float)f;
    return grad ? ax_tensor_set_from_host(grad, g, sizeof g) : AX_OK;
}

static ax_status quadratic_hvp(void *user, const ax_tensor *x, const ax_tensor *v,
                               ax_tensor *hv) {
    (void)x;
    double av[QUAD_N], vh[QUAD_N];
    float out[QUAD_N];
    TRY(quadratic_apply(user, v, av, vh));
    for (int i = 0; i < QUAD_N; i++)
        out[i] = (float)av[i];
    return ax_tensor_set_from_host(hv, out, sizeof out);
}

static ax_status failing_hvp(void *user, const ax_tensor *x, const ax_tensor *v, ax_tensor *hv) {
    (void)user, (void)x, (void)v, (void)hv;
    ax_clear_error();
    return AX_ERR_UNSUPPORTED;
}

static ax_tensor *quadratic_start(ax_ctx *ctx) {
    const int64_t shape[1] = {QUAD_N};
    ax_tensor *x = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 1, shape, &x));
    return x;
}

/* The objective is user code: it may leave another device current (a context on another GPU,
 * cudaSetDevice). Every device call of the minimizers after it must enter the context's device
 * again. A CPU table whose enter clears a "switched" flag that the objective sets stands in for
 * two GPUs: the wrapped reductions count calls made while switched. */
#include "host/backend.h"

static int device_switched, unentered_calls, tracked_calls;

static ax_status tracking_enter(const ax_ctx *ctx, const char *fn) {
    (void)ctx, (void)fn;
    device_switched = 0;
    return AX_OK;
}

static void track(void) {
    tracked_calls++;
    unentered_calls += device_switched;
}

static ax_status tracking_dot(ax_ctx *ctx, const float *a, const float *b, int64_t n,
                              float *out) {
    track();
    return ax_cpu_backend.dot(ctx, a, b, n, out);
}

static ax_status tracking_abs_max(ax_ctx *ctx, const float *x, int64_t n, float *out) {
    track();
    return ax_cpu_backend.abs_max(ctx, x, n, out);
}

static ax_status tracking_l1(ax_ctx *ctx, const float *w, int64_t n, float lambda, float *out,
                             float *dw) {
    track();
    return ax_cpu_backend.l1_penalty(ctx, w, n, lambda, out, dw);
}

static ax_status switching_loss(void *user, const ax_tensor *x, float *loss, ax_tensor *grad) {
    ax_status st = quadratic_loss(user, x, loss, grad);
    device_switched = 1; /* the objective's own calls done, another device is current */
    return st;
}

Test(optim2, minimizers_enter_the_device_after_the_objective) {
    ax_ctx *ctx = th_cpu_ctx();
    struct ax_backend tracking = ax_cpu_backend;
    tracking.enter = tracking_enter;
    tracking.dot = tracking_dot;
    tracking.abs_max = tracking_abs_max;
    tracking.l1_penalty = tracking_l1;
    const struct ax_backend *saved = ctx->backend;
    ctx->backend = &tracking;
    quadratic q;
    quadratic_init(&q, 0.1);
    ax_tensor *x = quadratic_start(ctx);
    ax_lbfgs_config lb = ax_lbfgs_defaults();
    lb.max_iter = 10;
    ax_newton_cg_config nc = ax_newton_cg_defaults();
    nc.max_iter = 3;
    ax_gradient_descent_config gd = ax_gradient_descent_defaults();
    gd.max_iter = 3;
    AX_ASSERT_OK(ax_lbfgs_minimize(ctx, &lb, switching_loss, &q, x, NULL));
    AX_ASSERT_OK(ax_fill(ctx, x, 0.0f));
    AX_ASSERT_OK(ax_newton_cg_minimize(ctx, &nc, switching_loss, quadratic_hvp, &q, x, NULL));
    AX_ASSERT_OK(ax_fill(ctx, x, 0.0f));
    AX_ASSERT_OK(ax_gradient_descent_minimize(ctx, &gd, switching_loss, &q, x, NULL));
    cr_assert_gt(tracked_calls, 10, "the minimizers' reductions ran (%d calls)", tracked_calls);
    cr_assert_eq(unentered_calls, 0, "%d of %d reductions ran on whatever device was current",
                 unentered_calls, tracked_calls);
    ctx->backend = saved;
    ax_tensor_destroy(x);
    ax_ctx_destroy(ctx);
}

Test(optim2, newton_cg_quadratic_one_step) {
    /* With exact products and CG run to the end (forcing_max = 0, n CG iterations), one
     * Newton step x = A^-1 b solves the quadratic, and the unit step passes Armijo. */
    ax_ctx *ctx = th_cpu_ctx();
    quadratic q;
    quadratic_init(&q, 1.0);
    ax_tensor *x = quadratic_start(ctx);
    ax_newton_cg_config cfg = ax_newton_cg_defaults();
    cfg.forcing_max = 0.0f;
    cfg.cg_max_iter = QUAD_N;
    cfg.tolerance_grad = 1e-4f;
    ax_opt_report rep;
    AX_ASSERT_OK(ax_newton_cg_minimize(ctx, &cfg, quadratic_loss, quadratic_hvp, &q, x, &rep));
    cr_assert_eq(rep.iterations, 1, "%d iterations (%s, max|g| = %g)", rep.iterations,
                 ax_opt_stop_str(rep.reason), (double)rep.grad_max);
    cr_assert(rep.converged && rep.reason == AX_OPT_STOP_GRAD_TOL);
    cr_assert_eq(rep.evaluations, 2); /* x0 and the accepted unit step */
    cr_assert_leq(rep.hvp_calls, QUAD_N);

    /* damping: the step solves (A + lambda I) p = -g, so it is shorter than Newton's and one
     * step does not finish */
    AX_ASSERT_OK(ax_fill(ctx, x, 0.0f));
    cfg.damping = 10.0f;
    cfg.max_iter = 1;
    AX_ASSERT_OK(ax_newton_cg_minimize(ctx, &cfg, quadratic_loss, quadratic_hvp, &q, x, &rep));
    cr_assert_eq(rep.reason, AX_OPT_STOP_MAX_ITER);
    cr_assert(rep.grad_max > 1e-2f);
    ax_tensor_destroy(x);
    ax_ctx_destroy(ctx);
}

Test(optim2, lbfgs_without_line_search_and_gd_quadratic) {
    ax_ctx *ctx = th_cpu_ctx();
    quadratic q;
    quadratic_init(&q, 0.1); /* eigenvalues <= ~1: the unit step of L-BFGS is safe */
    ax_tensor *x = quadratic_start(ctx);
    ax_lbfgs_config cfg = ax_lbfgs_defaults();
    cfg.max_iter = 100;
    cfg.tolerance_grad = 1e-5f;
    ax_opt_report rep;
    AX_ASSERT_OK(ax_lbfgs_minimize(ctx, &cfg, quadratic_loss, &q, x, &rep));
    cr_log_info("L-BFGS without line search on a %d-dim quadratic: %d iterations (%s)", QUAD_N,
                rep.iterations, ax_opt_stop_str(rep.reason));
    cr_assert(rep.converged, "%s, max|g| = %g", ax_opt_stop_str(rep.reason),
              (double)rep.grad_max);
    cr_assert_eq(rep.evaluations, rep.iterations + 1);

    /* the defaults stop after 20 iterations, as torch.optim.LBFGS's step() does */
    AX_ASSERT_OK(ax_fill(ctx, x, 0.0f));
    cfg = ax_lbfgs_defaults();
    cfg.tolerance_grad = 0.0f;
    cfg.tolerance_change = 0.0f;
    AX_ASSERT_OK(ax_lbfgs_minimize(ctx, &cfg, quadratic_loss, &q, x, &rep));
    cr_assert(rep.iterations <= 20);

    /* gradient descent gets there too, slowly; a NULL report is fine */
    AX_ASSERT_OK(ax_fill(ctx, x, 0.0f));
    ax_gradient_descent_config gcfg = ax_gradient_descent_defaults();
    gcfg.lr = 1.0f;
    gcfg.max_iter = 5000;
    AX_ASSERT_OK(ax_gradient_descent_minimize(ctx, &gcfg, quadratic_loss, &q, x, NULL));
    AX_ASSERT_OK(ax_gradient_descent_minimize(ctx, &gcfg, quadratic_loss, &q, x, &rep));
    cr_assert_eq(rep.reason, AX_OPT_STOP_GRAD_TOL);
    cr_assert_eq(rep.iterations, 0); /* already there */
    ax_tensor_destroy(x);
    ax_ctx_destroy(ctx);
}

/* f(x) = 1 + (x - 0.5)^2 / 2 in f32 as PyTorch evaluates it (r = x - 0.5, r^2, / 2, + 1;
 * autograd's gradient is r). */
static ax_status flat_parabola(void *user, const ax_tensor *x, float *loss, ax_tensor *grad) {
    (void)user;
    float v;
    TRY(ax_tensor_to_host(x, &v, sizeof v));
    const float r = v - 0.5f, sq = r * r, half = sq / 2.0f;
    *loss = 1.0f + half;
    return grad ? ax_tensor_set_from_host(grad, &r, sizeof r) : AX_OK;
}

/* torch.optim.LBFGS([x], line_search_fn="strong_wolfe") from x = 0.5002f: f(x0) rounds to 1
 * in f32 and so does f(0.5), so the sufficient-decrease test compares 1 > 1 + c1 t g.d,
 * whose right side is an f32 tensor equal to 1: accepted. PyTorch (2.x) ends at x = 0.5
 * after 2 evaluations and n_iter = 1; in double the step is refused and the search shrinks
 * t until it runs out. */
Test(optim2, lbfgs_accepts_f32_ties_as_pytorch) {
    ax_ctx *ctx = th_cpu_ctx();
    const int64_t one = 1;
    const float x0 = 0.5002f;
    ax_tensor *x = th_tensor(ctx, 1, &one, &x0);
    ax_lbfgs_config cfg = ax_lbfgs_defaults();
    cfg.line_search = AX_LINE_SEARCH_STRONG_WOLFE;
    ax_opt_report rep;
    AX_ASSERT_OK(ax_lbfgs_minimize(ctx, &cfg, flat_parabola, NULL, x, &rep));
    float v;
    AX_ASSERT_OK(ax_tensor_to_host(x, &v, sizeof v));
    cr_assert_eq(v, 0.5f, "x = %.9g after %d evaluations", (double)v, rep.evaluations);
    cr_assert_eq(rep.evaluations, 2);
    cr_assert_eq(rep.iterations, 1);
    cr_assert_eq(rep.reason, AX_OPT_STOP_GRAD_TOL, "%s", ax_opt_stop_str(rep.reason));
    cr_assert_eq(rep.loss, 1.0f);
    ax_tensor_destroy(x);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- PyTorch's trajectories */

/* f = 1/2 x^T A x - b^T x with A, b from a golden case (n <= 8), in double on the host. */
typedef struct dense_quadratic {
    int n;
    const float *a, *b;
} dense_quadratic;

static ax_status dense_quadratic_loss(void *user, const ax_tensor *x, float *loss,
                                      ax_tensor *grad) {
    const dense_quadratic *q = user;
    float xh[8], g[8];
    double f = 0.0;
    TRY(ax_tensor_to_host(x, xh, (size_t)q->n * sizeof(float)));
    for (int i = 0; i < q->n; i++) {
        double ax = 0.0;
        for (int j = 0; j < q->n; j++)
            ax += (double)q->a[i * q->n + j] * xh[j];
        f += 0.5 * xh[i] * ax - (double)q->b[i] * xh[i];
        g[i] = (float)(ax - q->b[i]);
    }
    *loss = (float)f;
    return grad ? ax_tensor_set_from_host(grad, g, (size_t)q->n * sizeof(float)) : AX_OK;
}

/* A monitor that copies every iterate it is shown (up to max of n floats each). */
typedef struct xs_monitor {
    float *x, loss[64];
    int n, max, calls, iteration[64];
} xs_monitor;

static int record_x(void *user, const ax_tensor *x, int iteration, float loss, float grad_max) {
    (void)grad_max;
    xs_monitor *m = user;
    if (m->calls < m->max && m->calls < 64) {
        m->iteration[m->calls] = iteration;
        m->loss[m->calls] = loss;
        if (ax_tensor_to_host(x, m->x + (size_t)m->calls * (size_t)m->n,
                              (size_t)m->n * sizeof(float)) != AX_OK)
            return 1;
    }
    m->calls++;
    return 0;
}

/* For K = 1, 2, ...: L-BFGS with max_iter = K from x0 lands where torch.optim.LBFGS's step()
 * with max_iter = K did, after as many evaluations (tests/golden/gen_lbfgs.py). The objectives
 * are evaluated in double here and in f32 by PyTorch, and Rosenbrock amplifies the difference
 * along the way, hence the tolerance. */
static void check_trajectory(const char *name, ax_objective_fn fn, void *user,
                             ax_line_search line_search) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load("lbfgs", name);
    const gd_tensor *x0 = gd_get(c, "x0"), *xs = gd_get(c, "xs"), *evals = gd_get(c, "evals");
    const int n = (int)x0->numel, iters = (int)xs->shape[0];
    ax_tensor *x = gd_tensor_on(ctx, c, "x0");
    for (int k = 1; k <= iters; k++) {
        ax_lbfgs_config cfg = ax_lbfgs_defaults();
        cfg.max_iter = k;
        cfg.line_search = line_search;
        if (line_search == AX_LINE_SEARCH_STRONG_WOLFE)
            cfg.history_size = (int)gd_scalar(c, "history_size");
        ax_opt_report rep;
        AX_ASSERT_OK(ax_tensor_set_from_host(x, x0->f, (size_t)n * sizeof(float)));
        AX_ASSERT_OK(ax_lbfgs_minimize(ctx, &cfg, fn, user, x, &rep));
        float got[8];
        char what[96];
        AX_ASSERT_OK(ax_tensor_to_host(x, got, (size_t)n * sizeof(float)));
        snprintf(what, sizeof what, "%s: x after %d iterations", name, k);
        th_assert_close(got, xs->f + (size_t)(k - 1) * (size_t)n, n, 1e-4, 1e-4, what);
        /* without a line search we evaluate the last iterate, PyTorch does not */
        int extra = line_search == AX_LINE_SEARCH_NONE && rep.reason == AX_OPT_STOP_MAX_ITER;
        cr_assert_eq(rep.evaluations, evals->i[k - 1] + extra,
                     "%s: %d evaluations after %d iterations, PyTorch %d", name,
                     rep.evaluations, k, evals->i[k - 1]);
    }
    /* one run of max_iter = iters: the monitor is shown every iterate, each with its loss,
     * and the last is the x returned */
    xs_monitor mon = {.x = calloc((size_t)iters * (size_t)n, sizeof(float)), .n = n,
                      .max = iters};
    cr_assert(mon.x && iters <= 64);
    ax_lbfgs_config cfg = ax_lbfgs_defaults();
    cfg.max_iter = iters;
    cfg.line_search = line_search;
    if (line_search == AX_LINE_SEARCH_STRONG_WOLFE)
        cfg.history_size = (int)gd_scalar(c, "history_size");
    cfg.monitor = record_x;
    cfg.monitor_user = &mon;
    ax_opt_report rep;
    AX_ASSERT_OK(ax_tensor_set_from_host(x, x0->f, (size_t)n * sizeof(float)));
    AX_ASSERT_OK(ax_lbfgs_minimize(ctx, &cfg, fn, user, x, &rep));
    cr_assert_eq(mon.calls, rep.iterations, "%s: the monitor was called %d times", name,
                 mon.calls);
    float last[8];
    AX_ASSERT_OK(ax_tensor_to_host(x, last, (size_t)n * sizeof(float)));
    th_assert_equal(mon.x + (size_t)(mon.calls - 1) * (size_t)n, last, n, "the last iterate");
    ax_tensor *xk = gd_tensor_on(ctx, c, "x0");
    for (int k = 0; k < mon.calls; k++) {
        float f;
        cr_assert_eq(mon.iteration[k], k + 1);
        AX_ASSERT_OK(ax_tensor_set_from_host(xk, mon.x + (size_t)k * (size_t)n,
                                             (size_t)n * sizeof(float)));
        AX_ASSERT_OK(fn(user, xk, &f, NULL));
        cr_assert(f == mon.loss[k], "%s: iteration %d's loss %g is not f(x) = %g", name, k + 1,
                  (double)mon.loss[k], (double)f);
    }
    ax_tensor_destroy(xk);
    free(mon.x);
    ax_tensor_destroy(x);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

Test(golden, lbfgs_rosenbrock_strong_wolfe) {
    check_trajectory("rosenbrock_wolfe", rosenbrock, NULL, AX_LINE_SEARCH_STRONG_WOLFE);
}

Test(golden, lbfgs_rosenbrock_strong_wolfe_history_3) {
    check_trajectory("rosenbrock_wolfe_m3", rosenbrock, NULL, AX_LINE_SEARCH_STRONG_WOLFE);
}

Test(golden, lbfgs_quadratic_fixed_step) {
    gd_case *c = gd_load("lbfgs", "quadratic_fixed");
    dense_quadratic q = {(int)gd_get(c, "b")->numel, gd_get(c, "a")->f, gd_get(c, "b")->f};
    check_trajectory("quadratic_fixed", dense_quadratic_loss, &q, AX_LINE_SEARCH_NONE);
    gd_free(c);
}

/* ---------------------------------------------------------------- PyTorch's sequences */

/* The objectives of tests/golden/gen_lbfgs.py's seq_* cases, computed as it computes them:
 * in double from the f32 point, loss and gradient rounded to f32 once. Every call is
 * recorded (point and loss), so the whole sequence of evaluations can be compared. */
typedef enum seq_kind {
    SEQ_ROSENBROCK,
    SEQ_LOGREG,
    SEQ_HUBER,
    SEQ_WIGGLY,
    SEQ_QUARTIC, /* -x + x^2 / 2 + 1.9998 x^3 - 1.49985 x^4 (gen_newton_cg.py) */
} seq_kind;

#define QUARTIC_B3 1.9998
#define QUARTIC_B4 -1.49985

#define SEQ_MAX_N 8
#define SEQ_MAX_EVALS 512

typedef struct seq_problem {
    seq_kind kind;
    int n;
    const float *a, *y, *c; /* logreg data [m, n] and labels [m]; huber centers [n] */
    int m;
    double lambda;
    int count;                  /* evaluations recorded */
    float ex[SEQ_MAX_EVALS][SEQ_MAX_N], ef[SEQ_MAX_EVALS];
} seq_problem;

static void seq_eval(const seq_problem *p, const float *xf, double *f, double *g) {
    double x[SEQ_MAX_N];
    for (int i = 0; i < p->n; i++)
        x[i] = xf[i];
    if (p->kind == SEQ_ROSENBROCK) {
        double a = x[0], b = x[1], r = b - a * a;
        *f = (1.0 - a) * (1.0 - a) + 100.0 * r * r;
        g[0] = -2.0 * (1.0 - a) - 400.0 * a * r;
        g[1] = 200.0 * r;
    } else if (p->kind == SEQ_QUARTIC) {
        const double t = x[0];
        *f = -t + 0.5 * t * t + QUARTIC_B3 * t * t * t + QUARTIC_B4 * t * t * t * t;
        g[0] = -1.0 + t + 3.0 * QUARTIC_B3 * t * t + 4.0 * QUARTIC_B4 * t * t * t;
    } else if (p->kind == SEQ_WIGGLY) { /* sum x^2 / 2 + 0.3 sin(5 x_i + i) */
        *f = 0.0;
        for (int i = 0; i < p->n; i++) {
            *f += 0.5 * x[i] * x[i] + 0.3 * sin(5.0 * x[i] + i);
            g[i] = x[i] + 1.5 * cos(5.0 * x[i] + i);
        }
    } else if (p->kind == SEQ_HUBER) {
        *f = 0.0;
        for (int i = 0; i < p->n; i++) {
            double r = x[i] - (double)p->c[i];
            int quad = fabs(r) < 1.0;
            *f += quad ? 0.5 * r * r : fabs(r) - 0.5;
            g[i] = quad ? r : (r > 0.0) - (r < 0.0);
        }
    } else { /* mean_i softplus(z_i) - y_i z_i + lambda/2 |w|^2, z = A w */
        double sum = 0.0, ww = 0.0;
        for (int j = 0; j < p->n; j++)
            g[j] = 0.0;
        for (int i = 0; i < p->m; i++) {
            double z = 0.0, yi = p->y[i];
            for (int j = 0; j < p->n; j++)
                z += (double)p->a[i * p->n + j] * x[j];
            sum += (z > 0.0 ? z + log1p(exp(-z)) : log1p(exp(z))) - yi * z;
            double s = 1.0 / (1.0 + exp(-z));
            for (int j = 0; j < p->n; j++)
                g[j] += (double)p->a[i * p->n + j] * (s - yi);
        }
        for (int j = 0; j < p->n; j++) {
            ww += x[j] * x[j];
            g[j] = g[j] / p->m + p->lambda * x[j];
        }
        *f = sum / p->m + 0.5 * p->lambda * ww;
    }
}

static ax_status seq_objective(void *user, const ax_tensor *x, float *loss, ax_tensor *grad) {
    seq_problem *p = user;
    float xf[SEQ_MAX_N], gf[SEQ_MAX_N];
    double f, g[SEQ_MAX_N];
    TRY(ax_tensor_to_host(x, xf, (size_t)p->n * sizeof(float)));
    seq_eval(p, xf, &f, g);
    *loss = (float)f;
    for (int i = 0; i < p->n; i++)
        gf[i] = (float)g[i];
    if (p->count < SEQ_MAX_EVALS) {
        memcpy(p->ex[p->count], xf, (size_t)p->n * sizeof(float));
        p->ef[p->count] = *loss;
    }
    p->count++;
    return grad ? ax_tensor_set_from_host(grad, gf, (size_t)p->n * sizeof(float)) : AX_OK;
}

/* The config a seq_* case describes, with max_iter = k. */
static ax_lbfgs_config seq_config(const gd_case *c, int k) {
    ax_lbfgs_config cfg = ax_lbfgs_defaults();
    cfg.max_iter = k;
    cfg.max_eval = (int)gd_scalar(c, "max_eval");
    cfg.history_size = (int)gd_scalar(c, "history_size");
    cfg.lr = gd_scalar(c, "lr");
    cfg.line_search = gd_scalar(c, "wolfe") != 0.0f ? AX_LINE_SEARCH_STRONG_WOLFE
                                                     : AX_LINE_SEARCH_NONE;
    return cfg;
}

/* Points and losses agree to this: both sides evaluate the same f32 objective, and differ
 * only in how f32 steps and dot products are rounded (PyTorch fuses x + t d into one
 * multiply-add and sums dots in f32 BLAS; we round twice and sum in double), which moves an
 * iterate by a few ulps; a changed test or constant moves it by far more. Rosenbrock's
 * valley amplifies those ulps (to ~3e-4 relative after 15 iterations), hence its wider
 * tolerance. */
#define SEQ_ATOL 1e-6
#define SEQ_RTOL 2e-5

/* L-BFGS (one run of max_iter = K) calls the objective at the points torch.optim.LBFGS did,
 * in the same order, and (runs with max_iter = k) ends each iteration at PyTorch's iterate,
 * with its step length t, n_iter and evaluation count. */
static void check_sequence(const char *name, seq_kind kind, double atol, double rtol) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load("lbfgs", name);
    const gd_tensor *x0 = gd_get(c, "x0"), *ex = gd_get(c, "ex"), *ef = gd_get(c, "ef"),
                    *xs = gd_get(c, "xs"), *ts = gd_get(c, "ts"), *n_iter = gd_get(c, "n_iter"),
                    *evals = gd_get(c, "evals");
    seq_problem *p = calloc(1, sizeof *p);
    cr_assert(p);
    p->kind = kind;
    p->n = (int)x0->numel;
    cr_assert(p->n <= SEQ_MAX_N && ex->shape[0] <= SEQ_MAX_EVALS);
    if (kind == SEQ_LOGREG) {
        p->a = gd_get(c, "a")->f;
        p->y = gd_get(c, "y")->f;
        p->m = (int)gd_get(c, "y")->numel;
        p->lambda = gd_scalar(c, "lambda");
    } else if (kind == SEQ_HUBER) {
        p->c = gd_get(c, "c")->f;
    }
    const int big_k = (int)gd_scalar(c, "max_iter"), n = p->n, e_count = (int)ex->shape[0];
    ax_tensor *x = gd_tensor_on(ctx, c, "x0");
    char what[128];

    /* the whole run: every evaluation, and the iterates the monitor is shown */
    xs_monitor mon = {.x = calloc((size_t)big_k * (size_t)n, sizeof(float)), .n = n,
                      .max = big_k};
    cr_assert(mon.x && big_k <= 64);
    ax_lbfgs_config cfg = seq_config(c, big_k);
    cfg.monitor = record_x;
    cfg.monitor_user = &mon;
    ax_opt_report rep;
    AX_ASSERT_OK(ax_lbfgs_minimize(ctx, &cfg, seq_objective, p, x, &rep));
    const int no_ls = cfg.line_search == AX_LINE_SEARCH_NONE;
    /* without a line search we evaluate the last iterate, PyTorch does not */
    const int extra = no_ls && rep.reason == AX_OPT_STOP_MAX_ITER;
    for (int e = 0; e < e_count && e < p->count; e++) {
        snprintf(what, sizeof what, "%s: evaluation %d's point", name, e + 1);
        th_assert_close(p->ex[e], ex->f + (size_t)e * (size_t)n, n, atol, rtol, what);
        snprintf(what, sizeof what, "%s: evaluation %d's loss", name, e + 1);
        th_assert_close(&p->ef[e], &ef->f[e], 1, atol, rtol, what);
    }
    cr_assert_eq(rep.evaluations, e_count + extra, "%s: %d evaluations, PyTorch %d", name,
                 rep.evaluations, e_count);
    cr_assert_eq(rep.iterations, n_iter->i[big_k - 1], "%s: %d iterations, PyTorch's n_iter %d",
                 name, rep.iterations, n_iter->i[big_k - 1]);
    for (int k = 0; k < mon.calls && k < big_k; k++) {
        snprintf(what, sizeof what, "%s: the monitor's iterate %d", name, k + 1);
        th_assert_close(mon.x + (size_t)k * (size_t)n, xs->f + (size_t)k * (size_t)n, n,
                        atol, rtol, what);
    }

    /* runs stopped after k iterations: the iterate, t, n_iter and the evaluations */
    for (int k = 1; k <= big_k; k++) {
        float got[SEQ_MAX_N];
        cfg = seq_config(c, k);
        p->count = 0;
        AX_ASSERT_OK(ax_tensor_set_from_host(x, x0->f, (size_t)n * sizeof(float)));
        AX_ASSERT_OK(ax_lbfgs_minimize(ctx, &cfg, seq_objective, p, x, &rep));
        AX_ASSERT_OK(ax_tensor_to_host(x, got, (size_t)n * sizeof(float)));
        snprintf(what, sizeof what, "%s: x after max_iter = %d", name, k);
        th_assert_close(got, xs->f + (size_t)(k - 1) * (size_t)n, n, atol, rtol, what);
        const float t = (float)rep.step;
        snprintf(what, sizeof what, "%s: t of iteration %d", name, rep.iterations);
        th_assert_close(&t, &ts->f[k - 1], 1, 1e-7, rtol, what);
        cr_assert_eq(rep.iterations, n_iter->i[k - 1], "%s: max_iter = %d: %d iterations, "
                     "PyTorch's n_iter %d", name, k, rep.iterations, n_iter->i[k - 1]);
        const int more = no_ls && rep.reason == AX_OPT_STOP_MAX_ITER;
        cr_assert_eq(rep.evaluations, evals->i[k - 1] + more,
                     "%s: max_iter = %d: %d evaluations, PyTorch %d", name, k, rep.evaluations,
                     evals->i[k - 1]);
    }
    free(mon.x);
    free(p);
    ax_tensor_destroy(x);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

Test(golden, lbfgs_sequence_rosenbrock_strong_wolfe) {
    check_sequence("seq_rosenbrock_wolfe", SEQ_ROSENBROCK, 1e-4, 1e-3);
}

Test(golden, lbfgs_sequence_logreg_strong_wolfe) {
    check_sequence("seq_logreg_wolfe", SEQ_LOGREG, SEQ_ATOL, SEQ_RTOL);
}

Test(golden, lbfgs_sequence_logreg_fixed_step) {
    check_sequence("seq_logreg_fixed", SEQ_LOGREG, SEQ_ATOL, SEQ_RTOL);
}

Test(golden, lbfgs_sequence_wiggly_strong_wolfe) {
    check_sequence("seq_wiggly_wolfe", SEQ_WIGGLY, 1e-4, 1e-3);
}

Test(golden, lbfgs_sequence_skips_flat_curvature_pairs) {
    check_sequence("seq_huber_skip", SEQ_HUBER, SEQ_ATOL, SEQ_RTOL);
}

/* ---------------------------------------------------------------- scipy's Newton-CG */

/* The exact Hessian-vector product of a seq_problem (Rosenbrock or logistic regression), in
 * double from the f32 point and vector. */
static ax_status seq_hvp(void *user, const ax_tensor *x, const ax_tensor *v, ax_tensor *hv) {
    const seq_problem *p = user;
    float xf[SEQ_MAX_N], vf[SEQ_MAX_N], out[SEQ_MAX_N];
    double hvd[SEQ_MAX_N] = {0};
    TRY(ax_tensor_to_host(x, xf, (size_t)p->n * sizeof(float)));
    TRY(ax_tensor_to_host(v, vf, (size_t)p->n * sizeof(float)));
    if (p->kind == SEQ_ROSENBROCK) {
        double a = xf[0], b = xf[1];
        double h00 = 2.0 - 400.0 * b + 1200.0 * a * a, h01 = -400.0 * a, h11 = 200.0;
        hvd[0] = h00 * vf[0] + h01 * vf[1];
        hvd[1] = h01 * vf[0] + h11 * vf[1];
    } else if (p->kind == SEQ_QUARTIC) {
        const double t = xf[0];
        hvd[0] = (1.0 + 6.0 * QUARTIC_B3 * t + 12.0 * QUARTIC_B4 * t * t) * vf[0];
    } else { /* A^T diag(s (1 - s)) A v / m + lambda v */
        for (int i = 0; i < p->m; i++) {
            double z = 0.0, av = 0.0;
            for (int j = 0; j < p->n; j++) {
                z += (double)p->a[i * p->n + j] * xf[j];
                av += (double)p->a[i * p->n + j] * vf[j];
            }
            const double s = 1.0 / (1.0 + exp(-z));
            for (int j = 0; j < p->n; j++)
                hvd[j] += (double)p->a[i * p->n + j] * s * (1.0 - s) * av;
        }
        for (int j = 0; j < p->n; j++)
            hvd[j] = hvd[j] / p->m + p->lambda * vf[j];
    }
    for (int j = 0; j < p->n; j++)
        out[j] = (float)hvd[j];
    return ax_tensor_set_from_host(hv, out, (size_t)p->n * sizeof(float));
}

/* Newton-CG with scipy's settings (no gradient or loss-change test; its xtol, iteration
 * limits, forcing term and line search) takes scipy's iterates (tests/golden/
 * gen_newton_cg.py), within `rtol` over the first `prefix` iterations (scipy runs in double,
 * we in f32; with finite differences by more: scipy's step is 1.5e-8, ours ~3e-4, and the
 * products carry ~1e-3 relative error, which moves an iterate by ~5e-4), and as many
 * iterations as scipy, within `slack`. */
static void check_newton_cg(const char *name, seq_kind kind, int prefix, double atol,
                            double rtol, int slack) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load("newton_cg", name);
    const gd_tensor *xs = gd_get(c, "xs"), *fs = gd_get(c, "fs");
    const int exact = gd_scalar(c, "exact") != 0.0f, nit = gd_get(c, "nit")->i[0];
    seq_problem *p = calloc(1, sizeof *p);
    cr_assert(p);
    p->kind = kind;
    p->n = (int)gd_get(c, "x0")->numel;
    if (kind == SEQ_LOGREG) {
        p->a = gd_get(c, "a")->f;
        p->y = gd_get(c, "y")->f;
        p->m = (int)gd_get(c, "y")->numel;
        p->lambda = gd_scalar(c, "lambda");
    }
    const int n = p->n;
    xs_monitor mon = {.x = calloc((size_t)64 * (size_t)n, sizeof(float)), .n = n, .max = 64};
    cr_assert(mon.x);
    ax_tensor *x = gd_tensor_on(ctx, c, "x0");
    ax_newton_cg_config cfg = ax_newton_cg_defaults();
    cfg.tolerance_grad = 0.0f;
    cfg.tolerance_change = 0.0f;
    cfg.monitor = record_x;
    cfg.monitor_user = &mon;
    ax_opt_report rep;
    AX_ASSERT_OK(ax_newton_cg_minimize(ctx, &cfg, seq_objective, exact ? seq_hvp : NULL, p, x,
                                       &rep));
    cr_log_info("Newton-CG %s: %d iterations (scipy %d), %s, f = %g", name, rep.iterations, nit,
                ax_opt_stop_str(rep.reason), (double)rep.loss);
    /* where scipy's last steps change f by less than f32 resolves, our search finds no
     * decrease: a line-search stop there is the f32 form of scipy's step-size stop */
    /* (also one or two iterations after scipy's end, when f32 rounding of the last steps
     * differs: then the final loss must be scipy's) */
    int f32_end = rep.reason == AX_OPT_STOP_LINE_SEARCH;
    for (int k = rep.iterations < nit ? rep.iterations : nit - 1; f32_end && k < nit; k++)
        f32_end = fabs((double)fs->f[k] - rep.loss) <= 1e-7 * fabs((double)rep.loss) + 1e-12;
    const int compare = f32_end && rep.iterations < nit ? rep.iterations : nit;
    char what[96];
    for (int k = 0; k < prefix && k < compare; k++) {
        cr_assert(k < mon.calls, "%s: stopped after %d iterations (%s), scipy took %d", name,
                  mon.calls, ax_opt_stop_str(rep.reason), nit);
        snprintf(what, sizeof what, "%s: iterate %d", name, k + 1);
        th_assert_close(mon.x + (size_t)k * (size_t)n, xs->f + (size_t)k * (size_t)n, n, atol,
                        rtol, what);
        snprintf(what, sizeof what, "%s: f at iterate %d", name, k + 1);
        th_assert_close(&mon.loss[k], &fs->f[k], 1, atol, rtol, what);
    }
    cr_assert(rep.reason == AX_OPT_STOP_STEP_TOL || f32_end, "%s: stopped by %s", name,
              ax_opt_stop_str(rep.reason));
    cr_assert((f32_end && rep.iterations < nit) || abs(rep.iterations - nit) <= slack,
              "%s: %d iterations, scipy %d", name, rep.iterations, nit);
    free(mon.x);
    free(p);
    ax_tensor_destroy(x);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

/* The unit step lands where f' = 0 with too little decrease: a search that skipped or
 * weakened the sufficient-decrease test would stop there (x = 1) instead of at scipy's 0.408. */
Test(golden, newton_cg_sufficient_decrease_as_scipy) {
    check_newton_cg("quartic_exact", SEQ_QUARTIC, 64, 1e-6, 1e-5, 0);
}

/* From x = 0.9 the curvature is negative: CG's first step is -(g.g / |d.Hd|) g, as scipy's. */
Test(golden, newton_cg_negative_curvature_as_scipy) {
    check_newton_cg("quartic_negative", SEQ_QUARTIC, 64, 1e-6, 1e-5, 0);
}

Test(golden, newton_cg_logreg_exact_as_scipy) {
    check_newton_cg("logreg_exact", SEQ_LOGREG, 64, 1e-5, 1e-5, 0);
}

Test(golden, newton_cg_logreg_finite_differences_as_scipy) {
    check_newton_cg("logreg_fd", SEQ_LOGREG, 64, 1e-4, 2e-3, 1);
}

Test(golden, newton_cg_rosenbrock_exact_as_scipy) {
    check_newton_cg("rosenbrock_exact", SEQ_ROSENBROCK, 20, 1e-4, 1e-4, 8);
}

/* The case the issue met: finite differences from (-1.2, 1) used to stop at the iteration
 * limit (50) with f = 0.8; scipy needs 85 iterations here, its limit is 200 n. */
Test(golden, newton_cg_rosenbrock_finite_differences_as_scipy) {
    check_newton_cg("rosenbrock_fd", SEQ_ROSENBROCK, 10, 1e-3, 5e-3, 10);
}

/* ---------------------------------------------------------------- the dot product */

/* ax_dot (or ax_abs_max when b is NULL) of host data on ctx, the scalar read back. */
static float dot_on(ax_ctx *ctx, const float *a, const float *b, int64_t n) {
    ax_tensor *ta = th_tensor(ctx, 1, &n, a), *tb = b ? th_tensor(ctx, 1, &n, b) : NULL;
    const int64_t one = 1;
    ax_tensor *out = th_nan_tensor(ctx, 1, &one);
    AX_ASSERT_OK(b ? ax_dot(ctx, ta, tb, out) : ax_abs_max(ctx, ta, out));
    float v;
    AX_ASSERT_OK(ax_tensor_to_host(out, &v, sizeof v));
    ax_tensor_destroy(ta);
    ax_tensor_destroy(tb);
    ax_tensor_destroy(out);
    return v;
}

/* One 1 and 2^22 - 1 terms of 2^-26: each term is below half an ulp of the running sum, so
 * one f32 accumulator adding them in order stays at 1; the sum is 1 + (2^22 - 1) 2^-26 =
 * 1.0624999851 (exact in double, 1.0625 in f32). Then random data against a long double
 * reference, to the last bit but one. */
Test(dot, accurate_where_one_f32_accumulator_is_not) {
    ax_ctx *ctx = th_cpu_ctx();
    const int64_t n = (int64_t)1 << 22;
    float *a = malloc((size_t)n * sizeof *a), *ones = malloc((size_t)n * sizeof *ones);
    cr_assert(a && ones);
    float naive = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        a[i] = i == 0 ? 1.0f : ldexpf(1.0f, -26);
        ones[i] = 1.0f;
        naive += a[i] * ones[i];
    }
    const double exact = 1.0 + (double)(n - 1) * ldexp(1.0, -26);
    const float got = dot_on(ctx, a, ones, n);
    cr_assert(got == (float)exact, "dot = %.9g, exact %.9g (one f32 accumulator: %.9g)",
              (double)got, exact, (double)naive);
    cr_assert(naive == 1.0f, "the case no longer shows the f32 accumulator's error");

    const int64_t m = 1000003;
    th_random(a, m, 91, -1.0f, 1.0f);
    th_random(ones, m, 92, -1.0f, 1.0f);
    long double ref = 0.0L;
    for (int64_t i = 0; i < m; i++)
        ref += (long double)a[i] * (long double)ones[i];
    const float d = dot_on(ctx, a, ones, m);
    cr_assert(fabsl((long double)d - ref) <= 0.5000001L * ldexpl(1.0L, ilogbl(ref) - 23),
              "dot = %.9g, reference %.12Lg: more than half an ulp off", (double)d, ref);
    free(a);
    free(ones);
    ax_ctx_destroy(ctx);
}

Test(dot, extremes_and_single_elements) {
    ax_ctx *ctx = th_cpu_ctx();
    const float inf = INFINITY;
    cr_assert_eq(dot_on(ctx, (float[]){3}, (float[]){-4}, 1), -12.0f);
    cr_assert(isnan(dot_on(ctx, (float[]){1, NAN, 2}, (float[]){1, 1, 1}, 3)));
    cr_assert(isnan(dot_on(ctx, (float[]){inf, 1}, (float[]){0, 1}, 2))); /* inf * 0 */
    cr_assert(isnan(dot_on(ctx, (float[]){inf, inf}, (float[]){1, -1}, 2))); /* inf - inf */
    cr_assert_eq(dot_on(ctx, (float[]){inf, 5}, (float[]){2, 1}, 2), inf);
    /* the products are exact in double: 1e20 * 1e20 overflows f32 only when rounded */
    cr_assert_eq(dot_on(ctx, (float[]){1e20f}, (float[]){1e20f}, 1), inf);
    cr_assert_eq(dot_on(ctx, (float[]){1e20f, -1e20f}, (float[]){1e20f, 1e20f}, 2), 0.0f);
    cr_assert_eq(dot_on(ctx, (float[]){1e-30f}, (float[]){1e-30f}, 1), 0.0f); /* underflow */

    /* max |x|: NaN wins wherever it is, -0 and +0 give 0, -inf gives inf */
    cr_assert_eq(dot_on(ctx, (float[]){-3, 2}, NULL, 2), 3.0f);
    cr_assert_eq(dot_on(ctx, (float[]){-0.0f}, NULL, 1), 0.0f);
    cr_assert(!signbit(dot_on(ctx, (float[]){-0.0f}, NULL, 1)));
    cr_assert_eq(dot_on(ctx, (float[]){1, -inf, 2}, NULL, 3), inf);
    for (int at = 0; at < 3; at++) {
        float v[3] = {5, -7, 6};
        v[at] = NAN;
        cr_assert(isnan(dot_on(ctx, v, NULL, 3)), "NaN at %d lost", at);
    }
    ax_ctx_destroy(ctx);
}

/* The same inputs give the same bits, run after run and in either order, on each device;
 * CUDA agrees with the CPU to an ulp (both sum in double and round once). */
static void check_dot_repeatable(ax_ctx *ctx, ax_ctx *ref_ctx) {
    const int64_t sizes[] = {1, 7, 33, 257, 4099, 1000003};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const int64_t n = sizes[k], one = 1;
        ax_tensor *a = th_random_tensor(ctx, 1, &n, 500 + (uint64_t)k, -2, 2, 0);
        ax_tensor *b = th_random_tensor(ctx, 1, &n, 600 + (uint64_t)k, -2, 2, 0);
        ax_tensor *out = th_nan_tensor(ctx, 1, &one);
        float first = 0, again = 0, swapped = 0, mx = 0;
        AX_ASSERT_OK(ax_dot(ctx, a, b, out));
        AX_ASSERT_OK(ax_tensor_to_host(out, &first, sizeof first));
        for (int r = 0; r < 3; r++) {
            AX_ASSERT_OK(ax_dot(ctx, a, b, out));
            AX_ASSERT_OK(ax_tensor_to_host(out, &again, sizeof again));
            cr_assert(memcmp(&first, &again, sizeof first) == 0, "n = %lld: %.9g then %.9g",
                      (long long)n, (double)first, (double)again);
        }
        AX_ASSERT_OK(ax_dot(ctx, b, a, out));
        AX_ASSERT_OK(ax_tensor_to_host(out, &swapped, sizeof swapped));
        cr_assert(memcmp(&first, &swapped, sizeof first) == 0);
        AX_ASSERT_OK(ax_abs_max(ctx, a, out));
        AX_ASSERT_OK(ax_tensor_to_host(out, &mx, sizeof mx));
        float *ha = th_to_host(a), *hb = th_to_host(b);
        double ref = 0.0, ref_max = 0.0;
        for (int64_t i = 0; i < n; i++) {
            ref += (double)ha[i] * hb[i];
            ref_max = fmax(ref_max, fabs((double)ha[i]));
        }
        cr_assert_eq(mx, (float)ref_max, "n = %lld: max |a| = %g, expected %g", (long long)n,
                     (double)mx, ref_max);
        if (ref_ctx) { /* the CPU reference on the same data */
            float want = dot_on(ref_ctx, ha, hb, n);
            cr_assert(fabsf(first - want) <= ldexpf(fabsf(want), -23) + 1e-30f,
                      "n = %lld: GPU %.9g, CPU %.9g", (long long)n, (double)first,
                      (double)want);
        } else {
            cr_assert(fabs((double)first - ref) <= ldexp(fabs(ref), -23) + 1e-30,
                      "n = %lld: %.9g vs %.12g", (long long)n, (double)first, ref);
        }
        free(ha);
        free(hb);
        ax_tensor_destroy(a);
        ax_tensor_destroy(b);
        ax_tensor_destroy(out);
    }
}

Test(dot, deterministic_on_the_cpu) {
    ax_ctx *ctx = th_cpu_ctx();
    check_dot_repeatable(ctx, NULL);
    ax_ctx_destroy(ctx);
}

Test(parity, dot_deterministic_and_matches_cpu) {
    ax_ctx *gpu = th_gpu_ctx_or_skip(), *cpu = th_cpu_ctx();
    check_dot_repeatable(gpu, cpu);
    /* the f32 accumulator's trap and NaN on the GPU too */
    const int64_t n = (int64_t)1 << 22;
    float *a = malloc((size_t)n * sizeof *a), *ones = malloc((size_t)n * sizeof *ones);
    cr_assert(a && ones);
    for (int64_t i = 0; i < n; i++) {
        a[i] = i == 0 ? 1.0f : ldexpf(1.0f, -26);
        ones[i] = 1.0f;
    }
    cr_assert_eq(dot_on(gpu, a, ones, n), (float)(1.0 + (double)(n - 1) * ldexp(1.0, -26)));
    a[n / 2] = NAN;
    cr_assert(isnan(dot_on(gpu, a, ones, n)));
    cr_assert(isnan(dot_on(gpu, a, NULL, n)));
    a[n / 2] = -INFINITY;
    cr_assert_eq(dot_on(gpu, a, NULL, n), INFINITY);
    free(a);
    free(ones);
    ax_ctx_destroy(gpu);
    ax_ctx_destroy(cpu);
}

Test(badinput, dot_and_abs_max) {
    ax_ctx *ctx = th_cpu_ctx(), *other = th_cpu_ctx();
    const int64_t three = 3, two = 2, one = 1;
    ax_tensor *a = th_random_tensor(ctx, 1, &three, 1, -1, 1, 0);
    ax_tensor *b = th_random_tensor(ctx, 1, &two, 2, -1, 1, 0);
    ax_tensor *out = th_nan_tensor(ctx, 1, &one), *out2 = th_nan_tensor(ctx, 1, &two);
    ax_tensor *far = th_nan_tensor(other, 1, &one), *labels = NULL;
    AX_ASSERT_OK(ax_tensor_create(ctx, AX_I32, 1, &three, &labels));
    AX_ASSERT_FAILS(ax_dot(ctx, a, b, out), AX_ERR_SHAPE, "ax_dot");
    AX_ASSERT_FAILS(ax_dot(ctx, a, a, out2), AX_ERR_SHAPE, "ax_dot");
    AX_ASSERT_FAILS(ax_dot(ctx, a, a, far), AX_ERR_DEVICE, "ax_dot");
    AX_ASSERT_FAILS(ax_dot(ctx, a, labels, out), AX_ERR_DTYPE, "ax_dot");
    AX_ASSERT_FAILS(ax_dot(ctx, NULL, a, out), AX_ERR_INVALID_ARG, "ax_dot");
    AX_ASSERT_FAILS(ax_dot(NULL, a, a, out), AX_ERR_INVALID_ARG, "ax_dot");
    AX_ASSERT_FAILS(ax_dot(ctx, out, out, out), AX_ERR_INVALID_ARG, "ax_dot"); /* aliasing */
    AX_ASSERT_FAILS(ax_abs_max(ctx, a, out2), AX_ERR_SHAPE, "ax_abs_max");
    AX_ASSERT_FAILS(ax_abs_max(ctx, a, NULL), AX_ERR_INVALID_ARG, "ax_abs_max");
    AX_ASSERT_FAILS(ax_abs_max(ctx, labels, out), AX_ERR_DTYPE, "ax_abs_max");
    AX_ASSERT_FAILS(ax_abs_max(ctx, out, out), AX_ERR_INVALID_ARG, "ax_abs_max");
    float v;
    AX_ASSERT_OK(ax_tensor_to_host(out, &v, sizeof v));
    cr_assert(isnan(v), "a refused call wrote out");
    ax_tensor *all[] = {a, b, out, out2, far, labels};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ax_tensor_destroy(all[i]);
    ax_ctx_destroy(ctx);
    ax_ctx_destroy(other);
}

/* ---------------------------------------------------------------- bad input */

Test(badinput, second_order_configs_and_arguments) {
    ax_ctx *ctx = th_cpu_ctx(), *other = th_cpu_ctx();
    quadratic q;
    quadratic_init(&q, 1.0);
    ax_tensor *x = quadratic_start(ctx), *x_other = quadratic_start(other), *xi = NULL;
    const int64_t shape[1] = {QUAD_N};
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_I32, 1, shape, &xi));
    ax_opt_report rep;
    const ax_lbfgs_config l0 = ax_lbfgs_defaults();
    const ax_newton_cg_config n0 = ax_newton_cg_defaults();
    const ax_gradient_descent_config g0 = ax_gradient_descent_defaults();
    ax_lbfgs_config l = l0;
    ax_newton_cg_config n = n0;
    ax_gradient_descent_config g = g0;

    AX_ASSERT_FAILS(ax_lbfgs_minimize(ctx, &l, NULL, &q, x, &rep), AX_ERR_INVALID_ARG,
                    "ax_lbfgs_minimize");
    AX_ASSERT_FAILS(ax_lbfgs_minimize(ctx, NULL, quadratic_loss, &q, x, &rep),
                    AX_ERR_INVALID_ARG, "ax_lbfgs_minimize");
    AX_ASSERT_FAILS(ax_lbfgs_minimize(NULL, &l, quadratic_loss, &q, x, &rep),
                    AX_ERR_INVALID_ARG, "ax_lbfgs_minimize");
    AX_ASSERT_FAILS(ax_lbfgs_minimize(ctx, &l, quadratic_loss, &q, NULL, &rep),
                    AX_ERR_INVALID_ARG, "ax_lbfgs_minimize");
    AX_ASSERT_FAILS(ax_lbfgs_minimize(ctx, &l, quadratic_loss, &q, xi, &rep), AX_ERR_DTYPE,
                    "ax_lbfgs_minimize");
    AX_ASSERT_FAILS(ax_lbfgs_minimize(ctx, &l, quadratic_loss, &q, x_other, &rep),
                    AX_ERR_DEVICE, "ax_lbfgs_minimize");
    l.history_size = -1;
    AX_ASSERT_FAILS(ax_lbfgs_minimize(ctx, &l, quadratic_loss, &q, x, &rep),
                    AX_ERR_INVALID_ARG, "ax_lbfgs_minimize");
    cr_assert(strstr(ax_last_error(), "history_size"));
    l = l0;
    l.lr = 0.0f;
    AX_ASSERT_FAILS(ax_lbfgs_minimize(ctx, &l, quadratic_loss, &q, x, &rep),
                    AX_ERR_INVALID_ARG, "ax_lbfgs_minimize");
    l = l0;
    l.line_search = (ax_line_search)7;
    AX_ASSERT_FAILS(ax_lbfgs_minimize(ctx, &l, quadratic_loss, &q, x, &rep),
                    AX_ERR_INVALID_ARG, "ax_lbfgs_minimize");
    l = l0;
    l.max_iter = 0;
    AX_ASSERT_FAILS(ax_lbfgs_minimize(ctx, &l, quadratic_loss, &q, x, &rep),
                    AX_ERR_INVALID_ARG, "ax_lbfgs_minimize");

    n.damping = -1.0f;
    AX_ASSERT_FAILS(ax_newton_cg_minimize(ctx, &n, quadratic_loss, NULL, &q, x, &rep),
                    AX_ERR_INVALID_ARG, "ax_newton_cg_minimize");
    n = n0;
    n.forcing_max = 1.0f;
    AX_ASSERT_FAILS(ax_newton_cg_minimize(ctx, &n, quadratic_loss, NULL, &q, x, &rep),
                    AX_ERR_INVALID_ARG, "ax_newton_cg_minimize");
    n = n0;
    n.cg_max_iter = -1;
    AX_ASSERT_FAILS(ax_newton_cg_minimize(ctx, &n, quadratic_loss, NULL, &q, x, &rep),
                    AX_ERR_INVALID_ARG, "ax_newton_cg_minimize");
    n = n0;
    AX_ASSERT_FAILS(ax_newton_cg_minimize(ctx, &n, NULL, quadratic_hvp, &q, x, &rep),
                    AX_ERR_INVALID_ARG, "ax_newton_cg_minimize");
    AX_ASSERT_FAILS(ax_newton_cg_minimize(ctx, &n, quadratic_loss, NULL, &q, xi, &rep),
                    AX_ERR_DTYPE, "ax_newton_cg_minimize");

    g.lr = NAN;
    AX_ASSERT_FAILS(ax_gradient_descent_minimize(ctx, &g, quadratic_loss, &q, x, &rep),
                    AX_ERR_INVALID_ARG, "ax_gradient_descent_minimize");
    g = g0;
    AX_ASSERT_FAILS(ax_gradient_descent_minimize(ctx, &g, NULL, &q, x, &rep),
                    AX_ERR_INVALID_ARG, "ax_gradient_descent_minimize");
    cr_assert_eq(q.calls, 0, "the objective was called before the checks were done");

    ax_tensor_destroy(x);
    ax_tensor_destroy(x_other);
    ax_tensor_destroy(xi);
    ax_ctx_destroy(ctx);
    ax_ctx_destroy(other);
}

Test(badinput, second_order_callback_failures) {
    ax_ctx *ctx = th_cpu_ctx();
    quadratic q;
    quadratic_init(&q, 0.1);
    ax_tensor *x = quadratic_start(ctx);
    ax_opt_report rep;
    float before[QUAD_N], after[QUAD_N];

    /* the objective fails at its 4th call: its status comes back, x is the last iterate */
    ax_lbfgs_config l = ax_lbfgs_defaults();
    l.line_search = AX_LINE_SEARCH_STRONG_WOLFE;
    q.fail_at = 4;
    AX_ASSERT_FAILS(ax_lbfgs_minimize(ctx, &l, quadratic_loss, &q, x, &rep), AX_ERR_IO,
                    "ax_lbfgs_minimize");
    cr_assert(strstr(ax_last_error(), "objective"), "%s", ax_last_error());
    cr_assert_eq(rep.reason, AX_OPT_STOP_NONE);
    cr_assert(!rep.converged);
    AX_ASSERT_OK(ax_tensor_to_host(x, after, sizeof after));
    for (int i = 0; i < QUAD_N; i++)
        cr_assert(isfinite(after[i]));

    /* a NaN loss stops with AX_ERR_INVALID_ARG and leaves x as it was */
    q.fail_at = 0;
    q.calls = 0;
    q.nan_at = 1;
    AX_ASSERT_OK(ax_tensor_to_host(x, before, sizeof before));
    AX_ASSERT_FAILS(ax_lbfgs_minimize(ctx, &l, quadratic_loss, &q, x, &rep),
                    AX_ERR_INVALID_ARG, "ax_lbfgs_minimize");
    cr_assert(strstr(ax_last_error(), "non-finite"), "%s", ax_last_error());
    AX_ASSERT_OK(ax_tensor_to_host(x, after, sizeof after));
    th_assert_equal(after, before, QUAD_N, "x after a NaN loss");

    /* Newton-CG: a failing hvp callback propagates its status */
    q.nan_at = 0;
    ax_newton_cg_config n = ax_newton_cg_defaults();
    AX_ASSERT_OK(ax_fill(ctx, x, 0.0f));
    AX_ASSERT_FAILS(ax_newton_cg_minimize(ctx, &n, quadratic_loss, failing_hvp, &q, x, &rep),
                    AX_ERR_UNSUPPORTED, "ax_newton_cg_minimize");
    cr_assert(strstr(ax_last_error(), "hvp"), "%s", ax_last_error());

    /* gradient descent with a step far beyond 2/L diverges to an infinite loss: an error,
     * and x is the last finite iterate */
    ax_gradient_descent_config g = ax_gradient_descent_defaults();
    g.lr = 1e3f;
    g.max_iter = 100000;
    AX_ASSERT_OK(ax_fill(ctx, x, 0.0f));
    AX_ASSERT_FAILS(ax_gradient_descent_minimize(ctx, &g, quadratic_loss, &q, x, &rep),
                    AX_ERR_INVALID_ARG, "ax_gradient_descent_minimize");
    AX_ASSERT_OK(ax_tensor_to_host(x, after, sizeof after));
    for (int i = 0; i < QUAD_N; i++)
        cr_assert(isfinite(after[i]), "x[%d] = %g", i, (double)after[i]);
    cr_assert(isfinite(rep.loss) && rep.iterations > 0);

    ax_tensor_destroy(x);
    ax_ctx_destroy(ctx);
}
