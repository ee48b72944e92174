/* mnist_mlp: trains a 784-256-128-10 ReLU MLP with dropout on the 60,000 MNIST training images,
 * evaluates it on the 10,000 test images after every epoch (eval mode: no dropout), saves a
 * safetensors checkpoint, and ends with "test accuracy: 0.9xyz".
 *
 * Run `mnist_mlp --help` for the options. The data are found by ax_data_dir (--data DIR, else
 * $AXON_DATA, else ../shared/data from here or a parent folder). The same --seed on the CPU
 * gives the same numbers on every run with the same BLAS kernel and thread count (printed at
 * the start). examples/plot_mnist_log.py draws the --log CSV. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon.h"
#include "common/options.h"
#include "common/progress.h"
#include "common/report.h"
#include "common/save_target.h"
#include "common/train_log.h"
#include "common/training.h"

enum { PIXELS = 784, HIDDEN1 = 256, HIDDEN2 = 128, CLASSES = 10 };

/* OpenBLAS threads for the CPU backend unless --threads says otherwise: one, as measured in
 * README.md (faster than one per core on a shared 2-core machine, and the same numbers on
 * every machine with the same kernel). */
enum { DEFAULT_BLAS_THREADS = 1 };

/* The graph and the nodes the loop touches. */
typedef struct model {
    ax_graph *g;
    ax_node *x, *y, *logits, *loss;
} model;

