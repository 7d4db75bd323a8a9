/* ll_hash_chain.c - see ll_hash_chain.h. */
#include "ll_hash_chain.h"

#include "ll_event_codec.h"
#include "ll_json.h"
#include "ll_sha256.h"

#include <stdio.h>
#include <string.h>

static int sha256_hex(const char *buf, size_t len, char out[LL_HASH_HEX_LEN + 1], ll_error_t *err) {
    _Static_assert(LL_HASH_HEX_LEN == LL_SHA256_HEX_LEN, "event hashes are SHA-256");
    return ll_sha256_hex(buf, len, out) == 0 ? 0 : ll_error_set(err, LL_EIO, "SHA-256 failed");
}

int ll_hash_envelope(const json_t *env, char out[LL_HASH_HEX_LEN + 1], ll_error_t *err) {
    /* A shallow copy shares the values; removing "hash" from it leaves env intact. */
    json_t *copy = json_copy((json_t *)env);
    if (copy == NULL) return ll_error_set(err, LL_ENOMEM, "out of memory hashing an event");
    json_object_del(copy, "hash");
    char buf[LL_EVENT_JSON_BYTES_MAX];
    size_t len = 0;
    int rc = ll_json_dump_canonical(copy, buf, sizeof buf, &len, err);
    json_decref(copy);
    return rc != 0 ? rc : sha256_hex(buf, len, out, err);
}

int ll_event_seal(ll_event_t *ev, ll_error_t *err) {
    char buf[LL_EVENT_JSON_BYTES_MAX];
    size_t len = 0;
    char hash[LL_HASH_HEX_LEN + 1];
    int rc = ll_event_encode(ev, false, buf, sizeof buf, &len, err);
    if (rc == 0) rc = sha256_hex(buf, len, hash, err);
    if (rc == 0) memcpy(ev->hash, hash, sizeof hash);
    return rc;
}

/* Checks one envelope at position i of the stream; sets res->reason on failure. */
static bool verify_one(const char *text, size_t len, int64_t expect_version, const ll_uuid_t *account,
                       const char *prev_hash, ll_event_t *ev, ll_chain_result_t *res) {
    ll_error_t err = {""};
    json_t *env = ll_json_parse_object(text, len, LL_EVENT_JSON_BYTES_MAX, &err);
    bool ok = false;
    char computed[LL_HASH_HEX_LEN + 1];
    if (env == NULL || ll_hash_envelope(env, computed, &err) != 0 ||
        ll_event_from_json(env, &ll_event_schema, ev, &err) != 0) {
        snprintf(res->reason, sizeof res->reason, "undecodable: %.130s", err.msg);
    } else if (account != NULL && !ll_uuid_equal(&ev->account_id, account)) {
        snprintf(res->reason, sizeof res->reason, "belongs to another account");
    } else if (ev->version != expect_version) {
        snprintf(res->reason, sizeof res->reason,
                 "version %lld where %lld was expected (removed or reordered)", (long long)ev->version,
                 (long long)expect_version);
    } else if (strcmp(ev->prev_hash, prev_hash) != 0) {
        snprintf(res->reason, sizeof res->reason, "prev_hash does not match the previous event's hash");
    } else if (strcmp(ev->hash, computed) != 0) {
        snprintf(res->reason, sizeof res->reason, "hash does not match the content (altered)");
    } else {
        ok = true;
    }
    json_decref(env);
    return ok;
}

void ll_chain_walk_init(ll_chain_walk_t *w) {
    memset(w, 0, sizeof *w);
    memcpy(w->res.head_hash, LL_HASH_ZERO, sizeof w->res.head_hash);
    w->res.ok = true;
}

bool ll_chain_walk_next(ll_chain_walk_t *w, const char *text, size_t len) {
    if (!w->res.ok) return false;
    int64_t expect = w->res.events_checked + 1;
    ll_event_t ev;
    if (!verify_one(text, len, expect, expect == 1 ? NULL : &w->account, w->res.head_hash, &ev, &w->res)) {
        w->res.ok = false;
        w->res.first_bad_version = expect;
        return false;
    }
    if (expect == 1) w->account = ev.account_id;
    memcpy(w->res.head_hash, ev.hash, sizeof w->res.head_hash);
    w->res.events_checked++;
    return true;
}

int ll_chain_verify(const char *const *envelopes, const size_t *lens, size_t n, ll_chain_result_t *res,
                    ll_error_t *err) {
    if (res == NULL || (n > 0 && (envelopes == NULL || lens == NULL)))
        return ll_error_set(err, LL_EINVAL, "ll_chain_verify: missing argument");
    ll_chain_walk_t w;
    ll_chain_walk_init(&w);
    for (size_t i = 0; i < n && ll_chain_walk_next(&w, envelopes[i], lens[i]); i++) {
    }
    *res = w.res;
    return 0;
}

void ll_chain_check_head(ll_chain_result_t *r, const char *recorded_head, int64_t recorded_version) {
    if (!r->ok || recorded_head[0] == '\0' || strcmp(recorded_head, r->head_hash) == 0) return;
    r->ok = false;
    r->first_bad_version = r->events_checked + 1;
    snprintf(r->reason, sizeof r->reason,
             "the stream ends before the recorded head (version %lld): events removed",
             (long long)recorded_version);
}
