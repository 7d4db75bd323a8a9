/* ll_account.h - the state of one account stream, and evolve: state + event -> state.
 *
 * evolve never guesses: an event that does not follow the state exactly (wrong account, a
 * version gap or repeat, a broken hash link, an amount or balance that does not add up, a type
 * not allowed in the current status) is refused with a reason and the state stays unchanged.
 * The projector, the audit replay and the command service all fold events with it.
 */
#ifndef LL_ACCOUNT_H
#define LL_ACCOUNT_H

#include "ll_error.h"
#include "ll_event.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum ll_account_status {
    LL_ACCOUNT_NONE = 0, /* no events yet: the account does not exist */
    LL_ACCOUNT_OPEN,
    LL_ACCOUNT_CLOSED,
} ll_account_status_t;

/* Invariants: version == number of events applied; status NONE iff version == 0;
 * held_minor >= 0 (the sum of open holds); available (balance - held) >= -overdraft_limit_minor;
 * head_hash is the last event's hash (LL_HASH_ZERO before the first). A frozen account is open:
 * it refuses debits and still receives credits. */
typedef struct ll_account {
    ll_uuid_t account_id;
    int64_t version;
    ll_account_status_t status;
    char owner[LL_OWNER_BYTES_MAX + 1];
    ll_currency_t currency;
    int64_t balance_minor;
    int64_t held_minor;            /* reserved by open holds: not available to spend */
    int64_t overdraft_limit_minor; /* CreditLimitSet: available may go down to minus this */
    bool frozen;                   /* AccountFrozen .. AccountUnfrozen */
    int64_t opened_at_us;
    int64_t updated_at_us;
    char head_hash[LL_HASH_HEX_LEN + 1];
} ll_account_t;

/* What evolve concluded. Codes other than OK leave the state untouched. */
typedef enum ll_evolve {
    LL_EVOLVE_OK = 0,
    LL_EVOLVE_DUPLICATE,   /* version <= state version: already applied (projectors skip it) */
    LL_EVOLVE_GAP,         /* version > state version + 1: an event is missing */
    LL_EVOLVE_INCONSISTENT /* anything else that does not follow: never apply, alarm */
} ll_evolve_t;

/* The empty stream of account id (version 0, status NONE). */
void ll_account_init(ll_account_t *a, const ll_uuid_t *id);

/* Applies ev to a. Returns LL_EVOLVE_OK, or another code with the reason in err (naming the
 * event's version) and a unchanged. ev must be sealed (hash set). */
ll_evolve_t ll_account_evolve(ll_account_t *a, const ll_event_t *ev, ll_error_t *err);

/* The state once `last` applied, from the stream's AccountOpened (`opened`) and `last` alone:
 * every field is fixed by the opening or carried by the newest event (its figures after,
 * ll_event_after_t, occurred_at and hash), so a reader that trusts a store holding the whole stream needs two
 * events, not a replay (the projector, for an account it does not remember). Equal to folding
 * the stream through last. Returns 0, or LL_EINVAL when they cannot be the first event and a
 * later one of one stream (nothing else is checked: the store decided and chained them). */
int ll_account_at(const ll_event_t *opened, const ll_event_t *last, ll_account_t *out, ll_error_t *err);

/* Takes last's own figures into a (status, balance, held, limit, frozen, version, head): the
 * step of ll_account_at and ll_replay_resume. Returns 0, or LL_EINVAL (a unchanged) when last
 * cannot follow an open account of a's currency: an AccountOpened, a money event in another
 * currency, figures below the floor. */
int ll_account_take_figures(ll_account_t *a, const ll_event_t *last, ll_error_t *err);

/* The lowest available amount (balance - held) the account may reach: -overdraft_limit_minor. */
int64_t ll_account_floor(const ll_account_t *a);

/* What may be spent: balance - held (never overflows: held >= 0 and both are int64). */
int64_t ll_account_available(const ll_account_t *a);

const char *ll_account_status_name(ll_account_status_t s); /* "open", "closed", "none" */

/* The status a stored document or row names ("open" or "closed") into *out. Returns 0, or -1
 * (out unchanged) for any other text: "none" is never stored. */
int ll_account_status_parse(const char *name, ll_account_status_t *out);

#endif
