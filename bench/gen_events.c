/* gen_events: writes a backlog of valid account events to a new Kafka topic, for the projector
 * benchmark. Every event is decided, sealed and folded by domain/ exactly as the command service
 * does (hash chains intact, versions contiguous), keyed by account id like the relay's.
 *
 * Usage: gen_events (--topic T | --copy DIR) --events N --accounts A [--partitions P]
 *                   [--brokers HOST:PORT] [--ids FILE]
 * --events 0 only creates the topic (6 partitions by default, infinite retention).
 * --copy DIR writes the same events as PostgreSQL COPY text instead (DIR/events.copy and
 * DIR/account_state.copy, the event store's columns), for a store of a benchmark's own;
 * DIR/events.copy may be a FIFO that psql's \copy reads while the events are made.
 * --ids FILE writes the account ids, one per line.
 * Prints one JSON line: {"events":N,"accounts":A,"seconds":S}. Exit 1 on any failure. */
#include "ll_account.h"
#include "ll_cli.h"
#include "ll_clock.h"
#include "ll_command.h"
#include "ll_event_codec.h"
#include "ll_hash_chain.h"
#include "ll_kafka.h"
#include "ll_random.h"
#include "ll_time.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    return (double)ll_clock_us() / 1e6;
}

static int create_topic(rd_kafka_t *rk, const char *topic, int partitions) {
    char errstr[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr, sizeof errstr);
    if (nt == NULL || rd_kafka_NewTopic_set_config(nt, "retention.ms", "-1") != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "gen_events: topic %s: %s\n", topic, errstr);
        return -1;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = -1;
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    if (res != NULL) {
        size_t n;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
        rd_kafka_resp_err_t e = n == 1 ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR__FAIL;
        rc = e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? 0 : -1;
        if (rc != 0) fprintf(stderr, "gen_events: create topic %s: %s\n", topic, rd_kafka_err2str(e));
    } else {
        fprintf(stderr, "gen_events: create topic %s: no answer\n", topic);
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

static FILE *copy_events; /* --copy: the events table's rows instead of Kafka */

/* One row of the events table in COPY text format (backslashes doubled; the envelope is
 * canonical JSON, so it has no raw tab or newline). */
static void copy_event(const ll_event_t *ev, const char *envelope) {
    char account[LL_UUID_TEXT_LEN + 1], id[LL_UUID_TEXT_LEN + 1], when[LL_TIME_TEXT_LEN + 1];
    ll_uuid_format(&ev->account_id, account);
    ll_uuid_format(&ev->event_id, id);
    ll_time_format(ev->occurred_at_us, when);
    fprintf(copy_events, "%lld\t%s\t%lld\t%s\t%s\t%d\t%s\t%s\t\\N\t%s\t", (long long)ev->global_position,
            account, (long long)ev->version, id, ll_event_type_name(ev->type), (int)ev->schema_version, when,
            ev->command_id, ev->hash);
    for (const char *c = envelope; *c; c++) {
        if (*c == '\\') fputc('\\', copy_events);
        fputc(*c, copy_events);
    }
    fputc('\n', copy_events);
}

static void copy_account_state(FILE *out, const ll_account_t *a) {
    char id[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(&a->account_id, id);
    /* account_state's columns in table order: 0001's, then 0004's held_minor and frozen. */
    fprintf(out, "%s\t%lld\t%s\t%s\t%s\t%lld\t%lld\t%lld\t%lld\t%s\t%lld\t%s\n", id, (long long)a->version,
            ll_account_status_name(a->status), a->owner, a->currency.code, (long long)a->balance_minor,
            (long long)a->overdraft_limit_minor, (long long)a->opened_at_us, (long long)a->updated_at_us,
            a->head_hash, (long long)a->held_minor, a->frozen ? "t" : "f");
}

/* Decides cmd on a, seals, folds and produces the event. Returns 0 or -1. */
static int emit(rd_kafka_t *rk, const char *topic, ll_account_t *a, const ll_command_t *cmd,
                int64_t position) {
    ll_command_meta_t meta;
    memset(&meta, 0, sizeof meta);
    if (ll_uuid_random(&meta.event_ids[0]) != 0) return -1;
    meta.occurred_at_us = (int64_t)time(NULL) * 1000000;
    snprintf(meta.command_id, sizeof meta.command_id, "bench-%lld", (long long)position);
    snprintf(meta.actor, sizeof meta.actor, "operator:bench");
    ll_decision_t d;
    ll_decide(a, cmd, &meta, &d);
    ll_error_t err = {""};
    char buf[LL_EVENT_JSON_BYTES_MAX], key[LL_UUID_TEXT_LEN + 1];
    size_t len;
    if (d.rejection != LL_REJECT_NONE || d.event_count != 1) return -1;
    d.events[0].global_position = position;
    if (ll_event_seal(&d.events[0], &err) != 0 || ll_account_evolve(a, &d.events[0], &err) != LL_EVOLVE_OK ||
        ll_event_encode(&d.events[0], true, buf, sizeof buf, &len, &err) != 0) {
        fprintf(stderr, "gen_events: %s\n", err.msg);
        return -1;
    }
    ll_uuid_format(&a->account_id, key);
    if (copy_events != NULL) {
        buf[len] = '\0';
        copy_event(&d.events[0], buf);
        return 0;
    }
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, LL_UUID_TEXT_LEN), RD_KAFKA_V_VALUE(buf, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "gen_events: produce: %s\n", rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(rk, 10);
    }
}

static int delivery_failures;
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk, (void)opaque;
    if (m->err) delivery_failures++;
}

static const char usage[] = "usage: gen_events (--topic T | --copy DIR) --events N --accounts A "
                            "[--partitions P] [--brokers B] [--ids FILE]\n";

int main(int argc, char **argv) {
    const char *topic = NULL, *brokers = "127.0.0.1:59092", *copy_dir = NULL, *ids_path = NULL;
    int events = 0, accounts = 0, partitions = 6;
    for (int i = 1; i < argc; i++) {
        int bad = 0;
        if (!strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--topic") && i + 1 < argc)
            topic = argv[++i];
        else if (!strcmp(argv[i], "--copy") && i + 1 < argc)
            copy_dir = argv[++i];
        else if (!strcmp(argv[i], "--brokers") && i + 1 < argc)
            brokers = argv[++i];
        else if (!strcmp(argv[i], "--ids") && i + 1 < argc)
            ids_path = argv[++i];
        else if (!strcmp(argv[i], "--events") && i + 1 < argc)
            bad = ll_cli_int_arg(argv[++i], 0, 100000000, &events);
        else if (!strcmp(argv[i], "--accounts") && i + 1 < argc)
            bad = ll_cli_int_arg(argv[++i], 0, 10000000, &accounts);
        else if (!strcmp(argv[i], "--partitions") && i + 1 < argc)
            bad = ll_cli_int_arg(argv[++i], 1, 1024, &partitions);
        else
            bad = 1;
        if (bad) {
            fputs(usage, stderr);
            return 1;
        }
    }
    if ((topic == NULL) == (copy_dir == NULL) || events < accounts || (events > 0 && accounts == 0)) {
        fprintf(stderr, "gen_events: --topic or --copy is required, and --events must be >= --accounts\n");
        return 1;
    }
    ll_error_t err = {""};
    if (copy_dir != NULL) {
        char path[4096];
        snprintf(path, sizeof path, "%s/events.copy", copy_dir);
        if ((copy_events = fopen(path, "w")) == NULL) {
            perror(path);
            return 1;
        }
    }
    /* The relay's settings (idempotent, acks=all), batched harder: this is a bulk load. */
    rd_kafka_t *rk = NULL;
    if (copy_events == NULL) { /* Kafka only when it is the destination */
        const char *const mine[] = {"bootstrap.servers", brokers, "linger.ms", "20", NULL};
        rk = ll_kafka_producer(mine, on_delivery, &err);
    }
    ll_account_t *state = calloc((size_t)accounts + 1, sizeof *state);
    if ((rk == NULL && copy_events == NULL) || state == NULL) {
        fprintf(stderr, "gen_events: %s\n", state == NULL ? "out of memory" : err.msg);
        return 1;
    }
    if (copy_events == NULL && create_topic(rk, topic, partitions) != 0) return 1;
    double t0 = now_s();
    int rc = 0;
    for (int i = 0; i < events && rc == 0; i++) {
        ll_account_t *a = &state[i % accounts];
        ll_command_t cmd;
        memset(&cmd, 0, sizeof cmd);
        snprintf(cmd.currency.code, sizeof cmd.currency.code, "EUR");
        if (i < accounts) {
            ll_uuid_t id;
            if (ll_uuid_random(&id) != 0) return 1;
            ll_account_init(a, &id);
            cmd.type = LL_CMD_OPEN;
            snprintf(cmd.owner, sizeof cmd.owner, "bench-%d", i);
        } else {
            cmd.type = LL_CMD_DEPOSIT;
            cmd.amount_minor = 1 + i % 1000;
        }
        cmd.account_id = a->account_id;
        rc = emit(rk, topic, a, &cmd, (int64_t)i + 1);
        if (rk != NULL && i % 1000 == 0) rd_kafka_poll(rk, 0); /* serve delivery reports */
    }
    if (rk != NULL && rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) rc = -1;
    if (rk != NULL) rd_kafka_destroy(rk);
    if (copy_events != NULL) {
        char path[4096];
        snprintf(path, sizeof path, "%s/account_state.copy", copy_dir);
        FILE *states = fopen(path, "w");
        for (int i = 0; states != NULL && i < accounts; i++) copy_account_state(states, &state[i]);
        if (states == NULL || fclose(states) != 0 || fclose(copy_events) != 0) rc = -1;
    }
    if (ids_path != NULL) {
        FILE *ids = fopen(ids_path, "w");
        for (int i = 0; ids != NULL && i < accounts; i++) {
            char id[LL_UUID_TEXT_LEN + 1];
            ll_uuid_format(&state[i].account_id, id);
            fprintf(ids, "%s\n", id);
        }
        if (ids == NULL || fclose(ids) != 0) rc = -1;
    }
    free(state);
    if (rc != 0 || delivery_failures) {
        fprintf(stderr, "gen_events: failed (%d delivery failures)\n", delivery_failures);
        return 1;
    }
    printf("{\"events\":%d,\"accounts\":%d,\"seconds\":%.3f}\n", events, accounts, now_s() - t0);
    return 0;
}
