/* The --log CSV of a training example: "epoch,step,loss,accuracy", the loss of every step and
 * the test accuracy on the last step of each epoch. A step's row is held back until the next
 * step (or the epoch's accuracy) so that the last step of an epoch carries that accuracy. */
#ifndef EXAMPLES_TRAIN_LOG_H
#define EXAMPLES_TRAIN_LOG_H

#include <stdint.h>
#include <stdio.h>

typedef struct train_log {
    FILE *f; /* NULL: no log, every call does nothing */
    int pending;
    int epoch;
    int64_t step;
    float loss;
} train_log;

/* Opens path (NULL: no log) and writes the header. 0, or -1 with errno set. */
int train_log_open(train_log *log, const char *path);

/* The loss of step `step` (counted over the whole run) of `epoch`. */
void train_log_step(train_log *log, int epoch, int64_t step, float loss);

/* Writes the held-back row, with `accuracy` when it is >= 0. */
void train_log_flush(train_log *log, double accuracy);

/* Writes what is held back and closes the file. 0, or -1 when writing failed. */
int train_log_close(train_log *log);

#endif
