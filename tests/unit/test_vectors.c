/* Golden vectors: tests/vectors/events.jsonl holds the canonical envelopes (with hashes) of a
 * fixed history. This build must produce exactly those bytes, decode them back to the same
 * events, and verify both chains. Another language's implementation checks the same file
 * (tests/vectors/check_vectors.py does so in Python).
 *
 * LL_UPDATE_VECTORS=1 rewrites the file; do that only for an intended change of the canonical
 * form or the envelope, with the reason in the commit. */
#include "domain_fixture.h"
#include "ll_event_codec.h"
#include "ll_test.h"

#include <stdlib.h>
#include <string.h>

#define VECTORS "tests/vectors/events.jsonl"

static size_t encode_all(ll_event_t *events, size_t n, char lines[8][LL_EVENT_JSON_BYTES_MAX], size_t *lens) {
    for (size_t i = 0; i < n; i++)
        if (ll_event_encode(&events[i], true, lines[i], LL_EVENT_JSON_BYTES_MAX, &lens[i], NULL) != 0)
            abort();
    return n;
}

LL_TEST(test_build_reproduces_the_golden_file) {
    ll_event_t events[8];
    size_t n = fx_all_types(events);
    static char lines[8][LL_EVENT_JSON_BYTES_MAX];
    size_t lens[8];
    encode_all(events, n, lines, lens);
    if (getenv("LL_UPDATE_VECTORS") != NULL) {
        FILE *f = fopen(VECTORS, "w");
        LL_REQUIRE(f != NULL);
        for (size_t i = 0; i < n; i++) fprintf(f, "%.*s\n", (int)lens[i], lines[i]);
        LL_CHECK(fclose(f) == 0);
    }
    FILE *f = fopen(VECTORS, "r");
    if (f == NULL) {
        LL_FAIL_AT("cannot open %s (run from the repository root)", VECTORS);
        return;
    }
    static char line[LL_EVENT_JSON_BYTES_MAX + 2];
    size_t i = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        size_t len = strcspn(line, "\n");
        if (i >= n) {
            LL_FAIL_AT("golden file has more than %zu lines", n);
            break;
        }
        if (len != lens[i] || memcmp(line, lines[i], len) != 0)
            LL_FAIL_AT("line %zu differs:\n    file:  %.*s\n    build: %.*s", i + 1, (int)len, line,
                       (int)lens[i], lines[i]);
        ll_event_t back;
        ll_error_t err = {""};
        if (ll_event_decode(line, len, &back, &err) != 0)
            LL_FAIL_AT("line %zu: %s", i + 1, err.msg);
        else
            LL_CHECK(memcmp(&back, &events[i], sizeof back) == 0);
        i++;
    }
    fclose(f);
    LL_CHECK_EQ_INT(i, n);
}

LL_TEST(test_golden_chains_verify_per_account) {
    ll_event_t events[8];
    size_t n = fx_all_types(events);
    static char lines[8][LL_EVENT_JSON_BYTES_MAX];
    size_t lens[8];
    encode_all(events, n, lines, lens);
    for (int acct = 1; acct <= 2; acct++) {
        ll_uuid_t id = fx_uuid((uint64_t)acct);
        const char *ptrs[8];
        size_t plens[8], k = 0;
        for (size_t i = 0; i < n; i++)
            if (ll_uuid_equal(&events[i].account_id, &id)) ptrs[k] = lines[i], plens[k++] = lens[i];
        ll_chain_result_t res;
        LL_REQUIRE(ll_chain_verify(ptrs, plens, k, &res, NULL) == 0);
        LL_CHECK(res.ok);
        LL_CHECK_EQ_INT(res.events_checked, acct == 1 ? 5 : 2);
    }
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_build_reproduces_the_golden_file),
        LL_CASE(test_golden_chains_verify_per_account),
    };
    return ll_test_main(argc, argv, "vectors", cases, LL_CASES(cases));
}
