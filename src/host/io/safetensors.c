/* The safetensors format (include/axon/io.h): an in-memory parser that validates a file's
 * image into an index of tensors (used by the file loader and by the fuzz target), readers,
 * an atomic writer, and the strict named load that checkpoints (checkpoint.c) build on. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "axon/io.h"

#include "../core/alloc.h"
#include "../core/handles.h"
#include "../core/internal.h"
#include "../ops/check.h"
#include "safetensors_internal.h"

#define HEADER_MAX ((uint64_t)100 << 20) /* bytes of JSON header we accept */
#define JSON_INT_MAX 9007199254740992.0  /* 2^53: larger integers do not survive a double */

typedef struct dtype_info {
    const char *name;
    size_t size;
    int supported;
    ax_dtype dtype;
} dtype_info;

/* Every dtype of the safetensors format; axon turns F32 and I32 into tensors. */
static const dtype_info dtypes[] = {
    {"F32", 4, 1, AX_F32},      {"I32", 4, 1, AX_I32},     {"BOOL", 1, 0, AX_F32},
    {"U8", 1, 0, AX_F32},       {"I8", 1, 0, AX_F32},      {"F8_E5M2", 1, 0, AX_F32},
    {"F8_E4M3", 1, 0, AX_F32},  {"I16", 2, 0, AX_F32},     {"U16", 2, 0, AX_F32},
    {"F16", 2, 0, AX_F32},      {"BF16", 2, 0, AX_F32},    {"U32", 4, 0, AX_F32},
    {"I64", 8, 0, AX_F32},      {"U64", 8, 0, AX_F32},     {"F64", 8, 0, AX_F32},
};
#define N_DTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

/* The file's name of an axon tensor dtype; NULL for one the format's tensors cannot hold. */
static const char *file_dtype_name(ax_dtype dtype) {
    for (int i = 0; i < N_DTYPES; i++)
        if (dtypes[i].supported && dtypes[i].dtype == dtype)
            return dtypes[i].name;
    return NULL;
}

typedef struct entry {
    char *name;
    const dtype_info *dtype;
    int ndim;
    int64_t shape[AX_MAX_DIMS];
    uint64_t begin, end; /* bytes in the data buffer */
} entry;

struct ax_safetensors {
    uint8_t *image; /* the whole file, owned */
    const uint8_t *data; /* the data buffer inside image */
    uint64_t data_size;
    int n;
    entry *entries; /* header order */
};

/* Who reports an error: the public call and the file (a path, or "the buffer"). */
typedef struct origin {
    const char *fn;
    const char *where;
} origin;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static ax_status fail_at(const origin *o, ax_status status, const char *fmt, ...) {
    char msg[768];
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, sizeof msg, fmt, args);
    va_end(args);
    return ax_fail(status, o->fn, "%s: %s", o->where, msg);
}

/* Put the current message of a failed inner call behind fn and what. */
static ax_status rewrap(ax_status status, const char *fn, const char *what) {
    return ax_fail(status, fn, "%s: %s", what, ax_last_error());
}

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

static ax_status check_little_endian(const char *fn) {
    if (host_is_little_endian())
        return AX_OK;
    return ax_fail(AX_ERR_UNSUPPORTED, fn, "safetensors data is little-endian; this host is not");
}

/* "[2, 3]" into buf. */
static const char *shape_str(int ndim, const int64_t *shape, char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %lld" : "%lld",
                                 (long long)shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

static void free_entries(entry *entries, int n) {
    for (int i = 0; entries && i < n; i++)
        free(entries[i].name);
    free(entries);
}

static void safetensors_free(ax_safetensors *st) {
    free_entries(st->entries, st->n);
    free(st->image);
    free(st);
}

void ax_safetensors_close(ax_safetensors *st) {
    if (ax_handle_remove(st, AX_HANDLE_SAFETENSORS))
        safetensors_free(st);
}

/* st is a live file: NULL is AX_ERR_INVALID_ARG, a closed one AX_ERR_STATE. */
static ax_status check_st(const char *fn, const ax_safetensors *st) {
    return ax_handle_check(fn, st, AX_HANDLE_SAFETENSORS, "st");
}

/* ---------------------------------------------------------------- parsing */

/* x is a JSON integer in [0, 2^53]. */
static int json_u64(const cJSON *x, uint64_t *out) {
    if (!cJSON_IsNumber(x))
        return 0;
    double v = x->valuedouble;
    if (!(v >= 0.0 && v <= JSON_INT_MAX) || (double)(uint64_t)v != v)
        return 0;
    *out = (uint64_t)v;
    return 1;
}

static const dtype_info *find_dtype(const char *name) {
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(dtypes[i].name, name) == 0)
            return &dtypes[i];
    return NULL;
}

