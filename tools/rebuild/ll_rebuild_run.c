/* ll_rebuild_run.c - one rebuild from start to end: open the new generation, build it, verify
 * it, catch it up, record where projectors resume, switch and settle; then the findings and
 * the summary. A partial or dry run, or a failed one, drops the generation: it never serves. */
#include "ll_clock.h"
#include "ll_rebuild.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int rebuild_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("ledgerline-rebuild: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* Generation N+1 of the active N, empty, with the builder and the catch-up's writes ready. */
static int open_generation(rebuild_t *r, ll_error_t *err) {
    int64_t layout = 0;
    int rc = 0;
    if (ll_read_model_active_any_layout(r->mongo, &r->from_gen, &layout, err) != 0)
        rc = rebuild_fail(EXIT_USAGE, "read models: %s", err->msg);
    else if (layout != LL_READ_MODEL_LAYOUT)
        fprintf(stderr, "generation %lld has layout %lld: building layout %d\n", (long long)r->from_gen,
                (long long)layout, LL_READ_MODEL_LAYOUT);
    r->to_gen = r->from_gen + 1;
    if (rc != 0) return rc;
    fprintf(stderr, "rebuilding generation %lld from %s while generation %lld serves\n", (long long)r->to_gen,
            r->o->from, (long long)r->from_gen);
    /* A generation above the active one is a rebuild's that did not finish: start over. */
    if (ll_read_model_drop_generation(r->mongo, r->to_gen, err) != 0 ||
        (r->rm = ll_read_model_new(r->mongo, r->to_gen, err)) == NULL)
        return rebuild_fail(EXIT_USAGE, "new generation: %s", err->msg);
    if ((r->writes = ll_rm_writes_new()) == NULL ||
        (r->builder = ll_rm_builder_start(r->cfg->mongo_uri, r->cfg->mongo_database, r->to_gen, r->o->writers,
                                          err)) == NULL)
        return rebuild_fail(EXIT_USAGE, "new generation: %s", r->writes ? err->msg : "out of memory");
    return 0;
}

/* The build from the source; every write lands before the verification reads them back. */
static int build(rebuild_t *r, ll_error_t *err) {
    int b = strcmp(r->o->from, "store") == 0
                ? (rebuild_store_snapshot(r, err) || rebuild_store_stream(r, "build", rebuild_build_row, err))
                : rebuild_build_from_kafka(r, err);
    if (b == 0) b = rebuild_build_finish_accounts(r, err);
    ll_rm_builder_counts(r->builder, &r->docs[0], &r->docs[1], &r->docs[2]);
    ll_error_t werr = {""};
    int w = ll_rm_builder_finish(r->builder, &werr);
    r->builder = NULL;
    if (b == 0 && w != 0) *err = werr, b = w;
    if (b == 0) return 0;
    return r->n_diffs ? EXIT_REFUSED : rebuild_fail(EXIT_USAGE, "build: %s", err->msg);
}

/* Catch up, record where projectors resume, switch (*switched), settle. Returns the exit status. */
static int switch_over(rebuild_t *r, int *switched, ll_error_t *err) {
    if (rebuild_catch_up(r, "catch-up", 0, err) != 0)
        return rebuild_fail(EXIT_USAGE, "catch-up: %s", err->msg);
    if (ll_read_model_save_resume(r->mongo, r->to_gen, r->cfg->kafka_topic_events, r->resume, r->n_resume,
                                  err) != 0)
        return rebuild_fail(EXIT_USAGE, "record where projectors resume: %s", err->msg);
    if (ll_read_model_switch(r->mongo, r->from_gen, r->to_gen, ll_clock_wall_us(), err) != 0)
        return rebuild_fail(EXIT_USAGE, "switch: %s", err->msg);
    *switched = 1;
    fprintf(stderr, "switched to generation %lld; catching up for %d s while readers move over\n",
            (long long)r->to_gen, r->o->settle_s);
    if (rebuild_catch_up(r, "settle", ll_clock_ms() + (int64_t)r->o->settle_s * 1000, err) != 0)
        return rebuild_fail(EXIT_USAGE, "settle: %s (the switch stands; run again to finish)", err->msg);
    return 0;
}

static void summary(const rebuild_t *r, int verified, int switched, int64_t seconds_ms) {
    double s = (double)seconds_ms / 1e3;
    double rate = s > 0 ? (double)r->events / s : 0;
    if (r->o->json) {
        printf("{\"source\":\"%s\",\"from_generation\":%lld,\"generation\":%lld,\"position\":%lld,"
               "\"events\":%lld,\"duplicates_skipped\":%lld,\"accounts\":%zu,\"build_seconds\":%.3f,"
               "\"events_per_second\":%.0f,\"writers\":%d,\"documents\":{\"events\":%zu,\"pages\":%zu,"
               "\"accounts\":%zu},\"verified\":%s,\"differences\":%ld,\"caught_up_events\":%lld,"
               "\"switched\":%s}\n",
               r->o->from, (long long)r->from_gen, (long long)r->to_gen, (long long)r->position,
               (long long)r->events, (long long)r->duplicates, ll_uuid_map_count(&r->built), s, rate,
               r->o->writers, r->docs[0], r->docs[1], r->docs[2], verified ? "true" : "false", r->n_diffs,
               (long long)r->caught_up, switched ? "true" : "false");
    } else {
        printf("generation %lld from %s up to position %lld: %lld events, %zu accounts in %.1f s "
               "(%.0f events/s); %s; %lld events caught up; %s\n",
               (long long)r->to_gen, r->o->from, (long long)r->position, (long long)r->events,
               ll_uuid_map_count(&r->built), s, rate, verified ? "verified" : "VERIFICATION FAILED",
               (long long)r->caught_up,
               switched   ? "switched: generation is now active"
               : verified ? "not switched (dry run or partial)"
                          : "not switched");
    }
    fflush(stdout);
}

int rebuild_run(rebuild_t *r, ll_error_t *err) {
    const options_t *o = r->o;
    int partial = o->account != NULL || o->to_position > 0, verified = 0, switched = 0;
    int64_t t0 = ll_clock_ms(), build_ms = 0;
    int rc = open_generation(r, err);
    if (rc == 0) {
        rc = build(r, err);
        build_ms = ll_clock_ms() - t0;
    }
    if (rc == 0) {
        if (rebuild_verify(r, err) != 0) rc = rebuild_fail(EXIT_USAGE, "verify: %s", err->msg);
        verified = rc == 0 && r->n_diffs == 0;
        if (rc == 0 && !verified) rc = EXIT_REFUSED;
    }
    if (r->pg) ll_pg_exec(r->pg, "COMMIT", err); /* the snapshot's read-only transaction */
    if (rc == 0 && !o->dry_run && !partial) rc = switch_over(r, &switched, err);
    rebuild_print_differences(r);
    if (!switched && r->rm != NULL && (o->dry_run || partial || rc != 0))
        ll_read_model_drop_generation(r->mongo, r->to_gen, err); /* never serves */
    if (r->rm != NULL) summary(r, verified, switched, build_ms);
    return rc;
}
