/* ll_projector.h - consumes the account-events topic into the MongoDB read models.
 *
 * A round polls a batch (up to batch_max messages or batch_ms), decodes every envelope strictly
 * (an undecodable one goes to the dead-letter topic with the reason, and the projector moves on),
 * groups the events by account, loads each account's document once, folds its events with
 * ll_account_evolve - the same function the command service decides with - and writes the
 * account once per batch, guarded by the version it was loaded at. An event at or below the
 * document's version is a duplicate (skipped and counted); a gap stops that account and raises
 * an alarm (logged, counted) instead of guessing; an event evolve refuses otherwise goes to the
 * dead-letter topic and stops the account. Events are inserted into events_g<N> (event
 * id as _id, so re-inserting is harmless) before the account document. Offsets are committed
 * only after every write of the batch succeeded; a failed write retries the same batch.
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
