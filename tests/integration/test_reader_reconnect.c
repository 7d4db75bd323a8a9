/* Integration: the event reader on a caller's connection (the query API's, the CLIs') when that
 * connection is re-made (issue #34's review).
 *
 * - A stream of more than two pages whose backend is killed between pages (pg_terminate_backend
 *   from a second connection, from inside the page callback, as a failover or a dropped
 *   connection would) goes on through the caller's reconnect from the last version read: every
 *   event exactly once, in order, the same bytes as an uninterrupted read. Without a reconnect
 *   the same kill fails the read (the control: the kill does break it).
 * - A session re-made behind the same PGconn (PQreset: the same address, as malloc may give a
 *   new PGconn the freed one's) or a new PGconn the caller announces (ll_event_reader_reset) gets
 *   its statements prepared before they are executed, not found missing (SQLSTATE 26000) and
 *   prepared again: inside an open transaction that failed statement would end it, so the reads
 *   run inside one, which must still commit.
 *
 * In a database of its own (tests/lib/ll_test_db.h): it writes an account's events past the
 * command service. Needs `make up`; runs from the repository root. */
#include "ll_config.h"
#include "ll_event_reader.h"
#include "ll_pg.h"
#include "ll_random.h"
#include "ll_test.h"
#include "ll_test_db.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

#define DB     "ledgerline_reader_reconnect"
#define EVENTS (2 * LL_EVENT_READER_PAGE + LL_EVENT_READER_PAGE / 2) /* three pages, the last short */

static char conninfo[2048];
static ll_uuid_t account;

/* The envelope stored for version v (the reader passes envelopes on as stored; none decodes). */
static void envelope_of(int64_t v, char *out, size_t size) {
    snprintf(out, size, "{\"version\":%lld}", (long long)v);
}

/* The test's database with one account of EVENTS events. Returns 0, or fails the test. */
static int make_store(ll_test_ctx_t *t) {
    ll_config_t cfg;
    ll_error_t err = {""};
    if (ll_config_load(&cfg, NULL, environ, &err) != 0) {
        LL_FAIL_AT("config: %s", err.msg);
        return -1;
    }
    if (ll_test_db_create(DB, &cfg, conninfo, sizeof conninfo, &err) != 0) {
        LL_FAIL_AT("database %s: %s (is the stack up? make up)", DB, err.msg);
        return -1;
    }
    PGconn *conn = ll_pg_connect(conninfo, &err);
    if (conn == NULL || ll_uuid_random(&account) != 0) {
        LL_FAIL_AT("connect: %s", err.msg);
        PQfinish(conn);
        return -1;
    }
    char id[LL_UUID_TEXT_LEN + 1], n[16];
    ll_uuid_format(&account, id);
    snprintf(n, sizeof n, "%d", EVENTS);
    const char *params[2] = {id, n};
    PGresult *res = ll_pg_query(conn,
                                "INSERT INTO events (global_position, account_id, version, event_id, type,"
                                " schema_version, occurred_at, command_id, hash, envelope)"
                                " SELECT i, $1::uuid, i, md5('e' || i)::uuid, 'MoneyDeposited', 2, now(), 'k' || i,"
                                " md5(i::text) || md5(i::text), '{\"version\":' || i || '}'"
                                " FROM generate_series(1, $2::int) i",
                                2, params, PGRES_COMMAND_OK, &err);
    if (res == NULL) LL_FAIL_AT("insert: %s", err.msg);
    PQclear(res);
    PQfinish(conn);
    return res == NULL ? -1 : 0;
}

static PGconn *connect_or_fail(ll_test_ctx_t *t) {
    ll_error_t err = {""};
    PGconn *conn = ll_pg_connect_bounded(conninfo, 10000, &err);
    if (conn == NULL) LL_FAIL_AT("connect: %s", err.msg);
    return conn;
}

/* What a stream read passed on, checked as it comes: versions 1, 2, ... each once, each
 * envelope as stored. The backend of *conn is killed from killer after the events in kill_at. */
typedef struct {
    ll_test_ctx_t *t;
    int64_t seen;
    int wrong; /* envelopes out of order, repeated or altered */
    PGconn **conn, *killer;
    int64_t kill_at[2];
    int killed;
} stream_t;

static int kill_backend(stream_t *s) {
    char pid[16];
    snprintf(pid, sizeof pid, "%d", PQbackendPID(*s->conn));
    const char *params[1] = {pid};
    ll_error_t err = {""};
    /* Waits (up to 5 s) until the backend is gone: the next page meets a dead session. */
    PGresult *res = ll_pg_query(s->killer, "SELECT pg_terminate_backend($1::int, 5000)", 1, params,
                                PGRES_TUPLES_OK, &err);
    int ok = res != NULL && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!ok) {
        ll_test_ctx_t *t = s->t;
        LL_FAIL_AT("pg_terminate_backend(%s): %s", pid, err.msg);
    }
    return ok;
}