/* One "name": {"dtype", "shape", "data_offsets"} of the header into e (name not yet set). */
static ax_status parse_entry(const origin *o, const cJSON *item, uint64_t data_size, entry *e) {
    const char *name = item->string;
    if (!cJSON_IsObject(item))
        return fail_at(o, AX_ERR_FORMAT, "tensor '%.64s' is not a JSON object", name);

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    if (!cJSON_IsString(dtype))
        return fail_at(o, AX_ERR_FORMAT, "tensor '%.64s' has no dtype string", name);
    e->dtype = find_dtype(dtype->valuestring);
    if (!e->dtype)
        return fail_at(o, AX_ERR_FORMAT, "tensor '%.64s' has an unknown dtype '%.16s'", name,
                       dtype->valuestring);

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    if (!cJSON_IsArray(shape))
        return fail_at(o, AX_ERR_FORMAT, "tensor '%.64s' has no shape array", name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > AX_MAX_DIMS)
        return fail_at(o, AX_ERR_UNSUPPORTED, "tensor '%.64s' has %d dims, axon holds at most %d",
                       name, ndim, AX_MAX_DIMS);
    e->ndim = ndim;
    uint64_t bytes = e->dtype->size;
    const cJSON *dim;
    int i = 0;
    cJSON_ArrayForEach(dim, shape) {
        uint64_t d;
        if (!json_u64(dim, &d))
            return fail_at(o, AX_ERR_FORMAT,
                           "tensor '%.64s': shape entry %d is not an integer in [0, 2^53]", name,
                           i);
        if (d != 0 && bytes > UINT64_MAX / d)
            return fail_at(o, AX_ERR_FORMAT, "tensor '%.64s': the shape's size overflows", name);
        bytes *= d;
        e->shape[i++] = (int64_t)d;
    }

    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        !json_u64(cJSON_GetArrayItem(offsets, 0), &e->begin) ||
        !json_u64(cJSON_GetArrayItem(offsets, 1), &e->end))
        return fail_at(o, AX_ERR_FORMAT,
                       "tensor '%.64s' has no data_offsets [begin, end] of two integers", name);
    if (e->begin > e->end || e->end > data_size)
        return fail_at(o, AX_ERR_FORMAT,
                       "tensor '%.64s': data_offsets [%llu, %llu] are not inside the data "
                       "buffer of %llu bytes",
                       name, (unsigned long long)e->begin, (unsigned long long)e->end,
                       (unsigned long long)data_size);
    if (e->end - e->begin != bytes) {
        char s[160];
        return fail_at(o, AX_ERR_FORMAT,
                       "tensor '%.64s': data_offsets [%llu, %llu] hold %llu bytes, shape %s of "
                       "%s needs %llu",
                       name, (unsigned long long)e->begin, (unsigned long long)e->end,
                       (unsigned long long)(e->end - e->begin),
                       shape_str(e->ndim, e->shape, s, sizeof s), e->dtype->name,
                       (unsigned long long)bytes);
    }
    return AX_OK;
}

static int compare_names(const void *a, const void *b) {
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    return strcmp(x->name, y->name);
}

