/*
 * kafka_sweep: the state one kafka_lag sweep shares between its stages
 * (private to agent/kafka: kafka_lag.c constructs, drives and assembles,
 * kafka_offsets.c runs steps 1-3 of kafka_lag.h, kafka_tsread.c step 4).
 *
 * Ownership: struct kafka_lag owns its configuration copies, client handles,
 * cache and what earlier sweeps learned; struct sweep lives for one call of
 * kafka_lag_sweep() and owns the metadata, the selected groups, their
 * commits and the timestamp needs, freed by the driver.
 *
 * Threads: as struct kafka_lag, one thread at a time.
 */
#ifndef AGENT_KAFKA_SWEEP_H
#define AGENT_KAFKA_SWEEP_H

#define PCRE2_CODE_UNIT_WIDTH 8

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <librdkafka/rdkafka.h>
#include <pcre2.h>

#include "kafka/kafka_lag.h"
#include "kafka/kafka_rates.h"
#include "kafka/kafka_reaper.h"
#include "kafka/kafka_tscache.h"
#include "util/buf.h"
#include "util/clock.h"

#define ADMIN_MAX_INFLIGHT     32
#define LIST_GROUPS_TIMEOUT_MS 5000
#define MIN_STEP_TIMEOUT_MS    100
#define READER_POLL_MS         50
/* Offsets read forward to the next group's committed offset before a seek
 * is cheaper: a fetch of a small batch costs about as much as a seek. */
#define READ_AHEAD_MAX 1000
/* Partitions per OffsetFetch on a group's first explicit sweep, when it is
 * asked for every partition of the cluster: librdkafka 2.0.2 handles an
 * OffsetFetch response in time quadratic in the request's partitions, so
 * smaller requests cost less in total (measured with bench/bench_lag:
 * 10,000 partitions x 50 groups, see the KAFKA LAG section of
 * lagwatch(8)). */
#define FIRST_CHUNK 250

/* Whether the cluster answers an OffsetFetch without a partition list
 * with every committed partition of the group (Kafka since 0.10.2 does;
 * librdkafka 2.0.2's mock cluster answers nothing). */
enum all_offsets {
    ALL_UNTRIED, /* no group with commits has shown it yet */
    ALL_WORKS,   /* one request per group; an empty answer is complete */
    ALL_EMPTY,   /* explicit partition lists only */
};

/* ================ sweep state ================ */

/* One partition of the cluster metadata. */
struct md_part {
    const char *topic; /* borrowed from the metadata */
    int32_t partition;
    int32_t leader;
    uint32_t topic_id;
    bool want_end, want_earliest;
    int64_t end, earliest;
    size_t need_lo, need_hi; /* range of sw->needs for this partition */
    long cursor;             /* next unresolved need while reading, or -1 */
};

struct commit {
    size_t md; /* index into md_part */
    int64_t offset;
};

struct sel_group {
    const char *name; /* borrowed from cfg or the listing copy */
    int entry;        /* configuration entry that selected it */
    struct commit *commits;
    size_t n_commits, cap_commits;
};

struct ts_need {
    size_t md;
    int64_t offset;
    bool done;
    bool found; /* a message was read */
    bool eof;   /* no message at or after offset: caught up in time */
    int64_t ts_ms;
    int8_t tstype;
};

/* What earlier sweeps learned about a group: the topics it has committed
 * on (queried in full every sweep) and where the probe of the other
 * partitions continues. */
struct known_group {
    char *group;
    uint32_t *topics; /* interned ids, sorted */
    size_t n_topics;
    size_t probe_next; /* index into the sweep's sorted partitions */
};

