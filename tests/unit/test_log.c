/* Unit tests of lib/ll_log: every line has the shape {"ts","level","service","msg", ...}, and
 * whatever bytes a value carries (PostgreSQL's and librdkafka's messages quote names and span
 * lines, a client's header may hold anything) the line stays one line of valid JSON whose value
 * reads back as it was given (bytes that are not UTF-8 as U+FFFD); a line too long is cut and
 * says so. */
#include "ll_log.h"
#include "ll_test.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef void (*writer_fn)(const void *ctx);

/* What writer wrote, with stdout sent to a temporary file meanwhile; NULL on failure. */
static char *captured(writer_fn writer, const void *ctx) {
    static char out[4 * LL_LOG_LINE_MAX];
    fflush(stdout);
    FILE *tmp = tmpfile();
    int saved = dup(STDOUT_FILENO);
    if (tmp == NULL || saved < 0 || dup2(fileno(tmp), STDOUT_FILENO) < 0) {
        if (tmp != NULL) fclose(tmp);
        if (saved >= 0) close(saved);
        return NULL;
    }
    writer(ctx);
    fflush(stdout);
    int restored = dup2(saved, STDOUT_FILENO) >= 0;
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, sizeof out - 1, tmp);
    fclose(tmp);
    if (!restored) return NULL;
    out[n] = '\0';
    return out;
}

/* The line parsed (keys in their order), after checking it is exactly one line and that it
 * starts with ts, level, service, msg; NULL when it is not. */
static json_t *parsed(ll_test_ctx_t *t, const char *line) {
    LL_CHECK(line != NULL);
    if (line == NULL) return NULL;
    size_t len = strlen(line);
    LL_CHECK(len > 0 && len <= LL_LOG_LINE_MAX && line[len - 1] == '\n' && strchr(line, '\n') == line + len - 1);
    json_error_t jerr;
    json_t *doc = json_loads(line, JSON_PRESERVE_ORDER, &jerr);
    if (doc == NULL) {
        LL_FAIL_AT("not JSON (%s): %.200s", jerr.text, line);
        return NULL;
    }
    const char *first[] = {"ts", "level", "service", "msg"};
    void *it = json_object_iter(doc);
    for (size_t i = 0; i < 4; i++, it = json_object_iter_next(doc, it))
        if (it == NULL || strcmp(json_object_iter_key(it), first[i]) != 0) LL_FAIL_AT("field %zu is not %s", i, first[i]);
    return doc;
}

typedef struct {
    const char *msg, *account, *detail;
} line_args_t;

static void write_line(const void *ctx) {
    const line_args_t *a = ctx;
    ll_log_line("warn", "relay", a->msg, a->account, a->detail);
}

static json_t *logged(ll_test_ctx_t *t, const char *msg, const char *account, const char *detail) {
    line_args_t a = {msg, account, detail};
    return parsed(t, captured(write_line, &a));
}

static const char *field(json_t *doc, const char *name) {
    return json_string_value(json_object_get(doc, name));
}

LL_TEST(test_a_postgresql_error_with_quotes_and_newlines_is_one_json_line_and_reads_back_intact) {
    const char *detail = "ERROR:  relation \"outbox\" does not exist\nLINE 1: SELECT * FROM \"outbox\"\n"
                         "                      ^\nHINT:  see C:\\temp\\x\r\n";
    json_t *doc = logged(t, "publish round failed; retrying", NULL, detail);
    LL_REQUIRE(doc != NULL);
    LL_CHECK_EQ_STR(field(doc, "level"), "warn");
    LL_CHECK_EQ_STR(field(doc, "service"), "relay");
    LL_CHECK_EQ_STR(field(doc, "msg"), "publish round failed; retrying");
    LL_CHECK_EQ_STR(field(doc, "detail"), detail);
    LL_CHECK(json_object_get(doc, "account_id") == NULL);
    LL_CHECK_EQ_INT(json_object_size(doc), 5);
    json_decref(doc);
}

