/* Tensors: a dtype, up to AX_MAX_DIMS dims, contiguous row-major storage on a context. */
#include <stdlib.h>
#include <string.h>

#include "../backend.h"
#include "alloc.h"
#include "handles.h"
#include "view.h"

/* Validate a shape and compute its element count without overflow, also of its bytes at
 * elem_size each. */
static ax_status check_shape(const char *fn, int ndim, const int64_t *shape, size_t elem_size,
                             int64_t *numel) {
    if (ndim < 0 || ndim > AX_MAX_DIMS)
        return ax_fail(AX_ERR_SHAPE, fn, "ndim %d is outside [0, %d]", ndim, AX_MAX_DIMS);
    if (ndim > 0 && !shape)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "shape is NULL");
    const int64_t limit = INT64_MAX / (int64_t)elem_size; /* bytes must fit too */
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return ax_fail(AX_ERR_SHAPE, fn, "dim %d is %lld; every dim must be >= 1", i,
                           (long long)shape[i]);
        if (n > limit / shape[i])
            return ax_fail(AX_ERR_SHAPE, fn, "the shape's element count overflows");
        n *= shape[i];
    }
    *numel = n;
    return AX_OK;
}

static ax_status check_dtype(const char *fn, ax_dtype dtype) {
    if (ax_dtype_size(dtype) == 0)
        return ax_fail(AX_ERR_DTYPE, fn, "unknown dtype %d", (int)dtype);
    return AX_OK;
}

/* A tensor; with storage of its own when backed, else data NULL until someone points it. */
static ax_status tensor_new(const char *fn, ax_ctx *ctx, ax_dtype dtype, int ndim,
                            const int64_t *shape, int backed, ax_tensor **out) {
    if (!out)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "out is NULL");
    *out = NULL;
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(check_dtype(fn, dtype));
    int64_t numel;
    AX_TRY(check_shape(fn, ndim, shape, ax_dtype_size(dtype), &numel));
    ax_tensor *t = ax_calloc(1, sizeof *t);
    if (!t)
        return ax_fail(AX_ERR_OOM, fn, "out of host memory");
    ax_status st = backed ? ax_device_alloc(fn, ctx, (size_t)numel * ax_dtype_size(dtype), &t->data)
                          : AX_OK;
    if (st == AX_OK) {
        st = ax_handle_add(fn, t, AX_HANDLE_TENSOR);
        if (st != AX_OK)
            ax_device_free(ctx, t->data);
    }
    if (st != AX_OK) {
        free(t);
        return st;
    }
    t->ctx = ctx;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->numel = numel;
    t->capacity = numel;
    ax_ctx_retain(ctx);
    *out = t;
    return AX_OK;
}

ax_status ax_tensor_create(ax_ctx *ctx, ax_dtype dtype, int ndim, const int64_t *shape,
                           ax_tensor **out) {
    return tensor_new(__func__, ctx, dtype, ndim, shape, 1, out);
}

ax_status ax_tensor_create_unbacked(const char *fn, ax_ctx *ctx, ax_dtype dtype, int ndim,
                                    const int64_t *shape, ax_tensor **out) {
    return tensor_new(fn, ctx, dtype, ndim, shape, 0, out);
}

/* Zero t's storage (capacity elements). */
static ax_status fill_zeros(const char *fn, ax_tensor *t) {
    ax_ctx *ctx = t->ctx;
    switch (t->dtype) { /* every dtype's zero is all bits 0, but each fill has its own type */
    case AX_F32: return ctx->backend->fill_f32(ctx, t->data, t->capacity, 0.0f);
    case AX_I32: return ctx->backend->fill_i32(ctx, t->data, t->capacity, 0);
    default:
        return ax_fail(AX_ERR_UNSUPPORTED, fn, "no fill for %s tensors", ax_dtype_name(t->dtype));
    }
}

ax_status ax_tensor_back_zeros(const char *fn, ax_tensor *t) {
    void *data;
    AX_TRY(ax_device_alloc(fn, t->ctx, (size_t)t->capacity * ax_dtype_size(t->dtype), &data));
    ax_tensor_borrow(t, NULL);
    t->data = data;
    ax_status st = fill_zeros(fn, t);
    if (st != AX_OK)
        ax_tensor_borrow(t, NULL);
    return st;
}

