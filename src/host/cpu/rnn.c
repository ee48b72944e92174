/* CPU reference of one recurrent step's pointwise part: the formulas of common/rnn_step.h
 * over every element, row by row. (The GEMMs of the step are OpenBLAS's, called by the op.) */
#include "../common/rnn_step.h"
#include "cpu.h"

ax_status ax_cpu_rnn_step_forward(ax_ctx *ctx, const struct ax_rnn_step *s) {
    (void)ctx;
    for (int64_t b = 0; b < s->rows; b++)
        for (int64_t j = 0; j < s->hidden; j++)
            ax_rnn_step_forward_at(s, b, j);
    return AX_OK;
}

ax_status ax_cpu_rnn_step_backward(ax_ctx *ctx, const struct ax_rnn_step_grad *s) {
    (void)ctx;
    for (int64_t b = 0; b < s->rows; b++)
        for (int64_t j = 0; j < s->hidden; j++)
            ax_rnn_step_backward_at(s, b, j);
    return AX_OK;
}
