/* ll_store_rows.h - the event store's rows turned back into state, strictly.
 *
 * Every column is parsed whole (an integer all digits and in range, a text that fits, a status
 * or boolean exactly one of its names) and the state is then checked for what must hold of it
 * (ll_state_check.h), so a damaged row is named in err and never decided on. The column lists
 * are here, beside the code that reads them by position. */
#ifndef LL_STORE_ROWS_H
#define LL_STORE_ROWS_H

#include "ll_account.h"
#include "ll_error.h"
#include "ll_hold.h"

#include <libpq-fe.h>
#include <stdint.h>

/* account_state's columns as ll_store_row_account reads them. */
#define LL_STORE_ACCOUNT_COLUMNS                                                                               \
    "account_id, version, status, owner, currency, balance_minor, overdraft_limit_minor, opened_at_us,"       \
    " updated_at_us, head_hash, held_minor, frozen"

/* holds' columns as ll_store_row_hold reads them (times in microseconds since the epoch). */
#define LL_STORE_HOLD_COLUMNS                                                                                  \
    "hold_id, account_id, status, currency, amount_minor, captured_minor, reference,"                         \
    " (extract(epoch FROM placed_at) * 1000000)::bigint AS placed_at_us,"                                     \
    " (extract(epoch FROM expires_at) * 1000000)::bigint AS expires_at_us,"                                   \
    " coalesce((extract(epoch FROM settled_at) * 1000000)::bigint, 0) AS settled_at_us, placed_version, placed_by"

/* Column c of row r as a whole int64: all digits after an optional '-', in range, not NULL.
 * Returns 0, or LL_EINVAL. */
int ll_store_int64(const PGresult *res, int r, int c, int64_t *out);

/* Row r (LL_STORE_ACCOUNT_COLUMNS) into *a, whose account_id the caller already set from
 * column 0. Returns 0, or LL_EINVAL with what is wrong in err (*a then holds no state to use). */
int ll_store_row_account(const PGresult *res, int r, ll_account_t *a, ll_error_t *err);

/* Row r (LL_STORE_HOLD_COLUMNS) into *h, whose hold_id the caller already set from column 0.
 * Returns 0, or LL_EINVAL with what is wrong in err. */
int ll_store_row_hold(const PGresult *res, int r, ll_hold_t *h, ll_error_t *err);

#endif
