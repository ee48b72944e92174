/* The graph's memory plan (src/host/graph/compile.c): results are bit-identical with and
 * without reuse, and the planned graph holds fewer bytes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#include "host/core/alloc.h"
#include "host/core/view.h"
#include "host/graph/graph_internal.h"

enum { PLAN_OFF, PLAN_GRADS, PLAN_ALL };

/* x [8, 6] -> fc1 (6) -> tanh (t) -> dropout -> fc2 (6) -> relu (r); s = r + t (t read twice);
 * (u, v) = sum_product(s, t, r) (two outputs, three inputs); fc3 (tanh(2 u v) / 2) (4 classes) ->
 * cross-entropy, plus an L2 penalty on fc2.weight and 0.5 sum(mean(v)). Every kind of edge:
 * direct and accumulated gradients, a penalty's scratch, an unused-then-used output. */
typedef struct net {
    ax_graph *g;
    ax_node *x, *y, *logits, *loss, *t;
} net;

static net net_build(ax_ctx *ctx, int plan) {
    net m;
    ax_node *h, *d, *r, *s, *u, *v, *uv, *ce, *pen, *w2, *mv, *sv, *half, *tot;
    int64_t xs[2] = {8, 6};
    AX_ASSERT_OK(ax_graph_create(ctx, 11, &m.g));
    m.g->no_reuse = plan == PLAN_OFF;
    AX_ASSERT_OK(ax_graph_set_value_reuse(m.g, plan == PLAN_ALL));
    AX_ASSERT_OK(ax_graph_input(m.g, "x", 2, xs, &m.x));
    AX_ASSERT_OK(ax_graph_labels(m.g, "y", 8, &m.y));
    AX_ASSERT_OK(ax_graph_dense(m.g, "fc1", m.x, 6, &h));
    AX_ASSERT_OK(ax_graph_activation(m.g, "tanh", AX_ACT_TANH, 0.0f, h, &m.t));
    AX_ASSERT_OK(ax_graph_dropout(m.g, "drop", m.t, 0.25f, &d));
    AX_ASSERT_OK(ax_graph_dense(m.g, "fc2", d, 6, &h));
    AX_ASSERT_OK(ax_graph_activation(m.g, "relu", AX_ACT_RELU, 0.0f, h, &r));
    AX_ASSERT_OK(ax_graph_add(m.g, "s", r, m.t, &s));
    AX_ASSERT_OK(ax_graph_sum_product(m.g, "sp", 3, (ax_node *[]){s, m.t, r}, &u, &v));
    AX_ASSERT_OK(ax_graph_mul(m.g, "uv", u, v, &uv));
    AX_ASSERT_OK(ax_graph_scale(m.g, "uv2", 2.0f, uv, &uv));
    AX_ASSERT_OK(ax_graph_activation(m.g, "tanh2", AX_ACT_TANH, 0.0f, uv, &uv));
    AX_ASSERT_OK(ax_graph_scale(m.g, "uv3", 0.5f, uv, &uv));
    AX_ASSERT_OK(ax_graph_dense(m.g, "fc3", uv, 4, &m.logits));
    AX_ASSERT_OK(ax_graph_cross_entropy(m.g, "ce", m.logits, m.y, &ce));
    AX_ASSERT_OK(ax_graph_find(m.g, "fc2.weight", &w2));
    AX_ASSERT_OK(ax_graph_l2_penalty(m.g, "pen", w2, 0.01f, &pen));
    AX_ASSERT_OK(ax_graph_mean(m.g, "mv", v, 0, &mv));
    AX_ASSERT_OK(ax_graph_sum(m.g, "sv", mv, 0, &sv));
    AX_ASSERT_OK(ax_graph_scale(m.g, "half", 0.5f, sv, &half));
    AX_ASSERT_OK(ax_graph_add(m.g, "tot", ce, pen, &tot));
    AX_ASSERT_OK(ax_graph_add(m.g, "loss", tot, half, &m.loss));
    AX_ASSERT_OK(ax_graph_compile(m.g, m.loss));
    return m;
}

/* Three SGD steps on batches of 8, 8 and a last partial 5 (x in [-1, 1], labels i % 4); the
 * losses, the logits and every parameter and its gradient after each step, in out. */
