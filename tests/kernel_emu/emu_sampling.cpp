// The kernels of src/kernels/sampling.cu run on the host (emu.h). The multinomial's draws must
// be the CPU reference's, index for index (one thread per row over ../common/sampling.h), with
// and without top-k, over more rows than the emulated grid has threads (the grid-stride
// loop); a row that is no distribution gets -1 and lands in the device check record while
// the other rows are still drawn. The softmax with a temperature (one warp per row, its warp
// shuffles emulated below) must match the CPU reference to 1e-5 relative over column tails,
// more rows than the emulated warps (the grid-stride loop), temperatures from 0.01 to 5, in
// place, and give the CPU's NaN rows and zeros for NaN, +-Inf.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "emu.h"

// Warp shuffles among the emulated threads of a block (the kernels here use full warps, every
// lane taking part): a lane posts its value, its warp meets, each lane reads its partner's,
// and the warp meets again before the slot is reused.
constexpr int kEmuWarps = 8; // the kernels' 256 threads
inline float emu_warp_slot[kEmuWarps][32];
inline std::barrier<> &emu_warp_barrier(unsigned warp) {
    static std::unique_ptr<std::barrier<>> bars[kEmuWarps];
    static std::once_flag made;
    std::call_once(made, [] {
        for (auto &b : bars)
            b = std::make_unique<std::barrier<>>(32);
    });
    return *bars[warp];
}
inline void __syncwarp() { emu_warp_barrier(threadIdx.x / 32).arrive_and_wait(); }
inline float __shfl_xor_sync(unsigned mask, float v, int lane_mask) {
    if (mask != 0xffffffffu || blockDim.x > 32 * kEmuWarps)
        std::abort(); // not emulated
    const unsigned lane = threadIdx.x & 31, warp = threadIdx.x / 32;
    emu_warp_slot[warp][lane] = v;
    __syncwarp();
    const float got = emu_warp_slot[warp][lane ^ (unsigned)lane_mask];
    __syncwarp();
    return got;
}

#define ax_cuda_softmax_temperature emu_softmax_temperature
#define ax_cuda_multinomial emu_multinomial
#define ax_cuda_status emu_cuda_status
#define ax_cuda_blocks emu_cuda_blocks
#define ax_cuda_device_check emu_device_check

#include "sampling_emu.cu.inc" // src/kernels/sampling.cu with its launches rewritten
#define EMU_MAX_BLOCKS 2
#include "emu_glue.h"

