/* axon io: checkpoints, datasets (IDX / MNIST, text for character-level models, and where the
 * data live) and the mini-batch loader over host arrays. */
#ifndef AXON_IO_H
#define AXON_IO_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "graph.h" /* ax_graph, for checkpoints */
#include "optim.h" /* ax_optimizer, for checkpoints */

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- mini-batches */

typedef struct ax_data_loader ax_data_loader;

/* A loader over host arrays that stay owned by the caller and must outlive it: features f32
 * x [N, ...] (x_ndim dims, x_shape[0] = N) and labels i32 y [N] (y may be NULL). Batches of
 * batch_size rows; shuffle: a new order each epoch, a Philox Fisher-Yates shuffle that is a
 * function of (seed, epoch) only; drop_last: skip the last batch when it is partial.
 * A batch_size above N is taken as N. */
AX_API ax_status ax_data_loader_create(const float *x, int x_ndim, const int64_t *x_shape,
                                       const int32_t *y, int64_t batch_size, int shuffle,
                                       int drop_last, uint64_t seed, ax_data_loader **out);
/* NULL is fine, a second destroy does nothing. A loader changes with every batch it serves:
 * one thread at a time. */
AX_API void ax_data_loader_destroy(ax_data_loader *loader);

/* Copy the next batch, n rows, into x (f32, room for batch_size rows of the features) and y
 * (i32, room for batch_size labels; NULL when the loader has no labels), one transfer each;
 * both are given n rows. At the end of an epoch *n is 0 and nothing is copied; the next call
 * starts the next epoch. Pass a graph's input tensors (ax_graph_value) to skip a copy. */
AX_API ax_status ax_data_loader_next(ax_data_loader *loader, ax_tensor *x, ax_tensor *y,
                                     int64_t *n);
/* Batches per epoch, and the epoch the next batch belongs to (0 first). */
AX_API int64_t ax_data_loader_batches(const ax_data_loader *loader);
AX_API int64_t ax_data_loader_epoch(const ax_data_loader *loader);

/* ---------------------------------------------------------------- datasets */

/* Folder of `dataset` ("mnist" or "tinyshakespeare") into out (size bytes, NUL-terminated).
 * A folder the user named is the only place looked at: explicit_dir (a --data option; NULL
 * or "" when not given), else $AXON_DATA when set and not empty. Only when neither is given
 * does it search "../shared/data" relative to the current directory and to each of its
 * parents (so it works from a repository root and from a build folder below it). In each
 * place DIR it accepts DIR/<dataset> or DIR itself holding the dataset's files. AX_ERR_IO
 * when a named folder does not hold them (the message names the folder, says whether it
 * exists and lists the files looked for there) or when the search finds none (the message
 * lists every place looked at); both say how to get the data. AX_ERR_INVALID_ARG for an
 * unknown dataset name or an `out` too small. */
AX_API ax_status ax_data_dir(const char *explicit_dir, const char *dataset, char *out,
                             size_t size);

/* IDX element types (the third byte of the magic number). */
typedef enum ax_idx_type {
    AX_IDX_U8 = 0x08,
    AX_IDX_I8 = 0x09,
    AX_IDX_I16 = 0x0B,
    AX_IDX_I32 = 0x0C,
    AX_IDX_F32 = 0x0D,
    AX_IDX_F64 = 0x0E,
} ax_idx_type;

/* Bytes per element of an IDX type (1, 2, 4 or 8); 0 for a value that is no IDX type. */
AX_API size_t ax_idx_type_size(ax_idx_type type);

#define AX_IDX_MAX_DIMS 4

/* One IDX array: dims[0..ndim), count = product of the dims, data = count elements of
 * `type` in host byte order (malloc'ed; release with ax_idx_free). */
typedef struct ax_idx {
    ax_idx_type type;
    int ndim;
    int64_t dims[AX_IDX_MAX_DIMS];
    int64_t count;
    void *data;
} ax_idx;

/* Read an IDX file, gzip-compressed or plain (both through zlib). Validated: magic
 * 0x00 0x00 type ndim, a known type, ndim 1..4, every dim > 0 and no overflow, exactly the
 * declared number of bytes (short or trailing data are AX_ERR_FORMAT naming the file and the
 * counts). AX_ERR_IO when the file cannot be opened or read. On failure *out is zeroed. */
AX_API ax_status ax_idx_read(const char *path, ax_idx *out);
/* Free an ax_idx's data and zero it (NULL is fine). */
AX_API void ax_idx_free(ax_idx *idx);

#define AX_MNIST_PIXELS 784 /* 28 x 28 */

