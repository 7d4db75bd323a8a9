/* mongo_bulk: the projector benchmark's baseline, a raw libmongoc loop inserting N documents of
 * a transaction's shape into a fresh collection, in unordered batches of --batch, with the write
 * concern the projector uses (majority, journaled). What the read store can take at best.
 *
 * Usage: mongo_bulk --uri URI --database DB --docs N [--batch 500]
 *        mongo_bulk --uri URI --database DB --drop     (drops the database; benchmarks clean up)
 * Prints one JSON line: {"docs":N,"seconds":S}. Exit 1 on any failure. */
#include "ll_cli.h"
#include "ll_clock.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    return (double)ll_clock_us() / 1e6;
}

static const char usage[] = "usage: mongo_bulk --uri URI --database DB (--docs N [--batch 500] | --drop)\n";

int main(int argc, char **argv) {
    const char *uri_text = NULL, *database = NULL;
    int docs = 0, batch = 500, drop = 0;
    for (int i = 1; i < argc; i++) {
        int bad = 0;
        if (!strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--uri") && i + 1 < argc)
            uri_text = argv[++i];
        else if (!strcmp(argv[i], "--database") && i + 1 < argc)
            database = argv[++i];
        else if (!strcmp(argv[i], "--docs") && i + 1 < argc)
            bad = ll_cli_int_arg(argv[++i], 1, 100000000, &docs);
        else if (!strcmp(argv[i], "--drop"))
            drop = 1;
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            bad = ll_cli_int_arg(argv[++i], 1, 2000, &batch);
        else
            bad = 1;
        if (bad) {
            uri_text = NULL;
            break;
        }
    }
    if (uri_text == NULL || database == NULL || (docs == 0) == !drop) {
        fputs(usage, stderr);
        return 1;
    }
    mongoc_init();
    bson_error_t e;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_text, &e);
    if (uri == NULL) {
        fprintf(stderr, "mongo_bulk: %s\n", e.message);
        return 1;
    }
    mongoc_client_t *client = mongoc_client_new_from_uri(uri);
    if (drop) {
        mongoc_database_t *db = mongoc_client_get_database(client, database);
        int failed = !mongoc_database_drop(db, &e) && e.code != 26; /* 26: no such namespace */
        if (failed) fprintf(stderr, "mongo_bulk: drop %s: %s\n", database, e.message);
        mongoc_database_destroy(db);
        mongoc_client_destroy(client);
        mongoc_uri_destroy(uri);
        mongoc_cleanup();
        return failed;
    }
    mongoc_collection_t *coll = mongoc_client_get_collection(client, database, "bulk_baseline");
    mongoc_collection_drop(coll, NULL); /* absent is fine */
    mongoc_write_concern_t *wc = mongoc_write_concern_new();
    mongoc_write_concern_set_w(wc, MONGOC_WRITE_CONCERN_W_MAJORITY);
    mongoc_write_concern_set_journal(wc, true);
    bson_t *batch_docs[2000];
    double t0 = now_s();
    int rc = 0;
    for (int done = 0; done < docs && rc == 0;) {
        int k = docs - done < batch ? docs - done : batch;
        for (int i = 0; i < k; i++) {
            char id[40];
            snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", done + i);
            batch_docs[i] = BCON_NEW(
                "_id", BCON_UTF8(id), "account_id", BCON_UTF8("8c1f3b7e-0000-4000-8000-000000000001"),
                "version", BCON_INT64(done + i + 1), "type", BCON_UTF8("MoneyDeposited"), "amount_minor",
                BCON_INT64(100), "currency", BCON_UTF8("EUR"), "balance_after_minor",
                BCON_INT64(100 * (done + i + 1)), "reference", BCON_UTF8(""), "occurred_at",
                BCON_UTF8("2026-11-24T12:00:00.000000Z"), "occurred_at_us", BCON_INT64(1764000000000000LL));
        }
        bson_t opts = BSON_INITIALIZER;
        BSON_APPEND_BOOL(&opts, "ordered", false);
        mongoc_write_concern_append(wc, &opts);
        if (!mongoc_collection_insert_many(coll, (const bson_t **)batch_docs, (size_t)k, &opts, NULL, &e)) {
            fprintf(stderr, "mongo_bulk: insert: %s\n", e.message);
            rc = 1;
        }
        bson_destroy(&opts);
        for (int i = 0; i < k; i++) bson_destroy(batch_docs[i]);
        done += k;
    }
    double seconds = now_s() - t0;
    mongoc_collection_drop(coll, NULL);
    mongoc_write_concern_destroy(wc);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(client);
    mongoc_uri_destroy(uri);
    mongoc_cleanup();
    if (rc == 0) printf("{\"docs\":%d,\"seconds\":%.3f}\n", docs, seconds);
    return rc;
}
