/* The static graph (include/axon/graph.h): building, compiling, running, the batch, the
 * parameters, initialisers and the data loader (suite graph); whole-graph gradient checks
 * (gradcheck); wrong uses (badinput); CPU-CUDA parity (parity, skipped without a GPU). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers.h"

#define CHECK_MSG(substr)                                                                      \
    cr_assert(strstr(ax_last_error(), (substr)), "message \"%s\" lacks \"%s\"",               \
              ax_last_error(), (substr))

/* ---------------------------------------------------------------- a small MLP */

/* x [N, 5] -> fc1 (6) -> tanh -> fc2 (3) -> cross-entropy with labels [N]. */
typedef struct mlp {
    ax_graph *g;
    ax_node *x, *y, *h, *a, *logits, *loss;
} mlp;

static mlp mlp_build(ax_ctx *ctx, int64_t max_batch, uint64_t seed) {
    mlp m;
    int64_t xs[2] = {max_batch, 5};
    AX_ASSERT_OK(ax_graph_create(ctx, seed, &m.g));
    AX_ASSERT_OK(ax_graph_input(m.g, "x", 2, xs, &m.x));
    AX_ASSERT_OK(ax_graph_labels(m.g, "y", max_batch, &m.y));
    AX_ASSERT_OK(ax_graph_dense(m.g, "fc1", m.x, 6, &m.h));
    AX_ASSERT_OK(ax_graph_activation(m.g, "act", AX_ACT_TANH, 0.0f, m.h, &m.a));
    AX_ASSERT_OK(ax_graph_dense(m.g, "fc2", m.a, 3, &m.logits));
    AX_ASSERT_OK(ax_graph_cross_entropy(m.g, "loss", m.logits, m.y, &m.loss));
    AX_ASSERT_OK(ax_graph_compile(m.g, m.loss));
    return m;
}

/* Feed n rows of deterministic data. */
static void mlp_feed(ax_ctx *ctx, mlp *m, int64_t n, uint64_t seed) {
    float x[64 * 5];
    int32_t y[64];
    th_random(x, n * 5, seed, -1.0f, 1.0f);
    for (int64_t i = 0; i < n; i++)
        y[i] = (int32_t)((i * 7 + (int64_t)seed) % 3);
    int64_t xs[2] = {n, 5};
    ax_tensor *xt = th_tensor(ctx, 2, xs, x), *yt = th_tensor_i32(ctx, 1, &n, y);
    AX_ASSERT_OK(ax_graph_feed(m->g, m->x, xt));
    AX_ASSERT_OK(ax_graph_feed(m->g, m->y, yt));
    ax_tensor_destroy(xt);
    ax_tensor_destroy(yt);
}

static ax_tensor *param(ax_graph *g, const char *name) {
    int i;
    ax_tensor *t = NULL;
    AX_ASSERT_OK(ax_graph_param_find(g, name, &i));
    AX_ASSERT_OK(ax_graph_param_get(g, i, NULL, &t, NULL));
    return t;
}

static float scalar(ax_tensor *t) {
    float v;
    AX_ASSERT_OK(ax_tensor_to_host(t, &v, sizeof v));
    return v;
}

/* ================================================================ suite graph */

Test(graph, build_and_compile) {
    ax_ctx *ctx = th_cpu_ctx();
    mlp m = mlp_build(ctx, 8, 1);
    cr_assert_eq(ax_graph_param_count(m.g), 4);
    const char *names[] = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"};
    int64_t shapes[4][2] = {{6, 5}, {6, 0}, {3, 6}, {3, 0}};
    for (int i = 0; i < 4; i++) {
        const char *name;
        ax_tensor *v, *gr;
        AX_ASSERT_OK(ax_graph_param_get(m.g, i, &name, &v, &gr));
        cr_assert_str_eq(name, names[i]);
        cr_assert_eq(ax_tensor_dim(v, 0), shapes[i][0]);
        cr_assert_eq(ax_tensor_ndim(v), shapes[i][1] ? 2 : 1);
        cr_assert_eq(ax_tensor_numel(gr), ax_tensor_numel(v));
    }
    cr_assert_str_eq(ax_graph_node_name(m.g, m.a), "act");
    cr_assert_eq(ax_tensor_dim(ax_graph_value(m.g, m.logits), 1), 3);
    cr_assert_eq(ax_tensor_ndim(ax_graph_value(m.g, m.loss)), 0);
    cr_assert_not_null(ax_graph_grad(m.g, m.logits));
    cr_assert_null(ax_graph_grad(m.g, m.x), "inputs have no gradient");
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
}

/* Unnamed nodes get "<op><id>". */
Test(graph, automatic_names) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *r, *d;
    int64_t xs[2] = {2, 3};
    AX_ASSERT_OK(ax_graph_create(ctx, 0, &g));
    AX_ASSERT_OK(ax_graph_input(g, NULL, 2, xs, &x));
    AX_ASSERT_OK(ax_graph_activation(g, NULL, AX_ACT_RELU, 0.0f, x, &r));
    AX_ASSERT_OK(ax_graph_dense(g, NULL, r, 4, &d));
    cr_assert_str_eq(ax_graph_node_name(g, x), "input0");
    cr_assert_str_eq(ax_graph_node_name(g, r), "relu1");
    cr_assert_str_eq(ax_graph_node_name(g, d), "dense2");
    int i;
    AX_ASSERT_OK(ax_graph_param_find(g, "dense2.weight", &i));
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* The forward equals calling the ops by hand on the same tensors, bit for bit. */
Test(graph, forward_matches_ops) {
    ax_ctx *ctx = th_cpu_ctx();
    mlp m = mlp_build(ctx, 8, 2);
    mlp_feed(ctx, &m, 8, 3);
    AX_ASSERT_OK(ax_graph_forward(m.g));

    ax_tensor *x = ax_graph_value(m.g, m.x), *y = ax_graph_value(m.g, m.y);
    int64_t hs[2] = {8, 6}, ls[2] = {8, 3};
    ax_tensor *h = th_nan_tensor(ctx, 2, hs), *logits = th_nan_tensor(ctx, 2, ls);
    ax_tensor *loss = th_nan_tensor(ctx, 0, NULL);
    AX_ASSERT_OK(ax_dense_forward(ctx, x, param(m.g, "fc1.weight"), param(m.g, "fc1.bias"), h));
    AX_ASSERT_OK(ax_activation_forward(ctx, AX_ACT_TANH, 0.0f, h, h));
    AX_ASSERT_OK(
        ax_dense_forward(ctx, h, param(m.g, "fc2.weight"), param(m.g, "fc2.bias"), logits));
    AX_ASSERT_OK(ax_cross_entropy_forward(ctx, logits, y, AX_REDUCE_MEAN, loss));

    float *want = th_to_host(logits), *got = th_to_host(ax_graph_value(m.g, m.logits));
    th_assert_equal(got, want, 24, "logits");
    float l;
    AX_ASSERT_OK(ax_graph_loss(m.g, &l));
    cr_assert_eq(l, scalar(loss));
    cr_assert(l > 0.5f && l < 2.5f, "a 3-class loss near ln 3, got %g", (double)l);
    free(want);
    free(got);
    ax_tensor_destroy(h);
    ax_tensor_destroy(logits);
    ax_tensor_destroy(loss);
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
}

