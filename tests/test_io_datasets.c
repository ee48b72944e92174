/* Datasets: the IDX reader and MNIST, the data-folder search, and the text dataset for
 * character-level models. `io` reads the real data under ../shared/data (skipping, with the
 * places looked at, when they are not there); `badinput` writes small hostile files into a
 * temporary folder. */
#define _XOPEN_SOURCE 700 /* mkdtemp, setenv, realpath, nftw */

#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "helpers.h"
#include "mnist.h"
#include "host/common/philox.h"
#include "host/io/loader_internal.h"

/* ---------------------------------------------------------------- temporary folder */

static char tmp_dir[64]; /* "/tmp/axon-io-XXXXXX" */

static void make_tmp(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/axon-io-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_dir), "mkdtemp failed");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tmp(void) {
    if (tmp_dir[0])
        nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmp_dir[0] = '\0';
}

/* tmp_dir/name into a static buffer (one at a time). */
static const char *tmp_path(const char *name) {
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    return path;
}

static void make_dirs(const char *name) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    for (char *p = path + strlen(tmp_dir) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    cr_assert_eq(mkdir(path, 0700), 0, "cannot create %s", path);
}

static void write_file(const char *name, const void *bytes, size_t n) {
    FILE *f = fopen(tmp_path(name), "wb");
    cr_assert_not_null(f, "cannot create %s", tmp_path(name));
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

static void write_gz(const char *name, const void *bytes, size_t n) {
    gzFile f = gzopen(tmp_path(name), "wb");
    cr_assert_not_null(f, "cannot create %s", tmp_path(name));
    cr_assert_eq(gzwrite(f, bytes, (unsigned)n), (int)n);
    cr_assert_eq(gzclose(f), Z_OK);
}

/* An IDX file image: header (type, dims) then `data_bytes` bytes of data, in a malloc'ed
 * buffer; *size gets its length. */
static unsigned char *idx_bytes(int type, int ndim, const uint32_t *dims, const void *data,
                                size_t data_bytes, size_t *size) {
    *size = 4 + 4 * (size_t)ndim + data_bytes;
    unsigned char *b = malloc(*size);
    cr_assert_not_null(b);
    b[0] = 0, b[1] = 0, b[2] = (unsigned char)type, b[3] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++)
        for (int k = 0; k < 4; k++)
            b[4 + 4 * i + k] = (unsigned char)(dims[i] >> (24 - 8 * k));
    if (data_bytes)
        memcpy(b + 4 + 4 * ndim, data, data_bytes);
    return b;
}

/* Write a small MNIST-shaped pair (n images of 28 x 28 with pixel i % 256, and the labels)
 * under tmp_dir/<prefix>-{images-idx3,labels-idx1}-ubyte[.gz]. */
static void write_mnist(const char *prefix, uint32_t n_images, const unsigned char *labels,
                        uint32_t n_labels, int gz) {
    char name[128];
    size_t size;
    uint32_t image_dims[3] = {n_images, 28, 28};
    unsigned char *pixels = malloc((size_t)n_images * 784);
    cr_assert_not_null(pixels);
    for (size_t i = 0; i < (size_t)n_images * 784; i++)
        pixels[i] = (unsigned char)(i % 256);
    unsigned char *b = idx_bytes(AX_IDX_U8, 3, image_dims, pixels, (size_t)n_images * 784, &size);
    snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", prefix, gz ? ".gz" : "");
    (gz ? write_gz : write_file)(name, b, size);
    free(b);
    free(pixels);
    b = idx_bytes(AX_IDX_U8, 1, &n_labels, labels, n_labels, &size);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", prefix, gz ? ".gz" : "");
    (gz ? write_gz : write_file)(name, b, size);
    free(b);
}

/* The error message mentions `what`. */
static void assert_message_has(const char *what) {
    cr_assert(strstr(ax_last_error(), what), "message \"%s\" does not mention \"%s\"",
              ax_last_error(), what);
}

/* ---------------------------------------------------------------- real data */

/* The folder of a real dataset, or cr_skip saying where ax_data_dir looked. */
static void real_data_or_skip(const char *dataset, char *dir, size_t size) {
    th_dataset_or_skip(dataset, dir, size); /* a failure where the data must be (CI) */
}

