/* ll_relay.h - publishes the outbox to Kafka.
 *
 * One relay publishes at a time (a PostgreSQL advisory lock; others wait as standbys), so each
 * account's events reach Kafka in version order. A round reads outbox rows in global-position
 * order (per account that is version order, because an account's transactions are serialised
 * by its state-row lock), produces them keyed by account id with the envelope as value and
 * headers type and schema_version, waits for the delivery reports, and deletes exactly the rows
 * Kafka acknowledged. A row that commits late is simply read in a later round: rows are deleted,
 * never skipped by a high-water mark. Undelivered rows stay and are retried with backoff, so a
 * broker outage delays events but loses none; a crash re-publishes (at least once; projectors
 * drop duplicates by version). Woken by LISTEN/NOTIFY, with a polling fallback.
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
    int metrics_interval_ms; /* how often a metrics line is logged */
} ll_relay_options_t;

/* Runs until *stop is set; then finishes the round in flight (bounded) and returns 0.
 * Returns a negative code only for errors it cannot wait out (bad configuration). */
int ll_relay_run(const ll_relay_options_t *opt, volatile sig_atomic_t *stop, ll_error_t *err);

#endif
