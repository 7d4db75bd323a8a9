/* ll_projector_batch.c - one batch from messages to documents: decoded (on the writer threads
 * when large), folded per account (gaps closed and refused copies replaced from the event
 * store), planned and written on every shard at once, retried for conflicts. See
 * ll_projector_state.h. */
#include "ll_projector_state.h"

/* Decodes slice t->shard of the batch's n_decode messages not decoded yet (a pool task: decoding
 * is pure, and the writer threads are idle meanwhile). */
static int decode_slice(ll_read_model_t *rm, void *arg, ll_error_t *err) {
    (void)rm, (void)err;
    shard_task_t *t = arg;
    projector_t *p = t->p;
    int slices = ll_rm_pool_threads(p->pool);
    int from = (int)((long long)p->n_decode * t->shard / slices);
    int to = (int)((long long)p->n_decode * (t->shard + 1) / slices);
    for (int i = from; i < to; i++) {
        item_t *it = &p->items[i];
        ll_error_t why = {""};
        if (!it->checked) it->decoded = ll_event_decode(it->msg->payload, it->msg->len, &it->ev, &why) == 0;
    }
    return 0;
}

/* Decodes the batch's messages (a large batch on the writer threads at once); an undecodable
 * one goes to the dead-letter topic, once however often the batch is retried (a read-store
 * outage retries it for as long as it lasts). */
int projector_decode_all(projector_t *p, int n, ll_error_t *err) {
    int64_t t0 = ll_clock_us();
    int parallel = 0;
    if (p->pool != NULL && n >= DECODE_PARALLEL_MIN) {
        p->n_decode = n;
        int s = 0, slices = ll_rm_pool_threads(p->pool);
        ll_error_t ignored = {""};
        for (; s < slices; s++) {
            p->tasks[s] = (shard_task_t){p, s};
            if (ll_rm_pool_submit(p->pool, decode_slice, &p->tasks[s], NULL, &ignored) != 0) break;
        }
        parallel = ll_rm_pool_wait(p->pool, &ignored) == 0 && s == slices; /* else: decoded here */
    }
    for (int i = 0; i < n; i++) {
        item_t *it = &p->items[i];
        if (it->checked) continue;
        ll_error_t why = {""};
        if (!parallel || !it->decoded) /* again for the reason of a refusal */
            it->decoded = ll_event_decode(it->msg->payload, it->msg->len, &it->ev, &why) == 0;
        if (!it->decoded && projector_dead_letter(p, it->msg, why.msg, err) != 0) return LL_EIO;
        if (!it->decoded)
            log_event("error", "undecodable event sent to the dead-letter topic", NULL, why.msg);
        it->checked = 1;
    }
    phase_add(p, LL_PHASE_DECODE, t0);
    return 0;
}

static void on_conflict(void *ctx, int k) {
    projector_t *p = ctx;
    p->accounts[k].conflict = 1; /* each account belongs to one shard: no two threads write this */
}

static int write_shard(ll_read_model_t *rm, void *arg, ll_error_t *err) {
    shard_task_t *t = arg;
    return ll_rm_writes_execute(t->p->writes[t->shard], rm, on_conflict, t->p, err);
}

/* Where the account's folded events go: its run of p->fold, or its own array once the store was
 * read for it (the store's events among the batch's, in version order). */
static ll_event_t *folded(projector_t *p, batch_account_t *acc) {
    return acc->own != NULL ? acc->own : &p->fold[acc->first];
}

/* Makes room for extra more folded events (beside the batch's own). Returns 0 or -1. */
static int own_reserve(projector_t *p, batch_account_t *acc, int extra) {
    int need = acc->n_applied + extra + acc->n_events;
    if (acc->own != NULL && acc->n_own >= need) return 0;
    ll_event_t *grown = realloc(acc->own, (size_t)need * sizeof *grown);
    if (grown == NULL) return -1;
    if (acc->own == NULL) memcpy(grown, &p->fold[acc->first], (size_t)acc->n_applied * sizeof *grown);
    acc->own = grown, acc->n_own = need;
    return 0;
}

/* Remembers what the read model now holds of an account written: its state, and the items of
 * its open page, carried on from what was remembered or taken from the events written. */
static void remember(projector_t *p, batch_account_t *acc) {
    ll_rm_page_items_t items;
    ll_account_cache_take_items(p->cache, &acc->id, &items);
    int known =
        ll_rm_page_items_next(&items, acc->before.state.version, folded(p, acc), (size_t)acc->n_applied);
    ll_account_cache_put(p->cache, &acc->after, acc->trusted);
    if (known == 0) ll_account_cache_give_items(p->cache, &acc->id, &items);
}

