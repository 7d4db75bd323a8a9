/* ll_progress.h - progress of a long command-line job on stderr: a bar with rate and ETA on a
 * terminal (redrawn every 200 ms), a plain line every 5 s otherwise (logs, CI). */
#ifndef LL_PROGRESS_H
#define LL_PROGRESS_H

#include <stdint.h>

typedef struct ll_progress {
    const char *phase, *unit; /* "build", "events": static strings */
    int64_t total, done;      /* total 0: unknown, no percentage or ETA */
    int64_t t0_ms, last_ms;
    int tty;
} ll_progress_t;

void ll_progress_start(ll_progress_t *p, const char *phase, const char *unit, int64_t total);

/* Shows p->done if it is time to (always when final: the last line, ended by a newline). */
void ll_progress_show(ll_progress_t *p, int final);

/* Erases the bar on a terminal, for a summary line of the caller's own (no-op otherwise). */
void ll_progress_clear(const ll_progress_t *p);

#endif
