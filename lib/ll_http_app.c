/* ll_http_app.c - see ll_http_app.h. */
#include "ll_http_app.h"

#include <stdlib.h>

void *ll_http_app_create(size_t size, const ll_config_t *cfg, ll_error_t *err) {
    ll_access_t *access = ll_access_create(cfg, err);
    if (access == NULL) return NULL;
    ll_http_app_t *app = size >= sizeof *app ? calloc(1, size) : NULL;
    if (app == NULL) {
        ll_access_destroy(access);
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    app->cfg = cfg;
    app->access = access;
    return app;
}

void ll_http_app_destroy(ll_http_app_t *app) {
    if (app == NULL) return;
    ll_access_destroy(app->access);
    free(app);
}

static void on_req_dispose(void *p) {
    ll_http_job_t *job = *(ll_http_job_t **)p;
    job->req = NULL;
    ll_http_job_unref(job);
}

int ll_http_job_attach(ll_http_job_t *job, h2o_req_t *req, void (*release)(ll_http_job_t *job)) {
    /* h2o's pool memory with a destructor: it runs when h2o disposes the request. */
    ll_http_job_t **slot = h2o_mem_alloc_shared(&req->pool, sizeof *slot, on_req_dispose);
    if (slot == NULL) return -1;
    *slot = job;
    job->req = req;
    job->refs = 2;
    job->release = release;
    return 0;
}

void ll_http_job_unref(ll_http_job_t *job) {
    if (--job->refs == 0) job->release(job);
}
