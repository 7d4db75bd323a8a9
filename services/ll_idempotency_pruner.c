/* ll_idempotency_pruner.c - see ll_idempotency_pruner.h. */
#include "ll_idempotency_pruner.h"

#include "ll_log.h"
#include "ll_pg.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ll_idempotency_pruner {
    char *conninfo;
    long long retention_s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    int stopping; /* under mu */
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

/* Waits ms or until stop; returns 1 when stopping. */
static int sleep_or_stop(ll_idempotency_pruner_t *p, long long ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&p->mu);
    while (!p->stopping && pthread_cond_timedwait(&p->wake, &p->mu, &until) != ETIMEDOUT) {
    }
    int stopping = p->stopping;
    pthread_mutex_unlock(&p->mu);
    return stopping;
}

static int stopping(ll_idempotency_pruner_t *p) {
    pthread_mutex_lock(&p->mu);
    int s = p->stopping;
    pthread_mutex_unlock(&p->mu);
    return s;
}

/* Deletes expired keys chunk by chunk until a chunk comes back short. Returns 0 or LL_EIO. */
static int prune(ll_idempotency_pruner_t *p, PGconn *conn, ll_error_t *err) {
    char retention[24], chunk[16];
    snprintf(retention, sizeof retention, "%lld", p->retention_s);
    snprintf(chunk, sizeof chunk, "%d", LL_PRUNE_CHUNK);
    const char *params[2] = {retention, chunk};
    for (;;) {
        PGresult *res = ll_pg_query(conn, PRUNE_SQL, 2, params, PGRES_COMMAND_OK, err);
        if (res == NULL) return LL_EIO;
        long n = strtol(PQcmdTuples(res), NULL, 10);
        PQclear(res);
        atomic_fetch_add(&p->deleted, (uint_fast64_t)n);
        if (n < LL_PRUNE_CHUNK || stopping(p)) return 0;
    }
}

static void *pruner_main(void *arg) {
    ll_idempotency_pruner_t *p = arg;
    PGconn *conn = NULL;
    while (!sleep_or_stop(p, interval_ms(p->retention_s))) {
        ll_error_t err = {""};
        if (ll_pg_broken(conn)) {
            PQfinish(conn);
            if ((conn = ll_pg_connect_bounded(p->conninfo, 30000, &err)) == NULL) {
                ll_log_line("warn", "command", "idempotency key pruning: database unavailable", NULL, err.msg);
                continue;
            }
        }
        if (prune(p, conn, &err) != 0)
            ll_log_line("warn", "command", "idempotency key pruning failed; trying again later", NULL, err.msg);
    }
    PQfinish(conn);
    return NULL;
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
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (pthread_create(&p->thread, NULL, pruner_main, p) != 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->mu);
        free(p->conninfo);
        free(p);
        ll_error_set(err, LL_EIO, "cannot start the idempotency key pruner");
        return NULL;
    }
    return p;
}

uint64_t ll_idempotency_pruner_deleted(ll_idempotency_pruner_t *p) {
    return p ? atomic_load(&p->deleted) : 0;
}

void ll_idempotency_pruner_stop(ll_idempotency_pruner_t *p) {
    if (p == NULL) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->conninfo);
    free(p);
}
