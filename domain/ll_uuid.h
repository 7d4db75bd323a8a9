/* ll_uuid.h - UUIDs as 16 bytes, written in the canonical lower-case 8-4-4-4-12 form.
 *
 * domain/ never generates ids (that needs randomness, i.e. I/O): callers pass them in.
 */
#ifndef LL_UUID_H
#define LL_UUID_H

#include <stdbool.h>
#include <stdint.h>

#define LL_UUID_TEXT_LEN 36

typedef struct ll_uuid {
    uint8_t bytes[16];
} ll_uuid_t;

/* Parses exactly 36 characters of 8-4-4-4-12 hex. Upper-case hex is accepted only when
 * allow_upper is true (request paths); stored envelopes must be canonical lower case.
 * Returns 0, or -1 with out untouched. */
int ll_uuid_parse(const char *s, bool allow_upper, ll_uuid_t *out);

/* Writes the canonical lower-case form and a NUL into out[37]. */
void ll_uuid_format(const ll_uuid_t *u, char out[LL_UUID_TEXT_LEN + 1]);

bool ll_uuid_equal(const ll_uuid_t *a, const ll_uuid_t *b);
bool ll_uuid_is_nil(const ll_uuid_t *u);

/* A 64-bit hash of u for hash tables, mixing both halves (a time-ordered id has little entropy
 * in its first bytes). Use the high bits: they are the best mixed. */
uint64_t ll_uuid_hash(const ll_uuid_t *u);

/* memcmp order; used to lock the two accounts of a transfer in a fixed order. */
int ll_uuid_compare(const ll_uuid_t *a, const ll_uuid_t *b);

#endif
