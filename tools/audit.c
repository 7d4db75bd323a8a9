/* ledgerline-audit: answers auditors' questions from the PostgreSQL event store alone (it works
 * while Kafka or MongoDB are down). Every meaning of an event comes from domain/: replay and
 * balances fold with ll_account_evolve, verification is ll_chain_verify. */
#include "ll_account.h"
#include "ll_cli.h"
#include "ll_event_codec.h"
#include "ll_hash_chain.h"
#include "ll_limits.h"
#include "ll_pg.h"
#include "ll_progress.h"
#include "ll_read_model.h"
#include "ll_rm_follow.h"
#include "ll_replay.h"
#include "ll_table.h"
#include "ll_time.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_FINDING 1 /* tampering or an inconsistency was found */
#define EXIT_USAGE   2 /* bad arguments, configuration or connection */

typedef struct {
    const char *account, *type, *since, *until, *actor, *transfer, *as_of;
    int all;
    int limit;
    ll_table_format_t format;
} options_t;

static void usage(FILE *out) {
    fprintf(out, "Usage: ledgerline-audit [--config FILE] [--format table|csv|json] COMMAND [OPTIONS]\n"
                 "\n"
                 "Reads the PostgreSQL event store directly (pg_conninfo); needs neither Kafka nor MongoDB\n"
                 "(except reconcile, which compares with the read models in mongo_uri).\n"
                 "\n"
                 "Commands:\n"
                 "  events   [--account ID] [--type TYPE] [--since T] [--until T] [--actor A] [--transfer "
                 "ID] [--limit N]\n"
                 "           events in store order, filtered\n"
                 "  replay   --account ID     every event of the account with the state after it\n"
                 "  balance  --account ID --as-of T   balance, held, available, limit and version as of\n"
                 "           instant T (RFC 3339)\n"
                 "  verify   [--account ID] [--all]   hash chains of one or all accounts; lists broken ones\n"
                 "           (--all lists every account); exit 1 when any chain is broken\n"
                 "  trace    --transfer ID    both legs of a transfer (a payment's leg, a hold captured to\n"
                 "           another account); exit 1 when they do not match\n"
                 "  reconcile [--account ID]  event store vs the active read models (needs MongoDB);\n"
                 "           lists accounts whose version, balance, held, limit, frozen or status\n"
                 "           differ; exit 1 when any does\n"
                 "\n"
                 "Output: an aligned table (default), or --format csv|json with the same column names.\n"
                 "Exit status: 0 fine, 1 tampering or inconsistency found, 2 usage or connection error.\n"
                 "\n"
                 "Examples:\n"
                 "  ledgerline-audit verify\n"
                 "  ledgerline-audit --format csv events --account 3f0c...e1 --since 2026-01-01T00:00:00Z\n"
                 "  ledgerline-audit balance --account 3f0c...e1 --as-of 2026-06-30T23:59:59Z\n");
}

/* ---- helpers ------------------------------------------------------------------------------- */

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "ledgerline-audit: MESSAGE" and returns the usage/connection exit status. */
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ledgerline-audit: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_USAGE;
}

static int valid_uuid(const char *s) {
    ll_uuid_t u;
    return s == NULL || ll_uuid_parse(s, true, &u) == 0;
}

static int valid_time(const char *s) {
    int64_t us;
    return s == NULL || ll_time_parse_rfc3339(s, &us) == 0;
}

static void fmt_i64(char *buf, size_t size, int64_t v) {
    snprintf(buf, size, "%lld", (long long)v);
}

/* One decoded event as the columns of `events` and `trace`: the envelope, what its data says
 * (each type fills its own; the rest are empty), and the account's figures after it (every type
 * but AccountOpened and AccountClosed carries them). */
static const ll_table_column_t event_columns[] = {
    {"global_position", 1},
    {"occurred_at", 0},
    {"account_id", 0},
    {"version", 1},
    {"type", 0},
    {"amount_minor", 1},
    {"currency", 0},
    {"balance_after_minor", 1},
    {"held_after_minor", 1},
    {"overdraft_limit_minor", 1},
    {"frozen", 0},
    {"transfer_id", 0},
    {"counterparty_account_id", 0},
    {"payment_id", 0},
    {"hold_id", 0},
    {"released_minor", 1},
    {"expires_at", 0},
    {"reason", 0},
    {"actor", 0},
    {"command_id", 0},
    {"event_id", 0},
};
#define EVENT_COLUMNS (sizeof event_columns / sizeof event_columns[0])