static int compare_offsets(const void *a, const void *b) {
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Keys are unique, and the tensors tile the data buffer: sorted by offset, each starts where
 * the previous ends, and the last ends at the buffer's end (no overlap, no gap). */
static ax_status check_layout(const origin *o, const ax_safetensors *st) {
    if (st->n == 0) {
        if (st->data_size != 0)
            return fail_at(o, AX_ERR_FORMAT, "no tensors, but %llu bytes of data",
                           (unsigned long long)st->data_size);
        return AX_OK;
    }
    const entry **order = ax_malloc((size_t)st->n * sizeof *order);
    if (!order)
        return fail_at(o, AX_ERR_OOM, "out of memory for %d tensors", st->n);
    for (int i = 0; i < st->n; i++)
        order[i] = &st->entries[i];
    ax_status status = AX_OK;

    qsort(order, (size_t)st->n, sizeof *order, compare_names);
    for (int i = 1; i < st->n && status == AX_OK; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0)
            status = fail_at(o, AX_ERR_FORMAT, "the key '%.64s' appears twice", order[i]->name);

    qsort(order, (size_t)st->n, sizeof *order, compare_offsets);
    uint64_t at = 0;
    for (int i = 0; i < st->n && status == AX_OK; i++) {
        if (order[i]->begin != at)
            status = fail_at(o, AX_ERR_FORMAT,
                             "tensor '%.64s' starts at byte %llu of the data, expected %llu "
                             "(tensors overlap or leave a gap)",
                             order[i]->name, (unsigned long long)order[i]->begin,
                             (unsigned long long)at);
        at = order[i]->end;
    }
    if (status == AX_OK && at != st->data_size)
        status = fail_at(o, AX_ERR_FORMAT,
                         "the tensors end at byte %llu of the data, the buffer has %llu",
                         (unsigned long long)at, (unsigned long long)st->data_size);
    free(order);
    return status;
}

/* Index the entries of the header object root into st. */
static ax_status index_header(const origin *o, const cJSON *root, ax_safetensors *st) {
    int count = 0, metadata = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (strcmp(item->string, "__metadata__") != 0) {
            count++;
        } else if (metadata++ || !cJSON_IsObject(item)) {
            return fail_at(o, AX_ERR_FORMAT, "__metadata__ is repeated or not an object");
        }
    }
    st->entries = ax_calloc(count ? (size_t)count : 1, sizeof *st->entries);
    if (!st->entries)
        return fail_at(o, AX_ERR_OOM, "out of memory for %d tensors", count);
    cJSON_ArrayForEach(item, root) {
        if (strcmp(item->string, "__metadata__") == 0)
            continue;
        entry *e = &st->entries[st->n];
        AX_TRY(parse_entry(o, item, st->data_size, e));
        e->name = ax_strdup(item->string);
        if (!e->name)
            return fail_at(o, AX_ERR_OOM, "out of memory");
        st->n++;
    }
    return check_layout(o, st);
}

/* Validate the file image st->image of size bytes and index it. */
static ax_status parse_image(const origin *o, size_t size, ax_safetensors *st) {
    const uint8_t *image = st->image;
    if (size < 8)
        return fail_at(o, AX_ERR_FORMAT,
                       "%zu bytes, too short for the 8-byte header length (truncated?)", size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | image[i];
    if (n > HEADER_MAX)
        return fail_at(o, AX_ERR_FORMAT, "header length %llu is over the limit of %llu bytes",
                       (unsigned long long)n, (unsigned long long)HEADER_MAX);
    if (n > size - 8)
        return fail_at(o, AX_ERR_FORMAT,
                       "header length %llu runs past the end of the file of %zu bytes "
                       "(truncated?)",
                       (unsigned long long)n, size);
    st->data = image + 8 + n;
    st->data_size = size - 8 - n;

    const char *json = (const char *)image + 8, *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, (size_t)n, &end, 0);
    if (!root)
        return fail_at(o, AX_ERR_FORMAT, "the JSON header does not parse (near byte %lld of %llu)",
                       end ? (long long)(end - json) : -1LL, (unsigned long long)n);
    ax_status status = AX_OK;
    for (const char *p = end; p < json + n && status == AX_OK; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            status = fail_at(o, AX_ERR_FORMAT, "the JSON header has trailing bytes at %lld",
                             (long long)(p - json));
    if (status == AX_OK && !cJSON_IsObject(root))
        status = fail_at(o, AX_ERR_FORMAT, "the JSON header is not an object");
    if (status == AX_OK)
        status = index_header(o, root, st);
    cJSON_Delete(root);
    return status;
}

/* Take ownership of image (malloc'ed, size bytes) and validate it into *out. */
static ax_status parse_owned(const origin *o, uint8_t *image, size_t size, ax_safetensors **out) {
    ax_safetensors *st = ax_calloc(1, sizeof *st);
    if (!st) {
        free(image);
        return fail_at(o, AX_ERR_OOM, "out of memory");
    }
    st->image = image;
    ax_status status = parse_image(o, size, st);
    if (status == AX_OK)
        status = ax_handle_add(o->fn, st, AX_HANDLE_SAFETENSORS);
    if (status != AX_OK) {
        safetensors_free(st);
        return status;
    }
    *out = st;
    return AX_OK;
}

static ax_status read_file(const origin *o, const char *path, uint8_t **image, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail_at(o, AX_ERR_IO, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return fail_at(o, AX_ERR_IO, "not a regular file");
    }
    *size = (size_t)sb.st_size;
    *image = ax_malloc(*size ? *size : 1);
    if (!*image) {
        fclose(f);
        return fail_at(o, AX_ERR_OOM, "out of memory for %zu bytes", *size);
    }
    size_t got = fread(*image, 1, *size, f);
    int error = ferror(f);
    fclose(f);
    if (got != *size || error) {
        free(*image);
        return fail_at(o, AX_ERR_IO, "read %zu of %zu bytes", got, *size);
    }
    return AX_OK;
}

ax_status ax_st_open(const char *fn, const char *path, ax_safetensors **out) {
    if (!out)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "out is NULL");
    *out = NULL;
    if (!path)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "path is NULL");
    origin o = {fn, path};
    uint8_t *image = NULL;
    size_t size = 0;
    AX_TRY(read_file(&o, path, &image, &size));
    return parse_owned(&o, image, size, out);
}

