/* Launchers of the hand-written CUDA kernels, one group per src/kernels/<family>.cu.
 * Each has the signature of its entry in struct ax_backend (../host/backend.h): it queues the
 * kernel on ctx's stream, guards every tail, checks the launch, and does not synchronize. */
#ifndef AX_KERNELS_H
#define AX_KERNELS_H

#include "../host/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ax_cuda_<name> for every entry, in src/kernels/<family>.cu (the cross-entropy pair in
 * loss.cu synchronizes to check the labels) */
#define AX_BACKEND_ENTRY(ret, name, params) ret ax_cuda_##name params;
#include "../host/backend_entries.h"
#undef AX_BACKEND_ENTRY

/* The kernels ax_cuda_conv2d_<pass> runs on geometry g (pass 0 forward, 1 backward-data,
 * 2 backward-filter): "generic" (implicit GEMM), "pointwise", "depthwise" or "winograd"
 * (conv.cu: choose_algo). For bench_conv's table; not API. */
const char *ax_cuda_conv2d_algo(const struct ax_conv2d_geom *g, int pass);

#ifdef __cplusplus
}
#endif

#endif
