/* ll_read_model_docs.c - see ll_read_model_docs.h. */
#include "ll_read_model_docs.h"

#include "ll_time.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ll_rm_key(const ll_uuid_t *account, int64_t n, char out[LL_RM_KEY_LEN + 1]) {
    char id[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(account, id);
    snprintf(out, LL_RM_KEY_LEN + 1, "%s:%lld", id, (long long)n);
}

int ll_rm_key_parse(const char *key, ll_uuid_t *account, int64_t *n) {
    char id[LL_UUID_TEXT_LEN + 1];
    if (strlen(key) < LL_UUID_TEXT_LEN + 2 || key[LL_UUID_TEXT_LEN] != ':') return -1;
    memcpy(id, key, LL_UUID_TEXT_LEN);
    id[LL_UUID_TEXT_LEN] = '\0';
    const char *digits = key + LL_UUID_TEXT_LEN + 1;
    int64_t v = 0;
    for (const char *c = digits; *c; c++) {
        if (*c < '0' || *c > '9' || v > (INT64_MAX - 9) / 10 || c - digits >= 19) return -1;
        v = v * 10 + (*c - '0');
    }
    if (ll_uuid_parse(id, false, account) != 0) return -1;
    *n = v;
    return 0;
}

/* Sets key to the text of id; 0 when out of memory. */
static int set_uuid(json_t *o, const char *key, const ll_uuid_t *id) {
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(id, text);
    return json_object_set_new(o, key, json_string(text)) == 0;
}

int ll_rm_item_json(const ll_event_t *ev, char *out, size_t size) {
    if (!ll_event_is_movement(ev->type)) return -1;
    const ll_data_movement_t *m = &ev->data.movement;
    char id[LL_UUID_TEXT_LEN + 1], account[LL_UUID_TEXT_LEN + 1], when[LL_TIME_TEXT_LEN + 1];
    ll_uuid_format(&ev->event_id, id);
    ll_uuid_format(&ev->account_id, account);
    ll_time_format(ev->occurred_at_us, when);
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:s, s:I, s:s, s:I, s:s, s:s}", "event_id", id, "account_id", account,
                  "version", (json_int_t)ev->version, "type", ll_event_type_name(ev->type), "amount_minor",
                  (json_int_t)m->amount_minor, "currency", m->currency.code, "balance_after_minor",
                  (json_int_t)ev->after.balance_minor, "reference", m->reference, "occurred_at", when);
    /* Optional fields after the nine every item has, in a fixed order: a transfer leg's (and a
     * capture to another account's) link, a payment leg's payment, a capture's hold. A failed
     * set (no memory) drops the whole item rather than render one without its link. */
    int ok = o != NULL;
    if (ok && !ll_uuid_is_nil(&m->transfer_id))
        ok = set_uuid(o, "transfer_id", &m->transfer_id) &&
             set_uuid(o, "counterparty_account_id", &m->counterparty_id);
    if (ok && !ll_uuid_is_nil(&m->payment_id)) ok = set_uuid(o, "payment_id", &m->payment_id);
    if (ok && ev->type == LL_EVENT_HOLD_CAPTURED)
        ok = set_uuid(o, "hold_id", &m->hold_id) &&
             json_object_set_new(o, "released_minor", json_integer((json_int_t)m->released_minor)) == 0;
    size_t n = ok ? json_dumpb(o, out, size, JSON_COMPACT | JSON_PRESERVE_ORDER) : 0;
    json_decref(o);
    if (n == 0 || n >= size) return -1;
    out[n] = '\0';
    return (int)n;
}

/* ---- remembered page items ------------------------------------------------------------------ */

void ll_rm_page_items_clear(ll_rm_page_items_t *items) {
    free(items->packed);
    *items = LL_RM_PAGE_ITEMS_NONE;
}

/* The first version page holds: page 0 starts with version 1. */
static int64_t page_lowest_version(int64_t page) {
    int64_t first = ll_rm_page_first(page);
    return first > 1 ? first : 1;
}

/* Appends one version's entry: its 2-byte length, then the JSON. */
static int items_append(ll_rm_page_items_t *items, const char *json, size_t len) {
    char *grown = realloc(items->packed, items->len + 2 + len);
    if (grown == NULL) return -1;
    items->packed = grown;
    grown[items->len] = (char)(len >> 8), grown[items->len + 1] = (char)(len & 0xff);
    memcpy(grown + items->len + 2, json, len);
    items->len += 2 + len;
    return 0;
}

