#define _POSIX_C_SOURCE 200809L /* mkstemp */
/* The recurrent graph layers (ax_graph_rnn, ax_graph_lstm, ax_graph_gru) against PyTorch's
 * nn.LSTM, nn.GRU and nn.RNN (tests/golden/gen_graph_rnn.py): outputs, h_n, c_n and the
 * gradients of x, h0, c0 and every parameter, time-major and batch_first, a shorter last
 * sequence and a shorter last batch without recompiling; carried states over two calls
 * (truncated BPTT) and their reset; checkpoints both ways; dropout between layers; the
 * initialisation; gradient clipping in a training loop; the builders' refusals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "golden.h"
#include "helpers.h"

#include "../src/host/graph/graph_internal.h" /* gradients of inputs, the dropout step */

#define ATOL 2e-5
#define RTOL 1e-4

enum { T = 5, N = 3, IN = 4, H = 3 };

/* A model of the golden file: its layer's kind and options. */
typedef struct spec {
    const char *name; /* golden case */
    const char *kind; /* "lstm", "gru", "rnn": the node's name and the state_dict prefix */
    int layers, dirs, with_h0, relu, no_bias;
} spec;

static const spec LSTM = {"lstm", "lstm", 2, 2, 1, 0, 0};
static const spec GRU = {"gru", "gru", 2, 2, 1, 0, 0};
static const spec RNN_TANH = {"rnn_tanh", "rnn", 2, 1, 0, 0, 0};
static const spec RNN_RELU = {"rnn_relu", "rnn", 1, 2, 1, 1, 1};
static const spec GRU3 = {"gru3", "gru", 3, 1, 1, 0, 0};

typedef struct net {
    const spec *s;
    int batch_first;
    ax_graph *g;
    ax_node *x, *h0, *c0, *y, *hn, *cn, *ty, *th, *tc, *loss;
} net;

static int is_lstm(const spec *s) { return !strcmp(s->kind, "lstm"); }

/* A sequence input [T, N, cols] (batch_first: [N, T, cols]). */
static ax_node *seq_input(ax_graph *g, const char *name, int batch_first, int64_t t, int64_t n,
                          int64_t cols) {
    ax_node *out;
    int64_t shape[3] = {batch_first ? n : t, batch_first ? t : n, cols};
    AX_ASSERT_OK(ax_graph_input_typed(g, name, AX_F32, 3, shape, batch_first ? 0 : 1,
                                      batch_first ? 1 : 0, &out));
    return out;
}

/* A state input [L D, N, H], its batch on axis 1. */
static ax_node *state_input(ax_graph *g, const char *name, int64_t ld, int64_t n) {
    ax_node *out;
    int64_t shape[3] = {ld, n, H};
    AX_ASSERT_OK(ax_graph_input_typed(g, name, AX_F32, 3, shape, 1, -1, &out));
    return out;
}

/* An input whose gradient the test reads: trainable, with a gradient of its own. */
static void give_grad(ax_graph *g, ax_node *node) {
    node->trainable = 1;
    AX_ASSERT_OK(ax_tensor_zeros(g->ctx, AX_F32, node->value->ndim, node->max_shape,
                                 &node->grad));
}

static ax_graph_rnn_opts opts_of(const spec *s, int batch_first) {
    return (ax_graph_rnn_opts){.hidden_size = H, .num_layers = s->layers,
                               .bidirectional = s->dirs == 2, .batch_first = batch_first,
                               .no_bias = s->no_bias,
                               .nonlinearity = s->relu ? AX_ACT_RELU : AX_ACT_TANH};
}

/* The layer of s over x, then mse(y, ty) + mse(h_n, th) (+ mse(c_n, tc)). */
static net build(ax_ctx *ctx, const spec *s, int batch_first, int reuse) {
    net m = {.s = s, .batch_first = batch_first};
    const int64_t ld = s->layers * s->dirs;
    AX_ASSERT_OK(ax_graph_create(ctx, 3, &m.g));
    m.x = seq_input(m.g, "x", batch_first, T, N, IN);
    give_grad(m.g, m.x);
    if (s->with_h0) {
        m.h0 = state_input(m.g, "h0", ld, N);
        give_grad(m.g, m.h0);
        if (is_lstm(s)) {
            m.c0 = state_input(m.g, "c0", ld, N);
            give_grad(m.g, m.c0);
        }
    }
    ax_graph_rnn_opts o = opts_of(s, batch_first);
    if (is_lstm(s))
        AX_ASSERT_OK(ax_graph_lstm(m.g, s->kind, m.x, m.h0, m.c0, &o, &m.y, &m.hn, &m.cn));
    else if (!strcmp(s->kind, "gru"))
        AX_ASSERT_OK(ax_graph_gru(m.g, s->kind, m.x, m.h0, &o, &m.y, &m.hn));
    else
        AX_ASSERT_OK(ax_graph_rnn(m.g, s->kind, m.x, m.h0, &o, &m.y, &m.hn));
    m.ty = seq_input(m.g, "ty", batch_first, T, N, s->dirs * H);
    m.th = state_input(m.g, "th", ld, N);
    ax_node *a, *b;
    AX_ASSERT_OK(ax_graph_mse_loss(m.g, "ly", m.y, m.ty, &a));
    AX_ASSERT_OK(ax_graph_mse_loss(m.g, "lh", m.hn, m.th, &b));
    AX_ASSERT_OK(ax_graph_add(m.g, "loss", a, b, &m.loss));
    if (is_lstm(s)) {
        m.tc = state_input(m.g, "tc", ld, N);
        AX_ASSERT_OK(ax_graph_mse_loss(m.g, "lc", m.cn, m.tc, &b));
        AX_ASSERT_OK(ax_graph_add(m.g, "loss2", m.loss, b, &m.loss));
    }
    AX_ASSERT_OK(ax_graph_set_value_reuse(m.g, reuse));
    AX_ASSERT_OK(ax_graph_compile(m.g, m.loss));
    return m;
}

