/* ll_rm_layout.h - what the read model holds, in C: pages, statement items and accounts as
 * stored (the document shapes themselves: ll_read_model_docs.h; why: docs/read-side.md). Pure:
 * no BSON, no I/O. Everything above readmodel/ that needs the page arithmetic or an item's
 * JSON uses this header, never the documents.
 */
#ifndef LL_RM_LAYOUT_H
#define LL_RM_LAYOUT_H

#include "ll_account.h"
#include "ll_event.h"

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

/* Applies what an events_g document says to a (its next version). */
void ll_rm_event_apply(ll_account_t *a, const ll_rm_event_t *e);

/* What the read model holds of account id as its newest event's document e tells it (the
 * account's lasting fields from e's `account`). Returns 0, or -1 when they do not parse. */
int ll_rm_event_account(const ll_uuid_t *id, const ll_rm_event_t *e, ll_rm_account_t *out);

#endif
