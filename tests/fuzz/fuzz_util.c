/* What the file-reading fuzz targets share: the invariant check and the temporary file. */
#define _POSIX_C_SOURCE 200809L /* mkstemp */

#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

void fuzz_require(int ok) {
    if (!ok)
        abort();
}

static char path[256];

static void remove_file(void) { unlink(path); }

const char *fuzz_write_file(const char *prefix, const uint8_t *data, size_t size, int gzip) {
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/%s-XXXXXX", prefix);
        int fd = mkstemp(path);
        fuzz_require(fd >= 0);
        close(fd);
        atexit(remove_file);
    }
    if (gzip) {
        gzFile f = gzopen(path, "wb");
        fuzz_require(f != NULL);
        fuzz_require(size == 0 || gzwrite(f, data, (unsigned)size) == (int)size);
        fuzz_require(gzclose(f) == Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        fuzz_require(f != NULL);
        fuzz_require(fwrite(data, 1, size, f) == size);
        fuzz_require(fclose(f) == 0);
    }
    return path;
}