/* dst [b, a, c] = src [a, b, c]. */
static void swap01(float *dst, const float *src, int64_t a, int64_t b, int64_t c) {
    for (int64_t i = 0; i < a; i++)
        for (int64_t j = 0; j < b; j++)
            memcpy(dst + (j * a + i) * c, src + (i * b + j) * c, (size_t)c * sizeof *dst);
}

/* The first t of dim 0 and n of dim 1 of src [*, cols_n, c] (dims from the golden tensor),
 * contiguous, swapped to [n, t, c] when batch_first. Freed by the caller. */
static float *slice(const gd_tensor *src, int64_t t, int64_t n, int batch_first) {
    const int64_t b = src->shape[1], c = src->shape[2];
    float *out = malloc((size_t)(t * n * c) * sizeof *out), *tmp = malloc((size_t)(t * n * c) * 4);
    cr_assert(out && tmp);
    for (int64_t i = 0; i < t; i++)
        memcpy(tmp + i * n * c, src->f + i * b * c, (size_t)(n * c) * sizeof *out);
    if (batch_first)
        swap01(out, tmp, t, n, c);
    else
        memcpy(out, tmp, (size_t)(t * n * c) * sizeof *out);
    free(tmp);
    return out;
}

static void feed_slice(net *m, ax_node *input, const gd_case *c, const char *name, int64_t t,
                       int64_t n, int batch_first) {
    float *data = slice(gd_get(c, name), t, n, batch_first);
    AX_ASSERT_OK(ax_graph_feed_f32(m->g, input, data, n));
    free(data);
}

/* got (a [A, B, C] tensor, swapped back when swap) against the golden tensor name. */
static void check(const ax_tensor *got, int swap, const gd_case *c, const char *name) {
    const gd_tensor *want = gd_get(c, name);
    cr_assert_eq(ax_tensor_numel(got), want->numel, "%s: %lld elements, want %lld", name,
                 (long long)ax_tensor_numel(got), (long long)want->numel);
    float *host = th_to_host(got), *cmp = host;
    if (swap) {
        cmp = malloc((size_t)want->numel * sizeof *cmp);
        swap01(cmp, host, ax_tensor_dim(got, 0), ax_tensor_dim(got, 1), ax_tensor_dim(got, 2));
    }
    th_assert_close(cmp, want->f, want->numel, ATOL, RTOL, name);
    if (cmp != host)
        free(cmp);
    free(host);
}

/* zero_grad, forward, backward: the loss. */
static float train_step(ax_graph *g) {
    float loss;
    AX_ASSERT_OK(ax_graph_zero_grad(g));
    AX_ASSERT_OK(ax_graph_forward(g));
    AX_ASSERT_OK(ax_graph_backward(g));
    AX_ASSERT_OK(ax_graph_loss(g, &loss));
    return loss;
}

/* One run of the first t steps and n rows against the golden tensors "<prefix>...". */
static void run_and_check(net *m, const gd_case *c, const char *prefix, int64_t t, int64_t n) {
    const spec *s = m->s;
    const int bf = m->batch_first;
    char name[64];
    AX_ASSERT_OK(ax_graph_set_seq_len(m->g, t));
    AX_ASSERT_OK(ax_graph_set_batch(m->g, n));
    feed_slice(m, m->x, c, "x", t, n, bf);
    feed_slice(m, m->ty, c, "ty", t, n, bf);
    feed_slice(m, m->th, c, "th", s->layers * s->dirs, n, 0);
    if (m->tc)
        feed_slice(m, m->tc, c, "tc", s->layers * s->dirs, n, 0);
    if (m->h0)
        feed_slice(m, m->h0, c, "h0", s->layers * s->dirs, n, 0);
    if (m->c0)
        feed_slice(m, m->c0, c, "c0", s->layers * s->dirs, n, 0);
    ax_node *with_grad[3] = {m->x, m->h0, m->c0};
    for (int i = 0; i < 3; i++)
        if (with_grad[i])
            AX_ASSERT_OK(ax_fill(m->g->ctx, with_grad[i]->grad, 0.0f));
    const float loss = train_step(m->g);
    snprintf(name, sizeof name, "%sloss", prefix);
    cr_assert_float_eq(loss, gd_scalar(c, name), 1e-5f, "%s: %g", name, (double)loss);
    const struct {
        const ax_node *node;
        int grad, swap;
        const char *what;
    } outs[] = {
        {m->y, 0, bf, "y"},      {m->hn, 0, 0, "hn"},   {m->cn, 0, 0, "cn"},
        {m->x, 1, bf, "gx"},     {m->h0, 1, 0, "gh0"},  {m->c0, 1, 0, "gc0"},
    };
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        if (!outs[i].node)
            continue;
        snprintf(name, sizeof name, "%s%s", prefix, outs[i].what);
        check(outs[i].grad ? outs[i].node->grad : ax_graph_value(m->g, outs[i].node),
              outs[i].swap, c, name);
    }
    ax_param_list p;
    AX_ASSERT_OK(ax_graph_params(m->g, &p));
    for (int i = 0; i < p.n; i++) {
        const char *pname;
        AX_ASSERT_OK(ax_graph_param_get(m->g, i, &pname, NULL, NULL));
        snprintf(name, sizeof name, "%sg.%s", prefix, pname);
        check(p.grads[i], 0, c, name);
    }
}

static void init_path(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s/graph_rnn/%s_init.safetensors", th_golden_dir(), name);
}

