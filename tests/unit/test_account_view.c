/* Unit tests of api/ll_account_view: the rules that keep the query API's in-memory states from
 * ever being staler than the read model without knowing it (no I/O; one thread, plus one test
 * with a waiter thread). */
#include "domain_fixture.h"
#include "ll_account_view.h"
#include "ll_read_model_docs.h"
#include "ll_test.h"

#include <string.h>

/* A stream of account 1: open, then deposits of 10; states[k] is the state after k+1 events. */
#define STREAM 6
typedef struct {
    ll_event_t events[STREAM];
    ll_account_t states[STREAM];
} stream_t;

static void make_stream(stream_t *s) {
    fx_world_t w;
    fx_world_init(&w);
    ll_uuid_t id = fx_uuid(1);
    ll_account_t a;
    ll_account_init(&a, &id);
    ll_decision_t d;
    for (int k = 0; k < STREAM; k++) {
        ll_command_t cmd = fx_cmd(k == 0 ? LL_CMD_OPEN : LL_CMD_DEPOSIT, &id, k == 0 ? 0 : 10, "EUR");
        if (fx_run(&w, &a, &cmd, &d) != LL_REJECT_NONE) abort();
        s->events[k] = d.events[0];
        s->states[k] = a;
    }
}

static ll_account_view_t *ready_view(void) {
    ll_account_view_t *v = ll_account_view_create(100, 0);
    if (v == NULL) abort();
    ll_account_view_set_ready(v);
    return v;
}

LL_TEST(test_fill_then_tail_keeps_the_state_current) {
    stream_t s;
    make_stream(&s);
    ll_account_view_t *v = ready_view();
    ll_account_t out;
    LL_CHECK_EQ_INT(ll_account_view_get(v, &s.states[0].account_id, -1, &out), LL_VIEW_MISS);
    ll_account_view_fill(v, 1, &s.states[2]); /* the read model at version 3 */
    LL_REQUIRE(ll_account_view_get(v, &s.states[0].account_id, -1, &out) == LL_VIEW_HIT);
    LL_CHECK_EQ_INT(out.version, 3);
    ll_account_view_apply(v, &s.events[1], 4); /* versions 2..5: two duplicates, then 4 and 5 */
    LL_REQUIRE(ll_account_view_get(v, &s.states[0].account_id, 5, &out) == LL_VIEW_HIT);
    LL_CHECK_EQ_INT(out.version, 5);
    LL_CHECK_EQ_INT(out.balance_minor, 40);
    LL_CHECK_EQ_INT(ll_account_view_get(v, &s.states[0].account_id, 6, &out), LL_VIEW_BEHIND);
    ll_account_view_stats_t st;
    ll_account_view_stats(v, &st);
    LL_CHECK_EQ_INT(st.applied, 2);
    LL_CHECK_EQ_INT(st.duplicates, 2);
    ll_account_view_destroy(v);
}

/* The race the design is about: the tail passed version 4 before the reader's read-model
 * document (version 3) arrived. Taking it would lose version 4 forever. */
LL_TEST(test_fill_behind_what_the_tail_saw_is_refused) {
    stream_t s;
    make_stream(&s);
    ll_account_view_t *v = ready_view();
    ll_account_t out;
    ll_account_view_apply(v, &s.events[3], 1); /* version 4, no state held: only remembered */
    ll_account_view_fill(v, 1, &s.states[2]);  /* version 3: behind */
    LL_CHECK_EQ_INT(ll_account_view_get(v, &s.states[0].account_id, -1, &out), LL_VIEW_MISS);
    ll_account_view_fill(v, 1, &s.states[3]); /* the read model caught up */
    LL_REQUIRE(ll_account_view_get(v, &s.states[0].account_id, -1, &out) == LL_VIEW_HIT);
    LL_CHECK_EQ_INT(out.version, 4);
    ll_account_view_apply(v, &s.events[4], 1);
    LL_CHECK_EQ_INT(ll_account_view_get(v, &s.states[0].account_id, 5, &out), LL_VIEW_HIT);
    ll_account_view_stats_t st;
    ll_account_view_stats(v, &st);
    LL_CHECK_EQ_INT(st.fills_refused, 1);
    ll_account_view_destroy(v);
}