/* MNIST from dir (a folder from ax_data_dir): train-images-idx3-ubyte.gz and
 * train-labels-idx1-ubyte.gz when train is nonzero, else t10k-*; the un-gzipped names are
 * accepted too. images: malloc'ed [count, 784] f32 scaled to [0, 1]; labels: [count] i32 in
 * 0..9. AX_ERR_FORMAT when the files disagree on the count, the images are not 28 x 28 u8,
 * or a label is above 9. Free both with ax_mnist_free. */
AX_API ax_status ax_mnist_load(const char *dir, int train, float **images, int32_t **labels,
                               int64_t *count);
AX_API void ax_mnist_free(float *images, int32_t *labels);

/* A text corpus for character-level models: its bytes encoded as ids into a vocabulary that
 * is the sorted set of distinct bytes of the corpus (id 0 is the smallest byte). */
typedef struct ax_text_dataset ax_text_dataset;

/* Read the whole file at path. AX_ERR_IO when it cannot be read, AX_ERR_FORMAT when it is
 * empty. */
AX_API ax_status ax_text_dataset_load(const char *path, ax_text_dataset **out);
/* NULL is fine, a second destroy does nothing; calls with a destroyed dataset answer
 * AX_ERR_STATE. A dataset does not change after its load: the calls below only read it and
 * may run on several threads at once (no destroy meanwhile). */
AX_API void ax_text_dataset_destroy(ax_text_dataset *ds);

/* Split into the first `fraction` of the corpus (train) and the rest (validation), e.g. 0.9.
 * Both keep the vocabulary of ds (so ids mean the same characters) and are independent of ds
 * afterwards; each part must hold at least 2 characters. */
AX_API ax_status ax_text_dataset_split(const ax_text_dataset *ds, double fraction,
                                       ax_text_dataset **train, ax_text_dataset **validation);

/* Number of distinct characters (ids are 0..vocab_size-1); 0 for NULL. */
AX_API int32_t ax_text_vocab_size(const ax_text_dataset *ds);
/* Length of the corpus in characters; 0 for NULL. */
AX_API int64_t ax_text_length(const ax_text_dataset *ds);
/* The encoded corpus, ax_text_length ids, owned by ds; NULL for NULL. */
AX_API const int32_t *ax_text_ids(const ax_text_dataset *ds);

/* n characters of s to ids (a character outside the vocabulary is AX_ERR_INVALID_ARG naming
 * it and its position), and n ids back to characters (out gets n bytes, no terminating NUL;
 * an id outside 0..vocab_size-1 is AX_ERR_INVALID_ARG). */
AX_API ax_status ax_text_encode(const ax_text_dataset *ds, const char *s, size_t n,
                                int32_t *ids);
AX_API ax_status ax_text_decode(const ax_text_dataset *ds, const int32_t *ids, size_t n,
                                char *out);

/* Batch number `index` of contiguous training sequences: row b of inputs [batch, seq_len] is
 * the corpus from a start offset drawn by Philox4x32-10 from (seed, index, b), uniform over
 * 0..length-seq_len-1, and row b of targets [batch, seq_len] is the same window shifted by
 * one character. A pure function of (corpus, batch, seq_len, seed, index). The corpus must
 * hold at least seq_len + 1 characters. */
AX_API ax_status ax_text_batch(const ax_text_dataset *ds, int64_t batch, int64_t seq_len,
                               uint64_t seed, uint64_t index, int32_t *inputs,
                               int32_t *targets);

/* ---------------------------------------------------------------- checkpoints */

/* Checkpoints are safetensors files (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON
 *     {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
 *      "__metadata__": {"format": "pt"}}
 * and the data buffer, little-endian, row-major. safetensors.torch.load_file reads axon's
 * files and axon reads PyTorch's (safetensors.torch.save_file). axon reads and writes F32 and
 * I32 tensors; other dtypes in a file are listed and their raw bytes readable, but they
 * cannot become tensors (AX_ERR_UNSUPPORTED).
 *
 * Writes are atomic: the file goes to "<path>.tmp.<pid>", is flushed to disk (fsync), then
 * renamed over path; on any error the temporary file is removed and an existing file at path
 * is left as it was. Reads validate the whole file before anything is returned: the header
 * length (at most 100 MB and inside the file), the JSON syntax, dtypes, shapes (integers >= 0,
 * at most AX_MAX_DIMS dims, no overflow), unique keys, and data offsets that match the shapes
 * and tile the data buffer exactly (no overlap, no gap, nothing left over). A truncated,
 * oversized, inconsistent or hostile file answers AX_ERR_FORMAT with a message (more dims
 * than AX_MAX_DIMS: AX_ERR_UNSUPPORTED), an unreadable one AX_ERR_IO. */

