/* ll_command_codec.c - see ll_command_codec.h. */
#include "ll_command_codec.h"

#include "ll_json.h"

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
        return ll_json_only_keys(body, NULL, 0, "", err);
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
    if (rc == 0)
        rc = ll_json_get_int64(body, "amount_minor", "", true, LL_AMOUNT_MINOR_MIN, LL_AMOUNT_MINOR_MAX,
                               &out->amount_minor, err);
    if (rc == 0) rc = ll_json_get_currency(body, "currency", "", true, &out->currency, err);
    if (rc == 0)
        rc = ll_json_get_string(body, "reference", "", false, 0, LL_REFERENCE_BYTES_MAX, out->reference,
                                sizeof out->reference, err);
    if (rc == 0) rc = ascii_printable("reference", out->reference, err);
    return rc;
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
