/* char_rnn: a character-level language model on tiny shakespeare: embedding -> LSTM (GRU with
 * --cell gru) -> dense -> cross-entropy over every [T, N] position, trained by truncated
 * backpropagation through time: the corpus (its first 90%; the rest is the validation text)
 * is cut into --batch streams read side by side, T = --seq characters per step, and the LSTM's
 * final states of one step are the next step's initial states (carry_state, detached), reset
 * at each epoch's start (--windows 1 trains on ax_text_batch's random windows instead, each
 * from zero states, as many steps per epoch). The gradients are clipped to a global norm
 * (--clip) before every optimizer step. After each epoch the validation loss is measured in
 * nats per character (the whole validation text, the same streamed way, dropout off).
 * --sample N prints N characters drawn from the model (softmax with --temperature, then a
 * multinomial draw), after training or from a checkpoint (--epochs 0 --load FILE).
 *
 * Run `char_rnn --help` for the options; --quick is the configuration README.md measures on a
 * 2-core CPU (any option given beside it wins). bench/pytorch/train_char.py is the same model
 * and loop in PyTorch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon.h"
#include "common/char_model.h"
#include "common/options.h"
#include "common/progress.h"
#include "common/report.h"
#include "common/train_log.h"
#include "common/training.h"

/* ---------------------------------------------------------------- options */

/* hidden ... dropout: set by apply_config from common/char_model.c's configurations */
static int hidden, layers, embed, seq, sample = 0, quick = 0, max_steps = 0, windows = 0;
static float clip, dropout, temperature = 0.8f;
static const char *cell = "lstm";
static const char *const cells[] = {"lstm", "gru", NULL};

static const ex_option own_options[] = {
    {"quick", "0|1", EX_INT, &quick, 0, 1, NULL,
     "1: the 2-core CPU configuration (hidden 256, 1 layer,\nseq 64, batch 32, 4 epochs, "
     "lr 3e-3, no dropout);\noptions given beside it win"},
    {"cell", "lstm|gru", EX_CHOICE, &cell, 0, 0, cells, "the recurrent cell (default lstm)"},
    {"hidden", "H", EX_INT, &hidden, 1, 8192, NULL, "hidden size (default 512)"},
    {"layers", "L", EX_INT, &layers, 1, 16, NULL, "stacked recurrent layers (default 2)"},
    {"embed", "D", EX_INT, &embed, 1, 4096, NULL, "character embedding size (default 64)"},
    {"seq", "T", EX_INT, &seq, 2, 100000, NULL,
     "characters per step: the truncation of BPTT\n(default 100)"},
    {"dropout", "P", EX_FLOAT, &dropout, 0.0, 0.99, NULL,
     "drop probability between recurrent layers\n(default 0.2)"},
    {"clip", "X", EX_FLOAT, &clip, 0.0, 1e9, NULL,
     "clip the gradients to this global norm; 0: no\nclipping (default 5)"},
    {"windows", "0|1", EX_INT, &windows, 0, 1, NULL,
     "1: train on random windows (ax_text_batch, from zero\nstates each step) instead of "
     "the streams (default 0)"},
    {"steps", "N", EX_INT, &max_steps, 0, 100000000, NULL,
     "train at most N steps per epoch; 0: the whole text\n(default 0)"},
    {"sample", "N", EX_INT, &sample, 0, 100000000, NULL,
     "print N characters drawn from the model at the end\n(default 0)"},
    {"temperature", "X", EX_FLOAT, &temperature, 0.01, 100.0, NULL,
     "softmax temperature of --sample (default 0.8)"},
};

static ex_program program = {
    .name = "char_rnn",
    .summary = "Trains a character-level LSTM (or GRU) language model on tiny shakespeare\n"
               "and reports its validation loss in nats per character.",
    .epochs_help = "passes over the 1M training characters",
    .dataset = "tinyshakespeare",
    .max_batch = 4096,
    .default_threads = 1,
    .defaults = {.device = AX_DEVICE_AUTO, .cosine = 1, /* epochs, batch, lr: apply_config */
                 .optimizer = "adam", .seed = 42, .save = "char_rnn.safetensors",
                 .threads = -1},
    .own = own_options,
    .n_own = (int)(sizeof own_options / sizeof own_options[0]),
};

/* The defaults of the model and training options are common/char_model.c's configurations
 * (so bench_train_char times this very model): --quick (alone: read as --quick=1) anywhere on
 * the command line picks the quick one before the options are read, so that options given
 * beside it win. */