static void check_mnist(int train, int64_t expected_count, const int32_t *first_labels,
                        int n_first, const int64_t *class_counts) {
    char dir[PATH_MAX];
    real_data_or_skip("mnist", dir, sizeof dir);
    float *x;
    int32_t *y;
    int64_t n;
    AX_ASSERT_OK(ax_mnist_load(dir, train, &x, &y, &n));
    cr_assert_eq(n, expected_count);
    for (int i = 0; i < n_first; i++)
        cr_assert_eq(y[i], first_labels[i], "label %d is %d, expected %d", i, y[i],
                     first_labels[i]);
    int64_t counts[10] = {0};
    for (int64_t i = 0; i < n; i++) {
        cr_assert(y[i] >= 0 && y[i] <= 9);
        counts[y[i]]++;
    }
    for (int c = 0; c < 10; c++)
        cr_assert_eq(counts[c], class_counts[c], "class %d: %lld, expected %lld", c,
                     (long long)counts[c], (long long)class_counts[c]);
    float lo = 1.0f, hi = 0.0f;
    for (int64_t i = 0; i < n * AX_MNIST_PIXELS; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    cr_assert(lo == 0.0f && hi == 1.0f, "pixels in [%g, %g], expected [0, 1]", lo, hi);
    ax_mnist_free(x, y);
}

Test(io, mnist_train) {
    const int32_t first[] = {5, 0, 4, 1, 9};
    const int64_t counts[] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
    check_mnist(1, 60000, first, 5, counts);
}

Test(io, mnist_test) {
    const int32_t first[] = {7, 2, 1, 0, 4};
    const int64_t counts[] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    check_mnist(0, 10000, first, 5, counts);
}

/* From the source tree's root and from the build folder, with no AXON_DATA. */
Test(io, data_dir_from_root_and_build) {
    char dir[PATH_MAX], start[PATH_MAX];
    cr_assert_not_null(getcwd(start, sizeof start));
    unsetenv("AXON_DATA");
    real_data_or_skip("mnist", dir, sizeof dir);
    cr_assert_eq(chdir(AXON_SOURCE_DIR), 0);
    AX_ASSERT_OK(ax_data_dir(NULL, "mnist", dir, sizeof dir));
    cr_assert(strstr(dir, "/shared/data/mnist"), "found %s", dir);
    AX_ASSERT_OK(ax_data_dir(NULL, "tinyshakespeare", dir, sizeof dir));
    cr_assert(strstr(dir, "/shared/data/tinyshakespeare"), "found %s", dir);
}

TestSuite(io, .fini = remove_tmp);

Test(io, data_dir_explicit_and_env) {
    char dir[PATH_MAX];
    make_tmp();
    make_dirs("a/mnist");
    make_dirs("b");
    write_file("a/mnist/train-images-idx3-ubyte.gz", "", 0);
    write_file("b/t10k-images-idx3-ubyte", "", 0);
    char a[PATH_MAX], b[PATH_MAX];
    snprintf(a, sizeof a, "%s/a", tmp_dir);
    snprintf(b, sizeof b, "%s/b", tmp_dir);

    /* explicit DIR holding DIR/mnist, and explicit DIR holding the files itself */
    unsetenv("AXON_DATA");
    AX_ASSERT_OK(ax_data_dir(a, "mnist", dir, sizeof dir));
    cr_assert_str_eq(dir, tmp_path("a/mnist"));
    AX_ASSERT_OK(ax_data_dir(b, "mnist", dir, sizeof dir));
    cr_assert_str_eq(dir, b);

    /* AXON_DATA when there is no explicit folder; the explicit one wins over it */
    cr_assert_eq(setenv("AXON_DATA", b, 1), 0);
    AX_ASSERT_OK(ax_data_dir(NULL, "mnist", dir, sizeof dir));
    cr_assert_str_eq(dir, b);
    AX_ASSERT_OK(ax_data_dir("", "mnist", dir, sizeof dir));
    cr_assert_str_eq(dir, b);
    AX_ASSERT_OK(ax_data_dir(a, "mnist", dir, sizeof dir));
    cr_assert_str_eq(dir, tmp_path("a/mnist"));

    /* an explicit folder without the files is an error, never passed over for AXON_DATA */
    AX_ASSERT_FAILS(ax_data_dir(tmp_dir, "mnist", dir, sizeof dir), AX_ERR_IO, "ax_data_dir");
}

Test(io, data_dir_parent_search) {
    char dir[PATH_MAX], real[PATH_MAX], expected[PATH_MAX + 64];
    make_tmp();
    make_dirs("shared/data/tinyshakespeare");
    make_dirs("repo/build/sub");
    write_file("shared/data/tinyshakespeare/input.txt", "abc", 3);
    unsetenv("AXON_DATA");
    cr_assert_not_null(realpath(tmp_dir, real));
    snprintf(expected, sizeof expected, "%s/shared/data/tinyshakespeare", real);
    const char *starts[] = {"repo", "repo/build", "repo/build/sub"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(chdir(tmp_path(starts[i])), 0);
        AX_ASSERT_OK(ax_data_dir(NULL, "tinyshakespeare", dir, sizeof dir));
        cr_assert_str_eq(dir, expected, "from %s", starts[i]);
    }
}

Test(io, idx_types_and_byte_order) {
    make_tmp();
    uint32_t dims[4] = {2, 1, 1, 3};
    const unsigned char be_i32[] = {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe, 0x01, 0x02, 0x03, 0x04,
                                    0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0x80, 0, 0, 0};
    size_t size;
    unsigned char *b = idx_bytes(AX_IDX_I32, 4, dims, be_i32, sizeof be_i32, &size);
    write_gz("i32.gz", b, size);
    free(b);
    ax_idx idx;
    AX_ASSERT_OK(ax_idx_read(tmp_path("i32.gz"), &idx));
    cr_assert_eq(idx.type, AX_IDX_I32);
    cr_assert_eq(idx.ndim, 4);
    cr_assert(idx.dims[0] == 2 && idx.dims[1] == 1 && idx.dims[2] == 1 && idx.dims[3] == 3);
    cr_assert_eq(idx.count, 6);
    const int32_t want[] = {1, -2, 0x01020304, 0, INT32_MAX, INT32_MIN};
    cr_assert_arr_eq(idx.data, want, sizeof want);
    ax_idx_free(&idx);
    cr_assert_null(idx.data);

    const unsigned char be_f32[] = {0x3f, 0x80, 0, 0, 0xc0, 0x20, 0, 0}; /* 1.0, -2.5 */
    uint32_t n = 2;
    b = idx_bytes(AX_IDX_F32, 1, &n, be_f32, sizeof be_f32, &size);
    write_file("f32", b, size);
    free(b);
    AX_ASSERT_OK(ax_idx_read(tmp_path("f32"), &idx));
    const float *f = idx.data;
    cr_assert(idx.type == AX_IDX_F32 && f[0] == 1.0f && f[1] == -2.5f);
    ax_idx_free(&idx);
    ax_idx_free(NULL);
}

/* ax_mnist_load on small files, gzip-compressed or not. */
Test(io, mnist_small_files) {
    const unsigned char labels[3] = {3, 9, 0};
    for (int gz = 0; gz < 2; gz++) {
        make_tmp();
        write_mnist("train", 3, labels, 3, gz);
        write_mnist("t10k", 1, labels, 1, gz);
        float *x;
        int32_t *y;
        int64_t n;
        AX_ASSERT_OK(ax_mnist_load(tmp_dir, 1, &x, &y, &n));
        cr_assert_eq(n, 3);
        cr_assert(y[0] == 3 && y[1] == 9 && y[2] == 0);
        for (int64_t i = 0; i < 3 * 784; i++)
            cr_assert_eq(x[i], (float)(i % 256) / 255.0f);
        ax_mnist_free(x, y);
        AX_ASSERT_OK(ax_mnist_load(tmp_dir, 0, &x, &y, &n));
        cr_assert(n == 1 && y[0] == 3);
        ax_mnist_free(x, y);
        remove_tmp();
    }
}

/* ---------------------------------------------------------------- text */

static ax_text_dataset *load_shakespeare_or_skip(void) {
    char dir[PATH_MAX], path[PATH_MAX + 16];
    real_data_or_skip("tinyshakespeare", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/input.txt", dir);
    ax_text_dataset *ds;
    AX_ASSERT_OK(ax_text_dataset_load(path, &ds));
    return ds;
}

Test(io, text_shakespeare_vocab_and_round_trip) {
    ax_text_dataset *ds = load_shakespeare_or_skip();
    cr_assert_eq(ax_text_vocab_size(ds), 65);
    cr_assert_eq(ax_text_length(ds), 1115394);
    const char *s = "First Citizen:\nBefore we proceed any further, hear me speak.";
    size_t n = strlen(s);
    int32_t ids[128];
    char back[128];
    AX_ASSERT_OK(ax_text_encode(ds, s, n, ids));
    cr_assert_arr_eq(ids, ax_text_ids(ds), n * sizeof *ids, "the corpus starts with s");
    AX_ASSERT_OK(ax_text_decode(ds, ids, n, back));
    cr_assert_arr_eq(back, s, n);
    /* ids follow byte order: '\n' is the smallest byte, 'z' the largest */
    int32_t first_last[2] = {0, 64};
    AX_ASSERT_OK(ax_text_decode(ds, first_last, 2, back));
    cr_assert(back[0] == '\n' && back[1] == 'z');
    ax_text_dataset_destroy(ds);
    ax_text_dataset_destroy(NULL);
}

Test(io, text_batches) {
    ax_text_dataset *ds = load_shakespeare_or_skip();
    enum { B = 8, T = 33 };
    int32_t x[B * T], y[B * T], x2[B * T], y2[B * T];
    const int32_t *ids = ax_text_ids(ds);
    AX_ASSERT_OK(ax_text_batch(ds, B, T, 42, 0, x, y));
    for (int b = 0; b < B; b++)
        for (int t = 0; t + 1 < T; t++)
            cr_assert_eq(y[b * T + t], x[b * T + t + 1], "targets are the inputs shifted");
    AX_ASSERT_OK(ax_text_batch(ds, B, T, 42, 0, x2, y2));
    cr_assert_arr_eq(x, x2, sizeof x, "same seed and index, same batch");
    cr_assert_arr_eq(y, y2, sizeof y);
    AX_ASSERT_OK(ax_text_batch(ds, B, T, 42, 1, x2, y2));
    cr_assert(memcmp(x, x2, sizeof x) != 0, "the next index gives another batch");
    AX_ASSERT_OK(ax_text_batch(ds, B, T, 43, 0, x2, y2));
    cr_assert(memcmp(x, x2, sizeof x) != 0, "another seed gives another batch");
    (void)ids;
    ax_text_dataset_destroy(ds);
}

/* On a corpus of distinct characters every window tells its start: rows are contiguous
 * windows, the last target is the next character, and the starts cover the whole range. */
Test(io, text_batch_windows) {
    make_tmp();
    const char *corpus = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij";
    int64_t len = (int64_t)strlen(corpus);
    write_file("corpus.txt", corpus, (size_t)len);
    ax_text_dataset *ds;
    AX_ASSERT_OK(ax_text_dataset_load(tmp_path("corpus.txt"), &ds));
    cr_assert_eq(ax_text_vocab_size(ds), len);
    enum { B = 64, T = 5 };
    int32_t x[B * T], y[B * T];
    int seen[64] = {0};
    for (uint64_t index = 0; index < 8; index++) {
        AX_ASSERT_OK(ax_text_batch(ds, B, T, 7, index, x, y));
        for (int b = 0; b < B; b++) {
            int32_t start = x[b * T]; /* id == position in this corpus */
            cr_assert(start >= 0 && start + T < len, "start %d", start);
            seen[start] = 1;
            for (int t = 0; t < T; t++) {
                cr_assert_eq(x[b * T + t], start + t);
                cr_assert_eq(y[b * T + t], start + t + 1);
            }
        }
    }
    for (int s = 0; s + T < len; s++)
        cr_assert(seen[s], "start %d never drawn", s);
    /* the longest sequence the corpus allows */
    int32_t xl[64], yl[64];
    AX_ASSERT_OK(ax_text_batch(ds, 1, len - 1, 7, 0, xl, yl));
    cr_assert(xl[0] == 0 && yl[len - 2] == len - 1);
    ax_text_dataset_destroy(ds);
}

Test(io, text_split) {
    make_tmp();
    write_file("corpus.txt", "hello world, hello axon", 23);
    ax_text_dataset *ds, *train, *val;
    AX_ASSERT_OK(ax_text_dataset_load(tmp_path("corpus.txt"), &ds));
    AX_ASSERT_OK(ax_text_dataset_split(ds, 0.9, &train, &val));
    cr_assert_eq(ax_text_length(train), 20);
    cr_assert_eq(ax_text_length(val), 3);
    cr_assert_eq(ax_text_vocab_size(train), ax_text_vocab_size(ds));
    cr_assert_eq(ax_text_vocab_size(val), ax_text_vocab_size(ds));
    cr_assert_arr_eq(ax_text_ids(train), ax_text_ids(ds), 20 * sizeof(int32_t));
    cr_assert_arr_eq(ax_text_ids(val), ax_text_ids(ds) + 20, 3 * sizeof(int32_t));
    char back[3];
    AX_ASSERT_OK(ax_text_decode(val, ax_text_ids(val), 3, back));
    cr_assert_arr_eq(back, "xon", 3);
    ax_text_dataset_destroy(train);
    ax_text_dataset_destroy(val);
    ax_text_dataset_destroy(ds);
}

/* ---------------------------------------------------------------- bad input */

TestSuite(badinput, .fini = remove_tmp);

/* ax_idx_read of bytes written to tmp_dir/name (gzip-compressed when gz) fails with status
 * and a message naming the call and the file. */
static void assert_idx_fails(const char *name, const void *bytes, size_t n, int gz,
                             ax_status status) {
    (gz ? write_gz : write_file)(name, bytes, n);
    ax_idx idx;
    memset(&idx, 0x5a, sizeof idx);
    AX_ASSERT_FAILS(ax_idx_read(tmp_path(name), &idx), status, "ax_idx_read");
    assert_message_has(tmp_path(name));
    cr_assert(idx.data == NULL && idx.ndim == 0 && idx.count == 0, "out is zeroed");
}

/* ---------------------------------------------------------------- IDX files numpy wrote */

/* th_golden_dir()/idx/<name>.idx, plus ".gz" when gz, into a static buffer. */
static const char *golden_idx(const char *name, int gz) {
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/idx/%s.idx%s", th_golden_dir(), name, gz ? ".gz" : "");
    return path;
}

/* One array of tests/golden/gen_idx.py: its name, type, dims and values in host order. */
typedef struct idx_golden {
    const char *name;
    ax_idx_type type;
    int ndim;
    int64_t dims[AX_IDX_MAX_DIMS];
    const void *values;
    size_t bytes;
} idx_golden;

static const uint8_t golden_u8[] = {0, 1, 2, 127, 128, 255};
static const int8_t golden_i8[] = {0, 1, -1, 127, -128};
static const int16_t golden_i16[] = {0x0102, -2, 32767, -32768, 0, 1, -256, 0x7f00};
static const int32_t golden_i32[] = {0x01020304, -2, INT32_MAX, INT32_MIN, 0, -16777216};
static const float golden_f32[] = {1.5f, -2.25f, 0.1f, -0.0f, 3.4028234663852886e38f,
                                   (float)INFINITY, 0x1p-149f};
static const double golden_f64[] = {0.1, -1e300, 2.5, -0.0, 0x1p-1074, -(double)INFINITY};

static const idx_golden idx_goldens[] = {
    {"u8", AX_IDX_U8, 2, {2, 3}, golden_u8, sizeof golden_u8},
    {"i8", AX_IDX_I8, 1, {5}, golden_i8, sizeof golden_i8},
    {"i16", AX_IDX_I16, 3, {2, 2, 2}, golden_i16, sizeof golden_i16},
    {"i32", AX_IDX_I32, 4, {3, 1, 2, 1}, golden_i32, sizeof golden_i32},
    {"f32", AX_IDX_F32, 1, {7}, golden_f32, sizeof golden_f32},
    {"f64", AX_IDX_F64, 2, {2, 3}, golden_f64, sizeof golden_f64},
};

/* Every element type, plain and gzip, in host byte order bit for bit (-0.0, inf and
 * subnormals included). */
Test(io, idx_golden_every_type) {
    for (size_t k = 0; k < sizeof idx_goldens / sizeof *idx_goldens; k++) {
        const idx_golden *g = &idx_goldens[k];
        for (int gz = 0; gz < 2; gz++) {
            ax_idx idx;
            AX_ASSERT_OK(ax_idx_read(golden_idx(g->name, gz), &idx));
            cr_assert_eq(idx.type, g->type, "%s: type 0x%02x", g->name, (unsigned)idx.type);
            cr_assert_eq(idx.ndim, g->ndim, "%s: %d dims", g->name, idx.ndim);
            int64_t count = 1;
            for (int i = 0; i < g->ndim; i++) {
                cr_assert_eq(idx.dims[i], g->dims[i], "%s: dim %d is %lld", g->name, i,
                             (long long)idx.dims[i]);
                count *= g->dims[i];
            }
            cr_assert_eq(idx.count, count, "%s: count %lld", g->name, (long long)idx.count);
            cr_assert_eq((size_t)count * (g->bytes / (size_t)count), g->bytes);
            const unsigned char *got = idx.data, *want = g->values;
            for (size_t b = 0; b < g->bytes; b++)
                cr_assert_eq(got[b], want[b], "%s%s: byte %zu of the data is 0x%02x, expected "
                             "0x%02x (byte order?)", g->name, gz ? ".gz" : "", b, got[b],
                             want[b]);
            ax_idx_free(&idx);
        }
    }
}

Test(io, idx_type_sizes) {
    const struct {
        int type;
        size_t size;
    } cases[] = {{AX_IDX_U8, 1},  {AX_IDX_I8, 1},  {AX_IDX_I16, 2}, {AX_IDX_I32, 4},
                 {AX_IDX_F32, 4}, {AX_IDX_F64, 8}, {0x0A, 0},       {0x0F, 0},
                 {0, 0},          {-1, 0}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
        cr_assert_eq(ax_idx_type_size((ax_idx_type)cases[k].type), cases[k].size,
                     "type 0x%02x", (unsigned)cases[k].type);
}

/* The same files cut one byte short, or with a byte of garbage after the data. */
Test(badinput, idx_golden_short_and_trailing) {
    for (size_t k = 0; k < sizeof idx_goldens / sizeof *idx_goldens; k++) {
        for (int gz = 0; gz < 2; gz++) {
            for (int trailing = 0; trailing < 2; trailing++) {
                char name[32];
                snprintf(name, sizeof name, "%s_%s", idx_goldens[k].name,
                         trailing ? "trailing" : "short");
                ax_idx idx;
                memset(&idx, 0x5a, sizeof idx);
                AX_ASSERT_FAILS(ax_idx_read(golden_idx(name, gz), &idx), AX_ERR_FORMAT,
                                "ax_idx_read");
                assert_message_has(trailing ? "trailing" : "truncated");
                assert_message_has(golden_idx(name, gz));
                cr_assert(idx.data == NULL && idx.ndim == 0 && idx.count == 0, "out is zeroed");
            }
        }
    }
}

/* Headers whose element count or byte size overflows 64 bits and no data: refused as too
 * large (never AX_OK with a wrapped count of 0), out zeroed. */
Test(badinput, idx_golden_overflowing_dims) {
    const char *names[] = {"overflow_u8_2p31_2p31_4", "overflow_u8_2p31_2p31_2",
                           "overflow_i16_2p31_2p31", "overflow_f64_max4"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        for (int gz = 0; gz < 2; gz++) {
            ax_idx idx;
            memset(&idx, 0x5a, sizeof idx);
            AX_ASSERT_FAILS(ax_idx_read(golden_idx(names[k], gz), &idx), AX_ERR_FORMAT,
                            "ax_idx_read");
            assert_message_has("too large");
            cr_assert(idx.data == NULL && idx.ndim == 0 && idx.count == 0, "out is zeroed");
        }
    }
    /* 2^50 bytes fit in 64 bits: a truncated file, not an overflow */
    ax_idx idx;
    AX_ASSERT_FAILS(ax_idx_read(golden_idx("overflow_i32_2p16_2p16_2p15_2", 1), &idx),
                    AX_ERR_FORMAT, "ax_idx_read");
    assert_message_has("1125899906842624 bytes of data, the file holds 0");
}

/* Counts near the largest that fits, INT64_MAX / size elements (within 2^31), and twice
 * that, for every element size, without data: truncated, then too large. */
Test(badinput, idx_dims_at_the_limit) {
    make_tmp();
    const struct {
        int type;
        uint64_t esize;
    } types[] = {{AX_IDX_U8, 1}, {AX_IDX_I16, 2}, {AX_IDX_F32, 4}, {AX_IDX_F64, 8}};
    for (size_t k = 0; k < 4; k++) {
        uint64_t limit = (uint64_t)INT64_MAX / types[k].esize;
        uint32_t f = (uint32_t)(limit >> 31);
        uint32_t fits[3] = {1u << 31, f, 1}, over[3] = {1u << 31, f, 2};
        size_t size;
        unsigned char *b = idx_bytes(types[k].type, 3, fits, NULL, 0, &size);
        assert_idx_fails("fits", b, size, 0, AX_ERR_FORMAT);
        assert_message_has("truncated");
        free(b);
        b = idx_bytes(types[k].type, 3, over, NULL, 0, &size);
        assert_idx_fails("over", b, size, 0, AX_ERR_FORMAT);
        assert_message_has("too large");
        free(b);
    }
}

Test(badinput, idx_bad_headers) {
    make_tmp();
    const unsigned char bad_magic[] = {1, 0, 8, 1, 0, 0, 0, 1, 7};
    assert_idx_fails("magic", bad_magic, sizeof bad_magic, 0, AX_ERR_FORMAT);
    assert_message_has("magic");
    const unsigned char bad_type[] = {0, 0, 7, 1, 0, 0, 0, 1, 7};
    assert_idx_fails("type", bad_type, sizeof bad_type, 0, AX_ERR_FORMAT);
    const unsigned char no_dims[] = {0, 0, 8, 0, 7};
    assert_idx_fails("ndim0", no_dims, sizeof no_dims, 0, AX_ERR_FORMAT);
    const unsigned char five_dims[] = {0, 0, 8, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
                                       0, 0, 0, 1, 0, 0, 0, 1, 7};
    assert_idx_fails("ndim5", five_dims, sizeof five_dims, 0, AX_ERR_FORMAT);
    const unsigned char zero_dim[] = {0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 0};
    assert_idx_fails("dim0", zero_dim, sizeof zero_dim, 1, AX_ERR_FORMAT);
    const unsigned char not_gzip_body[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff,
                                           0xff, 0xff, 0xff, 0xff};
    assert_idx_fails("corrupt.gz", not_gzip_body, sizeof not_gzip_body, 0, AX_ERR_FORMAT);
}

Test(badinput, idx_huge_dims) {
    make_tmp();
    /* the product overflows 64 bits */
    const unsigned char overflow[] = {0, 0, 0x0E, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3};
    assert_idx_fails("overflow", overflow, sizeof overflow, 0, AX_ERR_FORMAT);
    /* 1e12 bytes declared, 3 present: truncated, without allocating the declared size */
    const unsigned char huge[] = {0, 0, 8, 3, 0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0,
                                  0, 0, 0, 100, 1, 2, 3};
    assert_idx_fails("huge", huge, sizeof huge, 1, AX_ERR_FORMAT);
    assert_message_has("truncated");
}

/* A valid i32 [3, 4] file cut at every length (plain) and at several lengths (gzip). */
Test(badinput, idx_truncated) {
    make_tmp();
    uint32_t dims[2] = {3, 4};
    unsigned char data[48];
    for (int i = 0; i < 48; i++)
        data[i] = (unsigned char)i;
    size_t size;
    unsigned char *b = idx_bytes(AX_IDX_I32, 2, dims, data, sizeof data, &size);
    for (size_t cut = 0; cut < size; cut++)
        assert_idx_fails("cut", b, cut, 0, AX_ERR_FORMAT);
    assert_idx_fails("cut", b, 20, 0, AX_ERR_FORMAT);
    assert_message_has("[3, 4] = 48 bytes of data, the file holds 8");
    for (size_t cut = 0; cut < size; cut += 7)
        assert_idx_fails("cut.gz", b, cut, 1, AX_ERR_FORMAT);

    /* the compressed stream itself cut short */
    write_gz("full.gz", b, size);
    FILE *f = fopen(tmp_path("full.gz"), "rb");
    cr_assert_not_null(f);
    unsigned char gz[512];
    size_t gz_size = fread(gz, 1, sizeof gz, f);
    fclose(f);
    cr_assert(gz_size > 20 && gz_size < sizeof gz);
    for (size_t cut = 12; cut < gz_size; cut += 5)
        assert_idx_fails("cutstream.gz", gz, cut, 0, AX_ERR_FORMAT);
    free(b);
}

Test(badinput, idx_trailing_bytes) {
    make_tmp();
    const unsigned char trailing[] = {0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3};
    assert_idx_fails("trailing", trailing, sizeof trailing, 0, AX_ERR_FORMAT);
    assert_message_has("trailing");
    assert_idx_fails("trailing.gz", trailing, sizeof trailing, 1, AX_ERR_FORMAT);
}

Test(badinput, idx_missing_and_null) {
    make_tmp();
    ax_idx idx;
    AX_ASSERT_FAILS(ax_idx_read(tmp_path("nope.gz"), &idx), AX_ERR_IO, "ax_idx_read");
    assert_message_has(tmp_path("nope.gz"));
    AX_ASSERT_FAILS(ax_idx_read(tmp_dir, &idx), AX_ERR_IO, "ax_idx_read"); /* a folder */
    AX_ASSERT_FAILS(ax_idx_read(NULL, &idx), AX_ERR_INVALID_ARG, "ax_idx_read");
    AX_ASSERT_FAILS(ax_idx_read(tmp_path("x"), NULL), AX_ERR_INVALID_ARG, "ax_idx_read");
}

/* ax_mnist_load on tmp_dir fails with status, naming the call and `what`. */
static void assert_mnist_fails(ax_status status, const char *what) {
    float *x = (float *)1;
    int32_t *y = (int32_t *)1;
    int64_t n = 1;
    AX_ASSERT_FAILS(ax_mnist_load(tmp_dir, 1, &x, &y, &n), status, "ax_mnist_load");
    assert_message_has(what);
    cr_assert(x == NULL && y == NULL && n == 0);
}

Test(badinput, mnist_inconsistent) {
    const unsigned char labels[3] = {1, 2, 3};
    make_tmp();
    assert_mnist_fails(AX_ERR_IO, "train-images-idx3-ubyte.gz");
    write_mnist("train", 3, labels, 2, 1); /* 3 images, 2 labels */
    assert_mnist_fails(AX_ERR_FORMAT, "holds 3 images");
    remove_tmp();

    const unsigned char ten[3] = {1, 10, 3};
    make_tmp();
    write_mnist("train", 3, ten, 3, 0);
    assert_mnist_fails(AX_ERR_FORMAT, "label 1 is 10");
    remove_tmp();

    make_tmp(); /* images that are not 28 x 28 */
    write_mnist("train", 3, labels, 3, 1);
    uint32_t dims[3] = {3, 27, 28};
    unsigned char pixels[3 * 27 * 28] = {0};
    size_t size;
    unsigned char *b = idx_bytes(AX_IDX_U8, 3, dims, pixels, sizeof pixels, &size);
    write_gz("train-images-idx3-ubyte.gz", b, size);
    free(b);
    assert_mnist_fails(AX_ERR_FORMAT, "[3, 27, 28]");
    remove(tmp_path("train-labels-idx1-ubyte.gz"));
    assert_mnist_fails(AX_ERR_IO, "train-labels-idx1-ubyte");

    float *x;
    int32_t *y;
    int64_t n;
    AX_ASSERT_FAILS(ax_mnist_load(NULL, 1, &x, &y, &n), AX_ERR_INVALID_ARG, "ax_mnist_load");
    AX_ASSERT_FAILS(ax_mnist_load(tmp_dir, 1, NULL, &y, &n), AX_ERR_INVALID_ARG,
                    "ax_mnist_load");
}

Test(badinput, data_dir_not_found) {
    char dir[PATH_MAX], none[PATH_MAX], env[PATH_MAX];
    make_tmp();
    make_dirs("deep/er");
    cr_assert_eq(chdir(tmp_path("deep/er")), 0);
    snprintf(none, sizeof none, "%s/none", tmp_dir);
    snprintf(env, sizeof env, "%s/env", tmp_dir);
    cr_assert_eq(setenv("AXON_DATA", env, 1), 0);
    AX_ASSERT_FAILS(ax_data_dir(none, "mnist", dir, sizeof dir), AX_ERR_IO, "ax_data_dir");
    assert_message_has(none);
    AX_ASSERT_FAILS(ax_data_dir(NULL, "mnist", dir, sizeof dir), AX_ERR_IO, "ax_data_dir");
    assert_message_has(env);
    cr_assert_eq(unsetenv("AXON_DATA"), 0);
    AX_ASSERT_FAILS(ax_data_dir(NULL, "mnist", dir, sizeof dir), AX_ERR_IO, "ax_data_dir");
    assert_message_has("/deep/shared/data/mnist"); /* ../shared/data from the current folder */
    assert_message_has("/shared/data/mnist");
    assert_message_has("train-images-idx3-ubyte.gz");
    assert_message_has("AXON_DATA");
    assert_message_has("--data");
    AX_ASSERT_FAILS(ax_data_dir(NULL, "tinyshakespeare", dir, sizeof dir), AX_ERR_IO,
                    "ax_data_dir");
    assert_message_has("input.txt");

    AX_ASSERT_FAILS(ax_data_dir(NULL, "cifar", dir, sizeof dir), AX_ERR_INVALID_ARG,
                    "ax_data_dir");
    make_dirs("env/mnist");
    write_file("env/mnist/train-images-idx3-ubyte.gz", "", 0);
    cr_assert_eq(setenv("AXON_DATA", env, 1), 0);
    AX_ASSERT_FAILS(ax_data_dir(NULL, "mnist", dir, 8), AX_ERR_INVALID_ARG, "ax_data_dir");
    AX_ASSERT_FAILS(ax_data_dir(NULL, NULL, dir, sizeof dir), AX_ERR_INVALID_ARG,
                    "ax_data_dir");
}

Test(badinput, text_files) {
    make_tmp();
    ax_text_dataset *ds = (ax_text_dataset *)1;
    write_file("empty.txt", "", 0);
    AX_ASSERT_FAILS(ax_text_dataset_load(tmp_path("empty.txt"), &ds), AX_ERR_FORMAT,
                    "ax_text_dataset_load");
    assert_message_has("empty");
    cr_assert_null(ds);
    AX_ASSERT_FAILS(ax_text_dataset_load(tmp_path("missing.txt"), &ds), AX_ERR_IO,
                    "ax_text_dataset_load");
    assert_message_has(tmp_path("missing.txt"));
    AX_ASSERT_FAILS(ax_text_dataset_load(tmp_dir, &ds), AX_ERR_IO, "ax_text_dataset_load");
    AX_ASSERT_FAILS(ax_text_dataset_load(NULL, &ds), AX_ERR_INVALID_ARG,
                    "ax_text_dataset_load");
}

Test(badinput, text_calls) {
    make_tmp();
    write_file("abc.txt", "abcabc", 6);
    ax_text_dataset *ds, *train, *val;
    AX_ASSERT_OK(ax_text_dataset_load(tmp_path("abc.txt"), &ds));
    int32_t ids[8];
    char out[8];
    AX_ASSERT_FAILS(ax_text_encode(ds, "abZ", 3, ids), AX_ERR_INVALID_ARG, "ax_text_encode");
    assert_message_has("'Z'");
    assert_message_has("position 2");
    AX_ASSERT_FAILS(ax_text_encode(ds, "a\x01", 2, ids), AX_ERR_INVALID_ARG, "ax_text_encode");
    assert_message_has("0x01");
    const int32_t bad_ids[2] = {0, 3};
    AX_ASSERT_FAILS(ax_text_decode(ds, bad_ids, 2, out), AX_ERR_INVALID_ARG, "ax_text_decode");
    AX_ASSERT_FAILS(ax_text_encode(NULL, "a", 1, ids), AX_ERR_INVALID_ARG, "ax_text_encode");
    AX_ASSERT_FAILS(ax_text_batch(ds, 1, 6, 0, 0, ids, ids + 6), AX_ERR_INVALID_ARG,
                    "ax_text_batch");
    AX_ASSERT_FAILS(ax_text_batch(ds, 0, 2, 0, 0, ids, ids + 4), AX_ERR_INVALID_ARG,
                    "ax_text_batch");
    AX_ASSERT_FAILS(ax_text_batch(ds, INT64_MAX, 2, 0, 0, ids, ids + 4), AX_ERR_INVALID_ARG,
                    "ax_text_batch");
    assert_message_has("more than memory can address");
    /* batch x seq_len overflows 64 bits, or its bytes do, with either factor small */
    const int64_t big[][2] = {{INT64_C(1) << 32, INT64_C(1) << 32},
                              {INT64_C(1) << 61, 1},
                              {3, INT64_C(3) << 60},
                              {(INT64_C(1) << 31) + 1, INT64_C(1) << 30}};
    for (size_t k = 0; k < sizeof big / sizeof *big; k++) {
        AX_ASSERT_FAILS(ax_text_batch(ds, big[k][0], big[k][1], 0, 0, ids, ids + 4),
                        AX_ERR_INVALID_ARG, "ax_text_batch");
        assert_message_has("more than memory can address");
    }
    AX_ASSERT_FAILS(ax_text_batch(ds, 1, 2, 0, 0, NULL, ids), AX_ERR_INVALID_ARG,
                    "ax_text_batch");
    AX_ASSERT_FAILS(ax_text_dataset_split(ds, 1.0, &train, &val), AX_ERR_INVALID_ARG,
                    "ax_text_dataset_split");
    cr_assert(train == NULL && val == NULL);
    AX_ASSERT_FAILS(ax_text_dataset_split(ds, 0.9, &train, &val), AX_ERR_INVALID_ARG,
                    "ax_text_dataset_split"); /* 5 and 1 characters */
    cr_assert_eq(ax_text_vocab_size(NULL), 0);
    cr_assert_eq(ax_text_length(NULL), 0);
    cr_assert_null(ax_text_ids(NULL));
    ax_text_dataset_destroy(ds);
}

/* ---------------------------------------------------------------- mini-batch loader */

/* N samples of 3 features [i, i + 0.5, -i] with label 1000 + i, a loader over them and CPU
 * tensors for its batches. */
typedef struct loader_case {
    ax_ctx *ctx;
    int64_t n, batch;
    float *x;
    int32_t *y;
    ax_data_loader *l;
    ax_tensor *xb, *yb;
    int64_t *got; /* the samples of the last batch */
} loader_case;

#define LOADER_ROW 3

static void loader_open(loader_case *c, int64_t n, int64_t batch, int shuffle, int drop_last,
                        uint64_t seed) {
    memset(c, 0, sizeof *c);
    c->ctx = th_cpu_ctx();
    c->n = n;
    c->x = malloc((size_t)n * LOADER_ROW * sizeof *c->x);
    c->y = malloc((size_t)n * sizeof *c->y);
    c->got = malloc((size_t)n * sizeof *c->got);
    cr_assert(c->x && c->y && c->got);
    for (int64_t i = 0; i < n; i++) {
        c->x[LOADER_ROW * i] = (float)i;
        c->x[LOADER_ROW * i + 1] = (float)i + 0.5f;
        c->x[LOADER_ROW * i + 2] = -(float)i;
        c->y[i] = 1000 + (int32_t)i;
    }
    int64_t shape[2] = {n, LOADER_ROW};
    AX_ASSERT_OK(ax_data_loader_create(c->x, 2, shape, c->y, batch, shuffle, drop_last, seed,
                                       &c->l));
    c->batch = batch < n ? batch : n;
    int64_t xs[2] = {c->batch, LOADER_ROW};
    c->xb = th_nan_tensor(c->ctx, 2, xs);
    AX_ASSERT_OK(ax_tensor_zeros(c->ctx, AX_I32, 1, &c->batch, &c->yb));
}

static void loader_close(loader_case *c) {
    ax_data_loader_destroy(c->l);
    ax_tensor_destroy(c->xb);
    ax_tensor_destroy(c->yb);
    ax_ctx_destroy(c->ctx);
    free(c->x);
    free(c->y);
    free(c->got);
}

/* The next batch into c->got (sample ids, checked against both tensors: every row's features
 * are those of its label's sample); returns its rows, 0 at the end of an epoch. */
static int64_t loader_next(loader_case *c) {
    int64_t rows = -1;
    AX_ASSERT_OK(ax_data_loader_next(c->l, c->xb, c->yb, &rows));
    cr_assert(rows >= 0 && rows <= c->batch, "a batch of %lld rows", (long long)rows);
    if (rows == 0)
        return 0;
    cr_assert(ax_tensor_dim(c->xb, 0) == rows && ax_tensor_dim(c->yb, 0) == rows,
              "x and y hold the batch's rows");
    float *xv = malloc((size_t)rows * LOADER_ROW * sizeof *xv);
    int32_t *yv = malloc((size_t)rows * sizeof *yv);
    cr_assert(xv && yv);
    AX_ASSERT_OK(ax_tensor_to_host(c->xb, xv, (size_t)rows * LOADER_ROW * sizeof *xv));
    AX_ASSERT_OK(ax_tensor_to_host(c->yb, yv, (size_t)rows * sizeof *yv));
    for (int64_t r = 0; r < rows; r++) {
        int64_t s = yv[r] - 1000;
        cr_assert(s >= 0 && s < c->n, "label %d is no sample's", yv[r]);
        cr_assert(xv[LOADER_ROW * r] == (float)s && xv[LOADER_ROW * r + 1] == (float)s + 0.5f &&
                      xv[LOADER_ROW * r + 2] == -(float)s,
                  "row %lld: features [%g, %g, %g] with the label of sample %lld", (long long)r,
                  xv[LOADER_ROW * r], xv[LOADER_ROW * r + 1], xv[LOADER_ROW * r + 2],
                  (long long)s);
        c->got[r] = s;
    }
    free(xv);
    free(yv);
    return rows;
}

/* One whole epoch into order (the samples served, in order); returns how many. Checks that no
 * sample comes twice, that every batch but the last is full, and that the epoch ends with a
 * call that returns 0 rows and moves to the next epoch. */
static int64_t loader_epoch(loader_case *c, int64_t *order, int64_t *n_batches) {
    int64_t epoch = ax_data_loader_epoch(c->l), total = 0, rows, batches = 0, last = c->batch;
    char *seen = calloc((size_t)c->n, 1);
    cr_assert_not_null(seen);
    while ((rows = loader_next(c)) > 0) {
        cr_assert_eq(last, c->batch, "only the last batch may be partial");
        cr_assert_eq(ax_data_loader_epoch(c->l), epoch, "a batch of epoch %lld", (long long)epoch);
        for (int64_t r = 0; r < rows; r++) {
            cr_assert(!seen[c->got[r]], "sample %lld twice in an epoch", (long long)c->got[r]);
            seen[c->got[r]] = 1;
            order[total + r] = c->got[r];
        }
        total += rows;
        last = rows;
        batches++;
    }
    cr_assert_eq(ax_data_loader_epoch(c->l), epoch + 1, "the end of an epoch starts the next");
    free(seen);
    if (n_batches)
        *n_batches = batches;
    return total;
}

/* Sizes that divide the batch and sizes that do not, with and without drop_last and shuffle. */
Test(loader, batches_and_drop_last) {
    enum { B = 4 };
    const int64_t sizes[] = {1, B - 1, B, B + 1, 2 * B, 2 * B + 1, 7 * B + 3};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int64_t n = sizes[k];
        int64_t b = n < B ? n : B; /* a batch above N is taken as N */
        for (int drop = 0; drop < 2; drop++) {
            for (int shuffle = 0; shuffle < 2; shuffle++) {
                loader_case c;
                loader_open(&c, n, B, shuffle, drop, 5 + (uint64_t)k);
                int64_t want_batches = drop ? n / b : (n + b - 1) / b;
                int64_t want_rows = drop ? n / b * b : n;
                cr_assert_eq(ax_data_loader_batches(c.l), want_batches,
                             "N %lld, B %d, drop_last %d: %lld batches, expected %lld",
                             (long long)n, B, drop, (long long)ax_data_loader_batches(c.l),
                             (long long)want_batches);
                int64_t *order = malloc((size_t)n * sizeof *order);
                cr_assert_not_null(order);
                for (int epoch = 0; epoch < 3; epoch++) {
                    int64_t batches;
                    int64_t total = loader_epoch(&c, order, &batches);
                    cr_assert_eq(total, want_rows, "N %lld drop_last %d: %lld rows an epoch",
                                 (long long)n, drop, (long long)total);
                    cr_assert_eq(batches, want_batches);
                    if (!shuffle)
                        for (int64_t i = 0; i < total; i++)
                            cr_assert_eq(order[i], i, "unshuffled: sample %lld at %lld",
                                         (long long)order[i], (long long)i);
                }
                /* the last, partial batch holds the epoch's last rows */
                if (!drop && n % b) {
                    for (int64_t i = 0; i < want_batches - 1; i++)
                        cr_assert_eq(loader_next(&c), b);
                    cr_assert_eq(loader_next(&c), n % b);
                    if (!shuffle)
                        for (int64_t r = 0; r < n % b; r++)
                            cr_assert_eq(c.got[r], n - n % b + r);
                }
                free(order);
                loader_close(&c);
            }
        }
    }
}

/* No samples, and labels that are not there. */
Test(loader, empty_and_unlabelled) {
    float x[3] = {1, 2, 3};
    int64_t zero[2] = {0, 3}, one[2] = {1, 3};
    ax_data_loader *l = (ax_data_loader *)1;
    AX_ASSERT_FAILS(ax_data_loader_create(x, 2, zero, NULL, 1, 0, 0, 0, &l), AX_ERR_SHAPE,
                    "ax_data_loader_create");
    cr_assert_null(l);
    cr_assert_eq(ax_data_loader_batches(NULL), 0);

    ax_ctx *ctx = th_cpu_ctx();
    AX_ASSERT_OK(ax_data_loader_create(x, 2, one, NULL, 8, 1, 1, 0, &l));
    cr_assert_eq(ax_data_loader_batches(l), 1);
    ax_tensor *xb = th_nan_tensor(ctx, 2, one);
    int64_t n = -1;
    AX_ASSERT_OK(ax_data_loader_next(l, xb, NULL, &n));
    cr_assert_eq(n, 1);
    float got[3];
    AX_ASSERT_OK(ax_tensor_to_host(xb, got, sizeof got));
    cr_assert_arr_eq(got, x, sizeof x);
    AX_ASSERT_OK(ax_data_loader_next(l, xb, NULL, &n));
    cr_assert_eq(n, 0);
    cr_assert_eq(ax_data_loader_epoch(l), 1);
    ax_data_loader_destroy(l);
    ax_tensor_destroy(xb);
    ax_ctx_destroy(ctx);
}

/* A batch tensor of the wrong dtype is refused, the message naming both dtypes; the labels
 * arrive as i32 whole. */
Test(loader, batch_dtypes) {
    float x[4] = {1, 2, 3, 4};
    int32_t y[2] = {-7, 2147483647};
    int64_t xs[2] = {2, 2}, ys[1] = {2};
    ax_ctx *ctx = th_cpu_ctx();
    ax_data_loader *l = NULL;
    AX_ASSERT_OK(ax_data_loader_create(x, 2, xs, y, 2, 0, 0, 0, &l));
    ax_tensor *xf = th_nan_tensor(ctx, 2, xs), *xi = NULL, *yf = th_nan_tensor(ctx, 1, ys);
    ax_tensor *yi = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_I32, 2, xs, &xi));
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_I32, 1, ys, &yi));
    int64_t n = -1;
    AX_ASSERT_FAILS(ax_data_loader_next(l, xi, yi, &n), AX_ERR_DTYPE, "ax_data_loader_next");
    cr_assert(strstr(ax_last_error(), "x is i32, expected f32") != NULL, "%s", ax_last_error());
    AX_ASSERT_FAILS(ax_data_loader_next(l, xf, yf, &n), AX_ERR_DTYPE, "ax_data_loader_next");
    cr_assert(strstr(ax_last_error(), "y is f32, expected i32") != NULL, "%s", ax_last_error());
    cr_assert_eq(n, 0);
    AX_ASSERT_OK(ax_data_loader_next(l, xf, yi, &n));
    cr_assert_eq(n, 2);
    float gx[4];
    int32_t gy[2];
    AX_ASSERT_OK(ax_tensor_to_host(xf, gx, sizeof gx));
    AX_ASSERT_OK(ax_tensor_to_host(yi, gy, sizeof gy));
    cr_assert_arr_eq(gx, x, sizeof x);
    cr_assert_arr_eq(gy, y, sizeof y);
    ax_data_loader_destroy(l);
    ax_tensor_destroy(xf);
    ax_tensor_destroy(xi);
    ax_tensor_destroy(yf);
    ax_tensor_destroy(yi);
    ax_ctx_destroy(ctx);
}

