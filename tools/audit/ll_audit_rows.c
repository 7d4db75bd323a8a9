/* ll_audit_rows.c - what ledgerline-audit's commands print alike: the refusal line, numbers as
 * text, the table of events, and tables in the chosen format. */
#include "ll_audit.h"
#include "ll_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int audit_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ledgerline-audit: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_USAGE;
}

void fmt_i64(char *buf, size_t size, int64_t v) {
    snprintf(buf, size, "%lld", (long long)v);
}

void fmt_figures(const ll_account_t *a, audit_figures_t *out) {
    const int64_t v[4] = {a->balance_minor, a->held_minor, ll_account_available(a), a->overdraft_limit_minor};
    for (int i = 0; i < 4; i++) {
        fmt_i64(out->text[i], sizeof out->text[i], v[i]);
        out->cell[i] = out->text[i];
    }
    out->cell[4] = a->frozen ? "true" : "false";
}

/* One decoded event as the columns of `events` and `trace`: the envelope, what its data says
 * (each type fills its own; the rest are empty), and the account's figures after it (every type
 * but AccountOpened and AccountClosed carries them). */
static const ll_table_column_t event_columns[] = {
    {"global_position", 1},
    {"occurred_at", 0},
    {"account_id", 0},
    {"version", 1},
    {"type", 0},
    {"amount_minor", 1},
    {"currency", 0},
    {"balance_after_minor", 1},
    {"held_after_minor", 1},
    {"overdraft_limit_minor", 1},
    {"frozen", 0},
    {"transfer_id", 0},
    {"counterparty_account_id", 0},
    {"payment_id", 0},
    {"hold_id", 0},
    {"released_minor", 1},
    {"expires_at", 0},
    {"reason", 0},
    {"actor", 0},
    {"command_id", 0},
    {"event_id", 0},
};
#define EVENT_COLUMNS (sizeof event_columns / sizeof event_columns[0])

ll_table_t *event_table_new(void) {
    return ll_table_new(event_columns, EVENT_COLUMNS);
}

/* The uuid's text into out, or NULL when it is nil (the field does not apply). */
static const char *uuid_cell(const ll_uuid_t *id, char out[LL_UUID_TEXT_LEN + 1]) {
    if (ll_uuid_is_nil(id)) return NULL;
    ll_uuid_format(id, out);
    return out;
}

int add_event_row(ll_table_t *t, const ll_event_t *ev) {
    char pos[24], when[LL_TIME_TEXT_LEN + 1], acct[LL_UUID_TEXT_LEN + 1], ver[24], amount[24], bal[24];
    char held[24], limit[24], released[24], expires[LL_TIME_TEXT_LEN + 1];
    char transfer[LL_UUID_TEXT_LEN + 1], other[LL_UUID_TEXT_LEN + 1], payment[LL_UUID_TEXT_LEN + 1];
    char hold[LL_UUID_TEXT_LEN + 1], eid[LL_UUID_TEXT_LEN + 1];
    const ll_data_movement_t *m = &ev->data.movement;
    int money = ll_event_has_money(ev->type);
    int figures = ev->type != LL_EVENT_ACCOUNT_OPENED && ev->type != LL_EVENT_ACCOUNT_CLOSED;
    fmt_i64(pos, sizeof pos, ev->global_position);
    ll_time_format(ev->occurred_at_us, when);
    ll_uuid_format(&ev->account_id, acct);
    fmt_i64(ver, sizeof ver, ev->version);
    fmt_i64(amount, sizeof amount, m->amount_minor);
    fmt_i64(bal, sizeof bal, ev->after.balance_minor);
    fmt_i64(held, sizeof held, ev->after.held_minor);
    fmt_i64(limit, sizeof limit, ev->after.overdraft_limit_minor);
    fmt_i64(released, sizeof released, m->released_minor);
    int placed = ev->type == LL_EVENT_HOLD_PLACED && ll_time_format(m->expires_at_us, expires) == 0;
    ll_uuid_format(&ev->event_id, eid);
    const char *currency = ev->type == LL_EVENT_ACCOUNT_OPENED ? ev->data.opened.currency.code
                           : money                             ? m->currency.code
                                                               : NULL;
    const char *row[EVENT_COLUMNS] = {
        pos,
        when,
        acct,
        ver,
        ll_event_type_name(ev->type),
        money ? amount : NULL,
        currency,
        figures ? bal : NULL,
        figures ? held : NULL,
        figures ? limit : NULL,
        figures ? (ev->after.frozen ? "true" : "false") : NULL,
        money ? uuid_cell(&m->transfer_id, transfer) : NULL,
        money && !ll_uuid_is_nil(&m->transfer_id) ? uuid_cell(&m->counterparty_id, other) : NULL,
        money ? uuid_cell(&m->payment_id, payment) : NULL,
        money ? uuid_cell(&m->hold_id, hold) : NULL,
        ev->type == LL_EVENT_HOLD_CAPTURED ? released : NULL,
        placed ? expires : NULL,
        ev->type == LL_EVENT_ACCOUNT_FROZEN ? ev->data.frozen.reason : NULL,
        ev->actor,
        ev->command_id,
        eid};
    return ll_table_add(t, row);
}

int print_table(ll_table_t *t, const options_t *o) {
    int rc = ll_table_print(t, o->format, stdout) == 0 ? 0 : EXIT_USAGE;
    ll_table_free(t);
    return rc;
}

int print_findings(ll_table_t *t, const options_t *o) {
    if (t != NULL && (ll_table_rows(t) > 0 || o->format == LL_TABLE_JSON)) return print_table(t, o);
    ll_table_free(t);
    return 0;
}

/* main checked --account: a text that does not parse never reaches a command. */
const ll_uuid_t *audit_account(const options_t *o, ll_uuid_t *id) {
    return o->account != NULL && ll_uuid_parse(o->account, true, id) == 0 ? id : NULL;
}

int start_progress(ll_event_reader_t *store, const options_t *o, ll_progress_t *p, const char *phase, bool events) {
    ll_error_t err = {""};
    ll_uuid_t id;
    int64_t accounts = 0, versions = 0;
    if (ll_event_reader_state_totals(store, audit_account(o, &id), &accounts, &versions, &err) != 0)
        return audit_fail("%s", err.msg);
    ll_progress_start(p, phase, events ? "events" : "accounts", events ? versions : accounts);
    return 0;
}
