/* The timing loop and table of the training-step benches (train_bench.h). */
#define _POSIX_C_SOURCE 200809L

#include "train_bench.h"

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

static const char *bench_name = "train_bench";

void train_bench_check(ax_status st, const char *what) {
    if (st != AX_OK) {
        fprintf(stderr, "%s: %s: %s: %s\n", bench_name, what, ax_status_str(st),
                ax_last_error());
        exit(1);
    }
}

static void *checked_malloc(size_t size) {
    void *p = malloc(size);
    if (!p) {
        fprintf(stderr, "%s: out of memory\n", bench_name);
        exit(1);
    }
    return p;
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

static void usage(const train_bench *b, FILE *f) {
    fprintf(f, "usage: %s [--pytorch FILE] [--steps N] [--warmup N] [--cpu-only] [--quick]\n"
               "  --pytorch FILE  CSV from %s (device,batch,ms_per_step)\n"
               "  --steps N       timed steps per case, at least 20 (default 50)\n"
               "  --warmup N      untimed steps first (default 5)\n"
               "  --cpu-only      skip the GPU even when one works\n"
               "  --quick         20 timed steps after 2 warm-up (scripts/gpu-check)\n",
            b->name, b->script);
}

static int parse_int(const char *s, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 1000000)
        return 0;
    *out = (int)v;
    return 1;
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
            ok = parse_int(v, &o.steps) && o.steps >= 20, i++;
        } else if (!strcmp(a, "--warmup") && v) {
            ok = parse_int(v, &o.warmup), i++;
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
static void build(const train_bench *b, ax_ctx *ctx, int batch, ax_graph **g,
                  ax_optimizer **opt) {
    ax_node *x, *y;
    b->build(ctx, batch, g, &x, &y);
    train_bench_check(ax_rng_uniform(ctx, ax_graph_value(*g, x), 0.0f, 1.0f, 99, 0),
                      "random inputs");
    int32_t *labels = checked_malloc((size_t)batch * sizeof *labels);
    uint32_t s = 12345;
    for (int i = 0; i < batch; i++) {
        s = s * 1664525u + 1013904223u;
        labels[i] = (int32_t)((s >> 16) % (uint32_t)b->classes);
    }
    train_bench_check(ax_tensor_set_from_host(ax_graph_value(*g, y), labels,
                                              (size_t)batch * sizeof *labels),
                      "random labels");
    free(labels);
    ax_adam_config adam = ax_adam_defaults();
    train_bench_check(ax_optimizer_create_adam(ctx, &adam, opt), "ax_optimizer_create_adam");
}

static void train_step(ax_graph *g, ax_optimizer *opt) {
    ax_param_list p;
    train_bench_check(ax_graph_params(g, &p), "ax_graph_params");
    train_bench_check(ax_graph_zero_grad(g), "ax_graph_zero_grad");
    train_bench_check(ax_graph_forward(g), "ax_graph_forward");
    train_bench_check(ax_graph_backward(g), "ax_graph_backward");
    train_bench_check(ax_optimizer_step(opt, p.n, p.values, p.grads), "ax_optimizer_step");
}

/* Median milliseconds per step at `batch` on ctx. */
static double time_steps(const train_bench *b, ax_ctx *ctx, int batch, const options *o) {
    ax_graph *g;
    ax_optimizer *opt;
    build(b, ctx, batch, &g, &opt);
    for (int i = 0; i < o->warmup; i++)
        train_step(g, opt);
    train_bench_check(ax_ctx_synchronize(ctx), "ax_ctx_synchronize");

    double *ms = checked_malloc((size_t)o->steps * sizeof *ms);
    for (int i = 0; i < o->steps; i++) {
        double t0 = now_ms();
        train_step(g, opt);
        train_bench_check(ax_ctx_synchronize(ctx), "ax_ctx_synchronize");
        ms[i] = now_ms() - t0;
    }
    float loss;
    train_bench_check(ax_graph_loss(g, &loss), "ax_graph_loss"); /* the steps really ran */
    if (!(loss == loss) || loss > 1e30f) {
        fprintf(stderr, "%s: the loss is not finite (%g)\n", b->name, (double)loss);
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
        fprintf(stderr, "%s: cannot open %s\n", bench_name, path);
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

int train_bench_main(const train_bench *b, int argc, char **argv) {
    bench_name = b->name;
    options o = parse_args(b, argc, argv);
    row rows[MAX_ROWS];
    int n_rows = 0;

    printf("%s: %s; ms per step (zero_grad + forward + backward + step), median of %d after "
           "%d warm-up\n",
           b->name, b->model, o.steps, o.warmup);
    int with_gpu = !o.cpu_only && ax_cuda_device_count() > 0;
    for (int d = 0; d < (with_gpu ? 2 : 1); d++) {
        ax_ctx *ctx;
        train_bench_check(ax_ctx_create(d == 0 ? AX_DEVICE_CPU : AX_DEVICE_CUDA, 0, &ctx),
                          "ax_ctx_create");
        ax_device_info info;
        train_bench_check(ax_ctx_device_info(ctx, &info), "ax_ctx_device_info");
        if (d == 0)
            printf("cpu:  %s, %d cores\n", info.name, info.multiprocessors);
        else
            printf("cuda: %s (sm_%d%d, %d SMs)\n", info.name, info.cc_major, info.cc_minor,
                   info.multiprocessors);
        for (int i = 0; i < 2; i++) {
            row *r = &rows[n_rows++];
            r->device = d == 0 ? "cpu" : "cuda";
            r->batch = b->batches[i];
            r->axon_ms = time_steps(b, ctx, b->batches[i], &o);
            r->torch_ms = pytorch_ms(o.pytorch_csv, r->device, b->batches[i]);
        }
        ax_ctx_destroy(ctx);
    }
    if (!with_gpu)
        printf(o.cpu_only ? "GPU skipped (--cpu-only)\n" : "no CUDA device: GPU rows skipped\n");
    print_table(rows, n_rows);
    return 0;
}
