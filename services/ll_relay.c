/* ll_relay.c - see ll_relay.h. */
#include "ll_relay.h"

#include "ll_clock.h"
#include "ll_kafka.h"
#include "ll_log.h"
#include "ll_metrics.h"
#include "ll_metrics_server.h"
#include "ll_outbox_order.h"
#include "ll_pg.h"
#include "ll_pg_prepared.h"
#include "ll_pgq.h"
#include "ll_stats.h"
#include "ll_text.h"

#include <assert.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#define RELAY_LOCK_KEY   "7301943" /* the advisory lock that makes one relay the publisher */
#define STOP_FLUSH_MS    10000     /* at SIGTERM, how long to wait for reports in flight */
#define KEY_BYTES        64        /* an account id's text, with room */
#define BACKOFF_MS_MAX   5000
#define LATENCY_SAMPLES  4096
#define SNAPSHOT_MS      1000 /* /metrics is at most this stale */

typedef struct round round_t;

/* One outbox row in flight. */
typedef struct {
    round_t *round;
    long long position;
    long long created_us;
    char account[KEY_BYTES];
    int done;
    rd_kafka_resp_err_t err;
} slot_t;

/* A round's delivery state. librdkafka may report on a message after the round stopped waiting
 * (its deadline, or SIGTERM) and was retried or abandoned, so the state lives until the last
 * report: every queued message holds a reference, and so does the round while it runs. The
 * reports are served on the relay's own thread (rd_kafka_poll/flush), so plain counts do. */
struct round {
    int refs;
    int n;
    slot_t slots[];
};

typedef struct {
    const ll_relay_options_t *opt;
    PGconn *conn;
    int leader;
    rd_kafka_t *rk;
    ll_pgq_t q;
    ll_pg_prepared_t ps; /* conn's statements: a round is parsed and planned once per session */
    /* metrics since the last report */
    long long published_total, failed_total;
    long long pg_errors, kafka_errors; /* failed rounds by the dependency that failed */
    int64_t latencies_us[LATENCY_SAMPLES];
    size_t n_latencies;
    long long last_report_ms, last_snapshot_ms;
    long long last_takeover_check_ms; /* standby: when it last looked at the publisher's session */
    /* what /metrics shows: published by the relay thread, read by the server thread */
    pthread_mutex_t mu;
    ll_relay_snapshot_t snap;
    ll_metrics_server_t *server;
} relay_t;

/* detail carries PostgreSQL's and librdkafka's text (quotes, newlines): the shared logger keeps
 * the line JSON. */
static void log_line(const char *level, const char *msg, const char *detail) {
    ll_log_line(level, "relay", msg, NULL, detail);
}

/* ---- Kafka --------------------------------------------------------------------------------- */

static round_t *round_new(int n) {
    round_t *rd = calloc(1, sizeof *rd + (size_t)n * sizeof rd->slots[0]);
    if (rd != NULL) rd->refs = 1, rd->n = n;
    return rd;
}

static void round_release(round_t *rd) {
    assert(rd->refs > 0);
    if (--rd->refs == 0) free(rd);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    slot_t *slot = m->_private;
    slot->err = m->err;
    slot->done = 1;
    round_release(slot->round);
}

static rd_kafka_t *make_producer(const ll_relay_options_t *opt, ll_error_t *err) {
    const char *const mine[] = {"bootstrap.servers", opt->bootstrap_servers, "client.id", "ledgerline-relay",
                                NULL};
    return ll_kafka_producer(mine, on_delivery, err);
}

/* Closes the producer: waits up to flush_ms for the reports in flight, then purges what is
 * left and serves its reports (purged), so every round's state is released, then destroys it.
 * Rows not acknowledged stay in the outbox for the next relay. */
static void producer_close(rd_kafka_t *rk, int flush_ms) {
    rd_kafka_flush(rk, flush_ms);
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < 100 && rd_kafka_outq_len(rk) > 0; i++) rd_kafka_poll(rk, 100);
    rd_kafka_destroy(rk);
}

