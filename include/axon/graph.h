/* axon graph: initialisers and a static graph with reverse-mode autodiff (the mini-batch
 * loader that feeds it is in io.h).
 *
 * A graph is built once from node calls (inputs, parameters, layers, losses), compiled once
 * (backward plan and memory), then run any number of times; after the first run (in which the
 * context's scratch space grows to the largest an op needs, e.g. conv's im2col chunks or
 * batch norm's partial sums) a run allocates nothing:
 *
 *     ax_graph_feed_f32(g, x, xb, rows); ax_graph_feed_i32(g, y, yb, rows); // host arrays
 *     ax_graph_zero_grad(g);
 *     ax_graph_forward(g); ax_graph_backward(g);
 *     ax_optimizer_step(opt, p.n, p.values, p.grads);      // p from ax_graph_params
 *
 * Nodes are referred to by ax_node handles owned by their graph. A node's inputs must exist
 * when it is created and nodes never change afterwards, so a graph cannot hold a cycle:
 * creation order is a topological order.
 *
 * The batch: inputs are created with their largest batch as shape[0]. Every node whose first
 * dim follows that batch ("batched") keeps storage for the largest batch, and the forward
 * takes the batch from the rows of its inputs (ax_graph_feed*, ax_graph_set_batch, or a data
 * loader writing straight into ax_graph_value(g, input)), so the last, partial batch needs no
 * recompiling. */
#ifndef AXON_GRAPH_H
#define AXON_GRAPH_H

#include "core.h"
#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- initialisers */

/* The nonlinearity of a gain is an activation (ops.h): one enum, so ax_init_gain(AX_ACT_RELU,
 * 0) is ReLU's gain. The AX_GAIN_* names are the same values under PyTorch's gain names. */
typedef ax_activation ax_nonlinearity;
#define AX_GAIN_LINEAR AX_ACT_LINEAR         /* 1 (also conv, identity) */
#define AX_GAIN_SIGMOID AX_ACT_SIGMOID       /* 1 */
#define AX_GAIN_TANH AX_ACT_TANH             /* 5/3 */
#define AX_GAIN_RELU AX_ACT_RELU             /* sqrt(2) */
#define AX_GAIN_LEAKY_RELU AX_ACT_LEAKY_RELU /* sqrt(2 / (1 + slope^2)) */

/* Gain of a nonlinearity, as PyTorch's torch.nn.init.calculate_gain(nonlinearity, slope);
 * slope is read by leaky ReLU only, 0 meaning AX_LEAKY_RELU_SLOPE as everywhere (PyTorch's
 * calculate_gain("leaky_relu") default). NaN for a value that is not an ax_activation. */
AX_API float ax_init_gain(ax_nonlinearity nonlinearity, float slope);

typedef enum ax_fan_mode { AX_FAN_IN = 0, AX_FAN_OUT = 1 } ax_fan_mode;

/* fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field, where the
 * receptive field is the product of shape[2:] (PyTorch's _calculate_fan_in_and_fan_out):
 * [out, in] for a dense weight, [out, in, kh, kw] for a convolution. At least 2 dims. */
AX_API ax_status ax_init_fans(const ax_tensor *t, int64_t *fan_in, int64_t *fan_out);

/* Fills of an f32 tensor drawn from Philox with (seed, offset) through ax_rng_uniform /
 * ax_rng_normal, so CPU and CUDA give bit-identical values.
 * Xavier (Glorot): U(-a, a), a = gain sqrt(6 / (fan_in + fan_out)), or
 *                  N(0, gain^2 2 / (fan_in + fan_out)).
 * LeCun normal:    N(0, 1 / fan_in) (plain, not truncated).
 * Kaiming (He):    gain = ax_init_gain(nonlinearity, a), fan by mode;
 *                  U(-b, b), b = gain sqrt(3 / fan), or N(0, gain^2 / fan).
 *                  PyTorch's default (a = 0, mode "fan_in", "leaky_relu", gain sqrt(2)) is
 *                  AX_FAN_IN with AX_ACT_RELU here, as a = 0 with AX_ACT_LEAKY_RELU means the
 *                  default slope 0.01.
 * A non-finite gain or a, an unknown mode or nonlinearity is AX_ERR_INVALID_ARG. */
