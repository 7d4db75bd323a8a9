/* ll_account_view.c - see ll_account_view.h. A chained hash table of entries under one mutex. */
#include "ll_account_view.h"

#include "ll_clock.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct entry {
    struct entry *next;
    int64_t seen_version; /* highest version the tail has seen for this account */
    int has_state;
    ll_account_t state; /* valid when has_state; state.version >= seen_version */
} entry_t;

struct ll_account_view {
    pthread_mutex_t mu;
    pthread_cond_t moved; /* broadcast after every applied batch */
    entry_t **buckets;
    size_t n_buckets; /* a power of two */
    size_t accounts_max;
    ll_account_view_stats_t st;
};

static size_t bucket_of(const ll_account_view_t *v, const ll_uuid_t *id) {
    return (size_t)(ll_uuid_hash(id) >> 17) & (v->n_buckets - 1);
}

static entry_t *find(const ll_account_view_t *v, const ll_uuid_t *id) {
    for (entry_t *e = v->buckets[bucket_of(v, id)]; e != NULL; e = e->next)
        if (ll_uuid_equal(&e->state.account_id, id)) return e;
    return NULL;
}

/* The entry of id, created empty when there is room. NULL when full or out of memory. */
static entry_t *find_or_add(ll_account_view_t *v, const ll_uuid_t *id) {
    entry_t *e = find(v, id);
    if (e != NULL) return e;
    if (v->st.entries >= v->accounts_max || (e = calloc(1, sizeof *e)) == NULL) {
        v->st.saturated++;
        return NULL;
    }
    ll_account_init(&e->state, id);
    size_t b = bucket_of(v, id);
    e->next = v->buckets[b];
    v->buckets[b] = e;
    v->st.entries++;
    return e;
}

static void drop_state(ll_account_view_t *v, entry_t *e) {
    if (!e->has_state) return;
    e->has_state = 0;
    v->st.states--;
}

ll_account_view_t *ll_account_view_create(size_t accounts_max) {
    assert(accounts_max >= 1);
    ll_account_view_t *v = calloc(1, sizeof *v);
    if (v == NULL) return NULL;
    /* About two entries per bucket at the maximum; at most 2^20 buckets (8 MiB). */
    v->n_buckets = 1024;
    while (v->n_buckets < accounts_max / 2 && v->n_buckets < ((size_t)1 << 20)) v->n_buckets *= 2;
    v->accounts_max = accounts_max;
    pthread_condattr_t ca;
    int ok = (v->buckets = calloc(v->n_buckets, sizeof *v->buckets)) != NULL;
    ok = ok && pthread_condattr_init(&ca) == 0;
    ok = ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&v->moved, &ca) == 0;
    if (!ok || pthread_mutex_init(&v->mu, NULL) != 0) {
        free(v->buckets);
        free(v);
        return NULL;
    }
    pthread_condattr_destroy(&ca);
    return v;
}

