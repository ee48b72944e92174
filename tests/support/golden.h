/* Reader of the golden cases written by tests/golden/gen_*.py (format in gen_dense.py):
 * one text file per case holding named tensors, each a header line
 * "<name> <f32|i32> <ndim> <dims...>" followed by its values. */
#ifndef AX_TEST_GOLDEN_H
#define AX_TEST_GOLDEN_H

#include "axon.h"

#define GD_MAX_TENSORS 96

typedef struct gd_tensor {
    char name[32];
    ax_dtype dtype;
    int ndim;
    int64_t shape[AX_MAX_DIMS];
    int64_t numel;
    float *f;   /* f32 values, or NULL */
    int32_t *i; /* i32 values, or NULL */
} gd_tensor;

typedef struct gd_case {
    char path[512];
    int count;
    gd_tensor t[GD_MAX_TENSORS];
} gd_case;

/* Parse a case file; NULL with a reason in err (size errlen) when it cannot be read or is
 * malformed. */
gd_case *gd_read(const char *path, char *err, size_t errlen);

/* th_golden_dir()/<area>/<name>.txt, asserting that it loads. */
gd_case *gd_load(const char *area, const char *name);

/* The tensor called name (asserts that it exists). */
const gd_tensor *gd_get(const gd_case *c, const char *name);

/* The single value of a one-element f32 tensor. */
float gd_scalar(const gd_case *c, const char *name);

/* A tensor on ctx holding the named tensor's values and shape. */
ax_tensor *gd_tensor_on(ax_ctx *ctx, const gd_case *c, const char *name);

/* Compare a tensor on any device with the named golden tensor: shape, then values with
 * |got - want| <= atol + rtol |want| (th_assert_close). */
void gd_assert_close(const ax_tensor *got, const gd_case *c, const char *name, double atol,
                     double rtol);

void gd_free(gd_case *c);

/* The safetensors files got (axon's checkpoint) and want (PyTorch's state_dict) hold the same
 * keys with the same dtypes and shapes, F32 values within atol + rtol |want| and other dtypes
 * (the I64 counters) bit-identical. Returns the number of I64 tensors. */
int gd_assert_same_checkpoint(const char *got, const char *want, double atol, double rtol);

#endif