ax_status ax_safetensors_open(const char *path, ax_safetensors **out) {
    return ax_st_open(__func__, path, out);
}

ax_status ax_safetensors_parse(const void *data, size_t size, ax_safetensors **out) {
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    if (!data && size)
        return AX_FAIL(AX_ERR_INVALID_ARG, "data is NULL");
    origin o = {__func__, "the buffer"};
    uint8_t *image = ax_malloc(size ? size : 1);
    if (!image)
        return AX_FAIL(AX_ERR_OOM, "out of memory for %zu bytes", size);
    if (size)
        memcpy(image, data, size);
    return parse_owned(&o, image, size, out);
}

/* ---------------------------------------------------------------- reading */

int ax_safetensors_count(const ax_safetensors *st) {
    return ax_handle_live(st, AX_HANDLE_SAFETENSORS) ? st->n : 0;
}

static ax_status check_index(const char *fn, const ax_safetensors *st, int index) {
    AX_TRY(check_st(fn, st));
    if (index < 0 || index >= st->n)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "index %d is not in [0, %d)", index, st->n);
    return AX_OK;
}

ax_status ax_safetensors_entry_get(const ax_safetensors *st, int index,
                                   ax_safetensors_entry *out) {
    AX_TRY(check_index(__func__, st, index));
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    const entry *e = &st->entries[index];
    memset(out, 0, sizeof *out);
    out->name = e->name;
    out->dtype_name = e->dtype->name;
    out->supported = e->dtype->supported;
    out->dtype = e->dtype->dtype;
    out->ndim = e->ndim;
    memcpy(out->shape, e->shape, sizeof e->shape);
    out->nbytes = (size_t)(e->end - e->begin);
    return AX_OK;
}

static int find_entry(const ax_safetensors *st, const char *name) {
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->entries[i].name, name) == 0)
            return i;
    return -1;
}

ax_status ax_safetensors_find(const ax_safetensors *st, const char *name, int *index) {
    AX_TRY(check_st(__func__, st));
    if (!name || !index)
        return AX_FAIL(AX_ERR_INVALID_ARG, "name and index must not be NULL");
    *index = find_entry(st, name);
    if (*index < 0)
        return AX_FAIL(AX_ERR_INVALID_ARG, "no tensor called '%.64s'", name);
    return AX_OK;
}

ax_status ax_safetensors_raw(const ax_safetensors *st, int index, const void **data,
                             size_t *nbytes) {
    AX_TRY(check_index(__func__, st, index));
    if (!data || !nbytes)
        return AX_FAIL(AX_ERR_INVALID_ARG, "data and nbytes must not be NULL");
    const entry *e = &st->entries[index];
    *data = st->data + e->begin;
    *nbytes = (size_t)(e->end - e->begin);
    return AX_OK;
}

