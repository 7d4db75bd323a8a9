/* Integration: libpq reaches the local PostgreSQL with the configured conninfo and runs a
 * parameterised query (the only kind ledgerline sends). Needs `make up`. */
#include "ll_config.h"
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
    /* A hostile-looking string goes through as data, never as SQL. */
    const char *params[2] = {"9223372036854775807", "'); DROP TABLE x; --"};
    PGresult *res = PQexecParams(conn, "SELECT $1::bigint - 1, length($2::text), $2::text", 2, NULL, params,
                                 NULL, NULL, 0);
    LL_CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        LL_CHECK_EQ_STR(PQgetvalue(res, 0, 0), "9223372036854775806");
        LL_CHECK_EQ_STR(PQgetvalue(res, 0, 1), "20");
        LL_CHECK_EQ_STR(PQgetvalue(res, 0, 2), params[1]);
    }
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

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_pg_connects_and_reports_version),
        LL_CASE(test_pg_parameterised_query_round_trips_int64_and_text),
        LL_CASE(test_pg_wrong_password_is_refused),
    };
    return ll_test_main(argc, argv, "pg_connect", cases, LL_CASES(cases));
}