/* The uuid's text into out, or NULL when it is nil (the field does not apply). */
static const char *uuid_cell(const ll_uuid_t *id, char out[LL_UUID_TEXT_LEN + 1]) {
    if (ll_uuid_is_nil(id)) return NULL;
    ll_uuid_format(id, out);
    return out;
}

static int add_event_row(ll_table_t *t, const ll_event_t *ev) {
    char pos[24], when[LL_TIME_TEXT_LEN + 1], acct[LL_UUID_TEXT_LEN + 1], ver[24], amount[24], bal[24];
    char held[24], limit[24], released[24], expires[LL_TIME_TEXT_LEN + 1];
    char transfer[LL_UUID_TEXT_LEN + 1], other[LL_UUID_TEXT_LEN + 1], payment[LL_UUID_TEXT_LEN + 1];
    char hold[LL_UUID_TEXT_LEN + 1], eid[LL_UUID_TEXT_LEN + 1];
    const ll_data_movement_t *m = &ev->data.movement;
    int money = ll_event_has_money(ev->type);
    int figures = ev->type != LL_EVENT_ACCOUNT_OPENED && ev->type != LL_EVENT_ACCOUNT_CLOSED;
    fmt_i64(pos, sizeof pos, ev->global_position);
    ll_time_format(ev->occurred_at_us, when);
    ll_uuid_format(&ev->account_id, acct);
    fmt_i64(ver, sizeof ver, ev->version);
    fmt_i64(amount, sizeof amount, m->amount_minor);
    fmt_i64(bal, sizeof bal, ev->after.balance_minor);
    fmt_i64(held, sizeof held, ev->after.held_minor);
    fmt_i64(limit, sizeof limit, ev->after.overdraft_limit_minor);
    fmt_i64(released, sizeof released, m->released_minor);
    int placed = ev->type == LL_EVENT_HOLD_PLACED && ll_time_format(m->expires_at_us, expires) == 0;
    ll_uuid_format(&ev->event_id, eid);
    const char *currency = ev->type == LL_EVENT_ACCOUNT_OPENED ? ev->data.opened.currency.code
                           : money                             ? m->currency.code
                                                               : NULL;
    const char *row[EVENT_COLUMNS] = {
        pos,
        when,
        acct,
        ver,
        ll_event_type_name(ev->type),
        money ? amount : NULL,
        currency,
        figures ? bal : NULL,
        figures ? held : NULL,
        figures ? limit : NULL,
        figures ? (ev->after.frozen ? "true" : "false") : NULL,
        money ? uuid_cell(&m->transfer_id, transfer) : NULL,
        money && !ll_uuid_is_nil(&m->transfer_id) ? uuid_cell(&m->counterparty_id, other) : NULL,
        money ? uuid_cell(&m->payment_id, payment) : NULL,
        money ? uuid_cell(&m->hold_id, hold) : NULL,
        ev->type == LL_EVENT_HOLD_CAPTURED ? released : NULL,
        placed ? expires : NULL,
        ev->type == LL_EVENT_ACCOUNT_FROZEN ? ev->data.frozen.reason : NULL,
        ev->actor,
        ev->command_id,
        eid};
    return ll_table_add(t, row);
}

static int print_table(ll_table_t *t, const options_t *o) {
    int rc = ll_table_print(t, o->format, stdout) == 0 ? 0 : EXIT_USAGE;
    ll_table_free(t);
    return rc;
}

/* ---- commands ------------------------------------------------------------------------------ */

