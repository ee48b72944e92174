#define _POSIX_C_SOURCE 200809L /* mkstemp */
/* The CNN graph layers (include/axon/graph.h): conv2d, max / average / global average
 * pooling, batch norm (1d and 2d) and flatten, trained in a small CNN against PyTorch's
 * (tests/golden/gen_cnn.py: forward, loss, every gradient and the running statistics over
 * three SGD steps with a partial last batch, then eval), checkpoints both ways, PyTorch's
 * initialisation of conv, and the builders' refusals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "golden.h"
#include "helpers.h"

/* Tolerances against PyTorch: float32 sums of up to 8 * 100 terms in a different order, and
 * batch norm's division by the batch's standard deviation, which amplifies them. */
#define ATOL 2e-5
#define RTOL 1e-4

/* x [8, 2, 10, 10] -> conv1 (4, 3x3, pad 1) - bn1 - ReLU - max pool 2 - conv2 (6, 3x3,
 * stride 2, pad 1) - bn2 (momentum 0.3) - ReLU, then either average pool 2 (stride 1) -
 * flatten - fc (3), or global average pool - bn3 (1d, cumulative) - fc (3); cross entropy. */
typedef struct cnn_net {
    ax_graph *g;
    ax_node *x, *labels, *h, *flat, *y, *loss;
} cnn_net;

static ax_graph_conv2d_opts conv_opts(int64_t in, int64_t out, int stride) {
    return (ax_graph_conv2d_opts){.in_channels = in, .out_channels = out, .kernel_h = 3, .kernel_w = 3,
                                  .stride_h = stride, .stride_w = stride, .pad_top = 1,
                                  .pad_bottom = 1, .pad_left = 1, .pad_right = 1};
}

static cnn_net cnn_build(ax_ctx *ctx, int gap, int reuse) {
    cnn_net m;
    int64_t xs[4] = {8, 2, 10, 10};
    ax_node *h;
    ax_graph_conv2d_opts c1 = conv_opts(2, 4, 1), c2 = conv_opts(4, 6, 2);
    ax_pool2d_desc mp = ax_pool2d_desc_default(2, 2), ap = ax_pool2d_desc_default(2, 2);
    ap.stride_h = ap.stride_w = 1;
    AX_ASSERT_OK(ax_graph_create(ctx, 5, &m.g));
    AX_ASSERT_OK(ax_graph_input(m.g, "x", 4, xs, &m.x));
    AX_ASSERT_OK(ax_graph_labels(m.g, "labels", 8, &m.labels));
    AX_ASSERT_OK(ax_graph_conv2d(m.g, "conv1", m.x, &c1, &h));
    AX_ASSERT_OK(ax_graph_batch_norm(m.g, "bn1", h, AX_BN_MOMENTUM, AX_BN_EPS, &h));
    AX_ASSERT_OK(ax_graph_activation(m.g, NULL, AX_ACT_RELU, 0.0f, h, &h));
    AX_ASSERT_OK(ax_graph_max_pool2d(m.g, "pool1", h, &mp, &h));
    AX_ASSERT_OK(ax_graph_conv2d(m.g, "conv2", h, &c2, &h));
    AX_ASSERT_OK(ax_graph_batch_norm(m.g, "bn2", h, 0.3f, AX_BN_EPS, &h));
    AX_ASSERT_OK(ax_graph_activation(m.g, NULL, AX_ACT_RELU, 0.0f, h, &m.h));
    if (gap) {
        AX_ASSERT_OK(ax_graph_global_avg_pool(m.g, "gap", m.h, &h));
        AX_ASSERT_OK(ax_graph_batch_norm(m.g, "bn3", h, AX_BN_CUMULATIVE, AX_BN_EPS, &m.flat));
    } else {
        AX_ASSERT_OK(ax_graph_avg_pool2d(m.g, "pool2", m.h, &ap, &h));
        AX_ASSERT_OK(ax_graph_flatten(m.g, "flat", h, &m.flat));
    }
    AX_ASSERT_OK(ax_graph_dense(m.g, "fc", m.flat, 3, &m.y));
    AX_ASSERT_OK(ax_graph_cross_entropy(m.g, "loss", m.y, m.labels, &m.loss));
    AX_ASSERT_OK(ax_graph_set_value_reuse(m.g, reuse));
    AX_ASSERT_OK(ax_graph_compile(m.g, m.loss));
    return m;
}

