/* ll_projector_accounts.c - a batch's accounts: grouped by account in version order, what is
 * known of each before folding (remembered, read from the read model on the writer threads, or
 * taken from the event store), and the accounts waiting on a gap or halted. See
 * ll_projector_state.h. */
#include "ll_projector_state.h"

/* Right after following a generation switch that recorded no resume point (a rebuild of an
 * older release): the rebuild may not have caught up yet, so nothing is taken on the store's
 * word meanwhile (gaps are still closed from the store: it is the truth either way). */
static int settling(const projector_t *p) {
    return p->switched_at_ms > 0 && ll_clock_ms() - p->switched_at_ms < SWITCH_SETTLE_MS;
}

/* The event store may be read: configured, and not failing lately. */
static int store_usable(const projector_t *p) {
    return p->store != NULL && ll_clock_ms() >= p->store_retry_at_ms;
}

/* The store could not be read: it is left alone for a while, and the batch is tried again. */
int projector_store_failed(projector_t *p, batch_account_t *acc, const char *why, ll_error_t *err) {
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&acc->id, text);
    p->store_retry_at_ms = ll_clock_ms() + STORE_RETRY_MS;
    p->heal_failures++;
    acc->store_waits = 1;
    int added;
    if (ll_uuid_map_insert(&p->waiting, &acc->id, &added) == NULL)
        return ll_error_set(err, LL_ENOMEM, "out of memory");
    if (added)
        log_event("error", "version gap: the batch waits until the event store can close it", text, why);
    return ll_error_set(err, LL_EIO, "account %s: a version gap the event store cannot close now: %s", text,
                        why);
}

/* Notes that acc is behind a gap the read model cannot tell from the store's word: until its
 * batch commits, a retry reads it from the read model, never takes the store's word for it
 * (recall_from_store skips p->waiting), since a failed round may have written nothing of the
 * events that close it. Returns 0 or LL_ENOMEM. */
int projector_mark_waiting(projector_t *p, const batch_account_t *acc, ll_error_t *err) {
    return ll_uuid_map_insert(&p->waiting, &acc->id, NULL) == NULL
               ? ll_error_set(err, LL_ENOMEM, "out of memory")
               : 0;
}

/* Sends a copy the projector does not apply to the dead-letter topic, once however often the
 * batch is tried. */
int projector_dead_letter_copy(projector_t *p, item_t *it, const char *why, ll_error_t *err) {
    if (it->refused) return 0;
    if (projector_dead_letter(p, it->msg, why, err) != 0) return LL_EIO;
    it->refused = 1;
    return 0;
}

/* Halts account acc at version: the event store itself cannot tell what comes there (its own
 * event does not fold, or does not decode). Recorded in the generation first (the halt holds
 * across restarts; a retried batch records the same document again), then the copy in hand, if
 * any, dead-lettered; never guessed. The account's events below that version are still written
 * (group keeps them), the later ones wait for an operator (docs/operations.md). */
int projector_halt_account(projector_t *p, batch_account_t *acc, item_t *it, int64_t version, const char *why,
                           ll_error_t *err) {
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&acc->id, text);
    if (ll_read_model_save_halt(p->follow.rm, &acc->id, version, why, ll_clock_wall_us(), err) != 0 ||
        (it != NULL && projector_dead_letter_copy(p, it, why, err) != 0))
        return LL_EIO;
    log_event("error", "event refused: account halted", text, why);
    int64_t *halted = ll_uuid_map_insert(&p->stopped, &acc->id, NULL);
    if (halted == NULL) return ll_error_set(err, LL_ENOMEM, "out of memory");
    *halted = version;
    p->holes_found++;
    acc->halt_version = version;
    return 0;
}

/* The account of acc was written: if it was behind a gap, the gap is closed. */
void projector_healed(projector_t *p, const batch_account_t *acc) {
    ll_uuid_map_remove(&p->waiting, &acc->id); /* its gap, if any, is written (fold_account logged it) */
}

/* The batch index of id, added when add is set and it is new; -1 when absent. */
static int account_index(projector_t *p, const ll_uuid_t *id, int add) {
    if (!add) {
        const int *k = ll_uuid_map_find(&p->batch_index, id);
        return k != NULL ? *k : -1;
    }
    int added;
    int *slot = ll_uuid_map_insert(&p->batch_index, id, &added);
    assert(slot != NULL); /* sized for batch_max accounts: never grows */
    if (!added) return *slot;
    int k = p->n_accounts++;
    assert(k < p->opt->batch_max);
    batch_account_t *acc = &p->accounts[k];
    memset(acc, 0, sizeof *acc);
    acc->id = *id;
    acc->shard = 0; /* set once the batch's accounts are known (group) */
    *slot = k;
    return k;
}

/* The account a message is keyed by (the relay keys each event by its account id), when the key
 * is one. */
