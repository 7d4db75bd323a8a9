/* ll_rm_follow.c - see ll_rm_follow.h. */
#include "ll_rm_follow.h"

#include "ll_clock.h"

void ll_rm_follower_init(ll_rm_follower_t *f, ll_rm_client_t *client, int64_t check_ms) {
    *f = (ll_rm_follower_t){client, check_ms, NULL, 0};
}

void ll_rm_follower_close(ll_rm_follower_t *f) {
    ll_read_model_free(f->rm);
    f->rm = NULL;
    f->checked_ms = 0;
}

int ll_rm_follow(ll_rm_follower_t *f, int *moved, ll_error_t *err) {
    if (moved != NULL) *moved = 0;
    if (f->rm != NULL && f->checked_ms > 0 && ll_clock_ms() - f->checked_ms < f->check_ms) return 0;
    int64_t gen;
    f->checked_ms = ll_clock_ms(); /* a failed check too: tried again after check_ms, not at once */
    if (ll_read_model_active_generation(f->client, &gen, err) != 0) return LL_EIO;
    if (f->rm != NULL && gen == ll_read_model_generation(f->rm)) return 0;
    /* The new one opened first: one that cannot be opened (its indexes are made on the way)
     * leaves the follower where it was, never without a generation. */
    ll_read_model_t *next = ll_read_model_new(f->client, gen, err);
    if (next == NULL) return LL_EIO;
    ll_read_model_free(f->rm);
    f->rm = next;
    if (moved != NULL) *moved = 1;
    return 0;
}

ll_read_model_t *ll_rm_open_active(ll_rm_client_t *client, ll_error_t *err) {
    int64_t gen;
    if (ll_read_model_active_generation(client, &gen, err) != 0) return NULL;
    return ll_read_model_new(client, gen, err);
}