static void golden_file(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s/cnn/%s.safetensors", th_golden_dir(), name);
}

static void feed(cnn_net *m, const gd_case *c, const char *x, const char *labels) {
    const gd_tensor *t = gd_get(c, x);
    AX_ASSERT_OK(ax_graph_feed_f32(m->g, m->x, t->f, t->shape[0]));
    if (labels) {
        const gd_tensor *l = gd_get(c, labels);
        AX_ASSERT_OK(ax_graph_feed_i32(m->g, m->labels, l->i, l->shape[0]));
    } else {
        int32_t zeros[8] = {0};
        AX_ASSERT_OK(ax_graph_feed_i32(m->g, m->labels, zeros, t->shape[0]));
    }
}

/* Every counter buffer of g is want, and the golden n.<key> (PyTorch's after the steps) when
 * c is given. */
static void assert_counters(ax_graph *g, const gd_case *c, int64_t want) {
    int counters = 0;
    for (int i = 0; i < ax_graph_buffer_count(g); i++) {
        const char *name;
        ax_tensor *value;
        int64_t count;
        AX_ASSERT_OK(ax_graph_buffer_get(g, i, &name, &value, &count));
        if (value)
            continue;
        char key[64];
        snprintf(key, sizeof key, "n.%s", name);
        cr_assert_eq(count, want, "%s is %lld", name, (long long)count);
        if (c)
            cr_assert_eq(count, gd_get(c, key)->i[0], "%s", name);
        counters++;
    }
    cr_assert_geq(counters, 2);
}

/* PyTorch's final state_dict loads into a fresh graph, which then gives PyTorch's eval
 * outputs. */
static void load_torch_final(ax_ctx *ctx, int gap, const gd_case *c, const char *model) {
    cnn_net m = cnn_build(ctx, gap, 0);
    char path[512], file[64];
    snprintf(file, sizeof file, "%s_final", model);
    golden_file(path, sizeof path, file);
    AX_ASSERT_OK(ax_graph_load(m.g, path));
    assert_counters(m.g, c, 3);
    AX_ASSERT_OK(ax_graph_set_training(m.g, 0));
    feed(&m, c, "x_eval", NULL);
    AX_ASSERT_OK(ax_graph_forward(m.g));
    gd_assert_close(ax_graph_value(m.g, m.y), c, "y_eval", ATOL, RTOL);
    ax_graph_destroy(m.g);
}

/* axon's checkpoint holds what PyTorch's final state_dict holds: the same keys, dtypes
 * (num_batches_tracked I64, a scalar), shapes and values. */
static void compare_checkpoints(ax_graph *g, const char *model) {
    char ours[64] = "/tmp/axon_cnn_XXXXXX", path[512], file[64];
    int fd = mkstemp(ours);
    cr_assert_geq(fd, 0);
    close(fd);
    AX_ASSERT_OK(ax_graph_save(g, ours));
    snprintf(file, sizeof file, "%s_final", model);
    golden_file(path, sizeof path, file);
    cr_assert_eq(gd_assert_same_checkpoint(ours, path, ATOL, RTOL), !strcmp(model, "gap") ? 3 : 2);
    unlink(ours);
}

/* Three SGD steps (batches 8, 8, then 5 rows without recompiling) from PyTorch's initial
 * weights: loss, logits, every parameter's gradient, every running statistic and the
 * counters match PyTorch's after each step; then the eval forward; then checkpoints. */
