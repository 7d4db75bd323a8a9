/* ll_rebuild_verify.c - the verification: what MongoDB holds for the new generation, read back,
 * against an independent replay of the store in the build's snapshot (per account version,
 * figures, status, head hash and a checksum over its transactions). */
#include "ll_event_codec.h"
#include "ll_rebuild.h"
#include "ll_replay.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    rebuild_t *r;
    ll_error_t *err;
    ll_uuid_map_t stored; /* read back from the new generation */
    slot_t cur;           /* the store's replay of the account being read */
    slot_t *target;
    slot_t *page_slot; /* the account of the page being read back */
    int cur_open, cur_broken, cur_behind;
} verify_t;

/* ---- the read-back -------------------------------------------------------------------------- */

/* Adds a statement item (JSON text) to s's checksum; -1 when it is not one of ours. */
static int checksum_item(slot_t *s, const char *json, size_t len) {
    json_t *o = json_loadb(json, len, 0, NULL);
    ll_uuid_t event_id;
    json_t *id = json_object_get(o, "event_id"), *amount = json_object_get(o, "amount_minor");
    int ok = json_is_string(id) && json_is_integer(amount) &&
             ll_uuid_parse(json_string_value(id), false, &event_id) == 0;
    if (ok) checksum_add(s, &event_id, (int64_t)json_integer_value(amount));
    json_decref(o);
    return ok ? 0 : -1;
}

static int on_account(void *ctx, const ll_rm_account_t *a) {
    verify_t *v = ctx;
    slot_t *s = accounts_add(&v->stored, &a->state.account_id);
    if (s == NULL) return ll_error_set(v->err, LL_ENOMEM, "out of memory");
    s->st = a->state;
    s->head_page = a->head_page;
    return 0;
}

/* The account of an events_g or pages_g document (an orphan shows as an account at version 0). */
static slot_t *account_slot(verify_t *v, const ll_uuid_t *account) {
    slot_t *s = accounts_add(&v->stored, account);
    if (s == NULL) ll_error_set(v->err, LL_ENOMEM, "out of memory");
    return s;
}

/* An event after the account document: its newest counts if they follow on (finish_read_back). */
static int on_event(void *ctx, const ll_uuid_t *account, int64_t version, const ll_rm_event_t *e) {
    verify_t *v = ctx;
    slot_t *s = account_slot(v, account);
    if (s == NULL) return LL_ENOMEM;
    if (version < ll_rm_page_first(s->head_page)) return 0; /* its page is sealed: counted there */
    if (e->item != NULL && checksum_item(s, e->item, e->item_len) != 0)
        return ll_error_set(v->err, LL_EINVAL, "an events document's item is not ledgerline's");
    if (version <= s->st.version) return 0;
    s->n_after++;
    if (version > s->newest.version) s->newest = *e;
    s->newest.item = NULL, s->newest.account = NULL; /* point into a document gone after this call */
    return 0;
}

static int on_page(void *ctx, const ll_uuid_t *account, int64_t page) {
    verify_t *v = ctx;
    (void)page;
    return (v->page_slot = account_slot(v, account)) == NULL ? LL_ENOMEM : 0;
}

/* A page's item; the page's items after one that is not ours are not counted. */
static int on_page_item(void *ctx, int64_t version, const char *json, uint32_t len) {
    (void)version;
    return checksum_item(((verify_t *)ctx)->page_slot, json, len) != 0 ? 1 : 0;
}

/* Each account's state: its document, then its events after it when they follow on (else the
 * document's state stays, and the comparison shows what is missing). */
static void finish_read_back(verify_t *v) {
    slot_t *s;
    for (size_t at = 0; (s = accounts_next(&v->stored, &at)) != NULL;)
        if (s->n_after > 0 && s->newest.version - s->st.version == s->n_after)
            ll_rm_event_apply(&s->st, &s->newest);
}

/* Accounts first: an event or a page counts by where its account document says pages end. */
static int read_back(verify_t *v, ll_error_t *err) {
    int rc = ll_read_model_scan_accounts(v->r->rm, on_account, v, err);
    if (rc == 0) rc = ll_read_model_scan_events(v->r->rm, on_event, v, err);
    if (rc == 0) rc = ll_read_model_scan_pages(v->r->rm, on_page, on_page_item, v, err);
    if (rc == 0) finish_read_back(v);
    return rc;
}

/* ---- the comparison with the store ---------------------------------------------------------- */

