/* The CPU backend's table, memory and device description. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu.h"

static ax_status cpu_ctx_init(ax_ctx *ctx, int index) {
    (void)index;
    ctx->info.kind = AX_DEVICE_CPU;
    ctx->info.index = 0;
    snprintf(ctx->info.name, sizeof ctx->info.name, "CPU");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    ctx->info.multiprocessors = cores > 0 ? (int)cores : 1;
    ctx->info.total_memory = pages > 0 && page_size > 0 ? (size_t)pages * (size_t)page_size : 0;
    return AX_OK;
}

static ax_status cpu_alloc(ax_ctx *ctx, size_t bytes, void **out) {
    (void)ctx;
    /* 64-byte alignment for vector loads; round the size up as aligned_alloc requires */
    size_t rounded = (bytes + 63) / 64 * 64;
    *out = aligned_alloc(64, rounded ? rounded : 64);
    if (!*out)
        return AX_FAIL(AX_ERR_OOM, "could not allocate %zu bytes of host memory", bytes);
    return AX_OK;
}

static void cpu_free(ax_ctx *ctx, void *ptr) {
    (void)ctx;
    free(ptr);
}

static ax_status cpu_copy(ax_ctx *ctx, void *dst, const void *src, size_t bytes) {
    (void)ctx;
    memmove(dst, src, bytes);
    return AX_OK;
}

static ax_status cpu_copy_2d(ax_ctx *ctx, void *dst, size_t dpitch, const void *src,
                             size_t spitch, size_t width, size_t height) {
    (void)ctx;
    for (size_t r = 0; r < height; r++)
        memmove((char *)dst + r * dpitch, (const char *)src + r * spitch, width);
    return AX_OK;
}

static ax_status cpu_synchronize(ax_ctx *ctx) {
    (void)ctx;
    return AX_OK;
}

const struct ax_backend ax_cpu_backend = {
    .name = "cpu",
    .ctx_init = cpu_ctx_init,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .copy_to_device = cpu_copy,
    .copy_to_host = cpu_copy,
    .copy_on_device = cpu_copy,
    .copy_2d_on_device = cpu_copy_2d,
    .synchronize = cpu_synchronize,
#define AX_BACKEND_ENTRY(ret, name, params) .name = ax_cpu_##name,
#include "../backend_entries.h"
#undef AX_BACKEND_ENTRY
};
