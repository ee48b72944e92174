/* A text corpus for character-level models: the bytes of a file as ids into the sorted set of
 * its distinct bytes, and random contiguous training windows. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/io.h"
#include "../core/alloc.h"
#include "../core/handles.h"
#include "../core/internal.h"
#include "../common/philox.h"

struct ax_text_dataset {
    int32_t vocab_size;
    unsigned char chars[256]; /* id -> byte */
    int16_t id_of[256];       /* byte -> id, -1 when the byte is not in the vocabulary */
    int64_t length;
    int32_t *ids; /* the corpus, length ids */
};

/* A dataset with vocab's vocabulary (or none yet when vocab is NULL) and room for n ids. */
static ax_status text_new(const char *fn, const ax_text_dataset *vocab, int64_t n,
                          ax_text_dataset **out) {
    ax_text_dataset *ds = ax_calloc(1, sizeof *ds);
    int32_t *ids = ax_malloc((size_t)n * sizeof *ids);
    ax_status st = ds && ids ? ax_handle_add(fn, ds, AX_HANDLE_TEXT)
                             : ax_fail(AX_ERR_OOM, fn, "cannot allocate a corpus of %lld characters",
                                       (long long)n);
    if (st != AX_OK) {
        free(ds);
        free(ids);
        return st;
    }
    if (vocab) {
        ds->vocab_size = vocab->vocab_size;
        memcpy(ds->chars, vocab->chars, sizeof ds->chars);
        memcpy(ds->id_of, vocab->id_of, sizeof ds->id_of);
    }
    ds->length = n;
    ds->ids = ids;
    *out = ds;
    return AX_OK;
}

/* ds is a live text dataset: NULL is AX_ERR_INVALID_ARG, a destroyed one AX_ERR_STATE. */
static ax_status check_ds(const char *fn, const ax_text_dataset *ds) {
    return ax_handle_check(fn, ds, AX_HANDLE_TEXT, "ds");
}

/* The whole file at path, malloc'ed, into *data and *size. */
static ax_status read_file(const char *fn, const char *path, unsigned char **data,
                           size_t *size) {
    errno = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ax_fail(AX_ERR_IO, fn, "cannot open '%s': %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t used = 0, capacity = 0;
    ax_status status = AX_OK;
    for (;;) {
        if (used == capacity) {
            size_t next = capacity ? capacity * 2 : (size_t)1 << 16;
            unsigned char *grown = next > capacity ? ax_realloc(buf, next) : NULL;
            if (!grown) {
                status = ax_fail(AX_ERR_OOM, fn, "'%s': cannot allocate %zu bytes", path, next);
                break;
            }
            buf = grown;
            capacity = next;
        }
        size_t got = fread(buf + used, 1, capacity - used, f);
        used += got;
        if (got == 0 || used < capacity) {
            if (ferror(f))
                status = ax_fail(AX_ERR_IO, fn, "cannot read '%s': %s", path, strerror(errno));
            if (feof(f) || status != AX_OK)
                break;
        }
    }
    fclose(f);
    if (status != AX_OK) {
        free(buf);
        return status;
    }
    *data = buf;
    *size = used;
    return AX_OK;
}

ax_status ax_text_dataset_load(const char *path, ax_text_dataset **out) {
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    if (!path)
        return AX_FAIL(AX_ERR_INVALID_ARG, "path is NULL");
    unsigned char *text = NULL;
    size_t size = 0;
    AX_TRY(read_file(__func__, path, &text, &size));
    if (size == 0 || size > (size_t)INT64_MAX / sizeof(int32_t)) {
        free(text);
        return AX_FAIL(AX_ERR_FORMAT, "'%s' is %s", path, size ? "too large" : "empty");
    }
    ax_text_dataset *ds = NULL;
    ax_status status = text_new(__func__, NULL, (int64_t)size, &ds);
    if (status != AX_OK) {
        free(text);
        return status;
    }
    int seen[256] = {0};
    for (size_t i = 0; i < size; i++)
        seen[text[i]] = 1;
    for (int c = 0; c < 256; c++) {
        ds->id_of[c] = -1;
        if (seen[c]) {
            ds->id_of[c] = (int16_t)ds->vocab_size;
            ds->chars[ds->vocab_size++] = (unsigned char)c;
        }
    }
    for (size_t i = 0; i < size; i++)
        ds->ids[i] = ds->id_of[text[i]];
    free(text);
    *out = ds;
    return AX_OK;
}

void ax_text_dataset_destroy(ax_text_dataset *ds) {
    if (!ax_handle_remove(ds, AX_HANDLE_TEXT))
        return; /* NULL, destroyed already, or not a text dataset */
    free(ds->ids);
    free(ds);
}

ax_status ax_text_dataset_split(const ax_text_dataset *ds, double fraction,
                                ax_text_dataset **train, ax_text_dataset **validation) {
    if (!train || !validation)
        return AX_FAIL(AX_ERR_INVALID_ARG, "train and validation must not be NULL");
    *train = NULL;
    *validation = NULL;
    AX_TRY(check_ds(__func__, ds));
    if (!(fraction > 0.0 && fraction < 1.0))
        return AX_FAIL(AX_ERR_INVALID_ARG, "fraction is %g, expected a value in (0, 1)",
                       fraction);
    int64_t n_train = (int64_t)floor(fraction * (double)ds->length);
    int64_t n_val = ds->length - n_train;
    if (n_train < 2 || n_val < 2)
        return AX_FAIL(AX_ERR_INVALID_ARG,
                       "a corpus of %lld characters split at %g leaves %lld and %lld; each part "
                       "needs at least 2",
                       (long long)ds->length, fraction, (long long)n_train, (long long)n_val);
    AX_TRY(text_new(__func__, ds, n_train, train));
    ax_status status = text_new(__func__, ds, n_val, validation);
    if (status != AX_OK) {
        ax_text_dataset_destroy(*train);
        *train = NULL;
        return status;
    }
    memcpy((*train)->ids, ds->ids, (size_t)n_train * sizeof *ds->ids);
    memcpy((*validation)->ids, ds->ids + n_train, (size_t)n_val * sizeof *ds->ids);
    return AX_OK;
}

static int live(const ax_text_dataset *ds) { return ax_handle_live(ds, AX_HANDLE_TEXT); }

int32_t ax_text_vocab_size(const ax_text_dataset *ds) { return live(ds) ? ds->vocab_size : 0; }

int64_t ax_text_length(const ax_text_dataset *ds) { return live(ds) ? ds->length : 0; }

const int32_t *ax_text_ids(const ax_text_dataset *ds) { return live(ds) ? ds->ids : NULL; }

ax_status ax_text_encode(const ax_text_dataset *ds, const char *s, size_t n, int32_t *ids) {
    AX_TRY(check_ds(__func__, ds));
    if (n && (!s || !ids))
        return AX_FAIL(AX_ERR_INVALID_ARG, "s and ids must not be NULL");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (ds->id_of[c] < 0) {
            if (isprint(c))
                return AX_FAIL(AX_ERR_INVALID_ARG,
                               "character '%c' (byte 0x%02x) at position %zu is not in the "
                               "vocabulary of %d characters",
                               c, c, i, ds->vocab_size);
            return AX_FAIL(AX_ERR_INVALID_ARG,
                           "byte 0x%02x at position %zu is not in the vocabulary of %d "
                           "characters",
                           c, i, ds->vocab_size);
        }
        ids[i] = ds->id_of[c];
    }
    return AX_OK;
}