static int message_account(const rd_kafka_message_t *m, ll_uuid_t *id) {
    char text[LL_UUID_TEXT_LEN + 1];
    if (m->key == NULL || m->key_len != LL_UUID_TEXT_LEN) return 0;
    memcpy(text, m->key, LL_UUID_TEXT_LEN);
    text[LL_UUID_TEXT_LEN] = '\0';
    return ll_uuid_parse(text, false, id) == 0;
}

/* Groups the batch's events by account, each account's events contiguous in p->order and sorted
 * by version (stable): a later version that arrived first is folded after the earlier ones of
 * the same batch, never taken as the account's first. Left out: undecodable messages (their
 * account, when the key names one, is brought up to the event store instead: the copy that
 * could not be read may be the one event it lacks) and a halted account's events from the
 * refused version on (those below it are still written). */
void projector_group(projector_t *p, int n) {
    for (int k = 0; k < p->n_accounts; k++) {
        free(p->accounts[k].own);
        p->accounts[k].own = NULL;
    }
    ll_uuid_map_clear(&p->batch_index);
    p->n_accounts = 0;
    for (int i = 0; i < n; i++) {
        item_t *it = &p->items[i];
        const int64_t *halted_at;
        ll_uuid_t id;
        it->account = -1;
        if (!it->decoded) {
            if (!message_account(it->msg, &id)) continue;
            batch_account_t *acc = &p->accounts[account_index(p, &id, 1)];
            if ((halted_at = ll_uuid_map_find(&p->stopped, &id)) != NULL)
                acc->halt_version = *halted_at; /* brought up to its halt, no further */
            else
                acc->heal_to = INT64_MAX;
            continue;
        }
        halted_at = ll_uuid_map_find(&p->stopped, &it->ev.account_id);
        int halted = halted_at != NULL;
        int64_t halted_version = halted ? *halted_at : 0;
        /* A halted account stays in the batch even when every copy here is at or past its halt:
         * what is below the halt is brought up from the store (fold_account), also when the
         * batch that halted it failed after recording the halt, or the projector was killed. */
        int k = account_index(p, &it->ev.account_id, 1);
        if (halted) p->accounts[k].halt_version = halted_version;
        if (halted && it->ev.version >= halted_version) continue;
        it->account = k;
        p->accounts[k].n_events++;
    }
    /* Every connection's share costs a transaction per kind of write, whatever its size: a few
     * accounts go to one connection, more are spread over up to all of them. An account's writes
     * stay on one connection within the batch, and batches never overlap. */
    p->batch_shards = (p->n_accounts + SHARD_ACCOUNTS_MIN - 1) / SHARD_ACCOUNTS_MIN;
    if (p->batch_shards > p->n_shards) p->batch_shards = p->n_shards;
    if (p->batch_shards < 1) p->batch_shards = 1;
    for (int k = 0; k < p->n_accounts; k++)
        p->accounts[k].shard = (int)(ll_uuid_hash(&p->accounts[k].id) % (uint64_t)p->batch_shards);
    int at = 0;
    for (int k = 0; k < p->n_accounts; k++) p->accounts[k].first = at, at += p->accounts[k].n_events;
    for (int k = 0; k < p->n_accounts; k++) p->accounts[k].n_events = 0;
    for (int i = 0; i < n; i++) {
        item_t *it = &p->items[i];
        if (it->account < 0) continue;
        batch_account_t *acc = &p->accounts[it->account];
        /* Insertion by version: an account's events almost always arrive in order. */
        int j = acc->first + acc->n_events++;
        while (j > acc->first && p->items[p->order[j - 1]].ev.version > it->ev.version) {
            p->order[j] = p->order[j - 1];
            j--;
        }
        p->order[j] = i;
    }
}

/* The version of acc's first event in the batch; 0 when it has none (brought up to the store). */
static int64_t first_version(const projector_t *p, const batch_account_t *acc) {
    return acc->n_events > 0 ? p->items[p->order[acc->first]].ev.version : 0;
}

/* Reads what the read model holds of the shard's accounts marked to read. An account seen for
 * the first time costs one lookup at most: opened in this batch, nothing (a second opening
 * shows as a conflict when written); else the document of the event before its first one
 * here, which carries all the read model holds of it (falling back to the account document and
 * its open page when that event is sealed into a page or the account must be read whole). Only
 * a whole read is checked from the account document up (trusted stays 0): one event's document
 * is as good as the writer that stored it, which may have taken its state on trust. */
