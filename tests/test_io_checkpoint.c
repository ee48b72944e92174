/* safetensors checkpoints (include/axon/io.h): round trips of tensors and graphs on the CPU
 * and the GPU (suite io), a file written by PyTorch (golden), and truncated, inconsistent and
 * hostile files, wrong graphs and failed writes (badinput). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, fileno */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "golden.h"
#include "helpers.h"

#define CHECK_MSG(substr)                                                                      \
    cr_assert(strstr(ax_last_error(), (substr)), "message \"%s\" lacks \"%s\"",               \
              ax_last_error(), (substr))

/* ---------------------------------------------------------------- helpers */

/* A fresh folder under /tmp; path into buf. */
static void temp_dir(char *buf, size_t size) {
    snprintf(buf, size, "/tmp/axon_io_XXXXXX");
    cr_assert(mkdtemp(buf), "mkdtemp failed");
}

static void join(char *buf, size_t size, const char *dir, const char *file) {
    snprintf(buf, size, "%s/%s", dir, file);
}

/* The whole file at path, malloc'ed. */
static unsigned char *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    cr_assert(buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void spit(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot create %s", path);
    cr_assert_eq(fwrite(data, 1, size, f), size);
    fclose(f);
}

/* A file image: header length, json, then data_size bytes of data (counting up). */
static unsigned char *image(const char *json, size_t data_size, size_t *size) {
    size_t n = strlen(json);
    *size = 8 + n + data_size;
    unsigned char *buf = malloc(*size);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, json, n);
    for (size_t i = 0; i < data_size; i++)
        buf[8 + n + i] = (unsigned char)i;
    return buf;
}

/* Parsing json followed by data_size bytes fails with status and a message holding substr. */
static void parse_fails(const char *json, size_t data_size, ax_status status, const char *substr) {
    size_t size;
    unsigned char *buf = image(json, data_size, &size);
    ax_safetensors *st = (ax_safetensors *)buf; /* must be reset to NULL */
    AX_ASSERT_FAILS(ax_safetensors_parse(buf, size, &st), status, "ax_safetensors_parse");
    cr_assert_null(st);
    CHECK_MSG(substr);
    free(buf);
}

static ax_safetensors *parse_ok(const char *json, size_t data_size) {
    size_t size;
    unsigned char *buf = image(json, data_size, &size);
    ax_safetensors *st = NULL;
    AX_ASSERT_OK(ax_safetensors_parse(buf, size, &st));
    free(buf);
    return st;
}

/* x [N, 5] -> fc1 (6) -> relu -> fc2 (3), forward only. */
typedef struct net {
    ax_graph *g;
    ax_node *x, *y;
} net;

static net net_build(ax_ctx *ctx, uint64_t seed, int64_t hidden) {
    net m;
    int64_t xs[2] = {4, 5};
    ax_node *h, *a;
    AX_ASSERT_OK(ax_graph_create(ctx, seed, &m.g));
    AX_ASSERT_OK(ax_graph_input(m.g, "x", 2, xs, &m.x));
    AX_ASSERT_OK(ax_graph_dense(m.g, "fc1", m.x, hidden, &h));
    AX_ASSERT_OK(ax_graph_activation(m.g, "act", AX_ACT_RELU, 0.0f, h, &a));
    AX_ASSERT_OK(ax_graph_dense(m.g, "fc2", a, 3, &m.y));
    AX_ASSERT_OK(ax_graph_compile(m.g, NULL));
    return m;
}

/* The output for a fixed input, malloc'ed [4, 3]. */
static float *net_forward(ax_ctx *ctx, net *m) {
    float x[20];
    th_random(x, 20, 7, -1.0f, 1.0f);
    int64_t xs[2] = {4, 5};
    ax_tensor *xt = th_tensor(ctx, 2, xs, x);
    AX_ASSERT_OK(ax_graph_feed(m->g, m->x, xt));
    ax_tensor_destroy(xt);
    AX_ASSERT_OK(ax_graph_forward(m->g));
    return th_to_host(ax_graph_value(m->g, m->y));
}

/* Host copies of every parameter, concatenated. */
static float *params_host(ax_graph *g, int64_t *total) {
    *total = 0;
    for (int i = 0; i < ax_graph_param_count(g); i++) {
        ax_tensor *v;
        AX_ASSERT_OK(ax_graph_param_get(g, i, NULL, &v, NULL));
        *total += ax_tensor_numel(v);
    }
    float *all = malloc((size_t)*total * sizeof *all);
    int64_t at = 0;
    for (int i = 0; i < ax_graph_param_count(g); i++) {
        ax_tensor *v;
        AX_ASSERT_OK(ax_graph_param_get(g, i, NULL, &v, NULL));
        AX_ASSERT_OK(ax_tensor_to_host(v, all + at, ax_tensor_nbytes(v)));
        at += ax_tensor_numel(v);
    }
    return all;
}

