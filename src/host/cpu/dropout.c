/* CPU reference of inverted dropout; src/kernels/dropout.cu computes the same operations, so
 * masks and outputs are bit-identical on both backends. */
#include "../common/philox.h"
#include "cpu.h"

/* For element e:
 *   keep  = ax_philox_uniform(seed, offset, e) >= p   (the stream of ax_rng_uniform)
 *   scale = 1.0f / (1.0f - p)                          (float division, correctly rounded)
 *   y[e]  = x[e] * (keep ? scale : 0.0f)               (one float multiply, no FMA)
 * A dropped element is x * 0, as PyTorch's input * mask: NaN and Inf give NaN, x < 0 gives -0.
 * Serves the forward (x -> y) and the backward (dy -> dx). 0 < p < 1 (the entry point
 * handles p = 0 and p = 1); y may alias x. */
ax_status ax_cpu_dropout(ax_ctx *ctx, float p, uint64_t seed, uint64_t offset, const float *x,
                         float *y, int64_t n) {
    (void)ctx;
    float scale = AX_DIV(1.0f, AX_ADD(1.0f, -p));
    /* one Philox block gives the uniforms of 4 elements: word e % 4 of block e / 4, exactly
     * what ax_philox_uniform(seed, offset, e) returns */
    for (int64_t base = 0; base < n; base += 4) {
        philox4x32_ctr_t r = ax_philox_block(seed, offset, (uint64_t)base >> 2);
        for (int64_t w = 0; w < 4 && base + w < n; w++) {
            int keep = ax_u32_to_unit(r.v[w]) >= p;
            y[base + w] = AX_MUL(x[base + w], keep ? scale : 0.0f);
        }
    }
    return AX_OK;
}