/* nn.Linear's default: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias; the weight is exactly
 * kaiming_uniform(a = sqrt(5)) drawn at (seed, parameter index). */
Test(graph, dense_default_init) {
    ax_ctx *ctx = th_cpu_ctx();
    mlp m = mlp_build(ctx, 4, 77);
    ax_tensor *w = param(m.g, "fc1.weight"), *b = param(m.g, "fc1.bias");
    float *wv = th_to_host(w), *bv = th_to_host(b);
    float bound = 1.0f / sqrtf(5.0f);
    for (int i = 0; i < 30; i++)
        cr_assert(fabsf(wv[i]) <= bound * 1.000001f && wv[i] != 0.0f);
    for (int i = 0; i < 6; i++)
        cr_assert(fabsf(bv[i]) <= bound * 1.000001f && bv[i] != 0.0f);
    int64_t ws[2] = {6, 5};
    ax_tensor *ref = th_nan_tensor(ctx, 2, ws);
    AX_ASSERT_OK(ax_init_kaiming_uniform(ctx, ref, sqrtf(5.0f), AX_FAN_IN, AX_GAIN_LEAKY_RELU, 77,
                                         0));
    float *rv = th_to_host(ref);
    th_assert_equal(wv, rv, 30, "fc1.weight");
    free(wv);
    free(bv);
    free(rv);
    ax_tensor_destroy(ref);
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
}

