/* Unit tests of lib/ll_client_addr: the client's address behind trusted proxies, and only
 * behind them. */
#include "ll_client_addr.h"
#include "ll_test.h"

static void client(ll_test_ctx_t *t, const ll_trusted_proxies_t *p, const char *peer, const char *xff,
                   const char *want) {
    char out[LL_CLIENT_ADDR_BYTES];
    ll_client_addr(p, peer, xff, out, sizeof out);
    LL_CHECK_EQ_STR(out, want);
}

LL_TEST(test_parse_addresses_and_ranges) {
    ll_trusted_proxies_t p;
    ll_error_t err = {""};
    LL_CHECK_EQ_INT(ll_trusted_proxies_parse("", &p, &err), 0);
    LL_CHECK_EQ_INT((int)p.n, 0);
    LL_CHECK_EQ_INT(ll_trusted_proxies_parse(" 10.0.0.1 , 10.1.0.0/16,fd00::/8, ::1", &p, &err), 0);
    LL_CHECK_EQ_INT((int)p.n, 4);
    LL_CHECK(ll_trusted_proxies_contains(&p, "10.0.0.1"));
    LL_CHECK(!ll_trusted_proxies_contains(&p, "10.0.0.2"));
    LL_CHECK(ll_trusted_proxies_contains(&p, "10.1.255.3"));
    LL_CHECK(!ll_trusted_proxies_contains(&p, "10.2.0.1"));
    LL_CHECK(ll_trusted_proxies_contains(&p, "fd12:3456::1"));
    LL_CHECK(ll_trusted_proxies_contains(&p, "::1"));
    LL_CHECK(!ll_trusted_proxies_contains(&p, "2001:db8::1"));
    LL_CHECK(!ll_trusted_proxies_contains(&p, "not an address"));
    static const char *const bad[] = {"10.0.0.256", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/8x", "proxy.local",
                                      "::1/129"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        LL_CHECK_EQ_INT(ll_trusted_proxies_parse(bad[i], &p, &err), LL_EINVAL);
        LL_CHECK_CONTAINS(err.msg, "trusted_proxies");
    }
}

LL_TEST(test_the_header_counts_only_from_a_trusted_peer) {
    ll_trusted_proxies_t p;
    ll_error_t err = {""};
    LL_REQUIRE(ll_trusted_proxies_parse("127.0.0.1, 10.0.0.0/8", &p, &err) == 0);
    client(t, &p, "203.0.113.9", "198.51.100.1", "203.0.113.9"); /* not a proxy: its header is a lie */
    client(t, &p, "127.0.0.1", NULL, "127.0.0.1");
    client(t, &p, "127.0.0.1", "198.51.100.1", "198.51.100.1");
    /* A client's own X-Forwarded-For is to the left of what the proxies appended. */
    client(t, &p, "127.0.0.1", "1.2.3.4, 198.51.100.1, 10.0.0.7", "198.51.100.1");
    client(t, &p, "127.0.0.1", "10.0.0.8,10.0.0.7", "10.0.0.8"); /* all proxies: the leftmost */
    client(t, &p, "127.0.0.1", "garbage, 198.51.100.1", "198.51.100.1");
    client(t, &p, "127.0.0.1", "198.51.100.1, garbage", "127.0.0.1"); /* the proxy's own entry is bad */
    client(t, &p, "127.0.0.1", "2001:db8::5", "2001:db8::5");
    ll_trusted_proxies_t none;
    LL_REQUIRE(ll_trusted_proxies_parse("", &none, &err) == 0);
    client(t, &none, "127.0.0.1", "198.51.100.1", "127.0.0.1"); /* none configured: never read */
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {LL_CASE(test_parse_addresses_and_ranges),
                                           LL_CASE(test_the_header_counts_only_from_a_trusted_peer)};
    return ll_test_main(argc, argv, "client_addr", cases, LL_CASES(cases));
}
