/* mnist_mlp: trains a 784-256-128-10 ReLU MLP with dropout on the 60,000 MNIST training images,
 * evaluates it on the 10,000 test images after every epoch (eval mode: no dropout), saves a
 * safetensors checkpoint, and ends with "test accuracy: 0.9xyz".
 *
 * Run `mnist_mlp --help` for the options. The data are found by ax_data_dir (--data DIR, else
 * $AXON_DATA, else ../shared/data from here or a parent folder). The same --seed on the CPU
 * gives the same numbers on every run with the same BLAS kernel and thread count (printed at
 * the start). examples/plot_mnist_log.py draws the --log CSV. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h> /* OpenBLAS: its kernel and thread count, for the CPU backend */

#include "axon.h"
#include "progress.h"
#include "save_target.h"

#define TRY(call)                                                                              \
    do {                                                                                       \
        ax_status st_ = (call);                                                                \
        if (st_ != AX_OK) {                                                                    \
            fprintf(stderr, "mnist_mlp: %s: %s\n", ax_status_str(st_), ax_last_error());      \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

enum { PIXELS = 784, HIDDEN1 = 256, HIDDEN2 = 128, CLASSES = 10 };

/* OpenBLAS threads for the CPU backend unless --threads says otherwise: one, as measured in
 * README.md (faster than one per core on a shared 2-core machine, and the same numbers on
 * every machine with the same kernel). */
enum { DEFAULT_BLAS_THREADS = 1 };

typedef struct options {
    ax_device_kind device;
    int epochs;
    int batch;
    float lr; /* < 0: the optimizer's default below */
    const char *optimizer;
    int cosine; /* decay the learning rate to 0 on a cosine over the run */
    float dropout;
    uint64_t seed;
    const char *data;
    const char *save;
    const char *load;
    const char *log;
    int threads; /* OpenBLAS threads; 0: OpenBLAS's own default; -1: DEFAULT_BLAS_THREADS */
} options;

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

/* The --log CSV. The row of a step is held back until the next step, so that the last step
 * of an epoch carries the epoch's test accuracy. */
typedef struct train_log {
    FILE *f;
    int pending;
    int epoch;
    int64_t step;
    float loss;
} train_log;

/* ---------------------------------------------------------------- options */

static void usage(FILE *f) {
    fprintf(f,
            "usage: mnist_mlp [options]\n"
            "Trains a 784-256-128-10 ReLU MLP with dropout on MNIST and reports its\n"
            "test accuracy.\n\n"
            "  --device auto|cpu|cuda  where to run (default auto: the GPU when one works)\n"
            "  --epochs N              passes over the 60k training images (default 15;\n"
            "                          0 with --load only evaluates)\n"
            "  --batch N               mini-batch size (default 256)\n"
            "  --lr X                  learning rate (default 1e-3 for adam, adamw, rmsprop;\n"
            "                          1e-2 for adagrad; 0.1 for sgd; 0.05 for momentum)\n"
            "  --schedule NAME         cosine|constant: cosine decays the learning rate to 0\n"
            "                          over the run, step by step (default cosine)\n"
            "  --optimizer NAME        sgd|momentum|adam|adamw|rmsprop|adagrad (default\n"
            "                          adam; momentum is SGD with momentum 0.9)\n"
            "  --dropout P             drop probability after each hidden layer\n"
            "                          (default 0.2)\n"
            "  --seed N                initialisation, dropout and shuffling (default 42)\n"
            "  --data DIR              folder holding mnist/ (default: $AXON_DATA, else\n"
            "                          ../shared/data from here or a parent folder); a\n"
            "                          folder named here or in $AXON_DATA must hold it\n"
            "  --save PATH             checkpoint to write after training (default\n"
            "                          mnist_mlp.safetensors here; an existing file at PATH\n"
            "                          is overwritten, a device or folder refused)\n"
            "  --load PATH             checkpoint to start from\n"
            "  --log FILE              CSV of epoch,step,loss,accuracy (loss every step,\n"
            "                          accuracy at the end of each epoch); draw it with\n"
            "                          python3 examples/plot_mnist_log.py FILE [OUT.png]\n"
            "  --threads N             OpenBLAS threads on the CPU (default %d; 0: OpenBLAS's\n"
            "                          default, $OPENBLAS_NUM_THREADS or one per core)\n"
            "  --help                  this message\n",
            DEFAULT_BLAS_THREADS);
}

static void bad_option(const char *what, const char *value) {
    fprintf(stderr, "mnist_mlp: bad %s '%s'\n\n", what, value ? value : "(missing)");
    usage(stderr);
    exit(2);
}

static long parse_long(const char *option, const char *s, long min, long max) {
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || *s == '\0' || *end != '\0' || v < min || v > max)
        bad_option(option, s);
    return v;
}

static float parse_float(const char *option, const char *s, float min, float max) {
    char *end;
    float v = s ? strtof(s, &end) : 0.0f;
    if (!s || *s == '\0' || *end != '\0' || !(v >= min && v <= max))
        bad_option(option, s);
    return v;
}

static options parse_args(int argc, char **argv) {
    options o = {AX_DEVICE_AUTO, 15, 256, -1.0f, "adam", 1, 0.2f, 42,
                 NULL, "mnist_mlp.safetensors", NULL, NULL, -1};
    static const char *const optimizers[] = {"sgd", "momentum", "adam", "adamw", "rmsprop",
                                             "adagrad"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0 || !v)
            bad_option("option", a);
        i++; /* every other option takes a value */
        if (!strcmp(a, "--device")) {
            if (!strcmp(v, "auto"))
                o.device = AX_DEVICE_AUTO;
            else if (!strcmp(v, "cpu"))
                o.device = AX_DEVICE_CPU;
            else if (!strcmp(v, "cuda"))
                o.device = AX_DEVICE_CUDA;
            else
                bad_option("--device", v);
        } else if (!strcmp(a, "--epochs")) {
            o.epochs = (int)parse_long(a, v, 0, 100000);
        } else if (!strcmp(a, "--batch")) {
            o.batch = (int)parse_long(a, v, 1, 60000);
        } else if (!strcmp(a, "--lr")) {
            o.lr = parse_float(a, v, 0.0f, 100.0f);
        } else if (!strcmp(a, "--dropout")) {
            o.dropout = parse_float(a, v, 0.0f, 0.99f);
        } else if (!strcmp(a, "--seed")) {
            o.seed = (uint64_t)parse_long(a, v, 0, 2147483647L);
        } else if (!strcmp(a, "--optimizer")) {
            size_t k = 0, n = sizeof optimizers / sizeof optimizers[0];
            while (k < n && strcmp(v, optimizers[k]) != 0)
                k++;
            if (k == n)
                bad_option(a, v);
            o.optimizer = optimizers[k];
        } else if (!strcmp(a, "--schedule")) {
            if (strcmp(v, "cosine") != 0 && strcmp(v, "constant") != 0)
                bad_option(a, v);
            o.cosine = !strcmp(v, "cosine");
        } else if (!strcmp(a, "--data")) {
            o.data = v;
        } else if (!strcmp(a, "--save")) {
            o.save = v;
        } else if (!strcmp(a, "--load")) {
            o.load = v;
        } else if (!strcmp(a, "--log")) {
            o.log = v;
        } else if (!strcmp(a, "--threads")) {
            o.threads = (int)parse_long(a, v, 0, 1024);
        } else {
            bad_option("option", a);
        }
    }
    if (o.epochs == 0 && !o.load)
        bad_option("--epochs (0 needs --load)", "0");
    return o;
}

