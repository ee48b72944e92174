/* CPU reference of the 2-D convolution: im2col + OpenBLAS (ax_cpu_gemm), chunked over output
 * pixels so that the scratch stays bounded.
 *
 * Per image n and group g, with P = OH * OW output pixels and CRS = C/groups * R * S:
 *     col [CRS, P]:  col[(c, r, s), (i, j)] = x[n, g C/groups + c, i sh - pt + r dh,
 *                                              j sw - pl + s dw]    (0 outside the input)
 *     forward:         y_g [K/g, P]   = w_g [K/g, CRS] col
 *     backward-filter: dw_g [K/g, CRS] += dy_g [K/g, P] col^T
 *     backward-data:   dcol [CRS, P] = w_g^T dy_g, then col2im adds dcol into dx
 * col (and dcol) are built for CHUNK = max(1, AX_CPU_CONV_SCRATCH / CRS) pixels at a time:
 * the scratch (the context's, ax_ctx_scratch) is min(P, CHUNK) * CRS floats, that is at most
 * max(AX_CPU_CONV_SCRATCH, CRS) floats: 1 MiB, or one column when a column is larger. Every sum over a chunk is one BLAS call in a fixed order, so the
 * results are the same on every run. */
#include <string.h>

#include "cpu.h"

#include "../common/conv_geom.h"

/* floats per scratch buffer (see above) */
#define AX_CPU_CONV_SCRATCH ((int64_t)1 << 18)

static int64_t chunk_pixels(const struct ax_conv2d_geom *g) {
    int64_t crs = g->cg * g->r * g->s, p = g->oh * g->ow;
    int64_t chunk = AX_CPU_CONV_SCRATCH / crs;
    if (chunk < 1)
        chunk = 1;
    return chunk < p ? chunk : p;
}

/* Kernel tap (r, s) against one output row: the input row it reads, and the output columns
 * [lo, hi_j) whose input column wi = j sw - pl + s dw lies inside the input (the others read
 * padding). Computed once per tap and output row, so the copies below have no division and
 * no test per element. */
struct tap_row {
    int64_t hi;       /* input row, maybe outside [0, h) */
    int64_t off;      /* wi = j stride_w + off */
    int64_t lo, hi_j; /* valid output columns [lo, hi_j) (empty when lo >= hi_j) */
};

static struct tap_row tap_row(const struct ax_conv2d_geom *g, int64_t i, int64_t r, int64_t s) {
    struct tap_row t;
    t.hi = i * g->stride_h - g->pad_top + r * g->dil_h;
    t.off = s * g->dil_w - g->pad_left;
    /* wi >= 0: j >= ceil(-off / stride_w);  wi <= w - 1: j <= floor((w - 1 - off) / stride_w) */
    t.lo = t.off >= 0 ? 0 : (-t.off + g->stride_w - 1) / g->stride_w;
    t.hi_j = g->w - 1 - t.off < 0 ? 0 : (g->w - 1 - t.off) / g->stride_w + 1;
    if (t.hi < 0 || t.hi >= g->h)
        t.lo = t.hi_j = 0; /* the whole row is padding */
    return t;
}