/* Save three tensors (f32 [2, 3], i32 [4], f32 scalar) from ctx, read them back onto ctx. */
static void tensor_round_trip(ax_ctx *ctx) {
    char dir[64], path[128];
    temp_dir(dir, sizeof dir);
    join(path, sizeof path, dir, "t.safetensors");
    float a[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f}, s = 42.0f;
    int32_t b[4] = {0, -1, 7, 2147483647};
    int64_t as[2] = {2, 3}, bs[1] = {4};
    ax_tensor *ta = th_tensor(ctx, 2, as, a), *tb = th_tensor_i32(ctx, 1, bs, b), *ts;
    AX_ASSERT_OK(ax_tensor_from_host(ctx, AX_F32, 0, NULL, &s, &ts));
    const char *names[3] = {"layer.a", "labels", "scale"};
    const ax_tensor *tensors[3] = {ta, tb, ts};
    AX_ASSERT_OK(ax_safetensors_save(path, 3, names, tensors));

    ax_safetensors *st;
    AX_ASSERT_OK(ax_safetensors_open(path, &st));
    cr_assert_eq(ax_safetensors_count(st), 3);
    const void *want[3] = {a, b, &s};
    for (int i = 0; i < 3; i++) {
        int k;
        AX_ASSERT_OK(ax_safetensors_find(st, names[i], &k));
        ax_safetensors_entry e;
        AX_ASSERT_OK(ax_safetensors_entry_get(st, k, &e));
        cr_assert_str_eq(e.name, names[i]);
        cr_assert(e.supported);
        cr_assert_eq(e.dtype, ax_tensor_dtype(tensors[i]));
        cr_assert_eq(e.ndim, ax_tensor_ndim(tensors[i]));
        ax_tensor *t;
        AX_ASSERT_OK(ax_safetensors_to_tensor(st, k, ctx, &t));
        cr_assert_eq(ax_tensor_ctx(t), ctx);
        size_t bytes = ax_tensor_nbytes(t);
        cr_assert_eq(bytes, e.nbytes);
        unsigned char got[64];
        AX_ASSERT_OK(ax_tensor_to_host(t, got, bytes));
        cr_assert(memcmp(got, want[i], bytes) == 0, "%s differs", names[i]);
        AX_ASSERT_OK(ax_safetensors_read(st, k, t));
        ax_tensor_destroy(t);
    }
    ax_safetensors_close(st);
    ax_tensor_destroy(ta);
    ax_tensor_destroy(tb);
    ax_tensor_destroy(ts);
    unlink(path);
    rmdir(dir);
}

/* ================================================================ suite io */

Test(io, round_trip_cpu) {
    ax_ctx *ctx = th_cpu_ctx();
    tensor_round_trip(ctx);
    ax_ctx_destroy(ctx);
}

Test(io, round_trip_gpu) {
    ax_ctx *ctx = th_gpu_ctx_or_skip();
    tensor_round_trip(ctx);
    ax_ctx_destroy(ctx);
}

Test(io, graph_save_then_load_gives_the_same_outputs) {
    ax_ctx *ctx = th_cpu_ctx();
    char dir[64], path[128];
    temp_dir(dir, sizeof dir);
    join(path, sizeof path, dir, "net.safetensors");
    net a = net_build(ctx, 1, 6), b = net_build(ctx, 2, 6);
    float *ya = net_forward(ctx, &a), *yb = net_forward(ctx, &b);
    cr_assert(memcmp(ya, yb, 12 * sizeof *ya) != 0, "different seeds should differ");
    free(yb);

    AX_ASSERT_OK(ax_graph_save(a.g, path));
    AX_ASSERT_OK(ax_graph_load(b.g, path));
    yb = net_forward(ctx, &b);
    th_assert_equal(yb, ya, 12, "forward after load");

    /* The file holds exactly the parameters, F32, under their names. */
    ax_safetensors *st;
    AX_ASSERT_OK(ax_safetensors_open(path, &st));
    cr_assert_eq(ax_safetensors_count(st), 4);
    int k;
    AX_ASSERT_OK(ax_safetensors_find(st, "fc1.weight", &k));
    ax_safetensors_entry e;
    AX_ASSERT_OK(ax_safetensors_entry_get(st, k, &e));
    cr_assert_str_eq(e.dtype_name, "F32");
    cr_assert(e.ndim == 2 && e.shape[0] == 6 && e.shape[1] == 5);
    ax_safetensors_close(st);

    free(ya);
    free(yb);
    ax_graph_destroy(a.g);
    ax_graph_destroy(b.g);
    unlink(path);
    rmdir(dir);
    ax_ctx_destroy(ctx);
}

