/* ll_event_codec.c - see ll_event_codec.h. */
#include "ll_event_codec.h"

#include "ll_json.h"
#include "ll_time.h"

#include <string.h>

/* ---- encode -------------------------------------------------------------------------------- */

static json_t *uuid_json(const ll_uuid_t *u) {
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(u, text);
    return json_string(text);
}

/* Sets key to a new value; a failure (no memory) marks *ok false. */
static void put(json_t *o, const char *key, json_t *v, bool *ok) {
    if (v == NULL || json_object_set_new(o, key, v) != 0) *ok = false;
}

static bool is_transfer(ll_event_type_t t) {
    return t == LL_EVENT_TRANSFER_SENT || t == LL_EVENT_TRANSFER_RECEIVED;
}

/* The figures after the event (ll_event_after_t), in every type's data but the first and last. */
static void put_after(json_t *o, const ll_event_t *ev, bool *ok) {
    put(o, "balance_after_minor", json_integer((json_int_t)ev->after.balance_minor), ok);
    put(o, "held_after_minor", json_integer((json_int_t)ev->after.held_minor), ok);
    put(o, "overdraft_limit_minor", json_integer((json_int_t)ev->after.overdraft_limit_minor), ok);
    put(o, "frozen", json_boolean(ev->after.frozen), ok);
}

