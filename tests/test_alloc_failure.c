/* Allocation failures on every error path: the internal hook ax_alloc_fail_nth makes the n-th
 * host or device allocation fail, and each sweep runs a sequence of public calls once for every
 * n until a run passes its last allocation. The first call that meets the failure must answer
 * AX_ERR_OOM with a message and leave everything exactly as it was (the snapshot of the state
 * before the call equals the one after); the call is then retried without the failure and
 * the sequence goes on, so what was left behind must still work. Leaks show in the sanitizer
 * build (detect_leaks=1) and in the counts of live handles, which return to where they were. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */

#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "host/core/alloc.h"
#include "host/core/handles.h"
#include "host/graph/graph_internal.h"
#include "host/optim/optim_state.h"

enum { SNAP = 8192 };

/* A step of a sequence: call number k on state; its public name for the message check. */
typedef ax_status (*step_fn)(void *state, int k);
/* A description of everything a failed call must leave unchanged, into buf. */
typedef void (*snapshot_fn)(void *state, char *buf, size_t size);

/* The live device allocations and handles of every kind. */
static size_t snap_handles(char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "device %ld, handles ", ax_device_live());
    for (int k = AX_HANDLE_CTX; k < AX_HANDLE_KINDS; k++)
        used += (size_t)snprintf(buf + used, size - used, "%lld ",
                                 (long long)ax_handle_count((ax_handle_kind)k));
    return used;
}

/* Run steps 0..n_steps-1 with allocation n failing. Returns whether the failure was met.
 * On the failing step: AX_ERR_OOM, a message naming fns[k], the snapshot unchanged; then the
 * step is retried with no failure and must succeed. Every other step must succeed. */
static int run_failing(long n, void *state, int n_steps, step_fn step, snapshot_fn snapshot,
                       const char *const *fns) {
    static char before[SNAP], after[SNAP];
    ax_alloc_fail_nth(n);
    int failed = 0;
    for (int k = 0; k < n_steps; k++) {
        snapshot(state, before, sizeof before);
        ax_clear_error();
        ax_status st = step(state, k);
        if (st != AX_OK) {
            cr_assert(!failed && ax_alloc_fail_hit(), "n = %ld, %s failed without an injected "
                      "failure: %s (%s)", n, fns[k], ax_status_str(st), ax_last_error());
            cr_assert_eq(st, AX_ERR_OOM, "n = %ld: %s -> %s (%s)", n, fns[k], ax_status_str(st),
                         ax_last_error());
            cr_assert(th_message_names(fns[k]), "n = %ld: message \"%s\" does not name %s", n,
                      ax_last_error(), fns[k]);
            snapshot(state, after, sizeof after);
            cr_assert_str_eq(after, before,
                             "n = %ld: step %d, %s, changed the state when it failed:\n%s\n%s",
                             n, k, fns[k], before, after);
            ax_alloc_fail_nth(-1);
            st = step(state, k);
            cr_assert_eq(st, AX_OK, "n = %ld: %s retried: %s", n, fns[k], ax_last_error());
            failed = 1;
        } else if (ax_alloc_fail_hit() && !failed) {
            cr_assert_fail("n = %ld: %s met the failure and still answered AX_OK", n, fns[k]);
        }
    }
    ax_alloc_fail_nth(-1);
    return failed;
}

/* Sweep n from 0 until a run passes its last allocation; setup and teardown run without
 * failures around each run. Returns the number of allocations the sequence makes. */
static long sweep(void *state, void (*setup)(void *), void (*teardown)(void *), int n_steps,
                  step_fn step, snapshot_fn snapshot, const char *const *fns) {
    char handles[512], handles_after[512];
    snap_handles(handles, sizeof handles);
    for (long n = 0;; n++) {
        setup(state);
        int failed = run_failing(n, state, n_steps, step, snapshot, fns);
        teardown(state);
        snap_handles(handles_after, sizeof handles_after);
        cr_assert_str_eq(handles_after, handles, "n = %ld: handles left alive", n);
        if (!failed)
            return n;
        cr_assert(n < 10000, "the sweep does not end");
    }
}

/* ---------------------------------------------------------------- contexts and tensors */

typedef struct ctx_tensors {
    ax_ctx *ctx;
    ax_tensor *t[3];
} ctx_tensors;

static void no_setup(void *state) { memset(state, 0, sizeof(ctx_tensors)); }

static ax_status tensors_step(void *state, int k) {
    ctx_tensors *s = state;
    int64_t shape[2] = {3, 4};
    float data[12] = {0};
    switch (k) {
    case 0: return ax_ctx_create(AX_DEVICE_CPU, 0, &s->ctx);
    case 1: return ax_tensor_create(s->ctx, AX_F32, 2, shape, &s->t[0]);
    case 2: return ax_tensor_zeros(s->ctx, AX_I32, 2, shape, &s->t[1]);
    default: return ax_tensor_from_host(s->ctx, AX_F32, 2, shape, data, &s->t[2]);
    }
}