static void train_like_torch(ax_ctx *ctx, int gap, int reuse) {
    const char *model = gap ? "gap" : "cnn";
    gd_case *c = gd_load("cnn", model);
    cnn_net m = cnn_build(ctx, gap, reuse);
    char path[512], file[64], name[64];
    snprintf(file, sizeof file, "%s_init", model);
    golden_file(path, sizeof path, file);
    AX_ASSERT_OK(ax_graph_load(m.g, path));
    cr_assert_eq(ax_graph_param_count(m.g), gap ? 12 : 10, "buffers are not parameters");
    cr_assert_eq(ax_graph_buffer_count(m.g), gap ? 9 : 6);
    assert_counters(m.g, NULL, 0);

    ax_sgd_config cfg = ax_sgd_defaults();
    cfg.lr = 0.1;
    ax_optimizer *opt;
    AX_ASSERT_OK(ax_optimizer_create_sgd(ctx, &cfg, &opt));
    ax_param_list p;
    AX_ASSERT_OK(ax_graph_params(m.g, &p));
    for (int k = 0; k < 3; k++) {
        char x[8], labels[16];
        snprintf(x, sizeof x, "x%d", k);
        snprintf(labels, sizeof labels, "labels%d", k);
        feed(&m, c, x, labels);
        cr_assert_eq(ax_graph_batch(m.g), k < 2 ? 8 : 5);
        AX_ASSERT_OK(ax_graph_zero_grad(m.g));
        AX_ASSERT_OK(ax_graph_forward(m.g));
        AX_ASSERT_OK(ax_graph_backward(m.g));
        float loss;
        AX_ASSERT_OK(ax_graph_loss(m.g, &loss));
        snprintf(name, sizeof name, "loss%d", k);
        cr_assert_float_eq(loss, gd_scalar(c, name), 1e-5f, "step %d: %g", k, (double)loss);
        snprintf(name, sizeof name, "y%d", k);
        gd_assert_close(ax_graph_value(m.g, m.y), c, name, ATOL, RTOL);
        for (int i = 0; i < p.n; i++) {
            const char *pname;
            AX_ASSERT_OK(ax_graph_param_get(m.g, i, &pname, NULL, NULL));
            snprintf(name, sizeof name, "g%d.%s", k, pname);
            gd_assert_close(p.grads[i], c, name, ATOL, RTOL);
        }
        int stats = 0;
        for (int i = 0; i < ax_graph_buffer_count(m.g); i++) {
            const char *bname;
            ax_tensor *value;
            AX_ASSERT_OK(ax_graph_buffer_get(m.g, i, &bname, &value, NULL));
            if (!value)
                continue;
            snprintf(name, sizeof name, "s%d.%s", k, bname);
            gd_assert_close(value, c, name, ATOL, RTOL);
            stats++;
        }
        cr_assert_eq(stats, gap ? 6 : 4);
        AX_ASSERT_OK(ax_optimizer_step(opt, p.n, p.values, p.grads));
    }
    AX_ASSERT_OK(ax_graph_set_training(m.g, 0));
    feed(&m, c, "x_eval", NULL);
    AX_ASSERT_OK(ax_graph_forward(m.g));
    gd_assert_close(ax_graph_value(m.g, m.y), c, "y_eval", ATOL, RTOL);
    assert_counters(m.g, c, 3); /* eval counts nothing */

    /* An eval-mode backward goes through the running statistics, as PyTorch's. */
    feed(&m, c, "x_eval", "labels_eval");
    AX_ASSERT_OK(ax_graph_zero_grad(m.g));
    AX_ASSERT_OK(ax_graph_forward(m.g));
    AX_ASSERT_OK(ax_graph_backward(m.g));
    float loss;
    AX_ASSERT_OK(ax_graph_loss(m.g, &loss));
    cr_assert_float_eq(loss, gd_scalar(c, "loss_eval"), 1e-5f, "%g", (double)loss);
    for (int i = 0; i < p.n; i++) {
        const char *pname;
        AX_ASSERT_OK(ax_graph_param_get(m.g, i, &pname, NULL, NULL));
        snprintf(name, sizeof name, "ge.%s", pname);
        gd_assert_close(p.grads[i], c, name, ATOL, RTOL);
    }
    assert_counters(m.g, c, 3);

    compare_checkpoints(m.g, model);
    load_torch_final(ctx, gap, c, model);
    ax_optimizer_destroy(opt);
    ax_graph_destroy(m.g);
    gd_free(c);
}

/* Each run on a context of its own (a CPU one, or make's). */
static void train_on(ax_ctx *(*make)(void), int gap, int reuse) {
    ax_ctx *ctx = make();
    train_like_torch(ctx, gap, reuse);
    ax_ctx_destroy(ctx);
}

