/* ll_account_view.c - see ll_account_view.h. Entries by account id (ll_uuid_map, pointers:
 * the LRU list links entries, so they must not move) under one mutex. */
#include "ll_account_view.h"

#include "ll_rm_layout.h"
#include "ll_uuid_map.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    int64_t seen_version;       /* highest version the tail has seen for this account */
    ll_view_position_t seen_at; /* where it read seen_version; offset -1: not known */
    int has_state;
    ll_account_t state; /* valid when has_state; state.version >= seen_version */
    /* The newest movements up to state.version (NULL: none held), on the LRU list. */
    ll_recent_movements_t *recent;
    struct entry *lru_prev, *lru_next;
} entry_t;

struct ll_account_view {
    pthread_mutex_t mu;
    ll_uuid_map_t entries; /* account id -> entry_t * */
    size_t accounts_max;
    entry_t lru;             /* sentinel: lru.lru_next is the most recently used */
    size_t recent_bytes_max; /* 0: no movements held */
    ll_account_view_stats_t st;
};

/* ---- movements held, under a memory budget ------------------------------------------------- */

static void lru_unlink(entry_t *e) {
    e->lru_prev->lru_next = e->lru_next;
    e->lru_next->lru_prev = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_front(ll_account_view_t *v, entry_t *e) {
    if (e->lru_prev != NULL) lru_unlink(e);
    e->lru_next = v->lru.lru_next;
    e->lru_prev = &v->lru;
    v->lru.lru_next->lru_prev = e;
    v->lru.lru_next = e;
}

static void recent_drop(ll_account_view_t *v, entry_t *e) {
    if (e->recent == NULL) return;
    v->st.recent_bytes -= ll_recent_movements_bytes(e->recent);
    v->st.recent_accounts--;
    ll_recent_movements_free(e->recent);
    e->recent = NULL;
    lru_unlink(e);
}

/* Forgets the least recently used movements until the budget holds; keep's go last. */
static void recent_trim(ll_account_view_t *v, entry_t *keep) {
    while (v->st.recent_bytes > v->recent_bytes_max && v->lru.lru_prev != &v->lru) {
        entry_t *victim = v->lru.lru_prev;
        if (victim == keep && victim->lru_prev != &v->lru) victim = victim->lru_prev;
        recent_drop(v, victim);
        v->st.recent_evicted++;
    }
}

/* Starts holding e's movements from from_version on. */
static void recent_start(ll_account_view_t *v, entry_t *e, int64_t from_version) {
    recent_drop(v, e);
    if (v->recent_bytes_max == 0 || (e->recent = ll_recent_movements_new(from_version)) == NULL) return;
    v->st.recent_bytes += ll_recent_movements_bytes(e->recent);
    v->st.recent_accounts++;
    lru_front(v, e);
    recent_trim(v, e);
}

/* Adds a movement to e's held ones (json: its item); a failure forgets them. */
static void recent_add(ll_account_view_t *v, entry_t *e, int64_t version, const char *json, size_t len) {
    size_t before = ll_recent_movements_bytes(e->recent);
    if (ll_recent_movements_add(e->recent, version, json, len) != 0) {
        recent_drop(v, e);
        return;
    }
    v->st.recent_bytes += ll_recent_movements_bytes(e->recent) - before;
    recent_trim(v, e);
}

static entry_t *find(const ll_account_view_t *v, const ll_uuid_t *id) {
    entry_t **e = ll_uuid_map_find(&v->entries, id);
    return e != NULL ? *e : NULL;
}

/* The entry of id, created empty when there is room. NULL when full or out of memory. */
static entry_t *find_or_add(ll_account_view_t *v, const ll_uuid_t *id) {
    entry_t *e = find(v, id);
    if (e != NULL) return e;
    entry_t **at = NULL;
    if (v->st.entries >= v->accounts_max || (e = calloc(1, sizeof *e)) == NULL ||
        (at = ll_uuid_map_insert(&v->entries, id, NULL)) == NULL) {
        free(e);
        v->st.saturated++;
        return NULL;
    }
    ll_account_init(&e->state, id);
    *at = e;
    v->st.entries++;
    return e;
}

static void drop_state(ll_account_view_t *v, entry_t *e) {
    recent_drop(v, e);
    if (!e->has_state) return;
    e->has_state = 0;
    v->st.states--;
}

ll_account_view_t *ll_account_view_create(size_t accounts_max, size_t movements_bytes_max) {
    assert(accounts_max >= 1);
    ll_account_view_t *v = calloc(1, sizeof *v);
    if (v == NULL) return NULL;
    v->lru.lru_next = v->lru.lru_prev = &v->lru;
    v->recent_bytes_max = movements_bytes_max;
    v->accounts_max = accounts_max;
    /* Sized for accounts_max at once: it never grows, so no request waits on a rehash under mu
     * (calloc'ed: pages are touched only as accounts arrive). */
    if (ll_uuid_map_init(&v->entries, sizeof(entry_t *), accounts_max) != 0 ||
        pthread_mutex_init(&v->mu, NULL) != 0) {
        ll_uuid_map_free(&v->entries);
        free(v);
        return NULL;
    }
    return v;
}

void ll_account_view_destroy(ll_account_view_t *v) {
    if (v == NULL) return;
    void *at;
    for (size_t i = 0; ll_uuid_map_next(&v->entries, &i, NULL, &at);) {
        entry_t *e = *(entry_t **)at;
        ll_recent_movements_free(e->recent);
        free(e);
    }
    pthread_mutex_destroy(&v->mu);
    ll_uuid_map_free(&v->entries);
    free(v);
}

void ll_account_view_set_ready(ll_account_view_t *v) {
    pthread_mutex_lock(&v->mu);
    v->st.ready = 1;
    pthread_mutex_unlock(&v->mu);
}

/* The statement items of the movements among events, rendered before the lock is taken:
 * items[i] is events[i]'s (NULL for others). One allocation; caller frees the returned block. */
static char *render_items(const ll_event_t *events, size_t n, char **items, int *lens) {
    size_t movements = 0;
    for (size_t i = 0; i < n; i++) movements += ll_event_is_movement(events[i].type) != 0;
    char *block = movements ? malloc(movements * LL_RM_ITEM_JSON_MAX) : NULL;
    char *at = block;
    for (size_t i = 0; i < n; i++) {
        items[i] = NULL, lens[i] = -1;
        if (block == NULL || !ll_event_is_movement(events[i].type)) continue;
        lens[i] = ll_rm_item_json(&events[i], at, LL_RM_ITEM_JSON_MAX);
        if (lens[i] > 0) items[i] = at, at += LL_RM_ITEM_JSON_MAX;
    }
    return block;
}

void ll_account_view_apply(ll_account_view_t *v, const ll_event_t *events, size_t n) {
    ll_account_view_apply_at(v, events, NULL, n);
}

void ll_account_view_apply_at(ll_account_view_t *v, const ll_event_t *events, const ll_view_position_t *at,
                              size_t n) {
    char **items = v->recent_bytes_max ? calloc(n ? n : 1, sizeof *items) : NULL;
    int *lens = items ? calloc(n ? n : 1, sizeof *lens) : NULL;
    char *block = lens ? render_items(events, n, items, lens) : NULL;
    pthread_mutex_lock(&v->mu);
    for (size_t i = 0; i < n; i++) {
        const ll_event_t *ev = &events[i];
        entry_t *e = find_or_add(v, &ev->account_id);
        if (e == NULL) { /* full: this account is served from the read model */
            v->st.untracked++;
            continue;
        }
        int first_seen = e->seen_version == 0;
        if (ev->version > e->seen_version) {
            e->seen_version = ev->version;
            e->seen_at = at != NULL ? at[i] : (ll_view_position_t){-1, -1};
        }
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
            if (ev->type == LL_EVENT_ACCOUNT_OPENED)
                recent_start(v, e, 1); /* the whole history, empty so far */
            else if (e->recent != NULL && items != NULL && items[i] != NULL)
                recent_add(v, e, ev->version, items[i], (size_t)lens[i]);
            else if (e->recent != NULL && ll_event_is_movement(ev->type))
                recent_drop(v, e); /* not rendered (out of memory): no longer complete */
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
    pthread_mutex_unlock(&v->mu);
    free(block);
    free(lens);
    free(items);
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

int ll_account_view_peek(ll_account_view_t *v, const ll_uuid_t *id, ll_account_t *out) {
    pthread_mutex_lock(&v->mu);
    const entry_t *e = find(v, id);
    int held = e != NULL && e->has_state;
    if (held) *out = e->state;
    pthread_mutex_unlock(&v->mu);
    return held;
}

ll_view_seen_t ll_account_view_seen(ll_account_view_t *v, const ll_uuid_t *id, int64_t *version,
                                    ll_view_position_t *at) {
    pthread_mutex_lock(&v->mu);
    const entry_t *e = find(v, id);
    ll_view_seen_t r = LL_SEEN_UNKNOWN;
    *version = 0;
    if (!v->st.ready)
        r = LL_SEEN_UNKNOWN;
    else if (e == NULL) /* entries are never evicted: none means none seen, unless one was refused */
        r = v->st.untracked == 0 ? LL_SEEN_NEVER : LL_SEEN_UNKNOWN;
    else if (e->seen_version == 0) /* made by a fill */
        r = LL_SEEN_NEVER;
    else if (e->seen_at.offset >= 0) {
        r = LL_SEEN_AT;
        *version = e->seen_version;
        *at = e->seen_at;
    }
    pthread_mutex_unlock(&v->mu);
    return r;
}

void ll_account_view_fill(ll_account_view_t *v, int64_t generation, const ll_account_t *a) {
    assert(a->version >= 1);
    pthread_mutex_lock(&v->mu);
    if (generation > v->st.generation) {
        /* A rebuild switched generations: what the old one gave may be what it corrected. */
        void *at;
        for (size_t i = 0; ll_uuid_map_next(&v->entries, &i, NULL, &at);) drop_state(v, *(entry_t **)at);
        v->st.generation = generation;
    }
    entry_t *e = NULL;
    if (v->st.ready && generation == v->st.generation) e = find_or_add(v, &a->account_id);
    if (e != NULL && a->version >= e->seen_version && (!e->has_state || a->version > e->state.version)) {
        recent_drop(v, e); /* held movements end at the old state's version */
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

void ll_account_view_fill_movements(ll_account_view_t *v, int64_t generation, const ll_uuid_t *id,
                                    int64_t version, const int64_t *versions, const char *const *json,
                                    size_t n, int complete) {
    pthread_mutex_lock(&v->mu);
    entry_t *e = v->recent_bytes_max && generation == v->st.generation ? find(v, id) : NULL;
    /* Only movements that end exactly where the held state is: the tail adds the later ones. */
    if (e != NULL && e->has_state && e->state.version == version && (complete || n > 0)) {
        recent_start(v, e, complete ? 1 : versions[n - 1]);
        for (size_t i = n; i-- > 0 && e->recent != NULL;)
            recent_add(v, e, versions[i], json[i], strlen(json[i]));
        if (e->recent != NULL) v->st.recent_fills++;
    }
    pthread_mutex_unlock(&v->mu);
}

int ll_account_view_statement(ll_account_view_t *v, const ll_uuid_t *id, const char *owner_scope,
                              int64_t before, int64_t limit, ll_text_t *body) {
    pthread_mutex_lock(&v->mu);
    entry_t *e = find(v, id);
    int hit = e != NULL && e->has_state && e->recent != NULL &&
              (owner_scope[0] == '\0' || strcmp(owner_scope, e->state.owner) == 0) &&
              ll_recent_movements_page(e->recent, before, limit, body);
    if (hit) {
        lru_front(v, e);
        v->st.statement_hits++;
    } else {
        v->st.statement_misses++;
    }
    pthread_mutex_unlock(&v->mu);
    return hit;
}
