// src/kernels/conv.cu run on the host (emu.h) against the CPU reference: every path of the
// CUDA convolution (the implicit GEMM as chosen and in each of its two tile shapes, the 1x1
// SGEMM path, the depthwise kernels, Winograd F(2x2, 3x3)) on every geometry it takes, and
// the dispatching entry points, over geometries
// with stride, asymmetric padding, dilation, groups, depthwise, every tile tail (65 output
// channels, 33 x 33 pixels), odd Winograd tiles, batch 1 and 1x1 images, NaN and Inf inputs.
// The 1x1 and Winograd paths call the SGEMM of gemm.cu, emulated too (emu_gemm.cpp); the
// bias add they call is the CPU reference's (reduce.cu is not emulated here).
//
// The context claims 132 SMs, as an H100/H200, so the split counts are what such a GPU would
// use; the scratch bounds are made small (below) so that these small geometries reach the
// chunked loops (images in several batched calls, Winograd in several image chunks) and a
// Winograd layer whose one image exceeds the scratch is left to the implicit GEMM.
// Every tensor ends where an inaccessible page begins (GuardedBuf), so a read or write past
// its end (beyond the < 4 floats of NaN slack that keep it 16-byte aligned) crashes the test.
// Outputs start NaN; each path runs twice and must give the same bits. Each case also names
// the path the dispatch must choose (and AX_CONV_ALGO=generic must force the implicit GEMM).
// Tolerance: |emu - ref| <= 1e-4 (1 + |ref|), both f32 sums of at most a few thousand products
// of values in [-1, 1] in different orders; Winograd's measured worst error is printed. Where
// the reference is NaN the output must be NaN and where it is infinite the same infinity, and
// (but for Winograd's y and dx, where NaN may stand for any value of a tile with a NaN or Inf
// input) nowhere else NaN.
// Exit status 0 when every case passes; the first lines of a failure name the case and value.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "emu.h"
#include "emu_names.h"

#define AX_CONV_MAX_PARTIALS ((int64_t)2000)
#define AX_CONV_WINOGRAD_SCRATCH ((int64_t)131072)
#include "conv_emu.cu.inc" // src/kernels/conv.cu with its launches rewritten
#define EMU_MAX_BLOCKS 5
#include "emu_glue.h"

extern "C" ax_status emu_cuda_bias_add(ax_ctx *ctx, float *y, const float *b, int64_t outer,
                                       int64_t dim, int64_t inner) {
    return ax_cpu_bias_add(ctx, y, b, outer, dim, inner);
}

