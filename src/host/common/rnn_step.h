/* The pointwise part of one recurrent step (the gate nonlinearities and the state update),
 * element by element, shared by the CPU reference (src/host/cpu/rnn.c) and the fused CUDA
 * kernel (src/kernels/rnn.cu), so the two cannot drift apart. The GEMMs around it are the
 * op's (src/host/ops/rnn.c); these see their results.
 *
 * Gates: G = 1 (tanh, ReLU), 4 (LSTM: i, f, g, o), 3 (GRU: r, z, n), each a block of H
 * columns of a [rows, G H] row, in PyTorch's order. For row b and column j < H, gate k:
 *     a_k = (gi[b, kH + j] + b_ih[kH + j]) + (gh[b, kH + j] + b_hh[kH + j])
 * (gi = x W_ih^T, gh = h W_hh^T, biases NULL = 0; the sums in PyTorch's order).
 *   tanh / ReLU:  h' = act(a_0)
 *   LSTM:         i = s(a_i), f = s(a_f), g = tanh(a_g), o = s(a_o)
 *                 c' = f c + i g,  h' = o tanh(c')
 *   GRU:          r = s(a_r), z = s(a_z), ghn = gh_n + b_hn
 *                 n = tanh(gi_n + b_in + r ghn),  h' = (1 - z) n + z h
 *   GRU textbook: r = s(a_r), z = s(a_z), q = r h; then gh_n = q W_hn^T (a second GEMM),
 *                 n = tanh(a_n),  h' = (1 - z) h + z n
 * (s = sigmoid). The textbook GRU runs in two phases: phase 0 writes r, z and q, phase 1
 * (after the GEMM of q) n and h'. Every other mode has phase 0 only.
 *
 * Saved per row (act, [rows, K H], K = ax_rnn_step_saved): LSTM i, f, g, o; GRU r, z, n, ghn;
 * textbook r, z, n, q; nothing for tanh and ReLU (h' is kept by the op). */
#ifndef AX_RNN_STEP_H
#define AX_RNN_STEP_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define AX_RNN_FN static inline __host__ __device__
#else
#define AX_RNN_FN static inline
#endif

/* the values of ax_rnn_mode (include/axon/ops.h) */
enum { AX_RNN_STEP_TANH = 0, AX_RNN_STEP_RELU, AX_RNN_STEP_LSTM, AX_RNN_STEP_GRU,
       AX_RNN_STEP_GRU_TEXTBOOK };

/* One step's forward over rows x hidden elements. Row b of gi and gh starts at b G H;
 * h_prev, c_prev, h_out, c_out, q are [rows, hidden]; y (NULL: not written) row b at b ldy. */
struct ax_rnn_step {
    int mode, phase;
    int64_t rows, hidden;
    const float *gi, *gh;     /* [rows, G H]: x W_ih^T and h W_hh^T, no biases */
    const float *b_ih, *b_hh; /* [G H] or NULL */
    const float *h_prev, *c_prev;
    float *h_out, *c_out;     /* c only for the LSTM */
    float *y;
    int64_t ldy;
    float *act;               /* [rows, K H] */
};

/* One step's backward. dh holds the gradient of h' from the later steps (and dc that of c')
 * on entry and receives the direct part of the gradient of the previous h (and c) on exit;
 * dy (NULL: 0) adds the gradient of this step's output. dgi = dL/d(gi), dgh = dL/d(gh), both
 * [rows, G H]; dgh may be dgi (every mode but the GRU has equal ones). Textbook GRU phase 0
 * writes the z and n columns and dh = dh' (1 - z); phase 1 takes dq = dgi_n W_hn and adds the
 * reset gate's terms (dgi_r, dh += dq r). */
struct ax_rnn_step_grad {
    int mode, phase;
    int64_t rows, hidden;
    const float *dy;
    int64_t lddy;
    const float *act, *h_prev, *h_out, *c_prev, *c_out, *dq;
    float *dh, *dc, *dgi, *dgh;
};

/* Gate blocks G of a mode, and saved blocks per row. */
AX_RNN_FN int ax_rnn_step_gates(int mode) {
    return mode == AX_RNN_STEP_LSTM ? 4 : mode >= AX_RNN_STEP_GRU ? 3 : 1;
}
AX_RNN_FN int ax_rnn_step_saved(int mode) { return mode >= AX_RNN_STEP_LSTM ? 4 : 0; }

