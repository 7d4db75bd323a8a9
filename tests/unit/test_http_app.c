/* Unit tests of lib/ll_http_app.c's job life: a job is released only when both the work's
 * reference and the request's (h2o disposing the request's pool) are gone, in either order,
 * and job->req is NULL once the request is. */
#include "ll_http_app.h"
#include "ll_test.h"

#include <string.h>

typedef struct {
    ll_http_job_t life;
    int *released;
} job_t;

static void release(ll_http_job_t *life) {
    (*H2O_STRUCT_FROM_MEMBER(job_t, life, life)->released)++;
}

LL_TEST(test_work_first_then_request) {
    static h2o_req_t req;
    int released = 0;
    job_t job = {.released = &released};
    h2o_mem_init_pool(&req.pool);
    LL_REQUIRE(ll_http_job_attach(&job.life, &req, release) == 0);
    LL_CHECK(job.life.req == &req);
    ll_http_job_unref(&job.life); /* the work's answer reached the loop */
    LL_CHECK_EQ_INT(released, 0);
    h2o_mem_clear_pool(&req.pool); /* h2o disposes the request */
    LL_CHECK_EQ_INT(released, 1);
}

LL_TEST(test_request_first_then_work) {
    static h2o_req_t req;
    int released = 0;
    job_t job = {.released = &released};
    h2o_mem_init_pool(&req.pool);
    LL_REQUIRE(ll_http_job_attach(&job.life, &req, release) == 0);
    h2o_mem_clear_pool(&req.pool); /* the client went away while the work ran */
    LL_CHECK(job.life.req == NULL);
    LL_CHECK_EQ_INT(released, 0);
    ll_http_job_unref(&job.life);
    LL_CHECK_EQ_INT(released, 1);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {LL_CASE(test_work_first_then_request),
                                           LL_CASE(test_request_first_then_work)};
    return ll_test_main(argc, argv, "http_app", cases, LL_CASES(cases));
}
