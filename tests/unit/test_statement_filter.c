/* Unit tests of readmodel/ll_statement_filter: statements by time and type. Window bounds parse as
 * exact instants (also before 1970 and past 9999 by an offset, order kept); type lists accept
 * statement types only; items are taken, skipped or end the walk; and the page search finds the
 * first page ending at or after an instant against a brute force, on even, bursty, tied and
 * hostile (decreasing) page times, within its probe bound, reusing what the first search probed. */
#include "ll_event.h"
#include "ll_statement_filter.h"
#include "ll_test.h"
#include "ll_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t at(const char *text) {
    int64_t us = 0;
    if (ll_time_parse_rfc3339(text, &us) != 0) abort();
    return us;
}

LL_TEST(test_instants_parse_exactly_inside_and_outside_the_event_range) {
    int64_t us = 0, a = 0, b = 0;
    LL_REQUIRE(ll_stmt_parse_instant("2026-11-24T12:00:00Z", &us) == 0);
    LL_CHECK_EQ_INT(us, at("2026-11-24T12:00:00Z"));
    LL_REQUIRE(ll_stmt_parse_instant("2026-11-24T13:00:00.5+01:00", &us) == 0);
    LL_CHECK_EQ_INT(us, at("2026-11-24T12:00:00Z") + 500000);
    /* Below a microsecond: [from, to) holds whole-microsecond events as [ceil(from), ceil(to)). */
    LL_REQUIRE(ll_stmt_parse_instant("2026-11-24T12:00:00.0000005Z", &us) == 0);
    LL_CHECK_EQ_INT(us, at("2026-11-24T12:00:00Z") + 1);
    LL_REQUIRE(ll_stmt_parse_instant("2026-11-24T12:00:00.000001000Z", &us) == 0);
    LL_CHECK_EQ_INT(us, at("2026-11-24T12:00:00Z") + 1);
    /* Before the epoch: exact, negative, ordered. 1969-12-31T23:00Z is one hour before it. */
    LL_REQUIRE(ll_stmt_parse_instant("1969-12-31T23:00:00Z", &us) == 0);
    LL_CHECK_EQ_INT(us, -3600LL * 1000000);
    LL_REQUIRE(ll_stmt_parse_instant("1970-01-01T00:30:00+01:00", &us) == 0);
    LL_CHECK_EQ_INT(us, -1800LL * 1000000);
    LL_REQUIRE(ll_stmt_parse_instant("1900-03-01T00:00:00Z", &a) == 0);
    LL_REQUIRE(ll_stmt_parse_instant("1900-02-28T00:00:00Z", &b) == 0);
    LL_CHECK_EQ_INT(a - b, 86400LL * 1000000); /* 1900 is no leap year */
    LL_REQUIRE(ll_stmt_parse_instant("0001-01-01T00:00:00Z", &a) == 0);
    LL_CHECK_EQ_INT(a, -62135596800LL * 1000000);
    /* Past 9999 by its offset: one hour after the last representable second's end. */
    LL_REQUIRE(ll_stmt_parse_instant("9999-12-31T23:59:59.999999-01:00", &us) == 0);
    LL_CHECK_EQ_INT(us, LL_TIME_US_MAX + 3600LL * 1000000);
    LL_CHECK(ll_stmt_parse_instant("1960-01-01T00:00:00Z", &a) == 0 &&
             ll_stmt_parse_instant("1965-01-01T00:00:00Z", &b) == 0 && a < b);
    const char *bad[] = {"",
                         "now",
                         "2026-11-24",
                         "2026-11-24T12:00:00",
                         "2026-13-01T00:00:00Z",
                         "2026-02-29T00:00:00Z",
                         "2026-11-24T24:00:00Z",
                         "2026-11-24T12:00:60Z",
                         "0000-01-01T00:00:00Z",
                         "2026-11-24T12:00:00+24:00",
                         "2026-11-24T12:00:00.Z",
                         "2026-11-24T12:00:00Zjunk",
                         "+2026-11-24T12:00:00Z",
                         "2026-11-24T12:00:00.1234567890Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        us = 42;
        LL_CHECK(ll_stmt_parse_instant(bad[i], &us) != 0);
        LL_CHECK_EQ_INT(us, 42);
    }
}