/* Gains and fans as PyTorch computes them; each fill's spread matches its formula. */
Test(graph, initialisers) {
    ax_ctx *ctx = th_cpu_ctx();
    cr_assert_float_eq(ax_init_gain(AX_GAIN_LINEAR, 0), 1.0f, 1e-7);
    cr_assert_float_eq(ax_init_gain(AX_GAIN_TANH, 0), 5.0f / 3.0f, 1e-7);
    cr_assert_float_eq(ax_init_gain(AX_GAIN_RELU, 0), sqrtf(2.0f), 1e-7);
    cr_assert_float_eq(ax_init_gain(AX_GAIN_LEAKY_RELU, sqrtf(5.0f)), sqrtf(1.0f / 3.0f), 1e-7);

    int64_t conv[4] = {16, 8, 3, 3}, big[2] = {400, 300}, fi, fo;
    ax_tensor *c = th_nan_tensor(ctx, 4, conv), *t = th_nan_tensor(ctx, 2, big);
    AX_ASSERT_OK(ax_init_fans(c, &fi, &fo));
    cr_assert(fi == 72 && fo == 144, "conv fans %lld %lld", (long long)fi, (long long)fo);
    AX_ASSERT_OK(ax_init_fans(t, &fi, &fo));
    cr_assert(fi == 300 && fo == 400);

    /* empirical max |v| (uniform) or std (normal) against the formula, on 120000 draws */
    struct {
        ax_init init;
        double want;
        int uniform;
    } cases[] = {
        {{.kind = AX_INIT_XAVIER_UNIFORM, .gain = 2.0f}, 2.0 * sqrt(6.0 / 700), 1},
        {{.kind = AX_INIT_XAVIER_NORMAL, .gain = 1.0f}, sqrt(2.0 / 700), 0},
        {{.kind = AX_INIT_LECUN_NORMAL}, sqrt(1.0 / 300), 0},
        {{.kind = AX_INIT_KAIMING_UNIFORM, .a = 0, .mode = AX_FAN_OUT, .nonlinearity = AX_GAIN_RELU},
         sqrt(2.0) * sqrt(3.0 / 400),
         1},
        {{.kind = AX_INIT_KAIMING_NORMAL, .mode = AX_FAN_IN, .nonlinearity = AX_GAIN_RELU},
         sqrt(2.0 / 300),
         0},
        {{.kind = AX_INIT_NORMAL, .mean = 0.0f, .std = 0.5f}, 0.5, 0},
        {{.kind = AX_INIT_UNIFORM, .low = -0.25f, .high = 0.25f}, 0.25, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        AX_ASSERT_OK(ax_init_tensor(ctx, t, &cases[k].init, 5, k));
        float *v = th_to_host(t);
        double maxabs = 0, ss = 0, mean = 0;
        for (int i = 0; i < 120000; i++) {
            maxabs = fmax(maxabs, fabs(v[i]));
            ss += (double)v[i] * v[i];
            mean += v[i];
        }
        double sd = sqrt(ss / 120000);
        cr_assert(fabs(mean / 120000) < 0.02 * cases[k].want, "case %zu mean %g", k,
                  mean / 120000);
        if (cases[k].uniform)
            cr_assert(maxabs <= cases[k].want * 1.000001 && maxabs > 0.999 * cases[k].want,
                      "case %zu: max |v| %g, bound %g", k, maxabs, cases[k].want);
        else
            cr_assert(fabs(sd / cases[k].want - 1) < 0.02, "case %zu: std %g, want %g", k, sd,
                      cases[k].want);
        free(v);
    }
    ax_init cst = {.kind = AX_INIT_CONSTANT, .value = 0.5f}, zeros = {.kind = AX_INIT_ZEROS};
    AX_ASSERT_OK(ax_init_tensor(ctx, c, &cst, 0, 0));
    float *v = th_to_host(c);
    cr_assert(v[0] == 0.5f && v[1151] == 0.5f);
    free(v);
    AX_ASSERT_OK(ax_init_tensor(ctx, c, &zeros, 0, 0));
    v = th_to_host(c);
    cr_assert(v[0] == 0.0f && v[1151] == 0.0f);
    free(v);
    ax_tensor_destroy(c);
    ax_tensor_destroy(t);
    ax_ctx_destroy(ctx);
}

/* w [4, 6] of ones -> dropout(0.5) -> sum -> sum: in training the output and w's gradient are
 * the same mask times 2, fresh every forward; in eval the dropout is the identity. */
Test(graph, dropout_train_eval) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *w, *d, *s1, *s2;
    int64_t ws[2] = {4, 6};
    ax_init ones = {.kind = AX_INIT_CONSTANT, .value = 1.0f};
    AX_ASSERT_OK(ax_graph_create(ctx, 9, &g));
    AX_ASSERT_OK(ax_graph_param(g, "w", 2, ws, &ones, &w));
    AX_ASSERT_OK(ax_graph_dropout(g, "drop", w, 0.5f, &d));
    AX_ASSERT_OK(ax_graph_sum(g, "rows", d, 1, &s1));
    AX_ASSERT_OK(ax_graph_sum(g, "total", s1, 0, &s2));
    AX_ASSERT_OK(ax_graph_compile(g, s2));

    float first[24];
    for (int run = 0; run < 2; run++) {
        AX_ASSERT_OK(ax_graph_zero_grad(g));
        AX_ASSERT_OK(ax_graph_forward(g));
        AX_ASSERT_OK(ax_graph_backward(g));
        float *y = th_to_host(ax_graph_value(g, d)), *gw = th_to_host(ax_graph_grad(g, w));
        int kept = 0;
        for (int i = 0; i < 24; i++) {
            cr_assert(y[i] == 0.0f || y[i] == 2.0f, "y[%d] = %g", i, (double)y[i]);
            kept += y[i] != 0.0f;
        }
        cr_assert(kept > 0 && kept < 24);
        th_assert_equal(gw, y, 24, "the backward regenerates the forward's mask");
        if (run == 0)
            memcpy(first, y, sizeof first);
        else
            cr_assert(memcmp(first, y, sizeof first) != 0, "each step draws a fresh mask");
        free(y);
        free(gw);
    }
    AX_ASSERT_OK(ax_graph_set_training(g, 0));
    AX_ASSERT_OK(ax_graph_zero_grad(g));
    AX_ASSERT_OK(ax_graph_forward(g));
    AX_ASSERT_OK(ax_graph_backward(g));
    float *y = th_to_host(ax_graph_value(g, d)), *gw = th_to_host(ax_graph_grad(g, w));
    for (int i = 0; i < 24; i++)
        cr_assert(y[i] == 1.0f && gw[i] == 1.0f, "eval: identity");
    cr_assert_eq(scalar(ax_graph_value(g, s2)), 24.0f);
    free(y);
    free(gw);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* A partial batch on a graph compiled for 8 rows gives the same loss and gradients, bit for
 * bit, as a graph compiled for exactly those rows; then a full batch runs again. */
Test(graph, shrinking_batch) {
    ax_ctx *ctx = th_cpu_ctx();
    mlp big = mlp_build(ctx, 8, 5), small = mlp_build(ctx, 3, 5);
    mlp *ms[2] = {&big, &small};
    float loss[2], *grads[2][4];
    for (int k = 0; k < 2; k++) {
        mlp_feed(ctx, ms[k], 3, 11);
        cr_assert_eq(ax_graph_batch(ms[k]->g), 3);
        AX_ASSERT_OK(ax_graph_zero_grad(ms[k]->g));
        AX_ASSERT_OK(ax_graph_forward(ms[k]->g));
        AX_ASSERT_OK(ax_graph_backward(ms[k]->g));
        AX_ASSERT_OK(ax_graph_loss(ms[k]->g, &loss[k]));
        cr_assert_eq(ax_tensor_dim(ax_graph_value(ms[k]->g, ms[k]->logits), 0), 3);
        for (int p = 0; p < 4; p++) {
            ax_tensor *gr;
            AX_ASSERT_OK(ax_graph_param_get(ms[k]->g, p, NULL, NULL, &gr));
            grads[k][p] = th_to_host(gr);
        }
    }
    cr_assert_eq(loss[0], loss[1]);
    int64_t sizes[4] = {30, 6, 18, 3};
    for (int p = 0; p < 4; p++) {
        th_assert_equal(grads[0][p], grads[1][p], sizes[p], "gradient");
        free(grads[0][p]);
        free(grads[1][p]);
    }
    /* back to the full batch, by feeding and by ax_graph_set_batch */
    mlp_feed(ctx, &big, 8, 12);
    AX_ASSERT_OK(ax_graph_forward(big.g));
    cr_assert_eq(ax_tensor_dim(ax_graph_value(big.g, big.logits), 0), 8);
    AX_ASSERT_OK(ax_graph_set_batch(big.g, 5));
    AX_ASSERT_OK(ax_graph_forward(big.g));
    cr_assert_eq(ax_tensor_dim(ax_graph_value(big.g, big.logits), 0), 5);
    cr_assert_eq(ax_graph_batch(big.g), 5);
    ax_graph_destroy(big.g);
    ax_graph_destroy(small.g);
    ax_ctx_destroy(ctx);
}

Test(graph, param_lookup) {
    ax_ctx *ctx = th_cpu_ctx();
    mlp m = mlp_build(ctx, 4, 1);
    int i = -1;
    AX_ASSERT_OK(ax_graph_param_find(m.g, "fc2.bias", &i));
    cr_assert_eq(i, 3);
    AX_ASSERT_FAILS(ax_graph_param_find(m.g, "fc3.weight", &i), AX_ERR_INVALID_ARG,
                    "ax_graph_param_find");
    CHECK_MSG("fc3.weight");
    AX_ASSERT_FAILS(ax_graph_param_get(m.g, 4, NULL, NULL, NULL), AX_ERR_INVALID_ARG,
                    "ax_graph_param_get");
    ax_param_list p;
    AX_ASSERT_OK(ax_graph_params(m.g, &p));
    cr_assert_eq(p.n, 4);
    for (int k = 0; k < p.n; k++) {
        ax_tensor *v, *gr;
        AX_ASSERT_OK(ax_graph_param_get(m.g, k, NULL, &v, &gr));
        cr_assert(p.values[k] == v && p.grads[k] == gr);
    }
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
}

/* Parameter gradients add up over backward calls until zero_grad (PyTorch's .grad). */
Test(graph, gradients_accumulate_until_zero_grad) {
    ax_ctx *ctx = th_cpu_ctx();
    mlp m = mlp_build(ctx, 4, 3);
    mlp_feed(ctx, &m, 4, 4);
    ax_tensor *gw;
    AX_ASSERT_OK(ax_graph_param_get(m.g, 0, NULL, NULL, &gw));
    AX_ASSERT_OK(ax_graph_zero_grad(m.g));
    AX_ASSERT_OK(ax_graph_forward(m.g));
    AX_ASSERT_OK(ax_graph_backward(m.g));
    float *once = th_to_host(gw);
    AX_ASSERT_OK(ax_graph_backward(m.g));
    float *twice = th_to_host(gw);
    for (int i = 0; i < 30; i++) {
        cr_assert_eq(twice[i], 2.0f * once[i]);
        once[i] = 0.0f;
    }
    AX_ASSERT_OK(ax_graph_zero_grad(m.g));
    float *zero = th_to_host(gw);
    th_assert_equal(zero, once, 30, "zeroed");
    free(once);
    free(twice);
    free(zero);
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- loader */

/* Rows of the features are [i, 10 i] for sample i, labels i; returns the samples of a batch. */
static int64_t next_ids(ax_data_loader *l, ax_tensor *x, ax_tensor *y, int64_t *ids) {
    int64_t n;
    AX_ASSERT_OK(ax_data_loader_next(l, x, y, &n));
    if (!n)
        return 0;
    float *xv = th_to_host(x);
    int32_t lab[16];
    AX_ASSERT_OK(ax_tensor_to_host(y, lab, (size_t)n * sizeof *lab));
    for (int64_t i = 0; i < n; i++) {
        ids[i] = lab[i];
        cr_assert(xv[2 * i] == (float)lab[i] && xv[2 * i + 1] == 10.0f * lab[i],
                  "features follow their label");
    }
    free(xv);
    return n;
}

/* One epoch's sample order and batch sizes. */
static int64_t epoch_order(ax_data_loader *l, ax_tensor *x, ax_tensor *y, int64_t *order,
                           int64_t *sizes) {
    int64_t total = 0, b = 0, n;
    while ((n = next_ids(l, x, y, order + total)) > 0) {
        sizes[b++] = n;
        total += n;
    }
    return total;
}

Test(graph, loader_order_determinism_drop_last) {
    ax_ctx *ctx = th_cpu_ctx();
    enum { N = 23 };
    float feats[N * 2];
    int32_t labels[N];
    for (int i = 0; i < N; i++) {
        feats[2 * i] = (float)i;
        feats[2 * i + 1] = 10.0f * i;
        labels[i] = i;
    }
    int64_t xs[2] = {N, 2}, bs[2] = {5, 2}, b5 = 5;
    ax_tensor *x = th_nan_tensor(ctx, 2, bs), *y;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_I32, 1, &b5, &y));
    int64_t order[N], sizes[8], order2[N], sizes2[8];

    ax_data_loader *seq;
    AX_ASSERT_OK(ax_data_loader_create(feats, 2, xs, labels, 5, 0, 0, 1, &seq));
    cr_assert_eq(ax_data_loader_batches(seq), 5);
    cr_assert_eq(epoch_order(seq, x, y, order, sizes), N);
    for (int i = 0; i < N; i++)
        cr_assert_eq(order[i], i, "no shuffle: in order");
    cr_assert(sizes[0] == 5 && sizes[4] == 3, "the last batch is partial");
    cr_assert_eq(ax_tensor_dim(x, 0), 3, "x holds the partial batch's rows");
    cr_assert_eq(ax_data_loader_epoch(seq), 1);
    ax_data_loader_destroy(seq);

    ax_data_loader *drop;
    AX_ASSERT_OK(ax_data_loader_create(feats, 2, xs, labels, 5, 1, 1, 1, &drop));
    cr_assert_eq(ax_data_loader_batches(drop), 4);
    cr_assert_eq(epoch_order(drop, x, y, order, sizes), 20, "drop_last: 4 full batches");
    ax_data_loader_destroy(drop);

    /* shuffled: a permutation, a function of (seed, epoch) */
    ax_data_loader *a, *b;
    AX_ASSERT_OK(ax_data_loader_create(feats, 2, xs, labels, 5, 1, 0, 42, &a));
    AX_ASSERT_OK(ax_data_loader_create(feats, 2, xs, labels, 5, 1, 0, 42, &b));
    cr_assert_eq(epoch_order(a, x, y, order, sizes), N);
    cr_assert_eq(epoch_order(b, x, y, order2, sizes2), N);
    cr_assert(memcmp(order, order2, sizeof order) == 0, "same seed, same order");
    int seen[N] = {0}, moved = 0;
    for (int i = 0; i < N; i++) {
        seen[order[i]]++;
        moved += order[i] != i;
    }
    for (int i = 0; i < N; i++)
        cr_assert_eq(seen[i], 1, "a permutation");
    cr_assert(moved > N / 2, "shuffled");
    cr_assert_eq(epoch_order(a, x, y, order2, sizes2), N);
    cr_assert(memcmp(order, order2, sizeof order) != 0, "a new order in epoch 1");
    ax_data_loader_destroy(a);
    ax_data_loader_destroy(b);
    ax_tensor_destroy(x);
    ax_tensor_destroy(y);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- learning */

/* Three blobs in 2-D (centers on a circle of radius 2, 120 degrees apart, so 1.73 from the
 * boundaries between classes; noise a sum of two uniforms, std 0.49, at most 1.7 per axis), an
 * MLP 2-16-3 with tanh, plain SGD (lr 0.5, batch 32 with a partial last batch of 12, written
 * with ax_axpy), 20 epochs: must reach >= 95% training accuracy (it reaches 100% here) in
 * under 2 s of CPU time (it takes ~0.01 s). */
Test(graph, sgd_learns_synthetic_blobs) {
    clock_t start = clock();
    ax_ctx *ctx = th_cpu_ctx();
    enum { N = 300, B = 32 };
    float feats[N * 2], noise[N * 2];
    int32_t labels[N];
    th_random(noise, N * 2, 3, -1.0f, 1.0f);
    for (int i = 0; i < N; i++) {
        int c = i % 3;
        double ang = 2.0 * 3.14159265358979 * c / 3.0;
        /* sum of two uniforms: a bell of std ~0.5 */
        feats[2 * i] = (float)(2.0 * cos(ang)) + 0.6f * (noise[2 * i] + noise[(2 * i + 7) % (2 * N)]);
        feats[2 * i + 1] =
            (float)(2.0 * sin(ang)) + 0.6f * (noise[2 * i + 1] + noise[(2 * i + 11) % (2 * N)]);
        labels[i] = c;
    }
    ax_graph *g;
    ax_node *x, *y, *h, *a, *logits, *loss;
    int64_t xs[2] = {B, 2};
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, xs, &x));
    AX_ASSERT_OK(ax_graph_labels(g, "y", B, &y));
    AX_ASSERT_OK(ax_graph_dense(g, "fc1", x, 16, &h));
    AX_ASSERT_OK(ax_graph_activation(g, "act", AX_ACT_TANH, 0.0f, h, &a));
    AX_ASSERT_OK(ax_graph_dense(g, "fc2", a, 3, &logits));
    AX_ASSERT_OK(ax_graph_cross_entropy(g, "loss", logits, y, &loss));
    AX_ASSERT_OK(ax_graph_compile(g, loss));

    int64_t data_shape[2] = {N, 2};
    ax_data_loader *train, *eval;
    AX_ASSERT_OK(ax_data_loader_create(feats, 2, data_shape, labels, B, 1, 0, 7, &train));
    AX_ASSERT_OK(ax_data_loader_create(feats, 2, data_shape, labels, B, 0, 0, 0, &eval));
    ax_param_list pl;
    AX_ASSERT_OK(ax_graph_params(g, &pl));
    int np = pl.n;
    ax_tensor *const *params = pl.values, *const *grads = pl.grads;
    ax_tensor *xin = ax_graph_value(g, x), *yin = ax_graph_value(g, y);
    int64_t n;
    for (int epoch = 0; epoch < 20; epoch++) {
        while (ax_data_loader_next(train, xin, yin, &n) == AX_OK && n > 0) {
            AX_ASSERT_OK(ax_graph_zero_grad(g));
            AX_ASSERT_OK(ax_graph_forward(g));
            AX_ASSERT_OK(ax_graph_backward(g));
            for (int p = 0; p < np; p++)
                AX_ASSERT_OK(ax_axpy(ctx, -0.5f, grads[p], params[p]));
        }
    }
    AX_ASSERT_OK(ax_graph_set_training(g, 0));
    int correct = 0;
    while (ax_data_loader_next(eval, xin, yin, &n) == AX_OK && n > 0) {
        AX_ASSERT_OK(ax_graph_forward(g));
        float *lv = th_to_host(ax_graph_value(g, logits));
        int32_t lab[B];
        AX_ASSERT_OK(ax_tensor_to_host(yin, lab, (size_t)n * sizeof *lab));
        for (int64_t i = 0; i < n; i++) {
            int best = 0;
            for (int c = 1; c < 3; c++)
                if (lv[3 * i + c] > lv[3 * i + best])
                    best = c;
            correct += best == lab[i];
        }
        free(lv);
    }
    double acc = (double)correct / N, secs = (double)(clock() - start) / CLOCKS_PER_SEC;
    cr_log_info("synthetic blobs: %.1f%% training accuracy in %.3f s", 100 * acc, secs);
    cr_assert(acc >= 0.95, "accuracy %.3f < 0.95", acc);
    cr_assert(secs < 2.0, "took %.2f s", secs);
    ax_data_loader_destroy(train);
    ax_data_loader_destroy(eval);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* ================================================================ suite gradcheck */

