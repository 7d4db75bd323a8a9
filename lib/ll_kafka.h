/* ll_kafka.h - librdkafka configuration with every setting explicit and checked. */
#ifndef LL_KAFKA_H
#define LL_KAFKA_H

#include "ll_error.h"

#include <librdkafka/rdkafka.h>

/* Builds a configuration from two NULL-terminated key/value lists: base (may be NULL) then mine,
 * which may override base. Returns it (caller owns it until rd_kafka_new succeeds), or NULL with
 * err naming the setting librdkafka refused. For a client that needs callbacks set first. */
rd_kafka_conf_t *ll_kafka_conf(const char *const *base, const char *const *mine, ll_error_t *err);

/* A client of type from two NULL-terminated setting lists: base (may be NULL) then mine, which
 * may override base. Returns the client (caller destroys it) or NULL with err naming what failed. */
rd_kafka_t *ll_kafka_client(rd_kafka_type_t type, const char *const *base, const char *const *mine,
                            ll_error_t *err);

/* A delivery report callback (rd_kafka_conf_set_dr_msg_cb's). */
typedef void (*ll_kafka_delivery_fn)(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

/* A producer with LL_KAFKA_PRODUCER_SETTINGS, then mine (which may override them), reporting
 * deliveries to on_delivery (may be NULL). Returns it or NULL with err naming what failed. */
rd_kafka_t *ll_kafka_producer(const char *const *mine, ll_kafka_delivery_fn on_delivery, ll_error_t *err);

/* What every ledgerline consumer shares: no offset is committed or stored behind its back (each
 * commits explicitly after its own writes, or never commits), and small fetches go out at once. */
extern const char *const LL_KAFKA_READER_SETTINGS[];

/* LL_KAFKA_READER_SETTINGS and what a reader of the events topic needs: a group without offsets
 * starts at the log's beginning, only committed transactions are read, no end-of-partition
 * events. */
extern const char *const LL_KAFKA_LOG_READER_SETTINGS[];

/* The producer settings ledgerline relies on: idempotent, acks=all, ordered retries, the Java
 * client's key partitioner (so any client agrees on an account's partition). */
extern const char *const LL_KAFKA_PRODUCER_SETTINGS[];

#endif
