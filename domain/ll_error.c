/* ll_error.c - see ll_error.h. */
#include "ll_error.h"

#include <stdarg.h>
#include <stdio.h>

int ll_error_set(ll_error_t *err, int code, const char *fmt, ...) {
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void ll_error_clear(ll_error_t *err) {
    if (err != NULL) err->msg[0] = '\0';
}
