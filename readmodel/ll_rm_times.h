/* ll_rm_times.h - the time index of sealed statement pages (statements by time, issue #33).
 *
 * One small document per sealed page, in times_g<N>, written with the page:
 *   _id = "<account>:<page>", last_us = occurred_at of the page's last version (32k+31).
 * An account's events are appended with non-decreasing occurred_at (the command service never
 * stamps an event earlier than the account's last one), so last_us does not decrease with the
 * page, and page k's events lie in [last_us(k-1), last_us(k)]. A reader finds the pages of a
 * time window by a search over pages probed by _id (ll_stmt_search, ll_statement_filter.h; the
 * page walk: ll_rm_statement.h), ll_read_model_page_time (ll_read_model.h): the only query
 * shape, served by the _id index on both stores (FerretDB v1 pushes down nothing but a
 * top-level equality). Why a document of its own rather than a field of the page: a probe
 * reads ~60 bytes instead of a TOASTed ~8 KB page of 32 items.
 *
 * Pages sealed by a build before this one have no such document: readers then fall back to
 * walking pages newest first (correct, bounded per request, not indexed) until
 * `ledgerline-rebuild` builds a generation with them.
 */
#ifndef LL_RM_TIMES_H
#define LL_RM_TIMES_H

#include "ll_rm_store.h"

#include <stdbool.h>
#include <stdint.h>

/* The times_g document of page `page` of account. Caller destroys. */
bson_t *ll_rm_time_doc(const ll_uuid_t *account, int64_t page, int64_t last_us);

/* Reads a times_g document: last_us of the page. Returns 0, or -1 when doc is not one of ours. */
int ll_rm_time_parse(const bson_t *doc, int64_t *last_us);

/* Inserts docs[0..n) into times_g (duplicates are the same document). Returns 0 or LL_EIO. */
int ll_read_model_insert_times(ll_read_model_t *rm, const bson_t *const *docs, size_t n, ll_error_t *err);

#endif
