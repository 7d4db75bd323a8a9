/* ll_rebuild_store.c - the build's and the verification's read of the PostgreSQL event store
 * (eventstore/ll_event_reader): one REPEATABLE READ snapshot both share, streamed in account
 * and version order, with progress on stderr. */
#include "ll_clock.h"
#include "ll_progress.h"
#include "ll_rebuild.h"

#include <stdio.h>

int rebuild_store_snapshot(rebuild_t *r, ll_error_t *err) {
    if (ll_pg_exec(r->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err) != 0) return LL_EIO;
    r->snapshot_us = ll_clock_wall_us();
    int64_t head = 0;
    if (ll_event_reader_head(r->store, &head, err) != 0) return LL_EIO;
    r->position = r->o->to_position > 0 && r->o->to_position < head ? r->o->to_position : head;
    return 0;
}

typedef struct {
    rebuild_t *r;
    rebuild_row_fn row;
    ll_progress_t p;
} stream_t;

static int stream_row(void *ctx, const char *account, const char *envelope, size_t len, ll_error_t *err) {
    stream_t *s = ctx;
    return s->row(s->r, account, envelope, len, err);
}

static void stream_page(void *ctx, int rows) {
    stream_t *s = ctx;
    s->p.done += rows;
    ll_progress_show(&s->p, rows == 0);
}

int rebuild_store_stream(rebuild_t *r, const char *phase, rebuild_row_fn row, ll_error_t *err) {
    const ll_uuid_t *account = r->o->account != NULL ? &r->account_id : NULL;
    stream_t s = {.r = r, .row = row};
    int64_t total = 0;
    if (ll_event_reader_count(r->store, r->position, account, &total, err) != 0) return LL_EIO;
    ll_progress_start(&s.p, phase, "events", total);
    return ll_event_reader_stream(r->store, r->position, account, stream_row, stream_page, &s, err) == 0
               ? 0
               : LL_EIO;
}
