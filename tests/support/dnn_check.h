/* For the GPU tests that use cuDNN as an oracle (built with AXON_TEST_CUDNN): a cuDNN call
 * that does not succeed fails the test, naming the call and cuDNN's message. Include after
 * <cudnn.h> and <criterion/criterion.h>. */
#ifndef AX_TEST_DNN_CHECK_H
#define AX_TEST_DNN_CHECK_H

#define DNN_OK(expr)                                                                           \
    do {                                                                                       \
        cudnnStatus_t dnn_st_ = (expr);                                                        \
        cr_assert_eq(dnn_st_, CUDNN_STATUS_SUCCESS, "%s: %s", #expr,                           \
                     cudnnGetErrorString(dnn_st_));                                            \
    } while (0)

#endif
