/* ll_event_reader.h - the one reader of the PostgreSQL event store, for everyone who reads it:
 * the projector (gaps, states of accounts it does not remember), the query API (balance as of T,
 * audit pages, verification, holds), ledgerline-audit and ledgerline-rebuild. The write side
 * (services/ll_store.c) stays with the command service.
 *
 * Each read has one SQL text (ll_event_reader_each_statement lists them, so a test can check
 * that none plans a sequential scan), prepared on first use in the session (lib/ll_pg_prepared).
 * An account's events are read by the (account_id, version) index, a page at a time, so memory
 * stays bounded for a stream of any length.
 *
 * A reader either keeps a connection of its own (the projector: connected on first use and again
 * after it breaks, every plan generic and index-only, LL_PG_PREPARED_SESSION_SQL) or reads on a
 * connection its caller keeps (the query API's worker, the CLIs), whose session settings, statement
 * timeout and transaction are the caller's, and so is re-making it (ll_event_reader_on_reconnect).
 */
#ifndef LL_EVENT_READER_H
#define LL_EVENT_READER_H

#include "ll_account.h"
#include "ll_error.h"
#include "ll_event.h"
#include "ll_hold.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LL_EVENT_READER_PAGE 1000 /* envelopes per statement of ll_event_reader_each */

typedef struct ll_event_reader ll_event_reader_t;

/* A reader with a connection of its own, made when first used (and again after it breaks),
 * statements bounded by statement_timeout_ms. NULL when out of memory. */
ll_event_reader_t *ll_event_reader_new(const char *conninfo, long long statement_timeout_ms);

/* A reader on the caller's connection *conn, read at every call. The caller keeps *conn usable
 * and frees it after the reader; one reader per session (its statements' names are the
 * session's). A caller that re-makes *conn itself calls ll_event_reader_reset. NULL when out of
 * memory. */
ll_event_reader_t *ll_event_reader_on(PGconn **conn);

/* How the caller re-makes *conn once it broke (the query API's pg_ready): 0 with *conn usable,
 * or non-zero with err set. */
typedef int (*ll_event_reconnect_fn)(void *ctx, ll_error_t *err);

/* Gives a reader on the caller's connection the caller's reconnect: before every statement (so
 * between the pages of ll_event_reader_each) a broken *conn is re-made, and a statement that
 * failed because *conn broke under it runs once more on the new one; a page goes on from the
 * last version read (the store is append-only: the answer is the one an uninterrupted read
 * gives). Only for a caller that keeps no transaction across reads: a new session has not its
 * snapshot. */
void ll_event_reader_on_reconnect(ll_event_reader_t *r, ll_event_reconnect_fn reconnect, void *ctx);

/* The caller re-made *conn: what the reader prepared was the old session's. (The new PGconn may
 * sit at the freed one's address, so a pointer compare alone would take the old for the new.) */
void ll_event_reader_reset(ll_event_reader_t *r);

/* How often the reader re-made the caller's connection (ll_event_reader_on_reconnect). */
uint64_t ll_event_reader_reconnects(const ll_event_reader_t *r);

void ll_event_reader_free(ll_event_reader_t *r);

/* Rows the reader's statements returned so far (the query API's metrics). */
uint64_t ll_event_reader_rows(const ll_event_reader_t *r);

/* ---- one account's events -------------------------------------------------------------------- */

/* Which of an account's events: after < version <= to, occurred_at <= as_of_us. */
typedef struct {
    int64_t after;    /* 0: from the opening */
    int64_t to;       /* INT64_MAX: to the end */
    int64_t as_of_us; /* < 0: whenever they occurred */
} ll_event_range_t;

#define LL_EVENT_RANGE_ALL ((ll_event_range_t){0, INT64_MAX, -1})

/* Called with each stored envelope (canonical JSON, exactly as hashed) in version order; return
 * non-zero to stop. */
typedef int (*ll_envelope_fn)(void *ctx, const char *envelope, size_t len);

/* Calls each for the account's envelopes in range, in version order, LL_EVENT_READER_PAGE per
 * statement; stops early when each returns non-zero. Returns how many were passed to each (0: none
 * in range, or no such account), or -1 with err set (the store unreachable). */
int64_t ll_event_reader_each(ll_event_reader_t *r, const ll_uuid_t *account, ll_event_range_t range,
                             ll_envelope_fn each, void *ctx, ll_error_t *err);

