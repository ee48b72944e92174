/* CPU reference of the (batched) GEMM: OpenBLAS cblas_sgemm, one call per batch entry. */
#include <limits.h>
#include <string.h>

#include <cblas.h>

#include "cpu.h"

/* cblas takes blasint sizes (32-bit in the usual OpenBLAS builds). */
static int fits_blasint(int64_t v) {
    return sizeof(blasint) >= sizeof(int64_t) || v <= (int64_t)INT_MAX;
}

/* C[i] = alpha op(A[i]) op(B[i]) + beta C[i]; op(A[i]) [m, k], op(B[i]) [k, n], C[i] [m, n],
 * A[i] = a + i * stride_a (stride 0 shares A), likewise B and C. */
ax_status ax_cpu_gemm(ax_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                      float alpha, const float *a, int64_t lda, int64_t stride_a,
                      const float *b, int64_t ldb, int64_t stride_b, float beta, float *c,
                      int64_t ldc, int64_t stride_c, int64_t batch) {
    (void)ctx;
    if (!fits_blasint(m) || !fits_blasint(n) || !fits_blasint(k) || !fits_blasint(lda) ||
        !fits_blasint(ldb) || !fits_blasint(ldc))
        return AX_FAIL(AX_ERR_UNSUPPORTED,
                       "m = %lld, n = %lld, k = %lld (or a leading dimension) exceed the "
                       "32-bit sizes of OpenBLAS",
                       (long long)m, (long long)n, (long long)k);
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    for (int64_t i = 0; i < batch; i++) {
        float *ci = c + i * stride_c;
        if (beta == 0.0f) /* beta = 0 ignores C's old contents, NaN included */
            for (int64_t r = 0; r < m; r++)
                memset(ci + r * ldc, 0, (size_t)n * sizeof *ci);
        cblas_sgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, alpha,
                    a + i * stride_a, (blasint)lda, b + i * stride_b, (blasint)ldb, beta, ci,
                    (blasint)ldc);
    }
    return AX_OK;
}