static int stream_each(void *ctx, const char *envelope, size_t len) {
    stream_t *s = ctx;
    char want[64];
    envelope_of(++s->seen, want, sizeof want);
    if (len != strlen(want) || memcmp(envelope, want, len) != 0) s->wrong++;
    for (int i = 0; i < 2; i++)
        if (s->killer != NULL && s->seen == s->kill_at[i]) s->killed += kill_backend(s);
    return 0;
}

/* The caller's reconnect, as the query API's pg_ready: a new PGconn for a broken one. */
typedef struct {
    PGconn **conn;
    int calls;
} remake_t;

static int remake(void *ctx, ll_error_t *err) {
    remake_t *m = ctx;
    m->calls++;
    if (!ll_pg_broken(*m->conn)) return 0;
    PQfinish(*m->conn);
    *m->conn = ll_pg_connect_bounded(conninfo, 10000, err);
    return *m->conn != NULL ? 0 : LL_EIO;
}

/* The same session again behind the same PGconn (the same address). */
static int remake_in_place(void *ctx, ll_error_t *err) {
    remake_t *m = ctx;
    m->calls++;
    PQreset(*m->conn);
    if (PQstatus(*m->conn) == CONNECTION_OK) return 0;
    return ll_error_set(err, LL_EIO, "PQreset: %s", PQerrorMessage(*m->conn));
}

/* How many of the session's prepared statements are the range read's (1: prepared there). */
static int range_prepared(ll_test_ctx_t *t, PGconn *conn) {
    PGresult *res = PQexec(conn, "SELECT count(*) FROM pg_prepared_statements WHERE name = 'll_event_range'");
    int n = PQresultStatus(res) == PGRES_TUPLES_OK ? atoi(PQgetvalue(res, 0, 0)) : -1;
    if (n < 0) LL_FAIL_AT("pg_prepared_statements: %s", PQerrorMessage(conn));
    PQclear(res);
    return n;
}

/* Reads the whole stream through r, killing *conn's backend after the events in kill_at (0:
 * none) from killer. Returns what ll_event_reader_each returned; s as the stream went. */
static int64_t read_stream(ll_test_ctx_t *t, ll_event_reader_t *r, PGconn **conn, PGconn *killer, int64_t kill1,
                           int64_t kill2, stream_t *s) {
    ll_error_t err = {""};
    *s = (stream_t){.t = t, .conn = conn, .killer = killer, .kill_at = {kill1, kill2}};
    return ll_event_reader_each(r, &account, LL_EVENT_RANGE_ALL, stream_each, s, &err);
}

LL_TEST(test_a_stream_goes_on_when_its_backend_is_killed_between_pages) {
    PGconn *conn = connect_or_fail(t), *killer = connect_or_fail(t);
    LL_REQUIRE(conn != NULL && killer != NULL);
    remake_t m = {&conn, 0};
    ll_event_reader_t *r = ll_event_reader_on(&conn);
    LL_REQUIRE(r != NULL);
    ll_event_reader_on_reconnect(r, remake, &m);
    stream_t s;
    /* Uninterrupted: the answer to give again. */
    LL_CHECK_EQ_INT(read_stream(t, r, &conn, NULL, 0, 0, &s), EVENTS);
    LL_CHECK(s.seen == EVENTS && s.wrong == 0 && m.calls == 0);
    /* Killed after the first page and again after the second: two new sessions, one stream. */
    int before = PQbackendPID(conn);
    LL_CHECK_EQ_INT(read_stream(t, r, &conn, killer, LL_EVENT_READER_PAGE, 2 * LL_EVENT_READER_PAGE, &s), EVENTS);
    LL_CHECK_EQ_INT(s.killed, 2);
    LL_CHECK_EQ_INT(s.seen, EVENTS);
    LL_CHECK_EQ_INT(s.wrong, 0);
    LL_CHECK_EQ_INT(m.calls, 2);
    LL_CHECK_EQ_INT((long)ll_event_reader_reconnects(r), 2);
    LL_REQUIRE(conn != NULL);
    LL_CHECK(PQbackendPID(conn) != before);
    LL_CHECK_EQ_INT(range_prepared(t, conn), 1); /* the last session prepared it itself */
    /* Killed inside the last page: the callback goes on; the next read re-makes the session. */
    LL_CHECK_EQ_INT(read_stream(t, r, &conn, killer, EVENTS - 1, 0, &s), EVENTS);
    LL_CHECK(s.killed == 1 && s.seen == EVENTS && s.wrong == 0);
    LL_CHECK_EQ_INT(read_stream(t, r, &conn, NULL, 0, 0, &s), EVENTS);
    LL_CHECK(s.seen == EVENTS && s.wrong == 0 && m.calls == 3);
    ll_event_reader_free(r);

    /* The control: without the caller's reconnect the same kill fails the read after page 1.
     * (A session of its own: one reader per session.) */
    PQfinish(conn);
    conn = connect_or_fail(t);
    LL_REQUIRE(conn != NULL);
    r = ll_event_reader_on(&conn);
    LL_REQUIRE(r != NULL);
    LL_CHECK_EQ_INT(read_stream(t, r, &conn, killer, LL_EVENT_READER_PAGE, 0, &s), -1);
    LL_CHECK(s.killed == 1 && s.seen == LL_EVENT_READER_PAGE && ll_pg_broken(conn));
    ll_event_reader_free(r);
    PQfinish(conn);
    PQfinish(killer);
}

