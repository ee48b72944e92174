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

static ax_graph_conv2d_opts conv_opts(int64_t out, int stride) {
    return (ax_graph_conv2d_opts){.out_channels = out, .kernel_h = 3, .kernel_w = 3,
                                  .stride_h = stride, .stride_w = stride, .pad_top = 1,
                                  .pad_bottom = 1, .pad_left = 1, .pad_right = 1};
}

static cnn_net cnn_build(ax_ctx *ctx, int gap) {
    cnn_net m;
    int64_t xs[4] = {8, 2, 10, 10};
    ax_node *h;
    ax_graph_conv2d_opts c1 = conv_opts(4, 1), c2 = conv_opts(6, 2);
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
    cnn_net m = cnn_build(ctx, gap);
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
static void train_like_torch(int gap) {
    const char *model = gap ? "gap" : "cnn";
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load("cnn", model);
    cnn_net m = cnn_build(ctx, gap);
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

    compare_checkpoints(m.g, model);
    load_torch_final(ctx, gap, c, model);
    ax_optimizer_destroy(opt);
    ax_graph_destroy(m.g);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

Test(graph_cnn, conv_bn_pool_flatten_dense_matches_pytorch) { train_like_torch(0); }

Test(graph_cnn, global_avg_pool_and_batch_norm_1d_match_pytorch) { train_like_torch(1); }
