/* Integration: the command service's writer pool (services/ll_writer on lib/ll_workers) against
 * PostgreSQL, as ll_command_api drives it:
 *
 *   - a burst past the queue is refused at submit (the 503 "overloaded"), never lost: every
 *     accepted write is answered exactly once, and the account holds exactly those deposits;
 *   - a stop with writes still queued writes and answers every one before it returns;
 *   - a store that cannot be reached fails the start (readiness never lies), a bad size too.
 *
 * In a database of its own (tests/lib/ll_test_db.h), made and dropped here. Needs `make up`; runs
 * from the repository root. */
#include "ll_config.h"
#include "ll_random.h"
#include "ll_store.h"
#include "ll_test.h"
#include "ll_test_db.h"
#include "ll_writer.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char **environ;

#define DB     "ledgerline_writer_pool"
#define WRITES 300

static char conninfo[2048];

/* What done() saw; writes[i] is answered done[i] times. */
typedef struct {
    pthread_mutex_t mu;
    ll_write_t writes[WRITES];
    int done[WRITES];
    int answered, created;
} tracker_t;

static tracker_t tr;

static void on_done(ll_write_t *w, void *ctx) {
    tracker_t *t = ctx;
    pthread_mutex_lock(&t->mu);
    t->done[w - t->writes]++;
    t->answered++;
    if (w->status == 201) t->created++;
    pthread_mutex_unlock(&t->mu);
}

static void tracker_reset(void) {
    pthread_mutex_lock(&tr.mu);
    memset(tr.done, 0, sizeof tr.done);
    tr.answered = tr.created = 0;
    pthread_mutex_unlock(&tr.mu);
}

static int answered(void) {
    pthread_mutex_lock(&tr.mu);
    int n = tr.answered;
    pthread_mutex_unlock(&tr.mu);
    return n;
}

static void write_init(ll_write_t *w, ll_command_type_t type) {
    ll_uuid_t u;
    char text[LL_UUID_TEXT_LEN + 1];
    memset(w, 0, sizeof *w);
    w->cmd.type = type;
    ll_uuid_random(&u);
    ll_uuid_format(&u, text);
    snprintf(w->idem_scope, sizeof w->idem_scope, "operator:test-writer-pool");
    snprintf(w->idem_key, sizeof w->idem_key, "k-%s", text);
    ll_sha256_hex(text, strlen(text), w->request_hash);
    snprintf(w->actor, sizeof w->actor, "operator:test-writer-pool");
    snprintf(w->correlation_id, sizeof w->correlation_id, "writer-pool");
    w->expected_version = -1;
    ll_currency_parse("EUR", &w->cmd.currency);
}

/* Opens an account straight through a store of its own. */
static int open_account(ll_test_ctx_t *t, ll_uuid_t *id) {
    ll_error_t err = {""};
    ll_store_t *s = ll_store_open(conninfo, 10000, 86400, &err);
    if (s == NULL) {
        LL_FAIL_AT("store: %s", err.msg);
        return -1;
    }
    ll_write_t w;
    write_init(&w, LL_CMD_OPEN);
    snprintf(w.cmd.owner, sizeof w.cmd.owner, "writer-pool");
    ll_write_t *batch[1] = {&w};
    ll_store_execute(s, batch, 1);
    ll_store_close(s);
    LL_CHECK_EQ_INT(w.status, 201);
    return w.status == 201 && ll_uuid_parse(w.account_id, false, id) == 0 ? 0 : -1;
}

static void deposit_init(ll_write_t *w, const ll_uuid_t *account) {
    write_init(w, LL_CMD_DEPOSIT);
    w->cmd.account_id = *account;
    w->cmd.amount_minor = 1;
}

