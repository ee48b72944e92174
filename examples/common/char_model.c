/* The character-level model of examples/char_rnn (see char_model.h). */
#include "char_model.h"

ex_char_config ex_char_config_of(int quick) {
    if (quick)
        return (ex_char_config){.gru = 0, .hidden = 256, .layers = 1, .embed = 64, .seq = 64,
                                .batch = 32, .epochs = 4, .lr = 3e-3f, .clip = 5.0f,
                                .dropout = 0.0f};
    return (ex_char_config){.gru = 0, .hidden = 512, .layers = 2, .embed = 64, .seq = 100,
                            .batch = 64, .epochs = 20, .lr = 2e-3f, .clip = 5.0f,
                            .dropout = 0.2f};
}

#define CM_TRY(call)                                                                           \
    do {                                                                                       \
        if ((st = (call)) != AX_OK)                                                            \
            goto fail;                                                                         \
    } while (0)

ax_status ex_char_model_build(ax_ctx *ctx, const ex_char_config *c, uint64_t seed,
                              int64_t vocab, int64_t batch, int64_t steps, int with_loss,
                              ex_char_model *out) {
    ex_char_model m = {.batch = batch, .steps = steps};
    ax_node *h;
    const int64_t shape[2] = {steps, batch};
    ax_status st = ax_graph_create(ctx, seed, &m.g);
    if (st != AX_OK)
        return st;
    CM_TRY(ax_graph_input_typed(m.g, "ids", AX_I32, 2, shape, 1, 0, &m.ids));
    CM_TRY(ax_graph_embedding(m.g, "embed", m.ids, vocab, c->embed, &h));
    ax_graph_rnn_opts o = {.hidden_size = c->hidden, .num_layers = c->layers,
                           .dropout = c->dropout, .carry_state = 1};
    if (c->gru)
        CM_TRY(ax_graph_gru(m.g, "rnn", h, NULL, &o, &m.rnn, NULL));
    else
        CM_TRY(ax_graph_lstm(m.g, "rnn", h, NULL, NULL, &o, &m.rnn, NULL, NULL));
    CM_TRY(ax_graph_dense(m.g, "fc", m.rnn, vocab, &m.logits));
    if (with_loss) {
        CM_TRY(ax_graph_input_typed(m.g, "targets", AX_I32, 2, shape, 1, 0, &m.targets));
        CM_TRY(ax_graph_cross_entropy(m.g, "loss", m.logits, m.targets, &m.loss));
    }
    CM_TRY(ax_graph_compile(m.g, m.loss));
    *out = m;
    return AX_OK;
fail:
    ax_graph_destroy(m.g);
    return st;
}