/* Index of the permutation of {0, 1, 2} in order[0..3), in 0..5. */
static int perm3_index(const int64_t *order) {
    static const int64_t perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                        {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int p = 0; p < 6; p++)
        if (memcmp(order, perms[p], sizeof perms[p]) == 0)
            return p;
    cr_assert_fail("[%lld, %lld, %lld] is not a permutation of 3", (long long)order[0],
                   (long long)order[1], (long long)order[2]);
    return -1;
}

/* Pearson's chi-square of observed counts against equal expected counts. */
static double chi_square_uniform(const int64_t *counts, int cells, int64_t total) {
    double expected = (double)total / cells, chi2 = 0.0;
    for (int i = 0; i < cells; i++) {
        double d = (double)counts[i] - expected;
        chi2 += d * d / expected;
    }
    return chi2;
}

/* Fisher-Yates gives each of the 3! orders probability 1/6. Drawing j from [0, i) instead of
 * [0, i] (Sattolo's algorithm) gives only the 2 cyclic ones, and a lazy shuffle leaves some
 * out or favours others. 6000 epochs, 5 degrees of freedom: a fair shuffle exceeds 30 with
 * probability 1.5e-5, and the seeds are fixed, so the result is deterministic. */
Test(loader, shuffle_every_permutation_equally_often) {
    enum { EPOCHS = 6000 };
    const uint64_t seeds[] = {0, 1, 42, 0x9e3779b97f4a7c15ull};
    for (size_t s = 0; s < sizeof seeds / sizeof *seeds; s++) {
        loader_case c;
        loader_open(&c, 3, 3, 1, 0, seeds[s]);
        int64_t counts[6] = {0}, order[3];
        for (int e = 0; e < EPOCHS; e++) {
            cr_assert_eq(loader_epoch(&c, order, NULL), 3);
            counts[perm3_index(order)]++;
        }
        double chi2 = chi_square_uniform(counts, 6, EPOCHS);
        cr_assert(chi2 < 30.0,
                  "seed %llu: permutation counts %lld %lld %lld %lld %lld %lld, chi-square "
                  "%.1f (5 dof) is not uniform",
                  (unsigned long long)seeds[s], (long long)counts[0], (long long)counts[1],
                  (long long)counts[2], (long long)counts[3], (long long)counts[4],
                  (long long)counts[5], chi2);
        cr_assert(counts[0] > 0, "the original order comes back");
        loader_close(&c);
    }
}

