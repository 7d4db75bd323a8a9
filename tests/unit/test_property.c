/* Property test of the domain: random command sequences over a few accounts, checked against an
 * independent model (128-bit arithmetic) that predicts every acceptance and rejection. After each
 * sequence: balances equal accepted credits minus debits, never below zero, versions contiguous,
 * money conserved, a fresh fold of each stream equals the live state, and every chain verifies.
 *
 * LL_PROPERTY_SEED=N reruns one seed; LL_PROPERTY_RUNS=N changes the number of sequences. */
#include "domain_fixture.h"
#include "ll_event_codec.h"
#include "ll_replay.h"
#include "ll_test.h"

#include <stdlib.h>
#include <string.h>

#define ACCOUNTS         5
#define COMMANDS_PER_RUN 300
#define EVENTS_MAX       (2 * COMMANDS_PER_RUN + 1)

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
    int exists, closed;
    char ccy[4];
    __int128 balance, credits, debits;
} model_t;

typedef struct {
    ll_account_t state[ACCOUNTS];
    model_t model[ACCOUNTS];
    ll_event_t *events[ACCOUNTS]; /* each stream's events, for the final fold and verify */
    size_t n_events[ACCOUNTS];
    fx_world_t world;
    long outcomes[LL_REJECT_COUNT + 1]; /* per outcome, coverage of the test; [COUNT]: commit failed */
} run_t;

/* Amounts: out of range, near the limits, small, and exactly at the balance boundary of the
 * source account (balance - 1, balance, balance + 1), where off-by-one errors live. */
