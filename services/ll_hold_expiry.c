/* ll_hold_expiry.c - see ll_hold_expiry.h. */
#include "ll_hold_expiry.h"

#include "ll_clock.h"
#include "ll_log.h"
#include "ll_periodic.h"
#include "ll_store.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ll_hold_expiry {
    char *conninfo;
    long long statement_timeout_ms, retention_s;
    ll_periodic_t *sweeper;
    atomic_uint_fast64_t expired, failures;
    ll_store_t *store;                     /* the sweeper thread's; NULL until connected */
    ll_uuid_t due[LL_HOLD_EXPIRY_BATCH];   /* the round's due holds */
    ll_write_t writes[LL_STORE_BATCH_MAX]; /* one store batch of expiries */
    int store_down;                        /* logged that the store is unavailable */
};

/* The expire command of hold id, as the system sends it. */
static void expiry_write(ll_write_t *w, const ll_uuid_t *id) {
    char text[LL_UUID_TEXT_LEN + 1], request[64];
    memset(w, 0, sizeof *w);
    ll_uuid_format(id, text);
    w->cmd.type = LL_CMD_EXPIRE_HOLD;
    w->cmd.hold_id = *id;
    snprintf(w->idem_scope, sizeof w->idem_scope, "%s", LL_HOLD_EXPIRY_SCOPE);
    snprintf(w->actor, sizeof w->actor, "%s", LL_HOLD_EXPIRY_SCOPE);
    snprintf(w->idem_key, sizeof w->idem_key, "expire:%s", text);
    snprintf(w->correlation_id, sizeof w->correlation_id, "expire-%s", text);
    int n = snprintf(request, sizeof request, "EXPIRE %s", text);
    ll_sha256_hex(request, (size_t)n, w->request_hash);
    w->expected_version = -1;
}

/* Expires due[0..n) in store batches. Returns how many this sweeper expired. */
static size_t expire_all(ll_hold_expiry_t *x, size_t n) {
    size_t expired = 0, failed = 0, others = 0;
    ll_write_t *batch[LL_STORE_BATCH_MAX];
    char detail[160];
    for (size_t at = 0; at < n; at += LL_STORE_BATCH_MAX) {
        size_t m = n - at < LL_STORE_BATCH_MAX ? n - at : LL_STORE_BATCH_MAX;
        for (size_t i = 0; i < m; i++) {
            expiry_write(&x->writes[i], &x->due[at + i]);
            batch[i] = &x->writes[i];
        }
        ll_store_execute(x->store, batch, m);
        for (size_t i = 0; i < m; i++) {
            const ll_write_t *w = batch[i];
            if (!ll_write_failed(w) && !w->replayed)
                expired++;
            else if (ll_refusal_is_fault(w->refusal))
                failed++;
            else
                others++; /* another sweeper's (replayed, in progress, not open) or not due yet */
        }
    }
    atomic_fetch_add(&x->expired, (uint_fast64_t)expired);
    atomic_fetch_add(&x->failures, (uint_fast64_t)failed);
    if (expired > 0 || failed > 0) {
        snprintf(detail, sizeof detail,
                 "%zu due, %zu expired here, %zu failed, %zu settled elsewhere or not due", n, expired,
                 failed, others);
        ll_log_line(failed ? "warn" : "info", "command", "hold expiry sweep", NULL, detail);
    }
    return expired;
}

/* One sweep: pages of due holds in (expires_at, hold_id) order until a page comes back short.
 * A hold refused or failing stays due for the next sweep and never hides the ones after it. */
static void sweep(ll_hold_expiry_t *x, ll_periodic_t *p) {
    ll_hold_cursor_t after = LL_HOLD_CURSOR_START;
    int64_t now = ll_clock_wall_us();
    for (;;) {
        ll_error_t err = {""};
        int n = ll_store_due_holds(x->store, now, &after, x->due, LL_HOLD_EXPIRY_BATCH, &err);
        if (n < 0) {
            atomic_fetch_add(&x->failures, 1);
            ll_log_line("warn", "command", "hold expiry: looking up due holds failed; trying again later",
                        NULL, err.msg);
            return;
        }
        if (n == 0) return;
        expire_all(x, (size_t)n);
        if (n < LL_HOLD_EXPIRY_BATCH || ll_periodic_stopping(p)) return;
    }
}

/* One round: (re)connect when needed, then sweep. */
static void expiry_round(ll_periodic_t *p, void *arg) {
    ll_hold_expiry_t *x = arg;
    if (x->store == NULL) {
        ll_error_t err = {""};
        x->store = ll_store_open(x->conninfo, x->statement_timeout_ms, x->retention_s, &err);
        if (x->store == NULL) {
            atomic_fetch_add(&x->failures, 1);
            if (!x->store_down)
                ll_log_line("warn", "command", "hold expiry: event store unavailable; trying again", NULL,
                            err.msg);
            x->store_down = 1;
            return;
        }
        x->store_down = 0;
    }
    sweep(x, p);
}

ll_hold_expiry_t *ll_hold_expiry_start(const char *conninfo, long long statement_timeout_ms,
                                       long long retention_s, long long interval_ms, ll_error_t *err) {
    ll_hold_expiry_t *x = calloc(1, sizeof *x);
    if (x == NULL || (x->conninfo = strdup(conninfo)) == NULL) {
        free(x);
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    x->statement_timeout_ms = statement_timeout_ms;
    x->retention_s = retention_s;
    x->sweeper = ll_periodic_start("hold expiry sweep", interval_ms > 0 ? interval_ms : 1000, expiry_round, x, err);
    if (x->sweeper == NULL) {
        free(x->conninfo);
        free(x);
        return NULL;
    }
    return x;
}

uint64_t ll_hold_expiry_expired(ll_hold_expiry_t *x) {
    return x ? atomic_load(&x->expired) : 0;
}

uint64_t ll_hold_expiry_failures(ll_hold_expiry_t *x) {
    return x ? atomic_load(&x->failures) : 0;
}

void ll_hold_expiry_stop(ll_hold_expiry_t *x) {
    if (x == NULL) return;
    ll_periodic_stop(x->sweeper); /* joined: the store is the caller's now */
    ll_store_close(x->store);
    free(x->conninfo);
    free(x);
}
