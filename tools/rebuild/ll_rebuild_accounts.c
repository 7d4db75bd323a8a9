/* ll_rebuild_accounts.c - see ll_rebuild_accounts.h. */
#include "ll_rebuild_accounts.h"

#include <string.h>

int accounts_init(ll_uuid_map_t *m) {
    return ll_uuid_map_init(m, sizeof(slot_t), 0);
}

slot_t *accounts_add(ll_uuid_map_t *m, const ll_uuid_t *id) {
    int added = 0;
    slot_t *s = ll_uuid_map_insert(m, id, &added);
    if (s != NULL && added) ll_account_init(&s->st, id);
    return s;
}

slot_t *accounts_next(const ll_uuid_map_t *m, size_t *at) {
    void *value = NULL;
    return ll_uuid_map_next(m, at, NULL, &value) ? value : NULL;
}

void accounts_free(ll_uuid_map_t *m) {
    slot_t *s;
    for (size_t at = 0; (s = accounts_next(m, &at)) != NULL;) ll_rm_builder_forget(&s->buf);
    ll_uuid_map_free(m);
}

void checksum_add(slot_t *s, const ll_uuid_t *event_id, int64_t amount_minor) {
    uint64_t head;
    memcpy(&head, event_id->bytes, 8);
    s->n_tx++;
    s->sum_tx += (uint64_t)amount_minor;
    s->xor_tx ^= head;
}
