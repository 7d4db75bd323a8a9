/* ll_read_model_docs.h - the shapes of the read-model documents (docs/read-side.md): built from
 * events and states, and read back. Pure: BSON in memory, no I/O.
 *
 * Three collections per generation N, every one read by _id or by one indexed tag:
 *   accounts_g<N>  the account document ("head"): _id = account id, the state at the version it
 *                  was last written at, and `page`, the first page not yet sealed (ll_rm_open_page of its
 * version). Written when the account opens and when a page seals: once per LL_READ_MODEL_PAGE_VERSIONS
 *                  events, not per event.
 *   events_g<N>    one small document per event after AccountOpened: _id = "<account>:<version>",
 *                  `page` = "<account>:<page>" (the tag one query reads an open page by), the
 *                  state after the event, `account` (what never changes: owner, currency, ...,
 *                  as JSON text) and `head` (the version of the account document once this
 *                  event was written), so the newest event alone tells all the read model
 *                  holds; and `item`, the event's statement item as JSON text when it moves
 *                  money. Written once; the same event always makes the same document (as long
 *                  as the account document moves only with page seals), so writing it again is
 *                  harmless.
 *   pages_g<N>     a sealed page: _id = "<account>:<page>", `items` = the statement items of
 *                  its LL_READ_MODEL_PAGE_VERSIONS versions, in version order ("" for a version
 *                  that moved no money). Written once, when the page's last version is stored.
 * Page k of an account holds versions [k*P, (k+1)*P), P = LL_READ_MODEL_PAGE_VERSIONS.
 * Why this shape: on the local FerretDB an update costs ~20x an insert and every field read
 * costs CPU, so the hot path inserts one small document per event and statements read
 * pre-rendered items, one field each.
 */
#ifndef LL_READ_MODEL_DOCS_H
#define LL_READ_MODEL_DOCS_H

#include "ll_rm_layout.h"

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The account document of a (state, first unsealed page): every field of ll_account_t, with
 * held_minor and frozen. Caller destroys. */
bson_t *ll_rm_head_doc(const ll_account_t *a, int64_t page);

/* Reads an account document; one written before holds and freezes (no held_minor, frozen)
 * reads as 0 / false. Returns 0, or -1 when it is not one of ours (figures no account can have
 * included: held or limit below 0, available below the floor). */
int ll_rm_head_parse(const bson_t *doc, ll_rm_account_t *out);

/* The events_g document of ev, with after = the state once ev applied and head_version the
 * account document's version once the write that stores ev is done. Caller destroys. */
bson_t *ll_rm_event_doc(const ll_event_t *ev, const ll_account_t *after, int64_t head_version);

/* The same from the state after the event and its item (NULL when no money moved): for
 * writers that render the item once for a page and a document. Caller destroys. */
bson_t *ll_rm_event_doc_of(const ll_account_t *after, const char *item, int64_t head_version);

/* Reads an events_g document (ll_rm_event_t: ll_rm_layout.h). Returns 0, or -1 when doc is not
 * one of ours. */
int ll_rm_event_parse(const bson_t *doc, ll_rm_event_t *out);

/* The pages_g document of page `page` of account: items[i] is the item JSON of version
 * page*P + i, NULL or "" when that version moved no money. Caller destroys. */
bson_t *ll_rm_page_doc(const ll_uuid_t *account, int64_t page,
                       const char *const items[LL_READ_MODEL_PAGE_VERSIONS]);

/* Calls each(ctx, version, json, len) for the items of a pages_g document, highest version
 * first, from versions below before (INT64_MAX: all); stops when each returns nonzero. Returns
 * 0, or -1 when doc is not one of ours (page is then unknown). */
int ll_rm_page_items(const bson_t *doc, int64_t page, int64_t before,
                     int (*each)(void *ctx, int64_t version, const char *json, uint32_t len), void *ctx);

#endif
