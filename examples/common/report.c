/* The examples' fatal errors, one way for all. */
#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const char *program = "example";

void ex_set_program(const char *name) { program = name ? name : "example"; }

const char *ex_program_name(void) { return program; }

void ex_fail(const char *format, ...) {
    va_list ap;
    fflush(stdout); /* what was printed before comes first */
    fprintf(stderr, "%s: ", program);
    va_start(ap, format);
    vfprintf(stderr, format, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

void ex_fail_status(ax_status status) {
    ex_fail("%s: %s", ax_status_str(status), ax_last_error());
}

void *ex_malloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        ex_fail("out of memory for %zu bytes", bytes);
    return p;
}