/* A graph with fan-out everywhere, built on ctx from seed:
 *   h  = tanh(fc1(x))                      x [5, 4], h [5, 6]
 *   a  = left(h), b = sigmoid(right(h))    [5, 3] each: h used by two dense branches
 *   c  = a * b + a                         a used twice (and by the mul)
 *   m  = h P                               P [6, 3]: h's third consumer (matmul)
 *   e  = c + m
 *   L  = 1.5 (CE(e, labels) - 0.1 mean_rows(sum_cols(log_softmax(e)))   e used twice
 *        + 0.01 |P|_1 + mse(leaky_relu(m + off), t) + bce(2 a, u) + 0.05/2 |fc1.weight|^2)
 * The inputs off (|off| in [2.5, 3.5]) keep the leaky ReLU away from its kink, and |P| >= 0.1
 * keeps L1 away from its kink at 0: no central difference straddles one. */
typedef struct gc_graph {
    ax_graph *g;
    ax_node *loss;
} gc_graph;

static gc_graph gc_build(ax_ctx *ctx, uint64_t seed) {
    enum { N = 5 };
    ax_graph *g;
    ax_node *x, *lab, *t, *u, *off, *h0, *h, *a, *b0, *b, *ab, *c, *P, *m, *e, *ce, *ls, *rs, *mr, *sc;
    ax_node *l2, *l1, *lr, *mse, *a2, *bce, *s1, *s2, *s3, *s4, *s5, *s6;
    int64_t xs[2] = {N, 4}, ts[2] = {N, 3}, ps[2] = {6, 3};
    AX_ASSERT_OK(ax_graph_create(ctx, seed, &g));
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, xs, &x));
    AX_ASSERT_OK(ax_graph_labels(g, "labels", N, &lab));
    AX_ASSERT_OK(ax_graph_input(g, "t", 2, ts, &t));
    AX_ASSERT_OK(ax_graph_input(g, "u", 2, ts, &u));
    AX_ASSERT_OK(ax_graph_input(g, "off", 2, ts, &off));
    ax_init pinit = {.kind = AX_INIT_XAVIER_NORMAL, .gain = 1.0f};
    AX_ASSERT_OK(ax_graph_param(g, "P", 2, ps, &pinit, &P));
    AX_ASSERT_OK(ax_graph_dense(g, "fc1", x, 6, &h0));
    AX_ASSERT_OK(ax_graph_activation(g, "h", AX_ACT_TANH, 0, h0, &h));
    AX_ASSERT_OK(ax_graph_dense(g, "left", h, 3, &a));
    AX_ASSERT_OK(ax_graph_dense(g, "right", h, 3, &b0));
    AX_ASSERT_OK(ax_graph_activation(g, "b", AX_ACT_SIGMOID, 0, b0, &b));
    AX_ASSERT_OK(ax_graph_mul(g, "ab", a, b, &ab));
    AX_ASSERT_OK(ax_graph_add(g, "c", ab, a, &c));
    AX_ASSERT_OK(ax_graph_matmul(g, "m", h, AX_NO_TRANS, P, AX_NO_TRANS, &m));
    AX_ASSERT_OK(ax_graph_add(g, "e", c, m, &e));
    AX_ASSERT_OK(ax_graph_cross_entropy(g, "ce", e, lab, &ce));
    AX_ASSERT_OK(ax_graph_log_softmax(g, "ls", e, &ls));
    AX_ASSERT_OK(ax_graph_sum(g, "rs", ls, 1, &rs));
    AX_ASSERT_OK(ax_graph_mean(g, "mr", rs, 0, &mr));
    AX_ASSERT_OK(ax_graph_scale(g, "sc", -0.1f, mr, &sc));
    ax_node *w1 = NULL, *mo;
    AX_ASSERT_OK(ax_graph_find(g, "fc1.weight", &w1));
    AX_ASSERT_OK(ax_graph_l1_penalty(g, "l1", P, 0.01f, &l1));
    AX_ASSERT_OK(ax_graph_add(g, "mo", m, off, &mo));
    AX_ASSERT_OK(ax_graph_activation(g, "lr", AX_ACT_LEAKY_RELU, 0.1f, mo, &lr));
    AX_ASSERT_OK(ax_graph_mse_loss(g, "mse", lr, t, &mse));
    AX_ASSERT_OK(ax_graph_scale(g, "a2", 2.0f, a, &a2));
    AX_ASSERT_OK(ax_graph_bce_with_logits(g, "bce", a2, u, &bce));
    AX_ASSERT_OK(ax_graph_l2_penalty(g, "l2", w1, 0.05f, &l2));
    AX_ASSERT_OK(ax_graph_add(g, "s1", ce, sc, &s1));
    AX_ASSERT_OK(ax_graph_add(g, "s2", s1, l1, &s2));
    AX_ASSERT_OK(ax_graph_add(g, "s3", s2, mse, &s3));
    AX_ASSERT_OK(ax_graph_add(g, "s4", s3, bce, &s4));
    AX_ASSERT_OK(ax_graph_add(g, "s5", s4, l2, &s5));
    AX_ASSERT_OK(ax_graph_scale(g, "total", 1.5f, s5, &s6));
    AX_ASSERT_OK(ax_graph_compile(g, s6));

    /* data */
    float xv[N * 4], tv[N * 3], uv[N * 3], ov[N * 3];
    int32_t lv[N];
    th_random(xv, N * 4, seed + 1, -1.5f, 1.5f);
    th_random(tv, N * 3, seed + 2, -1.0f, 1.0f);
    th_random(uv, N * 3, seed + 3, 0.0f, 1.0f);
    th_random_away_from_zero(ov, N * 3, seed + 5, -3.5f, 3.5f, 2.5f);
    for (int k = 0; k < N; k++)
        lv[k] = (int32_t)((k + seed) % 3);
    AX_ASSERT_OK(ax_tensor_set_from_host(ax_graph_value(g, x), xv, sizeof xv));
    AX_ASSERT_OK(ax_tensor_set_from_host(ax_graph_value(g, t), tv, sizeof tv));
    AX_ASSERT_OK(ax_tensor_set_from_host(ax_graph_value(g, u), uv, sizeof uv));
    AX_ASSERT_OK(ax_tensor_set_from_host(ax_graph_value(g, off), ov, sizeof ov));
    AX_ASSERT_OK(ax_tensor_set_from_host(ax_graph_value(g, lab), lv, sizeof lv));
    /* P away from L1's kink at 0 (beyond the step h) */
    float pv[18];
    th_random_away_from_zero(pv, 18, seed + 4, -0.8f, 0.8f, 0.1f);
    AX_ASSERT_OK(ax_tensor_set_from_host(ax_graph_value(g, P), pv, sizeof pv));
    /* the leaky ReLU's inputs m + off stay beyond any perturbation's reach of its kink */
    AX_ASSERT_OK(ax_graph_forward(g));
    float *mv = th_to_host(ax_graph_value(g, mo));
    for (int k = 0; k < N * 3; k++)
        cr_assert(fabsf(mv[k]) > 0.5f, "leaky ReLU input %g is near its kink", (double)mv[k]);
    free(mv);
    gc_graph r = {g, s6};
    return r;
}

