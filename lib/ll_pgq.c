/* ll_pgq.c - see ll_pgq.h. */
#include "ll_pgq.h"

#include "ll_pg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A statement with more parameters than this is a programming error (PostgreSQL allows 65535). */
#define PGQ_PARAMS_MAX 60000
#define FORMATTED_MAX  128 /* a value given as printf format: numbers */

void ll_pgq_init(ll_pgq_t *q) {
    memset(q, 0, sizeof *q);
    q->array_items = -1;
}

void ll_pgq_reset(ll_pgq_t *q) {
    q->sql_len = q->arena_len = 0;
    q->n = 0;
    q->failed = 0;
    q->array_items = -1;
    q->sqlstate[0] = '\0';
    if (q->sql) q->sql[0] = '\0';
}

void ll_pgq_free(ll_pgq_t *q) {
    free(q->sql);
    free(q->arena);
    free(q->offsets);
    ll_pgq_init(q);
}

/* Ensures *buf has room for need more bytes; doubles. */
static int grow(char **buf, size_t *cap, size_t len, size_t need) {
    if (len + need <= *cap) return 0;
    size_t n = *cap ? *cap : 256;
    while (n < len + need) n *= 2;
    char *p = realloc(*buf, n);
    if (p == NULL) return -1;
    *buf = p;
    *cap = n;
    return 0;
}

static void append(ll_pgq_t *q, const char *text, size_t len) {
    if (q->failed || grow(&q->sql, &q->sql_cap, q->sql_len, len + 1) != 0) {
        q->failed = 1;
        return;
    }
    memcpy(q->sql + q->sql_len, text, len);
    q->sql_len += len;
    q->sql[q->sql_len] = '\0';
}

void ll_pgq_sql(ll_pgq_t *q, const char *text) {
    append(q, text, strlen(text));
}

/* Starts parameter N+1's value in the arena. Returns 0, or -1 (q->failed set). */
static int value_begin(ll_pgq_t *q) {
    if (q->failed) return -1;
    if (q->n == PGQ_PARAMS_MAX) {
        q->failed = 1;
        return -1;
    }
    if (q->n == q->cap) {
        int cap = q->cap ? q->cap * 2 : 32;
        size_t *o = realloc(q->offsets, (size_t)cap * sizeof *o);
        if (o == NULL) {
            q->failed = 1;
            return -1;
        }
        q->offsets = o;
        q->cap = cap;
    }
    q->offsets[q->n] = q->arena_len;
    return 0;
}

static void value_append(ll_pgq_t *q, const char *bytes, size_t len) {
    if (q->failed || grow(&q->arena, &q->arena_cap, q->arena_len, len) != 0) {
        q->failed = 1;
        return;
    }
    memcpy(q->arena + q->arena_len, bytes, len);
    q->arena_len += len;
}

/* Ends the value (NUL) and appends its reference "$N::cast" to the SQL. */
static void value_end(ll_pgq_t *q, const char *cast) {
    value_append(q, "", 1);
    if (q->failed) return;
    q->n++;
    char ref[48];
    int n = snprintf(ref, sizeof ref, cast ? "$%d::%s" : "$%d", q->n, cast ? cast : "");
    append(q, ref, (size_t)n);
}

static void add_value(ll_pgq_t *q, const char *value, size_t len, const char *cast) {
    if (value_begin(q) != 0) return;
    value_append(q, value, len);
    value_end(q, cast);
}

void ll_pgq_param(ll_pgq_t *q, const char *value, const char *cast) {
    add_value(q, value, strlen(value), cast);
}

/* Formats a short value (a number) into buf; -1 (q->failed set) when it does not fit. */
__attribute__((format(printf, 3, 0))) static int format_value(ll_pgq_t *q, char buf[FORMATTED_MAX],
                                                              const char *fmt, va_list ap) {
    int n = vsnprintf(buf, FORMATTED_MAX, fmt, ap);
    if (n < 0 || n >= FORMATTED_MAX) {
        q->failed = 1;
        return -1;
    }
    return n;
}

void ll_pgq_paramf(ll_pgq_t *q, const char *cast, const char *fmt, ...) {
    char buf[FORMATTED_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = format_value(q, buf, fmt, ap);
    va_end(ap);
    if (n >= 0) add_value(q, buf, (size_t)n, cast);
}

void ll_pgq_array_begin(ll_pgq_t *q) {
    if (q->array_items >= 0) q->failed = 1; /* one array at a time */
    if (value_begin(q) != 0) return;
    value_append(q, "{", 1);
    q->array_items = 0;
}

void ll_pgq_array_item(ll_pgq_t *q, const char *value) {
    if (q->array_items < 0) q->failed = 1;
    if (q->failed) return;
    if (q->array_items++ > 0) value_append(q, ",", 1);
    if (value == NULL) {
        value_append(q, "NULL", 4);
        return;
    }
    /* Quoted, so that no text is taken for NULL, a separator or a nested array. */
    value_append(q, "\"", 1);
    for (const char *p = value; *p; p++) {
        size_t run = strcspn(p, "\"\\");
        value_append(q, p, run);
        p += run;
        if (*p == '\0') break;
        value_append(q, "\\", 1);
        value_append(q, p, 1);
    }
    value_append(q, "\"", 1);
}

void ll_pgq_array_itemf(ll_pgq_t *q, const char *fmt, ...) {
    char buf[FORMATTED_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = format_value(q, buf, fmt, ap);
    va_end(ap);
    if (n >= 0) ll_pgq_array_item(q, buf);
}

void ll_pgq_array_end(ll_pgq_t *q, const char *cast) {
    if (q->array_items < 0) q->failed = 1;
    if (q->failed) return;
    value_append(q, "}", 1);
    q->array_items = -1;
    value_end(q, cast);
}

/* The parameters as libpq takes them; NULL with err set when the statement cannot run. */
static const char **params_of(ll_pgq_t *q, ll_error_t *err) {
    static const char *none[1];
    if (q->failed || q->sql == NULL || q->array_items >= 0) {
        ll_error_set(err, LL_ENOMEM, "statement could not be built (out of memory or too many parameters)");
        return NULL;
    }
    const char **params = q->n ? malloc((size_t)q->n * sizeof *params) : none;
    if (params == NULL) {
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    for (int i = 0; i < q->n; i++) params[i] = q->arena + q->offsets[i];
    return params;
}

PGresult *ll_pgq_exec_prepared(PGconn *conn, ll_pg_prepared_t *ps, const char *name, ll_pgq_t *q,
                               ExecStatusType expect, ll_error_t *err) {
    const char **params = params_of(q, err);
    if (params == NULL) return NULL;
    PGresult *res = ll_pg_prepared_query(ps, conn, name, q->sql, q->n, params, expect, q->sqlstate, err);
    if (q->n) free(params);
    return res;
}

PGresult *ll_pgq_exec(PGconn *conn, ll_pgq_t *q, ExecStatusType expect, ll_error_t *err) {
    const char **params = params_of(q, err);
    if (params == NULL) return NULL;
    PGresult *res = ll_pg_query_state(conn, q->sql, q->n, params, expect, q->sqlstate, err);
    if (q->n) free(params);
    return res;
}
