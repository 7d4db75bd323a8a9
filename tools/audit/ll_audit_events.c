/* ll_audit_events.c - `events`: the store's events in store order, filtered by account, type,
 * time, actor and transfer, at most --limit of them. */
#include "ll_audit.h"
#include "ll_event_codec.h"
#include "ll_event_reader.h"

#include <stdio.h>
#include <string.h>

/* The events' rows, those of --actor only (the search filtered by it already; the parsed
 * value decides). */
typedef struct {
    ll_table_t *t;
    const options_t *o;
    int read, rc;
} event_rows_t;

static int event_row(void *ctx, const char *text, size_t len) {
    event_rows_t *rows = ctx;
    ll_error_t err = {""};
    ll_event_t ev;
    rows->read++;
    if (ll_event_decode(text, len, &ev, &err) != 0) {
        fprintf(stderr, "ledgerline-audit: an undecodable event in store order %d: %s (run verify)\n", rows->read,
                err.msg);
        return rows->rc = EXIT_FINDING;
    }
    if (rows->o->actor != NULL && strcmp(rows->o->actor, ev.actor) != 0) return 0;
    if (add_event_row(rows->t, &ev) != 0) return rows->rc = EXIT_USAGE;
    return 0;
}

int audit_events(PGconn *pg, const options_t *o, const ll_config_t *cfg) {
    (void)cfg;
    event_rows_t rows = {.t = event_table_new(), .o = o};
    ll_event_reader_t *store = ll_event_reader_on(&pg);
    if (rows.t == NULL || store == NULL) {
        ll_table_free(rows.t);
        ll_event_reader_free(store);
        return audit_fail("out of memory");
    }
    ll_event_search_t q = {o->account, o->type, o->since, o->until, o->transfer, o->actor, o->limit};
    ll_error_t err = {""};
    int64_t n = ll_event_reader_search(store, &q, event_row, &rows, &err);
    ll_event_reader_free(store);
    if (n < 0) {
        ll_table_free(rows.t);
        return n == LL_EINVAL ? audit_fail("--actor: %s", err.msg) : audit_fail("%s", err.msg);
    }
    int prc = print_table(rows.t, o);
    return rows.rc ? rows.rc : prc;
}
