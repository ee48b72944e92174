/* The examples' shared module (examples/common/), the parts a run does not check: the command
 * line takes `--x v` and `--x=v` alike and refuses every bad value, unknown option and stray
 * argument with a message naming it; the progress line never exceeds the columns it is given
 * and drops fields from the least important up; the --log CSV; a classifier's evaluation
 * (tail batches, ties, the loss) and training loop; the checkpoint target is
 * refused before training when it cannot be written, and a failed save keeps the weights
 * elsewhere. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "classifier.h"
#include "helpers.h"
#include "options.h"
#include "progress.h"
#include "report.h"
#include "save_target.h"
#include "train_log.h"

static progress sample(int64_t step) {
    progress p = {12, 15, step, 235, 0.123456, 0.9612, 8.1234e-4, 12345.0, 12.0, 185.0};
    return p;
}

static int has(const char *line, const char *what) { return strstr(line, what) != NULL; }

/* Every width from 1 to 200, at the start, middle and end of an epoch, with and without bar. */
Test(progress, never_exceeds_the_columns) {
    char line[512];
    const int64_t steps[] = {0, 1, 117, 234, 235};
    for (int columns = 1; columns <= 200; columns++)
        for (int s = 0; s < 5; s++)
            for (int bar = 0; bar < 2; bar++) {
                progress p = sample(steps[s]);
                size_t n = progress_format(line, sizeof line, columns, bar, &p);
                cr_assert_eq(n, strlen(line));
                cr_assert_leq(n, (size_t)columns, "%d columns: \"%s\" (%zu)", columns, line, n);
                cr_assert_eq(strchr(line, '\n'), NULL);
                if (columns >= 11)
                    cr_assert(has(line, "epoch 12/15"), "%d columns: \"%s\"", columns, line);
            }
}

Test(progress, wide_terminal_shows_every_field) {
    char line[512];
    progress p = sample(117);
    progress_format(line, sizeof line, 200, 1, &p);
    const char *fields[] = {"epoch 12/15", "117/235", "loss 0.1235", "acc 0.961", "lr 8.12e-04",
                            "12345 ex/s", "epoch ETA 12s", "ETA 3m05s"};
    for (int i = 0; i < 8; i++)
        cr_assert(has(line, fields[i]), "\"%s\" lacks \"%s\"", line, fields[i]);
    /* a 30-column bar, filled to 117/235 of it: 14 '=' then '>' */
    const char *open = strchr(line, '[');
    cr_assert_not_null(open);
    cr_assert_eq(strchr(open, ']') - open - 1, 30, "\"%s\"", line);
    cr_assert_eq(strncmp(open, "[==============> ", 17), 0, "\"%s\"", line);
}

/* 79 columns (an 80-column terminal): the bar, the loss, the total ETA, lr and accuracy
 * stay; the throughput, the epoch's own ETA and the step counter go first. */
Test(progress, eighty_columns_keeps_the_important_fields) {
    char line[512];
    progress p = sample(117);
    size_t n = progress_format(line, sizeof line, 79, 1, &p);
    cr_assert_leq(n, 79);
    cr_assert(has(line, "[") && has(line, "loss 0.1235") && has(line, "ETA 3m05s") &&
                  has(line, "lr 8.12e-04") && has(line, "acc 0.961"),
              "\"%s\"", line);
    cr_assert(!has(line, "ex/s") && !has(line, "epoch ETA") && !has(line, "117/235"), "\"%s\"",
              line);
    /* 40 columns: epoch, loss and total ETA before anything else */
    n = progress_format(line, sizeof line, 40, 1, &p);
    cr_assert(has(line, "epoch 12/15") && has(line, "loss 0.1235") && has(line, "ETA 3m05s"),
              "\"%s\"", line);
    cr_assert(!has(line, "lr ") && !has(line, "acc"), "\"%s\"", line);
}

/* The bar at the ends: empty with its head at step 0, full at the last step. */
Test(progress, bar_ends) {
    char line[512];
    progress p = sample(0);
    progress_format(line, sizeof line, 200, 1, &p);
    cr_assert(has(line, "[>                             ]"), "\"%s\"", line);
    p = sample(235);
    progress_format(line, sizeof line, 200, 1, &p);
    cr_assert(has(line, "[==============================]"), "\"%s\"", line);
    /* no accuracy or lr known: those fields are left out, not printed as negative */
    p.accuracy = -1;
    p.lr = -1;
    progress_format(line, sizeof line, 200, 0, &p);
    cr_assert(!has(line, "acc") && !has(line, "lr") && !has(line, "["), "\"%s\"", line);
}

