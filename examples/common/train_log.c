/* The --log CSV of the training examples. */
#include "train_log.h"

#include <string.h>

int train_log_open(train_log *log, const char *path) {
    memset(log, 0, sizeof *log);
    if (!path)
        return 0;
    log->f = fopen(path, "w");
    if (!log->f)
        return -1;
    fprintf(log->f, "epoch,step,loss,accuracy\n");
    return 0;
}

void train_log_flush(train_log *log, double accuracy) {
    if (!log->f || !log->pending)
        return;
    fprintf(log->f, "%d,%lld,%.6f,", log->epoch, (long long)log->step, (double)log->loss);
    if (accuracy >= 0)
        fprintf(log->f, "%.4f", accuracy);
    fprintf(log->f, "\n");
    log->pending = 0;
}

void train_log_step(train_log *log, int epoch, int64_t step, float loss) {
    train_log_flush(log, -1.0);
    log->pending = 1;
    log->epoch = epoch;
    log->step = step;
    log->loss = loss;
}

int train_log_close(train_log *log) {
    if (!log->f)
        return 0;
    train_log_flush(log, -1.0);
    int failed = ferror(log->f) != 0;
    failed |= fclose(log->f) != 0;
    log->f = NULL;
    return failed ? -1 : 0;
}