static int read_shard(ll_read_model_t *rm, void *arg, ll_error_t *err) {
    shard_task_t *t = arg;
    projector_t *p = t->p;
    for (int k = 0; k < p->n_accounts; k++) {
        batch_account_t *acc = &p->accounts[k];
        if (acc->shard != t->shard || !acc->to_read) continue;
        int64_t first = first_version(p, acc);
        bool found = false;
        if (first == 0) acc->read_whole = 1; /* only brought up to the store: from what is there */
        acc->trusted = 0;
        if (!acc->read_whole && first == 1) {
            memset(&acc->before, 0, sizeof acc->before);
            ll_account_init(&acc->before.state, &acc->id);
            acc->remembered = 1;
        } else if (!acc->read_whole &&
                   ll_read_model_probe(rm, &acc->id, first - 1, &acc->before, &found, err) != 0) {
            return LL_EIO;
        } else if (found) {
            acc->remembered = acc->trusted = 1;
        } else {
            if (ll_read_model_load(rm, &acc->id, &acc->before, &found, NULL, err) != 0) return LL_EIO;
            acc->remembered = 0;
        }
        acc->to_read = acc->read_whole = 0;
    }
    return 0;
}

/* Runs fn for every shard on the pool and waits for all. */
int projector_each_shard(projector_t *p, ll_rm_task_fn fn, ll_error_t *err) {
    for (int s = 0; s < p->batch_shards; s++) {
        p->tasks[s] = (shard_task_t){p, s};
        if (ll_rm_pool_submit(p->pool, fn, &p->tasks[s], NULL, err) != 0) break;
    }
    return ll_rm_pool_wait(p->pool, err) != 0 ? LL_EIO : 0;
}

/* Reads the accounts marked to_read, every shard at once. */
int projector_read_marked(projector_t *p, ll_error_t *err) {
    int any = 0;
    for (int k = 0; k < p->n_accounts; k++) any |= p->accounts[k].to_read;
    if (!any) return 0;
    int64_t t0 = ll_clock_us();
    int rc = projector_each_shard(p, read_shard, err);
    phase_add(p, LL_PHASE_READ, t0);
    return rc;
}

/* Starts account acc from what the projector remembers, or marks it to be read. */
void projector_recall(projector_t *p, batch_account_t *acc) {
    const ll_rm_account_t *known = ll_account_cache_get(p->cache, &acc->id);
    acc->remembered = known != NULL;
    if (known != NULL) {
        acc->before = *known;
        acc->trusted = ll_account_cache_unverified(p->cache, &acc->id);
    } else {
        acc->to_read = 1;
    }
}

/* Takes the state of the batch's accounts not remembered from the event store, one query for
 * them all (the read model answers one account per query on the local store: ~0.4 ms of CPU
 * each): the state once the event right before the account's first one here applied, and where
 * its documents stand (ll_rm_head_version). Taken on the store's word (trusted): the event was
 * published (it left the outbox), and a published event came before this one in the account's
 * partition, so this projector's group projected it before the offsets it resumed from, into
 * this generation (a partition whose offsets were committed for another one starts where the
 * generation resumes: start_assigned). That word is wrong when the topic holds the account out
 * of order (a copy of a later event produced before the earlier ones were published again, by
 * hand, a retried delivery or a relay takeover), or lost what it acknowledged. So the account is
 * remembered unverified: a copy of an event at or below what it was written on that arrives
 * later (the earlier events, sent again) makes the projector read it whole and bring it up to the
 * store (fold_account); a hole under a page to seal or an account document elsewhere shows as a
 * conflict at its next seal. Not trusted, so read from the read model: an event still in the
 * outbox, an account behind a gap, anything while the store fails or after a switch that
 * recorded no resume point. */
void projector_recall_from_store(projector_t *p) {
    if (!store_usable(p) || settling(p)) return;
    int64_t t0 = ll_clock_us();
    int n = 0;
    for (int k = 0; k < p->n_accounts; k++) {
        batch_account_t *acc = &p->accounts[k];
        int64_t first = first_version(p, acc);
        if (!acc->to_read || acc->read_whole || first < 2) continue;
        if (ll_uuid_map_find(&p->waiting, &acc->id) != NULL) continue;
        p->state_ids[n] = acc->id, p->state_versions[n] = first - 1, p->state_account[n] = k;
        n++;
    }
    if (n == 0) return;
    ll_error_t err = {""};
    if (ll_event_reader_states(p->store, p->state_ids, p->state_versions, n, p->states, p->state_found,
                               &err) != 0) {
        p->store_retry_at_ms = ll_clock_ms() + STORE_RETRY_MS;
        log_event("warn", "event store unreadable: accounts read from the read model meanwhile", NULL,
                  err.msg);
    } else {
        for (int i = 0; i < n; i++) {
            if (!p->state_found[i]) continue;
            batch_account_t *acc = &p->accounts[p->state_account[i]];
            int64_t head = ll_rm_head_version(p->states[i].version);
            acc->before = (ll_rm_account_t){p->states[i], head, ll_rm_open_page(head)};
            acc->remembered = acc->trusted = 1, acc->to_read = 0;
            p->store_states++;
        }
    }
    phase_add(p, LL_PHASE_READ, t0);
}
