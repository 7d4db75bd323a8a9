/* ll_store_events.h - the event store, read by the projector by the (account_id, version)
 * index: to close a gap (events of an account that the topic skipped: lost, or still to be
 * published again after a failed delivery), and for the state of accounts it does not remember
 * (one query for a whole batch, where the read model can answer only one account per query). */
#ifndef LL_STORE_EVENTS_H
#define LL_STORE_EVENTS_H

#include "ll_account.h"
#include "ll_error.h"
#include "ll_event.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ll_store_events ll_store_events_t;

/* A reader that connects when first used (and again after the connection breaks). NULL when out
 * of memory. */
ll_store_events_t *ll_store_events_new(const char *conninfo, long long statement_timeout_ms);
void ll_store_events_free(ll_store_events_t *s);

/* Decodes into out[0..max) the account's stored events with after < version < before, in version
 * order. Returns how many, or -1 with err set (the store unreachable, an event undecodable, or
 * more than max of them). */
int ll_store_events_between(ll_store_events_t *s, const ll_uuid_t *account, int64_t after, int64_t before,
                            ll_event_t *out, int max, ll_error_t *err);

/* Decodes into out[0..max) the account's first stored events after version `after`, in version
 * order: at most max of them (the caller asks again from the last for more). Returns how many
 * (0: the store holds nothing later), with *damaged set (and err) when the stored event right
 * after them does not decode (the store itself is damaged, or newer than this build: retrying
 * cannot help); -1 with err set when the store cannot be read. */
int ll_store_events_after(ll_store_events_t *s, const ll_uuid_t *account, int64_t after, ll_event_t *out, int max,
                          bool *damaged, ll_error_t *err);

/* For each i < n: the state of account ids[i] once its event versions[i] (>= 1) applied, from
 * that event and the account's AccountOpened (ll_account_at): out[i] with found[i] set, or
 * found[i] false when the store lacks either or that event is still in the outbox (not
 * published). One statement, prepared once per session.
 * Returns 0, or -1 with err set (the store unreachable, an event undecodable or not of its
 * stream). */
int ll_store_events_states(ll_store_events_t *s, const ll_uuid_t *ids, const int64_t *versions, int n,
                           ll_account_t *out, bool *found, ll_error_t *err);

/* Calls fn with the name and text of every statement prepared on the current connection
 * (tests check their plans). */
void ll_store_events_each_statement(const ll_store_events_t *s,
                                    void (*fn)(const char *name, const char *sql, void *ctx), void *ctx);

#endif
