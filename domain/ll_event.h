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

#include <stdint.h>

typedef enum ll_event_type {
    LL_EVENT_NONE = 0,
    LL_EVENT_ACCOUNT_OPENED,
    LL_EVENT_MONEY_DEPOSITED,
    LL_EVENT_MONEY_WITHDRAWN,
    LL_EVENT_TRANSFER_SENT,
    LL_EVENT_TRANSFER_RECEIVED,
    LL_EVENT_ACCOUNT_CLOSED,
    LL_EVENT_TYPE_COUNT
} ll_event_type_t;

/* Schema version that this build writes for every type. Older versions are read through
 * upcasters (ll_event_codec.h); newer ones are refused, never guessed. */
#define LL_EVENT_SCHEMA_VERSION_CURRENT 1

#define LL_HASH_HEX_LEN 64

/* data of AccountOpened. */
typedef struct {
    char owner[LL_OWNER_BYTES_MAX + 1];
    ll_currency_t currency;
} ll_data_opened_t;

/* data of MoneyDeposited, MoneyWithdrawn, TransferSent and TransferReceived. For the two
 * transfer events, transfer_id and counterparty_id (the other account) are set; for the others
 * they are nil. Invariant: 1 <= amount_minor <= LL_AMOUNT_MINOR_MAX. */
typedef struct {
    int64_t amount_minor;
    ll_currency_t currency;
    int64_t balance_after_minor;                /* the account's balance once this event applies */
    char reference[LL_REFERENCE_BYTES_MAX + 1]; /* "" when none was given */
    ll_uuid_t transfer_id;
    ll_uuid_t counterparty_id;
} ll_data_movement_t;

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
        ll_data_movement_t movement; /* deposits, withdrawals, both transfer legs */
    } data;                          /* AccountClosed has no data */
    char prev_hash[LL_HASH_HEX_LEN + 1];
    char hash[LL_HASH_HEX_LEN + 1]; /* "" until sealed (ll_hash_chain.h) */
} ll_event_t;

/* "MoneyDeposited" for LL_EVENT_MONEY_DEPOSITED; NULL for an invalid type. */
const char *ll_event_type_name(ll_event_type_t type);

/* The type named by name, or LL_EVENT_NONE. */
ll_event_type_t ll_event_type_from_name(const char *name);

/* True for the four types whose data is ll_data_movement_t. */
int ll_event_is_movement(ll_event_type_t type);

/* Sign of the movement on the balance: +1 deposit/received, -1 withdrawn/sent, 0 otherwise. */
int ll_event_balance_sign(ll_event_type_t type);

/* The prev_hash of a stream's first event. */
extern const char LL_HASH_ZERO[LL_HASH_HEX_LEN + 1];

#endif