namespace {

uint64_t g_state = 0x2545f4914f6cdd1dull;
float unit() {
    g_state ^= g_state << 13, g_state ^= g_state >> 7, g_state ^= g_state << 17;
    return (float)((double)(g_state >> 40) * 0x1p-24);
}

int run_case(ax_ctx *ctx, int64_t rows, int64_t cols, int64_t k) {
    std::vector<float> p((size_t)(rows * cols));
    for (size_t e = 0; e < p.size(); e++)
        p[e] = e % 4 == 1 ? 0.0f : unit() < 0.2f ? 0.25f : unit(); // zeros and ties
    for (int64_t r = 0; r < rows; r++)
        p[(size_t)(r * cols)] = 0.125f; // no row all zero
    std::vector<int32_t> ref((size_t)rows, -7), got((size_t)rows, -7);
    emu_check = ax_cuda_check{};
    if (ax_cpu_multinomial(ctx, p.data(), rows, cols, k, 17, 3, ref.data()) != AX_OK ||
        emu_multinomial(ctx, p.data(), rows, cols, k, 17, 3, got.data()) != AX_OK) {
        printf("FAIL [%lld, %lld] top %lld: %s\n", (long long)rows, (long long)cols, (long long)k,
               ax_last_error());
        return 1;
    }
    int bad = emu_check.claimed;
    for (int64_t r = 0; r < rows && !bad; r++)
        bad = got[(size_t)r] != ref[(size_t)r];
    printf("%s [%lld, %lld] top %lld\n", bad ? "FAIL" : "ok  ", (long long)rows, (long long)cols,
           (long long)k);
    return bad;
}

int bad_row(ax_ctx *ctx) {
    const float p[9] = {1, 2, 3, 0, 0, 0, 0.5f, -1.0f, 1};
    int32_t out[3] = {-7, -7, -7};
    emu_check = ax_cuda_check{};
    emu_multinomial(ctx, p, 3, 3, 0, 5, 0, out);
    int first = emu_check.claimed && emu_check.what == AX_CUDA_CHECK_MULTINOMIAL;
    int bad = !(first && out[0] >= 0 && out[1] == -1 && out[2] == -1);
    printf("%s bad rows\n", bad ? "FAIL" : "ok  ");
    return bad;
}

// Row 1 alone is no distribution: the record names it, the column of its bad entry (what
// the message at the sync prints as probs[1, column]) or -1 for a row summing to 0, and the
// row length; row 0 is still drawn.
int one_bad_row(ax_ctx *ctx, float a, float b, float c, int64_t value, int64_t k) {
    const float p[6] = {1, 2, 3, a, b, c};
    int32_t out[2] = {-7, -7};
    emu_check = ax_cuda_check{};
    emu_multinomial(ctx, p, 2, 3, k, 5, 0, out);
    int bad = !(emu_check.claimed && emu_check.what == AX_CUDA_CHECK_MULTINOMIAL &&
                emu_check.pos == 1 && emu_check.value == value && emu_check.bound == 3 &&
                out[0] >= 0 && out[0] < 3 && out[1] == -1);
    printf("%s bad row {%g, %g, %g} top %lld: record value %lld, out %d %d\n",
           bad ? "FAIL" : "ok  ", (double)a, (double)b, (double)c, (long long)k,
           (long long)emu_check.value, out[0], out[1]);
    return bad;
}

// softmax(x / t) of [rows, cols] by the kernel (out of place, NaN-filled, then in place)
// against the CPU reference: |got - ref| <= 1e-30 + 1e-5 |ref|, NaN where the reference is.
int softmax_case(ax_ctx *ctx, int64_t rows, int64_t cols, float t, const float *given) {
    const size_t n = (size_t)(rows * cols);
    std::vector<float> x(n), ref(n), got(n, NAN), inplace;
    for (size_t e = 0; e < n; e++)
        x[e] = given ? given[e] : unit() * 16.0f - 8.0f;
    inplace = x;
    ax_cpu_softmax_temperature(ctx, x.data(), ref.data(), rows, cols, t);
    int bad = emu_softmax_temperature(ctx, x.data(), got.data(), rows, cols, t) != AX_OK ||
              emu_softmax_temperature(ctx, inplace.data(), inplace.data(), rows, cols, t) != AX_OK;
    for (size_t e = 0; e < n && !bad; e++)
        for (float g : {got[e], inplace[e]})
            if (std::isnan(ref[e])
                    ? !std::isnan(g)
                    : !(std::fabs(g - ref[e]) <= 1e-30f + 1e-5f * std::fabs(ref[e]))) {
                printf("FAIL softmax [%lld, %lld] T %g: [%zu] = %.9g, reference %.9g\n",
                       (long long)rows, (long long)cols, (double)t, e, (double)g, (double)ref[e]);
                bad = 1;
                break;
            }
    printf("%s softmax [%lld, %lld] T %g%s\n", bad ? "FAIL" : "ok  ", (long long)rows,
           (long long)cols, (double)t, given ? " (given rows)" : "");
    return bad;
}

int softmax_all(ax_ctx *ctx) {
    int bad = 0;
    const int64_t sizes[][2] = {{1, 1}, {3, 7}, {5, 33}, {40, 65}, {2, 257}};
    for (const auto &s : sizes)
        for (float t : {0.01f, 0.7f, 1.0f, 5.0f})
            bad += softmax_case(ctx, s[0], s[1], t, nullptr);
    // NaN, +Inf, only -Inf: NaN rows; -Inf beside finite logits: 0; huge logits at a tiny T
    const float z[6][3] = {
        {NAN, 1, 2},       {1, INFINITY, 2},       {-INFINITY, -INFINITY, -INFINITY},
        {-INFINITY, 0, 0}, {1e30f, -1e30f, 9e29f}, {-50, -60, -70}};
    return bad + softmax_case(ctx, 6, 3, 0.5f, &z[0][0]) + softmax_case(ctx, 6, 3, 1e-3f, &z[0][0]);
}

int run_all(ax_ctx *ctx) {
    return run_case(ctx, 1, 1, 0) + run_case(ctx, 700, 9, 0) + run_case(ctx, 700, 9, 3) +
           run_case(ctx, 37, 257, 40) + run_case(ctx, 5, 65, 1) + bad_row(ctx) +
           one_bad_row(ctx, 0, 0, 0, -1, 0) + one_bad_row(ctx, 0, 0, 0, -1, 2) +
           one_bad_row(ctx, -1, 1, 1, 0, 0) + one_bad_row(ctx, 1, NAN, 1, 1, 2) +
           one_bad_row(ctx, 1, 1, INFINITY, 2, 0) + softmax_all(ctx);
}

} // namespace

int main() { return emu_main("emu_sampling", 132, run_all); }
