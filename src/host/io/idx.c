/* IDX files (the format of MNIST), gzip-compressed or plain, and MNIST on top of them.
 *
 * An IDX file is a magic number 0x00 0x00 <type> <ndim>, ndim big-endian u32 dims, then the
 * elements, big-endian. zlib's gzread reads both gzip and plain files. The data buffer grows
 * as bytes arrive (never to more than the header declares), so a hostile header that declares
 * terabytes costs no more memory than the file really holds. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "axon/io.h"
#include "../core/alloc.h"
#include "../core/internal.h"

#define GZ_CHUNK_MAX (1u << 30) /* gzread takes an unsigned length and returns an int */
#define FIRST_CAPACITY ((size_t)1 << 20)

size_t ax_idx_type_size(ax_idx_type type) {
    switch (type) {
    case AX_IDX_U8:
    case AX_IDX_I8: return 1;
    case AX_IDX_I16: return 2;
    case AX_IDX_I32:
    case AX_IDX_F32: return 4;
    case AX_IDX_F64: return 8;
    }
    return 0;
}

static uint32_t load_be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* The status of a failed gzread: AX_ERR_IO for a system error, AX_ERR_FORMAT for corrupt or
 * truncated gzip data. */
static ax_status gz_failure(const char *fn, const char *path, gzFile f) {
    int code = Z_OK;
    const char *message = gzerror(f, &code);
    if (code == Z_ERRNO)
        return ax_fail(AX_ERR_IO, fn, "cannot read '%s': %s", path, strerror(errno));
    return ax_fail(AX_ERR_FORMAT, fn, "'%s': corrupt gzip data (%s)", path, message);
}

/* Read up to want bytes into buf; *got < want only at the end of the data. */
static ax_status read_full(const char *fn, const char *path, gzFile f, unsigned char *buf,
                           size_t want, size_t *got) {
    *got = 0;
    while (*got < want) {
        size_t left = want - *got;
        unsigned chunk = left > GZ_CHUNK_MAX ? GZ_CHUNK_MAX : (unsigned)left;
        int n = gzread(f, buf + *got, chunk);
        if (n < 0)
            return gz_failure(fn, path, f);
        if (n == 0)
            break;
        *got += (size_t)n;
    }
    if (*got < want) {
        int code = Z_OK;
        gzerror(f, &code);
        if (code != Z_OK && code != Z_STREAM_END)
            return gz_failure(fn, path, f);
    }
    return AX_OK;
}

