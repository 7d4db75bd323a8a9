/* ll_projector_kafka.c - the projector's Kafka side: the consumer and its group (rebalances,
 * where assigned partitions start, pauses, rejoining), collecting a batch, committing its offsets
 * tagged with the generation, and the dead-letter topic. See ll_projector_state.h. */
#include "ll_projector_state.h"

/* Drops the partitions of parts from the offsets still to be committed: their next owner
 * re-reads from the last committed offset (duplicates are skipped), and an older offset must
 * never overwrite what that owner commits. */
static void forget_uncommitted(projector_t *p, const rd_kafka_topic_partition_list_t *parts) {
    if (p->uncommitted == NULL) return;
    for (int i = 0; i < parts->cnt; i++)
        rd_kafka_topic_partition_list_del(p->uncommitted, parts->elems[i].topic, parts->elems[i].partition);
    if (p->uncommitted->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(p->uncommitted);
        p->uncommitted = NULL;
    }
}

/* The generation an offset was committed for, from its metadata "g<N>" (tag_offsets); 0 when
 * it carries none (committed before offsets were tagged) or something else. */
static int64_t committed_generation(const rd_kafka_topic_partition_t *tp) {
    char text[24];
    if (tp->metadata == NULL || tp->metadata_size < 2 || tp->metadata_size >= sizeof text) return 0;
    memcpy(text, tp->metadata, tp->metadata_size);
    text[tp->metadata_size] = '\0';
    char *end = NULL;
    long long g = text[0] == 'g' ? strtoll(text + 1, &end, 10) : 0;
    return end != NULL && *end == '\0' && g > 0 ? g : 0;
}

/* Where partition resumes for the active generation: its recorded offset, or the beginning for a
 * partition added to the topic since the record was made (all its events came after). */
static int64_t resume_offset(const projector_t *p, int32_t partition) {
    return partition >= 0 && partition < p->n_resume ? p->resume[partition] : RD_KAFKA_OFFSET_BEGINNING;
}

/* The earlier of a position and where the generation resumes (RD_KAFKA_OFFSET_BEGINNING first). */
static int64_t rewound(const projector_t *p, int32_t partition, int64_t position) {
    int64_t r = resume_offset(p, partition);
    if (r == RD_KAFKA_OFFSET_BEGINNING || position < 0) return r;
    return position < r ? position : r;
}

/* Tags every offset of list with the generation its batches were written to: a member that gets
 * the partition later (or this one after a restart) knows whether the read model it projects
 * into holds what came before that offset. */
static void tag_offsets(const projector_t *p, rd_kafka_topic_partition_list_t *list) {
    size_t len = strlen(p->generation_tag);
    for (int i = 0; i < list->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &list->elems[i];
        free(tp->metadata); /* librdkafka frees it with free() too */
        tp->metadata = len > 0 ? malloc(len) : NULL;
        tp->metadata_size = tp->metadata != NULL ? len : 0;
        if (tp->metadata != NULL) memcpy(tp->metadata, p->generation_tag, len);
    }
}

/* Sets where the assigned partitions start. A partition whose committed offset was written for
 * an older generation (a rebuild switched while its offsets moved on in the old one) starts where
 * the active generation resumes, so everything the new generation may lack is projected into it
 * again (duplicates are skipped); the others start at their committed offsets. One whose offset
 * was committed for a newer generation than this projector follows yet, or whose committed offset
 * cannot be read, is paused and the projector rejoins the group once it has looked at the
 * generation again (rejoin): it is never started where it could skip what the generation lacks,
 * nor sent back further than the generation needs. Called inside on_rebalance, before the
 * partitions are assigned; pause_out receives those to pause once they are. */