static void tensors_snapshot(void *state, char *buf, size_t size) {
    ctx_tensors *s = state;
    size_t used = snap_handles(buf, size);
    snprintf(buf + used, size - used, "refs %ld",
             s->ctx ? (long)atomic_load(&s->ctx->refs) : 0L);
}

static void tensors_teardown(void *state) {
    ctx_tensors *s = state;
    for (int i = 0; i < 3; i++)
        ax_tensor_destroy(s->t[i]);
    ax_ctx_destroy(s->ctx);
}

Test(alloc_failure, context_and_tensors) {
    static const char *const fns[] = {"ax_ctx_create", "ax_tensor_create", "ax_tensor_zeros",
                                      "ax_tensor_from_host"};
    ctx_tensors s;
    long n = sweep(&s, no_setup, tensors_teardown, 4, tensors_step, tensors_snapshot, fns);
    cr_assert_geq(n, 7, "only %ld allocations: is the hook wired in?", n);
}

/* ---------------------------------------------------------------- building and compiling */

/* x [4, 5] -> fc1 (6) -> relu -> dropout -> fc2 (3) -> cross-entropy with labels [4]. */
typedef struct model {
    ax_ctx *ctx;
    ax_graph *g;
    ax_node *x, *y, *h, *a, *d, *logits, *loss;
    int image; /* x is an image batch [4, 2, 5, 5] instead of [4, 5]; 2: a sequence [3, 4, 5] */
} model;

static const char *const build_fns[] = {
    "ax_graph_create",  "ax_graph_input",      "ax_graph_labels",        "ax_graph_dense",
    "ax_graph_activation", "ax_graph_dropout", "ax_graph_dense",         "ax_graph_cross_entropy",
    "ax_graph_compile",
};
enum { BUILD_STEPS = 9 };

static ax_status build_step(void *state, int k) {
    model *m = state;
    int64_t xs[2] = {4, 5}, images[4] = {4, 2, 5, 5}, seq[3] = {3, 4, 5};
    switch (k) {
    case 0: return ax_graph_create(m->ctx, 7, &m->g);
    case 1: return m->image == 2 ? ax_graph_input_typed(m->g, "x", AX_F32, 3, seq, 1, 0, &m->x)
                   : m->image    ? ax_graph_input(m->g, "x", 4, images, &m->x)
                                 : ax_graph_input(m->g, "x", 2, xs, &m->x);
    case 2: return ax_graph_labels(m->g, "y", 4, &m->y);
    case 3: return ax_graph_dense(m->g, "fc1", m->x, 6, &m->h);
    case 4: return ax_graph_activation(m->g, "relu", AX_ACT_RELU, 0.0f, m->h, &m->a);
    case 5: return ax_graph_dropout(m->g, "drop", m->a, 0.25f, &m->d);
    case 6: return ax_graph_dense(m->g, "fc2", m->d, 3, &m->logits);
    case 7: return ax_graph_cross_entropy(m->g, "loss", m->logits, m->y, &m->loss);
    default: return ax_graph_compile(m->g, m->loss);
    }
}

/* The graph's nodes (names, inputs, tensors), parameters, compile state and live handles. */
static void graph_snapshot(void *state, char *buf, size_t size) {
    model *m = state;
    size_t used = snap_handles(buf, size);
    const ax_graph *g = m->g;
    if (!g)
        return;
    used += (size_t)snprintf(buf + used, size - used,
                             "| nodes %d params %d batch %lld compiled %d one %d loss %d |",
                             g->n_nodes, g->n_params, (long long)g->max_batch, g->compiled,
                             g->one != NULL, g->loss != NULL);
    for (int i = 0; i < g->n_nodes && used < size; i++) {
        const ax_node *node = g->nodes[i];
        int scratch = 0;
        for (int k = 0; k < node->n_in; k++)
            scratch += (node->scratch[k] != NULL) + node->needs_grad[k];
        used += (size_t)snprintf(buf + used, size - used, " %s(%d in, grad %d, scratch %d)",
                                 node->name, node->n_in, node->grad != NULL, scratch);
    }
    for (int i = 0; i < g->n_params && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, " p%d=%s", i, g->params[i]->name);
}

static void build_setup(void *state) {
    model *m = state;
    memset(m, 0, sizeof *m);
    m->ctx = th_cpu_ctx();
}

static void model_teardown(void *state) {
    model *m = state;
    ax_graph_destroy(m->g);
    ax_ctx_destroy(m->ctx);
}

/* Feed a batch, run forward and backward: the loss is finite and every parameter has a
 * gradient (what a failed build left behind still works). */