static size_t net_run(ax_ctx *ctx, net *m, float *out) {
    ax_sgd_config cfg = ax_sgd_defaults();
    cfg.lr = 0.5;
    ax_optimizer *opt;
    AX_ASSERT_OK(ax_optimizer_create_sgd(ctx, &cfg, &opt));
    ax_param_list p;
    AX_ASSERT_OK(ax_graph_params(m->g, &p));
    size_t n = 0;
    for (int step = 0; step < 3; step++) {
        int64_t rows = step < 2 ? 8 : 5;
        float x[48];
        int32_t y[8];
        th_random(x, rows * 6, 100 + (uint64_t)step, -1.0f, 1.0f);
        for (int i = 0; i < rows; i++)
            y[i] = (i + step) % 4;
        AX_ASSERT_OK(ax_graph_feed_f32(m->g, m->x, x, rows));
        AX_ASSERT_OK(ax_graph_feed_i32(m->g, m->y, y, rows));
        AX_ASSERT_OK(ax_graph_zero_grad(m->g));
        AX_ASSERT_OK(ax_graph_forward(m->g));
        AX_ASSERT_OK(ax_graph_backward(m->g));
        AX_ASSERT_OK(ax_graph_loss(m->g, &out[n++]));
        ax_tensor *lg = ax_graph_value(m->g, m->logits);
        AX_ASSERT_OK(ax_tensor_to_host(lg, out + n, ax_tensor_nbytes(lg)));
        n += (size_t)ax_tensor_numel(lg);
        for (int k = 0; k < p.n; k++) {
            AX_ASSERT_OK(ax_tensor_to_host(p.grads[k], out + n, ax_tensor_nbytes(p.grads[k])));
            n += (size_t)ax_tensor_numel(p.grads[k]);
        }
        AX_ASSERT_OK(ax_optimizer_step(opt, p.n, p.values, p.grads));
        for (int k = 0; k < p.n; k++) {
            AX_ASSERT_OK(ax_tensor_to_host(p.values[k], out + n, ax_tensor_nbytes(p.values[k])));
            n += (size_t)ax_tensor_numel(p.values[k]);
        }
    }
    ax_optimizer_destroy(opt);
    return n;
}

/* Training with the plan (gradients only, then values too) gives the bits of training
 * without it, over full and partial batches; and the plan does share memory. */
Test(memory, reuse_is_bit_identical) {
    ax_ctx *ctx = th_cpu_ctx();
    float *want = calloc(4096, sizeof *want), *got = calloc(4096, sizeof *got);
    net off = net_build(ctx, PLAN_OFF);
    size_t n = net_run(ctx, &off, want);
    cr_assert_lt(n, 4096);
    cr_assert_null(off.g->arena);
    size_t bytes_off = ax_graph_device_bytes(off.g);
    size_t bytes[3] = {bytes_off, 0, 0};
    for (int plan = PLAN_GRADS; plan <= PLAN_ALL; plan++) {
        net m = net_build(ctx, plan);
        cr_assert_not_null(m.g->arena);
        cr_assert_eq(net_run(ctx, &m, got), n);
        for (size_t i = 0; i < n; i++)
            cr_assert(memcmp(&got[i], &want[i], sizeof *got) == 0, "plan %d: [%zu] %.9g vs %.9g",
                      plan, i, (double)got[i], (double)want[i]);
        bytes[plan] = ax_graph_device_bytes(m.g);
        ax_graph_destroy(m.g);
    }
    cr_assert_lt(bytes[PLAN_GRADS], bytes[PLAN_OFF], "%zu vs %zu", bytes[PLAN_GRADS],
                 bytes[PLAN_OFF]);
    cr_assert_lt(bytes[PLAN_ALL], bytes[PLAN_GRADS], "%zu vs %zu", bytes[PLAN_ALL],
                 bytes[PLAN_GRADS]);
    ax_graph_destroy(off.g);
    free(want);
    free(got);
    ax_ctx_destroy(ctx);
}

/* What the plan promises stays readable: with gradient reuse every value after a backward,
 * and a second backward after one forward doubles the parameters' gradients exactly. */
