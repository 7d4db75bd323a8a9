/* ll_event_codec.c - see ll_event_codec.h. */
#include "ll_event_codec.h"

#include "ll_json.h"
#include "ll_time.h"

#include <string.h>

const ll_event_schema_t ll_event_schema = {LL_EVENT_SCHEMA_VERSION_CURRENT, NULL, 0};

/* ---- encode -------------------------------------------------------------------------------- */

static json_t *uuid_json(const ll_uuid_t *u) {
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(u, text);
    return json_string(text);
}

static json_t *data_to_json(const ll_event_t *ev) {
    const ll_data_movement_t *m = &ev->data.movement;
    switch (ev->type) {
    case LL_EVENT_ACCOUNT_OPENED:
        return json_pack("{s:s, s:s}", "owner", ev->data.opened.owner, "currency",
                         ev->data.opened.currency.code);
    case LL_EVENT_MONEY_DEPOSITED:
    case LL_EVENT_MONEY_WITHDRAWN:
        return json_pack("{s:I, s:I, s:s, s:s}", "amount_minor", (json_int_t)m->amount_minor,
                         "balance_after_minor", (json_int_t)m->balance_after_minor, "currency",
                         m->currency.code, "reference", m->reference);
    case LL_EVENT_TRANSFER_SENT:
    case LL_EVENT_TRANSFER_RECEIVED:
        return json_pack("{s:I, s:I, s:s, s:s, s:o, s:o}", "amount_minor", (json_int_t)m->amount_minor,
                         "balance_after_minor", (json_int_t)m->balance_after_minor, "currency",
                         m->currency.code, "reference", m->reference, "transfer_id",
                         uuid_json(&m->transfer_id),
                         ev->type == LL_EVENT_TRANSFER_SENT ? "to_account_id" : "from_account_id",
                         uuid_json(&m->counterparty_id));
    case LL_EVENT_ACCOUNT_CLOSED:
        return json_object();
    default:
        return NULL;
    }
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

static int decode_movement(const json_t *data, ll_event_t *ev, ll_error_t *err) {
    static const char *const plain[] = {"amount_minor", "balance_after_minor", "currency", "reference"};
    static const char *const sent[] = {"amount_minor", "balance_after_minor", "currency",
                                       "reference",    "transfer_id",         "to_account_id"};
    static const char *const received[] = {"amount_minor", "balance_after_minor", "currency",
                                           "reference",    "transfer_id",         "from_account_id"};
    ll_data_movement_t *m = &ev->data.movement;
    int rc;
    if (ev->type == LL_EVENT_TRANSFER_SENT)
        rc = ll_json_only_keys(data, sent, 6, "data.", err);
    else if (ev->type == LL_EVENT_TRANSFER_RECEIVED)
        rc = ll_json_only_keys(data, received, 6, "data.", err);
    else
        rc = ll_json_only_keys(data, plain, 4, "data.", err);
    if (rc == 0)
        rc = ll_json_get_int64(data, "amount_minor", "data.", true, LL_AMOUNT_MINOR_MIN, LL_AMOUNT_MINOR_MAX,
                               &m->amount_minor, err);
    if (rc == 0)
        rc = ll_json_get_int64(data, "balance_after_minor", "data.", true, INT64_MIN, INT64_MAX,
                               &m->balance_after_minor, err);
    if (rc == 0) rc = ll_json_get_currency(data, "currency", "data.", true, &m->currency, err);
    if (rc == 0)
        rc = ll_json_get_string(data, "reference", "data.", true, 0, LL_REFERENCE_BYTES_MAX, m->reference,
                                sizeof m->reference, err);
    if (rc != 0 || !(ev->type == LL_EVENT_TRANSFER_SENT || ev->type == LL_EVENT_TRANSFER_RECEIVED)) return rc;
    rc = ll_json_get_uuid(data, "transfer_id", "data.", true, false, &m->transfer_id, err);
    const char *other = ev->type == LL_EVENT_TRANSFER_SENT ? "to_account_id" : "from_account_id";
    if (rc == 0) rc = ll_json_get_uuid(data, other, "data.", true, false, &m->counterparty_id, err);
    if (rc == 0 && ll_uuid_equal(&m->counterparty_id, &ev->account_id))
        rc = ll_error_set(err, LL_EINVAL, "data.%s: a transfer needs two different accounts", other);
    return rc;
}

static int decode_data(const json_t *data, ll_event_t *ev, ll_error_t *err) {
    static const char *const opened[] = {"owner", "currency"};
    int rc;
    switch (ev->type) {
    case LL_EVENT_ACCOUNT_OPENED:
        rc = ll_json_only_keys(data, opened, 2, "data.", err);
        if (rc == 0)
            rc = ll_json_get_string(data, "owner", "data.", true, 1, LL_OWNER_BYTES_MAX,
                                    ev->data.opened.owner, sizeof ev->data.opened.owner, err);
        if (rc == 0)
            rc = ll_json_get_currency(data, "currency", "data.", true, &ev->data.opened.currency, err);
        return rc;
    case LL_EVENT_ACCOUNT_CLOSED:
        return ll_json_only_keys(data, NULL, 0, "data.", err);
    default:
        return decode_movement(data, ev, err);
    }
}

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
