/* ll_client_addr.c - see ll_client_addr.h. */
#include "ll_client_addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* addr (text, no prefix) into c with its full length as prefix. Returns 0 or -1. */
static int parse_addr(const char *text, ll_cidr_t *c) {
    memset(c, 0, sizeof *c);
    if (inet_pton(AF_INET, text, c->addr) == 1) {
        c->family = AF_INET, c->prefix = 32;
        return 0;
    }
    if (inet_pton(AF_INET6, text, c->addr) == 1) {
        c->family = AF_INET6, c->prefix = 128;
        return 0;
    }
    return -1;
}

static int net_contains(const ll_cidr_t *net, const ll_cidr_t *a) {
    if (net->family != a->family) return 0;
    int full = net->prefix / 8, rest = net->prefix % 8;
    if (memcmp(net->addr, a->addr, (size_t)full) != 0) return 0;
    if (rest == 0) return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (net->addr[full] & mask) == (a->addr[full] & mask);
}

/* Copies s[0..n) trimmed of spaces and tabs into out (size out_len). Returns 0, or -1 when empty
 * or too long. */
static int trimmed(const char *s, size_t n, char *out, size_t out_len) {
    while (n > 0 && (*s == ' ' || *s == '\t')) s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    if (n == 0 || n >= out_len) return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

int ll_trusted_proxies_parse(const char *list, ll_trusted_proxies_t *out, ll_error_t *err) {
    memset(out, 0, sizeof *out);
    for (const char *s = list; *s;) {
        size_t n = strcspn(s, ",");
        char entry[LL_CLIENT_ADDR_BYTES + 8];
        if (trimmed(s, n, entry, sizeof entry) == 0) {
            if (out->n == LL_TRUSTED_PROXIES_MAX)
                return ll_error_set(err, LL_EINVAL, "trusted_proxies: more than %d entries", LL_TRUSTED_PROXIES_MAX);
            char *slash = strchr(entry, '/');
            if (slash != NULL) *slash = '\0';
            ll_cidr_t *c = &out->nets[out->n];
            char *end = NULL;
            long prefix = slash ? strtol(slash + 1, &end, 10) : -1;
            if (parse_addr(entry, c) != 0 ||
                (slash && (slash[1] == '\0' || *end != '\0' || prefix < 0 || prefix > c->prefix)))
                return ll_error_set(err, LL_EINVAL, "trusted_proxies: \"%.64s%s%.8s\" is not an address or CIDR range",
                                    entry, slash ? "/" : "", slash ? slash + 1 : "");
            if (slash) c->prefix = (int)prefix;
            out->n++;
        } else if (strspn(s, " \t") != n) {
            return ll_error_set(err, LL_EINVAL, "trusted_proxies: an entry is too long");
        }
        s += n + (s[n] == ',');
    }
    return 0;
}

int ll_trusted_proxies_contains(const ll_trusted_proxies_t *t, const char *addr) {
    ll_cidr_t a;
    if (t->n == 0 || parse_addr(addr, &a) != 0) return 0;
    for (size_t i = 0; i < t->n; i++)
        if (net_contains(&t->nets[i], &a)) return 1;
    return 0;
}

void ll_client_addr(const ll_trusted_proxies_t *t, const char *peer, const char *xff, char *out, size_t out_len) {
    snprintf(out, out_len, "%s", peer);
    if (xff == NULL || !ll_trusted_proxies_contains(t, peer)) return;
    for (size_t end = strlen(xff); end > 0;) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',') start--;
        char entry[LL_CLIENT_ADDR_BYTES];
        ll_cidr_t a;
        if (trimmed(xff + start, end - start, entry, sizeof entry) != 0 || parse_addr(entry, &a) != 0) return;
        snprintf(out, out_len, "%s", entry);
        if (!ll_trusted_proxies_contains(t, entry)) return;
        end = start > 0 ? start - 1 : 0;
    }
}