Test(memory, values_survive_the_backward) {
    ax_ctx *ctx = th_cpu_ctx();
    net m = net_build(ctx, PLAN_GRADS);
    float x[48];
    int32_t y[8] = {0, 1, 2, 3, 0, 1, 2, 3};
    th_random(x, 48, 5, -1.0f, 1.0f);
    AX_ASSERT_OK(ax_graph_feed_f32(m.g, m.x, x, 8));
    AX_ASSERT_OK(ax_graph_feed_i32(m.g, m.y, y, 8));
    AX_ASSERT_OK(ax_graph_zero_grad(m.g));
    AX_ASSERT_OK(ax_graph_forward(m.g));
    float *t = th_to_host(ax_graph_value(m.g, m.t));
    AX_ASSERT_OK(ax_graph_backward(m.g));
    ax_param_list p;
    AX_ASSERT_OK(ax_graph_params(m.g, &p));
    float *once = th_to_host(p.grads[0]);
    AX_ASSERT_OK(ax_graph_backward(m.g));
    float *twice = th_to_host(p.grads[0]), *t_after = th_to_host(ax_graph_value(m.g, m.t));
    for (int i = 0; i < 36; i++)
        cr_assert_eq(twice[i], 2.0f * once[i], "[%d]", i);
    cr_assert_arr_eq(t, t_after, 48 * sizeof *t);
    free(t);
    free(t_after);
    free(once);
    free(twice);
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
}

/* The switch is refused after the compile, and a compile that fails for memory (swept)
 * leaves no arena behind. */
Test(memory, value_reuse_is_set_before_the_compile) {
    ax_ctx *ctx = th_cpu_ctx();
    net m = net_build(ctx, PLAN_ALL);
    AX_ASSERT_FAILS(ax_graph_set_value_reuse(m.g, 0), AX_ERR_STATE, "ax_graph_set_value_reuse");
    AX_ASSERT_FAILS(ax_graph_set_value_reuse(NULL, 0), AX_ERR_INVALID_ARG,
                    "ax_graph_set_value_reuse");
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
}

/* x -> a = 2x -> b = 3a -> c = c/2 -> f = flatten(c) -> mean over the features -> sum: no
 * backward reads a value here, so with value reuse a dies once b is computed and c can take
 * its storage. Only c's own view (f) keeps c alive; a later view of another node must not keep
 * a alive too (that also made planning exponential in the number of views). */
static size_t chain_bytes(ax_ctx *ctx, int reuse) {
    ax_graph *g;
    ax_node *x, *a, *b, *c, *f, *m, *loss;
    AX_ASSERT_OK(ax_graph_create(ctx, 3, &g));
    AX_ASSERT_OK(ax_graph_set_value_reuse(g, reuse));
    AX_ASSERT_OK(ax_graph_input(g, "x", 4, (int64_t[]){4, 2, 3, 5}, &x));
    AX_ASSERT_OK(ax_graph_scale(g, "a", 2.0f, x, &a));
    AX_ASSERT_OK(ax_graph_scale(g, "b", 3.0f, a, &b));
    AX_ASSERT_OK(ax_graph_scale(g, "c", 0.5f, b, &c));
    AX_ASSERT_OK(ax_graph_flatten(g, "f", c, &f));
    AX_ASSERT_OK(ax_graph_mean(g, "m", f, 1, &m));
    AX_ASSERT_OK(ax_graph_sum(g, "loss", m, 0, &loss));
    AX_ASSERT_OK(ax_graph_compile(g, loss));
    float xs[120];
    th_random(xs, 120, 5, -1, 1);
    AX_ASSERT_OK(ax_graph_feed_f32(g, x, xs, 4));
    AX_ASSERT_OK(ax_graph_forward(g));
    float got;
    AX_ASSERT_OK(ax_graph_loss(g, &got));
    double want = 0;
    for (int i = 0; i < 120; i++)
        want += 3.0 * xs[i] / 30.0; /* 2 * 3 * 0.5 = 3, mean over 30 features, sum over 4 */
    cr_assert(fabs(got - want) <= 1e-5, "loss %g, expected %g", (double)got, want);
    size_t bytes = ax_graph_device_bytes(g);
    ax_graph_destroy(g);
    return bytes;
}

Test(memory, a_dead_value_is_reused_before_a_later_view) {
    ax_ctx *ctx = th_cpu_ctx();
    size_t kept = chain_bytes(ctx, 0), reused = chain_bytes(ctx, 1);
    /* at least one [4, 30] value (480 bytes) fewer: c in a's storage */
    cr_assert(reused + 480 <= kept, "value reuse holds %zu bytes, without %zu", reused, kept);
    ax_ctx_destroy(ctx);
}

/* The plan allocates a graph's computed bytes once, at compile: building a computed node
 * allocates no device memory (only parameters and inputs have storage before compile), and
 * the compile's peak is the arena and the backward's scalar 1, not every value and gradient
 * first and the arena after. */
