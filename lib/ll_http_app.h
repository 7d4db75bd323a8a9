/* ll_http_app.h - what the command service's and the query API's objects share: the
 * configuration and access check they are made with, and the life of a request's job.
 *
 * A job is work for a request that finishes off the loop (a writer, a worker, a timer): it
 * holds two references, the request's (dropped when h2o disposes the request, which then sets
 * job->req to NULL: the client is gone, answer nobody) and the work's (dropped when the work's
 * answer reached the loop). The job is released at the last one. Loop thread only.
 */
#ifndef LL_HTTP_APP_H
#define LL_HTTP_APP_H

#include "ll_access.h"
#include "ll_config.h"
#include "ll_error.h"

#include <h2o.h>
#include <stddef.h>

/* The head of an API object. */
typedef struct ll_http_app {
    const ll_config_t *cfg; /* borrowed for the API's life */
    ll_access_t *access;
} ll_http_app_t;

/* A zeroed API object of size bytes (its first member an ll_http_app_t) with cfg and its access
 * check. NULL with err set when the access check cannot be made or memory is short. */
void *ll_http_app_create(size_t size, const ll_config_t *cfg, ll_error_t *err);

/* Frees what ll_http_app_create made (the object's own parts first, by its owner). NULL is fine. */
void ll_http_app_destroy(ll_http_app_t *app);

typedef struct ll_http_job {
    h2o_req_t *req; /* NULL once h2o disposed the request */
    int refs;
    void (*release)(struct ll_http_job *job); /* frees the job at the last reference */
} ll_http_job_t;

/* Ties job to req: the request's reference and the work's. Returns 0, or -1 when out of memory
 * (the job is untouched and not tied). */
int ll_http_job_attach(ll_http_job_t *job, h2o_req_t *req, void (*release)(ll_http_job_t *job));

/* Drops a reference: the work's when its answer reached the loop (or it never started). */
void ll_http_job_unref(ll_http_job_t *job);

#endif
