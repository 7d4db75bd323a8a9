/* ll_rebuild_findings.c - what the build and the verification find on the way: differences
 * between the new generation and the store (any refuses the switch) and the accounts the store
 * has more of (the catch-up's first). A file of its own so the phases that find them depend on
 * it, not on ll_rebuild_run.c, which runs them. */
#include "ll_rebuild.h"

#include <stdio.h>
#include <stdlib.h>

void rebuild_difference(rebuild_t *r, const ll_uuid_t *id, const char *what, const char *read_model,
                        const char *store) {
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(id, text);
    if (r->n_diffs++ < DIFFERENCES_SHOWN) {
        const char *row[] = {text, what, read_model, store};
        ll_table_add(r->diffs, row);
    }
}

int rebuild_note_behind(rebuild_t *r, const ll_uuid_t *id) {
    if (r->n_behind == r->cap_behind) {
        size_t cap = r->cap_behind ? r->cap_behind * 2 : 1024;
        ll_uuid_t *grown = realloc(r->behind, cap * sizeof *grown);
        if (grown == NULL) return -1;
        r->behind = grown, r->cap_behind = cap;
    }
    r->behind[r->n_behind++] = *id;
    return 0;
}

void rebuild_print_differences(const rebuild_t *r) {
    if (r->n_diffs == 0) return;
    fprintf(stderr, "%ld difference(s) between the new generation and the event store%s:\n", r->n_diffs,
            r->n_diffs > DIFFERENCES_SHOWN ? " (the first 50)" : "");
    ll_table_print(r->diffs, r->o->json ? LL_TABLE_JSON : LL_TABLE_TEXT, stderr);
}