struct kafka_lag {
    char *name;
    char *bootstrap;
    struct cfg_kv *props;
    size_t n_props;
    bool from_earliest;
    int64_t rate_window_ms;          /* kafka[].rate_window */
    struct kafka_rates_table *rates; /* catch-up histories */
    struct cfg_kafka_group *groups;
    pcre2_code **re;         /* per group entry, NULL for names */
    pcre2_code **re_exclude; /* per group entry: groups[].exclude or NULL */
    /* kafka[].exclude_groups, topics, exclude_topics; NULL = not set */
    pcre2_code *re_exclude_groups, *re_topics, *re_exclude_topics;
    size_t n_groups;
    bool has_patterns;
    bool list_unsupported_logged;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    struct kafka_lag_stats st;
    struct kafka_lag_cluster *last; /* last good result */
    struct kafka_tscache *cache;
    uint64_t reader_seq;
    struct known_group *known; /* topics each group has committed on */
    size_t n_known, cap_known;
    enum all_offsets all_offsets;
    struct kafka_reaper *reaper; /* closes the last reader */
};

struct sweep {
    struct kafka_lag *kl;
    int64_t deadline; /* monotonic ms */
    const rd_kafka_metadata_t *md;
    struct md_part *parts;
    size_t n_parts;
    struct sel_group *groups;
    size_t n_groups;
    char **listed; /* owned copies of group ids from ListGroups */
    size_t n_listed;
    struct ts_need *needs;
    size_t n_needs;
    struct buf err;
};

/* Milliseconds left before the sweep's deadline, clamped so that every
 * request still gets a usable timeout. */
static inline int sweep_remaining_ms(const struct sweep *sw)
{
    int64_t left = sw->deadline - (int64_t)clock_mono_ms();
    if (left < MIN_STEP_TIMEOUT_MS)
        left = MIN_STEP_TIMEOUT_MS;
    if (left > 3600000)
        left = 3600000;
    return (int)left;
}

/* The index of key in the sorted array base[0..n), or -1. */
static inline long sweep_bsearch(const void *key, const void *base, size_t n,
                                 size_t size,
                                 int (*cmp)(const void *, const void *))
{
    const char *hit = n ? bsearch(key, base, n, size, cmp) : NULL;
    return hit ? (long)((size_t)(hit - (const char *)base) / size) : -1;
}

/* kafka_lag.c: the client configuration every handle of the cluster
 * shares (NULL with err set), one more property on it, and forgetting
 * what earlier sweeps learned about the groups. */
rd_kafka_conf_t *kafka_lag_conf_build(const struct kafka_lag *kl, char *err,
                                      size_t errlen);
int kafka_lag_conf_set(rd_kafka_conf_t *conf, const char *k, const char *v,
                       char *err, size_t errlen);
void kafka_lag_known_clear(struct kafka_lag *kl);

/* kafka_offsets.c, steps 1-3. Each returns 0, or -1 with the reason in
 * sw->err. */
int sweep_load_metadata(struct sweep *sw);
int sweep_select_groups(struct sweep *sw);
int sweep_fetch_committed(struct sweep *sw);
void sweep_mark_wanted(struct sweep *sw);
void sweep_mark_earliest(struct sweep *sw);
int sweep_list_offsets(struct sweep *sw, bool earliest);
/* The index into sw->parts of (topic, partition), or -1. */
long sweep_md_find(const struct sweep *sw, const char *topic,
                   int32_t partition);
/* The offset group g's lag counts from on partition md (advancing *k past
 * its commit there), or -1 when the partition is skipped. */
int64_t sweep_start_offset(const struct sweep *sw, const struct sel_group *g,
                           size_t *k, size_t md, bool *has_commit);
typedef void (*sweep_part_fn)(struct sweep *sw, size_t md, int64_t off,
                              bool has_commit, void *ctx);
/* Calls fn for every partition of every topic sg has committed on, in
 * order, with sweep_start_offset(). */
void sweep_each_group_part(struct sweep *sw, const struct sel_group *sg,
                           sweep_part_fn fn, void *ctx);

/* kafka_tsread.c, step 4. */
void sweep_collect_needs(struct sweep *sw);
int sweep_read_timestamps(struct sweep *sw);
/* The index into sw->needs of (md, off), or -1. */
long sweep_need_find(const struct sweep *sw, size_t md, int64_t off);

#endif