/* 1 / (1 + e^-x) without overflow: e^x / (1 + e^x) for x < 0; saturates to exactly 0 or 1. */
AX_RNN_FN float ax_rnn_sigmoid(float x) {
    if (x >= 0.0f)
        return 1.0f / (1.0f + expf(-x));
    const float e = expf(x);
    return e / (1.0f + e);
}

/* tanh with one expf (glibc's tanhf goes through the slower expm1f; it was ~40% of a CPU
 * char_rnn step):
 *     |x| < 1/4:  x (1 + x^2 (-1/3 + x^2 (2/15 + x^2 (-17/315 + x^2 (62/2835 - x^2 1382/155925)))))
 *                 (Taylor; the first term left out is 21844/6081075 x^13 < 6e-11 |x|)
 *     else:       1 - 2 / (e^2x + 1)   (no cancellation: the result is >= 1/4 in size)
 * within 9 ulp of tanh (8.6 at worst, just above 1/4, over every 7th float; tests/test_rnn.c
 * checks 10). +-0 stays +-0 (x times a bracket near 1), e^2x = +Inf (x > 44) and 0 give
 * exactly +-1, as does every |x| > 9.01 by rounding; NaN stays NaN. */
AX_RNN_FN float ax_rnn_tanh(float x) {
    if (fabsf(x) < 0.25f) {
        const float x2 = x * x;
        return x * (1.0f + x2 * (-1.0f / 3.0f +
                                 x2 * (2.0f / 15.0f +
                                       x2 * (-17.0f / 315.0f +
                                             x2 * (62.0f / 2835.0f -
                                                   x2 * (1382.0f / 155925.0f))))));
    }
    return 1.0f - 2.0f / (expf(2.0f * x) + 1.0f);
}

AX_RNN_FN float ax_rnn_at(const float *b, int64_t i) { return b ? b[i] : 0.0f; }

/* Pre-activation a_k of gate k at (b, j): (gi + b_ih) + (gh + b_hh). */
AX_RNN_FN float ax_rnn_preact(const struct ax_rnn_step *s, int64_t b, int64_t j, int k) {
    const int64_t gh = (int64_t)ax_rnn_step_gates(s->mode) * s->hidden;
    const int64_t c = k * s->hidden + j;
    return (s->gi[b * gh + c] + ax_rnn_at(s->b_ih, c)) +
           (s->gh[b * gh + c] + ax_rnn_at(s->b_hh, c));
}

/* The forward of element (b, j). */
AX_RNN_FN void ax_rnn_step_forward_at(const struct ax_rnn_step *s, int64_t b, int64_t j) {
    const int64_t H = s->hidden, e = b * H + j;
    float *act = s->act ? s->act + b * ax_rnn_step_saved(s->mode) * H + j : 0;
    float h;
    switch (s->mode) {
    case AX_RNN_STEP_TANH:
        h = ax_rnn_tanh(ax_rnn_preact(s, b, j, 0));
        break;
    case AX_RNN_STEP_RELU: {
        const float a = ax_rnn_preact(s, b, j, 0);
        h = a < 0.0f ? 0.0f : a; /* NaN passes */
        break;
    }
    case AX_RNN_STEP_LSTM: {
        const float i = ax_rnn_sigmoid(ax_rnn_preact(s, b, j, 0));
        const float f = ax_rnn_sigmoid(ax_rnn_preact(s, b, j, 1));
        const float g = ax_rnn_tanh(ax_rnn_preact(s, b, j, 2));
        const float o = ax_rnn_sigmoid(ax_rnn_preact(s, b, j, 3));
        const float c = f * s->c_prev[e] + i * g;
        s->c_out[e] = c;
        h = o * ax_rnn_tanh(c);
        act[0] = i, act[H] = f, act[2 * H] = g, act[3 * H] = o;
        break;
    }
    case AX_RNN_STEP_GRU: {
        const int64_t row = b * 3 * H, cn = 2 * H + j;
        const float r = ax_rnn_sigmoid(ax_rnn_preact(s, b, j, 0));
        const float z = ax_rnn_sigmoid(ax_rnn_preact(s, b, j, 1));
        const float ghn = s->gh[row + cn] + ax_rnn_at(s->b_hh, cn);
        const float n = ax_rnn_tanh((s->gi[row + cn] + ax_rnn_at(s->b_ih, cn)) + r * ghn);
        h = (1.0f - z) * n + z * s->h_prev[e];
        act[0] = r, act[H] = z, act[2 * H] = n, act[3 * H] = ghn;
        break;
    }
    default: /* AX_RNN_STEP_GRU_TEXTBOOK */
        if (s->phase == 0) {
            const float r = ax_rnn_sigmoid(ax_rnn_preact(s, b, j, 0));
            act[0] = r;
            act[H] = ax_rnn_sigmoid(ax_rnn_preact(s, b, j, 1));
            act[3 * H] = r * s->h_prev[e]; /* q, the input of the second GEMM */
            return;
        } else {
            const float z = act[H], n = ax_rnn_tanh(ax_rnn_preact(s, b, j, 2));
            act[2 * H] = n;
            h = (1.0f - z) * s->h_prev[e] + z * n;
        }
        break;
    }
    s->h_out[e] = h;
    if (s->y)
        s->y[b * s->ldy + j] = h;
}

