// src/kernels/rnn.cu run on the host (emu.h) against the CPU reference: the fused step kernels,
// forward and backward, of every mode (both phases of the textbook GRU), over rows x hidden
// sizes with block tails and a grid-stride loop (1 x 1, 3 x 7, 5 x 129, 2 x 300: the grid is
// capped at 5 blocks of 256 threads here, so the last one loops), y written at a column offset
// of a wider row (the columns around it must stay NaN), with and without biases and dy.
// Every output starts NaN; the two must agree to 1e-6 (1 + |ref|) (the same formulas from
// common/rnn_step.h, so in practice bit for bit).
// Exit status 0 when every case passes; the first lines of a failure name the case and value.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "emu.h"

// the emulated launchers and the CUDA glue they call, renamed away from libaxon's
#define ax_cuda_rnn_step_forward emu_rnn_step_forward
#define ax_cuda_rnn_step_backward emu_rnn_step_backward
#define ax_cuda_status emu_cuda_status
#define ax_cuda_blocks emu_cuda_blocks

#include "rnn_emu.cu.inc" // src/kernels/rnn.cu with its launches rewritten

#define EMU_MAX_BLOCKS 5
#include "emu_glue.h"

extern "C" {
#include "host/cpu/cpu.h"
}

namespace {

uint64_t g_state = 0x2545f4914f6cdd1dull;
float uniform() { // in [-1, 1)
    g_state ^= g_state << 13, g_state ^= g_state >> 7, g_state ^= g_state << 17;
    return (float)((double)(g_state >> 11) * 0x1p-53 * 2.0 - 1.0);
}

std::vector<float> random(int64_t n) {
    std::vector<float> v((size_t)n);
    for (float &e : v)
        e = 2.0f * uniform();
    return v;
}

std::vector<float> nans(int64_t n) { return std::vector<float>((size_t)n, NAN); }

// The buffers of one side (reference or emulation) of a case.
struct Side {
    std::vector<float> h, c, y, act, dh, dc, dgi, dgh;
};

int compare(const char *name, const char *what, const std::vector<float> &got,
            const std::vector<float> &ref) {
    for (size_t i = 0; i < got.size(); i++) {
        const bool both_nan = std::isnan(got[i]) && std::isnan(ref[i]);
        if (!both_nan &&
            !(std::fabs((double)got[i] - ref[i]) <= 1e-6 * (1.0 + std::fabs((double)ref[i])))) {
            printf("FAIL %s: %s[%zu] = %.9g, reference %.9g\n", name, what, i, got[i], ref[i]);
            return 1;
        }
    }
    return 0;
}

int run_case(ax_ctx *ctx, int mode, int64_t rows, int64_t hidden, bool bias, bool dy_given) {
    char name[96];
    snprintf(name, sizeof name, "mode %d, %lld x %lld%s%s", mode, (long long)rows,
             (long long)hidden, bias ? "" : ", no bias", dy_given ? "" : ", no dy");
    const int64_t gh = ax_rnn_step_gates(mode) * hidden, nh = rows * hidden;
    const int64_t ldy = hidden + 3, off = 2;
    const int64_t nact = rows * ax_rnn_step_saved(mode) * hidden;
    const std::vector<float> gi = random(rows * gh), ghv = random(rows * gh), bi = random(gh),
                             bh = random(gh), hp = random(nh), cp = random(nh);
    const std::vector<float> dy = random(rows * ldy), dh0 = random(nh), dc0 = random(nh),
                             dq = random(nh);
    const bool lstm = mode == AX_RNN_STEP_LSTM, textbook = mode == AX_RNN_STEP_GRU_TEXTBOOK;
    Side side[2];
    for (int k = 0; k < 2; k++) {
        Side &sd = side[k];
        sd.h = nans(nh), sd.c = nans(nh), sd.y = nans(rows * ldy), sd.act = nans(nact);
        sd.dh = dh0, sd.dc = dc0, sd.dgi = nans(rows * gh);
        sd.dgh = nans(rows * gh);
        // the textbook GRU's second GEMM leaves GH_n in the gh buffer: the same random values
        ax_rnn_step s{};
        s.mode = mode, s.rows = rows, s.hidden = hidden, s.gi = gi.data(), s.gh = ghv.data();
        s.b_ih = bias ? bi.data() : nullptr, s.b_hh = bias ? bh.data() : nullptr;
        s.h_prev = hp.data(), s.c_prev = lstm ? cp.data() : nullptr;
        s.h_out = sd.h.data(), s.c_out = lstm ? sd.c.data() : nullptr;
        s.y = sd.y.data() + off, s.ldy = ldy, s.act = sd.act.data();
        ax_rnn_step_grad g{};
        g.mode = mode, g.rows = rows, g.hidden = hidden;
        g.dy = dy_given ? dy.data() + off : nullptr, g.lddy = ldy;
        g.act = sd.act.data(), g.h_prev = hp.data(), g.h_out = sd.h.data();
        g.c_prev = lstm ? cp.data() : nullptr, g.c_out = lstm ? sd.c.data() : nullptr;
        g.dq = dq.data(), g.dh = sd.dh.data(), g.dc = lstm ? sd.dc.data() : nullptr;
        g.dgi = sd.dgi.data(), g.dgh = mode == AX_RNN_STEP_GRU ? sd.dgh.data() : sd.dgi.data();
        ax_status st = AX_OK;
        for (int phase = 0; phase <= (textbook ? 1 : 0) && st == AX_OK; phase++) {
            s.phase = phase;
            st = k ? emu_rnn_step_forward(ctx, &s) : ax_cpu_rnn_step_forward(ctx, &s);
        }
        for (int phase = 0; phase <= (textbook ? 1 : 0) && st == AX_OK; phase++) {
            g.phase = phase;
            st = k ? emu_rnn_step_backward(ctx, &g) : ax_cpu_rnn_step_backward(ctx, &g);
        }
        if (st != AX_OK) {
            printf("FAIL %s: a call failed: %s\n", name, ax_last_error());
            return 1;
        }
    }
    int bad = compare(name, "h", side[1].h, side[0].h) + compare(name, "y", side[1].y, side[0].y) +
              compare(name, "act", side[1].act, side[0].act) +
              compare(name, "dh", side[1].dh, side[0].dh) +
              compare(name, "dgi", side[1].dgi, side[0].dgi) +
              compare(name, "dgh", side[1].dgh, side[0].dgh);
    if (lstm)
        bad += compare(name, "c", side[1].c, side[0].c) + compare(name, "dc", side[1].dc, side[0].dc);
    // the reference itself: every h written and finite, the columns of y around it untouched
    for (int64_t b = 0; b < rows; b++)
        for (int64_t j = 0; j < ldy; j++) {
            const float v = side[0].y[(size_t)(b * ldy + j)];
            const bool inside = j >= off && j < off + hidden;
            if (inside != std::isfinite(v)) {
                printf("FAIL %s: y[%lld, %lld] = %g\n", name, (long long)b, (long long)j, v);
                return bad + 1;
            }
        }
    printf("%s %s\n", bad ? "FAIL" : "ok  ", name);
    return bad;
}

} // namespace

int main() {
    ax_ctx *ctx = nullptr;
    if (ax_ctx_create(AX_DEVICE_CPU, 0, &ctx) != AX_OK) {
        printf("FAIL: no CPU context: %s\n", ax_last_error());
        return 1;
    }
    const int64_t sizes[][2] = {{1, 1}, {3, 7}, {5, 129}, {2, 300}};
    int bad = 0;
    for (int mode = AX_RNN_STEP_TANH; mode <= AX_RNN_STEP_GRU_TEXTBOOK; mode++)
        for (const auto &sz : sizes)
            bad += run_case(ctx, mode, sz[0], sz[1], sz[1] != 7, sz[0] != 3);
    ax_ctx_destroy(ctx);
    printf("%s\n", bad ? "emu_rnn: FAILED" : "emu_rnn: all cases pass");
    return bad != 0;
}
