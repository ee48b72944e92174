// src/kernels/embedding.cu run on the host (emu.h) against the CPU reference: the forward
// gather and the backward scatter-add (overwrite and accumulate) must give the CPU's bits
// exactly (the same f32 sums in the same order), over sizes with column tails (1, 33, 65
// columns), one-row tables, vocabularies larger than the partitions, and partition counts of
// a 132-SM GPU and of a 1-SM one (many indices per warp). Two backward runs give the same
// bits. A bad index makes the forward's row NaN, is skipped by the backward and lands in the
// device check record (position, value, vocabulary), while every other row is still right.
// Exit status 0 when every case passes; the first lines of a failure name the case.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "emu.h"

#define ax_cuda_embedding_forward emu_embedding_forward
#define ax_cuda_embedding_backward emu_embedding_backward
#define ax_cuda_status emu_cuda_status
#define ax_cuda_blocks emu_cuda_blocks
#define ax_cuda_device_check emu_device_check

#include "embedding_emu.cu.inc" // src/kernels/embedding.cu with its launches rewritten
#include "emu_glue.h"

namespace {

struct Case {
    const char *name;
    int64_t n, v, d;
    int sms;
};

const Case kCases[] = {
    {"one index, one row", 1, 1, 1, 132},     {"tails of 33 columns", 70, 5, 33, 132},
    {"65 columns, 1 SM", 300, 9, 65, 1},      {"vocab > partitions", 500, 3000, 3, 1},
    {"one column, repeats", 1000, 4, 1, 132}, {"tile tails", 513, 17, 7, 2},
};

uint64_t g_state = 0x9e3779b97f4a7c15ull;
uint64_t next() {
    g_state ^= g_state << 13, g_state ^= g_state >> 7, g_state ^= g_state << 17;
    return g_state;
}
float uniform() { return (float)((double)(next() >> 11) * 0x1p-53 * 2.0 - 1.0); }

int same(const Case &cc, const char *what, const std::vector<float> &got,
         const std::vector<float> &ref) {
    if (memcmp(got.data(), ref.data(), got.size() * sizeof(float)) == 0)
        return 0;
    for (size_t i = 0; i < got.size(); i++)
        if (memcmp(&got[i], &ref[i], sizeof(float)) != 0) {
            printf("FAIL %s: %s[%zu] = %.9g, reference %.9g\n", cc.name, what, i, got[i],
                   ref[i]);
            break;
        }
    return 1;
}

int run_case(ax_ctx *ctx, const Case &cc) {
    ctx->info.multiprocessors = cc.sms;
    std::vector<int32_t> idx((size_t)cc.n);
    for (auto &i : idx)
        i = next() % 3 == 0 ? 0 : (int32_t)(next() % (uint64_t)cc.v); // many repeats of 0
    std::vector<float> w((size_t)(cc.v * cc.d)), g((size_t)(cc.n * cc.d)), prior(w.size());
    for (auto *vec : {&w, &g, &prior})
        for (float &e : *vec)
            e = uniform() * (next() % 7 == 0 ? 1000.0f : 1.0f); // orders of the adds matter
    std::vector<float> out[2], dw[3], acc[2];
    for (int s = 0; s < 2; s++) {
        out[s].assign(g.size(), NAN), dw[s].assign(w.size(), NAN), acc[s] = prior;
    }
    dw[2].assign(w.size(), NAN);
    emu_check = ax_cuda_check{};
    if (ax_cpu_embedding_forward(ctx, idx.data(), cc.n, w.data(), cc.v, cc.d, out[0].data()) ||
        ax_cpu_embedding_backward(ctx, idx.data(), cc.n, g.data(), cc.v, cc.d, 0,
                                  dw[0].data()) ||
        ax_cpu_embedding_backward(ctx, idx.data(), cc.n, g.data(), cc.v, cc.d, 1,
                                  acc[0].data()) ||
        emu_embedding_forward(ctx, idx.data(), cc.n, w.data(), cc.v, cc.d, out[1].data()) ||
        emu_embedding_backward(ctx, idx.data(), cc.n, g.data(), cc.v, cc.d, 0, dw[1].data()) ||
        emu_embedding_backward(ctx, idx.data(), cc.n, g.data(), cc.v, cc.d, 0, dw[2].data()) ||
        emu_embedding_backward(ctx, idx.data(), cc.n, g.data(), cc.v, cc.d, 1,
                               acc[1].data())) {
        printf("FAIL %s: a call failed: %s\n", cc.name, ax_last_error());
        return 1;
    }
    int bad = same(cc, "out", out[1], out[0]) + same(cc, "dweight", dw[1], dw[0]) +
              same(cc, "second dweight", dw[2], dw[1]) +
              same(cc, "accumulated dweight", acc[1], acc[0]);
    if (emu_check.claimed) {
        printf("FAIL %s: the device check was claimed with good indices\n", cc.name);
        bad++;
    }
    printf("%s %s\n", bad ? "FAIL" : "ok  ", cc.name);
    return bad;
}

// Index 1 of 4 is out of range (= vocab, or -1): its row is NaN, the others right; the
// backward skips it.
int bad_index(ax_ctx *ctx, int32_t wrong) {
    const int32_t idx[4] = {2, wrong, 0, 2};
    const float w[6] = {1, 2, 3, 4, 5, 6};
    const float g[8] = {1, 10, 100, 1000, 0.5f, 0.25f, 2, 4};
    float out[8], dw[6];
    int bad = 0;
    emu_check = ax_cuda_check{};
    emu_embedding_forward(ctx, idx, 4, w, 3, 2, out);
    const float want[8] = {5, 6, NAN, NAN, 1, 2, 5, 6};
    for (int e = 0; e < 8; e++)
        bad += e / 2 == 1 ? !std::isnan(out[e]) : out[e] != want[e];
    bad += !(emu_check.claimed && emu_check.what == AX_CUDA_CHECK_EMBEDDING_FORWARD &&
             emu_check.pos == 1 && emu_check.value == wrong && emu_check.bound == 3);
    emu_check = ax_cuda_check{};
    emu_embedding_backward(ctx, idx, 4, g, 3, 2, 0, dw);
    const float want_dw[6] = {0.5f, 0.25f, 0, 0, 3, 14}; // rows 2 and 0 of g, then 1 + 2, 10 + 4
    bad += memcmp(dw, want_dw, sizeof dw) != 0;
    bad += !(emu_check.claimed && emu_check.what == AX_CUDA_CHECK_EMBEDDING_BACKWARD &&
             emu_check.pos == 1 && emu_check.value == wrong && emu_check.bound == 3);
    printf("%s bad index %d\n", bad ? "FAIL" : "ok  ", wrong);
    return bad;
}

int run_all(ax_ctx *ctx) {
    int bad = 0;
    for (const Case &cc : kCases)
        bad += run_case(ctx, cc);
    return bad + bad_index(ctx, 3) + bad_index(ctx, -1);
}

} // namespace

int main() { return emu_main("emu_embedding", 132, run_all); }
