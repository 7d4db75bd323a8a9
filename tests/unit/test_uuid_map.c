/* Unit tests of lib/ll_uuid_map: find/insert/remove against a plain array as the model, growth,
 * removal inside runs (backward shift), sizing without growth, walking, the nil id. */
#include "ll_test.h"
#include "ll_uuid_map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static ll_uuid_t id_of(uint64_t n) {
    ll_uuid_t u;
    memset(&u, 0, sizeof u);
    /* time-ordered ids share their first bytes: the same shape as the ledger's */
    memcpy(u.bytes, "\x01\x90\xf0\xc2\x00\x00\x70\x00", 8);
    memcpy(u.bytes + 8, &n, sizeof n);
    return u;
}

LL_TEST(test_insert_find_remove) {
    ll_uuid_map_t m;
    LL_REQUIRE(ll_uuid_map_init(&m, sizeof(int64_t), 0) == 0);
    ll_uuid_t a = id_of(1), b = id_of(2);
    LL_CHECK(ll_uuid_map_find(&m, &a) == NULL);
    LL_CHECK(ll_uuid_map_remove(&m, &a) == 0);
    int added = -1;
    int64_t *va = ll_uuid_map_insert(&m, &a, &added);
    LL_REQUIRE(va != NULL);
    LL_CHECK_EQ_INT(added, 1);
    LL_CHECK_EQ_INT(*va, 0); /* zeroed */
    *va = 42;
    LL_CHECK(((uintptr_t)va & 7) == 0);
    LL_CHECK_EQ_INT(m.stride, 24);
    int64_t *again = ll_uuid_map_insert(&m, &a, &added);
    LL_CHECK_EQ_INT(added, 0);
    LL_CHECK_EQ_INT(*again, 42);
    LL_CHECK(ll_uuid_map_find(&m, &b) == NULL);
    LL_CHECK_EQ_INT(*(int64_t *)ll_uuid_map_find(&m, &a), 42);
    LL_CHECK_EQ_INT(ll_uuid_map_count(&m), 1);
    LL_CHECK(ll_uuid_map_remove(&m, &a) == 1);
    LL_CHECK(ll_uuid_map_find(&m, &a) == NULL);
    LL_CHECK_EQ_INT(ll_uuid_map_count(&m), 0);
    ll_uuid_map_free(&m);
}

/* Random inserts and removes, every answer checked against an array of what should be there. */
LL_TEST(test_against_a_model) {
    enum { KEYS = 5000, OPS = 200000 };
    ll_uuid_map_t m;
    LL_REQUIRE(ll_uuid_map_init(&m, sizeof(uint32_t), 0) == 0);
    LL_CHECK_EQ_INT(m.stride, 20);                 /* a 4-byte value keeps 4-byte alignment, no more */
    uint32_t *model = calloc(KEYS, sizeof *model); /* 0: absent, else value */
    LL_REQUIRE(model != NULL);
    size_t present = 0;
    uint64_t seed = 88172645463325252ULL;
    for (int op = 0; op < OPS; op++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        uint32_t k = (uint32_t)(seed % KEYS);
        ll_uuid_t id = id_of(k);
        if ((seed >> 32) % 3 == 0) {
            LL_CHECK_EQ_INT(ll_uuid_map_remove(&m, &id), model[k] != 0);
            present -= model[k] != 0;
            model[k] = 0;
        } else {
            int added;
            uint32_t *v = ll_uuid_map_insert(&m, &id, &added);
            LL_REQUIRE(v != NULL);
            LL_CHECK_EQ_INT(added, model[k] == 0);
            if (!added) LL_CHECK_EQ_INT(*v, model[k]);
            present += model[k] == 0;
            *v = model[k] = (uint32_t)op + 1;
        }
    }
    LL_CHECK_EQ_INT(ll_uuid_map_count(&m), present);
    for (uint32_t k = 0; k < KEYS; k++) {
        ll_uuid_t id = id_of(k);
        uint32_t *v = ll_uuid_map_find(&m, &id);
        LL_CHECK((v != NULL) == (model[k] != 0));
        if (v != NULL) LL_CHECK_EQ_INT(*v, model[k]);
    }
    size_t walked = 0;
    const ll_uuid_t *key;
    void *value;
    for (size_t at = 0; ll_uuid_map_next(&m, &at, &key, &value);) {
        uint64_t k;
        memcpy(&k, key->bytes + 8, sizeof k);
        LL_REQUIRE(k < KEYS);
        LL_CHECK_EQ_INT(*(uint32_t *)value, model[k]);
        walked++;
    }
    LL_CHECK_EQ_INT(walked, present);
    free(model);
    ll_uuid_map_free(&m);
}