static void train_once(model *m) {
    float x[20];
    int32_t y[4] = {0, 2, 1, 2};
    th_random(x, 20, 3, -1.0f, 1.0f);
    int64_t xs[2] = {4, 5}, n = 4;
    ax_tensor *xt = th_tensor(m->ctx, 2, xs, x), *yt = th_tensor_i32(m->ctx, 1, &n, y);
    AX_ASSERT_OK(ax_graph_feed(m->g, m->x, xt));
    AX_ASSERT_OK(ax_graph_feed(m->g, m->y, yt));
    ax_tensor_destroy(xt);
    ax_tensor_destroy(yt);
    AX_ASSERT_OK(ax_graph_zero_grad(m->g));
    AX_ASSERT_OK(ax_graph_forward(m->g));
    AX_ASSERT_OK(ax_graph_backward(m->g));
    float loss;
    AX_ASSERT_OK(ax_graph_loss(m->g, &loss));
    cr_assert(isfinite(loss) && loss > 0.0f, "loss %g", (double)loss);
    cr_assert_eq(ax_graph_param_count(m->g), 4);
    for (int i = 0; i < 4; i++) {
        ax_tensor *grad = NULL;
        AX_ASSERT_OK(ax_graph_param_get(m->g, i, NULL, NULL, &grad));
        float *host = th_to_host(grad);
        double sum = 0;
        for (int64_t e = 0; e < ax_tensor_numel(grad); e++)
            sum += fabs(host[e]);
        free(host);
        cr_assert(sum > 0.0, "parameter %d has no gradient", i);
    }
}

static void build_teardown(void *state) {
    model *m = state;
    train_once(m);
    model_teardown(m);
}

Test(alloc_failure, build_and_compile_a_graph) {
    model m;
    long n = sweep(&m, build_setup, build_teardown, BUILD_STEPS, build_step, graph_snapshot,
                   build_fns);
    cr_assert_geq(n, 50, "only %ld allocations: is the hook wired in?", n);
}

/* The first "node '<name>'" of msg occurs once: a layer's error is not wrapped twice. */
static int first_node_named_once(const char *msg) {
    const char *at = strstr(msg, "node '"), *end = at ? strchr(at + 6, '\'') : NULL;
    if (!end)
        return 1;
    char node[AX_NODE_NAME_MAX + 16];
    snprintf(node, sizeof node, "%.*s", (int)(end - at + 1), at);
    return strstr(end, node) == NULL;
}

/* Sweep one builder call on the graph of build steps 0..2 (x, y): every failure leaves the
 * graph with its two nodes, no parameter (param, when not NULL, is not found: the name is
 * free for the next try) and no buffer. On success the graph has `nodes` more nodes,
 * `params` parameters and `buffers` buffers. Returns the number of failures met. */
static int sweep_layer(ax_status (*call)(model *m, ax_node **out), const char *param, int nodes,
                       int params, int buffers, int image) {
    model m;
    build_setup(&m);
    m.image = image;
    for (int k = 0; k < 3; k++)
        AX_ASSERT_OK(build_step(&m, k));
    int failures = 0;
    for (long n = 0;; n++) {
        ax_node *out = NULL;
        ax_alloc_fail_nth(n);
        ax_status st = call(&m, &out);
        ax_alloc_fail_nth(-1);
        if (st == AX_OK)
            break;
        failures++;
        cr_assert_eq(st, AX_ERR_OOM, "%s", ax_last_error());
        cr_assert(first_node_named_once(ax_last_error()), "n = %ld: %s", n, ax_last_error());
        cr_assert_null(out);
        cr_assert_eq(ax_graph_param_count(m.g), 0, "n = %ld", n);
        cr_assert_eq(m.g->n_nodes, 2, "n = %ld", n);
        cr_assert_eq(ax_graph_buffer_count(m.g), 0, "n = %ld", n);
        int index;
        if (param)
            AX_ASSERT_FAILS(ax_graph_param_find(m.g, param, &index), AX_ERR_INVALID_ARG,
                            "ax_graph_param_find");
    }
    cr_assert_eq(m.g->n_nodes, 2 + nodes);
    cr_assert_eq(ax_graph_param_count(m.g), params);
    cr_assert_eq(ax_graph_buffer_count(m.g), buffers);
    model_teardown(&m);
    return failures;
}

static int sweep_graph(ax_status (*call)(model *m, ax_node **out), const char *param, int nodes,
                       int params, int buffers) {
    return sweep_layer(call, param, nodes, params, buffers, 0);
}

static ax_status add_dense(model *m, ax_node **out) {
    return ax_graph_dense(m->g, "fc1", m->x, 6, out);
}

static ax_status add_param(model *m, ax_node **out) {
    int64_t shape[2] = {3, 2};
    ax_init init = {.kind = AX_INIT_UNIFORM, .low = -1, .high = 1};
    return ax_graph_param(m->g, "w", 2, shape, &init, out);
}

/* The dense layer makes its weight, its bias and its node: a failure in any of them removes
 * the others, so the name is free again and no parameter is left behind. */
Test(alloc_failure, dense_leaves_no_parameters_behind) {
    int failures = sweep_graph(add_dense, "fc1.weight", 3, 2, 0);
    cr_assert_geq(failures, 8, "weight and bias (each a node, a value and a gradient), node");
}