static int cmd_events(PGconn *pg, const options_t *o) {
    char limit[16];
    snprintf(limit, sizeof limit, "%d", o->limit);
    ll_error_t err = {""};
    /* The actor is filtered in SQL, before the LIMIT: --limit N gives N of that actor's events.
     * It has no column: first the text the canonical envelope holds for it ("actor":"..."), a
     * substring test, then the parsed value; parsing every envelope of a 10M-event store took
     * 33 s, the substring first 2.5 s. */
    char needle[LL_ACTOR_BYTES_MAX * 6 + 16] = "";
    if (o->actor != NULL) {
        if (strlen(o->actor) > LL_ACTOR_BYTES_MAX)
            return fail("--actor: longer than %d bytes, which no event's actor is", LL_ACTOR_BYTES_MAX);
        /* {"actor":"..."} as the codec writes it, without its braces */
        json_t *one = json_pack("{s:s}", "actor", o->actor);
        size_t len = 0;
        int bad = one == NULL || ll_json_dump_canonical(one, needle, sizeof needle - 1, &len, &err) != 0;
        json_decref(one);
        if (bad) return fail("--actor: %s", err.msg[0] ? err.msg : "not UTF-8 text");
        memmove(needle, needle + 1, len - 2);
        needle[len - 2] = '\0';
    }
    const char *params[8] = {o->account, o->type, o->since, o->until, o->transfer, limit, o->actor, needle};
    PGresult *res = ll_pg_query(
        pg,
        "SELECT envelope FROM events WHERE ($1::uuid IS NULL OR account_id = $1::uuid)"
        " AND ($2::text IS NULL OR type = $2) AND ($3::timestamptz IS NULL OR occurred_at >= $3)"
        " AND ($4::timestamptz IS NULL OR occurred_at <= $4)"
        " AND ($5::uuid IS NULL OR transfer_id = $5::uuid)"
        " AND ($7::text IS NULL OR (strpos(envelope, $8) > 0 AND envelope::jsonb ->> 'actor' = $7))"
        " ORDER BY global_position LIMIT $6::int",
        8, params, PGRES_TUPLES_OK, &err);
    if (res == NULL) return fail("%s", err.msg);
    ll_table_t *t = ll_table_new(event_columns, EVENT_COLUMNS);
    int rc = t ? 0 : EXIT_USAGE;
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        ll_event_t ev;
        if (ll_event_decode(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), &ev, &err) != 0) {
            fprintf(stderr, "ledgerline-audit: an undecodable event in store order %d: %s (run verify)\n",
                    i + 1, err.msg);
            rc = EXIT_FINDING;
            break;
        }
        if (o->actor != NULL && strcmp(o->actor, ev.actor) != 0) continue;
        if (add_event_row(t, &ev) != 0) rc = EXIT_USAGE;
    }
    PQclear(res);
    int prc = t ? print_table(t, o) : EXIT_USAGE;
    return rc ? rc : prc;
}

/* The account's envelopes in version order (up to as_of when given). */
static PGresult *account_events(PGconn *pg, const char *account, const char *as_of, ll_error_t *err) {
    const char *params[2] = {account, as_of};
    return ll_pg_query(pg,
                       "SELECT envelope FROM events WHERE account_id = $1::uuid"
                       " AND ($2::timestamptz IS NULL OR occurred_at <= $2) ORDER BY version",
                       2, params, PGRES_TUPLES_OK, err);
}

/* An account's balance, held, available and overdraft limit as text. */
static void fmt_figures(const ll_account_t *a, char out[4][24]) {
    fmt_i64(out[0], sizeof out[0], a->balance_minor);
    fmt_i64(out[1], sizeof out[1], a->held_minor);
    fmt_i64(out[2], sizeof out[2], ll_account_available(a));
    fmt_i64(out[3], sizeof out[3], a->overdraft_limit_minor);
}

static int cmd_replay(PGconn *pg, const options_t *o) {
    static const ll_table_column_t cols[] = {{"version", 1},
                                             {"occurred_at", 0},
                                             {"type", 0},
                                             {"amount_minor", 1},
                                             {"balance_minor", 1},
                                             {"held_minor", 1},
                                             {"available_minor", 1},
                                             {"overdraft_limit_minor", 1},
                                             {"frozen", 0},
                                             {"status", 0},
                                             {"hash", 0}};
    ll_error_t err = {""};
    PGresult *res = account_events(pg, o->account, NULL, &err);
    if (res == NULL) return fail("%s", err.msg);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return fail("no events for account %s", o->account);
    }
    ll_account_t a;
    ll_uuid_t id;
    ll_uuid_parse(o->account, true, &id);
    ll_account_init(&a, &id);
    ll_table_t *t = ll_table_new(cols, sizeof cols / sizeof cols[0]);
    int rc = t ? 0 : EXIT_USAGE;
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        ll_event_t ev;
        if (ll_replay_envelope(&a, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), &ev, &err) != 0) {
            fprintf(stderr, "ledgerline-audit: version %d does not replay: %s\n", i + 1, err.msg);
            rc = EXIT_FINDING;
            break;
        }
        char ver[24], when[LL_TIME_TEXT_LEN + 1], amount[24], figures[4][24];
        fmt_i64(ver, sizeof ver, a.version);
        ll_time_format(ev.occurred_at_us, when);
        fmt_i64(amount, sizeof amount, ev.data.movement.amount_minor);
        fmt_figures(&a, figures);
        const char *row[] = {ver,
                             when,
                             ll_event_type_name(ev.type),
                             ll_event_has_money(ev.type) ? amount : NULL,
                             figures[0],
                             figures[1],
                             figures[2],
                             figures[3],
                             a.frozen ? "true" : "false",
                             ll_account_status_name(a.status),
                             ev.hash};
        if (ll_table_add(t, row) != 0) rc = EXIT_USAGE;
    }
    PQclear(res);
    int prc = t ? print_table(t, o) : EXIT_USAGE;
    return rc ? rc : prc;
}

