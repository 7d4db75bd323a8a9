/* Unit tests of the route tables (lib/ll_route.c, the command and query services' tables and
 * ll_http's operational one): a path matches its route with its ids, metrics labels stay
 * templates, a path without its method gets the Allow of a 405, and every route is in
 * api/openapi.yaml with its method while every path and method there is in a table. */
#include "ll_command.h"
#include "ll_command_api.h"
#include "ll_http.h"
#include "ll_openapi.h"
#include "ll_query_api.h"
#include "ll_route.h"
#include "ll_test.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define UUID "0f8fad5b-d9cb-469f-a165-70867728950e"

static const ll_route_t *const TABLES[] = {ll_command_routes, ll_query_routes, LL_HTTP_ROUTES};
#define N_TABLES (sizeof TABLES / sizeof TABLES[0])

static int match(const ll_route_t *table, const char *method, const char *path, ll_route_match_t *m) {
    memset(m, 0, sizeof *m);
    return ll_route_match(table, h2o_iovec_init(method, strlen(method)), h2o_iovec_init(path, strlen(path)), m);
}

static const char *label(const ll_route_t *table, const char *path) {
    ll_route_match_t m;
    match(table, "GET", path, &m);
    return ll_route_label(&m);
}

LL_TEST(test_ids_become_templates) {
    LL_CHECK_EQ_STR(label(ll_query_routes, "/v1/accounts/" UUID), "/v1/accounts/{id}");
    LL_CHECK_EQ_STR(label(ll_query_routes, "/v1/accounts/" UUID "/transactions"), "/v1/accounts/{id}/transactions");
    LL_CHECK_EQ_STR(label(ll_query_routes, "/v1/accounts/" UUID "/audit/verify"), "/v1/accounts/{id}/audit/verify");
    LL_CHECK_EQ_STR(label(ll_query_routes, "/v1/holds/" UUID), "/v1/holds/{id}");
    LL_CHECK_EQ_STR(label(ll_query_routes, "/v1/holds/anything"), "/v1/holds/{id}");
    LL_CHECK_EQ_STR(label(ll_query_routes, "/v1/accounts//balance"), "/v1/accounts/{id}/balance");
    LL_CHECK_EQ_STR(label(ll_command_routes, "/v1/holds/" UUID "/capture"), "/v1/holds/{id}/capture");
    LL_CHECK_EQ_STR(label(ll_command_routes, "/v1/accounts"), "/v1/accounts");
    LL_CHECK_EQ_STR(label(LL_HTTP_ROUTES, "/healthz"), "/healthz");
}

LL_TEST(test_everything_else_is_other) {
    const char *other[] = {"/v1/holds/", "/v1/holds", "/v1/holdsx/y", "/v1/accounts/", "/v1/accounts/x/holds/y",
                           "/v1/holds/x/release", "/v1/accounts/" UUID "/deposits", "/v1/accounts/" UUID "/",
                           "/v1/holds/" UUID "/capture/" UUID, "", "/", "/healthz/"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        LL_CHECK_EQ_STR(label(ll_query_routes, other[i]), "other");
        ll_route_match_t m;
        LL_CHECK(!match(ll_query_routes, "GET", other[i], &m) && m.route == NULL);
    }
    LL_CHECK_EQ_STR(label(ll_command_routes, "/v1/accounts/" UUID), "other");
    LL_CHECK_EQ_STR(label(ll_command_routes, "/v1/holds/" UUID), "other");
}

LL_TEST(test_ids_of_the_path) {
    ll_route_match_t m;
    ll_uuid_t id, want;
    LL_REQUIRE(ll_uuid_parse(UUID, false, &want) == 0);
    LL_REQUIRE(match(ll_command_routes, "POST", "/v1/accounts/" UUID "/deposits", &m));
    LL_CHECK(m.method_ok && m.route->op == LL_CMD_DEPOSIT && m.table == ll_command_routes);
    LL_CHECK_EQ_INT(ll_route_uuid(&m, "account_id", &id), 1);
    LL_CHECK(memcmp(&id, &want, sizeof id) == 0);
    LL_CHECK_EQ_INT(ll_route_uuid(&m, "hold_id", &id), 0);
    LL_REQUIRE(match(ll_command_routes, "POST", "/v1/holds/0F8FAD5B-D9CB-469F-A165-70867728950E/release", &m));
    LL_CHECK_EQ_INT(ll_route_uuid(&m, "hold_id", &id), 1); /* upper case is taken, as before */
    LL_CHECK(memcmp(&id, &want, sizeof id) == 0);
    const char *bad[] = {"/v1/accounts/x/close", "/v1/accounts//close", "/v1/accounts/" UUID "0/close",
                         "/v1/accounts/0f8fad5b+d9cb-469f-a165-70867728950e/close"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        LL_REQUIRE(match(ll_command_routes, "POST", bad[i], &m));
        LL_CHECK_EQ_INT(ll_route_uuid(&m, "account_id", &id), -1);
    }
}

