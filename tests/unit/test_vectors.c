/* Golden vectors: tests/vectors/events.jsonl holds the canonical envelopes (with hashes) of a
 * fixed schema 2 history with every event type (domain_fixture.h fx_every_type). This build
 * must produce exactly those bytes, decode them back to the same events, verify every chain and
 * fold every stream. tests/vectors/events_v1.jsonl is the schema 1 file of earlier builds, kept
 * as written: it must still decode (upcast: held 0, limit 0, not frozen), verify on its stored
 * bytes and fold. Another language's implementation checks both files
 * (tests/vectors/check_vectors.py does so in Python).
 *
 * LL_UPDATE_VECTORS=1 rewrites events.jsonl (never events_v1.jsonl: old events are never
 * rewritten); do that only for an intended change of the canonical form or the envelope, with
 * the reason in the commit. */
#include "domain_fixture.h"
#include "ll_event_codec.h"
#include "ll_replay.h"
#include "ll_test.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define VECTORS    "tests/vectors/events.jsonl"
#define VECTORS_V1 "tests/vectors/events_v1.jsonl"
#define LINES_MAX  FX_EVERY_TYPE_MAX

typedef struct {
    char text[LINES_MAX][LL_EVENT_JSON_BYTES_MAX];
    size_t len[LINES_MAX];
    size_t n;
} lines_t;

static void encode_all(const ll_event_t *events, size_t n, lines_t *out) {
    for (size_t i = 0; i < n; i++)
        if (ll_event_encode(&events[i], true, out->text[i], LL_EVENT_JSON_BYTES_MAX, &out->len[i], NULL) != 0)
            abort();
    out->n = n;
}

/* Reads a golden file into out; returns 0, or -1 when it cannot be read or has too many lines. */
static int read_lines(const char *path, lines_t *out) {
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    static char line[LL_EVENT_JSON_BYTES_MAX + 2];
    out->n = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        size_t len = strcspn(line, "\n");
        if (out->n >= LINES_MAX || len >= LL_EVENT_JSON_BYTES_MAX) {
            rc = -1;
            break;
        }
        memcpy(out->text[out->n], line, len);
        out->len[out->n++] = len;
    }
    fclose(f);
    return rc;
}

/* Verifies the chain of account n in lines (in file order) and returns how many events it has. */
static int64_t verify_account(ll_test_ctx_t *t, const lines_t *lines, const ll_event_t *events, uint64_t n,
                              char head[LL_HASH_HEX_LEN + 1]) {
    ll_uuid_t id = fx_uuid(n);
    const char *ptrs[LINES_MAX];
    size_t lens[LINES_MAX], k = 0;
    for (size_t i = 0; i < lines->n; i++)
        if (ll_uuid_equal(&events[i].account_id, &id)) ptrs[k] = lines->text[i], lens[k++] = lines->len[i];
    ll_chain_result_t res;
    if (ll_chain_verify(ptrs, lens, k, &res, NULL) != 0) {
        LL_FAIL_AT("account %llu: verify could not run", (unsigned long long)n);
        return -1;
    }
    if (!res.ok) LL_FAIL_AT("account %llu: %s", (unsigned long long)n, res.reason);
    memcpy(head, res.head_hash, LL_HASH_HEX_LEN + 1);
    return res.events_checked;
}

/* Folds each account's events of the file with evolve; after every event the state from the
 * opening and that event alone (ll_account_at) equals the fold. Returns the final states. */
static void fold_accounts(ll_test_ctx_t *t, const ll_event_t *events, size_t n, ll_account_t *states, int count) {
    const ll_event_t *opened[3] = {NULL, NULL, NULL};
    for (int k = 0; k < count; k++) {
        ll_uuid_t id = fx_uuid((uint64_t)k + 1);
        ll_account_init(&states[k], &id);
    }
    for (size_t i = 0; i < n; i++) {
        int k = (int)events[i].account_id.bytes[15] - 1;
        if (k < 0 || k >= count) {
            LL_FAIL_AT("event %zu: unexpected account", i);
            continue;
        }
        ll_error_t err = {""};
        if (ll_account_evolve(&states[k], &events[i], &err) != LL_EVOLVE_OK) {
            LL_FAIL_AT("event %zu: %s", i, err.msg);
            continue;
        }
        if (events[i].type == LL_EVENT_ACCOUNT_OPENED) opened[k] = &events[i];
        ll_account_t at;
        memset(&at, 0x5a, sizeof at);
        if (opened[k] == NULL || ll_account_at(opened[k], &events[i], &at, &err) != 0)
            LL_FAIL_AT("event %zu: ll_account_at: %s", i, err.msg);
        else
            LL_CHECK(memcmp(&at, &states[k], sizeof at) == 0);
    }
}