static int cmd_balance(PGconn *pg, const options_t *o) {
    static const ll_table_column_t cols[] = {{"account_id", 0},
                                             {"as_of", 0},
                                             {"version", 1},
                                             {"balance_minor", 1},
                                             {"held_minor", 1},
                                             {"available_minor", 1},
                                             {"overdraft_limit_minor", 1},
                                             {"frozen", 0},
                                             {"currency", 0},
                                             {"status", 0}};
    int64_t as_of_us;
    ll_time_parse_rfc3339(o->as_of, &as_of_us);
    char as_of[LL_TIME_TEXT_LEN + 1];
    ll_time_format(as_of_us, as_of);
    ll_error_t err = {""};
    PGresult *res = account_events(pg, o->account, as_of, &err);
    if (res == NULL) return fail("%s", err.msg);
    ll_account_t a;
    ll_uuid_t id;
    ll_uuid_parse(o->account, true, &id);
    ll_account_init(&a, &id);
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        ll_event_t ev;
        if (ll_replay_envelope(&a, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), &ev, &err) != 0) {
            fprintf(stderr, "ledgerline-audit: version %d does not replay: %s\n", i + 1, err.msg);
            rc = EXIT_FINDING;
        }
    }
    PQclear(res);
    if (rc) return rc;
    if (a.version == 0) return fail("account %s did not exist at that instant", o->account);
    char acct[LL_UUID_TEXT_LEN + 1], ver[24], figures[4][24];
    ll_uuid_format(&a.account_id, acct);
    fmt_i64(ver, sizeof ver, a.version);
    fmt_figures(&a, figures);
    ll_table_t *t = ll_table_new(cols, sizeof cols / sizeof cols[0]);
    const char *row[] = {acct,
                         as_of,
                         ver,
                         figures[0],
                         figures[1],
                         figures[2],
                         figures[3],
                         a.frozen ? "true" : "false",
                         a.currency.code,
                         ll_account_status_name(a.status)};
    if (t == NULL || ll_table_add(t, row) != 0) return EXIT_USAGE;
    return print_table(t, o);
}

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

/* account_state's rows of --account ($1), or all of them when it is NULL. */
#define ACCOUNT_STATE_ROWS " FROM account_state WHERE ($1::uuid IS NULL OR account_id = $1::uuid)"

/* Starts p with the total that `sql` (one number; $1 is --account) gives. */
static int start_progress(PGconn *pg, ll_progress_t *p, const char *phase, const char *unit, const char *sql,
                          const char *const *params) {
    ll_error_t err = {""};
    PGresult *res = ll_pg_query(pg, sql, 1, params, PGRES_TUPLES_OK, &err);
    if (res == NULL) return fail("%s", err.msg);
    ll_progress_start(p, phase, unit, strtoll(PQgetvalue(res, 0, 0), NULL, 10));
    PQclear(res);
    return 0;
}