static int64_t random_amount(rng_t *r, __int128 balance) {
    switch (rng_below(r, 12)) {
    case 10:
    case 11:
        if (balance + 1 <= LL_AMOUNT_MINOR_MAX) return (int64_t)balance - 1 + (int64_t)rng_below(r, 3);
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

static ll_rejection_t predict_movement(const model_t *m, int64_t amount, const char *ccy) {
    if (amount < 1 || amount > LL_AMOUNT_MINOR_MAX) return LL_REJECT_AMOUNT_OUT_OF_RANGE;
    if (!m->exists) return LL_REJECT_ACCOUNT_NOT_FOUND;
    if (m->closed) return LL_REJECT_ACCOUNT_CLOSED;
    if (strcmp(m->ccy, ccy) != 0) return LL_REJECT_CURRENCY_MISMATCH;
    return LL_REJECT_NONE;
}

static ll_rejection_t predict(const run_t *run, ll_command_type_t type, int a, int b, int64_t amount,
                              const char *ccy) {
    const model_t *m = &run->model[a], *to = &run->model[b];
    ll_rejection_t r;
    switch (type) {
    case LL_CMD_OPEN:
        return m->exists ? LL_REJECT_ACCOUNT_EXISTS : LL_REJECT_NONE;
    case LL_CMD_DEPOSIT:
        if ((r = predict_movement(m, amount, ccy)) != LL_REJECT_NONE) return r;
        return m->balance + amount > INT64_MAX ? LL_REJECT_BALANCE_OVERFLOW : LL_REJECT_NONE;
    case LL_CMD_WITHDRAW:
        if ((r = predict_movement(m, amount, ccy)) != LL_REJECT_NONE) return r;
        return m->balance - amount < 0 ? LL_REJECT_INSUFFICIENT_FUNDS : LL_REJECT_NONE;
    case LL_CMD_TRANSFER:
        if (a == b) return LL_REJECT_SAME_ACCOUNT;
        if ((r = predict_movement(m, amount, ccy)) != LL_REJECT_NONE) return r;
        if ((r = predict_movement(to, amount, ccy)) != LL_REJECT_NONE) return r;
        if (m->balance - amount < 0) return LL_REJECT_INSUFFICIENT_FUNDS;
        return to->balance + amount > INT64_MAX ? LL_REJECT_BALANCE_OVERFLOW : LL_REJECT_NONE;
    case LL_CMD_CLOSE:
        if (!m->exists) return LL_REJECT_ACCOUNT_NOT_FOUND;
        if (m->closed) return LL_REJECT_ACCOUNT_CLOSED;
        return m->balance != 0 ? LL_REJECT_BALANCE_NOT_ZERO : LL_REJECT_NONE;
    default:
        return LL_REJECT_COUNT;
    }
}

static void model_apply(run_t *run, ll_command_type_t type, int a, int b, int64_t amount, const char *ccy) {
    model_t *m = &run->model[a];
    switch (type) {
    case LL_CMD_OPEN:
        m->exists = 1;
        snprintf(m->ccy, sizeof m->ccy, "%s", ccy);
        break;
    case LL_CMD_DEPOSIT:
        m->balance += amount, m->credits += amount;
        break;
    case LL_CMD_WITHDRAW:
        m->balance -= amount, m->debits += amount;
        break;
    case LL_CMD_TRANSFER:
        m->balance -= amount, m->debits += amount;
        run->model[b].balance += amount, run->model[b].credits += amount;
        break;
    case LL_CMD_CLOSE:
        m->closed = 1;
        break;
    default:
        break;
    }
}

static void record_events(run_t *run, const ll_decision_t *d, int a, int b) {
    for (int i = 0; i < d->event_count; i++) {
        int acct = i == 0 ? a : b;
        run->events[acct][run->n_events[acct]++] = d->events[i];
    }
}

/* Runs one random command; returns 0 when the domain agreed with the model. */
static int step(ll_test_ctx_t *t, run_t *run, rng_t *r) {
    static const ll_command_type_t weights[] = {
        LL_CMD_OPEN,     LL_CMD_DEPOSIT,  LL_CMD_DEPOSIT,  LL_CMD_DEPOSIT,  LL_CMD_WITHDRAW,
        LL_CMD_WITHDRAW, LL_CMD_TRANSFER, LL_CMD_TRANSFER, LL_CMD_TRANSFER, LL_CMD_CLOSE};
    ll_command_type_t type = weights[rng_below(r, LL_CASES(weights))];
    int a = (int)rng_below(r, ACCOUNTS), b = (int)rng_below(r, ACCOUNTS);
    int64_t amount = random_amount(r, run->model[a].balance);
    const char *ccy = random_ccy(r);
    ll_rejection_t expect = predict(run, type, a, b, amount, ccy);
    ll_command_t cmd = fx_cmd(type, &run->state[a].account_id, amount, ccy);
    ll_decision_t d;
    ll_rejection_t got;
    if (type == LL_CMD_TRANSFER) {
        got = fx_transfer(&run->world, &run->state[a], &run->state[b], amount, ccy, &d);
    } else {
        got = fx_run(&run->world, &run->state[a], &cmd, &d);
    }
    if (got != expect) {
        LL_FAIL_AT("command %d on %d->%d amount %lld %s: domain said %s, model %s (%s)", type, a, b,
                   (long long)amount, ccy, ll_rejection_slug(got) ? ll_rejection_slug(got) : "commit failed",
                   ll_rejection_slug(expect), d.detail);
        return -1;
    }
    run->outcomes[got]++;
    if (got == LL_REJECT_NONE) {
        model_apply(run, type, a, b, amount, ccy);
        record_events(run, &d, a, b);
    }
    return 0;
}

/* Conservation, from the events alone (not from the model or the states): every transfer's
 * two legs carry the same amount under one transfer id, so money moved between accounts nets
 * to zero, and the balances add up to what came in minus what went out. */
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
            case LL_EVENT_TRANSFER_SENT: {
                sent += amount;
                int legs = 0; /* its other leg: in the counterparty's stream, same id and amount */
                for (int j = 0; j < ACCOUNTS; j++) {
                    if (!ll_uuid_equal(&run->state[j].account_id, &e->data.movement.counterparty_id)) continue;
                    for (size_t w = 0; w < run->n_events[j]; w++) {
                        const ll_event_t *r = &run->events[j][w];
                        legs += r->type == LL_EVENT_TRANSFER_RECEIVED &&
                                ll_uuid_equal(&r->data.movement.transfer_id, &e->data.movement.transfer_id) &&
                                r->data.movement.amount_minor == amount;
                    }
                }
                LL_CHECK_EQ_INT(legs, 1);
                break;
            }
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
        const model_t *m = &run->model[i];
        LL_CHECK(s->balance_minor == (int64_t)m->balance);
        LL_CHECK((__int128)s->balance_minor == m->credits - m->debits);
        LL_CHECK(s->balance_minor >= 0);
        LL_CHECK_EQ_INT(s->version, run->n_events[i]);
        for (size_t v = 0; v < run->n_events[i]; v++) LL_CHECK_EQ_INT(run->events[i][v].version, v + 1);

        ll_account_t fresh;
        ll_account_init(&fresh, &s->account_id);
        ll_error_t err = {""};
        LL_CHECK(ll_replay_fold(&fresh, run->events[i], run->n_events[i], NULL, &err) == 0);
        LL_CHECK(memcmp(&fresh, s, sizeof fresh) == 0);
        check_state_from_two_events(t, run->events[i], run->n_events[i]);
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

LL_TEST(test_random_sequences_agree_with_the_model) {
    const char *seed_env = getenv("LL_PROPERTY_SEED");
    const char *runs_env = getenv("LL_PROPERTY_RUNS");
    int runs = runs_env ? atoi(runs_env) : 40;
    uint64_t first = seed_env ? strtoull(seed_env, NULL, 10) : 1;
    if (seed_env) runs = 1;
    run_t *run = calloc(1, sizeof *run);
    LL_REQUIRE(run != NULL);
    for (int i = 0; i < ACCOUNTS; i++) run->events[i] = calloc(EVENTS_MAX, sizeof(ll_event_t));
    for (uint64_t seed = first; seed < first + (uint64_t)runs; seed++) {
        rng_t r = {seed * 0x9E3779B97F4A7C15ULL | 1};
        fx_world_init(&run->world);
        memset(run->model, 0, sizeof run->model);
        for (int i = 0; i < ACCOUNTS; i++) {
            ll_uuid_t id = fx_uuid((uint64_t)i + 1);
            ll_account_init(&run->state[i], &id);
            run->n_events[i] = 0;
        }
        int ok = 1;
        for (int c = 0; c < COMMANDS_PER_RUN && ok; c++) ok = step(t, run, &r) == 0;
        int before = t->failures;
        check_invariants(t, run);
        check_chains(t, run);
        if (!ok || t->failures > before) {
            LL_FAIL_AT("seed %llu failed; rerun with LL_PROPERTY_SEED=%llu", (unsigned long long)seed,
                       (unsigned long long)seed);
            break;
        }
    }
    printf("  outcomes:");
    for (int i = 0; i < LL_REJECT_COUNT; i++)
        printf(" %s=%ld", i == LL_REJECT_NONE ? "accepted" : ll_rejection_slug((ll_rejection_t)i),
               run->outcomes[i]);
    printf("\n");
    /* Every outcome the random mix can reach must have been reached. */
    for (int i = 0; i < LL_REJECT_COUNT; i++) {
        if (i == LL_REJECT_BALANCE_OVERFLOW || i == LL_REJECT_INVALID_CURRENCY ||
            i == LL_REJECT_INVALID_OWNER)
            continue;
        if (run->outcomes[i] == 0)
            LL_FAIL_AT("outcome %s never occurred", ll_rejection_slug((ll_rejection_t)i));
    }
    for (int i = 0; i < ACCOUNTS; i++) free(run->events[i]);
    free(run);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_random_sequences_agree_with_the_model),
    };
    return ll_test_main(argc, argv, "property", cases, LL_CASES(cases));
}