/* v limited to [lo, hi] (lo <= hi). */
static int64_t clamp(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* The output pixels p0 .. p0 + np walk output rows: segment q of them is row i from column j
 * for len pixels, in the caller's loop
 *     for (q = 0, i = p0 / ow, j = p0 % ow; q < np; q += len, i++, j = 0).
 * Returns len, and for tap (r, s) the columns [*a, *b) of the segment that read inside the
 * input, at plane[*base + jj stride_w] for column jj. */
static int64_t segment(const struct ax_conv2d_geom *g, int64_t q, int64_t np, int64_t i,
                       int64_t j, int64_t r, int64_t s, int64_t *a, int64_t *b, int64_t *base) {
    const int64_t len = g->ow - j < np - q ? g->ow - j : np - q;
    const struct tap_row t = tap_row(g, i, r, s);
    *a = clamp(t.lo, j, j + len);
    *b = clamp(t.hi_j, *a, j + len);
    *base = t.hi * g->w + t.off;
    return len;
}

/* col [CRS, np] for output pixels p0 .. p0 + np of the group's input planes xg [C/g, H, W]. */
static void im2col(const struct ax_conv2d_geom *g, const float *xg, int64_t p0, int64_t np,
                   float *col) {
    for (int64_t c = 0; c < g->cg; c++)
        for (int64_t r = 0; r < g->r; r++)
            for (int64_t s = 0; s < g->s; s++) {
                float *row = col + ((c * g->r + r) * g->s + s) * np;
                const float *plane = xg + c * g->h * g->w;
                int64_t len, a, b, base;
                for (int64_t q = 0, i = p0 / g->ow, j = p0 % g->ow; q < np;
                     q += len, i++, j = 0) {
                    len = segment(g, q, np, i, j, r, s, &a, &b, &base);
                    float *out = row + q; /* out[jj - j]: pixel (i, jj) */
                    for (int64_t jj = j; jj < a; jj++)
                        out[jj - j] = 0.0f;
                    for (int64_t jj = a; jj < b; jj++)
                        out[jj - j] = plane[base + jj * g->stride_w];
                    for (int64_t jj = b; jj < j + len; jj++)
                        out[jj - j] = 0.0f;
                }
            }
}

/* dxg [C/g, H, W] += col2im(dcol [CRS, np]) for output pixels p0 .. p0 + np. */
static void col2im_add(const struct ax_conv2d_geom *g, const float *dcol, int64_t p0, int64_t np,
                       float *dxg) {
    for (int64_t c = 0; c < g->cg; c++)
        for (int64_t r = 0; r < g->r; r++)
            for (int64_t s = 0; s < g->s; s++) {
                const float *row = dcol + ((c * g->r + r) * g->s + s) * np;
                float *plane = dxg + c * g->h * g->w;
                int64_t len, a, b, base;
                for (int64_t q = 0, i = p0 / g->ow, j = p0 % g->ow; q < np;
                     q += len, i++, j = 0) {
                    len = segment(g, q, np, i, j, r, s, &a, &b, &base);
                    const float *in = row + q; /* in[jj - j]: pixel (i, jj) */
                    for (int64_t jj = a; jj < b; jj++)
                        plane[base + jj * g->stride_w] += in[jj - j];
                }
            }
}

/* Offsets of image n, group gi: x/dx planes, w/dw rows, y/dy planes. */
static int64_t x_off(const struct ax_conv2d_geom *g, int64_t n, int64_t gi) {
    return (n * g->c + gi * g->cg) * g->h * g->w;
}
static int64_t y_off(const struct ax_conv2d_geom *g, int64_t n, int64_t gi) {
    return (n * g->k + gi * g->kg) * g->oh * g->ow;
}
static int64_t w_off(const struct ax_conv2d_geom *g, int64_t gi) {
    return gi * g->kg * g->cg * g->r * g->s;
}

static ax_status scratch(ax_ctx *ctx, const struct ax_conv2d_geom *g, int buffers, float **col) {
    size_t floats = (size_t)(chunk_pixels(g) * g->cg * g->r * g->s);
    return ax_ctx_scratch(ctx, (size_t)buffers * floats * sizeof(float), (void **)col);
}

ax_status ax_cpu_conv2d_forward(ax_ctx *ctx, const struct ax_conv2d_geom *g, const float *x,
                                const float *w, const float *b, float *y) {
    float *col;
    AX_TRY(scratch(ctx, g, 1, &col));
    const int64_t crs = g->cg * g->r * g->s, p = g->oh * g->ow, chunk = chunk_pixels(g);
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t gi = 0; gi < g->groups; gi++)
            for (int64_t p0 = 0; p0 < p; p0 += chunk) {
                int64_t np = p - p0 < chunk ? p - p0 : chunk;
                im2col(g, x + x_off(g, n, gi), p0, np, col);
                /* y_g[:, p0 .. p0 + np] [K/g, np] = w_g [K/g, CRS] col [CRS, np] */
                AX_TRY(ax_cpu_gemm(ctx, 0, 0, g->kg, np, crs, 1.0f, w + w_off(g, gi), crs, 0,
                                   col, np, 0, 0.0f, y + y_off(g, n, gi) + p0, p, 0, 1));
            }
    if (b)
        AX_TRY(ax_cpu_bias_add(ctx, y, b, g->n, g->k, p));
    return AX_OK;
}

ax_status ax_cpu_conv2d_backward_data(ax_ctx *ctx, const struct ax_conv2d_geom *g,
                                      const float *dy, const float *w, float *dx) {
    float *dcol;
    AX_TRY(scratch(ctx, g, 1, &dcol));
    const int64_t crs = g->cg * g->r * g->s, p = g->oh * g->ow, chunk = chunk_pixels(g);
    memset(dx, 0, (size_t)(g->n * g->c * g->h * g->w) * sizeof *dx);
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t gi = 0; gi < g->groups; gi++)
            for (int64_t p0 = 0; p0 < p; p0 += chunk) {
                int64_t np = p - p0 < chunk ? p - p0 : chunk;
                /* dcol [CRS, np] = w_g^T [CRS, K/g] dy_g[:, p0 .. p0 + np] [K/g, np] */
                AX_TRY(ax_cpu_gemm(ctx, 1, 0, crs, np, g->kg, 1.0f, w + w_off(g, gi), crs, 0,
                                   dy + y_off(g, n, gi) + p0, p, 0, 0.0f, dcol, np, 0, 1));
                col2im_add(g, dcol, p0, np, dx + x_off(g, n, gi));
            }
    return AX_OK;
}

ax_status ax_cpu_conv2d_backward_filter(ax_ctx *ctx, const struct ax_conv2d_geom *g,
                                        const float *x, const float *dy, float *dw) {
    float *col;
    AX_TRY(scratch(ctx, g, 1, &col));
    const int64_t crs = g->cg * g->r * g->s, p = g->oh * g->ow, chunk = chunk_pixels(g);
    memset(dw, 0, (size_t)(g->k * crs) * sizeof *dw);
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t gi = 0; gi < g->groups; gi++)
            for (int64_t p0 = 0; p0 < p; p0 += chunk) {
                int64_t np = p - p0 < chunk ? p - p0 : chunk;
                im2col(g, x + x_off(g, n, gi), p0, np, col);
                /* dw_g [K/g, CRS] += dy_g[:, p0 .. p0 + np] [K/g, np] col^T [np, CRS] */
                AX_TRY(ax_cpu_gemm(ctx, 0, 1, g->kg, crs, np, 1.0f, dy + y_off(g, n, gi) + p0, p,
                                   0, col, np, 0, 1.0f, dw + w_off(g, gi), crs, 0, 1));
            }
    return AX_OK;
}