/* Write gate k's gradient at (b, j) into dgi and, when it is another buffer, dgh. */
AX_RNN_FN void ax_rnn_put(const struct ax_rnn_step_grad *s, int64_t b, int64_t j, int k,
                          float v) {
    const int64_t c = b * ax_rnn_step_gates(s->mode) * s->hidden + k * s->hidden + j;
    s->dgi[c] = v;
    if (s->dgh != s->dgi)
        s->dgh[c] = v;
}

/* The backward of element (b, j) (formulas: d = dL/d of each quantity, a_k pre-activations). */
AX_RNN_FN void ax_rnn_step_backward_at(const struct ax_rnn_step_grad *s, int64_t b, int64_t j) {
    const int64_t H = s->hidden, e = b * H + j;
    const float *act = s->act ? s->act + b * ax_rnn_step_saved(s->mode) * H + j : 0;
    if (s->mode == AX_RNN_STEP_GRU_TEXTBOOK && s->phase == 1) {
        /* q = r h: dr = dq h, dh += dq r */
        const float r = act[0], dq = s->dq[e];
        ax_rnn_put(s, b, j, 0, dq * s->h_prev[e] * r * (1.0f - r));
        s->dh[e] += dq * r;
        return;
    }
    const float dh = s->dh[e] + (s->dy ? s->dy[b * s->lddy + j] : 0.0f);
    switch (s->mode) {
    case AX_RNN_STEP_TANH: {
        const float h = s->h_out[e]; /* tanh' = 1 - h'^2 */
        ax_rnn_put(s, b, j, 0, dh * (1.0f - h * h));
        s->dh[e] = 0.0f;
        break;
    }
    case AX_RNN_STEP_RELU: /* as PyTorch: 0 where h' <= 0, dh elsewhere (NaN passes) */
        ax_rnn_put(s, b, j, 0, s->h_out[e] <= 0.0f ? 0.0f : dh);
        s->dh[e] = 0.0f;
        break;
    case AX_RNN_STEP_LSTM: {
        const float i = act[0], f = act[H], g = act[2 * H], o = act[3 * H];
        const float tc = ax_rnn_tanh(s->c_out[e]);
        const float dc = s->dc[e] + dh * o * (1.0f - tc * tc);
        ax_rnn_put(s, b, j, 0, dc * g * i * (1.0f - i));
        ax_rnn_put(s, b, j, 1, dc * s->c_prev[e] * f * (1.0f - f));
        ax_rnn_put(s, b, j, 2, dc * i * (1.0f - g * g));
        ax_rnn_put(s, b, j, 3, dh * tc * o * (1.0f - o));
        s->dc[e] = dc * f;
        s->dh[e] = 0.0f;
        break;
    }
    case AX_RNN_STEP_GRU: {
        const float r = act[0], z = act[H], n = act[2 * H], ghn = act[3 * H];
        const float dn = dh * (1.0f - z) * (1.0f - n * n); /* d a_n */
        ax_rnn_put(s, b, j, 0, dn * ghn * r * (1.0f - r));
        ax_rnn_put(s, b, j, 1, dh * (s->h_prev[e] - n) * z * (1.0f - z));
        const int64_t c = b * 3 * H + 2 * H + j;
        s->dgi[c] = dn;
        s->dgh[c] = dn * r;
        s->dh[e] = dh * z;
        break;
    }
    default: { /* AX_RNN_STEP_GRU_TEXTBOOK, phase 0 */
        const float z = act[H], n = act[2 * H];
        ax_rnn_put(s, b, j, 1, dh * (n - s->h_prev[e]) * z * (1.0f - z));
        ax_rnn_put(s, b, j, 2, dh * z * (1.0f - n * n));
        s->dh[e] = dh * (1.0f - z);
        break;
    }
    }
}

#endif