Test(graph_cnn, conv_bn_pool_flatten_dense_matches_pytorch) { train_on(th_cpu_ctx, 0, 0); }

Test(graph_cnn, global_avg_pool_and_batch_norm_1d_match_pytorch) {
    train_on(th_cpu_ctx, 1, 0);
}

/* The graph's layers on the CUDA kernels: the same golden run (skipped without a GPU). */
Test(graph_cnn, on_the_gpu_too) {
    train_on(th_gpu_ctx_or_skip, 0, 0);
    train_on(th_gpu_ctx_or_skip, 1, 1);
}

/* The same with values sharing memory by liveness: what each backward reads (x and the
 * weight of conv and batch norm, the max pool's indices) is kept until then. */
Test(graph_cnn, value_reuse_keeps_what_the_backwards_read) {
    train_on(th_cpu_ctx, 0, 1);
    train_on(th_cpu_ctx, 1, 1);
}

/* A flattened value is x's storage under another shape (no copy), at every batch. */
Test(graph_cnn, flatten_is_a_view) {
    ax_ctx *ctx = th_cpu_ctx();
    cnn_net m = cnn_build(ctx, 0, 0);
    gd_case *c = gd_load("cnn", "cnn");
    ax_node *pool2;
    AX_ASSERT_OK(ax_graph_find(m.g, "pool2", &pool2));
    /* right after the compile, before any forward: the view is over pool2's planned storage,
     * not over the storage pool2 had when the view was built (freed by the memory plan) */
    cr_assert_eq(ax_tensor_data(ax_graph_value(m.g, m.flat)),
                 ax_tensor_data(ax_graph_value(m.g, pool2)));
    feed(&m, c, "x2", "labels2"); /* 5 rows */
    AX_ASSERT_OK(ax_graph_forward(m.g));
    ax_tensor *flat = ax_graph_value(m.g, m.flat), *pooled = ax_graph_value(m.g, pool2);
    cr_assert_eq(ax_tensor_data(flat), ax_tensor_data(pooled));
    cr_assert_eq(ax_tensor_ndim(flat), 2);
    cr_assert_eq(ax_tensor_dim(flat, 0), 5);
    cr_assert_eq(ax_tensor_dim(flat, 1), 24);
    gd_free(c);
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
}

/* Host copy of a parameter and the extremes and moments of its values. */
typedef struct moments {
    int64_t n;
    double max_abs, mean, var;
} moments;

static moments param_moments(ax_graph *g, const char *name) {
    int i;
    ax_tensor *t;
    AX_ASSERT_OK(ax_graph_param_find(g, name, &i));
    AX_ASSERT_OK(ax_graph_param_get(g, i, NULL, &t, NULL));
    float *v = th_to_host(t);
    moments m = {.n = ax_tensor_numel(t)};
    double sum = 0, sq = 0;
    for (int64_t e = 0; e < m.n; e++) {
        sum += v[e];
        sq += (double)v[e] * v[e];
        m.max_abs = fmax(m.max_abs, fabs(v[e]));
    }
    free(v);
    m.mean = sum / (double)m.n;
    m.var = sq / (double)m.n - m.mean * m.mean;
    return m;
}

/* U(-b, b) with b = 1 / sqrt(fan_in): every value inside, the largest near b, variance
 * b^2 / 3 within tol (relative) and mean 0 within 5 standard errors. */
static void assert_uniform(ax_graph *g, const char *name, int64_t fan_in, double tol) {
    moments m = param_moments(g, name);
    double b = 1.0 / sqrt((double)fan_in), var = b * b / 3.0;
    cr_assert_leq(m.max_abs, b * (1 + 1e-6), "%s: %g is outside U(-%g, %g)", name, m.max_abs, b,
                  b);
    cr_assert_geq(m.max_abs, 0.9 * b, "%s: the largest |value| %g, bound %g", name, m.max_abs,
                  b);
    cr_assert(fabs(m.var - var) <= tol * var, "%s: variance %g, U(-b, b) has %g", name, m.var,
              var);
    cr_assert(fabs(m.mean) <= 5.0 * sqrt(var / (double)m.n), "%s: mean %g", name, m.mean);
}