void ll_account_view_destroy(ll_account_view_t *v) {
    if (v == NULL) return;
    for (size_t b = 0; b < v->n_buckets; b++) {
        for (entry_t *e = v->buckets[b], *next; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    }
    pthread_cond_destroy(&v->moved);
    pthread_mutex_destroy(&v->mu);
    free(v->buckets);
    free(v);
}

void ll_account_view_set_ready(ll_account_view_t *v) {
    pthread_mutex_lock(&v->mu);
    v->st.ready = 1;
    pthread_mutex_unlock(&v->mu);
}

void ll_account_view_apply(ll_account_view_t *v, const ll_event_t *events, size_t n) {
    pthread_mutex_lock(&v->mu);
    for (size_t i = 0; i < n; i++) {
        const ll_event_t *ev = &events[i];
        entry_t *e = find_or_add(v, &ev->account_id);
        if (e == NULL) continue; /* full: this account is served from the read model */
        int first_seen = e->seen_version == 0;
        if (ev->version > e->seen_version) e->seen_version = ev->version;
        if (!e->has_state) {
            /* An account's whole stream from its first event passes here: fold it from empty,
             * as a rebuild would, instead of waiting for a read to fill it from the read model. */
            if (!first_seen || ev->version != 1 || ev->type != LL_EVENT_ACCOUNT_OPENED) continue;
            ll_account_init(&e->state, &ev->account_id);
            e->has_state = 1;
            v->st.states++;
        }
        ll_error_t why = {""};
        ll_evolve_t r = ll_account_evolve(&e->state, ev, &why);
        if (r == LL_EVOLVE_OK) {
            v->st.applied++;
        } else if (r == LL_EVOLVE_DUPLICATE) {
            v->st.duplicates++;
        } else {
            /* A gap or a refused event: never guess; the read model answers until a fill that
             * has caught up (the projector raises the alarm). */
            drop_state(v, e);
            v->st.dropped++;
        }
        assert(!e->has_state || e->state.version >= e->seen_version);
    }
    pthread_cond_broadcast(&v->moved);
    pthread_mutex_unlock(&v->mu);
}

/* With the lock held. */
static ll_view_result_t lookup(ll_account_view_t *v, const ll_uuid_t *id, int64_t min_version,
                               ll_account_t *out) {
    const entry_t *e = find(v, id);
    if (e == NULL || !e->has_state) return LL_VIEW_MISS;
    if (e->state.version < min_version) return LL_VIEW_BEHIND;
    *out = e->state;
    return LL_VIEW_HIT;
}

static void count(ll_account_view_t *v, ll_view_result_t r) {
    if (r == LL_VIEW_HIT)
        v->st.hits++;
    else
        v->st.misses++;
}

ll_view_result_t ll_account_view_get(ll_account_view_t *v, const ll_uuid_t *id, int64_t min_version,
                                     ll_account_t *out) {
    pthread_mutex_lock(&v->mu);
    ll_view_result_t r = lookup(v, id, min_version, out);
    count(v, r);
    pthread_mutex_unlock(&v->mu);
    return r;
}

ll_view_result_t ll_account_view_wait(ll_account_view_t *v, const ll_uuid_t *id, int64_t min_version,
                                      int64_t deadline_ms, ll_account_t *out) {
    pthread_mutex_lock(&v->mu);
    ll_view_result_t r;
    while ((r = lookup(v, id, min_version, out)) == LL_VIEW_BEHIND) {
        int64_t left_ms = deadline_ms - ll_clock_ms();
        if (left_ms <= 0) break;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)(left_ms / 1000);
        until.tv_nsec += (long)(left_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&v->moved, &v->mu, &until); /* a timeout is seen by the loop */
    }
    count(v, r);
    pthread_mutex_unlock(&v->mu);
    return r;
}

int ll_account_view_peek(ll_account_view_t *v, const ll_uuid_t *id, ll_account_t *out) {
    pthread_mutex_lock(&v->mu);
    const entry_t *e = find(v, id);
    int held = e != NULL && e->has_state;
    if (held) *out = e->state;
    pthread_mutex_unlock(&v->mu);
    return held;
}

void ll_account_view_fill(ll_account_view_t *v, int64_t generation, const ll_account_t *a) {
    assert(a->version >= 1);
    pthread_mutex_lock(&v->mu);
    if (generation > v->st.generation) {
        /* A rebuild switched generations: what the old one gave may be what it corrected. */
        for (size_t b = 0; b < v->n_buckets; b++)
            for (entry_t *e = v->buckets[b]; e != NULL; e = e->next) drop_state(v, e);
        v->st.generation = generation;
    }
    entry_t *e = NULL;
    if (v->st.ready && generation == v->st.generation) e = find_or_add(v, &a->account_id);
    if (e != NULL && a->version >= e->seen_version && (!e->has_state || a->version > e->state.version)) {
        e->state = *a;
        if (!e->has_state) v->st.states++;
        e->has_state = 1;
        v->st.fills++;
    } else if (e == NULL || a->version < e->seen_version) {
        v->st.fills_refused++;
    }
    pthread_mutex_unlock(&v->mu);
}

void ll_account_view_stats(ll_account_view_t *v, ll_account_view_stats_t *out) {
    pthread_mutex_lock(&v->mu);
    *out = v->st;
    pthread_mutex_unlock(&v->mu);
}