int ll_rm_page_items_next(ll_rm_page_items_t *items, int64_t before_version, const ll_event_t *events, size_t n) {
    int64_t after_version = n > 0 ? events[n - 1].version : before_version;
    int64_t page = ll_rm_open_page(after_version), lo = page_lowest_version(page);
    int64_t end = ll_rm_page_first(page + 1); /* the next page's first version */
    if (items->page != page || items->through != before_version) {
        ll_rm_page_items_clear(items);
        /* Known when every version of the page is among the events, or all before them is
         * AccountOpened (version 1), which moves no money. */
        int opened_only = page == 0 && before_version == 1;
        if (before_version >= lo && !opened_only) return -1;
        items->page = page, items->through = lo - 1;
        if (opened_only) {
            if (items_append(items, "", 0) != 0) {
                ll_rm_page_items_clear(items);
                return -1;
            }
            items->through = 1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const ll_event_t *ev = &events[i];
        if (ev->version <= items->through) continue;
        char item[LL_RM_ITEM_JSON_MAX];
        int len = ll_rm_item_json(ev, item, sizeof item);
        /* Only the page's next version: never remember a wrong page. */
        if (ev->version != items->through + 1 || ev->version >= end ||
            items_append(items, item, len > 0 ? (size_t)len : 0) != 0) {
            ll_rm_page_items_clear(items);
            return -1;
        }
        items->through = ev->version;
    }
    return 0;
}

int ll_rm_page_items_each(const ll_rm_page_items_t *items,
                          int (*each)(void *ctx, int64_t version, const char *json, size_t len), void *ctx) {
    int64_t version = page_lowest_version(items->page);
    for (size_t at = 0; at + 2 <= items->len; version++) {
        size_t len = (size_t)(unsigned char)items->packed[at] << 8 | (unsigned char)items->packed[at + 1];
        at += 2;
        if (at + len > items->len) return -1; /* never past what was packed */
        int rc = len > 0 ? each(ctx, version, items->packed + at, len) : 0;
        if (rc != 0) return rc;
        at += len;
    }
    return 0;
}

/* ---- account documents --------------------------------------------------------------------- */

bson_t *ll_rm_head_doc(const ll_account_t *a, int64_t page) {
    char id[LL_UUID_TEXT_LEN + 1], opened[LL_TIME_TEXT_LEN + 1], updated[LL_TIME_TEXT_LEN + 1];
    ll_uuid_format(&a->account_id, id);
    ll_time_format(a->opened_at_us, opened);
    ll_time_format(a->updated_at_us, updated);
    return BCON_NEW("_id", BCON_UTF8(id), "owner", BCON_UTF8(a->owner), "currency",
                    BCON_UTF8(a->currency.code), "status", BCON_UTF8(ll_account_status_name(a->status)),
                    "balance_minor", BCON_INT64(a->balance_minor), "version", BCON_INT64(a->version),
                    "overdraft_limit_minor", BCON_INT64(a->overdraft_limit_minor), "held_minor",
                    BCON_INT64(a->held_minor), "frozen", BCON_BOOL(a->frozen), "opened_at", BCON_UTF8(opened),
                    "updated_at", BCON_UTF8(updated), "opened_at_us", BCON_INT64(a->opened_at_us),
                    "updated_at_us", BCON_INT64(a->updated_at_us), "head_hash", BCON_UTF8(a->head_hash),
                    "page", BCON_INT64(page));
}

static int64_t get_int64(const bson_t *doc, const char *key, bool *ok) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it)) return bson_iter_as_int64(&it);
    *ok = false;
    return 0;
}

/* The figures a build before holds, limits and freezes did not write: absent is 0 / false
 * (what every account of such a build had); present, they must be of their type. */
static int64_t get_int64_or_zero(const bson_t *doc, const char *key, bool *ok) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, key)) return 0;
    if (BSON_ITER_HOLDS_NUMBER(&it)) return bson_iter_as_int64(&it);
    *ok = false;
    return 0;
}

static bool get_bool_or_false(const bson_t *doc, const char *key, bool *ok) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, key)) return false;
    if (BSON_ITER_HOLDS_BOOL(&it)) return bson_iter_bool(&it);
    *ok = false;
    return false;
}

/* The figures are ones an account can have: nothing held below zero, no negative limit, and
 * what is available (balance - held) not below the floor without overflowing. */
static bool figures_valid(int64_t balance, int64_t held, int64_t limit) {
    return held >= 0 && limit >= 0 && balance >= INT64_MIN + held && balance - held >= -limit;
}

/* Copies the string under key into out; false when absent, not a string or too long. */
static bool get_utf8(const bson_t *doc, const char *key, char *out, size_t size) {
    bson_iter_t it;
    uint32_t len = 0;
    out[0] = '\0';
    if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it)) return false;
    const char *s = bson_iter_utf8(&it, &len);
    if (len >= size) return false;
    memcpy(out, s, len + 1);
    return true;
}

