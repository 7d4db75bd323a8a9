/* ll_write_response.c - the bodies of command responses (docs/design.md, HTTP contract). */
#include "ll_problem.h"
#include "ll_write.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

void ll_write_problem(ll_write_t *w, int status, const char *slug, const char *title, const char *detail) {
    w->status = status;
    ll_problem_render(w->response, sizeof w->response, status, slug, title, detail);
}

/* HTTP status of a domain rejection: unknown account 404, everything else is a well-formed
 * request the ledger cannot carry out (422), except an id collision on open (409). */
static int rejection_status(ll_rejection_t r) {
    switch (r) {
    case LL_REJECT_ACCOUNT_NOT_FOUND:
        return 404;
    case LL_REJECT_ACCOUNT_EXISTS:
        return 409;
    default:
        return 422;
    }
}

void ll_write_rejected(ll_write_t *w, ll_rejection_t r, const char *detail) {
    ll_write_problem(w, rejection_status(r), ll_rejection_slug(r), ll_rejection_title(r), detail);
}

static json_t *uuid_json(const ll_uuid_t *u) {
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(u, text);
    return json_string(text);
}

static json_t *render(const ll_write_t *w, const ll_decision_t *d, const ll_account_t *const *after) {
    const ll_event_t *ev = &d->events[0];
    const ll_account_t *a = after[0];
    switch (w->cmd.type) {
    case LL_CMD_OPEN:
        return json_pack("{s:o, s:s, s:s, s:s, s:I, s:I, s:o}", "account_id", uuid_json(&a->account_id),
                         "owner", a->owner, "currency", a->currency.code, "status", "open", "balance_minor",
                         (json_int_t)a->balance_minor, "version", (json_int_t)a->version, "event_id",
                         uuid_json(&ev->event_id));
    case LL_CMD_DEPOSIT:
    case LL_CMD_WITHDRAW:
        return json_pack("{s:o, s:o, s:I, s:I}", "event_id", uuid_json(&ev->event_id), "account_id",
                         uuid_json(&a->account_id), "version", (json_int_t)a->version, "balance_minor",
                         (json_int_t)a->balance_minor);
    case LL_CMD_CLOSE:
        return json_pack("{s:o, s:s, s:I, s:I, s:o}", "account_id", uuid_json(&a->account_id), "status",
                         "closed", "version", (json_int_t)a->version, "balance_minor",
                         (json_int_t)a->balance_minor, "event_id", uuid_json(&ev->event_id));
    case LL_CMD_TRANSFER:
        /* The destination's balance is not the sender's business: only its id and version, and
         * not even its version for a customer's transfer to an account it cannot see. */
        if (w->hide_destination)
            return json_pack("{s:o, s:{s:o, s:I, s:I, s:o}, s:{s:o, s:o}}", "transfer_id",
                             uuid_json(&ev->data.movement.transfer_id), "from", "account_id",
                             uuid_json(&a->account_id), "version", (json_int_t)a->version, "balance_minor",
                             (json_int_t)a->balance_minor, "event_id", uuid_json(&ev->event_id), "to",
                             "account_id", uuid_json(&after[1]->account_id), "event_id",
                             uuid_json(&d->events[1].event_id));
        return json_pack("{s:o, s:{s:o, s:I, s:I, s:o}, s:{s:o, s:I, s:o}}", "transfer_id",
                         uuid_json(&ev->data.movement.transfer_id), "from", "account_id",
                         uuid_json(&a->account_id), "version", (json_int_t)a->version, "balance_minor",
                         (json_int_t)a->balance_minor, "event_id", uuid_json(&ev->event_id), "to",
                         "account_id", uuid_json(&after[1]->account_id), "version",
                         (json_int_t)after[1]->version, "event_id", uuid_json(&d->events[1].event_id));
    default:
        return NULL;
    }
}

void ll_write_accepted(ll_write_t *w, const ll_decision_t *d, const ll_account_t *const *after) {
    json_t *body = render(w, d, after);
    size_t n = body ? json_dumpb(body, w->response, sizeof w->response - 1, JSON_COMPACT) : 0;
    json_decref(body);
    if (n == 0 || n >= sizeof w->response) {
        /* Cannot happen with bounded fields; never answer 2xx without a body. */
        ll_write_problem(w, 500, "internal", "Internal error", "response could not be rendered");
        return;
    }
    w->response[n] = '\0';
    w->status = w->cmd.type == LL_CMD_CLOSE ? 200 : 201;
    w->version = after[0]->version;
    ll_uuid_format(&after[0]->account_id, w->account_id);
}

void ll_write_replayed(ll_write_t *w, int status, const char *response) {
    w->status = status;
    snprintf(w->response, sizeof w->response, "%s", response);
    w->replayed = 1;
    w->version = 0;
    w->account_id[0] = '\0';
    if (ll_write_failed(w)) return;
    /* The ETag and Location of the first answer: the account the command wrote first (the
     * sender of a transfer) and its version, as ll_write_accepted set them. */
    json_t *body = json_loads(response, 0, NULL);
    json_t *acc = json_object_get(body, "from") ? json_object_get(body, "from") : body;
    json_t *id = json_object_get(acc, "account_id"), *version = json_object_get(acc, "version");
    if (json_is_string(id) && json_string_length(id) == LL_UUID_TEXT_LEN && json_is_integer(version) &&
        json_integer_value(version) > 0) {
        w->version = (int64_t)json_integer_value(version);
        snprintf(w->account_id, sizeof w->account_id, "%s", json_string_value(id));
    }
    json_decref(body);
}