/* Decodes into out[0..max) the account's first stored events after version `after`, in version
 * order: at most max of them (the caller asks again from the last for more). Returns how many
 * (0: the store holds nothing later), with *damaged set (and err) when the stored event right
 * after them does not decode (the store itself is damaged, or newer than this build: retrying
 * cannot help); -1 with err set when the store cannot be read. */
int ll_event_reader_after(ll_event_reader_t *r, const ll_uuid_t *account, int64_t after, ll_event_t *out, int max,
                          bool *damaged, ll_error_t *err);

/* Calls each for the envelopes of a transfer's legs (transfer_id), in store order, by the
 * events_transfer index. Returns how many, or -1 with err set. */
int64_t ll_event_reader_transfer(ll_event_reader_t *r, const ll_uuid_t *transfer, ll_envelope_fn each, void *ctx,
                                 ll_error_t *err);

/* Which events a search returns, in store order; a NULL field matches any. Texts as the caller
 * took them (PostgreSQL casts them: a malformed one fails the search). */
typedef struct {
    const char *account;  /* uuid */
    const char *type;     /* an event type's name */
    const char *since;    /* occurred_at >= (RFC 3339) */
    const char *until;    /* occurred_at <= (RFC 3339) */
    const char *transfer; /* uuid */
    const char *actor;    /* the actor exactly */
    int limit;            /* at most this many, counted after every filter */
} ll_event_search_t;

/* Calls each for the envelopes q selects, in store order (global_position), until it returns
 * non-zero (ledgerline-audit events). Returns how many were passed to each, or LL_EINVAL with
 * err set (q->actor cannot be any event's: too long, not UTF-8), or LL_EIO with err set (the
 * store failed, or refused a malformed filter). */
int64_t ll_event_reader_search(ll_event_reader_t *r, const ll_event_search_t *q, ll_envelope_fn each, void *ctx,
                               ll_error_t *err);

/* ---- account_state ------------------------------------------------------------------------- */

/* What the store records of an account's head, written with its events. A column longer than
 * any valid value (a damaged row) keeps one byte more than that, so it equals no valid owner or
 * hash: compared, it differs, as the whole text would. */
typedef struct {
    int64_t version;
    char owner[LL_OWNER_BYTES_MAX + 2];
    char head_hash[LL_HASH_HEX_LEN + 2];
} ll_state_row_t;

/* The account's state row by its primary key. Returns 1 (found), 0 (none), or -1 with err set. */
int ll_event_reader_state_row(ll_event_reader_t *r, const ll_uuid_t *account, ll_state_row_t *out,
                              ll_error_t *err);

/* For each i < n: the state of account ids[i] once its event versions[i] (>= 1) applied, from
 * that event and the account's AccountOpened (ll_account_at): out[i] with found[i] set, or
 * found[i] false when the store lacks either or that event is still in the outbox (not
 * published). One statement.
 * Returns 0, or -1 with err set (the store unreachable, an event undecodable or not of its
 * stream). */
int ll_event_reader_states(ll_event_reader_t *r, const ll_uuid_t *ids, const int64_t *versions, int n,
                           ll_account_t *out, bool *found, ll_error_t *err);

/* Calls row(ctx, account_id text, version) for every account (or only `account`, when not
 * NULL) whose state row was updated at or after since_us (account_state.updated_at_us).
 * Returns how many, or -1 with err set (or row's non-zero return as an error already in err). */
int64_t ll_event_reader_moved_since(ll_event_reader_t *r, int64_t since_us, const ll_uuid_t *account,
                                    int (*row)(void *ctx, const char *account_id, int64_t version, ll_error_t *err),
                                    void *ctx, ll_error_t *err);

/* An account_state row as reconcile compares it with the read model. */
typedef struct {
    char account_id[LL_UUID_TEXT_LEN + 1];
    int64_t version, balance_minor, held_minor, overdraft_limit_minor;
    char status[16]; /* as stored: "open", "closed" */
    bool frozen;
} ll_state_figures_t;

/* Every state row (or only `account`'s, when not NULL) in account order, one at a time (a
 * million accounts need not be held at once): row(ctx, figures) per row; a non-zero return
 * stops the read (the rest cancelled). A schema before migration 0004 has no held_minor or
 * frozen: nothing was held or frozen there, so they read as 0 and false. Returns 0, or -1 with
 * err set (the store failed; rows before it were passed). */
