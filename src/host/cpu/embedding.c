/* CPU reference of the embedding lookup and its backward (the scatter-add in increasing i,
 * one f32 add at a time: the order the CUDA kernel follows, so both give the same bits). */
#include "cpu.h"

/* Every index in [0, vocab), else AX_ERR_INVALID_ARG naming the public call and the first bad
 * position; nothing is written before this passes. */
static ax_status check_indices(const char *fn, const int32_t *idx, int64_t n, int64_t vocab) {
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= vocab)
            return ax_fail(AX_ERR_INVALID_ARG, fn, "indices[%lld] = %d is outside [0, %lld)",
                           (long long)i, (int)idx[i], (long long)vocab);
    return AX_OK;
}

/* out[i, d] = w[idx[i], d] */
ax_status ax_cpu_embedding_forward(ax_ctx *ctx, const int32_t *idx, int64_t n, const float *w,
                                   int64_t vocab, int64_t dim, float *out) {
    (void)ctx;
    AX_TRY(check_indices("ax_embedding_forward", idx, n, vocab));
    for (int64_t i = 0; i < n; i++) {
        const float *row = w + (int64_t)idx[i] * dim;
        float *o = out + i * dim;
        for (int64_t d = 0; d < dim; d++)
            o[d] = row[d];
    }
    return AX_OK;
}

/* dw[v, d] (+)= sum over i with idx[i] == v of dout[i, d], in increasing i */
ax_status ax_cpu_embedding_backward(ax_ctx *ctx, const int32_t *idx, int64_t n,
                                    const float *dout, int64_t vocab, int64_t dim,
                                    int accumulate, float *dw) {
    (void)ctx;
    AX_TRY(check_indices("ax_embedding_backward", idx, n, vocab));
    if (!accumulate)
        for (int64_t e = 0; e < vocab * dim; e++)
            dw[e] = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float *row = dw + (int64_t)idx[i] * dim;
        const float *g = dout + i * dim;
        for (int64_t d = 0; d < dim; d++)
            row[d] += g[d];
    }
    return AX_OK;
}
