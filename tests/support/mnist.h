/* Datasets for tests (MNIST above all), through the library's reader (ax_data_dir,
 * ax_mnist_load). */
#ifndef AX_TEST_MNIST_H
#define AX_TEST_MNIST_H

#include <stddef.h>
#include <stdint.h>

#define TH_MNIST_PIXELS 784

/* Printed on stderr before a skip for a missing dataset; ctest's SKIP_REGULAR_EXPRESSION
 * (tests/CMakeLists.txt) turns it into "Skipped" in the summary. */
#define TH_DATASET_MISSING "axon-tests: dataset missing, test skipped:"

/* Why a missing dataset must fail rather than skip here, or NULL when a skip is fine:
 * AXON_REQUIRE_DATA is set (not to "0"), AXON_DATA is set (a folder the user named must hold
 * it), or the checkout's ../shared/data exists ($AXON_SOURCE_DIR or the source tree the tests
 * were built from), as it does in CI and on the machines the project runs on. */
const char *th_data_required(void);

/* The folder of `dataset` ("mnist", "tinyshakespeare") as ax_data_dir(NULL, ...) finds it.
 * When it is not there: a test failure when th_data_required() says so, otherwise
 * TH_DATASET_MISSING and the reason on stderr, then cr_skip() with the reason. Call it before
 * allocating anything a skip would leak. */
void th_dataset_or_skip(const char *dataset, char *dir, size_t size);

/* th_dataset_or_skip for MNIST. */
void th_mnist_require(void);

/* Rows [first, first + count) of the training set: pixels scaled to [0, 1] into
 * x[count * 784], labels into y[count]. Finds the data as th_mnist_require does; asserts on
 * a malformed or short file. */
void th_mnist_train(int64_t first, int64_t count, float *x, int32_t *y);

#endif
