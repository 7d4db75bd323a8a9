/* Integration: holds under concurrency, through the store as the command service drives it
 * (ll_store_execute), with one store connection per thread.
 *
 *   - a capture and a release of one hold, racing: exactly one wins, the other is told the hold
 *     is no longer open; the hold ends once;
 *   - withdrawals and new holds (and releases) racing on one account: every one is checked
 *     against what is available, so available never falls below the floor and held is the sum
 *     of the open holds in the holds table; versions stay contiguous and no hold ends twice;
 *   - two expiry sweepers (ll_hold_expiry) on the same due holds: each hold expires once, and
 *     the two count every expiry between them exactly once.
 *
 * In a database of its own (tests/lib/ll_test_db.h), made and dropped here. Needs `make up`; runs
 * from the repository root. */
#include "ll_config.h"
#include "ll_hold_expiry.h"
#include "ll_pg.h"
#include "ll_random.h"
#include "ll_store.h"
#include "ll_test.h"
#include "ll_test_db.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char **environ;

#define DB      "ledgerline_hold_concurrency"
#define ROUNDS  60  /* capture-vs-release races */
#define STEPS   150 /* withdrawals, and holds, per thread */
#define EXPIRES 40  /* holds left to the sweepers */

static char conninfo[2048];

static void write_init(ll_write_t *w, ll_command_type_t type) {
    ll_uuid_t u;
    char text[LL_UUID_TEXT_LEN + 1];
    memset(w, 0, sizeof *w);
    w->cmd.type = type;
    ll_uuid_random(&u);
    ll_uuid_format(&u, text);
    snprintf(w->idem_scope, sizeof w->idem_scope, "operator:test-hold-concurrency");
    snprintf(w->idem_key, sizeof w->idem_key, "k-%s", text);
    ll_sha256_hex(text, strlen(text), w->request_hash);
    snprintf(w->actor, sizeof w->actor, "operator:test-hold-concurrency");
    snprintf(w->correlation_id, sizeof w->correlation_id, "hold-concurrency");
    w->expected_version = -1;
    ll_currency_parse("EUR", &w->cmd.currency);
}

static void exec1(ll_store_t *s, ll_write_t *w) {
    ll_write_t *batch[1] = {w};
    ll_store_execute(s, batch, 1);
}

static ll_store_t *store(ll_test_ctx_t *t) {
    ll_error_t err = {""};
    ll_store_t *s = ll_store_open(conninfo, 10000, 86400, &err);
    if (s == NULL) LL_FAIL_AT("store: %s", err.msg);
    return s;
}

/* Opens an account and deposits amount. */
static int open_funded(ll_test_ctx_t *t, ll_store_t *s, int64_t amount, ll_uuid_t *id) {
    ll_write_t w;
    write_init(&w, LL_CMD_OPEN);
    snprintf(w.cmd.owner, sizeof w.cmd.owner, "hold-concurrency");
    exec1(s, &w);
    LL_CHECK_EQ_INT(w.status, 201);
    if (w.status != 201 || ll_uuid_parse(w.account_id, false, id) != 0) return -1;
    if (amount == 0) return 0;
    write_init(&w, LL_CMD_DEPOSIT);
    w.cmd.account_id = *id;
    w.cmd.amount_minor = amount;
    exec1(s, &w);
    LL_CHECK_EQ_INT(w.status, 201);
    return w.status == 201 ? 0 : -1;
}

static int place(ll_store_t *s, const ll_uuid_t *account, int64_t amount, int64_t expires_in_s,
                 ll_uuid_t *hold) {
    ll_write_t w;
    write_init(&w, LL_CMD_PLACE_HOLD);
    w.cmd.account_id = *account;
    w.cmd.amount_minor = amount;
    w.cmd.expires_in_s = expires_in_s;
    exec1(s, &w);
    *hold = w.cmd.hold_id;
    return w.status;
}

/* ---- a capture and a release racing --------------------------------------------------------- */

typedef struct {
    ll_store_t *s;
    pthread_barrier_t *go;
    ll_write_t w;
} racer_t;

static void *race(void *arg) {
    racer_t *r = arg;
    pthread_barrier_wait(r->go);
    exec1(r->s, &r->w);
    return NULL;
}

static int problem_is(const ll_write_t *w, const char *slug) {
    char type[128];
    snprintf(type, sizeof type, "\"https://ledgerline.dev/problems/%s\"", slug);
    return strstr(w->response, type) != NULL;
}