Test(io, graph_moves_between_cpu_and_gpu) {
    ax_ctx *gpu = th_gpu_ctx_or_skip(), *cpu = th_cpu_ctx();
    char dir[64], path[128], back[128];
    temp_dir(dir, sizeof dir);
    join(path, sizeof path, dir, "cpu.safetensors");
    join(back, sizeof back, dir, "gpu.safetensors");
    net a = net_build(cpu, 1, 6), b = net_build(gpu, 2, 6), c = net_build(cpu, 3, 6);
    AX_ASSERT_OK(ax_graph_save(a.g, path));
    AX_ASSERT_OK(ax_graph_load(b.g, path)); /* onto the GPU */
    AX_ASSERT_OK(ax_graph_save(b.g, back)); /* from the GPU */
    AX_ASSERT_OK(ax_graph_load(c.g, back));
    int64_t na, nc;
    float *pa = params_host(a.g, &na), *pc = params_host(c.g, &nc);
    cr_assert_eq(na, nc);
    th_assert_equal(pc, pa, na, "parameters after CPU -> GPU -> CPU");
    free(pa);
    free(pc);
    ax_graph_destroy(a.g);
    ax_graph_destroy(b.g);
    ax_graph_destroy(c.g);
    unlink(path);
    unlink(back);
    rmdir(dir);
    ax_ctx_destroy(cpu);
    ax_ctx_destroy(gpu);
}

Test(io, save_replaces_the_file_and_leaves_no_temporary) {
    ax_ctx *ctx = th_cpu_ctx();
    char dir[64], path[128];
    temp_dir(dir, sizeof dir);
    join(path, sizeof path, dir, "net.safetensors");
    net a = net_build(ctx, 1, 6), b = net_build(ctx, 2, 6), c = net_build(ctx, 3, 6);
    AX_ASSERT_OK(ax_graph_save(a.g, path));
    AX_ASSERT_OK(ax_graph_save(b.g, path));
    AX_ASSERT_OK(ax_graph_load(c.g, path));
    int64_t nb, nc;
    float *pb = params_host(b.g, &nb), *pc = params_host(c.g, &nc);
    th_assert_equal(pc, pb, nb, "the second save wins");
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    cr_assert(access(tmp, F_OK) != 0, "%s was left behind", tmp);
    free(pb);
    free(pc);
    ax_graph_destroy(a.g);
    ax_graph_destroy(b.g);
    ax_graph_destroy(c.g);
    unlink(path);
    rmdir(dir);
    ax_ctx_destroy(ctx);
}

Test(io, other_dtypes_are_listed_but_not_loaded) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_safetensors *st = parse_ok("{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                                  "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]}}",
                                  4);
    cr_assert_eq(ax_safetensors_count(st), 2);
    ax_safetensors_entry e;
    AX_ASSERT_OK(ax_safetensors_entry_get(st, 0, &e));
    cr_assert_str_eq(e.dtype_name, "F16");
    cr_assert(!e.supported && e.nbytes == 4);
    const void *raw;
    size_t n;
    AX_ASSERT_OK(ax_safetensors_raw(st, 0, &raw, &n));
    cr_assert(n == 4 && ((const unsigned char *)raw)[3] == 3);
    ax_tensor *t = NULL;
    AX_ASSERT_FAILS(ax_safetensors_to_tensor(st, 0, ctx, &t), AX_ERR_UNSUPPORTED,
                    "ax_safetensors_to_tensor");
    AX_ASSERT_FAILS(ax_safetensors_to_tensor(st, 1, ctx, &t), AX_ERR_UNSUPPORTED,
                    "ax_safetensors_to_tensor");
    cr_assert_null(t);
    ax_safetensors_close(st);
    ax_ctx_destroy(ctx);
}

/* x [4, 5] -> fc1 (6) -> relu -> fc2 (3) -> mse with a target, for training. */
typedef struct trainer {
    ax_graph *g;
    ax_node *x, *t;
    ax_optimizer *opt;
} trainer;

