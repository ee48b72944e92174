#include "ieee.h"

#include <math.h>

#include "helpers.h"

void th_assert_ieee(const float *got, const float *want, int64_t n, double atol, double rtol,
                    th_zero_rule zeros, const char *what) {
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        long long at = (long long)i;
        if (isnan(w)) {
            cr_assert(isnan(g), "%s[%lld] = %.9g, expected NaN", what, at, g);
        } else if (isinf(w)) {
            cr_assert(g == w, "%s[%lld] = %.9g, expected %.9g", what, at, g, w);
        } else if (w == 0.0 && zeros == TH_ZERO_SIGN) {
            cr_assert(fabs(g) <= atol && (g != 0.0 || signbit(g) == signbit(w)),
                      "%s[%lld] = %.9g, expected %s0 (atol %.3g)", what, at, g,
                      signbit(w) ? "-" : "+", atol);
        } else {
            cr_assert(isfinite(g) && fabs(g - w) <= atol + rtol * fabs(w),
                      "%s[%lld] = %.9g, expected %.9g (atol %.3g, rtol %.3g)", what, at, g, w, atol,
                      rtol);
        }
    }
}