/* ---------------------------------------------------------------- model and optimizer */

/* x [batch, 784] -> fc1 256 -> ReLU -> dropout -> fc2 128 -> ReLU -> dropout -> fc3 10, and a
 * cross-entropy loss against the labels y. Parameters fc{1,2,3}.{weight,bias}, as PyTorch's
 * nn.Linear names them in a module with attributes fc1, fc2, fc3. */
static model build_model(ax_ctx *ctx, const options *o) {
    model m;
    ax_node *h;
    TRY(ax_graph_create(ctx, o->seed, &m.g));
    TRY(ax_graph_input(m.g, "x", 2, (int64_t[]){o->batch, PIXELS}, &m.x));
    TRY(ax_graph_labels(m.g, "y", o->batch, &m.y));
    TRY(ax_graph_dense(m.g, "fc1", m.x, HIDDEN1, &h));
    TRY(ax_graph_activation(m.g, "relu1", AX_ACT_RELU, 0.0f, h, &h));
    TRY(ax_graph_dropout(m.g, "drop1", h, o->dropout, &h));
    TRY(ax_graph_dense(m.g, "fc2", h, HIDDEN2, &h));
    TRY(ax_graph_activation(m.g, "relu2", AX_ACT_RELU, 0.0f, h, &h));
    TRY(ax_graph_dropout(m.g, "drop2", h, o->dropout, &h));
    TRY(ax_graph_dense(m.g, "fc3", h, CLASSES, &m.logits));
    TRY(ax_graph_cross_entropy(m.g, "loss", m.logits, m.y, &m.loss));
    TRY(ax_graph_compile(m.g, m.loss));
    return m;
}

