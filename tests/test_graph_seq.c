/* Batch and sequence axes (include/axon/graph.h): time-major sequence inputs, a last partial
 * batch and a shorter last sequence on one compiled graph, and time steps as views. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#include "host/graph/graph_internal.h"

/* x [T, N, 2] (time axis 0, batch axis 1) and target [N, 3]; tx = tanh(x);
 * loss = mse(tanh(fc_a(x[0])) + fc_b(tx[1]) + fc_m(mean over time of tx), target). */
typedef struct seq_net {
    ax_graph *g;
    ax_node *x, *target, *tx, *s1, *m, *out, *loss;
} seq_net;

static seq_net seq_build(ax_ctx *ctx, int64_t t, int64_t n, int reuse_values) {
    seq_net m;
    ax_node *s0, *a, *b, *dm, *c;
    int64_t xs[3] = {t, n, 2}, ts[2] = {n, 3};
    AX_ASSERT_OK(ax_graph_create(ctx, 21, &m.g));
    AX_ASSERT_OK(ax_graph_set_value_reuse(m.g, reuse_values));
    AX_ASSERT_OK(ax_graph_input_typed(m.g, "x", AX_F32, 3, xs, 1, 0, &m.x));
    AX_ASSERT_OK(ax_graph_input(m.g, "target", 2, ts, &m.target));
    AX_ASSERT_OK(ax_graph_activation(m.g, "tx", AX_ACT_TANH, 0.0f, m.x, &m.tx));
    AX_ASSERT_OK(ax_graph_time_step(m.g, "s0", m.x, 0, &s0));
    AX_ASSERT_OK(ax_graph_time_step(m.g, "s1", m.tx, 1, &m.s1));
    AX_ASSERT_OK(ax_graph_mean(m.g, "m", m.tx, 0, &m.m));
    AX_ASSERT_OK(ax_graph_dense(m.g, "fc_a", s0, 3, &a));
    AX_ASSERT_OK(ax_graph_activation(m.g, "ta", AX_ACT_TANH, 0.0f, a, &a));
    AX_ASSERT_OK(ax_graph_dense(m.g, "fc_b", m.s1, 3, &b));
    AX_ASSERT_OK(ax_graph_dense(m.g, "fc_m", m.m, 3, &dm));
    AX_ASSERT_OK(ax_graph_add(m.g, "ab", a, b, &c));
    AX_ASSERT_OK(ax_graph_add(m.g, "out", c, dm, &m.out));
    AX_ASSERT_OK(ax_graph_mse_loss(m.g, "loss", m.out, m.target, &m.loss));
    AX_ASSERT_OK(ax_graph_compile(m.g, m.loss));
    return m;
}

/* One training step on t steps of n rows (data from seed); the loss, out and every
 * parameter gradient into res. */
static size_t seq_step(seq_net *m, int64_t t, int64_t n, uint64_t seed, float *res) {
    float x[4 * 3 * 2], target[3 * 3];
    th_random(x, t * n * 2, seed, -1.0f, 1.0f);
    th_random(target, n * 3, seed + 1, -1.0f, 1.0f);
    AX_ASSERT_OK(ax_graph_set_seq_len(m->g, t));
    AX_ASSERT_OK(ax_graph_feed_f32(m->g, m->x, x, n));
    AX_ASSERT_OK(ax_graph_feed_f32(m->g, m->target, target, n));
    AX_ASSERT_OK(ax_graph_zero_grad(m->g));
    AX_ASSERT_OK(ax_graph_forward(m->g));
    AX_ASSERT_OK(ax_graph_backward(m->g));
    cr_assert_eq(ax_graph_seq_len(m->g), t);
    cr_assert_eq(ax_graph_batch(m->g), n);
    size_t k = 0;
    AX_ASSERT_OK(ax_graph_loss(m->g, &res[k++]));
    ax_tensor *out = ax_graph_value(m->g, m->out);
    cr_assert_eq(ax_tensor_dim(out, 0), n);
    AX_ASSERT_OK(ax_tensor_to_host(out, res + k, ax_tensor_nbytes(out)));
    k += (size_t)ax_tensor_numel(out);
    ax_param_list p;
    AX_ASSERT_OK(ax_graph_params(m->g, &p));
    for (int i = 0; i < p.n; i++) {
        AX_ASSERT_OK(ax_tensor_to_host(p.grads[i], res + k, ax_tensor_nbytes(p.grads[i])));
        k += (size_t)ax_tensor_numel(p.grads[i]);
    }
    return k;
}

/* A graph compiled for 4 steps of 3 rows runs a last batch of 2 rows, a shorter sequence of
 * 2 steps, and both, with the bits of graphs compiled for exactly those sizes; also when its
 * values are reused (a time step's sequence then lives as long as the step). */