/* Entry e matches tensor t in dtype and shape; where names t's side ("the graph"). */
static ax_status check_match(const char *fn, const entry *e, const ax_tensor *t,
                             const char *where) {
    if (!e->dtype->supported || e->dtype->dtype != t->dtype) {
        const char *ours = file_dtype_name(t->dtype); /* named as the file names dtypes */
        return ax_fail(AX_ERR_DTYPE, fn, "%s is %s in the file, %s in %s", e->name,
                       e->dtype->name, ours ? ours : ax_dtype_name(t->dtype), where);
    }
    int same = e->ndim == t->ndim;
    for (int i = 0; same && i < e->ndim; i++)
        same = e->shape[i] == t->shape[i];
    if (same)
        return AX_OK;
    char a[160], b[160];
    return ax_fail(AX_ERR_SHAPE, fn, "%s has shape %s in the file, %s in %s", e->name,
                   shape_str(e->ndim, e->shape, a, sizeof a), shape_str(t->ndim, t->shape, b,
                                                                        sizeof b),
                   where);
}

/* Copy entry e into t (already checked to match). */
static ax_status copy_entry(const char *fn, const ax_safetensors *st, const entry *e,
                            ax_tensor *t) {
    AX_TRY(check_little_endian(fn));
    ax_status status = ax_tensor_set_from_host(t, st->data + e->begin, (size_t)(e->end - e->begin));
    return status == AX_OK ? AX_OK : rewrap(status, fn, e->name);
}

ax_status ax_safetensors_read(const ax_safetensors *st, int index, ax_tensor *dst) {
    AX_TRY(check_index(__func__, st, index));
    AX_TRY(ax_check_live(__func__, dst, "dst"));
    const entry *e = &st->entries[index];
    AX_TRY(check_match(__func__, e, dst, "dst"));
    return copy_entry(__func__, st, e, dst);
}

ax_status ax_safetensors_to_tensor(const ax_safetensors *st, int index, ax_ctx *ctx,
                                   ax_tensor **out) {
    AX_TRY(check_index(__func__, st, index));
    AX_TRY(ax_check_ctx(__func__, ctx));
    if (!out)
        return AX_FAIL(AX_ERR_INVALID_ARG, "out is NULL");
    *out = NULL;
    const entry *e = &st->entries[index];
    if (!e->dtype->supported)
        return AX_FAIL(AX_ERR_UNSUPPORTED, "%s is %s; axon reads F32 and I32 tensors", e->name,
                       e->dtype->name);
    for (int i = 0; i < e->ndim; i++)
        if (e->shape[i] == 0)
            return AX_FAIL(AX_ERR_UNSUPPORTED, "%s has no elements (dim %d is 0)", e->name, i);
    ax_tensor *t;
    ax_status status = ax_tensor_create(ctx, e->dtype->dtype, e->ndim, e->shape, &t);
    if (status != AX_OK)
        return rewrap(status, __func__, e->name);
    status = copy_entry(__func__, st, e, t);
    if (status != AX_OK) {
        ax_tensor_destroy(t);
        return status;
    }
    *out = t;
    return AX_OK;
}

/* ---------------------------------------------------------------- writing */

/* The item's dtype name in the file and its bytes. */
static const char *item_dtype(const ax_st_item *it) {
    return !it->tensor ? "I64" : file_dtype_name(it->tensor->dtype);
}

static uint64_t item_bytes(const ax_st_item *it) {
    return it->tensor ? ax_tensor_nbytes(it->tensor) : sizeof *it->i64;
}

