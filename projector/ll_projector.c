/* ll_projector.c - see ll_projector.h. */
#include "ll_projector.h"

#include "ll_clock.h"
#include "ll_event_codec.h"
#include "ll_kafka.h"
#include "ll_log.h"
#include "ll_projector_metrics.h"
#include "ll_read_model.h"
#include "ll_strset.h"

#include <assert.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_LIMIT    2000
#define SAVE_RETRIES   3
#define RETRY_PAUSE_MS 500
#define PUBLISH_MS     500 /* how often /metrics gets a new snapshot */
/* After following a generation switch, a gap is first taken for the rebuild's catch-up not having
 * reached the account yet (ledgerline-rebuild keeps catching up for --settle-seconds, default 15):
 * the batch is retried. Only a gap that outlasts this halts the account. */
#define SWITCH_SETTLE_MS 30000

typedef struct {
    rd_kafka_message_t *msg;
    ll_event_t ev;
    int decoded; /* 0: went to the dead-letter topic */
    int account; /* index into the batch's accounts; -1: not projected (halted account) */
} item_t;

/* One account of a batch: the state loaded once and folded with all its events of the batch. */
typedef struct {
    ll_account_t state;
    int64_t loaded; /* version of the stored document; 0: none */
    int halted;     /* a gap or a refused event in this batch */
    long long applied, duplicates;
} batch_account_t;

#define SLOTS (4 * BATCH_LIMIT) /* open addressing, at most half full */

typedef struct {
    const ll_projector_options_t *opt;
    rd_kafka_t *consumer, *dlq;
    mongoc_client_t *mongo;
    ll_read_model_t rm;
    int rm_open;
    ll_strset_t stopped; /* accounts halted by a gap or a refused event */
    item_t *items;
    ll_event_t *fold;          /* the applied events of a batch (batch_max) */
    batch_account_t *accounts; /* the batch's distinct accounts (batch_max) */
    const ll_account_t **save; /* scratch for the bulk save (batch_max) */
    int64_t *save_prev;
    ll_uuid_t *ids;
    int n_accounts;
    int slots[SLOTS]; /* account id hash -> index + 1 into accounts */
    long long applied, duplicates, gaps, dead_letters, batches, batch_failures;
    long long last_report_ms, last_publish_ms, last_generation_check_ms;
    long long switched_at_ms; /* when it last followed a generation switch; 0 never */
    int64_t newest_ts_ms[LL_PROJECTOR_PARTITIONS_MAX]; /* per partition, of the last committed batch */
    ll_projector_metrics_t *metrics;
    ll_projector_snapshot_t snap; /* scratch for publish() */
} projector_t;

/* The projector's lines always carry account_id ("" when none), as dashboards expect. */
static void log_event(const char *level, const char *msg, const char *account, const char *detail) {
    ll_log_line(level, "projector", msg, account ? account : "", detail);
}

/* ---- Kafka --------------------------------------------------------------------------------- */

