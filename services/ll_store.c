/* ll_store.c - see ll_store.h. */
#include "ll_store.h"

#include "ll_clock.h"
#include "ll_event_codec.h"
#include "ll_hash_chain.h"
#include "ll_log.h"
#include "ll_migrate.h"
#include "ll_pg.h"
#include "ll_pg_prepared.h"
#include "ll_pgq.h"
#include "ll_random.h"
#include "ll_store_rows.h"
#include "ll_time.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A command touches at most 2 accounts per payment leg (a transfer 2, a hold 1 or 2), writes at
 * most LL_DECISION_EVENTS_MAX events and names at most one hold. */
#define COMMAND_ACCOUNTS_MAX (2 * LL_PAYMENT_LEGS_MAX)
#define ACCOUNTS_MAX         (COMMAND_ACCOUNTS_MAX * LL_STORE_BATCH_MAX)
#define EVENTS_MAX           (LL_DECISION_EVENTS_MAX * LL_STORE_BATCH_MAX)
#define HOLDS_MAX            LL_STORE_BATCH_MAX

/* The working set of one transaction attempt. Invariant: accounts[] holds each touched account
 * once, with the state as of the commands decided so far in this batch; holds[] each hold the
 * batch's hold commands name (as stored once their accounts were locked) or placed. */
typedef struct {
    ll_account_t accounts[ACCOUNTS_MAX];
    int dirty[ACCOUNTS_MAX];
    int corrupt[ACCOUNTS_MAX]; /* its row breaks an invariant: no command on it is decided */
    size_t n_accounts;
    ll_hold_t holds[HOLDS_MAX];
    int hold_dirty[HOLDS_MAX];   /* changed in this batch: written by upsert_holds */
    int hold_corrupt[HOLDS_MAX]; /* its row breaks an invariant: not decided on */
    size_t n_holds;
    ll_uuid_t ids[ACCOUNTS_MAX]; /* scratch: the ids to lock */
    ll_event_t events[EVENTS_MAX];
    size_t n_events;
    int64_t positions[EVENTS_MAX];
    size_t n_positions, next_position;
    int fresh[LL_STORE_BATCH_MAX];    /* the key was claimed in this transaction */
    int takeover[LL_STORE_BATCH_MAX]; /* its key's answer is past retention: claim it again */
    char envelope[LL_EVENT_JSON_BYTES_MAX + 1];
} batch_t;

struct ll_store {
    char *conninfo;
    long long statement_timeout_ms;
    long long retention_s; /* idempotency keys older than this are a new command's */
    PGconn *conn;
    atomic_int healthy;          /* written by the store's writer thread, read by /readyz */
    atomic_uint_fast64_t errors; /* failed database attempts; read by the metrics thread */
    ll_pgq_t q;
    ll_pg_prepared_t ps; /* conn's statements, each of fixed text (arrays, not rows) */
    batch_t *b;
    char last_sqlstate[6];
};

static const char *const STATUS_TEXT[] = {"none", "open", "closed"};

/* ---- connection ---------------------------------------------------------------------------- */

static int connect_checked(ll_store_t *s, ll_error_t *err) {
    if (s->conn != NULL && !ll_pg_broken(s->conn)) return 0;
    PQfinish(s->conn);
    ll_pg_prepared_clear(&s->ps);
    s->conn = ll_pg_connect_bounded(s->conninfo, s->statement_timeout_ms, err);
    if (s->conn == NULL) return LL_EIO;
    if (ll_migrate_check(s->conn, err) != 0) {
        PQfinish(s->conn);
        s->conn = NULL;
        return LL_EINVAL;
    }
    /* Every statement here is prepared with arrays: the server would otherwise plan each
     * execution again (a generic plan looks dearer than a custom one for a 100-row guess at the
     * arrays). Each generic plan is an index lookup, on empty tables as on large ones
     * (tests/integration/test_store_plans.c). */
    if (ll_pg_exec(s->conn, LL_PG_PREPARED_SESSION_SQL, err) != 0) {
        PQfinish(s->conn);
        s->conn = NULL;
        return LL_EIO;
    }
    return 0;
}

