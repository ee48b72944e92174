/* Public entry points of the GEMM: C = alpha op(A) op(B) + beta C, batched (strided) or not,
 * and its backward. Both run on the backend's one gemm entry. */
#include <stdarg.h>
#include <stdio.h>

#include "check.h"

/* A matrix operand as the backend sees it: row length ld, `stride` elements between batch
 * entries (0: one matrix shared by every entry). */
typedef struct gemm_mat {
    float *p;
    int64_t ld, stride;
} gemm_mat;

/* One GEMM in backend terms: Z[i] = alpha op(X[i]) op(Y[i]) + beta Z[i] for i < batch,
 * op(X[i]) [m, k], op(Y[i]) [k, n], Z[i] [m, n]. A Z with stride 0 and batch > 1 receives
 * the sum of the batch's products (the gradient of a shared operand). */
typedef struct gemm_call {
    int tx, ty;
    int64_t m, n, k, batch;
    gemm_mat x, y, z;
} gemm_call;

/* The sizes of a checked ax_gemm: op(A) [m, k], op(B) [k, n], C [batch, m, n]. */
typedef struct gemm_dims {
    int64_t m, n, k, batch;
} gemm_dims;

/* A 2-D tensor is one shared matrix; a 3-D one [batch, rows, cols] has a matrix per entry. */
static gemm_mat operand(const ax_tensor *t) {
    int64_t rows = t->shape[t->ndim - 2], cols = t->shape[t->ndim - 1];
    return (gemm_mat){ax_f32(t), cols, t->ndim == 3 ? rows * cols : 0};
}

static ax_status check_trans(const char *fn, const char *name, ax_transpose t) {
    if (t == AX_NO_TRANS || t == AX_TRANS)
        return AX_OK;
    return ax_fail(AX_ERR_INVALID_ARG, fn, "%s = %d is neither AX_NO_TRANS nor AX_TRANS", name,
                   (int)t);
}

/* AX_ERR_SHAPE naming the three operands and the reason (a printf format). */
static ax_status shape_error(const char *fn, ax_transpose ta, const ax_tensor *a,
                             ax_transpose tb, const ax_tensor *b, const ax_tensor *c,
                             const char *c_name, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 8, 9)))
#endif
    ;
static ax_status shape_error(const char *fn, ax_transpose ta, const ax_tensor *a,
                             ax_transpose tb, const ax_tensor *b, const ax_tensor *c,
                             const char *c_name, const char *fmt, ...) {
    char reason[256], sa[128], sb[128], sc[128];
    va_list args;
    va_start(args, fmt);
    vsnprintf(reason, sizeof reason, fmt, args);
    va_end(args);
    return ax_fail(AX_ERR_SHAPE, fn, "a %s%s, b %s%s, %s %s: %s", ax_shape_str(a, sa, sizeof sa),
                   ta ? " (transposed)" : "", ax_shape_str(b, sb, sizeof sb),
                   tb ? " (transposed)" : "", c_name, ax_shape_str(c, sc, sizeof sc), reason);
}

/* The checks of C = op(A) op(B) shared by the forward and the backward (where dC takes C's
 * place): dtypes, contexts, transposes and shapes. */
static ax_status check_gemm(const char *fn, ax_ctx *ctx, ax_transpose ta, ax_transpose tb,
                            const ax_tensor *a, const ax_tensor *b, const ax_tensor *c,
                            const char *c_name, gemm_dims *dims) {
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(ax_check_tensor(fn, ctx, a, "a", AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, b, "b", AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, c, c_name, AX_F32));
    AX_TRY(check_trans(fn, "trans_a", ta));
    AX_TRY(check_trans(fn, "trans_b", tb));
    AX_TRY(ax_check_ndim(fn, a, "a", 2, 3));
    AX_TRY(ax_check_ndim(fn, b, "b", 2, 3));
    AX_TRY(ax_check_ndim(fn, c, c_name, 2, 3));

    /* op(A) [m, k], op(B) [kb, n] */
    int64_t ar = a->shape[a->ndim - 2], ac = a->shape[a->ndim - 1];
    int64_t br = b->shape[b->ndim - 2], bc = b->shape[b->ndim - 1];
    int64_t m = ta ? ac : ar, k = ta ? ar : ac;
    int64_t kb = tb ? bc : br, n = tb ? br : bc;
    if (k != kb)
        return shape_error(fn, ta, a, tb, b, c, c_name,
                           "op(a) has %lld columns but op(b) has %lld rows", (long long)k,
                           (long long)kb);
    if (c->shape[c->ndim - 2] != m || c->shape[c->ndim - 1] != n)
        return shape_error(fn, ta, a, tb, b, c, c_name, "%s must end in [%lld, %lld]", c_name,
                           (long long)m, (long long)n);
    int64_t batch = c->ndim == 3 ? c->shape[0] : 1;
    if (c->ndim == 2 && (a->ndim == 3 || b->ndim == 3))
        return shape_error(fn, ta, a, tb, b, c, c_name,
                           "a batched product needs a 3-d %s [batch, %lld, %lld]", c_name,
                           (long long)m, (long long)n);
    if ((a->ndim == 3 && a->shape[0] != batch) || (b->ndim == 3 && b->shape[0] != batch))
        return shape_error(fn, ta, a, tb, b, c, c_name, "the batch sizes differ");
    *dims = (gemm_dims){m, n, k, batch};
    return AX_OK;
}

