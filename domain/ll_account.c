/* ll_account.c - see ll_account.h. */
#include "ll_account.h"

#include <string.h>

void ll_account_init(ll_account_t *a, const ll_uuid_t *id) {
    memset(a, 0, sizeof *a);
    a->account_id = *id;
    a->status = LL_ACCOUNT_NONE;
    memcpy(a->head_hash, LL_HASH_ZERO, sizeof a->head_hash);
}

int64_t ll_account_floor(const ll_account_t *a) {
    return -a->overdraft_limit_minor;
}

int64_t ll_account_available(const ll_account_t *a) {
    int64_t v;
    LL_MONEY_ASSERT(ll_money_sub(a->balance_minor, a->held_minor, &v) == 0);
    return v;
}

const char *ll_account_status_name(ll_account_status_t s) {
    switch (s) {
    case LL_ACCOUNT_OPEN:
        return "open";
    case LL_ACCOUNT_CLOSED:
        return "closed";
    default:
        return "none";
    }
}

int ll_account_status_parse(const char *name, ll_account_status_t *out) {
    if (strcmp(name, "open") == 0)
        *out = LL_ACCOUNT_OPEN;
    else if (strcmp(name, "closed") == 0)
        *out = LL_ACCOUNT_CLOSED;
    else
        return -1;
    return 0;
}

static ll_evolve_t refuse(ll_error_t *err, const ll_event_t *ev, const char *why) {
    ll_error_set(err, LL_EINVAL, "event version %lld (%s): %s", (long long)ev->version,
                 ll_event_type_name(ev->type) ? ll_event_type_name(ev->type) : "?", why);
    return LL_EVOLVE_INCONSISTENT;
}

/* Checks that ev may follow a: identity, version, hash link, status. */
static ll_evolve_t check_sequence(const ll_account_t *a, const ll_event_t *ev, ll_error_t *err) {
    if (!ll_uuid_equal(&a->account_id, &ev->account_id)) return refuse(err, ev, "belongs to another account");
    if (ev->version <= a->version) {
        ll_error_set(err, LL_EINVAL, "event version %lld already applied (state at %lld)",
                     (long long)ev->version, (long long)a->version);
        return LL_EVOLVE_DUPLICATE;
    }
    if (ev->version != a->version + 1) {
        ll_error_set(err, LL_EINVAL, "event version %lld after state version %lld: %lld event(s) missing",
                     (long long)ev->version, (long long)a->version,
                     (long long)(ev->version - a->version - 1));
        return LL_EVOLVE_GAP;
    }
    if (strlen(ev->hash) != LL_HASH_HEX_LEN) return refuse(err, ev, "not sealed (no hash)");
    if (strcmp(ev->prev_hash, a->head_hash) != 0)
        return refuse(err, ev, "prev_hash does not match the previous event's hash");
    if (ev->type == LL_EVENT_ACCOUNT_OPENED) {
        if (a->status != LL_ACCOUNT_NONE) return refuse(err, ev, "account already opened");
    } else if (a->status != LL_ACCOUNT_OPEN) {
        return refuse(err, ev, a->status == LL_ACCOUNT_NONE ? "account not opened" : "account is closed");
    }
    return LL_EVOLVE_OK;
}

/* Checks the money part of ev (amount, currency, links) against a; computes the balance and
 * held amount it leaves in next. */