/* Save the graph's parameters: one F32 tensor per parameter, keyed by its name ("fc1.weight"),
 * from any device. */
AX_API ax_status ax_graph_save(ax_graph *g, const char *path);

/* Load parameters saved by ax_graph_save (or by PyTorch under the same names) onto the
 * graph's device. Strict, like PyTorch's load_state_dict: every parameter must be in the file
 * with the same dtype and shape (else AX_ERR_SHAPE or AX_ERR_DTYPE: "ax_graph_load: fc1.weight
 * has shape [256, 784] in the file, [128, 784] in the graph"), and every tensor of the file
 * must be a parameter (a missing or an extra key is AX_ERR_FORMAT naming it). The whole file
 * is checked before the first parameter is written, so a bad file changes nothing (only a
 * device error while copying could leave a partial load). */
AX_API ax_status ax_graph_load(ax_graph *g, const char *path);

/* Save and load the state of an optimizer that steps g's parameters (the arrays of
 * ax_graph_params), so that training resumes where it stopped: one F32 tensor per
 * parameter and state, named "<parameter>.<state>" after PyTorch's optimizer state
 * ("fc1.weight.exp_avg", "fc1.weight.exp_avg_sq", "fc1.weight.momentum_buffer", "...sum",
 * "...square_avg", "...acc_delta", "...grad_avg", "...max_exp_avg_sq"), and "step", the step
 * count as I32 [1]. The hyperparameters and the learning rate are not saved: create the
 * optimizer with the same config (and set its lr) before loading. Loading is strict as for
 * ax_graph_load, so the state of another kind of optimizer (other state names) is refused
 * with a message naming the first key that differs; an optimizer that has not stepped yet
 * gets its state allocated first. Both check g's parameters as ax_optimizer_step would. */
AX_API ax_status ax_optimizer_save(ax_optimizer *opt, ax_graph *g, const char *path);
AX_API ax_status ax_optimizer_load(ax_optimizer *opt, ax_graph *g, const char *path);

/* Save n named tensors (F32 or I32, any device); names are unique, non-empty and not
 * "__metadata__". The header carries {"__metadata__": {"format": "pt"}}. */
AX_API ax_status ax_safetensors_save(const char *path, int n, const char *const *names,
                                     const ax_tensor *const *tensors);

/* A validated safetensors file held in host memory. */
typedef struct ax_safetensors ax_safetensors;

/* One tensor of a file. */
typedef struct ax_safetensors_entry {
    const char *name;       /* the key, owned by the ax_safetensors */
    const char *dtype_name; /* as in the file: "F32", "I32", "F16", "I64", ... */
    int supported;          /* F32 or I32: readable as an ax_tensor */
    ax_dtype dtype;         /* when supported */
    int ndim;
    int64_t shape[AX_MAX_DIMS];
    size_t nbytes;
} ax_safetensors_entry;

/* Read and validate a whole file. */
AX_API ax_status ax_safetensors_open(const char *path, ax_safetensors **out);
/* Validate a file's image in memory (size bytes, copied). */
AX_API ax_status ax_safetensors_parse(const void *data, size_t size, ax_safetensors **out);
/* NULL is fine, a second close does nothing; calls with a closed file answer AX_ERR_STATE.
 * An open file only is read: the calls below may run on several threads at once (no close
 * meanwhile; ax_safetensors_to_tensor and _read also use their context, one thread at a time). */
AX_API void ax_safetensors_close(ax_safetensors *st);

/* Number of tensors (0 for NULL); index i in [0, count) follows the header's order. */
AX_API int ax_safetensors_count(const ax_safetensors *st);
AX_API ax_status ax_safetensors_entry_get(const ax_safetensors *st, int index,
                                          ax_safetensors_entry *out);
/* Index of the tensor called name; AX_ERR_INVALID_ARG when there is none. */
AX_API ax_status ax_safetensors_find(const ax_safetensors *st, const char *name, int *index);
/* The tensor's raw little-endian bytes inside st (valid until it is closed), any dtype. */
AX_API ax_status ax_safetensors_raw(const ax_safetensors *st, int index, const void **data,
                                    size_t *nbytes);
/* A new tensor on ctx holding tensor index (F32 or I32, every dim >= 1). */
AX_API ax_status ax_safetensors_to_tensor(const ax_safetensors *st, int index, ax_ctx *ctx,
                                          ax_tensor **out);
/* Copy tensor index into dst, which must have the same dtype and shape. */
AX_API ax_status ax_safetensors_read(const ax_safetensors *st, int index, ax_tensor *dst);

#ifdef __cplusplus
}
#endif

#endif
