/* ll_hold_expiry.h - appends HoldExpired for every open hold past its expires_at, in the
 * background (issue #33: "appended by the system within seconds of the expiry").
 *
 * One thread with a store connection of its own (ll_store_t). About every interval it looks up
 * the open holds due by its own clock (the clock the decision uses, so a hold it finds is due
 * when decided), LL_HOLD_EXPIRY_BATCH at a time through the partial index on open holds, and
 * submits an expire command for each through the normal store path: the account is locked, the
 * hold re-read, the event hash-chained and published like any other. Each expiry has the
 * Idempotency-Key "expire:<hold_id>" in the scope "system:expiry", so command services sweeping
 * at once, or one restarted mid-sweep, expire a hold once: the others get a replay, a key in use
 * or hold-not-open, all ignored. A refused expiry keeps no key (ll_store), so the next round
 * asks again. Failures are logged; the next round tries again.
 */
#ifndef LL_HOLD_EXPIRY_H
#define LL_HOLD_EXPIRY_H

#include "ll_error.h"

#include <stdint.h>

#define LL_HOLD_EXPIRY_BATCH 256 /* due holds looked up per round; a full round looks again */

#define LL_HOLD_EXPIRY_SCOPE "system:expiry" /* the actor and idempotency scope of expiries */

typedef struct ll_hold_expiry ll_hold_expiry_t;

/* Starts the thread (it connects, and reconnects, by itself), sweeping every interval_ms;
 * statements bounded by statement_timeout_ms, keys kept retention_s (ll_store_open). Returns NULL
 * with err set. */
ll_hold_expiry_t *ll_hold_expiry_start(const char *conninfo, long long statement_timeout_ms,
                                       long long retention_s, long long interval_ms, ll_error_t *err);

/* Holds this sweeper expired so far (replays of another's expiry not counted); any thread. */
uint64_t ll_hold_expiry_expired(ll_hold_expiry_t *x);

/* Sweeps attempted that failed (database unavailable, an expiry answered 5xx); any thread. */
uint64_t ll_hold_expiry_failures(ll_hold_expiry_t *x);

/* Stops the thread (a round in flight finishes its batch) and frees x. NULL is fine. */
void ll_hold_expiry_stop(ll_hold_expiry_t *x);

#endif