static void start_assigned(projector_t *p, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                           rd_kafka_topic_partition_list_t *pause_out) {
    if (p->n_resume == 0) return; /* nothing recorded: the committed offsets */
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int attempt = 0; attempt < 3; attempt++)
        if ((e = rd_kafka_committed(rk, parts, 5000)) == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    int moved = 0;
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t g = e == RD_KAFKA_RESP_ERR_NO_ERROR && tp->err == RD_KAFKA_RESP_ERR_NO_ERROR
                        ? committed_generation(tp)
                        : -1;
        int known = tp->partition >= 0 && tp->partition < LL_PROJECTOR_PARTITIONS_MAX;
        unsigned char *newer = known ? &p->newer_pauses[tp->partition] : NULL;
        if (g > 0 && g < p->generation) {
            tp->offset = rewound(p, tp->partition, tp->offset);
            moved++;
        } else if (g > p->generation && newer != NULL && *newer >= 2) {
            /* Still newer after the generation was checked twice and the group joined again: the
             * active one went back (a switch undone by hand). Its committed offset, as before. */
            tp->offset = RD_KAFKA_OFFSET_INVALID;
            log_event("warn", "an offset committed for a newer generation than the active one", NULL,
                      "started at it");
        } else {
            tp->offset = RD_KAFKA_OFFSET_INVALID; /* the committed offset (or auto.offset.reset) */
            if (g < 0 || g > p->generation)
                rd_kafka_topic_partition_list_add(pause_out, tp->topic, tp->partition);
        }
        if (newer != NULL) *newer = g > p->generation && *newer < 2 ? (unsigned char)(*newer + 1) : 0;
    }
    if (moved > 0) {
        char detail[96];
        snprintf(detail, sizeof detail, "%d partitions from where generation %lld resumes", moved,
                 (long long)p->generation);
        log_event("info", "partitions start again for the new generation", NULL, detail);
    }
    if (pause_out->cnt > 0) {
        char detail[160];
        snprintf(detail, sizeof detail, "%d partitions paused: %s", pause_out->cnt,
                 e ? rd_kafka_err2str(e) : "committed for a newer generation, or unreadable");
        log_event("warn", "partitions wait until the generation is checked again", NULL, detail);
        if (p->rejoin == 0) p->rejoin = REJOIN_PAUSED;
        p->follow.checked_ms = 0; /* a newer generation is followed first */
    }
}

/* The group moved partitions (served inside rd_kafka_consumer_poll, so never in the middle of
 * writing a batch). Assigned: fetching starts at the group's committed offsets, or where the
 * active generation resumes (start_assigned). Revoked: the
 * messages of those partitions already collected are dropped (collect), what is remembered of
 * their accounts is forgotten (follow_assignment), and their pending offsets are not committed. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t why, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    projector_t *p = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    char detail[160];
    int len = snprintf(detail, sizeof detail, "partitions");
    for (int i = 0; i < parts->cnt && len < (int)sizeof detail - 8; i++)
        len += snprintf(detail + len, sizeof detail - (size_t)len, " %d", (int)parts->elems[i].partition);
    if (why == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_event("info", "partitions assigned", NULL, detail);
        rd_kafka_topic_partition_list_t *pause = rd_kafka_topic_partition_list_new(1);
        start_assigned(p, rk, parts, pause);
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            e = rd_kafka_assign(rk, parts);
        if (pause->cnt > 0) rd_kafka_pause_partitions(rk, pause);
        rd_kafka_topic_partition_list_destroy(pause);
    } else {
        log_event("info", rd_kafka_assignment_lost(rk) ? "partitions lost" : "partitions revoked", NULL,
                  detail);
        for (int i = 0; i < parts->cnt; i++)
            if (parts->elems[i].partition >= 0 && parts->elems[i].partition < LL_PROJECTOR_PARTITIONS_MAX)
                p->revoked[parts->elems[i].partition] = 1, p->any_revoked = 1;
        forget_uncommitted(p, parts);
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            e = rd_kafka_assign(rk, NULL);
    }
    if (error != NULL) {
        log_event("error", "rebalance", NULL, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_event("error", "rebalance", NULL, rd_kafka_err2str(e));
    }
}

/* Creates the consumer and subscribes it to the events topic (its partitions come with the
 * first polls: on_rebalance). */