/* The optimizer called o->optimizer, with PyTorch's defaults and o->lr when given. */
static ax_optimizer *create_optimizer(ax_ctx *ctx, const options *o) {
    ax_optimizer *opt;
    const char *name = o->optimizer;
    if (!strcmp(name, "sgd") || !strcmp(name, "momentum")) {
        ax_sgd_config c = ax_sgd_defaults();
        int momentum = !strcmp(name, "momentum");
        c.momentum = momentum ? 0.9f : 0.0f;
        c.lr = o->lr >= 0 ? o->lr : momentum ? 0.05f : 0.1f;
        TRY(ax_optimizer_create_sgd(ctx, &c, &opt));
    } else if (!strcmp(name, "adam") || !strcmp(name, "adamw")) {
        int w = !strcmp(name, "adamw");
        ax_adam_config c = w ? ax_adamw_defaults() : ax_adam_defaults();
        c.lr = o->lr >= 0 ? o->lr : 1e-3f;
        TRY(w ? ax_optimizer_create_adamw(ctx, &c, &opt) : ax_optimizer_create_adam(ctx, &c, &opt));
    } else if (!strcmp(name, "rmsprop")) {
        ax_rmsprop_config c = ax_rmsprop_defaults();
        c.lr = o->lr >= 0 ? o->lr : 1e-3f;
        TRY(ax_optimizer_create_rmsprop(ctx, &c, &opt));
    } else {
        ax_adagrad_config c = ax_adagrad_defaults();
        c.lr = o->lr >= 0 ? o->lr : 1e-2f;
        TRY(ax_optimizer_create_adagrad(ctx, &c, &opt));
    }
    return opt;
}

/* ---------------------------------------------------------------- progress and log */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Where the run stands, for the progress line: the run's start and length in steps. */
typedef struct run_clock {
    double started;
    int64_t total_steps, done_steps;
} run_clock;

/* The run's time left, from its pace so far. */
static double time_left(const run_clock *clock) {
    if (clock->done_steps <= 0)
        return 0.0;
    double per_step = (now_s() - clock->started) / (double)clock->done_steps;
    return per_step * (double)(clock->total_steps - clock->done_steps);
}

/* One progress report after `p->step` of `p->steps` steps of the epoch. On a terminal: one
 * line fitted to its width, redrawn with \r at most ten times a second; otherwise a plain
 * line every 10% of the epoch. */
static void show_progress(progress *p, int64_t examples, double epoch_started,
                          const run_clock *clock, double *last_draw) {
    static int tty = -1;
    if (tty < 0)
        tty = isatty(STDOUT_FILENO);
    double now = now_s(), elapsed = now - epoch_started;
    if (tty && p->step < p->steps && now - *last_draw < 0.1)
        return;
    if (!tty && p->step % (p->steps >= 10 ? p->steps / 10 : 1) != 0 && p->step != p->steps)
        return;
    p->examples_per_s = elapsed > 0 ? (double)examples / elapsed : 0.0;
    p->eta_epoch_s = p->step > 0 ? elapsed * (double)(p->steps - p->step) / (double)p->step : 0;
    p->eta_total_s = time_left(clock);
    char line[512];
    progress_format(line, sizeof line, progress_columns(STDOUT_FILENO), tty, p);
    /* \033[K clears what a longer previous line left on the right */
    printf(tty ? "\r%s\033[K" : "%s\n", line);
    fflush(stdout);
    *last_draw = now;
}