/* Reads from the event store the account's events after a->version and below `before`
 * (INT64_MAX: all it holds), at most p->heal_max (projector_heal_events_max), folds them onto *a and adds
 * them to its folded events; STORE_CHUNK at a time, so memory follows what the store holds, not what a copy
 * claims (a forged far-future version costs what the account has). Returns how many (0: the
 * store holds none there); -1 when the store cannot be read (the batch is tried again:
 * store_failed) or memory ran out; -2 when what it holds does not decode or fold onto *a (why
 * set: the account halts there). */
static int from_store(projector_t *p, batch_account_t *acc, ll_account_t *a, int64_t before, ll_error_t *why,
                      ll_error_t *err) {
    int64_t span = before == INT64_MAX ? p->heal_max : before - a->version - 1;
    int max = span < p->heal_max ? (int)span : p->heal_max, total = 0;
    if (max <= 0) return 0;
    /* Tried whatever store_usable says: that back-off spares recall_from_store's optional query,
     * while a gap needs the store and its batch is retried until it answers. */
    while (total < max) {
        int want = max - total < STORE_CHUNK ? max - total : STORE_CHUNK;
        if (own_reserve(p, acc, want) != 0) return ll_error_set(err, LL_ENOMEM, "out of memory"), -1;
        ll_error_t e = {""};
        ll_event_t *out = folded(p, acc) + acc->n_applied;
        bool damaged = false;
        int n = ll_event_reader_after(p->store, &acc->id, a->version, out, want, &damaged, &e);
        if (n < 0) return projector_store_failed(p, acc, e.msg, err), -1;
        for (int i = 0; i < n; i++) /* the store's versions follow on: anything else does not fold */
            if (ll_account_evolve(a, &out[i], why) != LL_EVOLVE_OK) {
                acc->n_applied += i, acc->healed += i;
                acc->hole |= total + i > 0;
                return -2;
            }
        acc->n_applied += n, acc->healed += n, total += n;
        acc->hole |= total > 0;
        if (damaged) return *why = e, -2; /* the rows before it are folded: the halt is right after them */
        if (n < want) break;
    }
    acc->hole |= total > 0;
    return total;
}

/* Folds an event the domain refused (v) onto *a from the event store's own event at that
 * version instead (a broken or forged copy): 1 when the store's applied (the copy is
 * dead-lettered); 0 when the store holds no event there (the copy is of nothing acknowledged:
 * dead-lettered, skipped); -1 with the batch to be tried again; -2 halted. */
static int replace_refused(projector_t *p, batch_account_t *acc, ll_account_t *a, item_t *it,
                           const char *refusal, ll_error_t *err) {
    char why[LL_ERROR_MSG_MAX];
    ll_error_t e = {""};
    int n = from_store(p, acc, a, it->ev.version + 1, &e, err);
    if (n == -1) return -1;
    if (n == -2) {
        snprintf(why, sizeof why,
                 "the copy in the topic is refused (%.200s) and so is the event store's: %.200s", refusal,
                 e.msg);
        return projector_halt_account(p, acc, it, a->version + 1, why, err) != 0 ? -1 : -2;
    }
    if (n == 0) {
        snprintf(why, sizeof why, "refused (%.300s), and the event store holds no event at this version",
                 refusal);
        if (projector_dead_letter_copy(p, it, why, err) != 0) return -1;
        return 0;
    }
    acc->healed -= n, acc->replaced += n; /* not a gap: counted as replaced */
    snprintf(why, sizeof why, "refused (%.300s); the event store's event at this version was applied instead",
             refusal);
    if (projector_dead_letter_copy(p, it, why, err) != 0) return -1;
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&acc->id, text);
    log_event("warn", "a refused copy replaced by the event store's event", text, refusal);
    return 1;
}

/* Folds the account's events onto what the read model holds. Against a remembered state (or
 * one taken on the store's word, or from one event's document) a gap is first taken for that
 * state being stale: *stale set, nothing folded, the account is read whole. Against the read
 * model read whole, a gap is closed from the event store (an event it lacks is dead-lettered
 * and skipped). A copy of an event at or below a trusted state means the topic delivered the
 * account out of order: read whole, and brought up to at least that state from the store. An
 * event the domain refuses is replaced by the store's event at its version, or halts the
 * account. Last, the account is brought up to heal_to from the store. Returns 0; LL_EIO when
 * the batch must be tried again (the store unreachable); another negative code. */
