/* What checkpoints (checkpoint.c) use of the safetensors format (safetensors.c). */
#ifndef AX_IO_SAFETENSORS_INTERNAL_H
#define AX_IO_SAFETENSORS_INTERNAL_H

#include "axon/io.h"

/* One named entry of a file: an F32 or I32 tensor, or (tensor NULL) an I64 scalar [] at *i64
 * (PyTorch's num_batches_tracked), read from there when writing and written there when
 * loading. */
typedef struct ax_st_item {
    const char *name;
    ax_tensor *tensor;
    int64_t *i64;
} ax_st_item;

/* ax_safetensors_open with fn named in messages. */
ax_status ax_st_open(const char *fn, const char *path, ax_safetensors **out);
/* Write the items atomically to path (see io.h); a path that exists and is not a regular file
 * is refused (AX_ERR_IO), never replaced. */
ax_status ax_st_write(const char *fn, const char *path, int n, const ax_st_item *items);
/* Load the file at path into the items, strictly: every name is in the file with the item's
 * dtype and shape, the file holds nothing else (where names the items' owner in messages:
 * "the graph"). All is checked before anything is copied. */
ax_status ax_st_load(const char *fn, const char *path, int n, const ax_st_item *items,
                     const char *where);

#endif
