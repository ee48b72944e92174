/* The CPU backend: the reference implementation of every op (see ../backend.h for the
 * contract of each function). */
#ifndef AX_CPU_H
#define AX_CPU_H

#include "../backend.h"

/* One function per op entry, ax_cpu_<name>, in the file of its family (rng.c, elementwise.c,
 * gemm.c: OpenBLAS, reduce.c: sums in double, activation.c, softmax.c, loss.c, dropout.c,
 * optim.c: rules in ../common/optim_update.h). */
#define AX_BACKEND_ENTRY(ret, name, params) ret ax_cpu_##name params;
#include "../backend_entries.h"
#undef AX_BACKEND_ENTRY

/* helpers shared between the CPU files */
double ax_cpu_sigmoid(double x); /* activation.c: 1 / (1 + e^-x) without overflow */
/* softmax.c: log sum_j e^(x[j] - m) with m = max_j x[j] written to *max
 * (log sum e^x = m + that) */
double ax_cpu_log_sum_shifted(const float *x, int64_t n, double *max);

#endif
