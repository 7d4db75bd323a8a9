/* ll_state_check.c - see ll_state_check.h. */
#include "ll_state_check.h"

#include <string.h>

bool ll_currency_shaped(const char *s) {
    for (int i = 0; i < 3; i++)
        if (s[i] < 'A' || s[i] > 'Z') return false;
    return s[3] == '\0';
}

static bool hash_shaped(const char *s) {
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return false;
    return n == LL_HASH_HEX_LEN;
}

static int broken(ll_error_t *err, const char *what) {
    return ll_error_set(err, LL_EINVAL, "%s", what);
}

/* The figures: held, limit and what is available within their floors. */
static int check_figures(const ll_account_t *a, ll_error_t *err) {
    int64_t available;
    if (a->held_minor < 0) return broken(err, "held_minor is negative");
    if (a->overdraft_limit_minor < 0 || a->overdraft_limit_minor > LL_AMOUNT_MINOR_MAX)
        return broken(err, "overdraft_limit_minor is outside 0..10^15");
    if (ll_money_sub(a->balance_minor, a->held_minor, &available) != 0)
        return broken(err, "balance_minor - held_minor overflows");
    if (available < ll_account_floor(a)) return broken(err, "available (balance - held) is below -overdraft_limit");
    bool empty = a->balance_minor == 0 && a->held_minor == 0 && a->overdraft_limit_minor == 0 && !a->frozen;
    if (a->status == LL_ACCOUNT_CLOSED && !empty) return broken(err, "a closed account holds money, holds, a limit or a freeze");
    if (a->version == 1 && !empty) return broken(err, "an account only opened (version 1) is not empty");
    return 0;
}

int ll_account_check(const ll_account_t *a, ll_error_t *err) {
    if (a->version < 1) return broken(err, "version is below 1");
    if (a->status != LL_ACCOUNT_OPEN && a->status != LL_ACCOUNT_CLOSED) return broken(err, "status is neither open nor closed");
    if (a->owner[0] == '\0') return broken(err, "owner is empty");
    if (!ll_currency_shaped(a->currency.code)) return broken(err, "currency is not three upper-case letters");
    if (!hash_shaped(a->head_hash)) return broken(err, "head_hash is not 64 lower-case hex digits");
    if (a->updated_at_us < a->opened_at_us) return broken(err, "updated_at is before opened_at");
    return check_figures(a, err);
}

int ll_hold_check(const ll_hold_t *h, ll_error_t *err) {
    if (h->status != LL_HOLD_OPEN && h->status != LL_HOLD_CAPTURED && h->status != LL_HOLD_RELEASED &&
        h->status != LL_HOLD_EXPIRED)
        return broken(err, "status is not open, captured, released or expired");
    if (!ll_currency_shaped(h->currency.code)) return broken(err, "currency is not three upper-case letters");
    if (!ll_amount_valid(h->amount_minor)) return broken(err, "amount_minor is outside 1..10^15");
    bool captured_ok = h->status == LL_HOLD_CAPTURED ? h->captured_minor >= 1 && h->captured_minor <= h->amount_minor
                                                     : h->captured_minor == 0;
    if (!captured_ok) return broken(err, "captured_minor does not fit the status and amount");
    if (h->status == LL_HOLD_OPEN ? h->settled_at_us != 0 : h->settled_at_us < h->placed_at_us)
        return broken(err, "settled_at does not fit the status");
    if (h->expires_at_us < h->placed_at_us) return broken(err, "expires_at is before placed_at");
    if (h->placed_version < 1) return broken(err, "placed_version is below 1");
    return 0;
}
