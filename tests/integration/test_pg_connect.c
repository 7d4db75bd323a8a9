/* Integration: libpq reaches the local PostgreSQL with the configured conninfo and runs a
 * parameterised query (the only kind ledgerline sends). Needs `make up`. */
#include "ll_config.h"
#include "ll_pg.h"
#include "ll_pg_prepared.h"
#include "ll_pgq.h"
#include "ll_test.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static PGconn *connect_or_fail(ll_test_ctx_t *t) {
    ll_config_t cfg;
    ll_error_t err = {""};
    if (ll_config_load(&cfg, NULL, environ, &err) != 0) {
        LL_FAIL_AT("config: %s", err.msg);
        return NULL;
    }
    PGconn *conn = PQconnectdb(cfg.pg_conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        LL_FAIL_AT("PQconnectdb: %s (is the stack up? make up)", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

LL_TEST(test_pg_connects_and_reports_version) {
    PGconn *conn = connect_or_fail(t);
    LL_REQUIRE(conn != NULL);
    LL_CHECK(PQserverVersion(conn) >= 150000);
    PGresult *res = PQexec(conn, "SELECT current_database(), current_user");
    LL_CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        LL_CHECK_EQ_STR(PQgetvalue(res, 0, 0), "ledgerline");
        LL_CHECK_EQ_STR(PQgetvalue(res, 0, 1), "ledgerline");
    }
    PQclear(res);
    PQfinish(conn);
}

LL_TEST(test_pg_parameterised_query_round_trips_int64_and_text) {
    PGconn *conn = connect_or_fail(t);
    LL_REQUIRE(conn != NULL);
    /* A hostile string goes through the project's own statement builders (ll_pgq, as the
     * store builds its batches, and ll_pg_query) as data, never as SQL: it comes back byte for
     * byte and the statement it tries to end and follow never runs. */
    static const char hostile[] = "x'); SELECT pg_sleep(0); DROP TABLE events; -- \\ $1 \"";
    ll_pgq_t q;
    ll_pgq_init(&q);
    ll_pgq_sql(&q, "SELECT ");
    ll_pgq_paramf(&q, "bigint", "%lld", 9223372036854775807LL);
    ll_pgq_sql(&q, " - 1, length(");
    ll_pgq_param(&q, hostile, "text");
    ll_pgq_sql(&q, "), ");
    ll_pgq_param(&q, hostile, "text");
    ll_error_t err = {""};
    PGresult *res = ll_pgq_exec(conn, &q, PGRES_TUPLES_OK, &err);
    LL_CHECK(res != NULL);
    if (res != NULL) {
        LL_CHECK_EQ_STR(PQgetvalue(res, 0, 0), "9223372036854775806");
        LL_CHECK_EQ_INT(strtol(PQgetvalue(res, 0, 1), NULL, 10), (long)strlen(hostile));
        LL_CHECK_EQ_STR(PQgetvalue(res, 0, 2), hostile);
    }
    PQclear(res);
    ll_pgq_free(&q);
    const char *params[1] = {hostile};
    res = ll_pg_query(conn, "SELECT $1::text", 1, params, PGRES_TUPLES_OK, &err);
    LL_CHECK(res != NULL && strcmp(PQgetvalue(res, 0, 0), hostile) == 0);
    PQclear(res);
    res = ll_pg_query(conn, "SELECT count(*) >= 0 FROM events", 0, NULL, PGRES_TUPLES_OK, &err);
    LL_CHECK(res != NULL); /* the table is still there */
    PQclear(res);
    PQfinish(conn);
}

LL_TEST(test_pg_wrong_password_is_refused) {
    PGconn *conn = PQconnectdb("host=127.0.0.1 port=55432 dbname=ledgerline user=ledgerline "
                               "password=wrong connect_timeout=5");
    LL_CHECK(PQstatus(conn) == CONNECTION_BAD);
    LL_CHECK_CONTAINS(PQerrorMessage(conn), "password authentication failed");
    PQfinish(conn);
}

LL_TEST(test_pg_array_parameters_round_trip_every_item_as_data) {
    PGconn *conn = connect_or_fail(t);
    LL_REQUIRE(conn != NULL);
    /* What array syntax gives meaning to (quotes, backslashes, commas, braces, NULL, blanks)
     * must come back as the text it was, and a NULL item as NULL. */
    static const char *const items[] = {
        "x'); DROP TABLE events; --", "NULL", "",    "a,b", "{x}", "back\\slash", "quote\"d", "  padded  ",
        "\xc3\xa9\xe2\x82\xac",       NULL,   "\\\""};
    const size_t n = sizeof items / sizeof items[0];
    ll_pgq_t q;
    ll_pgq_init(&q);
    ll_pgq_sql(&q, "SELECT x, x IS NULL FROM unnest(");
    ll_pgq_array_begin(&q);
    for (size_t i = 0; i < n; i++) ll_pgq_array_item(&q, items[i]);
    ll_pgq_array_end(&q, "text[]");
    ll_pgq_sql(&q, ") WITH ORDINALITY AS u (x, i) ORDER BY i");
    ll_error_t err = {""};
    ll_pg_prepared_t ps;
    ll_pg_prepared_init(&ps);
    PGresult *res = ll_pgq_exec_prepared(conn, &ps, "ll_test_items", &q, PGRES_TUPLES_OK, &err);
    LL_CHECK(res != NULL);
    if (res != NULL) {
        LL_CHECK_EQ_INT(PQntuples(res), (long)n);
        for (int r = 0; r < PQntuples(res) && (size_t)r < n; r++) {
            if (items[r] == NULL) {
                LL_CHECK_EQ_STR(PQgetvalue(res, r, 1), "t");
            } else {
                LL_CHECK_EQ_STR(PQgetvalue(res, r, 1), "f");
                LL_CHECK_EQ_STR(PQgetvalue(res, r, 0), items[r]);
            }
        }
    }
    PQclear(res);
    /* An empty array is no rows; an array left open is refused before anything is sent. */
    ll_pgq_reset(&q);
    ll_pgq_sql(&q, "SELECT x, x IS NULL FROM unnest(");
    ll_pgq_array_begin(&q);
    ll_pgq_array_end(&q, "text[]");
    ll_pgq_sql(&q, ") WITH ORDINALITY AS u (x, i) ORDER BY i");
    res = ll_pgq_exec_prepared(conn, &ps, "ll_test_items", &q, PGRES_TUPLES_OK, &err);
    LL_CHECK(res != NULL && PQntuples(res) == 0);
    PQclear(res);
    LL_CHECK_EQ_INT((long)ps.prepares, 1);
    ll_pgq_reset(&q);
    ll_pgq_sql(&q, "SELECT ");
    ll_pgq_array_begin(&q);
    ll_pgq_array_item(&q, "1");
    LL_CHECK(ll_pgq_exec(conn, &q, PGRES_TUPLES_OK, &err) == NULL);
    ll_pgq_free(&q);
    ll_pg_prepared_clear(&ps);
    PQfinish(conn);
}

LL_TEST(test_pg_prepared_statements_survive_a_session_that_lost_them) {
    PGconn *conn = connect_or_fail(t);
    LL_REQUIRE(conn != NULL);
    ll_pg_prepared_t ps;
    ll_pg_prepared_init(&ps);
    ll_error_t err = {""};
    const char *params[1] = {"41"};
    char state[6];
    for (int i = 0; i < 3; i++) {
        PGresult *res = ll_pg_prepared_query(&ps, conn, "ll_test_next", "SELECT $1::int + 1", 1, params,
                                             PGRES_TUPLES_OK, state, &err);
        LL_CHECK(res != NULL && strcmp(PQgetvalue(res, 0, 0), "42") == 0);
        PQclear(res);
    }
    LL_CHECK_EQ_INT((long)ps.prepares, 1); /* prepared once, executed three times */
    /* A pooler's DISCARD ALL: the statement is gone from the session; it is prepared again. */
    LL_CHECK(ll_pg_exec(conn, "DEALLOCATE ALL", &err) == 0);
    PGresult *res = ll_pg_prepared_query(&ps, conn, "ll_test_next", "SELECT $1::int + 1", 1, params,
                                         PGRES_TUPLES_OK, state, &err);
    LL_CHECK(res != NULL && strcmp(PQgetvalue(res, 0, 0), "42") == 0);
    PQclear(res);
    LL_CHECK_EQ_INT((long)ps.prepares, 2);
    /* The same name with another text is a programming error, refused without running. */
    res = ll_pg_prepared_query(&ps, conn, "ll_test_next", "SELECT $1::int + 2", 1, params, PGRES_TUPLES_OK,
                               state, &err);
    LL_CHECK(res == NULL);
    LL_CHECK_CONTAINS(err.msg, "another text");
    /* A server error keeps its SQLSTATE. */
    const char *zero[1] = {"0"};
    res = ll_pg_prepared_query(&ps, conn, "ll_test_div", "SELECT 1 / $1::int", 1, zero, PGRES_TUPLES_OK,
                               state, &err);
    LL_CHECK(res == NULL);
    LL_CHECK_EQ_STR(state, "22012");
    /* Another session: everything is prepared again there. */
    PGconn *other = connect_or_fail(t);
    LL_REQUIRE(other != NULL);
    res = ll_pg_prepared_query(&ps, other, "ll_test_next", "SELECT $1::int + 1", 1, params, PGRES_TUPLES_OK,
                               state, &err);
    LL_CHECK(res != NULL && strcmp(PQgetvalue(res, 0, 0), "42") == 0);
    PQclear(res);
    LL_CHECK_EQ_INT((long)ps.prepares, 4);
    ll_pg_prepared_clear(&ps);
    PQfinish(other);
    PQfinish(conn);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_pg_connects_and_reports_version),
        LL_CASE(test_pg_parameterised_query_round_trips_int64_and_text),
        LL_CASE(test_pg_wrong_password_is_refused),
        LL_CASE(test_pg_array_parameters_round_trip_every_item_as_data),
        LL_CASE(test_pg_prepared_statements_survive_a_session_that_lost_them),
    };
    return ll_test_main(argc, argv, "pg_connect", cases, LL_CASES(cases));
}
