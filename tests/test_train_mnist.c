/* A small MLP trained on a real MNIST subset through the whole stack (graph, autodiff,
 * dropout, loader, Adam): it must learn on the CPU within seconds, and the CUDA backend must
 * follow the CPU's loss curve for the same seeds. */
#include <math.h>
#include <stdlib.h>

#include "helpers.h"
#include "mnist.h"

enum { TRAIN = 2000, EVAL = 1000, BATCH = 64, HIDDEN = 64, CLASSES = 10, EPOCHS = 3 };
#define STEPS_PER_EPOCH ((TRAIN + BATCH - 1) / BATCH)
#define STEPS (EPOCHS * STEPS_PER_EPOCH)

typedef struct run_result {
    float loss[STEPS]; /* the training loss of every step */
    double accuracy;   /* on the EVAL held-out rows, in eval mode */
} run_result;

static float *images;
static int32_t *labels;

static void load_subset(void) {
    th_mnist_require();
    images = malloc((size_t)(TRAIN + EVAL) * TH_MNIST_PIXELS * sizeof *images);
    labels = malloc((size_t)(TRAIN + EVAL) * sizeof *labels);
    cr_assert(images && labels);
    th_mnist_train(0, TRAIN + EVAL, images, labels);
}

static void free_subset(void) {
    free(images);
    free(labels);
}

/* 784-64-10 ReLU MLP with dropout 0.1, Adam lr 2e-3, batches of 64 shuffled by Philox. */
static void train_mlp(ax_ctx *ctx, run_result *r) {
    ax_graph *g;
    ax_node *x, *y, *h, *a, *d, *logits, *loss;
    AX_ASSERT_OK(ax_graph_create(ctx, 2024, &g));
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, (int64_t[]){BATCH, TH_MNIST_PIXELS}, &x));
    AX_ASSERT_OK(ax_graph_labels(g, "y", BATCH, &y));
    AX_ASSERT_OK(ax_graph_dense(g, "fc1", x, HIDDEN, &h));
    AX_ASSERT_OK(ax_graph_activation(g, "relu", AX_ACT_RELU, 0.0f, h, &a));
    AX_ASSERT_OK(ax_graph_dropout(g, "drop", a, 0.1f, &d));
    AX_ASSERT_OK(ax_graph_dense(g, "fc2", d, CLASSES, &logits));
    AX_ASSERT_OK(ax_graph_cross_entropy(g, "loss", logits, y, &loss));
    AX_ASSERT_OK(ax_graph_compile(g, loss));
    ax_param_list p;
    AX_ASSERT_OK(ax_graph_params(g, &p));
    ax_adam_config cfg = ax_adam_defaults();
    cfg.lr = 2e-3f;
    ax_optimizer *opt;
    AX_ASSERT_OK(ax_optimizer_create_adam(ctx, &cfg, &opt));
    ax_data_loader *loader;
    AX_ASSERT_OK(ax_data_loader_create(images, 2, (int64_t[]){TRAIN, TH_MNIST_PIXELS}, labels,
                                       BATCH, 1, 0, 77, &loader));
    int step = 0;
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        int64_t rows;
        while (1) {
            AX_ASSERT_OK(ax_data_loader_next(loader, ax_graph_value(g, x), ax_graph_value(g, y),
                                             &rows));
            if (rows == 0)
                break;
            cr_assert_lt(step, STEPS);
            AX_ASSERT_OK(ax_graph_zero_grad(g));
            AX_ASSERT_OK(ax_graph_forward(g));
            AX_ASSERT_OK(ax_graph_backward(g));
            AX_ASSERT_OK(ax_optimizer_step(opt, p.n, p.values, p.grads));
            AX_ASSERT_OK(ax_graph_loss(g, &r->loss[step++]));
        }
    }
    cr_assert_eq(step, STEPS);

    AX_ASSERT_OK(ax_graph_set_training(g, 0));
    float *out = malloc((size_t)BATCH * CLASSES * sizeof *out);
    int correct = 0;
    for (int start = TRAIN; start < TRAIN + EVAL; start += BATCH) {
        int rows = TRAIN + EVAL - start < BATCH ? TRAIN + EVAL - start : BATCH;
        AX_ASSERT_OK(ax_graph_set_batch(g, rows));
        AX_ASSERT_OK(ax_tensor_set_from_host(ax_graph_value(g, x),
                                             images + (size_t)start * TH_MNIST_PIXELS,
                                             (size_t)rows * TH_MNIST_PIXELS * sizeof(float)));
        AX_ASSERT_OK(ax_graph_forward(g));
        AX_ASSERT_OK(ax_tensor_to_host(ax_graph_value(g, logits), out,
                                       (size_t)rows * CLASSES * sizeof(float)));
        for (int i = 0; i < rows; i++) {
            int best = 0;
            for (int c = 1; c < CLASSES; c++)
                if (out[i * CLASSES + c] > out[i * CLASSES + best])
                    best = c;
            correct += best == labels[start + i];
        }
    }
    r->accuracy = (double)correct / EVAL;
    free(out);
    ax_data_loader_destroy(loader);
    ax_optimizer_destroy(opt);
    ax_graph_destroy(g);
}

