/* libFuzzer target of the safetensors parser: every input goes through ax_safetensors_parse;
 * what it accepts must be self-consistent and readable into CPU tensors byte for byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "axon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a finding: stop here so that libFuzzer saves the input. */
static void require(int ok) {
    if (!ok)
        abort();
}

static void check_entry(ax_ctx *ctx, const ax_safetensors *st, int index) {
    ax_safetensors_entry e;
    require(ax_safetensors_entry_get(st, index, &e) == AX_OK);
    int other;
    require(ax_safetensors_find(st, e.name, &other) == AX_OK && other == index);
    const void *raw;
    size_t nbytes;
    require(ax_safetensors_raw(st, index, &raw, &nbytes) == AX_OK && nbytes == e.nbytes);
    ax_tensor *t = NULL;
    if (ax_safetensors_to_tensor(st, index, ctx, &t) != AX_OK)
        return; /* unsupported dtype or an empty tensor */
    require(e.supported && ax_tensor_nbytes(t) == nbytes);
    void *copy = malloc(nbytes ? nbytes : 1);
    require(copy && ax_tensor_to_host(t, copy, nbytes) == AX_OK);
    require(memcmp(copy, raw, nbytes) == 0);
    require(ax_safetensors_read(st, index, t) == AX_OK);
    free(copy);
    ax_tensor_destroy(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static ax_ctx *ctx;
    if (!ctx)
        require(ax_ctx_create(AX_DEVICE_CPU, 0, &ctx) == AX_OK);
    ax_safetensors *st = NULL;
    if (ax_safetensors_parse(data, size, &st) != AX_OK) {
        require(st == NULL && ax_last_error()[0] != '\0');
        return 0;
    }
    for (int i = 0; i < ax_safetensors_count(st); i++)
        check_entry(ctx, st, i);
    ax_safetensors_close(st);
    return 0;
}