ax_status ax_text_decode(const ax_text_dataset *ds, const int32_t *ids, size_t n, char *out) {
    AX_TRY(check_ds(__func__, ds));
    if (n && (!ids || !out))
        return AX_FAIL(AX_ERR_INVALID_ARG, "ids and out must not be NULL");
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= ds->vocab_size)
            return AX_FAIL(AX_ERR_INVALID_ARG, "id %d at position %zu is outside 0..%d",
                           (int)ids[i], i, ds->vocab_size - 1);
        out[i] = (char)ds->chars[ids[i]];
    }
    return AX_OK;
}

ax_status ax_text_batch(const ax_text_dataset *ds, int64_t batch, int64_t seq_len,
                        uint64_t seed, uint64_t index, int32_t *inputs, int32_t *targets) {
    AX_TRY(check_ds(__func__, ds));
    if (!ds || !inputs || !targets)
        return AX_FAIL(AX_ERR_INVALID_ARG, "ds, inputs and targets must not be NULL");
    if (batch < 1 || seq_len < 1)
        return AX_FAIL(AX_ERR_INVALID_ARG, "batch %lld and seq_len %lld must be >= 1",
                       (long long)batch, (long long)seq_len);
    if (batch > (int64_t)(PTRDIFF_MAX / sizeof *inputs) / seq_len)
        return AX_FAIL(AX_ERR_INVALID_ARG,
                       "batch %lld x seq_len %lld ids are more than memory can address",
                       (long long)batch, (long long)seq_len);
    if (seq_len >= ds->length)
        return AX_FAIL(AX_ERR_INVALID_ARG,
                       "seq_len %lld needs a corpus of at least %lld characters, this one has "
                       "%lld",
                       (long long)seq_len, (long long)seq_len + 1, (long long)ds->length);
    uint64_t starts = (uint64_t)(ds->length - seq_len); /* offsets 0..length-seq_len-1 */
    size_t row_bytes = (size_t)seq_len * sizeof *inputs;
    for (int64_t b = 0; b < batch; b++) {
        philox4x32_ctr_t r = ax_philox_block(seed, index, (uint64_t)b);
        uint64_t start = ((uint64_t)r.v[1] << 32 | r.v[0]) % starts;
        memcpy(inputs + b * seq_len, ds->ids + start, row_bytes);
        memcpy(targets + b * seq_len, ds->ids + start + 1, row_bytes);
    }
    return AX_OK;
}
