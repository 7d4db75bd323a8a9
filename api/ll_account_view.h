/* ll_account_view.h - the query API's in-memory view of account states, kept current by the
 * events topic (ll_event_tail.h) and filled lazily from the MongoDB read model.
 *
 * Why: a read through the read store costs milliseconds and serialises on it; an account GET
 * served from memory costs microseconds, and a min_version waiter can be woken by the event
 * itself instead of polling. The read model stays the store of record for the read side; this
 * is a cache that must never be staler than it without knowing it.
 *
 * How it stays correct. Every account the tail has seen since it started has an entry, with the
 * highest version seen (seen_version), whether or not the entry holds a state:
 *   - the tail applies an event to a held state with ll_account_evolve (the function every other
 *     part folds with); a duplicate is skipped; a gap or a refused event drops the state (the
 *     next read goes to the read model) and never guesses;
 *   - a fill from the read model (a document at version v) is taken only when v >= seen_version:
 *     a document behind what the tail has already passed would miss those events forever;
 *   - an account whose first event (AccountOpened, version 1) the tail sees is held from it:
 *     its whole stream passes the tail, so the fold is what a rebuild would make.
 * The tail starts at the offsets the projector has committed, so every event not yet in the
 * read model when the tail started is still ahead of the tail. Together: once held, a state
 * receives every later event. Fills are refused until ll_account_view_set_ready.
 * A fill from a newer read-model generation drops every held state (a rebuild may have
 * corrected them); fills from an older generation are ignored.
 *
 * Bounded: at most accounts_max entries. When full, new accounts get no entry and are served
 * from the read model (counted as saturated); entries are never evicted, since a forgotten
 * seen_version would make a later fill unsafe.
 *
 * Thread-safe: one mutex; the tail applies a whole batch under it and wakes waiters once.
 */
#ifndef LL_ACCOUNT_VIEW_H
#define LL_ACCOUNT_VIEW_H

#include "ll_account.h"
#include "ll_event.h"
#include "ll_recent_movements.h"
#include "ll_text.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ll_account_view ll_account_view_t;

typedef enum {
    LL_VIEW_MISS = 0, /* no usable state: ask the read model */
    LL_VIEW_HIT,      /* state copied out, at or above the version asked for */
    LL_VIEW_BEHIND,   /* state held but below the version asked for (it may still arrive) */
} ll_view_result_t;

typedef struct {
    uint64_t entries, states, hits, misses, fills, fills_refused, applied, duplicates, dropped, saturated;
    uint64_t untracked; /* events of accounts the tail could not track (the view was full) */
    uint64_t statement_hits, statement_misses, recent_fills, recent_evicted, recent_accounts, recent_bytes;
    int64_t generation;
    int ready;
} ll_account_view_stats_t;

/* accounts_max >= 1; movements_bytes_max: memory for the newest movements of accounts (0:
 * none). Returns NULL when out of memory. */
ll_account_view_t *ll_account_view_create(size_t accounts_max, size_t movements_bytes_max);
void ll_account_view_destroy(ll_account_view_t *v);

/* The tail reached its start offsets: fills are accepted from now on. */
void ll_account_view_set_ready(ll_account_view_t *v);

/* Where the tail read an event: partition and offset in the events topic. */
typedef struct {
    int32_t partition;
    int64_t offset;
} ll_view_position_t;

/* Applies the tail's events (in topic order per account), then wakes waiters. at[i] (at may be
 * NULL: not known) is where events[i] was read. */
void ll_account_view_apply_at(ll_account_view_t *v, const ll_event_t *events, const ll_view_position_t *at,
                              size_t n);
void ll_account_view_apply(ll_account_view_t *v, const ll_event_t *events, size_t n); /* at NULL */

/* What the tail has seen of an account, for a wait on the read store (ll_query_api.c): */
typedef enum {
    LL_SEEN_UNKNOWN = -1, /* the view cannot tell (not ready, full, or where it was read unknown) */
    LL_SEEN_NEVER = 0,    /* no event of it since the tail started */
    LL_SEEN_AT = 1,       /* *version is the highest it has seen, read at *at */
} ll_view_seen_t;

/* The tail starts at the projector's committed offsets: a version above what it has seen is
 * not in the read model unless the projector is ahead of the tail, and one it has seen is there
 * once the projector's group has committed past *at. */
ll_view_seen_t ll_account_view_seen(ll_account_view_t *v, const ll_uuid_t *id, int64_t *version,
                                    ll_view_position_t *at);

/* Copies the state of id into *out when it is held and its version >= min_version (-1: any). */
ll_view_result_t ll_account_view_get(ll_account_view_t *v, const ll_uuid_t *id, int64_t min_version,
                                     ll_account_t *out);

/* Offers a state read from read-model generation generation; taken or refused by the rules
 * above. */
void ll_account_view_fill(ll_account_view_t *v, int64_t generation, const ll_account_t *a);

void ll_account_view_stats(ll_account_view_t *v, ll_account_view_stats_t *out);

/* Copies id's held state into *out and returns 1, or returns 0 when none is held; counts no
 * lookup. Statement reads use it to wait until the read model has what a GET of the account
 * may already have shown. */
int ll_account_view_peek(ll_account_view_t *v, const ll_uuid_t *id, ll_account_t *out);

/* ---- statements ----
 * Besides its state, the view may hold an account's newest movements (ll_recent_movements.h),
 * under one memory budget, the least recently used forgotten first. They always end at the
 * held state's version: an account held from its AccountOpened holds its whole history from
 * the start; the tail adds each movement it applies; anything that replaces or drops the state
 * forgets them; a statement read from the read model offers what it read. */

/* Offers the movements a statement read from read-model generation generation found for id
 * at state version `version`: versions[i]/json[i] newest first, complete when they are the
 * whole history (else every movement from versions[n-1] on). Taken only when the view holds
 * id at exactly that version. */
void ll_account_view_fill_movements(ll_account_view_t *v, int64_t generation, const ll_uuid_t *id,
                                    int64_t version, const int64_t *versions, const char *const *json,
                                    size_t n, int complete);

/* Appends to body id's statement page (movements below before, newest first, at most limit;
 * the API's JSON) and returns 1 when the view holds what it takes and owner_scope ("" or the
 * customer's subject) may see the account; else returns 0 with body untouched. */
int ll_account_view_statement(ll_account_view_t *v, const ll_uuid_t *id, const char *owner_scope,
                              int64_t before, int64_t limit, ll_text_t *body);

#endif