namespace {

struct Case {
    const char *name;
    int64_t n, c, h, w, k, r, s, sh, sw, pt, pb, pl, pr, dh, dw, groups;
    bool bias;
    Algo expect; // the forward's path; the backward passes take the same but for Winograd
                 // (backward-data: Winograd where its scratch fits, backward-filter: generic)
    int special; // 0; kNaN: a NaN in x and one in dy; kInf: +Inf in x and -Inf in dy
};

constexpr int kNaN = 1, kInf = 2;
constexpr Algo G = Algo::Generic, P = Algo::Pointwise, D = Algo::Depthwise, W = Algo::Winograd;

const Case kCases[] = {
    {"plain 3x3", 2, 3, 5, 6, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, true, G, 0},
    {"stride 2x3, asym pad", 2, 2, 7, 8, 3, 3, 2, 2, 3, 2, 0, 1, 3, 1, 1, 1, true, G, 0},
    {"dilation 2x3", 1, 3, 9, 10, 2, 3, 3, 1, 1, 1, 1, 1, 1, 2, 3, 1, false, G, 0},
    {"groups 2, stride 2", 3, 4, 6, 7, 6, 2, 3, 2, 2, 1, 1, 0, 0, 1, 1, 2, true, G, 0},
    {"depthwise 5", 2, 5, 6, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5, true, D, 0},
    {"depthwise 5, NaN inputs", 2, 5, 6, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5, true, D, kNaN},
    {"depthwise 5, Inf inputs", 2, 5, 6, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5, true, D, kInf},
    {"depthwise x2", 1, 3, 7, 9, 6, 3, 2, 2, 1, 0, 1, 2, 0, 1, 2, 3, true, G, 0},
    {"stride > kernel, groups 3", 2, 6, 11, 9, 3, 2, 2, 3, 2, 2, 1, 1, 2, 2, 2, 3, true, G,
     0},
    {"tails 65 out, 33x33", 1, 7, 33, 33, 65, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, G, 0},
    {"1x1 70->33", 2, 70, 5, 7, 33, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, true, P, 0},
    {"1x1 70->33, NaN inputs", 2, 70, 5, 7, 33, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, true, P, kNaN},
    {"1x1 70->33, Inf inputs", 2, 70, 5, 7, 33, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, true, P, kInf},
    {"split backward-filter", 4, 3, 30, 30, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, false, G, 0},
    {"batch 1, 1x1 image", 1, 3, 1, 1, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, true, P, 0},
    // Winograd: odd output sizes (partial tiles), asymmetric padding, image chunks
    {"winograd 16->17, 9x11", 2, 16, 9, 11, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, W, 0},
    {"winograd asym pad, 3 chunks", 5, 16, 20, 19, 16, 3, 3, 1, 1, 0, 2, 1, 0, 1, 1, 1, false, W,
     0},
    {"winograd pads 3/0/0/3", 2, 16, 5, 6, 16, 3, 3, 1, 1, 3, 0, 0, 3, 1, 1, 1, true, W, 0},
    {"winograd past its scratch", 1, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, G, 0},
    {"winograd 64->64", 1, 64, 6, 6, 64, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, true, W, 0},
    {"winograd 1x1 output", 1, 16, 3, 3, 16, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, true, W, 0},
    {"winograd, NaN inputs", 2, 16, 7, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, W, kNaN},
    {"winograd, Inf inputs", 2, 16, 7, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, W, kInf},
    // 3x3 forwards Winograd must leave to the implicit GEMM
    {"3x3 stride 2, 16 ch", 2, 16, 9, 9, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true, G, 0},
    {"3x3 dilated, 16 ch", 1, 16, 9, 9, 16, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1, 1, true, G, 0},
    {"3x3 groups 2, 32 ch", 1, 32, 6, 6, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, true, G, 0},
    {"3x3 15 in, 16 out", 1, 15, 6, 6, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, G, 0},
    {"3x3 16 in, 15 out", 1, 16, 6, 6, 15, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, G, 0},
    // 1x1: batched over chunks of images (2000 floats of partials: 15 images of 8 x 16)
    {"1x1 batch 37, 3 chunks", 37, 16, 3, 5, 8, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, true, P, 0},
    {"1x1 batch 16, last chunk 1", 16, 16, 2, 3, 8, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, false, P,
     0},
    {"1x1 dilated", 2, 5, 4, 3, 6, 1, 1, 1, 1, 0, 0, 0, 0, 3, 2, 1, true, P, 0},
    // 1x1 geometries the SGEMM path must leave
    {"1x1 groups 2", 2, 8, 4, 5, 6, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2, true, G, 0},
    {"1x1 padded bottom", 2, 4, 4, 5, 3, 1, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1, true, G, 0},
    {"1x1 padded left", 2, 4, 4, 5, 3, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1, true, G, 0},
    {"1x1 stride 2", 2, 4, 5, 5, 3, 1, 1, 2, 1, 0, 0, 0, 0, 1, 1, 1, true, G, 0},
    // depthwise: split backward-filter, 25 taps (4 register chunks), one channel
    {"depthwise split wgrad", 3, 4, 33, 35, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, false, D, 0},
    {"depthwise 5x5 stride, dil", 2, 3, 13, 12, 3, 5, 5, 2, 1, 2, 1, 0, 3, 1, 2, 3, true, D,
     0},
    {"1 channel, 1x1 image", 1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, D, 0},
};

const char *algo_name(Algo a) {
    return a == G ? "generic" : a == P ? "pointwise" : a == D ? "depthwise" : "winograd";
}

// n floats that end (16-byte aligned, with at most 3 floats of NaN slack) where a PROT_NONE
// page begins; filled with NaN.
class GuardedBuf {
  public:
    explicit GuardedBuf(size_t n) : n_(n) {
        const size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = (n + 3) / 4 * 16;
        map_bytes_ = (bytes + page - 1) / page * page + page;
        void *m = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (m == MAP_FAILED) {
            perror("emu_conv: mmap");
            exit(1);
        }
        map_ = (char *)m;
        if (mprotect(map_ + map_bytes_ - page, page, PROT_NONE) != 0) {
            perror("emu_conv: mprotect");
            exit(1);
        }
        float *slack = (float *)(map_ + map_bytes_ - page - bytes);
        data_ = slack + ((n + 3) / 4 * 4 - n);
        for (float *f = slack; f < data_ + n; f++)
            *f = NAN;
    }
    GuardedBuf(const GuardedBuf &) = delete;
    GuardedBuf &operator=(const GuardedBuf &) = delete;
    ~GuardedBuf() { munmap(map_, map_bytes_); }
    float *data() const { return data_; }
    size_t size() const { return n_; }
    float &operator[](size_t i) const { return data_[i]; }

