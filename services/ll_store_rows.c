/* ll_store_rows.c - see ll_store_rows.h. */
#include "ll_store_rows.h"

#include "ll_state_check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ll_store_int64(const PGresult *res, int r, int c, int64_t *out) {
    if (PQgetisnull(res, r, c)) return LL_EINVAL;
    const char *s = PQgetvalue(res, r, c);
    char *end = NULL;
    if (!((s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && s[1] >= '0' && s[1] <= '9'))) return LL_EINVAL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') return LL_EINVAL;
    *out = (int64_t)v;
    return 0;
}

/* Column c of row r into out[size] when it fits whole and is not NULL. */
static int text(const PGresult *res, int r, int c, char *out, size_t size) {
    size_t n = (size_t)PQgetlength(res, r, c);
    if (PQgetisnull(res, r, c) || n >= size) return LL_EINVAL;
    memcpy(out, PQgetvalue(res, r, c), n + 1);
    return strlen(out) == n ? 0 : LL_EINVAL; /* no NUL inside */
}

/* Reads the int64 columns cols[i] into outs[i]; returns the first column that is not one, or -1. */
static int int_columns(const PGresult *res, int r, const int *cols, int64_t *const *outs, int n) {
    for (int i = 0; i < n; i++)
        if (ll_store_int64(res, r, cols[i], outs[i]) != 0) return cols[i];
    return -1;
}

static int bad_column(const PGresult *res, int c, ll_error_t *err) {
    return ll_error_set(err, LL_EINVAL, "column %s is malformed", PQfname(res, c));
}

int ll_store_row_account(const PGresult *res, int r, ll_account_t *a, ll_error_t *err) {
    static const int cols[] = {1, 5, 6, 7, 8, 10};
    int64_t *outs[] = {&a->version,      &a->balance_minor, &a->overdraft_limit_minor,
                       &a->opened_at_us, &a->updated_at_us, &a->held_minor};
    int bad = int_columns(res, r, cols, outs, 6);
    if (bad >= 0) return bad_column(res, bad, err);
    const char *status = PQgetvalue(res, r, 2), *frozen = PQgetvalue(res, r, 11);
    if (!strcmp(status, "open"))
        a->status = LL_ACCOUNT_OPEN;
    else if (!strcmp(status, "closed"))
        a->status = LL_ACCOUNT_CLOSED;
    else
        return bad_column(res, 2, err);
    if (text(res, r, 3, a->owner, sizeof a->owner) != 0) return bad_column(res, 3, err);
    if (text(res, r, 4, a->currency.code, sizeof a->currency.code) != 0) return bad_column(res, 4, err);
    if (text(res, r, 9, a->head_hash, sizeof a->head_hash) != 0) return bad_column(res, 9, err);
    if (strcmp(frozen, "t") != 0 && strcmp(frozen, "f") != 0) return bad_column(res, 11, err);
    a->frozen = frozen[0] == 't';
    return ll_account_check(a, err);
}

int ll_store_row_hold(const PGresult *res, int r, ll_hold_t *h, ll_error_t *err) {
    static const int cols[] = {4, 5, 7, 8, 9, 10};
    int64_t *outs[] = {&h->amount_minor,  &h->captured_minor, &h->placed_at_us,
                       &h->expires_at_us, &h->settled_at_us,  &h->placed_version};
    int bad = int_columns(res, r, cols, outs, 6);
    if (bad >= 0) return bad_column(res, bad, err);
    if (ll_uuid_parse(PQgetvalue(res, r, 1), false, &h->account_id) != 0) return bad_column(res, 1, err);
    if ((h->status = ll_hold_status_from_name(PQgetvalue(res, r, 2))) == LL_HOLD_NONE) return bad_column(res, 2, err);
    if (text(res, r, 3, h->currency.code, sizeof h->currency.code) != 0) return bad_column(res, 3, err);
    if (text(res, r, 6, h->reference, sizeof h->reference) != 0) return bad_column(res, 6, err);
    if (text(res, r, 11, h->placed_by, sizeof h->placed_by) != 0) return bad_column(res, 11, err);
    return ll_hold_check(h, err);
}
