/* Argument checks shared by the public entry points. Each check records a message that names
 * the public call (fn) and the argument, and returns its status; AX_OK when all is well. */
#ifndef AX_CHECK_H
#define AX_CHECK_H

#include "axon/ops.h"

#include "../backend.h"
#include "../core/handles.h" /* ax_check_ctx, ax_check_live */

/* t is a live tensor of ctx with the given dtype; name is the argument's name. */
ax_status ax_check_tensor(const char *fn, const ax_ctx *ctx, const ax_tensor *t,
                          const char *name, ax_dtype dtype);

/* The same, but t may be NULL (an optional output). */
ax_status ax_check_optional(const char *fn, const ax_ctx *ctx, const ax_tensor *t,
                            const char *name, ax_dtype dtype);

/* a and b have the same shape. */
ax_status ax_check_same_shape(const char *fn, const ax_tensor *a, const char *a_name,
                              const ax_tensor *b, const char *b_name);

/* t has exactly `numel` elements (one-element scalars, reduction outputs). */
ax_status ax_check_numel(const char *fn, const ax_tensor *t, const char *name, int64_t numel);

/* t has between min_ndim and max_ndim dims. */
ax_status ax_check_ndim(const char *fn, const ax_tensor *t, const char *name, int min_ndim,
                        int max_ndim);

/* t is a live one-element f32 tensor of ctx (a loss value, a penalty accumulator). */
ax_status ax_check_scalar(const char *fn, const ax_ctx *ctx, const ax_tensor *t,
                          const char *name);

/* value is finite (not NaN, not infinite). */
ax_status ax_check_finite(const char *fn, const char *name, float value);

/* a and b are not the same tensor or storage (for outputs that must not alias inputs). */
ax_status ax_check_no_alias(const char *fn, const ax_tensor *out, const char *out_name,
                            const ax_tensor *in, const char *in_name);
/* The same for each of count inputs (NULL ones are skipped). */
ax_status ax_check_no_alias_any(const char *fn, const ax_tensor *out, const char *out_name,
                                int count, const ax_tensor *const *ins,
                                const char *const *in_names);

/* Called right before an op's backend entry: present says the entry is not NULL (else
 * AX_ERR_UNSUPPORTED naming the backend); then ctx's device is made current (backend enter). */
ax_status ax_backend_ready(const char *fn, const ax_ctx *ctx, int present);

/* Normalize axis (negative counts from the end) against t's ndim; split t into
 * [outer, dim, inner] around it. */
ax_status ax_check_axis(const char *fn, const ax_tensor *t, int axis, int64_t *outer,
                        int64_t *dim, int64_t *inner);

/* "[2, 3, 4]" into buf. */
const char *ax_shape_str(const ax_tensor *t, char *buf, size_t size);

/* Float pointers of a tensor (NULL for a NULL tensor). */
static inline float *ax_f32(const ax_tensor *t) { return t ? (float *)t->data : NULL; }
static inline int32_t *ax_i32(const ax_tensor *t) { return t ? (int32_t *)t->data : NULL; }

#endif
