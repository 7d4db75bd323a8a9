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

/* ---- generations (ledgerline-rebuild) ---- */

/* The generations that have an accounts_g<N> collection, ascending, at most max of them.
 * Returns 0 with *n set, or a negative code. */
int ll_read_model_generations(mongoc_client_t *client, const char *database, int64_t *gens, size_t max,
                              size_t *n, ll_error_t *err);

/* Drops both collections of generation (absent is fine). Returns 0 or a negative code. */
int ll_read_model_drop_generation(mongoc_client_t *client, const char *database, int64_t generation,
                                  ll_error_t *err);

/* Makes to_generation active, only if from_generation still is (one guarded update of
 * {_id:"active"}: readers see the old or the new one, never anything else), and records when
 * from_generation retired ({_id:"retired_g<N>", retired_at_us}) for --gc. Returns 0, LL_EINVAL
 * when another switch came first, or LL_EIO. */
int ll_read_model_switch(mongoc_client_t *client, const char *database, int64_t from_generation,
                         int64_t to_generation, int64_t now_us, ll_error_t *err);

/* When generation retired (wall-clock us), or 0 when it has no record. Returns 0 or LL_EIO. */
int ll_read_model_retired_at(mongoc_client_t *client, const char *database, int64_t generation,
                             int64_t *retired_at_us, ll_error_t *err);

/* Opens generation's collections and ensures their indexes. rm must be closed with
 * ll_read_model_close. Returns 0 or a negative code. */
int ll_read_model_open(ll_read_model_t *rm, mongoc_client_t *client, const char *database, int64_t generation,
                       ll_error_t *err);
void ll_read_model_close(ll_read_model_t *rm);

/* Loads the account document into *a (state as evolve needs it). *found is false (and a the
 * empty stream) when there is no document. Returns 0 or a negative code. */
int ll_read_model_load_account(ll_read_model_t *rm, const ll_uuid_t *id, ll_account_t *a, bool *found,
                               ll_error_t *err);

/* Loads the documents of ids (n of them, distinct) with one query and calls each(ctx, state)
 * for every one found, in any order; ids without a document get no call. Returns 0 or a
 * negative code (each may have been called for some). */
int ll_read_model_load_accounts(ll_read_model_t *rm, const ll_uuid_t *ids, size_t n,
                                void (*each)(void *ctx, const ll_account_t *a), void *ctx, ll_error_t *err);

/* Calls each(ctx, state) for every account document of the generation, in any order (a
 * rebuild reads back what it wrote). Returns 0 or a negative code. */
int ll_read_model_each_account(ll_read_model_t *rm, void (*each)(void *ctx, const ll_account_t *a), void *ctx,
                               ll_error_t *err);

/* Calls each(ctx, account, event_id, amount_minor) for every transaction document. Returns 0 or a
 * negative code (a document whose ids do not parse is an error: the generation is damaged). */
int ll_read_model_each_transaction(ll_read_model_t *rm,
                                   void (*each)(void *ctx, const ll_uuid_t *account,
                                                const ll_uuid_t *event_id, int64_t amount_minor),
                                   void *ctx, ll_error_t *err);

/* Writes a as the account document, only if the stored document is still at prev_version
 * (0: must not exist; a document created meanwhile is not overwritten). Returns 0, LL_EINVAL
 * when another writer moved or created it (caller reloads), or LL_EIO. */
int ll_read_model_save_account(ll_read_model_t *rm, const ll_account_t *a, int64_t prev_version,
                               ll_error_t *err);

/* As ll_read_model_save_account for n accounts in one unordered bulk write. *conflicts is the
 * number of documents another writer had moved or created (not written; the caller reloads
 * them); which ones is not known. Returns 0 (conflicts included) or LL_EIO. */
int ll_read_model_save_accounts(ll_read_model_t *rm, const ll_account_t *const *accounts,
                                const int64_t *prev_versions, size_t n, size_t *conflicts, ll_error_t *err);

/* Inserts one document per movement event (others are ignored); documents already there (same
 * event id) are fine. Returns 0 or a negative code. */
int ll_read_model_insert_transactions(ll_read_model_t *rm, const ll_event_t *events, size_t n,
                                      ll_error_t *err);

#endif