/* Every sample is equally likely at every position: N = 10 over 20000 epochs, a 10 x 10
 * table of (sample, position) counts, chi-square with 81 degrees of freedom (mean 81, sd 12.7);
 * a fair shuffle exceeds 170 with probability below 1e-7. */
Test(loader, shuffle_positions_uniform) {
    enum { N = 10, EPOCHS = 20000 };
    loader_case c;
    loader_open(&c, N, 4, 1, 0, 2024);
    int64_t counts[N * N] = {0}, order[N];
    for (int e = 0; e < EPOCHS; e++) {
        cr_assert_eq(loader_epoch(&c, order, NULL), N);
        for (int p = 0; p < N; p++)
            counts[order[p] * N + p]++;
    }
    double expected = (double)EPOCHS / N, chi2 = 0.0;
    for (int i = 0; i < N * N; i++)
        chi2 += ((double)counts[i] - expected) * ((double)counts[i] - expected) / expected;
    cr_assert(chi2 < 170.0, "(sample, position) chi-square %.1f (81 dof): not uniform", chi2);
    loader_close(&c);
}

/* The Philox word to index mapping over a large range: on N = 40000 samples (not a power of
 * 2), which tenth of the samples lands at the first, middle and last positions is uniform. A
 * modulo of a 16-bit draw (twice the weight for j below 65536 - 40000) or a mapping that
 * cannot reach the top of [0, i] shows here. 800 epochs, 9 dof per position: a fair mapping
 * exceeds 40 with probability 5e-6. */
