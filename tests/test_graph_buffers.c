#define _POSIX_C_SOURCE 200809L /* mkstemp, mkdtemp */
/* Buffers (include/axon/graph.h): named, saved, untrained state, with the running-centering
 * node that keeps a running mean; compared with PyTorch's equivalent module
 * (tests/golden/gen_safetensors.py) and its checkpoints, int64 counter included. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "golden.h"
#include "helpers.h"

/* x [4, 3] -> fc (Linear(3, 4)) -> rc (running_center, momentum 0.2) -> mse with t [4, 4]. */
typedef struct center_net {
    ax_graph *g;
    ax_node *x, *t, *h, *y, *loss;
} center_net;

static center_net center_build(ax_ctx *ctx) {
    center_net m;
    int64_t xs[2] = {4, 3}, ts[2] = {4, 4};
    AX_ASSERT_OK(ax_graph_create(ctx, 9, &m.g));
    AX_ASSERT_OK(ax_graph_input(m.g, "x", 2, xs, &m.x));
    AX_ASSERT_OK(ax_graph_input(m.g, "t", 2, ts, &m.t));
    AX_ASSERT_OK(ax_graph_dense(m.g, "fc", m.x, 4, &m.h));
    AX_ASSERT_OK(ax_graph_running_center(m.g, "rc", m.h, 0.2f, &m.y));
    AX_ASSERT_OK(ax_graph_mse_loss(m.g, "loss", m.y, m.t, &m.loss));
    AX_ASSERT_OK(ax_graph_compile(m.g, m.loss));
    return m;
}

static void golden_file(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s/safetensors/%s.safetensors", th_golden_dir(), name);
}

static ax_tensor *buffer(ax_graph *g, const char *name, int64_t *count) {
    int i;
    ax_tensor *t = NULL;
    AX_ASSERT_OK(ax_graph_buffer_find(g, name, &i));
    AX_ASSERT_OK(ax_graph_buffer_get(g, i, NULL, &t, count));
    return t;
}

static int64_t counter(ax_graph *g) {
    int64_t n = -1;
    cr_assert_null(buffer(g, "rc.num_batches_tracked", &n));
    return n;
}

static void feed(ax_graph *g, ax_node *input, const gd_case *c, const char *name) {
    const gd_tensor *t = gd_get(c, name);
    AX_ASSERT_OK(ax_graph_feed_f32(g, input, t->f, t->shape[0]));
}

/* Three training steps (4, 4, then a partial batch of 3 rows) and an eval forward match
 * PyTorch's module: losses, outputs, the gradients through the batch mean, the running mean
 * and the int64 counter, read from and written to checkpoints under PyTorch's names. */
