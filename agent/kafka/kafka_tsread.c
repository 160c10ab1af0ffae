/* Step 4 of a sweep (kafka_lag.h): the timestamps of the first
 * unconsumed messages, from the cache or read by one reader. */
#include "kafka/kafka_sweep.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/xalloc.h"

/* ================ step 4: timestamps ================ */

static void add_need(struct sweep *sw, size_t *cap, size_t md, int64_t off)
{
    sw->needs = xgrow(sw->needs, cap, sw->n_needs + 1, sizeof(*sw->needs));
    struct ts_need *n = &sw->needs[sw->n_needs++];
    memset(n, 0, sizeof(*n));
    n->md = md;
    n->offset = off;
}

static int cmp_need(const void *a, const void *b)
{
    const struct ts_need *x = a, *y = b;
    if (x->md != y->md)
        return (x->md > y->md) - (x->md < y->md);
    return (x->offset > y->offset) - (x->offset < y->offset);
}

long sweep_need_find(const struct sweep *sw, size_t md, int64_t off)
{
    struct ts_need key = {.md = md, .offset = off};
    return sweep_bsearch(&key, sw->needs, sw->n_needs, sizeof(*sw->needs),
                         cmp_need);
}

/* Where the first unconsumed message after offset off is: at off, or at
 * the log start when retention has deleted records past off. */
static int64_t read_offset(const struct md_part *p, int64_t off)
{
    return p->earliest > off ? p->earliest : off;
}

static void need_if_uncached(struct sweep *sw, size_t md, int64_t off,
                             bool has_commit, void *ctx)
{
    struct kafka_lag *kl = sw->kl;
    const struct md_part *p = &sw->parts[md];
    int64_t ts;
    int tstype;
    (void)has_commit;
    if (off < 0)
        return;
    off = read_offset(p, off);
    if (p->end <= off)
        return;
    if (kafka_tscache_get(kl->cache, p->topic_id, p->partition, off, &ts,
                          &tstype) == 0) {
        kl->st.cache_hits++;
        return;
    }
    kl->st.cache_misses++;
    add_need(sw, ctx, md, off);
}

/* Collects the (partition, offset) pairs whose timestamp is not cached,
 * sorted, and gives every partition the range of its needs. */
void sweep_collect_needs(struct sweep *sw)
{
    size_t cap = 0;
    for (size_t g = 0; g < sw->n_groups; g++)
        sweep_each_group_part(sw, &sw->groups[g], need_if_uncached, &cap);
    if (sw->n_needs)
        qsort(sw->needs, sw->n_needs, sizeof(*sw->needs), cmp_need);
    size_t w = 0;
    for (size_t r = 0; r < sw->n_needs; r++) {
        if (w > 0 && sw->needs[w - 1].md == sw->needs[r].md &&
            sw->needs[w - 1].offset == sw->needs[r].offset)
            continue;
        sw->needs[w++] = sw->needs[r];
    }
    sw->n_needs = w;
    for (size_t i = 0; i < sw->n_needs; i++) {
        struct md_part *p = &sw->parts[sw->needs[i].md];
        if (i == 0 || sw->needs[i - 1].md != sw->needs[i].md)
            p->need_lo = i;
        p->need_hi = i + 1;
    }
}