static void apply_config(int argc, char **argv) {
    static char quick_on[] = "--quick=1";
    int on = 0;
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--quick") && strcmp(next, "0") && strcmp(next, "1"))
            argv[i] = quick_on;
        if (!strcmp(argv[i], "--quick=1") || (!strcmp(argv[i], "--quick") && !strcmp(next, "1")))
            on = 1;
    }
    const ex_char_config c = ex_char_config_of(on);
    hidden = c.hidden, layers = c.layers, embed = c.embed, seq = c.seq;
    clip = c.clip, dropout = c.dropout;
    program.defaults.batch = c.batch;
    program.defaults.epochs = c.epochs;
    program.defaults.lr = c.lr;
}

/* ---------------------------------------------------------------- model */

typedef ex_char_model lm;

/* The model of the options (common/char_model.c); the program stops on a failure. */
static lm build_lm(ax_ctx *ctx, uint64_t seed, int64_t vocab, int64_t batch, int64_t steps,
                   int with_loss) {
    ex_char_config c = {.gru = !strcmp(cell, "gru"), .hidden = hidden, .layers = layers,
                        .embed = embed, .seq = seq, .dropout = dropout};
    lm m;
    EX_TRY(ex_char_model_build(ctx, &c, seed, vocab, batch, steps, with_loss, &m));
    return m;
}

/* ---------------------------------------------------------------- streams */

/* A text cut into `batch` streams of `len` characters read side by side (plus the next
 * character of each as the last target). */
typedef struct streams {
    const int32_t *text;
    int64_t batch, len;
    int32_t *ids, *targets; /* [T, N] of one step */
} streams;

static streams streams_of(const ax_text_dataset *ds, int64_t batch, int64_t steps) {
    streams s = {ax_text_ids(ds), batch, (ax_text_length(ds) - 1) / batch, NULL, NULL};
    if (s.len < 1)
        ex_fail("a text of %lld characters is too short for %lld streams",
                (long long)ax_text_length(ds), (long long)batch);
    s.ids = ex_malloc((size_t)(steps * batch) * sizeof *s.ids);
    s.targets = ex_malloc((size_t)(steps * batch) * sizeof *s.targets);
    return s;
}

/* Steps of at most `steps` characters over the streams. */
static int64_t stream_steps(const streams *s, int64_t steps) {
    return (s->len + steps - 1) / steps;
}

/* Training steps of an epoch (--steps caps them). */
static int64_t train_steps(const streams *s, int64_t steps) {
    const int64_t all = stream_steps(s, steps);
    return max_steps > 0 && max_steps < all ? max_steps : all;
}

/* Feeds step k (its t <= T characters, shorter at the end) into m; returns t. */
static int64_t feed_step(lm *m, streams *s, int64_t k) {
    const int64_t at = k * m->steps, t = s->len - at < m->steps ? s->len - at : m->steps;
    for (int64_t i = 0; i < t; i++) {
        for (int64_t b = 0; b < s->batch; b++) {
            s->ids[i * s->batch + b] = s->text[b * s->len + at + i];
            s->targets[i * s->batch + b] = s->text[b * s->len + at + i + 1];
        }
    }
    EX_TRY(ax_graph_set_seq_len(m->g, t));
    EX_TRY(ax_graph_feed_i32(m->g, m->ids, s->ids, s->batch));
    EX_TRY(ax_graph_feed_i32(m->g, m->targets, s->targets, s->batch));
    return t;
}

/* With --windows: training step k of the run is ax_text_batch's batch k (random windows of
 * T characters, each from zero states), transposed to [T, N]. */
static void feed_window(lm *m, streams *s, const ax_text_dataset *ds, uint64_t seed,
                        int64_t k) {
    const int64_t n = s->batch, t = m->steps;
    int32_t *rows = ex_malloc((size_t)(2 * n * t) * sizeof *rows);
    EX_TRY(ax_text_batch(ds, n, t, seed, (uint64_t)k, rows, rows + n * t));
    for (int64_t b = 0; b < n; b++) {
        for (int64_t i = 0; i < t; i++) {
            s->ids[i * n + b] = rows[b * t + i];
            s->targets[i * n + b] = rows[n * t + b * t + i];
        }
    }
    free(rows);
    EX_TRY(ax_graph_set_seq_len(m->g, t));
    EX_TRY(ax_graph_feed_i32(m->g, m->ids, s->ids, n));
    EX_TRY(ax_graph_feed_i32(m->g, m->targets, s->targets, n));
    EX_TRY(ax_graph_rnn_reset_state(m->g, NULL));
}

static void streams_free(streams *s) {
    free(s->ids);
    free(s->targets);
}

/* ---------------------------------------------------------------- training */