ll_store_t *ll_store_open(const char *conninfo, long long statement_timeout_ms, long long retention_s,
                          ll_error_t *err) {
    ll_store_t *s = calloc(1, sizeof *s);
    if (s != NULL) {
        s->statement_timeout_ms = statement_timeout_ms;
        s->retention_s = retention_s;
        s->conninfo = strdup(conninfo);
        s->b = malloc(sizeof *s->b);
    }
    if (s == NULL || s->conninfo == NULL || s->b == NULL) {
        ll_store_close(s);
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    ll_pgq_init(&s->q);
    ll_pg_prepared_init(&s->ps);
    if (connect_checked(s, err) != 0) {
        ll_store_close(s);
        return NULL;
    }
    atomic_store(&s->healthy, 1);
    return s;
}

void ll_store_close(ll_store_t *s) {
    if (s == NULL) return;
    PQfinish(s->conn);
    ll_pg_prepared_clear(&s->ps);
    ll_pgq_free(&s->q);
    free(s->b);
    free(s->conninfo);
    free(s);
}

void ll_store_each_statement(const ll_store_t *s, void (*fn)(const char *name, const char *sql, void *ctx),
                             void *ctx) {
    for (int i = 0; i < s->ps.n; i++) fn(s->ps.stmt[i].name, s->ps.stmt[i].sql, ctx);
}

uint64_t ll_store_errors(ll_store_t *s) {
    return atomic_load(&s->errors);
}

int ll_store_healthy(const ll_store_t *s) {
    return atomic_load(&s->healthy);
}

/* Runs the statement built in s->q, prepared as name (NULL: unprepared, for BEGIN and COMMIT);
 * remembers the SQLSTATE of a failure. */
static PGresult *run(ll_store_t *s, const char *name, ExecStatusType expect, ll_error_t *err) {
    PGresult *res = name ? ll_pgq_exec_prepared(s->conn, &s->ps, name, &s->q, expect, err)
                         : ll_pgq_exec(s->conn, &s->q, expect, err);
    if (res == NULL) memcpy(s->last_sqlstate, s->q.sqlstate, sizeof s->last_sqlstate); /* for retryable() */
    ll_pgq_reset(&s->q);
    return res;
}

static int run_command(ll_store_t *s, const char *name, ll_error_t *err) {
    PGresult *res = run(s, name, PGRES_COMMAND_OK, err);
    PQclear(res);
    return res ? 0 : LL_EIO;
}

/* ---- the batch's accounts ------------------------------------------------------------------ */

static ll_account_t *find_account(batch_t *b, const ll_uuid_t *id) {
    for (size_t i = 0; i < b->n_accounts; i++)
        if (ll_uuid_equal(&b->accounts[i].account_id, id)) return &b->accounts[i];
    return NULL;
}

/* The account's entry, created empty (version 0) when the store has none. */
static ll_account_t *account(batch_t *b, const ll_uuid_t *id) {
    ll_account_t *a = find_account(b, id);
    if (a != NULL) return a;
    LL_MONEY_ASSERT(b->n_accounts < ACCOUNTS_MAX);
    a = &b->accounts[b->n_accounts];
    b->corrupt[b->n_accounts] = 0;
    b->dirty[b->n_accounts++] = 0;
    ll_account_init(a, id);
    return a;
}

static int cmp_uuid(const void *x, const void *y) {
    return ll_uuid_compare(x, y);
}

static int is_settlement(ll_command_type_t t) {
    return t == LL_CMD_CAPTURE_HOLD || t == LL_CMD_RELEASE_HOLD || t == LL_CMD_EXPIRE_HOLD;
}

/* The accounts cmd touches (nil ids skipped, repeats kept) into ids; returns how many. */
static size_t command_accounts(const ll_command_t *cmd, ll_uuid_t *ids) {
    size_t k = 0;
    switch (cmd->type) {
    case LL_CMD_OPEN:
        break;
    case LL_CMD_PAYMENT:
        for (int i = 0; i < cmd->leg_count; i++) {
            ids[k++] = cmd->legs[i].from_account_id;
            ids[k++] = cmd->legs[i].to_account_id;
        }
        break;
    default:
        if (!ll_uuid_is_nil(&cmd->account_id)) ids[k++] = cmd->account_id;
        if ((cmd->type == LL_CMD_TRANSFER || cmd->type == LL_CMD_CAPTURE_HOLD) &&
            !ll_uuid_is_nil(&cmd->to_account_id))
            ids[k++] = cmd->to_account_id;
        break;
    }
    LL_MONEY_ASSERT(k <= COMMAND_ACCOUNTS_MAX);
    return k;
}

/* Appends the uuid[] parameter of the hold ids the fresh settlement writes name. Returns how many. */
static size_t settlement_hold_ids(ll_store_t *s, ll_write_t *const *w, size_t n) {
    char id[LL_UUID_TEXT_LEN + 1];
    size_t k = 0;
    ll_pgq_array_begin(&s->q);
    for (size_t i = 0; i < n; i++) {
        if (!s->b->fresh[i] || !is_settlement(w[i]->cmd.type)) continue;
        ll_uuid_format(&w[i]->cmd.hold_id, id);
        ll_pgq_array_item(&s->q, id);
        k++;
    }
    ll_pgq_array_end(&s->q, "uuid[]");
    return k;
}

/* A capture, release or expiry names a hold, not an account: the hold's account, which never
 * changes, is read here before any lock, so it is locked in id order with the others. A hold
 * the store does not have leaves the command's account nil (decided as hold-not-found). */
static int find_hold_accounts(ll_store_t *s, ll_write_t *const *w, size_t n, ll_error_t *err) {
    for (size_t i = 0; i < n; i++)
        if (s->b->fresh[i] && is_settlement(w[i]->cmd.type))
            memset(&w[i]->cmd.account_id, 0, sizeof(ll_uuid_t));
    ll_pgq_sql(&s->q, "SELECT hold_id, account_id FROM holds WHERE hold_id = ANY(");
    size_t k = settlement_hold_ids(s, w, n);
    ll_pgq_sql(&s->q, ")");
    if (k == 0) {
        ll_pgq_reset(&s->q);
        return 0;
    }
    PGresult *res = run(s, "ll_find_holds", PGRES_TUPLES_OK, err);
    if (res == NULL) return LL_EIO;
    for (int r = 0; r < PQntuples(res); r++) {
        ll_uuid_t hold, acct;
        if (ll_uuid_parse(PQgetvalue(res, r, 0), false, &hold) != 0 ||
            ll_uuid_parse(PQgetvalue(res, r, 1), false, &acct) != 0) {
            PQclear(res);
            return ll_error_set(err, LL_EIO, "holds: malformed id");
        }
        for (size_t i = 0; i < n; i++)
            if (s->b->fresh[i] && is_settlement(w[i]->cmd.type) && ll_uuid_equal(&w[i]->cmd.hold_id, &hold))
                w[i]->cmd.account_id = acct;
    }
    PQclear(res);
    return 0;
}

/* A row of the store that breaks what must hold: logged with its id, never decided on. */
static void log_corrupt(const char *table, const char *id_field, const char *id, const ll_error_t *why) {
    ll_log_t l;
    ll_log_begin(&l, "error", "command", "a row of the event store breaks an invariant; commands on it are not decided");
    ll_log_str(&l, "table", table);
    ll_log_str(&l, id_field, id);
    ll_log_str(&l, "detail", why->msg);
    ll_log_end(&l);
}

/* Locks and loads the state rows of every account the fresh writes touch, in id order. */
static int lock_accounts(ll_store_t *s, ll_write_t *const *w, size_t n, ll_error_t *err) {
    batch_t *b = s->b;
    ll_uuid_t *ids = b->ids;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (b->fresh[i]) k += command_accounts(&w[i]->cmd, ids + k);
    if (k == 0) return 0;
    qsort(ids, k, sizeof ids[0], cmp_uuid);
    ll_pgq_sql(&s->q, "SELECT " LL_STORE_ACCOUNT_COLUMNS " FROM account_state WHERE account_id = ANY(");
    ll_pgq_array_begin(&s->q);
    char text[LL_UUID_TEXT_LEN + 1];
    for (size_t i = 0; i < k; i++) {
        if (i > 0 && ll_uuid_equal(&ids[i], &ids[i - 1])) continue;
        ll_uuid_format(&ids[i], text);
        ll_pgq_array_item(&s->q, text);
    }
    ll_pgq_array_end(&s->q, "uuid[]");
    ll_pgq_sql(&s->q, ") ORDER BY account_id FOR UPDATE");
    PGresult *res = run(s, "ll_lock_accounts", PGRES_TUPLES_OK, err);
    if (res == NULL) return LL_EIO;
    for (int r = 0; r < PQntuples(res); r++) {
        ll_uuid_t id;
        if (ll_uuid_parse(PQgetvalue(res, r, 0), false, &id) != 0) {
            PQclear(res);
            return ll_error_set(err, LL_EIO, "account_state: malformed account_id");
        }
        ll_account_t *a = account(b, &id);
        ll_error_t why = {""};
        if (ll_store_row_account(res, r, a, &why) != 0) {
            log_corrupt("account_state", "account_id", PQgetvalue(res, r, 0), &why);
            ll_account_init(a, &id); /* nothing of the row is used */
            b->corrupt[a - b->accounts] = 1;
        }
    }
    PQclear(res);
    return 0;
}

/* ---- the batch's holds --------------------------------------------------------------------- */

static ll_hold_t *find_hold(batch_t *b, const ll_uuid_t *id) {
    for (size_t i = 0; i < b->n_holds; i++)
        if (ll_uuid_equal(&b->holds[i].hold_id, id)) return &b->holds[i];
    return NULL;
}

/* Reads the holds the settlement writes name, once their accounts are locked: every change to a
 * hold locks its account first, so these rows stay as read until the transaction ends. */
static int load_holds(ll_store_t *s, ll_write_t *const *w, size_t n, ll_error_t *err) {
    batch_t *b = s->b;
    b->n_holds = 0;
    ll_pgq_sql(&s->q, "SELECT " LL_STORE_HOLD_COLUMNS " FROM holds WHERE hold_id = ANY(");
    size_t k = settlement_hold_ids(s, w, n);
    ll_pgq_sql(&s->q, ")");
    if (k == 0) {
        ll_pgq_reset(&s->q);
        return 0;
    }
    PGresult *res = run(s, "ll_load_holds", PGRES_TUPLES_OK, err);
    if (res == NULL) return LL_EIO;
    for (int r = 0; r < PQntuples(res); r++) {
        ll_uuid_t id;
        if (ll_uuid_parse(PQgetvalue(res, r, 0), false, &id) != 0 || find_hold(b, &id) != NULL ||
            b->n_holds == HOLDS_MAX) {
            PQclear(res);
            return ll_error_set(err, LL_EIO, "holds: malformed or repeated hold_id");
        }
        ll_hold_t *h = &b->holds[b->n_holds];
        ll_hold_init(h, &id);
        ll_error_t why = {""};
        b->hold_corrupt[b->n_holds] = ll_store_row_hold(res, r, h, &why) != 0;
        if (b->hold_corrupt[b->n_holds]) {
            log_corrupt("holds", "hold_id", PQgetvalue(res, r, 0), &why);
            ll_hold_init(h, &id); /* nothing of the row is used */
        }
        b->hold_dirty[b->n_holds++] = 0;
    }
    PQclear(res);
    return 0;
}

/* Folds a decided hold event into the batch's record of its hold (a placement creates it). */
static int track_hold(batch_t *b, const ll_event_t *ev, ll_error_t *err) {
    ll_hold_t *h = find_hold(b, &ev->data.movement.hold_id);
    if (h == NULL) {
        LL_MONEY_ASSERT(b->n_holds < HOLDS_MAX); /* one hold per command */
        h = &b->holds[b->n_holds];
        ll_hold_init(h, &ev->data.movement.hold_id);
        b->hold_corrupt[b->n_holds] = 0;
        b->hold_dirty[b->n_holds++] = 0;
    }
    if (ll_hold_apply(h, ev, err) != 0) return LL_EIO;
    b->hold_dirty[h - b->holds] = 1;
    return 0;
}

/* ---- idempotency keys ---------------------------------------------------------------------- */

static int cmp_write_key(const ll_write_t *a, const ll_write_t *b) {
    int c = strcmp(a->idem_scope, b->idem_scope);
    return c ? c : strcmp(a->idem_key, b->idem_key);
}

/* order[] = 0..n-1 sorted by (scope, key); insertion sort, n <= LL_STORE_BATCH_MAX. */
static void sort_by_key(ll_write_t *const *w, size_t n, size_t *order) {
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        for (; j > 0 && cmp_write_key(w[order[j - 1]], w[i]) > 0; j--) order[j] = order[j - 1];
        order[j] = i;
    }
}

