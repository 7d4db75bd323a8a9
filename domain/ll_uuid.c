/* ll_uuid.c - see ll_uuid.h. */
#include "ll_uuid.h"

#include <string.h>

static int hex_value(char c, bool allow_upper) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (allow_upper && c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int ll_uuid_parse(const char *s, bool allow_upper, ll_uuid_t *out) {
    if (s == NULL) return -1;
    ll_uuid_t u;
    size_t byte = 0;
    for (size_t i = 0; i < LL_UUID_TEXT_LEN; i += 2) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return -1;
            i++;
        }
        int hi = hex_value(s[i], allow_upper);
        int lo = hi < 0 ? -1 : hex_value(s[i + 1], allow_upper);
        if (lo < 0) return -1;
        u.bytes[byte++] = (uint8_t)(hi << 4 | lo);
    }
    if (byte != 16 || s[LL_UUID_TEXT_LEN] != '\0') return -1;
    *out = u;
    return 0;
}

void ll_uuid_format(const ll_uuid_t *u, char out[LL_UUID_TEXT_LEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[u->bytes[i] >> 4];
        out[o++] = hex[u->bytes[i] & 15];
    }
    out[o] = '\0';
}

bool ll_uuid_equal(const ll_uuid_t *a, const ll_uuid_t *b) {
    return memcmp(a->bytes, b->bytes, 16) == 0;
}

bool ll_uuid_is_nil(const ll_uuid_t *u) {
    static const ll_uuid_t nil;
    return ll_uuid_equal(u, &nil);
}

uint64_t ll_uuid_hash(const ll_uuid_t *u) {
    uint64_t a, b;
    memcpy(&a, u->bytes, 8);
    memcpy(&b, u->bytes + 8, 8);
    return (a ^ (b * 0x9E3779B97F4A7C15ULL)) * 0xBF58476D1CE4E5B9ULL;
}

int ll_uuid_compare(const ll_uuid_t *a, const ll_uuid_t *b) {
    return memcmp(a->bytes, b->bytes, 16);
}
