/* mnist_mlp's progress line: fitted to the terminal's width, never wrapping. */
#ifndef MNIST_PROGRESS_H
#define MNIST_PROGRESS_H

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

#endif