/* PyTorch's nn.Conv2d initialisation: kaiming_uniform(a = sqrt(5)) gives the weight
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and so is the bias, with fan_in = in/groups kh kw
 * (not fan_out = out kh kw, nor the channels without the groups). */
Test(graph_cnn, conv_init_is_pytorchs) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *x8, *y;
    int64_t xs[4] = {2, 16, 12, 12}, x8s[4] = {2, 8, 6, 6};
    AX_ASSERT_OK(ax_graph_create(ctx, 11, &g));
    AX_ASSERT_OK(ax_graph_input(g, "x", 4, xs, &x));
    AX_ASSERT_OK(ax_graph_input(g, "x8", 4, x8s, &x8));
    ax_graph_conv2d_opts wide = {.out_channels = 512, .kernel_h = 3, .kernel_w = 5};
    AX_ASSERT_OK(ax_graph_conv2d(g, "wide", x, &wide, &y)); /* fan_in 240, fan_out 7680 */
    assert_uniform(g, "wide.weight", 16 * 3 * 5, 0.03);
    assert_uniform(g, "wide.bias", 16 * 3 * 5, 0.2);
    ax_graph_conv2d_opts grouped = {.out_channels = 64, .kernel_h = 3, .kernel_w = 3,
                                    .groups = 4, .no_bias = 1};
    AX_ASSERT_OK(ax_graph_conv2d(g, "grouped", x8, &grouped, &y)); /* fan_in 2 * 9 */
    assert_uniform(g, "grouped.weight", 2 * 9, 0.1);
    ax_tensor *w = NULL;
    AX_ASSERT_OK(ax_graph_param_get(g, 2, NULL, &w, NULL));
    cr_assert(ax_tensor_dim(w, 0) == 64 && ax_tensor_dim(w, 1) == 2 && ax_tensor_dim(w, 2) == 3 &&
                  ax_tensor_dim(w, 3) == 3, "[out, in/groups, kh, kw]");
    cr_assert_eq(ax_graph_param_count(g), 3, "no bias");
    AX_ASSERT_FAILS(ax_graph_param_find(g, "grouped.bias", &(int){0}), AX_ERR_INVALID_ARG,
                    "ax_graph_param_find");
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* A refused builder call leaves the graph as it was: no node, parameter or buffer, and the
 * name free for the next call. */
static void assert_unchanged(ax_graph *g, const char *name, int params, int buffers) {
    ax_node *node;
    cr_assert_eq(ax_graph_param_count(g), params, "%s", name);
    cr_assert_eq(ax_graph_buffer_count(g), buffers, "%s", name);
    AX_ASSERT_FAILS(ax_graph_find(g, name, &node), AX_ERR_INVALID_ARG, "ax_graph_find");
}

#define REFUSED(call, status, fn, says)                                                      \
    do {                                                                                     \
        AX_ASSERT_FAILS(call, status, fn);                                                   \
        cr_assert(strstr(ax_last_error(), says), "%s: \"%s\" does not say \"%s\"", #call,   \
                  ax_last_error(), says);                                                    \
        assert_unchanged(g, "bad", params, buffers);                                         \
    } while (0)

