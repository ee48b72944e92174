/* Status names and the thread-local last-error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static _Thread_local char last_error[1024];

const char *ax_status_str(ax_status status) {
    switch (status) {
    case AX_OK: return "AX_OK";
    case AX_ERR_INVALID_ARG: return "AX_ERR_INVALID_ARG";
    case AX_ERR_SHAPE: return "AX_ERR_SHAPE";
    case AX_ERR_DTYPE: return "AX_ERR_DTYPE";
    case AX_ERR_DEVICE: return "AX_ERR_DEVICE";
    case AX_ERR_OOM: return "AX_ERR_OOM";
    case AX_ERR_CUDA: return "AX_ERR_CUDA";
    case AX_ERR_IO: return "AX_ERR_IO";
    case AX_ERR_FORMAT: return "AX_ERR_FORMAT";
    case AX_ERR_UNSUPPORTED: return "AX_ERR_UNSUPPORTED";
    case AX_ERR_STATE: return "AX_ERR_STATE";
    }
    return "AX_ERR_UNKNOWN";
}

const char *ax_last_error(void) { return last_error; }

void ax_clear_error(void) { last_error[0] = '\0'; }

/* The message is formatted into a local buffer first and copied once complete, so that an
 * argument may be ax_last_error() itself: wrapping an earlier message ("...: %s",
 * ax_last_error()) is safe. */
ax_status ax_fail(ax_status status, const char *fn, const char *fmt, ...) {
    char message[sizeof last_error];
    int n = snprintf(message, sizeof message, "%s: ", fn);
    if (n < 0 || (size_t)n >= sizeof message)
        n = 0;
    va_list args;
    va_start(args, fmt);
    vsnprintf(message + n, sizeof message - (size_t)n, fmt, args);
    va_end(args);
    memcpy(last_error, message, sizeof last_error);
    return status;
}
