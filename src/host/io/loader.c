/* Mini-batch loader over host arrays: a Philox Fisher-Yates shuffle per epoch, batches gathered
 * into host staging buffers and copied to the device in one transfer each. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "axon/io.h"

#include "../core/alloc.h"
#include "../core/handles.h"
#include "../core/internal.h"
#include "../common/philox.h"
#include "../ops/check.h"
#include "loader_internal.h"

struct ax_data_loader {
    const float *x;   /* [n, row] */
    const int32_t *y; /* [n] or NULL */
    int64_t n, row, batch_size;
    int shuffle, drop_last;
    uint64_t seed;
    int64_t epoch; /* the epoch being served */
    int64_t pos;   /* next position in order */
    int64_t *order; /* [n] the epoch's permutation */
    float *x_stage;  /* [batch_size, row] */
    int32_t *y_stage; /* [batch_size] */
};

/* (a * b) >> 64 for 64-bit a and b, from 32-bit halves. */
static uint64_t mul_high64(uint64_t a, uint64_t b) {
    uint64_t a_lo = (uint32_t)a, a_hi = a >> 32, b_lo = (uint32_t)b, b_hi = b >> 32;
    uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi;
    uint64_t mid = (lo_lo >> 32) + (uint32_t)hi_lo + (uint32_t)lo_hi;
    return a_hi * b_hi + (hi_lo >> 32) + (lo_hi >> 32) + (mid >> 32);
}

/* j = floor(word (i + 1) / 2^w) for a w-bit Philox word: uniform in [0, i] up to a bias below
 * (i + 1) / 2^w (no modulo). Up to i + 1 = 2^32 the word is 32-bit, word i % 4 of block i / 4;
 * above, it is 64-bit, words 2 (i % 2) and the next of block i / 2 (from 2^31 on, so no block
 * serves both). */
uint64_t ax_loader_draw(uint64_t seed, uint64_t epoch, uint64_t i) {
    if (i < (UINT64_C(1) << 32)) {
        philox4x32_ctr_t r = ax_philox_block(seed, epoch, i >> 2);
        return ((uint64_t)r.v[i & 3] * (i + 1)) >> 32;
    }
    philox4x32_ctr_t r = ax_philox_block(seed, epoch, i >> 1);
    int w = 2 * (int)(i & 1);
    return mul_high64((uint64_t)r.v[w + 1] << 32 | r.v[w], i + 1);
}

/* The permutation of epoch e: Fisher-Yates, swap i with j = ax_loader_draw(seed, e, i) in
 * [0, i] for i = n-1..1: a function of (seed, e) alone. */
static void make_order(ax_data_loader *l) {
    for (int64_t i = 0; i < l->n; i++)
        l->order[i] = i;
    if (!l->shuffle)
        return;
    for (int64_t i = l->n - 1; i > 0; i--) {
        uint64_t j = ax_loader_draw(l->seed, (uint64_t)l->epoch, (uint64_t)i);
        int64_t tmp = l->order[i];
        l->order[i] = l->order[j];
        l->order[j] = tmp;
    }
}

static void loader_free(ax_data_loader *l) {
    free(l->order);
    free(l->x_stage);
    free(l->y_stage);
    free(l);
}

ax_status ax_data_loader_create(const float *x, int x_ndim, const int64_t *x_shape,
                                const int32_t *y, int64_t batch_size, int shuffle, int drop_last,
                                uint64_t seed, ax_data_loader **out) {
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    if (!x || !x_shape)
        return AX_FAIL(AX_ERR_INVALID_ARG, "x or x_shape is NULL");
    if (x_ndim < 1 || x_ndim > AX_MAX_DIMS)
        return AX_FAIL(AX_ERR_SHAPE, "x_ndim %d is outside [1, %d]", x_ndim, AX_MAX_DIMS);
    for (int i = 0; i < x_ndim; i++)
        if (x_shape[i] < 1)
            return AX_FAIL(AX_ERR_SHAPE, "x_shape[%d] is %lld; every dim must be >= 1", i,
                           (long long)x_shape[i]);
    /* The caller's x holds n * row floats, so that many must be addressable (every size below
     * then fits too: batch_size * row <= n * row); the order takes n int64s. */
    const int64_t max_elems = (int64_t)(PTRDIFF_MAX / sizeof(float));
    int64_t n = x_shape[0], row = 1;
    for (int i = 0; i < x_ndim; i++) {
        if (x_shape[i] > max_elems / (i ? n * row : 1))
            return AX_FAIL(AX_ERR_SHAPE,
                           "x_shape[%d] = %lld makes x larger than memory can address (the "
                           "product of x_shape must be at most %lld)",
                           i, (long long)x_shape[i], (long long)max_elems);
        if (i > 0)
            row *= x_shape[i];
    }
    if (n > (int64_t)(PTRDIFF_MAX / sizeof(int64_t)))
        return AX_FAIL(AX_ERR_SHAPE, "x_shape[0] = %lld samples are too many to order",
                       (long long)n);
    if (batch_size < 1)
        return AX_FAIL(AX_ERR_INVALID_ARG, "batch_size %lld must be >= 1", (long long)batch_size);
    if (batch_size > n)
        batch_size = n;
    ax_data_loader *l = ax_calloc(1, sizeof *l);
    if (!l)
        return AX_FAIL(AX_ERR_OOM, "out of host memory");
    l->order = ax_malloc((size_t)n * sizeof *l->order);
    l->x_stage = ax_malloc((size_t)(batch_size * row) * sizeof *l->x_stage);
    l->y_stage = ax_malloc((size_t)batch_size * sizeof *l->y_stage);
    if (!l->order || !l->x_stage || !l->y_stage) {
        loader_free(l);
        return AX_FAIL(AX_ERR_OOM, "out of host memory for %lld samples", (long long)n);
    }
    ax_status st = ax_handle_add(__func__, l, AX_HANDLE_LOADER);
    if (st != AX_OK) {
        loader_free(l);
        return st;
    }
    l->x = x;
    l->y = y;
    l->n = n;
    l->row = row;
    l->batch_size = batch_size;
    l->shuffle = shuffle != 0;
    l->drop_last = drop_last != 0;
    l->seed = seed;
    make_order(l);
    *out = l;
    return AX_OK;
}

