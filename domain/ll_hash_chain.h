/* ll_hash_chain.h - the tamper-evident chain of an account stream.
 *
 * hash = lower-case hex SHA-256 of the canonical envelope without its "hash" field; each
 * event's prev_hash is the previous event's hash (64 zeros for version 1). Verification works on
 * envelopes as JSON text, exactly as stored and published, so anyone holding the events can
 * check that none was altered, removed or reordered.
 */
#ifndef LL_HASH_CHAIN_H
#define LL_HASH_CHAIN_H

#include "ll_error.h"
#include "ll_event.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hashes the envelope object env, ignoring its "hash" field. env is not modified.
 * Returns 0 with out set (64 hex digits and a NUL), or a negative code. */
int ll_hash_envelope(const json_t *env, char out[LL_HASH_HEX_LEN + 1], ll_error_t *err);

/* Computes and stores ev->hash. ev must be complete (global_position assigned, prev_hash set).
 * Returns 0, or a negative code with ev->hash unchanged. */
int ll_event_seal(ll_event_t *ev, ll_error_t *err);

/* The outcome of verifying one stream. */
typedef struct ll_chain_result {
    bool ok;
    int64_t events_checked;              /* events that passed before the first bad one */
    int64_t first_bad_version;           /* 0 when ok */
    char reason[160];                    /* why the first bad event failed; "" when ok */
    char head_hash[LL_HASH_HEX_LEN + 1]; /* hash of the last good event (zeros if none) */
} ll_chain_result_t;

/* Verifies envelopes[0..n) (JSON texts with lengths lens[]) as one account's stream from
 * version 1 in order: each decodes strictly, belongs to the same account, has the next version,
 * links to the previous hash and carries its own correct hash. Stops at the first bad event.
 * Returns 0 (the verdict is in *res, ok or not), or a negative code when it could not run. */
int ll_chain_verify(const char *const *envelopes, const size_t *lens, size_t n, ll_chain_result_t *res,
                    ll_error_t *err);

/* The same one event at a time, for streams read in chunks (bounded memory): init, then next for
 * each envelope in version order (false from the first bad one on; res says why), and res is
 * the verdict once the stream ends. */
typedef struct ll_chain_walk {
    ll_chain_result_t res; /* ok until an event fails */
    ll_uuid_t account;     /* the stream's, from its first event */
} ll_chain_walk_t;
void ll_chain_walk_init(ll_chain_walk_t *w);
bool ll_chain_walk_next(ll_chain_walk_t *w, const char *envelope, size_t len);

/* Compares a stream that verified with the head the store recorded for it (account_state):
 * events removed at the end of a stream leave a valid chain, and only this anchor shows it.
 * recorded_head "" means none is recorded (nothing to compare). If r->ok and the heads differ,
 * sets r->ok false, first_bad_version to the first missing version and the reason. */
void ll_chain_check_head(ll_chain_result_t *r, const char *recorded_head, int64_t recorded_version);

#endif
