#include "outbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "spool.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"

struct item {
    struct item *next;
    void *data;
    size_t len;
    uint32_t items;
    uint64_t meta;
};

struct outbox {
    char *name;
    char *unit;
    struct outbox_ops ops;
    void *ctx;
    uint64_t queue_max;
    char *spool_dir;
    uint64_t spool_max;
    bool spool_fsync;
    uint64_t reopen_ms;
    unsigned max_retries;
    unsigned down_after;
    uint64_t backoff_min, backoff_max;
    pthread_t thread;
    bool started;

    pthread_mutex_t mu;
    pthread_cond_t wake; /* sender: new record, poke, stop */
    pthread_cond_t idle; /* drain: progress */
    /* Under mu. */
    struct item *head, *tail;
    size_t pending; /* queued plus in flight */
    bool stop;
    bool poked;
    bool spooling; /* the spool is not empty: new records go behind it */
    bool down;
    bool refusing;  /* queue full without a spool: dropping */
    bool probe_due; /* probe before the next replay (a resumed spool) */
    uint64_t refused_items;
    uint64_t lost_seen; /* refused + dropped at the last drain */
    struct outbox_stats st;

    /* The spool; sp and the fields below under spool_mu. Lock order: mu,
     * then spool_mu; records go from mu to spool_mu hand over hand so that
     * appends keep the order of the queue. */
    pthread_mutex_t spool_mu;
    struct spool *sp;       /* NULL until opened */
    bool unclaimed;         /* exists but could not be opened yet */
    bool open_failing;      /* the wait is logged, once per streak */
    uint64_t reopen_at;     /* monotonic ms of the next open attempt */
    uint64_t spool_dropped; /* spool I/O losses */
    uint64_t spooled;       /* items appended */

    /* Sender thread only. */
    unsigned fails; /* consecutive retryable failures */
    unsigned seed;
};