static int cmd_verify(PGconn *pg, const options_t *o) {
    static const ll_table_column_t cols[] = {{"account_id", 0},        {"ok", 0},     {"events_checked", 1},
                                             {"first_bad_version", 1}, {"reason", 0}, {"head_hash", 0}};
    const char *params[1] = {o->account};
    ll_progress_t p;
    if (start_progress(pg, &p, "verify", "events", "SELECT coalesce(sum(version), 0)" ACCOUNT_STATE_ROWS,
                       params) != 0)
        return EXIT_USAGE;
    /* Rows one at a time: all accounts may not fit in memory at once. */
    if (!PQsendQueryParams(
            pg,
            "SELECT e.account_id::text, e.envelope, coalesce(s.head_hash, ''), coalesce(s.version, 0) FROM "
            "events e"
            " LEFT JOIN account_state s USING (account_id)"
            " WHERE ($1::uuid IS NULL OR e.account_id = $1::uuid) ORDER BY e.account_id, e.version",
            1, NULL, params, NULL, NULL, 0) ||
        !PQsetSingleRowMode(pg))
        return fail("%s", PQerrorMessage(pg));
    ll_table_t *t = ll_table_new(cols, sizeof cols / sizeof cols[0]);
    char current[LL_UUID_TEXT_LEN + 1] = "", head[LL_HASH_HEX_LEN + 1] = "";
    int64_t head_version = 0;
    char **texts = NULL;
    size_t *lens = NULL, n = 0, cap = 0;
    long accounts = 0, broken = 0, events = 0;
    int rc = t ? 0 : EXIT_USAGE;
    for (;;) {
        PGresult *res = PQgetResult(pg);
        int row = res && PQresultStatus(res) == PGRES_SINGLE_TUPLE;
        if (res && !row && PQresultStatus(res) != PGRES_TUPLES_OK) rc = fail("%s", PQresultErrorMessage(res));
        if ((!row || strcmp(PQgetvalue(res, 0, 0), current) != 0) && n > 0) {
            ll_chain_result_t r;
            verify_account(head, head_version, (const char **)texts, lens, n, &r);
            accounts++;
            broken += !r.ok;
            if (!r.ok || o->all) {
                char checked[24], bad[24];
                fmt_i64(checked, sizeof checked, r.events_checked);
                fmt_i64(bad, sizeof bad, r.first_bad_version);
                const char *cells[] = {current,           r.ok ? "yes" : "NO",    checked,
                                       r.ok ? NULL : bad, r.ok ? NULL : r.reason, r.head_hash};
                if (ll_table_add(t, cells) != 0) rc = EXIT_USAGE;
            }
            for (size_t i = 0; i < n; i++) free(texts[i]);
            n = 0;
            p.done = events;
            ll_progress_show(&p, 0);
        }
        if (res == NULL) break;
        if (row) {
            snprintf(current, sizeof current, "%s", PQgetvalue(res, 0, 0));
            snprintf(head, sizeof head, "%s", PQgetvalue(res, 0, 2));
            head_version = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                texts = realloc(texts, cap * sizeof *texts);
                lens = realloc(lens, cap * sizeof *lens);
                if (texts == NULL || lens == NULL) abort(); /* out of memory in a CLI: stop loudly */
            }
            lens[n] = (size_t)PQgetlength(res, 0, 1);
            if ((texts[n++] = strdup(PQgetvalue(res, 0, 1))) == NULL) abort(); /* as realloc above */
            events++;
        }
        PQclear(res);
    }
    free(texts);
    free(lens);
    ll_progress_clear(&p);
    fprintf(stderr, "verified %ld accounts, %ld events: %ld broken\n", accounts, events, broken);
    if (o->account != NULL && accounts == 0) rc = fail("no events for account %s", o->account);
    int prc =
        t && (ll_table_rows(t) > 0 || o->format == LL_TABLE_JSON) ? print_table(t, o) : (ll_table_free(t), 0);
    if (rc) return rc;
    return broken ? EXIT_FINDING : prc;
}

/* Why two events with one transfer_id are not the two legs of one transfer (NULL: they are).
 * The sending leg is a TransferSent (a transfer, or a leg of a payment: both legs then carry
 * its payment_id) or a HoldCaptured (a hold captured to another account); the other is the
 * TransferReceived of as much, in the same currency, each naming the other's account. */
static const char *legs_mismatch(const ll_event_t *a, const ll_event_t *b) {
    int a_sends = a->type == LL_EVENT_TRANSFER_SENT || a->type == LL_EVENT_HOLD_CAPTURED;
    const ll_event_t *s = a_sends ? a : b, *r = a_sends ? b : a;
    const ll_data_movement_t *sm = &s->data.movement, *rm = &r->data.movement;
    if ((s->type != LL_EVENT_TRANSFER_SENT && s->type != LL_EVENT_HOLD_CAPTURED) ||
        r->type != LL_EVENT_TRANSFER_RECEIVED)
        return "legs are not sent (or captured) + received";
    if (sm->amount_minor != rm->amount_minor || !ll_currency_equal(&sm->currency, &rm->currency))
        return "the legs' amounts or currencies differ";
    if (!ll_uuid_equal(&sm->counterparty_id, &r->account_id) ||
        !ll_uuid_equal(&rm->counterparty_id, &s->account_id))
        return "the legs do not name each other's accounts";
    if (!ll_uuid_equal(&sm->payment_id, &rm->payment_id)) return "the legs name different payments";
    if (s->type == LL_EVENT_HOLD_CAPTURED && !ll_uuid_is_nil(&sm->payment_id))
        return "a capture names a payment";
    return NULL;
}

