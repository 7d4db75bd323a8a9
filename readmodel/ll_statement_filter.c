/* ll_statement_filter.c - see ll_statement_filter.h. */
#include "ll_statement_filter.h"

#include "ll_event.h"
#include "ll_rm_layout.h"
#include "ll_time.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define LL_STMT_PAGE_VERSIONS LL_READ_MODEL_PAGE_VERSIONS

/* The Gregorian calendar repeats every 400 years, which are exactly 146,097 days. */
#define ERA_YEARS  400
#define ERA_US     (146097LL * 86400 * 1000000)
#define SHIFT_ERAS 5 /* 2000 years: brings any year 0001..1969 or 8000..9999 into 1970..9999 */

/* True when text's fraction of a second has a non-zero digit past the sixth: the parse kept
 * whole microseconds (rounding down), and the instant asked for lies just after that. */
static int below_microsecond(const char *text) {
    const char *t = strchr(text, 'T');
    if (t == NULL) t = strchr(text, 't');
    const char *dot = t ? strchr(t, '.') : NULL;
    if (dot == NULL) return 0;
    int i = 0;
    for (const char *c = dot + 1; *c >= '0' && *c <= '9'; c++, i++)
        if (i >= 6 && *c != '0') return 1;
    return 0;
}

static int parse_instant(const char *text, int64_t *us);

/* Events occur at whole microseconds, so [from, to) holds the same events as [ceil(from),
 * ceil(to)): both bounds round up, exactly. */
int ll_stmt_parse_instant(const char *text, int64_t *us) {
    if (parse_instant(text, us) != 0) return -1;
    if (below_microsecond(text) && *us < INT64_MAX) (*us)++;
    return 0;
}

