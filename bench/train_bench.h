/* What bench_train_mlp and bench_train_cnn share: milliseconds per training step of a model
 * (zero_grad + forward + backward + Adam step with PyTorch's defaults) at two batch sizes, on
 * the CPU and, when one works, the GPU, next to PyTorch's numbers from a CSV written by the
 * matching bench/pytorch/ script.
 *
 * Inputs are uniform in [0, 1) from Philox and labels are random classes, never zeros; no
 * dataset is needed. Each step is timed alone with a monotonic clock after
 * ax_ctx_synchronize, so a GPU step is counted until its last kernel ends; the table gives the
 * median of the timed steps after warm-up steps, and the ratio axon / PyTorch (below 1: axon
 * is faster). */
#ifndef BENCH_TRAIN_BENCH_H
#define BENCH_TRAIN_BENCH_H

#include "axon.h"
#include "train_step.h" /* tb_check and the rest every such bench uses */

/* A model to time. build() creates and compiles the graph with its cross-entropy loss for
 * `batch` rows on ctx and returns it with its f32 input x and its labels y. */
typedef struct train_bench {
    const char *name;     /* "bench_train_cnn": usage and messages */
    const char *model;    /* the first line's description of the model */
    const char *script;   /* "bench/pytorch/train_cnn.py", for --help */
    int batches[2];
    int classes;
    void (*build)(ax_ctx *ctx, int batch, ax_graph **g, ax_node **x, ax_node **y);
} train_bench;

/* The bench's main: parses [--pytorch FILE] [--steps N] [--warmup N] [--cpu-only] [--quick],
 * times every (device, batch) and prints the table. Returns the exit status. */
int train_bench_main(const train_bench *b, int argc, char **argv);

#endif