static void copy_clip(char *dst, size_t n, const char *src)
{
    size_t len = strnlen(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void item_list_free(struct item *it)
{
    while (it) {
        struct item *next = it->next;
        free(it->data);
        free(it);
        it = next;
    }
}

static struct outbox_rec rec_of(const struct item *it, bool replayed)
{
    struct outbox_rec r = {.data = it->data,
                           .len = it->len,
                           .items = it->items,
                           .meta = it->meta,
                           .replayed = replayed};
    return r;
}

/* Under mu. */
static void set_error_locked(struct outbox *ob, const char *why)
{
    if (why && why[0])
        copy_clip(ob->st.last_error, sizeof(ob->st.last_error), why);
}

static void count_lost(struct outbox *ob, uint64_t items, bool refused,
                       const char *why)
{
    pthread_mutex_lock(&ob->mu);
    if (refused)
        ob->st.refused += items;
    else
        ob->st.dropped += items;
    ob->st.records_failed++;
    set_error_locked(ob, why);
    pthread_mutex_unlock(&ob->mu);
}

/* ------------------------------------------------------------------ */
/* Spool (mu and spool_mu held) */

/* Opens the spool when it is not open yet; false when there is none or it
 * cannot be opened now (logged once per streak, tried again reopen_ms
 * later). What an opened spool holds is resumed. */
static bool spool_ready_locked(struct outbox *ob)
{
    if (ob->sp)
        return true;
    if (!ob->spool_dir)
        return false;
    uint64_t now = clock_mono_ms();
    if (now < ob->reopen_at)
        return false;
    char err[512];
    ob->sp = spool_open(ob->spool_dir, ob->spool_max, ob->spool_fsync, err,
                        sizeof(err));
    if (!ob->sp) {
        ob->reopen_at = now + ob->reopen_ms;
        /* on a reload this lasts until the replaced sink let go */
        if (!ob->open_failing)
            log_warn("cannot open the spool of %s yet, retrying every "
                     "%llu ms: %s",
                     ob->name, (unsigned long long)ob->reopen_ms, err);
        ob->open_failing = true;
        return false;
    }
    if (ob->open_failing)
        log_info("spool of %s opened", ob->name);
    ob->open_failing = false;
    ob->unclaimed = false;
    if (!spool_empty(ob->sp)) {
        struct spool_stats ss;
        spool_get_stats(ob->sp, &ss);
        ob->spooling = true;
        ob->probe_due = ob->ops.probe != NULL;
        if (ob->ops.resumed)
            ob->ops.resumed(ob->ctx, ss.points, ss.bytes);
        else
            log_info("resuming the spool of %s: %llu %s, %llu bytes", ob->name,
                     (unsigned long long)ss.points, ob->unit,
                     (unsigned long long)ss.bytes);
    }
    return true;
}

/* Appends one record; false when it could be neither stored nor refused
 * by the cap (the spool counts those). spool_mu held. */
static bool spool_put(struct outbox *ob, const struct item *it)
{
    char err[512];
    int rc = spool_append(ob->sp, it->data, it->len, it->items, it->meta, err,
                          sizeof(err));
    if (rc < 0) {
        log_error("cannot spool %lu %s for %s: %s", (unsigned long)it->items,
                  ob->unit, ob->name, err);
        return false;
    }
    if (rc == 0) {
        ob->spooled += it->items;
        if (ob->ops.accepted) {
            struct outbox_rec r = rec_of(it, false);
            ob->ops.accepted(ob->ctx, &r, true);
        }
    }
    return true;
}

/* Detaches the queue (mu held). */
static struct item *take_queue_locked(struct outbox *ob)
{
    struct item *q = ob->head;
    for (struct item *it = q; it; it = it->next)
        ob->pending--;
    ob->head = ob->tail = NULL;
    ob->st.queue_bytes = 0;
    if (ob->pending == 0)
        pthread_cond_broadcast(&ob->idle);
    return q;
}

/* Spools first (a record older than the queue, or NULL), then the queue,
 * then last (newer, or NULL), in order; what cannot be spooled is dropped
 * and counted. Called with mu held and the spool ready; returns with mu
 * held, having released it while the records went to disk. */
static void to_spool_locked(struct outbox *ob, struct item *first,
                            struct item *last)
{
    struct item *q = take_queue_locked(ob);
    if (first) {
        first->next = q;
        q = first;
    }
    if (last) {
        struct item **endp = &q;
        while (*endp)
            endp = &(*endp)->next;
        *endp = last;
    }
    ob->spooling = true;
    pthread_mutex_lock(&ob->spool_mu);
    pthread_mutex_unlock(&ob->mu);
    uint64_t lost = 0;
    for (struct item *it = q; it; it = it->next)
        if (!ob->sp || !spool_put(ob, it))
            lost += it->items;
    if (lost) {
        ob->spool_dropped += lost;
        log_error("dropping %llu %s for %s: they can be neither written nor "
                  "spooled",
                  (unsigned long long)lost, ob->unit, ob->name);
    }
    pthread_mutex_unlock(&ob->spool_mu);
    item_list_free(q);
    pthread_mutex_lock(&ob->mu);
    pthread_cond_broadcast(&ob->idle);
}

static bool spool_ready(struct outbox *ob)
{
    pthread_mutex_lock(&ob->mu);
    pthread_mutex_lock(&ob->spool_mu);
    bool ok = spool_ready_locked(ob);
    pthread_mutex_unlock(&ob->spool_mu);
    pthread_mutex_unlock(&ob->mu);
    return ok;
}

/* Everything lost so far (mu held; takes spool_mu). */
static uint64_t lost_total_locked(struct outbox *ob, uint64_t *spool_part)
{
    pthread_mutex_lock(&ob->spool_mu);
    uint64_t sp = ob->spool_dropped;
    if (ob->sp) {
        struct spool_stats ss;
        spool_get_stats(ob->sp, &ss);
        sp += ss.dropped_points + ss.corrupt_points;
    }
    pthread_mutex_unlock(&ob->spool_mu);
    if (spool_part)
        *spool_part = sp;
    return ob->st.refused + ob->st.dropped + sp;
}

/* ------------------------------------------------------------------ */
/* Putting */

void outbox_put(struct outbox *ob, void *data, size_t len, uint32_t items,
                uint64_t meta)
{
    struct item *it = xcalloc(1, sizeof(*it));
    it->data = data;
    it->len = len;
    it->items = items;
    it->meta = meta;
    pthread_mutex_lock(&ob->mu);
    bool full = ob->st.queue_bytes + len > ob->queue_max;
    /* Behind a non-empty spool a record is queued as usual and the sender
     * spools it, so that the caller does not wait for the disk; only in
     * place of a full queue (a slow destination) does it go to disk now.
     * A record in flight at that moment may land behind these. */
    if (full && ob->spool_dir) {
        pthread_mutex_lock(&ob->spool_mu);
        bool ok = spool_ready_locked(ob);
        pthread_mutex_unlock(&ob->spool_mu);
        if (ok) {
            to_spool_locked(ob, NULL, it);
            pthread_cond_signal(&ob->wake);
            pthread_mutex_unlock(&ob->mu);
            return;
        }
    }
    if (full) {
        ob->st.dropped += items;
        ob->st.records_failed++;
        ob->refused_items += items;
        set_error_locked(ob, "queue full");
        if (!ob->refusing)
            log_warn("queue of %s is full (%llu bytes) and there is no "
                     "spool: dropping new batches",
                     ob->name, (unsigned long long)ob->queue_max);
        ob->refusing = true;
        pthread_mutex_unlock(&ob->mu);
        free(it->data);
        free(it);
        return;
    }
    if (ob->refusing) {
        log_info("queue of %s accepts batches again after dropping %llu %s",
                 ob->name, (unsigned long long)ob->refused_items, ob->unit);
        ob->refusing = false;
        ob->refused_items = 0;
    }
    if (ob->tail)
        ob->tail->next = it;
    else
        ob->head = it;
    ob->tail = it;
    ob->st.queue_bytes += len;
    ob->pending++;
    pthread_cond_signal(&ob->wake);
    pthread_mutex_unlock(&ob->mu);
}

void outbox_poke(struct outbox *ob)
{
    pthread_mutex_lock(&ob->mu);
    ob->poked = true;
    pthread_cond_signal(&ob->wake);
    pthread_mutex_unlock(&ob->mu);
}

/* ------------------------------------------------------------------ */
/* Sender thread */

static uint64_t backoff_ms(struct outbox *ob, unsigned attempt)
{
    uint64_t ms = ob->backoff_min;
    for (unsigned i = 1; i < attempt && ms < ob->backoff_max; i++)
        ms *= 2;
    if (ms > ob->backoff_max)
        ms = ob->backoff_max;
    /* +-25% jitter so that agents do not retry in lockstep */
    return ms * 3 / 4 + (uint64_t)rand_r(&ob->seed) % (ms / 2 + 1);
}

bool outbox_backoff(struct outbox *ob, unsigned attempt)
{
    uint64_t until = clock_mono_ms() + backoff_ms(ob, attempt);
    struct timespec ts = clock_deadline(until);
    pthread_mutex_lock(&ob->mu);
    while (!ob->stop && clock_mono_ms() < until) {
        if (ob->spooling && ob->head) {
            /* new records behind the spool go to disk meanwhile */
            to_spool_locked(ob, NULL, NULL);
            continue;
        }
        pthread_cond_timedwait(&ob->wake, &ob->mu, &ts);
    }
    bool stop = ob->stop;
    pthread_mutex_unlock(&ob->mu);
    return stop;
}

void outbox_count_retry(struct outbox *ob, uint32_t items)
{
    pthread_mutex_lock(&ob->mu);
    ob->st.retried += items;
    ob->st.retries++;
    pthread_mutex_unlock(&ob->mu);
}

/* One send through the ops; publishes up and last_error. */
static void attempt(struct outbox *ob, const struct outbox_rec *r,
                    struct outbox_result *res)
{
    memset(res, 0, sizeof(*res));
    res->status = OUTBOX_SENT;
    ob->ops.send(ob->ctx, r, res);
    pthread_mutex_lock(&ob->mu);
    bool was = ob->st.up;
    ob->st.up = res->answered;
    if (res->status != OUTBOX_SENT || res->refused || res->dropped)
        set_error_locked(ob, res->why);
    pthread_mutex_unlock(&ob->mu);
    if (was && !res->answered)
        log_warn("%s is down", ob->name);
    else if (!was && res->answered)
        log_info("%s is up", ob->name);
}

/* Counts a delivery (status SENT or REFUSED), logging a refusal. */
static void count_done(struct outbox *ob, const struct outbox_rec *r,
                       const struct outbox_result *res)
{
    if (res->status == OUTBOX_REFUSED) {
        count_lost(ob, r->items, true, res->why);
        log_error("dropping %lu %s for %s: %s", (unsigned long)r->items,
                  ob->unit, ob->name, res->why);
        return;
    }
    uint32_t lost = res->refused + res->dropped;
    if (lost > r->items)
        lost = r->items;
    pthread_mutex_lock(&ob->mu);
    ob->st.written += r->items - lost;
    ob->st.refused += res->refused < lost ? res->refused : lost;
    ob->st.dropped += lost - (res->refused < lost ? res->refused : lost);
    ob->st.records_written++;
    if (r->replayed)
        ob->st.replayed += r->items - lost;
    if (ob->down && !ob->ops.probe) {
        /* without a probe, a delivery is what brings it back */
        ob->down = false;
    }
    pthread_mutex_unlock(&ob->mu);
}

/* A retryable failure in the spool's path: counts it, marks the
 * destination down after down_after in a row, waits the backoff. */
static void on_failure(struct outbox *ob, const char *why)
{
    ob->fails++;
    if (ob->fails >= ob->down_after) {
        pthread_mutex_lock(&ob->mu);
        bool was = ob->down;
        ob->down = true;
        pthread_cond_broadcast(&ob->idle);
        pthread_mutex_unlock(&ob->mu);
        if (!was)
            log_warn("%s marked down after %u failed writes%s: %s", ob->name,
                     ob->fails,
                     ob->ops.probe ? ", probing before replaying its spool"
                                   : "",
                     why);
    }
    (void)outbox_backoff(ob, ob->fails);
}

/* Without a spool: retries in place max_retries times, then drops. */
static void send_retrying(struct outbox *ob, const struct outbox_rec *r,
                          struct outbox_result *res)
{
    for (unsigned n = 0;; n++) {
        if (n >= ob->max_retries) {
            char gave[sizeof(res->why) + 48];
            snprintf(gave, sizeof(gave), "giving up after %u retries: %s", n,
                     res->why);
            count_lost(ob, r->items, false, gave);
            log_error("dropping %lu %s for %s: %s", (unsigned long)r->items,
                      ob->unit, ob->name, gave);
            return;
        }
        log_warn("cannot write %lu %s to %s, retry %u of %u: %s",
                 (unsigned long)r->items, ob->unit, ob->name, n + 1,
                 ob->max_retries, res->why);
        if (outbox_backoff(ob, n + 1)) {
            count_lost(ob, r->items, false, "stopping while retrying");
            log_error("dropping %lu %s for %s: stopping while retrying (%s)",
                      (unsigned long)r->items, ob->unit, ob->name, res->why);
            return;
        }
        outbox_count_retry(ob, r->items);
        attempt(ob, r, res);
        if (res->status != OUTBOX_RETRY) {
            count_done(ob, r, res);
            return;
        }
    }
}

/* A record from the queue. Frees it. */
static void deliver(struct outbox *ob, struct item *it)
{
    struct outbox_rec r = rec_of(it, false);
    struct outbox_result res;
    attempt(ob, &r, &res);
    if (res.status != OUTBOX_RETRY) {
        ob->fails = 0;
        count_done(ob, &r, &res);
        if (res.status == OUTBOX_SENT && ob->ops.accepted)
            ob->ops.accepted(ob->ctx, &r, false);
        goto out;
    }
    if (!spool_ready(ob)) {
        send_retrying(ob, &r, &res);
        goto out;
    }
    log_warn("cannot write %lu %s to %s, spooling them: %s",
             (unsigned long)it->items, ob->unit, ob->name, res.why);
    pthread_mutex_lock(&ob->mu);
    to_spool_locked(ob, it, NULL);
    pthread_mutex_unlock(&ob->mu);
    it = NULL; /* spooled and freed */
    on_failure(ob, res.why);
out:
    if (it) {
        free(it->data);
        free(it);
    }
}

/* One step of replaying the spool: probe when down, send the oldest
 * record, acknowledge it when delivered or refused. An empty spool ends
 * the spooling state. */
static void replay_step(struct outbox *ob)
{
    pthread_mutex_lock(&ob->mu);
    bool probe = ob->ops.probe && (ob->down || ob->probe_due);
    pthread_mutex_unlock(&ob->mu);
    if (probe) {
        if (!ob->ops.probe(ob->ctx)) {
            on_failure(ob, "no answer to the probe");
            return;
        }
        pthread_mutex_lock(&ob->mu);
        ob->down = false;
        ob->probe_due = false;
        pthread_mutex_unlock(&ob->mu);
        ob->fails = 0;
        log_info("%s answers the probe: replaying its spool", ob->name);
    }
    struct spool_rec sr;
    char err[512];
    pthread_mutex_lock(&ob->spool_mu);
    int rc = ob->sp ? spool_peek_oldest(ob->sp, &sr, err, sizeof(err)) : 0;
    pthread_mutex_unlock(&ob->spool_mu);
    if (rc < 0) {
        log_error("cannot read the spool of %s: %s", ob->name, err);
        on_failure(ob, err);
        return;
    }
    if (rc == 0) {
        /* Both locks: no append slips in between the check and the switch
         * back to the queue. */
        pthread_mutex_lock(&ob->mu);
        pthread_mutex_lock(&ob->spool_mu);
        if (!ob->sp || spool_empty(ob->sp)) {
            ob->spooling = false;
            pthread_cond_broadcast(&ob->idle);
            log_info("spool of %s replayed: %llu %s so far", ob->name,
                     (unsigned long long)ob->st.replayed, ob->unit);
        }
        pthread_mutex_unlock(&ob->spool_mu);
        pthread_mutex_unlock(&ob->mu);
        return;
    }
    struct outbox_rec r = {.data = sr.data,
                           .len = sr.len,
                           .items = sr.points,
                           .meta = sr.meta,
                           .replayed = true};
    if (ob->fails > 0)
        outbox_count_retry(ob, r.items);
    struct outbox_result res;
    attempt(ob, &r, &res);
    if (res.status != OUTBOX_RETRY)
        count_done(ob, &r, &res);
    pthread_mutex_lock(&ob->spool_mu);
    if (res.status != OUTBOX_RETRY)
        spool_ack(ob->sp, &sr);
    else
        spool_release(ob->sp, &sr);
    pthread_mutex_unlock(&ob->spool_mu);
    if (res.status != OUTBOX_RETRY) {
        if (ob->fails > 0 && !ob->ops.probe)
            log_info("%s recovered: replaying its spool", ob->name);
        ob->fails = 0;
        pthread_mutex_lock(&ob->mu);
        pthread_cond_broadcast(&ob->idle);
        pthread_mutex_unlock(&ob->mu);
        return;
    }
    if (ob->fails == 0 || (ob->fails + 1) % 10 == 0) {
        pthread_mutex_lock(&ob->spool_mu);
        struct spool_stats ss;
        spool_get_stats(ob->sp, &ss);
        pthread_mutex_unlock(&ob->spool_mu);
        log_warn("cannot replay the spool of %s (%u failures in a row, %llu "
                 "%s waiting): %s",
                 ob->name, ob->fails + 1, (unsigned long long)ss.points,
                 ob->unit, res.why);
    }
    on_failure(ob, res.why);
}

static void *sender_main(void *arg)
{
    struct outbox *ob = arg;
    uint64_t tick_at = 0;
    if (ob->ops.setup)
        ob->ops.setup(ob->ctx);
    /* One probe at start: a node that nothing has been written to yet (an
     * idle ring node) is then up, not "down" until its first batch, which
     * would fire the node-down alert for a healthy node. */
    if (ob->ops.probe) {
        bool up = ob->ops.probe(ob->ctx);
        pthread_mutex_lock(&ob->mu);
        ob->st.up = up;
        pthread_mutex_unlock(&ob->mu);
        if (up)
            log_info("%s is up", ob->name);
    }
    pthread_mutex_lock(&ob->mu);
    for (;;) {
        if (ob->stop)
            break;
        if (ob->ops.tick && (ob->poked || clock_mono_ms() >= tick_at)) {
            ob->poked = false;
            pthread_mutex_unlock(&ob->mu);
            tick_at = ob->ops.tick(ob->ctx, clock_mono_ms());
            pthread_mutex_lock(&ob->mu);
            continue;
        }
        if (ob->head && ob->spooling) {
            /* behind a non-empty spool: to disk, in order, on this thread
             * so that the putting thread never waits for an fsync */
            to_spool_locked(ob, NULL, NULL);
            continue;
        }
        if (ob->head) {
            struct item *it = ob->head;
            ob->head = it->next;
            it->next = NULL;
            if (!ob->head)
                ob->tail = NULL;
            ob->st.queue_bytes -= it->len;
            pthread_mutex_unlock(&ob->mu);
            deliver(ob, it);
            pthread_mutex_lock(&ob->mu);
            ob->pending--;
            pthread_cond_broadcast(&ob->idle);
            continue;
        }
        if (ob->spooling) {
            pthread_mutex_unlock(&ob->mu);
            replay_step(ob);
            pthread_mutex_lock(&ob->mu);
            continue;
        }
        pthread_mutex_lock(&ob->spool_mu);
        bool unclaimed = ob->unclaimed;
        if (unclaimed && clock_mono_ms() >= ob->reopen_at) {
            (void)spool_ready_locked(ob);
            unclaimed = ob->unclaimed;
        }
        uint64_t wake_at = ob->ops.tick ? tick_at : UINT64_MAX;
        if (unclaimed && ob->reopen_at < wake_at)
            wake_at = ob->reopen_at;
        pthread_mutex_unlock(&ob->spool_mu);
        if (ob->spooling || ob->head || ob->poked)
            continue;
        if (wake_at != UINT64_MAX) {
            struct timespec ts = clock_deadline(wake_at);
            pthread_cond_timedwait(&ob->wake, &ob->mu, &ts);
        } else {
            pthread_cond_wait(&ob->wake, &ob->mu);
        }
    }
    pthread_mutex_unlock(&ob->mu);
    if (ob->ops.teardown)
        ob->ops.teardown(ob->ctx);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Public */

struct outbox *outbox_new(const struct outbox_opts *opts, char *err,
                          size_t errlen)
{
    struct outbox *ob = xcalloc(1, sizeof(*ob));
    ob->name = xstrdup(opts->name);
    ob->unit = xstrdup(opts->unit ? opts->unit : "items");
    ob->ops = *opts->ops;
    ob->ctx = opts->ctx;
    ob->queue_max = opts->queue_max_bytes;
    ob->spool_dir =
        opts->spool_dir && opts->spool_dir[0] ? xstrdup(opts->spool_dir) : NULL;
    ob->spool_max = opts->spool_max_bytes;
    ob->spool_fsync = opts->spool_fsync;
    ob->reopen_ms = opts->spool_reopen_ms ? opts->spool_reopen_ms : 1000;
    ob->max_retries = opts->max_retries;
    ob->down_after = opts->down_after ? opts->down_after : 1;
    ob->backoff_min = opts->backoff_min_ms ? opts->backoff_min_ms : 1;
    ob->backoff_max = opts->backoff_max_ms > ob->backoff_min
                          ? opts->backoff_max_ms
                          : ob->backoff_min;
    ob->seed = (unsigned)clock_mono_ns() ^ (unsigned)(uintptr_t)ob;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&ob->mu, NULL);
    pthread_mutex_init(&ob->spool_mu, NULL);
    pthread_cond_init(&ob->wake, &ca);
    pthread_cond_init(&ob->idle, &ca);
    pthread_condattr_destroy(&ca);
    struct stat sb;
    if (ob->spool_dir && stat(ob->spool_dir, &sb) == 0 && S_ISDIR(sb.st_mode) &&
        !spool_ready(ob))
        ob->unclaimed = true; /* another sink still holds it */
    int rc = pthread_create(&ob->thread, NULL, sender_main, ob);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the sender thread for %s: %s",
                 ob->name, strerror(rc));
        outbox_free(&ob);
        return NULL;
    }
    ob->started = true;
    return ob;
}

