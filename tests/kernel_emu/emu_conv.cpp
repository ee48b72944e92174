// src/kernels/conv.cu run on the host (emu.h) against the CPU reference: forward,
// backward-data and backward-filter over geometries with stride, asymmetric padding,
// dilation, groups, depthwise, every tile tail (65 output channels, 33 x 33 pixels), and a
// backward-filter long enough to be split (the context claims 132 SMs, as an H100/H200, so the
// split count is what such a GPU would use). Outputs start NaN; backward-filter runs twice
// and must give the same bits. Tolerance: |emu - ref| <= 1e-4 (1 + |ref|), both f32 sums of at
// most a few thousand products of values in [-1, 1] in different orders.
// Exit status 0 when every case passes; the first lines of a failure name the case and value.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "emu.h"

// the emulated launchers and the CUDA glue they call, renamed away from libaxon's
#define ax_cuda_conv2d_forward emu_conv2d_forward
#define ax_cuda_conv2d_backward_data emu_conv2d_backward_data
#define ax_cuda_conv2d_backward_filter emu_conv2d_backward_filter
#define ax_cuda_status emu_cuda_status
#define ax_cuda_blocks emu_cuda_blocks

#include "conv_emu.cu.inc" // src/kernels/conv.cu with its launches rewritten
#define EMU_MAX_BLOCKS 5
#include "emu_glue.h"

namespace {

struct Case {
    const char *name;
    int64_t n, c, h, w, k, r, s, sh, sw, pt, pb, pl, pr, dh, dw, groups;
    bool bias;
};

const Case kCases[] = {
    {"plain 3x3", 2, 3, 5, 6, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},
    {"stride 2x3, asym pad", 2, 2, 7, 8, 3, 3, 2, 2, 3, 2, 0, 1, 3, 1, 1, 1, true},
    {"dilation 2x3", 1, 3, 9, 10, 2, 3, 3, 1, 1, 1, 1, 1, 1, 2, 3, 1, false},
    {"groups 2, stride 2", 3, 4, 6, 7, 6, 2, 3, 2, 2, 1, 1, 0, 0, 1, 1, 2, true},
    {"depthwise 5", 2, 5, 6, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5, true},
    {"depthwise x2", 1, 3, 7, 9, 6, 3, 2, 2, 1, 0, 1, 2, 0, 1, 2, 3, true},
    {"stride > kernel, groups 3", 2, 6, 11, 9, 3, 2, 2, 3, 2, 2, 1, 1, 2, 2, 2, 3, true},
    {"tails 65 out, 33x33", 1, 7, 33, 33, 65, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true},
    {"1x1 70->33", 2, 70, 5, 7, 33, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},
    {"split backward-filter", 4, 3, 30, 30, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, false},
    {"batch 1, 1x1 image", 1, 3, 1, 1, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},
};

uint64_t g_state = 0x9e3779b97f4a7c15ull;
float uniform() { // in [-1, 1)
    g_state ^= g_state << 13, g_state ^= g_state >> 7, g_state ^= g_state << 17;
    return (float)((double)(g_state >> 11) * 0x1p-53 * 2.0 - 1.0);
}

int compare(const Case &cc, const char *what, const std::vector<float> &got,
            const std::vector<float> &ref) {
    for (size_t i = 0; i < got.size(); i++)
        if (!(std::fabs((double)got[i] - ref[i]) <= 1e-4 * (1.0 + std::fabs((double)ref[i])))) {
            printf("FAIL %s: %s[%zu] = %.9g, reference %.9g\n", cc.name, what, i, got[i], ref[i]);
            return 1;
        }
    return 0;
}

int run_case(ax_ctx *ctx, const Case &cc) {
    ax_conv2d_geom g{};
    g.n = cc.n, g.c = cc.c, g.h = cc.h, g.w = cc.w, g.k = cc.k, g.r = cc.r, g.s = cc.s;
    g.oh = (cc.h + cc.pt + cc.pb - cc.dh * (cc.r - 1) - 1) / cc.sh + 1;
    g.ow = (cc.w + cc.pl + cc.pr - cc.dw * (cc.s - 1) - 1) / cc.sw + 1;
    g.stride_h = cc.sh, g.stride_w = cc.sw, g.pad_top = cc.pt, g.pad_left = cc.pl;
    g.dil_h = cc.dh, g.dil_w = cc.dw, g.groups = cc.groups;
    g.cg = cc.c / cc.groups, g.kg = cc.k / cc.groups;
    const size_t nx = (size_t)(g.n * g.c * g.h * g.w), nw = (size_t)(g.k * g.cg * g.r * g.s);
    const size_t ny = (size_t)(g.n * g.k * g.oh * g.ow);
    std::vector<float> x(nx), w(nw), b((size_t)g.k), dy(ny);
    for (auto *v : {&x, &w, &b, &dy})
        for (float &e : *v)
            e = uniform();
    const float *bp = cc.bias ? b.data() : nullptr;
    std::vector<float> y[2], dx[2], dw[2], dw2(nw, NAN);
    for (int i = 0; i < 2; i++)
        y[i].assign(ny, NAN), dx[i].assign(nx, NAN), dw[i].assign(nw, NAN);
    if (ax_cpu_conv2d_forward(ctx, &g, x.data(), w.data(), bp, y[0].data()) != AX_OK ||
        ax_cpu_conv2d_backward_data(ctx, &g, dy.data(), w.data(), dx[0].data()) != AX_OK ||
        ax_cpu_conv2d_backward_filter(ctx, &g, x.data(), dy.data(), dw[0].data()) != AX_OK ||
        emu_conv2d_forward(ctx, &g, x.data(), w.data(), bp, y[1].data()) != AX_OK ||
        emu_conv2d_backward_data(ctx, &g, dy.data(), w.data(), dx[1].data()) != AX_OK ||
        emu_conv2d_backward_filter(ctx, &g, x.data(), dy.data(), dw[1].data()) != AX_OK ||
        emu_conv2d_backward_filter(ctx, &g, x.data(), dy.data(), dw2.data()) != AX_OK) {
        printf("FAIL %s: a call failed: %s\n", cc.name, ax_last_error());
        return 1;
    }
    int bad = compare(cc, "y", y[1], y[0]) + compare(cc, "dx", dx[1], dx[0]) +
              compare(cc, "dw", dw[1], dw[0]);
    if (memcmp(dw2.data(), dw[1].data(), nw * sizeof(float)) != 0) {
        printf("FAIL %s: two backward-filter runs differ\n", cc.name);
        bad++;
    }
    printf("%s %s\n", bad ? "FAIL" : "ok  ", cc.name);
    return bad;
}

int run_all(ax_ctx *ctx) {
    int bad = 0;
    for (const Case &cc : kCases)
        bad += run_case(ctx, cc);
    return bad;
}

} // namespace

int main() { return emu_main("emu_conv", 132, run_all); } // the split count of a 132-SM GPU