static int cmd_trace(PGconn *pg, const options_t *o) {
    ll_error_t err = {""};
    const char *params[1] = {o->transfer};
    PGresult *res =
        ll_pg_query(pg, "SELECT envelope FROM events WHERE transfer_id = $1::uuid ORDER BY global_position",
                    1, params, PGRES_TUPLES_OK, &err);
    if (res == NULL) return fail("%s", err.msg);
    ll_table_t *t = ll_table_new(event_columns, EVENT_COLUMNS);
    ll_event_t legs[2];
    int n = PQntuples(res), rc = t ? 0 : EXIT_USAGE;
    for (int i = 0; rc == 0 && i < n && i < 2; i++) {
        if (ll_event_decode(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), &legs[i], &err) != 0)
            rc = EXIT_FINDING;
        else if (add_event_row(t, &legs[i]) != 0)
            rc = EXIT_USAGE;
    }
    PQclear(res);
    if (rc == 0 && n == 0) rc = fail("no transfer %s", o->transfer);
    const char *why = NULL;
    if (rc == 0 && n != 2)
        why = "a transfer has exactly two legs";
    else if (rc == 0)
        why = legs_mismatch(&legs[0], &legs[1]);
    int prc = t ? print_table(t, o) : EXIT_USAGE;
    if (rc) return rc;
    const char *what = "consistent (two legs, same amount, money conserved)";
    char payment[LL_UUID_TEXT_LEN + 1], said[128];
    if (why == NULL && !ll_uuid_is_nil(&legs[0].data.movement.payment_id)) {
        ll_uuid_format(&legs[0].data.movement.payment_id, payment);
        snprintf(said, sizeof said, "%.60s, a leg of payment %s", what, payment);
        what = said;
    } else if (why == NULL &&
               (legs[0].type == LL_EVENT_HOLD_CAPTURED || legs[1].type == LL_EVENT_HOLD_CAPTURED)) {
        what = "consistent (a hold captured to another account: two legs, same amount, money conserved)";
    }
    fprintf(stderr, "transfer %s: %s\n", o->transfer, why ? why : what);
    return why ? EXIT_FINDING : prc;
}

/* account_state's columns reconcile compares, in this order: id, version, balance, status, limit,
 * held, frozen. A schema before migration 0004 has no held_minor or frozen: nothing was held or
 * frozen there, so they read as 0 and false. */
#define RECONCILE_SELECT "SELECT account_id::text, version, balance_minor, status, overdraft_limit_minor, "
#define RECONCILE_ORDER  ACCOUNT_STATE_ROWS " ORDER BY account_id"
static const char RECONCILE_SQL[] = RECONCILE_SELECT "held_minor, frozen" RECONCILE_ORDER;
static const char RECONCILE_SQL_BEFORE_HOLDS[] = RECONCILE_SELECT "0::bigint, false" RECONCILE_ORDER;

/* 1 when account_state has 0004's columns, 0 when not, -1 (with err) when it cannot be told. */
static int state_has_holds(PGconn *pg, ll_error_t *err) {
    PGresult *res = ll_pg_query(pg,
                                "SELECT count(*) FROM pg_attribute WHERE attrelid = 'account_state'::regclass"
                                " AND attname IN ('held_minor', 'frozen') AND NOT attisdropped",
                                0, NULL, PGRES_TUPLES_OK, err);
    if (res == NULL) return -1;
    int has = strtoll(PQgetvalue(res, 0, 0), NULL, 10) == 2;
    PQclear(res);
    return has;
}

/* Event store (account_state, written with the events) against the active read models: every
 * account whose version, balance, held amount, overdraft limit, freeze or status differs, or
 * that one side lacks. */
