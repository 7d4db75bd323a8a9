/* rm_depth_fixture.h - streams with holds, captures, limits, freezes and payments for the read
 * side's tests (projector documents, read model, rebuild), built with domain/'s deciders through
 * domain_fixture.h's pipeline (decide -> position -> seal -> evolve). Header-only; each helper
 * returns the rejection (LL_REJECT_COUNT when a decided event did not commit). */
#ifndef RM_DEPTH_FIXTURE_H
#define RM_DEPTH_FIXTURE_H

#include "domain_fixture.h"

/* Places a hold of amount on *a (7 days), *h its record after. */
static inline ll_rejection_t dx_place(fx_world_t *w, ll_account_t *a, int64_t amount, const char *reference,
                                      ll_hold_t *h, ll_decision_t *d) {
    ll_command_t c = fx_cmd(LL_CMD_PLACE_HOLD, &a->account_id, amount, a->currency.code);
    c.hold_id = fx_uuid(w->next_id++);
    c.expires_in_s = LL_HOLD_EXPIRY_DEFAULT_S;
    if (reference != NULL) snprintf(c.reference, sizeof c.reference, "%s", reference);
    ll_rejection_t r = fx_run(w, a, &c, d);
    ll_error_t err = {""};
    ll_hold_init(h, &c.hold_id);
    if (r == LL_REJECT_NONE && ll_hold_apply(h, &d->events[0], &err) != 0) return LL_REJECT_COUNT;
    return r;
}

/* Settles hold h of *a: a capture of amount (0: all) to *to (NULL: a withdrawal), a release, or
 * an expiry (the clock moved past expires_at first). */
static inline ll_rejection_t dx_settle(fx_world_t *w, ll_command_type_t type, ll_account_t *a, ll_hold_t *h,
                                       ll_account_t *to, int64_t amount, ll_decision_t *d) {
    ll_command_t c = fx_cmd(type, &a->account_id, amount, NULL);
    c.hold_id = h->hold_id;
    if (to != NULL) c.to_account_id = to->account_id, c.transfer_id = fx_uuid(w->next_id++);
    if (type == LL_CMD_EXPIRE_HOLD && w->clock_us < h->expires_at_us) w->clock_us = h->expires_at_us;
    ll_command_meta_t meta = fx_meta(w);
    ll_decide_hold(a, h, to, &c, &meta, d);
    ll_account_t *states[2] = {a, to};
    if (d->rejection != LL_REJECT_NONE) return d->rejection;
    if (fx_commit(w, d, states) != 0) return LL_REJECT_COUNT;
    ll_error_t err = {""};
    return ll_hold_apply(h, &d->events[0], &err) == 0 ? LL_REJECT_NONE : LL_REJECT_COUNT;
}

static inline ll_rejection_t dx_limit(fx_world_t *w, ll_account_t *a, int64_t limit, ll_decision_t *d) {
    ll_command_t c = fx_cmd(LL_CMD_SET_CREDIT_LIMIT, &a->account_id, 0, NULL);
    c.overdraft_limit_minor = limit;
    return fx_run(w, a, &c, d);
}

/* Freezes *a for reason; unfreezes it when reason is NULL. */
static inline ll_rejection_t dx_freeze(fx_world_t *w, ll_account_t *a, const char *reason, ll_decision_t *d) {
    ll_command_t c = fx_cmd(reason != NULL ? LL_CMD_FREEZE : LL_CMD_UNFREEZE, &a->account_id, 0, NULL);
    if (reason != NULL) snprintf(c.reason, sizeof c.reason, "%s", reason);
    return fx_run(w, a, &c, d);
}

/* A payment of legs[i] = from[i] -> to[i] of amounts[i] between accounts (each once in
 * accounts[0..n)); the committed events are d->events in leg order. */
static inline ll_rejection_t dx_payment(fx_world_t *w, ll_account_t *const *accounts, size_t n, int legs,
                                        const int *from, const int *to, const int64_t *amounts,
                                        ll_decision_t *d) {
    ll_command_t c;
    memset(&c, 0, sizeof c);
    c.type = LL_CMD_PAYMENT;
    c.payment_id = fx_uuid(w->next_id++);
    c.leg_count = legs;
    snprintf(c.reference, sizeof c.reference, "payment %llu", (unsigned long long)w->next_id);
    ll_uuid_t transfer_ids[LL_PAYMENT_LEGS_MAX];
    ll_account_t copies[2 * LL_PAYMENT_LEGS_MAX];
    for (size_t i = 0; i < n; i++) copies[i] = *accounts[i];
    for (int i = 0; i < legs; i++) {
        c.legs[i].from_account_id = accounts[from[i]]->account_id;
        c.legs[i].to_account_id = accounts[to[i]]->account_id;
        c.legs[i].amount_minor = amounts[i];
        c.legs[i].currency = accounts[from[i]]->currency;
        transfer_ids[i] = fx_uuid(w->next_id++);
    }
    ll_command_meta_t meta = fx_meta(w);
    ll_decide_payment(copies, n, &c, transfer_ids, &meta, d);
    if (d->rejection != LL_REJECT_NONE) return d->rejection;
    /* Each event onto its account's state, linked to that account's head as the store does. */
    for (int i = 0; i < d->event_count; i++) {
        ll_account_t *target = NULL;
        for (size_t k = 0; k < n; k++)
            if (ll_uuid_equal(&accounts[k]->account_id, &d->events[i].account_id)) target = accounts[k];
        if (target == NULL) return LL_REJECT_COUNT;
        memcpy(d->events[i].prev_hash, target->head_hash, sizeof d->events[i].prev_hash);
        ll_decision_t one;
        one.event_count = 1;
        one.events[0] = d->events[i];
        ll_account_t *states[1] = {target};
        if (fx_commit(w, &one, states) != 0) return LL_REJECT_COUNT;
        d->events[i] = one.events[0];
    }
    return LL_REJECT_NONE;
}