static int parse_instant(const char *text, int64_t *us) {
    int64_t clamped, v;
    if (ll_time_parse_rfc3339(text, us) == 0) return 0;
    if (ll_time_parse_rfc3339_clamped(text, &clamped) != 0) return -1; /* not RFC 3339 at all */
    /* Valid, but outside what ll_time represents (before 1970, or past 9999 by its offset): the
     * same text whole eras later (or earlier) is inside it, and exactly that many eras apart. */
    char shifted[72];
    size_t n = strlen(text);
    if (n >= sizeof shifted) return -1;
    memcpy(shifted, text, n + 1);
    int year = (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 + (text[3] - '0');
    int eras = year < 5000 ? SHIFT_ERAS : -SHIFT_ERAS;
    int moved = year + eras * ERA_YEARS;
    char digits[8];
    snprintf(digits, sizeof digits, "%04d", moved);
    memcpy(shifted, digits, 4);
    if (ll_time_parse_rfc3339(shifted, &v) != 0) return -1;
    *us = v - (int64_t)eras * ERA_US;
    return 0;
}

int ll_stmt_parse_types(const char *text, unsigned *mask) {
    unsigned m = 0;
    const char *p = text;
    for (int names = 1;; names++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char name[32];
        if (len == 0 || len >= sizeof name || names > LL_STMT_TYPES_MAX) return -1;
        memcpy(name, p, len);
        name[len] = '\0';
        ll_event_type_t t = ll_event_type_from_name(name);
        if (t == LL_EVENT_NONE || !ll_event_is_movement(t)) return -1;
        m |= 1u << t;
        if (comma == NULL) break;
        p = comma + 1;
    }
    *mask = m;
    return 0;
}

ll_stmt_verdict_t ll_stmt_item(const ll_stmt_filter_t *f, const char *json, size_t len) {
    json_t *o = json_loadb(json, len, 0, NULL);
    const char *type = json_string_value(json_object_get(o, "type"));
    const char *when = json_string_value(json_object_get(o, "occurred_at"));
    int64_t at = 0;
    ll_event_type_t t = type ? ll_event_type_from_name(type) : LL_EVENT_NONE;
    ll_stmt_verdict_t v = LL_STMT_TAKE;
    if (t == LL_EVENT_NONE || when == NULL || ll_time_parse_canonical(when, &at) != 0)
        v = LL_STMT_BAD;
    else if (f->has_from && at < f->from_us)
        v = LL_STMT_OLDER;
    else if ((f->has_to && at >= f->to_us) || (f->types != 0 && !(f->types & (1u << t))))
        v = LL_STMT_SKIP;
    json_decref(o);
    return v;
}

void ll_stmt_search_init(ll_stmt_search_t *s, int64_t pages, int64_t low_us, int64_t high_us,
                         int64_t high_version, ll_stmt_probe_fn probe, void *ctx) {
    memset(s, 0, sizeof *s);
    s->pages = pages > 0 ? pages : 0;
    s->low_us = low_us;
    s->high_us = high_us;
    s->high_version = high_version;
    s->probe = probe;
    s->ctx = ctx;
}

/* L(page), from what this request probed already or from one probe. */
static int probe(ll_stmt_search_t *s, int64_t page, int64_t *last_us) {
    for (size_t i = 0; i < s->n_memo; i++)
        if (s->memo[i].page == page) {
            *last_us = s->memo[i].last_us;
            return 0;
        }
    s->probes++;
    int rc = s->probe(s->ctx, page, last_us);
    if (rc == 0 && s->n_memo < LL_STMT_MEMO) {
        s->memo[s->n_memo].page = page;
        s->memo[s->n_memo++].last_us = *last_us;
    }
    return rc;
}

int ll_stmt_lower_bound(ll_stmt_search_t *s, int64_t t, int64_t *page) {
    /* The answer lies in [lo, hi]. tlo = L(lo-1) < t (the opening while lo is 0); thi = L(hi) >= t,
     * where L(pages), past the sealed pages, is the newest event's time. */
    int64_t lo = 0, hi = s->pages, tlo = s->low_us, thi = s->high_us, last, m = 0;
    if (t <= s->low_us || s->pages == 0 || t > s->high_us) {
        *page = t <= s->low_us ? 0 : s->pages;
        return 0;
    }
    for (size_t i = 0; i < s->n_memo; i++) { /* what an earlier search learnt bounds this one */
        if (s->memo[i].last_us < t && s->memo[i].page + 1 > lo)
            lo = s->memo[i].page + 1, tlo = s->memo[i].last_us;
        if (s->memo[i].last_us >= t && s->memo[i].page < hi) hi = s->memo[i].page, thi = s->memo[i].last_us;
    }
    if (lo > hi) lo = hi; /* a store whose times go back (not ours): any answer, never a loop */
    bool went_down = false;
    for (int step = 0; lo < hi; step = (step + 1) % 3) {
        if (step == 0 && thi > tlo) {
            /* The versions from L(lo-1)'s to L(hi)'s happened between tlo and thi: guess the
             * version t falls on, and probe its page. */
            double vlo = lo == 0 ? 1 : (double)(lo * LL_STMT_PAGE_VERSIONS - 1);
            double vhi = hi == s->pages && s->high_version > vlo
                             ? (double)s->high_version
                             : (double)(hi * LL_STMT_PAGE_VERSIONS + LL_STMT_PAGE_VERSIONS - 1);
            double v = vlo + (double)(t - tlo) / (double)(thi - tlo) * (vhi - vlo);
            m = (int64_t)(v / LL_STMT_PAGE_VERSIONS);
        } else if (step == 1) {
            m = went_down ? m - 1 : m + 1; /* next to the guess: inside [lo, hi) while lo < hi */
        } else {
            m = lo + (hi - lo) / 2;
        }
        if (m < lo) m = lo;
        if (m > hi - 1) m = hi - 1;
        int rc = probe(s, m, &last);
        if (rc != 0) return rc;
        if ((went_down = last >= t))
            hi = m, thi = last;
        else
            lo = m + 1, tlo = last;
    }
    *page = lo;
    return 0;
}