Test(progress, durations) {
    const double in[] = {0, 0.4, 59.4, 59.6, 65, 3599, 3725, -3, 1e300};
    const char *out[] = {"0s", "0s", "59s", "1m00s", "1m05s", "59m59s", "1h02m", "0s", "0s"};
    char buf[32];
    for (int i = 0; i < 9; i++) {
        progress_duration(buf, sizeof buf, in[i]);
        cr_assert_str_eq(buf, out[i], "%g s", in[i]);
    }
}

/* Not a terminal: $COLUMNS less one, else 79; at least 20. */
Test(progress, columns_from_the_environment) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    const char *env[] = {"40", "80", "200", "5", "abc", ""};
    const int want[] = {39, 79, 199, 20, 79, 79};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(setenv("COLUMNS", env[i], 1), 0);
        cr_assert_eq(progress_columns(fds[1]), want[i], "COLUMNS=%s", env[i]);
    }
    cr_assert_eq(unsetenv("COLUMNS"), 0);
    cr_assert_eq(progress_columns(fds[1]), 79);
    close(fds[0]);
    close(fds[1]);
}

Test(progress, join_fits_or_wraps_the_tail) {
    char line[128];
    size_t n = progress_join(line, sizeof line, 20, "0123456789", "abcdefgh");
    cr_assert_str_eq(line, "0123456789, abcdefgh");
    cr_assert_eq(n, 20);
    n = progress_join(line, sizeof line, 19, "0123456789", "abcdefgh");
    cr_assert_str_eq(line, "0123456789\n    abcdefgh");
    cr_assert_eq(n, strlen(line));
}

/* ---------------------------------------------------------------- the checkpoint target */

static char scratch[64];

static void make_scratch(void) {
    snprintf(scratch, sizeof scratch, "/tmp/axon-save-XXXXXX");
    cr_assert_not_null(mkdtemp(scratch));
}

static void remove_scratch(void) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "chmod -R u+w '%s'; rm -rf '%s'", scratch, scratch);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", scratch);
}

/* 0 when dir is empty. */
static int count_entries(const char *dir) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 0", dir);
    return system(cmd) == 0 ? 0 : 1;
}

/* The refusal for path, which must mention every one of the `n` words. */
static void assert_refused(const char *path, int n, const char *const *words) {
    char why[8400] = "";
    cr_assert_eq(save_target_check(path, why, sizeof why), -1, "%s was accepted", path);
    for (int i = 0; i < n; i++)
        cr_assert(has(why, words[i]), "refusing %s: \"%s\" lacks \"%s\"", path, why, words[i]);
}

TestSuite(save_target, .init = make_scratch, .fini = remove_scratch);

Test(save_target, writable_targets_pass_and_leave_nothing) {
    char why[8400], path[128];
    snprintf(path, sizeof path, "%s/new.safetensors", scratch);
    cr_assert_eq(save_target_check(path, why, sizeof why), 0, "%s", why);
    cr_assert_eq(count_entries(scratch), 0, "the probe file was left in %s", scratch);
    FILE *f = fopen(path, "w"); /* an existing regular file is replaced, as --help says */
    cr_assert_not_null(f);
    fclose(f);
    cr_assert_eq(save_target_check(path, why, sizeof why), 0, "%s", why);
    cr_assert_eq(chdir(scratch), 0);
    cr_assert_eq(save_target_check("here.safetensors", why, sizeof why), 0, "%s", why);
}

Test(save_target, refusals) {
    char path[128];
    const char *folder[] = {scratch, "is a folder"};
    assert_refused(scratch, 2, folder);
    const char *device[] = {"/dev/full", "not a regular file", "refusing to replace"};
    assert_refused("/dev/full", 3, device);
    const char *null[] = {"/dev/null", "not a regular file"};
    assert_refused("/dev/null", 2, null);
    snprintf(path, sizeof path, "%s/fifo", scratch);
    cr_assert_eq(mkfifo(path, 0600), 0);
    const char *fifo[] = {path, "not a regular file"};
    assert_refused(path, 2, fifo);
    snprintf(path, sizeof path, "%s/missing/m.safetensors", scratch);
    const char *missing[] = {path, "/missing", "does not exist"};
    assert_refused(path, 3, missing);
    snprintf(path, sizeof path, "%s/fifo/m.safetensors", scratch);
    const char *notdir[] = {"/fifo", "is not a folder"};
    assert_refused(path, 2, notdir);
    const char *empty[] = {"empty"};
    assert_refused("", 1, empty);
    /* a folder where no file can be created: /proc for everyone, even root */
    const char *proc[] = {"/proc/m.safetensors", "cannot create a file in /proc"};
    assert_refused("/proc/m.safetensors", 2, proc);
    cr_assert(access("/dev/full", F_OK) == 0);
}

