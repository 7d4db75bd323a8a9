/* Integration: the command service's statements, and every read of the event store's one reader
 * (eventstore/ll_event_reader.h: the projector's, the query API's, audit's and rebuild's), are
 * prepared once and every plan they keep is an index lookup, whatever the tables hold.
 *
 * The store runs commands against the local event store down every path that prepares a
 * statement (claim, replay, release after a 412, take-over after retention, lock, positions,
 * events with their outbox rows, states, responses, notify; a hold placed and captured, the
 * expiry sweep's lookup of due holds, two holds left open), with a reference full of what
 * array syntax gives meaning to, read back byte for byte; the projector's reader takes the
 * account's states from the store, and the query API's reads its holds. Then, in a session of its own with
 * temporary tables of the same names and indexes, empty (a fresh deployment) and then holding
 * 50,000 rows each, each statement's generic plan under the store's session settings (the plan
 * its connection keeps) must not scan a table.
 * In a database of its own (tests/lib/ll_test_db.h), made and dropped here: it deletes outbox rows
 * and puts them back, which on the stack's ledger would keep events from its topic.
 * Needs `make up`; runs from the repository root. */
#include "ll_clock.h"
#include "ll_config.h"
#include "ll_pg.h"
#include "ll_pg_prepared.h"
#include "ll_random.h"
#include "ll_store.h"
#include "ll_event_reader.h"
#include "ll_limits.h"
#include "ll_test.h"
#include "ll_test_db.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

#define ROWS 50000
#define DB   "ledgerline_store_plans"

static const char REFERENCE[] = "inv \"7\", {a,b} \\ NULL 'x'); --";

static const char *const EXPECTED[] = {
    "ll_claim_keys",    "ll_replay_keys",   "ll_take_over_keys",  "ll_lock_accounts", "ll_reserve_positions",
    "ll_insert_events", "ll_upsert_states", "ll_store_responses", "ll_release_keys",  "ll_notify_outbox",
    "ll_find_holds",    "ll_load_holds",    "ll_upsert_holds",    "ll_due_holds",     "ll_event_states"};
#define N_EXPECTED (sizeof EXPECTED / sizeof EXPECTED[0])
#define LL_ES_READS 24 /* room for every statement of the event reader (ll_event_reader_each_statement) */

typedef struct {
    char name[N_EXPECTED + LL_ES_READS][32];
    char *sql[N_EXPECTED + LL_ES_READS];
    int n;
} statements_t;

static void collect(const char *name, const char *sql, void *ctx) {
    statements_t *st = ctx;
    if (st->n == (int)(sizeof st->sql / sizeof st->sql[0])) return;
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->name[i], name) == 0) return; /* both stores prepared it */
    snprintf(st->name[st->n], sizeof st->name[0], "%s", name);
    st->sql[st->n++] = strdup(sql);
}

static void write_init(ll_write_t *w, ll_command_type_t type, const char *key) {
    memset(w, 0, sizeof *w);
    w->cmd.type = type;
    snprintf(w->idem_scope, sizeof w->idem_scope, "operator:test-store-plans");
    snprintf(w->idem_key, sizeof w->idem_key, "%s", key);
    snprintf(w->request_hash, sizeof w->request_hash, "%064d", (int)type);
    snprintf(w->actor, sizeof w->actor, "operator:test-store-plans");
    snprintf(w->correlation_id, sizeof w->correlation_id, "store-plans");
    w->expected_version = -1;
    ll_currency_parse("EUR", &w->cmd.currency);
}

static void fresh_key(char *out, size_t size, const char *what) {
    ll_uuid_t u;
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_random(&u);
    ll_uuid_format(&u, text);
    snprintf(out, size, "%s-%s", what, text);
}

static int run_sql(ll_test_ctx_t *t, PGconn *conn, const char *sql) {
    ll_error_t err = {""};
    if (ll_pg_exec(conn, sql, &err) == 0) return 0;
    LL_FAIL_AT("%s: %s", sql, err.msg);
    return -1;
}

static int count_each(void *ctx, const char *envelope, size_t len) {
    (void)envelope, (void)len;
    ++*(int64_t *)ctx;
    return 0;
}

