#include "check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

ax_status ax_check_tensor(const char *fn, const ax_ctx *ctx, const ax_tensor *t,
                          const char *name, ax_dtype dtype) {
    AX_TRY(ax_check_live(fn, t, name));
    if (t->ctx != ctx)
        return ax_fail(AX_ERR_DEVICE, fn, "%s belongs to another context (%s %d, not %s %d)",
                       name, t->ctx->info.name, t->ctx->info.index, ctx->info.name,
                       ctx->info.index);
    if (t->dtype != dtype)
        return ax_fail(AX_ERR_DTYPE, fn, "%s is %s, expected %s", name, ax_dtype_name(t->dtype),
                       ax_dtype_name(dtype));
    return AX_OK;
}

ax_status ax_check_optional(const char *fn, const ax_ctx *ctx, const ax_tensor *t,
                            const char *name, ax_dtype dtype) {
    return t ? ax_check_tensor(fn, ctx, t, name, dtype) : AX_OK;
}

const char *ax_shape_str(const ax_tensor *t, char *buf, size_t size) {
    size_t used = 0;
    int n = snprintf(buf, size, "[");
    used = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < t->ndim && used < size; i++) {
        n = snprintf(buf + used, size - used, i ? ", %lld" : "%lld", (long long)t->shape[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

ax_status ax_check_same_shape(const char *fn, const ax_tensor *a, const char *a_name,
                              const ax_tensor *b, const char *b_name) {
    int same = a->ndim == b->ndim;
    for (int i = 0; same && i < a->ndim; i++)
        same = a->shape[i] == b->shape[i];
    if (same)
        return AX_OK;
    char sa[128], sb[128];
    return ax_fail(AX_ERR_SHAPE, fn, "%s has shape %s, %s has shape %s", a_name,
                   ax_shape_str(a, sa, sizeof sa), b_name, ax_shape_str(b, sb, sizeof sb));
}

ax_status ax_check_numel(const char *fn, const ax_tensor *t, const char *name, int64_t numel) {
    if (t->numel == numel)
        return AX_OK;
    char s[128];
    return ax_fail(AX_ERR_SHAPE, fn, "%s has shape %s (%lld elements), expected %lld elements",
                   name, ax_shape_str(t, s, sizeof s), (long long)t->numel, (long long)numel);
}

ax_status ax_check_ndim(const char *fn, const ax_tensor *t, const char *name, int min_ndim,
                        int max_ndim) {
    if (t->ndim >= min_ndim && t->ndim <= max_ndim)
        return AX_OK;
    char s[128];
    if (min_ndim == max_ndim)
        return ax_fail(AX_ERR_SHAPE, fn, "%s has shape %s, expected %d dims", name,
                       ax_shape_str(t, s, sizeof s), min_ndim);
    return ax_fail(AX_ERR_SHAPE, fn, "%s has shape %s, expected %d to %d dims", name,
                   ax_shape_str(t, s, sizeof s), min_ndim, max_ndim);
}

ax_status ax_check_scalar(const char *fn, const ax_ctx *ctx, const ax_tensor *t,
                          const char *name) {
    AX_TRY(ax_check_tensor(fn, ctx, t, name, AX_F32));
    return ax_check_numel(fn, t, name, 1);
}

ax_status ax_check_finite(const char *fn, const char *name, float value) {
    if (isfinite(value))
        return AX_OK;
    return ax_fail(AX_ERR_INVALID_ARG, fn, "%s = %g is not finite", name, (double)value);
}

ax_status ax_check_no_alias(const char *fn, const ax_tensor *out, const char *out_name,
                            const ax_tensor *in, const char *in_name) {
    if (out && in && out->data == in->data)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "%s must not alias %s", out_name, in_name);
    return AX_OK;
}

ax_status ax_check_no_alias_any(const char *fn, const ax_tensor *out, const char *out_name,
                                int count, const ax_tensor *const *ins,
                                const char *const *in_names) {
    for (int k = 0; k < count; k++)
        AX_TRY(ax_check_no_alias(fn, out, out_name, ins[k], in_names[k]));
    return AX_OK;
}

ax_status ax_backend_ready(const char *fn, const ax_ctx *ctx, int present) {
    if (!present)
        return ax_fail(AX_ERR_UNSUPPORTED, fn,
                       "the %s backend has no implementation of this op", ctx->backend->name);
    return ctx->backend->enter ? ctx->backend->enter(ctx, fn) : AX_OK;
}

ax_status ax_check_axis(const char *fn, const ax_tensor *t, int axis, int64_t *outer,
                        int64_t *dim, int64_t *inner) {
    int ndim = t->ndim;
    int a = axis < 0 ? axis + ndim : axis;
    if (a < 0 || a >= ndim)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "axis %d is out of range for a %d-d tensor", axis,
                       ndim);
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < a; i++)
        *outer *= t->shape[i];
    for (int i = a + 1; i < ndim; i++)
        *inner *= t->shape[i];
    *dim = t->shape[a];
    return AX_OK;
}