Test(loader, shuffle_index_mapping_unbiased) {
    enum { N = 40000, EPOCHS = 800, BINS = 10 };
    loader_case c;
    loader_open(&c, N, N, 1, 0, 77);
    const int64_t positions[3] = {0, N / 2, N - 1};
    int64_t counts[3][BINS] = {{0}};
    int64_t *order = malloc(N * sizeof *order);
    cr_assert_not_null(order);
    for (int e = 0; e < EPOCHS; e++) {
        cr_assert_eq(loader_epoch(&c, order, NULL), N);
        for (int p = 0; p < 3; p++)
            counts[p][order[positions[p]] * BINS / N]++;
    }
    for (int p = 0; p < 3; p++) {
        double chi2 = chi_square_uniform(counts[p], BINS, EPOCHS);
        cr_assert(chi2 < 40.0, "position %lld: the sample's tenth has chi-square %.1f (9 dof)",
                  (long long)positions[p], chi2);
    }
    free(order);
    loader_close(&c);
}

/* Each epoch its own order, a function of (seed, epoch): 30 epochs of 12 samples differ
 * pairwise, another loader with the seed repeats them, another seed does not. */
Test(loader, shuffle_epochs_differ_and_repeat) {
    enum { N = 12, EPOCHS = 30 };
    loader_case a, b, other;
    loader_open(&a, N, 5, 1, 0, 9);
    loader_open(&b, N, 5, 1, 0, 9);
    loader_open(&other, N, 5, 1, 0, 10);
    int64_t orders[EPOCHS][N], again[N], third[N];
    int same_as_other = 0;
    for (int e = 0; e < EPOCHS; e++) {
        cr_assert_eq(loader_epoch(&a, orders[e], NULL), N);
        cr_assert_eq(loader_epoch(&b, again, NULL), N);
        cr_assert_eq(loader_epoch(&other, third, NULL), N);
        cr_assert(memcmp(orders[e], again, sizeof again) == 0, "epoch %d: the same seed repeats",
                  e);
        same_as_other += memcmp(orders[e], third, sizeof third) == 0;
        for (int f = 0; f < e; f++)
            cr_assert(memcmp(orders[e], orders[f], sizeof again) != 0,
                      "epochs %d and %d have the same order", f, e);
    }
    cr_assert_eq(same_as_other, 0, "another seed gives other orders");
    loader_close(&a);
    loader_close(&b);
    loader_close(&other);
}

