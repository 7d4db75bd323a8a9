/* ledgerline-relay: publishes the PostgreSQL outbox to the Kafka events topic (ll_relay.h). */
#include "ll_relay.h"
#include "ll_service.h"

#include <signal.h>
#include <stdio.h>

static volatile sig_atomic_t stop_requested;

static const char usage[] =
    "Usage: ledgerline-relay [--config FILE] [--batch N] [--poll-ms MS] [--metrics-ms MS]\n"
    "                        [--delivery-wait-ms MS] [--metrics-listen HOST:PORT]\n"
    "                        [--takeover-ms MS]\n"
    "\n"
    "Publishes committed events from the PostgreSQL outbox (pg_conninfo) to Kafka\n"
    "(kafka_bootstrap_servers, topic kafka_topic_events), keyed by account id, in version\n"
    "order per account, deleting each outbox row only after Kafka acknowledged it. Several\n"
    "relays may run: one publishes, the others wait (PostgreSQL advisory lock).\n"
    "\n"
    "  --config FILE    configuration file (ledgerline-config --help)\n"
    "  --batch N        outbox rows per round (default 500)\n"
    "  --metrics-listen HOST:PORT  /metrics and /healthz (default relay_metrics_listen,\n"
    "                   127.0.0.1:8083): outbox depth, oldest undelivered age, published,\n"
    "                   dependency errors, publish latency\n"
    "  --poll-ms MS     polling fallback when no NOTIFY arrives (default 1000)\n"
    "  --delivery-wait-ms MS  how long a round waits for Kafka's delivery reports before\n"
    "                   it publishes the unacknowledged rows again (default 40000: past\n"
    "                   the producer's 30 s message timeout, every report is in by then)\n"
    "  --takeover-ms MS a standby ends the session of a publisher PostgreSQL has not\n"
    "                   heard from for MS (paused, frozen: it would hold the lock for ever)\n"
    "                   and takes over (default 15000; at least 3 x --poll-ms and 2000;\n"
    "                   0: never)\n"
    "  --metrics-ms MS  how often a metrics line (outbox depth, oldest undelivered age,\n"
    "                   publish latency p50/p99) is logged (default 10000)\n"
    "  -h, --help       this help\n"
    "\n"
    "SIGTERM or SIGINT: finish the round in flight (bounded), exit 0.\n"
    "Exit status: 0 after a clean stop, 1 when it cannot start or run (the reason is printed).\n";

int main(int argc, char **argv) {
    ll_relay_options_t opt = {.batch_max = 500,
                              .poll_interval_ms = 1000,
                              .delivery_wait_ms = 40000,
                              .metrics_interval_ms = 10000,
                              .takeover_ms = 15000};
    const ll_cli_option_t options[] = {
        {.name = "batch", .kind = LL_CLI_INT, .out = &opt.batch_max, .lo = 1, .hi = 10000},
        {.name = "delivery-wait-ms", .kind = LL_CLI_INT, .out = &opt.delivery_wait_ms, .lo = 100, .hi = 600000},
        {.name = "poll-ms", .kind = LL_CLI_INT, .out = &opt.poll_interval_ms, .lo = 10, .hi = 60000},
        {.name = "takeover-ms", .kind = LL_CLI_INT, .out = &opt.takeover_ms, .lo = 0, .hi = 3600000},
        {.name = "metrics-ms", .kind = LL_CLI_INT, .out = &opt.metrics_interval_ms, .lo = 100, .hi = 3600000},
        {.name = NULL},
    };
    const ll_service_start_t start = {.program = "ledgerline-relay", .usage = usage,
                                      .listen_option = "metrics-listen", .listen_key = "relay_metrics_listen",
                                      .options = options};
    static ll_config_t cfg;
    int rc = ll_service_begin(&start, argc, argv, &cfg, &stop_requested);
    if (rc >= 0) return rc;
    /* A healthy publisher's session may be idle a polling interval (and the 5 s back-off at worst:
     * a takeover then is harmless, the next publisher waits the same). */
    if (opt.takeover_ms != 0 && (opt.takeover_ms < 2000 || opt.takeover_ms < 3 * opt.poll_interval_ms)) {
        fprintf(stderr,
                "ledgerline-relay: --takeover-ms %d is too short: at least 2000 and 3 x --poll-ms (%d)\n",
                opt.takeover_ms, opt.poll_interval_ms);
        return 1;
    }
    opt.pg_conninfo = cfg.pg_conninfo;
    opt.bootstrap_servers = cfg.kafka_bootstrap_servers;
    opt.topic = cfg.kafka_topic_events;
    opt.metrics_listen = cfg.relay_metrics_listen;
    ll_service_started("relay", "topic", opt.topic);
    ll_error_t err = {""};
    rc = ll_relay_run(&opt, &stop_requested, &err);
    return ll_service_end("ledgerline-relay", "relay", rc, &err);
}
