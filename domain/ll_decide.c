/* ll_decide.c - see ll_command.h. Validation first (push ifs up), then one event builder. */
#include "ll_command.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void reject(ll_decision_t *out, ll_rejection_t r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reject(ll_decision_t *out, ll_rejection_t r, const char *fmt, ...) {
    out->rejection = r;
    out->event_count = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->detail, sizeof out->detail, fmt, ap);
    va_end(ap);
}

/* Appends an unsealed event for the stream in state, one version after it. */
static ll_event_t *add_event(ll_decision_t *out, const ll_account_t *state, ll_event_type_t type,
                             const ll_command_meta_t *meta) {
    LL_MONEY_ASSERT(out->event_count < LL_DECISION_EVENTS_MAX);
    ll_event_t *ev = &out->events[out->event_count];
    memset(ev, 0, sizeof *ev);
    ev->event_id = meta->event_ids[out->event_count];
    ev->account_id = state->account_id;
    ev->version = state->version + 1;
    ev->type = type;
    ev->schema_version = LL_EVENT_SCHEMA_VERSION_CURRENT;
    ev->occurred_at_us = meta->occurred_at_us;
    memcpy(ev->command_id, meta->command_id, sizeof ev->command_id);
    memcpy(ev->correlation_id, meta->correlation_id, sizeof ev->correlation_id);
    memcpy(ev->actor, meta->actor, sizeof ev->actor);
    memcpy(ev->prev_hash, state->head_hash, sizeof ev->prev_hash);
    out->event_count++;
    return ev;
}

static void set_movement(ll_event_t *ev, const ll_command_t *cmd, int64_t balance_after) {
    ll_data_movement_t *m = &ev->data.movement;
    m->amount_minor = cmd->amount_minor;
    m->currency = cmd->currency;
    m->balance_after_minor = balance_after;
    memcpy(m->reference, cmd->reference, sizeof m->reference);
}

/* Common checks of a command on an existing account; returns 0 when it may proceed. */
static int check_live_account(const ll_account_t *s, ll_decision_t *out) {
    if (s->status == LL_ACCOUNT_NONE) {
        reject(out, LL_REJECT_ACCOUNT_NOT_FOUND, "account does not exist");
        return -1;
    }
    if (s->status == LL_ACCOUNT_CLOSED) {
        reject(out, LL_REJECT_ACCOUNT_CLOSED, "account was closed at version %lld", (long long)s->version);
        return -1;
    }
    return 0;
}

/* Checks amount and currency of a movement command against the account. */
static int check_movement(const ll_account_t *s, const ll_command_t *cmd, ll_decision_t *out) {
    if (!ll_amount_valid(cmd->amount_minor)) {
        reject(out, LL_REJECT_AMOUNT_OUT_OF_RANGE, "amount_minor %lld is outside %lld..%lld",
               (long long)cmd->amount_minor, (long long)LL_AMOUNT_MINOR_MIN, (long long)LL_AMOUNT_MINOR_MAX);
        return -1;
    }
    if (check_live_account(s, out) != 0) return -1;
    if (!ll_currency_equal(&cmd->currency, &s->currency)) {
        reject(out, LL_REJECT_CURRENCY_MISMATCH, "account holds %s, command is in %s", s->currency.code,
               cmd->currency.code);
        return -1;
    }
    return 0;
}

/* balance - amount, or a rejection when below the floor. */
static int debit(const ll_account_t *s, int64_t amount, int64_t *after, ll_decision_t *out) {
    if (ll_money_sub(s->balance_minor, amount, after) != 0 || *after < ll_account_floor(s)) {
        reject(out, LL_REJECT_INSUFFICIENT_FUNDS, "balance %lld is less than %lld",
               (long long)s->balance_minor, (long long)amount);
        return -1;
    }
    return 0;
}

/* balance + amount, or a rejection on overflow. */
static int credit(const ll_account_t *s, int64_t amount, int64_t *after, ll_decision_t *out) {
    if (ll_money_add(s->balance_minor, amount, after) != 0) {
        reject(out, LL_REJECT_BALANCE_OVERFLOW, "balance %lld plus %lld exceeds the largest balance",
               (long long)s->balance_minor, (long long)amount);
        return -1;
    }
    return 0;
}

