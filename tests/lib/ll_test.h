/* ll_test.h - a tiny test framework: register cases in a table, run them, print a summary.
 *
 *   LL_TEST(test_adds) { LL_CHECK(1 + 1 == 2); LL_REQUIRE(p != NULL); LL_CHECK_EQ_INT(a, b); }
 *   int main(int argc, char **argv) {
 *       static const ll_test_case_t cases[] = { LL_CASE(test_adds) };
 *       return ll_test_main(argc, argv, "config", cases, LL_CASES(cases));
 *   }
 *
 * LL_CHECK records a failure and goes on; LL_REQUIRE returns from the test. Each binary ends with
 * the line "SUITE: N passed, N failed" (tests/run.sh adds them up) and exits 1 on any failure.
 * An optional argument runs only the cases whose name contains it.
 */
#ifndef LL_TEST_H
#define LL_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef struct ll_test_ctx {
    const char *name;
    int failures;
} ll_test_ctx_t;

typedef struct ll_test_case {
    const char *name;
    void (*fn)(ll_test_ctx_t *t);
} ll_test_case_t;

#define LL_TEST(name) static void name(ll_test_ctx_t *t)
#define LL_CASE(fn)                                                                                          \
    { #fn, fn }
#define LL_CASES(arr) (sizeof(arr) / sizeof((arr)[0]))

#define LL_FAIL_AT(...)                                                                                      \
    do {                                                                                                     \
        t->failures++;                                                                                       \
        fprintf(stderr, "  FAIL %s (%s:%d): ", t->name, __FILE__, __LINE__);                                 \
        fprintf(stderr, __VA_ARGS__);                                                                        \
        fputc('\n', stderr);                                                                                 \
    } while (0)

#define LL_CHECK(cond)                                                                                       \
    do {                                                                                                     \
        if (!(cond)) LL_FAIL_AT("%s", #cond);                                                                \
    } while (0)
#define LL_REQUIRE(cond)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            LL_FAIL_AT("%s", #cond);                                                                         \
            return;                                                                                          \
        }                                                                                                    \
    } while (0)
#define LL_CHECK_EQ_INT(a, b)                                                                                \
    do {                                                                                                     \
        intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);                                                     \
        if (a_ != b_) LL_FAIL_AT("%s == %s (%jd != %jd)", #a, #b, a_, b_);                                   \
    } while (0)
#define LL_CHECK_EQ_STR(a, b)                                                                                \
    do {                                                                                                     \
        const char *a_ = (a), *b_ = (b);                                                                     \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                                                 \
            LL_FAIL_AT("%s == %s (\"%s\" != \"%s\")", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");       \
    } while (0)
#define LL_CHECK_CONTAINS(hay, needle)                                                                       \
    do {                                                                                                     \
        const char *h_ = (hay), *n_ = (needle);                                                              \
        if (h_ == NULL || strstr(h_, n_) == NULL)                                                            \
            LL_FAIL_AT("\"%s\" contains \"%s\"", h_ ? h_ : "(null)", n_);                                    \
    } while (0)

static inline int ll_test_main(int argc, char **argv, const char *suite, const ll_test_case_t *cases,
                               size_t n) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (filter != NULL && strstr(cases[i].name, filter) == NULL) continue;
        ll_test_ctx_t ctx = {cases[i].name, 0};
        cases[i].fn(&ctx);
        if (ctx.failures == 0) {
            passed++;
            printf("  ok   %s\n", cases[i].name);
        } else {
            failed++;
            printf("  FAIL %s\n", cases[i].name);
        }
        fflush(stdout);
    }
    printf("%s: %d passed, %d failed\n", suite, passed, failed);
    return failed == 0 ? 0 : 1;
}

#endif
