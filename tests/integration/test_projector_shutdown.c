/* Integration: the projector shuts down cleanly while offsets wait to be committed. A rolling
 * restart is when a commit is refused mid-rebalance: the projector keeps the offsets of the
 * written batch (p.uncommitted) and closes its consumer, whose last rebalance (the partitions
 * revoked) drops them from that list; nothing it touches at shutdown may be freed already (run it
 * under ASan: a use after free aborts the binary, which tests/run.sh counts as a failure).
 * librdkafka itself is not instrumented, so a call on a handle already destroyed (whose memory
 * ASan keeps in quarantine) would pass unseen: this binary wraps rd_kafka_destroy and the calls
 * the projector makes on its consumer, and counts each call on a destroyed handle.
 *
 * Kafka is librdkafka's in-process mock cluster (its OffsetCommit refused with
 * REBALANCE_IN_PROGRESS); MongoDB is the local FerretDB, a database of the test's own, dropped at
 * the start and the end; the event store is unset (no gaps to close here). Needs `make up`. */
#define _GNU_SOURCE /* RTLD_NEXT */
#include "../unit/domain_fixture.h"
#include "ll_clock.h"
#include "ll_config.h"
#include "ll_event_codec.h"
#include "ll_projector.h"
#include "ll_rm_store.h" /* the collections, to seed and inspect documents */
#include "ll_test.h"

#include <dlfcn.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

extern char **environ;

#define DB            "ledgerline_test_projector_shutdown"
#define TOPIC         "ledgerline.test-projector-shutdown"
#define EVENTS        5
#define OFFSET_COMMIT 8    /* the Kafka protocol's ApiKey of OffsetCommit */
#define REFUSALS      2000 /* every commit while the test runs (a few per second) */
#define WAIT_MS       30000

static ll_config_t cfg;

/* ---- calls on destroyed librdkafka handles ----------------------------------------------------- */

#define DESTROYED_MAX 16
static pthread_mutex_t destroyed_mu = PTHREAD_MUTEX_INITIALIZER;
static const rd_kafka_t *destroyed[DESTROYED_MAX]; /* handles destroyed since the last forget */
static int n_destroyed;
static atomic_int used_after_destroy;

/* librdkafka's own definition of name (the next one after this binary's). */
static void *real(const char *name) {
    void *fn = dlsym(RTLD_NEXT, name);
    if (fn == NULL) {
        fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
        abort();
    }
    return fn;
}

/* Counts (and names) a call on a destroyed handle; true when rk is one. */
static int is_destroyed(const rd_kafka_t *rk, const char *call) {
    pthread_mutex_lock(&destroyed_mu);
    int hit = 0;
    for (int i = 0; i < n_destroyed && !hit; i++) hit = destroyed[i] == rk;
    pthread_mutex_unlock(&destroyed_mu);
    if (hit) {
        atomic_fetch_add(&used_after_destroy, 1);
        fprintf(stderr, "  %s on a destroyed rd_kafka_t\n", call);
    }
    return hit;
}

/* Handles are forgotten once the projector returned: a new one may take a freed address. */
static void forget_destroyed(void) {
    pthread_mutex_lock(&destroyed_mu);
    n_destroyed = 0;
    pthread_mutex_unlock(&destroyed_mu);
}

void rd_kafka_destroy(rd_kafka_t *rk) {
    void (*fn)(rd_kafka_t *) = (void (*)(rd_kafka_t *))real("rd_kafka_destroy");
    fn(rk);
    pthread_mutex_lock(&destroyed_mu);
    if (n_destroyed < DESTROYED_MAX) destroyed[n_destroyed++] = rk;
    pthread_mutex_unlock(&destroyed_mu);
}

rd_kafka_resp_err_t rd_kafka_assignment(rd_kafka_t *rk, rd_kafka_topic_partition_list_t **partitions) {
    if (is_destroyed(rk, "rd_kafka_assignment")) return RD_KAFKA_RESP_ERR__DESTROY;
    rd_kafka_resp_err_t (*fn)(rd_kafka_t *, rd_kafka_topic_partition_list_t **) =
        (rd_kafka_resp_err_t(*)(rd_kafka_t *, rd_kafka_topic_partition_list_t **))real("rd_kafka_assignment");
    return fn(rk, partitions);
}

