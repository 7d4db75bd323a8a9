/* ll_progress.c - see ll_progress.h. */
#include "ll_progress.h"

#include "ll_clock.h"

#include <stdio.h>
#include <unistd.h>

void ll_progress_start(ll_progress_t *p, const char *phase, const char *unit, int64_t total) {
    *p = (ll_progress_t){phase, unit, total, 0, ll_clock_ms(), 0, isatty(STDERR_FILENO)};
}

void ll_progress_show(ll_progress_t *p, int final) {
    int64_t now = ll_clock_ms();
    if (!final && now - p->last_ms < (p->tty ? 200 : 5000)) return;
    p->last_ms = now;
    double s = (double)(now - p->t0_ms) / 1e3, rate = s > 0 ? (double)p->done / s : 0;
    int known = p->total > 0;
    double eta = known && rate > 0 && p->total > p->done ? (double)(p->total - p->done) / rate : 0;
    int pct = !known ? 0 : p->done >= p->total ? 100 : (int)(100 * p->done / p->total);
    if (p->tty) {
        char bar[31];
        for (int i = 0; i < 30; i++) bar[i] = i < pct * 30 / 100 ? '#' : '.';
        bar[30] = '\0';
        if (known)
            fprintf(stderr, "\r%-9s [%s] %3d%% %lld/%lld %s %.0f/s ETA %.0fs   ", p->phase, bar, pct,
                    (long long)p->done, (long long)p->total, p->unit, rate, eta);
        else
            fprintf(stderr, "\r%-9s %lld %s %.0f/s   ", p->phase, (long long)p->done, p->unit, rate);
        if (final) fputc('\n', stderr);
    } else if (known) {
        fprintf(stderr, "%s: %lld/%lld %s (%d%%), %.0f %s/s, ETA %.0f s\n", p->phase, (long long)p->done,
                (long long)p->total, p->unit, pct, rate, p->unit, eta);
    } else {
        fprintf(stderr, "%s: %lld %s, %.0f %s/s\n", p->phase, (long long)p->done, p->unit, rate, p->unit);
    }
}

void ll_progress_clear(const ll_progress_t *p) {
    if (p->tty) fprintf(stderr, "\r%100s\r", "");
}