AX_API ax_status ax_init_xavier_uniform(ax_ctx *ctx, ax_tensor *t, float gain, uint64_t seed,
                                        uint64_t offset);
AX_API ax_status ax_init_xavier_normal(ax_ctx *ctx, ax_tensor *t, float gain, uint64_t seed,
                                       uint64_t offset);
AX_API ax_status ax_init_lecun_normal(ax_ctx *ctx, ax_tensor *t, uint64_t seed, uint64_t offset);
AX_API ax_status ax_init_kaiming_uniform(ax_ctx *ctx, ax_tensor *t, float a, ax_fan_mode mode,
                                         ax_nonlinearity nonlinearity, uint64_t seed,
                                         uint64_t offset);
AX_API ax_status ax_init_kaiming_normal(ax_ctx *ctx, ax_tensor *t, float a, ax_fan_mode mode,
                                        ax_nonlinearity nonlinearity, uint64_t seed,
                                        uint64_t offset);

/* An initialiser as a value, for graph parameters. Build it with a compound literal and the
 * fields its kind reads, e.g. (ax_init){.kind = AX_INIT_XAVIER_UNIFORM, .gain = 1.0f}. */
typedef enum ax_init_kind {
    AX_INIT_ZEROS = 0,
    AX_INIT_CONSTANT,        /* value */
    AX_INIT_UNIFORM,         /* U(low, high) */
    AX_INIT_NORMAL,          /* N(mean, std^2) */
    AX_INIT_XAVIER_UNIFORM,  /* gain */
    AX_INIT_XAVIER_NORMAL,   /* gain */
    AX_INIT_LECUN_NORMAL,    /* - */
    AX_INIT_KAIMING_UNIFORM, /* a, mode, nonlinearity */
    AX_INIT_KAIMING_NORMAL,  /* a, mode, nonlinearity */
} ax_init_kind;

typedef struct ax_init {
    ax_init_kind kind;
    float value;      /* constant */
    float low, high;  /* uniform */
    float mean, std;  /* normal */
    float gain;       /* xavier */
    float a;          /* kaiming: negative slope of the leaky ReLU that follows */
    ax_fan_mode mode; /* kaiming */
    ax_nonlinearity nonlinearity; /* kaiming */
} ax_init;

/* Fill t as `init` says (zeros and constant ignore seed and offset). */
AX_API ax_status ax_init_tensor(ax_ctx *ctx, ax_tensor *t, const ax_init *init, uint64_t seed,
                                uint64_t offset);

/* ---------------------------------------------------------------- graph */

typedef struct ax_graph ax_graph;
typedef struct ax_node ax_node;

/* A new, empty graph on ctx. seed drives the parameter initialisers and dropout (parameter i
 * is drawn with offset i; dropout masks use offsets of their own, fresh every training
 * forward). */
AX_API ax_status ax_graph_create(ax_ctx *ctx, uint64_t seed, ax_graph **out);
/* Free the graph with every tensor it owns (NULL is fine, a second destroy does nothing;
 * its nodes die with it, and later calls with the graph or its nodes answer AX_ERR_STATE).
 * A graph, its nodes and its tensors are used by one thread at a time, like its context (see
 * "threads and handles" in core.h); two graphs on two contexts may run on two threads. */
AX_API void ax_graph_destroy(ax_graph *g);

/* Node builders. Each names its node (name may be NULL: "<op><id>" is used), checks shapes
 * (AX_ERR_SHAPE naming the node and both shapes), and writes the new node into *out.
 * Names are unique in a graph. All fail with AX_ERR_STATE once the graph is compiled. */

/* f32 data of `shape`; shape[0] is the largest batch (every batched input must agree). */
AX_API ax_status ax_graph_input(ax_graph *g, const char *name, int ndim, const int64_t *shape,
                                ax_node **out);
/* An input of dtype (AX_F32 features, AX_I32 labels or token indices) and any shape of 1 to
 * AX_MAX_DIMS dims: labels [N], token indices [N, T], a time-major sequence [T, N, H].
 * shape[batch_axis] is the largest batch (every input must agree); time_axis is -1, or the
 * dim that holds the steps of a sequence (shape[time_axis] the longest; every sequence input
 * must agree). A run may hold fewer rows and fewer steps without recompiling. Ops declare
 * which of their inputs take i32 and which axes they accept. */