Test(buffers, running_center_matches_pytorch) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load("safetensors", "running_center");
    center_net m = center_build(ctx);
    char path[512];
    golden_file(path, sizeof path, "running_center_init");
    AX_ASSERT_OK(ax_graph_load(m.g, path));
    cr_assert_eq(ax_graph_param_count(m.g), 2, "buffers are not parameters");
    cr_assert_eq(ax_graph_buffer_count(m.g), 2);
    cr_assert_eq(counter(m.g), 5, "the I64 counter from PyTorch's file");
    gd_assert_close(buffer(m.g, "rc.running_mean", NULL), c, "rm0", 0, 0);

    ax_sgd_config cfg = ax_sgd_defaults();
    cfg.lr = 0.1;
    ax_optimizer *opt;
    AX_ASSERT_OK(ax_optimizer_create_sgd(ctx, &cfg, &opt));
    ax_param_list p;
    AX_ASSERT_OK(ax_graph_params(m.g, &p));
    for (int k = 0; k < 3; k++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", k);
        feed(m.g, m.x, c, name);
        snprintf(name, sizeof name, "t%d", k);
        feed(m.g, m.t, c, name);
        AX_ASSERT_OK(ax_graph_zero_grad(m.g));
        AX_ASSERT_OK(ax_graph_forward(m.g));
        AX_ASSERT_OK(ax_graph_backward(m.g));
        float loss;
        AX_ASSERT_OK(ax_graph_loss(m.g, &loss));
        snprintf(name, sizeof name, "loss%d", k);
        cr_assert_float_eq(loss, gd_scalar(c, name), 1e-6f, "step %d: %g", k, (double)loss);
        snprintf(name, sizeof name, "y%d", k);
        gd_assert_close(ax_graph_value(m.g, m.y), c, name, 1e-6, 1e-5);
        snprintf(name, sizeof name, "gw%d", k);
        gd_assert_close(p.grads[0], c, name, 1e-6, 1e-5);
        snprintf(name, sizeof name, "gb%d", k);
        gd_assert_close(p.grads[1], c, name, 1e-6, 1e-5);
        snprintf(name, sizeof name, "rm%d", k + 1);
        gd_assert_close(buffer(m.g, "rc.running_mean", NULL), c, name, 1e-6, 1e-5);
        cr_assert_eq(counter(m.g), 6 + k);
        AX_ASSERT_OK(ax_optimizer_step(opt, p.n, p.values, p.grads));
    }
    AX_ASSERT_OK(ax_graph_set_training(m.g, 0));
    feed(m.g, m.x, c, "x_eval");
    float zeros[2 * 4] = {0}; /* the loss is not looked at */
    AX_ASSERT_OK(ax_graph_feed_f32(m.g, m.t, zeros, 2));
    AX_ASSERT_OK(ax_graph_set_batch(m.g, 2));
    AX_ASSERT_OK(ax_graph_forward(m.g));
    gd_assert_close(ax_graph_value(m.g, m.y), c, "y_eval", 1e-6, 1e-5);
    cr_assert_eq(counter(m.g), 8, "eval counts nothing");
    gd_assert_close(buffer(m.g, "rc.running_mean", NULL), c, "rm3", 1e-6, 1e-5);

    /* Our checkpoint holds what PyTorch's final state_dict holds: same keys, dtypes (the
     * counter I64 []), shapes and values. */
    char ours[64] = "/tmp/axon_rc_XXXXXX";
    int fd = mkstemp(ours);
    cr_assert_geq(fd, 0);
    close(fd);
    AX_ASSERT_OK(ax_graph_save(m.g, ours));
    golden_file(path, sizeof path, "running_center_final");
    cr_assert_eq(gd_assert_same_checkpoint(ours, path, 1e-6, 1e-5), 1, "the counter, 8");
    unlink(ours);
    ax_optimizer_destroy(opt);
    ax_graph_destroy(m.g);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

/* A checkpoint carries the buffers both ways; a file without the counter, or with it as
 * F32, or with a running mean of another shape, is refused and changes nothing. */
