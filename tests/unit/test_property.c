/* Property test of the domain: random command sequences over a few accounts (opens, deposits,
 * withdrawals, transfers, closes, holds placed / captured / released / expired, credit limits,
 * freezes and multi-leg payments naming accounts more than once), checked against an
 * independent model (128-bit arithmetic) that predicts every acceptance and rejection, the
 * refused leg of a payment and whether a refusal was the destination's.
 *
 * After every command: each account agrees with the model (status, balance, held, limit,
 * frozen), available >= -limit, held == the sum of the model's open holds, money is conserved
 * (transfers, payments and captures to an account move it, deposits bring it in, withdrawals and
 * captures take it out), every decided event applied with ll_account_evolve (sealed; a
 * payment's events linked to their account's head first, as the store does), every hold record
 * folded with ll_hold_apply agrees with the model's hold, and ll_account_at(opening, last event)
 * equals the live state. After each sequence: balances from the events alone, a fresh fold of
 * each stream equals the live state, ll_account_at after every event equals the fold, the hold
 * records refold from the streams, and every chain verifies.
 *
 * LL_PROPERTY_SEED=N reruns one seed; LL_PROPERTY_RUNS=N changes the number of sequences. */
#include "domain_fixture.h"
#include "ll_event_codec.h"
#include "ll_replay.h"
#include "ll_test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ACCOUNTS         5
#define COMMANDS_PER_RUN 300
#define LEGS_MAX         4 /* random payments have 1..4 legs; test_payment covers 16 */
#define EVENTS_MAX       (LEGS_MAX * COMMANDS_PER_RUN + 1)
#define HOLDS_MAX        COMMANDS_PER_RUN
#define HOLD_ID_BASE     100000 /* hold i has id fx_uuid(HOLD_ID_BASE + i) */

typedef struct {
    uint64_t s;
} rng_t;

static uint64_t rng_next(rng_t *r) { /* xorshift64* */
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ULL;
}

static uint64_t rng_below(rng_t *r, uint64_t n) {
    return rng_next(r) % n;
}

/* The model: what a correct ledger must conclude, computed without the domain code. */
typedef struct {
    int exists, closed, frozen;
    char ccy[4];
    __int128 balance, held, limit, credits, debits;
} model_t;

typedef struct {
    int account;
    __int128 amount;
    int64_t expires_at_us;
    ll_hold_status_t status;
    char ccy[4];
} model_hold_t;

/* What the model expects of one command. */
typedef struct {
    ll_rejection_t rejection;
    int failed_leg, failed_destination;
} expect_t;

typedef struct {
    ll_account_t state[ACCOUNTS];
    model_t model[ACCOUNTS];
    model_hold_t mhold[HOLDS_MAX];
    ll_hold_t hold[HOLDS_MAX]; /* the store's records, folded from the decided events */
    int n_holds;
    ll_event_t *events[ACCOUNTS]; /* each stream's events, for the final fold and verify */
    size_t n_events[ACCOUNTS];
    fx_world_t world;
    __int128 in, out;                   /* money that entered and left the ledger */
    long outcomes[LL_REJECT_COUNT + 1]; /* per outcome, coverage of the test; [COUNT]: commit failed */
    long accepted[LL_CMD_PAYMENT + 1];  /* accepted commands per type */
    long events_of[LL_EVENT_TYPE_COUNT];
    long repeated_leg_payments, capture_to, frozen_credits;
} run_t;

/* ---- random inputs ------------------------------------------------------------------------- */

static __int128 available(const model_t *m) {
    return m->balance - m->held;
}

/* Amounts: out of range, near the limits, small, and exactly at what the source may spend
 * (spendable - 1 .. + 1) or at its balance (balance - 1 .. + 1, so that accounts empty and
 * close), where off-by-one errors live. */
static int64_t random_amount(rng_t *r, const model_t *m) {
    __int128 spendable = available(m) + m->limit;
    switch (rng_below(r, 14)) {
    case 10:
    case 11:
        if (spendable >= 0 && spendable + 1 <= LL_AMOUNT_MINOR_MAX) return (int64_t)spendable - 1 + (int64_t)rng_below(r, 3);
        return 1;
    case 12:
    case 13:
        if (m->balance >= 0 && m->balance + 1 <= LL_AMOUNT_MINOR_MAX) return (int64_t)m->balance - 1 + (int64_t)rng_below(r, 3);
        return 1;
    case 0:
        return -(int64_t)rng_below(r, 5); /* 0 or negative: out of range */
    case 1:
        return LL_AMOUNT_MINOR_MAX + 1 + (int64_t)rng_below(r, 3);
    case 2:
        return LL_AMOUNT_MINOR_MAX - (int64_t)rng_below(r, 3);
    default:
        return 1 + (int64_t)rng_below(r, 2000);
    }
}

static const char *random_ccy(rng_t *r) {
    return rng_below(r, 8) == 0 ? "USD" : "EUR";
}

