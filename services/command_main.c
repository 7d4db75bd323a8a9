/* ledgerline-command: the command service. HTTP on an h2o event loop; commands are decided with
 * domain/ and written by a pool of writer threads (group commit) to PostgreSQL. */
#include "ll_command_api.h"
#include "ll_service.h"

static const char usage[] =
    "Usage: ledgerline-command [--config FILE] [--listen HOST:PORT] [--writers N]\n"
    "\n"
    "Serves the command API (POST /v1/accounts, /v1/accounts/{id}/deposits, /withdrawals, /close,\n"
    "/holds, /freeze, /unfreeze, PUT /v1/accounts/{id}/credit-limit, POST /v1/holds/{hold_id}/capture,\n"
    "/release, /v1/transfers, /v1/payments; GET /healthz, /readyz, /metrics, /openapi.yaml). Every\n"
    "command needs an Idempotency-Key header and a bearer token (Authorization: Bearer, see\n"
    "ledgerline-token): operators may do everything, customers act on their own accounts (credit\n"
    "limits and freezes are the operators'), auditors are refused. Holds past their expiry are\n"
    "expired in the background (hold_expiry_interval_ms).\n"
    "Commands are appended to the PostgreSQL event store (pg_conninfo) with their outbox rows;\n"
    "the relay (ledgerline-relay) publishes them to Kafka.\n"
    "\n"
    "  --config FILE       configuration file (ledgerline-config --help)\n"
    "  --listen HOST:PORT  overrides command_listen (default 127.0.0.1:8080)\n"
    "  --writers N         writer threads, each with one PostgreSQL connection (1..16, default 2)\n"
    "  -h, --help          this help\n"
    "\n"
    "Refuses to start without jwt_secret (config or LEDGERLINE_JWT_SECRET).\n"
    "SIGTERM or SIGINT: stop accepting, finish queued commands, exit 0.\n"
    "Exit status: 0 after a clean stop, 1 when it cannot start (the reason is printed).\n";

int main(int argc, char **argv) {
    static const ll_service_desc_t d = {.program = "ledgerline-command", .service = "command",
                                        .listen_key = "command_listen", .threads_flag = "--writers",
                                        .threads_default = 2, .threads_max = 16, .usage = usage,
                                        .api = &ll_command_service};
    return ll_service_main(&d, argc, argv);
}
