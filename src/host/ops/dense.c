/* Public entry points of the dense (linear) layer, composed of the backend's gemm, bias_add and
 * bias_grad entries. Shapes: x [N, in], w [out, in] (nn.Linear's layout), b [out],
 * y and dy [N, out]. */
#include "check.h"

/* x, w and y (or dy) are f32 tensors of ctx with fitting shapes; *n, *in, *out receive N, in
 * and out. */
static ax_status check_dense(const char *fn, ax_ctx *ctx, const ax_tensor *x,
                             const ax_tensor *w, const ax_tensor *y, const char *y_name,
                             int64_t *n, int64_t *in, int64_t *out) {
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(ax_check_tensor(fn, ctx, x, "x", AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, w, "w", AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, y, y_name, AX_F32));
    AX_TRY(ax_check_ndim(fn, x, "x", 2, 2));
    AX_TRY(ax_check_ndim(fn, w, "w", 2, 2));
    AX_TRY(ax_check_ndim(fn, y, y_name, 2, 2));
    char sx[128], sw[128], sy[128];
    if (x->shape[1] != w->shape[1])
        return ax_fail(AX_ERR_SHAPE, fn, "x has shape %s but w has shape %s: in features differ",
                       ax_shape_str(x, sx, sizeof sx), ax_shape_str(w, sw, sizeof sw));
    if (y->shape[0] != x->shape[0] || y->shape[1] != w->shape[0])
        return ax_fail(AX_ERR_SHAPE, fn, "%s has shape %s, expected [%lld, %lld] (x %s, w %s)",
                       y_name, ax_shape_str(y, sy, sizeof sy), (long long)x->shape[0],
                       (long long)w->shape[0], ax_shape_str(x, sx, sizeof sx),
                       ax_shape_str(w, sw, sizeof sw));
    *n = x->shape[0];
    *in = x->shape[1];
    *out = w->shape[0];
    return AX_OK;
}

/* The bias (or its gradient) has `out` elements. */
static ax_status check_bias(const char *fn, ax_ctx *ctx, const ax_tensor *b, const char *name,
                            int64_t out) {
    AX_TRY(ax_check_optional(fn, ctx, b, name, AX_F32));
    return b ? ax_check_numel(fn, b, name, out) : AX_OK;
}

/* An output (NULL allowed) aliases none of the three inputs. */
static ax_status check_no_alias3(const char *fn, const ax_tensor *t, const char *name,
                                 const ax_tensor *x, const ax_tensor *w, const ax_tensor *y,
                                 const char *y_name) {
    AX_TRY(ax_check_no_alias(fn, t, name, x, "x"));
    AX_TRY(ax_check_no_alias(fn, t, name, w, "w"));
    return ax_check_no_alias(fn, t, name, y, y_name);
}

/* C [m, n] = op(A) op(B) on the backend, one unbatched product. */
static ax_status gemm2d(ax_ctx *ctx, int ta, int tb, int64_t m, int64_t n, int64_t k,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float *c) {
    return ctx->backend->gemm(ctx, ta, tb, m, n, k, 1.0f, a, lda, 0, b, ldb, 0, 0.0f, c, n, 0,
                              1);
}

ax_status ax_dense_forward(ax_ctx *ctx, const ax_tensor *x, const ax_tensor *w,
                           const ax_tensor *b, ax_tensor *y) {
    int64_t n = 0, in = 0, out = 0;
    AX_TRY(check_dense(__func__, ctx, x, w, y, "y", &n, &in, &out));
    AX_TRY(check_bias(__func__, ctx, b, "b", out));
    AX_TRY(check_no_alias3(__func__, y, "y", x, w, b, "b"));
    const struct ax_backend *be = ctx->backend;
    AX_TRY(ax_backend_ready(__func__, ctx, be->gemm != NULL && (!b || be->bias_add != NULL)));
    AX_TRY(gemm2d(ctx, 0, 1, n, out, in, ax_f32(x), in, ax_f32(w), in, ax_f32(y))); /* x W^T */
    if (b)
        AX_TRY(be->bias_add(ctx, ax_f32(y), ax_f32(b), n, out, 1));
    return AX_OK;
}

ax_status ax_dense_backward(ax_ctx *ctx, const ax_tensor *x, const ax_tensor *w,
                            const ax_tensor *dy, ax_tensor *dx, ax_tensor *dw, ax_tensor *db) {
    int64_t n = 0, in = 0, out = 0;
    AX_TRY(check_dense(__func__, ctx, x, w, dy, "dy", &n, &in, &out));
    AX_TRY(ax_check_optional(__func__, ctx, dx, "dx", AX_F32));
    AX_TRY(ax_check_optional(__func__, ctx, dw, "dw", AX_F32));
    AX_TRY(check_bias(__func__, ctx, db, "db", out));
    if (dx)
        AX_TRY(ax_check_same_shape(__func__, x, "x", dx, "dx"));
    if (dw)
        AX_TRY(ax_check_same_shape(__func__, w, "w", dw, "dw"));
    AX_TRY(check_no_alias3(__func__, dx, "dx", x, w, dy, "dy"));
    AX_TRY(check_no_alias3(__func__, dw, "dw", x, w, dy, "dy"));
    AX_TRY(check_no_alias3(__func__, db, "db", x, w, dy, "dy"));
    AX_TRY(ax_check_no_alias(__func__, dw, "dw", dx, "dx"));
    AX_TRY(ax_check_no_alias(__func__, db, "db", dx, "dx"));
    AX_TRY(ax_check_no_alias(__func__, db, "db", dw, "dw"));
    const struct ax_backend *be = ctx->backend;
    AX_TRY(ax_backend_ready(__func__, ctx,
                         (!(dx || dw) || be->gemm != NULL) && (!db || be->bias_grad != NULL)));
    if (dx) /* dx [N, in] = dy [N, out] W [out, in] */
        AX_TRY(gemm2d(ctx, 0, 0, n, in, out, ax_f32(dy), out, ax_f32(w), in, ax_f32(dx)));
    if (dw) /* dw [out, in] = dy^T x */
        AX_TRY(gemm2d(ctx, 1, 0, out, in, n, ax_f32(dy), out, ax_f32(x), in, ax_f32(dw)));
    if (db) /* db [out] = column sums of dy */
        AX_TRY(be->bias_grad(ctx, ax_f32(dy), ax_f32(db), n, out, 1));
    return AX_OK;
}