static int cmd_reconcile(PGconn *pg, const options_t *o, const ll_config_t *cfg) {
    static const ll_table_column_t cols[] = {{"account_id", 0},
                                             {"store_version", 1},
                                             {"read_model_version", 1},
                                             {"store_balance_minor", 1},
                                             {"read_model_balance_minor", 1},
                                             {"store_held_minor", 1},
                                             {"read_model_held_minor", 1},
                                             {"store_overdraft_limit_minor", 1},
                                             {"read_model_overdraft_limit_minor", 1},
                                             {"store_frozen", 0},
                                             {"read_model_frozen", 0},
                                             {"difference", 0}};
    ll_error_t err = {""};
    ll_rm_client_t *mongo = ll_rm_client_new(cfg->mongo_uri, cfg->mongo_database, NULL, &err);
    if (mongo == NULL) return fail("%s", err.msg);
    ll_read_model_t *rm = ll_rm_open_active(mongo, &err);
    if (rm == NULL) {
        ll_rm_client_free(mongo);
        return fail("read models unreachable: %s", err.msg);
    }
    int64_t generation = ll_read_model_generation(rm);
    const char *params[1] = {o->account};
    ll_progress_t p;
    int holds = state_has_holds(pg, &err);
    int rc = holds < 0 ? fail("%s", err.msg)
                       : start_progress(pg, &p, "reconcile", "accounts", "SELECT count(*)" ACCOUNT_STATE_ROWS,
                                        params);
    /* Rows one at a time, as verify: a million accounts need not be held at once. */
    if (rc == 0 && (!PQsendQueryParams(pg, holds ? RECONCILE_SQL : RECONCILE_SQL_BEFORE_HOLDS, 1, NULL,
                                       params, NULL, NULL, 0) ||
                    !PQsetSingleRowMode(pg)))
        rc = fail("%s", PQerrorMessage(pg));
    ll_table_t *t = rc == 0 ? ll_table_new(cols, sizeof cols / sizeof cols[0]) : NULL;
    if (rc == 0 && t == NULL) rc = EXIT_USAGE;
    long differ = 0, accounts = 0;
    for (PGresult *res; rc == 0 && (res = PQgetResult(pg)) != NULL; PQclear(res)) {
        if (PQresultStatus(res) == PGRES_TUPLES_OK) continue; /* the end of the rows */
        if (PQresultStatus(res) != PGRES_SINGLE_TUPLE) {
            rc = fail("%s", PQresultErrorMessage(res));
            continue;
        }
        ll_uuid_t id;
        ll_account_t a;
        bool found = false;
        ll_uuid_parse(PQgetvalue(res, 0, 0), false, &id);
        if (ll_read_model_load_account(rm, &id, &a, &found, &err) != 0) {
            rc = fail("%s", err.msg);
            continue;
        }
        p.done = ++accounts;
        ll_progress_show(&p, 0);
        const char *what = NULL, *store_frozen = PQgetvalue(res, 0, 6)[0] == 't' ? "true" : "false";
        if (!found)
            what = "missing in the read model";
        else if (a.version != strtoll(PQgetvalue(res, 0, 1), NULL, 10))
            what = "version differs (projector behind?)";
        else if (a.balance_minor != strtoll(PQgetvalue(res, 0, 2), NULL, 10))
            what = "BALANCE DIFFERS at the same version";
        else if (a.held_minor != strtoll(PQgetvalue(res, 0, 5), NULL, 10))
            what = "HELD DIFFERS at the same version";
        else if (a.overdraft_limit_minor != strtoll(PQgetvalue(res, 0, 4), NULL, 10))
            what = "overdraft limit differs at the same version";
        else if (a.frozen != (PQgetvalue(res, 0, 6)[0] == 't'))
            what = "frozen differs at the same version";
        else if (strcmp(ll_account_status_name(a.status), PQgetvalue(res, 0, 3)) != 0)
            what = "status differs";
        if (what == NULL) continue;
        differ++;
        char rv[24], rb[24], rh[24], rl[24];
        fmt_i64(rv, sizeof rv, a.version);
        fmt_i64(rb, sizeof rb, a.balance_minor);
        fmt_i64(rh, sizeof rh, a.held_minor);
        fmt_i64(rl, sizeof rl, a.overdraft_limit_minor);
        const char *row[] = {PQgetvalue(res, 0, 0),
                             PQgetvalue(res, 0, 1),
                             found ? rv : NULL,
                             PQgetvalue(res, 0, 2),
                             found ? rb : NULL,
                             PQgetvalue(res, 0, 5),
                             found ? rh : NULL,
                             PQgetvalue(res, 0, 4),
                             found ? rl : NULL,
                             store_frozen,
                             found ? (a.frozen ? "true" : "false") : NULL,
                             what};
        if (ll_table_add(t, row) != 0) rc = EXIT_USAGE;
    }
    /* Stopped early on an error: the rows left are dropped with the connection, by main. */
    if (rc == 0) {
        ll_progress_clear(&p);
        fprintf(stderr, "reconciled %ld accounts against read-model generation %lld: %ld differ\n", accounts,
                (long long)generation, differ);
    }
    ll_read_model_free(rm);
    ll_rm_client_free(mongo);
    int prc =
        t && (ll_table_rows(t) > 0 || o->format == LL_TABLE_JSON) ? print_table(t, o) : (ll_table_free(t), 0);
    if (rc) return rc;
    return differ ? EXIT_FINDING : prc;
}

