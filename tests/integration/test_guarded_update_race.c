/* Integration: a version-guarded update is a compare-and-set on the MongoDB-protocol store. Two
 * clients send update_one({_id, version: v}, {$set: {version: v+1}}) at the same instant, many
 * times: exactly one may win each time, as on real MongoDB. Then the same through the project's
 * own writer, ll_read_model_save_head: two writers with the same prev_version (one returns 0, the
 * other LL_EINVAL), and one writer moving an account document 31 -> 63 -> 95 while another tries
 * 31 -> 63 (the document never goes back). Racing $inc lose no increment and a racing guarded
 * update_many modifies each document once; and guarded updates of every kind of value keep
 * MongoDB's counts. FerretDB v1.24.2 unpatched checked the filter on a read and wrote by _id
 * alone, so both won nearly every time (deploy/local/ferretdb-patches/0002).
 * Needs `make up`. Uses its own database, dropped at the start and the end. */
#include "ll_account.h"
#include "ll_config.h"
#include "ll_rm_store.h" /* the collections, to seed and inspect documents */
#include "ll_test.h"

#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

#define DB          "ledgerline_test_guarded_update"
#define TRIALS      300 /* unpatched, most trials had two winners; 300 leave no doubt */
#define MANY_TRIALS 100 /* update_many races: MANY_DOCS documents each */
#define MANY_DOCS   10
#define PAGE_V      32 /* the read model's versions per page: heads move 31 -> 63 -> 95 */

static ll_config_t cfg;

static mongoc_client_t *new_client(void) {
    mongoc_uri_t *uri = mongoc_uri_new_with_error(cfg.mongo_uri, NULL);
    mongoc_client_t *c = uri ? mongoc_client_new_from_uri(uri) : NULL;
    mongoc_uri_destroy(uri);
    if (c != NULL) mongoc_client_set_appname(c, "ledgerline-test-race");
    return c;
}

static void drop_db(mongoc_client_t *c) {
    mongoc_database_t *db = mongoc_client_get_database(c, DB);
    mongoc_database_drop(db, NULL); /* absent is fine */
    mongoc_database_destroy(db);
}

/* ---- the race harness: two threads, each with its own client, released together ---- */

typedef struct race race_t;

/* One writer. Its client and read model are its own (libmongoc clients are not thread-safe);
 * the outcome fields are one trial's, read by the main thread after the `done` barrier. */
typedef struct racer {
    race_t *race;
    int who; /* 0 or 1 */
    mongoc_client_t *client;
    mongoc_collection_t *coll; /* the plain case's collection */
    ll_read_model_t rm;        /* the read-model cases' */
    bool rm_open;
    int64_t matched, modified; /* plain case: counts of its reply, -1 on error */
    int rc, rc2;               /* read-model cases: save_head's results (rc2: a second step) */
    ll_error_t err;
} racer_t;

/* The main thread sets trial (and whatever op reads) before `start`; both racers run op and
 * meet it again at `done`. The barriers order every access, so nothing else is shared. */
struct race {
    pthread_barrier_t start, done;
    bool stop;
    int64_t v;         /* the version the trial starts from */
    ll_account_t base; /* the read-model cases' account, at v */
    void (*op)(racer_t *r);
    racer_t racers[2];
    pthread_t threads[2];
    int started;   /* threads running */
    bool barriers; /* start and done initialised */
};

static void *racer_main(void *arg) {
    racer_t *r = arg;
    for (;;) {
        pthread_barrier_wait(&r->race->start);
        if (r->race->stop) break;
        r->race->op(r);
        pthread_barrier_wait(&r->race->done);
    }
    return NULL;
}

static void race_end(race_t *race) {
    if (race->started == 2) {
        race->stop = true;
        pthread_barrier_wait(&race->start);
    }
    for (int i = 0; i < race->started; i++) pthread_join(race->threads[i], NULL);
    for (int i = 0; i < 2; i++) {
        racer_t *r = &race->racers[i];
        if (r->rm_open) ll_read_model_close(&r->rm);
        if (r->coll != NULL) mongoc_collection_destroy(r->coll);
        if (r->client != NULL) mongoc_client_destroy(r->client);
    }
    if (race->barriers) {
        pthread_barrier_destroy(&race->start);
        pthread_barrier_destroy(&race->done);
    }
}

