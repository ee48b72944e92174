#define _POSIX_C_SOURCE 200809L /* mkstemp */
/* The graph's embedding layer (ax_graph_embedding) in a tiny token model, against PyTorch:
 *     emb = nn.Embedding(7, 4) -> fc = nn.Linear(4, 7) -> cross-entropy over every token
 * on time-major [T, N] and batch-first [N, T] token ids (tests/golden/gen_lm.py), from
 * torch's initial weights (loaded strictly by name from its state_dict): logits, loss and
 * every parameter's gradient for a full run, a shorter last sequence (ax_graph_set_seq_len)
 * and a shorter last batch, without recompiling, with and without value reuse. Also: the
 * checkpoint keys, dtypes and shapes are torch's (emb.weight, fc.weight, fc.bias: what
 * load_state_dict(strict=True) needs; gen_lm.py --check loads one), the weight's N(0, 1)
 * initialisation, the output's shape and axes, a bad token id at the forward, every builder
 * refusal with the graph unchanged.
 *
 * Tolerance: f32 on both sides, sums of at most 4 products per logit and 15 rows per
 * gradient element, in different orders: 1e-6 absolute + 1e-5 relative (a row added to the
 * wrong token or a missing 1/(T N) is off by far more). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "golden.h"
#include "helpers.h"

#include "host/core/handles.h"
#include "host/graph/graph_internal.h"

#define ATOL 1e-6
#define RTOL 1e-5
#define V 7
#define D 4
#define T 5
#define N 3

typedef struct lm {
    ax_graph *g;
    ax_node *idx, *labels, *emb, *logits, *loss;
    int batch_first;
} lm;

static lm lm_build(ax_ctx *ctx, int batch_first, int reuse) {
    lm m = {0};
    m.batch_first = batch_first;
    int64_t shape[2] = {batch_first ? N : T, batch_first ? T : N};
    int b_axis = batch_first ? 0 : 1, t_axis = 1 - b_axis;
    AX_ASSERT_OK(ax_graph_create(ctx, 5, &m.g));
    AX_ASSERT_OK(ax_graph_input_typed(m.g, "idx", AX_I32, 2, shape, b_axis, t_axis, &m.idx));
    AX_ASSERT_OK(
        ax_graph_input_typed(m.g, "labels", AX_I32, 2, shape, b_axis, t_axis, &m.labels));
    AX_ASSERT_OK(ax_graph_embedding(m.g, "emb", m.idx, V, D, &m.emb));
    AX_ASSERT_OK(ax_graph_dense(m.g, "fc", m.emb, V, &m.logits));
    AX_ASSERT_OK(ax_graph_cross_entropy(m.g, "loss", m.logits, m.labels, &m.loss));
    AX_ASSERT_OK(ax_graph_set_value_reuse(m.g, reuse));
    AX_ASSERT_OK(ax_graph_compile(m.g, m.loss));
    return m;
}

static void golden_path(char *buf, size_t size, const char *file) {
    snprintf(buf, size, "%s/lm/%s", th_golden_dir(), file);
}

static void feed(lm *m, ax_ctx *ctx, ax_node *input, const gd_tensor *t) {
    ax_tensor *src = NULL;
    AX_ASSERT_OK(ax_tensor_from_host(ctx, AX_I32, 2, t->shape, t->i, &src));
    AX_ASSERT_OK(ax_graph_feed(m->g, input, src));
    ax_tensor_destroy(src);
}

/* One run of the golden case c named run: feed, forward, backward, compare. */
static void check_run(lm *m, ax_ctx *ctx, const gd_case *c, const char *run) {
    char key[32];
    snprintf(key, sizeof key, "%s.idx", run);
    const gd_tensor *idx = gd_get(c, key);
    int64_t steps = idx->shape[m->batch_first ? 1 : 0];
    AX_ASSERT_OK(ax_graph_set_seq_len(m->g, steps));
    cr_assert_eq(ax_graph_seq_len(m->g), steps);
    feed(m, ctx, m->idx, idx);
    snprintf(key, sizeof key, "%s.labels", run);
    feed(m, ctx, m->labels, gd_get(c, key));
    AX_ASSERT_OK(ax_graph_zero_grad(m->g));
    AX_ASSERT_OK(ax_graph_forward(m->g));
    AX_ASSERT_OK(ax_graph_backward(m->g));
    float loss = NAN;
    AX_ASSERT_OK(ax_graph_loss(m->g, &loss));
    snprintf(key, sizeof key, "%s.loss", run);
    float want = gd_scalar(c, key);
    cr_assert(fabs(loss - want) <= ATOL + RTOL * fabs(want), "%s: loss %.9g, torch %.9g", run,
              (double)loss, (double)want);
    snprintf(key, sizeof key, "%s.logits", run);
    gd_assert_close(ax_graph_value(m->g, m->logits), c, key, ATOL, RTOL);
    for (int i = 0; i < ax_graph_param_count(m->g); i++) {
        const char *name;
        ax_tensor *grad;
        AX_ASSERT_OK(ax_graph_param_get(m->g, i, &name, NULL, &grad));
        snprintf(key, sizeof key, "%s.g.%s", run, name);
        gd_assert_close(grad, c, key, ATOL, RTOL);
    }
}

