/* ll_route.c - see ll_route.h. */
#include "ll_route.h"

#include <stdio.h>
#include <string.h>

/* Matches path against pattern; the {name} segments go to params. Returns 1 when it matched. */
static int path_matches(const char *pattern, h2o_iovec_t path, h2o_iovec_t *params, size_t *n_params) {
    const char *p = pattern, *s = path.base, *end = path.base + path.len;
    size_t n = 0;
    while (*p != '\0') {
        if (*p != '{') {
            if (s == end || *s != *p) return 0;
            p++, s++;
            continue;
        }
        const char *close = strchr(p, '}');
        if (close == NULL || n == LL_ROUTE_PARAMS_MAX) return 0; /* a broken table matches nothing */
        const char *seg = s;
        while (s < end && *s != '/') s++;
        p = close + 1;
        if (s == seg && *p == '\0') return 0; /* "/v1/accounts/" is no account */
        params[n++] = h2o_iovec_init(seg, (size_t)(s - seg));
    }
    *n_params = n;
    return s == end;
}

static int method_takes(const char *method, h2o_iovec_t m) {
    if (h2o_memis(m.base, m.len, method, strlen(method))) return 1;
    return strcmp(method, "GET") == 0 && h2o_memis(m.base, m.len, H2O_STRLIT("HEAD"));
}

int ll_route_match(const ll_route_t *table, h2o_iovec_t method, h2o_iovec_t path, ll_route_match_t *m) {
    ll_route_match_t found = {0};
    for (const ll_route_t *r = table; r != NULL && r->method != NULL; r++) {
        h2o_iovec_t params[LL_ROUTE_PARAMS_MAX];
        size_t n = 0;
        if (!path_matches(r->pattern, path, params, &n)) continue;
        int ok = method_takes(r->method, method);
        if (found.route != NULL && (found.method_ok || !ok)) continue;
        found = (ll_route_match_t){.route = r, .table = table, .method_ok = ok, .n_params = n};
        memcpy(found.params, params, n * sizeof params[0]);
        if (ok) break;
    }
    if (found.route == NULL) return 0;
    *m = found;
    return 1;
}

const char *ll_route_label(const ll_route_match_t *m) {
    return m->route != NULL ? m->route->label : "other";
}

int ll_route_uuid(const ll_route_match_t *m, const char *name, ll_uuid_t *out) {
    if (m->route == NULL) return 0;
    size_t len = strlen(name), i = 0;
    for (const char *p = strchr(m->route->pattern, '{'); p != NULL; p = strchr(p + 1, '{'), i++) {
        if (strncmp(p + 1, name, len) != 0 || p[1 + len] != '}') continue;
        if (i >= m->n_params || m->params[i].len != LL_UUID_TEXT_LEN) return -1;
        char text[LL_UUID_TEXT_LEN + 1];
        memcpy(text, m->params[i].base, LL_UUID_TEXT_LEN);
        text[LL_UUID_TEXT_LEN] = '\0';
        return ll_uuid_parse(text, true, out) == 0 ? 1 : -1;
    }
    return 0;
}

size_t ll_route_allow(const ll_route_match_t *m, h2o_iovec_t path, char *out, size_t out_size) {
    size_t o = 0;
    if (out_size == 0) return 0;
    out[0] = '\0';
    for (const ll_route_t *r = m->table; r != NULL && r->method != NULL; r++) {
        h2o_iovec_t params[LL_ROUTE_PARAMS_MAX];
        size_t n = 0;
        if (!path_matches(r->pattern, path, params, &n)) continue;
        const char *more = strcmp(r->method, "GET") == 0 ? ", HEAD" : "";
        int k = snprintf(out + o, out_size - o, "%s%s%s", o ? ", " : "", r->method, more);
        if (k < 0 || (size_t)k >= out_size - o) break; /* cut: the methods that fit */
        o += (size_t)k;
    }
    return o;
}
