/* ll_event_codec.h - event envelopes to and from JSON.
 *
 * Encoding is canonical: keys sorted by byte value, no whitespace, UTF-8 as is, integers in
 * decimal, every field always present (reference may be ""; a transfer leg's payment_id and a
 * capture's transfer_id and to_account_id only when set). The same event always yields the
 * same bytes, which is what the hash chain signs (tests/vectors/README.md specifies the form so
 * other languages can reproduce it).
 *
 * Decoding is strict (ll_json.h) and checks every field against the envelope's invariants.
 * Events written with an older schema_version are brought to the current struct by upcasters:
 * one function per (type, from_version) step, applied in order to the data object. A version
 * newer than this build knows is refused, never guessed.
 */
#ifndef LL_EVENT_CODEC_H
#define LL_EVENT_CODEC_H

#include "ll_error.h"
#include "ll_event.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Rewrites data (the envelope's "data" object, owned by the caller) from from_version to
 * from_version + 1, in place. Returns 0 or LL_EINVAL with err set. */
typedef int (*ll_upcast_fn)(json_t *data, ll_error_t *err);

typedef struct ll_upcaster {
    ll_event_type_t type;
    int32_t from_version;
    ll_upcast_fn fn;
} ll_upcaster_t;

/* What a decoder reads: the schema version the struct corresponds to, and the upcasters that
 * lead older versions there. */
typedef struct ll_event_schema {
    int32_t current_version;
    const ll_upcaster_t *upcasters;
    size_t upcaster_count;
} ll_event_schema_t;

/* This build's schema: LL_EVENT_SCHEMA_VERSION_CURRENT, with the upcasters from version 1. */
extern const ll_event_schema_t ll_event_schema;

/* Builds the envelope object (without "hash" unless with_hash). Returns a new reference, or
 * NULL when ev is not encodable (invalid type or time) or memory ran out. */
json_t *ll_event_to_json(const ll_event_t *ev, bool with_hash);

/* Writes the canonical JSON of v into out[0..out_size) without a NUL; *out_len gets its length.
 * Returns 0, or LL_ELIMIT when it does not fit (out then holds garbage), or LL_EIO. */
int ll_json_dump_canonical(const json_t *v, char *out, size_t out_size, size_t *out_len, ll_error_t *err);

/* ll_event_to_json + ll_json_dump_canonical. Returns 0 or a negative code with err set. */
int ll_event_encode(const ll_event_t *ev, bool with_hash, char *out, size_t out_size, size_t *out_len,
                    ll_error_t *err);

/* Decodes one envelope of at most LL_EVENT_JSON_BYTES_MAX bytes, with ll_event_schema.
 * Returns 0, or LL_EINVAL/LL_ELIMIT with err naming the field; *out is then unspecified. */
int ll_event_decode(const char *buf, size_t len, ll_event_t *out, ll_error_t *err);

/* As ll_event_decode with an explicit schema (tests, tools reading archives). */
int ll_event_decode_with(const char *buf, size_t len, const ll_event_schema_t *schema, ll_event_t *out,
                         ll_error_t *err);

/* Decodes an already parsed envelope. env's "data" may be rewritten by upcasters. After an
 * upcast, out->schema_version is schema->current_version (the struct's shape); the hash chain
 * is verified on the stored text, never on an upcast struct. */
int ll_event_from_json(json_t *env, const ll_event_schema_t *schema, ll_event_t *out, ll_error_t *err);

#endif
