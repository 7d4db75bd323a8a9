/* ll_clock.h - time for the services: a monotonic clock for deadlines and intervals, the wall
 * clock for timestamps, and a sleep. */
#ifndef LL_CLOCK_H
#define LL_CLOCK_H

#include <stdint.h>

/* Milliseconds of a monotonic clock (deadlines, intervals; never jumps). */
int64_t ll_clock_ms(void);

/* Microseconds of the same monotonic clock (latencies). */
int64_t ll_clock_us(void);

/* Microseconds since the Unix epoch (event times, ages). */
int64_t ll_clock_wall_us(void);

/* Sleeps ms milliseconds (0 returns at once). */
void ll_sleep_ms(int64_t ms);

#endif
