/* ll_rm_client.c - the read store's connections (ll_read_model.h): the one place a MongoDB
 * client is made. */
#include "ll_rm_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ll_rm_library_init(void) {
    mongoc_init();
}

void ll_rm_library_cleanup(void) {
    mongoc_cleanup();
}

ll_rm_client_t *ll_rm_client_new(const char *uri, const char *database, const char *appname, ll_error_t *err) {
    bson_error_t be;
    if (strlen(database) >= sizeof((ll_rm_client_t *)0)->database) {
        ll_error_set(err, LL_EINVAL, "mongo_database: too long");
        return NULL;
    }
    mongoc_uri_t *parsed = mongoc_uri_new_with_error(uri, &be);
    if (parsed == NULL) {
        ll_error_set(err, LL_EINVAL, "mongo_uri: %s", be.message);
        return NULL;
    }
    ll_rm_client_t *c = calloc(1, sizeof *c);
    if (c == NULL || (c->mongo = mongoc_client_new_from_uri(parsed)) == NULL) {
        ll_error_set(err, c ? LL_EINVAL : LL_ENOMEM, c ? "mongo_uri: no client for it" : "out of memory");
        free(c);
        mongoc_uri_destroy(parsed);
        return NULL;
    }
    mongoc_uri_destroy(parsed);
    if (appname != NULL) mongoc_client_set_appname(c->mongo, appname);
    c->owned = 1;
    snprintf(c->database, sizeof c->database, "%s", database);
    return c;
}

void ll_rm_client_free(ll_rm_client_t *c) {
    if (c == NULL) return;
    if (c->owned) mongoc_client_destroy(c->mongo);
    free(c);
}

ll_rm_client_t ll_rm_client_borrow(mongoc_client_t *mongo, const char *database) {
    ll_rm_client_t c = {mongo, 0, ""};
    snprintf(c.database, sizeof c.database, "%s", database);
    return c;
}

int ll_rm_client_ping(ll_rm_client_t *c, ll_error_t *err) {
    bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
    bson_error_t be;
    bool ok = mongoc_client_command_simple(c->mongo, "admin", ping, NULL, NULL, &be);
    bson_destroy(ping);
    return ok ? 0 : ll_rm_mongo_error(err, "ping", &be);
}