int outbox_drain(struct outbox *ob, uint64_t until_ms)
{
    struct timespec ts = clock_deadline(until_ms);
    pthread_mutex_lock(&ob->mu);
    /* A destination marked down is not waited for: its spool keeps the
     * records. */
    while (ob->started && !ob->stop &&
           (ob->pending > 0 || (ob->spooling && !ob->down))) {
        if (pthread_cond_timedwait(&ob->idle, &ob->mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_lock(&ob->spool_mu);
    bool unclaimed = ob->unclaimed;
    pthread_mutex_unlock(&ob->spool_mu);
    bool left = ob->pending > 0 || ob->spooling || unclaimed;
    uint64_t lost = lost_total_locked(ob, NULL);
    int rc = lost != ob->lost_seen ? -1 : left ? 1 : 0;
    ob->lost_seen = lost;
    pthread_mutex_unlock(&ob->mu);
    return rc;
}

void outbox_get_stats(struct outbox *ob, struct outbox_stats *out)
{
    pthread_mutex_lock(&ob->mu);
    *out = ob->st;
    out->down = ob->down;
    uint64_t sp = 0;
    lost_total_locked(ob, &sp);
    out->dropped += sp;
    out->dropped_spool = sp;
    pthread_mutex_lock(&ob->spool_mu);
    out->spooled = ob->spooled;
    if (ob->sp) {
        struct spool_stats ss;
        spool_get_stats(ob->sp, &ss);
        out->spool_bytes = ss.bytes;
        out->spool_items = ss.points;
    }
    pthread_mutex_unlock(&ob->spool_mu);
    pthread_mutex_unlock(&ob->mu);
}

void outbox_stop(struct outbox *ob)
{
    pthread_mutex_lock(&ob->mu);
    ob->stop = true;
    pthread_cond_broadcast(&ob->wake);
    pthread_cond_broadcast(&ob->idle);
    pthread_mutex_unlock(&ob->mu);
}

/* After the sender stopped: what is still in memory goes to the spool
 * (behind what is there), or is counted as dropped without one. */
static void keep_leftovers(struct outbox *ob)
{
    pthread_mutex_lock(&ob->mu);
    if (!ob->head) {
        pthread_mutex_unlock(&ob->mu);
        return;
    }
    pthread_mutex_lock(&ob->spool_mu);
    ob->reopen_at = 0; /* a last attempt, whatever the interval */
    bool ok = spool_ready_locked(ob);
    pthread_mutex_unlock(&ob->spool_mu);
    if (ok) {
        to_spool_locked(ob, NULL, NULL);
        pthread_mutex_unlock(&ob->mu);
        return;
    }
    struct item *q = take_queue_locked(ob);
    uint64_t lost = 0;
    for (struct item *it = q; it; it = it->next) {
        lost += it->items;
        ob->st.records_failed++;
    }
    ob->st.dropped += lost;
    pthread_mutex_unlock(&ob->mu);
    item_list_free(q);
    log_error("dropping %llu unsent %s for %s: stopped and %s",
              (unsigned long long)lost, ob->unit, ob->name,
              ob->spool_dir ? "the spool cannot be opened"
                            : "no spool is configured");
}

void outbox_free(struct outbox **obp)
{
    struct outbox *ob = *obp;
    if (!ob)
        return;
    if (ob->started) {
        outbox_stop(ob);
        pthread_join(ob->thread, NULL);
    }
    keep_leftovers(ob);
    spool_close(&ob->sp);
    pthread_mutex_destroy(&ob->mu);
    pthread_mutex_destroy(&ob->spool_mu);
    pthread_cond_destroy(&ob->wake);
    pthread_cond_destroy(&ob->idle);
    free(ob->name);
    free(ob->unit);
    free(ob->spool_dir);
    free(ob);
    *obp = NULL;
}
