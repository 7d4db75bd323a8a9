/* Unit tests of lib/ll_log: whatever bytes a detail or an account id carries (PostgreSQL's and
 * librdkafka's messages quote names and span lines), the log line stays one line of JSON with
 * the fields the caller gave. */
#include "ll_log.h"
#include "ll_test.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What ll_log_line writes, with stdout sent to a temporary file meanwhile; NULL on failure. */
static char *captured(const char *msg, const char *account, const char *detail) {
    static char out[8192];
    fflush(stdout);
    FILE *tmp = tmpfile();
    int saved = dup(STDOUT_FILENO);
    if (tmp == NULL || saved < 0 || dup2(fileno(tmp), STDOUT_FILENO) < 0) {
        if (tmp != NULL) fclose(tmp);
        if (saved >= 0) close(saved);
        return NULL;
    }
    ll_log_line("warn", "relay", msg, account, detail);
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

/* The line parsed, after checking it is exactly one line; NULL when it is not JSON. */
static json_t *logged(ll_test_ctx_t *t, const char *msg, const char *account, const char *detail) {
    const char *line = captured(msg, account, detail);
    LL_CHECK(line != NULL);
    if (line == NULL) return NULL;
    size_t len = strlen(line);
    LL_CHECK(len > 0 && line[len - 1] == '\n' && strchr(line, '\n') == line + len - 1);
    json_error_t jerr;
    json_t *doc = json_loads(line, 0, &jerr);
    if (doc == NULL) LL_FAIL_AT("not JSON (%s): %s", jerr.text, line);
    return doc;
}

static const char *field(json_t *doc, const char *name) {
    return json_string_value(json_object_get(doc, name));
}

LL_TEST(test_a_postgresql_error_with_quotes_and_newlines_is_one_json_line) {
    json_t *doc = logged(t, "publish round failed; retrying", NULL,
                         "ERROR:  relation \"outbox\" does not exist\nLINE 1: SELECT * FROM \"outbox\"\n"
                         "                      ^\nHINT:  see C:\\temp\\x\r\n");
    LL_REQUIRE(doc != NULL);
    LL_CHECK_EQ_STR(field(doc, "level"), "warn");
    LL_CHECK_EQ_STR(field(doc, "service"), "relay");
    LL_CHECK_EQ_STR(field(doc, "msg"), "publish round failed; retrying");
    LL_CHECK_EQ_STR(field(doc, "detail"), "ERROR:  relation 'outbox' does not exist'LINE 1: SELECT * FROM 'outbox''"
                                          "                      ^'HINT:  see C:'temp'x''");
    LL_CHECK(json_object_get(doc, "account_id") == NULL);
    LL_CHECK_EQ_INT(json_object_size(doc), 4);
    json_decref(doc);
}

LL_TEST(test_every_control_byte_quote_and_backslash_keeps_the_line_json) {
    char detail[128];
    for (int i = 1; i < 128; i++) detail[i - 1] = (char)i;
    detail[127] = '\0';
    json_t *doc = logged(t, "database unavailable", NULL, detail);
    LL_REQUIRE(doc != NULL);
    const char *d = field(doc, "detail");
    LL_REQUIRE(d != NULL);
    LL_CHECK_EQ_INT(strlen(d), 127); /* one character for each byte: nothing dropped, nothing added */
    for (size_t i = 0; d[i] != '\0'; i++) {
        unsigned char in = (unsigned char)detail[i], out = (unsigned char)d[i];
        unsigned char want = in < 0x20 || in == '"' || in == '\\' ? '\'' : in;
        if (out != want) LL_FAIL_AT("byte 0x%02x became 0x%02x", (unsigned)in, (unsigned)out);
    }
    json_decref(doc);
}

LL_TEST(test_an_account_id_is_escaped_too) {
    json_t *doc = logged(t, "projection failed", "acct\"},\"level\":\"info\n\\", "x");
    LL_REQUIRE(doc != NULL);
    LL_CHECK_EQ_STR(field(doc, "account_id"), "acct'},'level':'info''");
    LL_CHECK_EQ_STR(field(doc, "level"), "warn");
    json_decref(doc);
}

LL_TEST(test_no_detail_is_an_empty_one) {
    json_t *doc = logged(t, "producer fatal error; recreating the producer", NULL, NULL);
    LL_REQUIRE(doc != NULL);
    LL_CHECK_EQ_STR(field(doc, "detail"), "");
    json_decref(doc);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_a_postgresql_error_with_quotes_and_newlines_is_one_json_line),
        LL_CASE(test_every_control_byte_quote_and_backslash_keeps_the_line_json),
        LL_CASE(test_an_account_id_is_escaped_too),
        LL_CASE(test_no_detail_is_an_empty_one),
    };
    return ll_test_main(argc, argv, "log", cases, LL_CASES(cases));
}
