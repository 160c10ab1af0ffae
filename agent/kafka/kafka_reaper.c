#include "kafka/kafka_reaper.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Shared by a reaper thread and its struct kafka_reaper; freed by
 * whichever lets go last. */
struct reaper_state {
    rd_kafka_t *rk;
    atomic_bool done;
    atomic_int refs;
};

struct kafka_reaper {
    char *name;
    pthread_t thread;
    struct reaper_state *st; /* non-NULL while a handle is in flight */
    bool stuck_logged;
};

static void state_unref(struct reaper_state *st)
{
    if (atomic_fetch_sub(&st->refs, 1) == 1)
        free(st);
}

static void *reaper_main(void *v)
{
    struct reaper_state *st = v;
    (void)rd_kafka_consumer_close(st->rk);
    rd_kafka_destroy(st->rk);
    atomic_store(&st->done, true);
    state_unref(st);
    return NULL;
}

struct kafka_reaper *kafka_reaper_new(const char *name)
{
    struct kafka_reaper *r = xcalloc(1, sizeof(*r));
    r->name = xstrdup(name);
    return r;
}

void kafka_reaper_free(struct kafka_reaper **rp)
{
    struct kafka_reaper *r = *rp;
    if (!r)
        return;
    if (!kafka_reaper_wait(r, 5000)) {
        /* Let a stuck reader go: the process may be exiting anyway. */
        log_warn("kafka cluster '%s': leaving a timestamp reader that did "
                 "not shut down",
                 r->name);
        pthread_detach(r->thread);
        state_unref(r->st);
    }
    free(r->name);
    free(r);
    *rp = NULL;
}

void kafka_reaper_hand(struct kafka_reaper *r, rd_kafka_t *rk)
{
    struct reaper_state *st = xcalloc(1, sizeof(*st));
    st->rk = rk;
    atomic_init(&st->done, false);
    atomic_init(&st->refs, 2);
    if (pthread_create(&r->thread, NULL, reaper_main, st) != 0) {
        free(st);
        (void)rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return;
    }
    r->st = st;
}

bool kafka_reaper_wait(struct kafka_reaper *r, int64_t ms)
{
    struct reaper_state *st = r->st;
    if (!st)
        return true;
    int64_t until = (int64_t)clock_mono_ms() + ms;
    while (!atomic_load(&st->done) && (int64_t)clock_mono_ms() < until) {
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (!atomic_load(&st->done)) {
        if (!r->stuck_logged)
            log_warn("kafka cluster '%s': the previous timestamp reader has "
                     "not shut down (a librdkafka 2.0.2 issue); it is left "
                     "to finish in the background and no timestamps are "
                     "read until it has",
                     r->name);
        r->stuck_logged = true;
        return false;
    }
    pthread_join(r->thread, NULL);
    state_unref(st);
    r->st = NULL;
    if (r->stuck_logged)
        log_info("kafka cluster '%s': the previous reader has shut down",
                 r->name);
    r->stuck_logged = false;
    return true;
}