static ll_evolve_t apply_money(const ll_account_t *a, const ll_event_t *ev, ll_account_t *next, ll_error_t *err) {
    const ll_data_movement_t *m = &ev->data.movement;
    if (!ll_amount_valid(m->amount_minor)) return refuse(err, ev, "amount out of range");
    if (!ll_currency_equal(&m->currency, &a->currency)) return refuse(err, ev, "currency differs from the account's");
    int sign = ll_event_balance_sign(ev->type);
    int rc = sign > 0   ? ll_money_add(a->balance_minor, m->amount_minor, &next->balance_minor)
             : sign < 0 ? ll_money_sub(a->balance_minor, m->amount_minor, &next->balance_minor)
                        : 0;
    if (rc != 0) return refuse(err, ev, "balance overflows int64");
    bool linked = ev->type == LL_EVENT_TRANSFER_SENT || ev->type == LL_EVENT_TRANSFER_RECEIVED ||
                  (ev->type == LL_EVENT_HOLD_CAPTURED && !ll_uuid_is_nil(&m->transfer_id));
    if (linked && (ll_uuid_is_nil(&m->transfer_id) || ll_uuid_is_nil(&m->counterparty_id)))
        return refuse(err, ev, "transfer without transfer_id or counterparty");
    if (linked && ll_uuid_equal(&m->counterparty_id, &a->account_id)) return refuse(err, ev, "transfer to itself");
    if (ll_event_is_hold(ev->type) && ll_uuid_is_nil(&m->hold_id)) return refuse(err, ev, "hold event without hold_id");
    if (sign < 0 && a->frozen) return refuse(err, ev, "a debit of a frozen account");
    int64_t hold = m->amount_minor;
    switch (ev->type) {
    case LL_EVENT_HOLD_PLACED:
        if (a->frozen) return refuse(err, ev, "a hold on a frozen account");
        if (ll_money_add(a->held_minor, m->amount_minor, &next->held_minor) != 0)
            return refuse(err, ev, "held amount overflows int64");
        break;
    case LL_EVENT_HOLD_CAPTURED:
        if (m->released_minor < 0 || ll_money_add(m->amount_minor, m->released_minor, &hold) != 0)
            return refuse(err, ev, "released_minor out of range");
        __attribute__((fallthrough)); /* the whole hold stops counting */
    case LL_EVENT_HOLD_RELEASED:
    case LL_EVENT_HOLD_EXPIRED:
        if (hold > a->held_minor) return refuse(err, ev, "releases more than is held");
        next->held_minor = a->held_minor - hold;
        break;
    default:
        break;
    }
    return LL_EVOLVE_OK;
}

ll_evolve_t ll_account_evolve(ll_account_t *a, const ll_event_t *ev, ll_error_t *err) {
    ll_evolve_t r = check_sequence(a, ev, err);
    if (r != LL_EVOLVE_OK) return r;
    ll_account_t next = *a;
    switch (ev->type) {
    case LL_EVENT_ACCOUNT_OPENED:
        if (ev->data.opened.owner[0] == '\0') return refuse(err, ev, "empty owner");
        if (!ll_currency_valid(ev->data.opened.currency.code)) return refuse(err, ev, "unknown currency");
        next.status = LL_ACCOUNT_OPEN;
        memcpy(next.owner, ev->data.opened.owner, sizeof next.owner);
        next.currency = ev->data.opened.currency;
        next.balance_minor = next.held_minor = next.overdraft_limit_minor = 0;
        next.frozen = false;
        next.opened_at_us = ev->occurred_at_us;
        break;
    case LL_EVENT_ACCOUNT_CLOSED:
        if (a->balance_minor != 0) return refuse(err, ev, "closing with a non-zero balance");
        if (a->held_minor != 0) return refuse(err, ev, "closing with open holds");
        if (a->frozen) return refuse(err, ev, "closing a frozen account");
        next.status = LL_ACCOUNT_CLOSED;
        next.overdraft_limit_minor = 0; /* closing ends the credit line */
        break;
    case LL_EVENT_CREDIT_LIMIT_SET:
        next.overdraft_limit_minor = ev->after.overdraft_limit_minor;
        if (next.overdraft_limit_minor < 0 || next.overdraft_limit_minor > LL_AMOUNT_MINOR_MAX)
            return refuse(err, ev, "overdraft limit out of range");
        break;
    case LL_EVENT_ACCOUNT_FROZEN:
        if (a->frozen) return refuse(err, ev, "the account is already frozen");
        next.frozen = true;
        break;
    case LL_EVENT_ACCOUNT_UNFROZEN:
        if (!a->frozen) return refuse(err, ev, "the account is not frozen");
        next.frozen = false;
        break;
    default:
        if (!ll_event_has_money(ev->type)) return refuse(err, ev, "unknown event type");
        r = apply_money(a, ev, &next, err);
        if (r != LL_EVOLVE_OK) return r;
    }
    if (ev->type != LL_EVENT_ACCOUNT_OPENED && ev->type != LL_EVENT_ACCOUNT_CLOSED) {
        const ll_event_after_t *x = &ev->after;
        if (x->balance_minor != next.balance_minor)
            return refuse(err, ev, "balance_after_minor does not equal balance +/- amount");
        if (x->held_minor != next.held_minor) return refuse(err, ev, "held_after_minor does not add up");
        if (x->overdraft_limit_minor != next.overdraft_limit_minor || x->frozen != next.frozen)
            return refuse(err, ev, "overdraft_limit_minor or frozen differs from the account's");
    }
    if (next.held_minor < 0 || ll_account_available(&next) < ll_account_floor(&next))
        return refuse(err, ev, "available balance below the allowed floor");
    next.version = ev->version;
    next.updated_at_us = ev->occurred_at_us;
    memcpy(next.head_hash, ev->hash, sizeof next.head_hash);
    LL_MONEY_ASSERT(ll_account_available(&next) >= ll_account_floor(&next) && next.held_minor >= 0);
    LL_MONEY_ASSERT(next.version == a->version + 1);
    *a = next;
    return LL_EVOLVE_OK;
}