ax_status ax_tensor_zeros(ax_ctx *ctx, ax_dtype dtype, int ndim, const int64_t *shape,
                          ax_tensor **out) {
    AX_TRY(tensor_new(__func__, ctx, dtype, ndim, shape, 1, out));
    ax_status st = fill_zeros(__func__, *out);
    if (st != AX_OK) {
        ax_tensor *t = *out;
        ax_tensor_destroy(t);
        *out = NULL;
    }
    return st;
}

ax_status ax_tensor_from_host(ax_ctx *ctx, ax_dtype dtype, int ndim, const int64_t *shape,
                              const void *data, ax_tensor **out) {
    if (!data) {
        if (out)
            *out = NULL;
        return AX_FAIL(AX_ERR_INVALID_ARG, "data is NULL");
    }
    AX_TRY(tensor_new(__func__, ctx, dtype, ndim, shape, 1, out));
    ax_tensor *t = *out;
    ax_status st = ctx->backend->copy_to_device(ctx, t->data, data, ax_tensor_nbytes(t));
    if (st != AX_OK) {
        ax_tensor_destroy(t);
        *out = NULL;
    }
    return st;
}

void ax_tensor_destroy(ax_tensor *t) {
    if (!ax_handle_remove(t, AX_HANDLE_TENSOR))
        return; /* NULL, destroyed already, or not a tensor */
    ax_ctx *ctx = t->ctx;
    ax_device_free(ctx, t->data);
    free(t);
    ax_ctx_release(ctx);
}

static ax_status check_bytes(const char *fn, const ax_tensor *t, size_t bytes) {
    if (bytes != ax_tensor_nbytes(t))
        return ax_fail(AX_ERR_SHAPE, fn, "buffer has %zu bytes, the tensor has %zu", bytes,
                       ax_tensor_nbytes(t));
    return AX_OK;
}

ax_status ax_tensor_to_host(const ax_tensor *t, void *dst, size_t bytes) {
    AX_TRY(ax_check_live(__func__, t, "t"));
    if (!dst)
        return AX_FAIL(AX_ERR_INVALID_ARG, "dst is NULL");
    AX_TRY(check_bytes(__func__, t, bytes));
    return t->ctx->backend->copy_to_host(t->ctx, dst, t->data, bytes);
}

ax_status ax_tensor_set_from_host(ax_tensor *t, const void *src, size_t bytes) {
    AX_TRY(ax_check_live(__func__, t, "t"));
    if (!src)
        return AX_FAIL(AX_ERR_INVALID_ARG, "src is NULL");
    AX_TRY(check_bytes(__func__, t, bytes));
    return t->ctx->backend->copy_to_device(t->ctx, t->data, src, bytes);
}

ax_status ax_tensor_copy(ax_tensor *dst, const ax_tensor *src) {
    AX_TRY(ax_check_live(__func__, dst, "dst"));
    AX_TRY(ax_check_live(__func__, src, "src"));
    if (dst->dtype != src->dtype)
        return AX_FAIL(AX_ERR_DTYPE, "dst and src have different dtypes");
    if (dst->numel != src->numel)
        return AX_FAIL(AX_ERR_SHAPE, "dst has %lld elements, src has %lld",
                       (long long)dst->numel, (long long)src->numel);
    if (dst->data == src->data)
        return AX_OK;
    size_t bytes = ax_tensor_nbytes(src);
    const struct ax_backend *db = dst->ctx->backend, *sb = src->ctx->backend;
    if (dst->ctx == src->ctx)
        return db->copy_on_device(dst->ctx, dst->data, src->data, bytes);
    if (sb == &ax_cpu_backend) /* host -> dst's device */
        return db->copy_to_device(dst->ctx, dst->data, src->data, bytes);
    if (db == &ax_cpu_backend) /* src's device -> host */
        return sb->copy_to_host(src->ctx, dst->data, src->data, bytes);
    /* between two device contexts: stage through the host */
    void *staging = ax_malloc(bytes);
    if (!staging)
        return AX_FAIL(AX_ERR_OOM, "out of host memory for a %zu-byte staging buffer", bytes);
    ax_status st = sb->copy_to_host(src->ctx, staging, src->data, bytes);
    if (st == AX_OK)
        st = db->copy_to_device(dst->ctx, dst->data, staging, bytes);
    free(staging);
    return st;
}

