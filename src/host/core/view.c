/* Tensors over borrowed storage (view.h). */
#include <stdlib.h>

#include "view.h"

#include "alloc.h"
#include "handles.h"

void ax_tensor_borrow(ax_tensor *t, void *storage) {
    ax_device_free(t->ctx, t->data);
    t->data = storage;
}

void ax_tensor_destroy_borrowed(ax_tensor *t) {
    if (!ax_handle_remove(t, AX_HANDLE_TENSOR))
        return;
    ax_ctx *ctx = t->ctx;
    free(t);
    ax_ctx_release(ctx);
}
