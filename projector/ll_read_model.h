/* ll_read_model.h - the MongoDB read models (docs/design.md, "MongoDB (read side)").
 *
 * Collections carry a generation suffix: accounts_g<N> (one document per account: the state
 * evolve produced, with the version it reflects) and transactions_g<N> (one document per money
 * movement, _id = event id). read_model_meta {_id:"active", generation:N} says which generation
 * serves, so a rebuild can fill N+1 and switch. Plain MongoDB operations only (find, update_one
 * with filters, insert_many unordered, createIndexes), so FerretDB and real MongoDB behave alike.
 * Keys are never built from user input: ids are parsed UUIDs, field names are constants.
 * Writes use write concern majority with journal.
 */
#ifndef LL_READ_MODEL_H
#define LL_READ_MODEL_H

#include "ll_account.h"
#include "ll_error.h"
#include "ll_event.h"

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct ll_read_model {
    mongoc_client_t *client; /* borrowed */
    char database[128];
    int64_t generation;
    mongoc_collection_t *accounts;
    mongoc_collection_t *transactions;
    mongoc_write_concern_t *wc;
} ll_read_model_t;

/* The active generation from read_model_meta; creates {generation: 1} when there is none.
 * Returns 0 with *generation set, or a negative code. */
int ll_read_model_active_generation(mongoc_client_t *client, const char *database, int64_t *generation,
                                    ll_error_t *err);

/* Opens generation's collections and ensures their indexes. rm must be closed with
 * ll_read_model_close. Returns 0 or a negative code. */
int ll_read_model_open(ll_read_model_t *rm, mongoc_client_t *client, const char *database, int64_t generation,
                       ll_error_t *err);
void ll_read_model_close(ll_read_model_t *rm);

/* Loads the account document into *a (state as evolve needs it). *found is false (and a the
 * empty stream) when there is no document. Returns 0 or a negative code. */
int ll_read_model_load_account(ll_read_model_t *rm, const ll_uuid_t *id, ll_account_t *a, bool *found,
                               ll_error_t *err);

/* Writes a as the account document, only if the stored document is still at prev_version
 * (0: must not exist). Returns 0, LL_EINVAL when another writer moved it (caller reloads), or
 * LL_EIO. */
int ll_read_model_save_account(ll_read_model_t *rm, const ll_account_t *a, int64_t prev_version,
                               ll_error_t *err);

/* Inserts one document per movement event (others are ignored); documents already there (same
 * event id) are fine. Returns 0 or a negative code. */
int ll_read_model_insert_transactions(ll_read_model_t *rm, const ll_event_t *events, size_t n,
                                      ll_error_t *err);

#endif