ax_status ax_tensor_swap01(const char *fn, const ax_tensor *src, ax_tensor *dst) {
    AX_TRY(ax_check_live(fn, src, "src"));
    AX_TRY(ax_check_live(fn, dst, "dst"));
    if (src->ndim != 3 || dst->ndim != 3 || dst->ctx != src->ctx ||
        dst->dtype != src->dtype || dst->shape[0] != src->shape[1] ||
        dst->shape[1] != src->shape[0] || dst->shape[2] != src->shape[2])
        return ax_fail(AX_ERR_SHAPE, fn, "a swap of dims 0 and 1 needs [A, B, C] -> [B, A, C] "
                       "of one context and dtype");
    const struct ax_backend *be = src->ctx->backend;
    if (!be->copy_2d_on_device)
        return ax_fail(AX_ERR_UNSUPPORTED, fn, "the %s backend has no strided copy", be->name);
    const int64_t a = src->shape[0], b = src->shape[1];
    const size_t row = (size_t)src->shape[2] * ax_dtype_size(src->dtype);
    for (int64_t i = 0; i < a; i++) /* src[i] [B, C] -> column block i of dst */
        AX_TRY(be->copy_2d_on_device(src->ctx, (char *)dst->data + (size_t)i * row,
                                     (size_t)a * row, (const char *)src->data +
                                     (size_t)(i * b) * row, row, row, (size_t)b));
    return AX_OK;
}

ax_status ax_tensor_reshape(ax_tensor *t, int ndim, const int64_t *shape) {
    AX_TRY(ax_check_live(__func__, t, "t"));
    int64_t numel;
    AX_TRY(check_shape(__func__, ndim, shape, ax_dtype_size(t->dtype), &numel));
    if (numel != t->numel)
        return AX_FAIL(AX_ERR_SHAPE, "new shape has %lld elements, the tensor has %lld",
                       (long long)numel, (long long)t->numel);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    return AX_OK;
}

ax_status ax_tensor_set_rows(const char *fn, ax_tensor *t, int64_t rows) {
    AX_TRY(ax_check_live(fn, t, "t"));
    if (t->ndim < 1)
        return ax_fail(AX_ERR_SHAPE, fn, "a scalar tensor has no rows");
    int64_t row = t->numel / t->shape[0]; /* elements per row */
    if (rows < 1 || rows > t->capacity / row)
        return ax_fail(AX_ERR_SHAPE, fn, "%lld rows do not fit: room for 1 to %lld",
                       (long long)rows, (long long)(t->capacity / row));
    t->shape[0] = rows;
    t->numel = rows * row;
    return AX_OK;
}

ax_status ax_tensor_view_open(const char *fn, ax_tensor *view) {
    return ax_handle_add(fn, view, AX_HANDLE_TENSOR);
}

void ax_tensor_view_close(ax_tensor *view) { ax_handle_remove(view, AX_HANDLE_TENSOR); }

static int valid(const ax_tensor *t) { return ax_handle_live(t, AX_HANDLE_TENSOR); }

int ax_tensor_ndim(const ax_tensor *t) { return valid(t) ? t->ndim : 0; }

int64_t ax_tensor_dim(const ax_tensor *t, int axis) {
    if (!valid(t))
        return 0;
    int a = axis < 0 ? axis + t->ndim : axis;
    return a >= 0 && a < t->ndim ? t->shape[a] : 0;
}

int64_t ax_tensor_numel(const ax_tensor *t) { return valid(t) ? t->numel : 0; }

ax_dtype ax_tensor_dtype(const ax_tensor *t) { return valid(t) ? t->dtype : AX_F32; }

size_t ax_tensor_nbytes(const ax_tensor *t) {
    return valid(t) ? (size_t)t->numel * ax_dtype_size(t->dtype) : 0;
}

ax_ctx *ax_tensor_ctx(const ax_tensor *t) { return valid(t) ? t->ctx : NULL; }

void *ax_tensor_data(ax_tensor *t) { return valid(t) ? t->data : NULL; }

const void *ax_tensor_const_data(const ax_tensor *t) { return valid(t) ? t->data : NULL; }
