/* The geometry of a 2-D pooling as both backends use it (src/host/cpu/pool.c,
 * src/kernels/pool.cu): the entry points (src/host/ops/pool.c) fill it from an
 * ax_pool2d_desc and the tensors' shapes after checking them. One plane is one (n, c) pair:
 * x is [planes, h, w], y is [planes, oh, ow], all contiguous.
 *
 * Window o of an axis starts at o * stride - pad and has taps at start + k * dilation for
 * k < kernel; taps outside [0, size) are padding and never taken by a max and never summed.
 * The average's divisor follows PyTorch (avg_pool2d): the window clipped to the padded input
 * [-pad, size + pad) counts when count_include_pad is set, the window clipped to the input
 * otherwise (see ax_pool2d_avg_divisor). */
#ifndef AX_POOL2D_H
#define AX_POOL2D_H

#include <stdint.h>

#ifdef __CUDACC__
#define AX_POOL_FN static inline __host__ __device__
#else
#define AX_POOL_FN static inline
#endif

struct ax_pool2d_geom {
    int64_t planes, h, w;   /* input [planes, h, w] */
    int64_t oh, ow;         /* output [planes, oh, ow] */
    int64_t kh, kw;         /* kernel */
    int64_t sh, sw;         /* stride >= 1 */
    int64_t ph, pw;         /* padding >= 0 on each side */
    int64_t dh, dw;         /* dilation >= 1 (1 for the average) */
    int count_include_pad;  /* average only */
};

/* The first and one-past-last input index of window o along an axis of `size` elements,
 * clipped to the input (dilation 1: the average's windows). */
AX_POOL_FN void ax_pool2d_avg_span(int64_t o, int64_t size, int64_t k, int64_t s, int64_t p,
                                   int64_t *lo, int64_t *hi, int64_t *padded) {
    int64_t start = o * s - p;
    int64_t end = start + k < size + p ? start + k : size + p; /* clipped to the padded input */
    *padded = end - start;
    *lo = start < 0 ? 0 : start;
    *hi = end < size ? end : size;
}

/* The divisor of output (oy, ox) of an average pool, as PyTorch computes it:
 * count_include_pad: (hend - hstart) (wend - wstart) with the window clipped to the padded
 *                    input, so a ceil_mode window hanging past the right padding counts less;
 * otherwise:         the number of input elements under the window. */
AX_POOL_FN int64_t ax_pool2d_avg_divisor(const struct ax_pool2d_geom *g, int64_t oy,
                                         int64_t ox) {
    int64_t y0, y1, py, x0, x1, px;
    ax_pool2d_avg_span(oy, g->h, g->kh, g->sh, g->ph, &y0, &y1, &py);
    ax_pool2d_avg_span(ox, g->w, g->kw, g->sw, g->pw, &x0, &x1, &px);
    return g->count_include_pad ? py * px : (y1 - y0) * (x1 - x0);
}

#endif