/* Step, tolerance and why (the whole graph's loss is one f32 scalar of a few units):
 * - central differences with h = 1e-2 max(1, |w|), the denominator the step actually taken in
 *   f32, the difference of the two losses taken in double. Truncation h^2 f'''/6 is ~2e-5
 *   relative for these smooth ops (tanh, sigmoid, softmax); the kinks are out of reach.
 * - rounding: each loss carries a few eps_f32 of its ~2 magnitude (~5e-7); divided by 2h =
 *   0.02 that is ~3e-5 of noise on the numeric gradient.
 * - pass: |analytic - numeric| <= GG_ATOL + GG_RTOL |numeric| with GG_ATOL = 2e-4 (~7x the
 *   noise) and GG_RTOL = 5e-3 (~250x the truncation). A lost accumulation (a branch of h's
 *   three consumers, or of a's) changes gradients by O(their size), and a gradient scaled by
 *   1.05 is caught (graph_planted_error_is_caught). */
#define GG_H_REL 1e-2
#define GG_ATOL 2e-4
#define GG_RTOL 5e-3

static double loss_at(ax_graph *g) {
    float l;
    AX_ASSERT_OK(ax_graph_forward(g));
    AX_ASSERT_OK(ax_graph_loss(g, &l));
    return l;
}

