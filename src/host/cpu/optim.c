/* CPU reference of the optimizer updates (the per-element rules are shared with the CUDA
 * kernel, see ../common/optim_update.h) and of clamp. */
#include "../common/optim_update.h"
#include "cpu.h"

ax_status ax_cpu_optim_update(ax_ctx *ctx, const struct ax_optim_update *a, int64_t n, float *w,
                              const float *g, float *s0, float *s1, float *s2) {
    (void)ctx;
    for (int64_t i = 0; i < n; i++)
        ax_optim_rule(a, &w[i], g[i], s0 ? &s0[i] : NULL, s1 ? &s1[i] : NULL,
                      s2 ? &s2[i] : NULL);
    return AX_OK;
}

ax_status ax_cpu_clamp(ax_ctx *ctx, int64_t n, float lo, float hi, const float *x, float *y) {
    (void)ctx;
    /* min(max(x, lo), hi); both comparisons are false for NaN, which passes through */
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
    return AX_OK;
}