/* Without write permission on the folder. Root passes permission checks, so the check runs
 * in a child process that drops to the user nobody first when the tests run as root. */
Test(save_target, folder_without_write_permission) {
    char dir[128], path[160];
    cr_assert_eq(chmod(scratch, 0755), 0);
    snprintf(dir, sizeof dir, "%s/ro", scratch);
    cr_assert_eq(mkdir(dir, 0555), 0);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    fflush(NULL);
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(2);
        char why[8400] = "";
        int refused = save_target_check(path, why, sizeof why) == -1;
        _exit(refused && has(why, "cannot create a file in") && has(why, dir) ? 0 : 1);
    }
    int status = 0;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "a folder without write permission was not refused (child status %d)", status);
}

/* The rescue tries $TMPDIR, /tmp and the current folder in turn and reports the first that
 * worked. */
static int fail_until(void *arg, const char *path) {
    int *left = arg;
    (void)path;
    return (*left)-- > 0 ? -1 : 0;
}

Test(save_target, rescue_tries_the_fallbacks_in_order) {
    char kept[256];
    cr_assert_eq(setenv("TMPDIR", scratch, 1), 0);
    int left = 0;
    cr_assert_eq(save_target_rescue(fail_until, &left, "stem", kept, sizeof kept), 0);
    char want[128];
    snprintf(want, sizeof want, "%s/stem-%ld.safetensors", scratch, (long)getpid());
    cr_assert_str_eq(kept, want);
    left = 1;
    cr_assert_eq(save_target_rescue(fail_until, &left, "stem", kept, sizeof kept), 0);
    snprintf(want, sizeof want, "/tmp/stem-%ld.safetensors", (long)getpid());
    cr_assert_str_eq(kept, want);
    left = 2;
    cr_assert_eq(save_target_rescue(fail_until, &left, "stem", kept, sizeof kept), 0);
    snprintf(want, sizeof want, "./stem-%ld.safetensors", (long)getpid());
    cr_assert_str_eq(kept, want);
    left = 3;
    cr_assert_eq(save_target_rescue(fail_until, &left, "stem", kept, sizeof kept), -1);
    cr_assert_str_eq(kept, "");
    /* TMPDIR unset: /tmp once, then the current folder */
    cr_assert_eq(unsetenv("TMPDIR"), 0);
    left = 1;
    cr_assert_eq(save_target_rescue(fail_until, &left, "stem", kept, sizeof kept), 0);
    cr_assert_str_eq(kept, want);
}

/* ---------------------------------------------------------------- the command line */

/* A program with the common options and one of its own of every kind, as char_rnn would
 * declare them. */
static float t_dropout;
static int t_layers;
static const char *t_cell, *t_prime;
static const char *const t_cells[] = {"lstm", "gru", NULL};
static const ex_option t_own[] = {
    {"dropout", "P", EX_FLOAT, &t_dropout, 0.0, 0.99, NULL, "drop probability\n(default 0.2)"},
    {"layers", "N", EX_INT, &t_layers, 1, 8, NULL, "stacked layers (default 2)"},
    {"cell", "NAME", EX_CHOICE, &t_cell, 0, 0, t_cells, "lstm|gru (default lstm)"},
    {"prime", "TEXT", EX_TEXT, &t_prime, 0, 0, NULL, "text to start sampling from"},
};
static const ex_program t_program = {
    .name = "t_prog",
    .summary = "A test program.",
    .epochs_help = "passes over the training text",
    .dataset = "tinyshakespeare",
    .max_batch = 1000,
    .default_threads = 3,
    .defaults = {.device = AX_DEVICE_AUTO, .epochs = 15, .batch = 256, .lr = -1.0f,
                 .cosine = 1, .optimizer = "adam", .seed = 42, .save = "t_prog.safetensors",
                 .threads = -1},
    .own = t_own,
    .n_own = 4,
};

