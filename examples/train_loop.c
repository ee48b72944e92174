/* The README's training loop, whole: a 2-layer MLP with dropout learns three Gaussian blobs
 * with Adam, in mini-batches with a partial last batch, then reports its accuracy in eval mode.
 * Exits 1 when accuracy stays under 0.95. Usage: train_loop [auto|cpu|cuda] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon.h"

#define TRY(call)                                                                              \
    do {                                                                                       \
        ax_status st_ = (call);                                                                \
        if (st_ != AX_OK) {                                                                    \
            fprintf(stderr, "error: %s: %s\n", ax_status_str(st_), ax_last_error());           \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

enum { N = 1000, D = 2, C = 3, B = 256 };

/* Three blobs around the corners of a triangle, noise from a small LCG. */
static void make_blobs(float *x, int32_t *y) {
    uint32_t s = 12345;
    for (int i = 0; i < N; i++) {
        int c = i % C;
        for (int j = 0; j < D; j++) {
            s = s * 1664525u + 1013904223u;
            float noise = ((float)(s >> 8) / 16777216.0f - 0.5f) * 1.2f;
            x[i * D + j] = (j == 0 ? cosf(2.1f * (float)c) : sinf(2.1f * (float)c)) + noise;
        }
        y[i] = c;
    }
}

int main(int argc, char **argv) {
    ax_device_kind kind = argc > 1 && !strcmp(argv[1], "cpu")    ? AX_DEVICE_CPU
                          : argc > 1 && !strcmp(argv[1], "cuda") ? AX_DEVICE_CUDA
                                                                 : AX_DEVICE_AUTO;
    static float feats[N * D];
    static int32_t labels[N];
    make_blobs(feats, labels);

    /* ---- README region loop begins (README.md shows the lines up to "ends") */
    ax_ctx *ctx; ax_graph *g; ax_optimizer *opt; ax_data_loader *loader;
    ax_node *x, *y, *h, *a, *d, *logits, *loss;
    TRY(ax_ctx_create(kind, 0, &ctx));
    TRY(ax_graph_create(ctx, /*seed=*/42, &g));
    TRY(ax_graph_input(g, "x", 2, (int64_t[]){B, D}, &x)); /* B = largest batch */
    TRY(ax_graph_labels(g, "y", B, &y));
    TRY(ax_graph_dense(g, "fc1", x, 64, &h)); /* parameters fc1.weight, fc1.bias */
    TRY(ax_graph_activation(g, "relu1", AX_ACT_RELU, 0.0f, h, &a));
    TRY(ax_graph_dropout(g, "drop1", a, 0.2f, &d));
    TRY(ax_graph_dense(g, "fc2", d, C, &logits));
    TRY(ax_graph_cross_entropy(g, "loss", logits, y, &loss));
    TRY(ax_graph_compile(g, loss));
    ax_param_list p;
    TRY(ax_graph_params(g, &p));
    ax_adam_config adam = ax_adam_defaults();
    adam.lr = 0.01f;
    TRY(ax_optimizer_create_adam(ctx, &adam, &opt));
    TRY(ax_data_loader_create(feats, 2, (int64_t[]){N, D}, labels, B, /*shuffle=*/1,
                              /*drop_last=*/0, /*seed=*/7, &loader));
    for (int epoch = 0; epoch < 30; epoch++) {
        int64_t rows; float l = 0;
        while (1) {
            TRY(ax_data_loader_next(loader, ax_graph_value(g, x), ax_graph_value(g, y), &rows));
            if (rows == 0) break; /* end of the epoch */
            TRY(ax_graph_zero_grad(g));
            TRY(ax_graph_forward(g)); /* batch = the rows just loaded */
            TRY(ax_graph_backward(g));
            TRY(ax_optimizer_step(opt, p.n, p.values, p.grads));
            TRY(ax_graph_loss(g, &l));
        }
        if (epoch % 10 == 9) printf("epoch %2d: loss %.4f\n", epoch + 1, l);
    }
    /* ---- README region loop ends */

    /* Accuracy in eval mode (dropout off) over the whole set, one batch at a time. */
    TRY(ax_graph_set_training(g, 0));
    static float out[B * C];
    int correct = 0;
    for (int start = 0; start < N; start += B) {
        int rows = N - start < B ? N - start : B;
        TRY(ax_graph_set_batch(g, rows));
        TRY(ax_tensor_set_from_host(ax_graph_value(g, x), feats + start * D,
                                    (size_t)rows * D * sizeof(float)));
        TRY(ax_graph_forward(g));
        TRY(ax_tensor_to_host(ax_graph_value(g, logits), out, (size_t)rows * C * sizeof(float)));
        for (int i = 0; i < rows; i++) {
            int best = 0;
            for (int c = 1; c < C; c++)
                if (out[i * C + c] > out[i * C + best]) best = c;
            correct += best == labels[start + i];
        }
    }
    double accuracy = (double)correct / N;
    printf("accuracy: %.3f\n", accuracy);
    ax_data_loader_destroy(loader);
    ax_optimizer_destroy(opt);
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
    return accuracy >= 0.95 ? 0 : 1;
}
