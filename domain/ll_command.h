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
#include "ll_rejection.h"

#include <stdint.h>

typedef enum ll_command_type {
    LL_CMD_NONE = 0,
    LL_CMD_OPEN,
    LL_CMD_DEPOSIT,
    LL_CMD_WITHDRAW,
    LL_CMD_TRANSFER,
    LL_CMD_CLOSE,
} ll_command_type_t;

/* One command. Fields not used by its type are zero. */
typedef struct ll_command {
    ll_command_type_t type;
    ll_uuid_t account_id;                       /* open: the new id; transfer: the source; else the target */
    ll_uuid_t to_account_id;                    /* transfer: the destination */
    ll_uuid_t transfer_id;                      /* transfer: shared by both legs */
    char owner[LL_OWNER_BYTES_MAX + 1];         /* open */
    ll_currency_t currency;                     /* open, deposit, withdraw, transfer */
    int64_t amount_minor;                       /* deposit, withdraw, transfer */
    char reference[LL_REFERENCE_BYTES_MAX + 1]; /* deposit, withdraw, transfer; may be "" */
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
    int event_count;
    ll_event_t events[LL_DECISION_EVENTS_MAX];
} ll_decision_t;

/* Decides an open, deposit, withdraw or close command against state (the account's current
 * state; for open, the state of the new id, normally empty). A transfer command here is a
 * programming error (abort): use ll_decide_transfer. */
void ll_decide(const ll_account_t *state, const ll_command_t *cmd, const ll_command_meta_t *meta,
               ll_decision_t *out);

/* Decides a transfer between two accounts: both must exist, be open and hold the command's
 * currency; the source must stay at or above its floor and the destination within int64.
 * Money is conserved (asserted, also in release builds). */
void ll_decide_transfer(const ll_account_t *from, const ll_account_t *to, const ll_command_t *cmd,
                        const ll_command_meta_t *meta, ll_decision_t *out);

#endif
