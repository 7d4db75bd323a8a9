/* ll_rebuild_catch_up.c - the catch-up: the events committed since the build's snapshot, found
 * per account (account_state's versions, not positions: a late commit below a position is
 * never skipped), read through eventstore/ll_event_reader and applied to the new generation. */
#include "ll_clock.h"
#include "ll_rebuild.h"
#include "ll_replay.h"

#include <stdio.h>
#include <stdlib.h>

#define LATE_COMMIT_US 60000000LL /* a transaction commits within this of its event time */
/* Before the switch, catch-up rounds go on until one applies fewer events than this (under load
 * a round never finds nothing); the settle phase after the switch takes the rest. */
#define SWITCH_REMAINDER_EVENTS 1000
#define CATCH_UP_ROUNDS_MAX     50 /* still above the remainder then: the load outpaces the rebuild */
#define CATCH_UP_ATTEMPTS       5
#define CATCH_UP_EVENTS_MAX     10000 /* of one account in one go */

static void on_catch_up_conflict(void *ctx, int tag) {
    (void)tag;
    *(int *)ctx = 1;
}

/* The store's events after an account's version, each replayed on the state before it. */
typedef struct {
    ll_account_t a;
    ll_event_t *events;
    size_t n, cap;
    int rc;
    ll_error_t *err;
} replayed_t;

static int replay_one(void *ctx, const char *envelope, size_t len) {
    replayed_t *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        ll_event_t *grown = realloc(c->events, cap * sizeof *grown);
        if (grown == NULL) return c->rc = ll_error_set(c->err, LL_ENOMEM, "out of memory"), 1;
        c->events = grown, c->cap = cap;
    }
    if (ll_replay_envelope(&c->a, envelope, len, &c->events[c->n], c->err) != 0) return c->rc = LL_EINVAL, 1;
    return ++c->n == CATCH_UP_EVENTS_MAX; /* the rest in a later round */
}

/* Applies the store's events after acc to the generation; *moved when another writer moved the
 * account meanwhile. Returns the events read, or -1 with err set. */
static int64_t apply_after(rebuild_t *r, const ll_uuid_t *id, const ll_rm_account_t *acc, int *moved,
                           ll_error_t *err) {
    replayed_t c = {.a = acc->state, .err = err};
    ll_event_range_t range = LL_EVENT_RANGE_ALL;
    range.after = acc->state.version;
    int rc = ll_event_reader_each(r->store, id, range, replay_one, &c, err) < 0 ? LL_EIO : c.rc;
    ll_rm_account_t after;
    ll_rm_writes_clear(r->writes);
    if (rc == 0 && c.n > 0)
        rc = ll_rm_writes_add(r->writes, acc, NULL, c.events, c.n, &after, 0, err) ||
             ll_rm_writes_execute(r->writes, r->rm, on_catch_up_conflict, moved, err);
    free(c.events);
    return rc != 0 ? -1 : (int64_t)c.n;
}

/* Brings one account of the new generation up to the store (events after its version). Returns
 * the events applied, or -1 with err set. Another writer (the live projector, after the switch)
 * moving it meanwhile makes it start again from the document. */
static int64_t catch_up_account(rebuild_t *r, const ll_uuid_t *id, ll_error_t *err) {
    for (int attempt = 0; attempt < CATCH_UP_ATTEMPTS; attempt++) {
        ll_rm_account_t acc;
        bool found;
        int moved = 0;
        if (ll_read_model_load(r->rm, id, &acc, &found, NULL, err) != 0) return -1;
        int64_t n = apply_after(r, id, &acc, &moved, err);
        if (n < 0) return -1;
        if (!moved) {
            slot_t *s = accounts_find(&r->built, id);
            if (s != NULL) s->in_generation = acc.state.version + n;
            return n;
        }
    }
    return ll_error_set(err, LL_EIO, "an account kept moving during the catch-up"), -1;
}

typedef struct {
    rebuild_t *r;
    int64_t applied;
} round_t;

static int round_account(void *ctx, const char *account_id, int64_t version, ll_error_t *err) {
    round_t *c = ctx;
    ll_uuid_t id;
    if (ll_uuid_parse(account_id, false, &id) != 0)
        return ll_error_set(err, LL_EINVAL, "bad account id in the store");
    /* Already in the generation at the store's version (built or caught up by this run):
     * nothing to read. Only accounts that moved since cost a read-model lookup. */
    const slot_t *known = accounts_find(&c->r->built, &id);
    if (known != NULL && known->in_generation >= version) return 0;
    int64_t n = catch_up_account(c->r, &id, err);
    if (n < 0) return LL_EIO;
    c->applied += n;
    return 0;
}

/* One round over the accounts whose last event is younger than since_us. Returns the events
 * applied, or -1. */
static int64_t catch_up_round(rebuild_t *r, int64_t since_us, ll_error_t *err) {
    round_t c = {.r = r};
    const ll_uuid_t *account = r->o->account != NULL ? &r->account_id : NULL;
    return ll_event_reader_moved_since(r->store, since_us, account, round_account, &c, err) < 0 ? -1
                                                                                                : c.applied;
}

/* The accounts the verification found behind the store. */
static int catch_up_behind(rebuild_t *r, ll_error_t *err) {
    for (size_t i = 0; i < r->n_behind; i++) {
        int64_t n = catch_up_account(r, &r->behind[i], err);
        if (n < 0) return LL_EIO;
        r->caught_up += n;
    }
    r->n_behind = 0;
    return 0;
}

/* First the accounts the verification found behind the store, then rounds over the recently
 * changed ones: with until_ms 0, until a round applies fewer than SWITCH_REMAINDER_EVENTS
 * (an error after CATCH_UP_ROUNDS_MAX rounds); else until until_ms. Before the switch, every
 * round first reads where projectors would resume (rebuild_read_resume): the last round's is
 * recorded with the switch, since every event committed before that round began is in the
 * generation when it ends. */
int rebuild_catch_up(rebuild_t *r, const char *phase, int64_t until_ms, ll_error_t *err) {
    if (catch_up_behind(r, err) != 0) return LL_EIO;
    int64_t since_us = r->snapshot_us - LATE_COMMIT_US;
    for (int round = 1;; round++) {
        if (until_ms == 0 && rebuild_read_resume(r, err) != 0) return LL_EIO;
        int64_t round_us = ll_clock_wall_us();
        int64_t n = catch_up_round(r, since_us, err);
        if (n < 0) return LL_EIO;
        r->caught_up += n;
        if (n > 0) fprintf(stderr, "%s: %lld events applied\n", phase, (long long)n);
        since_us = round_us - LATE_COMMIT_US;
        if (until_ms == 0 && n < SWITCH_REMAINDER_EVENTS) return 0;
        if (until_ms == 0 && round == CATCH_UP_ROUNDS_MAX)
            return ll_error_set(err, LL_EIO,
                                "still %lld events behind after %d rounds: the load outpaces the "
                                "catch-up; not switched (run it again at a quieter time)",
                                (long long)n, round);
        if (until_ms > 0 && ll_clock_ms() >= until_ms) return 0;
        ll_sleep_ms(200);
    }
}
