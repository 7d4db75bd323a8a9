/* ll_read_model_writes.h - the writes that bring accounts of the read model forward by some
 * events, planned in memory and executed on one connection with a handful of commands.
 *
 * For each account, from what the read model holds (`before`, as loaded or as the writer
 * remembers it) and the events that follow:
 *   - events_g: one document per event of the page the account ends in (an event of a page
 *     sealed by the same call needs none: the page holds it);
 *   - pages_g:  every page that became complete, with its items (a page begun before these
 *     events gets its earlier items from what the caller remembers of it, else from events_g:
 *     one query);
 *   - accounts_g: the account document, when the account is new (insert) or a page sealed
 *     (update guarded by the version `before` says it is at), at ll_rm_head_version of where
 *     the account ends.
 * Executed in that order, so a reader never finds an account document ahead of what its
 * pages and events hold. Every document is written whole and derives from the events alone, so
 * running the same writes again (after a crash, by a second writer) changes nothing. A conflict
 * is an account further along than `before` said: an account document another writer moved
 * (never overwritten), or one of the planned events already stored; or behind it: a page to
 * seal misses an earlier version (the page is not sealed and the account document stays). The
 * caller resolves it by loading the account again and replanning.
 */
#ifndef LL_READ_MODEL_WRITES_H
#define LL_READ_MODEL_WRITES_H

#include "ll_read_model.h"

typedef struct ll_rm_writes ll_rm_writes_t;

/* NULL when out of memory. */
ll_rm_writes_t *ll_rm_writes_new(void);
void ll_rm_writes_free(ll_rm_writes_t *w);

/* Forgets every planned write. */
void ll_rm_writes_clear(ll_rm_writes_t *w);

/* Plans the writes that take one account from *before through events[0..n) (in version order,
 * the first right after before->state.version; each must evolve). known (NULL: none) are the
 * items of before's open page the caller remembers; used only when they run through before's
 * version. *after receives what the read model will hold once they are executed. tag is the
 * caller's, handed back on a conflict. Returns 0, or LL_EINVAL (an event does not follow:
 * nothing planned) or LL_ENOMEM. */
int ll_rm_writes_add(ll_rm_writes_t *w, const ll_rm_account_t *before, const ll_rm_page_items_t *known,
                     const ll_event_t *events, size_t n, ll_rm_account_t *after, int tag, ll_error_t *err);

/* Executes the planned writes on rm. conflict(ctx, tag) is called once for each account that
 * was further along than planned: its document moved or created by another writer meanwhile
 * (not written), or events already stored (written again, the same). Returns 0 (conflicts
 * included) or a negative code; the plan stays, for the caller to clear. */
int ll_rm_writes_execute(ll_rm_writes_t *w, ll_read_model_t *rm, void (*conflict)(void *ctx, int tag),
                         void *ctx, ll_error_t *err);

/* Documents planned: events_g, pages_g, accounts_g. */
void ll_rm_writes_counts(const ll_rm_writes_t *w, size_t *events, size_t *pages, size_t *heads);

/* Of the pages sealed by the last execute, those whose earlier items were read back from
 * events_g (not known to the caller). */
size_t ll_rm_writes_seal_reads(const ll_rm_writes_t *w);

#endif