/* A data split in host memory, as ax_mnist_load returns it. */
typedef struct dataset {
    float *images; /* [count, 784] in [0, 1] */
    int32_t *labels;
    int64_t count;
} dataset;

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
static model build_model(ax_ctx *ctx, const ex_common *o) {
    model m;
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

/* ---------------------------------------------------------------- training and evaluation */

/* The class with the largest of CLASSES logits (the first of ties). */
static int predicted_class(const float *z) {
    int best = 0;
    for (int c = 1; c < CLASSES; c++)
        if (z[c] > z[best])
            best = c;
    return best;
}

/* Summed cross-entropy (log-sum-exp less the label's logit, in double) over `rows` rows of
 * logits; adds the rows predicted right to *correct. */
static double score_rows(const float *logits, const int32_t *labels, int64_t rows,
                         int64_t *correct) {
    double loss = 0.0;
    for (int64_t i = 0; i < rows; i++) {
        const float *z = logits + i * CLASSES;
        int best = predicted_class(z);
        double sum = 0.0;
        for (int c = 0; c < CLASSES; c++)
            sum += exp((double)z[c] - (double)z[best]);
        loss += (double)z[best] + log(sum) - (double)z[labels[i]];
        *correct += best == labels[i];
    }
    return loss;
}

/* One pass over the training set in shuffled mini-batches: the mean training loss and the
 * accuracy of the training batches as they were trained (dropout on). clock->done_steps
 * counts steps over all epochs (for the schedule, the ETA and the log). */
static epoch_score run_epoch(model *m, ax_optimizer *opt, const ax_lr_schedule *schedule,
                             ax_data_loader *loader, int epoch, int epochs, int batch,
                             run_clock *clock, train_log *log) {
    ax_param_list params;
    EX_TRY(ax_graph_params(m->g, &params));
    EX_TRY(ax_graph_set_training(m->g, 1));
    float *logits = ex_malloc((size_t)batch * CLASSES * sizeof *logits);
    int32_t *labels = ex_malloc((size_t)batch * sizeof *labels);
    progress p = {epoch, epochs, 0, ax_data_loader_batches(loader), 0, 0, 0, 0, 0, 0};
    int64_t examples = 0, correct = 0, rows;
    double started = progress_now(), last_draw = 0.0, loss_sum = 0.0;
    while (1) {
        EX_TRY(ax_data_loader_next(loader, ax_graph_value(m->g, m->x), ax_graph_value(m->g, m->y),
                                &rows));
        if (rows == 0)
            break; /* the end of the epoch */
        float lr = ax_lr_schedule_value(schedule, clock->done_steps);
        EX_TRY(ax_graph_zero_grad(m->g));
        EX_TRY(ax_graph_forward(m->g));
        EX_TRY(ax_graph_backward(m->g));
        EX_TRY(ax_optimizer_set_lr(opt, lr));
        EX_TRY(ax_optimizer_step(opt, params.n, params.values, params.grads));
        float loss;
        EX_TRY(ax_graph_loss(m->g, &loss));
        EX_TRY(ax_tensor_to_host(ax_graph_value(m->g, m->logits), logits,
                              (size_t)rows * CLASSES * sizeof *logits));
        EX_TRY(ax_tensor_to_host(ax_graph_value(m->g, m->y), labels, (size_t)rows * sizeof *labels));
        for (int64_t i = 0; i < rows; i++)
            correct += predicted_class(logits + i * CLASSES) == labels[i];
        p.step++;
        clock->done_steps++;
        examples += rows;
        loss_sum += loss;
        train_log_step(log, epoch, clock->done_steps, loss);
        p.loss = loss_sum / (double)p.step;
        p.accuracy = (double)correct / (double)examples;
        p.lr = lr;
        progress_show(&p, examples, started, clock, &last_draw);
    }
    progress_end_epoch();
    free(logits);
    free(labels);
    epoch_score r = {loss_sum / (double)(p.step > 0 ? p.step : 1),
                     examples > 0 ? (double)correct / (double)examples : 0.0};
    return r;
}

/* Loss and accuracy over a dataset in eval mode, a batch at a time. */
static epoch_score evaluate(model *m, const dataset *d, int batch) {
    EX_TRY(ax_graph_set_training(m->g, 0));
    float *out = ex_malloc((size_t)batch * CLASSES * sizeof *out);
    int64_t correct = 0;
    double loss = 0.0;
    for (int64_t start = 0; start < d->count; start += batch) {
        int64_t rows = d->count - start < batch ? d->count - start : batch;
        EX_TRY(ax_graph_set_batch(m->g, rows));
        EX_TRY(ax_tensor_set_from_host(ax_graph_value(m->g, m->x), d->images + start * PIXELS,
                                    (size_t)rows * PIXELS * sizeof(float)));
        EX_TRY(ax_graph_forward(m->g));
        EX_TRY(ax_tensor_to_host(ax_graph_value(m->g, m->logits), out,
                              (size_t)rows * CLASSES * sizeof(float)));
        loss += score_rows(out, d->labels + start, rows, &correct);
    }
    free(out);
    EX_TRY(ax_graph_set_training(m->g, 1));
    epoch_score r = {loss / (double)d->count, (double)correct / (double)d->count};
    return r;
}

static dataset load_split(const char *dir, int train) {
    dataset d;
    EX_TRY(ax_mnist_load(dir, train, &d.images, &d.labels, &d.count));
    return d;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
    ex_common o = ex_options_parse_or_exit(&program, argc, argv);

    /* Everything the user named is checked before the data are loaded and hours are spent. */
    char why[8400];
    if (o.epochs > 0 && save_target_check(o.save, why, sizeof why) != 0)
        ex_fail("--save: %s", why);
    train_log log;
    if (train_log_open(&log, o.log) != 0)
        ex_fail("cannot write the log %s: %s", o.log, strerror(errno));
    char dir[4096];
    if (ax_data_dir(o.data, program.dataset, dir, sizeof dir) != AX_OK)
        ex_fail("%s", ax_last_error());
    dataset train = load_split(dir, 1), test = load_split(dir, 0);
    printf("MNIST from %s: %lld training and %lld test images\n", dir, (long long)train.count,
           (long long)test.count);

    ax_ctx *ctx;
    ax_device_info info;
    EX_TRY(ax_ctx_create(o.device, 0, &ctx));
    EX_TRY(ax_ctx_device_info(ctx, &info));
    printf("device: %s (%s)\n", info.name, info.kind == AX_DEVICE_CUDA ? "cuda" : "cpu");
    if (info.kind == AX_DEVICE_CPU)
        ex_report_blas(o.threads, program.default_threads);

    model m = build_model(ctx, &o);
    if (o.load) {
        EX_TRY(ax_graph_load(m.g, o.load));
        printf("loaded %s\n", o.load);
    }
    printf("model: 784-256-128-10 ReLU MLP, dropout %.2f\n", (double)dropout);
    int status = 0;
    if (o.epochs == 0) {
        epoch_score s = evaluate(&m, &test, o.batch);
        printf("test loss %.4f\ntest accuracy: %.4f\n", s.loss, s.accuracy);
    } else {
        ax_optimizer *opt = ex_create_optimizer(ctx, &o);
        float lr;
        EX_TRY(ax_optimizer_get_lr(opt, &lr));
        printf("training: %s, lr %g (%s), batch %d, %d epoch%s, seed %llu\n", o.optimizer,
               (double)lr, o.cosine ? "cosine" : "constant", o.batch, o.epochs,
               o.epochs == 1 ? "" : "s", (unsigned long long)o.seed);
        ax_data_loader *loader;
        EX_TRY(ax_data_loader_create(train.images, 2, (int64_t[]){train.count, PIXELS},
                                     train.labels, o.batch, /*shuffle=*/1, /*drop_last=*/0,
                                     o.seed + 1, &loader));
        ax_lr_schedule schedule;
        run_clock clock = {progress_now(), (int64_t)o.epochs * ax_data_loader_batches(loader),
                           0};
        if (o.cosine)
            EX_TRY(ax_lr_schedule_cosine(lr, clock.total_steps, 0.0f, &schedule));
        else
            EX_TRY(ax_lr_schedule_constant(lr, &schedule));
        epoch_score tested = {0, 0};
        for (int epoch = 1; epoch <= o.epochs; epoch++) {
            double t0 = progress_now();
            epoch_score trained = run_epoch(&m, opt, &schedule, loader, epoch, o.epochs,
                                            o.batch, &clock, &log);
            tested = evaluate(&m, &test, o.batch);
            train_log_flush(&log, tested.accuracy);
            progress_report_epoch(epoch, o.epochs, trained, tested,
                                  ax_lr_schedule_value(&schedule, clock.done_steps - 1),
                                  progress_now() - t0, &clock);
        }
        printf("trained %d epoch%s in %.1f s\n", o.epochs, o.epochs == 1 ? "" : "s",
               progress_now() - clock.started);
        status = ex_save_or_rescue(m.g, o.save) == 0 ? 0 : 1;
        printf("test accuracy: %.4f\n", tested.accuracy);
        ax_data_loader_destroy(loader);
        ax_optimizer_destroy(opt);
    }
    if (train_log_close(&log) != 0)
        fprintf(stderr, "mnist_mlp: writing the log %s failed\n", o.log);
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
    ax_mnist_free(train.images, train.labels);
    ax_mnist_free(test.images, test.labels);
    return status;
}
