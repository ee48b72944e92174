/* What the core needs from the CUDA backend, without CUDA headers. */
#ifndef AX_CUDA_GLUE_H
#define AX_CUDA_GLUE_H

#include "../core/internal.h"

int ax_cuda_count(void);
/* Fill ctx->info and ctx->stream for CUDA device `index`; message set on failure. */
ax_status ax_cuda_ctx_init(ax_ctx *ctx, int index);
void ax_cuda_ctx_fini(ax_ctx *ctx);

#endif