/* Worst |a - n| / (atol + rtol |n|) over every parameter element, with the analytic gradient
 * of parameter `plant` (-1: none) scaled by factor. */
static double graph_gradcheck(ax_graph *g, int plant, float factor, int64_t *checked) {
    ax_param_list pl;
    AX_ASSERT_OK(ax_graph_params(g, &pl));
    int np = pl.n;
    ax_tensor *const *params = pl.values, *const *grads = pl.grads;
    AX_ASSERT_OK(ax_graph_zero_grad(g));
    AX_ASSERT_OK(ax_graph_forward(g));
    AX_ASSERT_OK(ax_graph_backward(g));
    double worst = 0;
    *checked = 0;
    for (int p = 0; p < np; p++) {
        float *an = th_to_host(grads[p]);
        float *w = ax_tensor_data(params[p]); /* CPU: host memory */
        const char *name;
        AX_ASSERT_OK(ax_graph_param_get(g, p, &name, NULL, NULL));
        for (int64_t i = 0; i < ax_tensor_numel(params[p]); i++) {
            float w0 = w[i];
            float h = (float)(GG_H_REL * fmax(1.0, fabs(w0)));
            float wp = w0 + h, wm = w0 - h;
            w[i] = wp;
            double lp = loss_at(g);
            w[i] = wm;
            double lm = loss_at(g);
            w[i] = w0;
            double num = (lp - lm) / ((double)wp - (double)wm);
            double a = an[i] * (p == plant ? factor : 1.0f);
            double r = fabs(a - num) / (GG_ATOL + GG_RTOL * fabs(num));
            if (r > worst)
                worst = r;
            if (plant < 0)
                cr_expect(r <= 1.0, "%s[%lld]: analytic %.6g, numeric %.6g (%.2f x tolerance)",
                          name, (long long)i, a, num, r);
            (*checked)++;
        }
        free(an);
    }
    return worst;
}

Test(gradcheck, graph_mlp_with_fan_out) {
    ax_ctx *ctx = th_cpu_ctx();
    double worst_all = 0;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        gc_graph gg = gc_build(ctx, seed);
        int64_t checked;
        double worst = graph_gradcheck(gg.g, -1, 1.0f, &checked);
        cr_assert(checked == 4 * 6 + 6 + 2 * (6 * 3 + 3) + 18, "checked %lld", (long long)checked);
        if (worst > worst_all)
            worst_all = worst;
        ax_graph_destroy(gg.g);
    }
    cr_log_info("graph gradcheck: worst element at %.3f of the tolerance", worst_all);
    cr_assert(worst_all <= 1.0);
    ax_ctx_destroy(ctx);
}

Test(gradcheck, graph_planted_error_is_caught) {
    ax_ctx *ctx = th_cpu_ctx();
    gc_graph gg = gc_build(ctx, 1);
    int64_t checked;
    for (int p = 0; p < ax_graph_param_count(gg.g); p++) {
        double scaled = graph_gradcheck(gg.g, p, 1.05f, &checked);
        double flipped = graph_gradcheck(gg.g, p, -1.0f, &checked);
        cr_assert(scaled > 1.0, "parameter %d's gradient x1.05 passed (%.2f)", p, scaled);
        cr_assert(flipped > 1.0, "parameter %d's gradient negated passed", p);
    }
    ax_graph_destroy(gg.g);
    ax_ctx_destroy(ctx);
}

/* ================================================================ suite badinput */

/* Cycles cannot be formed: a node's inputs must exist when it is created and nodes never
 * change, so creation order is a topological order. What can go wrong instead is tested. */

Test(badinput, shape_mismatch_names_node_and_shapes) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *z, *h, *o = NULL, *lab, *y3;
    int64_t xs[2] = {4, 3}, zs[2] = {4, 5}, x3[3] = {4, 2, 2};
    AX_ASSERT_OK(ax_graph_create(ctx, 0, &g));
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, xs, &x));
    AX_ASSERT_OK(ax_graph_input(g, "z", 2, zs, &z));
    AX_ASSERT_FAILS(ax_graph_add(g, "sum", x, z, &o), AX_ERR_SHAPE, "ax_graph_add");
    CHECK_MSG("'sum'");
    CHECK_MSG("[4, 3]");
    CHECK_MSG("[4, 5]");
    cr_assert_null(o);
    AX_ASSERT_FAILS(ax_graph_mul(g, NULL, x, z, &o), AX_ERR_SHAPE, "ax_graph_mul");
    CHECK_MSG("'mul2'");
    AX_ASSERT_FAILS(ax_graph_matmul(g, "mm", x, AX_NO_TRANS, z, AX_NO_TRANS, &o), AX_ERR_SHAPE,
                    "ax_graph_matmul");
    CHECK_MSG("'mm'");
    CHECK_MSG("[4, 5]");
    AX_ASSERT_FAILS(ax_graph_matmul(g, "mm", x, AX_NO_TRANS, z, AX_TRANS, &o), AX_ERR_SHAPE,
                    "ax_graph_matmul"); /* batch would land on y's dim 1 */
    AX_ASSERT_OK(ax_graph_input(g, "x3", 3, x3, &y3));
    ax_node *y1 = NULL; /* a dense layer takes [..., in], so one dim is too few */
    AX_ASSERT_OK(ax_graph_input(g, "x1", 1, x3, &y1));
    AX_ASSERT_FAILS(ax_graph_dense(g, "fc", y1, 2, &o), AX_ERR_SHAPE, "ax_graph_dense");
    CHECK_MSG("'fc'");
    CHECK_MSG("x 'x1' has shape [4]");
    cr_assert_eq(ax_graph_param_count(g), 0, "a failed dense adds no parameter");
    AX_ASSERT_OK(ax_graph_dense(g, "fc", x, 2, &h));
    AX_ASSERT_FAILS(ax_graph_dense(g, "fc", x, 2, &o), AX_ERR_INVALID_ARG, "ax_graph_dense");
    CHECK_MSG("already named 'fc'");
    cr_assert_eq(ax_graph_param_count(g), 2);
    AX_ASSERT_FAILS(ax_graph_sum(g, "s", x, 2, &o), AX_ERR_SHAPE, "ax_graph_sum");
    AX_ASSERT_FAILS(ax_graph_cross_entropy(g, "ce", h, x, &o), AX_ERR_DTYPE,
                    "ax_graph_cross_entropy");
    int64_t other = 4;
    (void)other;
    AX_ASSERT_OK(ax_graph_labels(g, "lab", 4, &lab));
    AX_ASSERT_FAILS(ax_graph_cross_entropy(g, "ce", y3, lab, &o), AX_ERR_SHAPE,
                    "ax_graph_cross_entropy");
    CHECK_MSG("'ce'");
    AX_ASSERT_FAILS(ax_graph_mse_loss(g, "mse", h, lab, &o), AX_ERR_DTYPE, "ax_graph_mse_loss");
    AX_ASSERT_FAILS(ax_graph_mse_loss(g, "mse", x, h, &o), AX_ERR_SHAPE, "ax_graph_mse_loss");
    AX_ASSERT_FAILS(ax_graph_l2_penalty(g, "pen", h, 0.1f, &o), AX_ERR_INVALID_ARG,
                    "ax_graph_l2_penalty");
    AX_ASSERT_FAILS(ax_graph_dropout(g, "d", x, 1.0f, &o), AX_ERR_INVALID_ARG,
                    "ax_graph_dropout");
    int64_t bad[2] = {5, 3};
    AX_ASSERT_FAILS(ax_graph_input(g, "x5", 2, bad, &o), AX_ERR_SHAPE, "ax_graph_input");
    CHECK_MSG("max batch");
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

