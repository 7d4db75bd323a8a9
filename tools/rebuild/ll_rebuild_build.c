/* ll_rebuild_build.c - the build: each event of the source folded with ll_account_evolve into
 * the accounts map and handed to the builder, which writes the new generation. */
#include "ll_event_codec.h"
#include "ll_rebuild.h"

#include <stdio.h>
#include <string.h>

/* Folds one event of the source into the built map and hands it to the builder. An account
 * whose events do not replay is a finding: listed, left out of the generation, and the switch
 * refused. */
int rebuild_build_event(rebuild_t *r, const ll_event_t *ev, ll_error_t *err) {
    slot_t *s = accounts_add(&r->built, &ev->account_id);
    if (s == NULL) return ll_error_set(err, LL_ENOMEM, "out of memory");
    if (s->broken) return 0;
    ll_error_t why = {""};
    ll_evolve_t v = ll_account_evolve(&s->st, ev, &why);
    if (v == LL_EVOLVE_DUPLICATE) { /* the topic may carry an event twice */
        r->duplicates++;
        return 0;
    }
    if (v != LL_EVOLVE_OK) {
        /* A broken store is a finding. From the topic, the account is left out and the store
         * decides: the verification sends it to the catch-up if the store has it. */
        char text[LL_UUID_TEXT_LEN + 1];
        ll_uuid_format(&ev->account_id, text);
        if (strcmp(r->o->from, "store") == 0)
            rebuild_difference(r, &ev->account_id, "source does not replay", why.msg, "");
        else
            fprintf(stderr,
                    "\naccount %s left out (the topic's events do not replay: %s); the store decides\n", text,
                    why.msg);
        s->broken = 1;
        ll_rm_builder_forget(&s->buf);
        return 0;
    }
    r->events++;
    return ll_rm_builder_event(r->builder, &s->buf, ev, &s->st, err);
}

/* Writes the account's page in progress and its account document (not for a broken one). */
static int build_account_done(rebuild_t *r, slot_t *s, ll_error_t *err) {
    s->written = 1;
    if (s->broken || s->st.version == 0) {
        ll_rm_builder_forget(&s->buf);
        return 0;
    }
    s->in_generation = s->st.version;
    return ll_rm_builder_account(r->builder, &s->buf, &s->st, err);
}

/* Every account not written yet (the topic's accounts, the store's last). */
int rebuild_build_finish_accounts(rebuild_t *r, ll_error_t *err) {
    int rc = 0;
    slot_t *s;
    for (size_t at = 0; rc == 0 && (s = accounts_next(&r->built, &at)) != NULL;)
        if (!s->written) rc = build_account_done(r, s, err);
    return rc;
}

int rebuild_build_row(rebuild_t *r, const char *account, const char *text, size_t len, ll_error_t *err) {
    ll_event_t ev;
    ll_error_t why = {""};
    ll_uuid_t id;
    if (ll_uuid_parse(account, false, &id) != 0)
        return ll_error_set(err, LL_EINVAL, "bad account id in the store");
    /* The store streams account after account: one is complete when the next begins, so only
     * one page in progress is ever held. */
    if (r->have_current && !ll_uuid_equal(&id, &r->current)) {
        slot_t *prev = accounts_find(&r->built, &r->current);
        if (prev != NULL && build_account_done(r, prev, err) != 0) return LL_EIO;
    }
    r->current = id, r->have_current = 1;
    if (ll_event_decode(text, len, &ev, &why) == 0) return rebuild_build_event(r, &ev, err);
    slot_t *s = accounts_add(&r->built, &id);
    if (s == NULL) return ll_error_set(err, LL_ENOMEM, "out of memory");
    if (!s->broken) rebuild_difference(r, &id, "stored event does not decode", why.msg, "");
    s->broken = 1;
    return 0;
}