Test(buffers, checkpoints_are_strict_about_buffers) {
    ax_ctx *ctx = th_cpu_ctx();
    center_net a = center_build(ctx), b = center_build(ctx);
    float x[12] = {1, 2, 3, -1, 0, 4, 2, 2, 2, 5, -3, 1}, t[16] = {0};
    AX_ASSERT_OK(ax_graph_feed_f32(a.g, a.x, x, 4));
    AX_ASSERT_OK(ax_graph_feed_f32(a.g, a.t, t, 4));
    AX_ASSERT_OK(ax_graph_forward(a.g));
    AX_ASSERT_OK(ax_graph_forward(a.g));
    cr_assert_eq(counter(a.g), 2);
    char dir[64] = "/tmp/axon_buf_XXXXXX", path[128], bad[128];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    AX_ASSERT_OK(ax_graph_save(a.g, path));
    AX_ASSERT_OK(ax_graph_load(b.g, path));
    cr_assert_eq(counter(b.g), 2);
    float ra[4], rb[4];
    AX_ASSERT_OK(ax_tensor_to_host(buffer(a.g, "rc.running_mean", NULL), ra, sizeof ra));
    AX_ASSERT_OK(ax_tensor_to_host(buffer(b.g, "rc.running_mean", NULL), rb, sizeof rb));
    cr_assert_arr_eq(ra, rb, sizeof ra);
    cr_assert(ra[0] != 0.0f, "two training forwards moved the running mean");

    /* rewrite the file with the counter missing, then as F32, then a [3] running mean */
    ax_tensor *w, *bias, *mean = buffer(a.g, "rc.running_mean", NULL), *f1, *m3;
    AX_ASSERT_OK(ax_graph_param_get(a.g, 0, NULL, &w, NULL));
    AX_ASSERT_OK(ax_graph_param_get(a.g, 1, NULL, &bias, NULL));
    int64_t none = 0, three = 3;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 0, &none, &f1));
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 1, &three, &m3));
    const char *names[4] = {"fc.weight", "fc.bias", "rc.running_mean",
                            "rc.num_batches_tracked"};
    struct {
        int n;
        ax_tensor *mean, *count;
        ax_status st;
        const char *says;
    } cases[] = {{3, mean, NULL, AX_ERR_FORMAT, "rc.num_batches_tracked is missing"},
                 {4, mean, f1, AX_ERR_DTYPE, "I64"},
                 {3, m3, NULL, AX_ERR_SHAPE, "[3] in the file"}};
    for (int k = 0; k < 3; k++) {
        ax_tensor *tensors[4] = {w, bias, cases[k].mean, cases[k].count};
        int n = cases[k].n;
        AX_ASSERT_OK(ax_safetensors_save(bad, n, names, (const ax_tensor *const *)tensors));
        AX_ASSERT_FAILS(ax_graph_load(b.g, bad), cases[k].st, "ax_graph_load");
        cr_assert(strstr(ax_last_error(), cases[k].says), "%s", ax_last_error());
        cr_assert_eq(counter(b.g), 2, "a failed load changes nothing");
    }
    AX_ASSERT_FAILS(ax_graph_buffer_find(b.g, "fc.weight", &(int){0}), AX_ERR_INVALID_ARG,
                    "ax_graph_buffer_find");
    AX_ASSERT_FAILS(ax_graph_buffer_get(b.g, 2, NULL, NULL, NULL), AX_ERR_INVALID_ARG,
                    "ax_graph_buffer_get");
    ax_tensor_destroy(f1);
    ax_tensor_destroy(m3);
    unlink(path);
    unlink(bad);
    rmdir(dir);
    ax_graph_destroy(a.g);
    ax_graph_destroy(b.g);
    ax_ctx_destroy(ctx);
}

/* Eval uses the running mean and leaves it alone; the builder refuses a bad momentum and an
 * x that is not a batched [N, F]. */
Test(buffers, eval_reads_the_running_mean) {
    ax_ctx *ctx = th_cpu_ctx();
    center_net m = center_build(ctx);
    float want[4] = {0.5f, -1.0f, 2.0f, 0.25f};
    AX_ASSERT_OK(ax_tensor_set_from_host(buffer(m.g, "rc.running_mean", NULL), want,
                                         sizeof want));
    AX_ASSERT_OK(ax_graph_set_training(m.g, 0));
    float x[3] = {1, 2, 3}, t[4] = {0}, h[4], y[4], after[4];
    AX_ASSERT_OK(ax_graph_feed_f32(m.g, m.x, x, 1));
    AX_ASSERT_OK(ax_graph_feed_f32(m.g, m.t, t, 1));
    AX_ASSERT_OK(ax_graph_forward(m.g));
    AX_ASSERT_OK(ax_tensor_to_host(ax_graph_value(m.g, m.h), h, sizeof h));
    AX_ASSERT_OK(ax_tensor_to_host(ax_graph_value(m.g, m.y), y, sizeof y));
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(y[i], h[i] - want[i], 0.0f);
    AX_ASSERT_OK(ax_tensor_to_host(buffer(m.g, "rc.running_mean", NULL), after, sizeof after));
    cr_assert_arr_eq(after, want, sizeof want);
    cr_assert_eq(counter(m.g), 0);
    ax_graph_destroy(m.g);

    ax_graph *g;
    ax_node *in, *o, *p;
    int64_t xs[2] = {4, 3};
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, xs, &in));
    AX_ASSERT_FAILS(ax_graph_running_center(g, "rc", in, 1.5f, &o), AX_ERR_INVALID_ARG,
                    "ax_graph_running_center");
    AX_ASSERT_FAILS(ax_graph_running_center(g, "rc", in, NAN, &o), AX_ERR_INVALID_ARG,
                    "ax_graph_running_center");
    AX_ASSERT_OK(ax_graph_param(g, "w", 2, xs, &(ax_init){.kind = AX_INIT_ZEROS}, &p));
    AX_ASSERT_FAILS(ax_graph_running_center(g, "rc", p, 0.1f, &o), AX_ERR_SHAPE,
                    "ax_graph_running_center");
    cr_assert_eq(ax_graph_buffer_count(g), 0);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* A state file written by hand: fc and rc of center_build, the counter an I64 of shape
 * count_shape ("[]" as PyTorch writes it) holding count. */