Test(seq, shorter_sequences_and_partial_batches_match_a_smaller_graph) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t sizes[3][2] = {{4, 2}, {2, 3}, {2, 2}};
    for (int c = 0; c < 6; c++) {
        int64_t t = sizes[c % 3][0], n = sizes[c % 3][1];
        seq_net big = seq_build(ctx, 4, 3, c >= 3);
        float full[64], got[64], want[64];
        seq_step(&big, 4, 3, 7, full); /* a full run first: buffers hold other data */
        seq_net small = seq_build(ctx, t, n, 0);
        size_t k = seq_step(&small, t, n, 40 + (uint64_t)c, want);
        cr_assert_eq(seq_step(&big, t, n, 40 + (uint64_t)c, got), k);
        for (size_t i = 0; i < k; i++)
            cr_assert(memcmp(&got[i], &want[i], sizeof *got) == 0,
                      "T %lld, N %lld: [%zu] %.9g vs %.9g", (long long)t, (long long)n, i,
                      (double)got[i], (double)want[i]);
        ax_graph_destroy(small.g);
        ax_graph_destroy(big.g);
    }
    ax_ctx_destroy(ctx);
}

/* A time step is a view: it shares tx's storage (no copy) at step t of the run's layout. */
Test(seq, a_time_step_is_a_view_of_its_sequence) {
    ax_ctx *ctx = th_cpu_ctx();
    seq_net m = seq_build(ctx, 4, 3, 0);
    float res[64];
    seq_step(&m, 3, 2, 5, res);
    ax_tensor *x = ax_graph_value(m.g, m.tx), *s1 = ax_graph_value(m.g, m.s1);
    cr_assert_eq(ax_tensor_dim(x, 0), 3);
    cr_assert_eq(ax_tensor_dim(s1, 0), 2);
    cr_assert_eq(ax_tensor_dim(s1, 1), 2);
    cr_assert_eq((char *)s1->data, (char *)x->data + 1 * 2 * 2 * sizeof(float),
                 "step 1 of a [3, 2, 2] run starts 4 floats in");
    float xv[12], sv[4];
    AX_ASSERT_OK(ax_tensor_to_host(x, xv, sizeof xv));
    AX_ASSERT_OK(ax_tensor_to_host(s1, sv, sizeof sv));
    cr_assert_arr_eq(sv, xv + 4, sizeof sv);
    /* one step: the time step 1 does not exist */
    AX_ASSERT_OK(ax_graph_set_seq_len(m.g, 1));
    float one[6] = {0};
    AX_ASSERT_OK(ax_graph_feed_f32(m.g, m.x, one, 2));
    AX_ASSERT_FAILS(ax_graph_forward(m.g), AX_ERR_SHAPE, "ax_graph_forward");
    cr_assert(strstr(ax_last_error(), "'s1'"), "%s", ax_last_error());
    AX_ASSERT_FAILS(ax_graph_set_seq_len(m.g, 5), AX_ERR_SHAPE, "ax_graph_set_seq_len");
    AX_ASSERT_FAILS(ax_graph_set_seq_len(m.g, 0), AX_ERR_SHAPE, "ax_graph_set_seq_len");
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
}

/* Gradients through time steps add into the steps they came from: steps of a parameter
 * [4, 3, 2] and of a node computed from it (whose gradient starts at zero each backward). */
