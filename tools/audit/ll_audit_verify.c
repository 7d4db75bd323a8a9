/* ll_audit_verify.c - `verify`: the hash chain of one account or of all, each checked from its
 * first event and its head compared with the one account_state records. Rows are read one at a
 * time: every account of the store need not fit in memory at once. */
#include "ll_audit.h"
#include "ll_hash_chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const options_t *o;
    ll_table_t *t;
    ll_progress_t p;
    char current[LL_UUID_TEXT_LEN + 1], head[LL_HASH_HEX_LEN + 1]; /* the account being read */
    int64_t head_version;
    char **texts; /* its envelopes */
    size_t *lens, n, cap;
    long accounts, broken, events;
    int rc; /* EXIT_USAGE once a row could not be listed or the store failed */
} verify_run_t;

/* Verifies one account's envelopes (texts) and compares the head with the recorded one
 * (recorded_head: account_state.head_hash at recorded_version, or "" when there is no state row). */
static void verify_account(const char *recorded_head, int64_t recorded_version, const char **texts,
                           const size_t *lens, size_t n, ll_chain_result_t *r) {
    ll_error_t err = {""};
    if (ll_chain_verify(texts, lens, n, r, &err) != 0) {
        r->ok = false;
        snprintf(r->reason, sizeof r->reason, "could not verify: %.120s", err.msg);
        return;
    }
    ll_chain_check_head(r, recorded_head, recorded_version);
}

/* The account read so far: verified, listed when broken (or with --all), forgotten. Returns 0 or
 * EXIT_USAGE. */
static int verify_flush(verify_run_t *v) {
    ll_chain_result_t r;
    int rc = 0;
    verify_account(v->head, v->head_version, (const char **)v->texts, v->lens, v->n, &r);
    v->accounts++;
    v->broken += !r.ok;
    if (!r.ok || v->o->all) {
        char checked[24], bad[24];
        fmt_i64(checked, sizeof checked, r.events_checked);
        fmt_i64(bad, sizeof bad, r.first_bad_version);
        const char *cells[] = {v->current,        r.ok ? "yes" : "NO",    checked,
                               r.ok ? NULL : bad, r.ok ? NULL : r.reason, r.head_hash};
        if (ll_table_add(v->t, cells) != 0) rc = EXIT_USAGE;
    }
    for (size_t i = 0; i < v->n; i++) free(v->texts[i]);
    v->n = 0;
    v->p.done = v->events;
    ll_progress_show(&v->p, 0);
    return rc;
}

/* Keeps a row (account, envelope, recorded head, recorded version) of the account being read. */
static void verify_take(verify_run_t *v, const char *account, const char *envelope, size_t len, const char *head,
                        int64_t head_version) {
    snprintf(v->current, sizeof v->current, "%s", account);
    snprintf(v->head, sizeof v->head, "%s", head);
    v->head_version = head_version;
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 256;
        v->texts = realloc(v->texts, v->cap * sizeof *v->texts);
        v->lens = realloc(v->lens, v->cap * sizeof *v->lens);
        if (v->texts == NULL || v->lens == NULL) abort(); /* out of memory in a CLI: stop loudly */
    }
    v->lens[v->n] = len;
    if ((v->texts[v->n++] = strdup(envelope)) == NULL) abort(); /* as realloc above */
    v->events++;
}

/* One row of the store: the account before it is verified when this one is another's. */
static int verify_row(void *ctx, const char *account, const char *envelope, size_t len, const char *head,
                      int64_t head_version) {
    verify_run_t *v = ctx;
    if (strcmp(account, v->current) != 0 && v->n > 0 && verify_flush(v) != 0) v->rc = EXIT_USAGE;
    verify_take(v, account, envelope, len, head, head_version);
    return 0;
}

/* Every row of the store (of o->account), then the last account (a failure is said). */
static int verify_rows(ll_event_reader_t *store, verify_run_t *v) {
    ll_uuid_t id;
    ll_error_t err = {""};
    if (ll_event_reader_each_with_head(store, audit_account(v->o, &id), verify_row, v, &err) != 0)
        v->rc = audit_fail("%s", err.msg);
    if (v->n > 0 && verify_flush(v) != 0) v->rc = EXIT_USAGE;
    return v->rc;
}

int audit_verify(PGconn *pg, const options_t *o, const ll_config_t *cfg) {
    static const ll_table_column_t cols[] = {{"account_id", 0},        {"ok", 0},     {"events_checked", 1},
                                             {"first_bad_version", 1}, {"reason", 0}, {"head_hash", 0}};
    (void)cfg;
    verify_run_t v = {.o = o};
    ll_event_reader_t *store = ll_event_reader_on(&pg);
    if (store == NULL) return audit_fail("out of memory");
    if (start_progress(store, o, &v.p, "verify", true) != 0) {
        ll_event_reader_free(store);
        return EXIT_USAGE;
    }
    v.t = ll_table_new(cols, sizeof cols / sizeof cols[0]);
    int rc = v.t ? verify_rows(store, &v) : EXIT_USAGE;
    ll_event_reader_free(store);
    free(v.texts);
    free(v.lens);
    ll_progress_clear(&v.p);
    fprintf(stderr, "verified %ld accounts, %ld events: %ld broken\n", v.accounts, v.events, v.broken);
    if (o->account != NULL && v.accounts == 0) rc = audit_fail("no events for account %s", o->account);
    int prc = print_findings(v.t, o);
    if (rc) return rc;
    return v.broken ? EXIT_FINDING : prc;
}