/* Opens both racers' clients on collection coll of DB (and read models when with_rm) and
 * starts their threads. */
static int race_begin(ll_test_ctx_t *t, race_t *race, void (*op)(racer_t *), const char *coll, bool with_rm) {
    memset(race, 0, sizeof *race);
    race->op = op;
    for (int i = 0; i < 2; i++) {
        racer_t *r = &race->racers[i];
        r->race = race, r->who = i;
        if ((r->client = new_client()) == NULL) {
            LL_FAIL_AT("client %d: bad mongo_uri", i);
            return -1;
        }
        r->coll = mongoc_client_get_collection(r->client, DB, coll);
        if (with_rm) {
            if (ll_read_model_open(&r->rm, r->client, DB, 1, &r->err) != 0) {
                LL_FAIL_AT("open read model %d: %s", i, r->err.msg);
                return -1;
            }
            r->rm_open = true;
        }
    }
    if (pthread_barrier_init(&race->start, NULL, 3) != 0) {
        LL_FAIL_AT("pthread_barrier_init");
        return -1;
    }
    if (pthread_barrier_init(&race->done, NULL, 3) != 0) {
        pthread_barrier_destroy(&race->start);
        LL_FAIL_AT("pthread_barrier_init");
        return -1;
    }
    race->barriers = true;
    for (int i = 0; i < 2; i++) {
        if (pthread_create(&race->threads[i], NULL, racer_main, &race->racers[i]) != 0) {
            LL_FAIL_AT("pthread_create");
            /* The first racer would wait at `start` for a party that never comes. */
            if (i == 1) abort();
            return -1;
        }
        race->started++;
    }
    return 0;
}

/* Runs one trial: releases both racers and waits until both are done. */
static void race_run(race_t *race) {
    pthread_barrier_wait(&race->start);
    pthread_barrier_wait(&race->done);
}

static int64_t reply_count(const bson_t *reply, const char *key) {
    bson_iter_t it;
    return bson_iter_init_find(&it, reply, key) && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it) : -1;
}