static ax_status launch(ax_ctx *ctx, const gemm_call *g, float alpha, float beta) {
    return ctx->backend->gemm(ctx, g->tx, g->ty, g->m, g->n, g->k, alpha, g->x.p, g->x.ld,
                              g->x.stride, g->y.p, g->y.ld, g->y.stride, beta, g->z.p, g->z.ld,
                              g->z.stride, g->batch);
}

/* Run a gemm_call on the backend, with fewer and larger products where the layout allows. */
static ax_status run_gemm(ax_ctx *ctx, gemm_call g, float alpha, float beta) {
    if (g.batch > 1 && g.z.stride != 0) {
        /* X[i] stacked, Y shared: [batch m, k] op(Y) is one product */
        if (!g.tx && g.y.stride == 0 && g.x.stride == g.m * g.x.ld && g.z.stride == g.m * g.z.ld) {
            g.m *= g.batch;
            g.batch = 1;
        }
        return launch(ctx, &g, alpha, beta);
    }
    if (g.batch > 1) {
        /* sum_i X[i]^T Y[i] with X[i] [k, m], Y[i] [k, n] stacked by rows is one product
         * over k' = batch k */
        if (g.tx && !g.ty && g.x.stride == g.k * g.x.ld && g.y.stride == g.k * g.y.ld) {
            g.k *= g.batch;
            g.batch = 1;
            return launch(ctx, &g, alpha, beta);
        }
        /* otherwise one product per entry, the later ones accumulated (beta = 1) */
        gemm_call one = g;
        one.batch = 1;
        for (int64_t i = 0; i < g.batch; i++) {
            one.x.p = g.x.p + i * g.x.stride;
            one.y.p = g.y.p + i * g.y.stride;
            AX_TRY(launch(ctx, &one, alpha, i == 0 ? beta : 1.0f));
        }
        return AX_OK;
    }
    return launch(ctx, &g, alpha, beta);
}

/* alpha and beta are not checked: like BLAS, non-finite values propagate into C (except that
 * beta = 0 never reads C). */
ax_status ax_gemm(ax_ctx *ctx, ax_transpose trans_a, ax_transpose trans_b, float alpha,
                  const ax_tensor *a, const ax_tensor *b, float beta, ax_tensor *c) {
    gemm_dims d = {0, 0, 0, 0};
    AX_TRY(check_gemm(__func__, ctx, trans_a, trans_b, a, b, c, "c", &d));
    AX_TRY(ax_check_no_alias(__func__, c, "c", a, "a"));
    AX_TRY(ax_check_no_alias(__func__, c, "c", b, "b"));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->gemm != NULL));
    gemm_call g = {trans_a, trans_b, d.m, d.n, d.k, d.batch, operand(a), operand(b),
                   operand(c)};
    return run_gemm(ctx, g, alpha, beta);
}

/* For C = alpha op(A) op(B), with op(A) [m, k], op(B) [k, n]:
 *   d op(A) = alpha dC op(B)^T [m, k]      d op(B) = alpha op(A)^T dC [k, n]
 * so, per transpose:
 *   trans_a N: dA = alpha dC op(B)^T       trans_a T: dA = alpha op(B) dC^T   [k, m]
 *   trans_b N: dB = alpha op(A)^T dC       trans_b T: dB = alpha dC^T op(A)   [n, k]
 * A shared (2-D) operand of a batched product gets the sum over the batch. */
ax_status ax_gemm_backward(ax_ctx *ctx, ax_transpose trans_a, ax_transpose trans_b,
                           float alpha, const ax_tensor *a, const ax_tensor *b,
                           const ax_tensor *dc, ax_tensor *da, ax_tensor *db) {
    gemm_dims d = {0, 0, 0, 0};
    AX_TRY(check_gemm(__func__, ctx, trans_a, trans_b, a, b, dc, "dc", &d));
    AX_TRY(ax_check_optional(__func__, ctx, da, "da", AX_F32));
    AX_TRY(ax_check_optional(__func__, ctx, db, "db", AX_F32));
    if (da) {
        AX_TRY(ax_check_same_shape(__func__, a, "a", da, "da"));
        AX_TRY(ax_check_no_alias(__func__, da, "da", a, "a"));
        AX_TRY(ax_check_no_alias(__func__, da, "da", b, "b"));
        AX_TRY(ax_check_no_alias(__func__, da, "da", dc, "dc"));
    }
    if (db) {
        AX_TRY(ax_check_same_shape(__func__, b, "b", db, "db"));
        AX_TRY(ax_check_no_alias(__func__, db, "db", a, "a"));
        AX_TRY(ax_check_no_alias(__func__, db, "db", b, "b"));
        AX_TRY(ax_check_no_alias(__func__, db, "db", dc, "dc"));
        AX_TRY(ax_check_no_alias(__func__, db, "db", da, "da"));
    }
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->gemm != NULL));
    gemm_mat ma = operand(a), mb = operand(b), mdc = operand(dc);
    if (da) {
        gemm_call g = trans_a ? (gemm_call){trans_b, 1, d.k, d.m, d.n, d.batch, mb, mdc,
                                            operand(da)}
                              : (gemm_call){0, !trans_b, d.m, d.k, d.n, d.batch, mdc, mb,
                                            operand(da)};
        AX_TRY(run_gemm(ctx, g, alpha, 0.0f));
    }
    if (db) {
        gemm_call g = trans_b ? (gemm_call){1, trans_a, d.n, d.k, d.m, d.batch, mdc, ma,
                                            operand(db)}
                              : (gemm_call){!trans_a, 0, d.k, d.n, d.m, d.batch, ma, mdc,
                                            operand(db)};
        AX_TRY(run_gemm(ctx, g, alpha, 0.0f));
    }
    return AX_OK;
}
