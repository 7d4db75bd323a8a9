/* domain_fixture.h - helpers shared by the domain unit tests: deterministic ids and clock, and a
 * decide -> assign position -> seal -> evolve pipeline like the command service's. Header-only. */
#ifndef DOMAIN_FIXTURE_H
#define DOMAIN_FIXTURE_H

#include "ll_account.h"
#include "ll_command.h"
#include "ll_hash_chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A UUID whose last 8 bytes are n (big-endian) and version/variant bits set:
 * 00000000-0000-4000-8000-0000000000nn. */
static inline ll_uuid_t fx_uuid(uint64_t n) {
    ll_uuid_t u;
    memset(&u, 0, sizeof u);
    u.bytes[6] = 0x40;
    u.bytes[8] = 0x80;
    for (int i = 0; i < 6; i++) u.bytes[15 - i] = (uint8_t)(n >> (8 * i));
    return u;
}

typedef struct {
    uint64_t next_id;      /* for event ids, transfer ids */
    int64_t clock_us;      /* advances 1 s per command */
    int64_t next_position; /* global_position */
} fx_world_t;

static inline void fx_world_init(fx_world_t *w) {
    w->next_id = 1000;
    w->clock_us = 1764000000000000LL; /* 2025-11-24T16:00:00Z */
    w->next_position = 1;
}

static inline ll_command_meta_t fx_meta(fx_world_t *w) {
    ll_command_meta_t m;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < LL_DECISION_EVENTS_MAX; i++) m.event_ids[i] = fx_uuid(w->next_id++);
    w->clock_us += 1000000;
    m.occurred_at_us = w->clock_us;
    snprintf(m.command_id, sizeof m.command_id, "cmd-%llu", (unsigned long long)w->next_id);
    snprintf(m.correlation_id, sizeof m.correlation_id, "corr-%llu", (unsigned long long)w->next_id);
    snprintf(m.actor, sizeof m.actor, "operator:test");
    return m;
}

static inline ll_command_t fx_cmd(ll_command_type_t type, const ll_uuid_t *account, int64_t amount,
                                  const char *ccy) {
    ll_command_t c;
    memset(&c, 0, sizeof c);
    c.type = type;
    c.account_id = *account;
    c.amount_minor = amount;
    if (ccy != NULL) snprintf(c.currency.code, sizeof c.currency.code, "%s", ccy);
    if (type == LL_CMD_OPEN) snprintf(c.owner, sizeof c.owner, "customer-1");
    return c;
}

/* Assigns positions, seals and evolves the decided events into the given states
 * (states[i] receives events[i]). Returns 0, or -1 when anything refuses. */
static inline int fx_commit(fx_world_t *w, ll_decision_t *d, ll_account_t *const *states) {
    for (int i = 0; i < d->event_count; i++) {
        ll_error_t err = {""};
        d->events[i].global_position = w->next_position++;
        if (ll_event_seal(&d->events[i], &err) != 0) return -1;
        if (ll_account_evolve(states[i], &d->events[i], &err) != LL_EVOLVE_OK) {
            fprintf(stderr, "fx_commit: %s\n", err.msg);
            return -1;
        }
    }
    return 0;
}

/* Decides a single-stream command on *state and commits it. Returns the rejection. */
static inline ll_rejection_t fx_run(fx_world_t *w, ll_account_t *state, const ll_command_t *cmd,
                                    ll_decision_t *d) {
    ll_command_meta_t meta = fx_meta(w);
    ll_decide(state, cmd, &meta, d);
    ll_account_t *states[1] = {state};
    if (d->rejection == LL_REJECT_NONE && fx_commit(w, d, states) != 0) return LL_REJECT_COUNT;
    return d->rejection;
}

/* Decides a transfer and commits both legs. */
static inline ll_rejection_t fx_transfer(fx_world_t *w, ll_account_t *from, ll_account_t *to, int64_t amount,
                                         const char *ccy, ll_decision_t *d) {
    ll_command_t cmd = fx_cmd(LL_CMD_TRANSFER, &from->account_id, amount, ccy);
    cmd.to_account_id = to->account_id;
    cmd.transfer_id = fx_uuid(w->next_id++);
    ll_command_meta_t meta = fx_meta(w);
    ll_decide_transfer(from, to, &cmd, &meta, d);
    ll_account_t *states[2] = {from, to};
    if (d->rejection == LL_REJECT_NONE && fx_commit(w, d, states) != 0) return LL_REJECT_COUNT;
    return d->rejection;
}