/* The version stored under _id id in coll, or -1. */
static int64_t stored_version(mongoc_collection_t *coll, const char *id, int64_t *balance) {
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    const bson_t *doc;
    int64_t v = -1;
    bson_iter_t it;
    if (mongoc_cursor_next(cur, &doc)) {
        if (bson_iter_init_find(&it, doc, "version") && BSON_ITER_HOLDS_NUMBER(&it))
            v = bson_iter_as_int64(&it);
        if (balance != NULL && bson_iter_init_find(&it, doc, "balance_minor") && BSON_ITER_HOLDS_NUMBER(&it))
            *balance = bson_iter_as_int64(&it);
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    return v;
}

/* ---- plain update_one ---------------------------------------------------------------------- */

/* Runs update (one or many) with filter in r's collection; r->matched and r->modified. */
static void run_update(racer_t *r, bool many, bson_t *filter, bson_t *update) {
    bson_t reply;
    bson_error_t e;
    bool ok = many ? mongoc_collection_update_many(r->coll, filter, update, NULL, &reply, &e)
                   : mongoc_collection_update_one(r->coll, filter, update, NULL, &reply, &e);
    r->matched = r->modified = -1;
    if (ok) {
        r->matched = reply_count(&reply, "matchedCount");
        r->modified = reply_count(&reply, "modifiedCount");
    } else {
        ll_error_set(&r->err, LL_EIO, "update: %.400s", e.message);
    }
    bson_destroy(&reply);
    bson_destroy(update);
    bson_destroy(filter);
}

static void op_guarded_update(racer_t *r) {
    int64_t v = r->race->v;
    run_update(r, false, BCON_NEW("_id", BCON_UTF8("doc"), "version", BCON_INT64(v)),
               BCON_NEW("$set", "{", "version", BCON_INT64(v + 1), "by", BCON_INT32(r->who), "}"));
}

LL_TEST(test_racing_guarded_update_one_has_exactly_one_winner) {
    mongoc_client_t *client = new_client();
    LL_REQUIRE(client != NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, DB, "race");
    bson_t *doc = BCON_NEW("_id", BCON_UTF8("doc"), "version", BCON_INT64(1), "by", BCON_INT32(-1));
    bson_error_t e;
    bool inserted = mongoc_collection_insert_one(coll, doc, NULL, NULL, &e);
    bson_destroy(doc);
    if (!inserted) LL_FAIL_AT("insert: %s (is the stack up? make up)", e.message);
    race_t race;
    if (inserted && race_begin(t, &race, op_guarded_update, "race", false) == 0) {
        int two = 0, none = 0, off = 0, errors = 0;
        int64_t v = 1;
        for (int i = 0; i < TRIALS; i++) {
            race.v = v;
            race_run(&race);
            racer_t *a = &race.racers[0], *b = &race.racers[1];
            if (a->modified < 0 || b->modified < 0) {
                if (errors++ == 0) LL_FAIL_AT("%s", a->modified < 0 ? a->err.msg : b->err.msg);
                break;
            }
            int64_t won = a->modified + b->modified;
            two += won > 1 || a->matched + b->matched > 1;
            none += won == 0;
            int64_t now = stored_version(coll, "doc", NULL);
            off += now != v + 1;
            if (now < 1) break;
            v = now;
        }
        printf("  %d trials of update_one({_id, version: v}, {$set: {version: v+1}}) from 2 clients: "
               "%d with two winners, %d with none, %d ended off v+1\n",
               TRIALS, two, none, off);
        LL_CHECK_EQ_INT(two, 0);
        LL_CHECK_EQ_INT(none, 0);
        LL_CHECK_EQ_INT(off, 0);
        LL_CHECK_EQ_INT(errors, 0);
        LL_CHECK_EQ_INT(v, 1 + TRIALS);
    }
    if (inserted) race_end(&race);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(client);
}

static void op_increment(racer_t *r) {
    run_update(r, false, BCON_NEW("_id", BCON_UTF8("counter")),
               BCON_NEW("$inc", "{", "n", BCON_INT64(1), "}"));
}

static void op_guarded_many(racer_t *r) {
    int64_t v = r->race->v;
    run_update(r, true, BCON_NEW("group", BCON_UTF8("many"), "version", BCON_INT64(v)),
               BCON_NEW("$set", "{", "version", BCON_INT64(v + 1), "}"));
}

static void op_increment_many(racer_t *r) {
    run_update(r, true, BCON_NEW("group", BCON_UTF8("many")), BCON_NEW("$inc", "{", "n", BCON_INT64(1), "}"));
}

/* Without a version in the filter, an update of what was read is still one atomic step: both
 * increments land (the loser reads the document again and applies its $inc to it). */
LL_TEST(test_racing_increments_are_never_lost) {
    mongoc_client_t *client = new_client();
    LL_REQUIRE(client != NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, DB, "race");
    bson_t *doc = BCON_NEW("_id", BCON_UTF8("counter"), "n", BCON_INT64(0));
    bson_error_t e;
    bool inserted = mongoc_collection_insert_one(coll, doc, NULL, NULL, &e);
    bson_destroy(doc);
    if (!inserted) LL_FAIL_AT("insert: %s", e.message);
    race_t race;
    if (inserted && race_begin(t, &race, op_increment, "race", false) == 0) {
        int short_counts = 0, errors = 0;
        for (int i = 0; i < TRIALS; i++) {
            race_run(&race);
            racer_t *a = &race.racers[0], *b = &race.racers[1];
            if (a->modified < 0 || b->modified < 0) {
                if (errors++ == 0) LL_FAIL_AT("%s", a->modified < 0 ? a->err.msg : b->err.msg);
                break;
            }
            short_counts += a->matched + a->modified + b->matched + b->modified != 4;
        }
        int64_t n = -1;
        bson_t *filter = BCON_NEW("_id", BCON_UTF8("counter"));
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
        const bson_t *found;
        bson_iter_t it;
        if (mongoc_cursor_next(cur, &found) && bson_iter_init_find(&it, found, "n") &&
            BSON_ITER_HOLDS_NUMBER(&it))
            n = bson_iter_as_int64(&it);
        mongoc_cursor_destroy(cur);
        bson_destroy(filter);
        printf("  %d trials of update_one({_id}, {$inc: {n: 1}}) from 2 clients: n = %lld of %d, "
               "%d trials not counted 1 matched 1 modified each\n",
               TRIALS, (long long)n, 2 * TRIALS, short_counts);
        LL_CHECK_EQ_INT(n, 2 * TRIALS);
        LL_CHECK_EQ_INT(short_counts, 0);
        LL_CHECK_EQ_INT(errors, 0);
    }
    if (inserted) race_end(&race);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(client);
}

/* The documents of group "many": count of those at version (or, with version < 0, the sum of n). */
static int64_t many_state(mongoc_collection_t *coll, int64_t version) {
    bson_t *filter = BCON_NEW("group", BCON_UTF8("many"));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    const bson_t *doc;
    int64_t count = 0;
    bson_iter_t it;
    while (mongoc_cursor_next(cur, &doc))
        if (version < 0)
            count += bson_iter_init_find(&it, doc, "n") && BSON_ITER_HOLDS_NUMBER(&it)
                         ? bson_iter_as_int64(&it)
                         : 0;
        else
            count += bson_iter_init_find(&it, doc, "version") && BSON_ITER_HOLDS_NUMBER(&it) &&
                     bson_iter_as_int64(&it) == version;
    if (mongoc_cursor_error(cur, NULL)) count = -1;
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    return count;
}

/* update_many streams its matches and writes each under the same guard: of two racing guarded
 * update_many, each document is modified by one; two racing $inc update_many both count every
 * document and lose no increment. */
LL_TEST(test_racing_update_many_modifies_each_document_once) {
    mongoc_client_t *client = new_client();
    LL_REQUIRE(client != NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, DB, "race_many");
    bool inserted = true;
    for (int i = 0; inserted && i < MANY_DOCS; i++) {
        bson_t *doc = BCON_NEW("_id", BCON_INT32(i), "group", BCON_UTF8("many"), "version", BCON_INT64(1),
                               "n", BCON_INT64(0));
        bson_error_t e;
        inserted = mongoc_collection_insert_one(coll, doc, NULL, NULL, &e);
        if (!inserted) LL_FAIL_AT("insert: %s", e.message);
        bson_destroy(doc);
    }
    race_t race;
    if (inserted && race_begin(t, &race, op_guarded_many, "race_many", false) == 0) {
        int twice = 0, off = 0, wrong_counts = 0, errors = 0;
        int64_t v = 1; /* where the guarded trials start: each moves every document on by one */
        for (int i = 0; i < MANY_TRIALS && errors == 0; i++) {
            race.v = v;
            race.op = i % 2 == 0 ? op_guarded_many : op_increment_many;
            int64_t n_before = race.op == op_increment_many ? many_state(coll, -1) : 0;
            race_run(&race);
            racer_t *a = &race.racers[0], *b = &race.racers[1];
            if (a->modified < 0 || b->modified < 0) {
                if (errors++ == 0) LL_FAIL_AT("%s", a->modified < 0 ? a->err.msg : b->err.msg);
                break;
            }
            if (race.op == op_guarded_many) {
                twice += a->modified + b->modified != MANY_DOCS || a->matched + b->matched != MANY_DOCS;
                off += many_state(coll, v + 1) != MANY_DOCS;
                v++;
            } else {
                wrong_counts += a->matched != MANY_DOCS || a->modified != MANY_DOCS ||
                                b->matched != MANY_DOCS || b->modified != MANY_DOCS;
                off += many_state(coll, -1) != n_before + 2 * MANY_DOCS;
            }
        }
        printf("  %d trials of racing update_many over %d documents: %d guarded ones not modifying each "
               "document once, %d $inc ones not counting each document once each, %d ended off\n",
               MANY_TRIALS, MANY_DOCS, twice, wrong_counts, off);
        LL_CHECK_EQ_INT(twice, 0);
        LL_CHECK_EQ_INT(wrong_counts, 0);
        LL_CHECK_EQ_INT(off, 0);
        LL_CHECK_EQ_INT(errors, 0);
    }
    if (inserted) race_end(&race);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(client);
}

/* ---- counts, and the guard on every kind of value -------------------------------------------- */

/* update_one or replace_one (replacement != NULL) in coll: true with matched, modified and
 * whether it upserted, or false (the test failed). */
static bool update_counts(ll_test_ctx_t *t, mongoc_collection_t *coll, bson_t *filter, bson_t *update,
                          bson_t *replacement, bool upsert, int64_t *matched, int64_t *modified,
                          bool *upserted) {
    bson_t *opts = BCON_NEW("upsert", BCON_BOOL(upsert));
    bson_t reply;
    bson_error_t e;
    bool ok = replacement != NULL ? mongoc_collection_replace_one(coll, filter, replacement, opts, &reply, &e)
                                  : mongoc_collection_update_one(coll, filter, update, opts, &reply, &e);
    if (!ok) LL_FAIL_AT("update: %s", e.message);
    *matched = reply_count(&reply, "matchedCount");
    *modified = reply_count(&reply, "modifiedCount");
    bson_iter_t it;
    *upserted = bson_iter_init_find(&it, &reply, "upsertedId");
    bson_destroy(&reply);
    bson_destroy(opts);
    bson_destroy(filter);
    if (update != NULL) bson_destroy(update);
    if (replacement != NULL) bson_destroy(replacement);
    return ok;
}

/* The document of every kind of value FerretDB stores, at version. */
static bson_t *kinds_doc(int64_t version) {
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, "5f2b8c3e9d1a4b6c7e8f9a0b");
    static const uint8_t bin[] = {0, 1, 0xfe, 0xff};
    bson_t *doc = BCON_NEW(
        "_id", BCON_UTF8("kinds"), "version", BCON_INT64(version), "tenth", BCON_DOUBLE(0.1), "huge",
        BCON_DOUBLE(1e300), "negzero", BCON_DOUBLE(-0.0), "tiny", BCON_DOUBLE(5e-324), "third",
        BCON_DOUBLE(1.0 / 3), "i32", BCON_INT32(INT32_MIN), "i64max", BCON_INT64(INT64_MAX), "i64min",
        BCON_INT64(INT64_MIN), "text", BCON_UTF8("\xc3\xbcn\xc3\xaf \"q\" \\ <&> \t\n\x7f \xe2\x82\xac"),
        "empty", BCON_UTF8(""), "nested", "{", "a", "{", "b", "[", BCON_INT32(1), BCON_UTF8("x"), "{", "c",
        BCON_NULL, "}", "]", "}", "}", "arr", "[", "]", "obj", "{", "}", "bin",
        BCON_BIN(BSON_SUBTYPE_BINARY, bin, sizeof bin), "date", BCON_DATE_TIME(1700000000123), "ts",
        BCON_TIMESTAMP(1700000000, 7), "oid", BCON_OID(&oid), "re", BCON_REGEX("^a.*b$", "i"), "yes",
        BCON_BOOL(true), "no", BCON_BOOL(false), "nothing", BCON_NULL, "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87",
        BCON_UTF8("a key in Cyrillic"));
    return doc;
}