/* Shapes whose sizes overflow int64 or size_t are refused before anything is allocated (an
 * overflowed product would allocate a short staging buffer that the gather overruns). */
Test(badinput, loader_overflowing_shapes) {
    float x[4] = {0};
    int32_t y[4] = {0};
    const int64_t big = INT64_C(1) << 62;
    const int64_t shapes[][4] = {
        {1, big, 1, 1},                          /* 2^62 floats: 2^64 bytes */
        {4, big, 1, 1},                          /* batch * row = 2^64 */
        {2, INT64_C(1) << 32, INT64_C(1) << 32, 1}, /* the row overflows to 0 */
        {1, (INT64_C(1) << 33) + 1, INT64_C(1) << 31, 1}, /* the row wraps to 2^31 */
        {3, INT64_C(3) << 60, 1, 1},
        {INT64_MAX, 1, 1, 1}, /* N overflows the order's bytes */
        {big, 1, 1, 1},
        {INT64_C(1) << 61, 1, 1, 1},
        {2, 2, INT64_MAX, 1},
        {1, 1, 1, INT64_MAX},
    };
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        for (int batch = 1; batch <= 4; batch += 3) {
            ax_data_loader *l = (ax_data_loader *)1;
            AX_ASSERT_FAILS(ax_data_loader_create(x, 4, shapes[k], y, batch, 1, 0, 0, &l),
                            AX_ERR_SHAPE, "ax_data_loader_create");
            cr_assert_null(l, "shape %zu: out is NULL", k);
        }
    }
}