/* Its checkpoint holds what PyTorch's state_dict holds: keys, dtypes, shapes and values. */
static void assert_checkpoint_is_torchs(ax_graph *g, const char *name) {
    char ours[64] = "/tmp/axon_rnn_XXXXXX", path[512];
    int fd = mkstemp(ours);
    cr_assert_geq(fd, 0);
    close(fd);
    AX_ASSERT_OK(ax_graph_save(g, ours));
    init_path(path, sizeof path, name);
    cr_assert_eq(gd_assert_same_checkpoint(ours, path, 0.0, 0.0), 0);
    unlink(ours);
}

/* PyTorch's state_dict loads (torch -> axon); the full run, the first 3 steps and the first 2
 * rows match PyTorch's, in any order, without recompiling; the checkpoint is torch's. */
static void match_torch(ax_ctx *ctx, const spec *s, int batch_first, int reuse) {
    gd_case *c = gd_load("graph_rnn", s->name);
    net m = build(ctx, s, batch_first, reuse);
    char path[512];
    init_path(path, sizeof path, s->name);
    AX_ASSERT_OK(ax_graph_load(m.g, path));
    cr_assert_eq(ax_graph_param_count(m.g), s->layers * s->dirs * (s->no_bias ? 2 : 4));
    cr_assert_eq(ax_graph_buffer_count(m.g), 0);
    run_and_check(&m, c, "", T, N);
    run_and_check(&m, c, "s.", 3, N);
    run_and_check(&m, c, "b.", T, 2);
    run_and_check(&m, c, "", T, N); /* back to the full sizes */
    assert_checkpoint_is_torchs(m.g, s->name);
    ax_graph_destroy(m.g);
    gd_free(c);
}

static void match_torch_on(ax_ctx *(*make)(void), const spec *s) {
    ax_ctx *ctx = make();
    match_torch(ctx, s, 0, 0);
    match_torch(ctx, s, 1, 0);
    ax_ctx_destroy(ctx);
}

Test(graph_rnn, lstm_two_layers_bidirectional_matches_pytorch) {
    match_torch_on(th_cpu_ctx, &LSTM);
}

Test(graph_rnn, gru_two_layers_bidirectional_matches_pytorch) { match_torch_on(th_cpu_ctx, &GRU); }

Test(graph_rnn, rnn_tanh_two_layers_matches_pytorch) { match_torch_on(th_cpu_ctx, &RNN_TANH); }

Test(graph_rnn, rnn_relu_bidirectional_without_bias_matches_pytorch) {
    match_torch_on(th_cpu_ctx, &RNN_RELU);
}

/* Three layers: the backward's layer gradients alternate between two buffers. */
Test(graph_rnn, gru_three_layers_matches_pytorch) { match_torch_on(th_cpu_ctx, &GRU3); }

/* With values sharing memory by liveness: x, which every backward reads, is kept. */
Test(graph_rnn, value_reuse_keeps_x_for_the_backward) {
    ax_ctx *ctx = th_cpu_ctx();
    match_torch(ctx, &LSTM, 0, 1);
    match_torch(ctx, &GRU, 1, 1);
    ax_ctx_destroy(ctx);
}

/* The same on the CUDA kernels (skipped without a GPU). */
Test(graph_rnn, on_the_gpu_too) {
    match_torch_on(th_gpu_ctx_or_skip, &LSTM);
    match_torch_on(th_gpu_ctx_or_skip, &GRU);
    match_torch_on(th_gpu_ctx_or_skip, &RNN_RELU);
}

/* ---------------------------------------------------------------- carried states */

/* Truncated BPTT: the second call starts from the first's final states, with no gradient
 * through them (PyTorch's detach); a reset starts from zeros again. Neither the carried
 * states nor anything else but the parameters is in the checkpoint. */
Test(graph_rnn, carried_states_continue_the_sequence_detached) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load("graph_rnn", "lstm_carry");
    net m = {.s = &LSTM};
    AX_ASSERT_OK(ax_graph_create(ctx, 3, &m.g));
    m.x = seq_input(m.g, "x", 0, 4, N, IN);
    ax_graph_rnn_opts o = {.hidden_size = H, .num_layers = 2, .carry_state = 1};
    AX_ASSERT_OK(ax_graph_lstm(m.g, "lstm", m.x, NULL, NULL, &o, &m.y, &m.hn, &m.cn));
    m.ty = seq_input(m.g, "ty", 0, 4, N, H);
    m.th = state_input(m.g, "th", 2, N);
    m.tc = state_input(m.g, "tc", 2, N);
    ax_node *a, *b, *d;
    AX_ASSERT_OK(ax_graph_mse_loss(m.g, "ly", m.y, m.ty, &a));
    AX_ASSERT_OK(ax_graph_mse_loss(m.g, "lh", m.hn, m.th, &b));
    AX_ASSERT_OK(ax_graph_mse_loss(m.g, "lc", m.cn, m.tc, &d));
    AX_ASSERT_OK(ax_graph_add(m.g, "l2", a, b, &a));
    AX_ASSERT_OK(ax_graph_add(m.g, "loss", a, d, &m.loss));
    AX_ASSERT_OK(ax_graph_compile(m.g, m.loss));
    char path[512], name[64];
    init_path(path, sizeof path, "lstm_carry");
    AX_ASSERT_OK(ax_graph_load(m.g, path));
    feed_slice(&m, m.ty, c, "ty", 4, N, 0);
    feed_slice(&m, m.th, c, "th", 2, N, 0);
    feed_slice(&m, m.tc, c, "tc", 2, N, 0);
    ax_param_list p;
    AX_ASSERT_OK(ax_graph_params(m.g, &p));
    for (int k = 1; k <= 2; k++) {
        snprintf(name, sizeof name, "x%d", k);
        feed_slice(&m, m.x, c, name, 4, N, 0);
        const float loss = train_step(m.g);
        snprintf(name, sizeof name, "loss%d", k);
        cr_assert_float_eq(loss, gd_scalar(c, name), 1e-5f, "%s: %g", name, (double)loss);
        const ax_node *outs[3] = {m.y, m.hn, m.cn};
        const char *what[3] = {"y", "hn", "cn"};
        for (int i = 0; i < 3; i++) {
            snprintf(name, sizeof name, "%s%d", what[i], k);
            check(ax_graph_value(m.g, outs[i]), 0, c, name);
        }
        for (int i = 0; i < p.n; i++) {
            const char *pname;
            AX_ASSERT_OK(ax_graph_param_get(m.g, i, &pname, NULL, NULL));
            snprintf(name, sizeof name, "g%d.%s", k, pname);
            check(p.grads[i], 0, c, name);
        }
    }
    AX_ASSERT_OK(ax_graph_rnn_reset_state(m.g, m.y));
    AX_ASSERT_OK(ax_graph_forward(m.g)); /* x2 from zeros */
    check(ax_graph_value(m.g, m.y), 0, c, "y3");
    AX_ASSERT_OK(ax_graph_forward(m.g)); /* carried again: no longer y3 */
    float *again = th_to_host(ax_graph_value(m.g, m.y));
    cr_assert(fabsf(again[0] - gd_get(c, "y3")->f[0]) > 1e-6f, "the states were not carried");
    free(again);
    AX_ASSERT_OK(ax_graph_rnn_reset_state(m.g, NULL)); /* every layer */
    AX_ASSERT_OK(ax_graph_forward(m.g));
    check(ax_graph_value(m.g, m.y), 0, c, "y3");
    cr_assert_eq(ax_graph_buffer_count(m.g), 0, "carried states are not buffers");
    assert_checkpoint_is_torchs(m.g, "lstm_carry");
    AX_ASSERT_FAILS(ax_graph_rnn_reset_state(m.g, m.loss), AX_ERR_INVALID_ARG,
                    "ax_graph_rnn_reset_state");
    ax_graph_destroy(m.g);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