Test(memory, computed_nodes_get_storage_only_from_the_plan) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *y, *h, *logits, *loss;
    AX_ASSERT_OK(ax_graph_create(ctx, 3, &g));
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, (int64_t[]){16, 8}, &x));
    AX_ASSERT_OK(ax_graph_labels(g, "y", 16, &y));
    long live = ax_device_live();
    AX_ASSERT_OK(ax_graph_dense(g, "fc1", x, 32, &h)); /* weight and bias (and their grads) */
    long per_dense = ax_device_live() - live;
    live = ax_device_live();
    AX_ASSERT_OK(ax_graph_activation(g, "relu", AX_ACT_RELU, 0.0f, h, &h));
    AX_ASSERT_OK(ax_graph_scale(g, "s", 2.0f, h, &h));
    AX_ASSERT_OK(ax_graph_flatten(g, "f", h, &h));
    cr_assert_eq(ax_device_live(), live, "computed nodes allocated %ld device blocks",
                 ax_device_live() - live);
    cr_assert_null(ax_graph_value(g, h), "a computed value before compile has no storage");
    AX_ASSERT_OK(ax_graph_dense(g, "fc2", h, 4, &logits));
    cr_assert_eq(ax_device_live() - live, per_dense, "a dense layer allocates its parameters only");
    AX_ASSERT_OK(ax_graph_cross_entropy(g, "loss", logits, y, &loss));
    live = ax_device_live();
    ax_device_live_peak_reset();
    AX_ASSERT_OK(ax_graph_compile(g, loss));
    cr_assert_eq(ax_device_live_peak_reset(), live + 2, "compile's peak: the arena and the 1");
    cr_assert_eq(ax_device_live(), live + 2);
    cr_assert_not_null(ax_graph_value(g, h));
    float xs[16 * 8];
    th_random(xs, 16 * 8, 9, -1, 1);
    AX_ASSERT_OK(ax_graph_feed_f32(g, x, xs, 16));
    AX_ASSERT_OK(
        ax_graph_feed_i32(g, y, (int32_t[16]){0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3}, 16));
    AX_ASSERT_OK(ax_graph_forward(g));
    AX_ASSERT_OK(ax_graph_backward(g));
    float got;
    AX_ASSERT_OK(ax_graph_loss(g, &got));
    cr_assert(isfinite(got) && got > 0.5f, "loss %g", (double)got);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* The no_reuse switch gives every planned tensor its own storage (compile.c back_each): a
 * compile that runs out of memory part way leaves no storage behind (the device blocks live
 * before the call, every computed value without storage), and a later compile works. */
Test(memory, failed_compile_without_reuse_keeps_no_storage) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *y, *h, *logits, *loss;
    AX_ASSERT_OK(ax_graph_create(ctx, 3, &g));
    g->no_reuse = 1;
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, (int64_t[]){4, 3}, &x));
    AX_ASSERT_OK(ax_graph_labels(g, "y", 4, &y));
    AX_ASSERT_OK(ax_graph_dense(g, "fc1", x, 5, &h));
    AX_ASSERT_OK(ax_graph_activation(g, "relu", AX_ACT_RELU, 0.0f, h, &h));
    AX_ASSERT_OK(ax_graph_dense(g, "fc2", h, 2, &logits));
    AX_ASSERT_OK(ax_graph_cross_entropy(g, "loss", logits, y, &loss));
    long live = ax_device_live(), failures = 0;
    for (long n = 0;; n++) {
        ax_alloc_fail_nth(n);
        ax_status st = ax_graph_compile(g, loss);
        ax_alloc_fail_nth(-1);
        if (st == AX_OK)
            break;
        failures++;
        cr_assert_eq(st, AX_ERR_OOM, "%s", ax_last_error());
        cr_assert_eq(ax_device_live(), live, "n = %ld: %ld device blocks left behind", n,
                     ax_device_live() - live);
        for (int i = 0; i < g->n_nodes; i++)
            if (!(g->nodes[i]->op->flags & AX_OPF_SOURCE))
                cr_assert_null(g->nodes[i]->value->data, "n = %ld: '%s' kept its storage", n,
                               g->nodes[i]->name);
    }
    cr_assert_geq(failures, 8, "only %ld allocations", failures);
    cr_assert_not_null(ax_graph_value(g, loss));
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* With value reuse, the loss lives to the end even when a later node reads it (a metric of
 * the loss): the value computed after its last reader must not take its bytes. */
