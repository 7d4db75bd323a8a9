/* ll_rm_builder.h - writes a fresh read-model generation from folded events, streaming, on
 * several connections at once (ledgerline-rebuild).
 *
 * The caller folds each account's events in version order (accounts may interleave) and hands
 * over each applied event with the state after it; the builder keeps, per account, only the
 * documents of the page in progress. A page that fills is written as one pages_g document;
 * when the caller is done with an account, its page in progress goes to events_g and its
 * account document is written. So a generation costs about one document per page of history
 * plus the open page, not one per event. Only inserts: the generation is new, and nobody else
 * writes it until it is switched to.
 */
#ifndef LL_RM_BUILDER_H
#define LL_RM_BUILDER_H

#include "ll_account.h"
#include "ll_error.h"
#include "ll_event.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ll_rm_builder ll_rm_builder_t;

/* The page in progress of one account (the caller keeps a pointer per account, NULL at first). */
typedef struct ll_rm_page_buf ll_rm_page_buf_t;

/* Writes generation of database on writers connections (1..16). NULL with err set on failure. */
ll_rm_builder_t *ll_rm_builder_start(const char *mongo_uri, const char *database, int64_t generation,
                                     int writers, ll_error_t *err);

/* ev was applied; after is the account's state once it was. Returns 0 or a negative code (an
 * earlier write failed, or out of memory). */
int ll_rm_builder_event(ll_rm_builder_t *b, ll_rm_page_buf_t **buf, const ll_event_t *ev,
                        const ll_account_t *after, ll_error_t *err);

/* The account is complete at state a: writes its page in progress and its account document,
 * frees *buf. Returns 0 or a negative code. */
int ll_rm_builder_account(ll_rm_builder_t *b, ll_rm_page_buf_t **buf, const ll_account_t *a, ll_error_t *err);

/* Drops an account's page in progress without writing it (its events do not replay). */
void ll_rm_builder_forget(ll_rm_page_buf_t **buf);

/* Writes what is pending, waits until every write landed, frees b. Returns 0 or the first
 * error. */
int ll_rm_builder_finish(ll_rm_builder_t *b, ll_error_t *err);

/* Documents written so far: events_g, pages_g, accounts_g. */
void ll_rm_builder_counts(const ll_rm_builder_t *b, size_t *events, size_t *pages, size_t *accounts);

#endif