/* Mostly seconds (so that holds fall due within a run), the default and the maximum, and out
 * of range on both sides. */
static int64_t random_expiry(rng_t *r) {
    switch (rng_below(r, 10)) {
    case 0:
        return -(int64_t)rng_below(r, 2); /* 0 or -1 */
    case 1:
        return LL_HOLD_EXPIRY_MAX_S + 1;
    case 2:
        return LL_HOLD_EXPIRY_MAX_S;
    case 3:
        return LL_HOLD_EXPIRY_DEFAULT_S;
    default:
        return 1 + (int64_t)rng_below(r, 40);
    }
}

/* A limit around what the account uses (-available - 1 .. + 1), small, at the bounds, invalid. */
static int64_t random_limit(rng_t *r, const model_t *m) {
    __int128 used = -available(m);
    switch (rng_below(r, 8)) {
    case 0:
        return -1;
    case 1:
        return LL_AMOUNT_MINOR_MAX + (int64_t)rng_below(r, 2);
    case 2:
    case 3:
        if (used >= 1 && used < LL_AMOUNT_MINOR_MAX) return (int64_t)used - 1 + (int64_t)rng_below(r, 3);
        return 0;
    case 4:
        return 0;
    default:
        return (int64_t)rng_below(r, 3000);
    }
}

/* A capture's amount around the hold's (0 means the whole hold). */
static int64_t random_capture(rng_t *r, __int128 held) {
    switch (rng_below(r, 6)) {
    case 0:
        return 0;
    case 1:
        return -(int64_t)rng_below(r, 3) - 1;
    case 2:
        return (int64_t)held + 1;
    case 3:
        return (int64_t)held;
    default:
        return held > 1 ? 1 + (int64_t)rng_below(r, (uint64_t)held) : 1;
    }
}

/* ---- the model's predictions --------------------------------------------------------------- */

static ll_rejection_t predict_money(const model_t *m, int64_t amount, const char *ccy) {
    if (amount < 1 || amount > LL_AMOUNT_MINOR_MAX) return LL_REJECT_AMOUNT_OUT_OF_RANGE;
    if (!m->exists) return LL_REJECT_ACCOUNT_NOT_FOUND;
    if (m->closed) return LL_REJECT_ACCOUNT_CLOSED;
    if (strcmp(m->ccy, ccy) != 0) return LL_REJECT_CURRENCY_MISMATCH;
    return LL_REJECT_NONE;
}

static ll_rejection_t predict_live(const model_t *m) {
    if (!m->exists) return LL_REJECT_ACCOUNT_NOT_FOUND;
    return m->closed ? LL_REJECT_ACCOUNT_CLOSED : LL_REJECT_NONE;
}

/* A debit of amount: frozen, then what is available against the floor. */
static ll_rejection_t predict_debit(const model_t *m, __int128 amount) {
    if (m->frozen) return LL_REJECT_ACCOUNT_FROZEN;
    return available(m) - amount < -m->limit ? LL_REJECT_INSUFFICIENT_FUNDS : LL_REJECT_NONE;
}

/* One transfer between model accounts (the source's reasons first, then the destination's). */
static expect_t predict_leg(const model_t *from, const model_t *to, int same, int64_t amount, const char *ccy) {
    expect_t e = {LL_REJECT_NONE, -1, 0};
    if (same) e.rejection = LL_REJECT_SAME_ACCOUNT;
    else if ((e.rejection = predict_money(from, amount, ccy)) != LL_REJECT_NONE) {
    } else if ((e.rejection = predict_debit(from, amount)) != LL_REJECT_NONE) {
    } else if ((e.rejection = predict_money(to, amount, ccy)) != LL_REJECT_NONE) {
        e.failed_destination = 1;
    } else if (to->balance + amount > INT64_MAX) {
        e.rejection = LL_REJECT_BALANCE_OVERFLOW;
        e.failed_destination = 1;
    }
    return e;
}

static void model_move(model_t *from, model_t *to, __int128 amount) {
    from->balance -= amount, from->debits += amount;
    to->balance += amount, to->credits += amount;
}

/* ---- committing what the domain decided ---------------------------------------------------- */

static int account_index(const run_t *run, const ll_uuid_t *id) {
    for (int i = 0; i < ACCOUNTS; i++)
        if (ll_uuid_equal(&run->state[i].account_id, id)) return i;
    return -1;
}

/* Seals and applies the decided events to their accounts (payments: linked to each account's
 * head first, as the store does), keeps them per stream, and folds hold events into the hold
 * records. Returns 0, or -1 when anything refused. */
