/* ll_table.c - see ll_table.h. */
#include "ll_table.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct ll_table {
    const ll_table_column_t *columns;
    size_t n_columns;
    char **cells; /* rows * n_columns, row-major; NULL = empty */
    size_t rows, cap;
};

int ll_table_parse_format(const char *s, ll_table_format_t *out) {
    if (!strcmp(s, "table"))
        *out = LL_TABLE_TEXT;
    else if (!strcmp(s, "csv"))
        *out = LL_TABLE_CSV;
    else if (!strcmp(s, "json"))
        *out = LL_TABLE_JSON;
    else
        return -1;
    return 0;
}

ll_table_t *ll_table_new(const ll_table_column_t *columns, size_t n_columns) {
    ll_table_t *t = calloc(1, sizeof *t);
    if (t != NULL) t->columns = columns, t->n_columns = n_columns;
    return t;
}

int ll_table_add(ll_table_t *t, const char *const *values) {
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **cells = realloc(t->cells, cap * t->n_columns * sizeof *cells);
        if (cells == NULL) return -1;
        t->cells = cells, t->cap = cap;
    }
    char **row = t->cells + t->rows * t->n_columns;
    for (size_t c = 0; c < t->n_columns; c++) {
        row[c] = values[c] ? strdup(values[c]) : NULL;
        if (values[c] && row[c] == NULL) {
            while (c-- > 0) free(row[c]);
            return -1;
        }
    }
    t->rows++;
    return 0;
}

size_t ll_table_rows(const ll_table_t *t) {
    return t->rows;
}

static const char *cell(const ll_table_t *t, size_t r, size_t c) {
    const char *v = t->cells[r * t->n_columns + c];
    return v ? v : "";
}

static void print_text(const ll_table_t *t, FILE *out) {
    size_t width[64] = {0};
    for (size_t c = 0; c < t->n_columns && c < 64; c++) {
        width[c] = strlen(t->columns[c].name);
        for (size_t r = 0; r < t->rows; r++)
            if (strlen(cell(t, r, c)) > width[c]) width[c] = strlen(cell(t, r, c));
    }
    for (size_t c = 0; c < t->n_columns; c++) {
        if (c + 1 < t->n_columns)
            fprintf(out, "%-*s  ", (int)width[c], t->columns[c].name);
        else
            fprintf(out, "%s\n", t->columns[c].name);
    }
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < t->n_columns; c++) {
            /* Numbers align right, text left. */
            if (c + 1 == t->n_columns)
                fprintf(out, "%s\n", cell(t, r, c));
            else
                fprintf(out, t->columns[c].is_integer ? "%*s  " : "%-*s  ", (int)width[c], cell(t, r, c));
        }
}

/* A text cell a spreadsheet would run as a formula (= + - @, or a tab or CR before one) is
 * written with a leading ' (OWASP's advice): an owner or a reference is data, never code.
 * Integer columns are numbers and stay as they are. */
static int formula_like(const char *s) {
    return s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r';
}

static void csv_field(const char *s, int is_integer, FILE *out) {
    int neutralise = !is_integer && formula_like(s);
    if (!neutralise && strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    if (neutralise) fputc('\'', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void print_csv(const ll_table_t *t, FILE *out) {
    for (size_t c = 0; c < t->n_columns; c++) {
        csv_field(t->columns[c].name, 0, out);
        fputs(c + 1 < t->n_columns ? "," : "\r\n", out);
    }
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < t->n_columns; c++) {
            csv_field(cell(t, r, c), t->columns[c].is_integer, out);
            fputs(c + 1 < t->n_columns ? "," : "\r\n", out);
        }
}

static int print_json(const ll_table_t *t, FILE *out) {
    json_t *rows = json_array();
    for (size_t r = 0; rows && r < t->rows; r++) {
        json_t *o = json_object();
        for (size_t c = 0; o && c < t->n_columns; c++) {
            const char *v = t->cells[r * t->n_columns + c];
            json_t *value = v == NULL                  ? json_null()
                            : t->columns[c].is_integer ? json_integer(strtoll(v, NULL, 10))
                                                       : json_string(v);
            json_object_set_new(o, t->columns[c].name, value);
        }
        json_array_append_new(rows, o);
    }
    int rc = rows ? json_dumpf(rows, out, JSON_INDENT(2)) : -1;
    fputc('\n', out);
    json_decref(rows);
    return rc;
}

int ll_table_print(const ll_table_t *t, ll_table_format_t format, FILE *out) {
    int rc = 0;
    if (format == LL_TABLE_TEXT)
        print_text(t, out);
    else if (format == LL_TABLE_CSV)
        print_csv(t, out);
    else
        rc = print_json(t, out);
    return rc == 0 && !ferror(out) ? 0 : -1;
}

void ll_table_free(ll_table_t *t) {
    if (t == NULL) return;
    for (size_t i = 0; i < t->rows * t->n_columns; i++) free(t->cells[i]);
    free(t->cells);
    free(t);
}