static int count_moved(void *ctx, const char *account_id, int64_t version, ll_error_t *err) {
    (void)account_id, (void)err;
    *(int64_t *)ctx = version;
    return 0;
}

static int count_row(void *ctx, const char *account_id, const char *envelope, size_t len, ll_error_t *err) {
    (void)account_id, (void)envelope, (void)len, (void)err;
    ++*(int64_t *)ctx;
    return 0;
}

static int count_state(void *ctx, const ll_state_figures_t *s) {
    /* The state row after the deposit, a hold placed and captured: open, not frozen. */
    if (strcmp(s->status, "open") == 0 && !s->frozen && s->balance_minor == 12345 - 40) *(int64_t *)ctx = s->version;
    return 0;
}

/* The open holds a page passed, in order. */
typedef struct {
    ll_uuid_t ids[4];
    int64_t versions[4];
    int n;
} open_holds_t;

static int collect_hold(void *ctx, const ll_hold_t *h) {
    open_holds_t *o = ctx;
    if (o->n == 4) return 1;
    o->versions[o->n] = h->placed_version;
    o->ids[o->n++] = h->hold_id;
    return 0;
}

/* The query API's hold reads: the captured hold by its id, with its account's owner; the two
 * open ones a page at a time, oldest placed first; what the store does not have. */
static void read_holds(ll_test_ctx_t *t, ll_event_reader_t *r, const ll_uuid_t *account, const ll_uuid_t *holds) {
    ll_error_t err = {""};
    ll_hold_row_t row;
    LL_CHECK_EQ_INT(ll_event_reader_hold(r, &holds[0], &row, &err), 1);
    const ll_hold_t *h = &row.hold;
    LL_CHECK(ll_uuid_equal(&h->hold_id, &holds[0]) && ll_uuid_equal(&h->account_id, account));
    LL_CHECK(h->status == LL_HOLD_CAPTURED && h->amount_minor == 100 && h->captured_minor == 40);
    LL_CHECK(strcmp(h->currency.code, "EUR") == 0 && strcmp(h->reference, REFERENCE) == 0);
    LL_CHECK(strcmp(row.owner, "store-plans") == 0 && h->placed_version == 3);
    LL_CHECK(h->placed_at_us > 0 && h->expires_at_us == h->placed_at_us + 60000000 && h->settled_at_us >= h->placed_at_us);
    ll_uuid_t nobody;
    LL_REQUIRE(ll_uuid_random(&nobody) == 0);
    LL_CHECK_EQ_INT(ll_event_reader_hold(r, &nobody, &row, &err), 0);
    char owner[LL_OWNER_BYTES_MAX + 2];
    open_holds_t first = {.n = 0}, rest = {.n = 0}, none = {.n = 0};
    LL_CHECK_EQ_INT(ll_event_reader_open_holds(r, account, 0, 1, owner, collect_hold, &first, &err), 1);
    LL_CHECK(strcmp(owner, "store-plans") == 0 && first.n == 1 && ll_uuid_equal(&first.ids[0], &holds[1]));
    LL_CHECK_EQ_INT(ll_event_reader_open_holds(r, account, first.versions[0], 5, owner, collect_hold, &rest, &err), 1);
    LL_CHECK(rest.n == 1 && ll_uuid_equal(&rest.ids[0], &holds[2]) && rest.versions[0] > first.versions[0]);
    LL_CHECK_EQ_INT(ll_event_reader_open_holds(r, account, rest.versions[0], 5, owner, collect_hold, &none, &err), 0);
    LL_CHECK(none.n == 0 && strcmp(owner, "store-plans") == 0);
    LL_CHECK_EQ_INT(ll_event_reader_open_holds(r, &nobody, 0, 5, owner, collect_hold, &none, &err), LL_ENOENT);
    LL_CHECK(none.n == 0 && owner[0] == '\0');
}

static int count_with_head(void *ctx, const char *account_id, const char *envelope, size_t len, const char *head,
                           int64_t head_version) {
    (void)account_id, (void)envelope, (void)len;
    if (strlen(head) == 64 && head_version >= 4) ++*(int64_t *)ctx;
    return 0;
}

