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

#include "ll_account.h"
#include "ll_event.h"

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Versions per page. Part of the stored layout: changing it needs a rebuild. */
#define LL_READ_MODEL_PAGE_VERSIONS 32

/* "<account>:<n>" */
#define LL_RM_KEY_LEN (LL_UUID_TEXT_LEN + 1 + 20)

/* A statement item's JSON text is at most this long (the reference dominates, escaped: 140
 * control bytes from a decoded event are 840 as \u00XX; with every optional field of a capture
 * to another account that is a payment's, ~1450). */
#define LL_RM_ITEM_JSON_MAX 2048

/* An account as the read model holds it. */
typedef struct ll_rm_account {
    ll_account_t state;   /* at the newest version stored */
    int64_t head_version; /* the version its account document was written at; 0: none yet */
    int64_t head_page;    /* the account document's first page not sealed */
} ll_rm_account_t;

/* The statement items of an account's open page that a writer remembers (it wrote them), so
 * that sealing the page needs no read of events_g. Packed for memory: for every version from
 * the page's first (1 on page 0) through `through`, a 2-byte length (0: no money moved) and
 * that much JSON. page < 0: nothing remembered. */
typedef struct ll_rm_page_items {
    int64_t page, through;
    char *packed; /* owned */
    size_t len;
} ll_rm_page_items_t;

#define LL_RM_PAGE_ITEMS_NONE ((ll_rm_page_items_t){-1, 0, NULL, 0})

void ll_rm_page_items_clear(ll_rm_page_items_t *items); /* frees, and sets LL_RM_PAGE_ITEMS_NONE */

/* Brings items to the page open once events[0..n) (contiguous, in order) apply to an account at
 * version before_version: extended when they are that page through before_version, or built
 * from the events when these hold all of the page's versions. Returns 0; or -1 (items
 * cleared) when the page's earlier items are not known, or out of memory. */
int ll_rm_page_items_next(ll_rm_page_items_t *items, int64_t before_version, const ll_event_t *events, size_t n);

/* Calls each(ctx, version, json, len) for every version of items that moved money, in order.
 * Returns 0 or the first nonzero each returned. */
int ll_rm_page_items_each(const ll_rm_page_items_t *items,
                          int (*each)(void *ctx, int64_t version, const char *json, size_t len), void *ctx);

static inline int64_t ll_rm_page_of(int64_t version) {
    return version / LL_READ_MODEL_PAGE_VERSIONS;
}
static inline int64_t ll_rm_page_first(int64_t page) {
    return page * LL_READ_MODEL_PAGE_VERSIONS;
}
/* The first page not complete at version: every page below it is sealed once version is. */
static inline int64_t ll_rm_open_page(int64_t version) {
    return ll_rm_page_of(version + 1);
}

/* The version an account's document stands at once its newest stored event is `version`: the
 * last version of its last sealed page, or 1 (AccountOpened) while page 0 is open. A function of
 * the version alone, so every writer writes the same documents for the same events, and a writer
 * knows what the document holds without reading it. (A document some writer left behind, one
 * written before this rule, or one of a page never sealed is found by the guarded update.) */
static inline int64_t ll_rm_head_version(int64_t version) {
    int64_t sealed_through = ll_rm_page_first(ll_rm_open_page(version)) - 1;
    return sealed_through > 1 ? sealed_through : 1;
}

/* "<account>:<n>" into out. */
void ll_rm_key(const ll_uuid_t *account, int64_t n, char out[LL_RM_KEY_LEN + 1]);

/* Parses "<account>:<n>". Returns 0, or -1 when key is not one of ours. */
int ll_rm_key_parse(const char *key, ll_uuid_t *account, int64_t *n);

/* The statement item of a movement event as compact JSON (the API's Transaction object:
 * event_id, account_id, version, type, amount_minor, currency, balance_after_minor, reference,
 * occurred_at; then, when they apply, transfer_id and counterparty_account_id (transfer legs,
 * a capture to another account), payment_id (a payment's legs), hold_id and released_minor (a
 * HoldCaptured, whose amount_minor is what it took)). Returns its length, or -1 when ev is no
 * movement (hold placements, releases, expiries, limits, freezes are not statement lines) or
 * out is too small. */
int ll_rm_item_json(const ll_event_t *ev, char *out, size_t size);

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

/* What an events_g document says. item and account point into the document (valid while it
 * lives). The figures after the event: held_minor, overdraft_limit_minor and frozen are written
 * only when not 0 / false, and read as 0 / false when absent (as every document of a build
 * before them). */
typedef struct {
    int64_t version, balance_minor, updated_at_us, head_version;
    int64_t held_minor, overdraft_limit_minor;
    bool frozen;
    ll_account_status_t status;
    char hash[LL_HASH_HEX_LEN + 1];
    const char *item; /* NULL: no money moved */
    uint32_t item_len;
    const char *account; /* JSON text: owner, currency, opened_at_us, overdraft_limit_minor (for
                            older readers; this build takes the limit from the figures above) */
    uint32_t account_len;
} ll_rm_event_t;

/* Returns 0, or -1 when doc is not one of ours. */
int ll_rm_event_parse(const bson_t *doc, ll_rm_event_t *out);

/* Applies what an events_g document says to a (its next version). */
void ll_rm_event_apply(ll_account_t *a, const ll_rm_event_t *e);

/* What the read model holds of account id as its newest event's document e tells it (the
 * account's lasting fields from e's `account`). Returns 0, or -1 when they do not parse. */
int ll_rm_event_account(const ll_uuid_t *id, const ll_rm_event_t *e, ll_rm_account_t *out);

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
