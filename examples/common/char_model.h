/* The character-level language model of examples/char_rnn, shared with bench_train_char: its
 * two configurations (the defaults and --quick) and its graph. */
#ifndef EXAMPLES_CHAR_MODEL_H
#define EXAMPLES_CHAR_MODEL_H

#include <stdint.h>

#include "axon.h"

/* The model's shape and the training settings that go with it. */
typedef struct ex_char_config {
    int gru;                  /* 0: LSTM, 1: GRU */
    int hidden, layers, embed;
    int seq;                  /* T, characters per step */
    int batch, epochs;
    float lr, clip, dropout;  /* dropout between recurrent layers */
} ex_char_config;

/* char_rnn's defaults (quick = 0: the GPU configuration) or its --quick configuration (the
 * 2-core CPU one: hidden 256, 1 layer, seq 64, batch 32, 4 epochs, lr 3e-3, no dropout). */
ex_char_config ex_char_config_of(int quick);

typedef struct ex_char_model {
    ax_graph *g;
    ax_node *ids, *targets, *rnn, *logits, *loss; /* targets, loss: NULL without the loss */
    int64_t batch, steps;
} ex_char_model;

/* ids [T, N] -> "embed" [T, N, D] -> "rnn" (carry_state) [T, N, H] -> "fc" [T, N, V], and
 * the cross-entropy against the next characters [T, N] when with_loss; compiled. Parameter
 * names as a PyTorch module with attributes embed, rnn, fc (bench/pytorch/train_char.py).
 * On failure nothing is left allocated and *out is untouched. */
ax_status ex_char_model_build(ax_ctx *ctx, const ex_char_config *c, uint64_t seed,
                              int64_t vocab, int64_t batch, int64_t steps, int with_loss,
                              ex_char_model *out);

#endif
