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
static void verify_take(verify_run_t *v, const PGresult *res) {
    snprintf(v->current, sizeof v->current, "%s", PQgetvalue(res, 0, 0));
    snprintf(v->head, sizeof v->head, "%s", PQgetvalue(res, 0, 2));
    v->head_version = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 256;
        v->texts = realloc(v->texts, v->cap * sizeof *v->texts);
        v->lens = realloc(v->lens, v->cap * sizeof *v->lens);
        if (v->texts == NULL || v->lens == NULL) abort(); /* out of memory in a CLI: stop loudly */
    }
    v->lens[v->n] = (size_t)PQgetlength(res, 0, 1);
    if ((v->texts[v->n++] = strdup(PQgetvalue(res, 0, 1))) == NULL) abort(); /* as realloc above */
    v->events++;
}

/* The rows of the query sent, to their end (an error is said, and the rest drained). */
static int verify_rows(PGconn *pg, verify_run_t *v) {
    int rc = 0;
    for (;;) {
        PGresult *res = PQgetResult(pg);
        int row = res && PQresultStatus(res) == PGRES_SINGLE_TUPLE;
        if (res && !row && PQresultStatus(res) != PGRES_TUPLES_OK)
            rc = audit_fail("%s", PQresultErrorMessage(res));
        if ((!row || strcmp(PQgetvalue(res, 0, 0), v->current) != 0) && v->n > 0 && verify_flush(v) != 0)
            rc = EXIT_USAGE;
        if (res == NULL) break;
        if (row) verify_take(v, res);
        PQclear(res);
    }
    return rc;
}

int audit_verify(PGconn *pg, const options_t *o, const ll_config_t *cfg) {
    static const ll_table_column_t cols[] = {{"account_id", 0},        {"ok", 0},     {"events_checked", 1},
                                             {"first_bad_version", 1}, {"reason", 0}, {"head_hash", 0}};
    (void)cfg;
    const char *params[1] = {o->account};
    verify_run_t v = {.o = o};
    if (start_progress(pg, &v.p, "verify", "events", "SELECT coalesce(sum(version), 0)" ACCOUNT_STATE_ROWS,
                       params) != 0)
        return EXIT_USAGE;
    if (!PQsendQueryParams(
            pg,
            "SELECT e.account_id::text, e.envelope, coalesce(s.head_hash, ''), coalesce(s.version, 0) FROM "
            "events e"
            " LEFT JOIN account_state s USING (account_id)"
            " WHERE ($1::uuid IS NULL OR e.account_id = $1::uuid) ORDER BY e.account_id, e.version",
            1, NULL, params, NULL, NULL, 0) ||
        !PQsetSingleRowMode(pg))
        return audit_fail("%s", PQerrorMessage(pg));
    v.t = ll_table_new(cols, sizeof cols / sizeof cols[0]);
    int rc = v.t ? verify_rows(pg, &v) : EXIT_USAGE; /* unread rows go with the connection */
    free(v.texts);
    free(v.lens);
    ll_progress_clear(&v.p);
    fprintf(stderr, "verified %ld accounts, %ld events: %ld broken\n", v.accounts, v.events, v.broken);
    if (o->account != NULL && v.accounts == 0) rc = audit_fail("no events for account %s", o->account);
    int prc = print_findings(v.t, o);
    if (rc) return rc;
    return v.broken ? EXIT_FINDING : prc;
}