LL_TEST(test_guarded_updates_keep_mongodb_counts_on_every_kind_of_value) {
    mongoc_client_t *client = new_client();
    LL_REQUIRE(client != NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, DB, "kinds");
    bson_t *doc = kinds_doc(1);
    bson_error_t e;
    bool inserted = mongoc_collection_insert_one(coll, doc, NULL, NULL, &e);
    bson_destroy(doc);
    if (!inserted) LL_FAIL_AT("insert: %s", e.message);
    int64_t matched = -1, modified = -1;
    bool upserted = false;
    /* The guard compares the stored document with the one read, encoded again: equal for every
     * kind of value, or the write would be refused (an error after a few tries). */
    if (inserted && update_counts(t, coll, BCON_NEW("_id", BCON_UTF8("kinds"), "version", BCON_INT64(1)),
                                  BCON_NEW("$set", "{", "version", BCON_INT64(2), "}"), NULL, false, &matched,
                                  &modified, &upserted)) {
        LL_CHECK_EQ_INT(matched, 1);
        LL_CHECK_EQ_INT(modified, 1);
        LL_CHECK_EQ_INT(stored_version(coll, "kinds", NULL), 2);
    }
    /* No longer at version 1: nothing matches. */
    if (update_counts(t, coll, BCON_NEW("_id", BCON_UTF8("kinds"), "version", BCON_INT64(1)),
                      BCON_NEW("$set", "{", "version", BCON_INT64(3), "}"), NULL, false, &matched, &modified,
                      &upserted)) {
        LL_CHECK_EQ_INT(matched, 0);
        LL_CHECK_EQ_INT(modified, 0);
    }
    /* Setting what is there: matched, not modified (and not written). */
    if (update_counts(t, coll, BCON_NEW("_id", BCON_UTF8("kinds")),
                      BCON_NEW("$set", "{", "version", BCON_INT64(2), "}"), NULL, false, &matched, &modified,
                      &upserted)) {
        LL_CHECK_EQ_INT(matched, 1);
        LL_CHECK_EQ_INT(modified, 0);
    }
    /* A guarded replacement. */
    if (update_counts(t, coll, BCON_NEW("_id", BCON_UTF8("kinds"), "version", BCON_INT64(2)), NULL,
                      kinds_doc(3), false, &matched, &modified, &upserted)) {
        LL_CHECK_EQ_INT(matched, 1);
        LL_CHECK_EQ_INT(modified, 1);
        LL_CHECK_EQ_INT(stored_version(coll, "kinds", NULL), 3);
    }
    /* An upsert that matches nothing inserts. */
    if (update_counts(t, coll, BCON_NEW("_id", BCON_UTF8("fresh"), "version", BCON_INT64(1)),
                      BCON_NEW("$set", "{", "x", BCON_INT32(1), "}"), NULL, true, &matched, &modified,
                      &upserted)) {
        LL_CHECK_EQ_INT(matched, 0);
        LL_CHECK_EQ_INT(modified, 0);
        LL_CHECK(upserted);
        LL_CHECK_EQ_INT(stored_version(coll, "fresh", NULL), 1);
    }
    /* findAndModify goes through the same guarded write. */
    mongoc_find_and_modify_opts_t *fam = mongoc_find_and_modify_opts_new();
    bson_t *update = BCON_NEW("$set", "{", "version", BCON_INT64(4), "}");
    mongoc_find_and_modify_opts_set_update(fam, update);
    mongoc_find_and_modify_opts_set_flags(fam, MONGOC_FIND_AND_MODIFY_RETURN_NEW);
    for (int round = 0; round < 2; round++) {
        bson_t *query = BCON_NEW("_id", BCON_UTF8("kinds"), "version", BCON_INT64(3));
        bson_t reply;
        bson_iter_t it, value;
        if (!mongoc_collection_find_and_modify_with_opts(coll, query, fam, &reply, &e)) {
            LL_FAIL_AT("findAndModify: %s", e.message);
        } else if (round == 0) { /* the new document */
            LL_CHECK(bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it) &&
                     bson_iter_recurse(&it, &value) && bson_iter_find(&value, "version") &&
                     bson_iter_as_int64(&value) == 4);
        } else { /* version 3 is gone: no document */
            LL_CHECK(bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_NULL(&it));
        }
        bson_destroy(&reply);
        bson_destroy(query);
    }
    bson_destroy(update);
    mongoc_find_and_modify_opts_destroy(fam);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(client);
}

