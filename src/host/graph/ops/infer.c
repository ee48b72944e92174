/* Shape-inference helpers shared by the op descriptors. */
#include <string.h>

#include "../graph_internal.h"

#include "../../ops/check.h"

const char *ax_node_shape_str(const ax_node *n, char *buf, size_t size) {
    return ax_shape_str(n->value, buf, size);
}

void ax_infer_like(const ax_node *x, ax_out_shape *out) {
    out->dtype = AX_F32;
    out->ndim = x->value->ndim;
    memcpy(out->shape, x->value->shape, (size_t)out->ndim * sizeof *out->shape);
    out->batched = x->batched;
}

void ax_infer_scalar(ax_out_shape *out) {
    out->dtype = AX_F32;
    out->ndim = 0;
    out->batched = 0;
}

ax_status ax_infer_same(const char *fn, const char *me, const ax_node *a, const char *an,
                        const ax_node *b, const char *bn) {
    const ax_tensor *ta = a->value, *tb = b->value;
    int same = ta->ndim == tb->ndim && a->batched == b->batched;
    for (int i = 0; same && i < ta->ndim; i++)
        same = ta->shape[i] == tb->shape[i];
    if (same)
        return AX_OK;
    char sa[128], sb[128];
    return ax_fail(AX_ERR_SHAPE, fn, "node '%s': %s '%s' has shape %s%s, %s '%s' has shape %s%s",
                   me, an, a->name, ax_node_shape_str(a, sa, sizeof sa),
                   a->batched ? " (batched)" : "", bn, b->name,
                   ax_node_shape_str(b, sb, sizeof sb), b->batched ? " (batched)" : "");
}
