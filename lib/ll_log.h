/* ll_log.h - the one JSON log line of every long-running process, on stdout.
 *
 * Every line has one shape: {"ts","level","service","msg", ...fields}, compact, one line, ts in
 * UTC with microseconds. A line is built on the caller's stack (no allocation) and written with
 * one fwrite, so lines of several threads never interleave:
 *
 *     ll_log_t l;
 *     ll_log_begin(&l, "info", "relay", "metrics");
 *     ll_log_int(&l, "outbox_depth", depth);
 *     ll_log_end(&l);
 *
 * Keys, level, service and msg are the caller's constants; string values may be outside input:
 * they are escaped as JSON requires (quotes, backslashes, control bytes), and bytes that are not
 * UTF-8 become U+FFFD, so whatever a value carries the line stays one line of valid JSON with
 * the value intact. A line longer than LL_LOG_LINE_MAX is cut: the value that did not fit ends
 * early, later fields are dropped, and the line gains "truncated":true. */
#ifndef LL_LOG_H
#define LL_LOG_H

#include <stdbool.h>
#include <stddef.h>

#define LL_LOG_LINE_MAX 8192 /* bytes of one line, "\n" included */

typedef struct ll_log {
    size_t len;
    bool truncated;
    char buf[LL_LOG_LINE_MAX];
} ll_log_t;

/* Starts a line: {"ts":now,"level":level,"service":service,"msg":msg. */
void ll_log_begin(ll_log_t *l, const char *level, const char *service, const char *msg);

/* Field appenders. A NULL string value is written as "". */
void ll_log_str(ll_log_t *l, const char *key, const char *value);
void ll_log_strn(ll_log_t *l, const char *key, const char *value, size_t len);
void ll_log_int(ll_log_t *l, const char *key, long long value);
void ll_log_bool(ll_log_t *l, const char *key, bool value);
/* value with `decimals` digits after the point (0..9); null when not finite. */
void ll_log_double(ll_log_t *l, const char *key, double value, int decimals);

/* Ends the line and writes it to stdout, then flushes. */
void ll_log_end(ll_log_t *l);

/* Ends the line and writes it to stdout without flushing: for a line per request, in an event
 * loop that flushes stdout once per turn (ll_http_server_run). */
void ll_log_end_unflushed(ll_log_t *l);

/* The common line: msg with a detail ("" when NULL) and, when account is not NULL, the
 * account_id it concerns: {"ts","level","service","msg"[,"account_id"],"detail"}. Flushed. */
void ll_log_line(const char *level, const char *service, const char *msg, const char *account,
                 const char *detail);

#endif
