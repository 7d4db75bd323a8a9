/* ll_event.h - the domain events of an account stream and their envelope.
 *
 * Events are past-tense facts. Each carries the resolved result (balance_after_minor), not just
 * the operation, so a reader can check every step without trusting its own arithmetic.
 * An envelope is a fixed-size struct: encoding, decoding and replay allocate nothing for it.
 */
#ifndef LL_EVENT_H
#define LL_EVENT_H

#include "ll_limits.h"
#include "ll_money.h"
#include "ll_uuid.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum ll_event_type {
    LL_EVENT_NONE = 0,
    LL_EVENT_ACCOUNT_OPENED,
    LL_EVENT_MONEY_DEPOSITED,
    LL_EVENT_MONEY_WITHDRAWN,
    LL_EVENT_TRANSFER_SENT,
    LL_EVENT_TRANSFER_RECEIVED,
    LL_EVENT_ACCOUNT_CLOSED,
    LL_EVENT_HOLD_PLACED,      /* part of the balance reserved: available goes down */
    LL_EVENT_HOLD_CAPTURED,    /* the reserved money (some or all) leaves; the rest is released */
    LL_EVENT_HOLD_RELEASED,    /* the whole hold released on request */
    LL_EVENT_HOLD_EXPIRED,     /* the whole hold released by the system at expires_at */
    LL_EVENT_CREDIT_LIMIT_SET, /* the overdraft limit changed */
    LL_EVENT_ACCOUNT_FROZEN,   /* debits refused from now on; credits still land */
    LL_EVENT_ACCOUNT_UNFROZEN,
    LL_EVENT_TYPE_COUNT
} ll_event_type_t;

/* Schema version that this build writes for every type. Older versions are read through
 * upcasters (ll_event_codec.h); newer ones are refused, never guessed. Version 2 added the
 * account's figures after the event (held, limit, frozen) to every event but the opening and the
 * closing, holds, limits, freezes and payment ids. */
#define LL_EVENT_SCHEMA_VERSION_CURRENT 2

#define LL_HASH_HEX_LEN 64

/* data of AccountOpened. */
typedef struct {
    char owner[LL_OWNER_BYTES_MAX + 1];
    ll_currency_t currency;
} ll_data_opened_t;

/* data of the money events: MoneyDeposited, MoneyWithdrawn, TransferSent, TransferReceived and
 * the four hold events. For the two transfer events (and a capture to another account),
 * transfer_id and counterparty_id (the other account) are set; a payment's legs also carry
 * payment_id; hold events carry hold_id. Fields a type does not use are nil / 0 / "".
 * Invariant: 1 <= amount_minor <= LL_AMOUNT_MINOR_MAX (a capture's amount is what it took; the
 * hold's amount is amount_minor + released_minor). */
typedef struct {
    int64_t amount_minor;
    ll_currency_t currency;
    char reference[LL_REFERENCE_BYTES_MAX + 1]; /* "" when none was given */
    ll_uuid_t transfer_id;
    ll_uuid_t counterparty_id;
    ll_uuid_t payment_id;  /* a leg of POST /v1/payments; nil otherwise */
    ll_uuid_t hold_id;     /* HoldPlaced/Captured/Released/Expired */
    int64_t released_minor; /* HoldCaptured: the part of the hold not taken (0..) */
    int64_t expires_at_us;  /* HoldPlaced: when the hold stops counting */
} ll_data_movement_t;

/* data of AccountFrozen. */
typedef struct {
    char reason[LL_FREEZE_REASON_BYTES_MAX + 1];
} ll_data_frozen_t;

/* The account's figures once an event applies. Every event but AccountOpened (all zero) and
 * AccountClosed (all zero: only an empty, unfrozen account closes, and closing ends its credit
 * line) carries them, so the newest event alone says where the account stands
 * (ll_account_at) and a reader checks every step without trusting its own arithmetic. */
typedef struct {
    int64_t balance_minor;
    int64_t held_minor;            /* the sum of the open holds */
    int64_t overdraft_limit_minor; /* the balance may go down to minus this */
    bool frozen;
} ll_event_after_t;

/* The envelope (docs/design.md). Invariants of a stored event: version >= 1 and contiguous per
 * account; prev_hash is the previous event's hash (64 zeros for version 1); hash is SHA-256
 * over the canonical envelope without hash. */
typedef struct ll_event {
    ll_uuid_t event_id;
    ll_uuid_t account_id;
    int64_t version;
    ll_event_type_t type;
    int32_t schema_version;
    int64_t global_position; /* store-wide sequence, assigned when appended; 0 before */
    int64_t occurred_at_us;  /* microseconds since the epoch, UTC */
    char command_id[LL_COMMAND_ID_BYTES_MAX + 1];
    char correlation_id[LL_CORRELATION_BYTES_MAX + 1];
    char actor[LL_ACTOR_BYTES_MAX + 1];
    union {
        ll_data_opened_t opened;
        ll_data_movement_t movement; /* deposits, withdrawals, transfer legs, holds */
        ll_data_frozen_t frozen;
    } data;                          /* AccountClosed, CreditLimitSet, AccountUnfrozen: none but after */
    ll_event_after_t after;          /* see ll_event_after_t */
    char prev_hash[LL_HASH_HEX_LEN + 1];
    char hash[LL_HASH_HEX_LEN + 1]; /* "" until sealed (ll_hash_chain.h) */
} ll_event_t;

/* "MoneyDeposited" for LL_EVENT_MONEY_DEPOSITED; NULL for an invalid type. */
const char *ll_event_type_name(ll_event_type_t type);

/* The type named by name, or LL_EVENT_NONE. */
ll_event_type_t ll_event_type_from_name(const char *name);

/* True for the types that move the balance (deposits, withdrawals, transfer legs, a capture):
 * the lines of a statement. Their data is ll_data_movement_t. */
int ll_event_is_movement(ll_event_type_t type);

/* True for the four hold events (data is ll_data_movement_t with hold_id). */
int ll_event_is_hold(ll_event_type_t type);

/* True for the types whose data is ll_data_movement_t: movements and hold events. */
int ll_event_has_money(ll_event_type_t type);

/* Sign of the movement on the balance: +1 deposit/received, -1 withdrawn/sent/captured, 0
 * otherwise. */
int ll_event_balance_sign(ll_event_type_t type);

/* The prev_hash of a stream's first event. */
extern const char LL_HASH_ZERO[LL_HASH_HEX_LEN + 1];

#endif
