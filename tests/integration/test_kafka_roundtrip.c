/* Integration: librdkafka reaches the local Kafka broker: an idempotent, acks=all producer sends a
 * keyed message with headers, the delivery report gives its partition and offset, and a consumer
 * reads exactly that message back. Uses the selftest topic, never the events topic. Needs `make up`. */
#include "ll_config.h"
#include "ll_test.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define SELFTEST_TOPIC "ledgerline.selftest"
#define DEADLINE_MS    20000

typedef struct {
    int done;
    rd_kafka_resp_err_t err;
    int32_t partition;
    int64_t offset;
} delivery_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    (void)opaque;
    delivery_t *d = msg->_private; /* the per-message opaque given to producev */
    d->err = msg->err;
    d->partition = msg->partition;
    d->offset = msg->offset;
    d->done = 1;
}

static int set_conf(ll_test_ctx_t *t, rd_kafka_conf_t *conf, const char *key, const char *value) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        LL_FAIL_AT("rd_kafka_conf_set(%s): %s", key, errstr);
        return -1;
    }
    return 0;
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

LL_TEST(test_kafka_produce_keyed_and_consume_back) {
    ll_config_t cfg;
    ll_error_t err = {""};
    LL_REQUIRE(ll_config_load(&cfg, NULL, environ, &err) == 0);

    /* Producer: every setting that matters for durability is explicit. */
    rd_kafka_conf_t *pconf = rd_kafka_conf_new();
    int bad = set_conf(t, pconf, "bootstrap.servers", cfg.kafka_bootstrap_servers) |
              set_conf(t, pconf, "enable.idempotence", "true") | set_conf(t, pconf, "acks", "all") |
              set_conf(t, pconf, "max.in.flight.requests.per.connection", "5") |
              set_conf(t, pconf, "message.timeout.ms", "15000") | set_conf(t, pconf, "linger.ms", "0");
    if (bad) {
        rd_kafka_conf_destroy(pconf);
        return;
    }
    rd_kafka_conf_set_dr_msg_cb(pconf, on_delivery);
    char errstr[512];
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof errstr);
    if (producer == NULL) {
        rd_kafka_conf_destroy(pconf); /* rd_kafka_new took ownership only on success */
        LL_FAIL_AT("rd_kafka_new(producer): %s", errstr);
        return;
    }

    char key[64], value[128];
    snprintf(key, sizeof key, "acct-%ld", (long)getpid());
    snprintf(value, sizeof value, "{\"selftest\":%lld}", now_ms());
    delivery_t d = {0, RD_KAFKA_RESP_ERR_NO_ERROR, -1, -1};
    rd_kafka_resp_err_t perr = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(SELFTEST_TOPIC), RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_VALUE(value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("type", "SelfTest", -1), RD_KAFKA_V_HEADER("schema_version", "1", -1),
        RD_KAFKA_V_OPAQUE(&d), RD_KAFKA_V_END);
    LL_CHECK(perr == RD_KAFKA_RESP_ERR_NO_ERROR);
    long long deadline = now_ms() + DEADLINE_MS;
    while (perr == RD_KAFKA_RESP_ERR_NO_ERROR && !d.done && now_ms() < deadline) rd_kafka_poll(producer, 100);
    LL_CHECK(rd_kafka_flush(producer, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(producer);
    if (!d.done || d.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        LL_FAIL_AT("delivery report: done=%d err=%s (is the stack up? make up)", d.done,
                   rd_kafka_err2str(d.err));
        return;
    }
    LL_CHECK(d.offset >= 0);

    /* Consumer: read back exactly the delivered partition/offset. */
    rd_kafka_conf_t *cconf = rd_kafka_conf_new();
    bad = set_conf(t, cconf, "bootstrap.servers", cfg.kafka_bootstrap_servers) |
          set_conf(t, cconf, "group.id", "ledgerline-selftest") |
          set_conf(t, cconf, "enable.auto.commit", "false") |
          set_conf(t, cconf, "enable.auto.offset.store", "false") |
          set_conf(t, cconf, "auto.offset.reset", "error") |
          set_conf(t, cconf, "isolation.level", "read_committed");
    if (bad) {
        rd_kafka_conf_destroy(cconf);
        return;
    }
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, errstr, sizeof errstr);
    if (consumer == NULL) {
        rd_kafka_conf_destroy(cconf);
        LL_FAIL_AT("rd_kafka_new(consumer): %s", errstr);
        return;
    }
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, SELFTEST_TOPIC, d.partition)->offset = d.offset;
    LL_CHECK(rd_kafka_assign(consumer, parts) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);

    int found = 0;
    deadline = now_ms() + DEADLINE_MS;
    while (!found && now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 200);
        if (m == NULL) continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                LL_FAIL_AT("consume: %s", rd_kafka_message_errstr(m));
        } else if (m->offset == d.offset) {
            found = 1;
            LL_CHECK(m->key_len == strlen(key) && memcmp(m->key, key, m->key_len) == 0);
            LL_CHECK(m->len == strlen(value) && memcmp(m->payload, value, m->len) == 0);
            rd_kafka_headers_t *hdrs = NULL;
            const void *hv = NULL;
            size_t hlen = 0;
            LL_CHECK(rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                     rd_kafka_header_get_last(hdrs, "type", &hv, &hlen) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                     hlen == 8 && memcmp(hv, "SelfTest", 8) == 0);
        }
        rd_kafka_message_destroy(m);
    }
    LL_CHECK(found);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_kafka_produce_keyed_and_consume_back),
    };
    return ll_test_main(argc, argv, "kafka_roundtrip", cases, LL_CASES(cases));
}
