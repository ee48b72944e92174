// 2-D max and average pooling, forward and backward (geometry in ../host/common/pool2d.h).
// One thread per output element in the forwards, one per input element in the backwards:
// a backward is a gather over the windows that cover its element, in the order kernel row,
// kernel column, so no float atomics and every run gives the same bits. The taps are visited
// in the CPU reference's order (max: the same comparisons, so the same maximum and index).
// Index type I: the element index and its division into (plane, row, column), and the
// backward's divisibility tests, run in int32 when every extent fits (fits_int32), since
// 64-bit division is many instructions on the GPU; the window arithmetic stays in int64.
#include <math.h>

#include "../host/common/pool2d.h"
#include "common.cuh"
#include "kernels.h"

namespace {

// (v >= 0, v % s == 0, v / s < lim): window *q = v / s has the tap; I is the index type.
template <typename I>
__device__ __forceinline__ bool window_of(int64_t v, int64_t s, int64_t lim, int64_t *q) {
    if (v < 0)
        return false;
    const I vi = (I)v, si = (I)s;
    const I qi = vi / si;
    if (vi - qi * si != 0 || qi >= (I)lim)
        return false;
    *q = qi;
    return true;
}

// y[p, oy, ox] = max over the taps (oy sh - ph + i dh, ox sw - pw + j dw) inside the input,
// row-major; a tap replaces the maximum when greater or NaN (first maximum, last NaN);
// idx = iy w + ix of it, -1 (and y = -Inf) when no tap is inside.
template <typename I>
__global__ void __launch_bounds__(kThreads)
    max_pool2d_forward_kernel(ax_pool2d_geom g, const float *x, float *y, int32_t *idx) {
    const I n = (I)(g.planes * g.oh * g.ow), ow = (I)g.ow, oh = (I)g.oh;
    const I stride = (I)gridDim.x * (I)blockDim.x;
    for (I o = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x; o < n; o += stride) {
        const I q = o / ow, ox = o - q * ow, oy = q % oh, p = q / oh;
        const float *xp = x + p * g.h * g.w;
        float best = -INFINITY;
        int64_t at = -1;
        for (int64_t i = 0; i < g.kh; i++) {
            const int64_t iy = oy * g.sh - g.ph + i * g.dh;
            if (iy < 0 || iy >= g.h)
                continue;
            for (int64_t j = 0; j < g.kw; j++) {
                const int64_t ix = ox * g.sw - g.pw + j * g.dw;
                if (ix < 0 || ix >= g.w)
                    continue;
                const float v = xp[iy * g.w + ix];
                if (at < 0 || v > best || isnan(v)) {
                    best = v;
                    at = iy * g.w + ix;
                }
            }
        }
        y[o] = best;
        if (idx)
            idx[o] = (int32_t)at;
    }
}

// dx[p, iy, ix] = sum of dy[p, o] over the windows o with tap (iy, ix) and idx[p, o] equal
// to iy w + ix; tap i of window oy is iy when oy sh = iy + ph - i dh.
template <typename I>
__global__ void __launch_bounds__(kThreads)
    max_pool2d_backward_kernel(ax_pool2d_geom g, const int32_t *idx, const float *dy,
                               float *dx) {
    const I n = (I)(g.planes * g.h * g.w), area = (I)(g.h * g.w), w = (I)g.w;
    const I stride = (I)gridDim.x * (I)blockDim.x;
    for (I e = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x; e < n; e += stride) {
        const I p = e / area, self = e - p * area;
        const I iy = self / w, ix = self - iy * w;
        const int32_t *ip = idx + (int64_t)p * g.oh * g.ow;
        const float *dyp = dy + (int64_t)p * g.oh * g.ow;
        float acc = 0.0f;
        for (int64_t i = 0; i < g.kh; i++) {
            int64_t oy, ox;
            if (!window_of<I>(iy + g.ph - i * g.dh, g.sh, g.oh, &oy))
                continue;
            for (int64_t j = 0; j < g.kw; j++) {
                if (!window_of<I>(ix + g.pw - j * g.dw, g.sw, g.ow, &ox))
                    continue;
                const int64_t o = oy * g.ow + ox;
                if (ip[o] == self)
                    acc += dyp[o];
            }
        }
        dx[e] = acc;
    }
}

// y[p, oy, ox] = (sum of the window's taps inside the input) / divisor(oy, ox)
template <typename I>
__global__ void __launch_bounds__(kThreads)
    avg_pool2d_forward_kernel(ax_pool2d_geom g, const float *x, float *y) {
    const I n = (I)(g.planes * g.oh * g.ow), ow = (I)g.ow, oh = (I)g.oh;
    const I stride = (I)gridDim.x * (I)blockDim.x;
    for (I o = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x; o < n; o += stride) {
        const I q = o / ow, ox = o - q * ow, oy = q % oh, p = q / oh;
        const float *xp = x + (int64_t)p * g.h * g.w;
        int64_t y0, y1, x0, x1, unused;
        ax_pool2d_avg_span(oy, g.h, g.kh, g.sh, g.ph, &y0, &y1, &unused);
        ax_pool2d_avg_span(ox, g.w, g.kw, g.sw, g.pw, &x0, &x1, &unused);
        float sum = 0.0f;
        for (int64_t iy = y0; iy < y1; iy++)
            for (int64_t ix = x0; ix < x1; ix++)
                sum += xp[iy * g.w + ix];
        y[o] = sum / (float)ax_pool2d_avg_divisor(&g, oy, ox);
    }
}

// dx[p, iy, ix] = sum over the windows (oy, ox) covering (iy, ix) of dy / divisor(oy, ox);
// window oy covers iy when oy sh = iy + ph - i for some i < kh.
template <typename I>
__global__ void __launch_bounds__(kThreads)
    avg_pool2d_backward_kernel(ax_pool2d_geom g, const float *dy, float *dx) {
    const I n = (I)(g.planes * g.h * g.w), w = (I)g.w, h = (I)g.h;
    const I stride = (I)gridDim.x * (I)blockDim.x;
    for (I e = (I)blockIdx.x * (I)blockDim.x + (I)threadIdx.x; e < n; e += stride) {
        const I q = e / w, ix = e - q * w, iy = q % h, p = q / h;
        const float *dyp = dy + (int64_t)p * g.oh * g.ow;
        float acc = 0.0f;
        for (int64_t i = 0; i < g.kh; i++) {
            int64_t oy, ox;
            if (!window_of<I>(iy + g.ph - i, g.sh, g.oh, &oy))
                continue;
            for (int64_t j = 0; j < g.kw; j++) {
                if (!window_of<I>(ix + g.pw - j, g.sw, g.ow, &ox))
                    continue;
                acc += dyp[oy * g.ow + ox] / (float)ax_pool2d_avg_divisor(&g, oy, ox);
            }
        }
        dx[e] = acc;
    }
}

// Whether int32 holds every index and every divided value of g, with room for the
// grid-stride step past the end (half of int32's range): the elements of x and y, and the
// backward's dividends iy + ph (- i dh) and ix + pw (- j dw).
bool fits_int32(const ax_pool2d_geom *g) {
    const int64_t lim = INT32_MAX / 2;
    return g->planes * g->h * g->w <= lim && g->planes * g->oh * g->ow <= lim &&
           g->h + g->ph <= lim && g->w + g->pw <= lim && (g->kh - 1) * g->dh <= lim &&
           (g->kw - 1) * g->dw <= lim;
}

// Queue kernel<int32_t> (when g fits) or kernel<int64_t> over n elements (grid-stride) on
// ctx's stream; fn names the launcher.
template <typename... Params, typename... Args>
ax_status launch(ax_ctx *ctx, const char *fn, const char *what,
                 void (*kernel32)(ax_pool2d_geom, Params...),
                 void (*kernel64)(ax_pool2d_geom, Params...), int64_t n, const ax_pool2d_geom *g,
                 Args... args) {
    if (n <= 0)
        return AX_OK;
    const unsigned blocks = ax_cuda_blocks(ctx, n, kThreads);
    if (fits_int32(g))
        kernel32<<<blocks, kThreads, 0, ax_stream(ctx)>>>(*g, args...);
    else
        kernel64<<<blocks, kThreads, 0, ax_stream(ctx)>>>(*g, args...);
    return launched(fn, what);
}

} // namespace

