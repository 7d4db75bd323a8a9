/* ll_tx_writers.h - threads inserting batches of transaction documents into one read-model
 * generation at once, each on its own MongoDB connection.
 *
 * Why: a rebuild reads the store, folds and inserts; done in one thread, the reading waits for
 * every insert's round trip, and one connection leaves the MongoDB server's other cores idle
 * (bench/results/projector.md: four raw insert loops at once take about twice what one does).
 * The inserts of a fresh generation are independent (distinct _ids, unordered), so batches may
 * land in any order; the generation is complete when ll_tx_writers_finish returns 0.
 */
#ifndef LL_TX_WRITERS_H
#define LL_TX_WRITERS_H

#include "ll_error.h"
#include "ll_event.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ll_tx_writers ll_tx_writers_t;

/* Starts threads writers (1..16), each with its own client of mongo_uri on generation of
 * database. Returns the pool or NULL with err set. */
ll_tx_writers_t *ll_tx_writers_start(const char *mongo_uri, const char *database, int64_t generation,
                                     int threads, ll_error_t *err);

/* Queues a copy of events[0..n) (movements); blocks while every writer is busy and a batch per
 * writer waits. Returns 0, or the first error a writer met (nothing more is written then). */
int ll_tx_writers_submit(ll_tx_writers_t *w, const ll_event_t *events, size_t n, ll_error_t *err);

/* Waits until every queued batch is written, stops and frees the pool (w is gone after).
 * Returns 0, or the first error a writer met. */
int ll_tx_writers_finish(ll_tx_writers_t *w, ll_error_t *err);

#endif