static size_t find_write(ll_write_t *const *w, size_t n, const char *scope, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(w[i]->idem_scope, scope) && !strcmp(w[i]->idem_key, key)) return i;
    return n;
}

/* Appends the arrays "$N::text[], $N+1::text[]" of the scopes and keys of the writes i with
 * pick(i), in order[] (NULL: 0..n-1). Returns how many. */
static size_t key_arrays(ll_store_t *s, ll_write_t *const *w, size_t n, const size_t *order,
                         int (*pick)(const ll_store_t *, ll_write_t *const *, size_t)) {
    size_t k = 0;
    for (int column = 0; column < 2; column++) {
        if (column) ll_pgq_sql(&s->q, ", ");
        ll_pgq_array_begin(&s->q);
        k = 0;
        for (size_t j = 0; j < n; j++) {
            size_t i = order ? order[j] : j;
            if (!pick(s, w, i)) continue;
            ll_pgq_array_item(&s->q, column ? w[i]->idem_key : w[i]->idem_scope);
            k++;
        }
        ll_pgq_array_end(&s->q, "text[]");
    }
    return k;
}

/* As key_arrays, then one more array: the writes' request hashes. */
static size_t key_hash_arrays(ll_store_t *s, ll_write_t *const *w, size_t n, const size_t *order,
                              int (*pick)(const ll_store_t *, ll_write_t *const *, size_t)) {
    size_t k = key_arrays(s, w, n, order, pick);
    ll_pgq_sql(&s->q, ", ");
    ll_pgq_array_begin(&s->q);
    for (size_t j = 0; j < n; j++) {
        size_t i = order ? order[j] : j;
        if (pick(s, w, i)) ll_pgq_array_item(&s->q, w[i]->request_hash);
    }
    ll_pgq_array_end(&s->q, "text[]");
    return k;
}

static int every_write(const ll_store_t *s, ll_write_t *const *w, size_t i) {
    (void)s, (void)w, (void)i;
    return 1;
}

static int taking_over(const ll_store_t *s, ll_write_t *const *w, size_t i) {
    (void)w;
    return s->b->takeover[i];
}

static int not_fresh(const ll_store_t *s, ll_write_t *const *w, size_t i) {
    (void)w;
    return !s->b->fresh[i];
}

static void key_in_use(ll_write_t *w) {
    ll_write_refused(w, LL_REFUSAL_KEY_IN_USE,
                     "a request with this Idempotency-Key is still being processed; retry later");
}