/* Every read of the event reader, on a connection the caller keeps, over the account's stream:
 * the ranges, the state row, the accounts moved since, and the whole store through its cursor
 * agree on how many events it has. */
static void read_back(ll_test_ctx_t *t, PGconn **conn, const ll_uuid_t *account, const ll_uuid_t *holds) {
    ll_error_t err = {""};
    ll_event_reader_t *r = ll_event_reader_on(conn);
    LL_REQUIRE(r != NULL);
    ll_state_row_t row;
    LL_CHECK_EQ_INT(ll_event_reader_state_row(r, account, &row, &err), 1);
    LL_CHECK(row.version >= 4 && strcmp(row.owner, "store-plans") == 0 && strlen(row.head_hash) == 64);
    int64_t version = row.version, n = 0, moved = 0, head = 0, counted = 0, streamed = 0;
    LL_CHECK_EQ_INT(ll_event_reader_each(r, account, LL_EVENT_RANGE_ALL, count_each, &n, &err), version);
    LL_CHECK(n == version);
    ll_event_t events[16];
    bool damaged;
    LL_CHECK_EQ_INT(ll_event_reader_after(r, account, 1, events, 16, &damaged, &err), version - 1);
    LL_CHECK(!damaged && events[0].version == 2);
    n = 0;
    LL_CHECK_EQ_INT(ll_event_reader_each(r, account, (ll_event_range_t){1, 2, -1}, count_each, &n, &err), 1);
    LL_CHECK_EQ_INT(ll_event_reader_each(r, account, (ll_event_range_t){0, INT64_MAX, 0}, count_each, &n, &err), 0);
    ll_uuid_t nobody;
    LL_REQUIRE(ll_uuid_random(&nobody) == 0);
    LL_CHECK_EQ_INT(ll_event_reader_state_row(r, &nobody, &row, &err), 0);
    LL_CHECK_EQ_INT(ll_event_reader_transfer(r, &nobody, count_each, &n, &err), 0);
    LL_CHECK_EQ_INT(ll_event_reader_moved_since(r, 0, account, count_moved, &moved, &err), 1);
    LL_CHECK_EQ_INT(ll_event_reader_head(r, &head, &err), 0);
    LL_CHECK_EQ_INT(ll_event_reader_count(r, head, account, &counted, &err), 0);
    LL_CHECK(ll_pg_exec(*conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &err) == 0);
    LL_CHECK_EQ_INT(ll_event_reader_stream(r, head, account, count_row, NULL, &streamed, &err), 0);
    LL_CHECK(ll_pg_exec(*conn, "COMMIT", &err) == 0);
    /* The audit's search: the account's events in store order; an actor no event has. */
    char id[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(account, id);
    ll_event_search_t q = {.account = id, .limit = 100};
    n = 0;
    LL_CHECK_EQ_INT(ll_event_reader_search(r, &q, count_each, &n, &err), version);
    char actor[LL_ACTOR_BYTES_MAX + 2];
    memset(actor, 'a', sizeof actor - 1);
    actor[sizeof actor - 1] = '\0';
    q.actor = actor;
    LL_CHECK_EQ_INT(ll_event_reader_search(r, &q, count_each, &n, &err), LL_EINVAL);
    int64_t accounts = 0, summed = 0, states = 0;
    LL_CHECK_EQ_INT(ll_event_reader_state_totals(r, account, &accounts, &summed, &err), 0);
    LL_CHECK(accounts == 1 && summed == version);
    LL_CHECK_EQ_INT(ll_event_reader_each_state(r, account, count_state, &states, &err), 0);
    LL_CHECK(states == version);
    int64_t with_heads = 0;
    LL_CHECK_EQ_INT(ll_event_reader_each_with_head(r, account, count_with_head, &with_heads, &err), 0);
    LL_CHECK(moved == version && counted == version && streamed == version && with_heads == version);
    read_holds(t, r, account, holds);
    ll_event_reader_free(r);
}

/* Drives the store down every path; leaves what it prepared in st. */
static void run_commands(ll_test_ctx_t *t, const char *conninfo, statements_t *st) {
    ll_error_t err = {""};
    ll_store_t *s = ll_store_open(conninfo, 10000, 86400, &err);
    if (s == NULL) {
        LL_FAIL_AT("store: %s (is the stack up? make up)", err.msg);
        return;
    }
    char k_open[96], k_dep[96], k_stale[96];
    fresh_key(k_open, sizeof k_open, "open");
    fresh_key(k_dep, sizeof k_dep, "deposit");
    fresh_key(k_stale, sizeof k_stale, "stale");
    ll_write_t open, dep, stale, again, *batch[3];
    write_init(&open, LL_CMD_OPEN, k_open);
    snprintf(open.cmd.owner, sizeof open.cmd.owner, "store-plans");
    batch[0] = &open;
    ll_store_execute(s, batch, 1);
    LL_CHECK_EQ_INT(open.status, 201);
    LL_CHECK(ll_uuid_parse(open.account_id, false, &open.cmd.account_id) == 0);

    /* One batch: a deposit, a 412 (its key released), the open again (replayed). */
    write_init(&dep, LL_CMD_DEPOSIT, k_dep);
    dep.cmd.account_id = open.cmd.account_id;
    dep.cmd.amount_minor = 12345;
    snprintf(dep.cmd.reference, sizeof dep.cmd.reference, "%s", REFERENCE);
    write_init(&stale, LL_CMD_DEPOSIT, k_stale);
    stale.cmd.account_id = open.cmd.account_id;
    stale.cmd.amount_minor = 1;
    stale.expected_version = 99;
    again = open;
    again.status = 0;
    batch[0] = &dep, batch[1] = &stale, batch[2] = &again;
    ll_store_execute(s, batch, 3);
    LL_CHECK_EQ_INT(dep.status, 201);
    LL_CHECK_EQ_INT(stale.status, 412);
    LL_CHECK_EQ_INT(again.status, 201);
    LL_CHECK(again.replayed);

    /* A hold placed, then captured (the hold found, locked, read and written), then the sweep's
     * lookup of due holds (none: it was captured). */
    char k_place[96], k_capture[96];
    fresh_key(k_place, sizeof k_place, "place");
    fresh_key(k_capture, sizeof k_capture, "capture");
    ll_write_t place, capture;
    write_init(&place, LL_CMD_PLACE_HOLD, k_place);
    place.cmd.account_id = open.cmd.account_id;
    place.cmd.amount_minor = 100;
    place.cmd.expires_in_s = 60;
    snprintf(place.cmd.reference, sizeof place.cmd.reference, "%s", REFERENCE);
    batch[0] = &place;
    ll_store_execute(s, batch, 1);
    LL_CHECK_EQ_INT(place.status, 201);
    write_init(&capture, LL_CMD_CAPTURE_HOLD, k_capture);
    capture.cmd.hold_id = place.cmd.hold_id;
    capture.cmd.amount_minor = 40;
    batch[0] = &capture;
    ll_store_execute(s, batch, 1);
    LL_CHECK_EQ_INT(capture.status, 201);
    ll_uuid_t due[4];
    ll_hold_cursor_t after = LL_HOLD_CURSOR_START;
    LL_CHECK_EQ_INT(ll_store_due_holds(s, ll_clock_wall_us() + 3600000000LL, &after, due, 4, &err), 0);
    /* Two holds left open, for the query API's page of them. */
    ll_uuid_t holds[3] = {place.cmd.hold_id};
    for (int i = 1; i < 3; i++) {
        char k[96];
        fresh_key(k, sizeof k, "open-hold");
        ll_write_t more;
        write_init(&more, LL_CMD_PLACE_HOLD, k);
        more.cmd.account_id = open.cmd.account_id;
        more.cmd.amount_minor = i;
        more.cmd.expires_in_s = 3600;
        batch[0] = &more;
        ll_store_execute(s, batch, 1);
        LL_CHECK_EQ_INT(more.status, 201);
        holds[i] = more.cmd.hold_id;
    }
    ll_store_each_statement(s, collect, st);
    ll_store_close(s);

    /* The projector's reader: the account's state after each of its two events, from the store,
     * once they are published (left the outbox: deleted here as a relay does; none runs on this
     * database); an event put back in the outbox is not found, nor an account the store does not
     * hold. */
    ll_event_reader_t *se = ll_event_reader_new(conninfo, 10000);
    LL_REQUIRE(se != NULL);
    ll_uuid_t ids[3] = {open.cmd.account_id, open.cmd.account_id};
    LL_REQUIRE(ll_uuid_random(&ids[2]) == 0);
    int64_t versions[3] = {1, 2, 1};
    ll_account_t states[3];
    bool found[3];
    PGconn *relay = PQconnectdb(conninfo);
    char account[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&open.cmd.account_id, account);
    const char *param[1] = {account};
    PGresult *r = ll_pg_query(relay, "DELETE FROM outbox WHERE account_id = $1::uuid", 1, param,
                              PGRES_COMMAND_OK, &err);
    LL_CHECK(r != NULL);
    PQclear(r);
    LL_CHECK_EQ_INT(ll_event_reader_states(se, ids, versions, 3, states, found, &err), 0);
    LL_CHECK(found[0] && found[1] && !found[2]);
    LL_CHECK(found[0] && states[0].version == 1 && states[0].balance_minor == 0 &&
             strcmp(states[0].owner, "store-plans") == 0);
    LL_CHECK(found[1] && states[1].version == 2 && states[1].balance_minor == 12345 &&
             states[1].status == LL_ACCOUNT_OPEN && strcmp(states[1].owner, "store-plans") == 0);
    /* Version 2 back in the outbox: not published, so not found. */
    r = ll_pg_query(relay,
                    "INSERT INTO outbox (global_position, account_id) SELECT global_position, account_id"
                    " FROM events WHERE account_id = $1::uuid AND version = 2",
                    1, param, PGRES_COMMAND_OK, &err);
    LL_CHECK(r != NULL);
    PQclear(r);
    LL_CHECK_EQ_INT(ll_event_reader_states(se, ids, versions, 3, states, found, &err), 0);
    LL_CHECK(found[0] && !found[1] && !found[2]);
    read_back(t, &relay, &open.cmd.account_id, holds);
    PQfinish(relay);
    ll_event_reader_each_statement(collect, st);
    ll_event_reader_free(se);

    /* Retention 0: the deposit's key is past it, so the same request is taken over: a new
     * deposit (the take-over statement). */
    s = ll_store_open(conninfo, 10000, 0, &err);
    LL_REQUIRE(s != NULL);
    ll_write_t retry = dep;
    retry.status = 0;
    retry.replayed = 0;
    batch[0] = &retry;
    ll_store_execute(s, batch, 1);
    LL_CHECK_EQ_INT(retry.status, 201);
    LL_CHECK(!retry.replayed);
    ll_store_each_statement(s, collect, st);
    ll_store_close(s);
}

/* The reads that read all of account_state by design, once per run of a CLI (one account's row
 * by its key when one is given): rebuild's catch-up looks at every state row (no index on
 * updated_at_us), audit's progress line totals them, audit reconcile compares every one. */
static int reads_every_row(const char *name) {
    static const char *const whole[] = {"ll_event_moved_since", "ll_event_totals", "ll_event_states_all",
                                        "ll_event_states_0003"};
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++)
        if (strcmp(name, whole[i]) == 0) return 1;
    return 0;
}

