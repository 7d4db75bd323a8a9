/* ll_kafka.c - see ll_kafka.h. */
#include "ll_kafka.h"

const char *const LL_KAFKA_PRODUCER_SETTINGS[] = {
    "enable.idempotence",
    "true", /* no duplicates or reordering from retries */
    "acks",
    "all", /* durable on all in-sync replicas */
    "max.in.flight.requests.per.connection",
    "5", /* the most idempotence allows with ordering */
    "message.timeout.ms",
    "30000", /* a delivery report arrives within 30 s */
    "linger.ms",
    "1", /* latency first; batching still happens under load */
    "queue.buffering.max.messages",
    "100000",
    "compression.type",
    "none",
    "partitioner",
    "murmur2_random", /* the Java client's partitioner */
    "socket.keepalive.enable",
    "true",
    "socket.nagle.disable",
    "true", /* small messages go out at once */
    NULL,
};

/* The settings every consumer shares (LL_KAFKA_READER_SETTINGS), written once for both lists:
 * offsets follow the reader's own writes (or never move), none is stored for a commit behind its
 * back, fetch requests go out at once. */
#define READER_PAIRS                                                                                         \
    "enable.auto.commit", "false", "enable.auto.offset.store", "false", "socket.nagle.disable", "true"

const char *const LL_KAFKA_READER_SETTINGS[] = {READER_PAIRS, NULL};

const char *const LL_KAFKA_LOG_READER_SETTINGS[] = {
    READER_PAIRS,
    "auto.offset.reset",
    "earliest", /* a group without offsets reads the log from its start */
    "isolation.level",
    "read_committed",
    "enable.partition.eof",
    "false",
    NULL,
};

/* Sets each pair of settings on conf; 0, or -1 with err naming the setting refused. */
static int set_all(rd_kafka_conf_t *conf, const char *const *settings, ll_error_t *err) {
    char errstr[512];
    for (const char *const *kv = settings; kv != NULL && kv[0] != NULL; kv += 2) {
        if (rd_kafka_conf_set(conf, kv[0], kv[1], errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
            ll_error_set(err, LL_EINVAL, "Kafka setting %s: %s", kv[0], errstr);
            return -1;
        }
    }
    return 0;
}

rd_kafka_conf_t *ll_kafka_conf(const char *const *base, const char *const *mine, ll_error_t *err) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (set_all(conf, base, err) != 0 || set_all(conf, mine, err) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

/* Both public constructors: settings base then mine, and a delivery callback when given. */
static rd_kafka_t *client(rd_kafka_type_t type, const char *const *base, const char *const *mine,
                          ll_kafka_delivery_fn on_delivery, ll_error_t *err) {
    rd_kafka_conf_t *conf = ll_kafka_conf(base, mine, err);
    char errstr[512];
    if (conf == NULL) return NULL;
    if (on_delivery != NULL) rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new takes it only on success */
        ll_error_set(err, LL_EINVAL, "Kafka client: %s", errstr);
    }
    return rk;
}

rd_kafka_t *ll_kafka_client(rd_kafka_type_t type, const char *const *base, const char *const *mine,
                            ll_error_t *err) {
    return client(type, base, mine, NULL, err);
}

rd_kafka_t *ll_kafka_producer(const char *const *mine, ll_kafka_delivery_fn on_delivery, ll_error_t *err) {
    return client(RD_KAFKA_PRODUCER, LL_KAFKA_PRODUCER_SETTINGS, mine, on_delivery, err);
}
