/* ll_event_holds.c - holds as the event store keeps them (the holds table, written in the same
 * transaction as the hold's events), with the owner of their account: the query API's GET of a
 * hold and its page of an account's open holds. See ll_event_reader.h. */
#include "ll_event_reader.h"
#include "ll_event_reader_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Column c of row r (LL_EVENT_HOLD_COLUMNS), a bigint, or 0 when NULL (settled_at while open). */
static int64_t micros(const PGresult *res, int r, int c) {
    return PQgetisnull(res, r, c) ? 0 : strtoll(PQgetvalue(res, r, c), NULL, 10);
}

/* The hold of row r (LL_EVENT_HOLD_COLUMNS, whose hold columns are not NULL) into *h. The
 * schema's checks bound every column but the reference: one longer than any command may give is
 * a damaged row, never shown cut short. Returns 0, or LL_EIO with err set. */
static int hold_of(const PGresult *res, int r, ll_hold_t *h, ll_error_t *err) {
    memset(h, 0, sizeof *h);
    if (ll_uuid_parse(PQgetvalue(res, r, 1), false, &h->hold_id) != 0 ||
        ll_uuid_parse(PQgetvalue(res, r, 2), false, &h->account_id) != 0 ||
        (h->status = ll_hold_status_from_name(PQgetvalue(res, r, 3))) == LL_HOLD_NONE ||
        (size_t)PQgetlength(res, r, 4) >= sizeof h->currency.code ||
        (size_t)PQgetlength(res, r, 7) >= sizeof h->reference)
        return ll_error_set(err, LL_EIO, "event store: a damaged holds row (hold %.36s)",
                            PQgetvalue(res, r, 1));
    memcpy(h->currency.code, PQgetvalue(res, r, 4), (size_t)PQgetlength(res, r, 4) + 1);
    memcpy(h->reference, PQgetvalue(res, r, 7), (size_t)PQgetlength(res, r, 7) + 1);
    h->amount_minor = strtoll(PQgetvalue(res, r, 5), NULL, 10);
    h->captured_minor = strtoll(PQgetvalue(res, r, 6), NULL, 10);
    h->placed_at_us = micros(res, r, 8);
    h->expires_at_us = micros(res, r, 9);
    h->settled_at_us = micros(res, r, 10);
    h->placed_version = strtoll(PQgetvalue(res, r, 11), NULL, 10);
    return 0;
}

/* The owner of row r (column 0) as ll_state_row_t keeps one: a damaged longer one is cut to
 * one byte more than any valid owner, so it equals none. */
static void owner_of(const PGresult *res, int r, char owner[LL_OWNER_BYTES_MAX + 2]) {
    snprintf(owner, LL_OWNER_BYTES_MAX + 2, "%s", PQgetvalue(res, r, 0));
}

int ll_event_reader_hold(ll_event_reader_t *r, const ll_uuid_t *hold, ll_hold_row_t *out, ll_error_t *err) {
    char id[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(hold, id);
    const char *params[1] = {id};
    PGresult *res = ll_event_reader_run(r, LL_ES_HOLD, 1, params, err);
    if (res == NULL) return -1;
    memset(out, 0, sizeof *out);
    int found = PQntuples(res) == 1;
    if (found) {
        owner_of(res, 0, out->owner);
        if (hold_of(res, 0, &out->hold, err) != 0) found = -1;
    }
    PQclear(res);
    return found;
}

int64_t ll_event_reader_open_holds(ll_event_reader_t *r, const ll_uuid_t *account, int64_t after, int64_t max,
                                   char owner[LL_OWNER_BYTES_MAX + 2],
                                   int (*each)(void *ctx, const ll_hold_t *h), void *ctx, ll_error_t *err) {
    char id[LL_UUID_TEXT_LEN + 1], from[24], fetch[24];
    ll_uuid_format(account, id);
    snprintf(from, sizeof from, "%lld", (long long)after);
    snprintf(fetch, sizeof fetch, "%lld", (long long)max);
    const char *params[3] = {id, from, fetch};
    owner[0] = '\0';
    PGresult *res = ll_event_reader_run(r, LL_ES_OPEN_HOLDS, 3, params, err);
    if (res == NULL) return LL_EIO;
    int rows = PQntuples(res);
    int64_t seen = rows == 0 ? LL_ENOENT : 0;
    if (rows > 0) owner_of(res, 0, owner);
    for (int i = 0, stop = 0; i < rows && seen >= 0 && !stop; i++) {
        ll_hold_t h;
        if (PQgetisnull(res, i, 1)) continue; /* the account, without open holds after the cursor */
        if (hold_of(res, i, &h, err) != 0) {
            seen = LL_EIO;
        } else {
            seen++;
            stop = each(ctx, &h);
        }
    }
    PQclear(res);
    return seen;
}
