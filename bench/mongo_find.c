/* mongo_find: the baseline for GET /v1/accounts/{id}/transactions, a raw libmongoc loop doing
 * the MongoDB work of one statement page and nothing else: load the account with the items of
 * its unsealed pages (ll_read_model_load, as the handler does to check it exists, who owns it
 * and how far it is), then the sealed pages below until --limit + 1 items are found. One page
 * at a time on one connection, over random accounts of the file given.
 *
 * Usage: mongo_find --uri URI --database DB --accounts FILE [--pages 2000] [--limit 50]
 * FILE: one account id per line (the accounts bench_queries.py opened).
 * Prints one JSON line: {"pages":N,"seconds":S,"p50_us":..,"p99_us":..}. Exit 1 on failure. */
#include "ll_cli.h"
#include "ll_clock.h"
#include "ll_limits.h"
#include "ll_rm_store.h" /* the collections, to seed and inspect documents */
#include "ll_stats.h"
#include "ll_uuid.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ACCOUNTS_MAX 100000

/* Reads up to ACCOUNTS_MAX ids from path. Returns how many, or -1. */
static int read_accounts(const char *path, ll_uuid_t *ids) {
    FILE *f = fopen(path, "r");
    char line[128];
    int n = 0;
    if (f == NULL) return -1;
    while (n < ACCOUNTS_MAX && fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] != '\0' && ll_uuid_parse(line, false, &ids[n]) == 0) n++;
    }
    fclose(f);
    return n;
}

static int count_item(void *ctx, int64_t version, const char *json, uint32_t len) {
    (void)version, (void)json, (void)len;
    int *left = ctx;
    return --*left <= 0;
}

/* One statement page of account id. Returns the items read, or -1. */
static int page(ll_read_model_t *rm, const ll_uuid_t *id, int limit) {
    ll_error_t err = {""};
    ll_rm_account_t acc;
    ll_rm_items_t items = {0};
    bool found = false;
    if (ll_read_model_load(rm, id, &acc, &found, &items, &err) != 0 || !found) {
        fprintf(stderr, "mongo_find: account: %s\n", found ? err.msg : "not found");
        ll_rm_items_free(&items);
        return -1;
    }
    int left = limit + 1 - (int)items.n;
    ll_rm_items_free(&items);
    for (int64_t pg = acc.head_page - 1; pg >= 0 && left > 0; pg--)
        if (ll_read_model_sealed_page(rm, id, pg, INT64_MAX, count_item, &left, &found, &err) != 0 ||
            !found) {
            fprintf(stderr, "mongo_find: page: %s\n", found ? err.msg : "not found");
            return -1;
        }
    return limit + 1 - (left > 0 ? left : 0);
}

static const char usage[] =
    "usage: mongo_find --uri URI --database DB --accounts FILE [--pages N] [--limit 50]\n";

int main(int argc, char **argv) {
    const char *uri_text = NULL, *database = NULL, *accounts_path = NULL;
    int pages = 2000, limit = LL_PAGE_LIMIT_DEFAULT, bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (!strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--uri") && i + 1 < argc)
            uri_text = argv[++i];
        else if (!strcmp(argv[i], "--database") && i + 1 < argc)
            database = argv[++i];
        else if (!strcmp(argv[i], "--accounts") && i + 1 < argc)
            accounts_path = argv[++i];
        else if (!strcmp(argv[i], "--pages") && i + 1 < argc)
            bad = ll_cli_int_arg(argv[++i], 1, 10000000, &pages);
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
            bad = ll_cli_int_arg(argv[++i], 1, LL_PAGE_LIMIT_MAX, &limit);
        else
            bad = 1;
    }
    if (bad || uri_text == NULL || database == NULL || accounts_path == NULL) {
        fputs(usage, stderr);
        return 2;
    }
    ll_uuid_t *ids = calloc(ACCOUNTS_MAX, sizeof *ids);
    int64_t *lat = calloc((size_t)pages, sizeof *lat);
    int n_ids = ids ? read_accounts(accounts_path, ids) : -1;
    if (n_ids <= 0 || lat == NULL) {
        fprintf(stderr, "mongo_find: no account ids in %s\n", accounts_path);
        return 1;
    }
    mongoc_init();
    bson_error_t e;
    ll_error_t err = {""};
    mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_text, &e);
    mongoc_client_t *client = uri ? mongoc_client_new_from_uri(uri) : NULL;
    ll_read_model_t rm;
    ll_rm_client_t borrowed = ll_rm_client_borrow(client, database);
    int64_t generation = 0;
    int rc = client == NULL ? 1 : 0;
    if (rc == 0 && (ll_read_model_active_generation(&borrowed, &generation, &err) != 0 ||
                    ll_read_model_open(&rm, client, database, generation, &err) != 0)) {
        fprintf(stderr, "mongo_find: %s\n", err.msg);
        rc = 1;
    }
    srand((unsigned)time(NULL));
    int64_t t0 = ll_clock_us();
    for (int i = 0; i < pages && rc == 0; i++) {
        int64_t s = ll_clock_us();
        if (page(&rm, &ids[rand() % n_ids], limit) < 0) rc = 1;
        lat[i] = ll_clock_us() - s;
    }
    double seconds = (double)(ll_clock_us() - t0) / 1e6;
    if (client != NULL && generation > 0 && rc == 0) ll_read_model_close(&rm);
    if (rc == 0) {
        ll_stats_sort(lat, (size_t)pages);
        printf("{\"pages\":%d,\"seconds\":%.3f,\"p50_us\":%lld,\"p99_us\":%lld}\n", pages, seconds,
               (long long)ll_stats_percentile(lat, (size_t)pages, 50),
               (long long)ll_stats_percentile(lat, (size_t)pages, 99));
    }
    free(lat);
    free(ids);
    if (client) mongoc_client_destroy(client);
    if (uri) mongoc_uri_destroy(uri);
    mongoc_cleanup();
    return rc;
}
