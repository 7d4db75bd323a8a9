/* ll_projector_report.c - the projector's snapshot for /metrics and its periodic metrics log
 * line. See ll_projector_state.h. */
#include "ll_projector_state.h"

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
                                   .halted_accounts = ll_uuid_map_count(&p->stopped),
                                   .waiting_accounts = ll_uuid_map_count(&p->waiting),
                                   .account_reads = p->account_reads,
                                   .store_states = p->store_states,
                                   .seal_reads = p->seal_reads,
                                   .healed_events = p->healed_events,
                                   .heal_failures = p->heal_failures,
                                   .holes_found = p->holes_found,
                                   .holes_healed = p->holes_healed,
                                   .replaced_events = p->replaced_events,
                                   .conflicts = p->conflicts,
                                   .docs_events = p->docs_events,
                                   .docs_pages = p->docs_pages,
                                   .docs_accounts = p->docs_accounts,
                                   .cache_accounts = ll_account_cache_count(p->cache),
                                   .cache_items_bytes = ll_account_cache_items_bytes(p->cache),
                                   .generation = p->generation};
    memcpy(s->phase_us, p->phase_us, sizeof s->phase_us);
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (p->consumer == NULL || rd_kafka_assignment(p->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        parts == NULL)
        return;
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
void projector_publish(projector_t *p, int log_now) {
    take_snapshot(p);
    p->last_publish_ms = ll_clock_ms();
    if (p->metrics) ll_projector_metrics_publish(p->metrics, &p->snap);
    if (!log_now && ll_clock_ms() - p->last_report_ms < p->opt->metrics_interval_ms) return;
    long long lag = 0;
    for (int i = 0; i < p->snap.n_partitions; i++) {
        const ll_partition_progress_t *pp = &p->snap.partitions[i];
        if (pp->high > pp->committed && pp->committed >= 0) lag += pp->high - pp->committed;
    }
    ll_log_t l;
    ll_log_begin(&l, "info", "projector", "metrics");
    ll_log_int(&l, "generation", (long long)p->generation);
    ll_log_int(&l, "applied_total", p->applied);
    ll_log_int(&l, "duplicates_total", p->duplicates);
    ll_log_int(&l, "gaps_total", p->gaps);
    ll_log_int(&l, "dead_letters_total", p->dead_letters);
    ll_log_int(&l, "batches_total", p->batches);
    ll_log_int(&l, "halted_accounts", (long long)ll_uuid_map_count(&p->stopped));
    ll_log_int(&l, "waiting_accounts", (long long)ll_uuid_map_count(&p->waiting));
    ll_log_int(&l, "lag_events", lag);
    ll_log_end(&l);
    p->last_report_ms = ll_clock_ms();
}
