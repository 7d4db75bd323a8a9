/* Unit tests of readmodel/ll_read_model_writes: which documents a batch of events plans (no I/O:
 * planning only; tests/integration/test_read_model.c executes them against the store). */
#include "domain_fixture.h"
#include "ll_read_model_writes.h"
#include "ll_test.h"

#include <string.h>

#define P LL_READ_MODEL_PAGE_VERSIONS

static ll_event_t events[4 * P];

/* An account's events: opened, then deposits; returns n. */
static int stream(int n) {
    fx_world_t w;
    fx_world_init(&w);
    ll_uuid_t id = fx_uuid(3);
    ll_account_t a;
    ll_account_init(&a, &id);
    ll_decision_t d;
    for (int k = 0; k < n; k++) {
        ll_command_t c = fx_cmd(k == 0 ? LL_CMD_OPEN : LL_CMD_DEPOSIT, &id, k == 0 ? 0 : k, "EUR");
        if (fx_run(&w, &a, &c, &d) != LL_REJECT_NONE) abort();
        events[k] = d.events[0];
    }
    return n;
}

typedef struct {
    size_t events, pages, heads;
    ll_rm_account_t after;
} plan_t;

/* Plans events [from, to) on top of *before. */
static int plan(const ll_rm_account_t *before, int from, int to, plan_t *out) {
    ll_rm_writes_t *w = ll_rm_writes_new();
    ll_error_t err = {""};
    int rc = ll_rm_writes_add(w, before, NULL, &events[from], (size_t)(to - from), &out->after, 0, &err);
    ll_rm_writes_counts(w, &out->events, &out->pages, &out->heads);
    ll_rm_writes_free(w);
    return rc;
}

static ll_rm_account_t empty(void) {
    ll_rm_account_t a;
    memset(&a, 0, sizeof a);
    ll_account_init(&a.state, &events[0].account_id);
    return a;
}

LL_TEST(test_a_new_account_writes_its_document_and_its_events_but_not_the_opening) {
    stream(5);
    ll_rm_account_t none = empty();
    plan_t p;
    LL_REQUIRE(plan(&none, 0, 5, &p) == 0);
    LL_CHECK_EQ_INT(p.events, 4); /* versions 2..5; AccountOpened is the account document */
    LL_CHECK_EQ_INT(p.pages, 0);
    LL_CHECK_EQ_INT(p.heads, 1);
    LL_CHECK_EQ_INT(p.after.state.version, 5);
    LL_CHECK_EQ_INT(p.after.head_version, 1); /* page 0 open: the document holds the opening */
    LL_CHECK_EQ_INT(p.after.head_page, 0);
}

LL_TEST(test_within_a_page_only_events_are_written) {
    stream(12);
    ll_rm_account_t none = empty();
    plan_t first, second;
    LL_REQUIRE(plan(&none, 0, 5, &first) == 0);
    LL_REQUIRE(plan(&first.after, 5, 12, &second) == 0);
    LL_CHECK_EQ_INT(second.events, 7);
    LL_CHECK_EQ_INT(second.pages + second.heads, 0); /* the account document stays at version 1 */
    LL_CHECK_EQ_INT(second.after.head_version, 1);
    LL_CHECK_EQ_INT(second.after.state.version, 12);
}

LL_TEST(test_completing_a_page_seals_it_and_moves_the_account_document) {
    stream(P + 3);
    ll_rm_account_t none = empty();
    plan_t first, second;
    LL_REQUIRE(plan(&none, 0, 10, &first) == 0);
    LL_REQUIRE(plan(&first.after, 10, P + 3, &second) == 0); /* versions 11 .. P+3 */
    LL_CHECK_EQ_INT(second.pages, 1);
    LL_CHECK_EQ_INT(second.events, 4); /* versions P .. P+3: the new open page */
    LL_CHECK_EQ_INT(second.heads, 1);
    LL_CHECK_EQ_INT(second.after.head_page, 1);
    LL_CHECK_EQ_INT(second.after.head_version, P - 1); /* the last version of the page sealed */
}

LL_TEST(test_a_batch_ending_on_a_page_boundary_leaves_no_events) {
    stream(P);
    ll_rm_account_t none = empty();
    plan_t p;
    LL_REQUIRE(plan(&none, 0, P - 1, &p) == 0); /* versions 1 .. P-1: page 0 complete */
    LL_CHECK_EQ_INT(p.pages, 1);
    LL_CHECK_EQ_INT(p.events, 0);
    LL_CHECK_EQ_INT(p.after.head_page, 1);
}