LL_TEST(test_method_not_taken_names_allow) {
    ll_route_match_t m;
    char allow[64];
    LL_REQUIRE(match(ll_command_routes, "GET", "/v1/accounts/" UUID "/credit-limit", &m));
    LL_CHECK(!m.method_ok);
    ll_route_allow(&m, h2o_iovec_init(H2O_STRLIT("/v1/accounts/" UUID "/credit-limit")), allow, sizeof allow);
    LL_CHECK_EQ_STR(allow, "PUT");
    LL_REQUIRE(match(ll_query_routes, "POST", "/v1/accounts/" UUID "/holds", &m));
    LL_CHECK(!m.method_ok);
    ll_route_allow(&m, h2o_iovec_init(H2O_STRLIT("/v1/accounts/" UUID "/holds")), allow, sizeof allow);
    LL_CHECK_EQ_STR(allow, "GET, HEAD");
    LL_REQUIRE(match(ll_query_routes, "HEAD", "/v1/accounts/" UUID "/holds", &m));
    LL_CHECK(m.method_ok);
    LL_REQUIRE(match(LL_HTTP_ROUTES, "DELETE", "/metrics", &m));
    LL_CHECK(!m.method_ok && m.route->op == LL_HTTP_METRICS);
}

/* A label is its pattern with every {name} written {id}. */
LL_TEST(test_labels_are_the_patterns) {
    for (size_t k = 0; k < N_TABLES; k++)
        for (const ll_route_t *r = TABLES[k]; r->method != NULL; r++) {
            char want[128];
            size_t o = 0;
            for (const char *p = r->pattern; *p && o < sizeof want - 5; p++) {
                if (*p != '{') {
                    want[o++] = *p;
                    continue;
                }
                memcpy(want + o, "{id}", 4), o += 4;
                while (*p && *p != '}') p++;
            }
            want[o] = '\0';
            LL_CHECK_EQ_STR(r->label, want);
        }
}

/* ---- api/openapi.yaml ------------------------------------------------------------------------ */

#define SPEC_OPS_MAX 64

typedef struct {
    char method[8]; /* upper case */
    char path[128];
} spec_op_t;

/* The operations under paths: of the embedded spec: a path at two spaces, its methods at four. */
static size_t spec_ops(spec_op_t *ops) {
    static const char *const methods[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
    size_t n = 0;
    int in_paths = 0;
    char path[128] = "";
    for (const char *line = ll_openapi_yaml; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "") {
        size_t len = strcspn(line, "\n");
        if (len > 0 && line[0] != ' ' && line[0] != '#') in_paths = strncmp(line, "paths:", 6) == 0;
        if (!in_paths) continue;
        if (len > 3 && strncmp(line, "  /", 3) == 0 && line[len - 1] == ':' && len - 3 < sizeof path) {
            snprintf(path, sizeof path, "%.*s", (int)(len - 3), line + 2);
            continue;
        }
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
            size_t ml = strlen(methods[i]);
            if (len < 4 + ml + 1 || strncmp(line, "    ", 4) != 0 || strncmp(line + 4, methods[i], ml) != 0 ||
                line[4 + ml] != ':' || n == SPEC_OPS_MAX)
                continue;
            for (size_t k = 0; k <= ml; k++) ops[n].method[k] = (char)toupper((unsigned char)methods[i][k]);
            snprintf(ops[n].path, sizeof ops[n].path, "%s", path);
            n++;
        }
    }
    return n;
}

LL_TEST(test_every_route_is_in_the_spec) {
    spec_op_t ops[SPEC_OPS_MAX];
    size_t n = spec_ops(ops);
    LL_REQUIRE(n > 20); /* the parse found the paths */
    for (size_t k = 0; k < N_TABLES; k++)
        for (const ll_route_t *r = TABLES[k]; r->method != NULL; r++) {
            int found = 0;
            for (size_t i = 0; i < n; i++) found |= !strcmp(ops[i].method, r->method) && !strcmp(ops[i].path, r->pattern);
            if (!found) LL_FAIL_AT("%s %s is served but not in api/openapi.yaml", r->method, r->pattern);
        }
}

LL_TEST(test_every_spec_path_is_served) {
    spec_op_t ops[SPEC_OPS_MAX];
    size_t n = spec_ops(ops);
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        for (size_t k = 0; k < N_TABLES; k++)
            for (const ll_route_t *r = TABLES[k]; r->method != NULL; r++)
                found |= !strcmp(ops[i].method, r->method) && !strcmp(ops[i].path, r->pattern);
        if (!found) LL_FAIL_AT("%s %s is in api/openapi.yaml but in no route table", ops[i].method, ops[i].path);
    }
}

/* ll_metrics tells series apart by the label's pointer: two rows a service serves (its table and
 * LL_HTTP_ROUTES) that name one label must share the string, or it would count two series. */
static void check_labels_shared(ll_test_ctx_t *t, const ll_route_t *a, const ll_route_t *b) {
    for (const ll_route_t *x = a; x->method != NULL; x++)
        for (const ll_route_t *y = b; y->method != NULL; y++)
            if (x->label != y->label && !strcmp(x->label, y->label))
                LL_FAIL_AT("label %s is written twice (%s %s, %s %s)", x->label, x->method, x->pattern, y->method,
                           y->pattern);
}

LL_TEST(test_one_label_one_series) {
    const ll_route_t *services[] = {ll_command_routes, ll_query_routes};
    for (size_t k = 0; k < 2; k++) {
        check_labels_shared(t, services[k], services[k]);
        check_labels_shared(t, services[k], LL_HTTP_ROUTES);
    }
    check_labels_shared(t, LL_HTTP_ROUTES, LL_HTTP_ROUTES);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_ids_become_templates),        LL_CASE(test_everything_else_is_other),
        LL_CASE(test_ids_of_the_path),             LL_CASE(test_method_not_taken_names_allow),
        LL_CASE(test_labels_are_the_patterns),     LL_CASE(test_every_route_is_in_the_spec),
        LL_CASE(test_every_spec_path_is_served),   LL_CASE(test_one_label_one_series)};
    return ll_test_main(argc, argv, "routes", cases, LL_CASES(cases));
}