void ax_data_loader_destroy(ax_data_loader *loader) {
    if (ax_handle_remove(loader, AX_HANDLE_LOADER))
        loader_free(loader);
}

static int valid(const ax_data_loader *l) { return ax_handle_live(l, AX_HANDLE_LOADER); }

int64_t ax_data_loader_batches(const ax_data_loader *loader) {
    if (!valid(loader))
        return 0;
    const ax_data_loader *l = loader;
    return l->drop_last ? l->n / l->batch_size : (l->n + l->batch_size - 1) / l->batch_size;
}

int64_t ax_data_loader_epoch(const ax_data_loader *loader) {
    return valid(loader) ? loader->epoch : 0;
}

/* dst has room for rows rows of `row` elements of dtype: its trailing dims hold row, its
 * allocation rows of them. */
static ax_status check_dst(const char *fn, const ax_tensor *t, const char *name, ax_dtype dtype,
                           int64_t row, int64_t rows) {
    AX_TRY(ax_check_live(fn, t, name));
    if (t->dtype != dtype)
        return ax_fail(AX_ERR_DTYPE, fn, "%s is %s, expected %s", name, ax_dtype_name(t->dtype),
                       ax_dtype_name(dtype));
    int64_t t_row = t->ndim ? t->numel / t->shape[0] : 0;
    if (t->ndim < 1 || t_row != row || t->capacity < rows * row) {
        char s[128];
        return ax_fail(AX_ERR_SHAPE, fn,
                       "%s has shape %s; it needs rows of %lld elements and room for %lld rows",
                       name, ax_shape_str(t, s, sizeof s), (long long)row, (long long)rows);
    }
    return AX_OK;
}

ax_status ax_data_loader_next(ax_data_loader *loader, ax_tensor *x, ax_tensor *y, int64_t *n) {
    AX_TRY(ax_handle_check(__func__, loader, AX_HANDLE_LOADER, "loader"));
    if (!n)
        return AX_FAIL(AX_ERR_INVALID_ARG, "n is NULL");
    *n = 0;
    ax_data_loader *l = loader;
    AX_TRY(check_dst(__func__, x, "x", AX_F32, l->row, l->batch_size));
    if (l->y && !y)
        return AX_FAIL(AX_ERR_INVALID_ARG, "y is NULL but the loader has labels");
    if (l->y)
        AX_TRY(check_dst(__func__, y, "y", AX_I32, 1, l->batch_size));

    int64_t left = l->n - l->pos;
    if (left == 0 || (l->drop_last && left < l->batch_size)) { /* the epoch's end */
        l->epoch++;
        l->pos = 0;
        make_order(l);
        return AX_OK;
    }
    int64_t rows = left < l->batch_size ? left : l->batch_size;
    for (int64_t i = 0; i < rows; i++) { /* gather */
        int64_t s = l->order[l->pos + i];
        memcpy(l->x_stage + i * l->row, l->x + s * l->row, (size_t)l->row * sizeof *l->x_stage);
        if (l->y)
            l->y_stage[i] = l->y[s];
    }
    AX_TRY(ax_tensor_set_rows(__func__, x, rows));
    AX_TRY(ax_tensor_set_from_host(x, l->x_stage,
                                   (size_t)(rows * l->row) * ax_dtype_size(x->dtype)));
    if (l->y) {
        AX_TRY(ax_tensor_set_rows(__func__, y, rows));
        AX_TRY(ax_tensor_set_from_host(y, l->y_stage, (size_t)rows * ax_dtype_size(y->dtype)));
    }
    l->pos += rows;
    *n = rows;
    return AX_OK;
}
