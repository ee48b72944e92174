/* libFuzzer target of the text dataset: the input, written to a temporary file, is loaded by
 * ax_text_dataset_load. An empty file must be refused with a message; any other must load as
 * its bytes over the sorted set of its distinct bytes, decode back to itself, split into
 * its beginning and its rest, and give training windows that are slices of it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "axon.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ids are the corpus's bytes: decoding gives data back, encoding gives ids back. */
static void check_ids(const ax_text_dataset *ds, const uint8_t *text, size_t n) {
    fuzz_require(ax_text_length(ds) == (int64_t)n);
    const int32_t *ids = ax_text_ids(ds);
    char *back = malloc(n);
    int32_t *again = malloc(n * sizeof *again);
    fuzz_require(back && again);
    fuzz_require(ax_text_decode(ds, ids, n, back) == AX_OK && memcmp(back, text, n) == 0);
    fuzz_require(ax_text_encode(ds, back, n, again) == AX_OK);
    fuzz_require(memcmp(again, ids, n * sizeof *ids) == 0);
    free(back);
    free(again);
}

/* Random windows of the corpus: inputs a slice, targets the next slice shifted by one. */
static void check_batch(const ax_text_dataset *ds, const uint8_t *text, size_t size,
                        uint64_t seed) {
    int64_t seq_len = 1 + (int64_t)(seed % 7), batch = 3;
    int32_t inputs[3 * 7], targets[3 * 7];
    ax_status st = ax_text_batch(ds, batch, seq_len, seed, seed >> 8, inputs, targets);
    if ((size_t)seq_len >= size) {
        fuzz_require(st == AX_ERR_INVALID_ARG);
        return;
    }
    fuzz_require(st == AX_OK);
    char in[7], out[7];
    for (int64_t b = 0; b < batch; b++) {
        fuzz_require(ax_text_decode(ds, inputs + b * seq_len, (size_t)seq_len, in) == AX_OK);
        fuzz_require(ax_text_decode(ds, targets + b * seq_len, (size_t)seq_len, out) == AX_OK);
        fuzz_require(memcmp(in + 1, out, (size_t)seq_len - 1) == 0);
        int found = 0; /* the window occurs in the corpus */
        for (size_t s = 0; !found && s + (size_t)seq_len < size; s++)
            found = memcmp(text + s, in, (size_t)seq_len) == 0 &&
                    (uint8_t)out[seq_len - 1] == text[s + (size_t)seq_len];
        fuzz_require(found);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_file("axon-fuzz-text", data, size, 0);
    ax_text_dataset *ds = NULL;
    if (ax_text_dataset_load(path, &ds) != AX_OK) {
        fuzz_require(size == 0 && ds == NULL && ax_last_error()[0] != '\0');
        return 0;
    }
    fuzz_require(size > 0);
    int distinct = 0, seen[256] = {0};
    for (size_t i = 0; i < size; i++)
        distinct += !seen[data[i]]++;
    fuzz_require(ax_text_vocab_size(ds) == distinct);
    const int32_t *ids = ax_text_ids(ds);
    for (size_t i = 0; i + 1 < size; i++) /* ids follow byte order */
        fuzz_require((ids[i] < ids[i + 1]) == (data[i] < data[i + 1]));
    check_ids(ds, data, size);

    uint64_t seed = 0;
    memcpy(&seed, data, size < sizeof seed ? size : sizeof seed);
    check_batch(ds, data, size, seed);

    double fraction = (double)(data[0] % 254 + 1) / 255.0; /* in (0, 1) */
    ax_text_dataset *train = NULL, *val = NULL;
    if (ax_text_dataset_split(ds, fraction, &train, &val) == AX_OK) {
        int64_t n_train = ax_text_length(train);
        fuzz_require(n_train >= 2 && ax_text_length(val) >= 2 &&
                (size_t)(n_train + ax_text_length(val)) == size);
        fuzz_require(ax_text_vocab_size(train) == distinct && ax_text_vocab_size(val) == distinct);
        check_ids(train, data, (size_t)n_train);
        check_ids(val, data + n_train, size - (size_t)n_train);
        ax_text_dataset_destroy(train);
        ax_text_dataset_destroy(val);
    } else {
        fuzz_require(train == NULL && val == NULL);
    }
    ax_text_dataset_destroy(ds);
    return 0;
}
