/* bench_train_char: milliseconds per training step of examples/char_rnn's model (embedding 64
 * -> LSTM -> dense over the 65 characters of tiny shakespeare, cross-entropy over every [T, N]
 * position, states carried from step to step), in its two configurations: "quick" (hidden 256,
 * 1 layer, T 64, batch 32: the 2-core CPU one) and "default" (hidden 512, 2 layers, dropout
 * 0.2, T 100, batch 64: the GPU one), on the CPU and, when one works, the GPU. The model is
 * built by examples/common/char_model.c, the example's own builder.
 *
 * A step is zero_grad + forward + backward + clipping to global norm 5 + Adam step, as
 * char_rnn's training loop. Ids and targets are random characters (an LCG with a fixed
 * seed); the dataset is not needed. Each step is timed alone with a monotonic clock, after
 * ax_ctx_synchronize, so a GPU step is counted until its last kernel ends; the table gives the
 * median of the timed steps after warm-up steps. The CPU runs OpenBLAS with --threads threads
 * (default 1, char_rnn's default).
 *
 * bench/pytorch/train_char_step.py times the same model (train_char.py's CharModel), steps and
 * optimizer in PyTorch and writes a CSV (config,device,ms_per_step); pass it with --pytorch
 * FILE for the PyTorch column and the ratio axon / PyTorch (below 1: axon is faster).
 *
 * Usage: bench_train_char [--pytorch FILE] [--steps N] [--warmup N] [--threads N]
 *                         [--config quick|default] [--cpu-only] [--quick]
 */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon.h"
#include "common/char_model.h"
#include "train_step.h"

enum { VOCAB = 65, MAX_ROWS = 4 };

typedef struct options {
    const char *pytorch_csv;
    int steps;
    int warmup;
    int threads;
    int cpu_only;
    const char *only; /* NULL: both configurations */
} options;

/* One row of the table, and PyTorch's number for it when the CSV has one. */
typedef struct row {
    const char *config; /* "quick" or "default" */
    const char *device; /* "cpu" or "cuda", the CSV's names */
    double axon_ms;
    double torch_ms; /* < 0: none */
} row;

static void usage(FILE *f) {
    fprintf(f, "usage: bench_train_char [--pytorch FILE] [--steps N] [--warmup N] [--threads N] "
               "[--config C]\n                        [--cpu-only] [--quick]\n"
               "  --pytorch FILE  CSV from bench/pytorch/train_char_step.py "
               "(config,device,ms_per_step)\n"
               "  --steps N       timed steps per case, at least 3 (default 20)\n"
               "  --warmup N      untimed steps first (default 3)\n"
               "  --threads N     OpenBLAS threads on the CPU, at least 1 (default 1)\n"
               "  --config C      only configuration C: quick or default (default: both)\n"
               "  --cpu-only      skip the GPU even when one works\n"
               "  --quick         5 timed steps after 1 warm-up (scripts/gpu-check)\n");
}

static options parse_args(int argc, char **argv) {
    options o = {NULL, 20, 3, 1, 0, NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--quick")) {
            o.steps = 5, o.warmup = 1;
        } else if (!strcmp(a, "--config") && v) {
            ok = !strcmp(v, "quick") || !strcmp(v, "default"), o.only = v, i++;
        } else if (!strcmp(a, "--cpu-only")) {
            o.cpu_only = 1;
        } else if (!strcmp(a, "--pytorch") && v) {
            o.pytorch_csv = v, i++;
        } else if (!strcmp(a, "--steps") && v) {
            ok = tb_parse_int(v, &o.steps) && o.steps >= 3, i++;
        } else if (!strcmp(a, "--warmup") && v) {
            ok = tb_parse_int(v, &o.warmup), i++;
        } else if (!strcmp(a, "--threads") && v) {
            ok = tb_parse_int(v, &o.threads) && o.threads >= 1, i++;
        } else {
            ok = 0;
        }
        if (!ok) {
            fprintf(stderr, "bench_train_char: bad option '%s'\n", a);
            usage(stderr);
            exit(2);
        }
    }
    return o;
}

/* Random characters into the ids and targets of m (one [T, N] step, fixed seed). */
static void feed_random(ex_char_model *m) {
    const size_t n = (size_t)(m->steps * m->batch);
    int32_t *ids = tb_malloc(2 * n * sizeof *ids);
    uint32_t s = 12345;
    for (size_t i = 0; i < 2 * n; i++) {
        s = s * 1664525u + 1013904223u;
        ids[i] = (int32_t)((s >> 16) % VOCAB);
    }
    tb_check(ax_graph_feed_i32(m->g, m->ids, ids, m->batch), "feed ids");
    tb_check(ax_graph_feed_i32(m->g, m->targets, ids + n, m->batch), "feed targets");
    free(ids);
}