Test(seq, time_step_gradients_add_into_their_step) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *p, *q, *y1, *y1b, *y2, *qz, *l[4], *t, *loss;
    int64_t ps[3] = {4, 3, 2};
    AX_ASSERT_OK(ax_graph_create(ctx, 3, &g));
    AX_ASSERT_OK(ax_graph_param(g, "p", 3, ps,
                                &(ax_init){.kind = AX_INIT_UNIFORM, .low = -1, .high = 1}, &p));
    AX_ASSERT_OK(ax_graph_time_step(g, "y1", p, 1, &y1));
    AX_ASSERT_OK(ax_graph_time_step(g, "y1b", p, 1, &y1b));
    AX_ASSERT_OK(ax_graph_time_step(g, "y2", p, 2, &y2));
    AX_ASSERT_OK(ax_graph_scale(g, "q", 3.0f, p, &q));
    AX_ASSERT_OK(ax_graph_time_step(g, "qz", q, 0, &qz));
    ax_node *parts[4] = {y1, y1b, y2, qz};
    float scale[4] = {2.0f, 1.0f, 5.0f, 1.0f};
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "l%d", i);
        AX_ASSERT_OK(ax_graph_scale(g, NULL, scale[i], parts[i], &t));
        AX_ASSERT_OK(ax_graph_sum(g, NULL, t, 1, &t));
        AX_ASSERT_OK(ax_graph_sum(g, name, t, 0, &l[i]));
    }
    AX_ASSERT_OK(ax_graph_add(g, "l01", l[0], l[1], &t));
    AX_ASSERT_OK(ax_graph_add(g, "l012", t, l[2], &t));
    AX_ASSERT_OK(ax_graph_add(g, "loss", t, l[3], &loss));
    AX_ASSERT_OK(ax_graph_compile(g, loss));
    cr_assert(qz->needs_grad[0] && !qz->scratch[0], "a step adds into q's gradient directly");
    AX_ASSERT_OK(ax_graph_zero_grad(g));
    AX_ASSERT_OK(ax_graph_forward(g));
    float grad[24], want[4] = {3.0f, 3.0f, 5.0f, 0.0f}; /* per step: q's 3 * 1, 2 + 1, 5, 0 */
    for (int round = 1; round <= 2; round++) {
        AX_ASSERT_OK(ax_graph_backward(g));
        AX_ASSERT_OK(ax_tensor_to_host(ax_graph_grad(g, p), grad, sizeof grad));
        for (int i = 0; i < 24; i++)
            cr_assert_float_eq(grad[i], round * want[i / 6], 0.0f, "round %d, [%d] = %g", round,
                               i, (double)grad[i]);
    }
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* Axes are checked: a batch-first x has no time step, row-wise ops refuse a sequence, and
 * the axes of an input must be two different dims. */
Test(seq, axes_are_checked) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *r, *o;
    int64_t xs[3] = {4, 3, 2}, rs[2] = {3, 5};
    AX_ASSERT_OK(ax_graph_create(ctx, 3, &g));
    AX_ASSERT_FAILS(ax_graph_input_typed(g, "x", AX_F32, 3, xs, 1, 1, &o), AX_ERR_INVALID_ARG,
                    "ax_graph_input_typed");
    AX_ASSERT_FAILS(ax_graph_input_typed(g, "x", AX_F32, 3, xs, 3, -1, &o), AX_ERR_INVALID_ARG,
                    "ax_graph_input_typed");
    AX_ASSERT_OK(ax_graph_input_typed(g, "x", AX_F32, 3, xs, 1, 0, &x));
    AX_ASSERT_FAILS(ax_graph_input_typed(g, "y", AX_F32, 2, (int64_t[]){5, 3}, 1, 0, &o),
                    AX_ERR_SHAPE, "ax_graph_input_typed");
    cr_assert(strstr(ax_last_error(), "longest"), "%s", ax_last_error());
    AX_ASSERT_OK(ax_graph_input(g, "r", 2, rs, &r));
    AX_ASSERT_FAILS(ax_graph_time_step(g, "ts", r, 0, &o), AX_ERR_SHAPE, "ax_graph_time_step");
    AX_ASSERT_FAILS(ax_graph_time_step(g, "ts", x, 4, &o), AX_ERR_SHAPE, "ax_graph_time_step");
    /* a dense layer maps the last dim of a sequence (nn.Linear on [T, N, in]), never its
     * batch or time axis */
    AX_ASSERT_OK(ax_graph_dense(g, "fc", x, 5, &o));
    cr_assert(o->batched && o->batch_axis == 1 && o->time_axis == 0 && o->max_shape[2] == 5);
    ax_node *tn = NULL;
    AX_ASSERT_OK(ax_graph_input_typed(g, "tn", AX_F32, 2, (int64_t[]){4, 3}, 1, 0, &tn));
    AX_ASSERT_FAILS(ax_graph_dense(g, "fc2", tn, 2, &o), AX_ERR_SHAPE, "ax_graph_dense");
    cr_assert(strstr(ax_last_error(), "not its batch or time axis"), "%s", ax_last_error());
    AX_ASSERT_OK(ax_graph_input_typed(g, "nt", AX_F32, 2, (int64_t[]){3, 4}, 0, 1, &tn));
    AX_ASSERT_FAILS(ax_graph_dense(g, "fc3", tn, 2, &o), AX_ERR_SHAPE, "ax_graph_dense");
    AX_ASSERT_FAILS(ax_graph_add(g, "s", x, r, &o), AX_ERR_SHAPE, "ax_graph_add");
    AX_ASSERT_OK(ax_graph_mean(g, "m", x, 0, &o)); /* over time: [N, 2], batch on axis 0 */
    cr_assert(o->batched && o->batch_axis == 0 && o->time_axis == -1);
    AX_ASSERT_OK(ax_graph_mean(g, "mb", x, 1, &o)); /* over the batch: [T, 2], time first */
    cr_assert(!o->batched && o->time_axis == 0);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}