int ll_event_reader_each_state(ll_event_reader_t *r, const ll_uuid_t *account,
                               int (*row)(void *ctx, const ll_state_figures_t *s), void *ctx, ll_error_t *err);

/* How many state rows (or only `account`'s) there are, and the sum of their versions (the
 * events of their streams): the totals of a progress line. Returns 0, or -1 with err set. */
int ll_event_reader_state_totals(ll_event_reader_t *r, const ll_uuid_t *account, int64_t *accounts,
                                 int64_t *events, ll_error_t *err);

/* ---- holds (the holds table, written with the hold's events: current) ------------------------- */

/* A hold with the owner of its account, kept as ll_state_row_t keeps one (a damaged longer one
 * equals no valid owner). placed_by is not read (""): no reader here shows it. settled_at_us is 0
 * while the hold is open (its column NULL). */
typedef struct {
    ll_hold_t hold;
    char owner[LL_OWNER_BYTES_MAX + 2];
} ll_hold_row_t;

/* The hold by its primary key, and its account's owner by account_state's. Returns 1 (found), 0
 * (no such hold, or its account has no state row), or -1 with err set (the store failed, or the
 * row is damaged: a reference longer than any command gives). */
int ll_event_reader_hold(ll_event_reader_t *r, const ll_uuid_t *hold, ll_hold_row_t *out, ll_error_t *err);

/* One page of an account's open holds, in one statement (one snapshot): its owner into owner (as
 * ll_hold_row_t keeps it) and each(ctx, hold) for at most max of its open holds placed after
 * version `after`, oldest placed first (placed_version; a non-zero return stops the calls), by
 * account_state's primary key and the partial index holds_account_open: the rows it returns are
 * the rows it reads. Returns how many holds were passed to each (0: none after `after`),
 * LL_ENOENT when the account has no state row (owner ""), or LL_EIO with err set (the store
 * failed, or a row is damaged). */
int64_t ll_event_reader_open_holds(ll_event_reader_t *r, const ll_uuid_t *account, int64_t after, int64_t max,
                                   char owner[LL_OWNER_BYTES_MAX + 2], int (*each)(void *ctx, const ll_hold_t *h),
                                   void *ctx, ll_error_t *err);

/* ---- the whole store (rebuild), inside the caller's transaction ------------------------------ */

/* The store's last global position (0: empty). Returns 0, or -1 with err set. */
int ll_event_reader_head(ll_event_reader_t *r, int64_t *position, ll_error_t *err);

/* How many events up to global position `upto` (of `account` only, when not NULL). Returns 0,
 * or -1 with err set. */
int ll_event_reader_count(ll_event_reader_t *r, int64_t upto, const ll_uuid_t *account, int64_t *n,
                          ll_error_t *err);

/* Streams the events up to global position `upto` (of `account` only, when not NULL) in account
 * and version order through a cursor (the caller has opened a transaction: a REPEATABLE READ
 * snapshot makes every stream of it the same): row(ctx, account_id text, envelope, len) per
 * event, then page(ctx, rows) (may be NULL) after every fetch, 0 rows at the end. Returns 0, or
 * -1 with err set (or row's non-zero return, err set by it). */
int ll_event_reader_stream(ll_event_reader_t *r, int64_t upto, const ll_uuid_t *account,
                           int (*row)(void *ctx, const char *account_id, const char *envelope, size_t len,
                                      ll_error_t *err),
                           void (*page)(void *ctx, int rows), void *ctx, ll_error_t *err);

/* Every stream of the store (or only `account`'s, when not NULL) in account and version order,
 * one row at a time (the store need not fit in memory; one statement, so one snapshot):
 * row(ctx, account_id text, envelope, len, head_hash, head_version) per event, with what the
 * account's state row records ("" and 0 when it has none; audit's verify). A non-zero return of
 * row stops the calls (the rest is drained). Returns 0, or -1 with err set (the store failed;
 * rows before it were passed). */
int ll_event_reader_each_with_head(ll_event_reader_t *r, const ll_uuid_t *account,
                                   int (*row)(void *ctx, const char *account_id, const char *envelope, size_t len,
                                              const char *head_hash, int64_t head_version),
                                   void *ctx, ll_error_t *err);

/* Calls fn with the name and text of every statement a reader runs (tests check their plans),
 * prepared or not yet. */
void ll_event_reader_each_statement(void (*fn)(const char *name, const char *sql, void *ctx), void *ctx);

#endif