static int commit(ll_test_ctx_t *t, run_t *run, ll_decision_t *d, int payment) {
    ll_account_t *targets[LL_DECISION_EVENTS_MAX];
    for (int i = 0; i < d->event_count; i++) {
        int k = account_index(run, &d->events[i].account_id);
        if (k < 0) return -1;
        targets[i] = &run->state[k];
    }
    if (payment) {
        ll_account_t *all[ACCOUNTS];
        for (int k = 0; k < ACCOUNTS; k++) all[k] = &run->state[k];
        if (fx_commit_linked(&run->world, d, all, ACCOUNTS) != 0) return -1;
    } else if (fx_commit(&run->world, d, targets) != 0) {
        return -1;
    }
    for (int i = 0; i < d->event_count; i++) {
        const ll_event_t *ev = &d->events[i];
        int k = account_index(run, &ev->account_id);
        run->events[k][run->n_events[k]++] = *ev;
        run->events_of[ev->type]++;
        if (!ll_event_is_hold(ev->type)) continue;
        uint64_t n = 0;
        for (int b = 10; b < 16; b++) n = n << 8 | ev->data.movement.hold_id.bytes[b];
        int h = (int)(n - HOLD_ID_BASE);
        ll_error_t err = {""};
        if (h < 0 || h >= run->n_holds || ll_hold_apply(&run->hold[h], ev, &err) != 0) {
            LL_FAIL_AT("hold event version %lld: %s", (long long)ev->version, err.msg);
            return -1;
        }
    }
    return 0;
}

/* ---- one random command -------------------------------------------------------------------- */

static const ll_command_type_t COMMAND_MIX[] = {
    LL_CMD_OPEN,         LL_CMD_OPEN,         LL_CMD_DEPOSIT,      LL_CMD_DEPOSIT,          LL_CMD_DEPOSIT,
    LL_CMD_DEPOSIT,      LL_CMD_WITHDRAW,     LL_CMD_WITHDRAW,     LL_CMD_TRANSFER,         LL_CMD_TRANSFER,
    LL_CMD_CLOSE,        LL_CMD_PLACE_HOLD,   LL_CMD_PLACE_HOLD,   LL_CMD_PLACE_HOLD,       LL_CMD_CAPTURE_HOLD,
    LL_CMD_CAPTURE_HOLD, LL_CMD_RELEASE_HOLD, LL_CMD_EXPIRE_HOLD,  LL_CMD_SET_CREDIT_LIMIT, LL_CMD_FREEZE,
    LL_CMD_UNFREEZE,     LL_CMD_UNFREEZE,     LL_CMD_PAYMENT,      LL_CMD_PAYMENT,
};

/* What one command was, for a failure message. */
typedef struct {
    char text[600];
    size_t len;
} what_t;

