/* axon core: status codes, contexts (one device each), tensors, Philox RNG fills. */
#ifndef AXON_CORE_H
#define AXON_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define AX_API
#else
#define AX_API __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------- threads and handles
 *
 * Threads. Everything below holds for contexts, tensors and every other handle of axon
 * (graphs, optimizers, data loaders, text datasets, safetensors files):
 *   - Distinct contexts may be used from distinct threads at the same time, with no locking
 *     by the caller: each thread its own context and the handles made on it.
 *   - One context, and everything made on it, is used by one thread at a time: its stream,
 *     scratch space and seed are not locked, so two threads running ops, graphs, optimizer
 *     steps, copies or ax_ctx_set_seed / ax_ctx_synchronize on one context at once is a data
 *     race. Hand a context from one thread to another with the caller's own synchronization
 *     (a mutex, a join), as with any unsynchronized object.
 *   - The exceptions, safe from any thread at any time: creating and destroying tensors
 *     (ax_tensor_create, _zeros, _from_host, _destroy) of a context that other threads use
 *     the same way, and the tensor queries (ax_tensor_ndim ... ax_tensor_data) on tensors no
 *     thread is changing. Reference counts are atomic, and the registry of live handles (below)
 *     has a lock.
 *   - ax_last_error() and ax_clear_error() are per thread: a failure on one thread never
 *     changes another thread's message. The returned string stays valid until the next failing
 *     call on the same thread.
 *   - Destroying a handle while another thread is still using it is a data race, as it is in
 *     any C library: the caller makes sure the use is over first.
 *
 * Handles. A destroy function takes NULL, and a second destroy of the same handle does
 * nothing. A call on a destroyed handle (a context, tensor, graph, node, optimizer, data loader,
 * text dataset or safetensors file) answers AX_ERR_STATE with a message, without reading the
 * freed memory: axon keeps a registry of the live handles. A query that returns a value
 * (ax_tensor_numel, ax_graph_param_count, ...) returns 0, NULL or "" instead. The one limit:
 * once a handle is destroyed, a later create may get the same address for a new handle of the
 * same kind, and the old pointer then names the new object; so drop a pointer when you destroy
 * what it points to. A destroyed context stays allocated while tensors, graphs or optimizers
 * made on it are alive; calls with them answer AX_ERR_STATE, and the last destroy frees it. */

/* ---------------------------------------------------------------- status */

typedef enum ax_status {
    AX_OK = 0,
    AX_ERR_INVALID_ARG, /* NULL handle, bad value, out-of-range label, aliasing */
    AX_ERR_SHAPE,       /* shapes that do not fit together */
    AX_ERR_DTYPE,       /* f32 where i32 was expected, or the reverse */
    AX_ERR_DEVICE,      /* tensors from different contexts, or no such device */
    AX_ERR_OOM,         /* host or device allocation failed */
    AX_ERR_CUDA,        /* a CUDA call or kernel failed (also asynchronous faults) */
    AX_ERR_IO,          /* a file could not be read or written */
    AX_ERR_FORMAT,      /* a file's contents are malformed */
    AX_ERR_UNSUPPORTED, /* the backend has no implementation of this call */
    AX_ERR_STATE,       /* a handle used in the wrong state (destroyed context, ...) */
} ax_status;

/* Name of a status code, e.g. "AX_ERR_SHAPE". Never NULL. */
AX_API const char *ax_status_str(ax_status status);

/* Thread-local message of the last failed call on this thread, naming the call and the
 * reason ("ax_add: a has shape [2, 3], b has shape [3, 2]"). "" when there is none. */
AX_API const char *ax_last_error(void);

/* Forget the message of the last failure on this thread. */
AX_API void ax_clear_error(void);

/* ---------------------------------------------------------------- context */

typedef enum ax_device_kind {
    AX_DEVICE_AUTO = 0, /* the CUDA device when one works, else the CPU */
    AX_DEVICE_CPU = 1,
    AX_DEVICE_CUDA = 2,
} ax_device_kind;

typedef struct ax_ctx ax_ctx;

typedef struct ax_device_info {
    ax_device_kind kind; /* what was picked: AX_DEVICE_CPU or AX_DEVICE_CUDA */
    int index;           /* CUDA device ordinal, 0 for the CPU */
    char name[256];      /* "NVIDIA H100 80GB HBM3", or "CPU (OpenBLAS)" */
    int cc_major;        /* compute capability, 0 for the CPU */
    int cc_minor;
    int multiprocessors; /* SMs, or CPU cores */
    size_t total_memory; /* bytes of device memory, or of host memory */
} ax_device_info;

/* Number of usable CUDA devices; 0 when the runtime finds none or libaxon has no CUDA. */
AX_API int ax_cuda_device_count(void);

/* Create a context on one device. device_index selects the CUDA device (ignored for the CPU).
 * AX_DEVICE_CUDA fails with AX_ERR_DEVICE when no such device works; AX_DEVICE_AUTO falls
 * back to the CPU. The context owns a stream and a stream-ordered memory pool.
 * Every call on a CUDA context runs on that context's device, whatever device the calling
 * thread had current (contexts on several GPUs can be used from one thread); such a call
 * leaves the context's device current for the thread. */
