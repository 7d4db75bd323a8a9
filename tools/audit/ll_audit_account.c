/* ll_audit_account.c - one account from its events: `replay` (every event with the state after
 * it) and `balance` (the figures as of an instant). */
#include "ll_audit.h"
#include "ll_replay.h"
#include "ll_time.h"

#include <stdio.h>

/* The account's envelopes in version order (up to as_of when given). */
static PGresult *account_events(PGconn *pg, const char *account, const char *as_of, ll_error_t *err) {
    const char *params[2] = {account, as_of};
    return ll_pg_query(pg,
                       "SELECT envelope FROM events WHERE account_id = $1::uuid"
                       " AND ($2::timestamptz IS NULL OR occurred_at <= $2) ORDER BY version",
                       2, params, PGRES_TUPLES_OK, err);
}

int audit_replay(PGconn *pg, const options_t *o, const ll_config_t *cfg) {
    (void)cfg;
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
    if (res == NULL) return audit_fail("%s", err.msg);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return audit_fail("no events for account %s", o->account);
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

int audit_balance(PGconn *pg, const options_t *o, const ll_config_t *cfg) {
    (void)cfg;
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
    if (res == NULL) return audit_fail("%s", err.msg);
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
    if (a.version == 0) return audit_fail("account %s did not exist at that instant", o->account);
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