/* Opens account n with currency ccy; returns 0 on success. */
static inline int fx_open(fx_world_t *w, ll_account_t *a, uint64_t n, const char *ccy) {
    ll_uuid_t id = fx_uuid(n);
    ll_account_init(a, &id);
    ll_command_t cmd = fx_cmd(LL_CMD_OPEN, &id, 0, ccy);
    ll_decision_t d;
    return fx_run(w, a, &cmd, &d) == LL_REJECT_NONE ? 0 : -1;
}

/* Two accounts and one event of every type, with awkward text (quotes, backslash, non-ASCII,
 * HTML) and amounts at the limit: AccountOpened x2, MoneyDeposited, MoneyWithdrawn,
 * TransferSent, TransferReceived, AccountClosed. Deterministic. Returns the count (7). */
static inline size_t fx_all_types(ll_event_t events[8]) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, b;
    size_t n = 0;
    ll_decision_t d;
    ll_uuid_t ida = fx_uuid(1), idb = fx_uuid(2);
    ll_account_init(&a, &ida);
    ll_account_init(&b, &idb);
    ll_command_t open = fx_cmd(LL_CMD_OPEN, &ida, 0, "EUR");
    snprintf(open.owner, sizeof open.owner,
             "Zo\xc3\xab \"Z\" \xc3\x85ngstr\xc3\xb6m \\ \xe6\x9d\xb1\xe4\xba\xac");
    if (fx_run(&w, &a, &open, &d) != LL_REJECT_NONE) abort();
    events[n++] = d.events[0];
    open = fx_cmd(LL_CMD_OPEN, &idb, 0, "EUR");
    if (fx_run(&w, &b, &open, &d) != LL_REJECT_NONE) abort();
    events[n++] = d.events[0];
    ll_command_t dep = fx_cmd(LL_CMD_DEPOSIT, &ida, LL_AMOUNT_MINOR_MAX, "EUR");
    snprintf(dep.reference, sizeof dep.reference, "invoice 42 / <b>&amp;</b>");
    if (fx_run(&w, &a, &dep, &d) != LL_REJECT_NONE) abort();
    events[n++] = d.events[0];
    ll_command_t wd = fx_cmd(LL_CMD_WITHDRAW, &ida, 1, "EUR");
    if (fx_run(&w, &a, &wd, &d) != LL_REJECT_NONE) abort();
    events[n++] = d.events[0];
    if (fx_transfer(&w, &a, &b, LL_AMOUNT_MINOR_MAX - 1, "EUR", &d) != LL_REJECT_NONE) abort();
    events[n++] = d.events[0];
    events[n++] = d.events[1];
    ll_command_t close = fx_cmd(LL_CMD_CLOSE, &ida, 0, NULL);
    if (fx_run(&w, &a, &close, &d) != LL_REJECT_NONE) abort();
    events[n++] = d.events[0];
    return n;
}

/* Places hold number n (id fx_uuid(n)) of amount, in the account's currency, on a for
 * expires_s seconds and commits it; *h becomes the store's record of the hold (NONE when
 * refused). Returns the rejection (LL_REJECT_COUNT: the commit or the hold record failed). */
static inline ll_rejection_t fx_place(fx_world_t *w, ll_account_t *a, uint64_t n, int64_t amount,
                                      int64_t expires_s, ll_hold_t *h, ll_decision_t *d) {
    ll_command_t cmd = fx_cmd(LL_CMD_PLACE_HOLD, &a->account_id, amount, a->currency.code);
    cmd.hold_id = fx_uuid(n);
    cmd.expires_in_s = expires_s;
    ll_hold_init(h, &cmd.hold_id);
    ll_rejection_t r = fx_run(w, a, &cmd, d);
    if (r == LL_REJECT_NONE && ll_hold_apply(h, &d->events[0], NULL) != 0) return LL_REJECT_COUNT;
    return r;
}

/* Decides a capture (amount 0: the whole hold; to: another account or NULL), release or expire
 * of hold *h on a, commits the events and folds them into *h, as the store does. */
static inline ll_rejection_t fx_settle(fx_world_t *w, ll_account_t *a, ll_hold_t *h, ll_account_t *to,
                                       ll_command_type_t type, int64_t amount, ll_decision_t *d) {
    ll_command_t cmd = fx_cmd(type, &a->account_id, amount, NULL);
    cmd.hold_id = h->hold_id;
    if (to != NULL) {
        cmd.to_account_id = to->account_id;
        cmd.transfer_id = fx_uuid(w->next_id++);
    }
    ll_command_meta_t meta = fx_meta(w);
    ll_decide_hold(a, h, to, &cmd, &meta, d);
    if (d->rejection != LL_REJECT_NONE) return d->rejection;
    ll_account_t *states[2] = {a, to};
    if (fx_commit(w, d, states) != 0 || ll_hold_apply(h, &d->events[0], NULL) != 0) return LL_REJECT_COUNT;
    return LL_REJECT_NONE;
}