/* Sized for n: n inserts keep the same table (value pointers stay put). */
LL_TEST(test_expected_never_grows) {
    enum { N = 2000 };
    ll_uuid_map_t m;
    LL_REQUIRE(ll_uuid_map_init(&m, sizeof(int), N) == 0);
    size_t cap = m.cap;
    ll_uuid_t first = id_of(0);
    int *v0 = ll_uuid_map_insert(&m, &first, NULL);
    LL_REQUIRE(v0 != NULL);
    *v0 = 7;
    for (uint64_t i = 1; i < N; i++) {
        ll_uuid_t id = id_of(i);
        LL_REQUIRE(ll_uuid_map_insert(&m, &id, NULL) != NULL);
    }
    LL_CHECK_EQ_INT(m.cap, cap);
    LL_CHECK(ll_uuid_map_find(&m, &first) == v0);
    ll_uuid_map_clear(&m);
    LL_CHECK_EQ_INT(ll_uuid_map_count(&m), 0);
    LL_CHECK(ll_uuid_map_find(&m, &first) == NULL);
    LL_CHECK_EQ_INT(m.cap, cap);
    ll_uuid_map_free(&m);
}

/* Many keys with the same home slot: one long run; removing from its middle keeps the rest found. */
LL_TEST(test_removal_inside_a_run) {
    ll_uuid_map_t m;
    LL_REQUIRE(ll_uuid_map_init(&m, sizeof(void *), 64) == 0);
    ll_uuid_t ids[40];
    size_t n = 0;
    uint64_t home = UINT64_MAX;
    for (uint64_t k = 0; n < 40 && k < 1000000; k++) {
        ll_uuid_t id = id_of(k);
        uint64_t h = ll_uuid_hash(&id) >> m.shift;
        if (home == UINT64_MAX) home = h;
        if (h == home || h == ((home + 1) & (m.cap - 1))) ids[n++] = id;
    }
    LL_REQUIRE(n == 40);
    for (size_t i = 0; i < 40; i++) *(void **)ll_uuid_map_insert(&m, &ids[i], NULL) = &ids[i];
    for (size_t i = 0; i < 40; i += 3) LL_CHECK(ll_uuid_map_remove(&m, &ids[i]) == 1);
    for (size_t i = 0; i < 40; i++) {
        void **v = ll_uuid_map_find(&m, &ids[i]);
        if (i % 3 == 0)
            LL_CHECK(v == NULL);
        else
            LL_CHECK(v != NULL && *v == &ids[i]);
    }
    ll_uuid_map_free(&m);
}

/* The nil id (all zero, the mark of an empty slot) is a key like any other. */
LL_TEST(test_nil_id_is_a_key) {
    ll_uuid_map_t m;
    LL_REQUIRE(ll_uuid_map_init(&m, sizeof(int), 0) == 0);
    ll_uuid_t nil, one = id_of(1);
    memset(&nil, 0, sizeof nil);
    LL_CHECK(ll_uuid_map_find(&m, &nil) == NULL);
    int added;
    LL_REQUIRE(ll_uuid_map_insert(&m, &nil, &added) != NULL); /* alone: the table is not made yet */
    LL_CHECK(ll_uuid_map_find(&m, &one) == NULL);
    LL_CHECK(ll_uuid_map_remove(&m, &one) == 0);
    LL_CHECK(ll_uuid_map_remove(&m, &nil) == 1);
    int *v = ll_uuid_map_insert(&m, &nil, &added);
    LL_REQUIRE(v != NULL);
    LL_CHECK_EQ_INT(added, 1);
    *v = 5;
    LL_REQUIRE(ll_uuid_map_insert(&m, &one, NULL) != NULL);
    LL_CHECK_EQ_INT(ll_uuid_map_count(&m), 2);
    LL_CHECK_EQ_INT(*(int *)ll_uuid_map_find(&m, &nil), 5);
    size_t walked = 0, nils = 0;
    const ll_uuid_t *key;
    for (size_t at = 0; ll_uuid_map_next(&m, &at, &key, NULL);) walked++, nils += ll_uuid_is_nil(key);
    LL_CHECK_EQ_INT(walked, 2);
    LL_CHECK_EQ_INT(nils, 1);
    LL_CHECK(ll_uuid_map_remove(&m, &nil) == 1);
    LL_CHECK(ll_uuid_map_find(&m, &nil) == NULL);
    LL_CHECK(ll_uuid_map_find(&m, &one) != NULL);
    v = ll_uuid_map_insert(&m, &nil, &added);
    LL_CHECK(v != NULL && added == 1 && *v == 0);
    ll_uuid_map_free(&m);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_insert_find_remove),   LL_CASE(test_against_a_model), LL_CASE(test_expected_never_grows),
        LL_CASE(test_removal_inside_a_run), LL_CASE(test_nil_id_is_a_key),
    };
    return ll_test_main(argc, argv, "uuid_map", cases, LL_CASES(cases));
}
