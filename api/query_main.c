/* ledgerline-query: the query API. Reads MongoDB read models and, for balance-as-of and audit,
 * the PostgreSQL event store; every blocking read runs on a worker thread. */
#include "ll_query_api.h"
#include "ll_read_model.h"
#include "ll_service.h"

static const char usage[] =
    "Usage: ledgerline-query [--config FILE] [--listen HOST:PORT] [--workers N]\n"
    "\n"
    "Serves GET /v1/accounts/{id}[?min_version=N],\n"
    "/v1/accounts/{id}/transactions[?limit&cursor&from=RFC3339&to=RFC3339&type=T1,T2], /v1/holds/{id},\n"
    "/v1/accounts/{id}/holds?status=open[&limit&cursor],\n"
    "/v1/accounts/{id}/balance?as_of=RFC3339, /v1/accounts/{id}/audit[?from_version&to_version&limit],\n"
    "/v1/accounts/{id}/audit/verify, /healthz, /readyz, /metrics, /openapi.yaml. min_version waits up to\n"
    "2 s for the read model (read-your-writes), then answers 503 with Retry-After: never stale data.\n"
    "Account routes need a bearer token (Authorization: Bearer, see ledgerline-token): a customer sees\n"
    "only its own accounts (404 for others'), operators and auditors see all. Refuses to start\n"
    "without jwt_secret (config or LEDGERLINE_JWT_SECRET).\n"
    "\n"
    "  --config FILE       configuration file (ledgerline-config --help)\n"
    "  --listen HOST:PORT  overrides query_listen (default 127.0.0.1:8081)\n"
    "  --workers N         worker threads, each with a MongoDB and a PostgreSQL connection (1..32, default "
    "4)\n"
    "\n"
    "Account reads are answered from memory when the live view holds the account: a thread follows\n"
    "kafka_topic_events from the projector group's committed offsets (kafka_projector_group) and folds\n"
    "each event with domain/; other accounts are read from MongoDB and then kept current. Size:\n"
    "query_view_accounts_max (0 turns it off). docs/read-side.md has the rules that keep it exact.\n"
    "  -h, --help          this help\n"
    "\n"
    "SIGTERM or SIGINT: stop accepting, finish queries in flight, exit 0.\n"
    "Exit status: 0 after a clean stop, 1 when it cannot start (the reason is printed).\n";

int main(int argc, char **argv) {
    static const ll_service_desc_t d = {.program = "ledgerline-query", .service = "query",
                                        .listen_key = "query_listen", .threads_flag = "--workers",
                                        .threads_default = 4, .threads_max = 32, .usage = usage,
                                        .api = &ll_query_service};
    ll_rm_library_init(); /* once, before any worker thread */
    int rc = ll_service_main(&d, argc, argv);
    ll_rm_library_cleanup();
    return rc;
}
