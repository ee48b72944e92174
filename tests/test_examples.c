/* The parts of mnist_mlp (examples/) that a run does not check: the progress line never
 * exceeds the columns it is given and drops fields from the least important up; the
 * checkpoint target is refused before training when it cannot be written, and a failed save
 * keeps the weights elsewhere. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "progress.h"
#include "save_target.h"

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
