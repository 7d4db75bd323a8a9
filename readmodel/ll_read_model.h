/* ll_read_model.h - the MongoDB read models (docs/design.md, "MongoDB (read side)"; what they
 * hold, in C: ll_rm_layout.h; the documents: ll_read_model_docs.h; why they are shaped so:
 * docs/read-side.md). The one door to MongoDB: everything above readmodel/ speaks accounts,
 * versions and statement items through it, never mongoc or BSON (those stay in ll_rm_store.h).
 *
 * Collections carry a generation suffix (accounts_g<N>, events_g<N>, pages_g<N>);
 * read_model_meta {_id:"active", generation:N} says which generation serves, so a rebuild can
 * fill N+1 and switch. Every query is an equality on _id or on events' `page` tag: the two
 * shapes both stores serve from an index (FerretDB v1 pushes nothing else down). Plain MongoDB
 * operations only (find, insert_many unordered, update_one with a filter, createIndexes).
 * Keys are never built from user input: ids are parsed UUIDs and numbers, field names are
 * constants. Writes use write concern majority with journal.
 */
#ifndef LL_READ_MODEL_H
#define LL_READ_MODEL_H

#include "ll_account.h"
#include "ll_error.h"
#include "ll_event.h"
#include "ll_rm_layout.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- connections ---- */

/* Once per process, before any thread makes a client; cleanup after the last is freed. */
void ll_rm_library_init(void);
void ll_rm_library_cleanup(void);

/* One connection to the read store's database (not thread-safe: one per thread). */
typedef struct ll_rm_client ll_rm_client_t;

/* A client of uri for database; appname (NULL: none) names it in the server's logs. NULL with
 * err set (LL_EINVAL "mongo_uri: ...") when uri does not parse. Connects lazily: a store down
 * shows at the first operation. */
ll_rm_client_t *ll_rm_client_new(const char *uri, const char *database, const char *appname, ll_error_t *err);
void ll_rm_client_free(ll_rm_client_t *c); /* NULL is fine */

/* One round trip (the server's ping). Returns 0 or LL_EIO. */
int ll_rm_client_ping(ll_rm_client_t *c, ll_error_t *err);

/* ---- generations ---- */

/* The document layout this build reads and writes, recorded with the active generation
 * (read_model_meta {_id:"active", generation, layout}). 1: one document per transaction; 2:
 * account documents, events and sealed pages (ll_read_model_docs.h). */
#define LL_READ_MODEL_LAYOUT 2

/* The active generation from read_model_meta; creates {generation: 1, layout} when there is
 * none. Returns 0 with *generation set; LL_EINVAL (the message says to rebuild) when it was
 * built with another layout; or another negative code. */
int ll_read_model_active_generation(ll_rm_client_t *c, int64_t *generation, ll_error_t *err);

/* As ll_read_model_active_generation, whatever its layout (ledgerline-rebuild replaces it). */
int ll_read_model_active_any_layout(ll_rm_client_t *c, int64_t *generation, int64_t *layout, ll_error_t *err);

/* The generations that have an accounts_g<N> collection, ascending, at most max of them.
 * Returns 0 with *n set, or a negative code. */
int ll_read_model_generations(ll_rm_client_t *c, int64_t *gens, size_t max, size_t *n, ll_error_t *err);

/* Drops the collections of generation (absent is fine). Returns 0 or a negative code. */
int ll_read_model_drop_generation(ll_rm_client_t *c, int64_t generation, ll_error_t *err);

/* Makes to_generation (of this build's layout) active, only if from_generation still is (one
 * guarded update of {_id:"active"}: readers see the old or the new one, never anything else),
 * and records when from_generation retired ({_id:"retired_g<N>", retired_at_us}) for --gc.
 * Returns 0, LL_EINVAL when another switch came first, or LL_EIO. */
int ll_read_model_switch(ll_rm_client_t *c, int64_t from_generation, int64_t to_generation, int64_t now_us,
                         ll_error_t *err);

/* Where projectors resume in the events topic once generation is active
 * ({_id:"resume_g<N>", topic, offsets}): per partition, an offset such that every event the
 * generation lacks is at or after it (ledgerline-rebuild reads the high watermarks before its
 * last catch-up round and records them before it switches). A projector whose committed offset
 * was written for another generation starts its partitions there (ll_projector.c). Returns 0 or
 * LL_EIO. */
int ll_read_model_save_resume(ll_rm_client_t *c, int64_t generation, const char *topic, const int64_t *offsets,
                              int n, ll_error_t *err);

/* Reads what ll_read_model_save_resume recorded for generation and topic into offsets[0..max):
 * *n partitions (0 when nothing was recorded for that topic). Returns 0 or LL_EIO. */
int ll_read_model_resume(ll_rm_client_t *c, int64_t generation, const char *topic, int64_t *offsets, int max,
                         int *n, ll_error_t *err);

/* When generation retired (wall-clock us), or 0 when it has no record. Returns 0 or LL_EIO. */
int ll_read_model_retired_at(ll_rm_client_t *c, int64_t generation, int64_t *retired_at_us, ll_error_t *err);

/* ---- one generation ---- */

typedef struct ll_read_model ll_read_model_t;

/* Opens generation's collections on c (borrowed: it must outlive the read model) and ensures
 * their indexes. NULL with err set on failure. */
ll_read_model_t *ll_read_model_new(ll_rm_client_t *c, int64_t generation, ll_error_t *err);
void ll_read_model_free(ll_read_model_t *rm); /* NULL is fine */

int64_t ll_read_model_generation(const ll_read_model_t *rm);

