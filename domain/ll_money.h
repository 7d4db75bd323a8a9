/* ll_money.h - money as integer minor units of one ISO 4217 currency; never floating point.
 *
 * Every arithmetic helper checks for overflow before it happens (as Redis' incrDecrCommand)
 * and reports it instead of wrapping. Amounts of one command lie in
 * LL_AMOUNT_MINOR_MIN..LL_AMOUNT_MINOR_MAX (ll_limits.h).
 */
#ifndef LL_MONEY_H
#define LL_MONEY_H

#include "ll_limits.h"

#include <stdbool.h>
#include <stdint.h>

/* An ISO 4217 alphabetic code, NUL-terminated: "EUR". */
typedef struct ll_currency {
    char code[4];
} ll_currency_t;

/* True when s is exactly three upper-case letters naming an active ISO 4217 currency. */
bool ll_currency_valid(const char *s);

/* Parses s into out. Returns 0, or -1 (out untouched) when s is not a known currency code. */
int ll_currency_parse(const char *s, ll_currency_t *out);

/* Digits after the decimal point of the currency (EUR 2, JPY 0, BHD 3), or -1 if unknown. */
int ll_currency_minor_digits(const ll_currency_t *c);

bool ll_currency_equal(const ll_currency_t *a, const ll_currency_t *b);

/* *out = a + b. Returns 0, or -1 on int64 overflow (out untouched). */
int ll_money_add(int64_t a, int64_t b, int64_t *out);

/* *out = a - b. Returns 0, or -1 on int64 overflow (out untouched). */
int ll_money_sub(int64_t a, int64_t b, int64_t *out);

/* True when amount is a valid amount for one command (1..10^15 minor units). */
bool ll_amount_valid(int64_t amount_minor);

/* Aborts with a message when cond is false: money invariants are checked in release builds
 * too, because continuing with a wrong balance is worse than stopping. */
#define LL_MONEY_ASSERT(cond) ((cond) ? (void)0 : ll_money_assert_fail(#cond, __FILE__, __LINE__))
_Noreturn void ll_money_assert_fail(const char *expr, const char *file, int line);

#endif
