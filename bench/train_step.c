/* Helpers of the training-step benches (train_step.h). */
#define _POSIX_C_SOURCE 200809L

#include "train_step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *tb_program = "bench";

void tb_fail(const char *message) {
    fprintf(stderr, "%s: %s\n", tb_program, message);
    exit(1);
}

void tb_check(ax_status st, const char *what) {
    if (st != AX_OK) {
        fprintf(stderr, "%s: %s: %s: %s\n", tb_program, what, ax_status_str(st),
                ax_last_error());
        exit(1);
    }
}

void *tb_malloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        tb_fail("out of memory");
    return p;
}

double tb_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double tb_median(double *ms, int n) {
    qsort(ms, (size_t)n, sizeof *ms, compare_double);
    return n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
}

int tb_parse_int(const char *s, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 1000000)
        return 0;
    *out = (int)v;
    return 1;
}

double tb_pytorch_ms(const char *path, const char *key0, const char *key1) {
    if (!path)
        return -1.0;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: cannot open %s\n", tb_program, path);
        exit(1);
    }
    char line[256], k0[64], k1[64];
    double ms, found = -1.0;
    while (fgets(line, sizeof line, f)) {
        if (key1 ? sscanf(line, "%63[^,],%63[^,],%lf", k0, k1, &ms) == 3 && !strcmp(k1, key1)
                 : sscanf(line, "%63[^,],%lf", k0, &ms) == 2)
            if (!strcmp(k0, key0))
                found = ms;
    }
    fclose(f);
    return found;
}

double tb_time_steps(ax_ctx *ctx, ax_graph *g, void (*step)(void *arg), void *arg, int warmup,
                     int steps) {
    for (int i = 0; i < warmup; i++)
        step(arg);
    tb_check(ax_ctx_synchronize(ctx), "ax_ctx_synchronize");
    double *ms = tb_malloc((size_t)steps * sizeof *ms);
    for (int i = 0; i < steps; i++) {
        const double t0 = tb_now_ms();
        step(arg);
        tb_check(ax_ctx_synchronize(ctx), "ax_ctx_synchronize");
        ms[i] = tb_now_ms() - t0;
    }
    float loss;
    tb_check(ax_graph_loss(g, &loss), "ax_graph_loss");
    if (!(loss == loss) || loss > 1e30f)
        tb_fail("the loss is not finite");
    const double median = tb_median(ms, steps);
    free(ms);
    return median;
}

void tb_print_times(double axon_ms, double torch_ms) {
    if (torch_ms > 0)
        printf(" %14.3f %16.3f %15.3f\n", axon_ms, torch_ms, axon_ms / torch_ms);
    else
        printf(" %14.3f %16s %15s\n", axon_ms, "-", "-");
}

void tb_print_device(ax_ctx *ctx, int cuda) {
    ax_device_info info;
    tb_check(ax_ctx_device_info(ctx, &info), "ax_ctx_device_info");
    if (!cuda)
        printf("cpu:  %s, %d cores\n", info.name, info.multiprocessors);
    else
        printf("cuda: %s (sm_%d%d, %d SMs)\n", info.name, info.cc_major, info.cc_minor,
               info.multiprocessors);
}
