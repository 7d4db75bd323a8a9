/* ll_log.c - see ll_log.h. */
#include "ll_log.h"

#include "ll_clock.h"
#include "ll_time.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Kept free at the end of every line for what ll_log_end adds: ,"truncated":true}\n */
#define TAIL_RESERVE 24
#define LIMIT        (LL_LOG_LINE_MAX - TAIL_RESERVE)

static int room(const ll_log_t *l, size_t n) {
    return l->len + n <= LIMIT;
}

static void raw(ll_log_t *l, const char *s, size_t n) {
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* Length of the valid UTF-8 sequence at s[0..n) (n > 0): 1 for ASCII, 2..4 for a well-formed
 * sequence (no overlong forms, no surrogates, nothing past U+10FFFF), 0 for an invalid byte. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0], cp, min;
    size_t k;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        k = 2, cp = c & 0x1Fu, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        k = 3, cp = c & 0x0Fu, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        k = 4, cp = c & 0x07u, min = 0x10000;
    else
        return 0;
    if (n < k) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0u) != 0x80u) return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    return cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ? 0 : k;
}

/* The JSON escape of an ASCII byte that may not go as it is (a quote, a backslash, a control
 * byte or DEL) into out; returns its length. */
static size_t escape_ascii(unsigned char c, char out[6]) {
    static const char hex[] = "0123456789abcdef";
    const char *two = c == '"'    ? "\\\""
                      : c == '\\' ? "\\\\"
                      : c == '\n'  ? "\\n"
                      : c == '\r'  ? "\\r"
                      : c == '\t'  ? "\\t"
                                   : NULL;
    if (two != NULL) {
        memcpy(out, two, 2);
        return 2;
    }
    memcpy(out, "\\u00", 4);
    out[4] = hex[c >> 4];
    out[5] = hex[c & 0xf];
    return 6;
}

/* Bytes at p[0..n) that go into a JSON string as they are (printable ASCII). */
static size_t plain_run(const unsigned char *p, size_t n) {
    size_t k = 0;
    while (k < n && p[k] >= 0x20 && p[k] < 0x7f && p[k] != '"' && p[k] != '\\') k++;
    return k;
}

/* Writes s[0..n) as a JSON string, quotes included; cut (and the line marked truncated) where
 * the next character would not fit, so the closing quote always does. */
static void string(ll_log_t *l, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    raw(l, "\"", 1);
    for (size_t i = 0; i < n;) {
        size_t k = plain_run(p + i, n - i), w = k;
        const char *out = s + i;
        char esc[6];
        int plain = k > 0; /* the common case: a run copied at once */
        if (!plain && (k = utf8_len(p + i, n - i)) == 0) {
            out = "\xef\xbf\xbd", w = 3, k = 1; /* not UTF-8: the replacement character */
        } else if (!plain) {
            w = k == 1 ? escape_ascii(p[i], esc) : k; /* a byte plain_run stopped at is escaped */
            if (k == 1) out = esc;
        }
        if (!room(l, w + 1)) { /* the closing quote always fits */
            if (plain) raw(l, out, LIMIT - 1 - l->len); /* a run is cut; a character goes whole or not */
            l->truncated = true;
            break;
        }
        raw(l, out, w);
        i += k;
    }
    raw(l, "\"", 1);
}

/* Starts a field: ,"key": with room for at least min_value bytes after it. Returns 0 when the
 * line is already cut or the field does not fit (the line is then cut here). */
static int key(ll_log_t *l, const char *k, size_t min_value) {
    if (l->truncated) return 0;
    size_t start = l->len, n = strlen(k);
    if (!room(l, n + 4 + min_value)) {
        l->truncated = true;
        return 0;
    }
    if (l->len > 1) raw(l, ",", 1);
    string(l, k, n);
    if (l->truncated || !room(l, 1 + min_value)) {
        l->len = start;
        l->truncated = true;
        return 0;
    }
    raw(l, ":", 1);
    return 1;
}

void ll_log_strn(ll_log_t *l, const char *k, const char *value, size_t len) {
    if (!key(l, k, 2)) return;
    string(l, value ? value : "", value ? len : 0);
}

void ll_log_str(ll_log_t *l, const char *k, const char *value) {
    ll_log_strn(l, k, value, value ? strlen(value) : 0);
}

/* The decimal digits of u, right-aligned at end; returns where they start. */
static char *digits(unsigned long long u, char *end) {
    do *--end = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    return end;
}

void ll_log_int(ll_log_t *l, const char *k, long long value) {
    char text[24], *end = text + sizeof text;
    char *p = digits(value < 0 ? 0ull - (unsigned long long)value : (unsigned long long)value, end);
    if (value < 0) *--p = '-';
    if (key(l, k, (size_t)(end - p))) raw(l, p, (size_t)(end - p));
}

void ll_log_bool(ll_log_t *l, const char *k, bool value) {
    if (key(l, k, 5)) raw(l, value ? "true" : "false", value ? 4 : 5);
}

void ll_log_double(ll_log_t *l, const char *k, double value, int decimals) {
    static const double scale[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    char text[64], *end = text + sizeof text, *p;
    int d = decimals < 0 ? 0 : decimals > 9 ? 9 : decimals;
    double scaled = fabs(value) * scale[d] + 0.5;
    if (!isfinite(value)) {
        p = end - 4;
        memcpy(p, "null", 4); /* JSON has no inf or NaN */
    } else if (scaled < 9e15) { /* exact in a double: integer arithmetic, no printf (the per-request path) */
        unsigned long long u = (unsigned long long)scaled, pow10 = (unsigned long long)scale[d];
        unsigned long long whole = u / pow10, frac = u % pow10;
        p = end;
        for (int i = 0; i < d; i++, frac /= 10) *--p = (char)('0' + frac % 10);
        if (d > 0) *--p = '.';
        p = digits(whole, p);
        if (value < 0 && u != 0) *--p = '-';
    } else {
        int n = snprintf(text, sizeof text, "%.*f", d, value);
        p = n > 0 && (size_t)n < sizeof text ? text : strcpy(text, "null");
        end = p + strlen(p);
    }
    if (key(l, k, (size_t)(end - p))) raw(l, p, (size_t)(end - p));
}

void ll_log_begin(ll_log_t *l, const char *level, const char *service, const char *msg) {
    char ts[LL_TIME_TEXT_LEN + 1];
    if (ll_time_format(ll_clock_wall_us(), ts) != 0) ts[0] = '\0';
    l->len = 0;
    l->truncated = false;
    raw(l, "{", 1);
    ll_log_str(l, "ts", ts);
    ll_log_str(l, "level", level);
    ll_log_str(l, "service", service);
    ll_log_str(l, "msg", msg);
}

static void finish(ll_log_t *l) {
    if (l->truncated) raw(l, ",\"truncated\":true", 17);
    raw(l, "}\n", 2);
    fwrite(l->buf, 1, l->len, stdout); /* one call: stdout's lock keeps the line whole */
}

void ll_log_end_unflushed(ll_log_t *l) {
    finish(l);
}

void ll_log_end(ll_log_t *l) {
    finish(l);
    fflush(stdout);
}

void ll_log_line(const char *level, const char *service, const char *msg, const char *account,
                 const char *detail) {
    ll_log_t l;
    ll_log_begin(&l, level, service, msg);
    if (account != NULL) ll_log_str(&l, "account_id", account);
    ll_log_str(&l, "detail", detail);
    ll_log_end(&l);
}
