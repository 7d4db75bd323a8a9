/* libFuzzer target: the HTTP command body decoder. The first byte picks the command type (every
 * type, the expiry included: no body may decode into it), the rest is the body. It must never
 * crash or leak, and what it accepts must satisfy the invariants the rest of the system relies
 * on. */
#include "ll_command_codec.h"
#include "ll_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Printable ASCII of at most max bytes: what commands take as text. */
static int ascii_text(const char *s, size_t max) {
    if (!ll_json_text_clean(s) || strlen(s) > max) return 0;
    for (const char *p = s; *p; p++)
        if (*p < 0x20 || *p > 0x7e) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    ll_command_type_t type = (ll_command_type_t)(LL_CMD_OPEN + data[0] % LL_CMD_PAYMENT);
    ll_command_t cmd;
    ll_error_t err;
    if (ll_command_decode(type, (const char *)data + 1, size - 1, LL_BODY_BYTES_MAX_DEFAULT, &cmd, &err) != 0)
        return 0;
    if (cmd.type != type || type == LL_CMD_EXPIRE_HOLD) abort();
    int money = type == LL_CMD_DEPOSIT || type == LL_CMD_WITHDRAW || type == LL_CMD_TRANSFER || type == LL_CMD_PLACE_HOLD;
    if (money && !ll_amount_valid(cmd.amount_minor)) abort();
    if (!money && type != LL_CMD_CAPTURE_HOLD && cmd.amount_minor != 0) abort();
    if (type == LL_CMD_CAPTURE_HOLD && cmd.amount_minor != 0 && !ll_amount_valid(cmd.amount_minor)) abort();
    if ((money || type == LL_CMD_OPEN) && !ll_currency_valid(cmd.currency.code)) abort();
    if (!ascii_text(cmd.owner, LL_OWNER_BYTES_MAX) || !ascii_text(cmd.reference, LL_REFERENCE_BYTES_MAX) ||
        !ascii_text(cmd.reason, LL_FREEZE_REASON_BYTES_MAX))
        abort();
    if (type == LL_CMD_FREEZE && cmd.reason[0] == '\0') abort();
    if (type == LL_CMD_PLACE_HOLD && (cmd.expires_in_s < 1 || cmd.expires_in_s > LL_HOLD_EXPIRY_MAX_S)) abort();
    if (cmd.overdraft_limit_minor < 0 || cmd.overdraft_limit_minor > LL_AMOUNT_MINOR_MAX) abort();
    /* Ids the service assigns never come from a body. */
    if (!ll_uuid_is_nil(&cmd.hold_id) || !ll_uuid_is_nil(&cmd.transfer_id) || !ll_uuid_is_nil(&cmd.payment_id)) abort();
    if ((type == LL_CMD_PAYMENT) != (cmd.leg_count != 0)) abort();
    if (cmd.leg_count < 0 || cmd.leg_count > LL_PAYMENT_LEGS_MAX) abort();
    for (int i = 0; i < cmd.leg_count; i++)
        if (!ll_amount_valid(cmd.legs[i].amount_minor) || !ll_currency_valid(cmd.legs[i].currency.code)) abort();
    return 0;
}