static void reset_own(void) {
    t_dropout = 0.2f;
    t_layers = 2;
    t_cell = "lstm";
    t_prime = NULL;
}

/* Parses the words of `line` (split at spaces; at most 40) as a command line. */
static ex_parse_result parse_line(const char *line, ex_common *c, char *why, size_t size) {
    static char buf[512];
    char *argv[42] = {"t_prog"};
    int argc = 1;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *w = strtok(buf, " "); w && argc < 41; w = strtok(NULL, " "))
        argv[argc++] = w;
    argv[argc] = NULL;
    why[0] = '\0';
    return ex_options_parse(&t_program, argc, argv, c, why, size);
}

static void assert_parsed(const char *line, ex_common *c) {
    char why[512];
    reset_own();
    ex_parse_result r = parse_line(line, c, why, sizeof why);
    cr_assert_eq(r, EX_PARSED, "'%s' gave %d: %s", line, (int)r, why);
}

/* Refused with a message that holds every one of `n` words. */
static void assert_refused_line(const char *line, int n, const char *const *words) {
    char why[512];
    ex_common c;
    ex_parse_result r = parse_line(line, &c, why, sizeof why);
    cr_assert_eq(r, EX_REFUSED, "'%s' was not refused (%d)", line, (int)r);
    for (int i = 0; i < n; i++)
        cr_assert(has(why, words[i]), "refusing '%s': \"%s\" lacks \"%s\"", line, why, words[i]);
}

Test(options, defaults_when_nothing_is_given) {
    ex_common c;
    assert_parsed("", &c);
    cr_assert_eq(c.device, AX_DEVICE_AUTO);
    cr_assert_eq(c.epochs, 15);
    cr_assert_eq(c.batch, 256);
    cr_assert_lt(c.lr, 0.0f);
    cr_assert_eq(c.cosine, 1);
    cr_assert_str_eq(c.optimizer, "adam");
    cr_assert_eq(c.seed, 42);
    cr_assert_null(c.data);
    cr_assert_str_eq(c.save, "t_prog.safetensors");
    cr_assert_null(c.load);
    cr_assert_null(c.log);
    cr_assert_eq(c.threads, -1);
    cr_assert_float_eq(t_dropout, 0.2f, 0.0f);
    cr_assert_eq(t_layers, 2);
    cr_assert_str_eq(t_cell, "lstm");
    cr_assert_null(t_prime);
}

/* Every option, own ones included, in both forms: the same values either way. */
Test(options, both_forms_of_every_option) {
    const char *forms[2] = {
        "--device cpu --epochs 3 --batch 7 --lr 0.01 --schedule constant --optimizer sgd "
        "--seed 123 --data /d --save s.st --load l.st --log l.csv --threads 2 --dropout 0.5 "
        "--layers 3 --cell gru --prime ROMEO",
        "--device=cpu --epochs=3 --batch=7 --lr=0.01 --schedule=constant --optimizer=sgd "
        "--seed=123 --data=/d --save=s.st --load=l.st --log=l.csv --threads=2 --dropout=0.5 "
        "--layers=3 --cell=gru --prime=ROMEO"};
    for (int f = 0; f < 2; f++) {
        ex_common c;
        assert_parsed(forms[f], &c);
        cr_assert_eq(c.device, AX_DEVICE_CPU, "form %d", f);
        cr_assert_eq(c.epochs, 3);
        cr_assert_eq(c.batch, 7);
        cr_assert_float_eq(c.lr, 0.01f, 0.0f);
        cr_assert_eq(c.cosine, 0);
        cr_assert_str_eq(c.optimizer, "sgd");
        cr_assert_eq(c.seed, 123);
        cr_assert_str_eq(c.data, "/d");
        cr_assert_str_eq(c.save, "s.st");
        cr_assert_str_eq(c.load, "l.st");
        cr_assert_str_eq(c.log, "l.csv");
        cr_assert_eq(c.threads, 2);
        cr_assert_float_eq(t_dropout, 0.5f, 0.0f);
        cr_assert_eq(t_layers, 3);
        cr_assert_str_eq(t_cell, "gru");
        cr_assert_str_eq(t_prime, "ROMEO");
    }
    /* the other choices, and the last of a repeated option wins */
    ex_common c;
    assert_parsed("--device cuda --schedule cosine --optimizer=adagrad --epochs 2 --epochs 4", &c);
    cr_assert_eq(c.device, AX_DEVICE_CUDA);
    cr_assert_eq(c.cosine, 1);
    cr_assert_str_eq(c.optimizer, "adagrad");
    cr_assert_eq(c.epochs, 4);
    assert_parsed("--device=cpu --device=auto --schedule=constant", &c);
    cr_assert_eq(c.device, AX_DEVICE_AUTO);
    cr_assert_eq(c.cosine, 0);
    /* a value that starts with '-' is the value of the option before it */
    assert_parsed("--prime -x --save -", &c);
    cr_assert_str_eq(t_prime, "-x");
    cr_assert_str_eq(c.save, "-");
}

