/* ll_periodic.c - see ll_periodic.h. The sleep is a timed wait on a condition variable, so a stop
 * does not wait out the interval, on the monotonic clock, so a wall clock stepped back (NTP, an
 * operator) does not hold a round back by the step (hold expiry would run late). */
#include "ll_periodic.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct ll_periodic {
    long long interval_ms;
    ll_periodic_fn run;
    void *arg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    int stopping; /* under mu */
};

/* Waits ms or until a stop; returns 1 when stopping. */
static int sleep_or_stop(ll_periodic_t *p, long long ms) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&p->mu);
    while (!p->stopping && pthread_cond_timedwait(&p->wake, &p->mu, &until) != ETIMEDOUT) {
    }
    int stopping = p->stopping;
    pthread_mutex_unlock(&p->mu);
    return stopping;
}

static void *periodic_main(void *arg) {
    ll_periodic_t *p = arg;
    while (!sleep_or_stop(p, p->interval_ms)) p->run(p, p->arg);
    return NULL;
}

ll_periodic_t *ll_periodic_start(const char *what, long long interval_ms, ll_periodic_fn run, void *arg,
                                 ll_error_t *err) {
    ll_periodic_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        ll_error_set(err, LL_ENOMEM, "out of memory");
        return NULL;
    }
    *p = (ll_periodic_t){.interval_ms = interval_ms > 0 ? interval_ms : 1, .run = run, .arg = arg};
    pthread_condattr_t attr;
    int ok = 0;
    if (pthread_condattr_init(&attr) == 0) {
        ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&p->wake, &attr) == 0;
        pthread_condattr_destroy(&attr);
    }
    if (!ok) {
        free(p);
        ll_error_set(err, LL_EIO, "cannot start the %s: no monotonic timed wait", what);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    if (pthread_create(&p->thread, NULL, periodic_main, p) != 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->mu);
        free(p);
        ll_error_set(err, LL_EIO, "cannot start the %s", what);
        return NULL;
    }
    return p;
}

int ll_periodic_stopping(ll_periodic_t *p) {
    pthread_mutex_lock(&p->mu);
    int s = p->stopping;
    pthread_mutex_unlock(&p->mu);
    return s;
}

void ll_periodic_stop(ll_periodic_t *p) {
    if (p == NULL) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
