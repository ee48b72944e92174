/* What the training-step benches (bench_train_mlp, bench_train_char) share: failing on an
 * error, the timing of steps and their median, option numbers, the table's PyTorch column
 * read from a CSV, and the table's lines. */
#ifndef AXON_BENCH_TRAIN_STEP_H
#define AXON_BENCH_TRAIN_STEP_H

#include "axon.h"

/* The bench's name, the prefix of tb_check's and tb_fail's messages. */
extern const char *tb_program;

/* Prints "tb_program: message" to stderr and exits 1. */
void tb_fail(const char *message);

/* A failed axon call: "tb_program: WHAT: STATUS: ax_last_error()" and exit 1. */
void tb_check(ax_status st, const char *what);

/* malloc, or tb_fail. */
void *tb_malloc(size_t bytes);

/* A monotonic clock in milliseconds. */
double tb_now_ms(void);

/* The median of ms[0..n) (n >= 1; sorts ms). */
double tb_median(double *ms, int n);

/* A whole number from 0 to 1000000 into *out; 0 when s is not one. */
int tb_parse_int(const char *s, int *out);

/* The last number of the CSV line whose leading fields are key0,key1 (key1 NULL: key0 alone),
 * e.g. "cpu,64,2.5" for ("cpu", "64"); < 0 when path is NULL or has no such line. */
double tb_pytorch_ms(const char *path, const char *key0, const char *key1);

/* Median milliseconds of `steps` calls of step(arg), each timed alone up to
 * ax_ctx_synchronize(ctx), after `warmup` untimed ones; the loss of g must then be finite (the
 * steps really ran). */
double tb_time_steps(ax_ctx *ctx, ax_graph *g, void (*step)(void *arg), void *arg, int warmup,
                     int steps);

/* The end of a table row: axon ms/step, PyTorch ms/step and their ratio ("-" where torch_ms
 * < 0), and the newline. */
void tb_print_times(double axon_ms, double torch_ms);

/* The "cpu:" or "cuda:" line naming ctx's device. */
void tb_print_device(ax_ctx *ctx, int cuda);

#endif
