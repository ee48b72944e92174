/* Public entry points of the elementwise ops: fill, scale, axpy, add, mul. */
#include <math.h>

#include "check.h"

ax_status ax_fill(ax_ctx *ctx, ax_tensor *y, float value) {
    AX_TRY(ax_check_ctx(__func__, ctx));
    AX_TRY(ax_check_live(__func__, y, "y"));
    const struct ax_backend *be = ctx->backend;
    if (y->dtype == AX_I32) {
        AX_TRY(ax_check_tensor(__func__, ctx, y, "y", AX_I32));
        if (!(value >= -2147483648.0f && value < 2147483648.0f) || value != floorf(value))
            return AX_FAIL(AX_ERR_INVALID_ARG, "value %g is not an i32 value", (double)value);
        AX_TRY(ax_backend_ready(__func__, ctx, be->fill_i32 != NULL));
        return be->fill_i32(ctx, ax_i32(y), y->numel, (int32_t)value);
    }
    AX_TRY(ax_check_tensor(__func__, ctx, y, "y", AX_F32));
    AX_TRY(ax_backend_ready(__func__, ctx, be->fill_f32 != NULL));
    return be->fill_f32(ctx, ax_f32(y), y->numel, value);
}

ax_status ax_scale(ax_ctx *ctx, float alpha, const ax_tensor *x, ax_tensor *y) {
    AX_TRY(ax_check_ctx(__func__, ctx));
    AX_TRY(ax_check_tensor(__func__, ctx, x, "x", AX_F32));
    AX_TRY(ax_check_tensor(__func__, ctx, y, "y", AX_F32));
    AX_TRY(ax_check_same_shape(__func__, x, "x", y, "y"));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->scale != NULL));
    return ctx->backend->scale(ctx, x->numel, alpha, ax_f32(x), ax_f32(y));
}

ax_status ax_axpy(ax_ctx *ctx, float alpha, const ax_tensor *x, ax_tensor *y) {
    AX_TRY(ax_check_ctx(__func__, ctx));
    AX_TRY(ax_check_tensor(__func__, ctx, x, "x", AX_F32));
    AX_TRY(ax_check_tensor(__func__, ctx, y, "y", AX_F32));
    AX_TRY(ax_check_same_shape(__func__, x, "x", y, "y"));
    AX_TRY(ax_check_no_alias(__func__, y, "y", x, "x"));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->axpy != NULL));
    return ctx->backend->axpy(ctx, x->numel, alpha, ax_f32(x), ax_f32(y));
}

/* Shared checks of the binary ops y = a op b. */
static ax_status check_binary(const char *fn, ax_ctx *ctx, const ax_tensor *a,
                              const ax_tensor *b, const ax_tensor *y) {
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(ax_check_tensor(fn, ctx, a, "a", AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, b, "b", AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, y, "y", AX_F32));
    AX_TRY(ax_check_same_shape(fn, a, "a", b, "b"));
    return ax_check_same_shape(fn, a, "a", y, "y");
}

ax_status ax_add(ax_ctx *ctx, const ax_tensor *a, const ax_tensor *b, ax_tensor *y) {
    AX_TRY(check_binary(__func__, ctx, a, b, y));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->add != NULL));
    return ctx->backend->add(ctx, a->numel, ax_f32(a), ax_f32(b), ax_f32(y));
}

ax_status ax_mul(ax_ctx *ctx, const ax_tensor *a, const ax_tensor *b, ax_tensor *y) {
    AX_TRY(check_binary(__func__, ctx, a, b, y));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->mul != NULL));
    return ctx->backend->mul(ctx, a->numel, ax_f32(a), ax_f32(b), ax_f32(y));
}

ax_status ax_mul_backward(ax_ctx *ctx, const ax_tensor *a, const ax_tensor *b,
                          const ax_tensor *dy, ax_tensor *da, ax_tensor *db) {
    AX_TRY(check_binary(__func__, ctx, a, b, dy));
    AX_TRY(ax_check_optional(__func__, ctx, da, "da", AX_F32));
    AX_TRY(ax_check_optional(__func__, ctx, db, "db", AX_F32));
    if (da)
        AX_TRY(ax_check_same_shape(__func__, a, "a", da, "da"));
    if (db)
        AX_TRY(ax_check_same_shape(__func__, b, "b", db, "db"));
    /* da is written before db is computed from a and dy, so da must alias none of them */
    AX_TRY(ax_check_no_alias(__func__, da, "da", b, "b"));
    AX_TRY(ax_check_no_alias(__func__, da, "da", a, "a"));
    AX_TRY(ax_check_no_alias(__func__, da, "da", dy, "dy"));
    AX_TRY(ax_check_no_alias(__func__, db, "db", da, "da"));
    AX_TRY(ax_backend_ready(__func__, ctx, ctx->backend->mul != NULL));
    if (da)
        AX_TRY(ctx->backend->mul(ctx, dy->numel, ax_f32(dy), ax_f32(b), ax_f32(da)));
    if (db)
        AX_TRY(ctx->backend->mul(ctx, dy->numel, ax_f32(dy), ax_f32(a), ax_f32(db)));
    return AX_OK;
}
