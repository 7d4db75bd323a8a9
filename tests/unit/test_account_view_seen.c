/* Unit tests of ll_account_view_seen: what the live view tells a min_version wait on the read
 * store about where the tail saw an account's newest version (no I/O, one thread). A wait holds
 * in memory only on what this says, so every case where the view cannot know must say so. */
#include "domain_fixture.h"
#include "ll_account_view.h"
#include "ll_test.h"

#define STREAM 4

/* Account n's stream: open, then deposits of 10. */
static void make_stream(int n, ll_event_t *events, ll_account_t *states) {
    fx_world_t w;
    fx_world_init(&w);
    ll_uuid_t id = fx_uuid((uint64_t)n);
    ll_account_t a;
    ll_account_init(&a, &id);
    ll_decision_t d;
    for (int k = 0; k < STREAM; k++) {
        ll_command_t cmd = fx_cmd(k == 0 ? LL_CMD_OPEN : LL_CMD_DEPOSIT, &id, k == 0 ? 0 : 10, "EUR");
        if (fx_run(&w, &a, &cmd, &d) != LL_REJECT_NONE) abort();
        events[k] = d.events[0];
        states[k] = a;
    }
}

static ll_view_seen_t seen(ll_account_view_t *v, const ll_uuid_t *id, int64_t *version,
                           ll_view_position_t *at) {
    *version = -7;
    *at = (ll_view_position_t){-7, -7};
    return ll_account_view_seen(v, id, version, at);
}

/* Before the tail reached its start offsets nothing is known; then an account without an event
 * since is "never seen", and one with events is seen at the newest version's place. */
LL_TEST(test_seen_at_the_newest_versions_place) {
    ll_event_t ev[STREAM];
    ll_account_t st[STREAM];
    make_stream(1, ev, st);
    const ll_uuid_t *id = &st[0].account_id;
    ll_account_view_t *v = ll_account_view_create(100, 0);
    LL_REQUIRE(v != NULL);
    int64_t version;
    ll_view_position_t at;
    LL_CHECK_EQ_INT(seen(v, id, &version, &at), LL_SEEN_UNKNOWN);
    ll_account_view_set_ready(v);
    LL_CHECK_EQ_INT(seen(v, id, &version, &at), LL_SEEN_NEVER);
    LL_CHECK_EQ_INT(version, 0);
    ll_view_position_t pos[3] = {{2, 40}, {2, 41}, {2, 45}};
    ll_account_view_apply_at(v, &ev[1], pos, 2); /* versions 2 and 3: not held (no opening) */
    LL_CHECK_EQ_INT(seen(v, id, &version, &at), LL_SEEN_AT);
    LL_CHECK_EQ_INT(version, 3);
    LL_CHECK_EQ_INT(at.partition, 2);
    LL_CHECK_EQ_INT(at.offset, 41);
    ll_account_view_apply_at(v, &ev[1], &pos[2], 1); /* version 2 again, later: a re-read */
    LL_CHECK_EQ_INT(seen(v, id, &version, &at), LL_SEEN_AT);
    LL_CHECK_EQ_INT(version, 3);
    LL_CHECK_EQ_INT(at.offset, 41);
    ll_account_view_destroy(v);
}

/* Events applied without their place leave the place unknown: no wait may hold on it. */
LL_TEST(test_an_unknown_place_is_unknown) {
    ll_event_t ev[STREAM];
    ll_account_t st[STREAM];
    make_stream(2, ev, st);
    ll_account_view_t *v = ll_account_view_create(100, 0);
    LL_REQUIRE(v != NULL);
    ll_account_view_set_ready(v);
    ll_account_view_apply(v, &ev[1], 1);
    int64_t version;
    ll_view_position_t at;
    LL_CHECK_EQ_INT(seen(v, &st[0].account_id, &version, &at), LL_SEEN_UNKNOWN);
    ll_account_view_destroy(v);
}

/* An entry made by a fill from the read model has seen nothing of the tail. */
LL_TEST(test_a_filled_account_was_never_seen) {
    ll_event_t ev[STREAM];
    ll_account_t st[STREAM];
    make_stream(3, ev, st);
    ll_account_view_t *v = ll_account_view_create(100, 0);
    LL_REQUIRE(v != NULL);
    ll_account_view_set_ready(v);
    ll_account_view_fill(v, 1, &st[2]);
    int64_t version;
    ll_view_position_t at;
    LL_CHECK_EQ_INT(seen(v, &st[0].account_id, &version, &at), LL_SEEN_NEVER);
    ll_view_position_t pos = {0, 9};
    ll_account_view_apply_at(v, &ev[3], &pos, 1);
    LL_CHECK_EQ_INT(seen(v, &st[0].account_id, &version, &at), LL_SEEN_AT);
    LL_CHECK_EQ_INT(version, 4);
    ll_account_view_destroy(v);
}

/* Once the tail could not track an account (the view full), an account without an entry may
 * have passed it: unknown. Accounts with an entry still know. */
LL_TEST(test_a_full_view_cannot_say_never) {
    ll_event_t a_ev[STREAM], b_ev[STREAM], c_ev[STREAM];
    ll_account_t a_st[STREAM], b_st[STREAM], c_st[STREAM];
    make_stream(4, a_ev, a_st);
    make_stream(5, b_ev, b_st);
    make_stream(6, c_ev, c_st);
    ll_account_view_t *v = ll_account_view_create(1, 0);
    LL_REQUIRE(v != NULL);
    ll_account_view_set_ready(v);
    ll_view_position_t pos = {1, 5};
    ll_account_view_apply_at(v, &a_ev[1], &pos, 1);
    int64_t version;
    ll_view_position_t at;
    LL_CHECK_EQ_INT(seen(v, &c_st[0].account_id, &version, &at), LL_SEEN_NEVER);
    ll_account_view_apply_at(v, &b_ev[1], &pos, 1); /* no room: not tracked */
    LL_CHECK_EQ_INT(seen(v, &b_st[0].account_id, &version, &at), LL_SEEN_UNKNOWN);
    LL_CHECK_EQ_INT(seen(v, &c_st[0].account_id, &version, &at), LL_SEEN_UNKNOWN);
    LL_CHECK_EQ_INT(seen(v, &a_st[0].account_id, &version, &at), LL_SEEN_AT);
    ll_account_view_stats_t s;
    ll_account_view_stats(v, &s);
    LL_CHECK_EQ_INT(s.untracked, 1);
    ll_account_view_destroy(v);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_seen_at_the_newest_versions_place),
        LL_CASE(test_an_unknown_place_is_unknown),
        LL_CASE(test_a_filled_account_was_never_seen),
        LL_CASE(test_a_full_view_cannot_say_never),
    };
    return ll_test_main(argc, argv, "account_view_seen", cases, LL_CASES(cases));
}
