/* The element types: one table of name and size. A new dtype (f16, bf16, i64) is one enum
 * value in axon/core.h and one line here; everything else asks these two functions. */
#include "internal.h"

static const struct {
    const char *name;
    size_t size; /* bytes per element */
} dtypes[] = {
    [AX_F32] = {"f32", 4},
    [AX_I32] = {"i32", 4},
};

#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

static int known(ax_dtype dtype) {
    return (unsigned)dtype < N_DTYPES && dtypes[dtype].name != NULL;
}

const char *ax_dtype_name(ax_dtype dtype) { return known(dtype) ? dtypes[dtype].name : "unknown"; }

size_t ax_dtype_size(ax_dtype dtype) { return known(dtype) ? dtypes[dtype].size : 0; }