AX_API ax_status ax_graph_input_typed(ax_graph *g, const char *name, ax_dtype dtype, int ndim,
                                      const int64_t *shape, int batch_axis, int time_axis,
                                      ax_node **out);
/* i32 class labels [max_batch]: ax_graph_input_typed(g, name, AX_I32, 1, &max_batch, out). */
AX_API ax_status ax_graph_labels(ax_graph *g, const char *name, int64_t max_batch,
                                 ax_node **out);
/* A trainable f32 tensor named `name` (required; its checkpoint key), filled by init. */
AX_API ax_status ax_graph_param(ax_graph *g, const char *name, int ndim, const int64_t *shape,
                                const ax_init *init, ax_node **out);

/* y = x W^T + b, x [N, in] -> y [N, out_features], or over the last dim of any x [..., in]
 * (as nn.Linear: a sequence [T, N, in] gives [T, N, out], keeping its batch and time axes;
 * the features must not be the batch or time axis); creates the parameters "<name>.weight"
 * [out, in] and "<name>.bias" [out], both U(-1/sqrt(in), 1/sqrt(in)) as PyTorch's nn.Linear
 * (kaiming_uniform with a = sqrt(5) for the weight). */
AX_API ax_status ax_graph_dense(ax_graph *g, const char *name, ax_node *x, int64_t out_features,
                                ax_node **out);
/* y = act(x) (slope: leaky ReLU only, 0 meaning AX_LEAKY_RELU_SLOPE), same shape. */
AX_API ax_status ax_graph_activation(ax_graph *g, const char *name, ax_activation act,
                                     float slope, ax_node *x, ax_node **out);
/* Along the last dim. */
AX_API ax_status ax_graph_softmax(ax_graph *g, const char *name, ax_node *x, ax_node **out);
AX_API ax_status ax_graph_log_softmax(ax_graph *g, const char *name, ax_node *x, ax_node **out);
/* y = a + b, y = a * b: same shapes (and both batched or neither). */
AX_API ax_status ax_graph_add(ax_graph *g, const char *name, ax_node *a, ax_node *b,
                              ax_node **out);
AX_API ax_status ax_graph_mul(ax_graph *g, const char *name, ax_node *a, ax_node *b,
                              ax_node **out);
/* y = alpha x. */
AX_API ax_status ax_graph_scale(ax_graph *g, const char *name, float alpha, ax_node *x,
                                ax_node **out);
/* y = sum or mean of x over `axis` (negative counts from the end); y drops that dim (a 1-D x
 * gives a scalar). Over the batch axis, the mean divides by the batch of the run. */
AX_API ax_status ax_graph_sum(ax_graph *g, const char *name, ax_node *x, int axis,
                              ax_node **out);
AX_API ax_status ax_graph_mean(ax_graph *g, const char *name, ax_node *x, int axis,
                               ax_node **out);
/* y = op(a) op(b), 2-D: op(a) [M, K], op(b) [K, N] -> y [M, N]. A batched a untransposed
 * gives a batched y; a transposed batched a needs a batched b (the batch is contracted). */
AX_API ax_status ax_graph_matmul(ax_graph *g, const char *name, ax_node *a, ax_transpose trans_a,
                                 ax_node *b, ax_transpose trans_b, ax_node **out);
/* Running centering, x [N, F] -> y [N, F]: y = x - mean(x over the batch) while training,
 * which also updates the buffers "<name>.running_mean" [F] (zeros at first) to
 * (1 - momentum) running_mean + momentum mean and counts "<name>.num_batches_tracked" (int64);
 * y = x - running_mean in eval. momentum in [0, 1]. BatchNorm's mean half, as a torch module
 * with register_buffer does it (tests/golden/gen_safetensors.py). */
AX_API ax_status ax_graph_running_center(ax_graph *g, const char *name, ax_node *x,
                                         float momentum, ax_node **out);
/* Step t of a sequence whose time axis is its first dim, x [T, ...] -> y [...] = x[t]: a view
 * of x's storage, no copy (contiguous, as time-major [T, N, H] gives). y keeps x's batch axis
 * (one dim lower). A run shorter than t + 1 steps fails with AX_ERR_SHAPE. x may also be any
 * node whose dim 0 is fixed (a block of a parameter, e.g. one gate of a [4, H, in] weight). */