/* ---- main ---------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    const char *path = NULL, *command = NULL;
    options_t o = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1000, LL_TABLE_TEXT};
    struct {
        const char *flag;
        const char **slot;
    } text_opts[] = {{"--account", &o.account}, {"--type", &o.type},   {"--since", &o.since},
                     {"--until", &o.until},     {"--actor", &o.actor}, {"--transfer", &o.transfer},
                     {"--as-of", &o.as_of},     {"--config", &path}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int matched = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        for (size_t k = 0; k < sizeof text_opts / sizeof text_opts[0] && !matched; k++) {
            if (strcmp(a, text_opts[k].flag) != 0) continue;
            if (i + 1 >= argc) return fail("%s needs a value", a);
            *text_opts[k].slot = argv[++i];
            matched = 1;
        }
        if (matched) continue;
        if (!strcmp(a, "--all"))
            o.all = 1;
        else if (!strcmp(a, "--format") && i + 1 < argc) {
            if (ll_table_parse_format(argv[++i], &o.format) != 0)
                return fail("--format must be table, csv or json, not %s", argv[i]);
        } else if (!strcmp(a, "--limit") && i + 1 < argc) {
            if (ll_cli_int_arg(argv[++i], 1, 1000000, &o.limit) != 0)
                return fail("--limit must be 1..1000000, not %s", argv[i]);
        } else if (command == NULL && a[0] != '-')
            command = a;
        else {
            usage(stderr);
            return fail("unknown argument %s", a);
        }
    }
    if (command == NULL) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!valid_uuid(o.account) || !valid_uuid(o.transfer))
        return fail("%s", "--account and --transfer take UUIDs");
    if (!valid_time(o.since) || !valid_time(o.until) || !valid_time(o.as_of))
        return fail("%s",
                    "--since, --until and --as-of take RFC 3339 date-times such as 2026-11-24T12:00:00Z");
    if (o.type != NULL && ll_event_type_from_name(o.type) == LL_EVENT_NONE)
        return fail("unknown event type %s", o.type);
    int (*run)(PGconn *, const options_t *) = NULL;
    int reconcile = !strcmp(command, "reconcile"); /* the one command that needs the configuration */
    if (reconcile)
        run = NULL;
    else if (!strcmp(command, "events"))
        run = cmd_events;
    else if (!strcmp(command, "replay"))
        run = o.account ? cmd_replay : NULL;
    else if (!strcmp(command, "balance"))
        run = o.account && o.as_of ? cmd_balance : NULL;
    else if (!strcmp(command, "verify"))
        run = cmd_verify;
    else if (!strcmp(command, "trace"))
        run = o.transfer ? cmd_trace : NULL;
    else
        return fail("unknown command %s (events, replay, balance, verify, trace, reconcile)", command);
    if (run == NULL && !reconcile) return fail("%s: required option missing (see --help)", command);
    ll_config_t cfg;
    if (ll_cli_load_config("ledgerline-audit", path, &cfg) != 0) return EXIT_USAGE;
    ll_error_t err = {""};
    PGconn *pg = ll_pg_connect(cfg.pg_conninfo, &err);
    if (pg == NULL) return fail("%s", err.msg);
    if (reconcile) ll_rm_library_init();
    int rc = reconcile ? cmd_reconcile(pg, &o, &cfg) : run(pg, &o);
    if (reconcile) ll_rm_library_cleanup();
    PQfinish(pg);
    return rc;
}