static void log_open(train_log *log, const char *path) {
    memset(log, 0, sizeof *log);
    if (!path)
        return;
    log->f = fopen(path, "w");
    if (!log->f) {
        fprintf(stderr, "mnist_mlp: cannot write the log %s\n", path);
        exit(1);
    }
    fprintf(log->f, "epoch,step,loss,accuracy\n");
}

static void log_flush(train_log *log, double accuracy) {
    if (!log->f || !log->pending)
        return;
    fprintf(log->f, "%d,%lld,%.6f,", log->epoch, (long long)log->step, (double)log->loss);
    if (accuracy >= 0)
        fprintf(log->f, "%.4f", accuracy);
    fprintf(log->f, "\n");
    log->pending = 0;
}

static void log_step(train_log *log, int epoch, int64_t step, float loss) {
    log_flush(log, -1.0);
    log->pending = 1;
    log->epoch = epoch;
    log->step = step;
    log->loss = loss;
}

static void log_close(train_log *log) {
    if (log->f) {
        log_flush(log, -1.0);
        if (fclose(log->f) != 0)
            fprintf(stderr, "mnist_mlp: writing the log failed\n");
    }
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

static void *checked_malloc(size_t bytes) {
    void *p = malloc(bytes);
    if (!p) {
        fprintf(stderr, "mnist_mlp: out of memory for %zu bytes\n", bytes);
        exit(1);
    }
    return p;
}

/* One epoch's result on the training or the test set. */
typedef struct epoch_score {
    double loss, accuracy;
} epoch_score;

/* One pass over the training set in shuffled mini-batches: the mean training loss and the
 * accuracy of the training batches as they were trained (dropout on). clock->done_steps
 * counts steps over all epochs (for the schedule, the ETA and the log). */
static epoch_score run_epoch(model *m, ax_optimizer *opt, const ax_lr_schedule *schedule,
                             ax_data_loader *loader, int epoch, int epochs, int batch,
                             run_clock *clock, train_log *log) {
    ax_param_list params;
    TRY(ax_graph_params(m->g, &params));
    TRY(ax_graph_set_training(m->g, 1));
    float *logits = checked_malloc((size_t)batch * CLASSES * sizeof *logits);
    int32_t *labels = checked_malloc((size_t)batch * sizeof *labels);
    progress p = {epoch, epochs, 0, ax_data_loader_batches(loader), 0, 0, 0, 0, 0, 0};
    int64_t examples = 0, correct = 0, rows;
    double started = now_s(), last_draw = 0.0, loss_sum = 0.0;
    while (1) {
        TRY(ax_data_loader_next(loader, ax_graph_value(m->g, m->x), ax_graph_value(m->g, m->y),
                                &rows));
        if (rows == 0)
            break; /* the end of the epoch */
        float lr = ax_lr_schedule_value(schedule, clock->done_steps);
        TRY(ax_graph_zero_grad(m->g));
        TRY(ax_graph_forward(m->g));
        TRY(ax_graph_backward(m->g));
        TRY(ax_optimizer_set_lr(opt, lr));
        TRY(ax_optimizer_step(opt, params.n, params.values, params.grads));
        float loss;
        TRY(ax_graph_loss(m->g, &loss));
        TRY(ax_tensor_to_host(ax_graph_value(m->g, m->logits), logits,
                              (size_t)rows * CLASSES * sizeof *logits));
        TRY(ax_tensor_to_host(ax_graph_value(m->g, m->y), labels, (size_t)rows * sizeof *labels));
        for (int64_t i = 0; i < rows; i++)
            correct += predicted_class(logits + i * CLASSES) == labels[i];
        p.step++;
        clock->done_steps++;
        examples += rows;
        loss_sum += loss;
        log_step(log, epoch, clock->done_steps, loss);
        p.loss = loss_sum / (double)p.step;
        p.accuracy = (double)correct / (double)examples;
        p.lr = lr;
        show_progress(&p, examples, started, clock, &last_draw);
    }
    if (isatty(STDOUT_FILENO))
        printf("\n");
    free(logits);
    free(labels);
    epoch_score r = {loss_sum / (double)(p.step > 0 ? p.step : 1),
                     examples > 0 ? (double)correct / (double)examples : 0.0};
    return r;
}

/* Loss and accuracy over a dataset in eval mode, a batch at a time. */
static epoch_score evaluate(model *m, const dataset *d, int batch) {
    TRY(ax_graph_set_training(m->g, 0));
    float *out = checked_malloc((size_t)batch * CLASSES * sizeof *out);
    int64_t correct = 0;
    double loss = 0.0;
    for (int64_t start = 0; start < d->count; start += batch) {
        int64_t rows = d->count - start < batch ? d->count - start : batch;
        TRY(ax_graph_set_batch(m->g, rows));
        TRY(ax_tensor_set_from_host(ax_graph_value(m->g, m->x), d->images + start * PIXELS,
                                    (size_t)rows * PIXELS * sizeof(float)));
        TRY(ax_graph_forward(m->g));
        TRY(ax_tensor_to_host(ax_graph_value(m->g, m->logits), out,
                              (size_t)rows * CLASSES * sizeof(float)));
        loss += score_rows(out, d->labels + start, rows, &correct);
    }
    free(out);
    TRY(ax_graph_set_training(m->g, 1));
    epoch_score r = {loss / (double)d->count, (double)correct / (double)d->count};
    return r;
}

static dataset load_split(const char *dir, int train) {
    dataset d;
    TRY(ax_mnist_load(dir, train, &d.images, &d.labels, &d.count));
    return d;
}

/* The line after each epoch: the epoch's training loss and accuracy (as trained, dropout
 * on), the test set's in eval mode; the learning rate of the epoch's last step, its time
 * and the run's time left. */
static void report_epoch(int epoch, int epochs, epoch_score trained, epoch_score tested,
                         float lr, double seconds, const run_clock *clock) {
    char head[160], tail[96], eta[24], line[260];
    snprintf(head, sizeof head, "epoch %d/%d: train loss %.4f acc %.4f, test loss %.4f acc %.4f",
             epoch, epochs, trained.loss, trained.accuracy, tested.loss, tested.accuracy);
    progress_duration(eta, sizeof eta, time_left(clock));
    int n = snprintf(tail, sizeof tail, "lr %.2e, %.1f s", (double)lr, seconds);
    if (epoch < epochs && n > 0)
        snprintf(tail + n, sizeof tail - (size_t)n, ", ETA %s", eta);
    progress_join(line, sizeof line, progress_columns(STDOUT_FILENO), head, tail);
    printf("%s\n", line);
    fflush(stdout);
}

/* The CPU backend's BLAS: set its thread count (threads > 0) and say which kernel runs, since
 * both change the last digits of the results. */
static void report_blas(int threads) {
    const char *how = threads < 0 ? "mnist_mlp's default; --threads N to change"
                      : threads  ? "--threads"
                                 : "OpenBLAS's default";
    if (threads != 0)
        openblas_set_num_threads(threads < 0 ? DEFAULT_BLAS_THREADS : threads);
    char version[24] = "";
    const char *config = openblas_get_config(); /* "OpenBLAS 0.3.21 DYNAMIC_ARCH ..." */
    if (!config || sscanf(config, "OpenBLAS %23s", version) != 1)
        snprintf(version, sizeof version, "(version unknown)");
    int n = openblas_get_num_threads();
    printf("CPU BLAS: OpenBLAS %s, kernel %s, %d thread%s (%s)\n", version,
           openblas_get_corename(), n, n == 1 ? "" : "s", how);
}

static int save_graph(void *g, const char *path) { return ax_graph_save(g, path) == AX_OK ? 0 : -1; }

/* Save the trained weights to path; when that fails, keep them elsewhere and say where.
 * Returns 0 when path was written. */
static int save_or_rescue(ax_graph *g, const char *path) {
    if (save_graph(g, path) == 0) {
        printf("saved %s\n", path);
        return 0;
    }
    fprintf(stderr, "mnist_mlp: could not save the weights to %s: %s\n", path, ax_last_error());
    char kept[4200];
    if (save_target_rescue(save_graph, g, "mnist_mlp-rescued", kept, sizeof kept) == 0)
        fprintf(stderr, "mnist_mlp: the trained weights are kept in %s instead\n", kept);
    else
        fprintf(stderr, "mnist_mlp: and could not keep them anywhere else (%s)\n",
                ax_last_error());
    return -1;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
    options o = parse_args(argc, argv);

    /* Everything the user named is checked before the data are loaded and hours are spent. */
    char why[8400];
    if (o.epochs > 0 && save_target_check(o.save, why, sizeof why) != 0) {
        fprintf(stderr, "mnist_mlp: --save: %s\n", why);
        return 1;
    }
    train_log log;
    log_open(&log, o.log);
    char dir[4096];
    if (ax_data_dir(o.data, "mnist", dir, sizeof dir) != AX_OK) {
        fprintf(stderr, "mnist_mlp: %s\n", ax_last_error());
        return 1;
    }
    dataset train = load_split(dir, 1), test = load_split(dir, 0);
    printf("MNIST from %s: %lld training and %lld test images\n", dir, (long long)train.count,
           (long long)test.count);

    ax_ctx *ctx;
    ax_device_info info;
    TRY(ax_ctx_create(o.device, 0, &ctx));
    TRY(ax_ctx_device_info(ctx, &info));
    printf("device: %s (%s)\n", info.name, info.kind == AX_DEVICE_CUDA ? "cuda" : "cpu");
    if (info.kind == AX_DEVICE_CPU)
        report_blas(o.threads);

    model m = build_model(ctx, &o);
    if (o.load) {
        TRY(ax_graph_load(m.g, o.load));
        printf("loaded %s\n", o.load);
    }
    printf("model: 784-256-128-10 ReLU MLP, dropout %.2f\n", (double)o.dropout);
    int status = 0;
    if (o.epochs == 0) {
        epoch_score s = evaluate(&m, &test, o.batch);
        printf("test loss %.4f\ntest accuracy: %.4f\n", s.loss, s.accuracy);
    } else {
        ax_optimizer *opt = create_optimizer(ctx, &o);
        float lr;
        TRY(ax_optimizer_get_lr(opt, &lr));
        printf("training: %s, lr %g (%s), batch %d, %d epoch%s, seed %llu\n", o.optimizer,
               (double)lr, o.cosine ? "cosine" : "constant", o.batch, o.epochs,
               o.epochs == 1 ? "" : "s", (unsigned long long)o.seed);
        ax_data_loader *loader;
        TRY(ax_data_loader_create(train.images, 2, (int64_t[]){train.count, PIXELS},
                                  train.labels, o.batch, /*shuffle=*/1, /*drop_last=*/0,
                                  o.seed + 1, &loader));
        ax_lr_schedule schedule;
        run_clock clock = {now_s(), (int64_t)o.epochs * ax_data_loader_batches(loader), 0};
        if (o.cosine)
            TRY(ax_lr_schedule_cosine(lr, clock.total_steps, 0.0f, &schedule));
        else
            TRY(ax_lr_schedule_constant(lr, &schedule));
        epoch_score tested = {0, 0};
        for (int epoch = 1; epoch <= o.epochs; epoch++) {
            double t0 = now_s();
            epoch_score trained = run_epoch(&m, opt, &schedule, loader, epoch, o.epochs,
                                            o.batch, &clock, &log);
            tested = evaluate(&m, &test, o.batch);
            log_flush(&log, tested.accuracy);
            report_epoch(epoch, o.epochs, trained, tested,
                         ax_lr_schedule_value(&schedule, clock.done_steps - 1), now_s() - t0,
                         &clock);
        }
        printf("trained %d epoch%s in %.1f s\n", o.epochs, o.epochs == 1 ? "" : "s",
               now_s() - clock.started);
        status = save_or_rescue(m.g, o.save) == 0 ? 0 : 1;
        printf("test accuracy: %.4f\n", tested.accuracy);
        ax_data_loader_destroy(loader);
        ax_optimizer_destroy(opt);
    }
    log_close(&log);
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
    ax_mnist_free(train.images, train.labels);
    ax_mnist_free(test.images, test.labels);
    return status;
}