AX_API ax_status ax_graph_time_step(ax_graph *g, const char *name, ax_node *x, int64_t t,
                                    ax_node **out);
/* Inverted dropout with drop probability p in [0, 1) while training; the identity in eval. */
AX_API ax_status ax_graph_dropout(ax_graph *g, const char *name, ax_node *x, float p,
                                  ax_node **out);

/* Convolution layers (NCHW, as PyTorch's nn.Conv2d). The options of ax_graph_conv2d: the
 * input channels (0: x's; else they must be x's, as nn.Conv2d's in_channels), the output
 * channels and the kernel (>= 1); strides, dilations and groups (0 means 1; groups
 * divide the input and output channels; groups = in = out is depthwise); zero padding per
 * side (>= 0); no_bias nonzero leaves the bias out. Build them with a compound literal:
 *     (ax_graph_conv2d_opts){.out_channels = 16, .kernel_h = 3, .kernel_w = 3,
 *                            .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1} */
typedef struct ax_graph_conv2d_opts {
    int64_t in_channels;
    int64_t out_channels;
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int pad_top, pad_bottom, pad_left, pad_right;
    int dilation_h, dilation_w;
    int groups;
    int no_bias;
} ax_graph_conv2d_opts;
/* y [N, out, OH, OW] = conv(x [N, in, H, W]) + bias (ax_conv2d_forward; OH, OW from
 * ax_conv2d_output_shape); creates "<name>.weight" [out, in/groups, kh, kw], kaiming_uniform
 * with a = sqrt(5) (U(-b, b), b = 1/sqrt(fan_in), fan_in = in/groups kh kw), and
 * "<name>.bias" [out], U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as PyTorch's nn.Conv2d. A channel
 * count that the groups do not divide, or a dilated kernel larger than the padded input, is
 * refused (AX_ERR_SHAPE) before anything is created. */
AX_API ax_status ax_graph_conv2d(ax_graph *g, const char *name, ax_node *x,
                                 const ax_graph_conv2d_opts *opts, ax_node **out);
/* Pooling of x [N, C, H, W] by desc (ops.h: kernel, stride, padding, dilation, ceil_mode;
 * count_include_pad for the average, whose dilation must be 1) -> [N, C, OH, OW]. */
AX_API ax_status ax_graph_max_pool2d(ax_graph *g, const char *name, ax_node *x,
                                     const ax_pool2d_desc *desc, ax_node **out);
AX_API ax_status ax_graph_avg_pool2d(ax_graph *g, const char *name, ax_node *x,
                                     const ax_pool2d_desc *desc, ax_node **out);
/* y [N, C] = the mean of each plane of x [N, C, H, W] (PyTorch's adaptive_avg_pool2d(x, 1)
 * flattened). */
AX_API ax_status ax_graph_global_avg_pool(ax_graph *g, const char *name, ax_node *x,
                                          ax_node **out);
/* Batch norm over dim 1 of x [N, C] or [N, C, L] (BatchNorm1d) or [N, C, H, W]
 * (BatchNorm2d), affine and tracking running statistics: parameters "<name>.weight" (ones)
 * and "<name>.bias" (zeros) [C]; buffers "<name>.running_mean" (zeros), "<name>.running_var"
 * (ones) [C] and "<name>.num_batches_tracked" (int64). Training normalises with the batch's
 * statistics (biased variance; more than one value per channel) and updates the running
 * ones with momentum (AX_BN_MOMENTUM is PyTorch's 0.1; AX_BN_CUMULATIVE, any negative, is
 * PyTorch's momentum=None, the cumulative average); eval normalises with the running
 * statistics. eps > 0 (AX_BN_EPS). */
AX_API ax_status ax_graph_batch_norm(ax_graph *g, const char *name, ax_node *x, float momentum,
                                     float eps, ax_node **out);
/* y [N, d1 d2 ...] = x [N, d1, d2, ...]: a view of x (no copy), so a convolution stack feeds
 * ax_graph_dense. */
AX_API ax_status ax_graph_flatten(ax_graph *g, const char *name, ax_node *x, ax_node **out);

