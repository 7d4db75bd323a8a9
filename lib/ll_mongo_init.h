/* ll_mongo_init.h - starts the MongoDB driver the way every ledgerline program wants it. */
#ifndef LL_MONGO_INIT_H
#define LL_MONGO_INIT_H

/* mongoc_init(), without the driver's shared-memory counters: they are for a debugging tool
 * (mongoc-stat), and each process leaves a /dev/shm/mongoc-<pid> file behind when it is killed;
 * a later process given the same pid then logs "Falling back to malloc for counters" on
 * stderr, in front of its own messages. Call once, before any thread uses the driver. */
void ll_mongo_init(void);

#endif
