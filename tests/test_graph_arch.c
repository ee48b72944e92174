/* The graph's architecture (src/host/graph/graph_internal.h, ops/): the op table, nodes of
 * many inputs and several outputs, typed integer inputs of any shape. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"

#include "host/graph/graph_internal.h"

#define N_WIDE 8

/* ---------------------------------------------------------------- the op table */

/* Every op is in the table once, by a unique name, with a shape inference; every op that
 * computes has a forward and a backward; sources and output slots compute nothing. */
Test(arch, every_op_is_described_once) {
    cr_assert_geq(ax_graph_n_ops, 20);
    for (int i = 0; i < ax_graph_n_ops; i++) {
        const ax_op_desc *op = ax_graph_ops[i];
        cr_assert(op->name && op->name[0], "op %d has no name", i);
        cr_assert(op->infer, "%s has no shape inference", op->name);
        cr_assert(op->n_out >= 1 && op->n_out <= AX_NODE_MAX_OUTPUTS, "%s", op->name);
        int computes = !(op->flags & (AX_OPF_SOURCE | AX_OPF_OUTPUT_SLOT));
        cr_assert_eq(op->forward != NULL, computes, "%s", op->name);
        cr_assert_eq(op->backward != NULL, computes, "%s", op->name);
        for (int j = 0; j < i; j++)
            cr_assert_neq(strcmp(op->name, ax_graph_ops[j]->name), 0, "%s twice", op->name);
    }
}

/* A node keeps a copy of its op's params: two leaky ReLUs with their own slopes. */
Test(arch, nodes_keep_their_own_typed_params) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x, *a, *b;
    int64_t shape[2] = {1, 2};
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, shape, &x));
    AX_ASSERT_OK(ax_graph_activation(g, "a", AX_ACT_LEAKY_RELU, 0.5f, x, &a));
    AX_ASSERT_OK(ax_graph_activation(g, "b", AX_ACT_LEAKY_RELU, 0.25f, x, &b));
    cr_assert_eq(a->op, &ax_op_activation);
    AX_ASSERT_OK(ax_graph_compile(g, NULL));
    float in[2] = {-4.0f, 2.0f}, ya[2], yb[2];
    AX_ASSERT_OK(ax_graph_feed_f32(g, x, in, 1));
    AX_ASSERT_OK(ax_graph_forward(g));
    AX_ASSERT_OK(ax_tensor_to_host(ax_graph_value(g, a), ya, sizeof ya));
    AX_ASSERT_OK(ax_tensor_to_host(ax_graph_value(g, b), yb, sizeof yb));
    cr_assert_float_eq(ya[0], -2.0f, 0.0f);
    cr_assert_float_eq(yb[0], -1.0f, 0.0f);
    cr_assert_float_eq(ya[1], 2.0f, 0.0f);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- wide, multi-output nodes */

typedef struct wide {
    ax_ctx *ctx;
    ax_graph *g;
    ax_node *p[N_WIDE], *s, *prod, *loss;
    float a[N_WIDE][6];
} wide;

/* p_k [2, 3] parameters (distinct values); (s, prod) = sum_product(p_0 .. p_7);
 * loss = 2 sum(s) + 3 sum(prod), or 3 sum(prod) alone (s unused) when !use_sum. */
static void wide_build(wide *w, int use_sum) {
    w->ctx = th_cpu_ctx();
    AX_ASSERT_OK(ax_graph_create(w->ctx, 3, &w->g));
    int64_t shape[2] = {2, 3};
    for (int k = 0; k < N_WIDE; k++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", k);
        ax_init init = {.kind = AX_INIT_UNIFORM, .low = -1.0f, .high = 1.0f};
        AX_ASSERT_OK(ax_graph_param(w->g, name, 2, shape, &init, &w->p[k]));
        AX_ASSERT_OK(ax_tensor_to_host(ax_graph_value(w->g, w->p[k]), w->a[k], sizeof w->a[k]));
    }
    AX_ASSERT_OK(ax_graph_sum_product(w->g, "sp", N_WIDE, w->p, &w->s, &w->prod));
    cr_assert_str_eq(ax_graph_node_name(w->g, w->prod), "sp:1");
    cr_assert_eq(w->s->n_in, N_WIDE);
    cr_assert_eq(w->s->n_out, 2);
    ax_node *t, *ls, *lp;
    AX_ASSERT_OK(ax_graph_scale(w->g, "prod3", 3.0f, w->prod, &t));
    AX_ASSERT_OK(ax_graph_sum(w->g, "lp1", t, 1, &t));
    AX_ASSERT_OK(ax_graph_sum(w->g, "lp", t, 0, &lp));
    w->loss = lp;
    if (use_sum) {
        AX_ASSERT_OK(ax_graph_scale(w->g, "sum2", 2.0f, w->s, &t));
        AX_ASSERT_OK(ax_graph_sum(w->g, "ls1", t, 1, &t));
        AX_ASSERT_OK(ax_graph_sum(w->g, "ls", t, 0, &ls));
        AX_ASSERT_OK(ax_graph_add(w->g, "loss", ls, lp, &w->loss));
    }
    AX_ASSERT_OK(ax_graph_compile(w->g, w->loss));
}

static void wide_free(wide *w) {
    ax_graph_destroy(w->g);
    ax_ctx_destroy(w->ctx);
}

