/* The training loop of the classifier examples. */
#include "classifier.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "training.h"

/* One split of MNIST, each image shaped [image_rank dims]. */
static ex_dataset mnist_split(const char *dir, int train, int image_rank,
                              const int64_t *image_shape) {
    ex_dataset d;
    int64_t count, size = 1;
    if (image_rank < 1 || image_rank > 7)
        ex_fail("an MNIST image of rank %d", image_rank);
    for (int i = 0; i < image_rank; i++)
        size *= image_shape[i];
    if (size != AX_MNIST_PIXELS)
        ex_fail("an MNIST image shaped to %lld values, not %d", (long long)size,
                AX_MNIST_PIXELS);
    EX_TRY(ax_mnist_load(dir, train, &d.examples, &d.labels, &count));
    d.rank = 1 + image_rank;
    d.shape[0] = count;
    memcpy(d.shape + 1, image_shape, (size_t)image_rank * sizeof *image_shape);
    return d;
}

void ex_mnist_load(const char *dir, int image_rank, const int64_t *image_shape, ex_dataset *train,
                   ex_dataset *test) {
    *train = mnist_split(dir, 1, image_rank, image_shape);
    *test = mnist_split(dir, 0, image_rank, image_shape);
    printf("MNIST from %s: %lld training and %lld test images\n", dir,
           (long long)train->shape[0], (long long)test->shape[0]);
}

void ex_dataset_free(ex_dataset *d) {
    ax_mnist_free(d->examples, d->labels);
    d->examples = NULL;
    d->labels = NULL;
}

/* Values per example. */
static int64_t example_size(const ex_dataset *d) {
    int64_t n = 1;
    for (int i = 1; i < d->rank; i++)
        n *= d->shape[i];
    return n;
}

/* The class with the largest of `classes` logits (the first of ties). */
static int predicted_class(const float *z, int classes) {
    int best = 0;
    for (int c = 1; c < classes; c++)
        if (z[c] > z[best])
            best = c;
    return best;
}

/* Summed cross-entropy (log-sum-exp less the label's logit, in double) over `rows` rows of
 * logits; adds the rows predicted right to *correct. */
static double score_rows(const float *logits, int classes, const int32_t *labels, int64_t rows,
                         int64_t *correct) {
    double loss = 0.0;
    for (int64_t i = 0; i < rows; i++) {
        const float *z = logits + i * classes;
        int best = predicted_class(z, classes);
        double sum = 0.0;
        for (int c = 0; c < classes; c++)
            sum += exp((double)z[c] - (double)z[best]);
        loss += (double)z[best] + log(sum) - (double)z[labels[i]];
        *correct += best == labels[i];
    }
    return loss;
}

/* One pass over the training set in shuffled mini-batches: the mean training loss and the
 * accuracy of the training batches as they were trained (dropout on). clock->done_steps
 * counts steps over all epochs (for the schedule, the ETA and the log). */
static epoch_score run_epoch(ex_classifier *m, ax_optimizer *opt, const ax_lr_schedule *schedule,
                             ax_data_loader *loader, int epoch, int epochs, int batch,
                             run_clock *clock, train_log *log) {
    ax_param_list params;
    EX_TRY(ax_graph_params(m->g, &params));
    EX_TRY(ax_graph_set_training(m->g, 1));
    float *logits = ex_malloc((size_t)batch * (size_t)m->classes * sizeof *logits);
    int32_t *labels = ex_malloc((size_t)batch * sizeof *labels);
    progress p = {epoch, epochs, 0, ax_data_loader_batches(loader), 0, 0, 0, 0, 0, 0};
    int64_t examples = 0, correct = 0, rows;
    double started = progress_now(), last_draw = 0.0, loss_sum = 0.0;
    while (1) {
        EX_TRY(ax_data_loader_next(loader, ax_graph_value(m->g, m->x),
                                   ax_graph_value(m->g, m->y), &rows));
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
                                 (size_t)rows * (size_t)m->classes * sizeof *logits));
        EX_TRY(ax_tensor_to_host(ax_graph_value(m->g, m->y), labels,
                                 (size_t)rows * sizeof *labels));
        for (int64_t i = 0; i < rows; i++)
            correct += predicted_class(logits + i * m->classes, m->classes) == labels[i];
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

