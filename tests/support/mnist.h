/* MNIST for tests, through the library's reader (ax_data_dir, ax_mnist_load). */
#ifndef AX_TEST_MNIST_H
#define AX_TEST_MNIST_H

#include <stdint.h>

#define TH_MNIST_PIXELS 784

/* cr_skip()s, saying where it looked, when the MNIST files are not there: call it before
 * allocating anything a skip would leak. */
void th_mnist_require(void);

/* Rows [first, first + count) of the training set: pixels scaled to [0, 1] into
 * x[count * 784], labels into y[count]. cr_skip()s, saying where it looked, when the files
 * are not there; asserts on a malformed or short file. */
void th_mnist_train(int64_t first, int64_t count, float *x, int32_t *y);

#endif
