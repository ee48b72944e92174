/* How the examples stop on an error: one message, prefixed with the program's name, on stderr,
 * and exit status 1 (2 is a usage error, see options.h). Every fatal error of an example goes
 * through here. */
#ifndef EXAMPLES_REPORT_H
#define EXAMPLES_REPORT_H

#include <stddef.h>

#include "axon.h"

/* The prefix of the messages ("mnist_mlp"); ex_options_parse_or_exit sets it. */
void ex_set_program(const char *name);
const char *ex_program_name(void);

/* Prints "NAME: " and the printf-style message to stderr, and exits 1. */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2), noreturn))
#endif
void ex_fail(const char *format, ...);

/* A failed axon call: "NAME: STATUS: ax_last_error()" and exit 1. */
#if defined(__GNUC__)
__attribute__((noreturn))
#endif
void ex_fail_status(ax_status status);

/* Calls an axon function; a failure ends the program through ex_fail_status. */
#define EX_TRY(call)                                                                           \
    do {                                                                                       \
        ax_status ex_st_ = (call);                                                             \
        if (ex_st_ != AX_OK)                                                                   \
            ex_fail_status(ex_st_);                                                            \
    } while (0)

/* malloc, or ex_fail naming the size. */
void *ex_malloc(size_t bytes);

#endif