static void fmt_state(char *out, size_t size, const slot_t *s) {
    snprintf(out, size, "v%lld %s %lld held %lld limit %lld%s, %llu tx sum %llu ids %016llx",
             (long long)s->st.version, ll_account_status_name(s->st.status), (long long)s->st.balance_minor,
             (long long)s->st.held_minor, (long long)s->st.overdraft_limit_minor,
             s->st.frozen ? " frozen" : "", (unsigned long long)s->n_tx, (unsigned long long)s->sum_tx,
             (unsigned long long)s->xor_tx);
}

/* The same account in both: version, figures (a hold, a limit or a freeze may change nothing
 * else), status, head hash and checksum. */
static int same_account(const slot_t *t, const slot_t *c) {
    const ll_account_t *a = &t->st, *b = &c->st;
    return a->version == b->version && a->balance_minor == b->balance_minor &&
           a->held_minor == b->held_minor && a->overdraft_limit_minor == b->overdraft_limit_minor &&
           a->frozen == b->frozen && a->status == b->status && strcmp(a->head_hash, b->head_hash) == 0 &&
           t->n_tx == c->n_tx && t->sum_tx == c->sum_tx && t->xor_tx == c->xor_tx;
}

/* Compares the finished replay of one account (v->cur) with its stored documents. */
static void verify_close(verify_t *v) {
    if (!v->cur_open) return;
    v->cur_open = 0;
    slot_t *t = v->target, *c = &v->cur;
    char got[224] = "", want[224];
    fmt_state(want, sizeof want, c);
    if (t == NULL || v->cur_behind) {
        /* From the topic, events the relay has not published yet are the catch-up's. */
        if (strcmp(v->r->o->from, "store") == 0 && !v->cur_broken)
            rebuild_difference(v->r, &c->st.account_id, "missing in the new generation", "", want);
        else if (rebuild_note_behind(v->r, &c->st.account_id) != 0)
            rebuild_difference(v->r, &c->st.account_id, "out of memory", "", "");
        if (t == NULL) return;
    }
    t->seen = 1;
    if (v->cur_broken) return;
    fmt_state(got, sizeof got, t);
    if (!same_account(t, c))
        rebuild_difference(v->r, &c->st.account_id,
                           t->st.version > c->st.version ? "ahead of the store" : "differs from the store",
                           got, want);
}

/* The store's next event: a new account closes the one before it. */
static int verify_row(rebuild_t *r, const char *account, const char *text, size_t len, ll_error_t *err) {
    verify_t *v = (verify_t *)r->diffs_ctx;
    ll_uuid_t id;
    if (ll_uuid_parse(account, false, &id) != 0)
        return ll_error_set(err, LL_EINVAL, "bad account id in the store");
    if (!v->cur_open || !ll_uuid_equal(&id, &v->cur.st.account_id)) {
        verify_close(v);
        memset(&v->cur, 0, sizeof v->cur);
        ll_account_init(&v->cur.st, &id);
        v->target = accounts_find(&v->stored, &id);
        v->cur_open = 1;
        v->cur_broken = v->cur_behind = 0;
    }
    if (v->cur_broken) return 0;
    if (v->target && v->cur.st.version >= v->target->st.version && v->target->st.version > 0) {
        v->cur_behind = 1; /* the store has more than the generation: the catch-up's */
        return 0;
    }
    ll_event_t ev;
    ll_error_t why = {""};
    if (ll_replay_envelope(&v->cur.st, text, len, &ev, &why) != 0) {
        /* Tampering or damage in the store: never switch over it. */
        rebuild_difference(r, &id, "store event does not replay", "", why.msg);
        v->cur_broken = 1;
        return 0;
    }
    if (ll_event_is_movement(ev.type)) checksum_add(&v->cur, &ev.event_id, ev.data.movement.amount_minor);
    return 0;
}

/* What the generation holds that the store does not. */
static void verify_unseen(verify_t *v) {
    slot_t *s;
    for (size_t at = 0; (s = accounts_next(&v->stored, &at)) != NULL;) {
        if (s->seen) continue;
        char got[224];
        fmt_state(got, sizeof got, s);
        rebuild_difference(v->r, &s->st.account_id,
                           s->st.version == 0 ? "events or pages of no account" : "not in the store", got,
                           "");
    }
}

int rebuild_verify(rebuild_t *r, ll_error_t *err) {
    verify_t v;
    memset(&v, 0, sizeof v);
    v.r = r;
    v.err = err;
    if (accounts_init(&v.stored) != 0) return ll_error_set(err, LL_ENOMEM, "out of memory");
    r->diffs_ctx = &v;
    int rc = read_back(&v, err);
    if (rc == 0) rc = rebuild_store_stream(r, "verify", verify_row, err);
    if (rc == 0) verify_close(&v);
    if (rc == 0) verify_unseen(&v);
    accounts_free(&v.stored);
    r->diffs_ctx = NULL;
    return rc;
}