/* Commits a payment's events as the store does: each event's prev_hash becomes its account's
 * head right before it is sealed (the decider leaves "" on an account's second and later events
 * of one payment; anything else than the head or "" is a decider bug: -1). accts[0..n) are
 * the accounts named; each event goes to the one with its account_id. Returns 0 or -1. */
static inline int fx_commit_linked(fx_world_t *w, ll_decision_t *d, ll_account_t *const *accts, size_t n) {
    for (int i = 0; i < d->event_count; i++) {
        ll_event_t *ev = &d->events[i];
        ll_account_t *s = NULL;
        for (size_t k = 0; k < n && s == NULL; k++)
            if (ll_uuid_equal(&accts[k]->account_id, &ev->account_id)) s = accts[k];
        if (s == NULL || (ev->prev_hash[0] != '\0' && strcmp(ev->prev_hash, s->head_hash) != 0)) return -1;
        memcpy(ev->prev_hash, s->head_hash, sizeof ev->prev_hash);
        ll_error_t err = {""};
        ev->global_position = w->next_position++;
        if (ll_event_seal(ev, &err) != 0) return -1;
        if (ll_account_evolve(s, ev, &err) != LL_EVOLVE_OK) {
            fprintf(stderr, "fx_commit_linked: %s\n", err.msg);
            return -1;
        }
    }
    return 0;
}

/* Decides the payment cmd (its legs set; type, payment_id and the transfer ids are assigned
 * here) over the distinct accounts accts[0..n) and commits it. Returns the rejection. */
static inline ll_rejection_t fx_payment(fx_world_t *w, ll_account_t *const *accts, size_t n, ll_command_t *cmd,
                                        ll_decision_t *d) {
    ll_account_t states[2 * LL_PAYMENT_LEGS_MAX];
    ll_uuid_t transfer_ids[LL_PAYMENT_LEGS_MAX];
    if (n > 2 * LL_PAYMENT_LEGS_MAX) abort();
    for (size_t k = 0; k < n; k++) states[k] = *accts[k];
    cmd->type = LL_CMD_PAYMENT;
    cmd->payment_id = fx_uuid(w->next_id++);
    for (int i = 0; i < cmd->leg_count; i++) transfer_ids[i] = fx_uuid(w->next_id++);
    ll_command_meta_t meta = fx_meta(w);
    ll_decide_payment(states, n, cmd, transfer_ids, &meta, d);
    if (d->rejection == LL_REJECT_NONE && fx_commit_linked(w, d, accts, n) != 0) return LL_REJECT_COUNT;
    return d->rejection;
}

/* Leg i of a payment: from -> to, amount in EUR. */
static inline void fx_leg(ll_command_t *cmd, const ll_account_t *from, const ll_account_t *to, int64_t amount) {
    ll_payment_leg_t *leg = &cmd->legs[cmd->leg_count++];
    leg->from_account_id = from->account_id;
    leg->to_account_id = to->account_id;
    leg->amount_minor = amount;
    snprintf(leg->currency.code, sizeof leg->currency.code, "EUR");
}

#define FX_EVERY_TYPE_MAX 32

/* Keeps the decided events of d in events[*n..]. */
static inline void fx_keep(ll_event_t *events, size_t *n, const ll_decision_t *d) {
    for (int i = 0; i < d->event_count; i++) {
        if (*n >= FX_EVERY_TYPE_MAX) abort();
        events[(*n)++] = d->events[i];
    }
}

/* Three accounts and every event type of schema 2 (the golden file, tests/vectors/events.jsonl):
 * A (1), B (2) and C (3) open; A gets 10^15, withdraws 1, sends B a transfer; hold 1 on A is
 * captured in part to B, hold 2 whole as a withdrawal, hold 4 (1 s) expires, hold 3 stays open
 * through a credit limit, a freeze (a deposit lands on the frozen account), an unfreeze and a
 * two-leg payment from A (A named twice) and is then released; A withdraws the rest and closes
 * with its limit still set. Awkward text in the owner, references and the freeze reason.
 * Deterministic. Returns the count (26), events in the order they were appended. */
