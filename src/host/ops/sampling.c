/* Public entry points of the sampling helpers of a language model: softmax with a temperature
 * and one multinomial draw per row (optionally from the top k). Arguments are checked here;
 * the probabilities themselves by the backend, which alone reads them (ops.h). */
#include <math.h>

#include "check.h"

ax_status ax_softmax_temperature(ax_ctx *ctx, const ax_tensor *logits, float temperature,
                                 ax_tensor *probs) {
    const char *fn = __func__;
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(ax_check_tensor(fn, ctx, logits, "logits", AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, probs, "probs", AX_F32));
    AX_TRY(ax_check_ndim(fn, logits, "logits", 1, AX_MAX_DIMS));
    AX_TRY(ax_check_same_shape(fn, logits, "logits", probs, "probs"));
    if (!(temperature > 0.0f) || isinf(temperature))
        return ax_fail(AX_ERR_INVALID_ARG, fn,
                       "temperature = %g, must be finite and > 0 (for a greedy choice use "
                       "ax_multinomial with top_k 1)",
                       (double)temperature);
    AX_TRY(ax_backend_ready(fn, ctx, ctx->backend->softmax_temperature != NULL));
    int64_t cols = logits->shape[logits->ndim - 1];
    return ctx->backend->softmax_temperature(ctx, ax_f32(logits), ax_f32(probs),
                                             logits->numel / cols, cols, temperature);
}

ax_status ax_multinomial(ax_ctx *ctx, const ax_tensor *probs, int64_t top_k, uint64_t seed,
                         uint64_t offset, ax_tensor *out) {
    const char *fn = __func__;
    AX_TRY(ax_check_ctx(fn, ctx));
    AX_TRY(ax_check_tensor(fn, ctx, probs, "probs", AX_F32));
    AX_TRY(ax_check_tensor(fn, ctx, out, "out", AX_I32));
    AX_TRY(ax_check_ndim(fn, probs, "probs", 2, 2));
    AX_TRY(ax_check_numel(fn, out, "out", probs->shape[0]));
    if (top_k < 0)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "top_k = %lld, must be >= 0 (0: every entry)",
                       (long long)top_k);
    int64_t cols = probs->shape[1];
    if (cols > INT32_MAX)
        return ax_fail(AX_ERR_UNSUPPORTED, fn,
                       "probs has %lld columns, more than an i32 index holds", (long long)cols);
    AX_TRY(ax_backend_ready(fn, ctx, ctx->backend->multinomial != NULL));
    return ctx->backend->multinomial(ctx, ax_f32(probs), probs->shape[0], cols,
                                     top_k >= cols ? 0 : top_k, seed, offset, ax_i32(out));
}
