/* ll_command.h - commands and decide: state + command -> events, or a typed rejection.
 *
 * decide is pure: ids and the clock come from the caller in ll_command_meta_t, so the same
 * inputs always give the same events. The events it returns are complete envelopes except for
 * global_position and hash, which the event store fills when it appends and seals them.
 */
#ifndef LL_COMMAND_H
#define LL_COMMAND_H

#include "ll_account.h"
#include "ll_event.h"
#include "ll_hold.h"
#include "ll_rejection.h"

#include <stdint.h>

typedef enum ll_command_type {
    LL_CMD_NONE = 0,
    LL_CMD_OPEN,
    LL_CMD_DEPOSIT,
    LL_CMD_WITHDRAW,
    LL_CMD_TRANSFER,
    LL_CMD_CLOSE,
    LL_CMD_PLACE_HOLD,
    LL_CMD_CAPTURE_HOLD,
    LL_CMD_RELEASE_HOLD,
    LL_CMD_EXPIRE_HOLD, /* the system's, never a client's */
    LL_CMD_SET_CREDIT_LIMIT,
    LL_CMD_FREEZE,
    LL_CMD_UNFREEZE,
    LL_CMD_PAYMENT,
} ll_command_type_t;

/* One leg of a payment: a transfer. */
typedef struct ll_payment_leg {
    ll_uuid_t from_account_id, to_account_id;
    int64_t amount_minor;
    ll_currency_t currency;
} ll_payment_leg_t;

/* One command. Fields not used by its type are zero. */
typedef struct ll_command {
    ll_command_type_t type;
    ll_uuid_t account_id;                       /* open: the new id; transfer: the source; a hold
                                                   command: the hold's account (the store finds it);
                                                   else the target */
    ll_uuid_t to_account_id;                    /* transfer, capture (nil: a withdrawal) */
    ll_uuid_t transfer_id;                      /* transfer, capture to an account: both legs */
    ll_uuid_t hold_id;                          /* place: the new id; capture, release, expire */
    char owner[LL_OWNER_BYTES_MAX + 1];         /* open */
    ll_currency_t currency;                     /* open, deposit, withdraw, transfer, place */
    int64_t amount_minor;                       /* deposit, withdraw, transfer, place, capture */
    char reference[LL_REFERENCE_BYTES_MAX + 1]; /* money commands, payment; may be "" */
    int64_t expires_in_s;                       /* place: 1..LL_HOLD_EXPIRY_MAX_S */
    int64_t overdraft_limit_minor;              /* set credit limit */
    char reason[LL_FREEZE_REASON_BYTES_MAX + 1]; /* freeze */
    ll_uuid_t payment_id;                       /* payment: carried by every leg's events */
    int leg_count;                              /* payment: 1..LL_PAYMENT_LEGS_MAX */
    ll_payment_leg_t legs[LL_PAYMENT_LEGS_MAX];
} ll_command_t;

/* What decide needs from outside, read by the caller: fresh event ids and the clock. */
typedef struct ll_command_meta {
    ll_uuid_t event_ids[LL_DECISION_EVENTS_MAX]; /* one per event the command may produce */
    int64_t occurred_at_us;
    char command_id[LL_COMMAND_ID_BYTES_MAX + 1];
    char correlation_id[LL_CORRELATION_BYTES_MAX + 1];
    char actor[LL_ACTOR_BYTES_MAX + 1];
} ll_command_meta_t;

/* The outcome. Accepted: rejection == LL_REJECT_NONE and event_count events in stream order
 * (a transfer: [0] TransferSent on the source, [1] TransferReceived on the destination).
 * Rejected: event_count == 0 and detail says why in one sentence with the numbers. */
typedef struct ll_decision {
    ll_rejection_t rejection;
    char detail[256];
    int failed_leg;         /* a refused payment: the first refused leg (0-based); else -1 */
    int failed_destination; /* refused for the destination's reasons, the source's were fine */
    int event_count;
    ll_event_t events[LL_DECISION_EVENTS_MAX];
} ll_decision_t;

/* Decides an open, deposit, withdraw, close, place-hold, set-credit-limit, freeze or unfreeze
 * command against state (the account's current state; for open, the state of the new id,
 * normally empty). Transfers, hold settlements and payments here are a programming error
 * (abort): they have their own deciders below. A frozen account refuses every debit (withdraw,
 * place hold) and close; credits land. Debits are checked against available (balance - held). */
void ll_decide(const ll_account_t *state, const ll_command_t *cmd, const ll_command_meta_t *meta,
               ll_decision_t *out);

/* Decides a transfer between two accounts: both must exist, be open and hold the command's
 * currency; the source must stay at or above its floor and the destination within int64.
 * Money is conserved (asserted, also in release builds). */
void ll_decide_transfer(const ll_account_t *from, const ll_account_t *to, const ll_command_t *cmd,
                        const ll_command_meta_t *meta, ll_decision_t *out);

/* Decides a capture, release or expire of hold (the store's record of it; status NONE when there
 * is none) on account (the hold's). to: a capture's destination account, else NULL. A capture
 * takes 1..amount of an open, unexpired hold of an unfrozen account (to another account as a
 * transfer: HoldCaptured + TransferReceived with one transfer_id, else as a withdrawal) and
 * releases the rest; a release ends an open hold; an expire (the system's) ends an open hold at
 * or after its expires_at. Releases and expiries also run on frozen accounts. */
void ll_decide_hold(const ll_account_t *account, const ll_hold_t *hold, const ll_account_t *to,
                    const ll_command_t *cmd, const ll_command_meta_t *meta, ll_decision_t *out);

/* Decides a payment: every leg as a transfer (the rules of ll_decide_transfer), in order, each
 * against the state the legs before it left; all legs or none. accounts[0..n) holds the state
 * of every account the legs name, once each. Accepted: per leg, TransferSent then
 * TransferReceived, all with cmd->payment_id and one transfer_id per leg (transfer_ids[i]).
 * The events of an account named twice follow each other in version; their prev_hash is the
 * account's head before the payment, so the caller links each to the one before as it seals
 * them (ll_store). Refused: failed_leg and a detail naming the leg. */
void ll_decide_payment(const ll_account_t *accounts, size_t n, const ll_command_t *cmd,
                       const ll_uuid_t *transfer_ids, const ll_command_meta_t *meta, ll_decision_t *out);

#endif
