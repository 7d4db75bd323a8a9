/* ll_config.h - the one configuration of every ledgerline process.
 *
 * Sources, later wins: built-in defaults (the local stack), a config file, LEDGERLINE_* env vars.
 * The file is `key = value` lines; `#` starts a comment line; blank lines are ignored; a key may
 * appear once. The env var of key `kafka_topic_events` is `LEDGERLINE_KAFKA_TOPIC_EVENTS`.
 * Unknown keys and unknown LEDGERLINE_* variables are errors (a typo must not silently fall back
 * to a default), and every error names the key and where it came from.
 */
#ifndef LL_CONFIG_H
#define LL_CONFIG_H

#include "ll_error.h"
#include "ll_limits.h"

#include <stdint.h>
#include <stdio.h>

#define LL_CONFIG_ENV_PREFIX   "LEDGERLINE_"
#define LL_CONFIG_ENV_FILE     "LEDGERLINE_CONFIG" /* path of the config file, when not given by flag */
#define LL_CONFIG_DEFAULT_FILE "ledgerline.conf"   /* read from the working directory if present */

/* Invariant after ll_config_load succeeds: every field holds a validated value. */
typedef struct ll_config {
    char pg_conninfo[LL_CONFIG_VALUE_BYTES_MAX];              /* libpq conninfo of the event store */
    char pg_migrate_conninfo[LL_CONFIG_VALUE_BYTES_MAX];      /* the schema owner's, for migrations */
    char pg_app_role[LL_CONFIG_VALUE_BYTES_MAX];              /* role the migrations grant to */
    char kafka_bootstrap_servers[LL_CONFIG_VALUE_BYTES_MAX];  /* host:port[,host:port...] */
    char kafka_topic_events[LL_CONFIG_VALUE_BYTES_MAX];       /* the account-events topic */
    char kafka_topic_dlq[LL_CONFIG_VALUE_BYTES_MAX];          /* dead letters of the projector */
    char kafka_projector_group[LL_CONFIG_VALUE_BYTES_MAX];    /* the projector's consumer group */
    char mongo_uri[LL_CONFIG_VALUE_BYTES_MAX];                /* mongodb:// URI of the read side */
    char mongo_database[LL_CONFIG_VALUE_BYTES_MAX];           /* database of the read models */
    char command_listen[LL_CONFIG_VALUE_BYTES_MAX];           /* HOST:PORT of the command service */
    char query_listen[LL_CONFIG_VALUE_BYTES_MAX];             /* HOST:PORT of the query API */
    char projector_metrics_listen[LL_CONFIG_VALUE_BYTES_MAX]; /* HOST:PORT of the projector's /metrics */
    char relay_metrics_listen[LL_CONFIG_VALUE_BYTES_MAX];     /* HOST:PORT of the relay's /metrics */
    char trusted_proxies[LL_CONFIG_VALUE_BYTES_MAX]; /* whose X-Forwarded-For names the client */
    char jwt_secret[LL_CONFIG_VALUE_BYTES_MAX];               /* HS256 secret; "" = not configured */
    char jwt_secret_previous[LL_CONFIG_VALUE_BYTES_MAX];      /* still accepted while keys rotate; "" none */
    char log_level[LL_CONFIG_VALUE_BYTES_MAX];                /* debug, info, warn or error */
    int64_t body_bytes_max;                                   /* HTTP request body limit */
    int64_t request_timeout_ms;                               /* deadline of one HTTP request */
    int64_t query_view_accounts_max;    /* accounts the query API keeps in memory; 0: none */
    int64_t query_view_movements_bytes; /* memory for their newest movements (statements); 0: none */
    int64_t min_version_wait_ms;        /* GET ?min_version= waits at most this long, then 503 */
    int64_t rate_limit_per_second;      /* requests per token subject per second; 0: off */
    int64_t rate_limit_burst;           /* ... that may come at once */
    int64_t rate_limit_ip_per_second;   /* requests per client address per second; 0: off */
    int64_t rate_limit_ip_burst;
    int64_t http_connections_max;     /* open connections per server; more wait in the backlog */
    int64_t projector_cache_accounts; /* account states the projector remembers; 0: reads each */
    int64_t projector_cache_items_bytes; /* ... with their open page's statement items, up to this */
    int64_t projector_writers;        /* connections the projector writes a batch on at once */
    int64_t projector_heal_events_max; /* events read from the store per round while closing a gap */
    int64_t projector_session_timeout_ms; /* a silent projector loses its partitions after this */
    int64_t projector_batch_ms;           /* a batch waits this long for more messages */
    int64_t projector_fetch_wait_ms;      /* Kafka holds a fetch up to this long ... */
    int64_t projector_fetch_min_bytes;    /* ... for this many bytes: batching over freshness */
    int64_t idempotency_retention_seconds; /* an Idempotency-Key's answer is kept this long */
    int64_t hold_expiry_interval_ms;       /* the command service sweeps expired holds this often */
} ll_config_t;

/* Fills cfg with the defaults, which point at the local stack (deploy/local). Cannot fail. */
void ll_config_init(ll_config_t *cfg);

/* Sets one key from its text form. origin (e.g. "ledgerline.conf:7") is used in the message.
 * Returns 0, or LL_ENOENT for an unknown key / LL_EINVAL for a bad value; cfg is then unchanged. */
int ll_config_set(ll_config_t *cfg, const char *key, const char *value, const char *origin, ll_error_t *err);

/* Applies every line of the file at path. Returns 0, LL_EIO when it cannot be read, or the first
 * error of ll_config_set; keys before the bad line may have been applied. */
int ll_config_load_file(ll_config_t *cfg, const char *path, ll_error_t *err);

/* Applies the LEDGERLINE_* entries of envp (NULL-terminated "NAME=value" strings, as environ).
 * Returns 0 or the first error; LEDGERLINE_CONFIG itself is not a setting and is skipped. */
int ll_config_apply_env(ll_config_t *cfg, char *const *envp, ll_error_t *err);

/* The whole sequence: defaults; the file at path, or else at $LEDGERLINE_CONFIG (both must exist),
 * or else ./ledgerline.conf when present; then envp. Returns 0 or the first error. */
int ll_config_load(ll_config_t *cfg, const char *path, char *const *envp, ll_error_t *err);

/* The value of a text setting by key ("query_listen"), or NULL for an unknown or integer key. */
const char *ll_config_get(const ll_config_t *cfg, const char *key);

/* Writes every key as `key = value` to out, secrets (jwt_secret, passwords inside the conninfo
 * and the URI) replaced by "***". The output is a valid config file apart from the secrets. */
void ll_config_print(const ll_config_t *cfg, FILE *out);

#endif
