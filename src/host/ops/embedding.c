/* Public entry points of the embedding lookup and its backward: shapes, dtypes and aliasing
 * are checked here once; the indices' range is checked by the backend, which alone reads them
 * (the CPU at once, CUDA on the device, reported by the next synchronizing call: ops.h). */
#include "check.h"

/* indices (i32, any shape), weight-shaped [V, D] (f32, 2-D: table or its gradient) and
 * rows (f32, n D elements with last dim D: out or dout) of ctx. */
static ax_status check_embedding(const char *fn, ax_ctx *ctx, const ax_tensor *indices,
                                 const ax_tensor *table, const char *table_name,
                                 const ax_tensor *rows, const char *rows_name) {
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(ax_check_tensor(fn, ctx, indices, "indices", AX_I32));
    AX_TRY(ax_check_tensor(fn, ctx, table, table_name, AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, rows, rows_name, AX_F32));
    AX_TRY(ax_check_ndim(fn, table, table_name, 2, 2));
    int64_t dim = table->shape[1];
    char sr[128], st[128];
    if (rows->ndim < 1 || rows->shape[rows->ndim - 1] != dim ||
        rows->numel / dim != indices->numel)
        return ax_fail(AX_ERR_SHAPE, fn,
                       "%s has shape %s; with %lld indices and %s %s it must hold %lld rows "
                       "of %lld (last dim %lld)",
                       rows_name, ax_shape_str(rows, sr, sizeof sr), (long long)indices->numel,
                       table_name, ax_shape_str(table, st, sizeof st),
                       (long long)indices->numel, (long long)dim, (long long)dim);
    return AX_OK;
}

ax_status ax_embedding_forward(ax_ctx *ctx, const ax_tensor *indices, const ax_tensor *weight,
                               ax_tensor *out) {
    const char *fn = __func__;
    AX_TRY(check_embedding(fn, ctx, indices, weight, "weight", out, "out"));
    AX_TRY(ax_check_no_alias(fn, out, "out", weight, "weight"));
    AX_TRY(ax_backend_ready(fn, ctx, ctx->backend->embedding_forward != NULL));
    return ctx->backend->embedding_forward(ctx, ax_i32(indices), indices->numel, ax_f32(weight),
                                           weight->shape[0], weight->shape[1], ax_f32(out));
}

ax_status ax_embedding_backward(ax_ctx *ctx, const ax_tensor *indices, const ax_tensor *dout,
                                int accumulate, ax_tensor *dweight) {
    const char *fn = __func__;
    AX_TRY(check_embedding(fn, ctx, indices, dweight, "dweight", dout, "dout"));
    AX_TRY(ax_check_no_alias(fn, dweight, "dweight", dout, "dout"));
    AX_TRY(ax_backend_ready(fn, ctx, ctx->backend->embedding_backward != NULL));
    return ctx->backend->embedding_backward(ctx, ax_i32(indices), indices->numel, ax_f32(dout),
                                            dweight->shape[0], dweight->shape[1],
                                            accumulate != 0, ax_f32(dweight));
}