/* A parameter is a node, a value and a gradient: a failure after the node removes it. */
Test(alloc_failure, param_leaves_no_node_behind) {
    int failures = sweep_graph(add_param, "w", 1, 1, 0);
    cr_assert_geq(failures, 4, "the arrays, the node, its value and its gradient");
}

static ax_status add_running_center(model *m, ax_node **out) {
    return ax_graph_running_center(m->g, "rc", m->x, 0.1f, out);
}

static ax_status add_sum_product(model *m, ax_node **out) {
    ax_node *in[3] = {m->x, m->x, m->x}, *product;
    return ax_graph_sum_product(m->g, "sp", 3, in, out, &product);
}

/* The node, its state tensors, its identity's host copy and its two buffers. */
Test(alloc_failure, running_center_leaves_nothing_behind) {
    cr_assert_geq(sweep_graph(add_running_center, NULL, 1, 0, 2), 8);
}

/* Two output nodes (each a node, its arrays, a value, a handle) or none. */
Test(alloc_failure, a_two_output_node_is_all_or_nothing) {
    cr_assert_geq(sweep_graph(add_sum_product, NULL, 2, 0, 0), 8);
}

static ax_status add_conv(model *m, ax_node **out) {
    ax_graph_conv2d_opts o = {.out_channels = 3, .kernel_h = 3, .kernel_w = 2, .pad_top = 1};
    return ax_graph_conv2d(m->g, "conv", m->x, &o, out);
}

static ax_status add_conv_no_bias(model *m, ax_node **out) {
    ax_graph_conv2d_opts o = {.out_channels = 4, .kernel_h = 1, .kernel_w = 1, .groups = 2,
                              .no_bias = 1};
    return ax_graph_conv2d(m->g, "conv", m->x, &o, out);
}

static ax_status add_batch_norm(model *m, ax_node **out) {
    return ax_graph_batch_norm(m->g, "bn", m->x, AX_BN_MOMENTUM, AX_BN_EPS, out);
}

static ax_status add_max_pool(model *m, ax_node **out) {
    ax_pool2d_desc d = ax_pool2d_desc_default(2, 2);
    return ax_graph_max_pool2d(m->g, "mp", m->x, &d, out);
}

static ax_status add_avg_pool(model *m, ax_node **out) {
    ax_pool2d_desc d = ax_pool2d_desc_default(3, 2);
    return ax_graph_avg_pool2d(m->g, "ap", m->x, &d, out);
}

static ax_status add_global_avg_pool(model *m, ax_node **out) {
    return ax_graph_global_avg_pool(m->g, "gap", m->x, out);
}

static ax_status add_flatten(model *m, ax_node **out) {
    return ax_graph_flatten(m->g, "flat", m->x, out);
}

/* A convolution is its weight, its bias and its node (or without the bias): all or none. */
Test(alloc_failure, conv_leaves_no_parameters_behind) {
    cr_assert_geq(sweep_layer(add_conv, "conv.weight", 3, 2, 0, 1), 8);
    cr_assert_geq(sweep_layer(add_conv_no_bias, "conv.weight", 2, 1, 0, 1), 5);
}

/* Batch norm: weight, bias, the node, its saved statistics, its three buffers. */
Test(alloc_failure, batch_norm_leaves_nothing_behind) {
    cr_assert_geq(sweep_layer(add_batch_norm, "bn.weight", 3, 2, 3, 1), 12);
    cr_assert_geq(sweep_layer(add_batch_norm, "bn.weight", 3, 2, 3, 0), 12);
}

/* Pooling nodes (the max pool with its indices) and the flatten view. */
Test(alloc_failure, pooling_and_flatten_leave_nothing_behind) {
    cr_assert_geq(sweep_layer(add_max_pool, NULL, 1, 0, 0, 1), 4);
    cr_assert_geq(sweep_layer(add_avg_pool, NULL, 1, 0, 0, 1), 3);
    cr_assert_geq(sweep_layer(add_global_avg_pool, NULL, 1, 0, 0, 1), 3);
    cr_assert_geq(sweep_layer(add_flatten, NULL, 1, 0, 0, 1), 3);
}

static ax_status add_lstm(model *m, ax_node **out) {
    ax_graph_rnn_opts o = {.hidden_size = 3, .num_layers = 2, .bidirectional = 1,
                           .dropout = 0.25f};
    return ax_graph_lstm(m->g, "lstm", m->x, NULL, NULL, &o, out, NULL, NULL);
}

static ax_status add_gru_carrying(model *m, ax_node **out) {
    ax_graph_rnn_opts o = {.hidden_size = 2, .no_bias = 1, .carry_state = 1};
    return ax_graph_gru(m->g, "gru", m->x, NULL, &o, out, NULL);
}