/* Mean loss per character over the whole validation text (dropout off). */
static double validate(lm *m, const ax_text_dataset *val) {
    streams s = streams_of(val, m->batch, m->steps);
    double sum = 0.0;
    int64_t chars = 0;
    EX_TRY(ax_graph_set_training(m->g, 0));
    EX_TRY(ax_graph_rnn_reset_state(m->g, NULL));
    for (int64_t k = 0; k < stream_steps(&s, m->steps); k++) {
        const int64_t t = feed_step(m, &s, k);
        float loss;
        EX_TRY(ax_graph_forward(m->g));
        EX_TRY(ax_graph_loss(m->g, &loss));
        sum += (double)loss * (double)(t * s.batch);
        chars += t * s.batch;
    }
    EX_TRY(ax_graph_set_training(m->g, 1));
    streams_free(&s);
    return sum / (double)chars;
}

/* One pass over the training streams: the mean training loss. */
static double train_epoch(ax_ctx *ctx, lm *m, ax_optimizer *opt, const ax_lr_schedule *schedule,
                          const ax_text_dataset *train, uint64_t seed, int epoch, int epochs,
                          run_clock *clock, train_log *log) {
    streams s = streams_of(train, m->batch, m->steps);
    ax_param_list p;
    EX_TRY(ax_graph_params(m->g, &p));
    EX_TRY(ax_graph_set_training(m->g, 1));
    EX_TRY(ax_graph_rnn_reset_state(m->g, NULL));
    progress pr = {epoch, epochs, 0, train_steps(&s, m->steps), 0, -1.0, 0, 0, 0, 0};
    double started = progress_now(), last_draw = 0.0, sum = 0.0;
    int64_t chars = 0;
    for (int64_t k = 0; k < pr.steps; k++) {
        int64_t t = m->steps;
        if (windows)
            feed_window(m, &s, train, seed, clock->done_steps);
        else
            t = feed_step(m, &s, k);
        const float lr = ax_lr_schedule_value(schedule, clock->done_steps);
        float loss;
        EX_TRY(ax_graph_zero_grad(m->g));
        EX_TRY(ax_graph_forward(m->g));
        EX_TRY(ax_graph_backward(m->g));
        if (clip > 0.0f)
            EX_TRY(ax_clip_grad_norm(ctx, p.n, p.grads, clip, 2.0f, 0, NULL));
        EX_TRY(ax_optimizer_set_lr(opt, lr));
        EX_TRY(ax_optimizer_step(opt, p.n, p.values, p.grads));
        EX_TRY(ax_graph_loss(m->g, &loss));
        pr.step++;
        clock->done_steps++;
        chars += t * s.batch;
        sum += loss;
        train_log_step(log, epoch, clock->done_steps, loss);
        pr.loss = sum / (double)pr.step;
        pr.lr = lr;
        progress_show(&pr, chars, started, clock, &last_draw);
    }
    progress_end_epoch();
    streams_free(&s);
    return sum / (double)(pr.step ? pr.step : 1);
}

/* ---------------------------------------------------------------- sampling */

/* n characters from the model with m's weights: one step at a time from a newline, each the
 * draw (ax_multinomial, Philox of seed at offset i) from softmax(logits / temperature). */