/* A shorter batch continues rows 0 .. n - 1 of the carried states. */
Test(graph_rnn, a_shorter_batch_continues_its_rows) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *y;
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    x = seq_input(g, "x", 1, 2, 3, 2);
    ax_graph_rnn_opts o = {.hidden_size = 2, .num_layers = 2, .bidirectional = 1,
                           .batch_first = 1, .carry_state = 1};
    AX_ASSERT_OK(ax_graph_gru(g, "gru", x, NULL, &o, &y, NULL));
    AX_ASSERT_OK(ax_graph_compile(g, NULL));
    float xs[12], full[24], part[16];
    th_random(xs, 12, 5, -1.0f, 1.0f);
    AX_ASSERT_OK(ax_graph_feed_f32(g, x, xs, 3));
    for (int call = 0; call < 3; call++)
        AX_ASSERT_OK(ax_graph_forward(g));
    AX_ASSERT_OK(ax_tensor_to_host(ax_graph_value(g, y), full, sizeof full));
    AX_ASSERT_OK(ax_graph_rnn_reset_state(g, y));
    AX_ASSERT_OK(ax_graph_forward(g));
    AX_ASSERT_OK(ax_graph_feed_f32(g, x, xs, 2)); /* rows 0 and 1 again, continued twice */
    AX_ASSERT_OK(ax_graph_forward(g));
    AX_ASSERT_OK(ax_graph_forward(g));
    AX_ASSERT_OK(ax_tensor_to_host(ax_graph_value(g, y), part, sizeof part));
    th_assert_equal(part, full, 16, "rows 0 and 1 of the third call");
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- dropout */

/* The loss after a forward. */
static double loss_of(ax_graph *g) {
    float loss;
    AX_ASSERT_OK(ax_graph_loss(g, &loss));
    return loss;
}

/* Dropout between the layers: the identity in eval, a fresh mask per training forward, and
 * the backward through the same mask (finite differences of layer 0's weights, whose
 * gradient crosses it, at a fixed training step). */
