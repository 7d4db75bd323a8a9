/* ll_text.h - a growable text buffer with printf-style appends (metrics pages and the like).
 *
 *   ll_text_t t;
 *   ll_text_init(&t);
 *   ll_text_printf(&t, "x %d\n", 1);
 *   char *s = ll_text_take(&t); // NULL if any append failed; caller frees
 *
 * After an allocation failure every later append is a no-op and take returns NULL, so callers
 * check once at the end.
 */
#ifndef LL_TEXT_H
#define LL_TEXT_H

#include <stddef.h>

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} ll_text_t;

void ll_text_init(ll_text_t *t);
void ll_text_printf(ll_text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s[0..len) as it is (no format: the fast path for text already rendered). */
void ll_text_append(ll_text_t *t, const char *s, size_t len);

/* Hands the NUL-terminated text to the caller (free it), or NULL after a failure (then freed).
 * t is empty again afterwards. */
char *ll_text_take(ll_text_t *t);

#endif