LL_TEST(test_types_are_statement_types_only) {
    unsigned m = 0;
    LL_REQUIRE(ll_stmt_parse_types("MoneyDeposited", &m) == 0);
    LL_CHECK_EQ_INT(m, 1u << LL_EVENT_MONEY_DEPOSITED);
    LL_REQUIRE(ll_stmt_parse_types("MoneyDeposited,TransferReceived,HoldCaptured,MoneyDeposited", &m) == 0);
    LL_CHECK_EQ_INT(m, (1u << LL_EVENT_MONEY_DEPOSITED) | (1u << LL_EVENT_TRANSFER_RECEIVED) |
                           (1u << LL_EVENT_HOLD_CAPTURED));
    const char *bad[] = {
        "",
        ",",
        "MoneyDeposited,",
        ",MoneyDeposited",
        "MoneyDeposited,,TransferSent",
        "moneydeposited",
        "HoldPlaced",
        "AccountOpened",
        "AccountFrozen",
        "CreditLimitSet",
        "MoneyDeposited ",
        "Nope",
        "MoneyDepositedMoneyDepositedMoneyDeposited",
        "MoneyDeposited,MoneyDeposited,MoneyDeposited,MoneyDeposited,MoneyDeposited,MoneyDeposited"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = 7;
        LL_CHECK(ll_stmt_parse_types(bad[i], &m) != 0);
        LL_CHECK_EQ_INT(m, 7);
    }
}

static ll_stmt_verdict_t verdict(const ll_stmt_filter_t *f, const char *type, const char *when) {
    char json[256];
    int n = snprintf(json, sizeof json,
                     "{\"version\":3,\"type\":\"%s\",\"reference\":\"\\\"occurred_at\\\":\\\"1970\","
                     "\"occurred_at\":\"%s\"}",
                     type, when);
    return ll_stmt_item(f, json, (size_t)n);
}

LL_TEST(test_items_are_taken_skipped_or_end_the_walk) {
    ll_stmt_filter_t f = {.has_from = true, .has_to = true};
    f.from_us = at("2026-11-01T00:00:00Z"), f.to_us = at("2026-12-01T00:00:00Z");
    LL_CHECK(verdict(&f, "MoneyDeposited", "2026-11-01T00:00:00.000000Z") == LL_STMT_TAKE); /* from: in */
    LL_CHECK(verdict(&f, "MoneyDeposited", "2026-11-30T23:59:59.999999Z") == LL_STMT_TAKE);
    LL_CHECK(verdict(&f, "MoneyDeposited", "2026-12-01T00:00:00.000000Z") == LL_STMT_SKIP); /* to: out */
    LL_CHECK(verdict(&f, "MoneyDeposited", "2026-10-31T23:59:59.999999Z") == LL_STMT_OLDER);
    f.types = 1u << LL_EVENT_TRANSFER_SENT;
    LL_CHECK(verdict(&f, "MoneyDeposited", "2026-11-05T00:00:00.000000Z") == LL_STMT_SKIP);
    LL_CHECK(verdict(&f, "TransferSent", "2026-11-05T00:00:00.000000Z") == LL_STMT_TAKE);
    LL_CHECK(verdict(&f, "MoneyDeposited", "2026-10-05T00:00:00.000000Z") == LL_STMT_OLDER); /* any type */
    LL_CHECK(verdict(&f, "Nope", "2026-11-05T00:00:00.000000Z") == LL_STMT_BAD);
    LL_CHECK(verdict(&f, "TransferSent", "2026-11-05") == LL_STMT_BAD);
    LL_CHECK(ll_stmt_item(&f, "{", 1) == LL_STMT_BAD);
    LL_CHECK(ll_stmt_item(&f, "[]", 2) == LL_STMT_BAD);
    ll_stmt_filter_t none = {0};
    LL_CHECK(!ll_stmt_filter_active(&none) && ll_stmt_filter_active(&f));
    LL_CHECK(verdict(&none, "HoldCaptured", "1970-01-01T00:00:00.000000Z") == LL_STMT_TAKE);
}

