/* ll_time.h - instants as int64 microseconds since the Unix epoch, UTC; RFC 3339 text.
 *
 * Pure: no time zone database, no locale, no clock (callers read the clock and pass the value).
 * The canonical form, used in every envelope and hash, is exactly
 * "YYYY-MM-DDTHH:MM:SS.ffffffZ" (27 characters, six fraction digits, UTC).
 */
#ifndef LL_TIME_H
#define LL_TIME_H

#include <stdint.h>

#define LL_TIME_TEXT_LEN 27

/* Years 1970..9999 only: no event predates the epoch, and RFC 3339 has four-digit years. */
#define LL_TIME_US_MIN 0
#define LL_TIME_US_MAX 253402300799999999LL /* 9999-12-31T23:59:59.999999Z */

/* Writes the canonical form of us (LL_TIME_US_MIN..MAX) and a NUL into out[28].
 * Returns 0, or -1 when us is out of range (out untouched). */
int ll_time_format(int64_t us, char out[LL_TIME_TEXT_LEN + 1]);

/* Parses the canonical form only (what envelopes hold). Returns 0, or -1 (out untouched). */
int ll_time_parse_canonical(const char *s, int64_t *out);

/* Parses any RFC 3339 date-time: 'T' or 't' or ' ' separator, 0..9 fraction digits (beyond 6
 * truncated), 'Z' or a +hh:mm/-hh:mm offset. For query parameters such as as_of.
 * Returns 0, or -1 (out untouched). Leap seconds (:60) are refused. */
int ll_time_parse_rfc3339(const char *s, int64_t *out);

/* As ll_time_parse_rfc3339 for instants a query may name (as_of): any valid RFC 3339 date-time
 * is accepted and clamped into LL_TIME_US_MIN..MAX (before 1970 nothing existed yet). */
int ll_time_parse_rfc3339_clamped(const char *s, int64_t *out);

#endif