/* Recurrent layers, as PyTorch's nn.RNN, nn.LSTM and nn.GRU (ops.h's ax_rnn_* for the
 * recurrences and the gate order). The options (zero-initialised fields are PyTorch's
 * defaults but for hidden_size, which is required):
 *   input_size      0: x's last dim; else it must be x's last dim (AX_ERR_SHAPE otherwise)
 *   hidden_size     H >= 1
 *   num_layers      L stacked layers (0 means 1; at most 256)
 *   bidirectional   D = 2 directions, the reverse one reading the sequence backwards
 *   batch_first     x [N, T, in] and y [N, T, D H] instead of [T, N, in] and [T, N, D H]
 *   no_bias         leave out the biases (PyTorch's bias=False)
 *   dropout         drop probability in [0, 1) on the outputs of every layer but the last,
 *                   while training (inverted, Philox, as ax_graph_dropout; a fresh mask per
 *                   training forward); the identity in eval
 *   nonlinearity    ax_graph_rnn: AX_ACT_TANH (0 means it too) or AX_ACT_RELU
 *   gru_textbook    ax_graph_gru: the textbook form (ops.h's AX_RNN_GRU_TEXTBOOK)
 *   carry_state     truncated backpropagation through time: the final states of a forward
 *                   are the initial states of the next (detached: no gradient flows through
 *                   them into the earlier forward), zeros at first and after
 *                   ax_graph_rnn_reset_state; row b of a run continues row b of the previous
 *                   one, whatever the two batches. Not parameters: never in checkpoints.
 *                   h0 and c0 must then be NULL.
 * x is a sequence node [T, N, in] with its batch on axis 1 (batch_first: [N, T, in], batch on
 * axis 0) and its time on the other axis (or none): ax_graph_input_typed(g, "x", AX_F32, 3,
 * shape, 1, 0, &x) for time-major data. h0 and c0 [L D, N, H] (batch on axis 1), NULL for
 * zeros. Outputs, one node with two (LSTM: three) outputs: y ("<name>", the top layer's h at
 * every step, the two directions' H columns side by side), h_n ("<name>:1") and c_n
 * ("<name>:2") [L D, N, H], the states after the last step of each layer and direction (for
 * the reverse direction, after step 0); h_n and c_n may be NULL when not wanted. A shorter
 * last batch and a shorter last sequence (ax_graph_set_seq_len) run without recompiling.
 * Parameters, as PyTorch's state_dict names them, for each layer l and direction (suffix
 * "_reverse" for the second): "<name>.weight_ih_l<l>" [G H, in_l] (in_0 = in, in_l = D H),
 * "<name>.weight_hh_l<l>" [G H, H], "<name>.bias_ih_l<l>" and "<name>.bias_hh_l<l>" [G H],
 * G = 1 (RNN), 4 (LSTM), 3 (GRU), all U(-1/sqrt(H), 1/sqrt(H)) as PyTorch. */
typedef struct ax_graph_rnn_opts {
    int64_t input_size;
    int64_t hidden_size;
    int num_layers;
    int bidirectional;
    int batch_first;
    int no_bias;
    float dropout;
    ax_activation nonlinearity;
    int gru_textbook;
    int carry_state;
} ax_graph_rnn_opts;
AX_API ax_status ax_graph_rnn(ax_graph *g, const char *name, ax_node *x, ax_node *h0,
                              const ax_graph_rnn_opts *opts, ax_node **y, ax_node **h_n);
AX_API ax_status ax_graph_lstm(ax_graph *g, const char *name, ax_node *x, ax_node *h0,
                               ax_node *c0, const ax_graph_rnn_opts *opts, ax_node **y,
                               ax_node **h_n, ax_node **c_n);
AX_API ax_status ax_graph_gru(ax_graph *g, const char *name, ax_node *x, ax_node *h0,
                              const ax_graph_rnn_opts *opts, ax_node **y, ax_node **h_n);
/* Zero the carried states (carry_state) of the recurrent layer whose output y is layer, or
 * of every recurrent layer of g when layer is NULL: at an epoch's start, or when the rows of
 * the batch stop continuing the previous batch's sequences. */
AX_API ax_status ax_graph_rnn_reset_state(ax_graph *g, ax_node *layer);