LL_TEST(test_gap_drops_the_state_instead_of_guessing) {
    stream_t s;
    make_stream(&s);
    ll_account_view_t *v = ready_view();
    ll_account_t out;
    ll_account_view_fill(v, 1, &s.states[1]);  /* version 2 */
    ll_account_view_apply(v, &s.events[3], 1); /* version 4: 3 is missing */
    LL_CHECK_EQ_INT(ll_account_view_get(v, &s.states[0].account_id, -1, &out), LL_VIEW_MISS);
    ll_account_view_fill(v, 1, &s.states[2]); /* still behind the 4 the tail saw */
    LL_CHECK_EQ_INT(ll_account_view_get(v, &s.states[0].account_id, -1, &out), LL_VIEW_MISS);
    ll_account_view_fill(v, 1, &s.states[3]);
    LL_CHECK_EQ_INT(ll_account_view_get(v, &s.states[0].account_id, 4, &out), LL_VIEW_HIT);
    ll_account_view_destroy(v);
}

LL_TEST(test_tampered_event_drops_the_state) {
    stream_t s;
    make_stream(&s);
    ll_account_view_t *v = ready_view();
    ll_account_t out;
    ll_account_view_fill(v, 1, &s.states[1]);
    ll_event_t bad = s.events[2];
    bad.after.balance_minor += 1; /* the sum no longer adds up */
    ll_account_view_apply(v, &bad, 1);
    LL_CHECK_EQ_INT(ll_account_view_get(v, &s.states[0].account_id, -1, &out), LL_VIEW_MISS);
    ll_account_view_destroy(v);
}

LL_TEST(test_no_fill_before_ready_nor_from_an_old_generation) {
    stream_t s;
    make_stream(&s);
    ll_account_view_t *v = ll_account_view_create(100, 0);
    LL_REQUIRE(v != NULL);
    ll_account_t out;
    ll_account_view_fill(v, 1, &s.states[1]);
    LL_CHECK_EQ_INT(ll_account_view_get(v, &s.states[0].account_id, -1, &out), LL_VIEW_MISS);
    ll_account_view_set_ready(v);
    ll_account_view_fill(v, 2, &s.states[1]);
    LL_CHECK_EQ_INT(ll_account_view_get(v, &s.states[0].account_id, -1, &out), LL_VIEW_HIT);
    ll_account_view_fill(v, 1, &s.states[4]); /* a worker still on generation 1 */
    LL_REQUIRE(ll_account_view_get(v, &s.states[0].account_id, -1, &out) == LL_VIEW_HIT);
    LL_CHECK_EQ_INT(out.version, 2);
    ll_account_view_fill(v, 3, &s.states[0]); /* a switch: held states go */
    LL_REQUIRE(ll_account_view_get(v, &s.states[0].account_id, -1, &out) == LL_VIEW_HIT);
    LL_CHECK_EQ_INT(out.version, 1);
    ll_account_view_destroy(v);
}

LL_TEST(test_full_view_serves_new_accounts_from_the_read_model) {
    ll_account_view_t *v = ll_account_view_create(2, 0);
    LL_REQUIRE(v != NULL);
    ll_account_view_set_ready(v);
    fx_world_t w;
    fx_world_init(&w);
    ll_account_t a[3], out;
    for (int i = 0; i < 3; i++) {
        LL_REQUIRE(fx_open(&w, &a[i], (uint64_t)i + 1, "EUR") == 0);
        ll_account_view_fill(v, 1, &a[i]);
    }
    LL_CHECK_EQ_INT(ll_account_view_get(v, &a[0].account_id, -1, &out), LL_VIEW_HIT);
    LL_CHECK_EQ_INT(ll_account_view_get(v, &a[1].account_id, -1, &out), LL_VIEW_HIT);
    LL_CHECK_EQ_INT(ll_account_view_get(v, &a[2].account_id, -1, &out), LL_VIEW_MISS);
    ll_account_view_stats_t st;
    ll_account_view_stats(v, &st);
    LL_CHECK_EQ_INT(st.entries, 2);
    LL_CHECK(st.saturated >= 1);
    ll_account_view_destroy(v);
}

/* An account opened while the tail follows: its whole stream passes, so it is held from the
 * first event without a read of the read model, and equals the fold of that stream. */