static ax_status add_rnn(model *m, ax_node **out) {
    ax_graph_rnn_opts o = {.hidden_size = 2, .nonlinearity = AX_ACT_RELU};
    return ax_graph_rnn(m->g, "rnn", m->x, NULL, &o, out, NULL);
}

/* Recurrent layers: every parameter of every layer and direction, the node and its output
 * slots, its reserve, work and carried states: all or none. */
Test(alloc_failure, recurrent_layers_leave_nothing_behind) {
    cr_assert_geq(sweep_layer(add_lstm, "lstm.weight_ih_l0", 19, 16, 0, 2), 40);
    cr_assert_geq(sweep_layer(add_gru_carrying, "gru.weight_ih_l0", 4, 2, 0, 2), 8);
    cr_assert_geq(sweep_layer(add_rnn, "rnn.weight_ih_l0", 6, 4, 0, 2), 8);
}

static ax_status add_embedding(model *m, ax_node **out) {
    return ax_graph_embedding(m->g, "emb", m->y, 10, 3, out); /* m->y: i32 labels [4] */
}

/* An embedding is its weight and its node: both or neither. */
Test(alloc_failure, embedding_leaves_no_parameter_behind) {
    cr_assert_geq(sweep_graph(add_embedding, "emb.weight", 2, 1, 0), 4);
}

/* ---------------------------------------------------------------- optimizers */

typedef struct optim {
    ax_ctx *ctx;
    ax_tensor *w[2], *g[2];
    ax_optimizer *sgd, *adam;
} optim;

static void optim_setup(void *state) {
    optim *s = state;
    memset(s, 0, sizeof *s);
    s->ctx = th_cpu_ctx();
    int64_t shape[2][2] = {{3, 2}, {5, 1}};
    float data[6] = {1, -2, 3, -4, 5, -6}, grad[6] = {0.5f, 0.25f, -1, 2, -0.5f, 1};
    for (int i = 0; i < 2; i++) {
        s->w[i] = th_tensor(s->ctx, 2, shape[i], data);
        s->g[i] = th_tensor(s->ctx, 2, shape[i], grad);
    }
}

static ax_status optim_step(void *state, int k) {
    optim *s = state;
    ax_sgd_config sgd = ax_sgd_defaults();
    sgd.momentum = 0.9f;
    switch (k) {
    case 0: return ax_optimizer_create_sgd(s->ctx, &sgd, &s->sgd);
    case 1: return ax_optimizer_create_adam(s->ctx, NULL, &s->adam);
    case 2: return ax_optimizer_step(s->sgd, 2, s->w, s->g);
    default: return ax_optimizer_step(s->adam, 2, s->w, s->g);
    }
}

/* Parameter values (bit patterns), step counts, context references and live handles. */
static void optim_snapshot(void *state, char *buf, size_t size) {
    optim *s = state;
    size_t used = snap_handles(buf, size);
    used += (size_t)snprintf(buf + used, size - used, "refs %ld |",
                             (long)atomic_load(&s->ctx->refs));
    ax_optimizer *opts[2] = {s->sgd, s->adam};
    for (int i = 0; i < 2; i++) {
        int64_t steps = -1;
        if (opts[i])
            AX_ASSERT_OK(ax_optimizer_step_count(opts[i], &steps));
        used += (size_t)snprintf(buf + used, size - used, " steps %lld", (long long)steps);
    }
    for (int i = 0; i < 2; i++) {
        float *host = th_to_host(s->w[i]);
        for (int64_t e = 0; e < ax_tensor_numel(s->w[i]) && used < size; e++)
            used += (size_t)snprintf(buf + used, size - used, " %a", (double)host[e]);
        free(host);
    }
}

static void optim_teardown(void *state) {
    optim *s = state;
    ax_optimizer_destroy(s->sgd);
    ax_optimizer_destroy(s->adam);
    for (int i = 0; i < 2; i++) {
        ax_tensor_destroy(s->w[i]);
        ax_tensor_destroy(s->g[i]);
    }
    ax_ctx_destroy(s->ctx);
}

Test(alloc_failure, create_and_step_optimizers) {
    static const char *const fns[] = {"ax_optimizer_create_sgd", "ax_optimizer_create_adam",
                                      "ax_optimizer_step", "ax_optimizer_step"};
    optim s;
    long n = sweep(&s, optim_setup, optim_teardown, 4, optim_step, optim_snapshot, fns);
    cr_assert_geq(n, 12, "only %ld allocations: is the hook wired in?", n);
}

/* ---------------------------------------------------------------- checkpoints */

typedef struct checkpoint {
    model m;
    ax_optimizer *opt, *fresh; /* fresh: never stepped, its state is made by the save */
    char dir[64], graph_path[128], opt_path[128], fresh_path[128];
} checkpoint;

