/* ll_outbox_order.h - which outbox rows a relay round may delete.
 *
 * A round produces rows in global-position order and Kafka reports on each. Kafka may hold an
 * account's later event while an earlier one failed (a batch rejected, a message that timed out
 * in the queue while a later one went out after the broker came back). Deleting the later row
 * would leave the earlier one to be published after it: the topic would carry the account out
 * of order for good. So a round deletes an account's delivered rows only up to its first row
 * that was not delivered; the rest stay and are published again, in order, in the next round
 * (the projector drops the copies it already applied, by version). Pure: no I/O.
 */
#ifndef LL_OUTBOX_ORDER_H
#define LL_OUTBOX_ORDER_H

/* One produced row, in the round's (global-position) order. */
typedef struct {
    const char *account; /* the row's key: its account id */
    int delivered;       /* Kafka acknowledged it */
} ll_outbox_outcome_t;

/* Sets deletable[i] to 1 for the rows the round may delete, 0 for the others; returns how many
 * may go. */
int ll_outbox_deletable(const ll_outbox_outcome_t *rows, int n, unsigned char *deletable);

#endif