static void decide_open(const ll_account_t *s, const ll_command_t *cmd, const ll_command_meta_t *meta,
                        ll_decision_t *out) {
    if (s->status != LL_ACCOUNT_NONE) {
        reject(out, LL_REJECT_ACCOUNT_EXISTS, "account already exists");
        return;
    }
    if (cmd->owner[0] == '\0') {
        reject(out, LL_REJECT_INVALID_OWNER, "owner is empty");
        return;
    }
    if (!ll_currency_valid(cmd->currency.code)) {
        reject(out, LL_REJECT_INVALID_CURRENCY, "currency is not an active ISO 4217 code");
        return;
    }
    ll_event_t *ev = add_event(out, s, LL_EVENT_ACCOUNT_OPENED, meta);
    memcpy(ev->data.opened.owner, cmd->owner, sizeof ev->data.opened.owner);
    ev->data.opened.currency = cmd->currency;
}

static void decide_deposit(const ll_account_t *s, const ll_command_t *cmd, const ll_command_meta_t *meta,
                           ll_decision_t *out) {
    int64_t after;
    if (check_movement(s, cmd, out) != 0 || credit(s, cmd->amount_minor, &after, out) != 0) return;
    set_movement(add_event(out, s, LL_EVENT_MONEY_DEPOSITED, meta), cmd, after);
}

static void decide_withdraw(const ll_account_t *s, const ll_command_t *cmd, const ll_command_meta_t *meta,
                            ll_decision_t *out) {
    int64_t after;
    if (check_movement(s, cmd, out) != 0 || debit(s, cmd->amount_minor, &after, out) != 0) return;
    set_movement(add_event(out, s, LL_EVENT_MONEY_WITHDRAWN, meta), cmd, after);
}

static void decide_close(const ll_account_t *s, const ll_command_meta_t *meta, ll_decision_t *out) {
    if (check_live_account(s, out) != 0) return;
    if (s->balance_minor != 0) {
        reject(out, LL_REJECT_BALANCE_NOT_ZERO, "balance is %lld %s; it must be 0 to close",
               (long long)s->balance_minor, s->currency.code);
        return;
    }
    add_event(out, s, LL_EVENT_ACCOUNT_CLOSED, meta);
}

static void decision_init(ll_decision_t *out) {
    out->rejection = LL_REJECT_NONE;
    out->detail[0] = '\0';
    out->event_count = 0;
}

void ll_decide(const ll_account_t *state, const ll_command_t *cmd, const ll_command_meta_t *meta,
               ll_decision_t *out) {
    decision_init(out);
    switch (cmd->type) {
    case LL_CMD_OPEN:
        decide_open(state, cmd, meta, out);
        break;
    case LL_CMD_DEPOSIT:
        decide_deposit(state, cmd, meta, out);
        break;
    case LL_CMD_WITHDRAW:
        decide_withdraw(state, cmd, meta, out);
        break;
    case LL_CMD_CLOSE:
        decide_close(state, meta, out);
        break;
    default:
        LL_MONEY_ASSERT(!"ll_decide: transfers go through ll_decide_transfer");
    }
}

void ll_decide_transfer(const ll_account_t *from, const ll_account_t *to, const ll_command_t *cmd,
                        const ll_command_meta_t *meta, ll_decision_t *out) {
    decision_init(out);
    LL_MONEY_ASSERT(cmd->type == LL_CMD_TRANSFER);
    LL_MONEY_ASSERT(!ll_uuid_is_nil(&cmd->transfer_id)); /* the caller assigns it */
    if (ll_uuid_equal(&from->account_id, &to->account_id)) {
        reject(out, LL_REJECT_SAME_ACCOUNT, "source and destination are the same account");
        return;
    }
    if (check_movement(from, cmd, out) != 0) return;
    if (check_movement(to, cmd, out) != 0) {
        /* Say which side failed: the destination. */
        char why[sizeof out->detail];
        memcpy(why, out->detail, sizeof why);
        snprintf(out->detail, sizeof out->detail, "destination %.200s", why);
        return;
    }
    int64_t from_after, to_after;
    if (debit(from, cmd->amount_minor, &from_after, out) != 0) return;
    if (credit(to, cmd->amount_minor, &to_after, out) != 0) return;
    /* Conservation: what leaves one account arrives at the other, to the minor unit. */
    LL_MONEY_ASSERT(from->balance_minor - from_after == cmd->amount_minor);
    LL_MONEY_ASSERT(to_after - to->balance_minor == cmd->amount_minor);

    ll_event_t *sent = add_event(out, from, LL_EVENT_TRANSFER_SENT, meta);
    set_movement(sent, cmd, from_after);
    sent->data.movement.transfer_id = cmd->transfer_id;
    sent->data.movement.counterparty_id = to->account_id;
    ll_event_t *received = add_event(out, to, LL_EVENT_TRANSFER_RECEIVED, meta);
    set_movement(received, cmd, to_after);
    received->data.movement.transfer_id = cmd->transfer_id;
    received->data.movement.counterparty_id = from->account_id;
}
