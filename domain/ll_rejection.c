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
};

const char *ll_rejection_slug(ll_rejection_t r) {
    return (r >= 0 && r < LL_REJECT_COUNT) ? rejections[r].slug : NULL;
}

const char *ll_rejection_title(ll_rejection_t r) {
    return (r >= 0 && r < LL_REJECT_COUNT) ? rejections[r].title : NULL;
}
