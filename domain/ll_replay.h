/* ll_replay.h - folding a stream of events into state with ll_account_evolve.
 *
 * Events are given in version order from version 1 (or continuing from the state passed in).
 * Every helper stops at the first event evolve refuses, reports its index and reason, and
 * leaves the state as it was after the last good event.
 */
#ifndef LL_REPLAY_H
#define LL_REPLAY_H

#include "ll_account.h"
#include "ll_error.h"
#include "ll_event.h"

#include <stddef.h>
#include <stdint.h>

/* Called after each applied event with the state it produced. Return non-zero to stop early. */
typedef int (*ll_replay_visit_fn)(const ll_event_t *ev, const ll_account_t *after, void *ctx);

/* Applies events[0..n) to state. Returns 0, or LL_EINVAL with *failed_index (may be NULL) set
 * and err naming the version. */
int ll_replay_fold(ll_account_t *state, const ll_event_t *events, size_t n, size_t *failed_index,
                   ll_error_t *err);

/* As ll_replay_fold, calling visit after each event (audit: every event with its state_after).
 * A visit that returns non-zero stops the replay; that is not an error (returns 0). */
int ll_replay_each(ll_account_t *state, const ll_event_t *events, size_t n, ll_replay_visit_fn visit,
                   void *ctx, size_t *failed_index, ll_error_t *err);

/* The state as of instant as_of_us: applies events in version order while occurred_at_us <=
 * as_of_us, and stops at the first later one (a later version cannot count without the earlier
 * ones, even if a clock stepped back). *applied (may be NULL) gets the number of events used. */
int ll_replay_as_of(ll_account_t *state, const ll_event_t *events, size_t n, int64_t as_of_us,
                    size_t *applied, ll_error_t *err);

/* Decodes one stored envelope (JSON text) into *ev and applies it to state: the step every
 * replay of the event store takes. Returns 0, or LL_EINVAL with err saying why (undecodable, or
 * refused by evolve); state is then unchanged. */
int ll_replay_envelope(ll_account_t *state, const char *text, size_t len, ll_event_t *ev, ll_error_t *err);

/* Moves state, which holds the account right after its AccountOpened (version 1), to right
 * after last (version >= 2), taking last's own figures (its balance_after_minor, its hash as the
 * head) without the events in between: where a reader of versions after last.version starts,
 * paying only for what it reads. Those events are then checked against last as any replay
 * checks them; the chain before last is audit/verify's to check. Returns 0, or LL_EINVAL (state
 * unchanged) when last cannot follow state: another account, not later, an AccountOpened, a
 * movement in another currency or below the floor, a balance left by AccountClosed. */
int ll_replay_resume(ll_account_t *state, const ll_event_t *last, ll_error_t *err);

#endif