LL_TEST(test_stream_from_its_first_event_is_held_without_a_fill) {
    stream_t s;
    make_stream(&s);
    ll_account_view_t *v = ll_account_view_create(100, 0); /* not even ready: no fill involved */
    LL_REQUIRE(v != NULL);
    ll_account_t out;
    ll_account_view_apply(v, s.events, 3);
    LL_REQUIRE(ll_account_view_get(v, &s.states[0].account_id, 3, &out) == LL_VIEW_HIT);
    LL_CHECK(memcmp(&out, &s.states[2], sizeof out) == 0);
    ll_account_view_stats_t st;
    ll_account_view_stats(v, &st);
    LL_CHECK_EQ_INT(st.states, 1);
    LL_CHECK_EQ_INT(st.fills, 0);
    ll_account_view_destroy(v);
}

/* A first event seen after later ones (a re-read) starts nothing: the later versions passed
 * without a state, so a fold from it would miss them. */
LL_TEST(test_first_event_after_later_ones_is_not_held) {
    stream_t s;
    make_stream(&s);
    ll_account_view_t *v = ready_view();
    ll_account_t out;
    ll_account_view_apply(v, &s.events[3], 1);
    ll_account_view_apply(v, &s.events[0], 1);
    LL_CHECK_EQ_INT(ll_account_view_get(v, &s.states[0].account_id, -1, &out), LL_VIEW_MISS);
    ll_account_view_destroy(v);
}

/* A reader behind the tail sees BEHIND (it looks again later, from the loop) until the tail
 * applies the version it asked for; then HIT. */
LL_TEST(test_a_reader_behind_the_tail_sees_the_version_once_applied) {
    stream_t s;
    make_stream(&s);
    ll_account_view_t *v = ready_view();
    ll_account_t out;
    ll_account_view_fill(v, 1, &s.states[1]);
    LL_CHECK_EQ_INT(ll_account_view_get(v, &s.states[0].account_id, 3, &out), LL_VIEW_BEHIND);
    ll_account_view_apply(v, &s.events[2], 1);
    LL_CHECK_EQ_INT(ll_account_view_get(v, &s.states[0].account_id, 3, &out), LL_VIEW_HIT);
    LL_CHECK_EQ_INT(out.version, 3);
    LL_CHECK_EQ_INT(ll_account_view_get(v, &s.states[0].account_id, 4, &out), LL_VIEW_BEHIND);
    ll_account_view_destroy(v);
}

/* ---- statements from memory ---- */

static char *page_of(ll_account_view_t *v, const ll_uuid_t *id, const char *owner, int64_t before,
                     int64_t limit) {
    ll_text_t t;
    ll_text_init(&t);
    if (!ll_account_view_statement(v, id, owner, before, limit, &t)) {
        free(ll_text_take(&t));
        return NULL;
    }
    return ll_text_take(&t);
}

/* Held from AccountOpened: the whole history is known, so every page is answered, with the same
 * JSON the read model stores (ll_rm_item_json), newest first. */
LL_TEST(test_a_stream_held_from_its_start_answers_every_statement_page) {
    stream_t s;
    make_stream(&s);
    ll_account_view_t *v = ll_account_view_create(100, 1 << 20);
    LL_REQUIRE(v != NULL);
    ll_account_view_apply(v, s.events, STREAM);
    const ll_uuid_t *id = &s.states[0].account_id;
    char *all = page_of(v, id, "", INT64_MAX, 50);
    LL_REQUIRE(all != NULL);
    char first[LL_RM_ITEM_JSON_MAX];
    LL_REQUIRE(ll_rm_item_json(&s.events[STREAM - 1], first, sizeof first) > 0);
    LL_CHECK(strncmp(all, "{\"items\":[", 10) == 0 && strstr(all, first) == all + 10);
    LL_CHECK_CONTAINS(all, "\"next_cursor\":null}");
    free(all);
    char *two = page_of(v, id, "", INT64_MAX, 2); /* versions 6, 5; more below */
    LL_CHECK_CONTAINS(two, "\"next_cursor\":\"5\"}");
    free(two);
    char *rest = page_of(v, id, "", 5, 50); /* versions 4, 3, 2: the end */
    LL_CHECK_CONTAINS(rest, "\"version\":2,");
    LL_CHECK_CONTAINS(rest, "\"next_cursor\":null}");
    free(rest);
    LL_CHECK(page_of(v, id, "someone-else", INT64_MAX, 50) == NULL); /* a worker answers 404 */
    ll_account_view_destroy(v);
}

