/* ll_audit_trace.c - `trace`: both legs of a transfer (a payment's leg, a hold captured to
 * another account), and whether they match. */
#include "ll_audit.h"
#include "ll_event_codec.h"
#include "ll_event_reader.h"

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

/* The transfer's first two legs, decoded and tabled as they come; the rest only counted. */
typedef struct {
    ll_table_t *t;
    ll_event_t legs[2];
    int n, rc;
    ll_error_t err;
} trace_t;

static int trace_leg(void *ctx, const char *text, size_t len) {
    trace_t *tr = ctx;
    int i = tr->n++;
    if (i >= 2 || tr->rc != 0) return 0;
    if (ll_event_decode(text, len, &tr->legs[i], &tr->err) != 0)
        tr->rc = EXIT_FINDING;
    else if (add_event_row(tr->t, &tr->legs[i]) != 0)
        tr->rc = EXIT_USAGE;
    return 0;
}

/* Reads the legs of o->transfer into tr. Returns 0, or the exit status of a failed read. */
static int read_legs(PGconn *pg, const options_t *o, trace_t *tr) {
    ll_uuid_t id;
    if (ll_uuid_parse(o->transfer, true, &id) != 0) return audit_fail("--transfer: not a uuid");
    ll_event_reader_t *store = ll_event_reader_on(&pg);
    if (store == NULL) return audit_fail("out of memory");
    int64_t n = ll_event_reader_transfer(store, &id, trace_leg, tr, &tr->err);
    ll_event_reader_free(store);
    return n < 0 ? audit_fail("%s", tr->err.msg) : 0;
}

int audit_trace(PGconn *pg, const options_t *o, const ll_config_t *cfg) {
    (void)cfg;
    trace_t tr = {.t = event_table_new()};
    tr.rc = tr.t ? 0 : EXIT_USAGE;
    if (read_legs(pg, o, &tr) != 0) {
        ll_table_free(tr.t);
        return EXIT_USAGE;
    }
    ll_table_t *t = tr.t;
    ll_event_t *legs = tr.legs;
    int n = tr.n, rc = tr.rc;
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