static void golden_model(ax_ctx *ctx, int batch_first, int reuse) {
    lm m = lm_build(ctx, batch_first, reuse);
    char path[512];
    golden_path(path, sizeof path, "init.safetensors");
    AX_ASSERT_OK(ax_graph_load(m.g, path));
    gd_case *c = gd_load("lm", batch_first ? "bf" : "tm");
    const char *runs[] = {"full", "short_seq", "short_batch", "full"};
    const long long live = (long long)ax_handle_count(AX_HANDLE_TENSOR);
    for (size_t k = 0; k < sizeof runs / sizeof *runs; k++) {
        check_run(&m, ctx, c, runs[k]);
        /* the [rows, C] views a forward and backward open are all closed again */
        cr_assert_eq((long long)ax_handle_count(AX_HANDLE_TENSOR), live, "run %s", runs[k]);
    }
    AX_ASSERT_OK(ax_graph_forward(m.g)); /* a forward alone (no backward after it) too */
    cr_assert_eq((long long)ax_handle_count(AX_HANDLE_TENSOR), live, "a forward alone");
    /* a second backward adds to the parameters' gradients (as PyTorch's .grad) */
    AX_ASSERT_OK(ax_graph_backward(m.g));
    ax_tensor *grad = NULL;
    AX_ASSERT_OK(ax_graph_param_get(m.g, 0, NULL, NULL, &grad));
    float *twice = th_to_host(grad);
    const gd_tensor *once = gd_get(c, "full.g.emb.weight");
    for (int64_t e = 0; e < once->numel; e++)
        once->f[e] *= 2.0f;
    th_assert_close(twice, once->f, once->numel, ATOL, RTOL, "emb.weight grad after 2 backwards");
    free(twice);
    gd_free(c);
    ax_graph_destroy(m.g);
}

Test(golden, lm_time_major) {
    ax_ctx *ctx = th_cpu_ctx();
    golden_model(ctx, 0, 0);
    golden_model(ctx, 0, 1);
    ax_ctx_destroy(ctx);
}

Test(golden, lm_batch_first) {
    ax_ctx *ctx = th_cpu_ctx();
    golden_model(ctx, 1, 0);
    golden_model(ctx, 1, 1);
    ax_ctx_destroy(ctx);
}

Test(golden, lm_gpu) {
    ax_ctx *ctx = th_gpu_ctx_or_skip();
    golden_model(ctx, 0, 1);
    golden_model(ctx, 1, 0);
    AX_ASSERT_OK(ax_ctx_synchronize(ctx));
    ax_ctx_destroy(ctx);
}

/* The checkpoint holds torch's state_dict keys, dtypes, shapes (and here values): what
 * load_state_dict(strict=True) takes (gen_lm.py --check FILE shows it on a saved one). */
