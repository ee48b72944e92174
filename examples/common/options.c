/* The examples' command line, read with getopt_long from one table: the common options, then
 * the example's own. */
#define _GNU_SOURCE /* getopt_long */

#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* Options an example may add to the common ones; the help option's getopt value. */
enum { MAX_OWN = 32, N_COMMON = 12, HELP_VAL = 'h', FIRST_VAL = 256 };
/* --help: where each option's help starts, and the columns it may fill (80-column terminal). */
enum { HELP_COLUMN = 26, TEXT_COLUMNS = 79 };

static const char *const devices[] = {"auto", "cpu", "cuda", NULL};
static const char *const schedules[] = {"cosine", "constant", NULL};
static const char *const optimizers[] = {"sgd",     "momentum", "adam", "adamw",
                                         "rmsprop", "adagrad",  NULL};

/* The common options' values while parsing, in the form the table stores them, and the help
 * texts that carry the program's defaults. */
typedef struct common_values {
    const char *device, *schedule, *optimizer;
    int seed;
    char help[N_COMMON][256];
} common_values;

/* All options in the order --help lists them: device .. optimizer, the example's own, seed ..
 * threads. Returns how many (at most N_COMMON + MAX_OWN). */
static int option_table(const ex_program *p, ex_common *c, common_values *v, ex_option *out) {
    const ex_common *d = &p->defaults;
    static const char *device_help[] = {"auto: the GPU when one works", "the CPU", "a GPU"};
    int dev = d->device == AX_DEVICE_CPU ? 1 : d->device == AX_DEVICE_CUDA ? 2 : 0;
    snprintf(v->help[0], sizeof v->help[0], "where to run (default %s)", device_help[dev]);
    snprintf(v->help[1], sizeof v->help[1], "%s (default %d;\n0 with --load only evaluates)",
             p->epochs_help, d->epochs);
    snprintf(v->help[2], sizeof v->help[2], "mini-batch size (default %d)", d->batch);
    if (d->lr >= 0)
        snprintf(v->help[3], sizeof v->help[3], "learning rate (default %g)", (double)d->lr);
    else
        snprintf(v->help[3], sizeof v->help[3],
                 "learning rate (default 1e-3 for adam, adamw, rmsprop;\n"
                 "1e-2 for adagrad; 0.1 for sgd; 0.05 for momentum)");
    snprintf(v->help[4], sizeof v->help[4],
             "cosine|constant: cosine decays the learning rate to 0\n"
             "over the run, step by step (default %s)",
             d->cosine ? "cosine" : "constant");
    snprintf(v->help[5], sizeof v->help[5],
             "sgd|momentum|adam|adamw|rmsprop|adagrad (default\n"
             "%s; momentum is SGD with momentum 0.9)",
             d->optimizer);
    snprintf(v->help[6], sizeof v->help[6],
             "initialisation, dropout and shuffling (default %llu)",
             (unsigned long long)d->seed);
    snprintf(v->help[7], sizeof v->help[7],
             "folder holding %s/ (default: $AXON_DATA, else\n"
             "../shared/data from here or a parent folder); a\n"
             "folder named here or in $AXON_DATA must hold it",
             p->dataset);
    snprintf(v->help[8], sizeof v->help[8],
             "checkpoint to write after training (default\n"
             "%s here; an existing file at PATH\n"
             "is overwritten, a device or folder refused)",
             d->save);
    snprintf(v->help[9], sizeof v->help[9], "checkpoint to start from");
    snprintf(v->help[10], sizeof v->help[10],
             "CSV of epoch,step,loss,accuracy (loss every step,\n"
             "accuracy at the end of each epoch); draw it with\n"
             "python3 examples/plot_mnist_log.py FILE [OUT.png]");
    snprintf(v->help[11], sizeof v->help[11],
             "OpenBLAS threads on the CPU (default %d; 0: OpenBLAS's\n"
             "default, $OPENBLAS_NUM_THREADS or one per core)",
             p->default_threads);

    const ex_option common[N_COMMON] = {
        {"device", "auto|cpu|cuda", EX_CHOICE, &v->device, 0, 0, devices, v->help[0]},
        {"epochs", "N", EX_INT, &c->epochs, 0, 100000, NULL, v->help[1]},
        {"batch", "N", EX_INT, &c->batch, 1, p->max_batch, NULL, v->help[2]},
        {"lr", "X", EX_FLOAT, &c->lr, 0, 100, NULL, v->help[3]},
        {"schedule", "NAME", EX_CHOICE, &v->schedule, 0, 0, schedules, v->help[4]},
        {"optimizer", "NAME", EX_CHOICE, &v->optimizer, 0, 0, optimizers, v->help[5]},
        {"seed", "N", EX_INT, &v->seed, 0, 2147483647.0, NULL, v->help[6]},
        {"data", "DIR", EX_TEXT, &c->data, 0, 0, NULL, v->help[7]},
        {"save", "PATH", EX_TEXT, &c->save, 0, 0, NULL, v->help[8]},
        {"load", "PATH", EX_TEXT, &c->load, 0, 0, NULL, v->help[9]},
        {"log", "FILE", EX_TEXT, &c->log, 0, 0, NULL, v->help[10]},
        {"threads", "N", EX_INT, &c->threads, 0, 1024, NULL, v->help[11]},
    };
    int n = 0, own = p->n_own < MAX_OWN ? p->n_own : MAX_OWN;
    for (int i = 0; i < 6; i++)
        out[n++] = common[i];
    for (int i = 0; i < own; i++)
        out[n++] = p->own[i];
    for (int i = 6; i < N_COMMON; i++)
        out[n++] = common[i];
    return n;
}

