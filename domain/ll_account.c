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

/* Checks a movement against the state and computes the new balance. */
static ll_evolve_t check_movement(const ll_account_t *a, const ll_event_t *ev, int64_t *balance,
                                  ll_error_t *err) {
    const ll_data_movement_t *m = &ev->data.movement;
    if (!ll_amount_valid(m->amount_minor)) return refuse(err, ev, "amount out of range");
    if (!ll_currency_equal(&m->currency, &a->currency))
        return refuse(err, ev, "currency differs from the account's");
    int sign = ll_event_balance_sign(ev->type);
    int rc = sign > 0 ? ll_money_add(a->balance_minor, m->amount_minor, balance)
                      : ll_money_sub(a->balance_minor, m->amount_minor, balance);
    if (rc != 0) return refuse(err, ev, "balance overflows int64");
    if (*balance != m->balance_after_minor)
        return refuse(err, ev, "balance_after_minor does not equal balance +/- amount");
    if (*balance < ll_account_floor(a)) return refuse(err, ev, "balance below the allowed floor");
    int is_transfer = ev->type == LL_EVENT_TRANSFER_SENT || ev->type == LL_EVENT_TRANSFER_RECEIVED;
    if (is_transfer && (ll_uuid_is_nil(&m->transfer_id) || ll_uuid_is_nil(&m->counterparty_id)))
        return refuse(err, ev, "transfer without transfer_id or counterparty");
    if (is_transfer && ll_uuid_equal(&m->counterparty_id, &a->account_id))
        return refuse(err, ev, "transfer to itself");
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
        next.balance_minor = 0;
        next.opened_at_us = ev->occurred_at_us;
        break;
    case LL_EVENT_MONEY_DEPOSITED:
    case LL_EVENT_MONEY_WITHDRAWN:
    case LL_EVENT_TRANSFER_SENT:
    case LL_EVENT_TRANSFER_RECEIVED:
        r = check_movement(a, ev, &next.balance_minor, err);
        if (r != LL_EVOLVE_OK) return r;
        break;
    case LL_EVENT_ACCOUNT_CLOSED:
        if (a->balance_minor != 0) return refuse(err, ev, "closing with a non-zero balance");
        next.status = LL_ACCOUNT_CLOSED;
        break;
    default:
        return refuse(err, ev, "unknown event type");
    }
    next.version = ev->version;
    next.updated_at_us = ev->occurred_at_us;
    memcpy(next.head_hash, ev->hash, sizeof next.head_hash);
    LL_MONEY_ASSERT(next.balance_minor >= ll_account_floor(&next));
    LL_MONEY_ASSERT(next.version == a->version + 1);
    *a = next;
    return LL_EVOLVE_OK;
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
    if (ll_event_is_movement(last->type)) {
        if (!ll_currency_equal(&last->data.movement.currency, &a.currency))
            return ll_error_set(err, LL_EINVAL, "event version %lld: currency differs from the account's", v);
        a.balance_minor = last->data.movement.balance_after_minor;
    } else if (last->type == LL_EVENT_ACCOUNT_CLOSED) {
        a.status = LL_ACCOUNT_CLOSED; /* only a zero balance closes */
    } else if (last->type != LL_EVENT_ACCOUNT_OPENED) {
        return ll_error_set(err, LL_EINVAL, "event version %lld: unknown type", v);
    }
    if (a.balance_minor < ll_account_floor(&a))
        return ll_error_set(err, LL_EINVAL, "event version %lld: balance below the allowed floor", v);
    a.version = last->version;
    a.updated_at_us = last->occurred_at_us;
    memcpy(a.head_hash, last->hash, sizeof a.head_hash);
    *out = a;
    return 0;
}
