/* ll_write_problems.c - what a command that is not carried out is answered in HTTP: the one
 * table of the store's refusals (status, problem type, title) and the status of each ledger
 * rejection (docs/errors.md). The store only says what happened. */
#include "ll_problem.h"
#include "ll_write.h"

#include <jansson.h>

typedef struct {
    int status;
    const char *slug, *title;
} answer_t;

static const answer_t REFUSALS[LL_REFUSAL_COUNT] = {
    [LL_REFUSAL_KEY_IN_USE] = {409, "idempotency-key-in-use", "Request in progress"},
    [LL_REFUSAL_KEY_REUSED] = {422, "idempotency-key-reused", "Idempotency-Key reused"},
    [LL_REFUSAL_VERSION_MISMATCH] = {412, "version-mismatch", "Precondition failed"},
    [LL_REFUSAL_FORBIDDEN] = {403, "forbidden", "Forbidden"},
    /* one answer whatever the hidden destination's reason: others' accounts are not probeable */
    [LL_REFUSAL_DESTINATION_HIDDEN] = {422, "transfer-rejected", "Transfer rejected"},
    /* a damaged store is not the client's business: answered as any other internal fault */
    [LL_REFUSAL_STORE_CORRUPT] = {500, "internal", "Internal error"},
    [LL_REFUSAL_INTERNAL] = {500, "internal", "Internal error"},
    [LL_REFUSAL_UNAVAILABLE] = {503, "storage-unavailable", "Service unavailable"},
};

static void problem(ll_write_t *w, int status, const char *slug, const char *title, const char *detail) {
    w->status = status;
    ll_problem_render(w->response, sizeof w->response, status, slug, title, detail);
}

void ll_write_refused(ll_write_t *w, ll_refusal_t r, const char *detail) {
    if (r <= LL_REFUSAL_NONE || r >= LL_REFUSAL_COUNT) r = LL_REFUSAL_INTERNAL; /* never a 0 status */
    const answer_t *a = &REFUSALS[r];
    w->refusal = r;
    problem(w, a->status, a->slug, a->title, detail);
}

int ll_refusal_is_fault(ll_refusal_t r) {
    return r > LL_REFUSAL_NONE && r < LL_REFUSAL_COUNT && REFUSALS[r].status >= 500;
}

/* HTTP status of a domain rejection: an unknown account or hold 404; a conflict with the
 * resource's current state that the request cannot change (an id collision on open, a hold
 * settled or expired already, a freeze of a frozen account and the reverse) 409; everything else
 * is a well-formed request the ledger cannot carry out (422). */
static int rejection_status(ll_rejection_t r) {
    switch (r) {
    case LL_REJECT_ACCOUNT_NOT_FOUND:
    case LL_REJECT_HOLD_NOT_FOUND:
        return 404;
    case LL_REJECT_ACCOUNT_EXISTS:
    case LL_REJECT_HOLD_NOT_OPEN:
    case LL_REJECT_HOLD_EXPIRED:
    case LL_REJECT_ALREADY_FROZEN:
    case LL_REJECT_NOT_FROZEN:
        return 409;
    default:
        return 422;
    }
}

void ll_write_rejected(ll_write_t *w, ll_rejection_t r, const char *detail) {
    problem(w, rejection_status(r), ll_rejection_slug(r), ll_rejection_title(r), detail);
}

void ll_write_problem_leg(ll_write_t *w, int leg) {
    json_t *body = json_loads(w->response, 0, NULL);
    size_t n = 0;
    if (json_is_object(body) && json_object_set_new(body, "leg", json_integer(leg)) == 0)
        n = json_dumpb(body, w->response, sizeof w->response - 1, JSON_COMPACT);
    json_decref(body);
    if (n > 0 && n < sizeof w->response) w->response[n] = '\0'; /* else the problem stays as it was */
}