Test(graph_embedding, checkpoint_is_torch_state_dict) {
    ax_ctx *ctx = th_cpu_ctx();
    lm m = lm_build(ctx, 0, 0);
    const char *want[] = {"emb.weight", "fc.weight", "fc.bias"};
    cr_assert_eq(ax_graph_param_count(m.g), 3);
    for (int i = 0; i < 3; i++) {
        const char *name;
        AX_ASSERT_OK(ax_graph_param_get(m.g, i, &name, NULL, NULL));
        cr_assert_str_eq(name, want[i]);
    }
    char path[512], ours[64] = "/tmp/axon_lm_XXXXXX";
    golden_path(path, sizeof path, "init.safetensors");
    AX_ASSERT_OK(ax_graph_load(m.g, path));
    int fd = mkstemp(ours);
    cr_assert_geq(fd, 0);
    close(fd);
    AX_ASSERT_OK(ax_graph_save(m.g, ours));
    cr_assert_eq(gd_assert_same_checkpoint(ours, path, 0.0, 0.0), 0);
    unlink(ours);
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
}

/* The weight starts N(0, 1) as nn.Embedding's: 64000 draws, mean within 5 standard errors of
 * 0 and variance within 5 of 1 (a U(-1, 1) init has variance 1/3, a N(0, 0.1) 0.01). */
Test(graph_embedding, weight_is_standard_normal) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g = NULL;
    ax_node *idx, *e;
    int64_t shape[2] = {2, 3};
    AX_ASSERT_OK(ax_graph_create(ctx, 11, &g));
    AX_ASSERT_OK(ax_graph_input_typed(g, "idx", AX_I32, 2, shape, 0, 1, &idx));
    AX_ASSERT_OK(ax_graph_embedding(g, "emb", idx, 1000, 64, &e));
    ax_tensor *w = NULL;
    AX_ASSERT_OK(ax_graph_param_get(g, 0, NULL, &w, NULL));
    float *h = th_to_host(w);
    double s = 0.0, s2 = 0.0, n = 64000.0;
    for (int i = 0; i < 64000; i++)
        s += h[i], s2 += (double)h[i] * h[i];
    double mean = s / n, var = s2 / n - mean * mean;
    cr_assert(fabs(mean) < 5.0 / sqrt(n) && fabs(var - 1.0) < 5.0 * sqrt(2.0 / n),
              "mean %g, variance %g", mean, var);
    /* the output keeps the indices' axes and adds the embedding dim */
    cr_assert(e->value->ndim == 3 && e->max_shape[0] == 2 && e->max_shape[1] == 3 &&
              e->max_shape[2] == 64 && e->batched && e->batch_axis == 0 && e->time_axis == 1);
    free(h);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* A token id outside [0, V) fails the forward, naming the node and the position. */
Test(graph_embedding, bad_token_id) {
    ax_ctx *ctx = th_cpu_ctx();
    lm m = lm_build(ctx, 0, 0);
    int32_t ids[T * N] = {0};
    ids[4] = V;
    gd_tensor t = {.dtype = AX_I32, .ndim = 2, .shape = {T, N}, .numel = T * N, .i = ids};
    feed(&m, ctx, m.idx, &t);
    ids[4] = 0;
    feed(&m, ctx, m.labels, &t);
    AX_ASSERT_FAILS(ax_graph_forward(m.g), AX_ERR_INVALID_ARG, "ax_graph_forward");
    cr_assert(strstr(ax_last_error(), "'emb'") && strstr(ax_last_error(), "indices[4] = 7"),
              "%s", ax_last_error());
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
}

