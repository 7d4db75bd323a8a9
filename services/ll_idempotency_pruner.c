/* ll_idempotency_pruner.c - see ll_idempotency_pruner.h. */
#include "ll_idempotency_pruner.h"

#include "ll_log.h"
#include "ll_periodic.h"
#include "ll_pg.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ll_idempotency_pruner {
    char *conninfo;
    long long retention_s;
    ll_periodic_t *thread;
    PGconn *conn; /* the thread's; NULL until connected */
    atomic_uint_fast64_t deleted;
};

static const char PRUNE_SQL[] =
    "DELETE FROM idempotency_keys WHERE (scope, key) IN ("
    " SELECT scope, key FROM idempotency_keys"
    "  WHERE created_at < now() - make_interval(secs => $1::double precision) AND status_code <> 0"
    "  ORDER BY created_at LIMIT $2::int FOR UPDATE SKIP LOCKED)";

static long long interval_ms(long long retention_s) {
    long long ms = retention_s * 1000 / 4;
    return ms < 1000 ? 1000 : ms > 60000 ? 60000 : ms;
}

/* Deletes expired keys chunk by chunk until a chunk comes back short. Returns 0 or LL_EIO. */
static int prune(ll_idempotency_pruner_t *p, ll_periodic_t *thread, ll_error_t *err) {
    char retention[24], chunk[16];
    snprintf(retention, sizeof retention, "%lld", p->retention_s);
    snprintf(chunk, sizeof chunk, "%d", LL_PRUNE_CHUNK);
    const char *params[2] = {retention, chunk};
    for (;;) {
        PGresult *res = ll_pg_query(p->conn, PRUNE_SQL, 2, params, PGRES_COMMAND_OK, err);
        if (res == NULL) return LL_EIO;
        long n = strtol(PQcmdTuples(res), NULL, 10);
        PQclear(res);
        atomic_fetch_add(&p->deleted, (uint_fast64_t)n);
        if (n < LL_PRUNE_CHUNK || ll_periodic_stopping(thread)) return 0;
    }
}

/* One round: (re)connect when needed, then prune. */
static void prune_round(ll_periodic_t *thread, void *arg) {
    ll_idempotency_pruner_t *p = arg;
    ll_error_t err = {""};
    if (ll_pg_broken(p->conn)) {
        PQfinish(p->conn);
        if ((p->conn = ll_pg_connect_bounded(p->conninfo, 30000, &err)) == NULL) {
            ll_log_line("warn", "command", "idempotency key pruning: database unavailable", NULL, err.msg);
            return;
        }
    }
    if (prune(p, thread, &err) != 0)
        ll_log_line("warn", "command", "idempotency key pruning failed; trying again later", NULL, err.msg);
}

ll_idempotency_pruner_t *ll_idempotency_pruner_start(const char *conninfo, long long retention_s,
                                                     ll_error_t *err) {
    ll_idempotency_pruner_t *p = calloc(1, sizeof *p);
    if (p == NULL || (p->conninfo = strdup(conninfo)) == NULL) {
        free(p);
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    p->retention_s = retention_s;
    p->thread = ll_periodic_start("idempotency key pruner", interval_ms(retention_s), prune_round, p, err);
    if (p->thread == NULL) {
        free(p->conninfo);
        free(p);
        return NULL;
    }
    return p;
}

uint64_t ll_idempotency_pruner_deleted(ll_idempotency_pruner_t *p) {
    return p ? atomic_load(&p->deleted) : 0;
}

void ll_idempotency_pruner_stop(ll_idempotency_pruner_t *p) {
    if (p == NULL) return;
    ll_periodic_stop(p->thread); /* joined: the connection is the caller's now */
    PQfinish(p->conn);
    free(p->conninfo);
    free(p);
}
