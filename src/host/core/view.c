/* Tensors over borrowed storage (view.h). */
#include <stdlib.h>

#include "view.h"

#include "alloc.h"
#include "handles.h"

void ax_tensor_borrow(ax_tensor *t, void *storage) {
    ax_device_free(t->ctx, t->data);
    t->data = storage;
}

ax_status ax_tensor_set_shape(const char *fn, ax_tensor *t, int ndim, const int64_t *shape) {
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++)
        numel *= shape[i];
    if (ndim < 0 || ndim > AX_MAX_DIMS || numel < 1 || numel > t->capacity)
        return ax_fail(AX_ERR_SHAPE, fn, "%lld elements do not fit the %lld allocated",
                       (long long)numel, (long long)t->capacity);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->numel = numel;
    return AX_OK;
}

void ax_tensor_destroy_borrowed(ax_tensor *t) {
    if (!ax_handle_remove(t, AX_HANDLE_TENSOR))
        return;
    ax_ctx *ctx = t->ctx;
    free(t);
    ax_ctx_release(ctx);
}