static trainer trainer_build(ax_ctx *ctx, uint64_t seed, int adam) {
    trainer m;
    int64_t xs[2] = {4, 5}, ts[2] = {4, 3};
    ax_node *h, *a, *y, *loss;
    AX_ASSERT_OK(ax_graph_create(ctx, seed, &m.g));
    AX_ASSERT_OK(ax_graph_input(m.g, "x", 2, xs, &m.x));
    AX_ASSERT_OK(ax_graph_input(m.g, "t", 2, ts, &m.t));
    AX_ASSERT_OK(ax_graph_dense(m.g, "fc1", m.x, 6, &h));
    AX_ASSERT_OK(ax_graph_activation(m.g, "act", AX_ACT_RELU, 0.0f, h, &a));
    AX_ASSERT_OK(ax_graph_dense(m.g, "fc2", a, 3, &y));
    AX_ASSERT_OK(ax_graph_mse_loss(m.g, "loss", y, m.t, &loss));
    AX_ASSERT_OK(ax_graph_compile(m.g, loss));
    if (adam) {
        AX_ASSERT_OK(ax_optimizer_create_adam(ctx, NULL, &m.opt));
    } else {
        ax_sgd_config cfg = ax_sgd_defaults();
        cfg.momentum = 0.9f;
        AX_ASSERT_OK(ax_optimizer_create_sgd(ctx, &cfg, &m.opt));
    }
    return m;
}

/* One step on batch number `step` of fixed data. */
static void trainer_step(ax_ctx *ctx, trainer *m, uint64_t step) {
    float x[20], t[12];
    th_random(x, 20, 100 + step, -1.0f, 1.0f);
    th_random(t, 12, 200 + step, -1.0f, 1.0f);
    int64_t xs[2] = {4, 5}, ts[2] = {4, 3};
    ax_tensor *xt = th_tensor(ctx, 2, xs, x), *tt = th_tensor(ctx, 2, ts, t);
    AX_ASSERT_OK(ax_graph_feed(m->g, m->x, xt));
    AX_ASSERT_OK(ax_graph_feed(m->g, m->t, tt));
    ax_tensor_destroy(xt);
    ax_tensor_destroy(tt);
    AX_ASSERT_OK(ax_graph_zero_grad(m->g));
    AX_ASSERT_OK(ax_graph_forward(m->g));
    AX_ASSERT_OK(ax_graph_backward(m->g));
    ax_param_list p;
    AX_ASSERT_OK(ax_graph_params(m->g, &p));
    AX_ASSERT_OK(ax_optimizer_step(m->opt, p.n, p.values, p.grads));
}

static void trainer_destroy(trainer *m) {
    ax_optimizer_destroy(m->opt);
    ax_graph_destroy(m->g);
}

Test(io, optimizer_state_resumes_training_exactly) {
    ax_ctx *ctx = th_cpu_ctx();
    char dir[64], wpath[128], opath[128];
    temp_dir(dir, sizeof dir);
    join(wpath, sizeof wpath, dir, "weights.safetensors");
    join(opath, sizeof opath, dir, "adam.safetensors");
    trainer a = trainer_build(ctx, 1, 1), b = trainer_build(ctx, 2, 1);
    for (uint64_t s = 0; s < 3; s++)
        trainer_step(ctx, &a, s);
    AX_ASSERT_OK(ax_graph_save(a.g, wpath));
    AX_ASSERT_OK(ax_optimizer_save(a.opt, a.g, opath));

    AX_ASSERT_OK(ax_graph_load(b.g, wpath));
    AX_ASSERT_OK(ax_optimizer_load(b.opt, b.g, opath));
    int64_t steps;
    AX_ASSERT_OK(ax_optimizer_step_count(b.opt, &steps));
    cr_assert_eq(steps, 3);
    trainer_step(ctx, &a, 3);
    trainer_step(ctx, &b, 3);
    int64_t na, nb;
    float *pa = params_host(a.g, &na), *pb = params_host(b.g, &nb);
    th_assert_equal(pb, pa, na, "parameters one step after resuming");

    ax_safetensors *st;
    AX_ASSERT_OK(ax_safetensors_open(opath, &st));
    cr_assert_eq(ax_safetensors_count(st), 4 * 2 + 1); /* exp_avg, exp_avg_sq; step */
    int k;
    AX_ASSERT_OK(ax_safetensors_find(st, "fc1.weight.exp_avg_sq", &k));
    ax_safetensors_close(st);

    /* SGD with momentum keeps other state: refused, naming the first missing key. */
    trainer c = trainer_build(ctx, 3, 0);
    AX_ASSERT_FAILS(ax_optimizer_load(c.opt, c.g, opath), AX_ERR_FORMAT, "ax_optimizer_load");
    CHECK_MSG("fc1.weight.momentum_buffer is missing from the file");

    free(pa);
    free(pb);
    trainer_destroy(&a);
    trainer_destroy(&b);
    trainer_destroy(&c);
    unlink(wpath);
    unlink(opath);
    rmdir(dir);
    ax_ctx_destroy(ctx);
}

/* ================================================================ suite golden */

static void golden_path(char *buf, size_t size) {
    snprintf(buf, size, "%s/safetensors/mlp.safetensors", th_golden_dir());
}