static inline size_t fx_every_type(ll_event_t events[FX_EVERY_TYPE_MAX]) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a, b, c;
    ll_hold_t h1, h2, h3, h4;
    ll_decision_t d;
    size_t n = 0;
    ll_uuid_t ida = fx_uuid(1);
    ll_account_init(&a, &ida);
    ll_command_t cmd = fx_cmd(LL_CMD_OPEN, &ida, 0, "EUR");
    snprintf(cmd.owner, sizeof cmd.owner, "Zo\xc3\xab \"Z\" \xc3\x85ngstr\xc3\xb6m \\ \xe6\x9d\xb1\xe4\xba\xac");
    if (fx_run(&w, &a, &cmd, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    ll_account_t *others[2] = {&b, &c};
    for (uint64_t k = 0; k < 2; k++) {
        ll_uuid_t id = fx_uuid(2 + k);
        ll_account_init(others[k], &id);
        cmd = fx_cmd(LL_CMD_OPEN, &id, 0, "EUR");
        if (fx_run(&w, others[k], &cmd, &d) != LL_REJECT_NONE) abort();
        fx_keep(events, &n, &d);
    }
    cmd = fx_cmd(LL_CMD_DEPOSIT, &ida, LL_AMOUNT_MINOR_MAX, "EUR");
    snprintf(cmd.reference, sizeof cmd.reference, "invoice 42 / <b>&amp;</b>");
    if (fx_run(&w, &a, &cmd, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    cmd = fx_cmd(LL_CMD_WITHDRAW, &ida, 1, "EUR");
    if (fx_run(&w, &a, &cmd, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    if (fx_transfer(&w, &a, &b, 1000, "EUR", &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    cmd = fx_cmd(LL_CMD_PLACE_HOLD, &ida, 500, "EUR");
    snprintf(cmd.reference, sizeof cmd.reference, "card auth \"caf\xc3\xa9\" <i>");
    cmd.hold_id = fx_uuid(501);
    cmd.expires_in_s = LL_HOLD_EXPIRY_DEFAULT_S;
    ll_hold_init(&h1, &cmd.hold_id);
    if (fx_run(&w, &a, &cmd, &d) != LL_REJECT_NONE || ll_hold_apply(&h1, &d.events[0], NULL) != 0) abort();
    fx_keep(events, &n, &d);
    if (fx_settle(&w, &a, &h1, &b, LL_CMD_CAPTURE_HOLD, 300, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    if (fx_place(&w, &a, 502, 70, 3600, &h2, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    if (fx_settle(&w, &a, &h2, NULL, LL_CMD_CAPTURE_HOLD, 0, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    if (fx_place(&w, &a, 503, 200, LL_HOLD_EXPIRY_MAX_S, &h3, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    if (fx_place(&w, &a, 504, 40, 1, &h4, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    if (fx_settle(&w, &a, &h4, NULL, LL_CMD_EXPIRE_HOLD, 0, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    cmd = fx_cmd(LL_CMD_SET_CREDIT_LIMIT, &ida, 0, NULL);
    cmd.overdraft_limit_minor = 5000;
    if (fx_run(&w, &a, &cmd, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    cmd = fx_cmd(LL_CMD_FREEZE, &ida, 0, NULL);
    snprintf(cmd.reason, sizeof cmd.reason, "case 7: \"court\" order \\ \xe6\x9d\xb1\xe4\xba\xac");
    if (fx_run(&w, &a, &cmd, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    cmd = fx_cmd(LL_CMD_DEPOSIT, &ida, 5, "EUR"); /* credits land on a frozen account */
    if (fx_run(&w, &a, &cmd, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    cmd = fx_cmd(LL_CMD_UNFREEZE, &ida, 0, NULL);
    if (fx_run(&w, &a, &cmd, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    ll_command_t pay;
    memset(&pay, 0, sizeof pay);
    snprintf(pay.reference, sizeof pay.reference, "order 9 + fee");
    fx_leg(&pay, &a, &b, 250);
    fx_leg(&pay, &a, &c, 1);
    ll_account_t *named[3] = {&a, &b, &c};
    if (fx_payment(&w, named, 3, &pay, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    if (fx_settle(&w, &a, &h3, NULL, LL_CMD_RELEASE_HOLD, 0, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    cmd = fx_cmd(LL_CMD_WITHDRAW, &ida, a.balance_minor, "EUR");
    if (fx_run(&w, &a, &cmd, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    cmd = fx_cmd(LL_CMD_CLOSE, &ida, 0, NULL);
    if (fx_run(&w, &a, &cmd, &d) != LL_REJECT_NONE) abort();
    fx_keep(events, &n, &d);
    return n;
}

#endif