Test(graph_cnn, builders_refuse_bad_input) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *z, *v, *y;
    int64_t xs[4] = {4, 3, 8, 8}, zs[2] = {4, 10}, vs[1] = {4};
    AX_ASSERT_OK(ax_graph_create(ctx, 3, &g));
    AX_ASSERT_OK(ax_graph_input(g, "x", 4, xs, &x));
    AX_ASSERT_OK(ax_graph_input(g, "z", 2, zs, &z));
    AX_ASSERT_OK(ax_graph_input(g, "v", 1, vs, &v));
    int params = 0, buffers = 0;
    const char *conv = "ax_graph_conv2d";
    ax_graph_conv2d_opts ok = {.in_channels = 3, .out_channels = 6, .kernel_h = 3,
                               .kernel_w = 3};
    ax_graph_conv2d_opts o = ok;
    o.in_channels = 4;
    REFUSED(ax_graph_conv2d(g, "bad", x, &o, &y), AX_ERR_SHAPE, conv, "has 3 channels");
    o = ok, o.groups = 2;
    REFUSED(ax_graph_conv2d(g, "bad", x, &o, &y), AX_ERR_SHAPE, conv, "groups 2 do not divide");
    o = ok, o.in_channels = 0, o.groups = 3, o.out_channels = 4;
    REFUSED(ax_graph_conv2d(g, "bad", x, &o, &y), AX_ERR_SHAPE, conv, "groups 3 do not divide");
    o = ok, o.kernel_h = 9;
    REFUSED(ax_graph_conv2d(g, "bad", x, &o, &y), AX_ERR_SHAPE, conv, "kernel 9x3");
    o = ok, o.kernel_w = 11, o.pad_left = o.pad_right = 1; /* 11 > 8 + 2 */
    REFUSED(ax_graph_conv2d(g, "bad", x, &o, &y), AX_ERR_SHAPE, conv, "kernel 3x11");
    o = ok, o.dilation_h = 4; /* 4 * 2 + 1 = 9 > 8 */
    REFUSED(ax_graph_conv2d(g, "bad", x, &o, &y), AX_ERR_SHAPE, conv, "dilation 4x1");
    o = ok, o.stride_w = -1;
    REFUSED(ax_graph_conv2d(g, "bad", x, &o, &y), AX_ERR_INVALID_ARG, conv, "negative");
    o = ok, o.pad_bottom = -1;
    REFUSED(ax_graph_conv2d(g, "bad", x, &o, &y), AX_ERR_INVALID_ARG, conv, "negative");
    o = ok, o.out_channels = 0;
    REFUSED(ax_graph_conv2d(g, "bad", x, &o, &y), AX_ERR_SHAPE, conv, "out_channels 0");
    o = ok, o.in_channels = 0;
    REFUSED(ax_graph_conv2d(g, "bad", z, &o, &y), AX_ERR_SHAPE, conv, "needs [N, C, H, W]");
    REFUSED(ax_graph_conv2d(g, "bad", x, NULL, &y), AX_ERR_INVALID_ARG, conv, "opts is NULL");
    REFUSED(ax_graph_conv2d(g, "bad", x, &ok, NULL), AX_ERR_INVALID_ARG, conv, "out is NULL");

    ax_pool2d_desc big = ax_pool2d_desc_default(9, 2), dil = ax_pool2d_desc_default(2, 2);
    dil.dilation_w = 2;
    REFUSED(ax_graph_max_pool2d(g, "bad", x, &big, &y), AX_ERR_SHAPE, "ax_graph_max_pool2d",
            "kernel 9x2");
    REFUSED(ax_graph_avg_pool2d(g, "bad", x, &big, &y), AX_ERR_SHAPE, "ax_graph_avg_pool2d",
            "kernel 9x2");
    REFUSED(ax_graph_avg_pool2d(g, "bad", x, &dil, &y), AX_ERR_INVALID_ARG,
            "ax_graph_avg_pool2d", "dilation 1x2");
    REFUSED(ax_graph_max_pool2d(g, "bad", z, &dil, &y), AX_ERR_SHAPE, "ax_graph_max_pool2d",
            "needs [N, C, H, W]");
    REFUSED(ax_graph_max_pool2d(g, "bad", x, NULL, &y), AX_ERR_INVALID_ARG,
            "ax_graph_max_pool2d", "desc is NULL");
    REFUSED(ax_graph_global_avg_pool(g, "bad", z, &y), AX_ERR_SHAPE,
            "ax_graph_global_avg_pool", "needs [N, C, H, W]");

    const char *bn = "ax_graph_batch_norm";
    REFUSED(ax_graph_batch_norm(g, "bad", v, 0.1f, AX_BN_EPS, &y), AX_ERR_SHAPE, bn,
            "needs [N, C]");
    REFUSED(ax_graph_batch_norm(g, "bad", x, 1.5f, AX_BN_EPS, &y), AX_ERR_INVALID_ARG, bn,
            "momentum 1.5");
    REFUSED(ax_graph_batch_norm(g, "bad", x, NAN, AX_BN_EPS, &y), AX_ERR_INVALID_ARG, bn,
            "momentum nan");
    REFUSED(ax_graph_batch_norm(g, "bad", z, 0.1f, 0.0f, &y), AX_ERR_INVALID_ARG, bn, "eps 0");
    REFUSED(ax_graph_flatten(g, "bad", v, &y), AX_ERR_SHAPE, "ax_graph_flatten",
            "needs 2 dims");

    /* the names are free: every layer builds, compiles and runs */
    AX_ASSERT_OK(ax_graph_conv2d(g, "bad", x, &ok, &y));
    AX_ASSERT_OK(ax_graph_batch_norm(g, "bn", y, 0.1f, AX_BN_EPS, &y));
    AX_ASSERT_OK(ax_graph_max_pool2d(g, "mp", y, &dil, &y));
    AX_ASSERT_OK(ax_graph_global_avg_pool(g, "gap", y, &y));
    AX_ASSERT_OK(ax_graph_batch_norm(g, "bn1d", z, 0.1f, AX_BN_EPS, &z));
    AX_ASSERT_OK(ax_graph_flatten(g, "flat", z, &z));
    cr_assert_eq(ax_graph_param_count(g), 6);
    cr_assert_eq(ax_graph_buffer_count(g), 6);
    AX_ASSERT_FAILS(ax_graph_conv2d(g, "bn", x, &ok, &y), AX_ERR_INVALID_ARG, conv);
    cr_assert_eq(ax_graph_param_count(g), 6, "a taken name creates nothing");
    AX_ASSERT_OK(ax_graph_compile(g, NULL));
    AX_ASSERT_FAILS(ax_graph_conv2d(g, "late", x, &ok, &y), AX_ERR_STATE, conv);
    AX_ASSERT_OK(ax_graph_set_batch(g, 3));
    AX_ASSERT_OK(ax_graph_forward(g));
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* Every element of t is want. */
static void assert_all(ax_tensor *t, float want, const char *what) {
    float *v = th_to_host(t);
    for (int64_t e = 0; e < ax_tensor_numel(t); e++)
        cr_assert_eq(v[e], want, "%s[%lld] = %g, not %g", what, (long long)e, (double)v[e],
                     (double)want);
    free(v);
}

