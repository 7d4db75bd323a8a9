/* ll_problem.c - see ll_problem.h. */
#include "ll_problem.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define DETAIL_BYTES_MAX 512

/* The length of the valid UTF-8 character at s (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF), or 0 when s does not start one. */
static size_t utf8_char(const unsigned char *s) {
    if (s[0] < 0x80) return 1;
    size_t n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))) return 0;
    if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))) return 0;
    return n;
}

/* detail as JSON can carry it: every byte that is not part of valid UTF-8 becomes '?' (a detail
 * may quote what a client sent), cut to DETAIL_BYTES_MAX at a character boundary. */
static void clean_detail(const char *detail, char *out) {
    const unsigned char *s = (const unsigned char *)detail;
    size_t o = 0;
    while (*s) {
        size_t n = utf8_char(s);
        if (o + (n ? n : 1) >= DETAIL_BYTES_MAX) break;
        if (n == 0) {
            out[o++] = '?';
            s++;
        } else {
            memcpy(out + o, s, n), o += n, s += n;
        }
    }
    out[o] = '\0';
}

static size_t render(char *out, size_t size, int status, const char *slug, const char *title, const char *detail) {
    char type[160];
    snprintf(type, sizeof type, "%s%s", LL_PROBLEM_TYPE_BASE, slug);
    json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", title, "status", status, "detail", detail);
    size_t n = p ? json_dumpb(p, out, size > 0 ? size - 1 : 0, JSON_COMPACT) : 0;
    json_decref(p);
    return n;
}

int ll_problem_render(char *out, size_t size, int status, const char *slug, const char *title,
                      const char *detail) {
    char clean[DETAIL_BYTES_MAX];
    clean_detail(detail ? detail : "", clean);
    size_t n = render(out, size, status, slug, title, clean);
    if (n == 0 || n >= size) n = render(out, size, status, slug, title, ""); /* too long: without detail */
    if (n == 0 || n >= size) {
        snprintf(out, size, "{\"status\":%d}", status);
        return -1;
    }
    out[n] = '\0';
    return (int)n;
}
