/* ll_text.c - see ll_text.h. */
#include "ll_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ll_text_init(ll_text_t *t) {
    t->cap = 4096;
    t->len = 0;
    t->buf = malloc(t->cap);
    t->failed = t->buf == NULL;
    if (t->buf) t->buf[0] = '\0';
}

void ll_text_printf(ll_text_t *t, const char *fmt, ...) {
    for (;;) {
        if (t->failed) return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        /* Too small: grow to fit and print again (vsnprintf wrote a truncated copy). */
        char *grown = realloc(t->buf, t->cap * 2 + (size_t)n);
        if (grown == NULL) {
            t->failed = 1;
            return;
        }
        t->buf = grown;
        t->cap = t->cap * 2 + (size_t)n;
    }
}

void ll_text_append(ll_text_t *t, const char *s, size_t len) {
    if (t->failed) return;
    if (len >= t->cap - t->len) {
        size_t cap = t->cap * 2 + len;
        char *grown = realloc(t->buf, cap);
        if (grown == NULL) {
            t->failed = 1;
            return;
        }
        t->buf = grown, t->cap = cap;
    }
    memcpy(t->buf + t->len, s, len);
    t->len += len;
    t->buf[t->len] = '\0';
}

char *ll_text_take(ll_text_t *t) {
    char *out = t->failed ? NULL : t->buf;
    if (t->failed) free(t->buf);
    t->buf = NULL;
    t->len = t->cap = 0;
    t->failed = 0;
    return out;
}