Test(golden, pytorch_file_values) {
    ax_ctx *ctx = th_cpu_ctx();
    char path[512];
    golden_path(path, sizeof path);
    gd_case *c = gd_load("safetensors", "mlp");
    ax_safetensors *st;
    AX_ASSERT_OK(ax_safetensors_open(path, &st));
    cr_assert_eq(ax_safetensors_count(st), 4);
    const char *names[4] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    for (int i = 0; i < 4; i++) {
        int k;
        AX_ASSERT_OK(ax_safetensors_find(st, names[i], &k));
        ax_tensor *t;
        AX_ASSERT_OK(ax_safetensors_to_tensor(st, k, ctx, &t));
        gd_assert_close(t, c, names[i], 0.0, 0.0); /* %.9g round-trips f32 exactly */
        ax_tensor_destroy(t);
    }
    ax_safetensors_close(st);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

Test(golden, pytorch_weights_give_pytorch_outputs) {
    ax_ctx *ctx = th_cpu_ctx();
    char path[512];
    golden_path(path, sizeof path);
    gd_case *c = gd_load("safetensors", "mlp");
    /* nn.Sequential(Linear(4, 3), ReLU(), Linear(3, 2)): layers "0" and "2". */
    ax_graph *g;
    ax_node *x, *h, *a, *y;
    int64_t xs[2] = {5, 4};
    AX_ASSERT_OK(ax_graph_create(ctx, 9, &g));
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, xs, &x));
    AX_ASSERT_OK(ax_graph_dense(g, "0", x, 3, &h));
    AX_ASSERT_OK(ax_graph_activation(g, "1", AX_ACT_RELU, 0.0f, h, &a));
    AX_ASSERT_OK(ax_graph_dense(g, "2", a, 2, &y));
    AX_ASSERT_OK(ax_graph_compile(g, NULL));
    AX_ASSERT_OK(ax_graph_load(g, path));
    ax_tensor *xt = gd_tensor_on(ctx, c, "x");
    AX_ASSERT_OK(ax_graph_feed(g, x, xt));
    AX_ASSERT_OK(ax_graph_forward(g));
    /* A 4-term and a 3-term f32 dot product: a few ulps of reordering at most. */
    gd_assert_close(ax_graph_value(g, y), c, "y", 1e-6, 1e-5);

    /* Saved again by axon, the file reads back to the same values. */
    char dir[64], again[128];
    temp_dir(dir, sizeof dir);
    join(again, sizeof again, dir, "mlp_axon.safetensors");
    AX_ASSERT_OK(ax_graph_save(g, again));
    ax_safetensors *st;
    AX_ASSERT_OK(ax_safetensors_open(again, &st));
    int k;
    AX_ASSERT_OK(ax_safetensors_find(st, "2.weight", &k));
    ax_tensor *w;
    AX_ASSERT_OK(ax_safetensors_to_tensor(st, k, ctx, &w));
    gd_assert_close(w, c, "2.weight", 0.0, 0.0);
    ax_tensor_destroy(w);
    ax_safetensors_close(st);
    unlink(again);
    rmdir(dir);

    ax_tensor_destroy(xt);
    ax_graph_destroy(g);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

/* The fuzzer's seeds (tests/fuzz/corpus, written by safetensors.torch) are valid files. */
Test(golden, fuzz_seed_corpus_parses) {
    const char *seeds[4] = {"mlp", "mixed", "empty", "zero_dim"};
    const int counts[4] = {4, 4, 0, 2};
    for (int i = 0; i < 4; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/tests/fuzz/corpus/%s.safetensors", AXON_SOURCE_DIR,
                 seeds[i]);
        ax_safetensors *st;
        AX_ASSERT_OK(ax_safetensors_open(path, &st));
        cr_assert_eq(ax_safetensors_count(st), counts[i], "%s", path);
        ax_safetensors_close(st);
    }
}

/* ================================================================ suite badinput */

Test(badinput, every_truncation_is_a_format_error) {
    char path[512], dir[64], cut[128];
    golden_path(path, sizeof path);
    temp_dir(dir, sizeof dir);
    join(cut, sizeof cut, dir, "cut.safetensors");
    size_t size;
    unsigned char *full = slurp(path, &size);
    for (size_t n = 0; n < size; n++) {
        ax_safetensors *st = NULL;
        AX_ASSERT_FAILS(ax_safetensors_parse(full, n, &st), AX_ERR_FORMAT,
                        "ax_safetensors_parse");
        cr_assert_null(st);
        spit(cut, full, n);
        AX_ASSERT_FAILS(ax_safetensors_open(cut, &st), AX_ERR_FORMAT, "ax_safetensors_open");
        CHECK_MSG(cut);
    }
    ax_safetensors *st;
    AX_ASSERT_OK(ax_safetensors_parse(full, size, &st));
    ax_safetensors_close(st);
    free(full);
    unlink(cut);
    rmdir(dir);
}