Test(graph_rnn, dropout_between_layers) {
    ax_ctx *ctx = th_cpu_ctx();
    gd_case *c = gd_load("graph_rnn", "lstm");
    net m = {.s = &LSTM};
    AX_ASSERT_OK(ax_graph_create(ctx, 3, &m.g));
    m.x = seq_input(m.g, "x", 0, T, N, IN);
    m.h0 = state_input(m.g, "h0", 4, N);
    m.c0 = state_input(m.g, "c0", 4, N);
    m.ty = seq_input(m.g, "t", 0, T, N, 2 * H);
    ax_graph_rnn_opts o = opts_of(&LSTM, 0);
    o.dropout = 0.5f;
    AX_ASSERT_OK(ax_graph_lstm(m.g, "lstm", m.x, m.h0, m.c0, &o, &m.y, &m.hn, &m.cn));
    AX_ASSERT_OK(ax_graph_mse_loss(m.g, "loss", m.y, m.ty, &m.loss));
    AX_ASSERT_OK(ax_graph_compile(m.g, m.loss));
    char path[512];
    init_path(path, sizeof path, "lstm");
    AX_ASSERT_OK(ax_graph_load(m.g, path));
    feed_slice(&m, m.x, c, "x", T, N, 0);
    feed_slice(&m, m.h0, c, "h0", 4, N, 0);
    feed_slice(&m, m.c0, c, "c0", 4, N, 0);
    float w[T * N * 2 * H];
    th_random(w, T * N * 2 * H, 9, -1.0f, 1.0f);
    AX_ASSERT_OK(ax_graph_feed_f32(m.g, m.ty, w, N));

    AX_ASSERT_OK(ax_graph_set_training(m.g, 0));
    AX_ASSERT_OK(ax_graph_forward(m.g));
    check(ax_graph_value(m.g, m.y), 0, c, "y"); /* eval: no dropout */
    const double eval = loss_of(m.g);
    AX_ASSERT_OK(ax_graph_set_training(m.g, 1));
    AX_ASSERT_OK(ax_graph_forward(m.g));
    const double first = loss_of(m.g);
    AX_ASSERT_OK(ax_graph_forward(m.g));
    const double second = loss_of(m.g);
    cr_assert(fabs(first - eval) > 1e-4 && fabs(second - first) > 1e-4,
              "training %g, %g; eval %g", first, second, eval);

    /* the gradient at step s against central differences at the same step (same mask) */
    const uint64_t s = m.g->step + 1;
    m.g->step = s - 1;
    AX_ASSERT_OK(ax_graph_zero_grad(m.g));
    AX_ASSERT_OK(ax_graph_forward(m.g));
    AX_ASSERT_OK(ax_graph_backward(m.g));
    ax_tensor *w0, *g0;
    int index;
    AX_ASSERT_OK(ax_graph_param_find(m.g, "lstm.weight_ih_l0", &index));
    AX_ASSERT_OK(ax_graph_param_get(m.g, index, NULL, &w0, &g0));
    float *grad = th_to_host(g0), *vals = th_to_host(w0);
    const int64_t n = ax_tensor_numel(w0);
    const float eps = 1e-2f;
    for (int64_t i = 0; i < n; i += 5) {
        double f[2];
        for (int k = 0; k < 2; k++) {
            float v = vals[i] + (k ? -eps : eps);
            AX_ASSERT_OK(ax_tensor_set_from_host(w0, vals, (size_t)n * sizeof *vals));
            float *pw = th_to_host(w0);
            pw[i] = v;
            AX_ASSERT_OK(ax_tensor_set_from_host(w0, pw, (size_t)n * sizeof *pw));
            free(pw);
            m.g->step = s - 1;
            AX_ASSERT_OK(ax_graph_forward(m.g));
            f[k] = loss_of(m.g);
        }
        const double fd = (f[0] - f[1]) / (2 * eps);
        cr_assert(fabs(fd - grad[i]) <= 2e-3 + 2e-2 * fabs(fd), "[%lld]: %g, differences %g",
                  (long long)i, (double)grad[i], fd);
    }
    free(grad);
    free(vals);
    ax_graph_destroy(m.g);
    gd_free(c);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- initialisation */

/* Every parameter U(-1/sqrt(H), 1/sqrt(H)), as PyTorch's reset_parameters. */
Test(graph_rnn, parameters_are_uniform_in_one_over_sqrt_hidden) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *y;
    AX_ASSERT_OK(ax_graph_create(ctx, 11, &g));
    x = seq_input(g, "x", 0, 2, 2, 8);
    ax_graph_rnn_opts o = {.hidden_size = 25, .num_layers = 2, .bidirectional = 1};
    AX_ASSERT_OK(ax_graph_gru(g, NULL, x, NULL, &o, &y, NULL));
    cr_assert_str_eq(ax_graph_node_name(g, y), "gru1");
    cr_assert_eq(ax_graph_param_count(g), 16);
    const double bound = 1.0 / 5.0;
    for (int i = 0; i < 16; i++) {
        const char *name;
        ax_tensor *v;
        AX_ASSERT_OK(ax_graph_param_get(g, i, &name, &v, NULL));
        float *h = th_to_host(v);
        const int64_t n = ax_tensor_numel(v);
        double sum = 0, sq = 0, lo = 1, hi = -1;
        for (int64_t e = 0; e < n; e++) {
            sum += h[e], sq += (double)h[e] * h[e];
            lo = h[e] < lo ? h[e] : lo, hi = h[e] > hi ? h[e] : hi;
        }
        free(h);
        cr_assert(lo >= -bound && hi <= bound, "%s in [%g, %g]", name, lo, hi);
        cr_assert(n < 600 || (hi > 0.9 * bound && lo < -0.9 * bound), "%s: [%g, %g]", name, lo,
                  hi);
        cr_assert(n < 600 || fabs(sq / n - bound * bound / 3) < 0.2 * bound * bound / 3,
                  "%s: variance %g", name, sq / n);
        cr_assert(n < 600 || fabs(sum / n) < 0.02, "%s: mean %g", name, sum / n);
    }
    const char *want[] = {"gru1.weight_ih_l0", "gru1.weight_hh_l0", "gru1.bias_ih_l0",
                          "gru1.bias_hh_l0", "gru1.weight_ih_l0_reverse"};
    for (int i = 0; i < 5; i++) {
        const char *name;
        AX_ASSERT_OK(ax_graph_param_get(g, i, &name, NULL, NULL));
        cr_assert_str_eq(name, want[i]);
    }
    ax_tensor *w1;
    AX_ASSERT_OK(ax_graph_param_get(g, 8, NULL, &w1, NULL));
    cr_assert_eq(ax_tensor_dim(w1, 0), 75);
    cr_assert_eq(ax_tensor_dim(w1, 1), 50, "layer 1 reads both directions");
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- a training loop */

/* Adam steps with the gradients clipped to a global norm of 0.5 fit a small GRU to a target:
 * the norm is clipped every step and the loss falls. */
Test(graph_rnn, clipped_training_loop_lowers_the_loss) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *t, *y, *hn, *loss;
    AX_ASSERT_OK(ax_graph_create(ctx, 2, &g));
    x = seq_input(g, "x", 0, 6, 4, 3);
    ax_graph_rnn_opts o = {.hidden_size = 5, .num_layers = 2};
    AX_ASSERT_OK(ax_graph_gru(g, "gru", x, NULL, &o, &y, &hn));
    t = seq_input(g, "t", 0, 6, 4, 5);
    AX_ASSERT_OK(ax_graph_mse_loss(g, "loss", y, t, &loss));
    AX_ASSERT_OK(ax_graph_compile(g, loss));
    float xs[72], ts[120];
    th_random(xs, 72, 1, -1.0f, 1.0f);
    th_random(ts, 120, 2, -0.8f, 0.8f);
    AX_ASSERT_OK(ax_graph_feed_f32(g, x, xs, 4));
    AX_ASSERT_OK(ax_graph_feed_f32(g, t, ts, 4));
    ax_adam_config cfg = ax_adam_defaults();
    cfg.lr = 0.02;
    ax_optimizer *opt;
    AX_ASSERT_OK(ax_optimizer_create_adam(ctx, &cfg, &opt));
    ax_param_list p;
    AX_ASSERT_OK(ax_graph_params(g, &p));
    float first = 0, last = 0;
    for (int step = 0; step < 60; step++) {
        last = train_step(g);
        first = step ? first : last;
        float total, after;
        AX_ASSERT_OK(ax_clip_grad_norm(ctx, p.n, p.grads, 0.5f, 2.0f, 1, &total));
        AX_ASSERT_OK(ax_clip_grad_norm(ctx, p.n, p.grads, 1e9f, 2.0f, 1, &after));
        cr_assert(after <= 0.5f * 1.0001f && (total <= 0.5f || after > 0.49f),
                  "step %d: norm %g clipped to %g", step, (double)total, (double)after);
        AX_ASSERT_OK(ax_optimizer_step(opt, p.n, p.values, p.grads));
    }
    cr_assert(last < 0.5f * first, "loss %g -> %g", (double)first, (double)last);
    ax_optimizer_destroy(opt);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* The textbook GRU (gru_textbook) is ops.h's AX_RNN_GRU_TEXTBOOK over the layer's own weights,
 * both directions (not PyTorch's form, which gives other numbers). */
Test(graph_rnn, textbook_gru_runs_the_textbook_recurrence) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *y, *hn;
    AX_ASSERT_OK(ax_graph_create(ctx, 4, &g));
    x = seq_input(g, "x", 0, T, N, IN);
    ax_graph_rnn_opts o = {.hidden_size = H, .bidirectional = 1, .gru_textbook = 1};
    AX_ASSERT_OK(ax_graph_gru(g, "gru", x, NULL, &o, &y, &hn));
    AX_ASSERT_OK(ax_graph_compile(g, NULL));
    float xs[T * N * IN];
    th_random(xs, T * N * IN, 8, -1.0f, 1.0f);
    AX_ASSERT_OK(ax_graph_feed_f32(g, x, xs, N));
    AX_ASSERT_OK(ax_graph_forward(g));
    const int64_t xshape[3] = {T, N, IN}, yshape[3] = {T, N, 2 * H}, hshape[2] = {N, H};
    ax_tensor *xt = th_tensor(ctx, 3, xshape, xs), *want = th_nan_tensor(ctx, 3, yshape);
    ax_tensor *hT = th_nan_tensor(ctx, 2, hshape), *reserve;
    int64_t numel;
    AX_ASSERT_OK(ax_rnn_reserve_numel(AX_RNN_GRU_TEXTBOOK, T, N, H, &numel));
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 1, &numel, &reserve));
    ax_param_list p;
    AX_ASSERT_OK(ax_graph_params(g, &p));
    for (int d = 0; d < 2; d++) {
        ax_rnn_desc desc = {.mode = AX_RNN_GRU_TEXTBOOK, .reverse = d, .y_offset = d * H};
        ax_rnn_weights w = {p.values[4 * d], p.values[4 * d + 1], p.values[4 * d + 2],
                            p.values[4 * d + 3]};
        AX_ASSERT_OK(ax_rnn_forward(ctx, &desc, T, xt, NULL, NULL, &w, want, hT, NULL, reserve));
    }
    float *got = th_to_host(ax_graph_value(g, y)), *ref = th_to_host(want);
    th_assert_equal(got, ref, T * N * 2 * H, "y");
    free(got);
    free(ref);
    ax_tensor_destroy(xt);
    ax_tensor_destroy(want);
    ax_tensor_destroy(hT);
    ax_tensor_destroy(reserve);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- refusals */

