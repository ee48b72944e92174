/* One multinomial draw from a row of weights, shared by the CPU backend and the CUDA kernel so
 * that both draw the same index from the same row: only integer operations, comparisons,
 * IEEE double adds in increasing j and one double multiply (ops.h: ax_multinomial).
 *
 * The top k (0 < k < cols): the kept entries are those above the k-th largest value t, then
 * the first (k - #above) entries equal to t in increasing j. t is found by bisection over
 * the bit patterns of the (non-negative, finite) entries, which order like their values:
 * the largest pattern b with #{j : bits(p[j]) >= b} >= k, 31 passes over the row. */
#ifndef AX_SAMPLING_H
#define AX_SAMPLING_H

#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define AX_SAMPLE_HD __host__ __device__ __forceinline__
#else
#define AX_SAMPLE_HD static inline
#endif

/* The order key of an entry: its bit pattern, +-0 both 0; NaN, Inf and negative entries
 * give 0xffffffff (the row is then refused before any key is compared). */
AX_SAMPLE_HD uint32_t ax_sample_key(float p) {
    uint32_t u;
    memcpy(&u, &p, sizeof u);
    if ((u & 0x7fffffffu) == 0)
        return 0;
    if ((u & 0x80000000u) || (u & 0x7f800000u) == 0x7f800000u)
        return 0xffffffffu;
    return u;
}

/* Entries of p whose key is >= b. */
AX_SAMPLE_HD int64_t ax_sample_count_ge(const float *p, int64_t cols, uint32_t b) {
    int64_t c = 0;
    for (int64_t j = 0; j < cols; j++)
        c += ax_sample_key(p[j]) >= b;
    return c;
}

/* The draw of row p (cols entries) for u in [0, 1), keeping the top_k largest (0: all).
 * Returns the index drawn (>= 0); -1 when the kept entries sum to 0; -2 - j when entry j is
 * negative, NaN or Inf (the first such j). */
AX_SAMPLE_HD int64_t ax_sample_row(const float *p, int64_t cols, int64_t top_k, float u) {
    for (int64_t j = 0; j < cols; j++)
        if (ax_sample_key(p[j]) == 0xffffffffu)
            return -2 - j;
    uint32_t t = 0;      /* kept: key > t, and the first `ties` keys == t */
    int64_t ties = cols; /* all (every key >= 0) */
    if (top_k > 0 && top_k < cols) {
        uint32_t lo = 0, hi = 0x7f800000u; /* count_ge(lo) >= k > count_ge(hi) */
        while (hi - lo > 1) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (ax_sample_count_ge(p, cols, mid) >= top_k)
                lo = mid;
            else
                hi = mid;
        }
        t = lo;
        ties = top_k - ax_sample_count_ge(p, cols, t + 1); /* k - #(key > t) */
    }
    double total = 0.0;
    int64_t seen = 0;
    for (int64_t j = 0; j < cols; j++) {
        uint32_t k = ax_sample_key(p[j]);
        if (k > t || (k == t && seen++ < ties))
            total += (double)p[j];
    }
    if (!(total > 0.0))
        return -1;
    double target = (double)u * total, run = 0.0;
    int64_t last = -1;
    seen = 0;
    for (int64_t j = 0; j < cols; j++) {
        uint32_t k = ax_sample_key(p[j]);
        if (k > t || (k == t && seen++ < ties)) {
            run += (double)p[j];
            if (p[j] > 0.0f)
                last = j;
            if (run > target)
                return j;
        }
    }
    return last; /* not reached: target < total (u < 1) and the last add gives total */
}

#endif
