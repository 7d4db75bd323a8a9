/* Unit tests of domain/ll_hash_chain: sealing, and verification that names the first bad
 * version for every kind of tampering (altered, re-hashed, removed, reordered, foreign, garbage). */
#include "domain_fixture.h"
#include "ll_event_codec.h"
#include "ll_test.h"

#include <stdlib.h>
#include <string.h>

#define STREAM_LEN 6

typedef struct {
    char text[STREAM_LEN][LL_EVENT_JSON_BYTES_MAX];
    const char *ptr[STREAM_LEN];
    size_t len[STREAM_LEN];
    ll_event_t ev[STREAM_LEN];
} stream_t;

/* Account 1: open, deposit 500, withdraw 100, deposit 7, withdraw 7, deposit 1. */
static void make_stream(stream_t *s) {
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a;
    ll_uuid_t id = fx_uuid(1);
    ll_account_init(&a, &id);
    ll_command_t cmds[STREAM_LEN] = {
        fx_cmd(LL_CMD_OPEN, &id, 0, "EUR"),       fx_cmd(LL_CMD_DEPOSIT, &id, 500, "EUR"),
        fx_cmd(LL_CMD_WITHDRAW, &id, 100, "EUR"), fx_cmd(LL_CMD_DEPOSIT, &id, 7, "EUR"),
        fx_cmd(LL_CMD_WITHDRAW, &id, 7, "EUR"),   fx_cmd(LL_CMD_DEPOSIT, &id, 1, "EUR"),
    };
    for (int i = 0; i < STREAM_LEN; i++) {
        ll_decision_t d;
        if (fx_run(&w, &a, &cmds[i], &d) != LL_REJECT_NONE) abort();
        s->ev[i] = d.events[0];
        if (ll_event_encode(&d.events[0], true, s->text[i], sizeof s->text[i] - 1, &s->len[i], NULL) != 0)
            abort();
        s->text[i][s->len[i]] = '\0';
        s->ptr[i] = s->text[i];
    }
}

static ll_chain_result_t verify(ll_test_ctx_t *t, stream_t *s, size_t n) {
    ll_chain_result_t res;
    ll_error_t err = {""};
    if (ll_chain_verify(s->ptr, s->len, n, &res, &err) != 0) LL_FAIL_AT("verify could not run: %s", err.msg);
    return res;
}

/* Replaces the first `from` in event i's text with `to`. */
static void edit(stream_t *s, int i, const char *from, const char *to) {
    char *at = strstr(s->text[i], from);
    if (at == NULL) abort();
    char tail[LL_EVENT_JSON_BYTES_MAX];
    snprintf(tail, sizeof tail, "%s", at + strlen(from));
    snprintf(at, sizeof s->text[i] - (size_t)(at - s->text[i]), "%s%s", to, tail);
    s->len[i] = strlen(s->text[i]);
}

LL_TEST(test_intact_stream_verifies) {
    stream_t *s = malloc(sizeof *s);
    LL_REQUIRE(s != NULL);
    make_stream(s);
    ll_chain_result_t res = verify(t, s, STREAM_LEN);
    LL_CHECK(res.ok);
    LL_CHECK_EQ_INT(res.events_checked, STREAM_LEN);
    LL_CHECK_EQ_INT(res.first_bad_version, 0);
    LL_CHECK_EQ_STR(res.head_hash, s->ev[STREAM_LEN - 1].hash);
    res = verify(t, s, 0);
    LL_CHECK(res.ok);
    LL_CHECK_EQ_STR(res.head_hash, LL_HASH_ZERO);
    free(s);
}

/* The walk (streams read in chunks) gives verify's verdict, and stays bad after the first bad
 * event whatever follows. */
LL_TEST(test_walk_one_event_at_a_time_agrees_with_verify) {
    stream_t *s = malloc(sizeof *s);
    LL_REQUIRE(s != NULL);
    make_stream(s);
    edit(s, 3, "\"version\":4", "\"version\":5");
    ll_chain_result_t whole = verify(t, s, STREAM_LEN);
    ll_chain_walk_t w;
    ll_chain_walk_init(&w);
    int accepted = 0;
    for (int i = 0; i < STREAM_LEN; i++) accepted += ll_chain_walk_next(&w, s->ptr[i], s->len[i]);
    LL_CHECK_EQ_INT(accepted, 3);
    LL_CHECK(!w.res.ok && !whole.ok);
    LL_CHECK_EQ_INT(w.res.first_bad_version, whole.first_bad_version);
    LL_CHECK_EQ_INT(w.res.events_checked, whole.events_checked);
    LL_CHECK_EQ_STR(w.res.reason, whole.reason);
    LL_CHECK_EQ_STR(w.res.head_hash, whole.head_hash);
    free(s);
}

LL_TEST(test_seal_matches_hash_of_stored_text) {
    stream_t *s = malloc(sizeof *s);
    LL_REQUIRE(s != NULL);
    make_stream(s);
    for (int i = 0; i < STREAM_LEN; i++) {
        json_t *env = json_loadb(s->text[i], s->len[i], 0, NULL);
        LL_REQUIRE(env != NULL);
        char h[LL_HASH_HEX_LEN + 1];
        LL_CHECK(ll_hash_envelope(env, h, NULL) == 0);
        LL_CHECK_EQ_STR(h, s->ev[i].hash);
        LL_CHECK(json_object_get(env, "hash") != NULL); /* env left intact */
        json_decref(env);
        if (i > 0) LL_CHECK_EQ_STR(s->ev[i].prev_hash, s->ev[i - 1].hash);
    }
    free(s);
}