/* ---- reads (ll_read_model_reads.c) ---- */

/* Statement items (movements), as JSON text, in the order they were added. */
typedef struct ll_rm_items {
    int64_t *versions;
    char **json;
    size_t n, cap;
} ll_rm_items_t;

void ll_rm_items_free(ll_rm_items_t *items);

/* Loads what the read model holds of account id: the account document, then the events of its
 * unsealed pages (one query per page, usually one), applied while their versions follow on.
 * *found is false (and out the empty stream) when there is no account document. When items is
 * not NULL, the movements of those pages up to the state's version are added to it (all below
 * ll_rm_page_first(out->head_page) are in sealed pages). Returns 0 or a negative code. */
int ll_read_model_load(ll_read_model_t *rm, const ll_uuid_t *id, ll_rm_account_t *out, bool *found,
                       ll_rm_items_t *items, ll_error_t *err);

/* What the read model holds of account id if its newest event is `version`: that event's
 * document alone (one _id lookup; it carries the state, the account's lasting fields and the
 * account document's version), or the account document when it is at that version (an event
 * without a document of its own: AccountOpened, or the last of a page sealed with it). *found
 * is false when neither tells (the event is not stored, or not the newest): load instead. The
 * store may hold later events too; a writer that relies on this finds out from a conflict
 * (ll_read_model_writes.h). Returns 0 or a negative code. */
int ll_read_model_probe(ll_read_model_t *rm, const ll_uuid_t *id, int64_t version, ll_rm_account_t *out,
                        bool *found, ll_error_t *err);

/* As ll_read_model_load, the state only. */
int ll_read_model_load_account(ll_read_model_t *rm, const ll_uuid_t *id, ll_account_t *a, bool *found,
                               ll_error_t *err);

/* True in *stored when the read model holds version of account id (an _id lookup or two: the
 * cheap way to wait for a version). Returns 0 or a negative code. */
int ll_read_model_has_version(ll_read_model_t *rm, const ll_uuid_t *id, int64_t version, bool *stored,
                              ll_error_t *err);

/* Calls each(ctx, version, json, len) for the items of sealed page `page` of account id with a
 * version below before, highest first, until each returns nonzero. *found is false when the
 * page is not sealed. Returns 0 or a negative code. */
int ll_read_model_sealed_page(ll_read_model_t *rm, const ll_uuid_t *id, int64_t page, int64_t before,
                              int (*each)(void *ctx, int64_t version, const char *json, uint32_t len),
                              void *ctx, bool *found, ll_error_t *err);

/* last_us of sealed page `page` of account id (one _id lookup in times_g: ll_rm_times.h).
 * *found is false when the page has no time document (not sealed, or sealed by an older
 * build). Returns 0 or a negative code. */
int ll_read_model_page_time(ll_read_model_t *rm, const ll_uuid_t *id, int64_t page, int64_t *last_us,
                            bool *found, ll_error_t *err);

/* ---- whole generations (ledgerline-rebuild's verification reads back what it wrote) ----
 * Each calls each(...) for every document of its collection, in any order, and returns 0, the
 * first nonzero each returned, or a negative code: LL_EINVAL (err says which) for a document
 * that is not ledgerline's. */

/* accounts_g: each account document. */
int ll_read_model_scan_accounts(ll_read_model_t *rm, int (*each)(void *ctx, const ll_rm_account_t *a),
                                void *ctx, ll_error_t *err);

/* events_g: each event document of account at version (e->item and e->account valid during the
 * call only). */
int ll_read_model_scan_events(ll_read_model_t *rm,
                              int (*each)(void *ctx, const ll_uuid_t *account, int64_t version,
                                          const ll_rm_event_t *e),
                              void *ctx, ll_error_t *err);

/* pages_g: each sealed page of account; its items (those that moved money, highest version
 * first) through item(ctx, version, json, len) until item returns nonzero, after page(ctx,
 * account, page) returned 0. */
int ll_read_model_scan_pages(ll_read_model_t *rm, int (*page)(void *ctx, const ll_uuid_t *account, int64_t page),
                             int (*item)(void *ctx, int64_t version, const char *json, uint32_t len),
                             void *ctx, ll_error_t *err);

/* ---- writes (the batch writes: ll_read_model_writes.h) ---- */

/* Writes the account document of a with first unsealed page `page`, only if the stored one is
 * still at prev_version (0: must not exist yet). Returns 0, LL_EINVAL when another writer moved
 * or created it (the caller reloads), or LL_EIO. */
int ll_read_model_save_head(ll_read_model_t *rm, const ll_account_t *a, int64_t page, int64_t prev_version,
                            ll_error_t *err);

/* ---- halted accounts: halts_g<N>, one small document per account an event refused ---- */

#define LL_READ_MODEL_HALTS_MAX 100000 /* read back at start; far more means a systemic fault */

/* Records that account id is halted at version (the refused event's) and why: the halt holds
 * across restarts until a rebuild builds a new generation. Returns 0 or LL_EIO. */
int ll_read_model_save_halt(ll_read_model_t *rm, const ll_uuid_t *id, int64_t version, const char *reason,
                            int64_t at_us, ll_error_t *err);

/* Calls each(ctx, account id text, the refused version) for every halted account (at most
 * LL_READ_MODEL_HALTS_MAX; the collection holds only those). Returns 0, each's nonzero, or a
 * negative code. */
int ll_read_model_halts(ll_read_model_t *rm, int (*each)(void *ctx, const char *account, int64_t version),
                        void *ctx, ll_error_t *err);

#endif
