/* ll_rebuild_kafka.c - the rebuild's reads of the events topic: the build from offset 0 up to
 * the high watermarks seen at the start, and the high watermarks where projectors resume after
 * the switch. */
#include "ll_event_codec.h"
#include "ll_kafka.h"
#include "ll_progress.h"
#include "ll_rebuild.h"

#include <stdio.h>
#include <stdlib.h>

#define KAFKA_TIMEOUT_MS 10000

/* The topic's partition count, in 1..max; -1 with err set otherwise. */
static int topic_partitions(rd_kafka_t *rk, const char *topic, int max, ll_error_t *err) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, KAFKA_TIMEOUT_MS);
    rd_kafka_topic_destroy(rkt);
    int n = e == 0 && md->topic_cnt == 1 && md->topics[0].err == 0 ? md->topics[0].partition_cnt : 0;
    if (md) rd_kafka_metadata_destroy(md);
    if (n <= 0 || n > max)
        return ll_error_set(err, LL_EIO, "topic %s: %s", topic, e ? rd_kafka_err2str(e) : "no partitions"),
               -1;
    return n;
}

/* The high watermark of each of n partitions into high[]; *total (may be NULL) gets the number
 * of messages below them. Returns 0 or LL_EIO. */
static int high_watermarks(rd_kafka_t *rk, const char *topic, int n, int64_t *high, int64_t *total,
                           ll_error_t *err) {
    for (int i = 0; i < n; i++) {
        int64_t lo;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &high[i], KAFKA_TIMEOUT_MS);
        if (e != 0)
            return ll_error_set(err, LL_EIO, "topic %s partition %d: %s", topic, i, rd_kafka_err2str(e));
        if (total != NULL) *total += high[i] - lo;
    }
    return 0;
}

int rebuild_read_resume(rebuild_t *r, ll_error_t *err) {
    const char *topic = r->cfg->kafka_topic_events;
    if (r->watermarks_rk == NULL) {
        const char *const settings[] = {"bootstrap.servers", r->cfg->kafka_bootstrap_servers, "client.id",
                                        "ledgerline-rebuild", NULL};
        if ((r->watermarks_rk = ll_kafka_client(RD_KAFKA_PRODUCER, NULL, settings, err)) == NULL)
            return LL_EIO;
    }
    int n = topic_partitions(r->watermarks_rk, topic, LL_RESUME_PARTITIONS_MAX, err);
    if (n < 0 || high_watermarks(r->watermarks_rk, topic, n, r->resume, NULL, err) != 0) return LL_EIO;
    r->n_resume = n;
    return 0;
}

/* ---- the build from the topic --------------------------------------------------------------- */

typedef struct {
    rd_kafka_t *rk;
    int n;         /* partitions */
    int64_t *high; /* per partition: where the build stops; -1 once there (or empty) */
    int open;      /* partitions not at their end yet */
    int64_t total; /* messages below the watermarks */
} topic_read_t;

static rd_kafka_t *build_consumer(const rebuild_t *r, ll_error_t *err) {
    /* Every consumer's settings (no offset committed or stored: this one assigns its partitions
     * and never commits), and the end of each partition reported: the build stops there. */
    const char *const settings[] = {"bootstrap.servers",
                                    r->cfg->kafka_bootstrap_servers,
                                    "group.id",
                                    "ledgerline-rebuild",
                                    "enable.partition.eof",
                                    "true",
                                    "client.id",
                                    "ledgerline-rebuild",
                                    NULL};
    rd_kafka_t *rk = ll_kafka_client(RD_KAFKA_CONSUMER, LL_KAFKA_READER_SETTINGS, settings, err);
    if (rk != NULL) rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Reads the watermarks, opens the store snapshot and assigns every partition from offset 0. */
static int topic_open(rebuild_t *r, topic_read_t *t, ll_error_t *err) {
    const char *topic = r->cfg->kafka_topic_events;
    if ((t->n = topic_partitions(t->rk, topic, INT32_MAX, err)) < 0) return LL_EIO;
    if ((t->high = calloc((size_t)t->n, sizeof *t->high)) == NULL)
        return ll_error_set(err, LL_ENOMEM, "out of memory");
    if (high_watermarks(t->rk, topic, t->n, t->high, &t->total, err) != 0) return LL_EIO;
    for (int i = 0; i < t->n; i++) {
        if (t->high[i] > 0)
            t->open++;
        else
            t->high[i] = -1; /* empty: nothing to wait for */
    }
    /* Every event below these watermarks was committed before the store snapshot taken now, so
     * the verification finds each in the store. */
    if (rebuild_store_snapshot(r, err) != 0) return LL_EIO;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(t->n);
    for (int i = 0; i < t->n; i++)
        rd_kafka_topic_partition_list_add(parts, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(t->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    return e ? ll_error_set(err, LL_EIO, "assign: %s", rd_kafka_err2str(e)) : 0;
}

/* One message: an event below its partition's watermark is folded (of --account, up to the
 * position); an undecodable one is skipped, as the projector dead-letters it. */
static int topic_message(rebuild_t *r, topic_read_t *t, const rd_kafka_message_t *m, ll_progress_t *p,
                         ll_error_t *err) {
    int32_t part = m->partition;
    int at_end =
        m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || (m->err == 0 && m->offset + 1 >= t->high[part]);
    int rc = 0;
    if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        rc = ll_error_set(err, LL_EIO, "consume: %s", rd_kafka_message_errstr(m));
    } else if (m->err == 0 && m->offset < t->high[part]) {
        ll_event_t ev;
        ll_error_t why = {""};
        p->done++;
        if (ll_event_decode(m->payload, m->len, &ev, &why) != 0)
            fprintf(stderr,
                    "\nskipped an undecodable message at %d/%lld (the projector dead-letters it): %s\n", part,
                    (long long)m->offset, why.msg);
        else if ((r->o->account == NULL || ll_uuid_equal(&ev.account_id, &r->account_id)) &&
                 ev.global_position <= r->position)
            rc = rebuild_build_event(r, &ev, err);
    }
    if (at_end && t->high[part] >= 0) {
        t->high[part] = -1; /* done with it */
        t->open--;
    }
    return rc;
}

int rebuild_build_from_kafka(rebuild_t *r, ll_error_t *err) {
    topic_read_t t = {.rk = build_consumer(r, err)};
    if (t.rk == NULL) return LL_EINVAL;
    int rc = topic_open(r, &t, err);
    ll_progress_t p;
    ll_progress_start(&p, "build", "events", t.total);
    while (rc == 0 && t.open > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(t.rk, 1000);
        if (m == NULL) continue;
        rc = topic_message(r, &t, m, &p, err);
        rd_kafka_message_destroy(m);
        ll_progress_show(&p, 0);
    }
    ll_progress_show(&p, 1);
    free(t.high);
    rd_kafka_consumer_close(t.rk);
    rd_kafka_destroy(t.rk);
    return rc;
}
