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

/* Appends an unsealed event for the stream in state, one version after it. prev_hash is the
 * state's head ("" when the state is a payment's working copy past an unsealed event: the
 * store links it as it seals). */
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

/* The figures of the account once ev applies: next is the account as ev leaves it. */
static void set_after(ll_event_t *ev, const ll_account_t *next) {
    ev->after.balance_minor = next->balance_minor;
    ev->after.held_minor = next->held_minor;
    ev->after.overdraft_limit_minor = next->overdraft_limit_minor;
    ev->after.frozen = next->frozen;
}

/* An event with the figures of s changed by balance/held (the common case). */
static ll_event_t *add_money_event(ll_decision_t *out, const ll_account_t *s, ll_event_type_t type,
                                   const ll_command_meta_t *meta, int64_t balance_after, int64_t held_after) {
    ll_event_t *ev = add_event(out, s, type, meta);
    ll_account_t next = *s;
    next.balance_minor = balance_after;
    next.held_minor = held_after;
    set_after(ev, &next);
    return ev;
}

static void set_money(ll_event_t *ev, int64_t amount, const ll_currency_t *currency, const char *reference) {
    ll_data_movement_t *m = &ev->data.movement;
    m->amount_minor = amount;
    m->currency = *currency;
    snprintf(m->reference, sizeof m->reference, "%s", reference);
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

static int check_amount(int64_t amount, ll_decision_t *out) {
    if (ll_amount_valid(amount)) return 0;
    reject(out, LL_REJECT_AMOUNT_OUT_OF_RANGE, "amount_minor %lld is outside %lld..%lld", (long long)amount,
           (long long)LL_AMOUNT_MINOR_MIN, (long long)LL_AMOUNT_MINOR_MAX);
    return -1;
}

/* Checks amount and currency of a movement against the account. */
static int check_money(const ll_account_t *s, int64_t amount, const ll_currency_t *currency, ll_decision_t *out) {
    if (check_amount(amount, out) != 0 || check_live_account(s, out) != 0) return -1;
    if (!ll_currency_equal(currency, &s->currency)) {
        reject(out, LL_REJECT_CURRENCY_MISMATCH, "account holds %s, command is in %s", s->currency.code,
               currency->code);
        return -1;
    }
    return 0;
}

static int check_movement(const ll_account_t *s, const ll_command_t *cmd, ll_decision_t *out) {
    return check_money(s, cmd->amount_minor, &cmd->currency, out);
}

/* A frozen account pays nothing out. */
static int check_not_frozen(const ll_account_t *s, ll_decision_t *out) {
    if (!s->frozen) return 0;
    reject(out, LL_REJECT_ACCOUNT_FROZEN, "the account is frozen: debits are refused until it is unfrozen");
    return -1;
}

/* balance - amount, or a rejection when frozen or when what is available would fall below the
 * floor (held money is not available). */
static int debit(const ll_account_t *s, int64_t amount, int64_t *after, ll_decision_t *out) {
    if (check_not_frozen(s, out) != 0) return -1;
    int64_t available = ll_account_available(s), left;
    if (ll_money_sub(s->balance_minor, amount, after) != 0 || ll_money_sub(available, amount, &left) != 0 ||
        left < ll_account_floor(s)) {
        reject(out, LL_REJECT_INSUFFICIENT_FUNDS, "available %lld is less than %lld", (long long)available,
               (long long)amount);
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
    ll_event_t *ev = add_money_event(out, s, LL_EVENT_MONEY_DEPOSITED, meta, after, s->held_minor);
    set_money(ev, cmd->amount_minor, &cmd->currency, cmd->reference);
}

static void decide_withdraw(const ll_account_t *s, const ll_command_t *cmd, const ll_command_meta_t *meta,
                            ll_decision_t *out) {
    int64_t after;
    if (check_movement(s, cmd, out) != 0 || debit(s, cmd->amount_minor, &after, out) != 0) return;
    ll_event_t *ev = add_money_event(out, s, LL_EVENT_MONEY_WITHDRAWN, meta, after, s->held_minor);
    set_money(ev, cmd->amount_minor, &cmd->currency, cmd->reference);
}

static void decide_close(const ll_account_t *s, const ll_command_meta_t *meta, ll_decision_t *out) {
    if (check_live_account(s, out) != 0 || check_not_frozen(s, out) != 0) return;
    if (s->held_minor != 0) {
        reject(out, LL_REJECT_HOLDS_OPEN, "%lld %s is held by open holds; capture or release them first",
               (long long)s->held_minor, s->currency.code);
        return;
    }
    if (s->balance_minor != 0) {
        reject(out, LL_REJECT_BALANCE_NOT_ZERO, "balance is %lld %s; it must be 0 to close",
               (long long)s->balance_minor, s->currency.code);
        return;
    }
    add_event(out, s, LL_EVENT_ACCOUNT_CLOSED, meta);
}

static void decide_place_hold(const ll_account_t *s, const ll_command_t *cmd, const ll_command_meta_t *meta,
                              ll_decision_t *out) {
    LL_MONEY_ASSERT(!ll_uuid_is_nil(&cmd->hold_id)); /* the caller assigns it */
    int64_t held, unused_balance;
    if (check_movement(s, cmd, out) != 0 || check_not_frozen(s, out) != 0) return;
    if (cmd->expires_in_s < 1 || cmd->expires_in_s > LL_HOLD_EXPIRY_MAX_S) {
        reject(out, LL_REJECT_INVALID_EXPIRY, "expires_in_seconds %lld is outside 1..%d",
               (long long)cmd->expires_in_s, LL_HOLD_EXPIRY_MAX_S);
        return;
    }
    if (ll_money_add(s->held_minor, cmd->amount_minor, &held) != 0) {
        reject(out, LL_REJECT_BALANCE_OVERFLOW, "held amount would exceed the largest amount");
        return;
    }
    /* What a hold reserves must be available, as for a debit (the balance itself stays). */
    if (debit(s, cmd->amount_minor, &unused_balance, out) != 0) return;
    ll_event_t *ev = add_money_event(out, s, LL_EVENT_HOLD_PLACED, meta, s->balance_minor, held);
    set_money(ev, cmd->amount_minor, &cmd->currency, cmd->reference);
    ev->data.movement.hold_id = cmd->hold_id;
    ev->data.movement.expires_at_us = meta->occurred_at_us + cmd->expires_in_s * 1000000;
}

static void decide_set_limit(const ll_account_t *s, const ll_command_t *cmd, const ll_command_meta_t *meta,
                             ll_decision_t *out) {
    int64_t limit = cmd->overdraft_limit_minor;
    if (check_live_account(s, out) != 0) return;
    if (limit < 0 || limit > LL_AMOUNT_MINOR_MAX) {
        reject(out, LL_REJECT_AMOUNT_OUT_OF_RANGE, "overdraft_limit_minor %lld is outside 0..%lld",
               (long long)limit, (long long)LL_AMOUNT_MINOR_MAX);
        return;
    }
    if (ll_account_available(s) < -limit) {
        reject(out, LL_REJECT_CREDIT_LIMIT_IN_USE,
               "available is %lld: a limit below %lld would leave the account beyond it",
               (long long)ll_account_available(s), (long long)-ll_account_available(s));
        return;
    }
    ll_event_t *ev = add_event(out, s, LL_EVENT_CREDIT_LIMIT_SET, meta);
    ll_account_t next = *s;
    next.overdraft_limit_minor = limit;
    set_after(ev, &next);
}

static void decide_freeze(const ll_account_t *s, const ll_command_t *cmd, const ll_command_meta_t *meta,
                          ll_decision_t *out) {
    if (check_live_account(s, out) != 0) return;
    if (cmd->type == LL_CMD_FREEZE && s->frozen) {
        reject(out, LL_REJECT_ALREADY_FROZEN, "the account is already frozen");
        return;
    }
    if (cmd->type == LL_CMD_UNFREEZE && !s->frozen) {
        reject(out, LL_REJECT_NOT_FROZEN, "the account is not frozen");
        return;
    }
    /* The codec requires 1..140 characters: an AccountFrozen without a reason would not decode. */
    LL_MONEY_ASSERT(cmd->type != LL_CMD_FREEZE || cmd->reason[0] != '\0');
    ll_account_t next = *s;
    next.frozen = cmd->type == LL_CMD_FREEZE;
    ll_event_t *ev = add_event(out, s, next.frozen ? LL_EVENT_ACCOUNT_FROZEN : LL_EVENT_ACCOUNT_UNFROZEN, meta);
    if (next.frozen) snprintf(ev->data.frozen.reason, sizeof ev->data.frozen.reason, "%s", cmd->reason);
    set_after(ev, &next);
}

static void decision_init(ll_decision_t *out) {
    out->rejection = LL_REJECT_NONE;
    out->detail[0] = '\0';
    out->failed_leg = -1;
    out->failed_destination = 0;
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
    case LL_CMD_PLACE_HOLD:
        decide_place_hold(state, cmd, meta, out);
        break;
    case LL_CMD_SET_CREDIT_LIMIT:
        decide_set_limit(state, cmd, meta, out);
        break;
    case LL_CMD_FREEZE:
    case LL_CMD_UNFREEZE:
        decide_freeze(state, cmd, meta, out);
        break;
    default:
        LL_MONEY_ASSERT(!"ll_decide: transfers, hold settlements and payments have their own deciders");
    }
}

/* Moves a working copy past an event decided on it (a payment's account named again later):
 * its version and figures; the head is unknown until the store seals the event. */
static void advance(ll_account_t *a, const ll_event_t *ev) {
    a->version = ev->version;
    a->balance_minor = ev->after.balance_minor;
    a->held_minor = ev->after.held_minor;
    a->updated_at_us = ev->occurred_at_us;
    a->head_hash[0] = '\0';
}

/* A refusal decided on the destination's side: say so (the source's reasons came first). */
static void blame_destination(ll_decision_t *out) {
    char why[sizeof out->detail];
    memcpy(why, out->detail, sizeof why);
    snprintf(out->detail, sizeof out->detail, "destination %.200s", why);
    out->failed_destination = 1;
}

/* One transfer between working copies: checks (source first, then destination), appends
 * TransferSent and TransferReceived, and advances both copies. Returns 0, or -1 refused (with
 * out->failed_destination set when the source was fine). */
static int decide_leg(ll_account_t *from, ll_account_t *to, int64_t amount, const ll_currency_t *currency,
                      const char *reference, const ll_uuid_t *transfer_id, const ll_uuid_t *payment_id,
                      const ll_command_meta_t *meta, ll_decision_t *out) {
    if (ll_uuid_equal(&from->account_id, &to->account_id)) {
        reject(out, LL_REJECT_SAME_ACCOUNT, "source and destination are the same account");
        return -1;
    }
    int64_t from_after, to_after;
    if (check_money(from, amount, currency, out) != 0 || debit(from, amount, &from_after, out) != 0) return -1;
    if (check_money(to, amount, currency, out) != 0 || credit(to, amount, &to_after, out) != 0) {
        blame_destination(out);
        return -1;
    }
    /* Conservation: what leaves one account arrives at the other, to the minor unit. */
    LL_MONEY_ASSERT(from->balance_minor - from_after == amount);
    LL_MONEY_ASSERT(to_after - to->balance_minor == amount);
    ll_event_t *sent = add_money_event(out, from, LL_EVENT_TRANSFER_SENT, meta, from_after, from->held_minor);
    set_money(sent, amount, currency, reference);
    sent->data.movement.transfer_id = *transfer_id;
    sent->data.movement.counterparty_id = to->account_id;
    sent->data.movement.payment_id = *payment_id;
    ll_event_t *received = add_money_event(out, to, LL_EVENT_TRANSFER_RECEIVED, meta, to_after, to->held_minor);
    set_money(received, amount, currency, reference);
    received->data.movement.transfer_id = *transfer_id;
    received->data.movement.counterparty_id = from->account_id;
    received->data.movement.payment_id = *payment_id;
    advance(from, sent);
    advance(to, received);
    return 0;
}

void ll_decide_transfer(const ll_account_t *from, const ll_account_t *to, const ll_command_t *cmd,
                        const ll_command_meta_t *meta, ll_decision_t *out) {
    decision_init(out);
    LL_MONEY_ASSERT(cmd->type == LL_CMD_TRANSFER);
    LL_MONEY_ASSERT(!ll_uuid_is_nil(&cmd->transfer_id)); /* the caller assigns it */
    ll_account_t f = *from, t = *to;
    static const ll_uuid_t nil;
    decide_leg(&f, &t, cmd->amount_minor, &cmd->currency, cmd->reference, &cmd->transfer_id, &nil, meta, out);
}

void ll_decide_hold(const ll_account_t *account, const ll_hold_t *hold, const ll_account_t *to,
                    const ll_command_t *cmd, const ll_command_meta_t *meta, ll_decision_t *out) {
    decision_init(out);
    LL_MONEY_ASSERT(cmd->type == LL_CMD_CAPTURE_HOLD || cmd->type == LL_CMD_RELEASE_HOLD ||
                    cmd->type == LL_CMD_EXPIRE_HOLD);
    const ll_account_t *s = account;
    if (hold->status == LL_HOLD_NONE || !ll_uuid_equal(&hold->account_id, &s->account_id) ||
        s->status == LL_ACCOUNT_NONE) {
        reject(out, LL_REJECT_HOLD_NOT_FOUND, "hold does not exist");
        return;
    }
    if (hold->status != LL_HOLD_OPEN) {
        reject(out, LL_REJECT_HOLD_NOT_OPEN, "the hold was %s already", ll_hold_status_name(hold->status));
        return;
    }
    LL_MONEY_ASSERT(s->status == LL_ACCOUNT_OPEN && hold->amount_minor <= s->held_minor);
    bool due = meta->occurred_at_us >= hold->expires_at_us;
    if (cmd->type == LL_CMD_EXPIRE_HOLD && !due) {
        reject(out, LL_REJECT_HOLD_NOT_DUE, "the hold expires at %lld us, not yet", (long long)hold->expires_at_us);
        return;
    }
    int64_t held = s->held_minor - hold->amount_minor;
    if (cmd->type != LL_CMD_CAPTURE_HOLD) {
        ll_event_t *ev = add_money_event(out, s, cmd->type == LL_CMD_EXPIRE_HOLD ? LL_EVENT_HOLD_EXPIRED
                                                                                  : LL_EVENT_HOLD_RELEASED,
                                         meta, s->balance_minor, held);
        set_money(ev, hold->amount_minor, &hold->currency, "");
        ev->data.movement.hold_id = hold->hold_id;
        return;
    }
    if (check_not_frozen(s, out) != 0) return;
    if (due) {
        reject(out, LL_REJECT_HOLD_EXPIRED, "the hold expired; it no longer reserves money");
        return;
    }
    int64_t amount = cmd->amount_minor == 0 ? hold->amount_minor : cmd->amount_minor; /* 0: all of it */
    if (check_amount(amount, out) != 0) return;
    if (amount > hold->amount_minor) {
        reject(out, LL_REJECT_CAPTURE_EXCEEDS_HOLD, "capture of %lld exceeds the hold's %lld", (long long)amount,
               (long long)hold->amount_minor);
        return;
    }
    int64_t to_after = 0;
    if (to != NULL) {
        if (ll_uuid_equal(&to->account_id, &s->account_id)) {
            reject(out, LL_REJECT_SAME_ACCOUNT, "a capture to the hold's own account");
            return;
        }
        if (check_money(to, amount, &hold->currency, out) != 0 ||
            credit(to, amount, &to_after, out) != 0) {
            blame_destination(out);
            return;
        }
        LL_MONEY_ASSERT(!ll_uuid_is_nil(&cmd->transfer_id)); /* the caller assigns it */
    }
    /* The hold reserved the money: taking it never breaks the floor. */
    int64_t balance = s->balance_minor - amount;
    LL_MONEY_ASSERT(balance - held >= ll_account_floor(s));
    ll_event_t *ev = add_money_event(out, s, LL_EVENT_HOLD_CAPTURED, meta, balance, held);
    set_money(ev, amount, &hold->currency, hold->reference);
    ll_data_movement_t *m = &ev->data.movement;
    m->hold_id = hold->hold_id;
    m->released_minor = hold->amount_minor - amount;
    if (to == NULL) return;
    m->transfer_id = cmd->transfer_id;
    m->counterparty_id = to->account_id;
    ll_event_t *received = add_money_event(out, to, LL_EVENT_TRANSFER_RECEIVED, meta, to_after, to->held_minor);
    set_money(received, amount, &hold->currency, hold->reference);
    received->data.movement.transfer_id = cmd->transfer_id;
    received->data.movement.counterparty_id = s->account_id;
    LL_MONEY_ASSERT(to_after - to->balance_minor == s->balance_minor - balance); /* conservation */
}

static ll_account_t *find_copy(ll_account_t *copies, size_t n, const ll_uuid_t *id) {
    for (size_t i = 0; i < n; i++)
        if (ll_uuid_equal(&copies[i].account_id, id)) return &copies[i];
    return NULL;
}

void ll_decide_payment(const ll_account_t *accounts, size_t n, const ll_command_t *cmd,
                       const ll_uuid_t *transfer_ids, const ll_command_meta_t *meta, ll_decision_t *out) {
    decision_init(out);
    LL_MONEY_ASSERT(cmd->type == LL_CMD_PAYMENT && !ll_uuid_is_nil(&cmd->payment_id));
    LL_MONEY_ASSERT(cmd->leg_count >= 1 && cmd->leg_count <= LL_PAYMENT_LEGS_MAX);
    LL_MONEY_ASSERT(n <= 2 * LL_PAYMENT_LEGS_MAX);
    ll_account_t copies[2 * LL_PAYMENT_LEGS_MAX];
    memcpy(copies, accounts, n * sizeof *accounts);
    for (int i = 0; i < cmd->leg_count; i++) {
        const ll_payment_leg_t *leg = &cmd->legs[i];
        ll_account_t *from = find_copy(copies, n, &leg->from_account_id);
        ll_account_t *to = find_copy(copies, n, &leg->to_account_id);
        LL_MONEY_ASSERT(from != NULL && to != NULL); /* the caller passes every account named */
        if (decide_leg(from, to, leg->amount_minor, &leg->currency, cmd->reference, &transfer_ids[i],
                       &cmd->payment_id, meta, out) != 0) {
            char why[sizeof out->detail];
            memcpy(why, out->detail, sizeof why);
            snprintf(out->detail, sizeof out->detail, "leg %d: %.230s", i, why);
            out->failed_leg = i;
            out->event_count = 0;
            return;
        }
    }
    /* Conservation over the whole payment: every account's change sums to zero. */
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) sum += copies[i].balance_minor - accounts[i].balance_minor;
    LL_MONEY_ASSERT(sum == 0);
}
