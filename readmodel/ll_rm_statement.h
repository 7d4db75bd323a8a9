/* ll_rm_statement.h - one statement page read from the read model (GET
 * /v1/accounts/{id}/transactions): the walk over an account's pages, newest first.
 *
 * The newest items come with the account's state (its unsealed pages, ll_read_model_load's
 * items), older ones from sealed pages, one _id lookup per page. By time (from, to) the
 * window's pages are found from their times (ll_statement_filter.h's search over times_g); by
 * type, items of other types are passed over. A request reads at most
 * LL_RM_STATEMENT_PAGES_MAX sealed pages and says where it stopped (the next cursor).
 */
#ifndef LL_RM_STATEMENT_H
#define LL_RM_STATEMENT_H

#include "ll_read_model.h"
#include "ll_statement_filter.h"

#include <stdbool.h>
#include <stdint.h>

/* One statement request reads at most this many sealed pages (32 versions each): a page whose
 * versions moved no money (holds placed, limits set) or none of the types asked for costs a read
 * all the same, so a request stops there and its next_cursor goes on from where it stopped. A
 * page may then hold fewer items than limit, even none, with a next_cursor. */
#define LL_RM_STATEMENT_PAGES_MAX 64

typedef struct {
    const ll_stmt_filter_t *filter; /* what the page takes (by time and type); never NULL */
    int64_t cursor;                 /* versions below it; <= 0: from the newest */
    int64_t limit;                  /* items on the page */
    /* Each item the page takes, newest first (json is not terminated). Returns 0. */
    void (*take)(void *ctx, int64_t version, const char *json, uint32_t len);
    void *ctx;
} ll_rm_statement_query_t;

typedef struct {
    int64_t count, last_version; /* items taken; the oldest one's version */
    bool more;                   /* an item past limit exists: the next page starts below last_version */
    int64_t stopped_at;          /* > 1: the walk stopped there with pages left: the next cursor */
    bool bad;                    /* an item is not a statement item: the read model is not ours */
    int probes;                  /* times_g lookups made */
    bool unindexed;              /* ... one found a page without a time document (walked instead) */
} ll_rm_statement_t;

/* Walks the statement page of acc (as loaded, with open, the items of its unsealed pages:
 * sorted here, newest first). Returns 0 with *out set (out->bad included), or a negative code
 * (the read store failed, or a sealed page is missing). */
int ll_read_model_statement(ll_read_model_t *rm, const ll_rm_account_t *acc, ll_rm_items_t *open,
                            const ll_rm_statement_query_t *q, ll_rm_statement_t *out, ll_error_t *err);

#endif
