/* The table of graph ops: every op descriptor, listed once. Adding an op to the graph is a
 * file in this folder (its params, shape inference, forward, backward, descriptor and
 * builder) and its line here. */
#ifndef AX_GRAPH_OPS_REGISTRY_H
#define AX_GRAPH_OPS_REGISTRY_H

#define AX_GRAPH_OPS(X)                                                                        \
    X(input)                                                                                   \
    X(param)                                                                                   \
    X(output_slot)                                                                             \
    X(dense)                                                                                   \
    X(matmul)                                                                                  \
    X(activation)                                                                              \
    X(softmax)                                                                                 \
    X(log_softmax)                                                                             \
    X(dropout)                                                                                 \
    X(running_center)                                                                          \
    X(time_step)                                                                               \
    X(add)                                                                                     \
    X(mul)                                                                                     \
    X(scale)                                                                                   \
    X(sum)                                                                                     \
    X(mean)                                                                                    \
    X(mse)                                                                                     \
    X(cross_entropy)                                                                           \
    X(bce)                                                                                     \
    X(l1)                                                                                      \
    X(l2)                                                                                      \
    X(sum_product)                                                                             \
    X(conv2d)                                                                                  \
    X(max_pool2d)                                                                              \
    X(avg_pool2d)                                                                              \
    X(global_avg_pool)                                                                         \
    X(batch_norm)                                                                              \
    X(flatten)                                                                                 \
    X(rnn)                                                                                     \
    X(lstm)                                                                                    \
    X(embedding)

#define AX_GRAPH_OP_DECLARE(op) extern const ax_op_desc ax_op_##op;
AX_GRAPH_OPS(AX_GRAPH_OP_DECLARE)
#undef AX_GRAPH_OP_DECLARE

/* Every descriptor, in the list's order. */
extern const ax_op_desc *const ax_graph_ops[];
extern const int ax_graph_n_ops;

#endif