static int open_kafka(projector_t *p, ll_error_t *err) {
    const ll_config_t *cfg = p->opt->cfg;
    const char *const consumer[] = {"bootstrap.servers",
                                    cfg->kafka_bootstrap_servers,
                                    "group.id",
                                    p->opt->group_id,
                                    "client.id",
                                    "ledgerline-projector",
                                    "enable.auto.commit",
                                    "false", /* offsets follow the writes */
                                    "enable.auto.offset.store",
                                    "false",
                                    "auto.offset.reset",
                                    "earliest", /* a new group reads the log */
                                    "isolation.level",
                                    "read_committed",
                                    "enable.partition.eof",
                                    "false",
                                    "session.timeout.ms",
                                    "6000", /* the broker's minimum: fast failover */
                                    "max.poll.interval.ms",
                                    "300000",
                                    "fetch.wait.max.ms",
                                    "10", /* freshness over batching */
                                    "socket.nagle.disable",
                                    "true",
                                    NULL};
    const char *const producer[] = {"bootstrap.servers", cfg->kafka_bootstrap_servers, "client.id",
                                    "ledgerline-projector-dlq", NULL};
    p->consumer = ll_kafka_client(RD_KAFKA_CONSUMER, NULL, consumer, err);
    if (p->consumer == NULL) return LL_EINVAL;
    p->dlq = ll_kafka_client(RD_KAFKA_PRODUCER, LL_KAFKA_PRODUCER_SETTINGS, producer, err);
    if (p->dlq == NULL) return LL_EINVAL;
    rd_kafka_poll_set_consumer(p->consumer);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, cfg->kafka_topic_events, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(p->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    return e ? ll_error_set(err, LL_EIO, "subscribe: %s", rd_kafka_err2str(e)) : 0;
}

/* Sends a message that cannot be projected to the dead-letter topic and waits for the report.
 * Returns 0 once Kafka has it. */
static int dead_letter(projector_t *p, const rd_kafka_message_t *m, const char *reason, ll_error_t *err) {
    char partition[16], offset[24];
    snprintf(partition, sizeof partition, "%d", (int)m->partition);
    snprintf(offset, sizeof offset, "%lld", (long long)m->offset);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->dlq, RD_KAFKA_V_TOPIC(p->opt->cfg->kafka_topic_dlq), RD_KAFKA_V_KEY(m->key, m->key_len),
        RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("reason", reason, -1), RD_KAFKA_V_HEADER("source_partition", partition, -1),
        RD_KAFKA_V_HEADER("source_offset", offset, -1), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) e = rd_kafka_flush(p->dlq, 30000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ll_error_set(err, LL_EIO, "dead-letter topic: %s", rd_kafka_err2str(e));
    p->dead_letters++;
    return 0;
}

/* ---- one batch ----------------------------------------------------------------------------- */

static int collect(projector_t *p, volatile sig_atomic_t *stop) {
    int n = 0;
    long long deadline = 0;
    while (n < p->opt->batch_max && !*stop) {
        int wait = deadline ? (int)(deadline - ll_clock_ms()) : 200;
        if (wait <= 0) break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(p->consumer, wait);
        if (m == NULL) break; /* idle or the batch window closed: let the loop report and check */
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log_event("warn", "consumer error", NULL, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        memset(&p->items[n], 0, sizeof p->items[n]);
        p->items[n++].msg = m;
        if (deadline == 0) deadline = ll_clock_ms() + p->opt->batch_ms;
    }
    return n;
}

static int decode_all(projector_t *p, int n, ll_error_t *err) {
    for (int i = 0; i < n; i++) {
        item_t *it = &p->items[i];
        ll_error_t why = {""};
        it->decoded = ll_event_decode(it->msg->payload, it->msg->len, &it->ev, &why) == 0;
        if (!it->decoded && dead_letter(p, it->msg, why.msg, err) != 0) return LL_EIO;
        if (!it->decoded)
            log_event("error", "undecodable event sent to the dead-letter topic", NULL, why.msg);
    }
    return 0;
}

/* Halts the account of it (acc: its batch entry, or NULL) on an event evolve refused, and
 * dead-letters the event unless it is a gap. */
static int halt(projector_t *p, batch_account_t *acc, const item_t *it, ll_evolve_t v, const char *why,
                ll_error_t *err) {
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&it->ev.account_id, text);
    if (v == LL_EVOLVE_GAP && p->switched_at_ms > 0 && ll_clock_ms() - p->switched_at_ms < SWITCH_SETTLE_MS)
        return ll_error_set(err, LL_EIO,
                            "account %s: %s, right after a generation switch: waiting for the rebuild "
                            "to catch up",
                            text, why);
    if (v == LL_EVOLVE_GAP)
        p->gaps++;
    else if (dead_letter(p, it->msg, why, err) != 0)
        return LL_EIO;
    log_event("error", v == LL_EVOLVE_GAP ? "version gap: account halted" : "event refused: account halted",
              text, why);
    ll_strset_add(&p->stopped, text);
    if (acc != NULL) acc->halted = 1;
    return 0;
}

/* Folds the account's events of this batch (items first..n with its id) into its document. */
static int project_account(projector_t *p, int first, int n, ll_error_t *err) {
    const ll_uuid_t *id = &p->items[first].ev.account_id;
    char text[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(id, text);
    if (ll_strset_contains(&p->stopped, text)) return 0;
    for (int attempt = 0; attempt < SAVE_RETRIES; attempt++) {
        ll_account_t a;
        bool found;
        if (ll_read_model_load_account(&p->rm, id, &a, &found, err) != 0) return LL_EIO;
        int64_t loaded = a.version;
        ll_event_t *applied = p->fold;
        size_t n_applied = 0;
        long long dups = 0;
        for (int i = first; i < n; i++) {
            item_t *it = &p->items[i];
            if (!it->decoded || !ll_uuid_equal(&it->ev.account_id, id)) continue;
            ll_error_t why = {""};
            ll_evolve_t v = ll_account_evolve(&a, &it->ev, &why);
            if (v == LL_EVOLVE_OK) {
                applied[n_applied++] = it->ev;
            } else if (v == LL_EVOLVE_DUPLICATE) {
                dups++;
            } else {
                /* Never guess: halt this account and raise the alarm. */
                if (halt(p, NULL, it, v, why.msg, err) != 0) return LL_EIO;
                break;
            }
        }
        if (n_applied == 0) {
            p->duplicates += dups;
            return 0;
        }
        if (ll_read_model_insert_transactions(&p->rm, applied, n_applied, err) != 0) return LL_EIO;
        int rc = ll_read_model_save_account(&p->rm, &a, found ? loaded : 0, err);
        if (rc == 0) {
            p->applied += (long long)n_applied;
            p->duplicates += dups;
            return 0;
        }
        if (rc != LL_EINVAL) return rc; /* LL_EINVAL: moved by another writer; reload and refold */
    }
    return ll_error_set(err, LL_EIO, "account %s kept moving concurrently", text);
}

/* ---- batched projection: one load, one insert, one bulk save per batch --------------------- */

/* The batch index of id, added when add is set and it is new; -1 when absent. */
static int account_index(projector_t *p, const ll_uuid_t *id, int add) {
    for (unsigned h = (unsigned)(ll_uuid_hash(id) >> 40);; h++) {
        int *slot = &p->slots[h % SLOTS];
        if (*slot == 0) {
            if (!add) return -1;
            int k = p->n_accounts++;
            assert(k < p->opt->batch_max);
            ll_account_init(&p->accounts[k].state, id);
            p->accounts[k].loaded = 0;
            p->accounts[k].halted = 0;
            p->accounts[k].applied = p->accounts[k].duplicates = 0;
            p->ids[k] = *id;
            *slot = k + 1;
            return k;
        }
        if (ll_uuid_equal(&p->accounts[*slot - 1].state.account_id, id)) return *slot - 1;
    }
}

static void on_loaded(void *ctx, const ll_account_t *a) {
    projector_t *p = ctx;
    int k = account_index(p, &a->account_id, 0);
    if (k < 0) return;
    p->accounts[k].state = *a;
    p->accounts[k].loaded = a->version;
}

/* Projects the batch with one query per kind of write. *conflicts > 0 when another writer moved
 * some account meanwhile: nothing of those was saved, and the caller redoes the batch account by
 * account (everything already written is then a duplicate). */
static int project_batched(projector_t *p, int n, size_t *conflicts, ll_error_t *err) {
    memset(p->slots, 0, sizeof p->slots);
    p->n_accounts = 0;
    *conflicts = 0;
    for (int i = 0; i < n; i++) {
        item_t *it = &p->items[i];
        char text[LL_UUID_TEXT_LEN + 1];
        it->account = -1;
        if (!it->decoded) continue;
        ll_uuid_format(&it->ev.account_id, text);
        if (!ll_strset_contains(&p->stopped, text)) it->account = account_index(p, &it->ev.account_id, 1);
    }
    if (p->n_accounts == 0) return 0;
    if (ll_read_model_load_accounts(&p->rm, p->ids, (size_t)p->n_accounts, on_loaded, p, err) != 0)
        return LL_EIO;
    size_t n_applied = 0;
    for (int i = 0; i < n; i++) {
        item_t *it = &p->items[i];
        batch_account_t *acc = it->account >= 0 ? &p->accounts[it->account] : NULL;
        if (acc == NULL || acc->halted) continue;
        ll_error_t why = {""};
        ll_evolve_t v = ll_account_evolve(&acc->state, &it->ev, &why);
        if (v == LL_EVOLVE_OK) {
            p->fold[n_applied++] = it->ev;
            acc->applied++;
        } else if (v == LL_EVOLVE_DUPLICATE) {
            acc->duplicates++;
        } else if (halt(p, acc, it, v, why.msg, err) != 0) {
            return LL_EIO;
        }
    }
    /* Movements first: a document never shows a version whose movement is missing. */
    if (ll_read_model_insert_transactions(&p->rm, p->fold, n_applied, err) != 0) return LL_EIO;
    size_t n_save = 0;
    for (int k = 0; k < p->n_accounts; k++) {
        if (p->accounts[k].applied == 0) continue;
        p->save[n_save] = &p->accounts[k].state;
        p->save_prev[n_save++] = p->accounts[k].loaded;
    }
    if (ll_read_model_save_accounts(&p->rm, p->save, p->save_prev, n_save, conflicts, err) != 0)
        return LL_EIO;
    if (*conflicts > 0) return 0;
    for (int k = 0; k < p->n_accounts; k++) {
        p->applied += p->accounts[k].applied;
        p->duplicates += p->accounts[k].duplicates;
    }
    return 0;
}

/* The slow path after a conflict: each account loaded, folded and saved on its own. */
static int project_each(projector_t *p, int n, ll_error_t *err) {
    ll_strset_t done;
    if (ll_strset_init(&done, 1024) != 0) return ll_error_set(err, LL_ENOMEM, "out of memory");
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (!p->items[i].decoded) continue;
        char text[LL_UUID_TEXT_LEN + 1];
        ll_uuid_format(&p->items[i].ev.account_id, text);
        if (ll_strset_add(&done, text) != 1) continue; /* handled with its first event */
        rc = project_account(p, i, n, err);
    }
    ll_strset_free(&done);
    return rc;
}

static int project_all(projector_t *p, int n, ll_error_t *err) {
    size_t conflicts = 0;
    int rc = project_batched(p, n, &conflicts, err);
    if (rc != 0 || conflicts == 0) return rc;
    char detail[64];
    snprintf(detail, sizeof detail, "%zu accounts moved concurrently", conflicts);
    log_event("info", "redoing the batch account by account", NULL, detail);
    return project_each(p, n, err);
}

/* Commits, per partition, the offset after the batch's last message. */
static int commit(projector_t *p, int n, ll_error_t *err) {
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < n; i++) {
        rd_kafka_message_t *m = p->items[i].msg;
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(offsets, rd_kafka_topic_name(m->rkt), m->partition);
        if (tp == NULL)
            tp = rd_kafka_topic_partition_list_add(offsets, rd_kafka_topic_name(m->rkt), m->partition);
        if (m->offset + 1 > tp->offset) tp->offset = m->offset + 1;
    }
    rd_kafka_resp_err_t e = rd_kafka_commit(p->consumer, offsets, 0);
    rd_kafka_topic_partition_list_destroy(offsets);
    if (e) return ll_error_set(err, LL_EIO, "commit offsets: %s", rd_kafka_err2str(e));
    for (int i = 0; i < n; i++) {
        rd_kafka_message_t *m = p->items[i].msg;
        int64_t ts = rd_kafka_message_timestamp(m, NULL);
        if (m->partition >= 0 && m->partition < LL_PROJECTOR_PARTITIONS_MAX &&
            ts > p->newest_ts_ms[m->partition])
            p->newest_ts_ms[m->partition] = ts;
    }
    return 0;
}

