/* Shape-inference helpers shared by the op descriptors. */
#include <string.h>

#include "../graph_internal.h"

#include "../../ops/check.h"

ax_status ax_infer_rows(const char *fn, const char *me, const ax_node *x, const char *what) {
    if (x->time_axis < 0 && (!x->batched || x->batch_axis == 0))
        return AX_OK;
    char sx[128];
    return ax_fail(AX_ERR_SHAPE, fn, "node '%s': %s '%s' of shape %s has its batch on axis %d%s; "
                   "this op takes the batch on axis 0 and no time axis (take a time step first)",
                   me, what, x->name, ax_node_shape_str(x, sx, sizeof sx), x->batch_axis,
                   x->time_axis >= 0 ? " and a time axis" : "");
}

const char *ax_node_shape_str(const ax_node *n, char *buf, size_t size) {
    return ax_shape_str(n->value, buf, size);
}

void ax_infer_like(const ax_node *x, ax_out_shape *out) {
    out->dtype = AX_F32;
    out->ndim = x->value->ndim;
    memcpy(out->shape, x->value->shape, (size_t)out->ndim * sizeof *out->shape);
    out->batched = x->batched;
    out->batch_axis = x->batch_axis;
    out->time_axis = x->time_axis;
}

void ax_infer_scalar(ax_out_shape *out) {
    out->dtype = AX_F32;
    out->ndim = 0;
    out->batched = 0;
}

ax_status ax_infer_same(const char *fn, const char *me, const ax_node *a, const char *an,
                        const ax_node *b, const char *bn) {
    const ax_tensor *ta = a->value, *tb = b->value;
    int same = ta->ndim == tb->ndim && a->batched == b->batched &&
               (!a->batched || a->batch_axis == b->batch_axis) && a->time_axis == b->time_axis;
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

ax_status ax_graph_rows_open(const ax_tensor *t, ax_tensor *view, const ax_tensor **as) {
    if (!t || t->ndim == 2) {
        *as = t;
        return AX_OK;
    }
    *view = *t;
    view->ndim = 2;
    view->shape[1] = t->shape[t->ndim - 1];
    view->shape[0] = t->numel / view->shape[1];
    *as = view;
    return ax_tensor_view_open("ax_graph_rows_open", view);
}

void ax_graph_rows_close(const ax_tensor *as, ax_tensor *view) {
    if (as == view)
        ax_tensor_view_close(view);
}
