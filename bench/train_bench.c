/* The timing loop and table of the training-step benches (train_bench.h). */
#define _POSIX_C_SOURCE 200809L

#include "train_bench.h"
#include "train_step.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_ROWS = 4 };

typedef struct options {
    const char *pytorch_csv;
    int steps;
    int warmup;
    int cpu_only;
} options;

/* One row of the table, and PyTorch's number for it when the CSV has one. */
typedef struct row {
    const char *device; /* "cpu" or "cuda", the CSV's names */
    int batch;
    double axon_ms;
    double torch_ms; /* < 0: none */
} row;

static void usage(const train_bench *b, FILE *f) {
    fprintf(f,
            "usage: %s [--pytorch FILE] [--steps N] [--warmup N] [--cpu-only] [--quick]\n"
            "  --pytorch FILE  CSV from %s (device,batch,ms_per_step)\n"
            "  --steps N       timed steps per case, at least 20 (default 50)\n"
            "  --warmup N      untimed steps first (default 5)\n"
            "  --cpu-only      skip the GPU even when one works\n"
            "  --quick         20 timed steps after 2 warm-up (scripts/gpu-check)\n",
            b->name, b->script);
}

static options parse_args(const train_bench *b, int argc, char **argv) {
    options o = {NULL, 50, 5, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(b, stdout);
            exit(0);
        } else if (!strcmp(a, "--quick")) {
            o.steps = 20, o.warmup = 2;
        } else if (!strcmp(a, "--cpu-only")) {
            o.cpu_only = 1;
        } else if (!strcmp(a, "--pytorch") && v) {
            o.pytorch_csv = v, i++;
        } else if (!strcmp(a, "--steps") && v) {
            ok = tb_parse_int(v, &o.steps) && o.steps >= 20, i++;
        } else if (!strcmp(a, "--warmup") && v) {
            ok = tb_parse_int(v, &o.warmup), i++;
        } else {
            ok = 0;
        }
        if (!ok) {
            fprintf(stderr, "%s: bad option '%s'\n", b->name, a);
            usage(b, stderr);
            exit(2);
        }
    }
    return o;
}

/* b's model for `batch` rows with random inputs and labels, and Adam with PyTorch's
 * defaults. */
static void build(const train_bench *b, ax_ctx *ctx, int batch, ax_graph **g, ax_optimizer **opt) {
    ax_node *x, *y;
    b->build(ctx, batch, g, &x, &y);
    tb_check(ax_rng_uniform(ctx, ax_graph_value(*g, x), 0.0f, 1.0f, 99, 0), "random inputs");
    int32_t *labels = tb_malloc((size_t)batch * sizeof *labels);
    uint32_t s = 12345;
    for (int i = 0; i < batch; i++) {
        s = s * 1664525u + 1013904223u;
        labels[i] = (int32_t)((s >> 16) % (uint32_t)b->classes);
    }
    tb_check(ax_tensor_set_from_host(ax_graph_value(*g, y), labels, (size_t)batch * sizeof *labels),
             "random labels");
    free(labels);
    ax_adam_config adam = ax_adam_defaults();
    tb_check(ax_optimizer_create_adam(ctx, &adam, opt), "ax_optimizer_create_adam");
}

static void train_step(ax_graph *g, ax_optimizer *opt) {
    ax_param_list p;
    tb_check(ax_graph_params(g, &p), "ax_graph_params");
    tb_check(ax_graph_zero_grad(g), "ax_graph_zero_grad");
    tb_check(ax_graph_forward(g), "ax_graph_forward");
    tb_check(ax_graph_backward(g), "ax_graph_backward");
    tb_check(ax_optimizer_step(opt, p.n, p.values, p.grads), "ax_optimizer_step");
}

/* The step tb_time_steps times. */
typedef struct step_args {
    ax_graph *g;
    ax_optimizer *opt;
} step_args;

static void run_step(void *arg) {
    const step_args *a = arg;
    train_step(a->g, a->opt);
}

/* Median milliseconds per step at `batch` on ctx. */
static double time_steps(const train_bench *b, ax_ctx *ctx, int batch, const options *o) {
    step_args a;
    build(b, ctx, batch, &a.g, &a.opt);
    double median = tb_time_steps(ctx, a.g, run_step, &a, o->warmup, o->steps);
    ax_optimizer_destroy(a.opt);
    ax_graph_destroy(a.g);
    return median;
}

static void print_table(const row *rows, int n) {
    printf("\n%-7s %6s %14s %16s %15s\n", "device", "batch", "axon ms/step", "PyTorch ms/step",
           "axon/PyTorch");
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        if (r->torch_ms > 0)
            printf("%-7s %6d %14.3f %16.3f %15.3f\n", r->device, r->batch, r->axon_ms, r->torch_ms,
                   r->axon_ms / r->torch_ms);
        else
            printf("%-7s %6d %14.3f %16s %15s\n", r->device, r->batch, r->axon_ms, "-", "-");
    }
}

int train_bench_main(const train_bench *b, int argc, char **argv) {
    tb_program = b->name;
    options o = parse_args(b, argc, argv);
    row rows[MAX_ROWS];
    int n_rows = 0;

    printf("%s: %s; ms per step (zero_grad + forward + backward + step), median of %d after "
           "%d warm-up\n",
           b->name, b->model, o.steps, o.warmup);
    int with_gpu = !o.cpu_only && ax_cuda_device_count() > 0;
    for (int d = 0; d < (with_gpu ? 2 : 1); d++) {
        ax_ctx *ctx;
        tb_check(ax_ctx_create(d == 0 ? AX_DEVICE_CPU : AX_DEVICE_CUDA, 0, &ctx), "ax_ctx_create");
        tb_print_device(ctx, d == 1);
        for (int i = 0; i < 2; i++) {
            row *r = &rows[n_rows++];
            r->device = d == 0 ? "cpu" : "cuda";
            r->batch = b->batches[i];
            r->axon_ms = time_steps(b, ctx, b->batches[i], &o);
            char key[16];
            snprintf(key, sizeof key, "%d", b->batches[i]);
            r->torch_ms = tb_pytorch_ms(o.pytorch_csv, r->device, key);
        }
        ax_ctx_destroy(ctx);
    }
    if (!with_gpu)
        printf(o.cpu_only ? "GPU skipped (--cpu-only)\n" : "no CUDA device: GPU rows skipped\n");
    print_table(rows, n_rows);
    return 0;
}