static int fold_account(projector_t *p, batch_account_t *acc, int *stale, ll_error_t *err) {
    ll_account_t a = acc->before.state;
    acc->n_applied = 0, acc->duplicates = 0, acc->healed = 0, acc->replaced = 0, acc->more = 0;
    for (int j = 0; j < acc->n_events; j++) {
        item_t *it = &p->items[p->order[acc->first + j]];
        if (acc->halt_version > 0 && it->ev.version >= acc->halt_version) break;
        ll_error_t why = {""};
        ll_evolve_t v = ll_account_evolve(&a, &it->ev, &why);
        if (v == LL_EVOLVE_GAP && acc->remembered) {
            *stale = 1;
            return 0;
        }
        if (v == LL_EVOLVE_DUPLICATE && acc->trusted && it->ev.version <= acc->before.state.version) {
            if (acc->heal_to < acc->before.state.version) acc->heal_to = acc->before.state.version;
            *stale = 1;
            return projector_mark_waiting(p, acc, err);
        }
        if (v == LL_EVOLVE_GAP) {
            ll_error_t e = {""};
            p->gaps++;
            if (projector_mark_waiting(p, acc, err) != 0) return LL_ENOMEM;
            int n = from_store(p, acc, &a, it->ev.version, &e, err);
            if (n == -1) return LL_EIO;
            if (n == -2) return projector_halt_account(p, acc, it, a.version + 1, e.msg, err);
            char text[LL_UUID_TEXT_LEN + 1], detail[160];
            ll_uuid_format(&acc->id, text);
            if (a.version + 1 < it->ev.version && n == p->heal_max) {
                snprintf(detail, sizeof detail,
                         "%d events read from the event store, the rest in the next round", n);
                log_event("info", "version gap closing", text, detail);
                acc->more = 1; /* what was read is written; the batch goes on from there */
                return 0;
            }
            if (a.version + 1 < it->ev.version) { /* beyond what the store holds: not acknowledged */
                snprintf(detail, sizeof detail, "version %lld is not in the event store (it holds %lld)",
                         (long long)it->ev.version, (long long)a.version);
                if (!it->refused)
                    log_event("error", "an event the event store does not hold: dead-lettered", text, detail);
                if (projector_dead_letter_copy(p, it, detail, err) != 0) return LL_EIO;
                continue;
            }
            snprintf(detail, sizeof detail, "%d events read from the event store", n);
            log_event("info", "version gap closed", text, detail);
            v = ll_account_evolve(&a, &it->ev, &why);
        }
        if (v == LL_EVOLVE_OK) {
            folded(p, acc)[acc->n_applied++] = it->ev; /* room: from_store reserved the batch's too */
        } else if (v == LL_EVOLVE_DUPLICATE) {
            acc->duplicates++;
        } else if (replace_refused(p, acc, &a, it, why.msg, err) == -1) {
            return LL_EIO; /* (-2: halted at it, halt_version set; 0 or 1: go on) */
        }
    }
    /* Up to heal_to from the store, or, halted, up to the halt: what is below it is written even
     * when a conflict made this the second fold of the batch (the store's events were read while
     * folding the event past the halt, which this fold does not reach). */
    int64_t target = acc->halt_version > 0 ? acc->halt_version - 1 : acc->heal_to;
    if (target > a.version) {
        ll_error_t e = {""};
        if (projector_mark_waiting(p, acc, err) != 0) return LL_ENOMEM;
        int n = from_store(p, acc, &a, target == INT64_MAX ? INT64_MAX : target + 1, &e, err);
        if (n == -1) return LL_EIO;
        if (n == -2) return projector_halt_account(p, acc, NULL, a.version + 1, e.msg, err);
        acc->more = n == p->heal_max;
    }
    return 0;
}

/* Folds the pending accounts of the batch and plans their writes, each on its shard. */
static int plan(projector_t *p, ll_error_t *err) {
    int64_t t0 = ll_clock_us();
    uint64_t reading = p->phase_us[LL_PHASE_READ]; /* a stale account's read is not planning */
    for (int s = 0; s < p->batch_shards; s++) ll_rm_writes_clear(p->writes[s]);
    int any_stale = 0;
    for (int k = 0; k < p->n_accounts; k++) {
        batch_account_t *acc = &p->accounts[k];
        if (acc->done) continue;
        if (fold_account(p, acc, &acc->stale, err) != 0) return LL_EIO;
        if (acc->stale) {
            ll_account_cache_remove(p->cache, &acc->id);
            acc->remembered = 0, acc->to_read = acc->read_whole = 1;
            p->account_reads++;
            any_stale = 1;
        }
    }
    if (any_stale) {
        if (projector_read_marked(p, err) != 0) return LL_EIO;
        for (int k = 0; k < p->n_accounts; k++) {
            batch_account_t *acc = &p->accounts[k];
            if (!acc->stale) continue;
            acc->stale = 0;
            if (fold_account(p, acc, &acc->stale, err) != 0) return LL_EIO;
        }
    }
    for (int k = 0; k < p->n_accounts; k++) {
        batch_account_t *acc = &p->accounts[k];
        if (acc->done) continue;
        acc->conflict = 0;
        acc->after = acc->before;
        /* An account in memory is one whose before came from memory (a read or a conflict
         * removes it): its open page's items, when remembered, spare the read at its seal. */
        const ll_rm_page_items_t *known = ll_account_cache_items(p->cache, &acc->id);
        if (acc->n_applied > 0 && ll_rm_writes_add(p->writes[acc->shard], &acc->before, known, folded(p, acc),
                                                   (size_t)acc->n_applied, &acc->after, k, err) != 0)
            return LL_EIO;
    }
    phase_add(p, LL_PHASE_PLAN, t0 + (int64_t)(p->phase_us[LL_PHASE_READ] - reading));
    return 0;
}

