/* ll_outbox_order.c - see ll_outbox_order.h. */
#include "ll_outbox_order.h"

#include <string.h>

/* Failures are rare and a round holds at most a few thousand rows: the accounts with a hole are
 * found by a linear search over the earlier undelivered rows, which costs nothing when all went
 * well. */
static int has_hole_before(const ll_outbox_outcome_t *rows, int i) {
    for (int k = 0; k < i; k++)
        if (!rows[k].delivered && strcmp(rows[k].account, rows[i].account) == 0) return 1;
    return 0;
}

int ll_outbox_deletable(const ll_outbox_outcome_t *rows, int n, unsigned char *deletable) {
    int count = 0, holes = 0;
    for (int i = 0; i < n; i++) {
        deletable[i] = rows[i].delivered && (holes == 0 || !has_hole_before(rows, i));
        count += deletable[i];
        holes += !rows[i].delivered;
    }
    return count;
}