Test(badinput, header_length) {
    unsigned char buf[16] = {0};
    ax_safetensors *st;
    memset(buf, 0xff, 8); /* 2^64 - 1 */
    AX_ASSERT_FAILS(ax_safetensors_parse(buf, sizeof buf, &st), AX_ERR_FORMAT,
                    "ax_safetensors_parse");
    CHECK_MSG("over the limit");
    memset(buf, 0, 8);
    buf[3] = 0x10; /* 256 MB: over the cap */
    AX_ASSERT_FAILS(ax_safetensors_parse(buf, sizeof buf, &st), AX_ERR_FORMAT,
                    "ax_safetensors_parse");
    buf[3] = 0;
    buf[0] = 9; /* one byte more than the file holds */
    AX_ASSERT_FAILS(ax_safetensors_parse(buf, sizeof buf, &st), AX_ERR_FORMAT,
                    "ax_safetensors_parse");
    CHECK_MSG("runs past the end");
    buf[0] = 0; /* an empty header is not JSON */
    AX_ASSERT_FAILS(ax_safetensors_parse(buf, sizeof buf, &st), AX_ERR_FORMAT,
                    "ax_safetensors_parse");
}

Test(badinput, json) {
    parse_fails("{\"a\": {\"dtype\": \"F32\",", 0, AX_ERR_FORMAT, "does not parse");
    parse_fails("[1, 2]", 0, AX_ERR_FORMAT, "not an object");
    parse_fails("{} x", 0, AX_ERR_FORMAT, "trailing");
    parse_fails("{\"a\": 3}", 0, AX_ERR_FORMAT, "not a JSON object");
    parse_fails("{\"__metadata__\": 3}", 0, AX_ERR_FORMAT, "__metadata__");
    parse_fails("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                8, AX_ERR_FORMAT, "appears twice");
    /* Padding with spaces (as safetensors writes) and metadata are fine. */
    ax_safetensors *st = parse_ok("{\"__metadata__\":{\"format\":\"pt\"}}   ", 0);
    cr_assert_eq(ax_safetensors_count(st), 0);
    ax_safetensors_close(st);
}

Test(badinput, dtypes_and_shapes) {
    parse_fails("{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                AX_ERR_FORMAT, "unknown dtype");
    parse_fails("{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, AX_ERR_FORMAT,
                "dtype");
    parse_fails("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, AX_ERR_FORMAT,
                "shape");
    parse_fails("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                AX_ERR_FORMAT, "shape entry 0");
    parse_fails("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
                AX_ERR_FORMAT, "shape entry 0");
    parse_fails("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,\"2\"],\"data_offsets\":[0,8]}}", 8,
                AX_ERR_FORMAT, "shape entry 1");
    parse_fails("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                "\"data_offsets\":[0,4]}}",
                4, AX_ERR_FORMAT, "overflows");
    parse_fails("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                "\"data_offsets\":[0,4]}}",
                4, AX_ERR_UNSUPPORTED, "9 dims");
}

Test(badinput, offsets) {
    const char *one = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":%s}}";
    char json[256];
    snprintf(json, sizeof json, one, "[0,12]"); /* past the buffer */
    parse_fails(json, 8, AX_ERR_FORMAT, "not inside the data buffer");
    snprintf(json, sizeof json, one, "[8,0]"); /* begin > end */
    parse_fails(json, 8, AX_ERR_FORMAT, "not inside the data buffer");
    snprintf(json, sizeof json, one, "[0,4]"); /* does not match the shape */
    parse_fails(json, 4, AX_ERR_FORMAT, "needs 8");
    snprintf(json, sizeof json, one, "[0]");
    parse_fails(json, 8, AX_ERR_FORMAT, "data_offsets");
    snprintf(json, sizeof json, one, "[0,8]"); /* 4 bytes left over */
    parse_fails(json, 12, AX_ERR_FORMAT, "the buffer has 12");
    snprintf(json, sizeof json, one, "[4,12]"); /* a gap in front */
    parse_fails(json, 12, AX_ERR_FORMAT, "overlap or leave a gap");
    parse_fails("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                12, AX_ERR_FORMAT, "overlap");
    parse_fails("{}", 4, AX_ERR_FORMAT, "no tensors");
    /* Tensors in any order in the header are fine when they tile the buffer. */
    ax_safetensors *st = parse_ok("{\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[8,12]},"
                                  "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                                  12);
    cr_assert_eq(ax_safetensors_count(st), 2);
    ax_safetensors_close(st);
}

Test(badinput, graph_mismatches_are_named_and_change_nothing) {
    ax_ctx *ctx = th_cpu_ctx();
    char dir[64], path[128], extra[128];
    temp_dir(dir, sizeof dir);
    join(path, sizeof path, dir, "net.safetensors");
    join(extra, sizeof extra, dir, "extra.safetensors");
    net a = net_build(ctx, 1, 6), wide = net_build(ctx, 2, 8);
    AX_ASSERT_OK(ax_graph_save(a.g, path));
    int64_t n0, n1;
    float *before = params_host(wide.g, &n0);
    AX_ASSERT_FAILS(ax_graph_load(wide.g, path), AX_ERR_SHAPE, "ax_graph_load");
    CHECK_MSG("fc1.weight has shape [6, 5] in the file, [8, 5] in the graph");
    float *after = params_host(wide.g, &n1);
    th_assert_equal(after, before, n0, "parameters after a failed load");

    /* A graph with one parameter more: missing from the file. */
    ax_graph *g;
    ax_node *x, *h, *act, *y, *bonus;
    int64_t xs[2] = {4, 5}, one = 1;
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, xs, &x));
    AX_ASSERT_OK(ax_graph_dense(g, "fc1", x, 6, &h));
    AX_ASSERT_OK(ax_graph_activation(g, "act", AX_ACT_RELU, 0.0f, h, &act));
    AX_ASSERT_OK(ax_graph_dense(g, "fc2", act, 3, &y));
    AX_ASSERT_OK(ax_graph_param(g, "bonus", 1, &one, &(ax_init){.kind = AX_INIT_ZEROS}, &bonus));
    AX_ASSERT_FAILS(ax_graph_load(g, path), AX_ERR_FORMAT, "ax_graph_load");
    CHECK_MSG("bonus is missing from the file");

    /* A file with one tensor more than the graph. */
    AX_ASSERT_OK(ax_graph_save(g, extra));
    AX_ASSERT_FAILS(ax_graph_load(a.g, extra), AX_ERR_FORMAT, "ax_graph_load");
    CHECK_MSG("the file has a tensor 'bonus' that is not in the graph");

    /* The right shape in the wrong dtype. */
    ax_tensor *labels = th_tensor_i32(ctx, 1, &one, (int32_t[]){3});
    const char *names[1] = {"bonus"};
    AX_ASSERT_OK(ax_safetensors_save(extra, 1, names, (const ax_tensor *const[]){labels}));
    ax_graph *small;
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &small));
    AX_ASSERT_OK(ax_graph_param(small, "bonus", 1, &one, &(ax_init){.kind = AX_INIT_ZEROS},
                                &bonus));
    AX_ASSERT_FAILS(ax_graph_load(small, extra), AX_ERR_DTYPE, "ax_graph_load");
    CHECK_MSG("bonus is I32 in the file, F32 in the graph");

    ax_tensor_destroy(labels);
    free(before);
    free(after);
    ax_graph_destroy(small);
    ax_graph_destroy(g);
    ax_graph_destroy(a.g);
    ax_graph_destroy(wide.g);
    unlink(path);
    unlink(extra);
    rmdir(dir);
    ax_ctx_destroy(ctx);
}

Test(badinput, null_and_missing_files) {
    ax_ctx *ctx = th_cpu_ctx();
    net a = net_build(ctx, 1, 6);
    ax_safetensors *st;
    AX_ASSERT_FAILS(ax_graph_load(a.g, NULL), AX_ERR_INVALID_ARG, "ax_graph_load");
    AX_ASSERT_FAILS(ax_graph_save(a.g, NULL), AX_ERR_INVALID_ARG, "ax_graph_save");
    AX_ASSERT_FAILS(ax_graph_save(NULL, "/tmp/x.safetensors"), AX_ERR_INVALID_ARG,
                    "ax_graph_save");
    AX_ASSERT_FAILS(ax_graph_load(NULL, "/tmp/x.safetensors"), AX_ERR_INVALID_ARG,
                    "ax_graph_load");
    AX_ASSERT_FAILS(ax_safetensors_open(NULL, &st), AX_ERR_INVALID_ARG, "ax_safetensors_open");
    AX_ASSERT_FAILS(ax_safetensors_open("/nonexistent/x.safetensors", &st), AX_ERR_IO,
                    "ax_safetensors_open");
    AX_ASSERT_FAILS(ax_safetensors_open("/tmp", &st), AX_ERR_IO, "ax_safetensors_open");
    AX_ASSERT_FAILS(ax_graph_load(a.g, "/nonexistent/x.safetensors"), AX_ERR_IO,
                    "ax_graph_load");
    AX_ASSERT_FAILS(ax_safetensors_parse(NULL, 8, &st), AX_ERR_INVALID_ARG,
                    "ax_safetensors_parse");
    AX_ASSERT_FAILS(ax_safetensors_save("/tmp/x.safetensors", 1, NULL, NULL), AX_ERR_INVALID_ARG,
                    "ax_safetensors_save");
    const char *twice[2] = {"w", "w"};
    ax_tensor *w;
    AX_ASSERT_OK(ax_graph_param_get(a.g, 0, NULL, &w, NULL));
    AX_ASSERT_FAILS(ax_safetensors_save("/tmp/x.safetensors", 2, twice,
                                        (const ax_tensor *const[]){w, w}),
                    AX_ERR_INVALID_ARG, "ax_safetensors_save");
    AX_ASSERT_FAILS(ax_safetensors_entry_get(NULL, 0, &(ax_safetensors_entry){0}),
                    AX_ERR_INVALID_ARG, "ax_safetensors_entry_get");
    cr_assert_eq(ax_safetensors_count(NULL), 0);
    ax_safetensors_close(NULL);
    ax_graph_destroy(a.g);
    ax_ctx_destroy(ctx);
}

/* A save that cannot write keeps the previous checkpoint byte for byte. */
Test(badinput, failed_save_keeps_the_old_file) {
    ax_ctx *ctx = th_cpu_ctx();
    char dir[64], path[128], tmp[192];
    temp_dir(dir, sizeof dir);
    join(path, sizeof path, dir, "net.safetensors");
    net a = net_build(ctx, 1, 6), b = net_build(ctx, 2, 6);
    AX_ASSERT_OK(ax_graph_save(a.g, path));
    size_t n0, n1;
    unsigned char *old = slurp(path, &n0);

    /* The temporary file cannot be created (a folder is in its way). */
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    cr_assert_eq(mkdir(tmp, 0755), 0);
    AX_ASSERT_FAILS(ax_graph_save(b.g, path), AX_ERR_IO, "ax_graph_save");
    rmdir(tmp);

    /* The folder is not writable (root writes anyway, so only checked as a user). */
    if (geteuid() != 0) {
        cr_assert_eq(chmod(dir, 0555), 0);
        AX_ASSERT_FAILS(ax_graph_save(b.g, path), AX_ERR_IO, "ax_graph_save");
        cr_assert_eq(chmod(dir, 0755), 0);
    }
    /* No folder at all. */
    AX_ASSERT_FAILS(ax_graph_save(b.g, "/nonexistent/dir/net.safetensors"), AX_ERR_IO,
                    "ax_graph_save");

    unsigned char *now = slurp(path, &n1);
    cr_assert(n0 == n1 && memcmp(old, now, n0) == 0, "the old checkpoint changed");
    free(old);
    free(now);
    ax_graph_destroy(a.g);
    ax_graph_destroy(b.g);
    unlink(path);
    rmdir(dir);
    ax_ctx_destroy(ctx);
}

/* A save over something that is not a regular file (a device, a directory) is refused and
 * leaves it as it was: /dev/full stays a character device, the directory a directory. */
Test(badinput, save_refuses_to_replace_a_non_regular_file) {
    ax_ctx *ctx = th_cpu_ctx();
    net a = net_build(ctx, 1, 6);
    struct stat sb;
    if (stat("/dev/full", &sb) == 0) {
        cr_assert(S_ISCHR(sb.st_mode));
        AX_ASSERT_FAILS(ax_graph_save(a.g, "/dev/full"), AX_ERR_IO, "ax_graph_save");
        cr_assert(strstr(ax_last_error(), "/dev/full"), "%s", ax_last_error());
        cr_assert(strstr(ax_last_error(), "not a regular file"), "%s", ax_last_error());
        cr_assert_eq(stat("/dev/full", &sb), 0);
        cr_assert(S_ISCHR(sb.st_mode), "/dev/full was replaced");
    }
    char dir[64];
    temp_dir(dir, sizeof dir);
    AX_ASSERT_FAILS(ax_graph_save(a.g, dir), AX_ERR_IO, "ax_graph_save");
    cr_assert(strstr(ax_last_error(), dir), "%s", ax_last_error());
    AX_ASSERT_FAILS(ax_safetensors_save(dir, 0, NULL, NULL), AX_ERR_IO, "ax_safetensors_save");
    cr_assert_eq(stat(dir, &sb), 0);
    cr_assert(S_ISDIR(sb.st_mode));
    rmdir(dir);
    ax_graph_destroy(a.g);
    ax_ctx_destroy(ctx);
}