/* "a|b|c" of a NULL-terminated list. */
static void join_choices(const char *const *choices, char *out, size_t size) {
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; choices[i] && len < size; i++) {
        int w = snprintf(out + len, size - len, "%s%s", i ? "|" : "", choices[i]);
        len += w > 0 ? (size_t)w : 0;
    }
}

/* Reads s as o's value into o->value; 0, or -1 with the reason in why. */
static int read_value(const ex_option *o, const char *s, char *why, size_t size) {
    char *end = NULL;
    int number = *s != '\0' && !isspace((unsigned char)*s);
    errno = 0;
    switch (o->kind) {
    case EX_INT: {
        long v = number ? strtol(s, &end, 10) : 0;
        if (number && errno == 0 && *end == '\0' && v >= o->min && v <= o->max) {
            *(int *)o->value = (int)v;
            return 0;
        }
        snprintf(why, size, "bad --%s '%s': a whole number from %.0f to %.0f expected", o->name,
                 s, o->min, o->max);
        return -1;
    }
    case EX_FLOAT: {
        double v = number ? strtod(s, &end) : 0.0;
        if (number && *end == '\0' && isfinite(v) && v >= o->min && v <= o->max) {
            *(float *)o->value = (float)v;
            return 0;
        }
        snprintf(why, size, "bad --%s '%s': a number from %g to %g expected", o->name, s, o->min,
                 o->max);
        return -1;
    }
    case EX_TEXT:
        if (*s != '\0') {
            *(const char **)o->value = s;
            return 0;
        }
        snprintf(why, size, "bad --%s '': a value expected", o->name);
        return -1;
    case EX_CHOICE:
        for (int i = 0; o->choices[i]; i++)
            if (strcmp(s, o->choices[i]) == 0) {
                *(const char **)o->value = o->choices[i];
                return 0;
            }
        char names[256];
        join_choices(o->choices, names, sizeof names);
        snprintf(why, size, "bad --%s '%s': one of %s expected", o->name, s, names);
        return -1;
    }
    snprintf(why, size, "--%s: an option of no known kind", o->name);
    return -1;
}

