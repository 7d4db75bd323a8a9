/* ll_rate_limit.c - see ll_rate_limit.h. Tokens are counted in millionths so refill is exact
 * integer arithmetic: a bucket gains per_second millionths per microsecond. */
#include "ll_rate_limit.h"

#include "ll_hash.h"

#include <stdlib.h>
#include <string.h>

#define WAYS     4
#define ONE      1000000LL /* one request, in millionths */

typedef struct {
    char key[LL_RATE_KEY_BYTES_MAX + 1];
    int64_t tokens; /* millionths */
    int64_t last_us; /* last refill */
    int64_t seen_us; /* last request: the least recently seen key is evicted first */
    int used;
} slot_t;

struct ll_rate_limit {
    int64_t per_second, burst;
    size_t sets;
    slot_t *slots; /* sets * WAYS */
};

ll_rate_limit_t *ll_rate_limit_create(int64_t per_second, int64_t burst, size_t slots) {
    ll_rate_limit_t *rl = calloc(1, sizeof *rl);
    if (rl == NULL) return NULL;
    rl->per_second = per_second < 0 ? 0 : per_second;
    rl->burst = burst < 1 ? 1 : burst;
    rl->sets = slots / WAYS + 1;
    rl->slots = calloc(rl->sets * WAYS, sizeof *rl->slots);
    if (rl->slots == NULL) {
        free(rl);
        return NULL;
    }
    return rl;
}

void ll_rate_limit_destroy(ll_rate_limit_t *rl) {
    if (rl == NULL) return;
    free(rl->slots);
    free(rl);
}

/* An attacker choosing keys can at worst share a set with others (ll_fnv1a), and sharing a set
 * only ever refreshes buckets. */
static uint64_t hash(const char *s) {
    return ll_fnv1a(s, strlen(s));
}

static void refill(const ll_rate_limit_t *rl, slot_t *s, int64_t now_us) {
    int64_t cap = rl->burst * ONE, dt = now_us - s->last_us;
    if (dt > 0) {
        /* Saturate instead of overflowing: a long idle time simply fills the bucket. */
        if (dt > cap / rl->per_second + 1)
            s->tokens = cap;
        else
            s->tokens += dt * rl->per_second;
        if (s->tokens > cap) s->tokens = cap;
        s->last_us = now_us;
    }
}

int64_t ll_rate_limit_take(ll_rate_limit_t *rl, const char *key, int64_t now_us) {
    if (rl->per_second == 0) return 0;
    slot_t *set = &rl->slots[(hash(key) % rl->sets) * WAYS], *s = NULL;
    for (int i = 0; i < WAYS && s == NULL; i++)
        if (set[i].used && strcmp(set[i].key, key) == 0) s = &set[i];
    if (s == NULL) {
        slot_t *victim = NULL;
        for (int i = 0; i < WAYS && victim == NULL; i++) {
            if (!set[i].used) {
                victim = &set[i];
                break;
            }
            refill(rl, &set[i], now_us);
            if (set[i].tokens == rl->burst * ONE) victim = &set[i];
        }
        if (victim == NULL) {
            victim = &set[0];
            for (int i = 1; i < WAYS; i++)
                if (set[i].seen_us < victim->seen_us) victim = &set[i];
        }
        s = victim;
        size_t n = strlen(key);
        if (n > LL_RATE_KEY_BYTES_MAX) n = LL_RATE_KEY_BYTES_MAX;
        memcpy(s->key, key, n);
        s->key[n] = '\0';
        s->tokens = rl->burst * ONE;
        s->last_us = now_us;
        s->used = 1;
    }
    refill(rl, s, now_us);
    s->seen_us = now_us;
    if (s->tokens >= ONE) {
        s->tokens -= ONE;
        return 0;
    }
    int64_t missing = ONE - s->tokens, per_s = rl->per_second * ONE;
    return (missing + per_s - 1) / per_s; /* whole seconds, rounded up; at least 1 */
}
