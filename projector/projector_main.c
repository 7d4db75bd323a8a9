/* ledgerline-projector: consumes the account-events topic into the MongoDB read models. */
#include "ll_cli.h"
#include "ll_log.h"
#include "ll_projector.h"
#include "ll_read_model.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;

static void usage(FILE *out) {
    fprintf(out,
            "Usage: ledgerline-projector [--config FILE] [--group ID] [--batch N] [--batch-ms MS] "
            "[--metrics-ms MS]\n"
            "                            [--metrics-listen HOST:PORT]\n"
            "\n"
            "Consumes kafka_topic_events into the read models in mongo_uri/mongo_database (accounts_g<N>,\n"
            "events_g<N>, pages_g<N> of the active generation in read_model_meta), version-guarded and\n"
            "idempotent; offsets are committed only after the writes they cover. Events that cannot be\n"
            "projected go to kafka_topic_dlq with the reason. Run one per partition at most.\n"
            "\n"
            "  --config FILE    configuration file (ledgerline-config --help)\n"
            "  --group ID       Kafka consumer group (default kafka_projector_group, ledgerline-projector)\n"
            "  --batch N        messages per batch (default and at most 2000; more events per account\n"
            "                   per write while catching up)\n"
            "  --batch-ms MS    how long a batch waits for more once its first message arrived; what\n"
            "                   is already fetched joins it anyway (default projector_batch_ms, 5)\n"
            "  --metrics-ms MS  how often a metrics line is logged (default 10000)\n"
            "  --metrics-listen HOST:PORT\n"
            "                   Prometheus GET /metrics and GET /healthz (default projector_metrics_listen,\n"
            "                   127.0.0.1:8082): events applied, duplicates, gaps, dead letters, halted\n"
            "                   accounts, and lag per partition in events and seconds\n"
            "  -h, --help       this help\n"
            "\n"
            "SIGTERM or SIGINT: finish and commit the batch in flight, exit 0.\n");
}

int main(int argc, char **argv) {
    const char *path = NULL;
    ll_projector_options_t opt = {NULL, NULL, 2000, -1, 10000, NULL}; /* batch_ms -1: the config's */
    for (int i = 1; i < argc; i++) {
        int bad = 0;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            path = argv[++i];
        } else if (!strcmp(argv[i], "--group") && i + 1 < argc) {
            opt.group_id = argv[++i];
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            bad = ll_cli_int_arg(argv[++i], 1, 2000, &opt.batch_max);
        } else if (!strcmp(argv[i], "--batch-ms") && i + 1 < argc) {
            bad = ll_cli_int_arg(argv[++i], 0, 10000, &opt.batch_ms);
        } else if (!strcmp(argv[i], "--metrics-listen") && i + 1 < argc) {
            opt.metrics_listen = argv[++i];
        } else if (!strcmp(argv[i], "--metrics-ms") && i + 1 < argc) {
            bad = ll_cli_int_arg(argv[++i], 100, 3600000, &opt.metrics_interval_ms);
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "ledgerline-projector: bad argument '%s'\n", argv[i]);
            usage(stderr);
            return 1;
        }
    }
    static ll_config_t cfg;
    if (ll_cli_load_config("ledgerline-projector", path, &cfg) != 0) return 1;
    opt.cfg = &cfg;
    ll_error_t err = {""};
    if (opt.metrics_listen &&
        ll_config_set(&cfg, "projector_metrics_listen", opt.metrics_listen, "--metrics-listen", &err) != 0) {
        fprintf(stderr, "ledgerline-projector: invalid configuration: %s\n", err.msg);
        return 1;
    }
    if (opt.group_id == NULL) opt.group_id = cfg.kafka_projector_group;
    if (opt.batch_ms < 0) opt.batch_ms = (int)cfg.projector_batch_ms;
    opt.metrics_listen = cfg.projector_metrics_listen;
    ll_cli_stop_on_signals(&stop_requested);
    ll_rm_library_init();
    ll_log_t l;
    ll_log_begin(&l, "info", "projector", "started");
    ll_log_str(&l, "group", opt.group_id);
    ll_log_end(&l);
    int rc = ll_projector_run(&opt, &stop_requested, &err);
    ll_rm_library_cleanup();
    if (rc != 0) {
        fprintf(stderr, "ledgerline-projector: %s\n", err.msg);
        return 1;
    }
    ll_log_begin(&l, "info", "projector", "stopped");
    ll_log_end(&l);
    return 0;
}