ex_parse_result ex_options_parse(const ex_program *p, int argc, char **argv, ex_common *c,
                                 char *why, size_t size) {
    common_values v;
    ex_option table[N_COMMON + MAX_OWN];
    struct option longopts[N_COMMON + MAX_OWN + 2];
    *c = p->defaults;
    v.device = devices[c->device == AX_DEVICE_CPU ? 1 : c->device == AX_DEVICE_CUDA ? 2 : 0];
    v.schedule = schedules[c->cosine ? 0 : 1];
    v.optimizer = c->optimizer;
    v.seed = (int)c->seed;
    if (p->n_own > MAX_OWN) {
        snprintf(why, size, "more than %d options of its own", MAX_OWN);
        return EX_REFUSED;
    }
    int n = option_table(p, c, &v, table);
    for (int i = 0; i < n; i++)
        longopts[i] = (struct option){table[i].name, required_argument, NULL, FIRST_VAL + i};
    longopts[n] = (struct option){"help", no_argument, NULL, HELP_VAL};
    longopts[n + 1] = (struct option){NULL, 0, NULL, 0};

    optind = 0; /* glibc: start afresh, so that a program (or a test) may parse again */
    opterr = 0; /* the messages are ours */
    int k;
    while ((k = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        const char *arg = argv[optind - 1];
        if (k == HELP_VAL)
            return EX_HELP;
        if (k >= FIRST_VAL && k < FIRST_VAL + n) {
            if (read_value(&table[k - FIRST_VAL], optarg, why, size) != 0)
                return EX_REFUSED;
        } else if (k == ':') {
            snprintf(why, size, "option '%s' needs a value", arg);
            return EX_REFUSED;
        } else if (optopt == HELP_VAL && strncmp(arg, "--", 2) == 0) {
            snprintf(why, size, "option '--help' takes no value");
            return EX_REFUSED;
        } else if (optopt > 0 && optopt < FIRST_VAL && optopt != HELP_VAL) {
            snprintf(why, size, "unknown option '-%c'", optopt);
            return EX_REFUSED;
        } else {
            snprintf(why, size, "unknown or ambiguous option '%s'", arg);
            return EX_REFUSED;
        }
    }
    if (optind < argc) {
        snprintf(why, size, "unexpected argument '%s' (every option starts with --)",
                 argv[optind]);
        return EX_REFUSED;
    }
    if (c->epochs == 0 && !c->load) {
        snprintf(why, size, "bad --epochs '0': 0 only evaluates, and needs --load");
        return EX_REFUSED;
    }
    c->device = v.device == devices[1] ? AX_DEVICE_CPU
                : v.device == devices[2] ? AX_DEVICE_CUDA
                                         : AX_DEVICE_AUTO;
    c->cosine = v.schedule == schedules[0];
    c->optimizer = v.optimizer;
    c->seed = (uint64_t)v.seed;
    return EX_PARSED;
}

/* Prints text from column `column` on (the first line after `used` columns already printed),
 * keeping its line breaks and wrapping longer lines at spaces to end by column TEXT_COLUMNS. */
static void print_wrapped(FILE *f, int used, int column, const char *text) {
    int room = TEXT_COLUMNS - column;
    while (*text) {
        size_t len = strcspn(text, "\n");
        if (len > (size_t)room) { /* the last space that leaves a line within room */
            size_t cut = (size_t)room;
            while (cut > 0 && text[cut] != ' ')
                cut--;
            if (cut > 0)
                len = cut;
        }
        fprintf(f, "%*s%.*s\n", used < column ? column - used : 1, "", (int)len, text);
        text += len;
        text += *text == '\n' || *text == ' ';
        used = 0;
    }
}

void ex_options_usage(const ex_program *p, FILE *f) {
    common_values v;
    ex_common c = p->defaults;
    ex_option table[N_COMMON + MAX_OWN];
    int n = option_table(p, &c, &v, table);
    fprintf(f, "usage: %s [options]\n%s\n\n", p->name, p->summary);
    for (int i = 0; i <= n; i++) {
        const char *name = i < n ? table[i].name : "help";
        const char *arg = i < n ? table[i].arg : "";
        int w = fprintf(f, "  --%s%s%s", name, *arg ? " " : "", arg);
        print_wrapped(f, w, HELP_COLUMN, i < n ? table[i].help : "this message");
    }
}

ex_common ex_options_parse_or_exit(const ex_program *p, int argc, char **argv) {
    char why[512];
    ex_common c;
    ex_set_program(p->name);
    switch (ex_options_parse(p, argc, argv, &c, why, sizeof why)) {
    case EX_HELP:
        ex_options_usage(p, stdout);
        exit(0);
    case EX_REFUSED:
        fprintf(stderr, "%s: %s\nRun '%s --help' for the options.\n", p->name, why, p->name);
        exit(2);
    case EX_PARSED:
        break;
    }
    return c;
}
