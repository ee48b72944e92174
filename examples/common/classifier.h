/* Training and evaluating a classifier, as the MNIST examples do: shuffled mini-batches, the
 * optimizer and schedule of the command line, the progress line, the --log CSV, the line after
 * each epoch, the checkpoint, and "test accuracy: 0.xxxx" at the end. An example builds its
 * graph (input x, labels y, logits, cross-entropy loss) and hands it here. */
#ifndef EXAMPLES_CLASSIFIER_H
#define EXAMPLES_CLASSIFIER_H

#include <stdint.h>

#include "axon.h"
#include "options.h"
#include "progress.h"
#include "train_log.h"

/* A compiled graph and the nodes the loop touches: x [batch, ...] f32, y [batch] labels,
 * logits [batch, classes], the scalar loss. */
typedef struct ex_classifier {
    ax_graph *g;
    ax_node *x, *y, *logits, *loss;
    int classes;
} ex_classifier;

/* A data split in host memory: examples [shape[0], shape[1..rank-1]] f32 and labels
 * [shape[0]] i32 in 0..classes-1. */
typedef struct ex_dataset {
    float *examples;
    int32_t *labels;
    int rank;
    int64_t shape[8];
} ex_dataset;

/* MNIST's training and test splits from dir, each image shaped as image_rank and image_shape
 * say ({784}, or {1, 28, 28}), and a line saying where they came from. Free each with
 * ex_dataset_free. A failure ends the program (report.h). */
void ex_mnist_load(const char *dir, int image_rank, const int64_t *image_shape, ex_dataset *train,
                   ex_dataset *test);
void ex_dataset_free(ex_dataset *d);

/* Loss (mean cross-entropy, summed in double) and accuracy over d in eval mode, `batch`
 * examples at a time; leaves the graph in training mode. */
epoch_score ex_evaluate(ex_classifier *m, const ex_dataset *d, int batch);

/* With o->epochs == 0: evaluates the test set and prints its loss and accuracy. Otherwise
 * trains o->epochs epochs over train (the line "training: ...", the progress, a line per
 * epoch with the test set's score, the log), saves to o->save (ex_save_or_rescue) and prints
 * "test accuracy: 0.xxxx". Returns the exit status: 0, or 1 when the checkpoint could not be
 * written. */
int ex_run_classifier(ax_ctx *ctx, ex_classifier *m, const ex_common *o, const ex_dataset *train,
                      const ex_dataset *test, train_log *log);

/* An MNIST classifier example: its program (options), the shape of an image, its graph and
 * the line that describes it. */
typedef struct ex_mnist_example {
    const ex_program *program;
    int image_rank;            /* 1 with image_shape {784}, 3 with {1, 28, 28} */
    int64_t image_shape[3];
    const int *train_images;   /* NULL, or (read after parsing) how many of the training
                                  images to keep: the first N */
    ex_classifier (*build)(ax_ctx *ctx, const ex_common *o); /* compiled; failures end it */
    void (*describe)(void);    /* prints the line "model: ..." */
} ex_mnist_example;

/* The main of an MNIST classifier example: parses the options, checks what the user named
 * (ex_start), loads MNIST, opens the device, builds the graph, loads --load, describes the
 * model and runs ex_run_classifier. Returns the exit status. */
int ex_mnist_main(const ex_mnist_example *e, int argc, char **argv);

#endif