static void wide_check_grads(wide *w, float ds) {
    for (int k = 0; k < N_WIDE; k++) {
        float grad[6];
        AX_ASSERT_OK(ax_tensor_to_host(ax_graph_grad(w->g, w->p[k]), grad, sizeof grad));
        for (int i = 0; i < 6; i++) {
            float want = ds + (k == 0 ? 3.0f * w->a[1][i] : k == 1 ? 3.0f * w->a[0][i] : 0.0f);
            cr_assert_float_eq(grad[i], want, 1e-6f, "p%d[%d]: %g, expected %g", k, i,
                               (double)grad[i], (double)want);
        }
    }
}

/* Eight inputs, two outputs: both outputs' values are right, and the gradients from both flow
 * back to every input (p_0 and p_1 get both, the others the sum's only). */
Test(arch, gradients_flow_from_both_outputs_to_eight_inputs) {
    wide w;
    wide_build(&w, 1);
    AX_ASSERT_OK(ax_graph_zero_grad(w.g));
    AX_ASSERT_OK(ax_graph_forward(w.g));
    AX_ASSERT_OK(ax_graph_backward(w.g));
    float s[6], prod[6];
    AX_ASSERT_OK(ax_tensor_to_host(ax_graph_value(w.g, w.s), s, sizeof s));
    AX_ASSERT_OK(ax_tensor_to_host(ax_graph_value(w.g, w.prod), prod, sizeof prod));
    for (int i = 0; i < 6; i++) {
        float want = 0.0f;
        for (int k = 0; k < N_WIDE; k++)
            want += w.a[k][i];
        cr_assert_float_eq(s[i], want, 1e-5f);
        cr_assert_float_eq(prod[i], w.a[0][i] * w.a[1][i], 0.0f);
    }
    wide_check_grads(&w, 2.0f);
    wide_free(&w);
}

/* With the sum unused, its gradient has no writer: the backward must zero it (it is set to
 * garbage here first), so the inputs get the product's gradient only. */
Test(arch, an_unused_output_has_a_zero_gradient) {
    wide w;
    wide_build(&w, 0);
    ax_tensor *ds = ax_graph_grad(w.g, w.s);
    cr_assert_not_null(ds, "the producer reads the unused output's gradient");
    AX_ASSERT_OK(ax_fill(w.ctx, ds, 7.0f));
    AX_ASSERT_OK(ax_graph_zero_grad(w.g));
    AX_ASSERT_OK(ax_graph_forward(w.g));
    AX_ASSERT_OK(ax_graph_backward(w.g));
    wide_check_grads(&w, 0.0f);
    wide_free(&w);
}

/* An output slot's name is taken: a second sum_product "sp" fails and changes nothing. */
Test(arch, a_multi_output_node_is_all_or_nothing) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *x[2], *s, *p;
    int64_t shape[2] = {2, 2};
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    AX_ASSERT_OK(ax_graph_input(g, "x0", 2, shape, &x[0]));
    AX_ASSERT_OK(ax_graph_input(g, "sp:1", 2, shape, &x[1]));
    AX_ASSERT_FAILS(ax_graph_sum_product(g, "sp", 2, x, &s, &p), AX_ERR_INVALID_ARG,
                    "ax_graph_sum_product");
    cr_assert(strstr(ax_last_error(), "'sp:1'"), "%s", ax_last_error());
    cr_assert_eq(g->n_nodes, 2);
    cr_assert_null(p);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- typed inputs */

/* i32 token indices [N, T] are declared with their dtype and fed by rows; ops check the
 * dtype each input takes (declared by the op, not the input's name). */
Test(arch, integer_inputs_of_any_shape) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g;
    ax_node *tok, *x, *logits, *o;
    int64_t ts[2] = {4, 3}, xs[2] = {4, 5};
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    AX_ASSERT_OK(ax_graph_input_typed(g, "tok", AX_I32, 2, ts, 0, -1, &tok));
    AX_ASSERT_OK(ax_graph_input_typed(g, "x", AX_F32, 2, xs, 0, -1, &x));
    AX_ASSERT_FAILS(ax_graph_input_typed(g, "bad", (ax_dtype)77, 2, ts, 0, -1, &o), AX_ERR_DTYPE,
                    "ax_graph_input_typed");
    AX_ASSERT_FAILS(ax_graph_add(g, "s", tok, tok, &o), AX_ERR_DTYPE, "ax_graph_add");
    cr_assert(strstr(ax_last_error(), "'tok'"), "%s", ax_last_error());
    AX_ASSERT_OK(ax_graph_dense(g, "fc", x, 3, &logits));
    /* labels of an op that takes i32 [N]: a [N, T] is a shape error, an f32 a dtype error */
    AX_ASSERT_FAILS(ax_graph_cross_entropy(g, "ce", logits, tok, &o), AX_ERR_SHAPE,
                    "ax_graph_cross_entropy");
    AX_ASSERT_FAILS(ax_graph_cross_entropy(g, "ce", logits, x, &o), AX_ERR_DTYPE,
                    "ax_graph_cross_entropy");
    AX_ASSERT_OK(ax_graph_compile(g, NULL));
    int32_t ids[6] = {1, 2, 3, 4, 5, 6}, back[6];
    AX_ASSERT_FAILS(ax_graph_feed_f32(g, tok, (const float *)ids, 2), AX_ERR_DTYPE,
                    "ax_graph_feed_f32");
    AX_ASSERT_OK(ax_graph_feed_i32(g, tok, ids, 2));
    ax_tensor *v = ax_graph_value(g, tok);
    cr_assert_eq(v->ndim, 2);
    cr_assert_eq(v->shape[0], 2);
    cr_assert_eq(v->shape[1], 3);
    AX_ASSERT_OK(ax_tensor_to_host(v, back, sizeof back));
    cr_assert_arr_eq(back, ids, sizeof ids);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}
