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

#ifdef __cplusplus
}
#endif

#endif
