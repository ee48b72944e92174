/* The optimizer, the BLAS and the checkpoint of the training examples. */
#include "training.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h> /* OpenBLAS: its kernel and thread count, for the CPU backend */

#include "report.h"
#include "save_target.h"

void ex_start(const ex_common *o, const char *dataset, train_log *log, char *dir, size_t size) {
    char why[8400];
    if (o->epochs > 0 && save_target_check(o->save, why, sizeof why) != 0)
        ex_fail("--save: %s", why);
    if (train_log_open(log, o->log) != 0)
        ex_fail("cannot write the log %s: %s", o->log, strerror(errno));
    if (ax_data_dir(o->data, dataset, dir, size) != AX_OK)
        ex_fail("%s", ax_last_error());
}

ax_ctx *ex_open_device(const ex_common *o, int default_threads) {
    ax_ctx *ctx;
    ax_device_info info;
    EX_TRY(ax_ctx_create(o->device, 0, &ctx));
    EX_TRY(ax_ctx_device_info(ctx, &info));
    printf("device: %s (%s)\n", info.name, info.kind == AX_DEVICE_CUDA ? "cuda" : "cpu");
    if (info.kind == AX_DEVICE_CPU)
        ex_report_blas(o->threads, default_threads);
    return ctx;
}

void ex_load_checkpoint(ax_graph *g, const ex_common *o) {
    if (o->load) {
        EX_TRY(ax_graph_load(g, o->load));
        printf("loaded %s\n", o->load);
    }
}

ax_optimizer *ex_create_optimizer(ax_ctx *ctx, const ex_common *o) {
    ax_optimizer *opt;
    const char *name = o->optimizer;
    if (!strcmp(name, "sgd") || !strcmp(name, "momentum")) {
        ax_sgd_config c = ax_sgd_defaults();
        int momentum = !strcmp(name, "momentum");
        c.momentum = momentum ? 0.9f : 0.0f;
        c.lr = o->lr >= 0 ? o->lr : momentum ? 0.05f : 0.1f;
        EX_TRY(ax_optimizer_create_sgd(ctx, &c, &opt));
    } else if (!strcmp(name, "adam") || !strcmp(name, "adamw")) {
        int w = !strcmp(name, "adamw");
        ax_adam_config c = w ? ax_adamw_defaults() : ax_adam_defaults();
        c.lr = o->lr >= 0 ? o->lr : 1e-3f;
        EX_TRY(w ? ax_optimizer_create_adamw(ctx, &c, &opt)
                 : ax_optimizer_create_adam(ctx, &c, &opt));
    } else if (!strcmp(name, "rmsprop")) {
        ax_rmsprop_config c = ax_rmsprop_defaults();
        c.lr = o->lr >= 0 ? o->lr : 1e-3f;
        EX_TRY(ax_optimizer_create_rmsprop(ctx, &c, &opt));
    } else if (!strcmp(name, "adagrad")) {
        ax_adagrad_config c = ax_adagrad_defaults();
        c.lr = o->lr >= 0 ? o->lr : 1e-2f;
        EX_TRY(ax_optimizer_create_adagrad(ctx, &c, &opt));
    } else {
        ex_fail("no optimizer called '%s'", name);
    }
    return opt;
}

void ex_report_blas(int threads, int default_threads) {
    char how[64];
    if (threads < 0)
        snprintf(how, sizeof how, "%s's default; --threads N to change", ex_program_name());
    else
        snprintf(how, sizeof how, "%s", threads ? "--threads" : "OpenBLAS's default");
    if (threads != 0)
        openblas_set_num_threads(threads < 0 ? default_threads : threads);
    char version[24] = "";
    const char *config = openblas_get_config(); /* "OpenBLAS 0.3.21 DYNAMIC_ARCH ..." */
    if (!config || sscanf(config, "OpenBLAS %23s", version) != 1)
        snprintf(version, sizeof version, "(version unknown)");
    int n = openblas_get_num_threads();
    printf("CPU BLAS: OpenBLAS %s, kernel %s, %d thread%s (%s)\n", version,
           openblas_get_corename(), n, n == 1 ? "" : "s", how);
}

static int save_graph(void *g, const char *path) {
    return ax_graph_save(g, path) == AX_OK ? 0 : -1;
}

int ex_save_or_rescue(ax_graph *g, const char *path) {
    const char *name = ex_program_name();
    if (save_graph(g, path) == 0) {
        printf("saved %s\n", path);
        return 0;
    }
    fflush(stdout);
    fprintf(stderr, "%s: could not save the weights to %s: %s\n", name, path, ax_last_error());
    char kept[4200], stem[128];
    snprintf(stem, sizeof stem, "%s-rescued", name);
    if (save_target_rescue(save_graph, g, stem, kept, sizeof kept) == 0)
        fprintf(stderr, "%s: the trained weights are kept in %s instead\n", name, kept);
    else
        fprintf(stderr, "%s: and could not keep them anywhere else (%s)\n", name,
                ax_last_error());
    return -1;
}
