// The multinomial kernel of src/kernels/sampling.cu run on the host (emu.h): its draws must be
// the CPU reference's, index for index (one thread per row over ../common/sampling.h), with
// and without top-k, over more rows than the emulated grid has threads (the grid-stride
// loop); a row that is no distribution gets -1 and lands in the device check record while
// the other rows are still drawn. (The softmax kernel's warp shuffles are not emulated:
// they are checked by the GPU parity test.)
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "emu.h"

// warp shuffles: not emulated (only the softmax kernel uses them, and it is not run here)
template <class T> T __shfl_xor_sync(unsigned, T, int) { std::abort(); }
inline void __syncwarp() { std::abort(); }

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
        printf("FAIL [%lld, %lld] top %lld: %s\n", (long long)rows, (long long)cols,
               (long long)k, ax_last_error());
        return 1;
    }
    int bad = emu_check.claimed;
    for (int64_t r = 0; r < rows && !bad; r++)
        bad = got[(size_t)r] != ref[(size_t)r];
    printf("%s [%lld, %lld] top %lld\n", bad ? "FAIL" : "ok  ", (long long)rows,
           (long long)cols, (long long)k);
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

int run_all(ax_ctx *ctx) {
    return run_case(ctx, 1, 1, 0) + run_case(ctx, 700, 9, 0) + run_case(ctx, 700, 9, 3) +
           run_case(ctx, 37, 257, 40) + run_case(ctx, 5, 65, 1) + bad_row(ctx) +
           one_bad_row(ctx, 0, 0, 0, -1, 0) + one_bad_row(ctx, 0, 0, 0, -1, 2) +
           one_bad_row(ctx, -1, 1, 1, 0, 0) + one_bad_row(ctx, 1, NAN, 1, 1, 2) +
           one_bad_row(ctx, 1, 1, INFINITY, 2, 0);
}

} // namespace

int main() { return emu_main("emu_sampling", 132, run_all); }