int ll_account_take_figures(ll_account_t *a, const ll_event_t *last, ll_error_t *err) {
    long long v = (long long)last->version;
    if (last->type == LL_EVENT_ACCOUNT_OPENED || ll_event_type_name(last->type) == NULL)
        return ll_error_set(err, LL_EINVAL, "event version %lld: cannot follow an open account", v);
    ll_account_t next = *a;
    if (last->type == LL_EVENT_ACCOUNT_CLOSED) {
        next.status = LL_ACCOUNT_CLOSED; /* only an empty, unfrozen account closes */
        next.balance_minor = next.held_minor = next.overdraft_limit_minor = 0;
        next.frozen = false;
    } else {
        if (ll_event_has_money(last->type) && !ll_currency_equal(&last->data.movement.currency, &a->currency))
            return ll_error_set(err, LL_EINVAL, "event version %lld: currency differs from the account's", v);
        next.balance_minor = last->after.balance_minor;
        next.held_minor = last->after.held_minor;
        next.overdraft_limit_minor = last->after.overdraft_limit_minor;
        next.frozen = last->after.frozen;
        int64_t available;
        if (next.held_minor < 0 || next.overdraft_limit_minor < 0 ||
            ll_money_sub(next.balance_minor, next.held_minor, &available) != 0 ||
            available < ll_account_floor(&next))
            return ll_error_set(err, LL_EINVAL, "event version %lld: figures below the allowed floor", v);
    }
    next.version = last->version;
    next.updated_at_us = last->occurred_at_us;
    memcpy(next.head_hash, last->hash, sizeof next.head_hash);
    *a = next;
    return 0;
}

int ll_account_at(const ll_event_t *opened, const ll_event_t *last, ll_account_t *out, ll_error_t *err) {
    long long v = (long long)last->version;
    if (opened->type != LL_EVENT_ACCOUNT_OPENED || opened->version != 1)
        return ll_error_set(err, LL_EINVAL, "the first event is not the account's opening");
    if (!ll_uuid_equal(&opened->account_id, &last->account_id))
        return ll_error_set(err, LL_EINVAL, "the two events belong to different accounts");
    if (v == 1 ? !ll_uuid_equal(&last->event_id, &opened->event_id)
               : v < 1 || last->type == LL_EVENT_ACCOUNT_OPENED)
        return ll_error_set(err, LL_EINVAL, "event version %lld cannot follow the opening", v);
    ll_account_t a;
    ll_account_init(&a, &opened->account_id);
    a.status = LL_ACCOUNT_OPEN;
    memcpy(a.owner, opened->data.opened.owner, sizeof a.owner);
    a.currency = opened->data.opened.currency;
    a.opened_at_us = opened->occurred_at_us;
    a.version = 1;
    a.updated_at_us = opened->occurred_at_us;
    memcpy(a.head_hash, opened->hash, sizeof a.head_hash);
    if (v > 1 && ll_account_take_figures(&a, last, err) != 0) return LL_EINVAL;
    *out = a;
    return 0;
}