epoch_score ex_evaluate(ex_classifier *m, const ex_dataset *d, int batch) {
    EX_TRY(ax_graph_set_training(m->g, 0));
    int64_t size = example_size(d), count = d->shape[0];
    float *out = ex_malloc((size_t)batch * (size_t)m->classes * sizeof *out);
    int64_t correct = 0;
    double loss = 0.0;
    for (int64_t start = 0; start < count; start += batch) {
        int64_t rows = count - start < batch ? count - start : batch;
        EX_TRY(ax_graph_set_batch(m->g, rows));
        EX_TRY(ax_tensor_set_from_host(ax_graph_value(m->g, m->x), d->examples + start * size,
                                       (size_t)(rows * size) * sizeof(float)));
        EX_TRY(ax_graph_forward(m->g));
        EX_TRY(ax_tensor_to_host(ax_graph_value(m->g, m->logits), out,
                                 (size_t)rows * (size_t)m->classes * sizeof(float)));
        loss += score_rows(out, m->classes, d->labels + start, rows, &correct);
    }
    free(out);
    EX_TRY(ax_graph_set_training(m->g, 1));
    epoch_score r = {loss / (double)count, (double)correct / (double)count};
    return r;
}

int ex_run_classifier(ax_ctx *ctx, ex_classifier *m, const ex_common *o, const ex_dataset *train,
                      const ex_dataset *test, train_log *log) {
    if (o->epochs == 0) {
        epoch_score s = ex_evaluate(m, test, o->batch);
        printf("test loss %.4f\ntest accuracy: %.4f\n", s.loss, s.accuracy);
        return 0;
    }
    ax_optimizer *opt = ex_create_optimizer(ctx, o);
    float lr;
    EX_TRY(ax_optimizer_get_lr(opt, &lr));
    printf("training: %s, lr %g (%s), batch %d, %d epoch%s, seed %llu\n", o->optimizer,
           (double)lr, o->cosine ? "cosine" : "constant", o->batch, o->epochs,
           o->epochs == 1 ? "" : "s", (unsigned long long)o->seed);
    ax_data_loader *loader;
    EX_TRY(ax_data_loader_create(train->examples, train->rank, train->shape, train->labels,
                                 o->batch, /*shuffle=*/1, /*drop_last=*/0, o->seed + 1,
                                 &loader));
    ax_lr_schedule schedule;
    run_clock clock = {progress_now(), (int64_t)o->epochs * ax_data_loader_batches(loader), 0};
    if (o->cosine)
        EX_TRY(ax_lr_schedule_cosine(lr, clock.total_steps, 0.0f, &schedule));
    else
        EX_TRY(ax_lr_schedule_constant(lr, &schedule));
    epoch_score tested = {0, 0};
    for (int epoch = 1; epoch <= o->epochs; epoch++) {
        double t0 = progress_now();
        epoch_score trained =
            run_epoch(m, opt, &schedule, loader, epoch, o->epochs, o->batch, &clock, log);
        tested = ex_evaluate(m, test, o->batch);
        train_log_flush(log, tested.accuracy);
        progress_report_epoch(epoch, o->epochs, trained, tested,
                              ax_lr_schedule_value(&schedule, clock.done_steps - 1),
                              progress_now() - t0, &clock);
    }
    printf("trained %d epoch%s in %.1f s\n", o->epochs, o->epochs == 1 ? "" : "s",
           progress_now() - clock.started);
    int status = ex_save_or_rescue(m->g, o->save) == 0 ? 0 : 1;
    printf("test accuracy: %.4f\n", tested.accuracy);
    ax_data_loader_destroy(loader);
    ax_optimizer_destroy(opt);
    return status;
}

int ex_mnist_main(const ex_mnist_example *e, int argc, char **argv) {
    const ex_program *program = e->program;
    ex_common o = ex_options_parse_or_exit(program, argc, argv);

    /* Everything the user named is checked before the data are loaded and time is spent. */
    train_log log;
    char dir[4096];
    ex_start(&o, program->dataset, &log, dir, sizeof dir);
    ex_dataset train, test;
    ex_mnist_load(dir, e->image_rank, e->image_shape, &train, &test);
    if (e->train_images && *e->train_images < train.shape[0]) {
        train.shape[0] = *e->train_images;
        printf("training on the first %d images (--train-images)\n", *e->train_images);
    }

    ax_ctx *ctx = ex_open_device(&o, program->default_threads);
    ex_classifier m = e->build(ctx, &o);
    ex_load_checkpoint(m.g, &o);
    e->describe();
    int status = ex_run_classifier(ctx, &m, &o, &train, &test, &log);
    if (train_log_close(&log) != 0)
        fprintf(stderr, "%s: writing the log %s failed\n", program->name, o.log);
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
    ex_dataset_free(&train);
    ex_dataset_free(&test);
    return status;
}
