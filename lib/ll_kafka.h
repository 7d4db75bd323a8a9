/* ll_kafka.h - librdkafka configuration with every setting explicit and checked. */
#ifndef LL_KAFKA_H
#define LL_KAFKA_H

#include "ll_error.h"

#include <librdkafka/rdkafka.h>

/* Builds a configuration from NULL-terminated key/value pairs. Returns it (caller owns it until
 * rd_kafka_new succeeds), or NULL with err naming the setting librdkafka refused. */
rd_kafka_conf_t *ll_kafka_conf(const char *const *settings, ll_error_t *err);

/* A client of type from two NULL-terminated setting lists: base (may be NULL) then mine, which
 * may override base. Returns the client (caller destroys it) or NULL with err naming what failed. */
rd_kafka_t *ll_kafka_client(rd_kafka_type_t type, const char *const *base, const char *const *mine,
                            ll_error_t *err);

/* A delivery report callback (rd_kafka_conf_set_dr_msg_cb's). */
typedef void (*ll_kafka_delivery_fn)(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

/* A producer with LL_KAFKA_PRODUCER_SETTINGS, then mine (which may override them), reporting
 * deliveries to on_delivery (may be NULL). Returns it or NULL with err naming what failed. */
rd_kafka_t *ll_kafka_producer(const char *const *mine, ll_kafka_delivery_fn on_delivery, ll_error_t *err);

/* The producer settings ledgerline relies on: idempotent, acks=all, ordered retries, the Java
 * client's key partitioner (so any client agrees on an account's partition). */
extern const char *const LL_KAFKA_PRODUCER_SETTINGS[];

#endif
