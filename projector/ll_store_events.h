/* ll_store_events.h - the event store, read by the projector only to close a gap: events of an
 * account that the topic skipped (lost, or still to be published again after a failed delivery)
 * are read from PostgreSQL, the source of truth, by the (account_id, version) index. */
#ifndef LL_STORE_EVENTS_H
#define LL_STORE_EVENTS_H

#include "ll_error.h"
#include "ll_event.h"

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

#endif
