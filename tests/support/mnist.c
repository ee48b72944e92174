#include "mnist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <criterion/criterion.h>

/* Big-endian u32 from a gz stream; 0 on a short read. */
static int read_be32(gzFile f, uint32_t *out) {
    unsigned char b[4];
    if (gzread(f, b, 4) != 4)
        return 0;
    *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 1;
}

/* The first candidate folder holding train-images-idx3-ubyte.gz, into dir. */
static int find_dir(char *dir, size_t size, char *looked, size_t looked_size) {
    const char *env = getenv("AXON_DATA");
    const char *roots[3] = {NULL, NULL, AXON_SOURCE_DIR};
    const char *suffixes[3] = {"/mnist", "", "/../shared/data/mnist"};
    if (env && *env)
        roots[0] = roots[1] = env;
    looked[0] = '\0';
    for (int i = 0; i < 3; i++) {
        if (!roots[i])
            continue;
        char path[4096];
        int len = snprintf(dir, size, "%s%s", roots[i], suffixes[i]);
        if (len < 0 || (size_t)len >= size)
            continue;
        len = snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
        FILE *f = len > 0 && (size_t)len < sizeof path ? fopen(path, "rb") : NULL;
        if (f) {
            fclose(f);
            return 1;
        }
        size_t used = strlen(looked);
        len = snprintf(looked + used, looked_size - used, "%s%s", used ? ", " : "", dir);
        (void)len; /* a truncated list of places is still a useful message */
    }
    return 0;
}

void th_mnist_require(void) {
    char dir[2048], looked[6400];
    if (!find_dir(dir, sizeof dir, looked, sizeof looked))
        cr_skip("MNIST not found (looked in %s; set AXON_DATA to the folder with the gz IDX "
                "files)",
                looked);
}

void th_mnist_train(int64_t first, int64_t count, float *x, int32_t *y) {
    char dir[2048], looked[6400], path[4096];
    th_mnist_require();
    cr_assert(find_dir(dir, sizeof dir, looked, sizeof looked));
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    gzFile images = gzopen(path, "rb");
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", dir);
    gzFile labels = gzopen(path, "rb");
    cr_assert(images && labels, "cannot open the MNIST files in %s", dir);
    uint32_t magic_i, n_i, rows, cols, magic_l, n_l;
    cr_assert(read_be32(images, &magic_i) && read_be32(images, &n_i) &&
              read_be32(images, &rows) && read_be32(images, &cols) &&
              read_be32(labels, &magic_l) && read_be32(labels, &n_l));
    cr_assert(magic_i == 2051 && magic_l == 2049 && rows * cols == TH_MNIST_PIXELS &&
                  n_i == n_l && first >= 0 && first + count <= (int64_t)n_i,
              "unexpected MNIST headers in %s", dir);
    unsigned char *pixels = malloc(TH_MNIST_PIXELS);
    cr_assert_not_null(pixels);
    for (int64_t i = 0; i < first + count; i++) {
        unsigned char label;
        cr_assert(gzread(images, pixels, TH_MNIST_PIXELS) == TH_MNIST_PIXELS &&
                      gzread(labels, &label, 1) == 1,
                  "MNIST files in %s are truncated", dir);
        if (i < first)
            continue;
        for (int p = 0; p < TH_MNIST_PIXELS; p++)
            x[(i - first) * TH_MNIST_PIXELS + p] = pixels[p] / 255.0f;
        y[i - first] = label;
    }
    free(pixels);
    gzclose(images);
    gzclose(labels);
}