/* ---- ledgerline's own writer: ll_read_model_save_head -------------------------------------- */

static ll_account_t account_at(const ll_account_t *base, int64_t version, int who) {
    ll_account_t a = *base;
    a.version = version;
    a.balance_minor = version * 100 + who; /* tells whose document the store holds */
    a.updated_at_us = base->opened_at_us + version;
    return a;
}

static int save(racer_t *r, ll_read_model_t *rm, int64_t version, int64_t prev, int who) {
    ll_account_t a = account_at(&r->race->base, version, who);
    return ll_read_model_save_head(rm, &a, (version + 1) / PAGE_V, prev, &r->err);
}

/* Both writers move the account from v to v + 32, each with its own picture. */
static void op_same_prev(racer_t *r) {
    r->rc = save(r, &r->rm, r->race->v + PAGE_V, r->race->v, r->who);
}

/* Writer 0 moves it 31 -> 63 -> 95 (the second step only after the first landed, as a writer that
 * reloads on a conflict would); writer 1 tries 31 -> 63 once. */
static void op_older_writer(racer_t *r) {
    r->rc = save(r, &r->rm, 63, 31, r->who);
    r->rc2 = r->who == 0 && r->rc == 0 ? save(r, &r->rm, 95, 63, r->who) : LL_EINVAL;
}

