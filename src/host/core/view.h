/* Tensors over storage they do not own (view.c): the graph's memory plan places activations
 * and gradients in one arena and points their tensors into it. */
#ifndef AX_CORE_VIEW_H
#define AX_CORE_VIEW_H

#include "internal.h"

/* A tensor with a shape and no storage (data NULL) until it borrows some or is backed: a
 * planned activation or gradient, whose bytes the memory plan gives at compile. */
ax_status ax_tensor_create_unbacked(const char *fn, ax_ctx *ctx, ax_dtype dtype, int ndim,
                                    const int64_t *shape, ax_tensor **out);
/* Give t zeroed storage of its own (capacity elements), freeing any it had. */
ax_status ax_tensor_back_zeros(const char *fn, ax_tensor *t);
/* Free t's own storage and point it at storage (capacity elements of t's dtype, owned by
 * someone else that outlives t); NULL leaves t without storage. */
void ax_tensor_borrow(ax_tensor *t, void *storage);
/* Give t a shape of at most its capacity's elements (the dims of a planned batch or sequence
 * that is shorter than the largest); fn names the public call. */
ax_status ax_tensor_set_shape(const char *fn, ax_tensor *t, int ndim, const int64_t *shape);
/* Destroy a tensor made to borrow: its handle and struct, not the storage. NULL is fine. */
void ax_tensor_destroy_borrowed(ax_tensor *t);

#endif