Test(badinput, nodes_of_another_graph_and_null) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g1, *g2;
    ax_node *x1, *x2, *o = NULL;
    int64_t xs[2] = {2, 3};
    AX_ASSERT_OK(ax_graph_create(ctx, 0, &g1));
    AX_ASSERT_OK(ax_graph_create(ctx, 0, &g2));
    AX_ASSERT_OK(ax_graph_input(g1, "x", 2, xs, &x1));
    AX_ASSERT_OK(ax_graph_input(g2, "x", 2, xs, &x2));
    AX_ASSERT_FAILS(ax_graph_add(g1, "s", x1, x2, &o), AX_ERR_INVALID_ARG, "ax_graph_add");
    CHECK_MSG("another graph");
    AX_ASSERT_FAILS(ax_graph_activation(g1, "r", AX_ACT_RELU, 0, NULL, &o), AX_ERR_INVALID_ARG,
                    "ax_graph_activation");
    AX_ASSERT_FAILS(ax_graph_activation(g1, "r", (ax_activation)9, 0, x1, &o),
                    AX_ERR_INVALID_ARG, "ax_graph_activation");
    AX_ASSERT_FAILS(ax_graph_compile(g1, x2), AX_ERR_INVALID_ARG, "ax_graph_compile");
    AX_ASSERT_FAILS(ax_graph_create(ctx, 0, NULL), AX_ERR_INVALID_ARG, "ax_graph_create");
    AX_ASSERT_FAILS(ax_graph_forward(NULL), AX_ERR_INVALID_ARG, "ax_graph_forward");
    AX_ASSERT_FAILS(ax_graph_param(g1, NULL, 2, xs, &(ax_init){.kind = AX_INIT_ZEROS}, &o),
                    AX_ERR_INVALID_ARG, "ax_graph_param");
    cr_assert_null(ax_graph_value(g1, x2));
    ax_graph_destroy(g1);
    ax_graph_destroy(g2);
    ax_ctx_destroy(ctx);
}

Test(badinput, wrong_state) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *h, *o = NULL;
    int64_t xs[2] = {2, 3};
    AX_ASSERT_OK(ax_graph_create(ctx, 0, &g));
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, xs, &x));
    AX_ASSERT_OK(ax_graph_dense(g, "fc", x, 2, &h));
    AX_ASSERT_FAILS(ax_graph_forward(g), AX_ERR_STATE, "ax_graph_forward");
    AX_ASSERT_FAILS(ax_graph_set_batch(g, 1), AX_ERR_STATE, "ax_graph_set_batch");
    AX_ASSERT_FAILS(ax_graph_compile(g, h), AX_ERR_SHAPE, "ax_graph_compile"); /* not scalar */
    CHECK_MSG("'fc'");
    ax_node *s, *loss;
    AX_ASSERT_OK(ax_graph_sum(g, "s", h, 1, &s));
    AX_ASSERT_OK(ax_graph_mean(g, "loss", s, 0, &loss));
    AX_ASSERT_OK(ax_graph_compile(g, loss));
    AX_ASSERT_FAILS(ax_graph_compile(g, loss), AX_ERR_STATE, "ax_graph_compile");
    AX_ASSERT_FAILS(ax_graph_activation(g, "r", AX_ACT_RELU, 0, h, &o), AX_ERR_STATE,
                    "ax_graph_activation");
    AX_ASSERT_FAILS(ax_graph_dense(g, "fc2", h, 2, &o), AX_ERR_STATE, "ax_graph_dense");
    cr_assert_eq(ax_graph_param_count(g), 2);
    AX_ASSERT_FAILS(ax_graph_backward(g), AX_ERR_STATE, "ax_graph_backward");
    float l;
    AX_ASSERT_FAILS(ax_graph_loss(g, &l), AX_ERR_STATE, "ax_graph_loss");
    AX_ASSERT_OK(ax_graph_forward(g));
    AX_ASSERT_OK(ax_graph_backward(g));
    ax_graph_destroy(g);

    /* compiled without a loss: forward only */
    AX_ASSERT_OK(ax_graph_create(ctx, 0, &g));
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, xs, &x));
    AX_ASSERT_OK(ax_graph_compile(g, NULL));
    AX_ASSERT_OK(ax_graph_forward(g));
    AX_ASSERT_FAILS(ax_graph_backward(g), AX_ERR_STATE, "ax_graph_backward");
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