static ax_status check_items(const char *fn, const char *path, int n, const ax_st_item *items) {
    if (!path || !*path)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "path is NULL or empty");
    for (int i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "tensors[%d]", i);
        if (items[i].tensor) {
            AX_TRY(ax_check_live(fn, items[i].tensor, what));
            if (!file_dtype_name(items[i].tensor->dtype))
                return ax_fail(AX_ERR_DTYPE, fn, "%s is %s: checkpoints hold f32 and i32", what,
                               ax_dtype_name(items[i].tensor->dtype));
        }
        const char *name = items[i].name;
        if (!name || !*name || strcmp(name, "__metadata__") == 0)
            return ax_fail(AX_ERR_INVALID_ARG, fn,
                           "names[%d] is NULL, empty or the reserved \"__metadata__\"", i);
        for (int j = 0; j < i; j++)
            if (strcmp(name, items[j].name) == 0)
                return ax_fail(AX_ERR_INVALID_ARG, fn, "names[%d] and names[%d] are both '%.64s'",
                               j, i, name);
    }
    return check_little_endian(fn);
}

/* The JSON header of the items, laid out one after the other in order. */
static char *header_json(int n, const ax_st_item *items) {
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    int ok = meta && cJSON_AddStringToObject(meta, "format", "pt");
    uint64_t at = 0;
    for (int i = 0; ok && i < n; i++) {
        const ax_tensor *t = items[i].tensor; /* NULL: an int64 scalar, shape [] */
        uint64_t bytes = item_bytes(&items[i]);
        cJSON *item = cJSON_AddObjectToObject(root, items[i].name);
        cJSON *shape = cJSON_AddArrayToObject(item, "shape");
        cJSON *offsets = cJSON_AddArrayToObject(item, "data_offsets");
        ok = item && shape && offsets &&
             cJSON_AddStringToObject(item, "dtype", item_dtype(&items[i]));
        for (int d = 0; ok && t && d < t->ndim; d++)
            ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        ok = ok && cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)at)) &&
             cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)(at + bytes)));
        at += bytes;
    }
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return json;
}

/* Write the file's bytes to f: length, header padded with spaces to 8 bytes, data. */
static ax_status write_contents(const char *fn, FILE *f, const char *json, int n,
                                const ax_st_item *items) {
    size_t len = strlen(json), padded = (len + 7) & ~(size_t)7;
    unsigned char length[8];
    for (int i = 0; i < 8; i++)
        length[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int ok = fwrite(length, 1, 8, f) == 8 && fwrite(json, 1, len, f) == len;
    for (size_t i = len; ok && i < padded; i++)
        ok = fputc(' ', f) != EOF;
    if (!ok)
        return ax_fail(AX_ERR_IO, fn, "writing the header failed: %s", strerror(errno));

    size_t most = 0;
    for (int i = 0; i < n; i++)
        most = item_bytes(&items[i]) > most ? item_bytes(&items[i]) : most;
    void *host = ax_malloc(most ? most : 1);
    if (!host)
        return ax_fail(AX_ERR_OOM, fn, "out of memory for %zu bytes", most);
    ax_status status = AX_OK;
    for (int i = 0; i < n && status == AX_OK; i++) {
        size_t bytes = item_bytes(&items[i]);
        if (items[i].tensor)
            status = ax_tensor_to_host(items[i].tensor, host, bytes);
        else
            memcpy(host, items[i].i64, bytes); /* little-endian host: checked */
        if (status != AX_OK)
            status = rewrap(status, fn, "copying a tensor to the host");
        else if (fwrite(host, 1, bytes, f) != bytes)
            status = ax_fail(AX_ERR_IO, fn, "writing the data failed: %s", strerror(errno));
    }
    free(host);
    return status;
}

/* path is absent or a regular file (renaming over a device or a directory would replace it). */
static ax_status check_target(const char *fn, const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0 || S_ISREG(sb.st_mode))
        return AX_OK;
    return ax_fail(AX_ERR_IO, fn, "%s exists and is not a regular file; it is not replaced",
                   path);
}

