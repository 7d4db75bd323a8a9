/* ll_audit_trace.c - `trace`: both legs of a transfer (a payment's leg, a hold captured to
 * another account), and whether they match. */
#include "ll_audit.h"
#include "ll_event_codec.h"

#include <stdio.h>

/* Why two events with one transfer_id are not the two legs of one transfer (NULL: they are).
 * The sending leg is a TransferSent (a transfer, or a leg of a payment: both legs then carry
 * its payment_id) or a HoldCaptured (a hold captured to another account); the other is the
 * TransferReceived of as much, in the same currency, each naming the other's account. */
static const char *legs_mismatch(const ll_event_t *a, const ll_event_t *b) {
    int a_sends = a->type == LL_EVENT_TRANSFER_SENT || a->type == LL_EVENT_HOLD_CAPTURED;
    const ll_event_t *s = a_sends ? a : b, *r = a_sends ? b : a;
    const ll_data_movement_t *sm = &s->data.movement, *rm = &r->data.movement;
    if ((s->type != LL_EVENT_TRANSFER_SENT && s->type != LL_EVENT_HOLD_CAPTURED) ||
        r->type != LL_EVENT_TRANSFER_RECEIVED)
        return "legs are not sent (or captured) + received";
    if (sm->amount_minor != rm->amount_minor || !ll_currency_equal(&sm->currency, &rm->currency))
        return "the legs' amounts or currencies differ";
    if (!ll_uuid_equal(&sm->counterparty_id, &r->account_id) ||
        !ll_uuid_equal(&rm->counterparty_id, &s->account_id))
        return "the legs do not name each other's accounts";
    if (!ll_uuid_equal(&sm->payment_id, &rm->payment_id)) return "the legs name different payments";
    if (s->type == LL_EVENT_HOLD_CAPTURED && !ll_uuid_is_nil(&sm->payment_id))
        return "a capture names a payment";
    return NULL;
}

int audit_trace(PGconn *pg, const options_t *o, const ll_config_t *cfg) {
    (void)cfg;
    ll_error_t err = {""};
    const char *params[1] = {o->transfer};
    PGresult *res =
        ll_pg_query(pg, "SELECT envelope FROM events WHERE transfer_id = $1::uuid ORDER BY global_position",
                    1, params, PGRES_TUPLES_OK, &err);
    if (res == NULL) return audit_fail("%s", err.msg);
    ll_table_t *t = event_table_new();
    ll_event_t legs[2];
    int n = PQntuples(res), rc = t ? 0 : EXIT_USAGE;
    for (int i = 0; rc == 0 && i < n && i < 2; i++) {
        if (ll_event_decode(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), &legs[i], &err) != 0)
            rc = EXIT_FINDING;
        else if (add_event_row(t, &legs[i]) != 0)
            rc = EXIT_USAGE;
    }
    PQclear(res);
    if (rc == 0 && n == 0) rc = audit_fail("no transfer %s", o->transfer);
    const char *why = NULL;
    if (rc == 0 && n != 2)
        why = "a transfer has exactly two legs";
    else if (rc == 0)
        why = legs_mismatch(&legs[0], &legs[1]);
    int prc = t ? print_table(t, o) : EXIT_USAGE;
    if (rc) return rc;
    const char *what = "consistent (two legs, same amount, money conserved)";
    char payment[LL_UUID_TEXT_LEN + 1], said[128];
    if (why == NULL && !ll_uuid_is_nil(&legs[0].data.movement.payment_id)) {
        ll_uuid_format(&legs[0].data.movement.payment_id, payment);
        snprintf(said, sizeof said, "%.60s, a leg of payment %s", what, payment);
        what = said;
    } else if (why == NULL &&
               (legs[0].type == LL_EVENT_HOLD_CAPTURED || legs[1].type == LL_EVENT_HOLD_CAPTURED)) {
        what = "consistent (a hold captured to another account: two legs, same amount, money conserved)";
    }
    fprintf(stderr, "transfer %s: %s\n", o->transfer, why ? why : what);
    return why ? EXIT_FINDING : prc;
}
