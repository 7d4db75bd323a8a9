/* ll_hold.h - one hold (two-phase reservation) as the write side keeps it between its events.
 *
 * A hold lives on its account's stream: HoldPlaced opens it, and exactly one of HoldCaptured,
 * HoldReleased or HoldExpired ends it. The account's state carries only the sum of open holds
 * (held_minor); deciding a capture or release needs the hold itself, which the event store keeps
 * in a table written in the same transaction as the events (services/ll_store.c) and which
 * ll_hold_apply folds the same way from the events. */
#ifndef LL_HOLD_H
#define LL_HOLD_H

#include "ll_error.h"
#include "ll_event.h"

#include <stdint.h>

typedef enum ll_hold_status {
    LL_HOLD_NONE = 0, /* no such hold */
    LL_HOLD_OPEN,
    LL_HOLD_CAPTURED,
    LL_HOLD_RELEASED,
    LL_HOLD_EXPIRED,
} ll_hold_status_t;

/* Invariants: status NONE iff nothing placed; captured_minor <= amount_minor; captured_minor > 0
 * only when CAPTURED; settled_at_us 0 while OPEN. */
typedef struct ll_hold {
    ll_uuid_t hold_id;
    ll_uuid_t account_id;
    ll_hold_status_t status;
    ll_currency_t currency;
    int64_t amount_minor;   /* what was reserved */
    int64_t captured_minor; /* what a capture took */
    int64_t placed_at_us, expires_at_us, settled_at_us;
    int64_t placed_version; /* the account version of HoldPlaced */
    char placed_by[LL_ACTOR_BYTES_MAX + 1]; /* HoldPlaced's actor: whose hold it is to settle */
    char reference[LL_REFERENCE_BYTES_MAX + 1];
} ll_hold_t;

/* An empty (NONE) hold of id. */
void ll_hold_init(ll_hold_t *h, const ll_uuid_t *id);

/* Applies a hold event of this hold. Returns 0, or LL_EINVAL (h unchanged) when ev is not a
 * hold event of h or does not follow its status (placed twice, ended twice, amounts that differ). */
int ll_hold_apply(ll_hold_t *h, const ll_event_t *ev, ll_error_t *err);

/* "open", "captured", "released", "expired", "none". */
const char *ll_hold_status_name(ll_hold_status_t s);

/* The status named by name, or LL_HOLD_NONE. */
ll_hold_status_t ll_hold_status_from_name(const char *name);

#endif
