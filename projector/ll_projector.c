/* ll_projector.c - see ll_projector.h: the loop, the generation it follows and the halts it
 * holds; the rest in the files ll_projector_state.h names. */
#include "ll_projector_state.h"

/* A halt document whose _id is no account id (only a hand could write one) halts nothing. */
static int add_halted(void *ctx, const char *account, int64_t version) {
    ll_uuid_t id;
    if (ll_uuid_parse(account, false, &id) != 0) return 0;
    int64_t *halted = ll_uuid_map_insert(ctx, &id, NULL);
    if (halted == NULL) return LL_ENOMEM;
    *halted = version > 0 ? version : 1;
    return 0;
}

/* Takes the accounts halted in generation gen (the follower's): a halt holds across restarts;
 * a new generation (a rebuild, from the store) starts with its own. */
static int open_halts(projector_t *p, int64_t gen, ll_error_t *err) {
    ll_uuid_map_free(&p->stopped);
    if (ll_uuid_map_init(&p->stopped, sizeof(int64_t), 1024) != 0)
        return ll_error_set(err, LL_ENOMEM, "out of memory");
    int rc = ll_read_model_halts(p->follow.rm, add_halted, &p->stopped, err);
    if (rc == LL_ENOMEM) return ll_error_set(err, LL_ENOMEM, "out of memory");
    if (rc == 0 && ll_uuid_map_count(&p->stopped) > 0) {
        char detail[64];
        snprintf(detail, sizeof detail, "%zu accounts, recorded in generation %lld",
                 ll_uuid_map_count(&p->stopped), (long long)gen);
        log_event("warn", "halted accounts stay halted", NULL, detail);
    }
    return rc;
}

/* Opens the writer connections on the active generation, and moves them when a rebuild
 * switched it: what the projector remembers of the old one is forgotten, and it rejoins the
 * consumer group, which drops the offsets not committed yet (written to the old one) and starts
 * every partition it gets again from its committed offset, or from where the new generation
 * resumes when that offset was committed for the old one (start_assigned). A generation that
 * recorded no resume point (an older rebuild) is given SWITCH_SETTLE_MS instead, as before. */
static int follow_generation(projector_t *p, ll_error_t *err) {
    if (ll_rm_follow(&p->follow, NULL, err) != 0) return LL_EIO;
    int64_t gen = ll_read_model_generation(p->follow.rm);
    if (p->pool != NULL && gen == p->generation) return 0;
    /* A move that failed is tried again after GENERATION_CHECK_MS, not at every turn: the
     * writers stay on the generation they have meanwhile. */
    if (p->pool != NULL && p->switch_failed_ms > 0 && ll_clock_ms() - p->switch_failed_ms < GENERATION_CHECK_MS)
        return 0;
    if (gen != p->generation &&
        ll_read_model_resume(p->mongo, gen, p->opt->cfg->kafka_topic_events, p->resume,
                             LL_PROJECTOR_PARTITIONS_MAX, &p->n_resume, err) != 0) {
        p->switch_failed_ms = ll_clock_ms();
        return LL_EIO;
    }
    p->switch_failed_ms = 0;
    int switching = p->pool != NULL;
    if (switching) {
        ll_rm_pool_stop(p->pool);
        p->pool = NULL;
    }
    ll_account_cache_clear(p->cache);
    if (gen != p->generation) {
        p->generation = gen;
        snprintf(p->generation_tag, sizeof p->generation_tag, "g%lld", (long long)gen);
        if (switching && p->n_resume > 0) {
            p->rejoin = REJOIN_SWITCH; /* before anything more is collected (the main loop) */
        } else if (switching) {
            p->switched_at_ms = ll_clock_ms();
            log_event(
                "warn", "the new generation recorded no resume point (an older rebuild)", NULL,
                "for 30 s nothing is taken on the event store's word while its settle phase catches up");
        }
    }
    if (open_halts(p, gen, err) != 0) return LL_EIO;
    p->pool = ll_rm_pool_start(p->opt->cfg->mongo_uri, p->opt->cfg->mongo_database, gen, p->n_shards, err);
    if (p->pool == NULL) return LL_EIO;
    char g[64];
    snprintf(g, sizeof g, "generation %lld, %d writers", (long long)gen, p->n_shards);
    log_event("info", "projecting into", NULL, g);
    return 0;
}

static void destroy_items(projector_t *p, int n) {
    for (int i = 0; i < n; i++) rd_kafka_message_destroy(p->items[i].msg);
}

/* Projects and commits one collected batch, retrying until it succeeds or stop is set. */
static void process(projector_t *p, int n, volatile sig_atomic_t *stop) {
    for (;;) {
        ll_error_t e = {""};
        int rc = projector_decode_all(p, n, &e);
        if (rc == 0) rc = projector_project_all(p, n, &e);
        if (rc == 0 && projector_commit(p, n, &e) == 0) {
            p->batches++;
            ll_uuid_map_clear(&p->waiting); /* every account of the batch is written now */
            return;
        }
        p->batch_failures++;
        log_event("warn", "batch failed; retrying it", NULL, e.msg);
        if (*stop) return;       /* not committed: the next start re-reads it */
        projector_publish(p, 0); /* a stuck batch must show in /metrics, not freeze it */
        ll_sleep_ms(RETRY_PAUSE_MS);
    }
}

/* The batch's arrays (batch_max each), the writers' plans, the cache and the account sets.
 * Returns 0 or -1 (out of memory); close_projector frees what was made. */
