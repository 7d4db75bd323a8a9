/* ll_event.c - see ll_event.h. */
#include "ll_event.h"

#include <string.h>

const char LL_HASH_ZERO[LL_HASH_HEX_LEN + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static const char *const type_names[LL_EVENT_TYPE_COUNT] = {
    [LL_EVENT_NONE] = NULL,
    [LL_EVENT_ACCOUNT_OPENED] = "AccountOpened",
    [LL_EVENT_MONEY_DEPOSITED] = "MoneyDeposited",
    [LL_EVENT_MONEY_WITHDRAWN] = "MoneyWithdrawn",
    [LL_EVENT_TRANSFER_SENT] = "TransferSent",
    [LL_EVENT_TRANSFER_RECEIVED] = "TransferReceived",
    [LL_EVENT_ACCOUNT_CLOSED] = "AccountClosed",
    [LL_EVENT_HOLD_PLACED] = "HoldPlaced",
    [LL_EVENT_HOLD_CAPTURED] = "HoldCaptured",
    [LL_EVENT_HOLD_RELEASED] = "HoldReleased",
    [LL_EVENT_HOLD_EXPIRED] = "HoldExpired",
    [LL_EVENT_CREDIT_LIMIT_SET] = "CreditLimitSet",
    [LL_EVENT_ACCOUNT_FROZEN] = "AccountFrozen",
    [LL_EVENT_ACCOUNT_UNFROZEN] = "AccountUnfrozen",
};

const char *ll_event_type_name(ll_event_type_t type) {
    if (type <= LL_EVENT_NONE || type >= LL_EVENT_TYPE_COUNT) return NULL;
    return type_names[type];
}

ll_event_type_t ll_event_type_from_name(const char *name) {
    if (name == NULL) return LL_EVENT_NONE;
    for (int t = LL_EVENT_NONE + 1; t < LL_EVENT_TYPE_COUNT; t++)
        if (strcmp(type_names[t], name) == 0) return (ll_event_type_t)t;
    return LL_EVENT_NONE;
}

int ll_event_is_movement(ll_event_type_t type) {
    return ll_event_balance_sign(type) != 0;
}

int ll_event_is_hold(ll_event_type_t type) {
    return type == LL_EVENT_HOLD_PLACED || type == LL_EVENT_HOLD_CAPTURED || type == LL_EVENT_HOLD_RELEASED ||
           type == LL_EVENT_HOLD_EXPIRED;
}

int ll_event_has_money(ll_event_type_t type) {
    return ll_event_is_movement(type) || ll_event_is_hold(type);
}

int ll_event_balance_sign(ll_event_type_t type) {
    switch (type) {
    case LL_EVENT_MONEY_DEPOSITED:
    case LL_EVENT_TRANSFER_RECEIVED:
        return 1;
    case LL_EVENT_MONEY_WITHDRAWN:
    case LL_EVENT_TRANSFER_SENT:
    case LL_EVENT_HOLD_CAPTURED:
        return -1;
    default:
        return 0;
    }
}