LL_TEST(test_build_reproduces_the_golden_file) {
    static ll_event_t events[FX_EVERY_TYPE_MAX];
    size_t n = fx_every_type(events);
    static lines_t build, file;
    encode_all(events, n, &build);
    if (getenv("LL_UPDATE_VECTORS") != NULL) {
        FILE *f = fopen(VECTORS, "w");
        LL_REQUIRE(f != NULL);
        for (size_t i = 0; i < n; i++) fprintf(f, "%.*s\n", (int)build.len[i], build.text[i]);
        LL_CHECK(fclose(f) == 0);
    }
    if (read_lines(VECTORS, &file) != 0) {
        LL_FAIL_AT("cannot read %s (run from the repository root)", VECTORS);
        return;
    }
    LL_CHECK_EQ_INT(file.n, n);
    for (size_t i = 0; i < file.n && i < n; i++) {
        if (file.len[i] != build.len[i] || memcmp(file.text[i], build.text[i], file.len[i]) != 0)
            LL_FAIL_AT("line %zu differs:\n    file:  %.*s\n    build: %.*s", i + 1, (int)file.len[i], file.text[i],
                       (int)build.len[i], build.text[i]);
        ll_event_t back;
        ll_error_t err = {""};
        if (ll_event_decode(file.text[i], file.len[i], &back, &err) != 0)
            LL_FAIL_AT("line %zu: %s", i + 1, err.msg);
        else
            LL_CHECK(memcmp(&back, &events[i], sizeof back) == 0);
    }
}

/* The file has every type of this schema, and the optional keys both ways. */
LL_TEST(test_golden_file_has_every_type) {
    static ll_event_t events[FX_EVERY_TYPE_MAX];
    size_t n = fx_every_type(events);
    LL_CHECK_EQ_INT(n, 26);
    int seen[LL_EVENT_TYPE_COUNT] = {0};
    int capture_to = 0, capture_out = 0, payment_legs = 0, frozen_movement = 0, unlinked = 0;
    for (size_t i = 0; i < n; i++) {
        const ll_event_t *e = &events[i];
        const ll_data_movement_t *m = &e->data.movement;
        LL_CHECK_EQ_INT(e->schema_version, LL_EVENT_SCHEMA_VERSION_CURRENT);
        seen[e->type]++;
        if (e->type == LL_EVENT_HOLD_CAPTURED) ll_uuid_is_nil(&m->transfer_id) ? capture_out++ : capture_to++;
        if ((e->type == LL_EVENT_TRANSFER_SENT || e->type == LL_EVENT_TRANSFER_RECEIVED) && !ll_uuid_is_nil(&m->payment_id))
            payment_legs++;
        if ((e->type == LL_EVENT_TRANSFER_SENT || e->type == LL_EVENT_TRANSFER_RECEIVED) && ll_uuid_is_nil(&m->payment_id))
            unlinked++;
        if (ll_event_is_movement(e->type) && e->after.frozen) frozen_movement++;
    }
    for (int ty = LL_EVENT_NONE + 1; ty < LL_EVENT_TYPE_COUNT; ty++)
        if (seen[ty] == 0) LL_FAIL_AT("no %s in the golden history", ll_event_type_name((ll_event_type_t)ty));
    LL_CHECK_EQ_INT(capture_to, 1);
    LL_CHECK_EQ_INT(capture_out, 1);
    LL_CHECK_EQ_INT(payment_legs, 4);
    LL_CHECK(unlinked >= 2);
    LL_CHECK_EQ_INT(frozen_movement, 1);
}

