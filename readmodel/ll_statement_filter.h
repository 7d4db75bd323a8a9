/* ll_statement_filter.h - statements by time and type (GET /v1/accounts/{id}/transactions?from=T
 * &to=T&type=A,B): what a filtered page takes, and where in an account's sealed pages a time
 * window lies. Pure: no I/O; the pages' times come through a probe (the read model's times_g
 * documents, ll_rm_times.h; the walk that uses it: ll_rm_statement.h).
 *
 * Window: half-open [from, to) on occurred_at; either bound may be absent. Items are walked
 * newest first, as every statement page is; an account's events carry non-decreasing
 * occurred_at, so the first item older than `from` ends the walk.
 *
 * Where the window lies: L(k), the occurred_at of sealed page k's last version, does not
 * decrease with k, and page k's events lie in [L(k-1), L(k)]. So the pages that may hold an
 * instant >= t start at the lower bound of t (the first k with L(k) >= t): the window's pages run
 * from lower_bound(from) to lower_bound(to) (the open pages too when that is past the sealed
 * ones). ll_stmt_lower_bound finds it with probes of L alternating interpolation (an account's
 * activity is often spread evenly: a few probes) and bisection (never more than about
 * 2 log2(pages) probes whatever the spread), remembering what it probed for the second bound.
 */
#ifndef LL_STATEMENT_FILTER_H
#define LL_STATEMENT_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    bool has_from, has_to;
    /* Exact instants in microseconds since the epoch, possibly outside the years 1970..9999 that
     * events can have (a window may start in 1900): compared as given, never clamped. */
    int64_t from_us, to_us;
    unsigned types; /* bit (1u << ll_event_type_t) per movement type taken; 0: every type */
} ll_stmt_filter_t;

static inline bool ll_stmt_filter_active(const ll_stmt_filter_t *f) {
    return f->has_from || f->has_to || f->types != 0;
}

/* Parses any valid RFC 3339 date-time (ll_time_parse_rfc3339's grammar, years 0001..9999, any
 * offset) into its exact instant. Returns 0, or -1 when it is not one. */
int ll_stmt_parse_instant(const char *text, int64_t *us);

#define LL_STMT_TYPES_MAX 5 /* names in a type list: one per statement type */

/* Parses a comma-separated list of statement (movement) type names, e.g.
 * "MoneyDeposited,TransferReceived", into a mask. Returns 0, or -1 (an empty name, a name that
 * is not a movement type, more than LL_STMT_TYPES_MAX names). */
int ll_stmt_parse_types(const char *text, unsigned *mask);

typedef enum {
    LL_STMT_TAKE,  /* in the window and of a type asked for */
    LL_STMT_SKIP,  /* not taken; older items may be */
    LL_STMT_OLDER, /* before `from`: so is every item after it in the walk */
    LL_STMT_BAD,   /* not a statement item (no type or occurred_at): the read model is not ours */
} ll_stmt_verdict_t;

/* What the filter says of one statement item (the read model's JSON text). */
ll_stmt_verdict_t ll_stmt_item(const ll_stmt_filter_t *f, const char *json, size_t len);

/* ---- where a time lies among an account's sealed pages ---- */

/* Reads L(page) into *last_us. Returns 0; 1 when the page has no time document (sealed by an
 * older build: the caller walks without the index); or a negative code (the store failed). */
typedef int (*ll_stmt_probe_fn)(void *ctx, int64_t page, int64_t *last_us);

#define LL_STMT_MEMO 96 /* probes remembered per request: more than two searches of 2^31 pages take */

typedef struct {
    int64_t pages;        /* sealed pages: 0 .. pages-1 */
    int64_t low_us;       /* at or before every page's events: the account's opening */
    int64_t high_us;      /* at or after every page's events: the account's newest event ... */
    int64_t high_version; /* ... and its version */
    ll_stmt_probe_fn probe;
    void *ctx;
    int probes; /* probes made so far (the store's reads) */
    size_t n_memo;
    struct {
        int64_t page, last_us;
    } memo[LL_STMT_MEMO];
} ll_stmt_search_t;

void ll_stmt_search_init(ll_stmt_search_t *s, int64_t pages, int64_t low_us, int64_t high_us,
                         int64_t high_version, ll_stmt_probe_fn probe, void *ctx);

/* *page = the first sealed page k with L(k) >= t, or s->pages when there is none. Probes cycle
 * through an interpolation of t's version between what is known (the opening at version 1, the
 * newest event, the last versions of pages probed), a guard (the page next to the guess: an
 * account whose events are spread evenly is placed in about two probes) and a bisection (at most
 * about 3 log2(pages) probes however the times are spread). Returns 0, or what a probe returned
 * (1: a page without a time document; < 0: the store failed). */
int ll_stmt_lower_bound(ll_stmt_search_t *s, int64_t t, int64_t *page);

#endif
