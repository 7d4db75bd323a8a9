/* ll_command_codec.c - see ll_command_codec.h. */
#include "ll_command_codec.h"

#include "ll_json.h"

#include <stdio.h>
#include <string.h>

/* Commands take owner and reference as printable ASCII: an owner is an identity provider's
 * subject (as a token's sub), a reference a payment remittance line (SEPA's basic set is a
 * subset). So their limits are characters as clients count them, and no look-alike Unicode
 * can impersonate an owner. Stored events may hold any clean UTF-8 (older writers). */
static int ascii_printable(const char *key, const char *s, ll_error_t *err) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return ll_error_set(err, LL_EINVAL, "%s: must be printable ASCII (space to ~)", key);
    return 0;
}

/* The money fields of a deposit, withdrawal, transfer or new hold: amount_minor and currency
 * (required), reference (optional, printable ASCII). */
static int decode_money_fields(const json_t *body, ll_command_t *out, ll_error_t *err) {
    int rc = ll_json_get_int64(body, "amount_minor", "", true, LL_AMOUNT_MINOR_MIN, LL_AMOUNT_MINOR_MAX,
                               &out->amount_minor, err);
    if (rc == 0) rc = ll_json_get_currency(body, "currency", "", true, &out->currency, err);
    if (rc == 0)
        rc = ll_json_get_string(body, "reference", "", false, 0, LL_REFERENCE_BYTES_MAX, out->reference,
                                sizeof out->reference, err);
    if (rc == 0) rc = ascii_printable("reference", out->reference, err);
    return rc;
}

/* One leg of a payment: legs[i] as {from_account_id, to_account_id, amount_minor, currency}. */
static int decode_leg(const json_t *o, int i, ll_payment_leg_t *leg, ll_error_t *err) {
    static const char *const keys[] = {"from_account_id", "to_account_id", "amount_minor", "currency"};
    char prefix[24];
    snprintf(prefix, sizeof prefix, "legs[%d].", i);
    if (!json_is_object(o)) return ll_error_set(err, LL_EINVAL, "legs[%d]: must be an object", i);
    int rc = ll_json_only_keys(o, keys, 4, prefix, err);
    if (rc == 0) rc = ll_json_get_uuid(o, "from_account_id", prefix, true, true, &leg->from_account_id, err);
    if (rc == 0) rc = ll_json_get_uuid(o, "to_account_id", prefix, true, true, &leg->to_account_id, err);
    if (rc == 0)
        rc = ll_json_get_int64(o, "amount_minor", prefix, true, LL_AMOUNT_MINOR_MIN, LL_AMOUNT_MINOR_MAX,
                               &leg->amount_minor, err);
    if (rc == 0) rc = ll_json_get_currency(o, "currency", prefix, true, &leg->currency, err);
    return rc;
}

static int decode_payment(const json_t *body, ll_command_t *out, ll_error_t *err) {
    static const char *const keys[] = {"legs", "reference"};
    int rc = ll_json_only_keys(body, keys, 2, "", err);
    if (rc != 0) return rc;
    const json_t *legs = json_object_get(body, "legs");
    if (!json_is_array(legs) || json_array_size(legs) < 1 || json_array_size(legs) > LL_PAYMENT_LEGS_MAX)
        return ll_error_set(err, LL_EINVAL, "legs: must be an array of 1 to %d legs", LL_PAYMENT_LEGS_MAX);
    out->leg_count = (int)json_array_size(legs);
    for (int i = 0; rc == 0 && i < out->leg_count; i++) rc = decode_leg(json_array_get(legs, (size_t)i), i, &out->legs[i], err);
    if (rc == 0)
        rc = ll_json_get_string(body, "reference", "", false, 0, LL_REFERENCE_BYTES_MAX, out->reference,
                                sizeof out->reference, err);
    if (rc == 0) rc = ascii_printable("reference", out->reference, err);
    return rc;
}