/* ---- PostgreSQL ---------------------------------------------------------------------------- */

static void disconnect(relay_t *r) {
    PQfinish(r->conn);
    ll_pg_prepared_clear(&r->ps);
    r->conn = NULL;
    r->leader = 0;
}

/* Connects, LISTENs and tries to become the publisher. Returns 0 when connected. */
static int ensure_connected(relay_t *r, ll_error_t *err) {
    if (r->conn != NULL && !ll_pg_broken(r->conn)) return 0;
    disconnect(r);
    r->conn = ll_pg_connect(r->opt->pg_conninfo, err);
    if (r->conn == NULL) return LL_EIO;
    /* Every statement of the relay is a prepared lookup by global_position. */
    if (ll_pg_exec(r->conn, LL_PG_PREPARED_SESSION_SQL, err) != 0 ||
        ll_pg_exec(r->conn, "LISTEN ledgerline_outbox", err) != 0) {
        disconnect(r);
        return LL_EIO;
    }
    return 0;
}

static int try_lead(relay_t *r, ll_error_t *err) {
    if (r->leader) return 1;
    PGresult *res = ll_pg_query(r->conn, "SELECT pg_try_advisory_lock(" RELAY_LOCK_KEY ")", 0, NULL,
                                PGRES_TUPLES_OK, err);
    if (res == NULL) return -1;
    r->leader = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (r->leader) log_line("info", "publisher", "this relay holds the publisher lock");
    return r->leader;
}

/* A standby ends the session of a publisher PostgreSQL has not heard from for takeover_ms: a
 * paused or frozen process keeps its session, and with it the lock, for ever. A healthy publisher
 * runs a statement at least every second (a round, the metrics' count, also while it waits for
 * Kafka) and every BACKOFF_MS_MAX at worst, so only a publisher that stopped is ever idle that
 * long. The lock is released when its backend exits; the next try_lead takes it. The stopped
 * one, when it resumes, finds its session gone before it can delete a row: what it still
 * produces are duplicates, dropped by version downstream. */
