/* The layers of examples/mnist_cnn, shared with bench/bench_train_cnn so that both run the
 * same model. */
#ifndef EXAMPLES_MNIST_CNN_MODEL_H
#define EXAMPLES_MNIST_CNN_MODEL_H

#include "axon.h"

/* logits [N, 10] of images x [N, 1, 28, 28]:
 *     conv1 32 3x3 (padding 1) - bn1 - ReLU - maxpool 2      -> [N, 32, 14, 14]
 *     conv2 64 3x3 (padding 1) - bn2 - ReLU - maxpool 2      -> [N, 64, 7, 7]
 *     flatten - dropout(p) - fc1 128 - ReLU - fc2 10
 * Parameters and buffers are named as PyTorch names them in a module with attributes conv1,
 * bn1, conv2, bn2, fc1, fc2 (conv1.weight, bn1.running_mean, bn1.num_batches_tracked,
 * fc1.weight, ...); batch norm has PyTorch's momentum and eps. Returns the first failure of
 * the layer calls (ax_last_error says which). */
/* The drop probability mnist_cnn trains with by default (its --dropout). */
#define EX_MNIST_CNN_DROPOUT 0.5f

ax_status ex_mnist_cnn_layers(ax_graph *g, ax_node *x, float dropout, ax_node **logits);

#endif
