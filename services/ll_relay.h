/* ll_relay.h - publishes the outbox to Kafka.
 *
 * One relay publishes at a time (a PostgreSQL advisory lock; others wait as standbys), so each
 * account's events reach Kafka in version order. A round reads outbox rows in global-position
 * order (per account that is version order, because an account's transactions are serialised
 * by its state-row lock), produces them keyed by account id with the envelope as value and
 * headers type and schema_version, waits for the delivery reports, and deletes the rows Kafka
 * acknowledged, but never an account's row past one of its rows it did not (ll_outbox_order.h):
 * those are published again, in order. A row that commits late is simply read in a later round: rows are
 * deleted, never skipped by a high-water mark. Undelivered rows stay and are retried with backoff, so a
 * broker outage delays events but loses none; a crash re-publishes (at least once; projectors
 * drop duplicates by version). Woken by LISTEN/NOTIFY, with a polling fallback. A publisher that
 * stops answering (paused, frozen) keeps its session and with it the lock: a standby that sees
 * the lock holder's session idle for takeover_ms ends it and takes over; the paused one, when it
 * resumes, finds its session gone before it can delete a row.
 */
#ifndef LL_RELAY_H
#define LL_RELAY_H

#include "ll_error.h"

#include <signal.h>

typedef struct ll_relay_options {
    const char *pg_conninfo;
    const char *bootstrap_servers;
    const char *topic;
    int batch_max;           /* outbox rows per round */
    int poll_interval_ms;    /* fallback when no NOTIFY arrives */
    int delivery_wait_ms;    /* a round waits this long for Kafka's reports, then retries */
    int metrics_interval_ms; /* how often a metrics line is logged */
    int takeover_ms;         /* a standby ends the session of a publisher silent this long; 0: never */
    const char *metrics_listen; /* HOST:PORT of /metrics and /healthz; NULL: none */
} ll_relay_options_t;

/* What the relay's /metrics shows. */
typedef struct {
    int leader;
    long long outbox_depth; /* -1: unknown (database unreachable) */
    long long oldest_undelivered_ms;
    long long published_total, failed_total;
    long long pg_errors, kafka_errors;
    long long latency_p50_us, latency_p99_us;
} ll_relay_snapshot_t;

/* Renders s as Prometheus text: malloc'd, NULL when out of memory. Pure: exposed for tests. */
char *ll_relay_metrics_render(const ll_relay_snapshot_t *s);

/* Runs until *stop is set; then finishes the round in flight (bounded) and returns 0.
 * Returns a negative code only for errors it cannot wait out (bad configuration). */
int ll_relay_run(const ll_relay_options_t *opt, volatile sig_atomic_t *stop, ll_error_t *err);

#endif