LL_TEST(test_golden_chains_verify_and_fold_per_account) {
    static ll_event_t events[FX_EVERY_TYPE_MAX];
    size_t n = fx_every_type(events);
    static lines_t lines;
    encode_all(events, n, &lines);
    static const int64_t expect[3] = {20, 4, 2};
    ll_account_t states[3];
    fold_accounts(t, events, n, states, 3);
    for (uint64_t k = 1; k <= 3; k++) {
        char head[LL_HASH_HEX_LEN + 1];
        LL_CHECK_EQ_INT(verify_account(t, &lines, events, k, head), expect[k - 1]);
        LL_CHECK_EQ_STR(head, states[k - 1].head_hash);
        LL_CHECK_EQ_INT(states[k - 1].version, expect[k - 1]);
    }
    /* A closed empty, its limit ended; B got 1000 + 300 + 250; C the fee of 1. */
    LL_CHECK_EQ_INT(states[0].status, LL_ACCOUNT_CLOSED);
    LL_CHECK_EQ_INT(states[0].balance_minor, 0);
    LL_CHECK_EQ_INT(states[0].overdraft_limit_minor, 0);
    LL_CHECK_EQ_INT(states[1].balance_minor, 1550);
    LL_CHECK_EQ_INT(states[2].balance_minor, 1);
}

/* The schema 1 file of earlier builds: decodes through the upcasters, with the figures
 * version 2 added at their schema 1 meaning, and its chains verify on the stored bytes. */
LL_TEST(test_schema_1_file_still_decodes_verifies_and_folds) {
    static lines_t lines;
    if (read_lines(VECTORS_V1, &lines) != 0) {
        LL_FAIL_AT("cannot read %s (run from the repository root)", VECTORS_V1);
        return;
    }
    LL_REQUIRE(lines.n == 7);
    static ll_event_t events[LINES_MAX];
    for (size_t i = 0; i < lines.n; i++) {
        ll_error_t err = {""};
        json_t *env = json_loadb(lines.text[i], lines.len[i], 0, NULL);
        LL_REQUIRE(env != NULL);
        LL_CHECK_EQ_INT(json_integer_value(json_object_get(env, "schema_version")), 1);
        json_t *balance = json_object_get(json_object_get(env, "data"), "balance_after_minor");
        if (ll_event_decode(lines.text[i], lines.len[i], &events[i], &err) != 0) {
            LL_FAIL_AT("line %zu: %s", i + 1, err.msg);
        } else {
            const ll_event_t *e = &events[i];
            LL_CHECK_EQ_INT(e->schema_version, LL_EVENT_SCHEMA_VERSION_CURRENT); /* the struct's shape */
            LL_CHECK_EQ_INT(e->after.held_minor, 0);
            LL_CHECK_EQ_INT(e->after.overdraft_limit_minor, 0);
            LL_CHECK(!e->after.frozen);
            if (ll_event_is_movement(e->type))
                LL_CHECK_EQ_INT(e->after.balance_minor, json_integer_value(balance));
            else
                LL_CHECK(balance == NULL);
            LL_CHECK(!ll_event_has_money(e->type) || ll_uuid_is_nil(&e->data.movement.payment_id));
        }
        json_decref(env);
    }
    /* The stored hashes (pinned: the file is never rewritten) still verify on these bytes. */
    static const char *const heads[2] = {"da903cbd192792b01f0ede5734baeb4588b7496db7a790df727eab9eda1d8e74",
                                         "18307a5425d2c478a06116c836aab31969ef8566c16881384904aecfd9e09e3f"};
    for (uint64_t k = 1; k <= 2; k++) {
        char head[LL_HASH_HEX_LEN + 1];
        LL_CHECK_EQ_INT(verify_account(t, &lines, events, k, head), k == 1 ? 5 : 2);
        LL_CHECK_EQ_STR(head, heads[k - 1]);
    }
    ll_account_t states[2];
    fold_accounts(t, events, lines.n, states, 2);
    LL_CHECK_EQ_INT(states[0].status, LL_ACCOUNT_CLOSED);
    LL_CHECK_EQ_INT(states[1].balance_minor, 999999999999999);
    LL_CHECK_EQ_INT(states[1].held_minor, 0);
    LL_CHECK_EQ_STR(states[0].head_hash, heads[0]);
    /* Upcast events are never re-sealed: this build writes them as schema 2, other bytes. */
    char again[LL_EVENT_JSON_BYTES_MAX];
    size_t len = 0;
    LL_REQUIRE(ll_event_encode(&events[2], true, again, sizeof again, &len, NULL) == 0);
    LL_CHECK(len != lines.len[2] || memcmp(again, lines.text[2], len) != 0);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_build_reproduces_the_golden_file),
        LL_CASE(test_golden_file_has_every_type),
        LL_CASE(test_golden_chains_verify_and_fold_per_account),
        LL_CASE(test_schema_1_file_still_decodes_verifies_and_folds),
    };
    return ll_test_main(argc, argv, "vectors", cases, LL_CASES(cases));
}