static char tmp_dir[64];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* A trained model and optimizer, and older checkpoints of both at the paths the sequence
 * saves to (so a failed save must leave the old file, and a failed load the current
 * parameters, which differ from the file's). */
static void checkpoint_setup(void *state) {
    checkpoint *c = state;
    memset(c, 0, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "%s", tmp_dir);
    snprintf(c->graph_path, sizeof c->graph_path, "%s/model.safetensors", c->dir);
    snprintf(c->opt_path, sizeof c->opt_path, "%s/adam.safetensors", c->dir);
    snprintf(c->fresh_path, sizeof c->fresh_path, "%s/fresh.safetensors", c->dir);
    build_setup(&c->m);
    for (int k = 0; k < BUILD_STEPS; k++)
        AX_ASSERT_OK(build_step(&c->m, k));
    AX_ASSERT_OK(ax_optimizer_create_adam(c->m.ctx, NULL, &c->opt));
    ax_sgd_config momentum = ax_sgd_defaults();
    momentum.momentum = 0.9f;
    AX_ASSERT_OK(ax_optimizer_create_sgd(c->m.ctx, &momentum, &c->fresh));
    const ax_graph *g = c->m.g;
    int n = g->n_params;
    ax_tensor *const *params = g->param_values, *const *grads = g->param_grads;
    train_once(&c->m);
    AX_ASSERT_OK(ax_optimizer_step(c->opt, n, params, grads));
    AX_ASSERT_OK(ax_graph_save(c->m.g, c->graph_path));
    AX_ASSERT_OK(ax_optimizer_save(c->opt, c->m.g, c->opt_path));
    train_once(&c->m); /* the state now differs from the files */
    AX_ASSERT_OK(ax_optimizer_step(c->opt, n, params, grads));
}

static ax_status checkpoint_step(void *state, int k) {
    checkpoint *c = state;
    switch (k) {
    case 0: return ax_graph_save(c->m.g, c->graph_path);
    case 1: return ax_optimizer_save(c->opt, c->m.g, c->opt_path);
    case 2: return ax_optimizer_save(c->fresh, c->m.g, c->fresh_path);
    case 3: return ax_graph_load(c->m.g, c->graph_path);
    default: return ax_optimizer_load(c->opt, c->m.g, c->opt_path);
    }
}

/* FNV-1a of a file's bytes, or 0 when it is missing. */
static unsigned long long file_hash(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    unsigned long long h = 1469598103934665603ull;
    int ch;
    while ((ch = getc(f)) != EOF)
        h = (h ^ (unsigned char)ch) * 1099511628211ull;
    fclose(f);
    return h;
}

/* FNV-1a of a tensor's bytes. */
static unsigned long long tensor_hash(const ax_tensor *t) {
    size_t bytes = ax_tensor_nbytes(t);
    unsigned char *host = malloc(bytes);
    cr_assert_not_null(host);
    AX_ASSERT_OK(ax_tensor_to_host(t, host, bytes));
    unsigned long long h = 1469598103934665603ull;
    for (size_t i = 0; i < bytes; i++)
        h = (h ^ host[i]) * 1099511628211ull;
    free(host);
    return h;
}

/* The folder's files and their contents, the parameters, the optimizers' states and steps. */
static void checkpoint_snapshot(void *state, char *buf, size_t size) {
    checkpoint *c = state;
    size_t used = snap_handles(buf, size);
    DIR *d = opendir(c->dir);
    cr_assert_not_null(d);
    char names[1024] = "";
    for (struct dirent *e; (e = readdir(d));) {
        cr_assert_null(strstr(e->d_name, ".tmp."), "a temporary file is left: %s", e->d_name);
        if (e->d_name[0] != '.')
            strncat(names, e->d_name, sizeof names - strlen(names) - 1);
    }
    closedir(d);
    used += (size_t)snprintf(buf + used, size - used, "| files %zu %llx %llx %llx |",
                             strlen(names), file_hash(c->graph_path), file_hash(c->opt_path),
                             file_hash(c->fresh_path));
    const ax_graph *g = c->m.g;
    for (int i = 0; i < g->n_params; i++)
        used += (size_t)snprintf(buf + used, size - used, " %llx",
                                 tensor_hash(g->param_values[i]));
    ax_optimizer *opts[2] = {c->opt, c->fresh};
    for (int o = 0; o < 2; o++) {
        int64_t steps;
        AX_ASSERT_OK(ax_optimizer_step_count(opts[o], &steps));
        used += (size_t)snprintf(buf + used, size - used, " | steps %lld", (long long)steps);
        if (o == 1)
            break; /* the fresh optimizer has no state to read before its save */
        for (int i = 0; i < g->n_params; i++)
            for (int k = 0; k < AX_OPTIM_MAX_STATES; k++) {
                const char *name;
                const ax_tensor *t = ax_optimizer_state_tensor(opts[o], i, k, &name);
                if (t)
                    used += (size_t)snprintf(buf + used, size - used, " %s %llx", name,
                                             tensor_hash(t));
            }
    }
}

static void checkpoint_teardown(void *state) {
    checkpoint *c = state;
    ax_optimizer_destroy(c->opt);
    ax_optimizer_destroy(c->fresh);
    model_teardown(&c->m);
    remove(c->graph_path);
    remove(c->opt_path);
    remove(c->fresh_path);
}

static void make_tmp(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/axon-alloc-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_dir));
}