/* Each refusal names the call and leaves the graph as it was. */
static void refused(ax_graph *g, ax_status got, ax_status want, const char *fn) {
    cr_assert_eq(got, want, "%s: %s, expected %s (%s)", fn, ax_status_str(got),
                 ax_status_str(want), ax_last_error());
    cr_assert(th_message_names(fn), "message \"%s\" does not name %s", ax_last_error(), fn);
    cr_assert_eq(ax_graph_param_count(g), 1, "%s left parameters (h0_fixed is the only one)",
                 fn);
}

Test(graph_rnn, bad_input_is_refused) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *x2, *xi, *h0, *bad_h0, *y = NULL, *flat;
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    x = seq_input(g, "x", 0, T, N, IN);
    int64_t s2[2] = {N, IN}, s3[3] = {N, T, IN};
    AX_ASSERT_OK(ax_graph_input(g, "flat", 2, s2, &flat));
    AX_ASSERT_OK(ax_graph_input(g, "x_batch0", 3, s3, &x2)); /* batch on axis 0, no time */
    int64_t tm[3] = {T, N, IN};
    AX_ASSERT_OK(ax_graph_input_typed(g, "ids", AX_I32, 3, tm, 1, 0, &xi));
    h0 = state_input(g, "h0", 2, N);
    bad_h0 = state_input(g, "h0_wrong", 1, N);
    ax_node *wide_h0, *rows_h0, *fixed_h0;
    int64_t wide[3] = {2, N, H + 1}, rows[3] = {N, 2, H};
    AX_ASSERT_OK(ax_graph_input_typed(g, "h0_wide", AX_F32, 3, wide, 1, -1, &wide_h0));
    AX_ASSERT_OK(ax_graph_input_typed(g, "h0_rows", AX_F32, 3, rows, 0, -1, &rows_h0));
    AX_ASSERT_OK(ax_graph_param(g, "h0_fixed", 3, (int64_t[]){2, N, H},
                                &(ax_init){.kind = AX_INIT_ZEROS}, &fixed_h0));
    const int nodes = g->n_nodes;
    ax_graph_rnn_opts o = {.hidden_size = H, .bidirectional = 1};
    ax_graph_rnn_opts wrong_in = o, no_hidden = o, bad_drop = o, sigmoid = o, carry = o;
    wrong_in.input_size = IN + 1;
    no_hidden.hidden_size = 0;
    bad_drop.dropout = 1.0f;
    sigmoid.nonlinearity = AX_ACT_SIGMOID;
    carry.carry_state = 1;
    refused(g, ax_graph_lstm(g, "l", x, NULL, NULL, &wrong_in, &y, NULL, NULL), AX_ERR_SHAPE,
            "ax_graph_lstm");
    refused(g, ax_graph_gru(g, "l", x, bad_h0, &o, &y, NULL), AX_ERR_SHAPE, "ax_graph_gru");
    refused(g, ax_graph_lstm(g, "l", x, h0, bad_h0, &o, &y, NULL, NULL), AX_ERR_SHAPE,
            "ax_graph_lstm");
    cr_assert_eq(ax_graph_param_count(g), 1);
    ax_node *const wrong_states[3] = {wide_h0, rows_h0, fixed_h0};
    for (int i = 0; i < 3; i++) { /* hidden size, batch axis, not batched */
        cr_assert_eq(ax_graph_gru(g, "l", x, wrong_states[i], &o, &y, NULL), AX_ERR_SHAPE,
                     "h0 %d: %s", i, ax_last_error());
        cr_assert_eq(ax_graph_lstm(g, "l", x, h0, wrong_states[i], &o, &y, NULL, NULL),
                     AX_ERR_SHAPE, "c0 %d: %s", i, ax_last_error());
    }
    refused(g, ax_graph_rnn(g, "l", flat, NULL, &o, &y, NULL), AX_ERR_SHAPE, "ax_graph_rnn");
    refused(g, ax_graph_rnn(g, "l", x2, NULL, &o, &y, NULL), AX_ERR_SHAPE, "ax_graph_rnn");
    refused(g, ax_graph_rnn(g, "l", xi, NULL, &o, &y, NULL), AX_ERR_DTYPE, "ax_graph_rnn");
    refused(g, ax_graph_rnn(g, "l", x, NULL, &no_hidden, &y, NULL), AX_ERR_INVALID_ARG,
            "ax_graph_rnn");
    refused(g, ax_graph_gru(g, "l", x, NULL, &bad_drop, &y, NULL), AX_ERR_INVALID_ARG,
            "ax_graph_gru");
    refused(g, ax_graph_rnn(g, "l", x, NULL, &sigmoid, &y, NULL), AX_ERR_INVALID_ARG,
            "ax_graph_rnn");
    refused(g, ax_graph_gru(g, "l", x, h0, &carry, &y, NULL), AX_ERR_INVALID_ARG,
            "ax_graph_gru");
    refused(g, ax_graph_gru(g, "l", x, NULL, NULL, &y, NULL), AX_ERR_INVALID_ARG,
            "ax_graph_gru");
    refused(g, ax_graph_gru(g, "x", x, NULL, &o, &y, NULL), AX_ERR_INVALID_ARG, "ax_graph_gru");
    refused(g, ax_graph_gru(g, "l", x, NULL, &o, NULL, NULL), AX_ERR_INVALID_ARG,
            "ax_graph_gru");
    cr_assert_null(y);
    cr_assert_eq(g->n_nodes, nodes, "a refused layer left nodes");
    /* batch_first wants the batch on axis 0 and the time on axis 1 */
    ax_graph_rnn_opts bf = o;
    bf.batch_first = 1;
    refused(g, ax_graph_gru(g, "l", x, NULL, &bf, &y, NULL), AX_ERR_SHAPE, "ax_graph_gru");
    AX_ASSERT_OK(ax_graph_gru(g, "l", x, h0, &o, &y, NULL));
    AX_ASSERT_OK(ax_graph_compile(g, NULL));
    /* a run longer than compiled, and after compile no more layers */
    AX_ASSERT_FAILS(ax_graph_set_seq_len(g, T + 1), AX_ERR_SHAPE, "ax_graph_set_seq_len");
    AX_ASSERT_FAILS(ax_graph_set_seq_len(g, 0), AX_ERR_SHAPE, "ax_graph_set_seq_len");
    AX_ASSERT_FAILS(ax_graph_gru(g, "l2", x, NULL, &o, &y, NULL), AX_ERR_STATE, "ax_graph_gru");
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* NaN and Inf in x reach y, h_n and every gradient of the steps they touch, no further back
 * (the steps before them stay finite in a forward-only layer). */