/* ---- the page search, against a brute force ---- */

#define PAGES_MAX 5000

typedef struct {
    int64_t last[PAGES_MAX];
    int64_t missing; /* a page without a time document; -1 none */
    int calls;
    int repeats;                    /* pages probed twice in one request */
    unsigned char asked[PAGES_MAX]; /* by this request */
} pages_t;

static void new_request(pages_t *p) {
    memset(p->asked, 0, sizeof p->asked);
    p->calls = p->repeats = 0;
}

static int probe(void *ctx, int64_t page, int64_t *last_us) {
    pages_t *p = ctx;
    p->calls++;
    if (page < 0 || page >= PAGES_MAX) abort(); /* never outside the sealed pages */
    p->repeats += p->asked[page];
    p->asked[page] = 1;
    if (page == p->missing) return 1;
    *last_us = p->last[page];
    return 0;
}

static int64_t brute(const pages_t *p, int64_t n, int64_t t) {
    for (int64_t k = 0; k < n; k++)
        if (p->last[k] >= t) return k;
    return n;
}

static int log2_ceil(int64_t n) {
    int b = 0;
    while ((1LL << b) < n) b++;
    return b;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

/* Fills n pages in one of several shapes; returns the opening instant. */
static int64_t shape(pages_t *p, int64_t n, int kind) {
    int64_t t = 1700000000LL * 1000000, open = t;
    for (int64_t k = 0; k < n; k++) {
        switch (kind) {
        case 0:
            t += 3600LL * 1000000;
            break; /* even */
        case 1:
            t += (int64_t)(next_rand() % 1000) * 1000000;
            break; /* jitter */
        case 2:
            t += k % 50 == 0 ? 86400LL * 365 * 1000000 : 1;
            break; /* bursts */
        case 3:
            t += k < n / 2 ? 0 : 1000000;
            break; /* ties */
        case 4:
            t += (int64_t)(next_rand() % 4 == 0) * (int64_t)(next_rand() % 100000000000LL);
            break;
        default:
            t += k * k;
            break; /* accelerating */
        }
        p->last[k] = t;
    }
    return open;
}

LL_TEST(test_the_search_finds_the_first_page_ending_at_or_after_t) {
    static pages_t p;
    int worst = 0;
    for (int kind = 0; kind < 6; kind++)
        for (int64_t n = 0; n <= PAGES_MAX; n = n < 40 ? n + 1 : n * 3) {
            int64_t open = shape(&p, n, kind);
            p.missing = -1;
            for (int trial = 0; trial < 60; trial++) {
                int64_t when;
                if (n > 0 && trial % 3 == 0)
                    when = p.last[next_rand() % (uint64_t)n] + (int64_t)(next_rand() % 3) -
                           1; /* at a boundary */
                else
                    when = open - 10 +
                           (int64_t)(next_rand() % (uint64_t)((n > 0 ? p.last[n - 1] - open : 0) + 20));
                ll_stmt_search_t s;
                ll_stmt_search_init(&s, n, open, n > 0 ? p.last[n - 1] + 7 : open + 7, 32 * n + 5, probe, &p);
                int64_t got = -1;
                new_request(&p);
                LL_REQUIRE(ll_stmt_lower_bound(&s, when, &got) == 0);
                if (got != brute(&p, n, when))
                    LL_FAIL_AT("kind %d, %lld pages, t %lld: %lld, want %lld", kind, (long long)n,
                               (long long)when, (long long)got, (long long)brute(&p, n, when));
                LL_CHECK_EQ_INT(s.probes, p.calls);
                if (p.calls > 3 * log2_ceil(n + 1) + 3)
                    LL_FAIL_AT("kind %d, %lld pages: %d probes", kind, (long long)n, p.calls);
                if (p.calls > worst) worst = p.calls;
                /* A second bound of the same request: what the first probed is not asked again. */
                int64_t t2 = when - (int64_t)(next_rand() % 86400000000LL), got2 = -1;
                LL_REQUIRE(ll_stmt_lower_bound(&s, t2, &got2) == 0);
                LL_CHECK_EQ_INT(got2, brute(&p, n, t2));
                LL_CHECK_EQ_INT(s.probes, p.calls);
                LL_CHECK_EQ_INT(p.repeats, 0);
            }
        }
    printf("    worst search: %d probes over up to %d pages\n", worst, PAGES_MAX);
}

LL_TEST(test_an_even_account_is_placed_in_a_few_probes) {
    static pages_t p;
    int64_t n = 313; /* 10,000 movements */
    int64_t open = shape(&p, n, 0);
    p.missing = -1;
    int total = 0, searches = 0;
    for (int64_t k = 0; k < n; k += 7) {
        ll_stmt_search_t s;
        ll_stmt_search_init(&s, n, open, n > 0 ? p.last[n - 1] + 7 : open + 7, 32 * n + 5, probe, &p);
        int64_t got = -1;
        new_request(&p);
        LL_REQUIRE(ll_stmt_lower_bound(&s, p.last[k] - 1800LL * 1000000, &got) == 0);
        LL_CHECK_EQ_INT(got, k);
        total += p.calls, searches++;
    }
    printf("    even spread, 313 pages: %.1f probes a search\n", (double)total / searches);
    LL_CHECK(total <= 5 * searches / 2); /* bisection alone would take 9 */
}

LL_TEST(test_a_page_without_time_is_said) {
    static pages_t p;
    int64_t open = shape(&p, 100, 0);
    p.missing = 50;
    ll_stmt_search_t s;
    ll_stmt_search_init(&s, 100, open, p.last[99], 3200, probe, &p);
    int64_t got = -1;
    int rc = 0;
    for (int64_t k = 0; k < 100 && rc == 0; k++) rc = ll_stmt_lower_bound(&s, p.last[k], &got);
    LL_CHECK_EQ_INT(rc, 1);
    /* Before the opening and with no pages: no probe at all. */
    ll_stmt_search_init(&s, 100, open, p.last[99], 3200, probe, &p);
    new_request(&p);
    LL_REQUIRE(ll_stmt_lower_bound(&s, open - 1, &got) == 0);
    LL_CHECK_EQ_INT(got, 0);
    ll_stmt_search_init(&s, 0, open, open + 10, 20, probe, &p);
    LL_REQUIRE(ll_stmt_lower_bound(&s, open + 1, &got) == 0);
    LL_CHECK_EQ_INT(got, 0);
    LL_CHECK_EQ_INT(p.calls, 0);
}

LL_TEST(test_hostile_times_never_loop_or_probe_outside) {
    static pages_t p;
    p.missing = -1;
    for (int round = 0; round < 200; round++) {
        int64_t n = 1 + (int64_t)(next_rand() % 3000);
        for (int64_t k = 0; k < n; k++) p.last[k] = (int64_t)(next_rand() % 1000000); /* any order */
        ll_stmt_search_t s;
        ll_stmt_search_init(&s, n, (int64_t)(next_rand() % 1000), (int64_t)(next_rand() % 1100000),
                            (int64_t)(next_rand() % 200000) - 5, probe, &p);
        for (int q = 0; q < 4; q++) {
            int64_t got = -1;
            new_request(&p);
            LL_REQUIRE(ll_stmt_lower_bound(&s, (int64_t)(next_rand() % 1000000), &got) == 0);
            LL_CHECK(got >= 0 && got <= n);
            LL_CHECK(p.calls <= 3 * log2_ceil(n + 1) + 3);
        }
    }
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_instants_parse_exactly_inside_and_outside_the_event_range),
        LL_CASE(test_types_are_statement_types_only),
        LL_CASE(test_items_are_taken_skipped_or_end_the_walk),
        LL_CASE(test_the_search_finds_the_first_page_ending_at_or_after_t),
        LL_CASE(test_an_even_account_is_placed_in_a_few_probes),
        LL_CASE(test_a_page_without_time_is_said),
        LL_CASE(test_hostile_times_never_loop_or_probe_outside),
    };
    return ll_test_main(argc, argv, "statement_filter", cases, LL_CASES(cases));
}