extern "C" ax_status ax_cuda_max_pool2d_forward(ax_ctx *ctx, const ax_pool2d_geom *g,
                                                const float *x, float *y, int32_t *idx) {
    return launch(ctx, __func__, "launch of max_pool2d_forward_kernel",
                  max_pool2d_forward_kernel<int32_t>, max_pool2d_forward_kernel<int64_t>,
                  g->planes * g->oh * g->ow, g, x, y, idx);
}

extern "C" ax_status ax_cuda_max_pool2d_backward(ax_ctx *ctx, const ax_pool2d_geom *g,
                                                 const int32_t *idx, const float *dy,
                                                 float *dx) {
    return launch(ctx, __func__, "launch of max_pool2d_backward_kernel",
                  max_pool2d_backward_kernel<int32_t>, max_pool2d_backward_kernel<int64_t>,
                  g->planes * g->h * g->w, g, idx, dy, dx);
}

extern "C" ax_status ax_cuda_avg_pool2d_forward(ax_ctx *ctx, const ax_pool2d_geom *g,
                                                const float *x, float *y) {
    return launch(ctx, __func__, "launch of avg_pool2d_forward_kernel",
                  avg_pool2d_forward_kernel<int32_t>, avg_pool2d_forward_kernel<int64_t>,
                  g->planes * g->oh * g->ow, g, x, y);
}

extern "C" ax_status ax_cuda_avg_pool2d_backward(ax_ctx *ctx, const ax_pool2d_geom *g,
                                                 const float *dy, float *dx) {
    return launch(ctx, __func__, "launch of avg_pool2d_backward_kernel",
                  avg_pool2d_backward_kernel<int32_t>, avg_pool2d_backward_kernel<int64_t>,
                  g->planes * g->h * g->w, g, dy, dx);
}