static void print_sample(ax_ctx *ctx, ax_graph *trained, const ax_text_dataset *ds,
                         uint64_t seed, int n) {
    lm s = build_lm(ctx, seed, ax_text_vocab_size(ds), 1, 1, 0);
    ax_param_list from, to;
    EX_TRY(ax_graph_params(trained, &from));
    EX_TRY(ax_graph_params(s.g, &to));
    for (int i = 0; i < to.n; i++)
        EX_TRY(ax_tensor_copy(to.values[i], from.values[i]));
    EX_TRY(ax_graph_set_training(s.g, 0));
    const int64_t vocab = ax_text_vocab_size(ds), one = 1;
    ax_tensor *probs, *drawn;
    EX_TRY(ax_tensor_create(ctx, AX_F32, 3, (int64_t[]){1, 1, vocab}, &probs));
    EX_TRY(ax_tensor_create(ctx, AX_I32, 1, &one, &drawn));
    int32_t id = 0;
    if (ax_text_encode(ds, "\n", 1, &id) != AX_OK)
        id = 0;
    char *text = ex_malloc((size_t)n + 1);
    for (int i = 0; i < n; i++) {
        EX_TRY(ax_graph_feed_i32(s.g, s.ids, &id, 1));
        EX_TRY(ax_graph_forward(s.g));
        EX_TRY(ax_softmax_temperature(ctx, ax_graph_value(s.g, s.logits), temperature, probs));
        EX_TRY(ax_tensor_reshape(probs, 2, (int64_t[]){1, vocab})); /* one row of V */
        EX_TRY(ax_multinomial(ctx, probs, 0, seed, (uint64_t)i, drawn));
        EX_TRY(ax_tensor_reshape(probs, 3, (int64_t[]){1, 1, vocab}));
        EX_TRY(ax_tensor_to_host(drawn, &id, sizeof id));
        EX_TRY(ax_text_decode(ds, &id, 1, text + i));
    }
    text[n] = '\0';
    printf("sample (%d characters, temperature %.2f):\n%s\n", n, (double)temperature, text);
    free(text);
    ax_tensor_destroy(probs);
    ax_tensor_destroy(drawn);
    ax_graph_destroy(s.g);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
    apply_config(argc, argv);
    ex_common o = ex_options_parse_or_exit(&program, argc, argv);
    train_log log;
    char dir[4096], path[4200];
    ex_start(&o, program.dataset, &log, dir, sizeof dir);
    ax_text_dataset *all, *train, *val;
    snprintf(path, sizeof path, "%s/input.txt", dir);
    EX_TRY(ax_text_dataset_load(path, &all));
    EX_TRY(ax_text_dataset_split(all, 0.9, &train, &val));
    printf("tiny shakespeare from %s: %lld training and %lld validation characters, "
           "vocabulary %d\n", dir, (long long)ax_text_length(train),
           (long long)ax_text_length(val), (int)ax_text_vocab_size(all));

    ax_ctx *ctx = ex_open_device(&o, program.default_threads);
    lm m = build_lm(ctx, o.seed, ax_text_vocab_size(all), o.batch, seq, 1);
    ex_load_checkpoint(m.g, &o);
    printf("model: embedding %d, %d-layer %s %d, dense %d; seq %d, clip %g, dropout %.2f\n",
           embed, layers, !strcmp(cell, "gru") ? "GRU" : "LSTM", hidden,
           (int)ax_text_vocab_size(all), seq, (double)clip, (double)dropout);
    int status = 0;
    double val_loss = 0.0;
    if (o.epochs == 0) {
        val_loss = validate(&m, val);
    } else {
        ax_optimizer *opt = ex_create_optimizer(ctx, &o);
        float lr;
        EX_TRY(ax_optimizer_get_lr(opt, &lr));
        streams probe = streams_of(train, o.batch, seq);
        run_clock clock = {progress_now(), (int64_t)o.epochs * train_steps(&probe, seq), 0};
        streams_free(&probe);
        printf("training: %s, lr %g (%s), batch %d, %d epoch%s, seed %llu\n", o.optimizer,
               (double)lr, o.cosine ? "cosine" : "constant", o.batch, o.epochs,
               o.epochs == 1 ? "" : "s", (unsigned long long)o.seed);
        ax_lr_schedule schedule;
        if (o.cosine)
            EX_TRY(ax_lr_schedule_cosine(lr, clock.total_steps, 0.0f, &schedule));
        else
            EX_TRY(ax_lr_schedule_constant(lr, &schedule));
        for (int epoch = 1; epoch <= o.epochs; epoch++) {
            double t0 = progress_now();
            double trained = train_epoch(ctx, &m, opt, &schedule, train, o.seed + 1, epoch,
                                         o.epochs, &clock, &log);
            val_loss = validate(&m, val);
            train_log_flush(&log, -1.0);
            char head[160], tail[96], eta[24], line[260];
            snprintf(head, sizeof head, "epoch %d/%d: train loss %.4f, validation loss %.4f "
                     "nats/char (%.3f bits)", epoch, o.epochs, trained, val_loss,
                     val_loss / 0.69314718055994531);
            progress_duration(eta, sizeof eta, run_clock_left(&clock));
            int w = snprintf(tail, sizeof tail, "%.1f s", progress_now() - t0);
            if (epoch < o.epochs && w > 0)
                snprintf(tail + w, sizeof tail - (size_t)w, ", ETA %s", eta);
            progress_join(line, sizeof line, progress_columns(1), head, tail);
            printf("%s\n", line);
            fflush(stdout);
        }
        printf("trained %d epoch%s in %.1f s\n", o.epochs, o.epochs == 1 ? "" : "s",
               progress_now() - clock.started);
        status = ex_save_or_rescue(m.g, o.save) == 0 ? 0 : 1;
        ax_optimizer_destroy(opt);
    }
    printf("validation loss: %.4f nats/char\n", val_loss);
    if (sample > 0)
        print_sample(ctx, m.g, all, o.seed, sample);
    if (train_log_close(&log) != 0)
        fprintf(stderr, "char_rnn: writing the log %s failed\n", o.log);
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
    ax_text_dataset_destroy(train);
    ax_text_dataset_destroy(val);
    ax_text_dataset_destroy(all);
    return status;
}
