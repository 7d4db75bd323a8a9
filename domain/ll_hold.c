/* ll_hold.c - see ll_hold.h. */
#include "ll_hold.h"

#include <string.h>

static const char *const STATUS_NAMES[] = {"none", "open", "captured", "released", "expired"};

void ll_hold_init(ll_hold_t *h, const ll_uuid_t *id) {
    memset(h, 0, sizeof *h);
    h->hold_id = *id;
}

const char *ll_hold_status_name(ll_hold_status_t s) {
    return (s >= LL_HOLD_NONE && s <= LL_HOLD_EXPIRED) ? STATUS_NAMES[s] : "none";
}

ll_hold_status_t ll_hold_status_from_name(const char *name) {
    for (int s = LL_HOLD_OPEN; s <= LL_HOLD_EXPIRED; s++)
        if (name != NULL && strcmp(name, STATUS_NAMES[s]) == 0) return (ll_hold_status_t)s;
    return LL_HOLD_NONE;
}

int ll_hold_apply(ll_hold_t *h, const ll_event_t *ev, ll_error_t *err) {
    const ll_data_movement_t *m = &ev->data.movement;
    if (!ll_event_is_hold(ev->type) || !ll_uuid_equal(&m->hold_id, &h->hold_id))
        return ll_error_set(err, LL_EINVAL, "not an event of this hold");
    if (ev->type == LL_EVENT_HOLD_PLACED) {
        if (h->status != LL_HOLD_NONE) return ll_error_set(err, LL_EINVAL, "hold placed twice");
        h->account_id = ev->account_id;
        h->status = LL_HOLD_OPEN;
        h->currency = m->currency;
        h->amount_minor = m->amount_minor;
        h->captured_minor = 0;
        h->placed_at_us = ev->occurred_at_us;
        h->expires_at_us = m->expires_at_us;
        h->settled_at_us = 0;
        h->placed_version = ev->version;
        memcpy(h->placed_by, ev->actor, sizeof h->placed_by);
        memcpy(h->reference, m->reference, sizeof h->reference);
        return 0;
    }
    if (h->status != LL_HOLD_OPEN)
        return ll_error_set(err, LL_EINVAL, "hold is %s, not open", ll_hold_status_name(h->status));
    if (!ll_uuid_equal(&ev->account_id, &h->account_id))
        return ll_error_set(err, LL_EINVAL, "hold event on another account");
    /* A capture's parts are each in range (a negative rest would take more than was held) and
     * add up, without overflow, to the hold, in its currency. */
    int64_t whole = m->amount_minor;
    if (!ll_amount_valid(m->amount_minor) ||
        (ev->type == LL_EVENT_HOLD_CAPTURED &&
         (m->released_minor < 0 || ll_money_add(m->amount_minor, m->released_minor, &whole) != 0)) ||
        whole != h->amount_minor || !ll_currency_equal(&m->currency, &h->currency))
        return ll_error_set(err, LL_EINVAL, "amounts differ from the hold's");
    h->status = ev->type == LL_EVENT_HOLD_CAPTURED   ? LL_HOLD_CAPTURED
                : ev->type == LL_EVENT_HOLD_RELEASED ? LL_HOLD_RELEASED
                                                     : LL_HOLD_EXPIRED;
    h->captured_minor = ev->type == LL_EVENT_HOLD_CAPTURED ? m->amount_minor : 0;
    h->settled_at_us = ev->occurred_at_us;
    return 0;
}
