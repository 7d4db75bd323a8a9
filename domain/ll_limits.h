/* ll_limits.h - every size, count and time limit of ledgerline, each with its reason.
 *
 * One place so reviewers can see all bounds at once (as SQLite's sqliteLimit.h). A limit that a
 * deployment may tune also has a config key (lib/ll_config.h) whose default is the value here.
 */
#ifndef LL_LIMITS_H
#define LL_LIMITS_H

/* Config file: a line longer than this is certainly a mistake (binary file, missing newline). */
#define LL_CONFIG_LINE_BYTES_MAX 4096
/* Config file size: a few hundred bytes in practice; refuse to slurp a wrong file. */
#define LL_CONFIG_FILE_BYTES_MAX (256 * 1024)
/* Longest config string value (conninfo strings and URIs with options fit easily). */
#define LL_CONFIG_VALUE_BYTES_MAX 1024

/* HTTP request bodies: commands are tiny JSON objects; 16 KiB leaves room for references. */
#define LL_BODY_BYTES_MAX_DEFAULT (16 * 1024)
#define LL_BODY_BYTES_MAX_LIMIT   (1024 * 1024)

/* h2o's own cap on a request entity; the configured body_bytes_max is checked below it so the
 * client gets a problem+json 413 rather than h2o's plain-text one. */
#define LL_HTTP_ENTITY_BYTES_CAP (1024 * 1024)
/* Request headers in all (names and values) and the request target. h2o itself buffers up to
 * ~400 KiB of request head; anything a client of this API sends fits in a small fraction. */
#define LL_HTTP_HEADER_BYTES_MAX (16 * 1024)
#define LL_HTTP_TARGET_BYTES_MAX (8 * 1024)
/* After an error h2o answers and closes on (a body over the entity cap), the connection reads and
 * drops what the client still sends, as nginx's lingering_close does: closing on unread bytes
 * resets the connection, and the reset can cost the client its answer. Bounded in time and
 * bytes so that no client holds a connection with it. */
#define LL_HTTP_LINGER_MS        5000
#define LL_HTTP_LINGER_BYTES_MAX (4 * 1024 * 1024)
/* Commands queued for the writers before the service answers 503 (back-pressure). */
#define LL_COMMAND_QUEUE_MAX 4096

/* GET ?min_version= waits at most this long for the read model (read-your-writes), then 503.
 * The default of config key min_version_wait_ms. */
#define LL_MIN_VERSION_WAIT_MS 2000
/* Waits (min_version, a statement behind the view) one subject may have at once; more are
 * answered 429 too-many-waits. A wait holds no worker, but its looks cost the read store. */
#define LL_WAITS_PER_SUBJECT_MAX 8
/* A read-model lookup that takes longer fails instead of hanging a worker (maxTimeMS). */
#define LL_READ_MODEL_QUERY_MS_MAX 5000
/* Messages in one projector batch (--batch: the default, and at most this). Each account of a
 * batch is read and written once, so a larger batch writes more events per account per round
 * trip while catching up; the batch's tables are sized for it. A read-model scan (rebuild's
 * verify and gc) fetches as many documents per cursor round trip, the same trade of memory
 * against round trips. A plain number: help texts print it (LL_LIMIT_TEXT). */
#define LL_BATCH_MAX 2000
/* Writer connections (threads) to the read store at once: the projector's projector_writers
 * and a rebuild's --writers, at most this. Each holds a MongoDB client and a transaction per
 * batch; more only queue on the store's cores. */
#define LL_READ_MODEL_WRITERS_MAX 16
/* Page sizes of statements and audit trails. */
#define LL_PAGE_LIMIT_DEFAULT 50
#define LL_PAGE_LIMIT_MAX     200

/* Money per command, in minor units: 10^15 keeps sums of many commands far from INT64_MAX. */
#define LL_AMOUNT_MINOR_MIN 1
#define LL_AMOUNT_MINOR_MAX 1000000000000000LL

/* Text fields of commands and events, in bytes of UTF-8. Bounded so every event fits in a fixed
 * struct (domain/ allocates nothing) and in one small Kafka message. */
#define LL_OWNER_BYTES_MAX       128 /* an owner id from the identity provider (JWT sub) */
#define LL_REFERENCE_BYTES_MAX   140 /* as a SEPA remittance line */
#define LL_ACTOR_BYTES_MAX       144 /* who asked: "role:" + token subject (LL_OWNER_BYTES_MAX) */
#define LL_CORRELATION_BYTES_MAX 128 /* caller's trace id */
#define LL_COMMAND_ID_BYTES_MAX  128 /* the Idempotency-Key header */
/* One encoded event envelope: all text fields at their maximum plus fixed fields fit easily. */
#define LL_EVENT_JSON_BYTES_MAX 8192
/* Legs of one payment (POST /v1/payments): a payment and its fees, as card schemes and SEPA
 * batches carry them; 16 keeps one payment's lock set and response small. */
#define LL_PAYMENT_LEGS_MAX 16
/* Events one command may produce: a transfer writes two, a payment two per leg. */
#define LL_DECISION_EVENTS_MAX (2 * LL_PAYMENT_LEGS_MAX)
/* A hold lasts 7 days unless asked otherwise, at most 30 (card authorisations expire within
 * that in every scheme); then the system appends HoldExpired. */
#define LL_HOLD_EXPIRY_DEFAULT_S (7 * 86400)
#define LL_HOLD_EXPIRY_MAX_S     (30 * 86400)
/* Why an account was frozen, as an operator writes it (a case number and a line). */
#define LL_FREEZE_REASON_BYTES_MAX 140

/* A limit as text, for help texts: LL_LIMIT_TEXT(LL_BATCH_MAX) is "2000". */
#define LL_LIMIT_TEXT(limit)  LL_LIMIT_TEXT_(limit)
#define LL_LIMIT_TEXT_(limit) #limit

_Static_assert(LL_BODY_BYTES_MAX_DEFAULT <= LL_BODY_BYTES_MAX_LIMIT, "default within limit");
_Static_assert(LL_CONFIG_VALUE_BYTES_MAX < LL_CONFIG_LINE_BYTES_MAX, "a value fits on a line");
_Static_assert(LL_ACTOR_BYTES_MAX >= LL_OWNER_BYTES_MAX + sizeof "customer:" - 1, "an actor holds the longest role and subject");

#endif
