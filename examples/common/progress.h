/* The training examples' progress: the line of an epoch's progress, fitted to the terminal's
 * width and never wrapping, and the line after each epoch. */
#ifndef EXAMPLES_PROGRESS_H
#define EXAMPLES_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct progress {
    int epoch, epochs;     /* 1-based */
    int64_t step, steps;   /* steps done in this epoch, of steps */
    double loss;           /* mean training loss of the epoch so far */
    double accuracy;       /* training accuracy of the epoch so far (dropout on); < 0: none */
    double lr;             /* current learning rate; < 0: none */
    double examples_per_s; /* training throughput */
    double eta_epoch_s;    /* time left in this epoch */
    double eta_total_s;    /* time left in the whole run */
} progress;

/* Columns a progress line may use: the terminal's width less one (writing the last column
 * makes some terminals wrap) from TIOCGWINSZ on fd, else $COLUMNS, else 80; at least 20. */
int progress_columns(int fd);

/* One progress line into out (size bytes), at most `columns` characters. The fields, from
 * the most to the least important: "epoch e/E", "loss", "ETA" (of the whole run), the bar
 * (when bar is nonzero; 10 to 30 columns), "lr", "acc", "step/steps", "epoch ETA", "ex/s".
 * The bar shrinks to make room, then fields are dropped from the least important up; when
 * not even "epoch e/E" fits it is cut at `columns`. Returns the length written. */
size_t progress_format(char *out, size_t size, int columns, int bar, const progress *p);

/* "head, tail" when that fits in `columns`, else head and tail on two lines (the tail
 * indented by 4). Returns the length written to out (size bytes). */
size_t progress_join(char *out, size_t size, int columns, const char *head, const char *tail);

/* A duration for a person: "42s", "3m05s", "1h02m". */
void progress_duration(char *out, size_t size, double seconds);

/* Seconds on a monotonic clock. */
double progress_now(void);

/* Where a run stands: its start and its length in steps (over all epochs). */
typedef struct run_clock {
    double started;
    int64_t total_steps, done_steps;
} run_clock;

/* The run's time left, from its pace so far (0 before the first step). */
double run_clock_left(const run_clock *clock);

/* One progress report on stdout after p->step of p->steps steps of the epoch, `examples`
 * trained in it since epoch_started. On a terminal: one line fitted to its width, redrawn
 * with \r at most ten times a second (*last_draw: when it was last drawn); otherwise a plain
 * line every 10% of the epoch. Fills p's rates and times. */
void progress_show(progress *p, int64_t examples, double epoch_started, const run_clock *clock,
                   double *last_draw);

/* Ends an epoch's progress: the newline after a redrawn terminal line. */
void progress_end_epoch(void);

/* One epoch's loss and accuracy on a data set. */
typedef struct epoch_score {
    double loss, accuracy;
} epoch_score;

/* The line after each epoch: "epoch e/E: train loss .. acc .., test loss .. acc ..", then
 * the learning rate of its last step, its time and (before the last epoch) the run's time
 * left, wrapped as progress_join does. */
void progress_report_epoch(int epoch, int epochs, epoch_score trained, epoch_score tested,
                           double lr, double seconds, const run_clock *clock);

#endif