/* Reads the stream inside a transaction on *conn, which must still commit: a statement the
 * session lacked (26000) would have ended it. */
static void read_in_transaction(ll_test_ctx_t *t, ll_event_reader_t *r, PGconn **conn) {
    ll_error_t err = {""};
    stream_t s;
    LL_REQUIRE(ll_pg_exec(*conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &err) == 0);
    LL_CHECK_EQ_INT(read_stream(t, r, conn, NULL, 0, 0, &s), EVENTS);
    LL_CHECK(s.seen == EVENTS && s.wrong == 0);
    LL_CHECK_EQ_INT(range_prepared(t, *conn), 1);
    PGresult *res = PQexec(*conn, "COMMIT");
    LL_CHECK(PQresultStatus(res) == PGRES_COMMAND_OK);
    LL_CHECK_EQ_STR(PQcmdStatus(res), "COMMIT"); /* an aborted one answers ROLLBACK */
    PQclear(res);
}

LL_TEST(test_a_remade_session_is_prepared_again_before_it_executes) {
    PGconn *conn = connect_or_fail(t), *killer = connect_or_fail(t);
    LL_REQUIRE(conn != NULL && killer != NULL);
    ll_event_reader_t *r = ll_event_reader_on(&conn);
    LL_REQUIRE(r != NULL);
    read_in_transaction(t, r, &conn); /* prepared in the first session */
    /* The same PGconn, a new session, and nobody tells the reader. */
    const PGconn *address = conn;
    int before = PQbackendPID(conn);
    PQreset(conn);
    LL_REQUIRE(PQstatus(conn) == CONNECTION_OK);
    LL_CHECK(conn == address && PQbackendPID(conn) != before);
    LL_CHECK_EQ_INT(range_prepared(t, conn), 0);
    read_in_transaction(t, r, &conn);
    /* A new PGconn, as pg_ready makes one, announced. */
    PQfinish(conn);
    conn = connect_or_fail(t);
    LL_REQUIRE(conn != NULL);
    ll_event_reader_reset(r);
    read_in_transaction(t, r, &conn);
    ll_event_reader_free(r);

    /* Re-made by the reader's reconnect behind the same PGconn after its backend was killed (a
     * session of its own: one reader per session). */
    PQfinish(conn);
    conn = connect_or_fail(t);
    LL_REQUIRE(conn != NULL);
    remake_t m = {&conn, 0};
    r = ll_event_reader_on(&conn);
    LL_REQUIRE(r != NULL);
    ll_event_reader_on_reconnect(r, remake_in_place, &m);
    stream_t s;
    LL_CHECK_EQ_INT(read_stream(t, r, &conn, killer, EVENTS, 0, &s), EVENTS);
    LL_CHECK(s.killed == 1 && m.calls == 0);
    address = conn;
    LL_CHECK_EQ_INT(read_stream(t, r, &conn, NULL, 0, 0, &s), EVENTS); /* re-made, then read */
    LL_CHECK(m.calls == 1 && conn == address && s.seen == EVENTS && s.wrong == 0);
    read_in_transaction(t, r, &conn);
    ll_event_reader_free(r);
    PQfinish(conn);
    PQfinish(killer);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_a_stream_goes_on_when_its_backend_is_killed_between_pages),
        LL_CASE(test_a_remade_session_is_prepared_again_before_it_executes),
    };
    ll_test_ctx_t setup = {"setup", 0};
    if (make_store(&setup) != 0) {
        printf("reader_reconnect: 0 passed, 1 failed\n");
        return 1;
    }
    int rc = ll_test_main(argc, argv, "reader_reconnect", cases, LL_CASES(cases));
    ll_error_t err = {""};
    if (ll_test_db_drop(DB, &err) != 0) { /* a failure after the summary: the exit status says it */
        fprintf(stderr, "  FAIL drop %s: %s\n", DB, err.msg);
        return 1;
    }
    return rc;
}