/* Inserts a placeholder per key, in key order; marks fresh[] for the keys this transaction owns. */
static int claim_keys(ll_store_t *s, ll_write_t *const *w, size_t n, ll_error_t *err) {
    size_t order[LL_STORE_BATCH_MAX];
    for (size_t i = 0; i < n; i++) s->b->fresh[i] = 0;
    sort_by_key(w, n, order); /* one lock order for all transactions: no deadlock on keys */
    ll_pgq_sql(&s->q, "INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response)"
                      " SELECT v.scope, v.key, v.hash, 0, '' FROM unnest(");
    key_hash_arrays(s, w, n, order, every_write);
    ll_pgq_sql(&s->q, ") WITH ORDINALITY AS v (scope, key, hash, n) ORDER BY v.n"
                      " ON CONFLICT (scope, key) DO NOTHING RETURNING scope, key");
    PGresult *res = run(s, "ll_claim_keys", PGRES_TUPLES_OK, err);
    if (res == NULL) return LL_EIO;
    for (int r = 0; r < PQntuples(res); r++) {
        size_t i = find_write(w, n, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
        if (i < n) s->b->fresh[i] = 1;
    }
    PQclear(res);
    return 0;
}

/* Claims again the keys of writes marked takeover (their answer is past retention and may not
 * be pruned yet): fresh when this transaction got the row; otherwise another took it first and
 * the write is answered as in progress. */
static int take_over_keys(ll_store_t *s, ll_write_t *const *w, size_t n, ll_error_t *err) {
    ll_pgq_sql(&s->q,
               "UPDATE idempotency_keys AS i SET request_hash = v.hash, status_code = 0, response = '',"
               " created_at = now() FROM unnest(");
    size_t k = key_hash_arrays(s, w, n, NULL, taking_over);
    ll_pgq_sql(&s->q, ") AS v (scope, key, hash) WHERE i.scope = v.scope AND i.key = v.key"
                      " AND i.status_code <> 0 AND i.created_at < now() - make_interval(secs => ");
    ll_pgq_paramf(&s->q, "double precision", "%lld", s->retention_s);
    ll_pgq_sql(&s->q, ") RETURNING i.scope, i.key");
    if (k == 0) {
        ll_pgq_reset(&s->q);
        return 0;
    }
    PGresult *res = run(s, "ll_take_over_keys", PGRES_TUPLES_OK, err);
    if (res == NULL) return LL_EIO;
    for (int r = 0; r < PQntuples(res); r++) {
        size_t i = find_write(w, n, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
        if (i < n && s->b->takeover[i]) s->b->fresh[i] = 1;
    }
    PQclear(res);
    for (size_t i = 0; i < n; i++)
        if (s->b->takeover[i] && !s->b->fresh[i]) key_in_use(w[i]);
    return 0;
}

/* Answers the writes whose key was already used: the stored response, or a refusal. A key whose
 * answer is past retention is claimed again instead (take_over_keys). */
static int replay_used_keys(ll_store_t *s, ll_write_t *const *w, size_t n, ll_error_t *err) {
    for (size_t i = 0; i < n; i++) s->b->takeover[i] = 0;
    ll_pgq_sql(&s->q, "SELECT scope, key, request_hash, status_code, response,"
                      " created_at < now() - make_interval(secs => ");
    ll_pgq_paramf(&s->q, "double precision", "%lld", s->retention_s);
    ll_pgq_sql(&s->q, ") FROM idempotency_keys WHERE (scope, key) IN (SELECT * FROM unnest(");
    size_t used = key_arrays(s, w, n, NULL, not_fresh);
    ll_pgq_sql(&s->q, "))");
    if (used == 0) {
        ll_pgq_reset(&s->q);
        return 0;
    }
    PGresult *res = run(s, "ll_replay_keys", PGRES_TUPLES_OK, err);
    if (res == NULL) return LL_EIO;
    size_t takeovers = 0;
    for (int r = 0; r < PQntuples(res); r++) {
        size_t i = find_write(w, n, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
        if (i == n) continue;
        ll_write_t *x = w[i];
        int64_t status = -1;
        if (ll_store_int64(res, r, 3, &status) != 0 || (status != 0 && (status < 100 || status > 599))) {
            ll_error_t why = {""};
            ll_error_set(&why, LL_EINVAL, "status_code is not 0 or an HTTP status");
            log_corrupt("idempotency_keys", "key", x->idem_key, &why);
            ll_write_refused(x, LL_REFUSAL_STORE_CORRUPT,
                             "the answer stored under this Idempotency-Key is damaged; an operator has been alerted");
        } else if (status != 0 && PQgetvalue(res, r, 5)[0] == 't') {
            s->b->takeover[i] = 1; /* the first write with this key; another one waits below */
            takeovers++;
        } else if (strcmp(PQgetvalue(res, r, 2), x->request_hash) != 0) {
            ll_write_refused(x, LL_REFUSAL_KEY_REUSED, "this Idempotency-Key was used for a different request");
        } else if (status == 0) {
            key_in_use(x);
        } else {
            ll_write_replayed(x, (int)status, PQgetvalue(res, r, 4));
        }
    }
    PQclear(res);
    /* Writes of this batch that share a key with another: only the first is answered above. */
    for (size_t i = 0; i < n; i++)
        if (!s->b->fresh[i] && !s->b->takeover[i] && w[i]->status == 0) key_in_use(w[i]);
    return takeovers ? take_over_keys(s, w, n, err) : 0;
}

/* ---- deciding ------------------------------------------------------------------------------ */

/* Events a command may write: what decide needs positions for. */
static size_t events_max(const ll_command_t *cmd) {
    switch (cmd->type) {
    case LL_CMD_TRANSFER:
        return 2;
    case LL_CMD_PAYMENT:
        return 2 * (size_t)cmd->leg_count;
    case LL_CMD_CAPTURE_HOLD:
        return ll_uuid_is_nil(&cmd->to_account_id) ? 1 : 2;
    default:
        return 1;
    }
}

static int reserve_positions(ll_store_t *s, ll_write_t *const *w, size_t n, ll_error_t *err) {
    batch_t *b = s->b;
    size_t need = 0;
    for (size_t i = 0; i < n; i++)
        if (b->fresh[i]) need += events_max(&w[i]->cmd);
    b->n_positions = b->next_position = 0;
    if (need == 0) return 0;
    LL_MONEY_ASSERT(need <= EVENTS_MAX);
    ll_pgq_sql(&s->q, "SELECT nextval('events_position_seq') FROM generate_series(1, ");
    ll_pgq_paramf(&s->q, "int", "%zu", need);
    ll_pgq_sql(&s->q, ") ORDER BY 1");
    PGresult *res = run(s, "ll_reserve_positions", PGRES_TUPLES_OK, err);
    if (res == NULL) return LL_EIO;
    for (int r = 0; r < PQntuples(res) && b->n_positions < EVENTS_MAX; r++)
        if (ll_store_int64(res, r, 0, &b->positions[b->n_positions]) == 0 && b->positions[b->n_positions] > 0)
            b->n_positions++;
    PQclear(res);
    return b->n_positions == need ? 0 : ll_error_set(err, LL_EIO, "could not reserve event positions");
}

static int make_meta(const ll_write_t *w, int64_t not_before_us, ll_command_meta_t *m) {
    memset(m, 0, sizeof *m);
    for (int i = 0; i < LL_DECISION_EVENTS_MAX; i++)
        if (ll_uuid_random(&m->event_ids[i]) != 0) return -1;
    /* Never earlier than the account's last event, even if the clock stepped back. */
    int64_t t = ll_clock_wall_us();
    m->occurred_at_us = t > not_before_us ? t : not_before_us;
    snprintf(m->command_id, sizeof m->command_id, "%s", w->idem_key);
    snprintf(m->correlation_id, sizeof m->correlation_id, "%s", w->correlation_id);
    snprintf(m->actor, sizeof m->actor, "%s", w->actor);
    return 0;
}

/* Seals the decided events, applies them to the batch's accounts (and holds) and queues them
 * for insert; after[e] is the account of events[e]. Each event is linked to its account's head
 * right before it is sealed: an account named twice in a payment has its later events decided
 * with prev_hash "" (ll_decide_payment). */
static int commit_decision(batch_t *b, ll_decision_t *d, ll_account_t **after, ll_error_t *err) {
    for (int e = 0; e < d->event_count; e++) {
        ll_event_t *ev = &d->events[e];
        ll_account_t *a = find_account(b, &ev->account_id);
        LL_MONEY_ASSERT(a != NULL && b->next_position < b->n_positions && b->n_events < EVENTS_MAX);
        memcpy(ev->prev_hash, a->head_hash, sizeof ev->prev_hash);
        ev->global_position = b->positions[b->next_position++];
        if (ll_event_seal(ev, err) != 0) return LL_EIO;
        ll_evolve_t v = ll_account_evolve(a, ev, err);
        LL_MONEY_ASSERT(v == LL_EVOLVE_OK); /* decide only produces events that follow */
        b->dirty[a - b->accounts] = 1;
        if (ll_event_is_hold(ev->type) && track_hold(b, ev, err) != 0) return LL_EIO;
        b->events[b->n_events++] = *ev;
        after[e] = a;
    }
    return 0;
}

/* A customer sees only its own accounts; an operator (owner_scope "") every one. */
static int visible(const ll_write_t *w, const ll_account_t *a) {
    return w->owner_scope[0] == '\0' || (a->version > 0 && strcmp(a->owner, w->owner_scope) == 0);
}

/* If-Match against the account the command answers for. Returns 1 when it holds; otherwise
 * answers 412 and returns 0. */
static int precondition_holds(ll_write_t *w, const ll_account_t *a) {
    if (w->expected_version < 0 || a->version == w->expected_version) return 1;
    char detail[160];
    snprintf(detail, sizeof detail, "the account is at version %lld, If-Match expected %lld",
             (long long)a->version, (long long)w->expected_version);
    ll_write_refused(w, LL_REFUSAL_VERSION_MISMATCH, detail);
    return 0;
}

static int commit_and_answer(batch_t *b, ll_write_t *w, ll_decision_t *d, ll_error_t *err) {
    ll_account_t *after[LL_DECISION_EVENTS_MAX];
    int rc = commit_decision(b, d, after, err);
    if (rc == 0) ll_write_accepted(w, d, (const ll_account_t *const *)after);
    return rc;
}

static int no_randomness(ll_error_t *err) {
    return ll_error_set(err, LL_EIO, "no randomness");
}

/* The meta of a command on a (and on the destination to, or NULL): its events are never dated
 * before the last event of either account, even if the clock stepped back. */
static int meta_for(const ll_write_t *w, const ll_account_t *a, const ll_account_t *to, ll_command_meta_t *m) {
    int64_t not_before = a->updated_at_us;
    if (to != NULL && to->updated_at_us > not_before) not_before = to->updated_at_us;
    return make_meta(w, not_before, m);
}

/* Answers decision d: a refusal as the ledger gave it, or, when the destination is hidden from
 * the customer (its own side's reasons were answered before), as one answer whatever the
 * destination's reason (hidden_detail); an acceptance is committed. */
static int answer_decision(batch_t *b, ll_write_t *w, ll_decision_t *d, const char *hidden_detail,
                           ll_error_t *err) {
    if (d->rejection != LL_REJECT_NONE && w->hide_destination) {
        ll_write_refused(w, LL_REFUSAL_DESTINATION_HIDDEN, hidden_detail);
        return 0;
    }
    if (d->rejection != LL_REJECT_NONE) {
        ll_write_rejected(w, d->rejection, d->detail);
        return 0;
    }
    return commit_and_answer(b, w, d, err);
}

/* Decides a command on one account (open, deposit, withdraw, close, place hold, credit limit,
 * freeze, unfreeze) or a transfer. */
static int decide_account(batch_t *b, ll_write_t *w, ll_error_t *err) {
    ll_command_t *cmd = &w->cmd;
    if ((cmd->type == LL_CMD_OPEN && ll_uuid_random(&cmd->account_id) != 0) ||
        (cmd->type == LL_CMD_TRANSFER && ll_uuid_random(&cmd->transfer_id) != 0) ||
        (cmd->type == LL_CMD_PLACE_HOLD && ll_uuid_random(&cmd->hold_id) != 0))
        return no_randomness(err);
    ll_account_t *from = account(b, &cmd->account_id);
    ll_account_t *to = cmd->type == LL_CMD_TRANSFER ? account(b, &cmd->to_account_id) : NULL;
    /* A customer's command on an account it does not own is answered exactly as one on an
     * account that does not exist (404, before If-Match can reveal a version): ids of others'
     * accounts must not be probeable. A transfer's destination may be anyone's. */
    if (cmd->type != LL_CMD_OPEN && !visible(w, from)) {
        ll_write_rejected(w, LL_REJECT_ACCOUNT_NOT_FOUND, "account does not exist");
        return 0;
    }
    /* Limits and freezes are the operators' (the HTTP side refuses customers first). */
    if (w->owner_scope[0] != '\0' && (cmd->type == LL_CMD_SET_CREDIT_LIMIT || cmd->type == LL_CMD_FREEZE ||
                                      cmd->type == LL_CMD_UNFREEZE)) {
        ll_write_refused(w, LL_REFUSAL_FORBIDDEN, "credit limits and freezes are set by operators");
        return 0;
    }
    if (!precondition_holds(w, from)) return 0;
    ll_command_meta_t meta;
    if (meta_for(w, from, to, &meta) != 0) return no_randomness(err);
    ll_decision_t d;
    /* A customer learns nothing of a destination it cannot see: whether it exists, is closed or
     * holds another currency is one answer. Its own account's reasons come first (decided as a
     * withdrawal), so a refusal never tells that the destination would have been fine. */
    w->hide_destination = to != NULL && !visible(w, to);
    if (w->hide_destination) {
        ll_command_t own = *cmd;
        own.type = LL_CMD_WITHDRAW;
        ll_decide(from, &own, &meta, &d);
        if (d.rejection != LL_REJECT_NONE) {
            ll_write_rejected(w, d.rejection, d.detail);
            return 0;
        }
    }
    if (to != NULL)
        ll_decide_transfer(from, to, cmd, &meta, &d);
    else
        ll_decide(from, cmd, &meta, &d);
    return answer_decision(b, w, &d, "the destination account cannot receive this transfer", err);
}

/* Decides a capture, release or expiry against the hold as stored and its (locked) account. */
static int decide_settlement(batch_t *b, ll_write_t *w, ll_error_t *err) {
    ll_command_t *cmd = &w->cmd;
    const ll_hold_t *h = find_hold(b, &cmd->hold_id);
    ll_account_t *a =
        h != NULL && ll_uuid_equal(&h->account_id, &cmd->account_id) ? find_account(b, &h->account_id) : NULL;
    /* A hold belongs to its account: to whoever may not see the account, it is answered as a
     * hold that does not exist (before If-Match can reveal a version). */
    if (a == NULL || a->version == 0 || !visible(w, a)) {
        ll_write_rejected(w, LL_REJECT_HOLD_NOT_FOUND, "hold does not exist");
        return 0;
    }
    if (cmd->type == LL_CMD_EXPIRE_HOLD && w->owner_scope[0] != '\0') { /* the system's own */
        ll_write_refused(w, LL_REFUSAL_FORBIDDEN, "holds are expired by the system");
        return 0;
    }
    if (!precondition_holds(w, a)) return 0;
    /* A customer settles only the holds it placed: a card authorisation placed by the bank is
     * the bank's to capture or release (the customer sees it, on its own account). */
    if (w->owner_scope[0] != '\0' && strcmp(h->placed_by, w->actor) != 0) {
        ll_write_refused(w, LL_REFUSAL_FORBIDDEN,
                         "this hold was placed by the bank; only the bank captures or releases it");
        return 0;
    }
    /* The store keeps a hold and its account's held amount in one transaction; should they
     * disagree (a damaged store, an older writer), that hold is not decided: one command fails,
     * loudly, and every other hold and account goes on (the domain asserts they agree). */
    if (h->status == LL_HOLD_OPEN && (a->status != LL_ACCOUNT_OPEN || h->amount_minor > a->held_minor ||
                                      !ll_currency_equal(&h->currency, &a->currency))) {
        char id[LL_UUID_TEXT_LEN + 1];
        ll_uuid_format(&h->hold_id, id);
        ll_log_line("error", "command", "an open hold and its account disagree in the event store; not decided",
                    NULL, id);
        ll_write_refused(w, LL_REFUSAL_STORE_CORRUPT,
                         "the hold and its account disagree in the event store; nothing was changed and an "
                         "operator has been alerted");
        return 0;
    }
    ll_account_t *to = NULL;
    if (cmd->type == LL_CMD_CAPTURE_HOLD && !ll_uuid_is_nil(&cmd->to_account_id)) {
        if (ll_uuid_random(&cmd->transfer_id) != 0) return no_randomness(err);
        to = account(b, &cmd->to_account_id);
    }
    ll_command_meta_t meta;
    if (meta_for(w, a, to, &meta) != 0) return no_randomness(err);
    ll_decision_t d;
    /* As a transfer: a customer capturing to an account it cannot see hears its own side's
     * reasons first (the capture decided as a withdrawal), then one answer for the destination. */
    w->hide_destination = to != NULL && !visible(w, to);
    if (w->hide_destination) {
        ll_decide_hold(a, h, NULL, cmd, &meta, &d);
        if (d.rejection != LL_REJECT_NONE) {
            ll_write_rejected(w, d.rejection, d.detail);
            return 0;
        }
    }
    ll_decide_hold(a, h, to, cmd, &meta, &d);
    return answer_decision(b, w, &d, "the destination account cannot receive this capture", err);
}

/* The refusal of a payment, naming its leg. */
static void payment_refused(ll_write_t *w, ll_rejection_t r, const char *detail, int leg) {
    ll_write_rejected(w, r, detail);
    ll_write_problem_leg(w, leg);
}

/* Decides a payment: every leg a transfer, all or none. A customer debits only its own accounts;
 * the destinations it cannot see are hidden as a transfer's are: the payment is first decided
 * with each such destination replaced by an account that takes anything (so the customer hears
 * every reason of its own side, in leg order, before any about a destination), and only then as
 * it is; a refusal left is a hidden destination's, answered as transfer-rejected. */
/* The accounts a payment's legs name: states (each once, as stored) and view (as the customer
 * may see them: a hidden destination replaced by a stand-in, named in seen). Returns 0, 1 when
 * the payment was refused (answered), or -1 with err set. */
typedef struct {
    ll_account_t states[COMMAND_ACCOUNTS_MAX], view[COMMAND_ACCOUNTS_MAX];
    size_t n, n_view;
    int64_t not_before;
} payment_accounts_t;

static void add_once(ll_account_t *set, size_t *n, const ll_account_t *x) {
    for (size_t j = 0; j < *n; j++)
        if (ll_uuid_equal(&set[j].account_id, &x->account_id)) return;
    set[(*n)++] = *x;
}

static int gather_payment_accounts(batch_t *b, ll_write_t *w, ll_command_t *seen, payment_accounts_t *pa,
                                   ll_error_t *err) {
    const ll_command_t *cmd = &w->cmd;
    for (int i = 0; i < cmd->leg_count; i++) {
        const ll_payment_leg_t *leg = &cmd->legs[i];
        ll_account_t *from = account(b, &leg->from_account_id), *to = account(b, &leg->to_account_id);
        if (!visible(w, from)) {
            char detail[64];
            snprintf(detail, sizeof detail, "leg %d: account does not exist", i);
            payment_refused(w, LL_REJECT_ACCOUNT_NOT_FOUND, detail, i);
            return 1;
        }
        const ll_account_t *pair[2] = {from, to};
        for (int side = 0; side < 2; side++) {
            const ll_account_t *x = pair[side];
            if (x->updated_at_us > pa->not_before) pa->not_before = x->updated_at_us;
            add_once(pa->states, &pa->n, x);
            if (side == 1 && !visible(w, x)) {
                /* A stand-in for the hidden destination: open, in the leg's currency, empty. */
                w->hidden_legs |= 1u << i;
                ll_account_t *stand_in = &pa->view[pa->n_view++];
                ll_uuid_t id;
                if (ll_uuid_random(&id) != 0) return no_randomness(err);
                ll_account_init(stand_in, &id);
                stand_in->status = LL_ACCOUNT_OPEN;
                stand_in->version = 1;
                stand_in->currency = leg->currency;
                seen->legs[i].to_account_id = id;
                continue;
            }
            add_once(pa->view, &pa->n_view, x);
        }
    }
    LL_MONEY_ASSERT(pa->n <= COMMAND_ACCOUNTS_MAX && pa->n_view <= COMMAND_ACCOUNTS_MAX);
    return 0;
}

static int decide_payment(batch_t *b, ll_write_t *w, ll_error_t *err) {
    ll_command_t *cmd = &w->cmd;
    ll_uuid_t transfer_ids[LL_PAYMENT_LEGS_MAX];
    if (ll_uuid_random(&cmd->payment_id) != 0) return no_randomness(err);
    for (int i = 0; i < cmd->leg_count; i++)
        if (ll_uuid_random(&transfer_ids[i]) != 0) return no_randomness(err);
    ll_command_t seen = *cmd; /* the payment as the customer may see it */
    w->hidden_legs = 0;
    payment_accounts_t pa = {.n = 0, .n_view = 0, .not_before = 0};
    int rc = gather_payment_accounts(b, w, &seen, &pa, err);
    if (rc != 0) return rc < 0 ? rc : 0;
    ll_account_t *states = pa.states, *view = pa.view;
    size_t n = pa.n, n_view = pa.n_view;
    int64_t not_before = pa.not_before;
    if (!precondition_holds(w, find_account(b, &cmd->legs[0].from_account_id))) return 0;
    ll_command_meta_t meta;
    if (make_meta(w, not_before, &meta) != 0) return no_randomness(err);
    ll_decision_t d;
    if (w->hidden_legs != 0) {
        ll_decide_payment(view, n_view, &seen, transfer_ids, &meta, &d);
        if (d.rejection != LL_REJECT_NONE) {
            payment_refused(w, d.rejection, d.detail, d.failed_leg);
            return 0;
        }
    }
    ll_decide_payment(states, n, cmd, transfer_ids, &meta, &d);
    if (d.rejection != LL_REJECT_NONE && w->hidden_legs != 0) {
        /* The customer's side passed above: what failed is a destination it cannot see. */
        char detail[96];
        snprintf(detail, sizeof detail, "leg %d: the destination account cannot receive this transfer",
                 d.failed_leg);
        ll_write_refused(w, LL_REFUSAL_DESTINATION_HIDDEN, detail);
        ll_write_problem_leg(w, d.failed_leg);
        return 0;
    }
    if (d.rejection != LL_REJECT_NONE) {
        payment_refused(w, d.rejection, d.detail, d.failed_leg);
        return 0;
    }
    return commit_and_answer(b, w, &d, err);
}

/* True when w names an account or a hold whose row breaks an invariant (ll_store_rows.c). */
static int on_corrupt_row(batch_t *b, const ll_write_t *w) {
    ll_uuid_t ids[COMMAND_ACCOUNTS_MAX];
    size_t k = command_accounts(&w->cmd, ids);
    for (size_t i = 0; i < k; i++) {
        const ll_account_t *a = find_account(b, &ids[i]);
        if (a != NULL && b->corrupt[a - b->accounts]) return 1;
    }
    const ll_hold_t *h = is_settlement(w->cmd.type) ? find_hold(b, &w->cmd.hold_id) : NULL;
    return h != NULL && b->hold_corrupt[h - b->holds];
}

/* Decides one fresh write against the batch's state. A command on a damaged row is not decided:
 * it fails alone (its key released, as for any internal fault), every other goes on. */
static int decide_one(batch_t *b, ll_write_t *w, ll_error_t *err) {
    if (on_corrupt_row(b, w)) {
        ll_write_refused(w, LL_REFUSAL_STORE_CORRUPT,
                         "the event store holds a damaged row for this command; nothing was changed and an "
                         "operator has been alerted");
        return 0;
    }
    if (w->cmd.type == LL_CMD_PAYMENT) return decide_payment(b, w, err);
    if (is_settlement(w->cmd.type)) return decide_settlement(b, w, err);
    return decide_account(b, w, err);
}

/* ---- appending ----------------------------------------------------------------------------- */

/* The events' columns, one array each, in the order of insert_events' unnest. */
enum {
    EV_POSITION,
    EV_ACCOUNT,
    EV_VERSION,
    EV_EVENT_ID,
    EV_TYPE,
    EV_SCHEMA,
    EV_OCCURRED_AT,
    EV_COMMAND_ID,
    EV_TRANSFER_ID,
    EV_HASH,
    EV_ENVELOPE,
    EV_COLUMNS
};
static const char *const EVENT_CASTS[EV_COLUMNS] = {"bigint[]", "uuid[]", "bigint[]",      "uuid[]",
                                                    "text[]",   "int[]",  "timestamptz[]", "text[]",
                                                    "uuid[]",   "text[]", "text[]"};

/* One row's item of one column (unnest_arrays): row i of its kind in the batch, column c.
 * Returns 0, or not 0 with err set. */
typedef int (*item_fn)(ll_store_t *s, size_t i, int c, ll_error_t *err);

/* unnest's arguments: for each column an array of the items of the rows i < n that keep marks
 * (NULL: every row), cast by casts[c]. Returns 0, or LL_EIO when an item failed (the query reset). */
static int unnest_arrays(ll_store_t *s, int columns, const char *const *casts, size_t n, const int *keep,
                         item_fn item, ll_error_t *err) {
    for (int c = 0; c < columns; c++) {
        if (c) ll_pgq_sql(&s->q, ", ");
        ll_pgq_array_begin(&s->q);
        for (size_t i = 0; i < n; i++)
            if ((keep == NULL || keep[i]) && item(s, i, c, err) != 0) {
                ll_pgq_reset(&s->q);
                return LL_EIO;
            }
        ll_pgq_array_end(&s->q, casts[c]);
    }
    return 0;
}

/* Appends event i's item of column c to the array being built. */
static int event_item(ll_store_t *s, size_t i, int c, ll_error_t *err) {
    const ll_event_t *e = &s->b->events[i];
    char text[LL_UUID_TEXT_LEN + LL_TIME_TEXT_LEN + 1];
    switch (c) {
    case EV_POSITION:
        ll_pgq_array_itemf(&s->q, "%lld", (long long)e->global_position);
        return 0;
    case EV_ACCOUNT:
        ll_uuid_format(&e->account_id, text);
        break;
    case EV_VERSION:
        ll_pgq_array_itemf(&s->q, "%lld", (long long)e->version);
        return 0;
    case EV_EVENT_ID:
        ll_uuid_format(&e->event_id, text);
        break;
    case EV_TYPE:
        ll_pgq_array_item(&s->q, ll_event_type_name(e->type));
        return 0;
    case EV_SCHEMA:
        ll_pgq_array_itemf(&s->q, "%d", (int)e->schema_version);
        return 0;
    case EV_OCCURRED_AT:
        ll_time_format(e->occurred_at_us, text);
        break;
    case EV_COMMAND_ID:
        ll_pgq_array_item(&s->q, e->command_id);
        return 0;
    case EV_TRANSFER_ID:
        if (!ll_event_is_movement(e->type) || ll_uuid_is_nil(&e->data.movement.transfer_id)) {
            ll_pgq_array_item(&s->q, NULL);
            return 0;
        }
        ll_uuid_format(&e->data.movement.transfer_id, text);
        break;
    case EV_HASH:
        ll_pgq_array_item(&s->q, e->hash);
        return 0;
    default: {
        size_t len = 0;
        if (ll_event_encode(e, true, s->b->envelope, sizeof s->b->envelope - 1, &len, err) != 0)
            return LL_EIO;
        s->b->envelope[len] = '\0';
        ll_pgq_array_item(&s->q, s->b->envelope);
        return 0;
    }
    }
    ll_pgq_array_item(&s->q, text);
    return 0;
}

/* The batch's events and their outbox rows, in one statement. */
static int insert_events(ll_store_t *s, ll_error_t *err) {
    batch_t *b = s->b;
    if (b->n_events == 0) return 0;
    ll_pgq_sql(&s->q, "WITH e AS (INSERT INTO events (global_position, account_id, version, event_id, type,"
                      " schema_version, occurred_at, command_id, transfer_id, hash, envelope)"
                      " SELECT * FROM unnest(");
    if (unnest_arrays(s, EV_COLUMNS, EVENT_CASTS, b->n_events, NULL, event_item, err) != 0) return LL_EIO;
    ll_pgq_sql(&s->q,
               ") RETURNING global_position, account_id)"
               " INSERT INTO outbox (global_position, account_id) SELECT global_position, account_id FROM e");
    return run_command(s, "ll_insert_events", err);
}

/* The account columns, one array each, in the order of upsert_states' unnest. */
enum {
    AC_ID,
    AC_VERSION,
    AC_STATUS,
    AC_OWNER,
    AC_CURRENCY,
    AC_BALANCE,
    AC_OVERDRAFT,
    AC_OPENED_AT,
    AC_UPDATED_AT,
    AC_HEAD_HASH,
    AC_HELD,
    AC_FROZEN,
    AC_COLUMNS
};
static const char *const ACCOUNT_CASTS[AC_COLUMNS] = {"uuid[]",   "bigint[]", "text[]",   "text[]",
                                                      "text[]",   "bigint[]", "bigint[]", "bigint[]",
                                                      "bigint[]", "text[]",   "bigint[]", "boolean[]"};

static int account_item(ll_store_t *s, size_t i, int c, ll_error_t *err) {
    const ll_account_t *a = &s->b->accounts[i];
    char id[LL_UUID_TEXT_LEN + 1];
    (void)err; /* an account's items cannot fail */
    switch (c) {
    case AC_ID:
        ll_uuid_format(&a->account_id, id);
        ll_pgq_array_item(&s->q, id);
        break;
    case AC_VERSION:
        ll_pgq_array_itemf(&s->q, "%lld", (long long)a->version);
        break;
    case AC_STATUS:
        ll_pgq_array_item(&s->q, STATUS_TEXT[a->status]);
        break;
    case AC_OWNER:
        ll_pgq_array_item(&s->q, a->owner);
        break;
    case AC_CURRENCY:
        ll_pgq_array_item(&s->q, a->currency.code);
        break;
    case AC_BALANCE:
        ll_pgq_array_itemf(&s->q, "%lld", (long long)a->balance_minor);
        break;
    case AC_OVERDRAFT:
        ll_pgq_array_itemf(&s->q, "%lld", (long long)a->overdraft_limit_minor);
        break;
    case AC_OPENED_AT:
        ll_pgq_array_itemf(&s->q, "%lld", (long long)a->opened_at_us);
        break;
    case AC_UPDATED_AT:
        ll_pgq_array_itemf(&s->q, "%lld", (long long)a->updated_at_us);
        break;
    case AC_HEAD_HASH:
        ll_pgq_array_item(&s->q, a->head_hash);
        break;
    case AC_HELD:
        ll_pgq_array_itemf(&s->q, "%lld", (long long)a->held_minor);
        break;
    default:
        ll_pgq_array_item(&s->q, a->frozen ? "t" : "f");
        break;
    }
    return 0;
}

static int upsert_states(ll_store_t *s, ll_error_t *err) {
    batch_t *b = s->b;
    size_t k = 0;
    for (size_t i = 0; i < b->n_accounts; i++) k += b->dirty[i] != 0;
    if (k == 0) return 0;
    ll_pgq_sql(&s->q,
               "INSERT INTO account_state (account_id, version, status, owner, currency, balance_minor,"
               " overdraft_limit_minor, opened_at_us, updated_at_us, head_hash, held_minor, frozen)"
               " SELECT * FROM unnest(");
    if (unnest_arrays(s, AC_COLUMNS, ACCOUNT_CASTS, b->n_accounts, b->dirty, account_item, err) != 0)
        return LL_EIO;
    ll_pgq_sql(
        &s->q,
        ") ON CONFLICT (account_id) DO UPDATE SET version = EXCLUDED.version, status = EXCLUDED.status,"
        " balance_minor = EXCLUDED.balance_minor, overdraft_limit_minor = EXCLUDED.overdraft_limit_minor,"
        " updated_at_us = EXCLUDED.updated_at_us, head_hash = EXCLUDED.head_hash, held_minor = "
        "EXCLUDED.held_minor,"
        " frozen = EXCLUDED.frozen");
    return run_command(s, "ll_upsert_states", err);
}

/* The hold columns, one array each, in the order of upsert_holds' unnest. */
enum {
    HO_ID,
    HO_ACCOUNT,
    HO_STATUS,
    HO_CURRENCY,
    HO_AMOUNT,
    HO_CAPTURED,
    HO_REFERENCE,
    HO_PLACED_AT,
    HO_EXPIRES_AT,
    HO_SETTLED_AT,
    HO_PLACED_VERSION,
    HO_PLACED_BY,
    HO_COLUMNS
};
static const char *const HOLD_CASTS[HO_COLUMNS] = {
    "uuid[]", "uuid[]",        "text[]",        "text[]",        "bigint[]", "bigint[]",
    "text[]", "timestamptz[]", "timestamptz[]", "timestamptz[]", "bigint[]", "text[]"};

static int hold_item(ll_store_t *s, size_t i, int c, ll_error_t *err) {
    const ll_hold_t *h = &s->b->holds[i];
    char text[LL_UUID_TEXT_LEN + LL_TIME_TEXT_LEN + 1];
    (void)err; /* a hold's items cannot fail */
    switch (c) {
    case HO_ID:
    case HO_ACCOUNT:
        ll_uuid_format(c == HO_ID ? &h->hold_id : &h->account_id, text);
        ll_pgq_array_item(&s->q, text);
        break;
    case HO_STATUS:
        ll_pgq_array_item(&s->q, ll_hold_status_name(h->status));
        break;
    case HO_CURRENCY:
        ll_pgq_array_item(&s->q, h->currency.code);
        break;
    case HO_AMOUNT:
        ll_pgq_array_itemf(&s->q, "%lld", (long long)h->amount_minor);
        break;
    case HO_CAPTURED:
        ll_pgq_array_itemf(&s->q, "%lld", (long long)h->captured_minor);
        break;
    case HO_REFERENCE:
        ll_pgq_array_item(&s->q, h->reference);
        break;
    case HO_PLACED_AT:
    case HO_EXPIRES_AT:
    case HO_SETTLED_AT: {
        int64_t us = c == HO_PLACED_AT    ? h->placed_at_us
                     : c == HO_EXPIRES_AT ? h->expires_at_us
                                          : h->settled_at_us;
        if (c == HO_SETTLED_AT && h->status == LL_HOLD_OPEN) {
            ll_pgq_array_item(&s->q, NULL);
            break;
        }
        ll_time_format(us, text); /* microseconds, as the events carry them */
        ll_pgq_array_item(&s->q, text);
        break;
    }
    case HO_PLACED_VERSION:
        ll_pgq_array_itemf(&s->q, "%lld", (long long)h->placed_version);
        break;
    default:
        ll_pgq_array_item(&s->q, h->placed_by);
        break;
    }
    return 0;
}

/* The holds placed or settled in this batch: a placement inserts, a settlement updates (a hold
 * placed and settled in one batch is inserted as it ended). */
static int upsert_holds(ll_store_t *s, ll_error_t *err) {
    batch_t *b = s->b;
    size_t k = 0;
    for (size_t i = 0; i < b->n_holds; i++) k += b->hold_dirty[i] != 0;
    if (k == 0) return 0;
    ll_pgq_sql(
        &s->q,
        "INSERT INTO holds (hold_id, account_id, status, currency, amount_minor, captured_minor, reference,"
        " placed_at, expires_at, settled_at, placed_version, placed_by) SELECT * FROM unnest(");
    if (unnest_arrays(s, HO_COLUMNS, HOLD_CASTS, b->n_holds, b->hold_dirty, hold_item, err) != 0) return LL_EIO;
    ll_pgq_sql(&s->q, ") ON CONFLICT (hold_id) DO UPDATE SET status = EXCLUDED.status,"
                      " captured_minor = EXCLUDED.captured_minor, settled_at = EXCLUDED.settled_at");
    return run_command(s, "ll_upsert_holds", err);
}

/* A failed precondition (412) is not an execution: its key is released, so the client's retry
 * with the corrected If-Match and the same key runs (the fingerprint covers If-Match). */
static int keeps_key(const ll_write_t *w) {
    /* Nor is a refused expiry: the sweep asks again under the same key (the hold may be due by
     * the service's clock only later, or its account busy), and must not be answered by an old
     * refusal. An expiry that ran keeps its key: another sweeper's request is a replay. */
    /* Nor is an internal error: nothing ran, and a retry must not be answered by it. */
    return w->refusal != LL_REFUSAL_VERSION_MISMATCH && !ll_refusal_is_fault(w->refusal) &&
           !(w->cmd.type == LL_CMD_EXPIRE_HOLD && ll_write_failed(w));
}

static int answered(const ll_store_t *s, ll_write_t *const *w, size_t i) {
    return s->b->fresh[i] && keeps_key(w[i]);
}

static int released(const ll_store_t *s, ll_write_t *const *w, size_t i) {
    return s->b->fresh[i] && !keeps_key(w[i]);
}

static int store_responses(ll_store_t *s, ll_write_t *const *w, size_t n, ll_error_t *err) {
    ll_pgq_sql(&s->q, "UPDATE idempotency_keys AS i SET status_code = v.status, response = v.response"
                      " FROM unnest(");
    size_t k = key_arrays(s, w, n, NULL, answered);
    ll_pgq_sql(&s->q, ", ");
    ll_pgq_array_begin(&s->q);
    for (size_t i = 0; i < n; i++)
        if (answered(s, w, i)) ll_pgq_array_itemf(&s->q, "%d", w[i]->status);
    ll_pgq_array_end(&s->q, "int[]");
    ll_pgq_sql(&s->q, ", ");
    ll_pgq_array_begin(&s->q);
    for (size_t i = 0; i < n; i++)
        if (answered(s, w, i)) ll_pgq_array_item(&s->q, w[i]->response);
    ll_pgq_array_end(&s->q, "text[]");
    ll_pgq_sql(&s->q, ") AS v (scope, key, status, response) WHERE i.scope = v.scope AND i.key = v.key");
    if (k == 0)
        ll_pgq_reset(&s->q);
    else if (run_command(s, "ll_store_responses", err) != 0)
        return LL_EIO;
    ll_pgq_sql(&s->q, "DELETE FROM idempotency_keys WHERE (scope, key) IN (SELECT * FROM unnest(");
    k = key_arrays(s, w, n, NULL, released);
    ll_pgq_sql(&s->q, "))");
    if (k == 0) {
        ll_pgq_reset(&s->q);
        return 0;
    }
    return run_command(s, "ll_release_keys", err);
}

/* ---- one attempt --------------------------------------------------------------------------- */

static void reset_outcomes(ll_write_t *const *w, size_t n) {
    for (size_t i = 0; i < n; i++) {
        w[i]->status = 0;
        w[i]->refusal = LL_REFUSAL_NONE;
        w[i]->response[0] = '\0';
        w[i]->replayed = w[i]->stored = 0;
        w[i]->version = 0;
        w[i]->hide_destination = 0;
        w[i]->hidden_legs = 0;
    }
}

/* The whole transaction. Returns 0 when committed; otherwise rolled back with err set. */
static int attempt(ll_store_t *s, ll_write_t *const *w, size_t n, ll_error_t *err) {
    batch_t *b = s->b;
    b->n_accounts = b->n_events = b->n_holds = 0;
    reset_outcomes(w, n);
    ll_pgq_sql(&s->q, "BEGIN");
    int rc = run_command(s, NULL, err);
    if (rc == 0) rc = claim_keys(s, w, n, err);
    if (rc == 0) rc = replay_used_keys(s, w, n, err);
    if (rc == 0) rc = find_hold_accounts(s, w, n, err);
    if (rc == 0) rc = lock_accounts(s, w, n, err);
    if (rc == 0) rc = load_holds(s, w, n, err);
    if (rc == 0) rc = reserve_positions(s, w, n, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (b->fresh[i]) rc = decide_one(b, w[i], err);
    if (rc == 0) rc = insert_events(s, err);
    if (rc == 0) rc = upsert_states(s, err);
    if (rc == 0) rc = upsert_holds(s, err);
    if (rc == 0) rc = store_responses(s, w, n, err);
    if (rc == 0 && b->n_events > 0) {
        ll_pgq_sql(&s->q, "SELECT pg_notify('ledgerline_outbox', '')");
        PGresult *res = run(s, "ll_notify_outbox", PGRES_TUPLES_OK, err);
        rc = res ? 0 : LL_EIO;
        PQclear(res);
    }
    if (rc == 0) {
        ll_pgq_sql(&s->q, "COMMIT");
        rc = run_command(s, NULL, err);
    }
    if (rc != 0) {
        ll_error_t ignored;
        if (!ll_pg_broken(s->conn)) ll_pg_exec(s->conn, "ROLLBACK", &ignored);
        reset_outcomes(w, n);
        return rc;
    }
    for (size_t i = 0; i < n; i++) w[i]->stored = b->fresh[i];
    return 0;
}

/* Conflicts that a fresh attempt can resolve: unique violation (a concurrent append), deadlock,
 * serialization failure; and a broken connection (reconnect first). */
/* A statement that ran past statement_timeout (the request deadline): retrying would only
 * wait again, so the command is answered 503 at once. */
static int timed_out(const ll_store_t *s) {
    return !strcmp(s->last_sqlstate, "57014");
}

static int retryable(const ll_store_t *s) {
    return ll_pg_broken(s->conn) || !strcmp(s->last_sqlstate, "23505") ||
           !strcmp(s->last_sqlstate, "40P01") || !strcmp(s->last_sqlstate, "40001");
}

static void execute_one(ll_store_t *s, ll_write_t *w) {
    ll_error_t err = {""};
    for (int i = 0; i < LL_STORE_RETRIES; i++) {
        s->last_sqlstate[0] = '\0';
        if (connect_checked(s, &err) == 0 && attempt(s, &w, 1, &err) == 0) {
            atomic_store(&s->healthy, 1);
            return;
        }
        atomic_fetch_add(&s->errors, 1);
        if (s->conn != NULL && (!retryable(s) || timed_out(s))) break;
        ll_sleep_ms(10 * (i + 1));
    }
    atomic_store(&s->healthy, s->conn != NULL && !ll_pg_broken(s->conn));
    if (timed_out(s)) {
        ll_log_line("warn", "command", "command ran past the deadline", NULL, err.msg);
        ll_write_refused(w, LL_REFUSAL_UNAVAILABLE,
                         "the event store did not answer within the request deadline; retry with the same "
                         "Idempotency-Key");
        return;
    }
    ll_log_line("error", "command", "command failed after retries", NULL, err.msg);
    if (!atomic_load(&s->healthy) || retryable(s))
        ll_write_refused(w, LL_REFUSAL_UNAVAILABLE,
                         "the event store is unavailable; retry with the same Idempotency-Key");
    else
        ll_write_refused(w, LL_REFUSAL_INTERNAL,
                         "the command could not be stored; retry with the same Idempotency-Key");
}

int ll_store_due_holds(ll_store_t *s, int64_t now_us, ll_hold_cursor_t *after, ll_uuid_t *ids, size_t max,
                       ll_error_t *err) {
    if (connect_checked(s, err) != 0) {
        atomic_store(&s->healthy, 0);
        return -1;
    }
    char now[LL_TIME_TEXT_LEN + 1], from[LL_TIME_TEXT_LEN + 1], id[LL_UUID_TEXT_LEN + 1];
    ll_time_format(now_us, now);
    ll_time_format(after->expires_at_us, from);
    ll_uuid_format(&after->hold_id, id);
    ll_pgq_sql(&s->q, "SELECT hold_id, (extract(epoch FROM expires_at) * 1000000)::bigint FROM holds"
                      " WHERE status = 'open' AND expires_at <= ");
    ll_pgq_param(&s->q, now, "timestamptz");
    ll_pgq_sql(&s->q, " AND (expires_at, hold_id) > (");
    ll_pgq_param(&s->q, from, "timestamptz");
    ll_pgq_sql(&s->q, ", ");
    ll_pgq_param(&s->q, id, "uuid");
    ll_pgq_sql(&s->q, ") ORDER BY expires_at, hold_id LIMIT ");
    ll_pgq_paramf(&s->q, "int", "%zu", max);
    PGresult *res = run(s, "ll_due_holds", PGRES_TUPLES_OK, err);
    if (res == NULL) {
        atomic_fetch_add(&s->errors, 1);
        return -1;
    }
    int k = 0;
    for (int r = 0; r < PQntuples(res) && (size_t)k < max; r++) {
        int64_t expires;
        if (ll_uuid_parse(PQgetvalue(res, r, 0), false, &ids[k]) != 0 || ll_store_int64(res, r, 1, &expires) != 0)
            continue;
        after->hold_id = ids[k++];
        after->expires_at_us = expires;
    }
    PQclear(res);
    return k;
}

void ll_store_execute(ll_store_t *s, ll_write_t *const *writes, size_t n) {
    LL_MONEY_ASSERT(n > 0 && n <= LL_STORE_BATCH_MAX);
    ll_error_t err = {""};
    if (n > 1 && connect_checked(s, &err) == 0 && attempt(s, writes, n, &err) == 0) {
        atomic_store(&s->healthy, 1);
        return;
    }
    if (n > 1) atomic_fetch_add(&s->errors, 1);
    /* One at a time: a command that broke the batch fails alone. */
    for (size_t i = 0; i < n; i++) execute_one(s, writes[i]);
}