static void new_account(ll_account_t *a, uint64_t n) {
    ll_uuid_t id;
    memset(&id, 0, sizeof id);
    id.bytes[6] = 0x40, id.bytes[8] = 0x80;
    for (int i = 0; i < 6; i++) id.bytes[15 - i] = (uint8_t)(n >> (8 * i));
    ll_account_init(a, &id);
    a->status = LL_ACCOUNT_OPEN;
    snprintf(a->owner, sizeof a->owner, "race-%llu", (unsigned long long)n);
    snprintf(a->currency.code, sizeof a->currency.code, "EUR");
    a->opened_at_us = 1700000000000000;
}

/* Creates the account document at version (save_head with prev_version 0, an insert). */
static int create_head(ll_read_model_t *rm, const ll_account_t *base, int64_t version, ll_error_t *err) {
    ll_account_t a = *base;
    a.version = version;
    a.balance_minor = version * 100 + 9;
    return ll_read_model_save_head(rm, &a, (version + 1) / PAGE_V, 0, err);
}

static bool is_einval(int rc) {
    return rc == LL_EINVAL;
}

LL_TEST(test_two_read_model_writers_with_one_prev_version_one_wins) {
    race_t race;
    if (race_begin(t, &race, op_same_prev, "race", true) != 0) {
        race_end(&race);
        return;
    }
    ll_read_model_t *rm = &race.racers[0].rm; /* the main thread uses it only between trials */
    ll_error_t err = {""};
    char id[LL_UUID_TEXT_LEN + 1];
    new_account(&race.base, 1);
    ll_uuid_format(&race.base.account_id, id);
    int64_t v = 31;
    if (create_head(rm, &race.base, v, &err) != 0) LL_FAIL_AT("create: %s", err.msg);
    int two = 0, none = 0, wrong = 0, errors = 0, off = 0;
    for (int i = 0; t->failures == 0 && i < TRIALS; i++) {
        race.v = v;
        race_run(&race);
        int ra = race.racers[0].rc, rb = race.racers[1].rc;
        if ((ra != 0 && !is_einval(ra)) || (rb != 0 && !is_einval(rb))) {
            if (errors++ == 0)
                LL_FAIL_AT("save_head: %s", ra != 0 ? race.racers[0].err.msg : race.racers[1].err.msg);
            break;
        }
        two += ra == 0 && rb == 0;
        none += ra != 0 && rb != 0;
        int64_t balance = -1, now = stored_version(rm->accounts, id, &balance);
        off += now != v + PAGE_V;
        /* The stored document is the winner's. */
        if ((ra == 0) != (rb == 0)) wrong += balance != (v + PAGE_V) * 100 + (ra == 0 ? 0 : 1);
        if (now < v) break;
        v = now;
    }
    printf("  %d trials of two ll_read_model_save_head with one prev_version: %d with two winners, "
           "%d with none, %d holding the loser's document, %d ended off prev+32\n",
           TRIALS, two, none, wrong, off);
    LL_CHECK_EQ_INT(two, 0);
    LL_CHECK_EQ_INT(none, 0);
    LL_CHECK_EQ_INT(wrong, 0);
    LL_CHECK_EQ_INT(off, 0);
    LL_CHECK_EQ_INT(v, 31 + (int64_t)TRIALS * PAGE_V);
    race_end(&race);
}

