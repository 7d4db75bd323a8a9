/* ll_rejection.c - see ll_rejection.h. */
#include "ll_rejection.h"

#include <stddef.h>

static const struct {
    const char *slug, *title;
} rejections[LL_REJECT_COUNT] = {
    [LL_REJECT_NONE] = {"", ""},
    [LL_REJECT_AMOUNT_OUT_OF_RANGE] = {"amount-out-of-range", "Amount out of range"},
    [LL_REJECT_INVALID_CURRENCY] = {"invalid-currency", "Unknown currency"},
    [LL_REJECT_INVALID_OWNER] = {"invalid-owner", "Invalid owner"},
    [LL_REJECT_CURRENCY_MISMATCH] = {"currency-mismatch", "Currency does not match the account"},
    [LL_REJECT_INSUFFICIENT_FUNDS] = {"insufficient-funds", "Insufficient funds"},
    [LL_REJECT_ACCOUNT_NOT_FOUND] = {"account-not-found", "Account not found"},
    [LL_REJECT_ACCOUNT_EXISTS] = {"account-exists", "Account already exists"},
    [LL_REJECT_ACCOUNT_CLOSED] = {"account-closed", "Account is closed"},
    [LL_REJECT_BALANCE_NOT_ZERO] = {"balance-not-zero", "Balance is not zero"},
    [LL_REJECT_BALANCE_OVERFLOW] = {"balance-overflow", "Balance would overflow"},
    [LL_REJECT_SAME_ACCOUNT] = {"same-account", "Transfer to the same account"},
    [LL_REJECT_ACCOUNT_FROZEN] = {"account-frozen", "Account is frozen"},
    [LL_REJECT_ALREADY_FROZEN] = {"already-frozen", "Account is already frozen"},
    [LL_REJECT_NOT_FROZEN] = {"not-frozen", "Account is not frozen"},
    [LL_REJECT_HOLDS_OPEN] = {"holds-open", "Account has open holds"},
    [LL_REJECT_CREDIT_LIMIT_IN_USE] = {"credit-limit-in-use", "Credit limit below what is used"},
    [LL_REJECT_INVALID_EXPIRY] = {"invalid-expiry", "Invalid hold expiry"},
    [LL_REJECT_HOLD_NOT_FOUND] = {"hold-not-found", "Hold not found"},
    [LL_REJECT_HOLD_NOT_OPEN] = {"hold-not-open", "Hold is no longer open"},
    [LL_REJECT_HOLD_EXPIRED] = {"hold-expired", "Hold has expired"},
    [LL_REJECT_HOLD_NOT_DUE] = {"hold-not-due", "Hold has not expired yet"},
    [LL_REJECT_CAPTURE_EXCEEDS_HOLD] = {"capture-exceeds-hold", "Capture exceeds the hold"},
};

const char *ll_rejection_slug(ll_rejection_t r) {
    return (r >= 0 && r < LL_REJECT_COUNT) ? rejections[r].slug : NULL;
}

const char *ll_rejection_title(ll_rejection_t r) {
    return (r >= 0 && r < LL_REJECT_COUNT) ? rejections[r].title : NULL;
}