Test(badinput, feeding) {
    ax_ctx *ctx = th_cpu_ctx();
    mlp m = mlp_build(ctx, 4, 1);
    int64_t s25[2] = {2, 5}, s24[2] = {2, 4}, s55[2] = {5, 5}, two = 2, three = 3;
    ax_tensor *f25 = th_random_tensor(ctx, 2, s25, 1, -1, 1, 0);
    ax_tensor *f24 = th_random_tensor(ctx, 2, s24, 1, -1, 1, 0);
    ax_tensor *f55 = th_random_tensor(ctx, 2, s55, 1, -1, 1, 0);
    int32_t lv[3] = {0, 1, 2};
    ax_tensor *l2 = th_tensor_i32(ctx, 1, &two, lv), *l3 = th_tensor_i32(ctx, 1, &three, lv);
    AX_ASSERT_FAILS(ax_graph_feed(m.g, m.x, l2), AX_ERR_DTYPE, "ax_graph_feed");
    CHECK_MSG("'x'");
    AX_ASSERT_FAILS(ax_graph_feed(m.g, m.y, f25), AX_ERR_DTYPE, "ax_graph_feed");
    AX_ASSERT_FAILS(ax_graph_feed(m.g, m.x, f24), AX_ERR_SHAPE, "ax_graph_feed");
    CHECK_MSG("[4, 5]");
    CHECK_MSG("[2, 4]");
    AX_ASSERT_FAILS(ax_graph_feed(m.g, m.x, f55), AX_ERR_SHAPE, "ax_graph_feed"); /* > max */
    AX_ASSERT_FAILS(ax_graph_feed(m.g, m.h, f25), AX_ERR_INVALID_ARG, "ax_graph_feed");
    AX_ASSERT_FAILS(ax_graph_set_batch(m.g, 5), AX_ERR_SHAPE, "ax_graph_set_batch");
    AX_ASSERT_FAILS(ax_graph_set_batch(m.g, 0), AX_ERR_SHAPE, "ax_graph_set_batch");
    /* inputs that disagree on the batch */
    AX_ASSERT_OK(ax_graph_feed(m.g, m.x, f25));
    AX_ASSERT_OK(ax_graph_feed(m.g, m.y, l3));
    AX_ASSERT_FAILS(ax_graph_forward(m.g), AX_ERR_SHAPE, "ax_graph_forward");
    CHECK_MSG("'y'");
    AX_ASSERT_OK(ax_graph_feed(m.g, m.y, l2));
    AX_ASSERT_OK(ax_graph_forward(m.g));
    /* a label out of range is reported by the op, with the node */
    int32_t badl[2] = {0, 7};
    ax_tensor *lb = th_tensor_i32(ctx, 1, &two, badl);
    AX_ASSERT_OK(ax_graph_feed(m.g, m.y, lb));
    AX_ASSERT_FAILS(ax_graph_forward(m.g), AX_ERR_INVALID_ARG, "ax_graph_forward");
    CHECK_MSG("'loss'");
    ax_tensor_destroy(f25);
    ax_tensor_destroy(f24);
    ax_tensor_destroy(f55);
    ax_tensor_destroy(l2);
    ax_tensor_destroy(l3);
    ax_tensor_destroy(lb);
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
}

Test(badinput, initialisers_and_loader) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t n4 = 4, fi, fo;
    ax_tensor *v = th_nan_tensor(ctx, 1, &n4);
    AX_ASSERT_FAILS(ax_init_fans(v, &fi, &fo), AX_ERR_SHAPE, "ax_init_fans");
    AX_ASSERT_FAILS(ax_init_xavier_uniform(ctx, v, 1, 0, 0), AX_ERR_SHAPE,
                    "ax_init_xavier_uniform");
    AX_ASSERT_FAILS(ax_init_tensor(ctx, v, NULL, 0, 0), AX_ERR_INVALID_ARG, "ax_init_tensor");
    ax_graph *g;
    ax_node *o = NULL;
    AX_ASSERT_OK(ax_graph_create(ctx, 0, &g));
    AX_ASSERT_FAILS(ax_graph_param(g, "w", 1, &n4, &(ax_init){.kind = AX_INIT_KAIMING_UNIFORM}, &o),
                    AX_ERR_SHAPE, "ax_graph_param");
    CHECK_MSG("'w'");
    cr_assert_eq(ax_graph_param_count(g), 0);
    AX_ASSERT_OK(ax_graph_param(g, "w", 1, &n4, &(ax_init){.kind = AX_INIT_ZEROS}, &o));
    AX_ASSERT_FAILS(ax_graph_param(g, "w", 1, &n4, &(ax_init){.kind = AX_INIT_ZEROS}, &o),
                    AX_ERR_INVALID_ARG, "ax_graph_param");
    ax_graph_destroy(g);

    float x[8] = {0};
    int32_t y[4] = {0};
    int64_t xs[2] = {4, 2}, bs[2] = {2, 3};
    ax_data_loader *l = NULL;
    AX_ASSERT_FAILS(ax_data_loader_create(NULL, 2, xs, y, 2, 0, 0, 0, &l), AX_ERR_INVALID_ARG,
                    "ax_data_loader_create");
    AX_ASSERT_FAILS(ax_data_loader_create(x, 2, xs, y, 0, 0, 0, 0, &l), AX_ERR_INVALID_ARG,
                    "ax_data_loader_create");
    AX_ASSERT_OK(ax_data_loader_create(x, 2, xs, y, 2, 0, 0, 0, &l));
    ax_tensor *wrong = th_nan_tensor(ctx, 2, bs), *yt;
    int64_t two = 2, n;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_I32, 1, &two, &yt));
    AX_ASSERT_FAILS(ax_data_loader_next(l, wrong, yt, &n), AX_ERR_SHAPE, "ax_data_loader_next");
    AX_ASSERT_FAILS(ax_data_loader_next(l, yt, yt, &n), AX_ERR_DTYPE, "ax_data_loader_next");
    int64_t s22[2] = {2, 2};
    ax_tensor *x22 = th_nan_tensor(ctx, 2, s22);
    AX_ASSERT_FAILS(ax_data_loader_next(l, x22, NULL, &n), AX_ERR_INVALID_ARG,
                    "ax_data_loader_next");
    CHECK_MSG("labels");
    ax_tensor_destroy(x22);
    ax_data_loader_destroy(l);
    ax_tensor_destroy(wrong);
    ax_tensor_destroy(yt);
    ax_tensor_destroy(v);
    ax_ctx_destroy(ctx);
}

/* ================================================================ suite parity */

/* The same MLP (same seed, so the same Philox initial weights), the same batch, forward and
 * backward on CUDA and on the CPU. Tolerance: the GEMMs are short (K <= 6), so the products
 * differ by a few ulp; libm and CUDA's tanhf/expf differ by a few ulp: rtol 1e-5, atol 1e-6.
 * The initial weights must be bit-identical (Philox). */
Test(parity, mlp_forward_backward) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
    ax_ctx *cpu = th_cpu_ctx();
    mlp m[2] = {mlp_build(cpu, 8, 21), mlp_build(gpu, 8, 21)};
    float loss[2];
    for (int k = 0; k < 2; k++) {
        mlp_feed(k ? gpu : cpu, &m[k], 7, 5);
        AX_ASSERT_OK(ax_graph_zero_grad(m[k].g));
        AX_ASSERT_OK(ax_graph_forward(m[k].g));
        AX_ASSERT_OK(ax_graph_backward(m[k].g));
        AX_ASSERT_OK(ax_graph_loss(m[k].g, &loss[k]));
    }
    th_assert_close(&loss[1], &loss[0], 1, 1e-6, 1e-5, "loss");
    for (int p = 0; p < 4; p++) {
        ax_tensor *v[2], *gr[2];
        for (int k = 0; k < 2; k++)
            AX_ASSERT_OK(ax_graph_param_get(m[k].g, p, NULL, &v[k], &gr[k]));
        float *vc = th_to_host(v[0]), *vg = th_to_host(v[1]);
        float *gc = th_to_host(gr[0]), *gg = th_to_host(gr[1]);
        th_assert_equal(vg, vc, ax_tensor_numel(v[0]), "initial weights");
        th_assert_close(gg, gc, ax_tensor_numel(v[0]), 1e-6, 1e-5, "gradient");
        free(vc);
        free(vg);
        free(gc);
        free(gg);
    }
    ax_graph_destroy(m[0].g);
    ax_graph_destroy(m[1].g);
    ax_ctx_destroy(cpu);
    ax_ctx_destroy(gpu);
}
