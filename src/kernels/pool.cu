// 2-D max and average pooling, forward and backward (geometry in ../host/common/pool2d.h).
// One thread per output element in the forwards, one per input element in the backwards:
// a backward is a gather over the windows that cover its element, in the order kernel row,
// kernel column, so no float atomics and every run gives the same bits. The taps are visited
// in the CPU reference's order (max: the same comparisons, so the same maximum and index).
#include <math.h>

#include "../host/common/pool2d.h"
#include "common.cuh"
#include "kernels.h"

namespace {

// y[p, oy, ox] = max over the taps (oy sh - ph + i dh, ox sw - pw + j dw) inside the input,
// row-major; a tap replaces the maximum when greater or NaN (first maximum, last NaN);
// idx = iy w + ix of it, -1 (and y = -Inf) when no tap is inside.
__global__ void __launch_bounds__(kThreads)
    max_pool2d_forward_kernel(ax_pool2d_geom g, const float *x, float *y, int32_t *idx) {
    const int64_t n = g.planes * g.oh * g.ow;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < n; o += stride) {
        const int64_t ox = o % g.ow, oy = (o / g.ow) % g.oh, p = o / (g.ow * g.oh);
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
__global__ void __launch_bounds__(kThreads)
    max_pool2d_backward_kernel(ax_pool2d_geom g, const int32_t *idx, const float *dy,
                               float *dx) {
    const int64_t n = g.planes * g.h * g.w;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += stride) {
        const int64_t self = e % (g.h * g.w), p = e / (g.h * g.w);
        const int64_t iy = self / g.w, ix = self % g.w;
        const int32_t *ip = idx + p * g.oh * g.ow;
        const float *dyp = dy + p * g.oh * g.ow;
        float acc = 0.0f;
        for (int64_t i = 0; i < g.kh; i++) {
            const int64_t ny = iy + g.ph - i * g.dh;
            if (ny < 0 || ny % g.sh != 0 || ny / g.sh >= g.oh)
                continue;
            for (int64_t j = 0; j < g.kw; j++) {
                const int64_t nx = ix + g.pw - j * g.dw;
                if (nx < 0 || nx % g.sw != 0 || nx / g.sw >= g.ow)
                    continue;
                const int64_t o = (ny / g.sh) * g.ow + nx / g.sw;
                if (ip[o] == self)
                    acc += dyp[o];
            }
        }
        dx[e] = acc;
    }
}

// y[p, oy, ox] = (sum of the window's taps inside the input) / divisor(oy, ox)
__global__ void __launch_bounds__(kThreads)
    avg_pool2d_forward_kernel(ax_pool2d_geom g, const float *x, float *y) {
    const int64_t n = g.planes * g.oh * g.ow;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < n; o += stride) {
        const int64_t ox = o % g.ow, oy = (o / g.ow) % g.oh, p = o / (g.ow * g.oh);
        const float *xp = x + p * g.h * g.w;
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
__global__ void __launch_bounds__(kThreads)
    avg_pool2d_backward_kernel(ax_pool2d_geom g, const float *dy, float *dx) {
    const int64_t n = g.planes * g.h * g.w;
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += stride) {
        const int64_t ix = e % g.w, iy = (e / g.w) % g.h, p = e / (g.w * g.h);
        const float *dyp = dy + p * g.oh * g.ow;
        float acc = 0.0f;
        for (int64_t i = 0; i < g.kh; i++) {
            const int64_t ny = iy + g.ph - i;
            if (ny < 0 || ny % g.sh != 0 || ny / g.sh >= g.oh)
                continue;
            for (int64_t j = 0; j < g.kw; j++) {
                const int64_t nx = ix + g.pw - j;
                if (nx < 0 || nx % g.sw != 0 || nx / g.sw >= g.ow)
                    continue;
                const int64_t oy = ny / g.sh, ox = nx / g.sw;
                acc += dyp[oy * g.ow + ox] / (float)ax_pool2d_avg_divisor(&g, oy, ox);
            }
        }
        dx[e] = acc;
    }
}

// Queue kernel over n elements (grid-stride) on ctx's stream; fn names the launcher.
template <typename... Params, typename... Args>
ax_status launch(ax_ctx *ctx, const char *fn, const char *what,
                 void (*kernel)(ax_pool2d_geom, Params...), int64_t n, const ax_pool2d_geom *g,
                 Args... args) {
    if (n <= 0)
        return AX_OK;
    kernel<<<ax_cuda_blocks(ctx, n, kThreads), kThreads, 0, ax_stream(ctx)>>>(*g, args...);
    return launched(fn, what);
}

} // namespace

extern "C" ax_status ax_cuda_max_pool2d_forward(ax_ctx *ctx, const ax_pool2d_geom *g,
                                                const float *x, float *y, int32_t *idx) {
    return launch(ctx, __func__, "launch of max_pool2d_forward_kernel", max_pool2d_forward_kernel,
                  g->planes * g->oh * g->ow, g, x, y, idx);
}

extern "C" ax_status ax_cuda_max_pool2d_backward(ax_ctx *ctx, const ax_pool2d_geom *g,
                                                 const int32_t *idx, const float *dy,
                                                 float *dx) {
    return launch(ctx, __func__, "launch of max_pool2d_backward_kernel",
                  max_pool2d_backward_kernel, g->planes * g->h * g->w, g, idx, dy, dx);
}

extern "C" ax_status ax_cuda_avg_pool2d_forward(ax_ctx *ctx, const ax_pool2d_geom *g,
                                                const float *x, float *y) {
    return launch(ctx, __func__, "launch of avg_pool2d_forward_kernel", avg_pool2d_forward_kernel,
                  g->planes * g->oh * g->ow, g, x, y);
}

extern "C" ax_status ax_cuda_avg_pool2d_backward(ax_ctx *ctx, const ax_pool2d_geom *g,
                                                 const float *dy, float *dx) {
    return launch(ctx, __func__, "launch of avg_pool2d_backward_kernel",
                  avg_pool2d_backward_kernel, g->planes * g->h * g->w, g, dy, dx);
}
