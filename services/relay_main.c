/* ledgerline-relay: publishes the PostgreSQL outbox to the Kafka events topic (ll_relay.h). */
#include "ll_cli.h"
#include "ll_log.h"
#include "ll_relay.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;

static void usage(FILE *out) {
    fprintf(out, "Usage: ledgerline-relay [--config FILE] [--batch N] [--poll-ms MS] [--metrics-ms MS]\n"
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
                 "SIGTERM or SIGINT: finish the round in flight (bounded), exit 0.\n");
}

int main(int argc, char **argv) {
    const char *path = NULL;
    ll_relay_options_t opt = {.batch_max = 500,
                              .poll_interval_ms = 1000,
                              .delivery_wait_ms = 40000,
                              .metrics_interval_ms = 10000,
                              .takeover_ms = 15000};
    const char *metrics_listen = NULL;
    for (int i = 1; i < argc; i++) {
        int bad = 0;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            path = argv[++i];
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            bad = ll_cli_int_arg(argv[++i], 1, 10000, &opt.batch_max);
        } else if (!strcmp(argv[i], "--delivery-wait-ms") && i + 1 < argc) {
            bad = ll_cli_int_arg(argv[++i], 100, 600000, &opt.delivery_wait_ms);
        } else if (!strcmp(argv[i], "--poll-ms") && i + 1 < argc) {
            bad = ll_cli_int_arg(argv[++i], 10, 60000, &opt.poll_interval_ms);
        } else if (!strcmp(argv[i], "--metrics-listen") && i + 1 < argc) {
            metrics_listen = argv[++i];
        } else if (!strcmp(argv[i], "--takeover-ms") && i + 1 < argc) {
            bad = ll_cli_int_arg(argv[++i], 0, 3600000, &opt.takeover_ms);
        } else if (!strcmp(argv[i], "--metrics-ms") && i + 1 < argc) {
            bad = ll_cli_int_arg(argv[++i], 100, 3600000, &opt.metrics_interval_ms);
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "ledgerline-relay: bad argument '%s'\n", argv[i]);
            usage(stderr);
            return 1;
        }
    }
    /* A healthy publisher's session may be idle a polling interval (and the 5 s back-off at worst:
     * a takeover then is harmless, the next publisher waits the same). */
    if (opt.takeover_ms != 0 && (opt.takeover_ms < 2000 || opt.takeover_ms < 3 * opt.poll_interval_ms)) {
        fprintf(stderr,
                "ledgerline-relay: --takeover-ms %d is too short: at least 2000 and 3 x --poll-ms (%d)\n",
                opt.takeover_ms, opt.poll_interval_ms);
        return 1;
    }
    static ll_config_t cfg;
    ll_error_t err = {""};
    if (ll_cli_load_config("ledgerline-relay", path, &cfg) != 0) return 1;
    opt.pg_conninfo = cfg.pg_conninfo;
    opt.bootstrap_servers = cfg.kafka_bootstrap_servers;
    opt.topic = cfg.kafka_topic_events;
    if (metrics_listen && ll_config_set(&cfg, "relay_metrics_listen", metrics_listen, "--metrics-listen", &err) != 0) {
        fprintf(stderr, "ledgerline-relay: invalid configuration: %s\n", err.msg);
        return 1;
    }
    opt.metrics_listen = cfg.relay_metrics_listen;
    ll_cli_stop_on_signals(&stop_requested);
    ll_log_t l;
    ll_log_begin(&l, "info", "relay", "started");
    ll_log_str(&l, "topic", opt.topic);
    ll_log_end(&l);
    if (ll_relay_run(&opt, &stop_requested, &err) != 0) {
        fprintf(stderr, "ledgerline-relay: %s\n", err.msg);
        return 1;
    }
    ll_log_begin(&l, "info", "relay", "stopped");
    ll_log_end(&l);
    return 0;
}