static rd_kafka_t *reader_new(struct sweep *sw, char *err, size_t errlen)
{
    struct kafka_lag *kl = sw->kl;
    rd_kafka_conf_t *conf = kafka_lag_conf_build(kl, err, errlen);
    if (!conf)
        return NULL;
    char group[96];
    /* A private group id: the reader never joins or commits, but the
     * consumer needs one to poll without spinning on "Unknown group".
     * Only the first message at an offset is needed: small fetches per
     * partition keep a sweep of many partitions from pulling megabytes
     * each (a broker still returns at least one whole batch). */
    snprintf(group, sizeof(group), "lagwatch-reader-%ld-%" PRIu64,
             (long)getpid(), ++kl->reader_seq);
    if (kafka_lag_conf_set(conf, "group.id", group, err, errlen) != 0 ||
        kafka_lag_conf_set(conf, "enable.partition.eof", "true", err, errlen) !=
            0 ||
        kafka_lag_conf_set(conf, "auto.offset.reset", "error", err, errlen) !=
            0 ||
        kafka_lag_conf_set(conf, "enable.auto.commit", "false", err, errlen) !=
            0 ||
        kafka_lag_conf_set(conf, "enable.auto.offset.store", "false", err,
                           errlen) != 0 ||
        kafka_lag_conf_set(conf, "fetch.wait.max.ms", "10", err, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    char errstr[512];
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "cannot create reader: %s", errstr);
    }
    return rk;
}

/* A partition whose needs are all resolved stops fetching. */
static void reader_done(rd_kafka_t *rk, struct md_part *p, size_t *left)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    /* A failure only means more messages for a resolved partition, which
     * are ignored. */
    (void)rd_kafka_pause_partitions(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    p->cursor = -1;
    (*left)--;
}

/* Moves the partition's read position to its next need: used when that
 * need is further ahead than reading forward is worth, or after an
 * out-of-range offset. Asynchronous: an error shows up as a message. */
static void reader_seek(struct sweep *sw, rd_kafka_t *rk, struct md_part *p)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset =
        sw->needs[p->cursor].offset;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(rk, l, 0);
    if (e) {
        /* The partition keeps reading forward, which is slower but still
         * resolves every need in order. */
        log_debug("kafka cluster '%s': cannot seek '%s' [%" PRId32 "]: %s",
                  sw->kl->name, p->topic, p->partition,
                  rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
    sw->kl->st.reader_seeks++;
}

/* Messages of a partition arrive in offset order from its lowest needed
 * offset (or a seek position at or below its next need), so the first
 * message at or after a needed offset is the first unconsumed message of
 * every group committed there. */
static void reader_take(struct sweep *sw, rd_kafka_t *rk, rd_kafka_message_t *m,
                        size_t *left)
{
    struct kafka_lag *kl = sw->kl;
    if (!m->rkt)
        return;
    const char *topic = rd_kafka_topic_name(m->rkt);
    long md = sweep_md_find(sw, topic, m->partition);
    if (md < 0 || sw->parts[md].cursor < 0)
        return;
    struct md_part *p = &sw->parts[md];
    struct ts_need *n = &sw->needs[p->cursor];
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        /* Nothing left to read at or after the remaining offsets (only
         * transaction markers or compacted records were left): those
         * groups are caught up in time. */
        for (size_t i = (size_t)p->cursor; i < p->need_hi; i++) {
            sw->needs[i].done = true;
            sw->needs[i].eof = true;
        }
        reader_done(rk, p, left);
        return;
    }
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        log_warn("kafka cluster '%s': offset %" PRId64 " of '%s' [%" PRId32
                 "] is out of range (deleted by retention during the sweep?): "
                 "its time lag is unknown",
                 kl->name, n->offset, topic, m->partition);
        n->done = true;
        if ((size_t)++p->cursor == p->need_hi)
            reader_done(rk, p, left);
        else
            reader_seek(sw, rk, p);
        return;
    }
    if (m->err || m->offset < n->offset)
        return; /* errors are transient: retried until the deadline */
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    bool found = tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts >= 0;
    while ((size_t)p->cursor < p->need_hi &&
           sw->needs[p->cursor].offset <= m->offset) {
        n = &sw->needs[p->cursor++];
        n->done = true;
        if (!found)
            continue;
        n->found = true;
        n->ts_ms = ts;
        n->tstype = (int8_t)tstype;
        kafka_tscache_put(kl->cache, p->topic_id, m->partition, n->offset, ts,
                          n->tstype);
    }
    if ((size_t)p->cursor == p->need_hi)
        reader_done(rk, p, left);
    else if (sw->needs[p->cursor].offset - m->offset > READ_AHEAD_MAX)
        reader_seek(sw, rk, p);
}