LL_TEST(test_a_backlog_seals_every_page_it_completes) {
    stream(3 * P + 5);
    ll_rm_account_t none = empty();
    plan_t p;
    LL_REQUIRE(plan(&none, 0, 3 * P + 5, &p) == 0);
    LL_CHECK_EQ_INT(p.pages, 3);
    LL_CHECK_EQ_INT(p.events, 6); /* versions 3P .. 3P+5 */
    LL_CHECK_EQ_INT(p.heads, 1);
}

/* A writer stopped after its events, before the page sealed: the next writes seal it. */
LL_TEST(test_a_complete_page_left_unsealed_is_sealed_by_the_next_writes) {
    stream(P + 5);
    ll_rm_account_t none = empty(), behind;
    plan_t p;
    LL_REQUIRE(plan(&none, 0, 3, &p) == 0);
    behind = p.after;
    ll_account_t a = p.after.state;
    ll_error_t err = {""};
    for (int i = 3; i < P + 2; i++) LL_REQUIRE(ll_account_evolve(&a, &events[i], &err) == LL_EVOLVE_OK);
    behind.state = a; /* at version P+2: page 0 complete, the account document still on page 0 */
    LL_REQUIRE(plan(&behind, P + 2, P + 5, &p) == 0);
    LL_CHECK_EQ_INT(p.pages, 1);
    LL_CHECK_EQ_INT(p.heads, 1);
    LL_CHECK_EQ_INT(p.after.head_page, 1);
    /* The state at P-1 is not in hand: the document takes the newest. */
    LL_CHECK_EQ_INT(p.after.head_version, P + 5);
}

/* Where the account document stands depends on the versions alone, not on how the events were
 * batched: any writer, in any batches, writes the same documents. */
LL_TEST(test_the_account_document_stands_where_the_version_says_whatever_the_batches) {
    int n = stream(3 * P + 5);
    ll_rm_account_t none = empty();
    for (int split = 1; split < n; split++) {
        plan_t first, second;
        LL_REQUIRE(plan(&none, 0, split, &first) == 0);
        LL_REQUIRE(plan(&first.after, split, n, &second) == 0);
        LL_CHECK_EQ_INT(first.after.head_version, ll_rm_head_version(split));
        LL_CHECK_EQ_INT(first.after.head_page, ll_rm_open_page(split));
        LL_CHECK_EQ_INT(second.after.head_version, ll_rm_head_version(n));
        LL_CHECK_EQ_INT(second.after.head_page, ll_rm_open_page(n));
    }
    LL_CHECK_EQ_INT(ll_rm_head_version(1), 1);
    LL_CHECK_EQ_INT(ll_rm_head_version(P - 2), 1);
    LL_CHECK_EQ_INT(ll_rm_head_version(P - 1), P - 1);
    LL_CHECK_EQ_INT(ll_rm_head_version(2 * P - 2), P - 1);
    LL_CHECK_EQ_INT(ll_rm_head_version(2 * P - 1), 2 * P - 1);
}

LL_TEST(test_events_that_do_not_follow_plan_nothing) {
    stream(6);
    ll_rm_account_t none = empty();
    plan_t p;
    LL_CHECK_EQ_INT(plan(&none, 2, 6, &p), LL_EINVAL); /* a gap: never written */
    LL_CHECK_EQ_INT(p.events + p.pages + p.heads, 0);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_a_new_account_writes_its_document_and_its_events_but_not_the_opening),
        LL_CASE(test_within_a_page_only_events_are_written),
        LL_CASE(test_completing_a_page_seals_it_and_moves_the_account_document),
        LL_CASE(test_a_batch_ending_on_a_page_boundary_leaves_no_events),
        LL_CASE(test_a_backlog_seals_every_page_it_completes),
        LL_CASE(test_a_complete_page_left_unsealed_is_sealed_by_the_next_writes),
        LL_CASE(test_the_account_document_stands_where_the_version_says_whatever_the_batches),
        LL_CASE(test_events_that_do_not_follow_plan_nothing),
    };
    return ll_test_main(argc, argv, "read_model_writes", cases, LL_CASES(cases));
}
