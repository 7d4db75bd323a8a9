/* ll_state_check.h - what must hold of an account state or a hold read back from a store.
 *
 * The invariants of ll_account.h and ll_hold.h are asserted where state is computed (evolve,
 * LL_MONEY_ASSERT); a store hands state back that was written by another process, perhaps by an
 * older build, and may have been damaged since. As SQLite checks a page it reads and TigerBeetle
 * a block, every reader checks the state it loads, in every build: a state that breaks one is
 * named and never decided on (a money assertion would stop the process for a fault that is the
 * store's, not this program's). Pure: no I/O.
 */
#ifndef LL_STATE_CHECK_H
#define LL_STATE_CHECK_H

#include "ll_account.h"
#include "ll_error.h"
#include "ll_hold.h"

/* An account that exists (a row of the store): version >= 1; open or closed; an owner; a
 * currency of three upper-case letters; held >= 0; 0 <= limit <= LL_AMOUNT_MINOR_MAX; available
 * (balance - held) without overflow and >= -limit; a closed account empty (balance, held and
 * limit 0) and not frozen; an account at version 1 (only opened) empty and not frozen; a head
 * hash of 64 lower-case hex digits; updated_at_us >= opened_at_us. Returns 0, or LL_EINVAL
 * with the broken invariant in err. */
int ll_account_check(const ll_account_t *a, ll_error_t *err);

/* A hold that was placed: open, captured, released or expired; a currency of three upper-case
 * letters; an amount of one command (LL_AMOUNT_MINOR_MIN..MAX); captured 1..amount when
 * captured and 0 otherwise; settled_at 0 while open and >= placed_at once settled; expires_at
 * >= placed_at; placed_version >= 1. Returns 0, or LL_EINVAL with the broken invariant in err. */
int ll_hold_check(const ll_hold_t *h, ll_error_t *err);

/* True when s is exactly three upper-case ASCII letters (the shape of a currency code; whether
 * it is still an active ISO 4217 code is a question for new accounts only). */
bool ll_currency_shaped(const char *s);

#endif
