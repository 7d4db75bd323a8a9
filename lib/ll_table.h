/* ll_table.h - rows for people and for machines: an aligned text table, CSV (RFC 4180) or JSON
 * (an array of objects). Columns are fixed up front; integer columns are JSON numbers.
 * Rows are buffered (the table needs every width before it prints). */
#ifndef LL_TABLE_H
#define LL_TABLE_H

#include <stddef.h>
#include <stdio.h>

typedef enum { LL_TABLE_TEXT, LL_TABLE_CSV, LL_TABLE_JSON } ll_table_format_t;

typedef struct ll_table_column {
    const char *name; /* stable: scripts depend on it */
    int is_integer;   /* JSON number instead of string */
} ll_table_column_t;

typedef struct ll_table ll_table_t;

/* Parses "table", "csv" or "json". Returns 0, or -1. */
int ll_table_parse_format(const char *s, ll_table_format_t *out);

ll_table_t *ll_table_new(const ll_table_column_t *columns, size_t n_columns);
/* Adds a row of n_columns strings (copied; NULL prints empty / JSON null). Returns 0 or -1 (memory). */
int ll_table_add(ll_table_t *t, const char *const *values);
size_t ll_table_rows(const ll_table_t *t);
/* Writes everything and frees nothing. Returns 0, or -1 on a write error. */
int ll_table_print(const ll_table_t *t, ll_table_format_t format, FILE *out);
void ll_table_free(ll_table_t *t);

#endif