LL_TEST(test_an_older_writer_never_moves_an_account_document_back) {
    race_t race;
    if (race_begin(t, &race, op_older_writer, "race", true) != 0) {
        race_end(&race);
        return;
    }
    ll_read_model_t *rm = &race.racers[0].rm;
    int two = 0, none = 0, back = 0, errors = 0, newer_won = 0;
    for (int i = 0; t->failures == 0 && i < TRIALS; i++) {
        ll_error_t err = {""};
        char id[LL_UUID_TEXT_LEN + 1];
        new_account(&race.base, 1000 + (uint64_t)i); /* a fresh account at 31 for each trial */
        ll_uuid_format(&race.base.account_id, id);
        if (create_head(rm, &race.base, 31, &err) != 0) {
            LL_FAIL_AT("create: %s", err.msg);
            break;
        }
        race.v = 31;
        race_run(&race);
        racer_t *a = &race.racers[0], *b = &race.racers[1];
        if ((a->rc != 0 && !is_einval(a->rc)) || (b->rc != 0 && !is_einval(b->rc)) ||
            (a->rc == 0 && a->rc2 != 0 && !is_einval(a->rc2))) {
            if (errors++ == 0) LL_FAIL_AT("save_head: %s / %s", a->err.msg, b->err.msg);
            break;
        }
        two += a->rc == 0 && b->rc == 0;
        none += a->rc != 0 && b->rc != 0;
        newer_won += a->rc == 0;
        /* What the store must hold: the newest version any writer was told it wrote. */
        int64_t want = a->rc == 0 && a->rc2 == 0 ? 95 : 63;
        int64_t balance = -1, now = stored_version(rm->accounts, id, &balance);
        back += now != want || (a->rc == 0 && a->rc2 != 0); /* 63 -> 95 has no rival: it must land */
        if (now == 63 && b->rc == 0 && a->rc != 0) back += balance != 63 * 100 + 1;
    }
    printf("  %d trials of 31->63->95 beside 31->63: %d with two winners of 31->63, %d with none, "
           "%d ending off the newest written version (the moving writer won %d)\n",
           TRIALS, two, none, back, newer_won);
    LL_CHECK_EQ_INT(two, 0);
    LL_CHECK_EQ_INT(none, 0);
    LL_CHECK_EQ_INT(back, 0);
    race_end(&race);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_racing_guarded_update_one_has_exactly_one_winner),
        LL_CASE(test_racing_increments_are_never_lost),
        LL_CASE(test_racing_update_many_modifies_each_document_once),
        LL_CASE(test_guarded_updates_keep_mongodb_counts_on_every_kind_of_value),
        LL_CASE(test_two_read_model_writers_with_one_prev_version_one_wins),
        LL_CASE(test_an_older_writer_never_moves_an_account_document_back),
    };
    mongoc_init();
    ll_error_t err = {""};
    int rc = 1;
    if (ll_config_load(&cfg, NULL, environ, &err) != 0) {
        fprintf(stderr, "config: %s\n", err.msg);
        printf("guarded_update_race: 0 passed, 1 failed\n");
    } else {
        mongoc_client_t *client = new_client();
        if (client != NULL) drop_db(client);
        rc = ll_test_main(argc, argv, "guarded_update_race", cases, LL_CASES(cases));
        if (client != NULL) drop_db(client);
        mongoc_client_destroy(client);
    }
    mongoc_cleanup();
    return rc;
}