/* Filled from the read model: taken only at the version held, then kept current by the tail;
 * a page reaching below what was read is not answered. */
LL_TEST(test_movements_filled_at_the_held_version_then_follow_the_tail) {
    stream_t s;
    make_stream(&s);
    ll_account_view_t *v = ll_account_view_create(100, 1 << 20);
    LL_REQUIRE(v != NULL);
    ll_account_view_set_ready(v);
    const ll_uuid_t *id = &s.states[0].account_id;
    ll_account_view_fill(v, 1, &s.states[3]); /* the read model at version 4 */
    LL_CHECK(page_of(v, id, "", INT64_MAX, 50) == NULL);
    char j3[LL_RM_ITEM_JSON_MAX], j4[LL_RM_ITEM_JSON_MAX];
    ll_rm_item_json(&s.events[2], j3, sizeof j3);
    ll_rm_item_json(&s.events[3], j4, sizeof j4);
    int64_t versions[2] = {4, 3};
    const char *json[2] = {j4, j3};
    ll_account_view_fill_movements(v, 1, id, 3, versions, json, 2, 0); /* not the held version */
    LL_CHECK(page_of(v, id, "", INT64_MAX, 1) == NULL);
    ll_account_view_fill_movements(v, 1, id, 4, versions, json, 2, 0); /* every movement from 3 on */
    char *one = page_of(v, id, "", INT64_MAX, 1);
    LL_CHECK_CONTAINS(one, "\"next_cursor\":\"4\"}");
    free(one);
    LL_CHECK(page_of(v, id, "", INT64_MAX, 2) == NULL); /* whether 2 exists below is not known */
    ll_account_view_apply(v, &s.events[4], 2);          /* versions 5 and 6 */
    char *three = page_of(v, id, "", INT64_MAX, 3);
    LL_CHECK_CONTAINS(three, "\"version\":6,");
    LL_CHECK_CONTAINS(three, "\"next_cursor\":\"4\"}");
    free(three);
    ll_account_view_destroy(v);
}

/* A gap drops the state and its movements; the memory budget forgets the least recently read. */
LL_TEST(test_movements_go_with_a_gap_and_within_the_budget) {
    stream_t s;
    make_stream(&s);
    ll_account_view_t *v = ll_account_view_create(100, 1); /* room for almost nothing */
    LL_REQUIRE(v != NULL);
    ll_account_view_apply(v, s.events, 3);
    const ll_uuid_t *id = &s.states[0].account_id;
    char *page = page_of(v, id, "", INT64_MAX, 50);
    LL_CHECK(page == NULL);
    free(page);
    ll_account_view_stats_t st;
    ll_account_view_stats(v, &st);
    LL_CHECK(st.recent_evicted > 0);
    LL_CHECK_EQ_INT(st.recent_accounts, 0);
    ll_account_view_destroy(v);
    v = ll_account_view_create(100, 1 << 20);
    ll_account_view_apply(v, s.events, 3);
    ll_account_view_apply(v, &s.events[4], 1); /* version 5 after 3: a gap */
    page = page_of(v, id, "", INT64_MAX, 50);
    LL_CHECK(page == NULL);
    free(page);
    ll_account_view_stats(v, &st);
    LL_CHECK_EQ_INT(st.recent_bytes, 0);
    ll_account_view_destroy(v);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_a_stream_held_from_its_start_answers_every_statement_page),
        LL_CASE(test_movements_filled_at_the_held_version_then_follow_the_tail),
        LL_CASE(test_movements_go_with_a_gap_and_within_the_budget),
        LL_CASE(test_fill_then_tail_keeps_the_state_current),
        LL_CASE(test_fill_behind_what_the_tail_saw_is_refused),
        LL_CASE(test_gap_drops_the_state_instead_of_guessing),
        LL_CASE(test_tampered_event_drops_the_state),
        LL_CASE(test_no_fill_before_ready_nor_from_an_old_generation),
        LL_CASE(test_full_view_serves_new_accounts_from_the_read_model),
        LL_CASE(test_stream_from_its_first_event_is_held_without_a_fill),
        LL_CASE(test_first_event_after_later_ones_is_not_held),
        LL_CASE(test_a_reader_behind_the_tail_sees_the_version_once_applied),
    };
    return ll_test_main(argc, argv, "account_view", cases, LL_CASES(cases));
}