/* How long a sweep that needs timestamps waits for the previous reader to
 * shut down. */
#define REAPER_WAIT_MS 2000

/* Unassigns, drains and closes the reader. librdkafka 2.0.2 can block
 * forever in rd_kafka_destroy() when a broker thread still holds fetched
 * messages (seen here after pause, and after resume + unassign), so the
 * queue is drained first and close + destroy run on a thread of their own.
 * The sweep does not wait for it: shutting down a reader of 10,000
 * partitions took 0.3-1 s here, which now overlaps the interval between
 * sweeps; the next sweep that needs a reader waits for it a bounded time
 * (read_timestamps). A stuck reader is left behind (at most one; the
 * sweeps read no timestamps until it is gone) and never stalls the
 * collection. */
static void reader_close(struct kafka_lag *kl, rd_kafka_t *rk, bool assigned)
{
    if (assigned)
        (void)rd_kafka_assign(rk, NULL);
    int64_t until = (int64_t)clock_mono_ms() + 200;
    while ((int64_t)clock_mono_ms() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 10);
        if (!m)
            break;
        rd_kafka_message_destroy(m);
    }
    kafka_reaper_hand(kl->reaper, rk);
}

/* Reads the first unconsumed message of every needed (partition, offset):
 * one assign of every partition at its lowest needed offset, reading
 * forward through the offsets of the other groups (a seek when the next
 * one is far ahead). One assign per reader: librdkafka 2.0.2 readers get
 * slower with every large reassignment. */
int sweep_read_timestamps(struct sweep *sw)
{
    struct kafka_lag *kl = sw->kl;
    if (sw->n_needs == 0)
        return 0;
    int wait = sweep_remaining_ms(sw) / 2;
    if (!kafka_reaper_wait(kl->reaper,
                           wait < REAPER_WAIT_MS ? wait : REAPER_WAIT_MS)) {
        /* The partitions keep has_ts false: their time lag is unknown and
         * consumed_through holds still (kafka_lag_topic_hold). */
        kl->st.ts_timeouts += sw->n_needs;
        return 0;
    }
    char err[1024];
    int rc = -1;
    rd_kafka_topic_partition_list_t *l = NULL;
    rd_kafka_t *rk = reader_new(sw, err, sizeof(err));
    if (!rk) {
        buf_addf(&sw->err, "%s", err);
        return -1;
    }
    kl->st.reader_assigns++;
    l = rd_kafka_topic_partition_list_new(64);
    size_t left = 0;
    for (size_t i = 0; i < sw->n_needs; i++) {
        struct md_part *p = &sw->parts[sw->needs[i].md];
        if (i > 0 && sw->needs[i - 1].md == sw->needs[i].md)
            continue;
        p->cursor = (long)i;
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset =
            sw->needs[i].offset;
        left++;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
    if (e) {
        buf_addf(&sw->err, "cannot assign reader: %s", rd_kafka_err2str(e));
        goto out;
    }
    rc = 0;
    while (left > 0) {
        if ((int64_t)clock_mono_ms() >= sw->deadline) {
            rc = 1;
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, READER_POLL_MS);
        if (!m)
            continue;
        kl->st.reader_messages++;
        reader_take(sw, rk, m, &left);
        rd_kafka_message_destroy(m);
    }
    if (rc == 1) {
        size_t missing = 0;
        for (size_t i = 0; i < sw->n_needs; i++)
            missing += !sw->needs[i].done;
        kl->st.ts_timeouts += missing;
        log_warn("kafka cluster '%s': timestamps of %zu partitions not read "
                 "before the sweep deadline: their time lag reads 0",
                 kl->name, missing);
        rc = 0;
    }
out:
    reader_close(kl, rk, e == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}
