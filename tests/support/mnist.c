#include "mnist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "axon.h"

static int flag_set(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

const char *th_data_required(void) {
    static char why[4300];
    if (flag_set("AXON_REQUIRE_DATA"))
        return "AXON_REQUIRE_DATA is set";
    const char *data = getenv("AXON_DATA");
    if (data && *data)
        return "AXON_DATA is set";
    const char *src = getenv("AXON_SOURCE_DIR");
    char shared[4200];
    snprintf(shared, sizeof shared, "%s/../shared/data", src && *src ? src : AXON_SOURCE_DIR);
    struct stat st;
    if (stat(shared, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(why, sizeof why, "%s exists", shared);
        return why;
    }
    return NULL;
}

void th_dataset_or_skip(const char *dataset, char *dir, size_t size) {
    if (ax_data_dir(NULL, dataset, dir, size) == AX_OK)
        return;
    const char *required = th_data_required();
    cr_assert_null(required, "dataset %s must be here (%s) but is not: %s", dataset, required,
                   ax_last_error());
    fprintf(stderr, "%s %s: %s\n", TH_DATASET_MISSING, dataset, ax_last_error());
    cr_skip("dataset %s missing: %s", dataset, ax_last_error());
}

void th_mnist_require(void) {
    char dir[4096];
    th_dataset_or_skip("mnist", dir, sizeof dir);
}

void th_mnist_train(int64_t first, int64_t count, float *x, int32_t *y) {
    char dir[4096];
    th_dataset_or_skip("mnist", dir, sizeof dir);
    float *images = NULL;
    int32_t *labels = NULL;
    int64_t n = 0;
    ax_status st = ax_mnist_load(dir, 1, &images, &labels, &n);
    cr_assert_eq(st, AX_OK, "%s", ax_last_error());
    cr_assert(first >= 0 && first + count <= n, "rows [%lld, %lld) of %lld", (long long)first,
              (long long)(first + count), (long long)n);
    memcpy(x, images + first * TH_MNIST_PIXELS, (size_t)count * TH_MNIST_PIXELS * sizeof *x);
    memcpy(y, labels + first, (size_t)count * sizeof *y);
    ax_mnist_free(images, labels);
}
