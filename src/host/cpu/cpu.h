/* The CPU backend: the reference implementation of every op (see ../backend.h for the
 * contract of each function). */
#ifndef AX_CPU_H
#define AX_CPU_H

#include "../backend.h"

void ax_cpu_ctx_init(ax_ctx *ctx);

/* rng.c */
ax_status ax_cpu_rng_uniform(ax_ctx *ctx, float *y, int64_t n, float low, float high,
                             uint64_t seed, uint64_t offset);
ax_status ax_cpu_rng_normal(ax_ctx *ctx, float *y, int64_t n, float mean, float stddev,
                            uint64_t seed, uint64_t offset);
ax_status ax_cpu_rng_bernoulli(ax_ctx *ctx, float *y, int64_t n, float p, uint64_t seed,
                               uint64_t offset);

/* elementwise.c */
ax_status ax_cpu_fill_f32(ax_ctx *ctx, float *y, int64_t n, float value);
ax_status ax_cpu_fill_i32(ax_ctx *ctx, int32_t *y, int64_t n, int32_t value);
ax_status ax_cpu_scale(ax_ctx *ctx, int64_t n, float alpha, const float *x, float *y);
ax_status ax_cpu_axpy(ax_ctx *ctx, int64_t n, float alpha, const float *x, float *y);
ax_status ax_cpu_add(ax_ctx *ctx, int64_t n, const float *a, const float *b, float *y);
ax_status ax_cpu_mul(ax_ctx *ctx, int64_t n, const float *a, const float *b, float *y);

#endif
