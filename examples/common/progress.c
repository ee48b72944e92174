/* The training examples' progress: which fields fit in the terminal's width, when to draw. */
#define _POSIX_C_SOURCE 200809L

#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

enum { MIN_COLUMNS = 20, BAR_MIN = 10, BAR_MAX = 30 };

int progress_columns(int fd) {
    int width = 0;
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        width = ws.ws_col;
    const char *env = getenv("COLUMNS");
    if (width == 0 && env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v > 0 && v < 100000)
            width = (int)v;
    }
    if (width == 0)
        width = 80;
    return width - 1 < MIN_COLUMNS ? MIN_COLUMNS : width - 1;
}

void progress_duration(char *out, size_t size, double seconds) {
    int s = seconds > 0 && seconds < 1e8 ? (int)(seconds + 0.5) : 0;
    if (s < 60)
        snprintf(out, size, "%ds", s);
    else if (s < 3600)
        snprintf(out, size, "%dm%02ds", s / 60, s % 60);
    else
        snprintf(out, size, "%dh%02dm", s / 3600, s / 60 % 60);
}

/* The fields in the order they are printed; `rank` is the order they are dropped in (the
 * highest rank goes first). The bar is built separately, its width chosen last. */
enum { F_EPOCH, F_BAR, F_STEP, F_LOSS, F_ACC, F_LR, F_RATE, F_EPOCH_ETA, F_ETA, F_COUNT };
static const int rank[F_COUNT] = {
    [F_EPOCH] = 0, [F_LOSS] = 1, [F_ETA] = 2,       [F_BAR] = 3,  [F_LR] = 4,
    [F_ACC] = 5,   [F_STEP] = 6, [F_EPOCH_ETA] = 7, [F_RATE] = 8,
};

size_t progress_format(char *out, size_t size, int columns, int bar, const progress *p) {
    char text[F_COUNT][48], t1[24], t2[24];
    int on[F_COUNT];
    snprintf(text[F_EPOCH], sizeof text[0], "epoch %d/%d", p->epoch, p->epochs);
    text[F_BAR][0] = '\0';
    snprintf(text[F_STEP], sizeof text[0], "%lld/%lld", (long long)p->step, (long long)p->steps);
    snprintf(text[F_LOSS], sizeof text[0], "loss %.4f", p->loss);
    snprintf(text[F_ACC], sizeof text[0], "acc %.3f", p->accuracy);
    snprintf(text[F_LR], sizeof text[0], "lr %.2e", p->lr);
    snprintf(text[F_RATE], sizeof text[0], "%.0f ex/s", p->examples_per_s);
    progress_duration(t1, sizeof t1, p->eta_epoch_s);
    progress_duration(t2, sizeof t2, p->eta_total_s);
    snprintf(text[F_EPOCH_ETA], sizeof text[0], "epoch ETA %s", t1);
    snprintf(text[F_ETA], sizeof text[0], "ETA %s", t2);
    for (int f = 0; f < F_COUNT; f++)
        on[f] = 1;
    on[F_BAR] = bar;
    on[F_ACC] = p->accuracy >= 0;
    on[F_LR] = p->lr >= 0;

    /* Drop the least important field until the rest fits (the bar at its smallest). */
    int bar_width = 0;
    for (int drop = F_COUNT - 1; drop >= 0; drop--) {
        int used = -2; /* fields are joined by two spaces */
        for (int f = 0; f < F_COUNT; f++)
            if (on[f])
                used += 2 + (f == F_BAR ? 2 : (int)strlen(text[f])); /* bar: "[" "]" */
        int room = columns - used;
        if (!on[F_BAR] || room >= BAR_MIN) {
            bar_width = room < BAR_MAX ? room : BAR_MAX;
            if (room >= 0)
                break;
        }
        for (int f = 0; f < F_COUNT; f++)
            if (rank[f] == drop && f != F_EPOCH)
                on[f] = 0;
    }
    if (on[F_BAR]) {
        int filled = p->steps > 0 ? (int)(bar_width * p->step / p->steps) : 0;
        text[F_BAR][0] = '[';
        for (int i = 0; i < bar_width; i++)
            text[F_BAR][1 + i] = i < filled ? '=' : i == filled ? '>' : ' ';
        text[F_BAR][1 + bar_width] = ']';
        text[F_BAR][2 + bar_width] = '\0';
    }

    size_t len = 0, limit = (size_t)columns < size ? (size_t)columns : size - 1;
    out[0] = '\0';
    for (int f = 0; f < F_COUNT; f++) {
        if (!on[f])
            continue;
        int n = snprintf(out + len, size - len, "%s%s", len ? "  " : "", text[f]);
        len += n > 0 ? (size_t)n : 0;
        if (len >= size)
            len = size - 1;
    }
    if (len > limit) { /* only when even "epoch e/E" does not fit */
        len = limit;
        out[len] = '\0';
    }
    return len;
}

size_t progress_join(char *out, size_t size, int columns, const char *head, const char *tail) {
    size_t fits = strlen(head) + 2 + strlen(tail) <= (size_t)columns;
    int n = snprintf(out, size, "%s%s%s", head, fits ? ", " : "\n    ", tail);
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

double progress_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double run_clock_left(const run_clock *clock) {
    if (clock->done_steps <= 0)
        return 0.0;
    double per_step = (progress_now() - clock->started) / (double)clock->done_steps;
    return per_step * (double)(clock->total_steps - clock->done_steps);
}

void progress_show(progress *p, int64_t examples, double epoch_started, const run_clock *clock,
                   double *last_draw) {
    static int tty = -1;
    if (tty < 0)
        tty = isatty(STDOUT_FILENO);
    double now = progress_now(), elapsed = now - epoch_started;
    if (tty && p->step < p->steps && now - *last_draw < 0.1)
        return;
    if (!tty && p->step % (p->steps >= 10 ? p->steps / 10 : 1) != 0 && p->step != p->steps)
        return;
    p->examples_per_s = elapsed > 0 ? (double)examples / elapsed : 0.0;
    p->eta_epoch_s = p->step > 0 ? elapsed * (double)(p->steps - p->step) / (double)p->step : 0;
    p->eta_total_s = run_clock_left(clock);
    char line[512];
    progress_format(line, sizeof line, progress_columns(STDOUT_FILENO), tty, p);
    /* \033[K clears what a longer previous line left on the right */
    printf(tty ? "\r%s\033[K" : "%s\n", line);
    fflush(stdout);
    *last_draw = now;
}

void progress_end_epoch(void) {
    if (isatty(STDOUT_FILENO))
        printf("\n");
}

void progress_report_epoch(int epoch, int epochs, epoch_score trained, epoch_score tested,
                           double lr, double seconds, const run_clock *clock) {
    char head[160], tail[96], eta[24], line[260];
    snprintf(head, sizeof head, "epoch %d/%d: train loss %.4f acc %.4f, test loss %.4f acc %.4f",
             epoch, epochs, trained.loss, trained.accuracy, tested.loss, tested.accuracy);
    progress_duration(eta, sizeof eta, run_clock_left(clock));
    int n = snprintf(tail, sizeof tail, "lr %.2e, %.1f s", lr, seconds);
    if (epoch < epochs && n > 0)
        snprintf(tail + n, sizeof tail - (size_t)n, ", ETA %s", eta);
    progress_join(line, sizeof line, progress_columns(STDOUT_FILENO), head, tail);
    printf("%s\n", line);
    fflush(stdout);
}