/* ---- generation and metrics ---------------------------------------------------------------- */

static int follow_generation(projector_t *p, ll_error_t *err) {
    int64_t gen;
    p->last_generation_check_ms = ll_clock_ms();
    if (ll_read_model_active_generation(p->mongo, p->opt->cfg->mongo_database, &gen, err) != 0) return LL_EIO;
    if (p->rm_open && gen == p->rm.generation) return 0;
    if (p->rm_open) {
        ll_read_model_close(&p->rm);
        p->switched_at_ms = ll_clock_ms();
    }
    p->rm_open = 0;
    if (ll_read_model_open(&p->rm, p->mongo, p->opt->cfg->mongo_database, gen, err) != 0) return LL_EIO;
    p->rm_open = 1;
    char g[32];
    snprintf(g, sizeof g, "generation %lld", (long long)gen);
    log_event("info", "projecting into", NULL, g);
    return 0;
}

/* Fills p->snap: counters, and per assigned partition the position projected up to (between
 * batches, the committed offset) and the high watermark librdkafka last saw. */
static void take_snapshot(projector_t *p) {
    ll_projector_snapshot_t *s = &p->snap;
    *s = (ll_projector_snapshot_t){.applied = (uint64_t)p->applied,
                                   .duplicates = (uint64_t)p->duplicates,
                                   .gaps = (uint64_t)p->gaps,
                                   .dead_letters = (uint64_t)p->dead_letters,
                                   .batches = (uint64_t)p->batches,
                                   .batch_failures = (uint64_t)p->batch_failures,
                                   .halted_accounts = p->stopped.count,
                                   .generation = p->rm.generation};
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(p->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || parts == NULL) return;
    rd_kafka_position(p->consumer, parts);
    for (int i = 0; i < parts->cnt && s->n_partitions < LL_PROJECTOR_PARTITIONS_MAX; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t lo, hi;
        ll_partition_progress_t *out = &s->partitions[s->n_partitions++];
        out->partition = tp->partition;
        out->committed = tp->offset >= 0 ? tp->offset : -1;
        out->high = rd_kafka_get_watermark_offsets(p->consumer, tp->topic, tp->partition, &lo, &hi) ==
                            RD_KAFKA_RESP_ERR_NO_ERROR
                        ? hi
                        : -1;
        out->newest_ts_ms = tp->partition >= 0 && tp->partition < LL_PROJECTOR_PARTITIONS_MAX &&
                                    p->newest_ts_ms[tp->partition] > 0
                                ? p->newest_ts_ms[tp->partition]
                                : -1;
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

/* Publishes a snapshot to /metrics; every metrics_interval_ms also logs the totals. */
static void publish(projector_t *p, int log_now) {
    take_snapshot(p);
    p->last_publish_ms = ll_clock_ms();
    if (p->metrics) ll_projector_metrics_publish(p->metrics, &p->snap);
    if (!log_now && ll_clock_ms() - p->last_report_ms < p->opt->metrics_interval_ms) return;
    long long lag = 0;
    for (int i = 0; i < p->snap.n_partitions; i++) {
        const ll_partition_progress_t *pp = &p->snap.partitions[i];
        if (pp->high > pp->committed && pp->committed >= 0) lag += pp->high - pp->committed;
    }
    fprintf(
        stdout,
        "{\"level\":\"info\",\"service\":\"projector\",\"msg\":\"metrics\",\"generation\":%lld,\"applied_"
        "total\":%lld,"
        "\"duplicates_total\":%lld,\"gaps_total\":%lld,\"dead_letters_total\":%lld,\"batches_total\":%lld,"
        "\"halted_accounts\":%zu,\"lag_events\":%lld}\n",
        (long long)p->rm.generation, p->applied, p->duplicates, p->gaps, p->dead_letters, p->batches,
        p->stopped.count, lag);
    fflush(stdout);
    p->last_report_ms = ll_clock_ms();
}

/* ---- main loop ----------------------------------------------------------------------------- */

static void destroy_items(projector_t *p, int n) {
    for (int i = 0; i < n; i++) rd_kafka_message_destroy(p->items[i].msg);
}

/* Projects and commits one collected batch, retrying until it succeeds or stop is set. */
static void process(projector_t *p, int n, volatile sig_atomic_t *stop) {
    for (;;) {
        ll_error_t e = {""};
        if (decode_all(p, n, &e) == 0 && project_all(p, n, &e) == 0 && commit(p, n, &e) == 0) {
            p->batches++;
            return;
        }
        p->batch_failures++;
        log_event("warn", "batch failed; retrying it", NULL, e.msg);
        if (*stop) return; /* not committed: the next start re-reads it */
        publish(p, 0);     /* a stuck batch must show in /metrics, not freeze it */
        ll_sleep_ms(RETRY_PAUSE_MS);
    }
}

int ll_projector_run(const ll_projector_options_t *opt, volatile sig_atomic_t *stop, ll_error_t *err) {
    projector_t p;
    memset(&p, 0, sizeof p);
    p.opt = opt;
    int rc = LL_ENOMEM;
    mongoc_uri_t *uri = NULL;
    bson_error_t be;
    if (opt->batch_max < 1 || opt->batch_max > BATCH_LIMIT)
        return ll_error_set(err, LL_EINVAL, "batch out of range");
    if ((p.items = calloc((size_t)opt->batch_max, sizeof *p.items)) == NULL ||
        (p.fold = calloc((size_t)opt->batch_max, sizeof *p.fold)) == NULL ||
        (p.accounts = calloc((size_t)opt->batch_max, sizeof *p.accounts)) == NULL ||
        (p.save = calloc((size_t)opt->batch_max, sizeof *p.save)) == NULL ||
        (p.save_prev = calloc((size_t)opt->batch_max, sizeof *p.save_prev)) == NULL ||
        (p.ids = calloc((size_t)opt->batch_max, sizeof *p.ids)) == NULL ||
        ll_strset_init(&p.stopped, 1024) != 0)
        goto done;
    if ((uri = mongoc_uri_new_with_error(opt->cfg->mongo_uri, &be)) == NULL) {
        rc = ll_error_set(err, LL_EINVAL, "mongo_uri: %s", be.message);
        goto done;
    }
    for (int i = 0; i < LL_PROJECTOR_PARTITIONS_MAX; i++) p.newest_ts_ms[i] = -1;
    p.metrics = ll_projector_metrics_start(opt->metrics_listen, opt->cfg->kafka_topic_events, err);
    if (p.metrics == NULL) {
        rc = LL_EINVAL;
        goto done;
    }
    p.mongo = mongoc_client_new_from_uri(uri);
    mongoc_client_set_appname(p.mongo, "ledgerline-projector");
    if ((rc = open_kafka(&p, err)) != 0) goto done;
    while (!*stop) {
        ll_error_t e = {""};
        if ((!p.rm_open || ll_clock_ms() - p.last_generation_check_ms >= 1000) &&
            follow_generation(&p, &e) != 0) {
            log_event("warn", "read models unavailable", NULL, e.msg);
            if (!p.rm_open) {
                ll_sleep_ms(RETRY_PAUSE_MS);
                continue;
            }
        }
        if (ll_clock_ms() - p.last_publish_ms >= PUBLISH_MS) publish(&p, 0);
        int n = collect(&p, stop);
        if (n > 0) process(&p, n, stop);
        destroy_items(&p, n);
    }
    rc = 0;
done:
    if (p.consumer != NULL) {
        rd_kafka_consumer_close(p.consumer);
        rd_kafka_destroy(p.consumer);
    }
    if (p.dlq != NULL) {
        rd_kafka_flush(p.dlq, 10000);
        rd_kafka_destroy(p.dlq);
    }
    if (p.rm_open) {
        publish(&p, 1);
        ll_read_model_close(&p.rm);
    }
    ll_projector_metrics_stop(p.metrics);
    if (p.mongo != NULL) mongoc_client_destroy(p.mongo);
    mongoc_uri_destroy(uri);
    ll_strset_free(&p.stopped);
    free(p.fold);
    free(p.accounts);
    free(p.save);
    free(p.save_prev);
    free(p.ids);
    free(p.items);
    if (rc == LL_ENOMEM && !err->msg[0]) ll_error_set(err, LL_ENOMEM, "out of memory");
    return rc;
}