static void remove_tmp(void) {
    if (tmp_dir[0])
        nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

Test(alloc_failure, save_and_load_checkpoints, .init = make_tmp, .fini = remove_tmp) {
    static const char *const fns[] = {"ax_graph_save", "ax_optimizer_save", "ax_optimizer_save",
                                      "ax_graph_load", "ax_optimizer_load"};
    checkpoint c;
    long n = sweep(&c, checkpoint_setup, checkpoint_teardown, 5, checkpoint_step,
                   checkpoint_snapshot, fns);
    cr_assert_geq(n, 50, "only %ld allocations: is the hook wired in?", n);
}

/* A stream that cannot be opened on the created temporary file (fdopen failing) removes it
 * again and leaves the old file in place. */
Test(alloc_failure, save_removes_its_temporary_file, .init = make_tmp, .fini = remove_tmp) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t shape[1] = {3};
    float data[3] = {1, 2, 3};
    ax_tensor *t = th_tensor(ctx, 1, shape, data);
    const char *names[1] = {"t"};
    const ax_tensor *tensors[1] = {t};
    char path[128];
    snprintf(path, sizeof path, "%s/t.safetensors", tmp_dir);
    AX_ASSERT_OK(ax_safetensors_save(path, 1, names, tensors));
    unsigned long long old = file_hash(path);
    data[0] = 9;
    AX_ASSERT_OK(ax_tensor_set_from_host(t, data, sizeof data));
    int met_fdopen = 0;
    for (long n = 0; n < 64; n++) {
        ax_alloc_fail_nth(n);
        ax_status st = ax_safetensors_save(path, 1, names, tensors);
        ax_alloc_fail_nth(-1);
        if (st == AX_OK)
            break;
        cr_assert_eq(st, AX_ERR_OOM, "%s", ax_last_error());
        met_fdopen |= strstr(ax_last_error(), "stream") != NULL;
        cr_assert_eq(file_hash(path), old, "n = %ld: the old file changed", n);
        DIR *d = opendir(tmp_dir);
        int files = 0;
        for (struct dirent *e; (e = readdir(d));)
            files += e->d_name[0] != '.';
        closedir(d);
        cr_assert_eq(files, 1, "n = %ld: %d files in the folder (%s)", n, files,
                     ax_last_error());
    }
    cr_assert(met_fdopen, "no failure of the stream on the temporary file was injected");
    cr_assert_neq(file_hash(path), old, "the last save wrote the new contents");
    ax_tensor_destroy(t);
    ax_ctx_destroy(ctx);
}

/* The registry of live handles allocates too when it grows: a tensor whose registration
 * fails frees its storage again. Allocation 2 of a tensor create (after the struct and the
 * storage) is the registry's when it needs room; entries added one by one get it there. */