Test(graph_rnn, nan_in_x_spreads_forward_in_time_only) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *y, *hn;
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    x = seq_input(g, "x", 0, 4, 2, 1);
    ax_graph_rnn_opts o = {.hidden_size = 2};
    AX_ASSERT_OK(ax_graph_lstm(g, "l", x, NULL, NULL, &o, &y, &hn, NULL));
    AX_ASSERT_OK(ax_graph_compile(g, NULL));
    float xs[8] = {0.5f, -0.5f, 1, 2, NAN, 0, 0.25f, INFINITY}, out[16], h[4];
    AX_ASSERT_OK(ax_graph_feed_f32(g, x, xs, 2));
    AX_ASSERT_OK(ax_graph_forward(g));
    AX_ASSERT_OK(ax_tensor_to_host(ax_graph_value(g, y), out, sizeof out));
    AX_ASSERT_OK(ax_tensor_to_host(ax_graph_value(g, hn), h, sizeof h));
    for (int i = 0; i < 8; i++)
        cr_assert(isfinite(out[i]), "y[%d] = %g before the NaN", i, (double)out[i]);
    cr_assert(isnan(out[8]) && isnan(out[9]) && isnan(out[12]) && isnan(h[0]),
              "row 0 after the NaN: %g %g %g %g", (double)out[8], (double)out[9],
              (double)out[12], (double)h[0]);
    cr_assert(isfinite(out[10]) && isfinite(out[11]), "row 1 at step 2 is finite");
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- mutation audit */

