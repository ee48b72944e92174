/* mnist_mlp: trains a 784-256-128-10 ReLU MLP with dropout on the 60,000 MNIST training images,
 * evaluates it on the 10,000 test images after every epoch (eval mode: no dropout), saves a
 * safetensors checkpoint, and ends with "test accuracy: 0.9xyz".
 *
 * Run `mnist_mlp --help` for the options. The data are found by ax_data_dir (--data DIR, else
 * $AXON_DATA, else ../shared/data from here or a parent folder). The same --seed on the CPU
 * gives the same numbers on every run with the same BLAS kernel and thread count (printed at
 * the start). examples/plot_mnist_log.py draws the --log CSV. */
#include <stdio.h>

#include "axon.h"
#include "common/classifier.h"
#include "common/options.h"
#include "common/report.h"

enum { PIXELS = 784, HIDDEN1 = 256, HIDDEN2 = 128, CLASSES = 10 };

/* OpenBLAS threads for the CPU backend unless --threads says otherwise: one, as measured in
 * README.md (faster than one per core on a shared 2-core machine, and the same numbers on
 * every machine with the same kernel). */
enum { DEFAULT_BLAS_THREADS = 1 };

/* ---------------------------------------------------------------- options */

/* The drop probability after each hidden layer (--dropout): mnist_mlp's own option. */
static float dropout = 0.2f;

static const ex_option own_options[] = {
    {"dropout", "P", EX_FLOAT, &dropout, 0.0, 0.99, NULL,
     "drop probability after each hidden layer\n(default 0.2)"},
};

static const ex_program program = {
    .name = "mnist_mlp",
    .summary = "Trains a 784-256-128-10 ReLU MLP with dropout on MNIST and reports its\n"
               "test accuracy.",
    .epochs_help = "passes over the 60k training images",
    .dataset = "mnist",
    .max_batch = 60000,
    .default_threads = DEFAULT_BLAS_THREADS,
    .defaults = {.device = AX_DEVICE_AUTO, .epochs = 15, .batch = 256, .lr = -1.0f,
                 .cosine = 1, .optimizer = "adam", .seed = 42,
                 .save = "mnist_mlp.safetensors", .threads = -1},
    .own = own_options,
    .n_own = (int)(sizeof own_options / sizeof own_options[0]),
};

/* ---------------------------------------------------------------- model */

/* x [batch, 784] -> fc1 256 -> ReLU -> dropout -> fc2 128 -> ReLU -> dropout -> fc3 10, and a
 * cross-entropy loss against the labels y. Parameters fc{1,2,3}.{weight,bias}, as PyTorch's
 * nn.Linear names them in a module with attributes fc1, fc2, fc3. */
static ex_classifier build_model(ax_ctx *ctx, const ex_common *o) {
    ex_classifier m = {.classes = CLASSES};
    ax_node *h;
    EX_TRY(ax_graph_create(ctx, o->seed, &m.g));
    EX_TRY(ax_graph_input(m.g, "x", 2, (int64_t[]){o->batch, PIXELS}, &m.x));
    EX_TRY(ax_graph_labels(m.g, "y", o->batch, &m.y));
    EX_TRY(ax_graph_dense(m.g, "fc1", m.x, HIDDEN1, &h));
    EX_TRY(ax_graph_activation(m.g, "relu1", AX_ACT_RELU, 0.0f, h, &h));
    EX_TRY(ax_graph_dropout(m.g, "drop1", h, dropout, &h));
    EX_TRY(ax_graph_dense(m.g, "fc2", h, HIDDEN2, &h));
    EX_TRY(ax_graph_activation(m.g, "relu2", AX_ACT_RELU, 0.0f, h, &h));
    EX_TRY(ax_graph_dropout(m.g, "drop2", h, dropout, &h));
    EX_TRY(ax_graph_dense(m.g, "fc3", h, CLASSES, &m.logits));
    EX_TRY(ax_graph_cross_entropy(m.g, "loss", m.logits, m.y, &m.loss));
    EX_TRY(ax_graph_compile(m.g, m.loss));
    return m;
}

/* ---------------------------------------------------------------- main */

static void describe(void) {
    printf("model: 784-256-128-10 ReLU MLP, dropout %.2f\n", (double)dropout);
}

int main(int argc, char **argv) {
    static const ex_mnist_example example = {
        .program = &program,
        .image_rank = 1,
        .image_shape = {PIXELS},
        .train_images = NULL,
        .build = build_model,
        .describe = describe,
    };
    return ex_mnist_main(&example, argc, argv);
}