Test(alloc_failure, tensor_registration) {
    enum { MAX = 100000 };
    char *dummies = malloc(MAX);
    cr_assert_not_null(dummies);
    ax_ctx *ctx = th_cpu_ctx();
    long device = ax_device_live();
    int64_t tensors = ax_handle_count(AX_HANDLE_TENSOR), shape[1] = {8};
    int met = 0, added = 0;
    while (added < MAX && !met) {
        AX_ASSERT_OK(ax_handle_add("test", dummies + added++, AX_HANDLE_TEXT));
        ax_tensor *t = NULL;
        ax_clear_error();
        ax_alloc_fail_nth(2);
        ax_status st = ax_tensor_create(ctx, AX_F32, 1, shape, &t);
        met = ax_alloc_fail_hit();
        ax_alloc_fail_nth(-1);
        if (met) {
            cr_assert_eq(st, AX_ERR_OOM);
            cr_assert_null(t);
            cr_assert(th_message_names("ax_tensor_create"), "%s", ax_last_error());
        } else {
            AX_ASSERT_OK(st);
        }
        ax_tensor_destroy(t);
        cr_assert_eq(ax_device_live(), device, "%d entries: device memory left", added);
        cr_assert_eq(ax_handle_count(AX_HANDLE_TENSOR), tensors, "%d entries", added);
    }
    cr_assert(met, "the registry never needed room");
    for (int i = 0; i < added; i++)
        cr_assert(ax_handle_remove(dummies + i, AX_HANDLE_TEXT));
    free(dummies);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- minimizers and the loader */

/* The second-order minimizers allocate their work vectors and device scalars up front; the
 * data loader its order and staging buffers. A failure anywhere leaves x and the loader's
 * batch tensors as they were and nothing allocated behind. */
enum { MIN_N = 4 };

typedef struct minimize {
    ax_ctx *ctx;
    ax_tensor *x, *xb, *yb;
    ax_data_loader *loader;
    float feats[6 * MIN_N];
    int32_t labels[6];
} minimize;

/* f(x) = 1/2 sum (x_i - i)^2 on the host: the objective itself allocates nothing. */
static ax_status shifted_square(void *user, const ax_tensor *x, float *loss, ax_tensor *grad) {
    (void)user;
    float v[MIN_N], g[MIN_N];
    ax_status st = ax_tensor_to_host(x, v, sizeof v);
    if (st != AX_OK)
        return st;
    double f = 0.0;
    for (int i = 0; i < MIN_N; i++) {
        g[i] = v[i] - (float)i;
        f += 0.5 * (double)g[i] * g[i];
    }
    *loss = (float)f;
    return grad ? ax_tensor_set_from_host(grad, g, sizeof g) : AX_OK;
}

static ax_status shifted_square_hvp(void *user, const ax_tensor *x, const ax_tensor *v,
                                    ax_tensor *hv) {
    (void)user, (void)x;
    return ax_tensor_copy(hv, v); /* H = I */
}

static void minimize_setup(void *state) {
    minimize *s = state;
    memset(s, 0, sizeof *s);
    for (int i = 0; i < 6 * MIN_N; i++)
        s->feats[i] = (float)i;
    for (int i = 0; i < 6; i++)
        s->labels[i] = i % 3;
    s->ctx = th_cpu_ctx();
    int64_t xs[1] = {MIN_N}, bs[2] = {4, MIN_N}, ys[1] = {4};
    AX_ASSERT_OK(ax_tensor_zeros(s->ctx, AX_F32, 1, xs, &s->x));
    AX_ASSERT_OK(ax_tensor_zeros(s->ctx, AX_F32, 2, bs, &s->xb));
    AX_ASSERT_OK(ax_tensor_zeros(s->ctx, AX_I32, 1, ys, &s->yb));
}

static ax_status minimize_step(void *state, int k) {
    minimize *s = state;
    ax_lbfgs_config lb = ax_lbfgs_defaults();
    ax_newton_cg_config nc = ax_newton_cg_defaults();
    ax_gradient_descent_config gd = ax_gradient_descent_defaults();
    lb.max_iter = nc.max_iter = gd.max_iter = 3;
    int64_t fs[2] = {6, MIN_N}, n;
    switch (k) {
    case 0: return ax_lbfgs_minimize(s->ctx, &lb, shifted_square, NULL, s->x, NULL);
    case 1: return ax_fill(s->ctx, s->x, 0.0f);
    case 2:
        return ax_newton_cg_minimize(s->ctx, &nc, shifted_square, shifted_square_hvp, NULL,
                                     s->x, NULL);
    case 3: return ax_fill(s->ctx, s->x, 0.0f);
    case 4: return ax_gradient_descent_minimize(s->ctx, &gd, shifted_square, NULL, s->x, NULL);
    case 5:
        return ax_data_loader_create(s->feats, 2, fs, s->labels, 4, 1, 0, 3, &s->loader);
    default: return ax_data_loader_next(s->loader, s->xb, s->yb, &n);
    }
}

static void minimize_snapshot(void *state, char *buf, size_t size) {
    minimize *s = state;
    size_t used = snap_handles(buf, size);
    float x[MIN_N], xb[4 * MIN_N];
    int32_t yb[4];
    AX_ASSERT_OK(ax_tensor_to_host(s->x, x, sizeof x));
    AX_ASSERT_OK(ax_tensor_to_host(s->xb, xb, sizeof xb));
    AX_ASSERT_OK(ax_tensor_to_host(s->yb, yb, sizeof yb));
    for (int i = 0; i < MIN_N && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "x%d %a ", i, (double)x[i]);
    for (int i = 0; i < 4 * MIN_N && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%a ", (double)xb[i]);
    for (int i = 0; i < 4 && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%d ", yb[i]);
    if (used < size)
        snprintf(buf + used, size - used, "loader %p epoch %lld", (void *)s->loader,
                 (long long)ax_data_loader_epoch(s->loader));
}

static void minimize_teardown(void *state) {
    minimize *s = state;
    ax_data_loader_destroy(s->loader);
    ax_tensor_destroy(s->x);
    ax_tensor_destroy(s->xb);
    ax_tensor_destroy(s->yb);
    ax_ctx_destroy(s->ctx);
}

Test(alloc_failure, minimizers_and_loader) {
    static const char *const fns[] = {"ax_lbfgs_minimize",
                                      "ax_fill",
                                      "ax_newton_cg_minimize",
                                      "ax_fill",
                                      "ax_gradient_descent_minimize",
                                      "ax_data_loader_create",
                                      "ax_data_loader_next"};
    minimize s;
    long n = sweep(&s, minimize_setup, minimize_teardown, 7, minimize_step, minimize_snapshot,
                   fns);
    cr_assert_geq(n, 10, "only %ld allocations: is the hook wired in?", n);
}
