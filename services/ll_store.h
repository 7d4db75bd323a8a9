/* ll_store.h - the write side of the event store: executes commands against PostgreSQL.
 *
 * ll_store_execute runs a batch of commands in ONE transaction (group commit: one fsync for
 * many commands when load is high):
 *   1. claim each Idempotency-Key (in key order); a key already answered replays that answer,
 *      the same key with another request fingerprint is refused (422);
 *   2. find the account of each hold a capture, release or expiry names (a hold never changes
 *      account), then lock every touched account's state row, in account-id order (no deadlocks
 *      between batches, so two opposite transfers cannot block each other), then read the holds
 *      (the account's lock serializes every change to its holds);
 *   3. decide each command in arrival order with domain/ (a batch may touch one account twice);
 *   4. append the sealed events, their outbox rows, the new states, the holds and the responses;
 *      NOTIFY.
 * If the transaction fails, each command is retried alone (bounded), so one bad command never
 * fails its neighbours; a UNIQUE (account_id, version) conflict reloads and retries. Every write
 * leaves with a response: accepted, rejected, replayed, or 503 when the database is unavailable.
 */
#ifndef LL_STORE_H
#define LL_STORE_H

#include "ll_error.h"
#include "ll_write.h"

#include <stddef.h>
#include <stdint.h>

#define LL_STORE_BATCH_MAX 64 /* commands per transaction: bounds statement size and lock sets */
#define LL_STORE_RETRIES   3  /* attempts per command after a failed batch */

typedef struct ll_store ll_store_t;

/* Connects and checks the schema version; every statement is bounded by statement_timeout_ms
 * (the request deadline; 0: none). An Idempotency-Key answered more than retention_s ago is a
 * new command's (whether or not it was pruned yet). Returns NULL with err set. Caller
 * ll_store_close()s. */
ll_store_t *ll_store_open(const char *conninfo, long long statement_timeout_ms, long long retention_s,
                          ll_error_t *err);
void ll_store_close(ll_store_t *s);

/* Executes writes[0..n) (n <= LL_STORE_BATCH_MAX); each gets status and response. Reconnects
 * when the connection broke. Never fails as a whole. */
void ll_store_execute(ll_store_t *s, ll_write_t *const *writes, size_t n);

/* Where a page of due holds ends: the last (expires_at, hold_id) returned. */
typedef struct ll_hold_cursor {
    int64_t expires_at_us;
    ll_uuid_t hold_id;
} ll_hold_cursor_t;

/* The first sweep page starts before every hold. */
#define LL_HOLD_CURSOR_START ((ll_hold_cursor_t){0, {{0}}}) /* 1970: before every expiry */

/* The open holds whose expires_at is at or before now_us and after *after in (expires_at,
 * hold_id) order, at most max, into ids; *after moves to the last one (the expiry sweep's pages,
 * served by the partial index holds_open_expiry_id: holds it cannot expire never hide later
 * ones). Returns how many, or -1 with err set (the database unavailable). Outside any
 * transaction. */
int ll_store_due_holds(ll_store_t *s, int64_t now_us, ll_hold_cursor_t *after, ll_uuid_t *ids, size_t max,
                       ll_error_t *err);

/* Calls fn with the name and text of every statement the store has prepared on its current
 * connection (tests check their plans). */
void ll_store_each_statement(const ll_store_t *s, void (*fn)(const char *name, const char *sql, void *ctx),
                             void *ctx);

/* Failed database attempts so far (conflicts retried included); any thread may read it. */
uint64_t ll_store_errors(ll_store_t *s);

/* True when the last attempt reached the database (for /readyz). */
int ll_store_healthy(const ll_store_t *s);

#endif