LL_TEST(test_ts_is_utc_with_microseconds) {
    json_t *doc = logged(t, "m", NULL, "d");
    LL_REQUIRE(doc != NULL);
    const char *ts = field(doc, "ts");
    LL_REQUIRE(ts != NULL);
    LL_CHECK_EQ_INT(strlen(ts), 27); /* 2024-01-02T03:04:05.123456Z */
    LL_CHECK(ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' && ts[26] == 'Z');
    json_decref(doc);
}

LL_TEST(test_every_ascii_byte_reads_back_as_it_was) {
    char detail[128];
    for (int i = 1; i < 128; i++) detail[i - 1] = (char)i;
    detail[127] = '\0';
    json_t *doc = logged(t, "database unavailable", NULL, detail);
    LL_REQUIRE(doc != NULL);
    LL_CHECK_EQ_STR(field(doc, "detail"), detail);
    json_decref(doc);
}

LL_TEST(test_an_account_id_cannot_forge_fields) {
    json_t *doc = logged(t, "projection failed", "acct\"},\"level\":\"info\n\\", "x");
    LL_REQUIRE(doc != NULL);
    LL_CHECK_EQ_STR(field(doc, "account_id"), "acct\"},\"level\":\"info\n\\");
    LL_CHECK_EQ_STR(field(doc, "level"), "warn");
    LL_CHECK_EQ_INT(json_object_size(doc), 6);
    json_decref(doc);
}

LL_TEST(test_no_detail_is_an_empty_one) {
    json_t *doc = logged(t, "producer fatal error; recreating the producer", NULL, NULL);
    LL_REQUIRE(doc != NULL);
    LL_CHECK_EQ_STR(field(doc, "detail"), "");
    json_decref(doc);
}

LL_TEST(test_utf8_is_kept_and_what_is_not_utf8_becomes_the_replacement_character) {
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"a\xff" "b", "a\xef\xbf\xbd" "b"},                         /* never a UTF-8 byte */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                   /* overlong '/' */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},   /* a surrogate */
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* past U+10FFFF */
        {"end\xe2\x82", "end\xef\xbf\xbd\xef\xbf\xbd"},             /* cut at the end */
        {"\x80x", "\xef\xbf\xbdx"},                                 /* a lone continuation byte */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *doc = logged(t, "m", NULL, cases[i].in);
        LL_REQUIRE(doc != NULL);
        if (strcmp(field(doc, "detail"), cases[i].out) != 0) LL_FAIL_AT("case %zu: %s", i, field(doc, "detail"));
        json_decref(doc);
    }
}

static void write_typed(const void *ctx) {
    (void)ctx;
    ll_log_t l;
    ll_log_begin(&l, "info", "command", "request");
    ll_log_int(&l, "status", 201);
    ll_log_int(&l, "min", LLONG_MIN);
    ll_log_int(&l, "max", LLONG_MAX);
    ll_log_int(&l, "zero", 0);
    ll_log_bool(&l, "yes", true);
    ll_log_bool(&l, "no", false);
    ll_log_double(&l, "ms", 1.23456, 3);
    ll_log_double(&l, "nan", NAN, 3);
    ll_log_double(&l, "inf", INFINITY, 3);
    ll_log_double(&l, "neg", -2.5, 1);
    ll_log_double(&l, "zero3", 0.0, 3);
    ll_log_double(&l, "whole", 7.0, 0);
    ll_log_double(&l, "huge", 1e16, 0); /* past the integer path: printf */
    ll_log_strn(&l, "part", "abcdef", 3);
    ll_log_str(&l, "none", NULL);
    ll_log_end_unflushed(&l);
}

LL_TEST(test_typed_fields_keep_their_json_types) {
    const char *line = captured(write_typed, NULL);
    LL_REQUIRE(line != NULL);
    LL_CHECK_CONTAINS(line, "\"status\":201,");
    LL_CHECK_CONTAINS(line, "\"ms\":1.235,");
    LL_CHECK_CONTAINS(line, "\"neg\":-2.5,\"zero3\":0.000,\"whole\":7,\"huge\":10000000000000000,");
    json_t *doc = parsed(t, line);
    LL_REQUIRE(doc != NULL);
    LL_CHECK(json_integer_value(json_object_get(doc, "min")) == LLONG_MIN);
    LL_CHECK(json_integer_value(json_object_get(doc, "max")) == LLONG_MAX);
    LL_CHECK(json_is_integer(json_object_get(doc, "zero")) && json_integer_value(json_object_get(doc, "zero")) == 0);
    LL_CHECK(json_is_true(json_object_get(doc, "yes")) && json_is_false(json_object_get(doc, "no")));
    LL_CHECK(json_is_null(json_object_get(doc, "nan")) && json_is_null(json_object_get(doc, "inf")));
    LL_CHECK_EQ_STR(field(doc, "part"), "abc");
    LL_CHECK_EQ_STR(field(doc, "none"), "");
    LL_CHECK(json_object_get(doc, "truncated") == NULL);
    json_decref(doc);
}