/* 3 epochs over 2000 images reach about 0.89 on the held-out 1000 (0.86 seen as the worst over
 * seeds while tuning); 0.85 leaves room for the seed and still fails a network that does
 * not learn (chance is 0.10). */
Test(train, mlp_learns_mnist_subset_on_cpu, .init = load_subset, .fini = free_subset) {
    ax_ctx *ctx = th_cpu_ctx();
    run_result *r = calloc(1, sizeof *r);
    train_mlp(ctx, r);
    double first = 0, last = 0;
    for (int i = 0; i < 10; i++) {
        first += r->loss[i] / 10;
        last += r->loss[STEPS - 1 - i] / 10;
    }
    cr_log_info("MNIST subset, CPU: loss %.3f -> %.3f, held-out accuracy %.3f", first, last,
                r->accuracy);
    cr_assert(last < 0.5 * first, "loss did not fall: %.3f -> %.3f", first, last);
    cr_assert_geq(r->accuracy, 0.85, "held-out accuracy %.3f < 0.85", r->accuracy);
    free(r);
    ax_ctx_destroy(ctx);
}

/* Same seeds on both backends: the same initial weights, dropout masks and batches (Philox is
 * bit-identical), so the curves differ only by float rounding in the kernels (summation
 * order, FMA). Over 96 Adam steps that stays far under 1e-2 of the loss; a wrong kernel or a
 * different mask moves the curve by far more. */
Test(parity, mlp_mnist_loss_curve_matches_cpu, .init = load_subset, .fini = free_subset) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
    ax_ctx *cpu = th_cpu_ctx();
    run_result *rc = calloc(1, sizeof *rc), *rg = calloc(1, sizeof *rg);
    train_mlp(cpu, rc);
    train_mlp(gpu, rg);
    double worst = 0;
    for (int i = 0; i < STEPS; i++) {
        double diff = fabs((double)rg->loss[i] - rc->loss[i]);
        worst = diff > worst ? diff : worst;
        cr_assert(diff <= 1e-3 + 1e-2 * fabs(rc->loss[i]), "step %d: gpu loss %.6f, cpu %.6f", i,
                  (double)rg->loss[i], (double)rc->loss[i]);
    }
    cr_log_info("loss curves: worst |gpu - cpu| %.2e over %d steps; accuracy cpu %.3f gpu %.3f",
                worst, STEPS, rc->accuracy, rg->accuracy);
    cr_assert(fabs(rg->accuracy - rc->accuracy) <= 0.01);
    free(rc);
    free(rg);
    ax_ctx_destroy(cpu);
    ax_ctx_destroy(gpu);
}