rd_kafka_resp_err_t rd_kafka_commit(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *offsets,
                                    int async) {
    if (is_destroyed(rk, "rd_kafka_commit")) return RD_KAFKA_RESP_ERR__DESTROY;
    rd_kafka_resp_err_t (*fn)(rd_kafka_t *, const rd_kafka_topic_partition_list_t *, int) =
        (rd_kafka_resp_err_t(*)(rd_kafka_t *, const rd_kafka_topic_partition_list_t *, int))real(
            "rd_kafka_commit");
    return fn(rk, offsets, async);
}

/* ---- the projector --------------------------------------------------------------------------- */

typedef struct {
    ll_projector_options_t opt;
    volatile sig_atomic_t stop;
    int rc;
    ll_error_t err;
} run_t;

static void *projector_main(void *arg) {
    run_t *r = arg;
    r->rc = ll_projector_run(&r->opt, &r->stop, &r->err);
    return NULL;
}

/* The events of one account: opened, then deposits, sealed and keyed as the relay publishes them. */
static int produce_account(rd_kafka_t *producer, const ll_uuid_t *id, int n, ll_error_t *err) {
    fx_world_t world;
    fx_world_init(&world);
    ll_account_t a;
    ll_account_init(&a, id);
    char key[LL_UUID_TEXT_LEN + 1];
    ll_uuid_format(id, key);
    static char buf[LL_EVENT_JSON_BYTES_MAX];
    for (int i = 0; i < n; i++) {
        ll_command_t c =
            i == 0 ? fx_cmd(LL_CMD_OPEN, id, 0, "EUR") : fx_cmd(LL_CMD_DEPOSIT, id, 100 * i, "EUR");
        ll_decision_t d;
        if (fx_run(&world, &a, &c, &d) != LL_REJECT_NONE) return ll_error_set(err, LL_EINVAL, "decide %d", i);
        size_t len;
        if (ll_event_encode(&d.events[0], true, buf, sizeof buf, &len, err) != 0) return LL_EINVAL;
        rd_kafka_resp_err_t e = rd_kafka_producev(
            producer, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(buf, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e) return ll_error_set(err, LL_EIO, "produce: %s", rd_kafka_err2str(e));
    }
    rd_kafka_resp_err_t e = rd_kafka_flush(producer, 10000);
    return e ? ll_error_set(err, LL_EIO, "flush: %s", rd_kafka_err2str(e)) : 0;
}

/* The version the read model holds of id (0: nothing yet), on the active generation. */
static int64_t projected_version(mongoc_client_t *client, const ll_uuid_t *id) {
    mongoc_collection_t *meta = mongoc_client_get_collection(client, DB, "read_model_meta");
    bson_t *filter = BCON_NEW("_id", BCON_UTF8("active"));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(meta, filter, NULL, NULL);
    const bson_t *doc;
    bson_iter_t it;
    int64_t gen = 0, version = 0;
    if (mongoc_cursor_next(cur, &doc) && bson_iter_init_find(&it, doc, "generation") &&
        BSON_ITER_HOLDS_NUMBER(&it))
        gen = bson_iter_as_int64(&it);
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    mongoc_collection_destroy(meta);
    ll_read_model_t rm;
    ll_error_t err = {""};
    if (gen < 1 || ll_read_model_open(&rm, client, DB, gen, &err) != 0) return 0;
    ll_account_t a;
    bool found = false;
    if (ll_read_model_load_account(&rm, id, &a, &found, &err) == 0 && found) version = a.version;
    ll_read_model_close(&rm);
    return version;
}

static size_t refusals_left(rd_kafka_mock_cluster_t *mc) {
    size_t n = 0;
    if (rd_kafka_mock_broker_error_stack_cnt(mc, 1, OFFSET_COMMIT, &n) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    return n;
}

LL_TEST(test_the_projector_stops_cleanly_with_offsets_waiting_for_a_rebalance) {
    ll_error_t err = {""};
    char errstr[512];
    /* The mock cluster lives in this producer; the projector reaches it over loopback TCP. */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    LL_REQUIRE(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof errstr) ==
               RD_KAFKA_CONF_OK);
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (producer == NULL) {
        rd_kafka_conf_destroy(conf);
        LL_FAIL_AT("mock cluster: %s", errstr);
        return;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(producer);
    mongoc_client_t *client = mongoc_client_new(cfg.mongo_uri);
    run_t run;
    memset(&run, 0, sizeof run);
    pthread_t thread;
    int started = 0;
    ll_uuid_t id = fx_uuid(4242);
    if (mc == NULL || client == NULL) {
        LL_FAIL_AT("no mock cluster or MongoDB client");
        goto out;
    }
    if (ll_config_set(&cfg, "kafka_bootstrap_servers", rd_kafka_mock_cluster_bootstraps(mc), "test", &err) !=
            0 ||
        rd_kafka_mock_topic_create(mc, TOPIC, 1, 1) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        produce_account(producer, &id, EVENTS, &err) != 0) {
        LL_FAIL_AT("set-up: %s", err.msg);
        goto out;
    }
    /* Every commit is refused as the group rebalancing: the written batch's offsets wait. */
    for (int i = 0; i < REFUSALS; i++)
        rd_kafka_mock_broker_push_request_error_rtts(mc, 1, OFFSET_COMMIT, 1,
                                                     RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, 0);
    run.opt = (ll_projector_options_t){&cfg, "ledgerline-test-shutdown", 100, 5, 60000, "127.0.0.1:0"};
    if (pthread_create(&thread, NULL, projector_main, &run) != 0) {
        LL_FAIL_AT("thread");
        goto out;
    }
    started = 1;

    /* Projected, then at least one commit refused (and retried between batches meanwhile). */
    long long deadline = ll_clock_ms() + WAIT_MS;
    int64_t version = 0;
    while (ll_clock_ms() < deadline && (version = projected_version(client, &id)) < EVENTS) ll_sleep_ms(100);
    LL_CHECK_EQ_INT(version, EVENTS);
    while (ll_clock_ms() < deadline && refusals_left(mc) > REFUSALS - 2) ll_sleep_ms(50);
    size_t refused = REFUSALS - refusals_left(mc);
    LL_CHECK(refused >= 2);
    printf("  (%zu commits refused before the stop)\n", refused);

out:
    if (started) {
        run.stop = 1;
        pthread_join(thread, NULL);
        forget_destroyed();
        LL_CHECK_EQ_INT(run.rc, 0);
        LL_CHECK_EQ_INT(atomic_load(&used_after_destroy), 0);
        if (run.rc != 0) fprintf(stderr, "  projector: %s\n", run.err.msg);
    }
    if (client != NULL) mongoc_client_destroy(client);
    rd_kafka_destroy(producer);
}

static void drop_database(void) {
    mongoc_client_t *client = mongoc_client_new(cfg.mongo_uri);
    if (client == NULL) return;
    mongoc_database_t *db = mongoc_client_get_database(client, DB);
    mongoc_database_drop(db, NULL); /* absent is fine */
    mongoc_database_destroy(db);
    mongoc_client_destroy(client);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_the_projector_stops_cleanly_with_offsets_waiting_for_a_rebalance),
    };
    ll_error_t err = {""};
    mongoc_init();
    /* The local stack's MongoDB, in a database of the test's own; no event store. */
    if (ll_config_load(&cfg, NULL, environ, &err) != 0 ||
        ll_config_set(&cfg, "mongo_database", DB, "test", &err) != 0 ||
        ll_config_set(&cfg, "kafka_topic_events", TOPIC, "test", &err) != 0 ||
        ll_config_set(&cfg, "kafka_topic_dlq", TOPIC ".dlq", "test", &err) != 0) {
        fprintf(stderr, "config: %s\n", err.msg);
        printf("projector_shutdown: 0 passed, 1 failed\n");
        mongoc_cleanup();
        return 1;
    }
    cfg.pg_conninfo[0] = '\0';
    drop_database();
    int rc = ll_test_main(argc, argv, "projector_shutdown", cases, LL_CASES(cases));
    drop_database();
    mongoc_cleanup();
    return rc;
}