/* "[60000, 28, 28]" into buf. */
static const char *dims_str(const ax_idx *idx, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < idx->ndim && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%lld", i ? ", " : "[",
                         (long long)idx->dims[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

static void swap_to_host(unsigned char *data, size_t count, size_t esize) {
    const uint16_t one = 1;
    if (esize == 1 || !*(const unsigned char *)&one)
        return; /* bytes, or a big-endian host */
    for (size_t i = 0; i < count; i++) {
        unsigned char *e = data + i * esize;
        for (size_t a = 0, b = esize - 1; a < b; a++, b--) {
            unsigned char t = e[a];
            e[a] = e[b];
            e[b] = t;
        }
    }
}

/* The header of an open IDX file into out (type, ndim, dims, count). */
static ax_status read_header(const char *fn, const char *path, gzFile f, ax_idx *out) {
    unsigned char head[4 + 4 * AX_IDX_MAX_DIMS];
    size_t got;
    AX_TRY(read_full(fn, path, f, head, 4, &got));
    if (got < 4)
        return ax_fail(AX_ERR_FORMAT, fn, "'%s': %zu bytes, too short for an IDX magic number",
                       path, got);
    if (head[0] != 0 || head[1] != 0)
        return ax_fail(AX_ERR_FORMAT, fn,
                       "'%s': bad IDX magic %02x %02x %02x %02x (expected 00 00 type ndim)",
                       path, head[0], head[1], head[2], head[3]);
    size_t esize = ax_idx_type_size((ax_idx_type)head[2]);
    if (esize == 0)
        return ax_fail(AX_ERR_FORMAT, fn, "'%s': unknown IDX element type 0x%02x", path,
                       head[2]);
    int ndim = head[3];
    if (ndim < 1 || ndim > AX_IDX_MAX_DIMS)
        return ax_fail(AX_ERR_FORMAT, fn, "'%s': %d dims, axon reads IDX files of 1 to %d",
                       path, ndim, AX_IDX_MAX_DIMS);
    size_t dims_bytes = 4 * (size_t)ndim;
    AX_TRY(read_full(fn, path, f, head + 4, dims_bytes, &got));
    if (got < dims_bytes)
        return ax_fail(AX_ERR_FORMAT, fn, "'%s': truncated header: %zu of the %zu bytes of dims",
                       path, got, dims_bytes);
    uint64_t limit = (uint64_t)(SIZE_MAX < INT64_MAX ? SIZE_MAX : INT64_MAX) / esize;
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        uint32_t d = load_be32(head + 4 + 4 * i);
        if (d == 0)
            return ax_fail(AX_ERR_FORMAT, fn, "'%s': dim %d is 0", path, i);
        if (count > limit / d)
            return ax_fail(AX_ERR_FORMAT, fn, "'%s': dims too large (dim %d = %lu overflows)",
                           path, i, (unsigned long)d);
        count *= d;
        out->dims[i] = d;
    }
    out->type = (ax_idx_type)head[2];
    out->ndim = ndim;
    out->count = (int64_t)count;
    return AX_OK;
}

/* The data of an open IDX file whose header is in out, into out->data. */
static ax_status read_data(const char *fn, const char *path, gzFile f, ax_idx *out) {
    size_t esize = ax_idx_type_size(out->type);
    size_t bytes = (size_t)out->count * esize;
    unsigned char *data = NULL;
    size_t capacity = 0, used = 0;
    while (used < bytes) {
        if (used == capacity) {
            size_t next = capacity ? capacity * 2 : FIRST_CAPACITY;
            if (next > bytes || next < capacity)
                next = bytes;
            unsigned char *grown = ax_realloc(data, next);
            if (!grown) {
                free(data);
                return ax_fail(AX_ERR_OOM, fn, "'%s': cannot allocate %zu bytes", path, next);
            }
            data = grown;
            capacity = next;
        }
        size_t got;
        ax_status status = read_full(fn, path, f, data + used, capacity - used, &got);
        if (status != AX_OK) {
            free(data);
            return status;
        }
        used += got;
        if (used < capacity)
            break; /* the end of the data */
    }
    out->data = data;
    char dims[128];
    if (used < bytes)
        return ax_fail(AX_ERR_FORMAT, fn,
                       "'%s': truncated: the header declares %s = %zu bytes of data, the file "
                       "holds %zu",
                       path, dims_str(out, dims, sizeof dims), bytes, used);
    unsigned char extra;
    size_t got;
    AX_TRY(read_full(fn, path, f, &extra, 1, &got));
    if (got != 0)
        return ax_fail(AX_ERR_FORMAT, fn,
                       "'%s': trailing bytes after the %zu bytes of data the header declares "
                       "(%s)",
                       path, bytes, dims_str(out, dims, sizeof dims));
    swap_to_host(data, (size_t)out->count, esize);
    return AX_OK;
}

/* ax_idx_read with fn as the call named in messages. */
static ax_status idx_read(const char *fn, const char *path, ax_idx *out) {
    memset(out, 0, sizeof *out);
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return ax_fail(AX_ERR_IO, fn, "cannot open '%s': %s", path,
                       errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1u << 17);
    ax_status status = read_header(fn, path, f, out);
    if (status == AX_OK)
        status = read_data(fn, path, f, out);
    gzclose(f);
    if (status != AX_OK)
        ax_idx_free(out);
    return status;
}

ax_status ax_idx_read(const char *path, ax_idx *out) {
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    if (!path) {
        memset(out, 0, sizeof *out);
        return AX_FAIL(AX_ERR_INVALID_ARG, "path is NULL");
    }
    return idx_read(__func__, path, out);
}

void ax_idx_free(ax_idx *idx) {
    if (!idx)
        return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}

/* ---------------------------------------------------------------- MNIST */

/* dir/name.gz, else dir/name, into path: the one that exists. */
static ax_status mnist_path(const char *fn, const char *dir, const char *name, char *path,
                            size_t size) {
    int n = snprintf(path, size, "%s/%s.gz", dir, name);
    if (n < 0 || (size_t)n >= size)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "path '%s/%s.gz' is too long", dir, name);
    if (access(path, F_OK) == 0)
        return AX_OK;
    path[n - 3] = '\0'; /* drop ".gz" */
    if (access(path, F_OK) == 0)
        return AX_OK;
    return ax_fail(AX_ERR_IO, fn,
                   "cannot open '%s.gz' (nor '%s'): %s; ax_data_dir finds the MNIST folder", path,
                   path, strerror(errno));
}

/* Check the two MNIST arrays: u8 images [n, 28, 28], u8 labels [n] in 0..9. */
static ax_status mnist_check(const char *fn, const char *images_path, const ax_idx *images,
                             const char *labels_path, const ax_idx *labels) {
    char dims[128];
    if (images->type != AX_IDX_U8 || images->ndim != 3 || images->dims[1] != 28 ||
        images->dims[2] != 28)
        return ax_fail(AX_ERR_FORMAT, fn, "'%s': expected u8 images [n, 28, 28], got type 0x%02x %s",
                       images_path, (unsigned)images->type, dims_str(images, dims, sizeof dims));
    if (labels->type != AX_IDX_U8 || labels->ndim != 1)
        return ax_fail(AX_ERR_FORMAT, fn, "'%s': expected u8 labels [n], got type 0x%02x %s",
                       labels_path, (unsigned)labels->type, dims_str(labels, dims, sizeof dims));
    if (images->dims[0] != labels->dims[0])
        return ax_fail(AX_ERR_FORMAT, fn, "'%s' holds %lld images but '%s' holds %lld labels",
                       images_path, (long long)images->dims[0], labels_path,
                       (long long)labels->dims[0]);
    const unsigned char *y = labels->data;
    for (int64_t i = 0; i < labels->count; i++)
        if (y[i] > 9)
            return ax_fail(AX_ERR_FORMAT, fn, "'%s': label %lld is %u, expected 0..9",
                           labels_path, (long long)i, (unsigned)y[i]);
    return AX_OK;
}

/* Both arrays read and checked, into f32 images and i32 labels. */
static ax_status mnist_read(const char *fn, const char *dir, int train, float **images,
                            int32_t **labels, int64_t *count) {
    const char *prefix = train ? "train" : "t10k";
    char name[64], images_path[4096], labels_path[4096];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    AX_TRY(mnist_path(fn, dir, name, images_path, sizeof images_path));
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    AX_TRY(mnist_path(fn, dir, name, labels_path, sizeof labels_path));

    ax_idx x, y;
    AX_TRY(idx_read(fn, labels_path, &y));
    ax_status status = idx_read(fn, images_path, &x);
    if (status == AX_OK)
        status = mnist_check(fn, images_path, &x, labels_path, &y);
    if (status == AX_OK) {
        int64_t n = y.count;
        *images = ax_malloc((size_t)n * AX_MNIST_PIXELS * sizeof **images);
        *labels = ax_malloc((size_t)n * sizeof **labels);
        if (!*images || !*labels) {
            ax_mnist_free(*images, *labels);
            *images = NULL;
            *labels = NULL;
            status = ax_fail(AX_ERR_OOM, fn, "cannot allocate %lld MNIST images", (long long)n);
        } else {
            const unsigned char *pixels = x.data, *digits = y.data;
            for (int64_t i = 0; i < n * AX_MNIST_PIXELS; i++)
                (*images)[i] = pixels[i] / 255.0f;
            for (int64_t i = 0; i < n; i++)
                (*labels)[i] = digits[i];
            *count = n;
        }
    }
    ax_idx_free(&x);
    ax_idx_free(&y);
    return status;
}

ax_status ax_mnist_load(const char *dir, int train, float **images, int32_t **labels,
                        int64_t *count) {
    if (!images || !labels || !count)
        return AX_FAIL(AX_ERR_INVALID_ARG, "images, labels and count must not be NULL");
    *images = NULL;
    *labels = NULL;
    *count = 0;
    if (!dir)
        return AX_FAIL(AX_ERR_INVALID_ARG, "dir is NULL (ax_data_dir finds the MNIST folder)");
    return mnist_read(__func__, dir, train, images, labels, count);
}

void ax_mnist_free(float *images, int32_t *labels) {
    free(images);
    free(labels);
}
