/*
 * clock: the two clocks lagwatch reads. Wall time (CLOCK_REALTIME) stamps
 * points and names cycles; monotonic time (CLOCK_MONOTONIC) measures
 * durations, timeouts and backoff, so that a clock step never stretches
 * or cuts a wait. Condition variables that wait with clock_deadline() must
 * be created with pthread_condattr_setclock(CLOCK_MONOTONIC).
 */
#ifndef AGENT_UTIL_CLOCK_H
#define AGENT_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_wall_ms(void)
{
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

/* A monotonic instant in ms as the absolute deadline of
 * pthread_cond_timedwait. */
static inline struct timespec clock_deadline(uint64_t mono_ms)
{
    struct timespec ts = {.tv_sec = (time_t)(mono_ms / 1000),
                          .tv_nsec = (long)(mono_ms % 1000) * 1000000};
    return ts;
}

#endif