/* The reads that must take one index of the schema, not merely none that scans: the query API's
 * holds (the partial index reads a page's rows, not the account's other holds). */
static const struct {
    const char *statement, *index;
} MUST_USE[] = {
    {"ll_event_hold", "holds_pkey"},
    {"ll_event_open_holds", "holds_account_open"},
};

/* Into out: "using NAME " as the plan names the temporary copy of the schema's index `index`
 * (LIKE ... INCLUDING ALL names its copies after their columns); "" when statement must take
 * none. */
static void must_use(ll_test_ctx_t *t, PGconn *conn, const char *statement, char *out, size_t size) {
    out[0] = '\0';
    for (size_t i = 0; i < sizeof MUST_USE / sizeof MUST_USE[0]; i++) {
        if (strcmp(statement, MUST_USE[i].statement) != 0) continue;
        const char *params[1] = {MUST_USE[i].index};
        PGresult *res = PQexecParams(conn,
                                     "SELECT c.indexname FROM pg_indexes p JOIN pg_indexes c"
                                     " ON c.tablename = p.tablename AND c.schemaname LIKE 'pg_temp%'"
                                     " AND split_part(c.indexdef, ' USING ', 2) = split_part(p.indexdef, ' USING ', 2)"
                                     " WHERE p.schemaname = 'public' AND p.indexname = $1",
                                     1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            snprintf(out, size, "using %s ", PQgetvalue(res, 0, 0));
        else
            LL_FAIL_AT("%s: no temporary copy of the index %s", statement, MUST_USE[i].index);
        PQclear(res);
    }
}

/* Prepares every statement of st in conn and fails when its generic plan scans a table, or does
 * not take the index it must (MUST_USE). */
static void check_plans(ll_test_ctx_t *t, PGconn *conn, const statements_t *st, const char *tables) {
    for (int i = 0; i < st->n; i++) {
        PGresult *res = PQprepare(conn, st->name[i], st->sql[i], 0, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            LL_FAIL_AT("%s: %s", st->name[i], PQresultErrorMessage(res));
        PQclear(res);
        res = PQdescribePrepared(conn, st->name[i]);
        int nparams = PQresultStatus(res) == PGRES_COMMAND_OK ? PQnparams(res) : 0;
        PQclear(res);
        char explain[512];
        int len = snprintf(explain, sizeof explain, "EXPLAIN EXECUTE %s", st->name[i]);
        for (int p = 0; p < nparams; p++) /* values do not matter: the plan is the generic one */
            len += snprintf(explain + len, sizeof explain - (size_t)len, "%sNULL", p ? "," : "(");
        if (nparams > 0) snprintf(explain + len, sizeof explain - (size_t)len, ")");
        res = PQexec(conn, explain);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) LL_FAIL_AT("%s: %s", explain, PQresultErrorMessage(res));
        char plan[4096] = "";
        for (int r = 0; PQresultStatus(res) == PGRES_TUPLES_OK && r < PQntuples(res); r++) {
            strncat(plan, PQgetvalue(res, r, 0), sizeof plan - strlen(plan) - 2);
            strcat(plan, "\n");
        }
        PQclear(res);
        if (strstr(plan, "Seq Scan") != NULL && !reads_every_row(st->name[i]))
            LL_FAIL_AT("%s scans a table (%s):\n%s\n%s", st->name[i], tables, st->sql[i], plan);
        char index[96];
        must_use(t, conn, st->name[i], index, sizeof index);
        if (index[0] != '\0' && strstr(plan, index) == NULL)
            LL_FAIL_AT("%s does not take the index it must (%s, %s):\n%s", st->name[i], index, tables, plan);
    }
}

LL_TEST(test_store_statements_are_prepared_and_never_scan) {
    ll_config_t cfg;
    ll_error_t err = {""};
    LL_REQUIRE(ll_config_load(&cfg, NULL, environ, &err) == 0);
    char conninfo[2048];
    if (ll_test_db_create(DB, &cfg, conninfo, sizeof conninfo, &err) != 0) {
        LL_FAIL_AT("database %s: %s (is the stack up? make up)", DB, err.msg);
        return;
    }
    statements_t st = {.n = 0};
    run_commands(t, conninfo, &st);
    for (size_t e = 0; e < N_EXPECTED; e++) {
        int found = 0;
        for (int i = 0; i < st.n; i++) found |= strcmp(st.name[i], EXPECTED[e]) == 0;
        if (!found) LL_FAIL_AT("the store never prepared %s", EXPECTED[e]);
    }
    PGconn *conn = PQconnectdb(conninfo);
    LL_REQUIRE(PQstatus(conn) == CONNECTION_OK);

    /* The deposit's reference went through an array and came back as it was sent. */
    PGresult *res = PQexec(conn, "SELECT envelope FROM events WHERE command_id LIKE 'deposit-%'"
                                 " ORDER BY global_position DESC LIMIT 1");
    LL_CHECK(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        LL_CHECK_CONTAINS(PQgetvalue(res, 0, 0), "inv \\\"7\\\", {a,b} \\\\ NULL 'x'); --");
    PQclear(res);

    /* The same names, temporary (they come first on the search path): empty and never
     * analyzed (a fresh deployment), then 50,000 rows each, analyzed. The store's session
     * settings, then each statement's generic plan. */
    static const char *const create[] = {
        "CREATE TEMP TABLE events (LIKE public.events INCLUDING ALL)",
        "CREATE TEMP TABLE account_state (LIKE public.account_state INCLUDING ALL)",
        "CREATE TEMP TABLE outbox (LIKE public.outbox INCLUDING ALL)",
        "CREATE TEMP TABLE idempotency_keys (LIKE public.idempotency_keys INCLUDING ALL)",
        "CREATE TEMP TABLE holds (LIKE public.holds INCLUDING ALL)",
        LL_PG_PREPARED_SESSION_SQL,
    };
    for (size_t i = 0; i < sizeof create / sizeof create[0]; i++)
        LL_REQUIRE(run_sql(t, conn, create[i]) == 0);
    check_plans(t, conn, &st, "empty");
    static const char *const fill[] = {
        "INSERT INTO events SELECT i, md5(i::text)::uuid, 1, md5('e' || i)::uuid, 'MoneyDeposited', 2, now(),"
        " 'k' || i, NULL, md5(i::text) || md5(i::text), '{}' FROM generate_series(1, 50000) i",
        "INSERT INTO account_state SELECT md5(i::text)::uuid, 1, 'open', 'o', 'EUR', 0, 0, 0, 0, 'h'"
        " FROM generate_series(1, 50000) i",
        /* Most holds settled, some open: the sweep's lookup reads the open ones only. */
        "INSERT INTO holds SELECT md5('h' || i)::uuid, md5(i::text)::uuid, CASE WHEN i % 10 = 0 THEN 'open'"
        " ELSE 'captured' END, 'EUR', 10, 0, '', now(), now() + i * interval '1 second',"
        " CASE WHEN i % 10 = 0 THEN NULL ELSE now() END, 1 FROM generate_series(1, 50000) i",
        "INSERT INTO outbox SELECT i, md5(i::text)::uuid FROM generate_series(1, 50000) i",
        "INSERT INTO idempotency_keys SELECT 's', 'k' || i, 'h', 201, '{}' FROM generate_series(1, 50000) i",
        "ANALYZE pg_temp.events, pg_temp.account_state, pg_temp.outbox, pg_temp.idempotency_keys, "
        "pg_temp.holds",
        "DEALLOCATE ALL",
    };
    for (size_t i = 0; i < sizeof fill / sizeof fill[0]; i++) LL_REQUIRE(run_sql(t, conn, fill[i]) == 0);
    check_plans(t, conn, &st, "50,000 rows");
    /* The control: a lookup no index serves shows up as a scan, so the check above can fail.
     * (Without enable_seqscan = off, the responses' UPDATE planned against the empty table was
     * a hash join over a scan of idempotency_keys.) */
    LL_REQUIRE(run_sql(t, conn, "RESET enable_seqscan") == 0);
    res = PQexec(conn, "EXPLAIN SELECT 1 FROM idempotency_keys WHERE response = 'x'");
    LL_CHECK(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 &&
             strstr(PQgetvalue(res, 0, 0), "Seq Scan") != NULL);
    PQclear(res);
    for (int i = 0; i < st.n; i++) free(st.sql[i]);
    PQfinish(conn);
    if (ll_test_db_drop(DB, &err) != 0) LL_FAIL_AT("drop %s: %s", DB, err.msg);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_store_statements_are_prepared_and_never_scan),
    };
    return ll_test_main(argc, argv, "store_plans", cases, LL_CASES(cases));
}
