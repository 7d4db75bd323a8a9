/* ll_write_response.c - the answers of commands carried out or replayed (docs/design.md, HTTP
 * contract); problems are ll_write_problems.c's. */
#include "ll_time.h"
#include "ll_write.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static json_t *uuid_json(const ll_uuid_t *u) {
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(u, text);
    return json_string(text);
}

/* The account's figures after a command: what it holds, what is reserved, what may be spent. */
static json_t *figures(json_t *o, const ll_account_t *a) {
    if (o == NULL) return NULL;
    json_object_set_new(o, "balance_minor", json_integer(a->balance_minor));
    json_object_set_new(o, "held_minor", json_integer(a->held_minor));
    json_object_set_new(o, "available_minor", json_integer(ll_account_available(a)));
    return o;
}

/* The destination of a transfer leg: its id, and its version unless the client may not see it. */
static json_t *destination(const ll_event_t *received, int hidden) {
    if (hidden) return json_pack("{s:o}", "account_id", uuid_json(&received->account_id));
    return json_pack("{s:o, s:I}", "account_id", uuid_json(&received->account_id), "version",
                     (json_int_t)received->version);
}

static json_t *render_hold(const ll_write_t *w, const ll_decision_t *d, const ll_account_t *const *after) {
    const ll_event_t *ev = &d->events[0];
    const ll_data_movement_t *m = &ev->data.movement;
    const ll_account_t *a = after[0];
    json_t *o = json_pack("{s:o, s:o, s:I, s:o}", "hold_id", uuid_json(&m->hold_id), "account_id",
                          uuid_json(&a->account_id), "version", (json_int_t)a->version, "event_id",
                          uuid_json(&ev->event_id));
    if (o == NULL) return NULL;
    switch (ev->type) {
    case LL_EVENT_HOLD_PLACED: {
        char expires[LL_TIME_TEXT_LEN + 1];
        ll_time_format(m->expires_at_us, expires);
        json_object_set_new(o, "amount_minor", json_integer(m->amount_minor));
        json_object_set_new(o, "currency", json_string(m->currency.code));
        json_object_set_new(o, "expires_at", json_string(expires));
        break;
    }
    case LL_EVENT_HOLD_CAPTURED:
        json_object_set_new(o, "captured_minor", json_integer(m->amount_minor));
        json_object_set_new(o, "released_minor", json_integer(m->released_minor));
        if (d->event_count == 2) {
            json_object_set_new(o, "transfer_id", uuid_json(&m->transfer_id));
            json_object_set_new(o, "to", destination(&d->events[1], w->hide_destination));
        }
        break;
    default: /* released or expired: the whole hold */
        json_object_set_new(o, "released_minor", json_integer(m->amount_minor));
        break;
    }
    return figures(o, a);
}

/* A credit limit, freeze or unfreeze: where the account stands now. */
static json_t *render_account_settings(const ll_decision_t *d, const ll_account_t *a) {
    json_t *o = json_pack("{s:o, s:I, s:o, s:I, s:b}", "account_id", uuid_json(&a->account_id), "version",
                          (json_int_t)a->version, "event_id", uuid_json(&d->events[0].event_id),
                          "overdraft_limit_minor", (json_int_t)a->overdraft_limit_minor, "frozen", a->frozen);
    return figures(o, a);
}

/* A payment: every leg's transfer id and the versions it left its accounts at. */
static json_t *render_payment(const ll_write_t *w, const ll_decision_t *d) {
    json_t *legs = json_array();
    for (int e = 0; legs != NULL && e + 1 < d->event_count; e += 2) {
        const ll_event_t *sent = &d->events[e], *received = &d->events[e + 1];
        json_t *leg = json_pack("{s:o, s:{s:o, s:I}, s:o}", "transfer_id",
                                uuid_json(&sent->data.movement.transfer_id), "from", "account_id",
                                uuid_json(&sent->account_id), "version", (json_int_t)sent->version, "to",
                                destination(received, (w->hidden_legs >> (e / 2)) & 1u));
        if (leg == NULL || json_array_append_new(legs, leg) != 0) {
            json_decref(legs);
            return NULL;
        }
    }
    if (legs == NULL) return NULL;
    return json_pack("{s:o, s:o}", "payment_id", uuid_json(&d->events[0].data.movement.payment_id), "legs",
                     legs);
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
    case LL_CMD_PLACE_HOLD:
    case LL_CMD_CAPTURE_HOLD:
    case LL_CMD_RELEASE_HOLD:
    case LL_CMD_EXPIRE_HOLD:
        return render_hold(w, d, after);
    case LL_CMD_SET_CREDIT_LIMIT:
    case LL_CMD_FREEZE:
    case LL_CMD_UNFREEZE:
        return render_account_settings(d, a);
    case LL_CMD_PAYMENT:
        return render_payment(w, d);
    default:
        return NULL;
    }
}

/* 201 for what creates something (an account, a movement, a hold, a transfer or payment); 200
 * for what changes an existing resource (close, release, expire, limit, freeze, unfreeze). */
static int accepted_status(ll_command_type_t t) {
    switch (t) {
    case LL_CMD_CLOSE:
    case LL_CMD_RELEASE_HOLD:
    case LL_CMD_EXPIRE_HOLD:
    case LL_CMD_SET_CREDIT_LIMIT:
    case LL_CMD_FREEZE:
    case LL_CMD_UNFREEZE:
        return 200;
    default:
        return 201;
    }
}

void ll_write_accepted(ll_write_t *w, const ll_decision_t *d, const ll_account_t *const *after) {
    json_t *body = render(w, d, after);
    size_t n = body ? json_dumpb(body, w->response, sizeof w->response - 1, JSON_COMPACT) : 0;
    json_decref(body);
    if (n == 0 || n >= sizeof w->response) {
        /* Cannot happen with bounded fields; never answer 2xx without a body. */
        ll_write_refused(w, LL_REFUSAL_INTERNAL, "response could not be rendered");
        return;
    }
    w->response[n] = '\0';
    w->status = accepted_status(w->cmd.type);
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
     * sender of a transfer, a hold's account, a payment's first source) and its version, as
     * ll_write_accepted set them. */
    json_t *body = json_loads(response, 0, NULL);
    json_t *legs = json_object_get(body, "legs");
    json_t *acc = json_object_get(body, "from") ? json_object_get(body, "from") : body;
    if (json_is_array(legs)) acc = json_object_get(json_array_get(legs, 0), "from");
    json_t *id = json_object_get(acc, "account_id"), *version = json_object_get(acc, "version");
    if (json_is_string(id) && json_string_length(id) == LL_UUID_TEXT_LEN && json_is_integer(version) &&
        json_integer_value(version) > 0) {
        w->version = (int64_t)json_integer_value(version);
        snprintf(w->account_id, sizeof w->account_id, "%s", json_string_value(id));
    }
    /* A payment leaves its first source at the last version any leg names it with. */
    for (size_t i = 0; json_is_array(legs) && w->version > 0 && i < json_array_size(legs); i++) {
        json_t *leg = json_array_get(legs, i);
        json_t *ends[2] = {json_object_get(leg, "from"), json_object_get(leg, "to")};
        for (int e = 0; e < 2; e++) {
            json_t *eid = json_object_get(ends[e], "account_id"), *ev = json_object_get(ends[e], "version");
            if (json_is_string(eid) && strcmp(json_string_value(eid), w->account_id) == 0 &&
                json_is_integer(ev) && json_integer_value(ev) > w->version)
                w->version = (int64_t)json_integer_value(ev);
        }
    }
    json_decref(body);
}
