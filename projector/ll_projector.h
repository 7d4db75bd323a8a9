/* ll_projector.h - consumes the account-events topic into the MongoDB read models.
 *
 * A round polls a batch (up to batch_max messages or batch_ms), decodes every envelope strictly
 * (an undecodable one goes to the dead-letter topic with the reason, and the projector moves on)
 * and groups the events by account. What the read model holds of each account comes from the
 * projector's memory of what it wrote (ll_account_cache.h), else from one lookup; its events
 * are folded with ll_account_evolve - the same function the command service decides with - and
 * its writes planned (ll_read_model_writes.h) and executed with the other accounts of its share
 * on one of projector_writers connections, all shares at once. An event at or below the
 * account's version is a duplicate (skipped and counted; unless what is held was taken on the
 * event store's word: then the account is read whole and brought up to the store); a gap, once
 * a fresh read confirms it, is closed from the event store (PostgreSQL), and while the store
 * cannot be read the batch is retried, never skipped; an event the store does not hold goes to
 * the dead-letter topic; one evolve refuses is replaced by the store's own event, or, when the
 * store's is refused too, goes to the dead-letter topic and halts the account. An account found
 * further along than the projector thought (another writer) is read whole and written again.
 * Offsets are committed only after every write of the batch succeeded, tagged with the read-model
 * generation written to; a failed write retries the same batch. docs/read-side.md says what is
 * trusted and what heals it.
 */
#ifndef LL_PROJECTOR_H
#define LL_PROJECTOR_H

#include "ll_config.h"
#include "ll_error.h"

#include <signal.h>

typedef struct ll_projector_options {
    const ll_config_t *cfg;
    const char *group_id;       /* Kafka consumer group */
    int batch_max;              /* messages per round */
    int batch_ms;               /* how long a round collects */
    int metrics_interval_ms;    /* how often a metrics line is logged */
    const char *metrics_listen; /* HOST:PORT of GET /metrics and /healthz */
} ll_projector_options_t;

/* Runs until *stop is set; finishes and commits the batch in flight, then returns 0.
 * Returns a negative code only for errors it cannot wait out (configuration). */
int ll_projector_run(const ll_projector_options_t *opt, volatile sig_atomic_t *stop, ll_error_t *err);

#endif
