/* Unit tests of lib/ll_config: defaults, file, env precedence, and that every error names its key. */
#include "ll_config.h"
#include "ll_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes text to a fresh temporary file; the caller unlinks path. */
static int write_temp(char path[64], const char *text) {
    snprintf(path, 64, "/tmp/ll_config_test_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    size_t len = strlen(text);
    int ok = write(fd, text, len) == (ssize_t)len;
    close(fd);
    return ok ? 0 : -1;
}

LL_TEST(test_defaults_point_at_local_stack) {
    ll_config_t cfg;
    ll_config_init(&cfg);
    LL_CHECK_CONTAINS(cfg.pg_conninfo, "port=55432");
    LL_CHECK_EQ_STR(cfg.kafka_bootstrap_servers, "127.0.0.1:59092");
    LL_CHECK_EQ_STR(cfg.kafka_topic_events, "ledgerline.account-events");
    LL_CHECK_CONTAINS(cfg.mongo_uri, "127.0.0.1:57017");
    LL_CHECK_EQ_STR(cfg.command_listen, "127.0.0.1:8080");
    LL_CHECK_EQ_STR(cfg.query_listen, "127.0.0.1:8081");
    LL_CHECK_EQ_INT(cfg.body_bytes_max, LL_BODY_BYTES_MAX_DEFAULT);
    LL_CHECK_EQ_STR(cfg.jwt_secret, "");
}

LL_TEST(test_file_sets_keys_and_skips_comments) {
    char path[64];
    LL_REQUIRE(write_temp(path, "# comment\n\n  query_listen =  0.0.0.0:9000  \nbody_bytes_max=2048\n"
                                "kafka_bootstrap_servers = a:1,b.example:2,[::1]:3\n") == 0);
    ll_config_t cfg;
    ll_error_t err = {""};
    ll_config_init(&cfg);
    int rc = ll_config_load_file(&cfg, path, &err);
    unlink(path);
    LL_CHECK_EQ_INT(rc, 0);
    LL_CHECK_EQ_STR(err.msg, "");
    LL_CHECK_EQ_STR(cfg.query_listen, "0.0.0.0:9000");
    LL_CHECK_EQ_INT(cfg.body_bytes_max, 2048);
    LL_CHECK_EQ_STR(cfg.kafka_bootstrap_servers, "a:1,b.example:2,[::1]:3");
}

LL_TEST(test_env_overrides_file) {
    char path[64];
    LL_REQUIRE(write_temp(path, "mongo_database = from_file\nlog_level = debug\n") == 0);
    char env_file[128];
    snprintf(env_file, sizeof env_file, "LEDGERLINE_CONFIG=%s", path);
    char *envp[] = {"PATH=/bin", env_file, "LEDGERLINE_MONGO_DATABASE=from_env", NULL};
    ll_config_t cfg;
    ll_error_t err = {""};
    int rc = ll_config_load(&cfg, NULL, envp, &err);
    unlink(path);
    LL_CHECK_EQ_INT(rc, 0);
    LL_CHECK_EQ_STR(cfg.mongo_database, "from_env");
    LL_CHECK_EQ_STR(cfg.log_level, "debug");
}

LL_TEST(test_explicit_missing_file_is_an_error) {
    ll_config_t cfg;
    ll_error_t err = {""};
    char *envp[] = {NULL};
    LL_CHECK_EQ_INT(ll_config_load(&cfg, "/nonexistent/ledgerline.conf", envp, &err), LL_EIO);
    LL_CHECK_CONTAINS(err.msg, "/nonexistent/ledgerline.conf");
}

LL_TEST(test_unknown_file_key_names_key_and_line) {
    char path[64];
    LL_REQUIRE(write_temp(path, "query_listen = 127.0.0.1:1\nquery_lisen = x\n") == 0);
    ll_config_t cfg;
    ll_error_t err = {""};
    ll_config_init(&cfg);
    int rc = ll_config_load_file(&cfg, path, &err);
    unlink(path);
    LL_CHECK_EQ_INT(rc, LL_ENOENT);
    LL_CHECK_CONTAINS(err.msg, ":2: unknown setting \"query_lisen\"");
}

LL_TEST(test_duplicate_and_malformed_lines) {
    const char *bodies[] = {"log_level = info\nlog_level = warn\n", "just words\n"};
    const char *expect[] = {"log_level: set twice", "expected \"key = value\""};
    for (size_t i = 0; i < 2; i++) {
        char path[64];
        LL_REQUIRE(write_temp(path, bodies[i]) == 0);
        ll_config_t cfg;
        ll_error_t err = {""};
        ll_config_init(&cfg);
        LL_CHECK(ll_config_load_file(&cfg, path, &err) == LL_EINVAL);
        unlink(path);
        LL_CHECK_CONTAINS(err.msg, expect[i]);
    }
}

LL_TEST(test_unknown_env_setting_is_an_error) {
    char *envp[] = {"LEDGERLINE_QUERY_LISTN=127.0.0.1:1", NULL};
    ll_config_t cfg;
    ll_error_t err = {""};
    ll_config_init(&cfg);
    LL_CHECK_EQ_INT(ll_config_apply_env(&cfg, envp, &err), LL_ENOENT);
    LL_CHECK_CONTAINS(err.msg, "LEDGERLINE_QUERY_LISTN");
}

LL_TEST(test_bad_values_name_the_key_and_leave_config_unchanged) {
    struct {
        const char *key, *value, *expect;
    } cases[] = {
        {"body_bytes_max", "12k", "body_bytes_max: expected an integer in 1024..1048576"},
        {"body_bytes_max", "", "body_bytes_max: expected an integer"},
        {"body_bytes_max", "99999999999999999999", "body_bytes_max: expected an integer"},
        {"body_bytes_max", "1023", "body_bytes_max: expected an integer"},
        {"body_bytes_max", " 2048", "body_bytes_max: expected an integer"},
        {"request_timeout_ms", "-5", "request_timeout_ms: expected an integer"},
        {"query_listen", "127.0.0.1", "query_listen: expected HOST:PORT"},
        {"query_listen", "127.0.0.1:0", "query_listen: expected HOST:PORT"},
        {"query_listen", "127.0.0.1:65536", "query_listen: expected HOST:PORT"},
        {"query_listen", ":8080", "query_listen: expected HOST:PORT"},
        {"query_listen", "ho st:1", "query_listen: expected HOST:PORT"},
        {"kafka_bootstrap_servers", "a:1,,b:2", "kafka_bootstrap_servers: expected HOST:PORT[,"},
        {"kafka_topic_events", "bad topic", "kafka_topic_events: expected a name"},
        {"mongo_database", "", "mongo_database: expected a name"},
        {"log_level", "verbose", "log_level: expected one of debug"},
        {"jwt_secret", "short", "jwt_secret: a secret must be at least 32 bytes"},
        {"pg_conninfo", "", "pg_conninfo: expected a non-empty value"},
        {"pg_conninfo", "host=x\tpassword=y", "pg_conninfo: value contains control characters"},
    };
    for (size_t i = 0; i < LL_CASES(cases); i++) {
        ll_config_t cfg, before;
        ll_error_t err = {""};
        ll_config_init(&cfg);
        before = cfg;
        int rc = ll_config_set(&cfg, cases[i].key, cases[i].value, "test", &err);
        LL_CHECK_EQ_INT(rc, LL_EINVAL);
        LL_CHECK_CONTAINS(err.msg, cases[i].expect);
        LL_CHECK(memcmp(&cfg, &before, sizeof cfg) == 0);
    }
}

LL_TEST(test_overlong_value_is_rejected) {
    char big[LL_CONFIG_VALUE_BYTES_MAX + 10];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ll_config_t cfg;
    ll_error_t err = {""};
    ll_config_init(&cfg);
    LL_CHECK_EQ_INT(ll_config_set(&cfg, "mongo_uri", big, "test", &err), LL_EINVAL);
    LL_CHECK_CONTAINS(err.msg, "mongo_uri: value longer than");
}

LL_TEST(test_errors_never_echo_secrets) {
    ll_config_t cfg;
    ll_error_t err = {""};
    ll_config_init(&cfg);
    LL_CHECK(ll_config_set(&cfg, "jwt_secret", "tooshort-secret", "test", &err) != 0);
    LL_CHECK(strstr(err.msg, "tooshort-secret") == NULL);
}

LL_TEST(test_print_redacts_secrets) {
    ll_config_t cfg;
    ll_config_init(&cfg);
    LL_REQUIRE(ll_config_set(&cfg, "jwt_secret", "0123456789abcdef0123456789abcdef-topsecret", "t", NULL) ==
               0);
    LL_REQUIRE(ll_config_set(&cfg, "mongo_uri", "mongodb://user:hunter2@db:27017/?x=1", "t", NULL) == 0);
    LL_REQUIRE(ll_config_set(&cfg, "pg_conninfo", "host=db password=pgsecret user=u", "t", NULL) == 0);
    char buf[8192] = {0};
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    LL_REQUIRE(f != NULL);
    ll_config_print(&cfg, f);
    fclose(f);
    LL_CHECK(strstr(buf, "topsecret") == NULL);
    LL_CHECK(strstr(buf, "hunter2") == NULL);
    LL_CHECK(strstr(buf, "pgsecret") == NULL);
    LL_CHECK_CONTAINS(buf, "jwt_secret = ***\n");
    LL_CHECK_CONTAINS(buf, "mongo_uri = mongodb://user:***@db:27017/?x=1\n");
    LL_CHECK_CONTAINS(buf, "pg_conninfo = host=db password=*** user=u\n");
    LL_CHECK_CONTAINS(buf, "body_bytes_max = 16384\n");
}

/* The forms libpq and MongoDB accept that a naive search for "password=" or the first '@'
 * gets wrong: none may leak a byte of the secret. */
LL_TEST(test_print_redacts_every_password_form) {
    static const struct {
        const char *key, *value, *want;
    } cases[] = {
        {"pg_conninfo", "host=db password='s3c r3t' user=u", "pg_conninfo = host=db password=*** user=u\n"},
        {"pg_conninfo", "host=db password = 'it\\'s s3cr3t' user=u", "pg_conninfo = host=db password = *** user=u\n"},
        {"pg_conninfo", "postgresql://u:s3cr3t@db:5432/ledgerline?sslmode=require",
         "pg_conninfo = postgresql://u:***@db:5432/ledgerline?sslmode=require\n"},
        {"pg_conninfo", "postgres://u@db/ledgerline?password=s3cr3t&sslmode=require",
         "pg_conninfo = postgres://u@db/ledgerline?password=***&sslmode=require\n"},
        {"mongo_uri", "mongodb://user:s3c@r3t@db:27017/?x=1", "mongo_uri = mongodb://user:***@db:27017/?x=1\n"},
        {"mongo_uri", "mongodb://db:27017/?authSource=admin&password=s3cr3t",
         "mongo_uri = mongodb://db:27017/?authSource=admin&password=***\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ll_config_t cfg;
        ll_config_init(&cfg);
        LL_REQUIRE(ll_config_set(&cfg, cases[i].key, cases[i].value, "t", NULL) == 0);
        char buf[8192] = {0};
        FILE *f = fmemopen(buf, sizeof buf - 1, "w");
        LL_REQUIRE(f != NULL);
        ll_config_print(&cfg, f);
        fclose(f);
        LL_CHECK(strstr(buf, "s3c") == NULL && strstr(buf, "r3t") == NULL);
        LL_CHECK_CONTAINS(buf, cases[i].want);
    }
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_defaults_point_at_local_stack),
        LL_CASE(test_file_sets_keys_and_skips_comments),
        LL_CASE(test_env_overrides_file),
        LL_CASE(test_explicit_missing_file_is_an_error),
        LL_CASE(test_unknown_file_key_names_key_and_line),
        LL_CASE(test_duplicate_and_malformed_lines),
        LL_CASE(test_unknown_env_setting_is_an_error),
        LL_CASE(test_bad_values_name_the_key_and_leave_config_unchanged),
        LL_CASE(test_overlong_value_is_rejected),
        LL_CASE(test_errors_never_echo_secrets),
        LL_CASE(test_print_redacts_secrets),
        LL_CASE(test_print_redacts_every_password_form),
    };
    return ll_test_main(argc, argv, "config", cases, LL_CASES(cases));
}