static int alloc_state(projector_t *p) {
    const ll_projector_options_t *opt = p->opt;
    size_t n = (size_t)opt->batch_max;
    for (int s = 0; s < p->n_shards; s++)
        if ((p->writes[s] = ll_rm_writes_new()) == NULL) return -1;
    if ((p->items = calloc(n, sizeof *p->items)) == NULL || (p->fold = calloc(n, sizeof *p->fold)) == NULL ||
        (p->order = calloc(n, sizeof *p->order)) == NULL ||
        (p->accounts = calloc(n, sizeof *p->accounts)) == NULL ||
        (p->state_ids = calloc(n, sizeof *p->state_ids)) == NULL ||
        (p->state_versions = calloc(n, sizeof *p->state_versions)) == NULL ||
        (p->states = calloc(n, sizeof *p->states)) == NULL ||
        (p->state_found = calloc(n, sizeof *p->state_found)) == NULL ||
        (p->state_account = calloc(n, sizeof *p->state_account)) == NULL ||
        (p->tasks = calloc((size_t)p->n_shards, sizeof *p->tasks)) == NULL ||
        (p->cache = ll_account_cache_new((size_t)opt->cfg->projector_cache_accounts,
                                         (size_t)opt->cfg->projector_cache_items_bytes)) == NULL ||
        ll_uuid_map_init(&p->stopped, sizeof(int64_t), 1024) != 0 ||
        ll_uuid_map_init(&p->waiting, 0, 1024) != 0 || ll_uuid_map_init(&p->batch_index, sizeof(int), n) != 0)
        return -1;
    return 0;
}

/* Everything the loop needs: memory, the read store's client, /metrics, the event store, Kafka.
 * Returns 0, LL_ENOMEM (also when the event store's reader cannot be made), LL_EINVAL. */
static int open_projector(projector_t *p, ll_error_t *err) {
    const ll_config_t *cfg = p->opt->cfg;
    p->n_shards = (int)cfg->projector_writers;
    p->heal_max = (int)cfg->projector_heal_events_max;
    if (alloc_state(p) != 0) return LL_ENOMEM;
    p->mongo = ll_rm_client_new(cfg->mongo_uri, cfg->mongo_database, "ledgerline-projector", err);
    if (p->mongo == NULL) return LL_EINVAL;
    ll_rm_follower_init(&p->follow, p->mongo, GENERATION_CHECK_MS);
    for (int i = 0; i < LL_PROJECTOR_PARTITIONS_MAX; i++) p->newest_ts_ms[i] = -1;
    p->metrics = ll_projector_metrics_start(p->opt->metrics_listen, cfg->kafka_topic_events, err);
    if (p->metrics == NULL) return LL_EINVAL;
    /* The event store closes gaps: without it a gap could only be skipped or waited on for ever. */
    if ((p->store = ll_event_reader_new(cfg->pg_conninfo, STORE_TIMEOUT_MS)) == NULL) return LL_ENOMEM;
    return projector_open_kafka(p, err);
}

/* Rounds until stop: follow the generation, rejoin when due, collect, project and commit a
 * batch, publish. Returns 0, or LL_EINVAL when the consumer cannot be made again. */
static int run_rounds(projector_t *p, volatile sig_atomic_t *stop, ll_error_t *err) {
    while (!*stop) {
        ll_error_t e = {""};
        if (follow_generation(p, &e) != 0) { /* checks at most every GENERATION_CHECK_MS */
            log_event("warn", "read models unavailable", NULL, e.msg);
            if (p->pool == NULL) {
                ll_sleep_ms(RETRY_PAUSE_MS);
                continue;
            }
        }
        if ((p->rejoin == REJOIN_SWITCH ||
             (p->rejoin && ll_clock_ms() - p->last_rejoin_ms >= REJOIN_MIN_MS)) &&
            projector_rejoin(p, err) != 0)
            return LL_EINVAL;
        int n = projector_collect(p, stop);
        projector_follow_assignment(p);
        projector_commit_uncommitted(p);
        if (n > 0) process(p, n, stop);
        destroy_items(p, n);
        if (ll_clock_ms() - p->last_publish_ms >= PUBLISH_MS) projector_publish(p, 0);
    }
    return 0;
}

/* Publishes a last snapshot, leaves the group and frees everything open_projector made. */
static void close_projector(projector_t *p) {
    if (p->pool != NULL) projector_publish(p, 1); /* while the consumer can still tell its assignment */
    projector_close_kafka(p);
    ll_rm_pool_stop(p->pool);
    ll_projector_metrics_stop(p->metrics);
    ll_rm_follower_close(&p->follow);
    ll_rm_client_free(p->mongo);
    ll_uuid_map_free(&p->stopped);
    ll_uuid_map_free(&p->waiting);
    ll_uuid_map_free(&p->batch_index);
    ll_event_reader_free(p->store);
    for (int k = 0; p->accounts != NULL && k < p->n_accounts; k++) free(p->accounts[k].own);
    ll_account_cache_free(p->cache);
    for (int s = 0; s < p->n_shards; s++) ll_rm_writes_free(p->writes[s]);
    free(p->tasks);
    free(p->fold);
    free(p->order);
    free(p->accounts);
    free(p->state_ids);
    free(p->state_versions);
    free(p->states);
    free(p->state_found);
    free(p->state_account);
    free(p->items);
}

int ll_projector_run(const ll_projector_options_t *opt, volatile sig_atomic_t *stop, ll_error_t *err) {
    if (opt->batch_max < 1 || opt->batch_max > LL_BATCH_MAX)
        return ll_error_set(err, LL_EINVAL, "batch out of range");
    projector_t p;
    memset(&p, 0, sizeof p);
    p.opt = opt;
    int rc = open_projector(&p, err);
    if (rc == 0) rc = run_rounds(&p, stop, err);
    close_projector(&p);
    if (rc == LL_ENOMEM && !err->msg[0]) ll_error_set(err, LL_ENOMEM, "out of memory");
    return rc;
}