/* One row, one column of SQL on conn, as a number (-1 when it fails). */
static long long sql_int(ll_test_ctx_t *t, PGconn *conn, const char *sql) {
    PGresult *res = PQexec(conn, sql);
    long long v = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else
        LL_FAIL_AT("%s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
    return v;
}

/* No hold of the database ended twice, and every account's events are contiguous. */
static void check_history(ll_test_ctx_t *t, PGconn *conn) {
    LL_CHECK_EQ_INT(sql_int(t, conn,
                            "SELECT count(*) FROM (SELECT envelope::jsonb->'data'->>'hold_id' FROM events"
                            " WHERE type IN ('HoldCaptured', 'HoldReleased', 'HoldExpired') GROUP BY 1"
                            " HAVING count(*) > 1) x"),
                    0);
    LL_CHECK_EQ_INT(sql_int(t, conn,
                            "SELECT count(*) FROM (SELECT account_id FROM events GROUP BY account_id"
                            " HAVING count(*) <> max(version)) x"),
                    0);
    /* The table agrees with the events: every hold's status is what its last event says. */
    LL_CHECK_EQ_INT(
        sql_int(t, conn,
                "SELECT count(*) FROM holds h WHERE h.status <> 'open' AND NOT EXISTS (SELECT 1 FROM"
                " events e WHERE e.account_id = h.account_id AND e.type = CASE h.status"
                " WHEN 'captured' THEN 'HoldCaptured' WHEN 'released' THEN 'HoldReleased'"
                " ELSE 'HoldExpired' END AND envelope::jsonb->'data'->>'hold_id' = h.hold_id::text)"),
        0);
}

/* held is the sum of the account's open holds, and available stays at or above the floor. */
static void check_account(ll_test_ctx_t *t, PGconn *conn, const ll_uuid_t *id) {
    char text[LL_UUID_TEXT_LEN + 1], sql[512];
    ll_uuid_format(id, text);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM account_state a WHERE account_id = '%s' AND held_minor = (SELECT"
             " coalesce(sum(amount_minor), 0) FROM holds WHERE account_id = a.account_id AND status = 'open')"
             " AND balance_minor - held_minor >= -overdraft_limit_minor",
             text);
    LL_CHECK_EQ_INT(sql_int(t, conn, sql), 1);
    /* The balance is what the events moved: credits less debits (a capture is one). */
    snprintf(
        sql, sizeof sql,
        "SELECT count(*) FROM account_state a WHERE account_id = '%s' AND balance_minor = (SELECT"
        " coalesce(sum(CASE WHEN type IN ('MoneyDeposited', 'TransferReceived') THEN 1 ELSE -1 END"
        " * (envelope::jsonb->'data'->>'amount_minor')::bigint), 0) FROM events"
        " WHERE account_id = a.account_id AND type IN ('MoneyDeposited', 'MoneyWithdrawn', 'HoldCaptured',"
        " 'TransferSent', 'TransferReceived'))",
        text);
    LL_CHECK_EQ_INT(sql_int(t, conn, sql), 1);
}

LL_TEST(test_capture_and_release_racing_one_wins) {
    ll_store_t *s1 = store(t), *s2 = store(t);
    PGconn *conn = PQconnectdb(conninfo);
    LL_REQUIRE(s1 != NULL && s2 != NULL && PQstatus(conn) == CONNECTION_OK);
    ll_uuid_t account;
    LL_REQUIRE(open_funded(t, s1, 1000000, &account) == 0);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    int captured = 0, released = 0;
    for (int i = 0; i < ROUNDS; i++) {
        ll_uuid_t hold;
        LL_REQUIRE(place(s1, &account, 100, 600, &hold) == 201);
        racer_t cap = {.s = s1, .go = &go}, rel = {.s = s2, .go = &go};
        write_init(&cap.w, LL_CMD_CAPTURE_HOLD);
        cap.w.cmd.hold_id = hold;
        cap.w.cmd.amount_minor = i % 2 ? 60 : 0; /* part, or all of it */
        write_init(&rel.w, LL_CMD_RELEASE_HOLD);
        rel.w.cmd.hold_id = hold;
        pthread_t a, b;
        pthread_create(&a, NULL, race, &cap);
        pthread_create(&b, NULL, race, &rel);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        int won = (cap.w.status == 201) + (rel.w.status == 200);
        if (won != 1)
            LL_FAIL_AT("round %d: capture %d %s, release %d %s", i, cap.w.status, cap.w.response,
                       rel.w.status, rel.w.response);
        const ll_write_t *loser = cap.w.status == 201 ? &rel.w : &cap.w;
        LL_CHECK_EQ_INT(loser->status, 409);
        LL_CHECK(problem_is(loser, "hold-not-open"));
        captured += cap.w.status == 201;
        released += rel.w.status == 200;
    }
    printf("  %d races: %d captured first, %d released first\n", ROUNDS, captured, released);
    pthread_barrier_destroy(&go);
    check_account(t, conn, &account);
    check_history(t, conn);
    PQfinish(conn);
    ll_store_close(s1);
    ll_store_close(s2);
}

/* ---- withdrawals and holds racing on one account ----------------------------------------------- */

typedef struct {
    ll_store_t *s;
    ll_uuid_t account;
    int holds; /* 1: places holds (releasing some); 0: withdraws */
    unsigned seed;
    int accepted, refused, unexpected;
} worker_t;

static void *work(void *arg) {
    worker_t *k = arg;
    ll_uuid_t mine[STEPS];
    int n = 0;
    for (int i = 0; i < STEPS; i++) {
        ll_write_t w;
        int64_t amount = 1 + rand_r(&k->seed) % 300;
        if (k->holds && n > 0 && rand_r(&k->seed) % 4 == 0) {
            write_init(&w, LL_CMD_RELEASE_HOLD);
            w.cmd.hold_id = mine[--n];
        } else if (k->holds) {
            write_init(&w, LL_CMD_PLACE_HOLD);
            w.cmd.account_id = k->account;
            w.cmd.amount_minor = amount;
            w.cmd.expires_in_s = 600;
        } else {
            write_init(&w, LL_CMD_WITHDRAW);
            w.cmd.account_id = k->account;
            w.cmd.amount_minor = amount;
        }
        exec1(k->s, &w);
        if (w.status == 201 || w.status == 200) {
            k->accepted++;
            if (w.cmd.type == LL_CMD_PLACE_HOLD) mine[n++] = w.cmd.hold_id;
        } else if (w.status == 422 && problem_is(&w, "insufficient-funds")) {
            k->refused++;
        } else {
            k->unexpected++;
            fprintf(stderr, "  unexpected: %d %s\n", w.status, w.response);
        }
    }
    return NULL;
}

LL_TEST(test_withdrawals_and_holds_racing_keep_the_invariant) {
    ll_store_t *s1 = store(t), *s2 = store(t), *s3 = store(t);
    PGconn *conn = PQconnectdb(conninfo);
    LL_REQUIRE(s1 != NULL && s2 != NULL && s3 != NULL && PQstatus(conn) == CONNECTION_OK);
    ll_uuid_t account;
    LL_REQUIRE(open_funded(t, s1, 20000, &account) == 0); /* runs dry about half way */
    /* A credit line too: the floor is below zero, and nothing may pass it either. */
    ll_write_t limit;
    write_init(&limit, LL_CMD_SET_CREDIT_LIMIT);
    limit.cmd.account_id = account;
    limit.cmd.overdraft_limit_minor = 5000;
    exec1(s1, &limit);
    LL_CHECK_EQ_INT(limit.status, 200);
    worker_t k[3] = {{.s = s1, .account = account, .holds = 0, .seed = 1},
                     {.s = s2, .account = account, .holds = 1, .seed = 2},
                     {.s = s3, .account = account, .holds = 1, .seed = 3}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, work, &k[i]);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    int accepted = 0, refused = 0;
    for (int i = 0; i < 3; i++) {
        LL_CHECK_EQ_INT(k[i].unexpected, 0);
        accepted += k[i].accepted, refused += k[i].refused;
    }
    printf("  %d accepted, %d refused for insufficient funds\n", accepted, refused);
    LL_CHECK(refused > 0); /* the race reached the floor */
    check_account(t, conn, &account);
    check_history(t, conn);
    PQfinish(conn);
    ll_store_close(s1);
    ll_store_close(s2);
    ll_store_close(s3);
}

/* ---- one batch ------------------------------------------------------------------------------------ */

/* Under load the writers put many commands in one transaction: the batch's own record of a hold
 * and of each account must carry each command's effect to the next. */
LL_TEST(test_one_batch_sees_its_own_holds_and_chains) {
    ll_store_t *s = store(t);
    PGconn *conn = PQconnectdb(conninfo);
    LL_REQUIRE(s != NULL && PQstatus(conn) == CONNECTION_OK);
    ll_uuid_t a, b, h1;
    LL_REQUIRE(open_funded(t, s, 1000, &a) == 0 && open_funded(t, s, 0, &b) == 0);
    LL_REQUIRE(place(s, &a, 300, 600, &h1) == 201);
    enum { N = 7 };
    ll_write_t w[N], *batch[N];
    for (int i = 0; i < N; i++) batch[i] = &w[i];
    write_init(&w[0], LL_CMD_CAPTURE_HOLD); /* 100 of h1 to b: a 900, held 0 */
    w[0].cmd.hold_id = h1;
    w[0].cmd.amount_minor = 100;
    w[0].cmd.to_account_id = b;
    write_init(&w[1], LL_CMD_RELEASE_HOLD); /* h1 again: ended by w[0] in this very batch */
    w[1].cmd.hold_id = h1;
    write_init(&w[2], LL_CMD_PLACE_HOLD); /* a new hold: held 850 */
    w[2].cmd.account_id = a;
    w[2].cmd.amount_minor = 850;
    w[2].cmd.expires_in_s = 600;
    write_init(&w[3], LL_CMD_WITHDRAW); /* only 50 left available */
    w[3].cmd.account_id = a;
    w[3].cmd.amount_minor = 51;
    write_init(&w[4], LL_CMD_PAYMENT); /* a named twice, b in between: 50 out, 20 back */
    w[4].cmd.leg_count = 3;
    w[4].cmd.legs[0] = (ll_payment_leg_t){a, b, 50, w[4].cmd.currency};
    w[4].cmd.legs[1] = (ll_payment_leg_t){b, a, 20, w[4].cmd.currency};
    w[4].cmd.legs[2] = (ll_payment_leg_t){b, a, 10, w[4].cmd.currency};
    write_init(&w[5], LL_CMD_EXPIRE_HOLD); /* the system's, on h1 ended above: refused, key released */
    snprintf(w[5].idem_scope, sizeof w[5].idem_scope, "%s", LL_HOLD_EXPIRY_SCOPE);
    w[5].cmd.hold_id = h1;
    write_init(&w[6], LL_CMD_WITHDRAW); /* the 30 the payment brought back */
    w[6].cmd.account_id = a;
    w[6].cmd.amount_minor = 30;
    ll_store_execute(s, batch, N);
    LL_CHECK_EQ_INT((long long)ll_store_errors(s), 0); /* one transaction, not retried one by one */
    LL_CHECK_EQ_INT(w[0].status, 201);
    LL_CHECK_EQ_INT(w[1].status, 409);
    LL_CHECK(problem_is(&w[1], "hold-not-open"));
    LL_CHECK_EQ_INT(w[2].status, 201);
    LL_CHECK_EQ_INT(w[3].status, 422);
    LL_CHECK(problem_is(&w[3], "insufficient-funds"));
    LL_CHECK_EQ_INT(w[4].status, 201);
    LL_CHECK_EQ_INT(w[6].status, 201);
    LL_CHECK_EQ_INT(w[5].status, 409);
    LL_CHECK(problem_is(&w[5], "hold-not-open"));
    char text[LL_UUID_TEXT_LEN + 1], sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM idempotency_keys WHERE key = '%s'", w[5].idem_key);
    LL_CHECK_EQ_INT(sql_int(t, conn, sql), 0); /* a refused expiry keeps no key: the sweep asks again */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM idempotency_keys WHERE key = '%s'", w[1].idem_key);
    LL_CHECK_EQ_INT(sql_int(t, conn, sql), 1); /* a client's refusal is kept, as ever */
    ll_uuid_format(&a, text);
    snprintf(sql, sizeof sql,
             "SELECT balance_minor * 10000 + held_minor FROM account_state WHERE account_id = '%s'", text);
    LL_CHECK_EQ_INT(sql_int(t, conn, sql), 850LL * 10000 + 850); /* 1000 - 100 - 50 + 30 - 30 */
    /* Each account's chain links through the batch. */
    LL_CHECK_EQ_INT(sql_int(t, conn,
                            "SELECT count(*) FROM events e JOIN events p ON p.account_id = e.account_id"
                            " AND p.version = e.version - 1 WHERE e.envelope::jsonb->>'prev_hash' <> p.hash"),
                    0);
    check_account(t, conn, &a);
    check_history(t, conn);
    PQfinish(conn);
    ll_store_close(s);
}

/* ---- two sweepers --------------------------------------------------------------------------------- */

LL_TEST(test_two_sweepers_expire_each_hold_once) {
    ll_store_t *s = store(t);
    PGconn *conn = PQconnectdb(conninfo);
    LL_REQUIRE(s != NULL && PQstatus(conn) == CONNECTION_OK);
    ll_uuid_t account;
    LL_REQUIRE(open_funded(t, s, 100000, &account) == 0);
    for (int i = 0; i < EXPIRES; i++) {
        ll_uuid_t hold;
        LL_CHECK_EQ_INT(place(s, &account, 10 + i, 1, &hold), 201);
    }
    /* All due before the sweepers start: both find every one at once. */
    struct timespec due = {1, 200000000};
    nanosleep(&due, NULL);
    ll_error_t err = {""};
    ll_hold_expiry_t *x1 = ll_hold_expiry_start(conninfo, 10000, 86400, 100, &err);
    ll_hold_expiry_t *x2 = ll_hold_expiry_start(conninfo, 10000, 86400, 100, &err);
    LL_REQUIRE(x1 != NULL && x2 != NULL);
    char text[LL_UUID_TEXT_LEN + 1], sql[256];
    ll_uuid_format(&account, text);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM holds WHERE account_id = '%s' AND status = 'expired'",
             text);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long long expired = 0;
    do {
        struct timespec pause = {0, 100000000};
        nanosleep(&pause, NULL);
        expired = sql_int(t, conn, sql);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (expired < EXPIRES && now.tv_sec - start.tv_sec < 15);
    LL_CHECK_EQ_INT(expired, EXPIRES);
    /* Both may have found every hold; between them each expiry is counted once. */
    uint64_t by1 = ll_hold_expiry_expired(x1), by2 = ll_hold_expiry_expired(x2);
    ll_hold_expiry_stop(x1);
    ll_hold_expiry_stop(x2);
    printf("  %d holds expired: %llu by one sweeper, %llu by the other\n", EXPIRES, (unsigned long long)by1,
           (unsigned long long)by2);
    LL_CHECK_EQ_INT((long long)(by1 + by2), EXPIRES);
    snprintf(sql, sizeof sql, "SELECT held_minor FROM account_state WHERE account_id = '%s'", text);
    LL_CHECK_EQ_INT(sql_int(t, conn, sql), 0);
    /* A sweeper that asks again (restarted mid-sweep, or the slower of two) gets the first answer
     * again, under the same key, and nothing is appended. */
    snprintf(sql, sizeof sql, "SELECT hold_id FROM holds WHERE account_id = '%s' LIMIT 1", text);
    PGresult *res = PQexec(conn, sql);
    LL_REQUIRE(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1);
    ll_write_t again;
    memset(&again, 0, sizeof again);
    again.cmd.type = LL_CMD_EXPIRE_HOLD;
    LL_REQUIRE(ll_uuid_parse(PQgetvalue(res, 0, 0), false, &again.cmd.hold_id) == 0);
    snprintf(again.idem_scope, sizeof again.idem_scope, "%s", LL_HOLD_EXPIRY_SCOPE);
    snprintf(again.actor, sizeof again.actor, "%s", LL_HOLD_EXPIRY_SCOPE);
    snprintf(again.idem_key, sizeof again.idem_key, "expire:%s", PQgetvalue(res, 0, 0));
    char request[64];
    int len = snprintf(request, sizeof request, "EXPIRE %s", PQgetvalue(res, 0, 0));
    ll_sha256_hex(request, (size_t)len, again.request_hash);
    again.expected_version = -1;
    PQclear(res);
    long long events = sql_int(t, conn, "SELECT count(*) FROM events");
    exec1(s, &again);
    LL_CHECK_EQ_INT(again.status, 200);
    LL_CHECK(again.replayed);
    LL_CHECK_EQ_INT(sql_int(t, conn, "SELECT count(*) FROM events"), events);
    check_account(t, conn, &account);
    check_history(t, conn);
    PQfinish(conn);
    ll_store_close(s);
}

int main(int argc, char **argv) {
    ll_config_t cfg;
    ll_error_t err = {""};
    if (ll_config_load(&cfg, NULL, environ, &err) != 0 ||
        ll_test_db_create(DB, &cfg, conninfo, sizeof conninfo, &err) != 0) {
        fprintf(stderr, "database %s: %s (is the stack up? make up)\n", DB, err.msg);
        printf("hold_concurrency: 0 passed, 1 failed\n");
        return 1;
    }
    static const ll_test_case_t cases[] = {
        LL_CASE(test_capture_and_release_racing_one_wins),
        LL_CASE(test_withdrawals_and_holds_racing_keep_the_invariant),
        LL_CASE(test_one_batch_sees_its_own_holds_and_chains),
        LL_CASE(test_two_sweepers_expire_each_hold_once),
    };
    int rc = ll_test_main(argc, argv, "hold_concurrency", cases, LL_CASES(cases));
    if (ll_test_db_drop(DB, &err) != 0) fprintf(stderr, "drop %s: %s\n", DB, err.msg);
    return rc;
}
