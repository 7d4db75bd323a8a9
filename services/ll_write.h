/* ll_write.h - one command on its way through the command service: what the client asked, and
 * the response decided for it (stored with the idempotency key, so a retry gets the same). */
#ifndef LL_WRITE_H
#define LL_WRITE_H

#include "ll_command.h"
#include "ll_sha256.h"

#include <stdint.h>

/* Every command response fits: the largest, a 16-leg payment, is about 4 KiB. */
#define LL_RESPONSE_BYTES_MAX 8192

/* Why the store answered a command without carrying it out (a ledger rejection is an
 * ll_rejection_t instead). The store says which; ll_write_problems.c holds the one table of
 * the HTTP status and problem type each is answered with (docs/errors.md). */
typedef enum ll_refusal {
    LL_REFUSAL_NONE = 0,
    LL_REFUSAL_KEY_IN_USE,         /* the Idempotency-Key's first request is still running */
    LL_REFUSAL_KEY_REUSED,         /* the Idempotency-Key was used for another request */
    LL_REFUSAL_VERSION_MISMATCH,   /* If-Match names another version */
    LL_REFUSAL_FORBIDDEN,          /* not this caller's to do (the detail says whose) */
    LL_REFUSAL_DESTINATION_HIDDEN, /* a destination the customer cannot see would not take it */
    LL_REFUSAL_STORE_CORRUPT,      /* a row of the store breaks what must hold: not decided */
    LL_REFUSAL_INTERNAL,           /* could not be stored or answered for another reason */
    LL_REFUSAL_UNAVAILABLE,        /* the event store did not answer (in time) */
    LL_REFUSAL_COUNT
} ll_refusal_t;

typedef struct ll_write {
    /* request: set by the HTTP side, read-only for the store */
    ll_command_t cmd;                                  /* account_id from the path or the body */
    char idem_scope[LL_ACTOR_BYTES_MAX + 1];           /* whose key space (the actor) */
    char idem_key[LL_COMMAND_ID_BYTES_MAX + 1];        /* Idempotency-Key */
    char request_hash[LL_SHA256_HEX_LEN + 1];          /* fingerprint of method, path and body */
    int64_t expected_version;                          /* If-Match; -1 when absent */
    char correlation_id[LL_CORRELATION_BYTES_MAX + 1]; /* X-Correlation-Id or generated */
    char actor[LL_ACTOR_BYTES_MAX + 1];                /* "role:sub" of the bearer token */
    char owner_scope[LL_OWNER_BYTES_MAX + 1];          /* a customer's sub: its accounts only; "" any */
    /* outcome: set by the store */
    int hide_destination; /* a customer's transfer (or capture) to an account it cannot see */
    uint32_t hidden_legs; /* a customer's payment: bit i, leg i's destination is not its own */
    ll_refusal_t refusal; /* LL_REFUSAL_NONE unless the store refused it */
    int status;           /* HTTP status */
    char response[LL_RESPONSE_BYTES_MAX];  /* JSON or problem+json body */
    int replayed;                          /* the response of an earlier identical request */
    int stored;                            /* response is recorded under the idempotency key */
    int64_t version;                       /* the account's version after the command (ETag), 0 if none */
    char account_id[LL_UUID_TEXT_LEN + 1]; /* for Location on open */
} ll_write_t;

/* Problems (ll_write_problems.c). They set status and response. */
/* The store refused w (r is not LL_REFUSAL_NONE); detail says why, without internals. */
void ll_write_refused(ll_write_t *w, ll_refusal_t r, const char *detail);
/* The ledger rejected w. */
void ll_write_rejected(ll_write_t *w, ll_rejection_t r, const char *detail);
/* Adds the member "leg" (0-based, as in the detail) to the problem in w: a refused payment names
 * its first refused leg. */
void ll_write_problem_leg(ll_write_t *w, int leg);
/* True for a refusal that means nothing ran through no fault of the request (answered 5xx):
 * a retry with the same key may succeed, so it is never stored under the key. */
int ll_refusal_is_fault(ll_refusal_t r);

/* Answers (ll_write_response.c). They set status and response. */
/* Renders the success body of an accepted decision; after[i] is the state after events[i]. */
void ll_write_accepted(ll_write_t *w, const ll_decision_t *d, const ll_account_t *const *after);
/* The stored answer of a key used before, with the ETag and Location it had (read back from
 * the body). */
void ll_write_replayed(ll_write_t *w, int status, const char *response);

/* True for a response that is a problem (status >= 400). */
static inline int ll_write_failed(const ll_write_t *w) {
    return w->status >= 400;
}

#endif