/* The figures of an account at a version, as an account document (hash under "head_hash", the
 * limit always written) and an event document (under "hash", the limit only when not 0) both
 * hold them: read once here, so both documents are held to the same checks. */
static bool get_figures(const bson_t *doc, const char *hash_key, bool limit_written, ll_rm_event_t *out) {
    char status[16];
    bool ok = get_utf8(doc, "status", status, sizeof status) &&
              ll_account_status_parse(status, &out->status) == 0 &&
              get_utf8(doc, hash_key, out->hash, sizeof out->hash);
    out->version = get_int64(doc, "version", &ok);
    out->balance_minor = get_int64(doc, "balance_minor", &ok);
    out->updated_at_us = get_int64(doc, "updated_at_us", &ok);
    out->held_minor = get_int64_or_zero(doc, "held_minor", &ok);
    out->overdraft_limit_minor = limit_written ? get_int64(doc, "overdraft_limit_minor", &ok)
                                               : get_int64_or_zero(doc, "overdraft_limit_minor", &ok);
    out->frozen = get_bool_or_false(doc, "frozen", &ok);
    return ok && figures_valid(out->balance_minor, out->held_minor, out->overdraft_limit_minor);
}

int ll_rm_head_parse(const bson_t *doc, ll_rm_account_t *out) {
    char id[LL_UUID_TEXT_LEN + 1];
    ll_uuid_t uid;
    ll_rm_event_t figures = {0};
    bool ok = get_utf8(doc, "_id", id, sizeof id) && ll_uuid_parse(id, false, &uid) == 0;
    if (!ok) return -1;
    ll_account_t *a = &out->state;
    ll_account_init(a, &uid);
    ok = get_figures(doc, "head_hash", true, &figures) && get_utf8(doc, "owner", a->owner, sizeof a->owner) &&
         get_utf8(doc, "currency", a->currency.code, sizeof a->currency.code);
    ll_rm_event_apply(a, &figures);
    a->opened_at_us = get_int64(doc, "opened_at_us", &ok);
    out->head_page = get_int64(doc, "page", &ok);
    out->head_version = a->version;
    if (!ok || a->version < 1 || out->head_page != ll_rm_open_page(a->version)) return -1;
    return 0;
}

/* ---- event documents ----------------------------------------------------------------------- */

/* The fields of an account that no event after AccountOpened changes, as JSON text; and the
 * overdraft limit after the event, which CreditLimitSet now changes: kept here because a reader
 * of an older build requires it (ll_rm_event_account), while this build reads the limit from the
 * document's own figures. */
static int lasting_json(const ll_account_t *a, char *out, size_t size) {
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:I}", "owner", a->owner, "currency", a->currency.code, "opened_at_us",
                  (json_int_t)a->opened_at_us, "overdraft_limit_minor", (json_int_t)a->overdraft_limit_minor);
    size_t n = o ? json_dumpb(o, out, size, JSON_COMPACT | JSON_PRESERVE_ORDER) : 0;
    json_decref(o);
    if (n == 0 || n >= size) return -1;
    out[n] = '\0';
    return (int)n;
}

bson_t *ll_rm_event_doc_of(const ll_account_t *after, const char *item, int64_t head_version) {
    char id[LL_RM_KEY_LEN + 1], page[LL_RM_KEY_LEN + 1], lasting[512];
    ll_rm_key(&after->account_id, after->version, id);
    ll_rm_key(&after->account_id, ll_rm_page_of(after->version), page);
    int n = lasting_json(after, lasting, sizeof lasting);
    bson_t *doc = BCON_NEW("_id", BCON_UTF8(id), "page", BCON_UTF8(page), "version",
                           BCON_INT64(after->version), "balance_minor", BCON_INT64(after->balance_minor),
                           "status", BCON_UTF8(ll_account_status_name(after->status)), "updated_at_us",
                           BCON_INT64(after->updated_at_us), "hash", BCON_UTF8(after->head_hash), "head",
                           BCON_INT64(head_version), "account", BCON_UTF8(n > 0 ? lasting : ""));
    /* The other figures after the event only when not 0 / false: the document of an account
     * without holds, limit or freeze stays what older builds wrote (no bytes more per event),
     * and a reader takes an absent figure as 0 / false. */
    if (after->held_minor != 0) BSON_APPEND_INT64(doc, "held_minor", after->held_minor);
    if (after->overdraft_limit_minor != 0)
        BSON_APPEND_INT64(doc, "overdraft_limit_minor", after->overdraft_limit_minor);
    if (after->frozen) BSON_APPEND_BOOL(doc, "frozen", true);
    if (item != NULL) BSON_APPEND_UTF8(doc, "item", item);
    return doc;
}