/* Embedding lookup, as torch.nn.Embedding(vocab, dim): indices (an i32 input of token ids in
 * [0, vocab), any shape, e.g. [N, T] or time-major [T, N] from ax_graph_input_typed) ->
 * y = indices' shape + [dim], keeping their batch and time axes (a shorter last batch or
 * sequence runs without recompiling). Creates "<name>.weight" [vocab, dim], N(0, 1) as
 * PyTorch's (drawn from Philox: the same distribution, not torch's numbers). An index out of
 * range fails the forward (ops.h: ax_embedding_forward; on CUDA reported by the next
 * synchronizing call, e.g. ax_graph_loss). */
AX_API ax_status ax_graph_embedding(ax_graph *g, const char *name, ax_node *indices,
                                    int64_t vocab, int64_t dim, ax_node **out);

/* Losses: scalar nodes, mean reduction. Targets carry no gradient (inputs, not computed). */
AX_API ax_status ax_graph_mse_loss(ax_graph *g, const char *name, ax_node *pred, ax_node *target,
                                   ax_node **out);
/* logits [N, C], labels i32 [N] (ax_graph_labels); or a sequence, logits [..., C] and labels
 * [...] with the same dims and batch and time axes (a language model's [T, N, V] against the
 * [T, N] next tokens): the mean over every position, as PyTorch's cross_entropy of the
 * flattened [T N, V] and [T N]. */
AX_API ax_status ax_graph_cross_entropy(ax_graph *g, const char *name, ax_node *logits,
                                        ax_node *labels, ax_node **out);
/* logits and targets (f32 in [0, 1]) of the same shape. */
AX_API ax_status ax_graph_bce_with_logits(ax_graph *g, const char *name, ax_node *logits,
                                          ax_node *targets, ax_node **out);
/* Scalar penalties on a parameter node: lambda sum |w|, and lambda / 2 sum w^2. Add them to
 * a loss with ax_graph_add. */
AX_API ax_status ax_graph_l1_penalty(ax_graph *g, const char *name, ax_node *param,
                                     float lambda, ax_node **out);
AX_API ax_status ax_graph_l2_penalty(ax_graph *g, const char *name, ax_node *param,
                                     float lambda, ax_node **out);

/* Compile once: plan the backward of `loss` (a scalar node) in reverse creation order and
 * allocate every gradient and accumulation buffer. loss may be NULL for a graph that only
 * runs forward. A second compile fails with AX_ERR_STATE.
 * Memory is planned: gradients of intermediate nodes and the backward's accumulation buffers
 * share one arena wherever their lifetimes (from first write to last read in the backward)
 * do not overlap, so the gradient of an intermediate node (ax_graph_grad) is valid only
 * during the backward; parameters' gradients, inputs and every node's value stay valid. */
AX_API ax_status ax_graph_compile(ax_graph *g, ax_node *loss);
/* Before compiling: reuse values too (reuse != 0). An intermediate node's value then lives
 * from its forward to its last reader (later forwards, and the backwards that need it), and
 * may be overwritten after that; outputs (nodes nothing reads) and the loss stay valid.
 * Off by default. */
AX_API ax_status ax_graph_set_value_reuse(ax_graph *g, int reuse);

/* Copy src (the input's dtype, shape [n, <the input's other dims>], 1 <= n <= max batch) into
 * the input node, which then holds n rows. */
AX_API ax_status ax_graph_feed(ax_graph *g, ax_node *input, const ax_tensor *src);
/* The same from host memory: `rows` rows (1 <= rows <= max batch, fewer for a last, partial
 * batch) of the input's row size (the product of its dims after the first; 1 for labels),
 * row-major, copied to the graph's device. f32 inputs (features) take ax_graph_feed_f32,
 * i32 inputs (labels, token ids) ax_graph_feed_i32; the other is AX_ERR_DTYPE. Feed every
 * input the same rows before a forward. */
AX_API ax_status ax_graph_feed_f32(ax_graph *g, ax_node *input, const float *data, int64_t rows);
AX_API ax_status ax_graph_feed_i32(ax_graph *g, ax_node *input, const int32_t *data,
                                   int64_t rows);
