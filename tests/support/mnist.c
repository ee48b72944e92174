#include "mnist.h"

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "axon.h"

/* The MNIST folder as the library finds it (--data is not a test option: $AXON_DATA, then
 * ../shared/data from the working directory or a parent), or a skip with its message. */
static void find_mnist(char *dir, size_t size) {
    if (ax_data_dir(NULL, "mnist", dir, size) != AX_OK)
        cr_skip("%s", ax_last_error());
}

void th_mnist_require(void) {
    char dir[4096];
    find_mnist(dir, sizeof dir);
}

void th_mnist_train(int64_t first, int64_t count, float *x, int32_t *y) {
    char dir[4096];
    find_mnist(dir, sizeof dir);
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