bson_t *ll_rm_event_doc(const ll_event_t *ev, const ll_account_t *after, int64_t head_version) {
    char item[LL_RM_ITEM_JSON_MAX];
    return ll_rm_event_doc_of(after, ll_rm_item_json(ev, item, sizeof item) > 0 ? item : NULL, head_version);
}

int ll_rm_event_parse(const bson_t *doc, ll_rm_event_t *out) {
    bson_iter_t it;
    bool ok = get_figures(doc, "hash", false, out);
    out->head_version = get_int64(doc, "head", &ok);
    out->item = NULL, out->item_len = 0, out->account = NULL, out->account_len = 0;
    if (bson_iter_init_find(&it, doc, "item") && BSON_ITER_HOLDS_UTF8(&it))
        out->item = bson_iter_utf8(&it, &out->item_len);
    if (bson_iter_init_find(&it, doc, "account") && BSON_ITER_HOLDS_UTF8(&it))
        out->account = bson_iter_utf8(&it, &out->account_len);
    return ok && out->version >= 2 && out->head_version >= 1 && out->account != NULL ? 0 : -1;
}

int ll_rm_event_account(const ll_uuid_t *id, const ll_rm_event_t *e, ll_rm_account_t *out) {
    memset(out, 0, sizeof *out);
    ll_account_init(&out->state, id);
    json_t *o = json_loadb(e->account, e->account_len, JSON_REJECT_DUPLICATES, NULL);
    const char *owner = json_string_value(json_object_get(o, "owner"));
    const char *currency = json_string_value(json_object_get(o, "currency"));
    json_t *opened = json_object_get(o, "opened_at_us");
    int ok = owner && currency && json_is_integer(opened) && strlen(owner) < sizeof out->state.owner &&
             strlen(currency) < sizeof out->state.currency.code;
    if (ok) {
        memcpy(out->state.owner, owner, strlen(owner) + 1);
        memcpy(out->state.currency.code, currency, strlen(currency) + 1);
        out->state.opened_at_us = (int64_t)json_integer_value(opened);
        out->state.status = LL_ACCOUNT_OPEN;
        ll_rm_event_apply(&out->state, e); /* the figures, the limit too, are the event's own */
        out->head_version = e->head_version;
        out->head_page = ll_rm_open_page(e->head_version);
    }
    json_decref(o);
    return ok ? 0 : -1;
}

void ll_rm_event_apply(ll_account_t *a, const ll_rm_event_t *e) {
    a->version = e->version;
    a->balance_minor = e->balance_minor;
    a->held_minor = e->held_minor;
    a->overdraft_limit_minor = e->overdraft_limit_minor;
    a->frozen = e->frozen;
    a->status = e->status;
    a->updated_at_us = e->updated_at_us;
    memcpy(a->head_hash, e->hash, sizeof a->head_hash);
}

/* ---- sealed pages -------------------------------------------------------------------------- */

bson_t *ll_rm_page_doc(const ll_uuid_t *account, int64_t page,
                       const char *const items[LL_READ_MODEL_PAGE_VERSIONS]) {
    char id[LL_RM_KEY_LEN + 1];
    ll_rm_key(account, page, id);
    bson_t *doc = BCON_NEW("_id", BCON_UTF8(id));
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(doc, "items", &arr);
    for (int i = 0; i < LL_READ_MODEL_PAGE_VERSIONS; i++) {
        char key[16];
        const char *k;
        bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
        bson_append_utf8(&arr, k, -1, items[i] ? items[i] : "", -1);
    }
    bson_append_array_end(doc, &arr);
    return doc;
}

int ll_rm_page_items(const bson_t *doc, int64_t page, int64_t before,
                     int (*each)(void *ctx, int64_t version, const char *json, uint32_t len), void *ctx) {
    bson_iter_t it, arr;
    const char *json[LL_READ_MODEL_PAGE_VERSIONS];
    uint32_t len[LL_READ_MODEL_PAGE_VERSIONS];
    int n = 0;
    if (!bson_iter_init_find(&it, doc, "items") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &arr))
        return -1;
    while (bson_iter_next(&arr)) {
        if (n == LL_READ_MODEL_PAGE_VERSIONS || !BSON_ITER_HOLDS_UTF8(&arr)) return -1;
        json[n] = bson_iter_utf8(&arr, &len[n]);
        n++;
    }
    if (n != LL_READ_MODEL_PAGE_VERSIONS) return -1;
    for (int i = n - 1; i >= 0; i--) {
        int64_t version = ll_rm_page_first(page) + i;
        if (version >= before || len[i] == 0) continue;
        if (each(ctx, version, json[i], len[i]) != 0) break;
    }
    return 0;
}