AX_API ax_status ax_ctx_create(ax_device_kind kind, int device_index, ax_ctx **out);

/* Destroy a context (NULL is fine, a second destroy does nothing). Tensors, graphs and
 * optimizers still alive keep its resources until they are destroyed, but any call with them
 * then fails with AX_ERR_STATE. */
AX_API void ax_ctx_destroy(ax_ctx *ctx);

AX_API ax_status ax_ctx_device_info(const ax_ctx *ctx, ax_device_info *out);

/* Seed for the context's default random stream (initialisers, dropout in graphs). */
AX_API ax_status ax_ctx_set_seed(ax_ctx *ctx, uint64_t seed);
AX_API ax_status ax_ctx_get_seed(const ax_ctx *ctx, uint64_t *out);

/* Wait for all work queued on the context; reports asynchronous kernel faults. */
AX_API ax_status ax_ctx_synchronize(ax_ctx *ctx);

/* ---------------------------------------------------------------- tensor */

typedef enum ax_dtype {
    AX_F32 = 0, /* 32-bit IEEE float */
    AX_I32 = 1, /* 32-bit signed integer (labels, indices) */
    /* AX_F16, AX_BF16 and AX_I64 are reserved for later. */
} ax_dtype;

/* The dtype's name ("f32", "i32"; "unknown" for a value that is no dtype) and its size in
 * bytes per element (0 for a value that is no dtype). */
AX_API const char *ax_dtype_name(ax_dtype dtype);
AX_API size_t ax_dtype_size(ax_dtype dtype);

#define AX_MAX_DIMS 8

typedef struct ax_tensor ax_tensor;

/* A new tensor of the given shape (every dim >= 1, at most AX_MAX_DIMS dims, ndim 0 is a
 * scalar) on ctx's device. Contents are unspecified. */
AX_API ax_status ax_tensor_create(ax_ctx *ctx, ax_dtype dtype, int ndim, const int64_t *shape,
                                  ax_tensor **out);
/* The same, filled with zeros. */
AX_API ax_status ax_tensor_zeros(ax_ctx *ctx, ax_dtype dtype, int ndim, const int64_t *shape,
                                 ax_tensor **out);
/* The same, filled from host memory (numel elements of dtype). */
AX_API ax_status ax_tensor_from_host(ax_ctx *ctx, ax_dtype dtype, int ndim, const int64_t *shape,
                                     const void *data, ax_tensor **out);
AX_API void ax_tensor_destroy(ax_tensor *t);

/* Explicit copies. bytes must equal the tensor's size in bytes. Both wait for the copy. */
AX_API ax_status ax_tensor_to_host(const ax_tensor *t, void *dst, size_t bytes);
AX_API ax_status ax_tensor_set_from_host(ax_tensor *t, const void *src, size_t bytes);
/* dst = src: same dtype and element count, any devices (CPU <-> CUDA included). */
AX_API ax_status ax_tensor_copy(ax_tensor *dst, const ax_tensor *src);
/* Change the shape in place, keeping the element count (and the data). */
AX_API ax_status ax_tensor_reshape(ax_tensor *t, int ndim, const int64_t *shape);

/* Queries; each returns 0 / AX_F32 / NULL for a NULL or destroyed tensor. */
AX_API int ax_tensor_ndim(const ax_tensor *t);
AX_API int64_t ax_tensor_dim(const ax_tensor *t, int axis); /* negative axis counts from the end */
AX_API int64_t ax_tensor_numel(const ax_tensor *t);
AX_API ax_dtype ax_tensor_dtype(const ax_tensor *t);
AX_API size_t ax_tensor_nbytes(const ax_tensor *t);
AX_API ax_ctx *ax_tensor_ctx(const ax_tensor *t);
/* Raw storage (a device pointer on CUDA), for interoperation; NULL when invalid.
 * ax_tensor_const_data reads through a const tensor (an objective's x, a monitor's x). */
AX_API void *ax_tensor_data(ax_tensor *t);
AX_API const void *ax_tensor_const_data(const ax_tensor *t);

/* ---------------------------------------------------------------- Philox RNG */

/* Philox4x32-10 fills, bit-identical on the CPU and on CUDA for the same (seed, offset).
 * Element e of the tensor is drawn from counter block {e / 4 (or e / 2 for normals), offset}
 * under key seed, so a fill is a pure function of (seed, offset, e). f32 tensors only. */
AX_API ax_status ax_rng_uniform(ax_ctx *ctx, ax_tensor *t, float low, float high, uint64_t seed,
                                uint64_t offset); /* [low, high) */
AX_API ax_status ax_rng_normal(ax_ctx *ctx, ax_tensor *t, float mean, float stddev, uint64_t seed,
                               uint64_t offset); /* Box-Muller */
AX_API ax_status ax_rng_bernoulli(ax_ctx *ctx, ax_tensor *t, float p, uint64_t seed,
                                  uint64_t offset); /* 1 with probability p, else 0 */

#ifdef __cplusplus
}
#endif

#endif
