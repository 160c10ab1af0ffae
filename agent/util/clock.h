/*
 * clock: the two clocks lagwatch reads. Wall time (CLOCK_REALTIME) stamps
 * points and names cycles; monotonic time (CLOCK_MONOTONIC) measures
 * durations, timeouts and backoff, so that a clock step never stretches
 * or cuts a wait. Condition variables that wait with clock_deadline() must
 * be created with pthread_condattr_setclock(CLOCK_MONOTONIC).
 */
#ifndef AGENT_UTIL_CLOCK_H
#define AGENT_UTIL_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Tests only: when set, clock_wall_ms() returns its value instead of
 * CLOCK_REALTIME's, so a test can step the wall clock without touching the
 * machine's (lagwatch(8), FAULTS: the wall clock jumps). Set it before
 * other threads read the clock; NULL restores the real clock. */
extern int64_t (*clock_wall_source)(void);

static inline int64_t clock_wall_ms(void)
{
    if (clock_wall_source)
        return clock_wall_source();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline uint64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t clock_mono_ms(void)
{
    return clock_mono_ns() / 1000000;
}

static inline double clock_mono_s(void)
{
    return (double)clock_mono_ns() / 1e9;
}

/* Watches the wall-clock stamps of successive cycles for a backward step.
 * Points keep the wall time of their cycle even then (a clamped stamp
 * would misdate every point until the clock caught up, lagwatch(8),
 * FAULTS); the step is logged and counted instead. Zero-initialize it. */
struct clock_steps {
    int64_t last_ms;
    bool valid;
};

/* Records wall_ms; returns how many ms it is before the last one recorded
 * (0: not a backward step). */
int64_t clock_step_back(struct clock_steps *c, int64_t wall_ms);

/* A monotonic instant in ms as the absolute deadline of
 * pthread_cond_timedwait. */
static inline struct timespec clock_deadline(uint64_t mono_ms)
{
    struct timespec ts = {.tv_sec = (time_t)(mono_ms / 1000),
                          .tv_nsec = (long)(mono_ms % 1000) * 1000000};
    return ts;
}

#endif
