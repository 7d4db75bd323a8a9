/* kafka_latency: the floor under ledgerline's freshness: how long one message takes from
 * rd_kafka_producev to a consumer's poll, with the relay's producer settings
 * (LL_KAFKA_PRODUCER_SETTINGS: idempotent, acks=all, linger 1 ms) and the query API's tail
 * settings (read_committed, fetch.wait.max.ms 10, Nagle off). One message at a time, like the
 * freshness benchmark's sequential deposits, so it measures latency and not queueing.
 *
 * Usage: kafka_latency --topic T [--messages N] [--brokers HOST:PORT]
 * The topic must exist and be empty (bench_queries.py makes it with gen_events --events 0).
 * Prints one JSON line: {"messages":N,"p50_us":..,"p99_us":..,"p999_us":..,"max_us":..,
 * "ack_p50_us":..,"ack_p99_us":..} (ack: produce to the delivery report). Exit 1 on failure. */
#include "ll_cli.h"
#include "ll_clock.h"
#include "ll_error.h"
#include "ll_kafka.h"
#include "ll_stats.h"

#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WARMUP 20            /* first messages: connections and metadata, not measured */
#define MESSAGE_TIMEOUT_US 10000000

static int64_t acked_at; /* set by the delivery report of the message in flight */
static int delivery_failed;
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk, (void)opaque;
    if (m->err) delivery_failed = 1;
    acked_at = ll_clock_us();
}

/* Assigns every partition of topic from its beginning. Returns 0 or -1. */
static int assign_all(rd_kafka_t *consumer, const char *topic) {
    rd_kafka_topic_t *t = rd_kafka_topic_new(consumer, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    int rc = -1;
    if (t != NULL && rd_kafka_metadata(consumer, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
        for (int i = 0; i < md->topics[0].partition_cnt; i++)
            rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        rc = rd_kafka_assign(consumer, parts) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
        rd_kafka_topic_partition_list_destroy(parts);
    }
    if (rc != 0) fprintf(stderr, "kafka_latency: cannot assign the partitions of %s\n", topic);
    if (md) rd_kafka_metadata_destroy(md);
    if (t) rd_kafka_topic_destroy(t);
    return rc;
}

/* Produces message i and waits until the consumer returns it. Returns 0 with the latencies, or -1. */
static int one_message(rd_kafka_t *producer, rd_kafka_t *consumer, const char *topic, int i, int64_t *latency,
                       int64_t *ack) {
    char value[32];
    int len = snprintf(value, sizeof value, "%d", i);
    acked_at = 0;
    int64_t t0 = ll_clock_us();
    rd_kafka_resp_err_t e = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY("latency", 7),
                                              RD_KAFKA_V_VALUE(value, (size_t)len),
                                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kafka_latency: produce: %s\n", rd_kafka_err2str(e));
        return -1;
    }
    for (;;) {
        rd_kafka_poll(producer, 0);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 1);
        if (m != NULL) {
            int match = !m->err && m->len == (size_t)len && memcmp(m->payload, value, (size_t)len) == 0;
            rd_kafka_message_destroy(m);
            if (match) break;
        }
        if (ll_clock_us() - t0 > MESSAGE_TIMEOUT_US) {
            fprintf(stderr, "kafka_latency: message %d not consumed within 10 s\n", i);
            return -1;
        }
    }
    *latency = ll_clock_us() - t0;
    while (acked_at == 0 && ll_clock_us() - t0 < MESSAGE_TIMEOUT_US) rd_kafka_poll(producer, 1);
    if (acked_at == 0 || delivery_failed) {
        fprintf(stderr, "kafka_latency: message %d not acknowledged\n", i);
        return -1;
    }
    *ack = acked_at - t0;
    return 0;
}

int main(int argc, char **argv) {
    const char *topic = NULL, *brokers = "127.0.0.1:59092";
    int messages = 1000, bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (!strcmp(argv[i], "--topic") && i + 1 < argc)
            topic = argv[++i];
        else if (!strcmp(argv[i], "--brokers") && i + 1 < argc)
            brokers = argv[++i];
        else if (!strcmp(argv[i], "--messages") && i + 1 < argc)
            bad = ll_cli_int_arg(argv[++i], 1, 10000000, &messages);
        else if (!strcmp(argv[i], "--help")) {
            printf("usage: kafka_latency --topic T [--messages N] [--brokers HOST:PORT]\n"
                   "Produce -> consume latency of one message at a time, with ledgerline's client settings.\n");
            return 0;
        } else
            bad = 1;
    }
    if (bad || topic == NULL) {
        fprintf(stderr, "usage: kafka_latency --topic T [--messages N] [--brokers HOST:PORT]\n");
        return 2;
    }
    ll_error_t err = {""};
    const char *const producer_settings[] = {"bootstrap.servers", brokers, "client.id", "bench-latency", NULL};
    const char *const consumer_settings[] = {"bootstrap.servers", brokers, "group.id", "bench-latency",
                                             "enable.auto.commit", "false", "enable.partition.eof", "false",
                                             "isolation.level", "read_committed", "fetch.wait.max.ms", "10",
                                             "socket.nagle.disable", "true", NULL};
    rd_kafka_t *producer = ll_kafka_producer(producer_settings, on_delivery, &err), *consumer = NULL;
    if (producer != NULL) consumer = ll_kafka_client(RD_KAFKA_CONSUMER, NULL, consumer_settings, &err);
    if (producer == NULL || consumer == NULL) {
        fprintf(stderr, "kafka_latency: %s\n", err.msg);
        return 1;
    }
    int total = messages + WARMUP, rc = assign_all(consumer, topic);
    int64_t *latency = calloc((size_t)messages, sizeof *latency), *ack = calloc((size_t)messages, sizeof *ack);
    if (latency == NULL || ack == NULL) rc = -1;
    for (int i = 0; i < total && rc == 0; i++) {
        int64_t l, a;
        rc = one_message(producer, consumer, topic, i, &l, &a);
        if (rc == 0 && i >= WARMUP) latency[i - WARMUP] = l, ack[i - WARMUP] = a;
    }
    if (rc == 0) {
        size_t n = (size_t)messages;
        ll_stats_sort(latency, n);
        ll_stats_sort(ack, n);
        printf("{\"messages\":%d,\"p50_us\":%lld,\"p99_us\":%lld,\"p999_us\":%lld,\"max_us\":%lld,"
               "\"ack_p50_us\":%lld,\"ack_p99_us\":%lld}\n",
               messages, (long long)ll_stats_percentile(latency, n, 50), (long long)ll_stats_percentile(latency, n, 99),
               (long long)ll_stats_percentile(latency, n, 99.9), (long long)latency[n - 1],
               (long long)ll_stats_percentile(ack, n, 50), (long long)ll_stats_percentile(ack, n, 99));
    }
    free(latency);
    free(ack);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    rd_kafka_flush(producer, 5000);
    rd_kafka_destroy(producer);
    return rc == 0 ? 0 : 1;
}
