/* libFuzzer target of the IDX reader. The input is written to a temporary file, as is (plain,
 * or gzip when it starts with the gzip magic: corrupt streams) or, built with
 * AX_FUZZ_IDX_GZIP, compressed by zlib first (so that the fuzzer explores IDX headers and data
 * behind gzip), and read by ax_idx_read. A refusal must leave *out zeroed with a message; an
 * accepted file must decode exactly: a known type, 1 to 4 dims whose product is count, and
 * count elements equal to the big-endian values after the header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "axon.h"
#include "fuzz_util.h"

#ifdef AX_FUZZ_IDX_GZIP
#define FUZZ_GZIP 1
#else
#define FUZZ_GZIP 0
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The accepted array is the file's bytes (the input, whose plain or decompressed form is
 * `file`) decoded. */
static void check_accepted(const ax_idx *idx, const uint8_t *file, size_t size) {
    size_t esize = ax_idx_type_size(idx->type);
    fuzz_require(esize != 0 && idx->ndim >= 1 && idx->ndim <= AX_IDX_MAX_DIMS);
    size_t header = 4 + 4 * (size_t)idx->ndim;
    fuzz_require(size >= header && file[0] == 0 && file[1] == 0 && file[2] == idx->type &&
                 file[3] == idx->ndim);
    int64_t count = 1;
    for (int i = 0; i < idx->ndim; i++) {
        const uint8_t *d = file + 4 + 4 * i;
        int64_t dim = (int64_t)d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3];
        fuzz_require(dim >= 1 && idx->dims[i] == dim);
        count *= dim; /* no overflow: the file holds count elements */
    }
    fuzz_require(idx->count == count && size == header + (size_t)count * esize);
    const uint16_t one = 1;
    int little = *(const uint8_t *)&one;
    const uint8_t *elements = idx->data, *be = file + header;
    for (size_t e = 0; e < (size_t)count; e++)
        for (size_t b = 0; b < esize; b++)
            fuzz_require(elements[e * esize + b] == be[e * esize + (little ? esize - 1 - b : b)]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path =
        fuzz_write_file(FUZZ_GZIP ? "axon-fuzz-idx-gz" : "axon-fuzz-idx", data, size, FUZZ_GZIP);
    ax_idx idx;
    memset(&idx, 0x5a, sizeof idx);
    if (ax_idx_read(path, &idx) != AX_OK) {
        fuzz_require(idx.data == NULL && idx.ndim == 0 && idx.count == 0);
        fuzz_require(ax_last_error()[0] != '\0');
        return 0;
    }
    if (!FUZZ_GZIP && size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        /* a gzip stream the fuzzer made valid: only the plain invariants */
        fuzz_require(idx.data != NULL && idx.count >= 1);
        ax_idx_free(&idx);
        return 0;
    }
    check_accepted(&idx, data, size);
    ax_idx_free(&idx);
    fuzz_require(idx.data == NULL);
    return 0;
}