/* Two accounts whose streams hold every new event type:
 *   A: 1 opened, 2 deposit 10000, 3 hold h1 300, 4 hold h2 500, 5 h1 captured 200 to B,
 *      6 h2 released, 7 limit 1000, 8 withdraw 10300 (balance -500), 9 hold h4 50, 10 h4
 *      captured whole (a withdrawal), 11 payment leg A->B 10 sent, 12 its leg B->A 5 received,
 *      13 hold h3 400, 14 hold h5 20, 15 frozen, 16 h3 expired, then `after` deposits of 1
 *      (credits land while frozen).
 *   B: 1 opened, 2 received 200 (the capture), 3 received 10, 4 sent 5.
 * A ends at version 16 + after, balance -555 + after, held 20, limit 1000, frozen. */
#define DX_EVENTS_MAX 160
typedef struct {
    ll_account_t a, b;
    ll_event_t ev_a[DX_EVENTS_MAX], ev_b[8];
    int n_a, n_b;
    ll_uuid_t capture_transfer_id, payment_id;
} dx_stream_t;

/* Appends d's events to the stream of their account. */
static inline void dx_keep(dx_stream_t *s, const ll_decision_t *d) {
    for (int i = 0; i < d->event_count; i++) {
        if (ll_uuid_equal(&d->events[i].account_id, &s->a.account_id))
            s->ev_a[s->n_a++] = d->events[i];
        else
            s->ev_b[s->n_b++] = d->events[i];
    }
}

static inline int dx_depth_stream(fx_world_t *w, dx_stream_t *s, uint64_t id_a, uint64_t id_b, int after) {
    ll_decision_t d;
    ll_hold_t h1, h2, h3, h4, h5;
    memset(s, 0, sizeof *s);
    if (after < 0 || after > DX_EVENTS_MAX - 16) return -1;
    ll_uuid_t ia = fx_uuid(id_a), ib = fx_uuid(id_b);
    ll_account_init(&s->a, &ia);
    ll_account_init(&s->b, &ib);
    ll_command_t open_a = fx_cmd(LL_CMD_OPEN, &ia, 0, "EUR"), open_b = fx_cmd(LL_CMD_OPEN, &ib, 0, "EUR");
    ll_command_t deposit = fx_cmd(LL_CMD_DEPOSIT, &ia, 10000, "EUR"),
                 withdraw = fx_cmd(LL_CMD_WITHDRAW, &ia, 10300, "EUR");
    ll_account_t *both[2] = {&s->a, &s->b};
    const int from[2] = {0, 1}, to[2] = {1, 0};
    const int64_t amounts[2] = {10, 5};
#define DX_STEP(call)                                                                                        \
    do {                                                                                                     \
        if ((call) != LL_REJECT_NONE) return -1;                                                             \
        dx_keep(s, &d);                                                                                      \
    } while (0)
    DX_STEP(fx_run(w, &s->a, &open_a, &d));
    DX_STEP(fx_run(w, &s->b, &open_b, &d));
    DX_STEP(fx_run(w, &s->a, &deposit, &d));
    DX_STEP(dx_place(w, &s->a, 300, "card auth \"1\"", &h1, &d));
    DX_STEP(dx_place(w, &s->a, 500, NULL, &h2, &d));
    DX_STEP(dx_settle(w, LL_CMD_CAPTURE_HOLD, &s->a, &h1, &s->b, 200, &d));
    s->capture_transfer_id = d.events[0].data.movement.transfer_id;
    DX_STEP(dx_settle(w, LL_CMD_RELEASE_HOLD, &s->a, &h2, NULL, 0, &d));
    DX_STEP(dx_limit(w, &s->a, 1000, &d));
    DX_STEP(fx_run(w, &s->a, &withdraw, &d));
    DX_STEP(dx_place(w, &s->a, 50, "fuel", &h4, &d));
    DX_STEP(dx_settle(w, LL_CMD_CAPTURE_HOLD, &s->a, &h4, NULL, 0, &d));
    DX_STEP(dx_payment(w, both, 2, 2, from, to, amounts, &d));
    s->payment_id = d.events[0].data.movement.payment_id;
    DX_STEP(dx_place(w, &s->a, 400, NULL, &h3, &d));
    DX_STEP(dx_place(w, &s->a, 20, NULL, &h5, &d));
    DX_STEP(dx_freeze(w, &s->a, "court order", &d));
    DX_STEP(dx_settle(w, LL_CMD_EXPIRE_HOLD, &s->a, &h3, NULL, 0, &d));
    for (int i = 0; i < after; i++) {
        ll_command_t c = fx_cmd(LL_CMD_DEPOSIT, &ia, 1, "EUR");
        DX_STEP(fx_run(w, &s->a, &c, &d));
    }
#undef DX_STEP
    return s->a.version == 16 + after && s->b.version == 4 ? 0 : -1;
}

#endif