/* The draw behind the shuffle, for datasets beyond 2^32 samples too (which the tests above
 * cannot build): j = floor(word (i + 1) / 2^w) exactly, against a 128-bit product, with a
 * 32-bit word up to i + 1 = 2^32 and a 64-bit word above. */
__extension__ typedef unsigned __int128 u128;

Test(loader, draw_matches_multiply_shift) {
    const uint64_t is[] = {1,
                           2,
                           3,
                           9,
                           (UINT64_C(1) << 32) - 2,
                           (UINT64_C(1) << 32) - 1,
                           UINT64_C(1) << 32,
                           (UINT64_C(1) << 32) + 1,
                           (UINT64_C(1) << 40) + 12345,
                           (UINT64_C(1) << 61) - 1,
                           UINT64_MAX - 1};
    for (uint64_t seed = 0; seed < 3; seed++) {
        for (uint64_t epoch = 0; epoch < 50; epoch++) {
            for (size_t k = 0; k < sizeof is / sizeof *is; k++) {
                uint64_t i = is[k], want;
                if (i < (UINT64_C(1) << 32)) {
                    philox4x32_ctr_t r = ax_philox_block(seed, epoch, i / 4);
                    want = (uint64_t)(((u128)r.v[i % 4] * (i + 1)) >> 32);
                } else {
                    philox4x32_ctr_t r = ax_philox_block(seed, epoch, i / 2);
                    uint64_t word = (uint64_t)r.v[2 * (i % 2) + 1] << 32 | r.v[2 * (i % 2)];
                    want = (uint64_t)(((u128)word * (i + 1)) >> 64);
                }
                uint64_t j = ax_loader_draw(seed, epoch, i);
                cr_assert_eq(j, want, "seed %llu epoch %llu i %llu: j %llu, expected %llu",
                             (unsigned long long)seed, (unsigned long long)epoch,
                             (unsigned long long)i, (unsigned long long)j,
                             (unsigned long long)want);
                cr_assert(j <= i);
            }
        }
    }
}

/* Above 2^32 the draw still covers [0, i] uniformly: 16 equal bins of j for i = 2^40 + 5 and
 * 2^61 - 1 (the largest a loader takes) over 4000 epochs, chi-square with 15 dof below 50
 * (probability 1e-5 for a fair draw). A 32-bit word there would leave all but the first bin
 * empty. */
Test(loader, draw_uniform_beyond_32_bits) {
    enum { EPOCHS = 4000, BINS = 16 };
    const uint64_t is[] = {(UINT64_C(1) << 40) + 5, (UINT64_C(1) << 61) - 1};
    for (size_t k = 0; k < 2; k++) {
        int64_t counts[BINS] = {0};
        for (uint64_t e = 0; e < EPOCHS; e++) {
            uint64_t j = ax_loader_draw(3, e, is[k]);
            cr_assert(j <= is[k]);
            counts[(uint64_t)(((u128)j * BINS) / ((u128)is[k] + 1))]++;
        }
        double chi2 = chi_square_uniform(counts, BINS, EPOCHS);
        cr_assert(chi2 < 50.0, "i = %llu: chi-square %.1f over %d bins",
                  (unsigned long long)is[k], chi2, BINS);
    }
}

