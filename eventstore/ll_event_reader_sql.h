/* ll_event_reader_sql.h - inside eventstore/ only: the reader's statements, one SQL text per
 * read, and how its files run them. Nobody outside includes this. */
#ifndef LL_EVENT_READER_SQL_H
#define LL_EVENT_READER_SQL_H

#include "ll_error.h"
#include "ll_event_reader.h"

#include <libpq-fe.h>

typedef enum {
    LL_ES_RANGE,      /* an account's envelopes in a range of versions, up to a time, a page */
    LL_ES_TRANSFER,   /* a transfer's legs */
    LL_ES_STATE_ROW,  /* one account_state row */
    LL_ES_STATES,     /* accounts' states at given versions, from the store's events */
    LL_ES_MOVED,      /* state rows updated since */
    LL_ES_HEAD,       /* the last global position */
    LL_ES_COUNT_UPTO, /* events up to a global position */
    LL_ES_STREAM,     /* the whole store in account order (a cursor's query) */
    LL_ES_WITH_HEADS, /* every stream with its state row's head, a row at a time */
    LL_ES_SEARCH,     /* events in store order, filtered */
    LL_ES_STATES_ALL, /* every state row's figures, a row at a time */
    LL_ES_STATES_0003, /* ... of a schema before 0004 (no held_minor, frozen) */
    LL_ES_HAS_HOLDS,  /* whether account_state has 0004's columns */
    LL_ES_TOTALS,     /* state rows and the sum of their versions */
    LL_ES_HOLD,       /* one hold with its account's owner */
    LL_ES_OPEN_HOLDS, /* an account's owner and a page of its open holds */
    LL_ES_COUNT
} ll_event_statement_id_t;

typedef struct {
    const char *name, *sql;
} ll_event_statement_t;

/* The stream's query; $1 the last global position, $2 the account or NULL. */
#define LL_EVENT_STREAM_SELECT                                                                           \
    "SELECT account_id::text, envelope FROM events WHERE global_position <= $1::bigint"                  \
    " AND ($2::uuid IS NULL OR account_id = $2::uuid) ORDER BY account_id, version"

/* Every stream (or $1's) in account and version order, each row with its state row's head ("",
 * 0 when there is none). */
#define LL_EVENT_WITH_HEADS_SELECT                                                                      \
    "SELECT e.account_id::text, e.envelope, coalesce(s.head_hash, ''), coalesce(s.version, 0)"           \
    " FROM events e LEFT JOIN account_state s USING (account_id)"                                          \
    " WHERE ($1::uuid IS NULL OR e.account_id = $1::uuid) ORDER BY e.account_id, e.version"

/* The events in store order, filtered: $1 account, $2 type, $3 since, $4 until, $5 transfer,
 * $6 limit, $7 actor and $8 the text its envelope holds for it (each NULL: any). */
#define LL_EVENT_SEARCH_SELECT                                                                          \
    "SELECT envelope FROM events WHERE ($1::uuid IS NULL OR account_id = $1::uuid)"                      \
    " AND ($2::text IS NULL OR type = $2) AND ($3::timestamptz IS NULL OR occurred_at >= $3)"            \
    " AND ($4::timestamptz IS NULL OR occurred_at <= $4)"                                                  \
    " AND ($5::uuid IS NULL OR transfer_id = $5::uuid)"                                                    \
    " AND ($7::text IS NULL OR (strpos(envelope, $8) > 0 AND envelope::jsonb ->> 'actor' = $7))"         \
    " ORDER BY global_position LIMIT $6::int"

/* account_state's rows ($1's, or all when it is NULL). */
#define LL_EVENT_STATE_ROWS " FROM account_state WHERE ($1::uuid IS NULL OR account_id = $1::uuid)"
#define LL_EVENT_STATE_FIGURES "SELECT account_id::text, version, balance_minor, status, overdraft_limit_minor, "

/* What every hold read selects: its account's owner, then the hold's columns as
 * ll_event_holds.c reads them (times in microseconds since the epoch; settled_at NULL while
 * open). From account_state s and holds h. */
#define LL_EVENT_HOLD_COLUMNS                                                                           \
    "SELECT s.owner, h.hold_id, h.account_id, h.status, h.currency, h.amount_minor, h.captured_minor,"    \
    " h.reference, (extract(epoch FROM h.placed_at) * 1000000)::bigint,"                                   \
    " (extract(epoch FROM h.expires_at) * 1000000)::bigint,"                                               \
    " (extract(epoch FROM h.settled_at) * 1000000)::bigint, h.placed_version"

/* Sends sql (n text parameters) in single-row mode and calls row(ctx, res) per row until it
 * returns non-zero (the rest then cancelled and drained: the connection stays usable). Returns
 * 0, or -1 with err set when the statement failed. */
int ll_event_reader_rows_each(PGconn *conn, const char *sql, int n, const char *const *params,
                              int (*row)(void *ctx, const PGresult *res), void *ctx, ll_error_t *err);

extern const ll_event_statement_t LL_EVENT_STATEMENTS[LL_ES_COUNT];

/* The reader's connection: its own (connected or connected again) or the caller's. NULL with err
 * set when there is none. */
PGconn *ll_event_reader_conn(ll_event_reader_t *r, ll_error_t *err);

/* Runs statement id, prepared on first use, expecting rows. Returns the result (caller
 * PQclear()s), or NULL with err set. */
PGresult *ll_event_reader_run(ll_event_reader_t *r, ll_event_statement_id_t id, int n, const char *const *params,
                              ll_error_t *err);

#endif
