/* mnist_cnn: trains a small convolutional network on the 60,000 MNIST training images,
 *     conv1 32 3x3 (pad 1) - bn1 - ReLU - maxpool 2 - conv2 64 3x3 (pad 1) - bn2 - ReLU -
 *     maxpool 2 - dropout - fc1 128 - ReLU - fc2 10,
 * evaluates it on the 10,000 test images after every epoch (eval mode: running batch norm
 * statistics, no dropout), saves a safetensors checkpoint that PyTorch's equivalent module
 * loads strictly (examples/check_mnist_cnn_torch.py), and ends with "test accuracy: 0.9xyz".
 *
 * Run `mnist_cnn --help` for the options; they are mnist_mlp's (examples/common/). The data
 * are found by ax_data_dir (--data DIR, else $AXON_DATA, else ../shared/data). */
#include <stdio.h>

#include "axon.h"
#include "common/classifier.h"
#include "common/mnist_cnn_model.h"
#include "common/options.h"
#include "common/report.h"

enum { CHANNELS = 1, SIDE = 28, CLASSES = 10 };

/* OpenBLAS threads for the CPU backend unless --threads says otherwise (README.md: measured
 * on a shared 2-core machine). */
enum { DEFAULT_BLAS_THREADS = 1 };

/* ---------------------------------------------------------------- options */

/* mnist_cnn's own options: the drop probability before fc1 (--dropout), and how many of the
 * training images to train on (--train-images: the first N, for a quick run). */
static float dropout = EX_MNIST_CNN_DROPOUT;
static int train_images = 60000;

static const ex_option own_options[] = {
    {"dropout", "P", EX_FLOAT, &dropout, 0.0, 0.99, NULL,
     "drop probability before fc1\n(default 0.5)"},
    {"train-images", "N", EX_INT, &train_images, 1, 60000, NULL,
     "train on the first N training images only\n(default 60000: all)"},
};

static const ex_program program = {
    .name = "mnist_cnn",
    .summary = "Trains a two-layer CNN (3x3 convolutions, batch norm, max pooling, dropout,\n"
               "two dense layers) on MNIST and reports its test accuracy.",
    .epochs_help = "passes over the 60k training images",
    .dataset = "mnist",
    .max_batch = 60000,
    .default_threads = DEFAULT_BLAS_THREADS,
    .defaults = {.device = AX_DEVICE_AUTO, .epochs = 12, .batch = 128, .lr = -1.0f,
                 .cosine = 1, .optimizer = "adam", .seed = 42,
                 .save = "mnist_cnn.safetensors", .threads = -1},
    .own = own_options,
    .n_own = (int)(sizeof own_options / sizeof own_options[0]),
};

/* ---------------------------------------------------------------- model */

/* x [batch, 1, 28, 28] -> the CNN (common/mnist_cnn_model.h) -> logits [batch, 10], and a
 * cross-entropy loss against the labels y. */
static ex_classifier build_model(ax_ctx *ctx, const ex_common *o) {
    ex_classifier m = {.classes = CLASSES};
    EX_TRY(ax_graph_create(ctx, o->seed, &m.g));
    EX_TRY(ax_graph_input(m.g, "x", 4, (int64_t[]){o->batch, CHANNELS, SIDE, SIDE}, &m.x));
    EX_TRY(ax_graph_labels(m.g, "y", o->batch, &m.y));
    EX_TRY(ex_mnist_cnn_layers(m.g, m.x, dropout, &m.logits));
    EX_TRY(ax_graph_cross_entropy(m.g, "loss", m.logits, m.y, &m.loss));
    EX_TRY(ax_graph_compile(m.g, m.loss));
    return m;
}

/* ---------------------------------------------------------------- main */

static void describe(void) {
    printf("model: conv 32-64 3x3, batch norm, max pool 2, dropout %.2f, dense 128-10\n",
           (double)dropout);
}

int main(int argc, char **argv) {
    static const ex_mnist_example example = {
        .program = &program,
        .image_rank = 3,
        .image_shape = {CHANNELS, SIDE, SIDE},
        .train_images = &train_images,
        .build = build_model,
        .describe = describe,
    };
    return ex_mnist_main(&example, argc, argv);
}
