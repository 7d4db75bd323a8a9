/* ll_command_codec.h - strict decoding of command bodies (the HTTP contract, docs/design.md).
 *
 *   open      {"owner","currency"}
 *   deposit   {"amount_minor","currency","reference"?}      (withdraw: the same)
 *   transfer  {"from_account_id","to_account_id","amount_minor","currency","reference"?}
 *   close     {}
 *
 * Unknown fields, wrong types, floats for money, out-of-range amounts, over-long or control-
 * character strings, non-UUID ids and unknown currencies are refused with a message naming the
 * field. Ids that come from the path or are assigned by the service are not in the body: the
 * caller sets cmd->account_id (and transfer_id) itself.
 */
#ifndef LL_COMMAND_CODEC_H
#define LL_COMMAND_CODEC_H

#include "ll_command.h"
#include "ll_error.h"

#include <stddef.h>

/* Decodes body[0..len) (len <= max_bytes) as a command of type. Returns 0 with *out filled
 * (other fields zero), or LL_EINVAL / LL_ELIMIT with err naming the field. */
int ll_command_decode(ll_command_type_t type, const char *body, size_t len, size_t max_bytes,
                      ll_command_t *out, ll_error_t *err);

#endif
