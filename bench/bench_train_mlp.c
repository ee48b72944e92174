/* bench_train_mlp: milliseconds per training step of the MNIST MLP (784 -> 256 -> ReLU ->
 * dropout 0.2 -> 128 -> ReLU -> dropout 0.2 -> 10, cross-entropy, Adam lr 1e-3), the model of
 * examples/mnist_mlp, at batch 64 and 256, on the CPU and, when one works, the GPU.
 *
 * A step is zero_grad + forward + backward + Adam step. Inputs are uniform in [0, 1) from
 * Philox and labels are random classes, never zeros; MNIST is not needed. Each step is timed
 * alone with a monotonic clock, after ax_ctx_synchronize, so a GPU step is counted until its
 * last kernel ends; the table gives the median of the timed steps after warm-up steps.
 *
 * bench/pytorch/train_mlp.py times the same model, batches and optimizer in PyTorch and writes
 * a CSV (device,batch,ms_per_step); pass it with --pytorch FILE for the PyTorch column and the
 * ratio axon / PyTorch (below 1: axon is faster).
 *
 * Usage: bench_train_mlp [--pytorch FILE] [--steps N] [--warmup N] [--cpu-only]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon.h"
#include "train_bench.h"

enum { IN = 784, H1 = 256, H2 = 128, CLASSES = 10, MAX_ROWS = 8 };

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

static void usage(FILE *f) {
    fprintf(f, "usage: bench_train_mlp [--pytorch FILE] [--steps N] [--warmup N] [--cpu-only] [--quick]\n"
               "  --pytorch FILE  CSV from bench/pytorch/train_mlp.py (device,batch,ms_per_step)\n"
               "  --steps N       timed steps per case, at least 20 (default 50)\n"
               "  --warmup N      untimed steps first (default 5)\n"
               "  --cpu-only      skip the GPU even when one works\n"
               "  --quick         20 timed steps after 2 warm-up (scripts/gpu-check)\n");
}

static options parse_args(int argc, char **argv) {
    options o = {NULL, 50, 5, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
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
            fprintf(stderr, "bench_train_mlp: bad option '%s'\n", a);
            usage(stderr);
            exit(2);
        }
    }
    return o;
}

/* The model of examples/mnist_mlp with its loss, compiled for `batch` rows; Adam with
 * PyTorch's defaults. Inputs get random pixels and random labels. */
static void build(ax_ctx *ctx, int batch, ax_graph **g_out, ax_optimizer **opt_out) {
    ax_graph *g;
    ax_node *x, *y, *n;
    tb_check(ax_graph_create(ctx, 1, &g), "ax_graph_create");
    tb_check(ax_graph_input(g, "x", 2, (int64_t[]){batch, IN}, &x), "input");
    tb_check(ax_graph_labels(g, "y", batch, &y), "labels");
    tb_check(ax_graph_dense(g, "fc1", x, H1, &n), "fc1");
    tb_check(ax_graph_activation(g, "relu1", AX_ACT_RELU, 0.0f, n, &n), "relu1");
    tb_check(ax_graph_dropout(g, "drop1", n, 0.2f, &n), "drop1");
    tb_check(ax_graph_dense(g, "fc2", n, H2, &n), "fc2");
    tb_check(ax_graph_activation(g, "relu2", AX_ACT_RELU, 0.0f, n, &n), "relu2");
    tb_check(ax_graph_dropout(g, "drop2", n, 0.2f, &n), "drop2");
    tb_check(ax_graph_dense(g, "fc3", n, CLASSES, &n), "fc3");
    tb_check(ax_graph_cross_entropy(g, "loss", n, y, &n), "loss");
    tb_check(ax_graph_compile(g, n), "ax_graph_compile");

    tb_check(ax_rng_uniform(ctx, ax_graph_value(g, x), 0.0f, 1.0f, 99, 0), "random inputs");
    int32_t *labels = tb_malloc((size_t)batch * sizeof *labels);
    uint32_t s = 12345;
    for (int i = 0; i < batch; i++) {
        s = s * 1664525u + 1013904223u;
        labels[i] = (int32_t)((s >> 16) % CLASSES);
    }
    tb_check(ax_tensor_set_from_host(ax_graph_value(g, y), labels, (size_t)batch * sizeof *labels),
          "random labels");
    free(labels);

    ax_adam_config adam = ax_adam_defaults();
    tb_check(ax_optimizer_create_adam(ctx, &adam, opt_out), "ax_optimizer_create_adam");
    *g_out = g;
}

typedef struct mlp_run {
    ax_graph *g;
    ax_optimizer *opt;
} mlp_run;

static void train_step(void *arg) {
    mlp_run *r = arg;
    ax_param_list p;
    tb_check(ax_graph_params(r->g, &p), "ax_graph_params");
    tb_check(ax_graph_zero_grad(r->g), "ax_graph_zero_grad");
    tb_check(ax_graph_forward(r->g), "ax_graph_forward");
    tb_check(ax_graph_backward(r->g), "ax_graph_backward");
    tb_check(ax_optimizer_step(r->opt, p.n, p.values, p.grads), "ax_optimizer_step");
}

/* Median milliseconds per step at `batch` on ctx. */
static double time_steps(ax_ctx *ctx, int batch, const options *o) {
    mlp_run r;
    build(ctx, batch, &r.g, &r.opt);
    const double median = tb_time_steps(ctx, r.g, train_step, &r, o->warmup, o->steps);
    ax_optimizer_destroy(r.opt);
    ax_graph_destroy(r.g);
    return median;
}

static void print_table(const row *rows, int n) {
    printf("\n%-7s %6s %14s %16s %15s\n", "device", "batch", "axon ms/step", "PyTorch ms/step",
           "axon/PyTorch");
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        printf("%-7s %6d", r->device, r->batch);
        tb_print_times(r->axon_ms, r->torch_ms);
    }
}

int main(int argc, char **argv) {
    tb_program = "bench_train_mlp";
    options o = parse_args(argc, argv);
    static const int batches[2] = {64, 256};
    row rows[MAX_ROWS];
    int n_rows = 0;

    printf("bench_train_mlp: 784-256-128-10 MLP, ReLU, dropout 0.2, cross-entropy, Adam; "
           "ms per step (zero_grad + forward + backward + step), median of %d after %d "
           "warm-up\n",
           o.steps, o.warmup);
    int with_gpu = !o.cpu_only && ax_cuda_device_count() > 0;
    for (int d = 0; d < (with_gpu ? 2 : 1); d++) {
        ax_ctx *ctx;
        tb_check(ax_ctx_create(d == 0 ? AX_DEVICE_CPU : AX_DEVICE_CUDA, 0, &ctx), "ax_ctx_create");
        tb_print_device(ctx, d);
        for (int b = 0; b < 2; b++) {
            row *r = &rows[n_rows++];
            r->device = d == 0 ? "cpu" : "cuda";
            r->batch = batches[b];
            r->axon_ms = time_steps(ctx, batches[b], &o);
            char batch[16];
            snprintf(batch, sizeof batch, "%d", batches[b]);
            r->torch_ms = tb_pytorch_ms(o.pytorch_csv, r->device, batch);
        }
        ax_ctx_destroy(ctx);
    }
    if (!with_gpu)
        printf(o.cpu_only ? "GPU skipped (--cpu-only)\n" : "no CUDA device: GPU rows skipped\n");
    print_table(rows, n_rows);
    return 0;
}