static void write_state(const char *path, const char *count_shape, int64_t count) {
    char json[512];
    int len = snprintf(json, sizeof json,
                       "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,48]},"
                       "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[48,64]},"
                       "\"rc.running_mean\":{\"dtype\":\"F32\",\"shape\":[4],"
                       "\"data_offsets\":[64,80]},\"rc.num_batches_tracked\":{\"dtype\":\"I64\","
                       "\"shape\":%s,\"data_offsets\":[80,88]}}",
                       count_shape);
    while (len % 8)
        json[len++] = ' ';
    unsigned char data[88] = {0}, head[8];
    for (int i = 0; i < 8; i++) {
        head[i] = (unsigned char)((uint64_t)len >> (8 * i));
        data[80 + i] = (unsigned char)((uint64_t)count >> (8 * i)); /* little-endian */
    }
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(head, 1, 8, f), 8);
    cr_assert_eq(fwrite(json, 1, (size_t)len, f), (size_t)len);
    cr_assert_eq(fwrite(data, 1, sizeof data, f), sizeof data);
    cr_assert_eq(fclose(f), 0);
}

/* The counter is a full 64-bit integer both ways (a value past 2^32 survives a load and a
 * save byte for byte), and an I64 of shape [1] is not the scalar PyTorch writes. */
Test(buffers, the_counter_is_an_int64_scalar) {
    ax_ctx *ctx = th_cpu_ctx();
    center_net m = center_build(ctx);
    char dir[64] = "/tmp/axon_i64_XXXXXX", path[128], back[128];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/in.safetensors", dir);
    snprintf(back, sizeof back, "%s/out.safetensors", dir);
    const int64_t big = (INT64_C(1) << 40) + 12345;
    write_state(path, "[]", big);
    AX_ASSERT_OK(ax_graph_load(m.g, path));
    cr_assert_eq(counter(m.g), big);
    AX_ASSERT_OK(ax_graph_save(m.g, back));
    ax_safetensors *st;
    int i;
    ax_safetensors_entry e;
    const void *raw;
    size_t bytes;
    AX_ASSERT_OK(ax_safetensors_open(back, &st));
    AX_ASSERT_OK(ax_safetensors_find(st, "rc.num_batches_tracked", &i));
    AX_ASSERT_OK(ax_safetensors_entry_get(st, i, &e));
    cr_assert_str_eq(e.dtype_name, "I64");
    cr_assert_eq(e.ndim, 0);
    AX_ASSERT_OK(ax_safetensors_raw(st, i, &raw, &bytes));
    cr_assert_eq(bytes, 8);
    int64_t got;
    memcpy(&got, raw, 8);
    cr_assert_eq(got, big);
    ax_safetensors_close(st);
    write_state(path, "[1]", 3);
    AX_ASSERT_FAILS(ax_graph_load(m.g, path), AX_ERR_SHAPE, "ax_graph_load");
    cr_assert(strstr(ax_last_error(), "rc.num_batches_tracked"), "%s", ax_last_error());
    cr_assert_eq(counter(m.g), big, "a refused file changes nothing");
    unlink(path);
    unlink(back);
    rmdir(dir);
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
}