ax_status ax_st_write(const char *fn, const char *path, int n, const ax_st_item *items) {
    AX_TRY(check_items(fn, path, n, items));
    AX_TRY(check_target(fn, path));
    char *json = header_json(n, items);
    size_t tmp_size = strlen(path) + 32;
    char *tmp = ax_malloc(tmp_size);
    if (!json || !tmp) {
        free(json);
        free(tmp);
        return ax_fail(AX_ERR_OOM, fn, "out of memory for the header");
    }
    snprintf(tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid());

    ax_status status = AX_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    FILE *f = fd >= 0 ? ax_fdopen(fd, "wb") : NULL;
    if (!f) {
        int err = errno;
        status = ax_fail(err == ENOMEM ? AX_ERR_OOM : AX_ERR_IO, fn, "cannot %s %s: %s",
                         fd >= 0 ? "open a stream on" : "create", tmp, strerror(err));
        if (fd >= 0) { /* created, but no stream: remove it again */
            close(fd);
            unlink(tmp);
        }
    } else {
        status = write_contents(fn, f, json, n, items);
        if (status == AX_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
            status = ax_fail(AX_ERR_IO, fn, "flushing %s failed: %s", tmp, strerror(errno));
        if (fclose(f) != 0 && status == AX_OK)
            status = ax_fail(AX_ERR_IO, fn, "closing %s failed: %s", tmp, strerror(errno));
        if (status == AX_OK)
            status = check_target(fn, path);
        if (status == AX_OK && rename(tmp, path) != 0)
            status = ax_fail(AX_ERR_IO, fn, "renaming %s to %s failed: %s", tmp, path,
                             strerror(errno));
        if (status != AX_OK)
            unlink(tmp);
    }
    free(tmp);
    free(json);
    return status;
}

ax_status ax_safetensors_save(const char *path, int n, const char *const *names,
                              const ax_tensor *const *tensors) {
    if (n < 0 || (n > 0 && (!names || !tensors)))
        return AX_FAIL(AX_ERR_INVALID_ARG, "n is %d, names and tensors must hold n entries", n);
    ax_st_item *items = ax_calloc(n ? (size_t)n : 1, sizeof *items);
    if (!items)
        return AX_FAIL(AX_ERR_OOM, "out of memory");
    for (int i = 0; i < n; i++) {
        items[i].name = names[i];
        items[i].tensor = (ax_tensor *)tensors[i];
        if (!tensors[i]) { /* NULL is a bad tensor here, not an int64 item */
            free(items);
            return AX_FAIL(AX_ERR_INVALID_ARG, "tensors[%d] is NULL", i);
        }
    }
    ax_status status = ax_st_write(__func__, path, n, items);
    free(items);
    return status;
}

/* ---------------------------------------------------------------- strict named loads */

/* Entry e matches item it (an int64 item: an I64 scalar). */
static ax_status check_item(const char *fn, const entry *e, const ax_st_item *it,
                            const char *where) {
    if (it->tensor)
        return check_match(fn, e, it->tensor, where);
    if (strcmp(e->dtype->name, "I64") != 0)
        return ax_fail(AX_ERR_DTYPE, fn, "%s is %s in the file, I64 in %s", e->name,
                       e->dtype->name, where);
    if (e->ndim != 0) {
        char a[160];
        return ax_fail(AX_ERR_SHAPE, fn, "%s has shape %s in the file, [] in %s", e->name,
                       shape_str(e->ndim, e->shape, a, sizeof a), where);
    }
    return AX_OK;
}

ax_status ax_st_load(const char *fn, const char *path, int n, const ax_st_item *items,
                     const char *where) {
    ax_safetensors *st;
    AX_TRY(ax_st_open(fn, path, &st));
    ax_status status = check_little_endian(fn);
    for (int i = 0; i < n && status == AX_OK; i++) {
        int k = find_entry(st, items[i].name);
        status = k < 0 ? ax_fail(AX_ERR_FORMAT, fn, "%s is missing from the file", items[i].name)
                       : check_item(fn, &st->entries[k], &items[i], where);
    }
    for (int k = 0; k < st->n && status == AX_OK && st->n != n; k++) {
        int found = 0; /* every name was found once, so the file has extra keys */
        for (int i = 0; i < n && !found; i++)
            found = strcmp(st->entries[k].name, items[i].name) == 0;
        if (!found)
            status = ax_fail(AX_ERR_FORMAT, fn, "the file has a tensor '%.64s' that is not in %s",
                             st->entries[k].name, where);
    }
    for (int i = 0; i < n && status == AX_OK; i++) {
        const entry *e = &st->entries[find_entry(st, items[i].name)];
        if (items[i].tensor)
            status = copy_entry(fn, st, e, items[i].tensor);
        else
            memcpy(items[i].i64, st->data + e->begin, sizeof *items[i].i64);
    }
    ax_safetensors_close(st);
    return status;
}
