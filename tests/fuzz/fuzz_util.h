/* What the file-reading fuzz targets share. */
#ifndef AX_FUZZ_UTIL_H
#define AX_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A broken invariant is a finding: abort, so that libFuzzer saves the input. */
void fuzz_require(int ok);

/* Write data to this run's temporary file (created on the first call under /tmp with name
 * prefix, removed at exit), gzip-compressed when gzip, and return its path. */
const char *fuzz_write_file(const char *prefix, const uint8_t *data, size_t size, int gzip);

#endif
