/* The layers of the MNIST CNN (mnist_cnn_model.h). */
#include "mnist_cnn_model.h"

#include <stdio.h>

#define TRY(call)                                                                                \
    do {                                                                                         \
        ax_status st_ = (call);                                                                  \
        if (st_ != AX_OK)                                                                        \
            return st_;                                                                          \
    } while (0)

/* conv<i> 3x3 to `out` channels keeping the plane's size (padding 1) - bn<i> - relu<i> -
 * pool<i> 2x2: [N, C, H, W] -> [N, out, H/2, W/2]. */
static ax_status conv_block(ax_graph *g, int i, ax_node *x, int64_t out, ax_node **y) {
    char conv[8], bn[8], relu[8], pool[8];
    snprintf(conv, sizeof conv, "conv%d", i);
    snprintf(bn, sizeof bn, "bn%d", i);
    snprintf(relu, sizeof relu, "relu%d", i);
    snprintf(pool, sizeof pool, "pool%d", i);
    const ax_graph_conv2d_opts opts = {.out_channels = out, .kernel_h = 3, .kernel_w = 3,
                                       .pad_top = 1, .pad_bottom = 1, .pad_left = 1,
                                       .pad_right = 1};
    const ax_pool2d_desc two = ax_pool2d_desc_default(2, 2);
    ax_node *h;
    TRY(ax_graph_conv2d(g, conv, x, &opts, &h));
    TRY(ax_graph_batch_norm(g, bn, h, AX_BN_MOMENTUM, AX_BN_EPS, &h));
    TRY(ax_graph_activation(g, relu, AX_ACT_RELU, 0.0f, h, &h));
    return ax_graph_max_pool2d(g, pool, h, &two, y);
}

ax_status ex_mnist_cnn_layers(ax_graph *g, ax_node *x, float dropout, ax_node **logits) {
    ax_node *h;
    TRY(conv_block(g, 1, x, 32, &h));
    TRY(conv_block(g, 2, h, 64, &h));
    TRY(ax_graph_flatten(g, "flatten", h, &h));
    TRY(ax_graph_dropout(g, "drop", h, dropout, &h));
    TRY(ax_graph_dense(g, "fc1", h, 128, &h));
    TRY(ax_graph_activation(g, "relu3", AX_ACT_RELU, 0.0f, h, &h));
    return ax_graph_dense(g, "fc2", h, 10, logits);
}
