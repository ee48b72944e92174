/* What the training examples do alike around their model: the optimizer named by --optimizer,
 * the CPU backend's BLAS threads (--threads), and saving the trained weights. */
#ifndef EXAMPLES_TRAINING_H
#define EXAMPLES_TRAINING_H

#include "axon.h"
#include "options.h"

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
