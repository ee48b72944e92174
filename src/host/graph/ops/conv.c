/* conv2d: y = conv(x, weight) + bias over NCHW (ops.h's ax_conv2d_*), with its parameters
 * "<name>.weight" [out, in/groups, kh, kw] and "<name>.bias" [out] initialised as PyTorch's
 * nn.Conv2d. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../graph_internal.h"

#include "../../ops/check.h"

typedef struct conv_params {
    ax_conv2d_desc desc;
} conv_params;

/* in: x [N, in, H, W], weight [out, in/groups, kh, kw], bias [out] (when present). */
static ax_status conv_infer(const char *fn, const char *me, ax_node *const *in,
                            const void *params, ax_out_shape *out) {
    const conv_params *p = params;
    int64_t y[4];
    char what[AX_NODE_NAME_MAX + 16];
    snprintf(what, sizeof what, "node '%s'", me);
    AX_TRY(ax_graph_rewrap(ax_conv2d_output_shape(&p->desc, in[0]->max_shape,
                                                  in[1]->max_shape, y), fn, what));
    out->dtype = AX_F32;
    out->ndim = 4;
    memcpy(out->shape, y, sizeof y);
    out->batched = in[0]->batched;
    return AX_OK;
}

static ax_status conv_forward(ax_graph *g, ax_node *node) {
    const conv_params *p = node->params;
    return ax_conv2d_forward(g->ctx, &p->desc, ax_in_value(node, 0), ax_in_value(node, 1),
                             node->n_in > 2 ? ax_in_value(node, 2) : NULL, node->value);
}

static ax_status conv_backward(ax_graph *g, ax_node *node, ax_tensor *const *dx) {
    const conv_params *p = node->params;
    return ax_conv2d_backward(g->ctx, &p->desc, ax_in_value(node, 0), ax_in_value(node, 1),
                              node->grad, dx[0], dx[1], node->n_in > 2 ? dx[2] : NULL);
}

const ax_op_desc ax_op_conv2d = {
    .name = "conv", .params_size = sizeof(conv_params), .n_out = 1,
    .saves = AX_SAVES_IN(0) | AX_SAVES_IN(1), .infer = conv_infer, .forward = conv_forward,
    .backward = conv_backward,
};

/* 0 means 1 for the strides, dilations and groups of the options. */
static int or_one(int v) { return v ? v : 1; }

/* The options checked against x [N, in, H, W] before any parameter exists. */
static ax_status check_options(const char *fn, const char *me, const ax_node *x,
                              const ax_graph_conv2d_opts *o, ax_conv2d_desc *desc) {
    char sx[128];
    if (x->value->dtype != AX_F32)
        return ax_fail(AX_ERR_DTYPE, fn, "node '%s': x '%s' holds i32, needs f32", me, x->name);
    if (x->value->ndim != 4)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': x '%s' has shape %s, needs [N, C, H, W]",
                       me, x->name, ax_node_shape_str(x, sx, sizeof sx));
    AX_TRY(ax_infer_rows(fn, me, x, "x"));
    if (o->in_channels < 0 || o->out_channels < 1 || o->kernel_h < 1 || o->kernel_w < 1)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': in_channels %lld (>= 0), out_channels "
                       "%lld and kernel %dx%d (>= 1)", me, (long long)o->in_channels,
                       (long long)o->out_channels, o->kernel_h, o->kernel_w);
    if (o->stride_h < 0 || o->stride_w < 0 || o->dilation_h < 0 || o->dilation_w < 0 ||
        o->groups < 0 || o->pad_top < 0 || o->pad_bottom < 0 || o->pad_left < 0 ||
        o->pad_right < 0)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "node '%s': a negative stride, padding, "
                       "dilation or groups", me);
    *desc = (ax_conv2d_desc){or_one(o->stride_h), or_one(o->stride_w), o->pad_top,
                             o->pad_bottom, o->pad_left, o->pad_right, or_one(o->dilation_h),
                             or_one(o->dilation_w), or_one(o->groups)};
    int64_t in = x->value->shape[1], groups = desc->groups;
    if (o->in_channels && o->in_channels != in)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': x '%s' %s has %lld channels, in_channels "
                       "is %lld", me, x->name, ax_node_shape_str(x, sx, sizeof sx),
                       (long long)in, (long long)o->in_channels);
    if (in % groups || o->out_channels % groups)
        return ax_fail(AX_ERR_SHAPE, fn, "node '%s': groups %lld do not divide the %lld input "
                       "channels of x '%s' %s and the %lld output channels", me,
                       (long long)groups, (long long)in, x->name,
                       ax_node_shape_str(x, sx, sizeof sx), (long long)o->out_channels);
    int64_t ws[4] = {o->out_channels, in / groups, o->kernel_h, o->kernel_w}, ys[4];
    ax_status st = ax_conv2d_output_shape(desc, x->max_shape, ws, ys);
    if (st != AX_OK)
        return ax_fail(st, fn, "node '%s': kernel %dx%d (dilation %dx%d) over x '%s' %s with "
                       "padding %d/%d/%d/%d: %s", me, o->kernel_h, o->kernel_w,
                       desc->dilation_h, desc->dilation_w, x->name,
                       ax_node_shape_str(x, sx, sizeof sx), desc->pad_top, desc->pad_bottom,
                       desc->pad_left, desc->pad_right, ax_last_error());
    return AX_OK;
}

ax_status ax_graph_conv2d(ax_graph *g, const char *name, ax_node *x,
                          const ax_graph_conv2d_opts *opts, ax_node **out) {
    const char *fn = __func__;
    char buf[AX_NODE_NAME_MAX], pname[AX_NODE_NAME_MAX + 8];
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    AX_TRY(ax_graph_check(fn, g));
    const char *me = ax_graph_label(g, name, "conv", buf, sizeof buf);
    AX_TRY(ax_graph_check_node(fn, g, x, "x"));
    if (!opts)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "node '%s': opts is NULL", me);
    conv_params p;
    AX_TRY(check_options(fn, me, x, opts, &p.desc));
    char node_name[AX_NODE_NAME_MAX]; /* fail before creating the parameters */
    AX_TRY(ax_graph_layer_name(fn, g, me, node_name));

    int64_t cin = x->value->shape[1] / p.desc.groups;
    int64_t ws[4] = {opts->out_channels, cin, opts->kernel_h, opts->kernel_w};
    float bound = 1.0f / sqrtf((float)(cin * opts->kernel_h * opts->kernel_w));
    ax_init winit = {.kind = AX_INIT_KAIMING_UNIFORM, .a = sqrtf(5.0f), .mode = AX_FAN_IN,
                     .nonlinearity = AX_GAIN_LEAKY_RELU};
    ax_init binit = {.kind = AX_INIT_UNIFORM, .low = -bound, .high = bound};
    ax_node *in[3] = {x, NULL, NULL};
    const char *what[] = {"x", "weight", "bias"};
    const int n_nodes = g->n_nodes, n_in = opts->no_bias ? 2 : 3;
    snprintf(pname, sizeof pname, "%s.weight", node_name);
    ax_status st = ax_graph_param(g, pname, 4, ws, &winit, &in[1]);
    snprintf(pname, sizeof pname, "%s.bias", node_name);
    if (st == AX_OK && n_in > 2)
        st = ax_graph_param(g, pname, 1, &opts->out_channels, &binit, &in[2]);
    int params_made = st == AX_OK;
    if (st == AX_OK)
        st = ax_graph_op(fn, g, node_name, &ax_op_conv2d, n_in, in, what, &p, out);
    return ax_graph_layer_end(fn, g, n_nodes, node_name, params_made, st);
}