LL_TEST(test_altered_event_is_named) {
    stream_t *s = malloc(sizeof *s);
    LL_REQUIRE(s != NULL);
    make_stream(s);
    edit(s, 2, "\"amount_minor\":100", "\"amount_minor\":10");
    edit(s, 2, "\"balance_after_minor\":400", "\"balance_after_minor\":490");
    ll_chain_result_t res = verify(t, s, STREAM_LEN);
    LL_CHECK(!res.ok);
    LL_CHECK_EQ_INT(res.first_bad_version, 3);
    LL_CHECK_EQ_INT(res.events_checked, 2);
    LL_CHECK_CONTAINS(res.reason, "altered");
    LL_CHECK_EQ_STR(res.head_hash, s->ev[1].hash);
    free(s);
}

LL_TEST(test_rehashed_alteration_breaks_the_next_link) {
    stream_t *s = malloc(sizeof *s);
    LL_REQUIRE(s != NULL);
    make_stream(s);
    /* The attacker changes event 3 and recomputes its own hash: event 4 no longer links to it. */
    ll_event_t forged = s->ev[2];
    forged.data.movement.amount_minor = 10;
    forged.after.balance_minor = 490;
    LL_REQUIRE(ll_event_seal(&forged, NULL) == 0);
    LL_REQUIRE(ll_event_encode(&forged, true, s->text[2], sizeof s->text[2] - 1, &s->len[2], NULL) == 0);
    s->text[2][s->len[2]] = '\0';
    ll_chain_result_t res = verify(t, s, STREAM_LEN);
    LL_CHECK(!res.ok);
    LL_CHECK_EQ_INT(res.first_bad_version, 4);
    LL_CHECK_CONTAINS(res.reason, "prev_hash");
    free(s);
}

LL_TEST(test_removed_and_reordered_events_are_named) {
    stream_t *s = malloc(sizeof *s);
    LL_REQUIRE(s != NULL);
    make_stream(s);
    /* Remove version 3. */
    const char *p3 = s->ptr[2];
    size_t l3 = s->len[2];
    for (int i = 2; i < STREAM_LEN - 1; i++) {
        s->ptr[i] = s->ptr[i + 1];
        s->len[i] = s->len[i + 1];
    }
    ll_chain_result_t res = verify(t, s, STREAM_LEN - 1);
    LL_CHECK(!res.ok);
    LL_CHECK_EQ_INT(res.first_bad_version, 3);
    LL_CHECK_CONTAINS(res.reason, "version 4 where 3 was expected");
    /* Put version 3 back after version 4: [1, 2, 4, 3]. */
    s->ptr[3] = p3;
    s->len[3] = l3;
    res = verify(t, s, 4);
    LL_CHECK(!res.ok);
    LL_CHECK_EQ_INT(res.first_bad_version, 3);
    /* Truncating the tail cannot be detected from the events alone: the head hash is the
     * anchor to compare with (the store's or a published one). */
    make_stream(s);
    res = verify(t, s, STREAM_LEN - 1);
    LL_CHECK(res.ok);
    LL_CHECK(strcmp(res.head_hash, s->ev[STREAM_LEN - 1].hash) != 0);
    ll_chain_result_t anchored = res;
    ll_chain_check_head(&anchored, s->ev[STREAM_LEN - 1].hash, STREAM_LEN);
    LL_CHECK(!anchored.ok);
    LL_CHECK_EQ_INT(anchored.first_bad_version, STREAM_LEN);
    LL_CHECK_CONTAINS(anchored.reason, "ends before the recorded head (version 6)");
    anchored = res;
    ll_chain_check_head(&anchored, s->ev[STREAM_LEN - 2].hash, STREAM_LEN - 1); /* the head it has */
    LL_CHECK(anchored.ok);
    anchored = res;
    ll_chain_check_head(&anchored, "", 0); /* nothing recorded: nothing to compare */
    LL_CHECK(anchored.ok);
    free(s);
}

LL_TEST(test_foreign_and_garbage_events_are_named) {
    stream_t *s = malloc(sizeof *s);
    LL_REQUIRE(s != NULL);
    make_stream(s);
    edit(s, 1, "\"account_id\":\"00000000-0000-4000-8000-000000000001\"",
         "\"account_id\":\"00000000-0000-4000-8000-000000000002\"");
    ll_chain_result_t res = verify(t, s, STREAM_LEN);
    LL_CHECK(!res.ok);
    LL_CHECK_EQ_INT(res.first_bad_version, 2);
    LL_CHECK_CONTAINS(res.reason, "another account");

    make_stream(s);
    snprintf(s->text[4], sizeof s->text[4], "{\"not\":\"an event\"}");
    s->len[4] = strlen(s->text[4]);
    res = verify(t, s, STREAM_LEN);
    LL_CHECK(!res.ok);
    LL_CHECK_EQ_INT(res.first_bad_version, 5);
    LL_CHECK_CONTAINS(res.reason, "undecodable");
    free(s);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_intact_stream_verifies), LL_CASE(test_walk_one_event_at_a_time_agrees_with_verify),
        LL_CASE(test_seal_matches_hash_of_stored_text),
        LL_CASE(test_altered_event_is_named),
        LL_CASE(test_rehashed_alteration_breaks_the_next_link),
        LL_CASE(test_removed_and_reordered_events_are_named),
        LL_CASE(test_foreign_and_garbage_events_are_named),
    };
    return ll_test_main(argc, argv, "hash_chain", cases, LL_CASES(cases));
}
