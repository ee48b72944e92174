/* The examples' command line: the options every training example has (device, epochs, batch,
 * lr, schedule, optimizer, seed, data, save, load, log, threads, help), parsed with
 * getopt_long so that `--epochs 3` and `--epochs=3` both work, and a table of the example's own
 * options (mnist_mlp's --dropout) parsed the same way. An unknown option, a missing or bad
 * value, or a stray argument is refused with a message naming it (exit status 2). As with any
 * getopt_long program, an unambiguous prefix names an option too (--epo 3). */
#ifndef EXAMPLES_OPTIONS_H
#define EXAMPLES_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "axon.h"

/* The options every example has, as parsed. */
typedef struct ex_common {
    ax_device_kind device;
    int epochs;            /* 0 (with --load only) evaluates */
    int batch;
    float lr;              /* < 0: the optimizer's default (ex_create_optimizer) */
    int cosine;            /* --schedule cosine: decay the learning rate to 0 over the run */
    const char *optimizer; /* sgd|momentum|adam|adamw|rmsprop|adagrad */
    uint64_t seed;
    const char *data;      /* NULL: ax_data_dir's search */
    const char *save, *load, *log;
    int threads; /* OpenBLAS threads; 0: OpenBLAS's own default; -1: the example's default */
} ex_common;

/* How an option's value is read and where it goes. */
typedef enum ex_kind {
    EX_INT,    /* a whole number in [min, max] into an int */
    EX_FLOAT,  /* a finite number in [min, max] into a float */
    EX_TEXT,   /* any non-empty text into a const char * (pointing into argv) */
    EX_CHOICE, /* one of `choices` into a const char * (pointing into choices) */
} ex_kind;

/* One option of an example's own table. */
typedef struct ex_option {
    const char *name;                /* without "--": "dropout" */
    const char *arg;                 /* its value in the help: "P", "N", "PATH" */
    ex_kind kind;
    void *value;                     /* int *, float * or const char ** as kind says */
    double min, max;                 /* EX_INT, EX_FLOAT: the range accepted, inclusive */
    const char *const *choices;      /* EX_CHOICE: the names, NULL-terminated */
    const char *help;                /* its help, lines separated by '\n' */
} ex_option;

/* An example: its name, what it does, its defaults and its own options. */
typedef struct ex_program {
    const char *name;        /* "mnist_mlp": the usage line and every message's prefix */
    const char *summary;     /* what it does, for --help; lines separated by '\n' */
    const char *epochs_help; /* "passes over the 60k training images" */
    const char *dataset;     /* the folder under the data folder: "mnist" */
    int max_batch;           /* the largest --batch (the training set's size) */
    int default_threads;     /* OpenBLAS threads when --threads is not given */
    ex_common defaults;      /* every field's value when its option is not given */
    const ex_option *own;    /* the example's own options, listed after --optimizer */
    int n_own;
} ex_program;

/* What ex_options_parse found. */
typedef enum ex_parse_result {
    EX_PARSED = 0, /* *common and the own options' values are set */
    EX_HELP = 1,   /* --help or -h: print ex_options_usage and exit 0 */
    EX_REFUSED = 2 /* a usage error, said in why: exit 2 */
} ex_parse_result;

/* Parses argv[1..argc-1] into *common (starting from program->defaults) and the values of
 * program->own. argv may be reordered (getopt_long's permutation). Returns EX_REFUSED with a
 * message naming the option and the value in why (size bytes; without the program's name). */
ex_parse_result ex_options_parse(const ex_program *program, int argc, char **argv,
                                 ex_common *common, char *why, size_t size);

/* The --help text: the usage line, the summary and every option with its default. */
void ex_options_usage(const ex_program *program, FILE *f);

/* ex_options_parse for main(): on --help prints the usage to stdout and exits 0; on a usage
 * error prints "NAME: WHY" and a pointer to --help to stderr and exits 2. Also makes
 * program->name the prefix of ex_fail's messages. */
ex_common ex_options_parse_or_exit(const ex_program *program, int argc, char **argv);

#endif