/* The sequence length of the next run, 1 <= t <= the longest (a last, shorter sequence):
 * sequence inputs then take t steps (ax_graph_feed_f32 copies rows of t steps; ax_graph_feed
 * takes t from its src), and so does every node that carries the time axis. The length of the
 * current run (0 without sequences). */
AX_API ax_status ax_graph_set_seq_len(ax_graph *g, int64_t t);
AX_API int64_t ax_graph_seq_len(const ax_graph *g);
/* Give every input (and so every batched node) n rows, 1 <= n <= max batch. */
AX_API ax_status ax_graph_set_batch(ax_graph *g, int64_t n);
/* The batch of the inputs (all batched inputs must have the same rows at a forward). */
AX_API int64_t ax_graph_batch(const ax_graph *g);

/* Training mode (the default) applies dropout; eval mode makes dropout the identity. */
AX_API ax_status ax_graph_set_training(ax_graph *g, int training);

/* Run every node in creation order (each training forward draws fresh dropout masks). */
AX_API ax_status ax_graph_forward(ax_graph *g);
/* Reverse-mode autodiff of the compiled loss after a forward. Parameter gradients are ADDED
 * to (as PyTorch's .grad): call ax_graph_zero_grad before each step. */
AX_API ax_status ax_graph_backward(ax_graph *g);
/* Zero every parameter gradient. */
AX_API ax_status ax_graph_zero_grad(ax_graph *g);
/* The compiled loss's value (waits for the device). */
AX_API ax_status ax_graph_loss(ax_graph *g, float *out);

/* A node's value tensor (an input's to fill, an output's to read) and its gradient (NULL when
 * it has none: not compiled, not on the loss's path, or an input). Owned by the graph. NULL
 * for a node of another graph, and for a computed node's value before compile (the memory
 * plan gives values their storage at compile). */
AX_API ax_tensor *ax_graph_value(ax_graph *g, const ax_node *node);
AX_API ax_tensor *ax_graph_grad(ax_graph *g, const ax_node *node);
/* The node's name ("" for a node of another graph). */
AX_API const char *ax_graph_node_name(const ax_graph *g, const ax_node *node);
/* The node called name (a dense layer's parameters are "<name>.weight" and "<name>.bias", e.g.
 * for a penalty); AX_ERR_INVALID_ARG when there is none. */
AX_API ax_status ax_graph_find(const ax_graph *g, const char *name, ax_node **out);

/* Parameters, in creation order. */
AX_API int ax_graph_param_count(const ax_graph *g);
/* Any output may be NULL. */
AX_API ax_status ax_graph_param_get(ax_graph *g, int index, const char **name, ax_tensor **value,
                                    ax_tensor **grad);
/* Index of the parameter called name; AX_ERR_INVALID_ARG when there is none. */
AX_API ax_status ax_graph_param_find(const ax_graph *g, const char *name, int *index);
/* Every parameter's value and gradient, in creation order, as an optimizer step takes them:
 *
 *     ax_param_list p;
 *     TRY(ax_graph_params(g, &p));
 *     TRY(ax_optimizer_step(opt, p.n, p.values, p.grads));
 *
 * The arrays are owned by the graph and valid until it is destroyed. */
typedef struct ax_param_list {
    int n;                    /* number of parameters */
    ax_tensor *const *values; /* [n] */
    ax_tensor *const *grads;  /* [n] */
} ax_param_list;
AX_API ax_status ax_graph_params(ax_graph *g, ax_param_list *out);

/* Buffers: named state the graph's nodes keep that is saved and loaded with checkpoints (under
 * PyTorch's names, e.g. "rc.running_mean", "rc.num_batches_tracked") but never trained and
 * never in ax_graph_params. In creation order. A buffer is an f32 tensor (*value; *count is
 * 0) or an int64 counter (*value is NULL; *count its value, I64 in checkpoints). Any output
 * may be NULL. */
AX_API int ax_graph_buffer_count(const ax_graph *g);
AX_API ax_status ax_graph_buffer_get(ax_graph *g, int index, const char **name,
                                     ax_tensor **value, int64_t *count);
/* Index of the buffer called name; AX_ERR_INVALID_ARG when there is none. */
AX_API ax_status ax_graph_buffer_find(const ax_graph *g, const char *name, int *index);

#ifdef __cplusplus
}
#endif

#endif