/* x's gradient of a batch_first layer, its h0 an input without a gradient (plain zeros) or
 * absent (the same values): the two equal; and a batch_first layer over an x that takes no
 * gradient trains its parameters. */
static float *batch_first_dx(ax_ctx *ctx, int h0_input, int x_grad, const float *xs) {
    ax_graph *g;
    ax_node *x, *h0 = NULL, *y, *ty, *loss;
    AX_ASSERT_OK(ax_graph_create(ctx, 7, &g));
    x = seq_input(g, "x", 1, T, N, IN);
    if (x_grad)
        give_grad(g, x);
    if (h0_input)
        h0 = state_input(g, "h0", 1, N);
    ax_graph_rnn_opts o = {.hidden_size = H, .batch_first = 1};
    AX_ASSERT_OK(ax_graph_gru(g, "gru", x, h0, &o, &y, NULL));
    ty = seq_input(g, "ty", 1, T, N, H);
    AX_ASSERT_OK(ax_graph_mse_loss(g, "loss", y, ty, &loss));
    AX_ASSERT_OK(ax_graph_compile(g, loss));
    float zero[N * T * H] = {0};
    AX_ASSERT_OK(ax_graph_feed_f32(g, x, xs, N));
    AX_ASSERT_OK(ax_graph_feed_f32(g, ty, zero, N));
    if (h0)
        AX_ASSERT_OK(ax_graph_feed_f32(g, h0, zero, N));
    train_step(g);
    ax_param_list p;
    AX_ASSERT_OK(ax_graph_params(g, &p));
    float *out = th_to_host(x_grad ? x->grad : p.grads[0]);
    ax_graph_destroy(g);
    return out;
}

Test(graph_rnn, batch_first_gradients_whatever_else_takes_one) {
    ax_ctx *ctx = th_cpu_ctx();
    float xs[N * T * IN];
    th_random(xs, N * T * IN, 11, -1.0f, 1.0f);
    float *a = batch_first_dx(ctx, 0, 1, xs), *b = batch_first_dx(ctx, 1, 1, xs);
    th_assert_equal(b, a, N * T * IN, "dx with a gradient-less h0");
    float *c = batch_first_dx(ctx, 0, 0, xs), *d = batch_first_dx(ctx, 1, 0, xs);
    th_assert_equal(d, c, 3 * H * IN, "weight_ih_l0's gradient without dx");
    free(a), free(b), free(c), free(d);
    ax_ctx_destroy(ctx);
}

/* A time-major (batch_first) x without a time axis is a sequence too. */
Test(graph_rnn, x_without_a_time_axis) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *xb, *y;
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    int64_t tm[3] = {T, N, IN}, bf[3] = {N, T, IN};
    AX_ASSERT_OK(ax_graph_input_typed(g, "x", AX_F32, 3, tm, 1, -1, &x));
    AX_ASSERT_OK(ax_graph_input_typed(g, "xb", AX_F32, 3, bf, 0, -1, &xb));
    ax_graph_rnn_opts o = {.hidden_size = H}, ob = {.hidden_size = H, .batch_first = 1};
    AX_ASSERT_OK(ax_graph_gru(g, "a", x, NULL, &o, &y, NULL));
    AX_ASSERT_OK(ax_graph_lstm(g, "b", xb, NULL, NULL, &ob, &y, NULL, NULL));
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* Refusals at the edges: h0 batched on axis 0 whose dims happen to fit (L = N), 257 layers, a
 * carried LSTM given only c0. */
Test(graph_rnn, edges_of_the_refusals) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *c0, *h0_axis0, *y = NULL;
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    x = seq_input(g, "x", 0, T, N, IN);
    c0 = state_input(g, "c0", 1, N);
    int64_t s[3] = {N, N, H}; /* 3 layers: [L, N, H] = [N, N, H] */
    AX_ASSERT_OK(ax_graph_input_typed(g, "h0_axis0", AX_F32, 3, s, 0, -1, &h0_axis0));
    ax_graph_rnn_opts o = {.hidden_size = H, .num_layers = N};
    AX_ASSERT_FAILS(ax_graph_gru(g, "l", x, h0_axis0, &o, &y, NULL), AX_ERR_SHAPE,
                    "ax_graph_gru");
    ax_graph_rnn_opts deep = {.hidden_size = H, .num_layers = 257};
    AX_ASSERT_FAILS(ax_graph_rnn(g, "l", x, NULL, &deep, &y, NULL), AX_ERR_INVALID_ARG,
                    "ax_graph_rnn");
    deep.num_layers = -1;
    AX_ASSERT_FAILS(ax_graph_rnn(g, "l", x, NULL, &deep, &y, NULL), AX_ERR_INVALID_ARG,
                    "ax_graph_rnn");
    ax_graph_rnn_opts carry = {.hidden_size = H, .carry_state = 1};
    AX_ASSERT_FAILS(ax_graph_lstm(g, "l", x, NULL, c0, &carry, &y, NULL, NULL),
                    AX_ERR_INVALID_ARG, "ax_graph_lstm");
    cr_assert_null(y);
    cr_assert_eq(ax_graph_param_count(g), 0);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}
