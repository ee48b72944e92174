/* CPU reference of 2-D max and average pooling (geometry in ../common/pool2d.h). Both
 * backwards are gathers over the windows that cover each input element, in the order
 * kernel row, kernel column, so they never write one element twice and the CUDA kernels
 * can add in the same order. Sums in double. */
#include <math.h>

#include "../common/pool2d.h"
#include "cpu.h"

/* The maximum of window (oy, ox) of plane xp into *best and its flat index into *at: the
 * taps (iy, ix) = (oy sh - ph + i dh, ox sw - pw + j dw) inside the input, in row-major tap
 * order; a tap replaces the maximum when it is greater or NaN (PyTorch's CPU rule: ties keep
 * the first maximum, a NaN wins and a later NaN replaces it). A window without any tap inside
 * the input gives -Inf and index -1. */
static void window_max(const struct ax_pool2d_geom *g, const float *xp, int64_t oy, int64_t ox,
                       float *best_out, int64_t *at_out) {
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
    *best_out = best;
    *at_out = at;
}

/* The windows [lo, hi) of an axis whose taps all lie inside the input: o s - p >= 0 and
 * o s - p + (k - 1) d <= size - 1. */
static void inner_windows(int64_t size, int64_t out, int64_t k, int64_t s, int64_t p, int64_t d,
                          int64_t *lo, int64_t *hi) {
    int64_t last = size - 1 + p - (k - 1) * d; /* o s <= last */
    *lo = (p + s - 1) / s;
    *hi = last < 0 ? 0 : last / s + 1;
    if (*hi > out)
        *hi = out;
    if (*lo > *hi)
        *lo = *hi;
}

/* Windows ox0 .. ox1 of output row oy, all of whose taps are inside the input: the rule of
 * window_max with the taps as the outer loop and the windows as the inner one, every load
 * unconditional and every update a select, so the compiler vectorizes across windows.
 * yr and ir (may be NULL) are the output row's values and indices. */
static void inner_row_max(const struct ax_pool2d_geom *g, const float *xp, int64_t oy,
                          int64_t ox0, int64_t ox1, float *yr, int32_t *ir) {
    const int64_t y0 = oy * g->sh - g->ph;
    for (int64_t i = 0; i < g->kh; i++)
        for (int64_t j = 0; j < g->kw; j++) {
            /* tap (i, j) of window ox is element e0 + ox sw of the plane */
            const int64_t e0 = (y0 + i * g->dh) * g->w - g->pw + j * g->dw; /* may be < 0 */
            const int64_t sw = g->sw;
            if (i == 0 && j == 0) {
                for (int64_t ox = ox0; ox < ox1; ox++)
                    yr[ox] = xp[e0 + ox * sw];
                if (ir)
                    for (int64_t ox = ox0; ox < ox1; ox++)
                        ir[ox] = (int32_t)(e0 + ox * sw);
            } else if (ir) {
                for (int64_t ox = ox0; ox < ox1; ox++) {
                    float v = xp[e0 + ox * sw], best = yr[ox];
                    int take = (v > best) | (v != v); /* greater or NaN */
                    yr[ox] = take ? v : best;
                    ir[ox] = take ? (int32_t)(e0 + ox * sw) : ir[ox];
                }
            } else {
                for (int64_t ox = ox0; ox < ox1; ox++) {
                    float v = xp[e0 + ox * sw], best = yr[ox];
                    yr[ox] = ((v > best) | (v != v)) ? v : best;
                }
            }
        }
}

/* y[p, oy, ox] = the maximum of window (oy, ox) (window_max), idx its flat index. */
ax_status ax_cpu_max_pool2d_forward(ax_ctx *ctx, const struct ax_pool2d_geom *g, const float *x,
                                    float *y, int32_t *idx) {
    (void)ctx;
    int64_t oy0, oy1, ox0, ox1;
    inner_windows(g->h, g->oh, g->kh, g->sh, g->ph, g->dh, &oy0, &oy1);
    inner_windows(g->w, g->ow, g->kw, g->sw, g->pw, g->dw, &ox0, &ox1);
    for (int64_t p = 0; p < g->planes; p++) {
        const float *xp = x + p * g->h * g->w;
        for (int64_t oy = 0; oy < g->oh; oy++) {
            int64_t row = (p * g->oh + oy) * g->ow;
            int inner = oy >= oy0 && oy < oy1;
            if (inner)
                inner_row_max(g, xp, oy, ox0, ox1, y + row, idx ? idx + row : NULL);
            for (int64_t ox = 0; ox < g->ow; ox++) {
                if (inner && ox >= ox0 && ox < ox1)
                    continue;
                float best;
                int64_t at;
                window_max(g, xp, oy, ox, &best, &at);
                y[row + ox] = best;
                if (idx)
                    idx[row + ox] = (int32_t)at;
            }
        }
    }
    return AX_OK;
}

/* Windows that share no tap (the stride at least the dilated kernel's extent, as the usual
 * 2x2 pool with stride 2): each input element is a tap of one window at most, so dx is
 * window (oy, ox)'s dy where its index points and zero elsewhere, the same values as the
 * gather below (a sum of one term: + 0.0f makes a -0 dy +0 as the sum does). An index
 * that is none of its window's taps routes nothing; the test compares it with every tap
 * (no division, no branch on which tap won). */
static void max_pool2d_backward_disjoint(const struct ax_pool2d_geom *g, const int32_t *idx,
                                         const float *dy, float *dx) {
    for (int64_t p = 0; p < g->planes; p++) {
        const int32_t *ip = idx + p * g->oh * g->ow;
        const float *dyp = dy + p * g->oh * g->ow;
        float *dxp = dx + p * g->h * g->w;
        for (int64_t e = 0; e < g->h * g->w; e++)
            dxp[e] = 0.0f; /* the elements no window covers */
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                const int64_t o = oy * g->ow + ox, at = ip[o];
                int own = 0;
                for (int64_t i = 0; i < g->kh; i++) {
                    int64_t iy = oy * g->sh - g->ph + i * g->dh;
                    if (iy < 0 || iy >= g->h)
                        continue;
                    for (int64_t j = 0; j < g->kw; j++) {
                        int64_t ix = ox * g->sw - g->pw + j * g->dw;
                        own |= ix >= 0 && ix < g->w && iy * g->w + ix == at;
                    }
                }
                if (own)
                    dxp[at] = dyp[o] + 0.0f;
            }
    }
}

/* dx[p, iy, ix] = sum of dy[p, oy, ox] over the windows (oy, ox) that have (iy, ix) as a tap
 * and idx[p, oy, ox] == iy w + ix. Tap i of window oy is iy when oy sh = iy + ph - i dh. */
ax_status ax_cpu_max_pool2d_backward(ax_ctx *ctx, const struct ax_pool2d_geom *g,
                                     const int32_t *idx, const float *dy, float *dx) {
    (void)ctx;
    if (g->sh >= (g->kh - 1) * g->dh + 1 && g->sw >= (g->kw - 1) * g->dw + 1) {
        max_pool2d_backward_disjoint(g, idx, dy, dx);
        return AX_OK;
    }
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