/* ---------------------------------------------------------------- feeding host data */

/* A compiled graph: x f32 [4, 2, 3] flattened by a sum over axis 2 into [4, 2], a dense layer
 * to 3 classes, cross-entropy with labels y [4]. */
typedef struct feed_case {
    ax_ctx *ctx;
    ax_graph *g;
    ax_node *x, *y, *s, *logits, *loss;
} feed_case;

enum { FEED_MAX = 4, FEED_ROW = 6 };

static void feed_open(feed_case *c, int compile) {
    c->ctx = th_cpu_ctx();
    AX_ASSERT_OK(ax_graph_create(c->ctx, 3, &c->g));
    AX_ASSERT_OK(ax_graph_input(c->g, "x", 3, (int64_t[]){FEED_MAX, 2, 3}, &c->x));
    AX_ASSERT_OK(ax_graph_labels(c->g, "y", FEED_MAX, &c->y));
    AX_ASSERT_OK(ax_graph_sum(c->g, "s", c->x, 2, &c->s));
    AX_ASSERT_OK(ax_graph_dense(c->g, "fc", c->s, 3, &c->logits));
    AX_ASSERT_OK(ax_graph_cross_entropy(c->g, "loss", c->logits, c->y, &c->loss));
    if (compile)
        AX_ASSERT_OK(ax_graph_compile(c->g, c->loss));
}

static void feed_close(feed_case *c) {
    ax_graph_destroy(c->g);
    ax_ctx_destroy(c->ctx);
}

/* Host rows land in the input, with its row count, and give the loss that the same data fed
 * as tensors give, for every batch from 1 to the max. */
Test(feed, host_rows_match_tensor_feed) {
    feed_case a, b;
    feed_open(&a, 1);
    feed_open(&b, 1);
    float x[FEED_MAX * FEED_ROW];
    int32_t y[FEED_MAX] = {2, 0, 1, 2};
    th_random(x, FEED_MAX * FEED_ROW, 11, -2.0f, 2.0f);
    for (int64_t rows = 1; rows <= FEED_MAX; rows++) {
        AX_ASSERT_OK(ax_graph_feed_f32(a.g, a.x, x, rows));
        AX_ASSERT_OK(ax_graph_feed_i32(a.g, a.y, y, rows));
        ax_tensor *xv = ax_graph_value(a.g, a.x), *yv = ax_graph_value(a.g, a.y);
        cr_assert(ax_tensor_dim(xv, 0) == rows && ax_tensor_dim(xv, 1) == 2 &&
                  ax_tensor_dim(xv, 2) == 3 && ax_tensor_dim(yv, 0) == rows);
        cr_assert_eq(ax_graph_batch(a.g), rows);
        float got_x[FEED_MAX * FEED_ROW];
        int32_t got_y[FEED_MAX];
        AX_ASSERT_OK(ax_tensor_to_host(xv, got_x, (size_t)rows * FEED_ROW * sizeof(float)));
        AX_ASSERT_OK(ax_tensor_to_host(yv, got_y, (size_t)rows * sizeof(int32_t)));
        th_assert_equal(got_x, x, rows * FEED_ROW, "fed features");
        cr_assert_arr_eq(got_y, y, (size_t)rows * sizeof(int32_t), "fed labels");

        ax_tensor *xt = th_tensor(b.ctx, 3, (int64_t[]){rows, 2, 3}, x);
        ax_tensor *yt = th_tensor_i32(b.ctx, 1, &rows, y);
        AX_ASSERT_OK(ax_graph_feed(b.g, b.x, xt));
        AX_ASSERT_OK(ax_graph_feed(b.g, b.y, yt));
        ax_tensor_destroy(xt);
        ax_tensor_destroy(yt);
        float la, lb;
        AX_ASSERT_OK(ax_graph_forward(a.g));
        AX_ASSERT_OK(ax_graph_forward(b.g));
        AX_ASSERT_OK(ax_graph_loss(a.g, &la));
        AX_ASSERT_OK(ax_graph_loss(b.g, &lb));
        cr_assert(la == lb && la > 0.0f, "rows %lld: loss %g from host data, %g from tensors",
                  (long long)rows, la, lb);
    }
    feed_close(&a);
    feed_close(&b);
}

Test(feed, bad_host_feeds) {
    feed_case c, other;
    feed_open(&c, 1);
    feed_open(&other, 1);
    float x[(FEED_MAX + 1) * FEED_ROW] = {0};
    int32_t y[FEED_MAX + 1] = {0};
    const int64_t bad_rows[] = {0, -1, FEED_MAX + 1, INT64_MAX, INT64_MIN};
    for (size_t k = 0; k < sizeof bad_rows / sizeof *bad_rows; k++) {
        AX_ASSERT_FAILS(ax_graph_feed_f32(c.g, c.x, x, bad_rows[k]), AX_ERR_SHAPE,
                        "ax_graph_feed_f32");
        AX_ASSERT_FAILS(ax_graph_feed_i32(c.g, c.y, y, bad_rows[k]), AX_ERR_SHAPE,
                        "ax_graph_feed_i32");
    }
    cr_assert_eq(ax_tensor_dim(ax_graph_value(c.g, c.x), 0), FEED_MAX, "a refusal changes nothing");
    AX_ASSERT_FAILS(ax_graph_feed_f32(c.g, c.y, x, 1), AX_ERR_DTYPE, "ax_graph_feed_f32");
    assert_message_has("'y' takes i32");
    AX_ASSERT_FAILS(ax_graph_feed_i32(c.g, c.x, y, 1), AX_ERR_DTYPE, "ax_graph_feed_i32");
    AX_ASSERT_FAILS(ax_graph_feed_f32(c.g, c.x, NULL, 1), AX_ERR_INVALID_ARG,
                    "ax_graph_feed_f32");
    AX_ASSERT_FAILS(ax_graph_feed_i32(c.g, c.y, NULL, 1), AX_ERR_INVALID_ARG,
                    "ax_graph_feed_i32");
    AX_ASSERT_FAILS(ax_graph_feed_f32(c.g, c.s, x, 1), AX_ERR_INVALID_ARG, "ax_graph_feed_f32");
    assert_message_has("not an input");
    AX_ASSERT_FAILS(ax_graph_feed_f32(c.g, other.x, x, 1), AX_ERR_INVALID_ARG,
                    "ax_graph_feed_f32");
    AX_ASSERT_FAILS(ax_graph_feed_f32(c.g, NULL, x, 1), AX_ERR_INVALID_ARG, "ax_graph_feed_f32");
    AX_ASSERT_FAILS(ax_graph_feed_f32(NULL, c.x, x, 1), AX_ERR_INVALID_ARG, "ax_graph_feed_f32");
    feed_close(&c);
    feed_close(&other);

    feed_case raw;
    feed_open(&raw, 0);
    AX_ASSERT_FAILS(ax_graph_feed_f32(raw.g, raw.x, x, 1), AX_ERR_STATE, "ax_graph_feed_f32");
    feed_close(&raw);
}

/* The parameter arrays: the graph's parameters in creation order, gradients once compiled. */
Test(feed, param_list) {
    feed_case c;
    feed_open(&c, 0);
    ax_param_list p;
    AX_ASSERT_OK(ax_graph_params(c.g, &p));
    const char *names[2] = {"fc.weight", "fc.bias"};
    for (int compiled = 0; compiled < 2; compiled++) {
        if (compiled) {
            AX_ASSERT_OK(ax_graph_compile(c.g, c.loss));
            AX_ASSERT_OK(ax_graph_params(c.g, &p));
        }
        cr_assert(p.n == 2 && p.n == ax_graph_param_count(c.g));
        for (int k = 0; k < p.n; k++) {
            const char *name;
            ax_tensor *v, *gr;
            AX_ASSERT_OK(ax_graph_param_get(c.g, k, &name, &v, &gr));
            cr_assert_str_eq(name, names[k]);
            cr_assert(p.values[k] == v && p.grads[k] == gr && gr != NULL, "parameter %d", k);
        }
    }
    memset(&p, 0x5a, sizeof p);
    AX_ASSERT_FAILS(ax_graph_params(NULL, &p), AX_ERR_INVALID_ARG, "ax_graph_params");
    cr_assert(p.n == 0 && p.values == NULL && p.grads == NULL, "out is cleared on failure");
    AX_ASSERT_FAILS(ax_graph_params(c.g, NULL), AX_ERR_INVALID_ARG, "ax_graph_params");
    feed_close(&c);
}