static int open_consumer(projector_t *p, ll_error_t *err) {
    const ll_config_t *cfg = p->opt->cfg;
    char session_ms[24], fetch_wait_ms[24], fetch_min_bytes[24];
    snprintf(session_ms, sizeof session_ms, "%lld", (long long)cfg->projector_session_timeout_ms);
    snprintf(fetch_wait_ms, sizeof fetch_wait_ms, "%lld", (long long)cfg->projector_fetch_wait_ms);
    snprintf(fetch_min_bytes, sizeof fetch_min_bytes, "%lld", (long long)cfg->projector_fetch_min_bytes);
    const char *const consumer[] = {
        "bootstrap.servers", cfg->kafka_bootstrap_servers, "group.id", p->opt->group_id, "client.id",
        "ledgerline-projector", "session.timeout.ms",
        session_ms, /* default: the broker's minimum, fast failover */
        "max.poll.interval.ms", "300000",
        /* By default batching over freshness: reads are answered from the query API's live
         * view, which follows the topic on its own; larger fetches cost the broker and the read
         * store less per event (Kafka's CPU 38% -> 27% at 1700 deposits/s). Deployments whose
         * clients read MongoDB directly trade that back (docs/configuration.md). */
        "fetch.wait.max.ms", fetch_wait_ms, "fetch.min.bytes", fetch_min_bytes,
        /* Several projectors share the partitions: a member joining or leaving moves only the
         * partitions that change hands, the others keep being projected meanwhile. */
        "partition.assignment.strategy", "cooperative-sticky",
        /* Partitions added to the topic (docs/scaling.md) are assigned within seconds, not at
         * the default five-minute metadata refresh. */
        "topic.metadata.refresh.interval.ms", "5000", NULL};
    /* Offsets are committed after the batch's writes (commit), never by librdkafka. */
    rd_kafka_conf_t *conf = ll_kafka_conf(LL_KAFKA_LOG_READER_SETTINGS, consumer, err);
    if (conf == NULL) return LL_EINVAL;
    char errstr[512];
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, p);
    p->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (p->consumer == NULL) {
        rd_kafka_conf_destroy(conf);
        return ll_error_set(err, LL_EINVAL, "Kafka consumer: %s", errstr);
    }
    rd_kafka_poll_set_consumer(p->consumer);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, cfg->kafka_topic_events, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(p->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    return e ? ll_error_set(err, LL_EIO, "subscribe: %s", rd_kafka_err2str(e)) : 0;
}

int projector_open_kafka(projector_t *p, ll_error_t *err) {
    const char *const producer[] = {"bootstrap.servers", p->opt->cfg->kafka_bootstrap_servers, "client.id",
                                    "ledgerline-projector-dlq", NULL};
    p->dlq = ll_kafka_client(RD_KAFKA_PRODUCER, LL_KAFKA_PRODUCER_SETTINGS, producer, err);
    if (p->dlq == NULL) return LL_EINVAL;
    return open_consumer(p, err);
}

/* Leaves the group and joins it again (a generation switch, or partitions whose start could not
 * be decided): every partition it gets is then started by start_assigned, from the offsets
 * committed and the generation they were committed for. Called between batches; closing serves
 * the revocation of everything (on_rebalance), which drops the offsets not committed yet.
 * Returns 0, or LL_EINVAL when the consumer cannot be made again (configuration). */
int projector_rejoin(projector_t *p, ll_error_t *err) {
    p->rejoin = 0;
    p->last_rejoin_ms = ll_clock_ms();
    log_event("info", "leaving the consumer group to start the partitions again", NULL, "");
    rd_kafka_consumer_close(p->consumer);
    rd_kafka_destroy(p->consumer);
    p->consumer = NULL;
    if (p->uncommitted != NULL) rd_kafka_topic_partition_list_destroy(p->uncommitted);
    p->uncommitted = NULL;
    memset(p->revoked, 0, sizeof p->revoked);
    p->any_revoked = 0;
    p->assignment = 0;
    ll_account_cache_clear(p->cache);
    return open_consumer(p, err);
}

/* Sends a message that cannot be projected to the dead-letter topic and waits for the report.
 * A message too large for the producer (the broker took it; a hostile or broken producer can
 * send one near its limit) goes with its first DEAD_LETTER_KEEP_BYTES and a header saying so:
 * the record must never stop the projector. Returns 0 once Kafka has it. */