/* The ends of each range are in it; one past them is not. */
Test(options, ranges_are_inclusive) {
    static const struct {
        const char *in, *out, *name;
    } cases[] = {
        {"--epochs 100000", "--epochs 100001", "--epochs"},
        {"--batch 1", "--batch 0", "--batch"},
        {"--batch 1000", "--batch 1001", "--batch"},
        {"--lr 0", "--lr -0.001", "--lr"},
        {"--lr 100", "--lr 100.5", "--lr"},
        {"--seed 0", "--seed -1", "--seed"},
        {"--seed 2147483647", "--seed 2147483648", "--seed"},
        {"--threads 0", "--threads -1", "--threads"},
        {"--threads 1024", "--threads 1025", "--threads"},
        {"--dropout 0", "--dropout -0.1", "--dropout"},
        {"--dropout 0.99", "--dropout 1", "--dropout"},
        {"--layers 8", "--layers 9", "--layers"},
        {"--layers 1", "--layers 0", "--layers"},
        {"--epochs 1", "--epochs -1", "--epochs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ex_common c;
        assert_parsed(cases[i].in, &c);
        const char *value = strchr(cases[i].out, ' ') + 1;
        const char *words[] = {cases[i].name, value, "expected"};
        assert_refused_line(cases[i].out, 3, words);
    }
    ex_common c;
    assert_parsed("--seed 2147483647 --threads 1024 --layers 8", &c);
    cr_assert_eq(c.seed, 2147483647u);
    cr_assert_eq(c.threads, 1024);
    cr_assert_eq(t_layers, 8);
}

/* Text that is not a number in range, in either form. */
Test(options, malformed_values) {
    const char *ints[] = {"3x", "x3", "3.0", "1e3", "0x10", "", " 3", "99999999999999999999"};
    const char *floats[] = {"0.5x", "nan", "inf", "-inf", "1e400", "", " 0.5", "0,5"};
    char line[128];
    for (int i = 0; i < 8; i++) {
        snprintf(line, sizeof line, "--epochs=%s", ints[i]);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", ints[i]);
        const char *w[] = {"bad --epochs", quoted, "whole number"};
        if (strchr(ints[i], ' ') == NULL) /* parse_line splits at spaces */
            assert_refused_line(line, 3, w);
        snprintf(line, sizeof line, "--dropout=%s", floats[i]);
        snprintf(quoted, sizeof quoted, "'%s'", floats[i]);
        const char *wf[] = {"bad --dropout", quoted, "a number from 0 to 0.99"};
        if (strchr(floats[i], ' ') == NULL)
            assert_refused_line(line, 3, wf);
    }
    /* a leading space, which a shell passes when quoted */
    char why[256];
    ex_common c;
    char *argv[] = {"t_prog", "--batch", " 3", NULL};
    cr_assert_eq(ex_options_parse(&t_program, 3, argv, &c, why, sizeof why), EX_REFUSED);
    cr_assert(has(why, "bad --batch ' 3'"), "%s", why);
    char *argv2[] = {"t_prog", "--lr", " 0.5", NULL};
    cr_assert_eq(ex_options_parse(&t_program, 3, argv2, &c, why, sizeof why), EX_REFUSED);
    const char *choice[] = {"bad --device 'gpu'", "auto|cpu|cuda"};
    assert_refused_line("--device=gpu", 2, choice);
    const char *choice2[] = {"bad --optimizer 'Adam'", "sgd|momentum|adam|adamw|rmsprop|adagrad"};
    assert_refused_line("--optimizer Adam", 2, choice2);
    const char *choice3[] = {"bad --cell 'rnn'", "lstm|gru"};
    assert_refused_line("--cell rnn", 2, choice3);
    const char *sched[] = {"bad --schedule 'linear'", "cosine|constant"};
    assert_refused_line("--schedule=linear", 2, sched);
    const char *empty[] = {"bad --save ''"};
    assert_refused_line("--save=", 1, empty);
    const char *empty_prime[] = {"bad --prime ''"};
    assert_refused_line("--prime=", 1, empty_prime);
}

Test(options, unknown_missing_and_stray) {
    const char *unknown[] = {"unknown", "'--dropuot'"};
    assert_refused_line("--epochs 2 --dropuot 0.1", 2, unknown);
    const char *unknown_eq[] = {"unknown", "'--nope=3'"};
    assert_refused_line("--nope=3", 2, unknown_eq);
    const char *ambiguous[] = {"ambiguous", "'--d'"}; /* device, data, dropout */
    assert_refused_line("--d 3", 2, ambiguous);
    const char *shortopt[] = {"unknown option '-e'"};
    assert_refused_line("-e 3", 1, shortopt);
    const char *missing[] = {"'--lr' needs a value"};
    assert_refused_line("--batch 8 --lr", 1, missing);
    const char *missing_own[] = {"'--cell' needs a value"};
    assert_refused_line("--cell", 1, missing_own);
    const char *stray[] = {"unexpected argument 'train'"};
    assert_refused_line("--epochs 1 train", 1, stray);
    assert_refused_line("train --epochs 1", 1, stray);
    const char *help_value[] = {"'--help' takes no value"};
    assert_refused_line("--help=1", 1, help_value);
    const char *eval[] = {"--epochs '0'", "needs --load"};
    assert_refused_line("--epochs 0", 2, eval);
    ex_common c;
    assert_parsed("--epochs=0 --load=m.st", &c);
    cr_assert_eq(c.epochs, 0);
    char why[128];
    cr_assert_eq(parse_line("--help", &c, why, sizeof why), EX_HELP);
    cr_assert_eq(parse_line("--epochs 3 -h", &c, why, sizeof why), EX_HELP);
    /* a refusal in the middle does not leak into the next parse: each starts afresh */
    assert_refused_line("--epochs 1 --bogus --batch 9", 1, unknown);
    assert_parsed("--batch 9", &c);
    cr_assert_eq(c.batch, 9);
    cr_assert_eq(c.epochs, 15);
}

/* Every line of --help fits an 80-column terminal; every option is listed with its value and
 * the program's defaults, the own ones after --optimizer and before --seed. */
Test(options, usage_lists_every_option) {
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    cr_assert_not_null(f);
    ex_options_usage(&t_program, f);
    cr_assert_eq(fclose(f), 0);
    const char *want[] = {"usage: t_prog [options]\nA test program.\n", "--device auto|cpu|cuda",
                          "--epochs N", "passes over the training text (default 15;",
                          "--batch N", "(default 256)", "--lr X", "--schedule NAME",
                          "--optimizer NAME", "--dropout P", "(default 0.2)", "--layers N",
                          "--cell NAME", "--prime TEXT", "--seed N", "(default 42)",
                          "--data DIR", "holding tinyshakespeare/", "--save PATH",
                          "t_prog.safetensors here", "--load PATH", "--log FILE",
                          "--threads N", "(default 3;", "--help"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(has(text, want[i]), "--help lacks \"%s\":\n%s", want[i], text);
    cr_assert_lt(strstr(text, "--optimizer"), strstr(text, "--dropout"));
    cr_assert_lt(strstr(text, "--prime"), strstr(text, "--seed"));
    /* a continued line of a help starts at the help column */
    cr_assert(has(text, "\n                          (default 0.2)\n"), "%s", text);
    for (char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        cr_assert_leq(len, 79, "a line of %zu columns: %.*s", len, (int)len, line);
        line += len + (line[len] == '\n');
    }
    free(text);
}

Test(options, help_exits_0, .exit_code = 0) {
    char *argv[] = {"t_prog", "--help", NULL};
    cr_assert_not_null(freopen("/dev/null", "w", stdout));
    ex_options_parse_or_exit(&t_program, 2, argv);
    cr_assert_fail("--help returned");
}

Test(options, usage_error_exits_2, .exit_code = 2) {
    char *argv[] = {"t_prog", "--epochs=-1", NULL};
    cr_assert_not_null(freopen("/dev/null", "w", stderr));
    ex_options_parse_or_exit(&t_program, 2, argv);
    cr_assert_fail("a bad value returned");
}

Test(options, parse_or_exit_returns_the_options) {
    char *argv[] = {"t_prog", "--epochs=2", "--layers", "5", NULL};
    reset_own();
    ex_common c = ex_options_parse_or_exit(&t_program, 4, argv);
    cr_assert_eq(c.epochs, 2);
    cr_assert_eq(t_layers, 5);
    cr_assert_str_eq(ex_program_name(), "t_prog");
}

/* ---------------------------------------------------------------- errors */

Test(report, fail_exits_1, .exit_code = 1) {
    ex_set_program("t_prog");
    cr_assert_not_null(freopen("/dev/null", "w", stderr));
    ex_fail("cannot %s", "go on");
}

Test(report, failed_status_exits_1, .exit_code = 1) {
    cr_assert_not_null(freopen("/dev/null", "w", stderr));
    ex_fail_status(AX_ERR_IO);
}

/* ---------------------------------------------------------------- the --log CSV */

TestSuite(train_log, .init = make_scratch, .fini = remove_scratch);

static char *read_file_text(const char *path) {
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    static char text[1024];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* The last step of each epoch carries the epoch's accuracy; a step without one ends in a
 * comma; what is held back is written at the close. */
Test(train_log, rows_and_the_epoch_accuracy) {
    char path[128];
    snprintf(path, sizeof path, "%s/log.csv", scratch);
    train_log log;
    cr_assert_eq(train_log_open(&log, path), 0);
    train_log_step(&log, 1, 1, 2.5f);
    train_log_step(&log, 1, 2, 1.25f);
    train_log_flush(&log, 0.91234);
    train_log_flush(&log, 0.5); /* nothing held back: nothing written */
    train_log_step(&log, 2, 3, 0.5f);
    cr_assert_eq(train_log_close(&log), 0);
    cr_assert_str_eq(read_file_text(path), "epoch,step,loss,accuracy\n"
                                           "1,1,2.500000,\n"
                                           "1,2,1.250000,0.9123\n"
                                           "2,3,0.500000,\n");
}

Test(train_log, no_path_no_file_and_unwritable_refused) {
    train_log log;
    cr_assert_eq(train_log_open(&log, NULL), 0);
    train_log_step(&log, 1, 1, 1.0f);
    train_log_flush(&log, 0.5);
    cr_assert_eq(train_log_close(&log), 0);
    cr_assert_eq(count_entries(scratch), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/missing/log.csv", scratch);
    cr_assert_eq(train_log_open(&log, path), -1);
    cr_assert_null(log.f);
    cr_assert_eq(train_log_close(&log), 0);
    /* a write that fails (a full device) is reported at the close */
    cr_assert_eq(train_log_open(&log, "/dev/full"), 0);
    for (int i = 0; i < 2000; i++)
        train_log_step(&log, 1, i, 1.0f);
    cr_assert_eq(train_log_close(&log), -1);
}

/* ---------------------------------------------------------------- the classifier loop */

/* x [batch, 2] -> dense "fc" to 3 classes -> cross-entropy. */
static ex_classifier tiny_classifier(ax_ctx *ctx, int batch) {
    ex_classifier m = {.classes = 3};
    AX_ASSERT_OK(ax_graph_create(ctx, 7, &m.g));
    AX_ASSERT_OK(ax_graph_input(m.g, "x", 2, (int64_t[]){batch, 2}, &m.x));
    AX_ASSERT_OK(ax_graph_labels(m.g, "y", batch, &m.y));
    AX_ASSERT_OK(ax_graph_dense(m.g, "fc", m.x, 3, &m.logits));
    AX_ASSERT_OK(ax_graph_cross_entropy(m.g, "loss", m.logits, m.y, &m.loss));
    AX_ASSERT_OK(ax_graph_compile(m.g, m.loss));
    return m;
}

/* logits = [x0, x1, 0.5] for six examples, evaluated 4 at a time (a tail of 2): the last
 * example is a tie of classes 0 and 1 (the first wins), the fifth is wrong. The loss is the
 * mean of log(sum exp z) - z[label], computed here directly. */
Test(classifier, evaluate_scores_every_batch_and_the_tail) {
    ax_ctx *ctx;
    AX_ASSERT_OK(ax_ctx_create(AX_DEVICE_CPU, 0, &ctx));
    ex_classifier m = tiny_classifier(ctx, 4);
    const float w[6] = {1, 0, 0, 1, 0, 0}, b[3] = {0, 0, 0.5f};
    ax_tensor *value;
    int index;
    AX_ASSERT_OK(ax_graph_param_find(m.g, "fc.weight", &index));
    AX_ASSERT_OK(ax_graph_param_get(m.g, index, NULL, &value, NULL));
    AX_ASSERT_OK(ax_tensor_set_from_host(value, w, sizeof w));
    AX_ASSERT_OK(ax_graph_param_find(m.g, "fc.bias", &index));
    AX_ASSERT_OK(ax_graph_param_get(m.g, index, NULL, &value, NULL));
    AX_ASSERT_OK(ax_tensor_set_from_host(value, b, sizeof b));
    float x[12] = {1, 0, 0, 1, 2, 0, 0, 0, -1, 0, 1, 1};
    int32_t y[6] = {0, 1, 0, 2, 1, 0};
    ex_dataset d = {x, y, 2, {6, 2}};
    double want = 0.0;
    for (int i = 0; i < 6; i++) {
        double z[3] = {x[2 * i], x[2 * i + 1], 0.5};
        want += log(exp(z[0]) + exp(z[1]) + exp(z[2])) - z[y[i]];
    }
    want /= 6;
    for (int batch = 1; batch <= 4; batch++) {
        epoch_score s = ex_evaluate(&m, &d, batch);
        cr_assert_float_eq(s.accuracy, 5.0 / 6.0, 1e-12, "batch %d: %g", batch, s.accuracy);
        cr_assert_float_eq(s.loss, want, 1e-6, "batch %d: %.9g, want %.9g", batch, s.loss, want);
    }
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
}

/* Three epochs of SGD on two separable clusters through the shared loop: every example right
 * afterwards, the log has a row per step with the test accuracy on each epoch's last, the
 * checkpoint is written; then --epochs 0 only evaluates (and writes nothing). */
Test(classifier, run_trains_logs_and_saves, .init = make_scratch, .fini = remove_scratch) {
    ax_ctx *ctx;
    AX_ASSERT_OK(ax_ctx_create(AX_DEVICE_CPU, 0, &ctx));
    ex_classifier m = tiny_classifier(ctx, 16);
    float x[64 * 2];
    int32_t y[64];
    for (int i = 0; i < 64; i++) {
        y[i] = i % 3;
        x[2 * i] = y[i] == 0 ? 2.0f : y[i] == 1 ? -2.0f : 0.0f;
        x[2 * i + 1] = (y[i] == 2 ? 2.0f : -1.0f) + 0.01f * (float)(i % 5);
    }
    ex_dataset d = {x, y, 2, {64, 2}};
    char save[128], log_path[128];
    snprintf(save, sizeof save, "%s/tiny.safetensors", scratch);
    snprintf(log_path, sizeof log_path, "%s/tiny.csv", scratch);
    ex_common o = {.device = AX_DEVICE_CPU, .epochs = 3, .batch = 16, .lr = 0.5f, .cosine = 0,
                   .optimizer = "sgd", .seed = 3, .save = save, .threads = -1};
    train_log log;
    cr_assert_eq(train_log_open(&log, log_path), 0);
    cr_assert_eq(ex_run_classifier(ctx, &m, &o, &d, &d, &log), 0);
    cr_assert_eq(train_log_close(&log), 0);
    cr_assert_eq(access(save, F_OK), 0, "%s was not written", save);
    epoch_score s = ex_evaluate(&m, &d, 16);
    cr_assert_float_eq(s.accuracy, 1.0, 0.0, "accuracy %g", s.accuracy);
    const char *text = read_file_text(log_path);
    int rows = 0, with_accuracy = 0;
    for (const char *line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        rows++;
        const char *end = strchr(line + 1, '\n');
        with_accuracy += end && end[-1] != ',';
    }
    cr_assert_eq(rows, 12, "%s", text);
    cr_assert_eq(with_accuracy, 3, "%s", text);
    cr_assert(has(text, "\n1,4,") && has(text, "\n3,12,"), "%s", text);
    /* evaluate only: the checkpoint is not written again */
    cr_assert_eq(unlink(save), 0);
    o.epochs = 0;
    cr_assert_eq(ex_run_classifier(ctx, &m, &o, &d, &d, &log), 0);
    cr_assert_neq(access(save, F_OK), 0);
    ax_graph_destroy(m.g);
    ax_ctx_destroy(ctx);
}
