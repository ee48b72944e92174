/* Philox4x32-10 streams shared by the CPU and CUDA backends, so that both draw bit-identical
 * numbers: only integer operations and correctly rounded float +, -, *, /, sqrt are used (no
 * libm, no fused multiply-add), which IEEE 754 defines exactly on both.
 *
 * Element e of a fill with (seed, offset) reads counter block {b_lo, b_hi, off_lo, off_hi}
 * under key {seed_lo, seed_hi}:
 *   uniform, bernoulli, dropout: b = e / 4, word e % 4
 *   normal:                      b = e / 2, words 0 and 1 (Box-Muller; cos for even e,
 *                                sin for odd e) */
#ifndef AX_PHILOX_H
#define AX_PHILOX_H

#include <stdint.h>

#include <Random123/philox.h>

#if defined(__CUDACC__)
#define AX_HD __host__ __device__ __forceinline__
#else
#define AX_HD static inline
#endif

/* Correctly rounded single operations, never contracted into an FMA. */
#if defined(__CUDA_ARCH__)
#define AX_ADD(a, b) __fadd_rn((a), (b))
#define AX_MUL(a, b) __fmul_rn((a), (b))
#define AX_DIV(a, b) __fdiv_rn((a), (b))
#define AX_SQRT(a) __fsqrt_rn(a)
#else
#define AX_ADD(a, b) ((float)((a) + (b)))
#define AX_MUL(a, b) ((float)((a) * (b)))
#define AX_DIV(a, b) ((float)((a) / (b)))
#define AX_SQRT(a) ax_host_sqrtf(a)
#include <math.h>
static inline float ax_host_sqrtf(float x) { return sqrtf(x); } /* IEEE correctly rounded */
#endif

AX_HD philox4x32_ctr_t ax_philox_block(uint64_t seed, uint64_t offset, uint64_t block) {
    philox4x32_ctr_t ctr = {{(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)offset,
                             (uint32_t)(offset >> 32)}};
    philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    return philox4x32(ctr, key);
}

/* Top 24 bits of a word as a float in [0, 1): exact. */
AX_HD float ax_u32_to_unit(uint32_t u) { return (float)(u >> 8) * (1.0f / 16777216.0f); }

/* Uniform [0, 1) for element e. */
AX_HD float ax_philox_uniform(uint64_t seed, uint64_t offset, uint64_t e) {
    philox4x32_ctr_t r = ax_philox_block(seed, offset, e >> 2);
    return ax_u32_to_unit(r.v[e & 3]);
}

/* Natural log of x in (0, 1] (normal floats), about 1 ulp: ln x = k ln 2 + ln m,
 * m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s) = 2 (s + s^3/3 + ... + s^9/9), s = (m-1)/(m+1). */
AX_HD float ax_portable_log(float x) {
    union {
        float f;
        uint32_t u;
    } bits;
    bits.f = x;
    int k = (int)((bits.u >> 23) & 0xff) - 127;
    bits.u = (bits.u & 0x7fffffu) | 0x3f800000u; /* m in [1, 2) */
    float m = bits.f;
    if (m > 1.41421356f) {
        m = AX_MUL(m, 0.5f);
        k += 1;
    }
    float s = AX_DIV(AX_ADD(m, -1.0f), AX_ADD(m, 1.0f));
    float s2 = AX_MUL(s, s);
    float p = AX_ADD(1.0f / 7.0f, AX_MUL(s2, 1.0f / 9.0f));
    p = AX_ADD(1.0f / 5.0f, AX_MUL(s2, p));
    p = AX_ADD(1.0f / 3.0f, AX_MUL(s2, p));
    p = AX_MUL(s2, p);
    float two_s = AX_MUL(2.0f, s);
    float log_m = AX_ADD(two_s, AX_MUL(two_s, p));
    float kf = (float)k;
    /* ln 2 split so that k * ln2_hi is exact for |k| < 2^8 */
    return AX_ADD(AX_MUL(kf, 0.693145752f), AX_ADD(log_m, AX_MUL(kf, 1.42860677e-06f)));
}

/* sin and cos of 2 pi u for u in [0, 1): quadrant from 4u (exact), then Taylor series of
 * degree 11 / 12 on [0, pi/2), error under 1e-7. */
AX_HD void ax_portable_sincos_2pi(float u, float *s_out, float *c_out) {
    float t = AX_MUL(u, 4.0f);
    int q = (int)t;
    float th = AX_MUL(AX_ADD(t, -(float)q), 1.57079637f);
    float t2 = AX_MUL(th, th);
    float s = AX_ADD(-1.0f / 39916800.0f, 0.0f);
    s = AX_ADD(1.0f / 362880.0f, AX_MUL(t2, s));
    s = AX_ADD(-1.0f / 5040.0f, AX_MUL(t2, s));
    s = AX_ADD(1.0f / 120.0f, AX_MUL(t2, s));
    s = AX_ADD(-1.0f / 6.0f, AX_MUL(t2, s));
    s = AX_ADD(th, AX_MUL(AX_MUL(th, t2), s));
    float c = AX_ADD(1.0f / 479001600.0f, 0.0f);
    c = AX_ADD(-1.0f / 3628800.0f, AX_MUL(t2, c));
    c = AX_ADD(1.0f / 40320.0f, AX_MUL(t2, c));
    c = AX_ADD(-1.0f / 720.0f, AX_MUL(t2, c));
    c = AX_ADD(1.0f / 24.0f, AX_MUL(t2, c));
    c = AX_ADD(-0.5f, AX_MUL(t2, c));
    c = AX_ADD(1.0f, AX_MUL(t2, c));
    switch (q & 3) {
    case 0: *s_out = s; *c_out = c; break;
    case 1: *s_out = c; *c_out = -s; break;
    case 2: *s_out = -s; *c_out = -c; break;
    default: *s_out = -c; *c_out = s; break;
    }
}

/* Standard normal for element e (Box-Muller on words 0 and 1 of block e / 2). */
AX_HD float ax_philox_normal(uint64_t seed, uint64_t offset, uint64_t e) {
    philox4x32_ctr_t r = ax_philox_block(seed, offset, e >> 1);
    float u1 = AX_MUL((float)((r.v[0] >> 8) + 1u), 1.0f / 16777216.0f); /* (0, 1] */
    float u2 = ax_u32_to_unit(r.v[1]);
    float radius = AX_SQRT(AX_MUL(-2.0f, ax_portable_log(u1)));
    float s, c;
    ax_portable_sincos_2pi(u2, &s, &c);
    return AX_MUL(radius, (e & 1) ? s : c);
}

#endif
