/* ll_query_job.h - one query between the HTTP loop and a worker: the parsed request and the
 * response the worker renders. Shared by ll_query_api.c (loop side) and ll_query_handlers.c
 * (worker side). */
#ifndef LL_QUERY_JOB_H
#define LL_QUERY_JOB_H

#include "ll_account_view.h"
#include "ll_config.h"
#include "ll_event_reader.h"
#include "ll_http_app.h"
#include "ll_offload.h"
#include "ll_rm_follow.h"
#include "ll_statement_filter.h"
#include "ll_uuid.h"

#include <h2o.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

typedef enum {
    LL_Q_ACCOUNT,
    LL_Q_TRANSACTIONS,
    LL_Q_BALANCE,
    LL_Q_AUDIT,
    LL_Q_VERIFY,
    LL_Q_READY,
    LL_Q_HOLD,  /* GET /v1/holds/{id} */
    LL_Q_HOLDS, /* GET /v1/accounts/{id}/holds?status=open */
} ll_query_kind_t;

typedef struct ll_query_job {
    ll_offload_job_t super;
    struct ll_query_api *api; /* the loop side's, for a wait between looks */
    /* request: set on the loop thread */
    ll_query_kind_t kind;
    ll_uuid_t account_id;
    ll_uuid_t hold_id;                        /* LL_Q_HOLD */
    int64_t min_version;                      /* -1: none */
    int64_t limit;                            /* transactions, audit, holds */
    int64_t cursor;                           /* transactions: versions below it; holds: placed
                                               * versions above it; -1 none */
    ll_stmt_filter_t filter;                  /* transactions: from, to, type (none: all) */
    int64_t from_version;                     /* audit */
    int64_t to_version;                       /* audit; -1: from + limit - 1 */
    int64_t as_of_us;                         /* balance */
    char owner_scope[LL_OWNER_BYTES_MAX + 1]; /* a customer's sub: its accounts only; "" any */
    int64_t deadline_ms;                      /* a wait (min_version, a statement) answers 503 after */
    /* a wait between looks: on the loop thread, no worker held (ll_query_api.c) */
    int again;               /* set by the worker: not there yet, look again before the deadline */
    int64_t wait_version;    /* the version waited for in the read store (min_version, or the one
                              * a statement must show, set by the worker); 0: none */
    int store_looks;         /* looks at the read store for it so far (by the worker) */
    int64_t gate_opened_for; /* the wait_version the projector was seen past (the store was then
                              * read for it); 0: none */
    int64_t next_look_ms;    /* a wait that polls the read store looks again from then */
    uint64_t subject;     /* hash of the caller's "role:sub", for its cap on waits */
    h2o_timeout_entry_t timer; /* when to look again */
    uint64_t waiter;      /* the caller's subject, hashed, while it counts against its cap; 0 none */
    /* response: set by the worker */
    int status;
    char *body; /* malloc'd; problem+json when status >= 400 */
    char etag[32];
    int retry_after_s; /* 0: no Retry-After */
    ll_http_job_t life; /* the request (NULL once gone) and references: ll_http_app.h */
} ll_query_job_t;

/* What every worker shares: borrowed from the API, which outlives its workers. */
typedef struct ll_query_shared {
    const ll_config_t *cfg;
    ll_account_view_t *view;                      /* NULL: the live view is off */
    atomic_uint_fast64_t mongo_errors, pg_errors; /* failed reads, for /metrics */
    /* /readyz answers from the last check for a second: it takes no token, so its price must
     * not grow with its callers. ready: 0 none yet, else an ll_query_ready_t. */
    atomic_int ready;
    atomic_llong ready_checked_ms, ready_refreshing_ms;
    atomic_uint_fast64_t ready_checks;       /* checks run, for /metrics */
    atomic_uint_fast64_t store_events_read; /* events read from the event store (streams) */
    atomic_uint_fast64_t wait_store_reads;  /* read-store looks for a version waited for */
    atomic_uint_fast64_t time_probes;       /* times_g lookups of statements by time */
    atomic_uint_fast64_t unindexed_walks;   /* ... that found a page without one (walked instead) */
} ll_query_shared_t;

typedef enum { LL_READY_UNKNOWN, LL_READY_OK, LL_READY_NO_MONGO, LL_READY_NO_PG } ll_query_ready_t;
#define LL_READY_CACHE_MS 1000

/* A worker's own connections (read-store clients and libpq connections are not thread-safe). */
typedef struct ll_query_worker {
    const ll_config_t *cfg;
    ll_account_view_t *view; /* borrowed; NULL when off */
    ll_query_shared_t *shared;
    ll_rm_client_t *mongo;
    PGconn *pg;
    ll_event_reader_t *events; /* the event store's reads, on pg */
    ll_rm_follower_t follow; /* the active read-model generation, on mongo */
} ll_query_worker_t;

/* shared: an ll_query_shared_t. */
void *ll_query_worker_init(void *shared, ll_error_t *err);
void ll_query_worker_fini(void *worker);

/* Runs job->kind on the worker; always leaves status and body set. */
void ll_query_run(ll_offload_job_t *job, void *worker);

/* The account document as the API answers it (account_id, owner, currency, status,
 * balance_minor, held_minor, available_minor, overdraft_limit_minor, frozen, version,
 * updated_at): malloc'd JSON text, or NULL when out of memory. */
char *ll_query_account_body(const ll_account_t *a);

/* True when the job's principal may see account a (operators and auditors see all). */
static inline int ll_query_may_see(const ll_query_job_t *job, const ll_account_t *a) {
    return job->owner_scope[0] == '\0' || strcmp(job->owner_scope, a->owner) == 0;
}

/* Sets the 503 not-yet-visible answer of a wait at its deadline. */
void ll_query_not_yet_visible(ll_query_job_t *job);

/* Sets a problem response. */
void ll_query_problem(ll_query_job_t *job, int status, const char *slug, const char *title,
                      const char *detail);

#endif