/* A new batch norm is PyTorch's: weight 1, bias 0 (parameters), running_mean 0, running_var
 * 1 and num_batches_tracked 0 (buffers, not parameters), all [C] for C = x's dim 1. */
Test(graph_cnn, batch_norm_starts_as_pytorchs) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *y;
    int64_t xs[3] = {4, 5, 7};
    AX_ASSERT_OK(ax_graph_create(ctx, 3, &g));
    AX_ASSERT_OK(ax_graph_input(g, "x", 3, xs, &x));
    AX_ASSERT_OK(ax_graph_batch_norm(g, "bn", x, AX_BN_MOMENTUM, AX_BN_EPS, &y));
    cr_assert_eq(ax_graph_param_count(g), 2);
    const char *names[] = {"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"};
    const float want[] = {1.0f, 0.0f, 0.0f, 1.0f};
    for (int k = 0; k < 4; k++) {
        ax_tensor *t = NULL;
        int i;
        if (k < 2) {
            AX_ASSERT_OK(ax_graph_param_find(g, names[k], &i));
            AX_ASSERT_OK(ax_graph_param_get(g, i, NULL, &t, NULL));
        } else {
            AX_ASSERT_OK(ax_graph_buffer_find(g, names[k], &i));
            AX_ASSERT_OK(ax_graph_buffer_get(g, i, NULL, &t, NULL));
        }
        cr_assert_eq(ax_tensor_ndim(t), 1, "%s", names[k]);
        cr_assert_eq(ax_tensor_numel(t), 5, "%s", names[k]);
        assert_all(t, want[k], names[k]);
    }
    int i;
    int64_t count = -1;
    ax_tensor *t = NULL;
    AX_ASSERT_OK(ax_graph_buffer_find(g, "bn.num_batches_tracked", &i));
    AX_ASSERT_OK(ax_graph_buffer_get(g, i, NULL, &t, &count));
    cr_assert_null(t);
    cr_assert_eq(count, 0);
    cr_assert_eq(ax_graph_buffer_count(g), 3);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}
