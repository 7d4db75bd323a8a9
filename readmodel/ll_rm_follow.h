/* ll_rm_follow.h - the active read-model generation, opened and followed: what every reader
 * and writer of the read model does to move over when a rebuild switches (the query API's
 * workers, the projector, ledgerline-audit).
 *
 * read_model_meta is read at most every check_ms (a read on every check, no write after the
 * first: readers poll it and must not contend with the projector's writes); when it names
 * another generation, the old one is closed and the new one opened. A failed check leaves
 * what is open as it is (its reads fail on their own while the store is down), and is tried
 * again check_ms later; with nothing open, at the next call.
 */
#ifndef LL_RM_FOLLOW_H
#define LL_RM_FOLLOW_H

#include "ll_read_model.h"

#include <stdint.h>

typedef struct {
    ll_rm_client_t *client; /* borrowed */
    int64_t check_ms;       /* 0: every call checks */
    ll_read_model_t *rm;    /* the active generation; NULL until opened */
    int64_t checked_ms;     /* when it was last checked; 0: check at the next call */
} ll_rm_follower_t;

void ll_rm_follower_init(ll_rm_follower_t *f, ll_rm_client_t *client, int64_t check_ms);
void ll_rm_follower_close(ll_rm_follower_t *f);

/* f->rm on the active generation. Returns 0 with *moved (may be NULL) set to 1 when this call
 * opened a generation (the first, or another after a switch), or a negative code (f->rm as it
 * was when the check failed; NULL when the new generation did not open). */
int ll_rm_follow(ll_rm_follower_t *f, int *moved, ll_error_t *err);

/* The active generation now, opened once (a command-line tool): a read model to free. */
ll_read_model_t *ll_rm_open_active(ll_rm_client_t *client, ll_error_t *err);

#endif
