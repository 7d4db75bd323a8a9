/* ll_error.h - a caller-supplied error message buffer.
 *
 * Functions that can fail return 0 on success or a negative LL_E* code, and write a one-line,
 * human-readable reason into an ll_error_t the caller owns. The message never contains secrets.
 */
#ifndef LL_ERROR_H
#define LL_ERROR_H

#include <stddef.h>

#define LL_ERROR_MSG_MAX 512

typedef struct ll_error {
    char msg[LL_ERROR_MSG_MAX]; /* NUL-terminated; "" when no error was set. */
} ll_error_t;

enum {
    LL_OK = 0,
    LL_EINVAL = -1, /* The input is malformed or out of range. */
    LL_ENOENT = -2, /* A named thing (file, key, account) does not exist. */
    LL_EIO = -3,    /* A read, write or connection failed. */
    LL_ENOMEM = -4, /* An allocation failed. */
    LL_ELIMIT = -5, /* A size or count limit was exceeded. */
};

/* Formats the reason into err (truncating if needed) and returns code, so callers can write
 * `return ll_error_set(err, LL_EINVAL, "...", ...);`. err may be NULL. */
int ll_error_set(ll_error_t *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Clears err to "". err may be NULL. */
void ll_error_clear(ll_error_t *err);

#endif