  private:
    size_t n_, map_bytes_;
    char *map_;
    float *data_;
};

uint64_t g_state = 0x9e3779b97f4a7c15ull;
float uniform() { // in [-1, 1)
    g_state ^= g_state << 13, g_state ^= g_state >> 7, g_state ^= g_state << 17;
    return (float)((double)(g_state >> 11) * 0x1p-53 * 2.0 - 1.0);
}

// |got - ref| <= 1e-4 (1 + |ref|); NaN exactly where ref is NaN and the same infinity where
// ref is infinite (NaN allowed for any value where extra_nan). Returns the failures (0 or 1)
// and raises *worst to the largest relative error.
int compare(const char *name, const char *what, const GuardedBuf &got, const GuardedBuf &ref,
            bool extra_nan, double *worst) {
    for (size_t i = 0; i < got.size(); i++) {
        const double g = got[i], r = ref[i], err = std::fabs(g - r) / (1.0 + std::fabs(r));
        const bool ok = std::isnan(r)   ? std::isnan(g)
                        : std::isinf(r) ? g == r || (extra_nan && std::isnan(g))
                                        : err <= 1e-4 || (extra_nan && std::isnan(g));
        if (!ok) {
            printf("FAIL %s: %s[%zu] = %.9g, reference %.9g\n", name, what, i, got[i], ref[i]);
            return 1;
        }
        if (std::isfinite(r) && std::isfinite(g) && err > *worst)
            *worst = err;
    }
    return 0;
}

struct Tensors {
    GuardedBuf x, w, b, dy;
};

// What runs a pass: the dispatching entry point, one path as conv.cu would run it, or the
// implicit GEMM with one tile shape forced.
enum Runner { kDispatch = -1, kLargeTile = 4, kMediumTile = 5 }; // 0..3: the Algo of a path

const char *runner_name(int r) {
    return r == kDispatch     ? "dispatch"
           : r == kLargeTile  ? "generic 128x128"
           : r == kMediumTile ? "generic 64x64"
                              : algo_name((Algo)r);
}

// Whether runner r takes pass (0 forward, 1 backward-data, 2 backward-filter) on g.
bool has_pass(int r, int pass, const ax_conv2d_geom *g) {
    if (r == kDispatch || r == kLargeTile || r == kMediumTile || (Algo)r == G)
        return true;
    const Algo a = (Algo)r;
    if (a == P)
        return pointwise_fits(g);
    if (a == D)
        return depthwise_fits(g);
    return winograd_fits(g, (Pass)pass);
}

template <class S>
ax_status run_tile(int pass, ax_ctx *ctx, const ax_conv2d_geom *g, const Tensors &t,
                   const float *b, float *out) {
    const char *fn = "emu_conv";
    const float *x = t.x.data(), *w = t.w.data(), *dy = t.dy.data();
    return pass == 0   ? generic_forward<S>(ctx, g, x, w, b, out, fn)
           : pass == 1 ? generic_backward_data<S>(ctx, g, dy, w, out, fn)
                       : generic_backward_filter<S>(ctx, g, x, dy, out, fn);
}

ax_status run_pass(int r, int pass, ax_ctx *ctx, const ax_conv2d_geom *g, const Tensors &t,
                   const float *b, float *out) {
    const char *fn = "emu_conv";
    const float *x = t.x.data(), *w = t.w.data(), *dy = t.dy.data();
    if (r == kDispatch)
        return pass == 0   ? emu_conv2d_forward(ctx, g, x, w, b, out)
               : pass == 1 ? emu_conv2d_backward_data(ctx, g, dy, w, out)
                           : emu_conv2d_backward_filter(ctx, g, x, dy, out);
    if (r == kLargeTile)
        return run_tile<LargeTile>(pass, ctx, g, t, b, out);
    if (r == kMediumTile)
        return run_tile<MediumTile>(pass, ctx, g, t, b, out);
    switch ((Algo)r) {
    case P:
        return pass == 0   ? pointwise_forward(ctx, g, x, w, b, out)
               : pass == 1 ? pointwise_backward_data(ctx, g, dy, w, out)
                           : pointwise_backward_filter(ctx, g, x, dy, out, fn);
    case D:
        return pass == 0   ? depthwise_forward(ctx, g, x, w, b, out, fn)
               : pass == 1 ? depthwise_backward_data(ctx, g, dy, w, out, fn)
                           : depthwise_backward_filter(ctx, g, x, dy, out, fn);
    case W:
        return pass == 0 ? winograd_forward(ctx, g, x, w, b, out, fn)
                         : winograd_backward_data(ctx, g, dy, w, out, fn);
    case G:
    default:
        return pass == 0   ? generic_forward(ctx, g, x, w, b, out, fn)
               : pass == 1 ? generic_backward_data(ctx, g, dy, w, out, fn)
                           : generic_backward_filter(ctx, g, x, dy, out, fn);
    }
}

int check_choice(const Case &cc, const ax_conv2d_geom *g) {
    const Algo back = cc.expect == W ? G : cc.expect;
    const Algo data = cc.expect == W && winograd_fits(g, Pass::BackwardData) ? W : back;
    const Algo got[3] = {choose_algo(g, Pass::Forward), choose_algo(g, Pass::BackwardData),
                         choose_algo(g, Pass::BackwardFilter)};
    const Algo want[3] = {cc.expect, data, back};
    int bad = 0;
    for (int i = 0; i < 3; i++)
        if (got[i] != want[i] || strcmp(emu_conv2d_algo(g, i), algo_name(want[i])) != 0) {
            printf("FAIL %s: pass %d dispatched to %s (named %s), expected %s\n", cc.name, i,
                   algo_name(got[i]), emu_conv2d_algo(g, i), algo_name(want[i]));
            bad++;
        }
    setenv("AX_CONV_ALGO", "generic", 1);
    for (Pass p : {Pass::Forward, Pass::BackwardData, Pass::BackwardFilter})
        if (choose_algo(g, p) != G) {
            printf("FAIL %s: AX_CONV_ALGO=generic did not force the implicit GEMM\n", cc.name);
            bad++;
        }
    unsetenv("AX_CONV_ALGO");
    return bad;
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
    const Tensors t{GuardedBuf(nx), GuardedBuf(nw), GuardedBuf((size_t)g.k), GuardedBuf(ny)};
    for (const GuardedBuf *v : {&t.x, &t.w, &t.b, &t.dy})
        for (size_t i = 0; i < v->size(); i++)
            (*v)[i] = uniform();
    if (cc.special == kNaN)
        t.x[nx / 3] = NAN, t.dy[ny / 2] = NAN;
    if (cc.special == kInf)
        t.x[nx / 3] = INFINITY, t.dy[ny / 2] = -INFINITY;
    const float *bp = cc.bias ? t.b.data() : nullptr;
    const size_t sizes[3] = {ny, nx, nw};
    const char *what[3] = {"y", "dx", "dw"};
    const GuardedBuf ref[3] = {GuardedBuf(ny), GuardedBuf(nx), GuardedBuf(nw)};
    if (ax_cpu_conv2d_forward(ctx, &g, t.x.data(), t.w.data(), bp, ref[0].data()) != AX_OK ||
        ax_cpu_conv2d_backward_data(ctx, &g, t.dy.data(), t.w.data(), ref[1].data()) != AX_OK ||
        ax_cpu_conv2d_backward_filter(ctx, &g, t.x.data(), t.dy.data(), ref[2].data()) !=
            AX_OK) {
        printf("FAIL %s: the reference failed: %s\n", cc.name, ax_last_error());
        return 1;
    }
    int bad = check_choice(cc, &g);
    for (int r = kDispatch; r <= kMediumTile; r++) {
        const char *pname = runner_name(r);
        // the kernels that produce y: Winograd's leave the tile-mates of a NaN window NaN
        const bool winograd = r == kDispatch ? cc.expect == W : r == (int)W;
        for (int p = 0; p < 3; p++) {
            if (!has_pass(r, p, &g))
                continue;
            const GuardedBuf out[2] = {GuardedBuf(sizes[p]), GuardedBuf(sizes[p])};
            for (int run = 0; run < 2; run++) {
                if (run_pass(r, p, ctx, &g, t, bp, out[run].data()) != AX_OK) {
                    printf("FAIL %s: %s %s failed: %s\n", cc.name, pname, what[p],
                           ax_last_error());
                    return bad + 1;
                }
            }
            char label[64];
            snprintf(label, sizeof label, "%s %s", pname, what[p]);
            double worst = 0.0;
            bad += compare(cc.name, label, out[0], ref[p], p < 2 && winograd, &worst);
            if (memcmp(out[0].data(), out[1].data(), sizes[p] * sizeof(float)) != 0) {
                printf("FAIL %s: two %s runs differ\n", cc.name, label);
                bad++;
            }
            if (p < 2 && (r == (int)W || r == (int)G) && winograd_fits(&g, (Pass)p))
                printf("     %s: %s max |err| / (1 + |ref|) = %.2e\n", cc.name, label, worst);
        }
    }
    printf("%s %s\n", bad ? "FAIL" : "ok  ", cc.name);
    return bad;
}

} // namespace

static int run_all(ax_ctx *ctx) {
    int bad = 0;
    for (const Case &cc : kCases)
        bad += run_case(ctx, cc);
    return bad;
}

int main() {
    unsetenv("AX_CONV_ALGO");
    return emu_main("emu_conv", 132, run_all); // the split counts of a 132-SM GPU
}
