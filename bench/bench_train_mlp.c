/* bench_train_mlp: milliseconds per training step of the MNIST MLP (784 -> 256 -> ReLU ->
 * dropout 0.2 -> 128 -> ReLU -> dropout 0.2 -> 10, cross-entropy, Adam lr 1e-3), the model of
 * examples/mnist_mlp, at batch 64 and 256, on the CPU and, when one works, the GPU.
 *
 * The method (train_bench.h): a step is zero_grad + forward + backward + Adam step on random
 * inputs and labels, each timed alone after a synchronize; the median after warm-up steps.
 * bench/pytorch/train_mlp.py times the same model in PyTorch and writes a CSV; pass it with
 * --pytorch FILE for the PyTorch column and the ratio axon / PyTorch (below 1: axon is faster).
 *
 * Usage: bench_train_mlp [--pytorch FILE] [--steps N] [--warmup N] [--cpu-only] [--quick]
 */
#include "axon.h"
#include "train_bench.h"

enum { IN = 784, H1 = 256, H2 = 128, CLASSES = 10 };

/* The model of examples/mnist_mlp with its loss, compiled for `batch` rows. */
static void build(ax_ctx *ctx, int batch, ax_graph **g_out, ax_node **x, ax_node **y) {
    ax_graph *g;
    ax_node *n;
    tb_check(ax_graph_create(ctx, 1, &g), "ax_graph_create");
    tb_check(ax_graph_input(g, "x", 2, (int64_t[]){batch, IN}, x), "input");
    tb_check(ax_graph_labels(g, "y", batch, y), "labels");
    tb_check(ax_graph_dense(g, "fc1", *x, H1, &n), "fc1");
    tb_check(ax_graph_activation(g, "relu1", AX_ACT_RELU, 0.0f, n, &n), "relu1");
    tb_check(ax_graph_dropout(g, "drop1", n, 0.2f, &n), "drop1");
    tb_check(ax_graph_dense(g, "fc2", n, H2, &n), "fc2");
    tb_check(ax_graph_activation(g, "relu2", AX_ACT_RELU, 0.0f, n, &n), "relu2");
    tb_check(ax_graph_dropout(g, "drop2", n, 0.2f, &n), "drop2");
    tb_check(ax_graph_dense(g, "fc3", n, CLASSES, &n), "fc3");
    tb_check(ax_graph_cross_entropy(g, "loss", n, *y, &n), "loss");
    tb_check(ax_graph_compile(g, n), "ax_graph_compile");
    *g_out = g;
}

int main(int argc, char **argv) {
    static const train_bench bench = {
        .name = "bench_train_mlp",
        .model = "784-256-128-10 MLP, ReLU, dropout 0.2, cross-entropy, Adam",
        .script = "bench/pytorch/train_mlp.py",
        .batches = {64, 256},
        .classes = CLASSES,
        .build = build,
    };
    return train_bench_main(&bench, argc, argv);
}