static void write_doubles(const void *ctx) {
    (void)ctx;
    for (int i = 0; i < 200; i++) {
        ll_log_t l;
        ll_log_begin(&l, "info", "command", "d");
        ll_log_double(&l, "ms", i * 0.37 + 0.0001, 3); /* never a tie at the third decimal */
        ll_log_end_unflushed(&l);
    }
}

LL_TEST(test_a_double_reads_as_printf_writes_it) {
    const char *out = captured(write_doubles, NULL);
    LL_REQUIRE(out != NULL);
    for (int i = 0; i < 200; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"ms\":%.3f}", i * 0.37 + 0.0001);
        const char *at = strstr(out, want);
        if (at == NULL) {
            LL_FAIL_AT("%s missing", want);
            return;
        }
        out = at;
    }
}

typedef struct {
    const char *value;
} long_args_t;

static void write_long(const void *ctx) {
    const long_args_t *a = ctx;
    ll_log_t l;
    ll_log_begin(&l, "error", "command", "long");
    ll_log_int(&l, "before", 1);
    ll_log_str(&l, "detail", a->value);
    ll_log_int(&l, "after", 2);
    ll_log_end(&l);
}

/* A value longer than a line: cut where the line ends, later fields dropped, truncated:true. */
static void check_cut(ll_test_ctx_t *t, char fill, const char *tail) {
    static char value[3 * LL_LOG_LINE_MAX];
    memset(value, fill, sizeof value - 1 - strlen(tail));
    strcpy(value + sizeof value - 1 - strlen(tail), tail);
    long_args_t a = {value};
    json_t *doc = parsed(t, captured(write_long, &a));
    LL_REQUIRE(doc != NULL);
    const char *d = field(doc, "detail");
    LL_REQUIRE(d != NULL);
    LL_CHECK(strlen(d) > LL_LOG_LINE_MAX / 8 && strncmp(d, value, strlen(d)) == 0);
    LL_CHECK(json_integer_value(json_object_get(doc, "before")) == 1);
    LL_CHECK(json_object_get(doc, "after") == NULL);
    LL_CHECK(json_is_true(json_object_get(doc, "truncated")));
    json_decref(doc);
}

LL_TEST(test_a_line_too_long_is_cut_and_says_so) {
    check_cut(t, 'x', "");
    check_cut(t, '"', "");    /* every byte escaped: the escape goes whole or not at all */
    check_cut(t, '\x01', ""); /* six bytes each */
    /* a multi-byte character never split: the value stays UTF-8 */
    static char euros[3 * LL_LOG_LINE_MAX];
    for (size_t i = 0; i + 3 < sizeof euros; i += 3) memcpy(euros + i, "\xe2\x82\xac", 3);
    euros[sizeof euros - 1 - (sizeof euros - 1) % 3] = '\0';
    long_args_t a = {euros};
    json_t *doc = parsed(t, captured(write_long, &a));
    LL_REQUIRE(doc != NULL);
    LL_CHECK(strlen(field(doc, "detail")) % 3 == 0);
    json_decref(doc);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_a_postgresql_error_with_quotes_and_newlines_is_one_json_line_and_reads_back_intact),
        LL_CASE(test_ts_is_utc_with_microseconds),
        LL_CASE(test_every_ascii_byte_reads_back_as_it_was),
        LL_CASE(test_an_account_id_cannot_forge_fields),
        LL_CASE(test_no_detail_is_an_empty_one),
        LL_CASE(test_utf8_is_kept_and_what_is_not_utf8_becomes_the_replacement_character),
        LL_CASE(test_typed_fields_keep_their_json_types),
        LL_CASE(test_a_double_reads_as_printf_writes_it),
        LL_CASE(test_a_line_too_long_is_cut_and_says_so),
    };
    return ll_test_main(argc, argv, "log", cases, LL_CASES(cases));
}