static void say(what_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(what_t *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (w->len < sizeof w->text) {
        int n = vsnprintf(w->text + w->len, sizeof w->text - w->len, fmt, ap);
        if (n > 0) w->len += (size_t)n;
    }
    va_end(ap);
}

/* The model's hold h (or an unknown one when h < 0) on account a: capture, release, expire. */
static expect_t predict_settle(ll_command_type_t type, const model_t *next, const model_hold_t *mh, int a, int b,
                               int to, int64_t amount, int64_t now) {
    expect_t e = {LL_REJECT_NONE, -1, 0};
    __int128 take = amount == 0 && mh != NULL ? mh->amount : amount;
    if (mh == NULL || !next[a].exists) e.rejection = LL_REJECT_HOLD_NOT_FOUND;
    else if (mh->status != LL_HOLD_OPEN) e.rejection = LL_REJECT_HOLD_NOT_OPEN;
    else if (type == LL_CMD_EXPIRE_HOLD && now < mh->expires_at_us) e.rejection = LL_REJECT_HOLD_NOT_DUE;
    else if (type != LL_CMD_CAPTURE_HOLD) e.rejection = LL_REJECT_NONE;
    else if (next[a].frozen) e.rejection = LL_REJECT_ACCOUNT_FROZEN;
    else if (now >= mh->expires_at_us) e.rejection = LL_REJECT_HOLD_EXPIRED;
    else if (take < 1 || take > LL_AMOUNT_MINOR_MAX) e.rejection = LL_REJECT_AMOUNT_OUT_OF_RANGE;
    else if (take > mh->amount) e.rejection = LL_REJECT_CAPTURE_EXCEEDS_HOLD;
    else if (to && a == b) e.rejection = LL_REJECT_SAME_ACCOUNT;
    else if (to && (e.rejection = predict_money(&next[b], (int64_t)take, mh->ccy)) != LL_REJECT_NONE) e.failed_destination = 1;
    else if (to && next[b].balance + take > INT64_MAX) e.rejection = LL_REJECT_BALANCE_OVERFLOW, e.failed_destination = 1;
    return e;
}

/* Runs one random command; returns 0 when the domain agreed with the model. */
static int step(ll_test_ctx_t *t, run_t *run, rng_t *r) {
    ll_command_type_t type = COMMAND_MIX[rng_below(r, LL_CASES(COMMAND_MIX))];
    int a = (int)rng_below(r, ACCOUNTS), b = (int)rng_below(r, ACCOUNTS);
    ll_command_meta_t meta = fx_meta(&run->world);
    int64_t now = meta.occurred_at_us;
    ll_command_t cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.type = type;
    ll_decision_t d;
    what_t what = {"", 0};
    model_t next[ACCOUNTS]; /* the model once the command applies, if the model accepts it */
    memcpy(next, run->model, sizeof next);
    expect_t e = {LL_REJECT_NONE, -1, 0};
    __int128 in = 0, out = 0;
    int settle = -1, placed = -1, to = 0, repeated = 0, expect_events = 1;
    ll_hold_status_t settle_to = LL_HOLD_NONE;
    model_hold_t new_hold;
    memset(&new_hold, 0, sizeof new_hold);
    say(&what, "command %d", type);

    if (type == LL_CMD_CAPTURE_HOLD || type == LL_CMD_RELEASE_HOLD || type == LL_CMD_EXPIRE_HOLD) {
        ll_hold_t unknown;
        const ll_hold_t *record = &unknown;
        const model_hold_t *mh = NULL;
        int open[HOLDS_MAX], n_open = 0;
        for (int h = 0; h < run->n_holds; h++)
            if (run->mhold[h].status == LL_HOLD_OPEN) open[n_open++] = h;
        if (run->n_holds == 0 || rng_below(r, 8) == 0) {
            ll_uuid_t id = fx_uuid(HOLD_ID_BASE + HOLDS_MAX + rng_below(r, 1000));
            ll_hold_init(&unknown, &id);
        } else {
            /* Mostly an open hold (settling one is the interesting case), else any. */
            settle = n_open > 0 && rng_below(r, 4) != 0 ? open[rng_below(r, (uint64_t)n_open)]
                                                        : (int)rng_below(r, (uint64_t)run->n_holds);
            mh = &run->mhold[settle];
            record = &run->hold[settle];
            a = mh->account; /* the store finds the hold's account */
        }
        int64_t amount = type == LL_CMD_CAPTURE_HOLD ? random_capture(r, mh ? mh->amount : 100) : 0;
        to = type == LL_CMD_CAPTURE_HOLD && rng_below(r, 2) == 0;
        cmd.account_id = run->state[a].account_id;
        cmd.hold_id = record->hold_id;
        cmd.amount_minor = amount;
        if (to) {
            cmd.to_account_id = run->state[b].account_id;
            cmd.transfer_id = fx_uuid(run->world.next_id++);
            expect_events = 2;
        }
        say(&what, " hold %d of account %d amount %lld to %d", settle, a, (long long)amount, to ? b : -1);
        e = predict_settle(type, next, mh, a, b, to, amount, now);
        if (e.rejection == LL_REJECT_NONE) {
            __int128 take = amount == 0 ? mh->amount : amount;
            next[a].held -= mh->amount;
            settle_to = type == LL_CMD_RELEASE_HOLD ? LL_HOLD_RELEASED
                        : type == LL_CMD_EXPIRE_HOLD ? LL_HOLD_EXPIRED
                                                     : LL_HOLD_CAPTURED;
            if (type == LL_CMD_CAPTURE_HOLD && to) model_move(&next[a], &next[b], take);
            else if (type == LL_CMD_CAPTURE_HOLD) next[a].balance -= take, next[a].debits += take, out += take;
        }
        ll_decide_hold(&run->state[a], record, to ? &run->state[b] : NULL, &cmd, &meta, &d);
    } else if (type == LL_CMD_PAYMENT) {
        ll_uuid_t transfer_ids[LL_PAYMENT_LEGS_MAX];
        int named[2 * LEGS_MAX], n_named = 0, times[ACCOUNTS] = {0};
        cmd.leg_count = 1 + (int)rng_below(r, LEGS_MAX);
        cmd.payment_id = fx_uuid(run->world.next_id++);
        snprintf(cmd.reference, sizeof cmd.reference, "payment %llu", (unsigned long long)run->world.next_id);
        for (int i = 0; i < cmd.leg_count; i++) {
            int f = (int)rng_below(r, ACCOUNTS), g = (int)rng_below(r, ACCOUNTS);
            ll_payment_leg_t *leg = &cmd.legs[i];
            leg->from_account_id = run->state[f].account_id;
            leg->to_account_id = run->state[g].account_id;
            /* Mostly legs that can pass (a payment stops at its first refused leg), else the
             * boundaries of random_amount and the other currency. */
            int plain = rng_below(r, 4) != 0;
            leg->amount_minor = plain ? 1 + (int64_t)rng_below(r, 500) : random_amount(r, &next[f]);
            snprintf(leg->currency.code, sizeof leg->currency.code, "%s",
                     plain && next[f].exists ? next[f].ccy : random_ccy(r));
            transfer_ids[i] = fx_uuid(run->world.next_id++);
            say(&what, " [leg %d: %d->%d %lld %s]", i, f, g, (long long)leg->amount_minor, leg->currency.code);
            int ends[2] = {f, g};
            for (int k = 0; k < 2; k++) {
                if (times[ends[k]]++ == 0) named[n_named++] = ends[k];
                else repeated = 1;
            }
            if (e.rejection != LL_REJECT_NONE) continue; /* the model stops at the first refused leg */
            e = predict_leg(&next[f], &next[g], f == g, leg->amount_minor, leg->currency.code);
            if (e.rejection != LL_REJECT_NONE) e.failed_leg = i;
            else model_move(&next[f], &next[g], leg->amount_minor);
        }
        expect_events = 2 * cmd.leg_count;
        ll_account_t states[2 * LEGS_MAX];
        for (int k = 0; k < n_named; k++) states[k] = run->state[named[k]];
        ll_decide_payment(states, (size_t)n_named, &cmd, transfer_ids, &meta, &d);
    } else {
        model_t *m = &next[a];
        const char *ccy = random_ccy(r);
        cmd.account_id = run->state[a].account_id;
        snprintf(cmd.currency.code, sizeof cmd.currency.code, "%s", ccy);
        switch (type) {
        case LL_CMD_OPEN:
            snprintf(cmd.owner, sizeof cmd.owner, "customer-%d", a);
            e.rejection = m->exists ? LL_REJECT_ACCOUNT_EXISTS : LL_REJECT_NONE;
            if (e.rejection == LL_REJECT_NONE) m->exists = 1, snprintf(m->ccy, sizeof m->ccy, "%s", ccy);
            break;
        case LL_CMD_DEPOSIT:
            cmd.amount_minor = random_amount(r, m);
            if ((e.rejection = predict_money(m, cmd.amount_minor, ccy)) == LL_REJECT_NONE &&
                m->balance + cmd.amount_minor > INT64_MAX)
                e.rejection = LL_REJECT_BALANCE_OVERFLOW;
            if (e.rejection == LL_REJECT_NONE) m->balance += cmd.amount_minor, m->credits += cmd.amount_minor, in += cmd.amount_minor;
            break;
        case LL_CMD_WITHDRAW:
            cmd.amount_minor = random_amount(r, m);
            if ((e.rejection = predict_money(m, cmd.amount_minor, ccy)) == LL_REJECT_NONE)
                e.rejection = predict_debit(m, cmd.amount_minor);
            if (e.rejection == LL_REJECT_NONE) m->balance -= cmd.amount_minor, m->debits += cmd.amount_minor, out += cmd.amount_minor;
            break;
        case LL_CMD_TRANSFER:
            cmd.amount_minor = random_amount(r, m);
            cmd.to_account_id = run->state[b].account_id;
            cmd.transfer_id = fx_uuid(run->world.next_id++);
            e = predict_leg(m, &next[b], a == b, cmd.amount_minor, ccy);
            if (e.rejection == LL_REJECT_NONE) model_move(m, &next[b], cmd.amount_minor);
            expect_events = 2;
            break;
        case LL_CMD_CLOSE:
            if ((e.rejection = predict_live(m)) != LL_REJECT_NONE) {
            } else if (m->frozen) e.rejection = LL_REJECT_ACCOUNT_FROZEN;
            else if (m->held != 0) e.rejection = LL_REJECT_HOLDS_OPEN;
            else if (m->balance != 0) e.rejection = LL_REJECT_BALANCE_NOT_ZERO;
            if (e.rejection == LL_REJECT_NONE) m->closed = 1, m->limit = 0;
            break;
        case LL_CMD_PLACE_HOLD:
            cmd.amount_minor = random_amount(r, m);
            cmd.expires_in_s = random_expiry(r);
            snprintf(cmd.reference, sizeof cmd.reference, "auth %d", run->n_holds);
            placed = run->n_holds;
            cmd.hold_id = fx_uuid(HOLD_ID_BASE + (uint64_t)placed);
            if ((e.rejection = predict_money(m, cmd.amount_minor, ccy)) != LL_REJECT_NONE) {
            } else if (m->frozen) e.rejection = LL_REJECT_ACCOUNT_FROZEN;
            else if (cmd.expires_in_s < 1 || cmd.expires_in_s > LL_HOLD_EXPIRY_MAX_S) e.rejection = LL_REJECT_INVALID_EXPIRY;
            else if (m->held + cmd.amount_minor > INT64_MAX) e.rejection = LL_REJECT_BALANCE_OVERFLOW;
            else if (available(m) - cmd.amount_minor < -m->limit) e.rejection = LL_REJECT_INSUFFICIENT_FUNDS;
            if (e.rejection == LL_REJECT_NONE) {
                m->held += cmd.amount_minor;
                new_hold = (model_hold_t){a, cmd.amount_minor, now + cmd.expires_in_s * 1000000, LL_HOLD_OPEN, ""};
                snprintf(new_hold.ccy, sizeof new_hold.ccy, "%s", ccy);
            }
            ll_hold_init(&run->hold[placed], &cmd.hold_id);
            run->n_holds++; /* the record the commit folds into; dropped again if refused */
            break;
        case LL_CMD_SET_CREDIT_LIMIT:
            cmd.overdraft_limit_minor = random_limit(r, m);
            if ((e.rejection = predict_live(m)) != LL_REJECT_NONE) {
            } else if (cmd.overdraft_limit_minor < 0 || cmd.overdraft_limit_minor > LL_AMOUNT_MINOR_MAX)
                e.rejection = LL_REJECT_AMOUNT_OUT_OF_RANGE;
            else if (available(m) < -(__int128)cmd.overdraft_limit_minor) e.rejection = LL_REJECT_CREDIT_LIMIT_IN_USE;
            if (e.rejection == LL_REJECT_NONE) m->limit = cmd.overdraft_limit_minor;
            break;
        case LL_CMD_FREEZE:
        case LL_CMD_UNFREEZE:
            snprintf(cmd.reason, sizeof cmd.reason, "case %d", a);
            if ((e.rejection = predict_live(m)) != LL_REJECT_NONE) {
            } else if (type == LL_CMD_FREEZE && m->frozen) e.rejection = LL_REJECT_ALREADY_FROZEN;
            else if (type == LL_CMD_UNFREEZE && !m->frozen) e.rejection = LL_REJECT_NOT_FROZEN;
            if (e.rejection == LL_REJECT_NONE) m->frozen = type == LL_CMD_FREEZE;
            break;
        default:
            abort();
        }
        say(&what, " on %d->%d amount %lld %s limit %lld expiry %lld", a, b, (long long)cmd.amount_minor, ccy,
            (long long)cmd.overdraft_limit_minor, (long long)cmd.expires_in_s);
        if (type == LL_CMD_TRANSFER) ll_decide_transfer(&run->state[a], &run->state[b], &cmd, &meta, &d);
        else ll_decide(&run->state[a], &cmd, &meta, &d);
    }

    ll_rejection_t got = d.rejection;
    if (got == LL_REJECT_NONE && d.event_count != expect_events) {
        LL_FAIL_AT("%s: %d events, expected %d", what.text, d.event_count, expect_events);
        return -1;
    }
    if (got == LL_REJECT_NONE && commit(t, run, &d, type == LL_CMD_PAYMENT) != 0) got = LL_REJECT_COUNT;
    if (got != e.rejection || d.failed_leg != e.failed_leg || d.failed_destination != e.failed_destination) {
        LL_FAIL_AT("%s: domain said %s (leg %d, destination %d), model %s (leg %d, destination %d) (%s)", what.text,
                   ll_rejection_slug(got) ? ll_rejection_slug(got) : "commit failed", d.failed_leg,
                   d.failed_destination, ll_rejection_slug(e.rejection), e.failed_leg, e.failed_destination, d.detail);
        return -1;
    }
    run->outcomes[got]++;
    if (got != LL_REJECT_NONE) {
        if (placed >= 0) run->n_holds--;
        return 0;
    }
    memcpy(run->model, next, sizeof next);
    run->in += in, run->out += out;
    run->accepted[type]++;
    if (placed >= 0) run->mhold[placed] = new_hold;
    if (settle >= 0) run->mhold[settle].status = settle_to;
    run->repeated_leg_payments += repeated;
    run->capture_to += type == LL_CMD_CAPTURE_HOLD && to;
    for (int i = 0; i < d.event_count; i++)
        run->frozen_credits += ll_event_balance_sign(d.events[i].type) > 0 && d.events[i].after.frozen;
    return 0;
}

/* ---- checks -------------------------------------------------------------------------------- */

/* After every command: each account against the model, the bank invariant, conservation, the
 * hold records, and the state from the opening and the newest event alone. */
static void check_step(ll_test_ctx_t *t, run_t *run) {
    __int128 total = 0;
    for (int k = 0; k < ACCOUNTS; k++) {
        const ll_account_t *s = &run->state[k];
        const model_t *m = &run->model[k];
        __int128 open_holds = 0;
        for (int h = 0; h < run->n_holds; h++)
            if (run->mhold[h].account == k && run->mhold[h].status == LL_HOLD_OPEN) open_holds += run->mhold[h].amount;
        LL_CHECK_EQ_INT(s->status, !m->exists ? LL_ACCOUNT_NONE : m->closed ? LL_ACCOUNT_CLOSED : LL_ACCOUNT_OPEN);
        LL_CHECK(s->balance_minor == m->balance);
        LL_CHECK(s->held_minor == m->held);
        LL_CHECK(s->held_minor == open_holds);
        LL_CHECK(s->overdraft_limit_minor == m->limit);
        LL_CHECK_EQ_INT(s->frozen, m->frozen);
        LL_CHECK(m->balance == m->credits - m->debits);
        LL_CHECK(s->held_minor >= 0);
        LL_CHECK(ll_account_available(s) >= -s->overdraft_limit_minor);
        LL_CHECK_EQ_INT(s->version, run->n_events[k]);
        total += s->balance_minor;
        if (run->n_events[k] == 0) continue;
        ll_account_t at;
        ll_error_t err = {""};
        memset(&at, 0x5a, sizeof at);
        LL_CHECK(ll_account_at(&run->events[k][0], &run->events[k][run->n_events[k] - 1], &at, &err) == 0);
        LL_CHECK(memcmp(&at, s, sizeof at) == 0);
    }
    LL_CHECK(total == run->in - run->out);
    for (int h = 0; h < run->n_holds; h++) {
        LL_CHECK_EQ_INT(run->hold[h].status, run->mhold[h].status);
        LL_CHECK(run->hold[h].amount_minor == run->mhold[h].amount);
        LL_CHECK(run->hold[h].expires_at_us == run->mhold[h].expires_at_us);
    }
}

/* The other leg of a sent transfer or a capture to an account: exactly one TransferReceived in
 * the counterparty's stream with the same transfer id, amount and payment. */
static int other_legs(const run_t *run, const ll_event_t *e) {
    const ll_data_movement_t *m = &e->data.movement;
    int k = account_index(run, &m->counterparty_id), legs = 0;
    for (size_t w = 0; k >= 0 && w < run->n_events[k]; w++) {
        const ll_data_movement_t *o = &run->events[k][w].data.movement;
        legs += run->events[k][w].type == LL_EVENT_TRANSFER_RECEIVED && ll_uuid_equal(&o->transfer_id, &m->transfer_id) &&
                o->amount_minor == m->amount_minor && ll_uuid_equal(&o->payment_id, &m->payment_id) &&
                ll_uuid_equal(&o->counterparty_id, &e->account_id);
    }
    return legs;
}

/* Conservation, from the events alone (not from the model or the states): every transfer,
 * payment leg and capture to an account has its received leg, so money moved between accounts
 * nets to zero, and the balances add up to what came in minus what went out. */
static void check_conservation(ll_test_ctx_t *t, run_t *run) {
    __int128 total = 0, in = 0, out = 0, sent = 0, received = 0;
    for (int i = 0; i < ACCOUNTS; i++) {
        total += run->state[i].balance_minor;
        for (size_t v = 0; v < run->n_events[i]; v++) {
            const ll_event_t *e = &run->events[i][v];
            int64_t amount = e->data.movement.amount_minor;
            switch (e->type) {
            case LL_EVENT_MONEY_DEPOSITED:
                in += amount;
                break;
            case LL_EVENT_MONEY_WITHDRAWN:
                out += amount;
                break;
            case LL_EVENT_HOLD_CAPTURED:
                if (ll_uuid_is_nil(&e->data.movement.transfer_id)) {
                    out += amount;
                    break;
                }
                __attribute__((fallthrough));
            case LL_EVENT_TRANSFER_SENT:
                sent += amount;
                LL_CHECK_EQ_INT(other_legs(run, e), 1);
                break;
            case LL_EVENT_TRANSFER_RECEIVED:
                received += amount;
                break;
            default:
                break;
            }
        }
    }
    LL_CHECK(sent == received);
    LL_CHECK(total == in - out);
    LL_CHECK(in == run->in && out == run->out);
}

/* After every event of a stream, the state from its opening and that event alone
 * (ll_account_at) equals the fold through it. */
static void check_state_from_two_events(ll_test_ctx_t *t, const ll_event_t *events, size_t n) {
    if (n == 0) return;
    ll_account_t folded, at;
    ll_account_init(&folded, &events[0].account_id);
    for (size_t v = 0; v < n; v++) {
        ll_error_t err = {""};
        LL_CHECK(ll_account_evolve(&folded, &events[v], &err) == LL_EVOLVE_OK);
        memset(&at, 0x5a, sizeof at); /* every byte must be written, padding of owner included */
        LL_CHECK(ll_account_at(&events[0], &events[v], &at, &err) == 0);
        LL_CHECK(memcmp(&at, &folded, sizeof at) == 0);
    }
}

/* The invariants after a sequence. */
static void check_invariants(ll_test_ctx_t *t, run_t *run) {
    check_conservation(t, run);
    for (int i = 0; i < ACCOUNTS; i++) {
        const ll_account_t *s = &run->state[i];
        for (size_t v = 0; v < run->n_events[i]; v++) LL_CHECK_EQ_INT(run->events[i][v].version, v + 1);
        ll_account_t fresh;
        ll_account_init(&fresh, &s->account_id);
        ll_error_t err = {""};
        LL_CHECK(ll_replay_fold(&fresh, run->events[i], run->n_events[i], NULL, &err) == 0);
        LL_CHECK(memcmp(&fresh, s, sizeof fresh) == 0);
        check_state_from_two_events(t, run->events[i], run->n_events[i]);
    }
    /* Each hold record refolds from its account's stream alone. */
    for (int h = 0; h < run->n_holds; h++) {
        ll_hold_t again;
        ll_hold_init(&again, &run->hold[h].hold_id);
        int k = run->mhold[h].account;
        for (size_t v = 0; v < run->n_events[k]; v++) {
            const ll_event_t *e = &run->events[k][v];
            if (ll_event_is_hold(e->type) && ll_uuid_equal(&e->data.movement.hold_id, &again.hold_id))
                LL_CHECK(ll_hold_apply(&again, e, NULL) == 0);
        }
        LL_CHECK(memcmp(&again, &run->hold[h], sizeof again) == 0);
    }
}

static void check_chains(ll_test_ctx_t *t, run_t *run) {
    static char texts[EVENTS_MAX][LL_EVENT_JSON_BYTES_MAX];
    static const char *ptrs[EVENTS_MAX];
    static size_t lens[EVENTS_MAX];
    for (int i = 0; i < ACCOUNTS; i++) {
        for (size_t v = 0; v < run->n_events[i]; v++) {
            if (ll_event_encode(&run->events[i][v], true, texts[v], sizeof texts[v], &lens[v], NULL) != 0)
                abort();
            ptrs[v] = texts[v];
        }
        ll_chain_result_t res;
        LL_CHECK(ll_chain_verify(ptrs, lens, run->n_events[i], &res, NULL) == 0);
        LL_CHECK(res.ok);
        LL_CHECK_EQ_STR(res.head_hash, run->state[i].head_hash);
    }
}

static void reset(run_t *run) {
    fx_world_init(&run->world);
    memset(run->model, 0, sizeof run->model);
    run->n_holds = 0;
    run->in = run->out = 0;
    for (int i = 0; i < ACCOUNTS; i++) {
        ll_uuid_t id = fx_uuid((uint64_t)i + 1);
        ll_account_init(&run->state[i], &id);
        run->n_events[i] = 0;
    }
}

LL_TEST(test_random_sequences_agree_with_the_model) {
    const char *seed_env = getenv("LL_PROPERTY_SEED");
    const char *runs_env = getenv("LL_PROPERTY_RUNS");
    int runs = runs_env ? atoi(runs_env) : 100;
    uint64_t first = seed_env ? strtoull(seed_env, NULL, 10) : 1;
    if (seed_env) runs = 1;
    run_t *run = calloc(1, sizeof *run);
    LL_REQUIRE(run != NULL);
    for (int i = 0; i < ACCOUNTS; i++) {
        run->events[i] = calloc(EVENTS_MAX, sizeof(ll_event_t));
        LL_REQUIRE(run->events[i] != NULL);
    }
    for (uint64_t seed = first; seed < first + (uint64_t)runs; seed++) {
        rng_t r = {seed * 0x9E3779B97F4A7C15ULL | 1};
        reset(run);
        int before = t->failures;
        for (int c = 0; c < COMMANDS_PER_RUN && t->failures == before; c++) {
            if (step(t, run, &r) != 0) break;
            check_step(t, run);
        }
        check_invariants(t, run);
        check_chains(t, run);
        if (t->failures > before) {
            LL_FAIL_AT("seed %llu failed; rerun with LL_PROPERTY_SEED=%llu", (unsigned long long)seed,
                       (unsigned long long)seed);
            break;
        }
    }
    printf("  outcomes:");
    for (int i = 0; i < LL_REJECT_COUNT; i++)
        printf(" %s=%ld", i == LL_REJECT_NONE ? "accepted" : ll_rejection_slug((ll_rejection_t)i), run->outcomes[i]);
    printf("\n  accepted per command:");
    for (int c = LL_CMD_OPEN; c <= LL_CMD_PAYMENT; c++) printf(" %d=%ld", c, run->accepted[c]);
    printf("\n  payments naming an account twice=%ld, captures to an account=%ld, credits on frozen accounts=%ld\n",
           run->repeated_leg_payments, run->capture_to, run->frozen_credits);
    /* Every outcome the random mix can reach must have been reached. */
    for (int i = 0; i < LL_REJECT_COUNT; i++) {
        if (i == LL_REJECT_BALANCE_OVERFLOW || i == LL_REJECT_INVALID_CURRENCY || i == LL_REJECT_INVALID_OWNER)
            continue;
        if (run->outcomes[i] == 0) LL_FAIL_AT("outcome %s never occurred", ll_rejection_slug((ll_rejection_t)i));
    }
    for (size_t i = 0; i < LL_CASES(COMMAND_MIX); i++)
        if (run->accepted[COMMAND_MIX[i]] == 0) LL_FAIL_AT("command %d never accepted", COMMAND_MIX[i]);
    for (int ty = LL_EVENT_NONE + 1; ty < LL_EVENT_TYPE_COUNT; ty++)
        if (run->events_of[ty] == 0) LL_FAIL_AT("no %s event", ll_event_type_name((ll_event_type_t)ty));
    LL_CHECK(run->repeated_leg_payments > 0);
    LL_CHECK(run->capture_to > 0);
    LL_CHECK(run->frozen_credits > 0);
    for (int i = 0; i < ACCOUNTS; i++) free(run->events[i]);
    free(run);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_random_sequences_agree_with_the_model),
    };
    return ll_test_main(argc, argv, "property", cases, LL_CASES(cases));
}
