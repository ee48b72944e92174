/* bench_train_cnn: milliseconds per training step of the MNIST CNN of examples/mnist_cnn
 * (x [batch, 1, 28, 28] -> conv 32 3x3 pad 1 -> batch norm -> ReLU -> max pool 2 -> conv 64
 * 3x3 pad 1 -> batch norm -> ReLU -> max pool 2 -> dropout 0.5 -> dense 128 -> ReLU -> dense
 * 10, cross-entropy, Adam lr 1e-3) at batch 32 and 128, on the CPU and, when one works, the
 * GPU.
 *
 * The method (train_bench.h): a step is zero_grad + forward + backward + Adam step on random
 * inputs and labels, each timed alone after a synchronize; the median after warm-up steps.
 * bench/pytorch/train_cnn.py times the same model in PyTorch and writes a CSV; pass it with
 * --pytorch FILE for the PyTorch column and the ratio axon / PyTorch (below 1: axon is faster).
 *
 * Usage: bench_train_cnn [--pytorch FILE] [--steps N] [--warmup N] [--cpu-only] [--quick]
 */
#include "axon.h"
#include "common/mnist_cnn_model.h"
#include "train_bench.h"

enum { SIDE = 28, CLASSES = 10 };

/* The model of examples/mnist_cnn (examples/common/mnist_cnn_model.c) with its loss,
 * compiled for `batch` rows. */
static void build(ax_ctx *ctx, int batch, ax_graph **g_out, ax_node **x, ax_node **y) {
    ax_graph *g;
    ax_node *n;
    tb_check(ax_graph_create(ctx, 1, &g), "ax_graph_create");
    tb_check(ax_graph_input(g, "x", 4, (int64_t[]){batch, 1, SIDE, SIDE}, x), "input");
    tb_check(ax_graph_labels(g, "y", batch, y), "labels");
    tb_check(ex_mnist_cnn_layers(g, *x, EX_MNIST_CNN_DROPOUT, &n), "the CNN's layers");
    tb_check(ax_graph_cross_entropy(g, "loss", n, *y, &n), "loss");
    tb_check(ax_graph_compile(g, n), "ax_graph_compile");
    *g_out = g;
}

int main(int argc, char **argv) {
    static const train_bench bench = {
        .name = "bench_train_cnn",
        .model = "MNIST CNN (conv 32-64 3x3, batch norm, max pool 2, dropout 0.5, dense "
                 "128-10), cross-entropy, Adam",
        .script = "bench/pytorch/train_cnn.py",
        .batches = {32, 128},
        .classes = CLASSES,
        .build = build,
    };
    return train_bench_main(&bench, argc, argv);
}
