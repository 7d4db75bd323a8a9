/* ll_json.h - strict reading of JSON objects (jansson), shared by the event and command codecs.
 *
 * Strict means: input size bounded before parsing, duplicate keys refused, the top level must
 * be an object, unknown keys refused, every field of the right JSON type (an integer is never a
 * float: 1.0 and 1e3 are refused for money), strings bounded and free of control characters.
 * Every error message names the field ("data.amount_minor: ...").
 */
#ifndef LL_JSON_H
#define LL_JSON_H

#include "ll_error.h"
#include "ll_money.h"
#include "ll_uuid.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses buf[0..len) (len <= max_bytes) as one JSON object. Returns a new reference the caller
 * releases with json_decref, or NULL with err set. Never reads past len. */
json_t *ll_json_parse_object(const char *buf, size_t len, size_t max_bytes, ll_error_t *err);

/* Fails with the first key of obj not in allowed[0..n). prefix ("" or "data.") prefixes names. */
int ll_json_only_keys(const json_t *obj, const char *const *allowed, size_t n, const char *prefix,
                      ll_error_t *err);

/* Field readers. Each returns 0 and writes *out, or LL_EINVAL with err naming prefix+key.
 * A missing key is an error when required; otherwise the reader returns 0 and leaves *out. */
int ll_json_get_string(const json_t *obj, const char *key, const char *prefix, bool required,
                       size_t min_bytes, size_t max_bytes, char *out, size_t out_size, ll_error_t *err);
int ll_json_get_int64(const json_t *obj, const char *key, const char *prefix, bool required, int64_t min,
                      int64_t max, int64_t *out, ll_error_t *err);
int ll_json_get_uuid(const json_t *obj, const char *key, const char *prefix, bool required, bool allow_upper,
                     ll_uuid_t *out, ll_error_t *err);
int ll_json_get_bool(const json_t *obj, const char *key, const char *prefix, bool required, bool *out,
                     ll_error_t *err);
int ll_json_get_currency(const json_t *obj, const char *key, const char *prefix, bool required,
                         ll_currency_t *out, ll_error_t *err);

/* True when s (NUL-terminated UTF-8, as jansson guarantees) has no control characters
 * (U+0000..U+001F, U+007F). Keeps canonical forms unambiguous and logs clean. */
bool ll_json_text_clean(const char *s);

/* True when s is printable ASCII (0x21..0x7e): ids such as Idempotency-Key values. */
bool ll_json_token_valid(const char *s);

#endif