typedef struct char_run {
    ax_ctx *ctx;
    ex_char_model m;
    ax_optimizer *opt;
    float clip;
} char_run;

static void train_step(void *arg) {
    char_run *r = arg;
    ax_param_list p;
    tb_check(ax_graph_params(r->m.g, &p), "ax_graph_params");
    tb_check(ax_graph_zero_grad(r->m.g), "ax_graph_zero_grad");
    tb_check(ax_graph_forward(r->m.g), "ax_graph_forward");
    tb_check(ax_graph_backward(r->m.g), "ax_graph_backward");
    tb_check(ax_clip_grad_norm(r->ctx, p.n, p.grads, r->clip, 2.0f, 0, NULL),
             "ax_clip_grad_norm");
    tb_check(ax_optimizer_step(r->opt, p.n, p.values, p.grads), "ax_optimizer_step");
}

/* Median milliseconds per step of configuration c on ctx. */
static double time_steps(ax_ctx *ctx, const ex_char_config *c, const options *o) {
    char_run r = {.ctx = ctx, .clip = c->clip};
    tb_check(ex_char_model_build(ctx, c, 42, VOCAB, c->batch, c->seq, 1, &r.m), "the model");
    feed_random(&r.m);
    ax_adam_config adam = ax_adam_defaults();
    adam.lr = c->lr;
    tb_check(ax_optimizer_create_adam(ctx, &adam, &r.opt), "ax_optimizer_create_adam");
    const double median = tb_time_steps(ctx, r.m.g, train_step, &r, o->warmup, o->steps);
    ax_optimizer_destroy(r.opt);
    ax_graph_destroy(r.m.g);
    return median;
}

static void print_table(const row *rows, int n) {
    printf("\n%-8s %-7s %14s %16s %15s\n", "config", "device", "axon ms/step", "PyTorch ms/step",
           "axon/PyTorch");
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        printf("%-8s %-7s", r->config, r->device);
        tb_print_times(r->axon_ms, r->torch_ms);
    }
}

int main(int argc, char **argv) {
    tb_program = "bench_train_char";
    options o = parse_args(argc, argv);
    static const char *const configs[2] = {"quick", "default"};
    row rows[MAX_ROWS];
    int n_rows = 0;

    openblas_set_num_threads(o.threads);
    printf("bench_train_char: char_rnn's LSTM language model (vocabulary %d); ms per step "
           "(zero_grad + forward + backward + clip + Adam), median of %d after %d warm-up\n",
           VOCAB, o.steps, o.warmup);
    for (int k = 0; k < 2; k++) {
        const ex_char_config c = ex_char_config_of(k == 0);
        printf("  %-8s embed %d, %d-layer LSTM %d, dropout %.1f, T %d, batch %d\n", configs[k],
               c.embed, c.layers, c.hidden, (double)c.dropout, c.seq, c.batch);
    }
    int with_gpu = !o.cpu_only && ax_cuda_device_count() > 0;
    for (int d = 0; d < (with_gpu ? 2 : 1); d++) {
        ax_ctx *ctx;
        tb_check(ax_ctx_create(d == 0 ? AX_DEVICE_CPU : AX_DEVICE_CUDA, 0, &ctx), "ax_ctx_create");
        tb_print_device(ctx, d);
        if (d == 0)
            printf("      OpenBLAS %d thread%s\n", openblas_get_num_threads(),
                   openblas_get_num_threads() == 1 ? "" : "s");
        for (int k = 0; k < 2; k++) {
            if (o.only && strcmp(o.only, configs[k]))
                continue;
            const ex_char_config c = ex_char_config_of(k == 0);
            row *r = &rows[n_rows++];
            r->config = configs[k];
            r->device = d == 0 ? "cpu" : "cuda";
            r->axon_ms = time_steps(ctx, &c, &o);
            r->torch_ms = tb_pytorch_ms(o.pytorch_csv, r->config, r->device);
        }
        ax_ctx_destroy(ctx);
    }
    if (!with_gpu)
        printf(o.cpu_only ? "GPU skipped (--cpu-only)\n" : "no CUDA device: GPU rows skipped\n");
    print_table(rows, n_rows);
    return 0;
}
