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
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "axon.h"

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

static void check(ax_status st, const char *what) {
    if (st != AX_OK) {
        fprintf(stderr, "bench_train_mlp: %s: %s: %s\n", what, ax_status_str(st),
                ax_last_error());
        exit(1);
    }
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void usage(FILE *f) {
    fprintf(f, "usage: bench_train_mlp [--pytorch FILE] [--steps N] [--warmup N] [--cpu-only] [--quick]\n"
               "  --pytorch FILE  CSV from bench/pytorch/train_mlp.py (device,batch,ms_per_step)\n"
               "  --steps N       timed steps per case, at least 20 (default 50)\n"
               "  --warmup N      untimed steps first (default 5)\n"
               "  --cpu-only      skip the GPU even when one works\n"
               "  --quick         20 timed steps after 2 warm-up (scripts/gpu-check)\n");
}

static int parse_int(const char *s, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 1000000)
        return 0;
    *out = (int)v;
    return 1;
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
            ok = parse_int(v, &o.steps) && o.steps >= 20, i++;
        } else if (!strcmp(a, "--warmup") && v) {
            ok = parse_int(v, &o.warmup), i++;
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
    check(ax_graph_create(ctx, 1, &g), "ax_graph_create");
    check(ax_graph_input(g, "x", 2, (int64_t[]){batch, IN}, &x), "input");
    check(ax_graph_labels(g, "y", batch, &y), "labels");
    check(ax_graph_dense(g, "fc1", x, H1, &n), "fc1");
    check(ax_graph_activation(g, "relu1", AX_ACT_RELU, 0.0f, n, &n), "relu1");
    check(ax_graph_dropout(g, "drop1", n, 0.2f, &n), "drop1");
    check(ax_graph_dense(g, "fc2", n, H2, &n), "fc2");
    check(ax_graph_activation(g, "relu2", AX_ACT_RELU, 0.0f, n, &n), "relu2");
    check(ax_graph_dropout(g, "drop2", n, 0.2f, &n), "drop2");
    check(ax_graph_dense(g, "fc3", n, CLASSES, &n), "fc3");
    check(ax_graph_cross_entropy(g, "loss", n, y, &n), "loss");
    check(ax_graph_compile(g, n), "ax_graph_compile");

    check(ax_rng_uniform(ctx, ax_graph_value(g, x), 0.0f, 1.0f, 99, 0), "random inputs");
    int32_t *labels = malloc((size_t)batch * sizeof *labels);
    if (!labels) {
        fprintf(stderr, "bench_train_mlp: out of memory\n");
        exit(1);
    }
    uint32_t s = 12345;
    for (int i = 0; i < batch; i++) {
        s = s * 1664525u + 1013904223u;
        labels[i] = (int32_t)((s >> 16) % CLASSES);
    }
    check(ax_tensor_set_from_host(ax_graph_value(g, y), labels, (size_t)batch * sizeof *labels),
          "random labels");
    free(labels);

    ax_adam_config adam = ax_adam_defaults();
    check(ax_optimizer_create_adam(ctx, &adam, opt_out), "ax_optimizer_create_adam");
    *g_out = g;
}

static void train_step(ax_graph *g, ax_optimizer *opt) {
    ax_param_list p;
    check(ax_graph_params(g, &p), "ax_graph_params");
    check(ax_graph_zero_grad(g), "ax_graph_zero_grad");
    check(ax_graph_forward(g), "ax_graph_forward");
    check(ax_graph_backward(g), "ax_graph_backward");
    check(ax_optimizer_step(opt, p.n, p.values, p.grads), "ax_optimizer_step");
}

/* Median milliseconds per step at `batch` on ctx. */
static double time_steps(ax_ctx *ctx, int batch, const options *o) {
    ax_graph *g;
    ax_optimizer *opt;
    build(ctx, batch, &g, &opt);
    for (int i = 0; i < o->warmup; i++)
        train_step(g, opt);
    check(ax_ctx_synchronize(ctx), "ax_ctx_synchronize");

    double *ms = malloc((size_t)o->steps * sizeof *ms);
    if (!ms) {
        fprintf(stderr, "bench_train_mlp: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < o->steps; i++) {
        double t0 = now_ms();
        train_step(g, opt);
        check(ax_ctx_synchronize(ctx), "ax_ctx_synchronize");
        ms[i] = now_ms() - t0;
    }
    float loss;
    check(ax_graph_loss(g, &loss), "ax_graph_loss"); /* a finite loss: the steps really ran */
    if (!(loss == loss) || loss > 1e30f) {
        fprintf(stderr, "bench_train_mlp: the loss is not finite (%g)\n", (double)loss);
        exit(1);
    }
    qsort(ms, (size_t)o->steps, sizeof *ms, compare_double);
    double median = o->steps % 2 ? ms[o->steps / 2]
                                 : 0.5 * (ms[o->steps / 2 - 1] + ms[o->steps / 2]);
    free(ms);
    ax_optimizer_destroy(opt);
    ax_graph_destroy(g);
    return median;
}

/* PyTorch's ms/step for (device, batch) from the CSV; < 0 when it has none. */
static double pytorch_ms(const char *path, const char *device, int batch) {
    if (!path)
        return -1.0;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_train_mlp: cannot open %s\n", path);
        exit(1);
    }
    char line[256], dev[64];
    int b;
    double ms, found = -1.0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%63[^,],%d,%lf", dev, &b, &ms) == 3 && !strcmp(dev, device) &&
            b == batch)
            found = ms;
    fclose(f);
    return found;
}

static void print_table(const row *rows, int n) {
    printf("\n%-7s %6s %14s %16s %15s\n", "device", "batch", "axon ms/step", "PyTorch ms/step",
           "axon/PyTorch");
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        if (r->torch_ms > 0)
            printf("%-7s %6d %14.3f %16.3f %15.3f\n", r->device, r->batch, r->axon_ms,
                   r->torch_ms, r->axon_ms / r->torch_ms);
        else
            printf("%-7s %6d %14.3f %16s %15s\n", r->device, r->batch, r->axon_ms, "-", "-");
    }
}

int main(int argc, char **argv) {
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
        check(ax_ctx_create(d == 0 ? AX_DEVICE_CPU : AX_DEVICE_CUDA, 0, &ctx), "ax_ctx_create");
        ax_device_info info;
        check(ax_ctx_device_info(ctx, &info), "ax_ctx_device_info");
        if (d == 0)
            printf("cpu:  %s, %d cores\n", info.name, info.multiprocessors);
        else
            printf("cuda: %s (sm_%d%d, %d SMs)\n", info.name, info.cc_major, info.cc_minor,
                   info.multiprocessors);
        for (int b = 0; b < 2; b++) {
            row *r = &rows[n_rows++];
            r->device = d == 0 ? "cpu" : "cuda";
            r->batch = batches[b];
            r->axon_ms = time_steps(ctx, batches[b], &o);
            r->torch_ms = pytorch_ms(o.pytorch_csv, r->device, batches[b]);
        }
        ax_ctx_destroy(ctx);
    }
    if (!with_gpu)
        printf(o.cpu_only ? "GPU skipped (--cpu-only)\n" : "no CUDA device: GPU rows skipped\n");
    print_table(rows, n_rows);
    return 0;
}