static int decode_hold_command(ll_command_type_t type, const json_t *body, ll_command_t *out, ll_error_t *err) {
    static const char *const place_keys[] = {"amount_minor", "currency", "reference", "expires_in_seconds"};
    static const char *const capture_keys[] = {"amount_minor", "to_account_id"};
    int rc;
    if (type == LL_CMD_RELEASE_HOLD) return ll_json_only_keys(body, NULL, 0, "", err);
    if (type == LL_CMD_CAPTURE_HOLD) {
        rc = ll_json_only_keys(body, capture_keys, 2, "", err);
        if (rc == 0)
            rc = ll_json_get_int64(body, "amount_minor", "", false, LL_AMOUNT_MINOR_MIN, LL_AMOUNT_MINOR_MAX,
                                   &out->amount_minor, err);
        if (rc == 0) rc = ll_json_get_uuid(body, "to_account_id", "", false, true, &out->to_account_id, err);
        return rc;
    }
    rc = ll_json_only_keys(body, place_keys, 4, "", err);
    out->expires_in_s = LL_HOLD_EXPIRY_DEFAULT_S;
    if (rc == 0) rc = decode_money_fields(body, out, err);
    if (rc == 0)
        rc = ll_json_get_int64(body, "expires_in_seconds", "", false, 1, LL_HOLD_EXPIRY_MAX_S, &out->expires_in_s,
                               err);
    return rc;
}

static int decode_fields(ll_command_type_t type, const json_t *body, ll_command_t *out, ll_error_t *err) {
    static const char *const open_keys[] = {"owner", "currency"};
    static const char *const money_keys[] = {"amount_minor", "currency", "reference"};
    static const char *const transfer_keys[] = {"from_account_id", "to_account_id", "amount_minor",
                                                "currency", "reference"};
    int rc;
    switch (type) {
    case LL_CMD_OPEN:
        rc = ll_json_only_keys(body, open_keys, 2, "", err);
        if (rc == 0)
            rc = ll_json_get_string(body, "owner", "", true, 1, LL_OWNER_BYTES_MAX, out->owner,
                                    sizeof out->owner, err);
        if (rc == 0) rc = ascii_printable("owner", out->owner, err);
        if (rc == 0) rc = ll_json_get_currency(body, "currency", "", true, &out->currency, err);
        return rc;
    case LL_CMD_CLOSE:
    case LL_CMD_UNFREEZE:
        return ll_json_only_keys(body, NULL, 0, "", err);
    case LL_CMD_PLACE_HOLD:
    case LL_CMD_CAPTURE_HOLD:
    case LL_CMD_RELEASE_HOLD:
        return decode_hold_command(type, body, out, err);
    case LL_CMD_PAYMENT:
        return decode_payment(body, out, err);
    case LL_CMD_SET_CREDIT_LIMIT: {
        static const char *const keys[] = {"overdraft_limit_minor"};
        rc = ll_json_only_keys(body, keys, 1, "", err);
        if (rc == 0)
            rc = ll_json_get_int64(body, "overdraft_limit_minor", "", true, 0, LL_AMOUNT_MINOR_MAX,
                                   &out->overdraft_limit_minor, err);
        return rc;
    }
    case LL_CMD_FREEZE: {
        static const char *const keys[] = {"reason"};
        rc = ll_json_only_keys(body, keys, 1, "", err);
        if (rc == 0)
            rc = ll_json_get_string(body, "reason", "", true, 1, LL_FREEZE_REASON_BYTES_MAX, out->reason,
                                    sizeof out->reason, err);
        if (rc == 0) rc = ascii_printable("reason", out->reason, err);
        return rc;
    }
    case LL_CMD_TRANSFER:
        rc = ll_json_only_keys(body, transfer_keys, 5, "", err);
        if (rc == 0) rc = ll_json_get_uuid(body, "from_account_id", "", true, true, &out->account_id, err);
        if (rc == 0) rc = ll_json_get_uuid(body, "to_account_id", "", true, true, &out->to_account_id, err);
        break;
    case LL_CMD_DEPOSIT:
    case LL_CMD_WITHDRAW:
        rc = ll_json_only_keys(body, money_keys, 3, "", err);
        break;
    default:
        return ll_error_set(err, LL_EINVAL, "unknown command type");
    }
    return rc == 0 ? decode_money_fields(body, out, err) : rc;
}

int ll_command_decode(ll_command_type_t type, const char *body, size_t len, size_t max_bytes,
                      ll_command_t *out, ll_error_t *err) {
    memset(out, 0, sizeof *out);
    json_t *root = ll_json_parse_object(body, len, max_bytes, err);
    if (root == NULL) return len > max_bytes ? LL_ELIMIT : LL_EINVAL;
    int rc = decode_fields(type, root, out, err);
    json_decref(root);
    if (rc == 0) out->type = type;
    return rc;
}
