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

#endif
