/* libFuzzer target: the HTTP command body decoder. The first byte picks the command type, the
 * rest is the body. It must never crash or leak, and what it accepts must satisfy the
 * invariants the rest of the system relies on. */
#include "ll_command_codec.h"
#include "ll_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    ll_command_type_t type = (ll_command_type_t)(LL_CMD_OPEN + data[0] % 5);
    ll_command_t cmd;
    ll_error_t err;
    if (ll_command_decode(type, (const char *)data + 1, size - 1, LL_BODY_BYTES_MAX_DEFAULT, &cmd, &err) != 0)
        return 0;
    if (cmd.type != type) abort();
    if (type != LL_CMD_OPEN && type != LL_CMD_CLOSE && !ll_amount_valid(cmd.amount_minor)) abort();
    if (type != LL_CMD_CLOSE && !ll_currency_valid(cmd.currency.code)) abort();
    if (!ll_json_text_clean(cmd.owner) || !ll_json_text_clean(cmd.reference)) abort();
    for (const char *p = cmd.owner; *p; p++) /* commands take printable ASCII only */
        if (*p < 0x20 || *p > 0x7e) abort();
    for (const char *p = cmd.reference; *p; p++)
        if (*p < 0x20 || *p > 0x7e) abort();
    if (strlen(cmd.reference) > LL_REFERENCE_BYTES_MAX || strlen(cmd.owner) > LL_OWNER_BYTES_MAX) abort();
    return 0;
}