/* Cross-entropy over a sequence needs labels with the logits' dims, batch and time axes. */
Test(graph_embedding, sequence_cross_entropy_shapes) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g = NULL;
    ax_node *idx, *lab_bf, *lab_short, *lab_ok, *e, *y, *o = NULL;
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    AX_ASSERT_OK(ax_graph_input_typed(g, "idx", AX_I32, 2, (int64_t[]){5, 3}, 1, 0, &idx));
    AX_ASSERT_OK(ax_graph_input_typed(g, "lbf", AX_I32, 2, (int64_t[]){3, 5}, 0, 1, &lab_bf));
    AX_ASSERT_OK(ax_graph_input_typed(g, "ls", AX_I32, 1, (int64_t[]){3}, 0, -1, &lab_short));
    AX_ASSERT_OK(ax_graph_input_typed(g, "lok", AX_I32, 2, (int64_t[]){5, 3}, 1, 0, &lab_ok));
    ax_node *lab_nt = NULL; /* the right dims and batch, but no time axis */
    AX_ASSERT_OK(ax_graph_input_typed(g, "lnt", AX_I32, 2, (int64_t[]){5, 3}, 1, -1, &lab_nt));
    AX_ASSERT_OK(ax_graph_embedding(g, "emb", idx, 7, 4, &e));
    AX_ASSERT_OK(ax_graph_dense(g, "fc", e, 7, &y));
    cr_assert(y->max_shape[0] == 5 && y->max_shape[1] == 3 && y->max_shape[2] == 7 &&
              y->batch_axis == 1 && y->time_axis == 0);
    const char *f = "ax_graph_cross_entropy";
    AX_ASSERT_FAILS(ax_graph_cross_entropy(g, "ce", y, lab_bf, &o), AX_ERR_SHAPE, f);
    AX_ASSERT_FAILS(ax_graph_cross_entropy(g, "ce", y, lab_short, &o), AX_ERR_SHAPE, f);
    AX_ASSERT_FAILS(ax_graph_cross_entropy(g, "ce", y, lab_nt, &o), AX_ERR_SHAPE, f);
    AX_ASSERT_OK(ax_graph_cross_entropy(g, "ce", y, lab_ok, &o));
    /* [3, 5, 3] tokens (batch 0, time 1) against labels of the same dims and time axis
     * whose batch is axis 2 (a shorter batch would shrink different dims), and against
     * [3, 5, 4] labels (the last, free dim differs) */
    ax_node *i3, *lb2, *l4, *e3, *y3;
    int64_t s3[3] = {3, 5, 3}, s4[3] = {3, 5, 4};
    AX_ASSERT_OK(ax_graph_input_typed(g, "i3", AX_I32, 3, s3, 0, 1, &i3));
    AX_ASSERT_OK(ax_graph_input_typed(g, "lb2", AX_I32, 3, s3, 2, 1, &lb2));
    AX_ASSERT_OK(ax_graph_input_typed(g, "l4", AX_I32, 3, s4, 0, 1, &l4));
    AX_ASSERT_OK(ax_graph_embedding(g, "e3", i3, 7, 4, &e3));
    AX_ASSERT_OK(ax_graph_dense(g, "fc3", e3, 7, &y3));
    AX_ASSERT_FAILS(ax_graph_cross_entropy(g, "ce3", y3, lb2, &o), AX_ERR_SHAPE, f);
    AX_ASSERT_FAILS(ax_graph_cross_entropy(g, "ce3", y3, l4, &o), AX_ERR_SHAPE, f);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* A dense layer over a sequence, the graph's last op, closes the [rows, C] views it opens
 * (no later op's view at the same stack address hides one left open). */
Test(graph_embedding, dense_closes_its_views) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g = NULL;
    ax_node *x, *y;
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    AX_ASSERT_OK(ax_graph_input_typed(g, "x", AX_F32, 3, (int64_t[]){T, N, D}, 1, 0, &x));
    AX_ASSERT_OK(ax_graph_dense(g, "fc", x, V, &y));
    AX_ASSERT_OK(ax_graph_compile(g, NULL));
    float xs[T * N * D];
    th_random(xs, T * N * D, 8, -1, 1);
    AX_ASSERT_OK(ax_graph_feed_f32(g, x, xs, N));
    const long long live = (long long)ax_handle_count(AX_HANDLE_TENSOR);
    AX_ASSERT_OK(ax_graph_forward(g));
    cr_assert_eq((long long)ax_handle_count(AX_HANDLE_TENSOR), live);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* Every refusal of the builder, with its status and message, leaves the graph as it was. */
Test(graph_embedding, builder_refusals) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g = NULL, *other = NULL;
    ax_node *idx, *x, *o = NULL, *oi, *deep;
    int64_t shape[2] = {4, 3}, deep_shape[AX_MAX_DIMS] = {4, 1, 1, 1, 1, 1, 1, 1};
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &other));
    AX_ASSERT_OK(ax_graph_input_typed(g, "idx", AX_I32, 2, shape, 0, 1, &idx));
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, shape, &x));
    AX_ASSERT_OK(ax_graph_input_typed(g, "deep", AX_I32, AX_MAX_DIMS, deep_shape, 0, -1, &deep));
    AX_ASSERT_OK(ax_graph_labels(other, "oi", 4, &oi));
    const char *f = "ax_graph_embedding";
    AX_ASSERT_FAILS(ax_graph_embedding(g, "e", idx, 5, 3, NULL), AX_ERR_INVALID_ARG, f);
    AX_ASSERT_FAILS(ax_graph_embedding(NULL, "e", idx, 5, 3, &o), AX_ERR_INVALID_ARG, f);
    AX_ASSERT_FAILS(ax_graph_embedding(g, "e", NULL, 5, 3, &o), AX_ERR_INVALID_ARG, f);
    AX_ASSERT_FAILS(ax_graph_embedding(g, "e", oi, 5, 3, &o), AX_ERR_INVALID_ARG, f);
    AX_ASSERT_FAILS(ax_graph_embedding(g, "e", x, 5, 3, &o), AX_ERR_DTYPE, f);
    cr_assert(strstr(ax_last_error(), "i32"), "%s", ax_last_error());
    AX_ASSERT_FAILS(ax_graph_embedding(g, "e", deep, 5, 3, &o), AX_ERR_SHAPE, f);
    cr_assert(strstr(ax_last_error(), "no dim for the embedding"), "%s", ax_last_error());
    AX_ASSERT_FAILS(ax_graph_embedding(g, "e", idx, 0, 3, &o), AX_ERR_SHAPE, f);
    cr_assert(strstr(ax_last_error(), "vocab is 0"), "%s", ax_last_error());
    AX_ASSERT_FAILS(ax_graph_embedding(g, "e", idx, -1, 3, &o), AX_ERR_SHAPE, f);
    AX_ASSERT_FAILS(ax_graph_embedding(g, "e", idx, (int64_t)INT32_MAX + 2, 3, &o), AX_ERR_SHAPE,
                    f);
    AX_ASSERT_FAILS(ax_graph_embedding(g, "e", idx, 5, 0, &o), AX_ERR_SHAPE, f);
    AX_ASSERT_FAILS(ax_graph_embedding(g, "e", idx, 5, INT64_MAX / 2, &o), AX_ERR_SHAPE, f);
    AX_ASSERT_FAILS(ax_graph_embedding(g, "x", idx, 5, 3, &o), AX_ERR_INVALID_ARG, f);
    cr_assert(strstr(ax_last_error(), "already named 'x'"), "%s", ax_last_error());
    cr_assert_null(o);
    cr_assert_eq(g->n_nodes, 3);
    cr_assert_eq(ax_graph_param_count(g), 0);
    AX_ASSERT_OK(ax_graph_embedding(g, NULL, idx, 5, 3, &o)); /* "embedding<node count>" */
    cr_assert_str_eq(ax_graph_node_name(g, o), "embedding3");
    int index = -1;
    AX_ASSERT_OK(ax_graph_param_find(g, "embedding3.weight", &index));
    AX_ASSERT_OK(ax_graph_compile(g, NULL));
    AX_ASSERT_FAILS(ax_graph_embedding(g, "e2", idx, 5, 3, &o), AX_ERR_STATE, f);
    ax_graph_destroy(g), ax_graph_destroy(other);
    ax_ctx_destroy(ctx);
}