/* Projects the batch: reads what is not remembered, folds, writes every shard at once; an
 * account another writer moved is read and written again (SAVE_RETRIES rounds at most); an
 * account whose gap is larger than one read of the store (projector_heal_events_max) is read
 * whole and written again round after round until it is closed, within this call and never
 * taken on the store's word meanwhile (it stays in p->waiting until the batch commits). Returns
 * 0 or a negative code; the accounts of a batch that fails are forgotten (what the read model
 * holds of them is no longer known). */
int projector_project_all(projector_t *p, int n, ll_error_t *err) {
    projector_group(p, n);
    for (int k = 0; k < p->n_accounts; k++) projector_recall(p, &p->accounts[k]);
    projector_recall_from_store(p);
    for (int k = 0; k < p->n_accounts; k++) p->account_reads += (uint64_t)p->accounts[k].to_read;
    int rc = 0, conflict_rounds = 0;
    for (;;) {
        rc = projector_read_marked(p, err);
        if (rc == 0) rc = plan(p, err);
        int64_t t0 = ll_clock_us();
        if (rc == 0) rc = projector_each_shard(p, write_shard, err);
        phase_add(p, LL_PHASE_WRITE, t0);
        if (rc != 0) break;
        int conflicts = 0, more = 0;
        for (int s = 0; s < p->batch_shards; s++) {
            size_t ev, pg, hd;
            ll_rm_writes_counts(p->writes[s], &ev, &pg, &hd);
            p->docs_events += ev, p->docs_pages += pg, p->docs_accounts += hd;
            p->seal_reads += ll_rm_writes_seal_reads(p->writes[s]);
        }
        for (int k = 0; k < p->n_accounts; k++) {
            batch_account_t *acc = &p->accounts[k];
            if (acc->done) continue;
            if (acc->conflict) { /* read again, fold again, write again */
                conflicts++;
                ll_account_cache_remove(p->cache, &acc->id);
                acc->remembered = 0, acc->to_read = acc->read_whole = 1;
                p->account_reads++;
                continue;
            }
            if (acc->n_applied > 0)
                remember(p, acc);
            else if (ll_account_cache_get(p->cache, &acc->id) ==
                     NULL) /* read, nothing new: still worth keeping */
                ll_account_cache_put(p->cache, &acc->after, acc->trusted);
            p->applied += acc->n_applied;
            p->healed_events += (uint64_t)acc->healed; /* counted once written: a retry reads again */
            p->replaced_events += (uint64_t)acc->replaced;
            if (acc->more) { /* written up to where this round read the store: read it whole again */
                acc->remembered = 0, acc->to_read = acc->read_whole = 1; /* (still in p->waiting) */
                more++;
                continue;
            }
            projector_healed(p, acc);
            if (acc->hole) p->holes_found++, p->holes_healed++; /* also when a conflict read it again */
            p->duplicates += acc->duplicates;
            acc->done = 1;
        }
        p->conflicts += (uint64_t)conflicts;
        if (conflicts == 0 && more == 0) break;
        if (conflicts > 0) {
            char detail[64];
            snprintf(detail, sizeof detail, "%d accounts moved by another writer", conflicts);
            log_event("info", "reading them again", NULL, detail);
            if (++conflict_rounds == SAVE_RETRIES) {
                rc = ll_error_set(err, LL_EIO, "%s, %d times in a row", detail, conflict_rounds);
                break;
            }
        }
    }
    if (rc == 0) return 0;
    for (int k = 0; k < p->n_accounts; k++) ll_account_cache_remove(p->cache, &p->accounts[k].id);
    return rc;
}
