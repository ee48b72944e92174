/* Comparisons for cases that feed IEEE special values on purpose (NaN, +-Inf, +-0), where the
 * usual th_assert_close rejects every non-finite value. */
#ifndef AX_TEST_IEEE_H
#define AX_TEST_IEEE_H

#include <stdint.h>

/* How zeros of `want` are compared. */
typedef enum th_zero_rule {
    TH_ZERO_VALUE = 0, /* by value only: +0 and -0 match (the sign is not defined there) */
    TH_ZERO_SIGN = 1,  /* a zero in want needs |got| <= atol, and an exact zero in got needs
                          want's sign bit (so a value that underflowed to 0 on one side but not
                          the other still passes, a flipped sign does not) */
} th_zero_rule;

/* Element-wise: want NaN needs got NaN; want +-Inf needs the same infinity; a finite want
 * needs a finite got with |got - want| <= atol + rtol |want|, and zeros follow `zeros`. */
void th_assert_ieee(const float *got, const float *want, int64_t n, double atol, double rtol,
                    th_zero_rule zeros, const char *what);

#endif