static json_t *data_to_json(const ll_event_t *ev) {
    const ll_data_movement_t *m = &ev->data.movement;
    bool ok = true;
    json_t *o = json_object();
    if (o == NULL) return NULL;
    switch (ev->type) {
    case LL_EVENT_ACCOUNT_OPENED:
        put(o, "owner", json_string(ev->data.opened.owner), &ok);
        put(o, "currency", json_string(ev->data.opened.currency.code), &ok);
        break;
    case LL_EVENT_ACCOUNT_CLOSED:
        break;
    case LL_EVENT_CREDIT_LIMIT_SET:
    case LL_EVENT_ACCOUNT_UNFROZEN:
        put_after(o, ev, &ok);
        break;
    case LL_EVENT_ACCOUNT_FROZEN:
        put(o, "reason", json_string(ev->data.frozen.reason), &ok);
        put_after(o, ev, &ok);
        break;
    default:
        if (!ll_event_has_money(ev->type)) {
            ok = false;
            break;
        }
        put(o, "amount_minor", json_integer((json_int_t)m->amount_minor), &ok);
        put(o, "currency", json_string(m->currency.code), &ok);
        if (ev->type != LL_EVENT_HOLD_RELEASED && ev->type != LL_EVENT_HOLD_EXPIRED)
            put(o, "reference", json_string(m->reference), &ok);
        if (ll_event_is_hold(ev->type)) put(o, "hold_id", uuid_json(&m->hold_id), &ok);
        if (ev->type == LL_EVENT_HOLD_CAPTURED)
            put(o, "released_minor", json_integer((json_int_t)m->released_minor), &ok);
        if (ev->type == LL_EVENT_HOLD_PLACED) {
            char when[LL_TIME_TEXT_LEN + 1];
            if (ll_time_format(m->expires_at_us, when) != 0) ok = false;
            else put(o, "expires_at", json_string(when), &ok);
        }
        if (is_transfer(ev->type) || (ev->type == LL_EVENT_HOLD_CAPTURED && !ll_uuid_is_nil(&m->transfer_id))) {
            put(o, "transfer_id", uuid_json(&m->transfer_id), &ok);
            put(o, ev->type == LL_EVENT_TRANSFER_RECEIVED ? "from_account_id" : "to_account_id",
                uuid_json(&m->counterparty_id), &ok);
        }
        if (is_transfer(ev->type) && !ll_uuid_is_nil(&m->payment_id))
            put(o, "payment_id", uuid_json(&m->payment_id), &ok);
        put_after(o, ev, &ok);
    }
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *ll_event_to_json(const ll_event_t *ev, bool with_hash) {
    const char *type = ll_event_type_name(ev->type);
    char occurred[LL_TIME_TEXT_LEN + 1];
    if (type == NULL || ll_time_format(ev->occurred_at_us, occurred) != 0) return NULL;
    json_t *data = data_to_json(ev);
    if (data == NULL) return NULL;
    /* "o" steals the references of data and the uuid strings, also when json_pack fails. */
    json_t *env = json_pack("{s:o, s:o, s:I, s:s, s:i, s:I, s:s, s:s, s:s, s:s, s:o, s:s}", "event_id",
                            uuid_json(&ev->event_id), "account_id", uuid_json(&ev->account_id), "version",
                            (json_int_t)ev->version, "type", type, "schema_version", (int)ev->schema_version,
                            "global_position", (json_int_t)ev->global_position, "occurred_at", occurred,
                            "command_id", ev->command_id, "correlation_id", ev->correlation_id, "actor",
                            ev->actor, "data", data, "prev_hash", ev->prev_hash);
    if (env != NULL && with_hash && json_object_set_new(env, "hash", json_string(ev->hash)) != 0) {
        json_decref(env);
        return NULL;
    }
    return env;
}

int ll_json_dump_canonical(const json_t *v, char *out, size_t out_size, size_t *out_len, ll_error_t *err) {
    size_t n = json_dumpb(v, out, out_size, JSON_COMPACT | JSON_SORT_KEYS);
    if (n == 0) return ll_error_set(err, LL_EIO, "canonical JSON encoding failed");
    if (n > out_size)
        return ll_error_set(err, LL_ELIMIT, "encoded event needs %zu bytes, buffer has %zu", n, out_size);
    *out_len = n;
    return 0;
}

int ll_event_encode(const ll_event_t *ev, bool with_hash, char *out, size_t out_size, size_t *out_len,
                    ll_error_t *err) {
    json_t *env = ll_event_to_json(ev, with_hash);
    if (env == NULL) return ll_error_set(err, LL_EINVAL, "event is not encodable (type, time or memory)");
    int rc = ll_json_dump_canonical(env, out, out_size, out_len, err);
    json_decref(env);
    return rc;
}

/* ---- decode -------------------------------------------------------------------------------- */

static bool is_hex64(const char *s) {
    if (strlen(s) != LL_HASH_HEX_LEN) return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return false;
    return true;
}

static int get_hash(const json_t *env, const char *key, char out[LL_HASH_HEX_LEN + 1], ll_error_t *err) {
    int rc = ll_json_get_string(env, key, "", true, LL_HASH_HEX_LEN, LL_HASH_HEX_LEN, out,
                                LL_HASH_HEX_LEN + 1, err);
    if (rc == 0 && !is_hex64(out))
        rc = ll_error_set(err, LL_EINVAL, "%s: must be 64 lower-case hex digits", key);
    return rc;
}

/* The keys data may hold for ev's type (optional ones included); returns how many. */
static size_t data_keys(ll_event_type_t type, const char **keys) {
    static const char *const after[] = {"balance_after_minor", "held_after_minor", "overdraft_limit_minor", "frozen"};
    size_t n = 0;
    switch (type) {
    case LL_EVENT_ACCOUNT_OPENED:
        keys[n++] = "owner", keys[n++] = "currency";
        return n;
    case LL_EVENT_ACCOUNT_CLOSED:
        return 0;
    case LL_EVENT_ACCOUNT_FROZEN:
        keys[n++] = "reason";
        break;
    case LL_EVENT_CREDIT_LIMIT_SET:
    case LL_EVENT_ACCOUNT_UNFROZEN:
        break;
    default:
        keys[n++] = "amount_minor", keys[n++] = "currency";
        if (type != LL_EVENT_HOLD_RELEASED && type != LL_EVENT_HOLD_EXPIRED) keys[n++] = "reference";
        if (ll_event_is_hold(type)) keys[n++] = "hold_id";
        if (type == LL_EVENT_HOLD_CAPTURED) keys[n++] = "released_minor";
        if (type == LL_EVENT_HOLD_PLACED) keys[n++] = "expires_at";
        if (is_transfer(type) || type == LL_EVENT_HOLD_CAPTURED) keys[n++] = "transfer_id";
        if (type == LL_EVENT_TRANSFER_SENT || type == LL_EVENT_HOLD_CAPTURED) keys[n++] = "to_account_id";
        if (type == LL_EVENT_TRANSFER_RECEIVED) keys[n++] = "from_account_id";
        if (is_transfer(type)) keys[n++] = "payment_id";
    }
    for (size_t i = 0; i < 4; i++) keys[n++] = after[i];
    return n;
}

static int decode_after(const json_t *data, ll_event_t *ev, ll_error_t *err) {
    ll_event_after_t *a = &ev->after;
    int rc = ll_json_get_int64(data, "balance_after_minor", "data.", true, INT64_MIN, INT64_MAX, &a->balance_minor, err);
    if (rc == 0) rc = ll_json_get_int64(data, "held_after_minor", "data.", true, 0, INT64_MAX, &a->held_minor, err);
    if (rc == 0)
        rc = ll_json_get_int64(data, "overdraft_limit_minor", "data.", true, 0, LL_AMOUNT_MINOR_MAX,
                               &a->overdraft_limit_minor, err);
    if (rc == 0) rc = ll_json_get_bool(data, "frozen", "data.", true, &a->frozen, err);
    return rc;
}

/* Money events: amount, currency, and what their type adds. */
static int decode_money(const json_t *data, ll_event_t *ev, ll_error_t *err) {
    ll_data_movement_t *m = &ev->data.movement;
    ll_event_type_t t = ev->type;
    int rc = ll_json_get_int64(data, "amount_minor", "data.", true, LL_AMOUNT_MINOR_MIN, LL_AMOUNT_MINOR_MAX,
                               &m->amount_minor, err);
    if (rc == 0) rc = ll_json_get_currency(data, "currency", "data.", true, &m->currency, err);
    if (rc == 0 && t != LL_EVENT_HOLD_RELEASED && t != LL_EVENT_HOLD_EXPIRED)
        rc = ll_json_get_string(data, "reference", "data.", true, 0, LL_REFERENCE_BYTES_MAX, m->reference,
                                sizeof m->reference, err);
    if (rc == 0 && ll_event_is_hold(t)) rc = ll_json_get_uuid(data, "hold_id", "data.", true, false, &m->hold_id, err);
    if (rc == 0 && t == LL_EVENT_HOLD_CAPTURED)
        rc = ll_json_get_int64(data, "released_minor", "data.", true, 0, LL_AMOUNT_MINOR_MAX, &m->released_minor, err);
    if (rc == 0 && t == LL_EVENT_HOLD_PLACED) {
        char text[LL_TIME_TEXT_LEN + 1];
        rc = ll_json_get_string(data, "expires_at", "data.", true, LL_TIME_TEXT_LEN, LL_TIME_TEXT_LEN, text,
                                sizeof text, err);
        if (rc == 0 && ll_time_parse_canonical(text, &m->expires_at_us) != 0)
            rc = ll_error_set(err, LL_EINVAL, "data.expires_at: must be UTC RFC 3339 with 6 fraction digits");
    }
    if (rc != 0) return rc;
    /* A capture names a destination or none; a transfer leg always does. */
    bool linked = is_transfer(t) || (t == LL_EVENT_HOLD_CAPTURED && json_object_get(data, "transfer_id"));
    const char *other = t == LL_EVENT_TRANSFER_RECEIVED ? "from_account_id" : "to_account_id";
    if (t == LL_EVENT_HOLD_CAPTURED && !linked && json_object_get(data, other))
        return ll_error_set(err, LL_EINVAL, "data.to_account_id: only with transfer_id");
    if (linked) {
        rc = ll_json_get_uuid(data, "transfer_id", "data.", true, false, &m->transfer_id, err);
        /* Nil is the struct's "none": a capture's nil transfer_id would re-encode without it. */
        if (rc == 0 && t == LL_EVENT_HOLD_CAPTURED && ll_uuid_is_nil(&m->transfer_id))
            rc = ll_error_set(err, LL_EINVAL, "data.transfer_id: must not be the nil UUID");
        if (rc == 0) rc = ll_json_get_uuid(data, other, "data.", true, false, &m->counterparty_id, err);
        if (rc == 0 && ll_uuid_equal(&m->counterparty_id, &ev->account_id))
            rc = ll_error_set(err, LL_EINVAL, "data.%s: a transfer needs two different accounts", other);
    }
    if (rc == 0 && is_transfer(t)) rc = ll_json_get_uuid(data, "payment_id", "data.", false, false, &m->payment_id, err);
    if (rc == 0 && is_transfer(t) && json_object_get(data, "payment_id") && ll_uuid_is_nil(&m->payment_id))
        rc = ll_error_set(err, LL_EINVAL, "data.payment_id: must not be the nil UUID");
    return rc;
}

static int decode_data(const json_t *data, ll_event_t *ev, ll_error_t *err) {
    const char *keys[16];
    size_t n = data_keys(ev->type, keys);
    int rc = ll_json_only_keys(data, keys, n, "data.", err);
    if (rc != 0) return rc;
    switch (ev->type) {
    case LL_EVENT_ACCOUNT_OPENED:
        rc = ll_json_get_string(data, "owner", "data.", true, 1, LL_OWNER_BYTES_MAX, ev->data.opened.owner,
                                sizeof ev->data.opened.owner, err);
        if (rc == 0) rc = ll_json_get_currency(data, "currency", "data.", true, &ev->data.opened.currency, err);
        return rc;
    case LL_EVENT_ACCOUNT_CLOSED:
        return 0;
    case LL_EVENT_ACCOUNT_FROZEN:
        rc = ll_json_get_string(data, "reason", "data.", true, 1, LL_FREEZE_REASON_BYTES_MAX,
                                ev->data.frozen.reason, sizeof ev->data.frozen.reason, err);
        break;
    case LL_EVENT_CREDIT_LIMIT_SET:
    case LL_EVENT_ACCOUNT_UNFROZEN:
        break;
    default:
        rc = decode_money(data, ev, err);
    }
    return rc == 0 ? decode_after(data, ev, err) : rc;
}

/* Schema 1 -> 2 of the four movements: the figures version 2 added. Version 1 was written
 * before holds, limits, freezes and payments existed, so they were 0, 0 and false, and no leg
 * named a payment. */
static int upcast_movement_v1(json_t *data, ll_error_t *err) {
    if (json_object_get(data, "held_after_minor") || json_object_get(data, "overdraft_limit_minor") ||
        json_object_get(data, "frozen") || json_object_get(data, "payment_id"))
        return ll_error_set(err, LL_EINVAL, "data: a schema 1 event cannot carry schema 2 fields");
    if (json_object_set_new(data, "held_after_minor", json_integer(0)) != 0 ||
        json_object_set_new(data, "overdraft_limit_minor", json_integer(0)) != 0 ||
        json_object_set_new(data, "frozen", json_false()) != 0)
        return ll_error_set(err, LL_ENOMEM, "upcast failed");
    return 0;
}

/* Schema 1 -> 2 of the opening and the closing: the same shape. */
static int upcast_same(json_t *data, ll_error_t *err) {
    (void)data, (void)err;
    return 0;
}

static const ll_upcaster_t upcasters_v2[] = {
    {LL_EVENT_ACCOUNT_OPENED, 1, upcast_same},          {LL_EVENT_ACCOUNT_CLOSED, 1, upcast_same},
    {LL_EVENT_MONEY_DEPOSITED, 1, upcast_movement_v1},  {LL_EVENT_MONEY_WITHDRAWN, 1, upcast_movement_v1},
    {LL_EVENT_TRANSFER_SENT, 1, upcast_movement_v1},    {LL_EVENT_TRANSFER_RECEIVED, 1, upcast_movement_v1},
};

const ll_event_schema_t ll_event_schema = {LL_EVENT_SCHEMA_VERSION_CURRENT, upcasters_v2,
                                           sizeof upcasters_v2 / sizeof upcasters_v2[0]};

/* Brings data from version *v up to the schema's current version, one step at a time. */
static int upcast(json_t *data, ll_event_type_t type, int32_t *v, const ll_event_schema_t *schema,
                  ll_error_t *err) {
    while (*v < schema->current_version) {
        const ll_upcaster_t *step = NULL;
        for (size_t i = 0; i < schema->upcaster_count && step == NULL; i++)
            if (schema->upcasters[i].type == type && schema->upcasters[i].from_version == *v)
                step = &schema->upcasters[i];
        if (step == NULL)
            return ll_error_set(err, LL_EINVAL, "schema_version: no upcaster from version %d of %s", (int)*v,
                                ll_event_type_name(type));
        int rc = step->fn(data, err);
        if (rc != 0) return rc;
        (*v)++;
    }
    return 0;
}

static const char *const envelope_keys[] = {
    "event_id",    "account_id", "version",        "type",  "schema_version", "global_position",
    "occurred_at", "command_id", "correlation_id", "actor", "data",           "prev_hash",
    "hash"};

/* The envelope fields other than data. */
static int decode_header(const json_t *env, int32_t current_version, ll_event_t *out, ll_error_t *err) {
    char text[64];
    int64_t schema = 0;
    int rc = ll_json_only_keys(env, envelope_keys, sizeof envelope_keys / sizeof envelope_keys[0], "", err);
    if (rc == 0) rc = ll_json_get_uuid(env, "event_id", "", true, false, &out->event_id, err);
    if (rc == 0) rc = ll_json_get_uuid(env, "account_id", "", true, false, &out->account_id, err);
    if (rc == 0) rc = ll_json_get_int64(env, "version", "", true, 1, INT64_MAX, &out->version, err);
    if (rc == 0) rc = ll_json_get_string(env, "type", "", true, 1, 32, text, sizeof text, err);
    if (rc == 0 && (out->type = ll_event_type_from_name(text)) == LL_EVENT_NONE)
        rc = ll_error_set(err, LL_EINVAL, "type: unknown event type");
    if (rc == 0) rc = ll_json_get_int64(env, "schema_version", "", true, 1, 1000000, &schema, err);
    if (rc == 0 && schema > current_version)
        rc = ll_error_set(err, LL_EINVAL, "schema_version: %lld is newer than this build reads (%d)",
                          (long long)schema, (int)current_version);
    out->schema_version = (int32_t)schema;
    if (rc == 0)
        rc = ll_json_get_int64(env, "global_position", "", true, 1, INT64_MAX, &out->global_position, err);
    if (rc == 0)
        rc = ll_json_get_string(env, "occurred_at", "", true, LL_TIME_TEXT_LEN, LL_TIME_TEXT_LEN, text,
                                sizeof text, err);
    if (rc == 0 && ll_time_parse_canonical(text, &out->occurred_at_us) != 0)
        rc = ll_error_set(err, LL_EINVAL, "occurred_at: must be UTC RFC 3339 with 6 fraction digits");
    if (rc == 0)
        rc = ll_json_get_string(env, "command_id", "", true, 1, LL_COMMAND_ID_BYTES_MAX, out->command_id,
                                sizeof out->command_id, err);
    if (rc == 0 && !ll_json_token_valid(out->command_id))
        rc = ll_error_set(err, LL_EINVAL, "command_id: must be printable ASCII without spaces");
    if (rc == 0)
        rc = ll_json_get_string(env, "correlation_id", "", true, 0, LL_CORRELATION_BYTES_MAX,
                                out->correlation_id, sizeof out->correlation_id, err);
    if (rc == 0)
        rc = ll_json_get_string(env, "actor", "", true, 1, LL_ACTOR_BYTES_MAX, out->actor, sizeof out->actor,
                                err);
    if (rc == 0) rc = get_hash(env, "prev_hash", out->prev_hash, err);
    if (rc == 0) rc = get_hash(env, "hash", out->hash, err);
    if (rc == 0 && out->version == 1 && strcmp(out->prev_hash, LL_HASH_ZERO) != 0)
        rc = ll_error_set(err, LL_EINVAL, "prev_hash: the first event of a stream links to 64 zeros");
    return rc;
}

int ll_event_from_json(json_t *env, const ll_event_schema_t *schema, ll_event_t *out, ll_error_t *err) {
    memset(out, 0, sizeof *out);
    int rc = decode_header(env, schema->current_version, out, err);
    if (rc != 0) return rc;
    json_t *data = json_object_get(env, "data");
    if (!json_is_object(data)) return ll_error_set(err, LL_EINVAL, "data: must be an object");
    rc = upcast(data, out->type, &out->schema_version, schema, err);
    if (rc == 0) rc = decode_data(data, out, err);
    return rc;
}

int ll_event_decode_with(const char *buf, size_t len, const ll_event_schema_t *schema, ll_event_t *out,
                         ll_error_t *err) {
    json_t *env = ll_json_parse_object(buf, len, LL_EVENT_JSON_BYTES_MAX, err);
    if (env == NULL) return LL_EINVAL;
    int rc = ll_event_from_json(env, schema, out, err);
    json_decref(env);
    return rc;
}

int ll_event_decode(const char *buf, size_t len, ll_event_t *out, ll_error_t *err) {
    return ll_event_decode_with(buf, len, &ll_event_schema, out, err);
}
