/* ll_rebuild_gc.c - --gc: drops generations retired longer than --grace-seconds ago, and those
 * above the active one an interrupted rebuild left. */
#include "ll_clock.h"
#include "ll_rebuild.h"

#include <stdio.h>

#define GENERATIONS_MAX 64

/* 1 when generation g is to be dropped, 0 to keep, -1 with err set. Says which on stderr. */
static int gc_one(rebuild_t *r, int64_t g, int64_t active, int64_t now_us, ll_error_t *err) {
    int64_t retired_us = 0;
    if (g < active && ll_read_model_retired_at(r->mongo, g, &retired_us, err)) return -1;
    /* Above the active one: left by an interrupted rebuild (none runs: we hold the lock). */
    int old = g > active || now_us - retired_us >= (int64_t)r->o->grace_s * 1000000;
    fprintf(stderr, "generation %lld: %s\n", (long long)g,
            g > active ? "left by an interrupted rebuild: dropped"
            : old      ? "retired past the grace period: dropped"
                       : "retired within the grace period: kept");
    return old;
}

int rebuild_gc(rebuild_t *r, ll_error_t *err) {
    int64_t gens[GENERATIONS_MAX], active, layout;
    size_t n = 0;
    if (ll_read_model_active_any_layout(r->mongo, &active, &layout, err) != 0 ||
        ll_read_model_generations(r->mongo, gens, GENERATIONS_MAX, &n, err) != 0)
        return LL_EIO;
    int64_t now_us = ll_clock_wall_us();
    int dropped = 0;
    for (size_t i = 0; i < n; i++) {
        if (gens[i] == active) continue;
        int old = gc_one(r, gens[i], active, now_us, err);
        if (old < 0 || (old && ll_read_model_drop_generation(r->mongo, gens[i], err) != 0)) return LL_EIO;
        dropped += old;
    }
    if (r->o->json)
        printf("{\"active_generation\":%lld,\"generations_dropped\":%d}\n", (long long)active, dropped);
    else
        printf("active generation %lld; %d generation(s) dropped\n", (long long)active, dropped);
    return 0;
}