static void take_over_if_silent(relay_t *r) {
    if (r->opt->takeover_ms <= 0 || ll_clock_ms() - r->last_takeover_check_ms < 1000) return;
    r->last_takeover_check_ms = ll_clock_ms();
    char ms[24];
    snprintf(ms, sizeof ms, "%d", r->opt->takeover_ms);
    const char *params[1] = {ms};
    ll_error_t err = {""};
    PGresult *res =
        ll_pg_query(r->conn,
                    "SELECT a.pid, (extract(epoch FROM now() - a.state_change) * 1000)::bigint"
                    " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0"
                    " AND l.objid = " RELAY_LOCK_KEY " AND l.objsubid = 1 AND a.state LIKE 'idle%'"
                    " AND a.state_change < now() - make_interval(secs => $1::double precision / 1000)",
                    1, params, PGRES_TUPLES_OK, &err);
    if (res == NULL) {
        log_line("warn", "could not look at the publisher's session", err.msg);
        return;
    }
    if (PQntuples(res) == 1) {
        char detail[128];
        snprintf(detail, sizeof detail, "backend %s silent for %s ms: ending its session",
                 PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
        log_line("warn", "the publisher stopped answering; taking over", detail);
        const char *pid[1] = {PQgetvalue(res, 0, 0)};
        PGresult *t =
            ll_pg_query(r->conn, "SELECT pg_terminate_backend($1::int)", 1, pid, PGRES_TUPLES_OK, &err);
        if (t == NULL) log_line("error", "could not end the silent publisher's session", err.msg);
        PQclear(t);
    }
    PQclear(res);
}

/* Drains notifications libpq already holds; returns how many there were. */
static int drain_notifies(relay_t *r) {
    int n = 0;
    PQconsumeInput(r->conn);
    for (PGnotify *note; (note = PQnotifies(r->conn)) != NULL; n++) PQfreemem(note);
    return n;
}

/* Waits up to ms for a NOTIFY (or for the connection to need attention). A notification that
 * arrived with a query result during the last round is already in libpq's buffer, not on the
 * socket: check there first, or the relay would sleep the whole interval with work waiting. */
static void wait_for_notify(relay_t *r, int ms) {
    if (drain_notifies(r) > 0) return;
    int fd = PQsocket(r->conn);
    if (fd < 0) {
        ll_sleep_ms(ms);
        return;
    }
    fd_set rfds;
    FD_ZERO(&rfds);
    FD_SET(fd, &rfds);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    select(fd + 1, &rfds, NULL, NULL, &tv);
    drain_notifies(r);
}

/* ---- one round ----------------------------------------------------------------------------- */

static void refresh_metrics(relay_t *r, int log);

static void record_latency(relay_t *r, long long us) {
    r->latencies_us[r->n_latencies++ % LATENCY_SAMPLES] = us;
}

/* Produces every row of res into rd's slots; waits for their reports (bounded). Returns the
 * number delivered; delivered slots have done && err == 0. */
static int publish(relay_t *r, PGresult *res, round_t *rd, volatile sig_atomic_t *stop) {
    int n = PQntuples(res), queued = 0;
    slot_t *slots = rd->slots;
    for (int i = 0; i < n; i++) {
        const char *key = PQgetvalue(res, i, 1);
        slots[i] = (slot_t){rd, strtoll(PQgetvalue(res, i, 0), NULL, 10), strtoll(PQgetvalue(res, i, 5), NULL, 10),
                            "", 0, RD_KAFKA_RESP_ERR_NO_ERROR};
        snprintf(slots[i].account, sizeof slots[i].account, "%s", key);
        rd_kafka_resp_err_t e;
        rd->refs++; /* the message's, given back by its report */
        for (;;) {
            /* Copied (F_COPY): the result is freed before the reports arrive. */
            e = rd_kafka_producev(r->rk, RD_KAFKA_V_TOPIC(r->opt->topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                  RD_KAFKA_V_VALUE(PQgetvalue(res, i, 4), (size_t)PQgetlength(res, i, 4)),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_HEADER("type", PQgetvalue(res, i, 2), -1),
                                  RD_KAFKA_V_HEADER("schema_version", PQgetvalue(res, i, 3), -1),
                                  RD_KAFKA_V_OPAQUE(&slots[i]), RD_KAFKA_V_END);
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
            rd_kafka_poll(r->rk, 50);
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            /* Not queued (no report will come): stop here so later rows of the same account are
             * not sent before it. */
            rd->refs--;
            slots[i].done = 1;
            slots[i].err = e;
            break;
        }
        queued++;
    }
    long long deadline = ll_clock_ms() + r->opt->delivery_wait_ms, stop_deadline = 0;
    for (;;) {
        int pending = 0;
        for (int i = 0; i < queued; i++) pending += !slots[i].done;
        if (pending == 0) break;
        if (*stop && stop_deadline == 0) stop_deadline = ll_clock_ms() + STOP_FLUSH_MS;
        if (ll_clock_ms() > deadline || (stop_deadline && ll_clock_ms() > stop_deadline)) break;
        /* A broker outage holds the round here: /metrics must show the backlog growing. */
        if (ll_clock_ms() - r->last_snapshot_ms >= SNAPSHOT_MS) refresh_metrics(r, 0);
        rd_kafka_poll(r->rk, 20);
    }
    int delivered = 0;
    long long t = ll_clock_wall_us();
    for (int i = 0; i < queued; i++) {
        if (slots[i].done && slots[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            delivered++;
            record_latency(r, t - slots[i].created_us);
        }
    }
    return delivered;
}

/* Deletes the rows Kafka acknowledged, but no account's row past one of its rows it did not
 * (ll_outbox_order.h). Returns the rows deleted, or -1. Reads the slots before any report
 * that is still due can change them: deletion follows what was known when the round ended. */
static int delete_delivered(relay_t *r, const round_t *rd, ll_error_t *err) {
    ll_outbox_outcome_t *rows = malloc((size_t)rd->n * sizeof *rows);
    unsigned char *deletable = malloc((size_t)rd->n);
    if (rows == NULL || deletable == NULL) {
        free(rows);
        free(deletable);
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return -1;
    }
    for (int i = 0; i < rd->n; i++)
        rows[i] = (ll_outbox_outcome_t){rd->slots[i].account,
                                        rd->slots[i].done && rd->slots[i].err == RD_KAFKA_RESP_ERR_NO_ERROR};
    int k = ll_outbox_deletable(rows, rd->n, deletable);
    free(rows);
    if (k == 0) {
        free(deletable);
        return 0;
    }
    ll_pgq_reset(&r->q);
    ll_pgq_sql(&r->q, "DELETE FROM outbox WHERE global_position = ANY(");
    ll_pgq_array_begin(&r->q);
    for (int i = 0; i < rd->n; i++)
        if (deletable[i]) ll_pgq_array_itemf(&r->q, "%lld", rd->slots[i].position);
    ll_pgq_array_end(&r->q, "bigint[]");
    ll_pgq_sql(&r->q, ")");
    free(deletable);
    PGresult *res = ll_pgq_exec_prepared(r->conn, &r->ps, "ll_relay_delete", &r->q, PGRES_COMMAND_OK, err);
    PQclear(res);
    return res ? k : -1;
}

/* One round. Returns rows delivered (0: nothing to do), or -1 when something failed. */
static int round_once(relay_t *r, volatile sig_atomic_t *stop, ll_error_t *err) {
    char limit[16];
    snprintf(limit, sizeof limit, "%d", r->opt->batch_max);
    const char *params[1] = {limit};
    PGresult *res = ll_pg_prepared_query(&r->ps, r->conn, "ll_relay_round",
                                         "SELECT o.global_position, o.account_id, e.type, e.schema_version,"
                                         " e.envelope, (extract(epoch FROM o.created_at) * 1000000)::bigint"
                                         " FROM outbox o JOIN events e USING (global_position)"
                                         " ORDER BY o.global_position LIMIT $1::int",
                                         1, params, PGRES_TUPLES_OK, NULL, err);
    if (res == NULL) return -1;
    int n = PQntuples(res);
    if (n == 0) {
        PQclear(res);
        return 0;
    }
    round_t *rd = round_new(n);
    if (rd == NULL) {
        PQclear(res);
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return -1;
    }
    int delivered = publish(r, res, rd, stop);
    PQclear(res);
    int deleted = delete_delivered(r, rd, err);
    r->published_total += delivered;
    r->failed_total += n - delivered;
    int rc = deleted < 0 ? -1 : 0;
    if (delivered < n && rc == 0) {
        const char *why = "delivery timed out";
        for (int i = 0; i < n; i++)
            if (rd->slots[i].done && rd->slots[i].err) {
                why = rd_kafka_err2str(rd->slots[i].err);
                break;
            }
        ll_error_set(err, LL_EIO, "%d of %d events not delivered (%d kept to stay in order): %s", n - delivered,
                     n, delivered - deleted, why);
        rc = -1;
    }
    round_release(rd); /* reports still due keep it */
    return rc == 0 ? delivered : -1;
}

/* ---- metrics ------------------------------------------------------------------------------- */

char *ll_relay_metrics_render(const ll_relay_snapshot_t *s) {
    ll_text_t t;
    ll_text_init(&t);
    const struct {
        const char *name, *type, *help, *label;
        double value;
    } rows[] = {
        {"ledgerline_relay_leader", "gauge", "1 while this relay holds the publisher lock.", "", s->leader},
        {"ledgerline_relay_outbox_depth", "gauge", "Outbox rows not yet acknowledged by Kafka (-1: unknown).",
         "", (double)s->outbox_depth},
        {"ledgerline_relay_oldest_undelivered_seconds", "gauge", "Age of the oldest outbox row.", "",
         (double)s->oldest_undelivered_ms / 1e3},
        {"ledgerline_relay_published_total", "counter", "Events Kafka acknowledged.", "",
         (double)s->published_total},
        {"ledgerline_relay_failed_total", "counter", "Deliveries Kafka refused (retried later).", "",
         (double)s->failed_total},
        {"ledgerline_relay_dependency_errors_total", "counter",
         "Failed rounds, by the dependency that failed.", "dependency=\"postgresql\"", (double)s->pg_errors},
        {"ledgerline_relay_dependency_errors_total", NULL, NULL, "dependency=\"kafka\"",
         (double)s->kafka_errors},
        {"ledgerline_relay_publish_latency_seconds", "gauge",
         "Commit to Kafka acknowledgement over the last report interval.", "quantile=\"0.5\"",
         (double)s->latency_p50_us / 1e6},
        {"ledgerline_relay_publish_latency_seconds", NULL, NULL, "quantile=\"0.99\"",
         (double)s->latency_p99_us / 1e6},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        ll_metrics_series_real(&t, "relay", rows[i].name, rows[i].type, rows[i].help, rows[i].label,
                               rows[i].value);
    return ll_text_take(&t);
}

static char *render_latest(void *ctx) {
    relay_t *r = ctx;
    pthread_mutex_lock(&r->mu);
    ll_relay_snapshot_t s = r->snap;
    pthread_mutex_unlock(&r->mu);
    return ll_relay_metrics_render(&s);
}

/* Refreshes the snapshot /metrics shows (outbox depth is one count query); logs it as a JSON
 * line too when log is set, and then starts a new latency interval. */
static void refresh_metrics(relay_t *r, int log) {
    long long depth = -1, oldest_ms = 0;
    ll_error_t err;
    /* Counting is a scan whatever the plan; the session's enable_seqscan = off would only make
     * it dearer (an index walk with a heap visit per row), so this one transaction allows it. */
    PGresult *res = NULL;
    if (r->conn != NULL && ll_pg_exec(r->conn, "BEGIN; SET LOCAL enable_seqscan = on", &err) == 0) {
        res = ll_pg_query(
            r->conn,
            "SELECT count(*), coalesce((extract(epoch FROM now() - min(created_at)) * 1000)::bigint, 0)"
            " FROM outbox",
            0, NULL, PGRES_TUPLES_OK, &err);
        if (ll_pg_exec(r->conn, res ? "COMMIT" : "ROLLBACK", &err) != 0) {
            PQclear(res);
            res = NULL;
        }
    }
    if (res != NULL) {
        depth = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        oldest_ms = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        PQclear(res);
    }
    size_t n = r->n_latencies < LATENCY_SAMPLES ? r->n_latencies : LATENCY_SAMPLES;
    long long p50 = 0, p99 = 0;
    if (n > 0) {
        int64_t sorted[LATENCY_SAMPLES];
        memcpy(sorted, r->latencies_us, n * sizeof sorted[0]);
        ll_stats_sort(sorted, n);
        p50 = ll_stats_percentile(sorted, n, 50);
        p99 = ll_stats_percentile(sorted, n, 99);
    }
    pthread_mutex_lock(&r->mu);
    r->snap = (ll_relay_snapshot_t){r->leader,       depth,          oldest_ms, r->published_total,
                                    r->failed_total, r->pg_errors,   r->kafka_errors, p50,
                                    p99};
    pthread_mutex_unlock(&r->mu);
    r->last_snapshot_ms = ll_clock_ms();
    if (!log) return;
    ll_log_t l;
    ll_log_begin(&l, "info", "relay", "metrics");
    ll_log_bool(&l, "leader", r->leader);
    ll_log_int(&l, "outbox_depth", depth);
    ll_log_int(&l, "oldest_undelivered_ms", oldest_ms);
    ll_log_int(&l, "published_total", r->published_total);
    ll_log_int(&l, "failed_total", r->failed_total);
    ll_log_int(&l, "publish_latency_us_p50", p50);
    ll_log_int(&l, "publish_latency_us_p99", p99);
    ll_log_end(&l);
    r->n_latencies = 0;
    r->last_report_ms = ll_clock_ms();
}

/* ---- main loop ----------------------------------------------------------------------------- */

int ll_relay_run(const ll_relay_options_t *opt, volatile sig_atomic_t *stop, ll_error_t *err) {
    static relay_t r; /* large (latency samples); one relay per process */
    memset(&r, 0, sizeof r);
    r.opt = opt;
    ll_pgq_init(&r.q);
    ll_pg_prepared_init(&r.ps);
    if (pthread_mutex_init(&r.mu, NULL) != 0) return ll_error_set(err, LL_EIO, "mutex");
    r.snap.outbox_depth = -1;
    if (opt->metrics_listen != NULL && (r.server = ll_metrics_server_start(opt->metrics_listen, render_latest,
                                                                           NULL, &r, err)) == NULL) {
        pthread_mutex_destroy(&r.mu);
        return LL_EINVAL;
    }
    r.rk = make_producer(opt, err);
    if (r.rk == NULL) {
        if (ll_metrics_server_stop(r.server)) pthread_mutex_destroy(&r.mu);
        return LL_EINVAL;
    }
    int backoff_ms = 0;
    r.last_report_ms = ll_clock_ms();
    while (!*stop) {
        ll_error_t e = {""};
        if (ll_clock_ms() - r.last_report_ms >= opt->metrics_interval_ms)
            refresh_metrics(&r, 1);
        else if (ll_clock_ms() - r.last_snapshot_ms >= SNAPSHOT_MS)
            refresh_metrics(&r, 0);
        if (backoff_ms > 0) ll_sleep_ms(backoff_ms);
        if (ensure_connected(&r, &e) != 0 || try_lead(&r, &e) < 0) {
            r.pg_errors++;
            log_line("warn", "database unavailable", e.msg);
            backoff_ms =
                backoff_ms ? (backoff_ms * 2 > BACKOFF_MS_MAX ? BACKOFF_MS_MAX : backoff_ms * 2) : 200;
            continue;
        }
        if (!r.leader) { /* standby: another relay publishes */
            backoff_ms = 0;
            wait_for_notify(&r, opt->poll_interval_ms);
            take_over_if_silent(&r);
            continue;
        }
        int n = round_once(&r, stop, &e);
        if (n < 0) {
            if (r.conn == NULL || ll_pg_broken(r.conn))
                r.pg_errors++;
            else
                r.kafka_errors++;
            log_line("warn", "publish round failed; retrying", e.msg);
            backoff_ms =
                backoff_ms ? (backoff_ms * 2 > BACKOFF_MS_MAX ? BACKOFF_MS_MAX : backoff_ms * 2) : 100;
            if (rd_kafka_fatal_error(r.rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                log_line("error", "producer fatal error; recreating the producer", "");
                producer_close(r.rk, 0);
                if ((r.rk = make_producer(opt, err)) == NULL) break;
            }
            continue;
        }
        backoff_ms = 0;
        if (n == 0) wait_for_notify(&r, opt->poll_interval_ms);
    }
    int failed = r.rk == NULL; /* the producer could not be recreated */
    if (r.rk != NULL) {
        producer_close(r.rk, STOP_FLUSH_MS);
    }
    refresh_metrics(&r, 1);
    disconnect(&r); /* and forgets its prepared statements */
    ll_pgq_free(&r.q);
    if (ll_metrics_server_stop(r.server)) pthread_mutex_destroy(&r.mu);
    return failed ? LL_EINVAL : 0;
}
