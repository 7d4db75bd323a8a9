/* ledgerline-projector: consumes the account-events topic into the MongoDB read models. */
#include "ll_limits.h"
#include "ll_projector.h"
#include "ll_read_model.h"
#include "ll_service.h"

#include <signal.h>

static volatile sig_atomic_t stop_requested;

static const char usage[] =
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
    "  --batch N        messages per batch (default and at most " LL_LIMIT_TEXT(LL_BATCH_MAX) "; more events per account\n"
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
    "SIGTERM or SIGINT: finish and commit the batch in flight, exit 0.\n"
    "Exit status: 0 after a clean stop, 1 when it cannot start or run (the reason is printed).\n";

int main(int argc, char **argv) {
    ll_projector_options_t opt = {NULL, NULL, LL_BATCH_MAX, -1, 10000, NULL}; /* batch_ms -1: the config's */
    const ll_cli_option_t options[] = {
        {.name = "group", .kind = LL_CLI_STR, .out = &opt.group_id},
        {.name = "batch", .kind = LL_CLI_INT, .out = &opt.batch_max, .lo = 1, .hi = LL_BATCH_MAX},
        {.name = "batch-ms", .kind = LL_CLI_INT, .out = &opt.batch_ms, .lo = 0, .hi = 10000},
        {.name = "metrics-ms", .kind = LL_CLI_INT, .out = &opt.metrics_interval_ms, .lo = 100, .hi = 3600000},
        {.name = NULL},
    };
    const ll_service_start_t start = {.program = "ledgerline-projector", .usage = usage,
                                      .listen_option = "metrics-listen", .listen_key = "projector_metrics_listen",
                                      .options = options};
    static ll_config_t cfg;
    int rc = ll_service_begin(&start, argc, argv, &cfg, &stop_requested);
    if (rc >= 0) return rc;
    opt.cfg = &cfg;
    if (opt.group_id == NULL) opt.group_id = cfg.kafka_projector_group;
    if (opt.batch_ms < 0) opt.batch_ms = (int)cfg.projector_batch_ms;
    opt.metrics_listen = cfg.projector_metrics_listen;
    ll_rm_library_init();
    ll_service_started("projector", "group", opt.group_id);
    ll_error_t err = {""};
    rc = ll_projector_run(&opt, &stop_requested, &err);
    ll_rm_library_cleanup();
    return ll_service_end("ledgerline-projector", "projector", rc, &err);
}