static long long account_version(ll_test_ctx_t *t, const ll_uuid_t *account) {
    char id[LL_UUID_TEXT_LEN + 1], sql[160];
    ll_uuid_format(account, id);
    snprintf(sql, sizeof sql, "SELECT version FROM account_state WHERE account_id = '%s'", id);
    PGconn *conn = PQconnectdb(conninfo);
    PGresult *res = PQexec(conn, sql);
    long long v = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        v = atoll(PQgetvalue(res, 0, 0));
    else
        LL_FAIL_AT("%s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
    PQfinish(conn);
    return v;
}

/* Waits (up to 30 s) until n writes were answered. */
static int wait_answered(int n) {
    for (int i = 0; i < 3000 && answered() < n; i++) nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    return answered() >= n;
}

LL_TEST(test_a_burst_past_the_queue_is_refused_never_lost) {
    ll_uuid_t account;
    LL_REQUIRE(open_account(t, &account) == 0);
    tracker_reset();
    ll_error_t err = {""};
    ll_writer_pool_t *p = ll_writer_pool_start(conninfo, 10000, 86400, 1, 4, on_done, &tr, &err);
    LL_REQUIRE(p != NULL);
    LL_CHECK(ll_writer_pool_healthy(p));
    int accepted = 0, refused = 0;
    for (int i = 0; i < WRITES; i++) {
        deposit_init(&tr.writes[i], &account);
        if (ll_writer_pool_submit(p, &tr.writes[i]) == 0)
            accepted++;
        else
            refused++;
    }
    LL_CHECK(refused > 0); /* one writer, 4 slots: a burst of 300 cannot all fit */
    LL_CHECK(wait_answered(accepted));
    LL_CHECK_EQ_INT(ll_writer_pool_pending(p), 0);
    LL_CHECK_EQ_INT(ll_writer_pool_errors(p), 0);
    ll_writer_pool_stop(p);
    LL_CHECK_EQ_INT(tr.answered, accepted);
    LL_CHECK_EQ_INT(tr.created, accepted);
    int once = 1;
    for (int i = 0; i < WRITES; i++) once &= tr.done[i] <= 1;
    LL_CHECK(once);
    LL_CHECK_EQ_INT(account_version(t, &account), 1 + accepted); /* opened, then each deposit */
}

LL_TEST(test_a_stop_writes_and_answers_every_queued_write) {
    ll_uuid_t account;
    LL_REQUIRE(open_account(t, &account) == 0);
    tracker_reset();
    ll_error_t err = {""};
    ll_writer_pool_t *p = ll_writer_pool_start(conninfo, 10000, 86400, 2, 64, on_done, &tr, &err);
    LL_REQUIRE(p != NULL);
    int accepted = 0;
    for (int i = 0; i < 64; i++) {
        deposit_init(&tr.writes[i], &account);
        if (ll_writer_pool_submit(p, &tr.writes[i]) == 0) accepted++;
    }
    LL_CHECK_EQ_INT(accepted, 64); /* the queue holds them all */
    ll_writer_pool_stop(p);        /* at once: most are still queued */
    LL_CHECK_EQ_INT(tr.answered, 64);
    LL_CHECK_EQ_INT(tr.created, 64);
    LL_CHECK_EQ_INT(account_version(t, &account), 65);
}

LL_TEST(test_an_unreachable_store_or_a_bad_size_fails_the_start) {
    ll_error_t err = {""};
    const char *nowhere = "host=127.0.0.1 port=1 dbname=nowhere user=nobody connect_timeout=2";
    LL_CHECK(ll_writer_pool_start(nowhere, 1000, 86400, 2, 8, on_done, &tr, &err) == NULL);
    LL_CHECK(err.msg[0] != '\0');
    ll_error_clear(&err);
    LL_CHECK(ll_writer_pool_start(conninfo, 1000, 86400, 0, 8, on_done, &tr, &err) == NULL);
    LL_CHECK_CONTAINS(err.msg, "writer pool");
    ll_error_clear(&err);
    LL_CHECK(ll_writer_pool_start(conninfo, 1000, 86400, 1, 0, on_done, &tr, &err) == NULL);
    LL_CHECK_CONTAINS(err.msg, "non-empty queue");
    ll_writer_pool_stop(NULL);
}

int main(int argc, char **argv) {
    ll_config_t cfg;
    ll_error_t err = {""};
    pthread_mutex_init(&tr.mu, NULL);
    if (ll_config_load(&cfg, NULL, environ, &err) != 0 ||
        ll_test_db_create(DB, &cfg, conninfo, sizeof conninfo, &err) != 0) {
        fprintf(stderr, "database %s: %s (is the stack up? make up)\n", DB, err.msg);
        printf("writer_pool: 0 passed, 1 failed\n");
        return 1;
    }
    static const ll_test_case_t cases[] = {
        LL_CASE(test_a_burst_past_the_queue_is_refused_never_lost),
        LL_CASE(test_a_stop_writes_and_answers_every_queued_write),
        LL_CASE(test_an_unreachable_store_or_a_bad_size_fails_the_start),
    };
    int rc = ll_test_main(argc, argv, "writer_pool", cases, LL_CASES(cases));
    if (ll_test_db_drop(DB, &err) != 0) fprintf(stderr, "drop %s: %s\n", DB, err.msg);
    pthread_mutex_destroy(&tr.mu);
    return rc;
}