int projector_dead_letter(projector_t *p, const rd_kafka_message_t *m, const char *reason, ll_error_t *err) {
    char partition[16], offset[24], original[24];
    snprintf(partition, sizeof partition, "%d", (int)m->partition);
    snprintf(offset, sizeof offset, "%lld", (long long)m->offset);
    snprintf(original, sizeof original, "%zu", m->len);
    size_t key_len = m->key_len < 1024 ? m->key_len : 1024;
    const char *topic = p->opt->cfg->kafka_topic_dlq;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->dlq, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(m->key, key_len),
        RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("reason", reason, -1), RD_KAFKA_V_HEADER("source_partition", partition, -1),
        RD_KAFKA_V_HEADER("source_offset", offset, -1), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
        e = rd_kafka_producev(
            p->dlq, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(m->key, key_len),
            RD_KAFKA_V_VALUE(m->payload, m->len < DEAD_LETTER_KEEP_BYTES ? m->len : DEAD_LETTER_KEEP_BYTES),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADER("reason", reason, -1),
            RD_KAFKA_V_HEADER("source_partition", partition, -1),
            RD_KAFKA_V_HEADER("source_offset", offset, -1),
            RD_KAFKA_V_HEADER("truncated_from_bytes", original, -1), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) e = rd_kafka_flush(p->dlq, 30000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ll_error_set(err, LL_EIO, "dead-letter topic: %s", rd_kafka_err2str(e));
    p->dead_letters++;
    return 0;
}

/* Drops the collected messages of revoked partitions (they are the next owner's now). */
static int drop_revoked(projector_t *p, int n) {
    int kept = 0;
    for (int i = 0; i < n; i++) {
        int32_t part = p->items[i].msg->partition;
        if (part >= 0 && part < LL_PROJECTOR_PARTITIONS_MAX && p->revoked[part])
            rd_kafka_message_destroy(p->items[i].msg);
        else
            p->items[kept++] = p->items[i];
    }
    memset(p->revoked, 0, sizeof p->revoked);
    p->any_revoked = 0;
    if (kept < n) {
        char detail[64];
        snprintf(detail, sizeof detail, "%d messages", n - kept);
        log_event("info", "collected messages of revoked partitions dropped", NULL, detail);
    }
    return kept;
}

int projector_collect(projector_t *p, volatile sig_atomic_t *stop) {
    int n = 0;
    long long deadline = 0;
    int64_t first_us = 0;
    while (n < p->opt->batch_max && !*stop) {
        /* Past the window, what is already fetched still joins the batch (poll without
         * waiting): under load the batch takes what arrived while the last one was written,
         * and a window of 0 costs an idle event no wait at all. */
        long long left = deadline ? deadline - ll_clock_ms() : 200;
        int wait = left > 0 ? (int)left : 0;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(p->consumer, wait);
        if (p->any_revoked) n = drop_revoked(p, n);
        if (m == NULL) break; /* idle or the batch window closed: let the loop report and check */
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log_event("warn", "consumer error", NULL, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        memset(&p->items[n], 0, sizeof p->items[n]);
        p->items[n++].msg = m;
        if (deadline == 0) deadline = ll_clock_ms() + p->opt->batch_ms, first_us = ll_clock_us();
    }
    if (n > 0) phase_add(p, LL_PHASE_COLLECT, first_us);
    return n;
}

/* A commit refused because the group is rebalancing or moved on without this member. Retrying
 * the batch would never help: the rebalance needs this member to poll. */
static int group_moved(rd_kafka_resp_err_t e) {
    return e == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS || e == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
           e == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID || e == RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST ||
           e == RD_KAFKA_RESP_ERR__STATE;
}

/* Raises the offset of (topic, partition) in list to at least offset, adding it when absent. */
static void offset_at_least(rd_kafka_topic_partition_list_t *list, const char *topic, int32_t partition,
                            int64_t offset) {
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(list, topic, partition);
    if (tp == NULL) tp = rd_kafka_topic_partition_list_add(list, topic, partition);
    if (offset > tp->offset) tp->offset = offset;
}

/* Remembers offsets (of a batch already written) to commit later, the highest per partition. */
static void keep_uncommitted(projector_t *p, const rd_kafka_topic_partition_list_t *offsets,
                             rd_kafka_resp_err_t why) {
    if (p->uncommitted == NULL) p->uncommitted = rd_kafka_topic_partition_list_new(offsets->cnt);
    for (int i = 0; i < offsets->cnt; i++)
        offset_at_least(p->uncommitted, offsets->elems[i].topic, offsets->elems[i].partition,
                        offsets->elems[i].offset);
    log_event("info", "batch written, offsets committed later: the group is rebalancing", NULL,
              rd_kafka_err2str(why));
}

/* Commits what keep_uncommitted kept, for the partitions still assigned (the others were
 * dropped when revoked). Called between batches, after a poll let the rebalance finish. */
void projector_commit_uncommitted(projector_t *p) {
    if (p->uncommitted == NULL) return;
    tag_offsets(p, p->uncommitted);
    rd_kafka_resp_err_t e = rd_kafka_commit(p->consumer, p->uncommitted, 0);
    if (group_moved(e)) return; /* still rebalancing: the next round */
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_event("warn", "commit of earlier offsets", NULL, rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(p->uncommitted);
    p->uncommitted = NULL;
}

/* Commits, per partition, the offset after the batch's last message. */
int projector_commit(projector_t *p, int n, ll_error_t *err) {
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < n; i++) {
        rd_kafka_message_t *m = p->items[i].msg;
        offset_at_least(offsets, rd_kafka_topic_name(m->rkt), m->partition, m->offset + 1);
    }
    /* Offsets still waiting from earlier batches go with these (never behind them). */
    for (int i = 0; p->uncommitted != NULL && i < p->uncommitted->cnt; i++)
        offset_at_least(offsets, p->uncommitted->elems[i].topic, p->uncommitted->elems[i].partition,
                        p->uncommitted->elems[i].offset);
    tag_offsets(p, offsets);
    int64_t t0 = ll_clock_us();
    rd_kafka_resp_err_t e = rd_kafka_commit(p->consumer, offsets, 0);
    phase_add(p, LL_PHASE_COMMIT, t0);
    if (group_moved(e)) {
        keep_uncommitted(p, offsets, e);
        e = RD_KAFKA_RESP_ERR_NO_ERROR; /* the batch is written: only its offsets wait */
    } else if (e == RD_KAFKA_RESP_ERR_NO_ERROR && p->uncommitted != NULL) {
        rd_kafka_topic_partition_list_destroy(p->uncommitted);
        p->uncommitted = NULL;
    }
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

/* What the projector remembers is kept only while the partitions it holds stay the same: a
 * partition handed to another projector and back may have moved its accounts meanwhile. */
void projector_follow_assignment(projector_t *p) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(p->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || parts == NULL) return;
    uint64_t sig = (uint64_t)parts->cnt << 56;
    for (int i = 0; i < parts->cnt; i++) sig ^= (uint64_t)1 << (parts->elems[i].partition % 56);
    rd_kafka_topic_partition_list_destroy(parts);
    if (sig != p->assignment) ll_account_cache_clear(p->cache);
    p->assignment = sig;
}

/* Leaves the group (closing serves a last revocation, on_rebalance: p->uncommitted must still be
 * there), drops the offsets never committed, and flushes the dead-letter producer. */
void projector_close_kafka(projector_t *p) {
    if (p->consumer != NULL) {
        rd_kafka_consumer_close(p->consumer);
        rd_kafka_destroy(p->consumer);
        p->consumer = NULL;
    }
    if (p->uncommitted != NULL) rd_kafka_topic_partition_list_destroy(p->uncommitted);
    p->uncommitted = NULL;
    if (p->dlq != NULL) {
        rd_kafka_flush(p->dlq, 10000);
        rd_kafka_destroy(p->dlq);
        p->dlq = NULL;
    }
}