Test(memory, a_consumed_loss_is_kept) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *a, *m, *loss, *twice, *c;
    AX_ASSERT_OK(ax_graph_create(ctx, 3, &g));
    AX_ASSERT_OK(ax_graph_set_value_reuse(g, 1));
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, (int64_t[]){4, 3}, &x));
    AX_ASSERT_OK(ax_graph_scale(g, "a", 2.0f, x, &a));
    AX_ASSERT_OK(ax_graph_mean(g, "m", a, 1, &m));
    AX_ASSERT_OK(ax_graph_sum(g, "loss", m, 0, &loss));
    AX_ASSERT_OK(ax_graph_scale(g, "twice", 2.0f, loss, &twice));
    AX_ASSERT_OK(ax_graph_scale(g, "c", 3.0f, x, &c)); /* after the loss's last reader */
    AX_ASSERT_OK(ax_graph_compile(g, loss));
    float xs[12];
    th_random(xs, 12, 4, 1, 2);
    AX_ASSERT_OK(ax_graph_feed_f32(g, x, xs, 4));
    AX_ASSERT_OK(ax_graph_forward(g));
    double want = 0;
    for (int i = 0; i < 12; i++)
        want += 2.0 * xs[i] / 3.0; /* mean over 3 features, sum over 4 rows */
    float got, got2;
    AX_ASSERT_OK(ax_graph_loss(g, &got));
    AX_ASSERT_OK(ax_tensor_to_host(ax_graph_value(g, twice), &got2, sizeof got2));
    cr_assert(fabs(got - want) <= 1e-5 && fabs(got2 - 2 * want) <= 1e-5,
              "loss %g and twice %g, expected %g and %g", (double)got, (double)got2, want,
              2 * want);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* ax_tensor_back_zeros (the no_reuse plan's storage) gives zeros, also where the allocator
 * hands back a block that just held other values (i32 and f32 alike). */
Test(memory, storage_given_later_is_zeroed) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t shape[2] = {16, 9};
    for (int k = 0; k < 2; k++) {
        ax_dtype dt = k ? AX_I32 : AX_F32;
        ax_tensor *old[32], *t = NULL;
        for (int i = 0; i < 32; i++) { /* blocks of 7s, freed: the next allocation reuses one */
            AX_ASSERT_OK(ax_tensor_create(ctx, dt, 2, shape, &old[i]));
            AX_ASSERT_OK(ax_fill(ctx, old[i], 7.0f));
        }
        for (int i = 0; i < 32; i++)
            ax_tensor_destroy(old[i]);
        AX_ASSERT_OK(ax_tensor_create_unbacked("test", ctx, dt, 2, shape, &t));
        cr_assert_null(t->data);
        AX_ASSERT_OK(ax_tensor_back_zeros("test", t));
        uint32_t got[144];
        AX_ASSERT_OK(ax_tensor_to_host(t, got, sizeof got));
        for (int e = 0; e < 144; e++)
            cr_assert_eq(got[e], 0u, "%s element %d holds bits %#x", k ? "i32" : "f32", e,
                         got[e]);
        ax_tensor_destroy(t);
    }
    ax_ctx_destroy(ctx);
}

/* A graph whose compile ran out of memory (at any allocation: the plan's table, the arena,
 * ...) can be destroyed at once, without a successful compile after it, and leaks nothing. */
Test(memory, a_graph_is_destroyed_after_a_failed_compile) {
    ax_ctx *ctx = th_cpu_ctx();
    long live = ax_device_live();
    for (long n = 0;; n++) {
        ax_graph *g;
        ax_node *x, *y, *h, *loss;
        AX_ASSERT_OK(ax_graph_create(ctx, 3, &g));
        AX_ASSERT_OK(ax_graph_input(g, "x", 2, (int64_t[]){4, 3}, &x));
        AX_ASSERT_OK(ax_graph_labels(g, "y", 4, &y));
        AX_ASSERT_OK(ax_graph_dense(g, "fc", x, 2, &h));
        AX_ASSERT_OK(ax_graph_cross_entropy(g, "loss", h, y, &loss));
        ax_alloc_fail_nth(n);
        ax_status st = ax_graph_compile(g, loss);
        ax_alloc_fail_nth(-1);
        ax_graph_destroy(g);
        cr_assert_eq(ax_device_live(), live, "n = %ld: device blocks left", n);
        if (st == AX_OK)
            break;
        cr_assert_eq(st, AX_ERR_OOM, "%s", ax_last_error());
        cr_assert(n < 1000);
    }
    ax_ctx_destroy(ctx);
}
