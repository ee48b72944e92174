/* Helpers shared by the Criterion suites: contexts, random host data, comparisons. */
#ifndef AX_TEST_HELPERS_H
#define AX_TEST_HELPERS_H

#include <stdint.h>

#include <criterion/criterion.h>

#include "axon.h"

/* Assert that an axon call succeeded, printing ax_last_error() otherwise. */
#define AX_ASSERT_OK(expr)                                                                     \
    do {                                                                                       \
        ax_status th_status_ = (expr);                                                         \
        cr_assert_eq(th_status_, AX_OK, "%s -> %s: %s", #expr, ax_status_str(th_status_),      \
                     ax_last_error());                                                         \
    } while (0)

/* Assert that a call failed with `status` and left a message naming `fn`. */
#define AX_ASSERT_FAILS(expr, status, fn)                                                      \
    do {                                                                                       \
        ax_clear_error();                                                                      \
        ax_status th_status_ = (expr);                                                         \
        cr_assert_eq(th_status_, (status), "%s -> %s, expected %s (%s)", #expr,                \
                     ax_status_str(th_status_), ax_status_str(status), ax_last_error());       \
        cr_assert(th_message_names(fn), "message \"%s\" does not name %s", ax_last_error(),    \
                  fn);                                                                         \
    } while (0)

int th_message_names(const char *fn);

/* Folder of the committed golden cases: $AXON_GOLDEN_DIR when set (a build moved to another
 * machine), else the source tree's tests/golden. */
const char *th_golden_dir(void);

/* A CPU context (asserts on failure). */
ax_ctx *th_cpu_ctx(void);
/* A CUDA context, or cr_skip with the reason when no CUDA device works here. In require-GPU
 * mode (the environment variable AXON_REQUIRE_GPU set, and not to "0"; scripts/gpu-check sets
 * it) the same case is a test failure instead, so that no GPU test can pass by skipping. */
ax_ctx *th_gpu_ctx_or_skip(void);
/* Nonzero in require-GPU mode. */
int th_gpu_required(void);

/* Deterministic host random numbers (splitmix64), uniform in [lo, hi). */
void th_random(float *x, int64_t n, uint64_t seed, float lo, float hi);
/* The same, but with |x| >= min_abs (away from kinks such as ReLU's 0). */
void th_random_away_from_zero(float *x, int64_t n, uint64_t seed, float lo, float hi,
                              float min_abs);
/* malloc'ed host buffer of n floats filled with NaN (for outputs that must be written). */
float *th_nan_buffer(int64_t n);

/* A tensor on ctx from host data. */
ax_tensor *th_tensor(ax_ctx *ctx, int ndim, const int64_t *shape, const float *data);
ax_tensor *th_tensor_i32(ax_ctx *ctx, int ndim, const int64_t *shape, const int32_t *data);
/* A tensor on ctx filled with NaN. */
ax_tensor *th_nan_tensor(ax_ctx *ctx, int ndim, const int64_t *shape);
/* A malloc'ed host copy of t's contents. */
float *th_to_host(const ax_tensor *t);

/* Element-wise |got - ref| <= atol + rtol |ref|; NaN and Inf in got never pass. */
void th_assert_close(const float *got, const float *ref, int64_t n, double atol, double rtol,
                     const char *what);
/* Bit-for-bit equality. */
void th_assert_equal(const float *got, const float *ref, int64_t n, const char *what);

/* A tensor on ctx filled by th_random (or th_random_away_from_zero when min_abs > 0). */
ax_tensor *th_random_tensor(ax_ctx *ctx, int ndim, const int64_t *shape, uint64_t seed, float lo,
                            float hi, float min_abs);
/* Product of the dims. */
int64_t th_numel(int ndim, const int64_t *shape);

#endif
