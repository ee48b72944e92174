/* CPU reference of 2-D max and average pooling (geometry in ../common/pool2d.h). Both
 * backwards are gathers over the windows that cover each input element, in the order
 * kernel row, kernel column, so they never write one element twice and the CUDA kernels
 * can add in the same order. Sums in double. */
#include <math.h>

#include "../common/pool2d.h"
#include "cpu.h"

/* y[p, oy, ox] = max over the taps (iy, ix) = (oy sh - ph + i dh, ox sw - pw + j dw) inside
 * the input, in row-major tap order: a tap replaces the maximum when it is greater or NaN
 * (PyTorch's CPU rule: ties keep the first maximum, a NaN wins and a later NaN replaces it).
 * A window without any tap inside the input gives -Inf and index -1. */
ax_status ax_cpu_max_pool2d_forward(ax_ctx *ctx, const struct ax_pool2d_geom *g, const float *x,
                                    float *y, int32_t *idx) {
    (void)ctx;
    for (int64_t p = 0; p < g->planes; p++) {
        const float *xp = x + p * g->h * g->w;
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                float best = -INFINITY;
                int64_t at = -1;
                for (int64_t i = 0; i < g->kh; i++) {
                    int64_t iy = oy * g->sh - g->ph + i * g->dh;
                    if (iy < 0 || iy >= g->h)
                        continue;
                    for (int64_t j = 0; j < g->kw; j++) {
                        int64_t ix = ox * g->sw - g->pw + j * g->dw;
                        if (ix < 0 || ix >= g->w)
                            continue;
                        float v = xp[iy * g->w + ix];
                        if (at < 0 || v > best || isnan(v)) {
                            best = v;
                            at = iy * g->w + ix;
                        }
                    }
                }
                int64_t o = (p * g->oh + oy) * g->ow + ox;
                y[o] = best;
                if (idx)
                    idx[o] = (int32_t)at;
            }
    }
    return AX_OK;
}

/* dx[p, iy, ix] = sum of dy[p, oy, ox] over the windows (oy, ox) that have (iy, ix) as a tap
 * and idx[p, oy, ox] == iy w + ix. Tap i of window oy is iy when oy sh = iy + ph - i dh. */
ax_status ax_cpu_max_pool2d_backward(ax_ctx *ctx, const struct ax_pool2d_geom *g,
                                     const int32_t *idx, const float *dy, float *dx) {
    (void)ctx;
    for (int64_t p = 0; p < g->planes; p++) {
        const int32_t *ip = idx + p * g->oh * g->ow;
        const float *dyp = dy + p * g->oh * g->ow;
        for (int64_t iy = 0; iy < g->h; iy++)
            for (int64_t ix = 0; ix < g->w; ix++) {
                double acc = 0.0;
                int64_t self = iy * g->w + ix;
                for (int64_t i = 0; i < g->kh; i++) {
                    int64_t ny = iy + g->ph - i * g->dh;
                    if (ny < 0 || ny % g->sh != 0 || ny / g->sh >= g->oh)
                        continue;
                    for (int64_t j = 0; j < g->kw; j++) {
                        int64_t nx = ix + g->pw - j * g->dw;
                        if (nx < 0 || nx % g->sw != 0 || nx / g->sw >= g->ow)
                            continue;
                        int64_t o = (ny / g->sh) * g->ow + nx / g->sw;
                        if (ip[o] == self)
                            acc += dyp[o];
                    }
                }
                dx[p * g->h * g->w + self] = (float)acc;
            }
    }
    return AX_OK;
}

/* y[p, oy, ox] = (sum of x over the window's taps inside the input) / divisor(oy, ox) */
ax_status ax_cpu_avg_pool2d_forward(ax_ctx *ctx, const struct ax_pool2d_geom *g, const float *x,
                                    float *y) {
    (void)ctx;
    for (int64_t p = 0; p < g->planes; p++) {
        const float *xp = x + p * g->h * g->w;
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                int64_t y0, y1, x0, x1, unused;
                ax_pool2d_avg_span(oy, g->h, g->kh, g->sh, g->ph, &y0, &y1, &unused);
                ax_pool2d_avg_span(ox, g->w, g->kw, g->sw, g->pw, &x0, &x1, &unused);
                double sum = 0.0;
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++)
                        sum += xp[iy * g->w + ix];
                y[(p * g->oh + oy) * g->ow + ox] =
                    (float)(sum / (double)ax_pool2d_avg_divisor(g, oy, ox));
            }
    }
    return AX_OK;
}

/* dx[p, iy, ix] = sum over the windows (oy, ox) covering (iy, ix) of dy / divisor(oy, ox);
 * window oy covers iy when oy sh - ph <= iy < oy sh - ph + kh, i.e. oy sh = iy + ph - i for
 * some i < kh. */
ax_status ax_cpu_avg_pool2d_backward(ax_ctx *ctx, const struct ax_pool2d_geom *g,
                                     const float *dy, float *dx) {
    (void)ctx;
    for (int64_t p = 0; p < g->planes; p++) {
        const float *dyp = dy + p * g->oh * g->ow;
        for (int64_t iy = 0; iy < g->h; iy++)
            for (int64_t ix = 0; ix < g->w; ix++) {
                double acc = 0.0;
                for (int64_t i = 0; i < g->kh; i++) {
                    int64_t ny = iy + g->ph - i;
                    if (ny < 0 || ny % g->sh != 0 || ny / g->sh >= g->oh)
                        continue;
                    for (int64_t j = 0; j < g->kw; j++) {
                        int64_t nx = ix + g->pw - j;
                        if (nx < 0 || nx % g->sw != 0 || nx / g->sw >= g->ow)
                            continue;
                        int64_t oy = ny / g->sh, ox = nx / g->sw;
                        acc += (double)dyp[oy * g->ow + ox] /
                               (double)ax_pool2d_avg_divisor(g, oy, ox);
                    }
                }
                dx[(p * g->h + iy) * g->w + ix] = (float)acc;
            }
    }
    return AX_OK;
}
