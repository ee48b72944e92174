/* What the training examples do alike around their model: checking what the user named before
 * training, the device and the CPU backend's BLAS threads (--threads), the optimizer named by
 * --optimizer, loading and saving the weights. */
#ifndef EXAMPLES_TRAINING_H
#define EXAMPLES_TRAINING_H

#include "axon.h"
#include "options.h"
#include "train_log.h"

/* The start of a training run, before the data are loaded and hours are spent: checks that
 * o->save can be written (when training), opens the --log CSV, and finds the folder holding
 * `dataset` (ax_data_dir: --data, $AXON_DATA, ../shared/data) into dir. A failure ends the
 * program with a message naming what the user gave (report.h). */
void ex_start(const ex_common *o, const char *dataset, train_log *log, char *dir, size_t size);

/* The context of --device, and a line saying which device it is; on the CPU also the BLAS
 * (ex_report_blas). */
ax_ctx *ex_open_device(const ex_common *o, int default_threads);

/* Loads o->load into g when given, and says so. */
void ex_load_checkpoint(ax_graph *g, const ex_common *o);

/* The optimizer called c->optimizer with PyTorch's defaults and c->lr when it is >= 0, else
 * 1e-3 for adam, adamw, rmsprop; 1e-2 for adagrad; 0.1 for sgd; 0.05 for momentum (SGD with
 * momentum 0.9). A failure ends the program (report.h). */
ax_optimizer *ex_create_optimizer(ax_ctx *ctx, const ex_common *c);

/* Sets the OpenBLAS thread count (threads > 0; -1: default_threads; 0: OpenBLAS's own) and
 * prints which BLAS, kernel and thread count run, since they change the last digits. */
void ex_report_blas(int threads, int default_threads);

/* Saves the graph's weights to path and says so; when that fails, says why and keeps them
 * in "<dir>/<program>-rescued-<pid>.safetensors" (save_target_rescue) if anywhere takes them.
 * Returns 0 when path was written. */
int ex_save_or_rescue(ax_graph *g, const char *path);

#endif
