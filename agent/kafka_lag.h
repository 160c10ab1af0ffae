/*
 * kafka_lag: measures consumer-group lag of one Kafka cluster (SPEC "Kafka
 * lag"), in records and in time.
 *
 * A sweep reads, in this order so that lag can never come out negative:
 *   1. the groups: configured names, plus ListGroups matched against the
 *      anchored patterns (probed on a short-lived handle, because a failed
 *      group listing can leave a librdkafka handle unusable);
 *   2. topic metadata, then the committed offsets of each group for every
 *      partition (OffsetFetch, one request per group per chunk of
 *      KAFKA_LAG_CHUNK partitions); the group's topics are those with at
 *      least one committed partition;
 *   3. the log-end offsets of those partitions (ListOffsets, batched per
 *      leader, in chunks);
 *   4. the timestamp of the first unconsumed message of each partition with
 *      lag > 0, from a cache keyed by (topic, partition, offset)
 *      (kafka_tscache) or read by one reader that assigns every partition
 *      with a missing offset once, at the lowest such offset, and reads
 *      forward through the others.
 *
 * The result is a plain tree of structs (struct kafka_lag_cluster) that the
 * caller owns. When a sweep fails (cluster unreachable), the caller gets the
 * last good result marked stale with the error.
 *
 * Threads: a struct kafka_lag is used by one thread at a time. Results are
 * independent copies and may be handed to other threads.
 */
#ifndef AGENT_KAFKA_LAG_H
#define AGENT_KAFKA_LAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define KAFKA_LAG_CHUNK 1000 /* partitions per OffsetFetch / ListOffsets */
#define KAFKA_LAG_CACHE_MAX 1000000 /* timestamp cache entries */
#define KAFKA_LAG_MAX_PARTITIONS 1000000 /* cap on cluster metadata */
#define KAFKA_LAG_MAX_GROUPS 100000      /* cap on listed groups */

struct kafka_lag_part {
    int32_t partition;
    int64_t committed; /* with lag_from_earliest and no commit: earliest */
    int64_t end;
    int64_t lag; /* end - committed, >= 0 */
    double lag_seconds; /* now - first unconsumed timestamp, >= 0 */
    int64_t first_unconsumed_ts_ms; /* caught up: the sweep's time */
    bool has_commit;
    bool has_ts; /* false: lag > 0 but the timestamp could not be read in
                    time; lag_seconds is then 0 and the partition does not
                    lower consumed_through */
};

struct kafka_lag_topic {
    char *topic;
    const char *ts_type; /* "CreateTime", "LogAppendTime" or "unknown" */
    int64_t max_lag;
    double max_lag_seconds;
    int32_t slowest_partition; /* -1 when there are no partitions */
    int64_t sum_lag;
    size_t partitions; /* == n_parts */
    int64_t consumed_through_ms;
    struct kafka_lag_part *parts; /* sorted by partition */
    size_t n_parts;
};

struct kafka_lag_group {
    char *group;
    char *job; /* the configured job_name, as written; NULL when unmapped */
    struct kafka_lag_topic *topics; /* sorted by topic name */
    size_t n_topics;
};

struct kafka_lag_cluster {
    char *name;
    bool stale;  /* the last sweep failed; this is an older result */
    char *error; /* why the last sweep failed, or NULL */
    int64_t swept_at_ms; /* when this result was measured */
    struct kafka_lag_group *groups; /* in configuration order */
    size_t n_groups;
};

/* Cumulative over the life of a struct kafka_lag. */
struct kafka_lag_stats {
    uint64_t sweeps;
    uint64_t sweep_errors;
    uint64_t req_metadata;
    uint64_t req_list_groups;
    uint64_t req_offset_fetch;
    uint64_t req_list_offsets; /* one per leader per chunk */
    uint64_t reader_assigns;   /* reader handles created (one per sweep
                                  that needs timestamps) */
    uint64_t reader_messages;  /* messages and EOF events read */
    uint64_t no_commit_skipped;
    uint64_t negative_age_clamped;
    uint64_t ts_timeouts; /* partitions whose timestamp was not read in time */
    uint64_t cache_hits;
    uint64_t cache_misses;
    uint64_t cache_entries;
    int64_t last_sweep_ms; /* duration of the last sweep */
    uint64_t reader_seeks; /* a partition's next needed offset was too far
                              ahead to read forward to */
    /* Where the last sweep's time went, ms: group selection (with
     * metadata), OffsetFetch, ListOffsets, the reader (creation to
     * destroy), building the result. */
    int64_t last_groups_ms;
    int64_t last_offset_fetch_ms;
    int64_t last_list_offsets_ms;
    int64_t last_timestamps_ms;
    int64_t last_assemble_ms;
};

struct kafka_lag;

/* Creates the handles for cfg (brokers, properties pass through to
 * librdkafka, e.g. SASL/TLS) and compiles the group patterns. cfg is
 * copied. Returns NULL with a message in err on bad configuration. */
struct kafka_lag *kafka_lag_new(const struct cfg_kafka *cfg, char *err,
                                size_t errlen);
/* NULL-safe; sets *klp to NULL. */
void kafka_lag_free(struct kafka_lag **klp);

/* Runs one sweep that tries to finish within timeout_ms. On success
 * returns 0 and a fresh result in *out. On failure returns -1, logs
 * nothing, and sets *out to a copy of the last good result marked stale
 * with the error (or to an empty stale result when there was none). The
 * caller owns *out (kafka_lag_cluster_free). */
int kafka_lag_sweep(struct kafka_lag *kl, int timeout_ms,
                    struct kafka_lag_cluster **out);
const struct kafka_lag_stats *kafka_lag_stats(const struct kafka_lag *kl);

/* NULL-safe; sets *cp to NULL. */
void kafka_lag_cluster_free(struct kafka_lag_cluster **cp);
/* Deep copy. */
struct kafka_lag_cluster *
kafka_lag_cluster_dup(const struct kafka_lag_cluster *c);

/* ---- building blocks, exposed for the unit tests ---- */

/* Which configured entry selects group id: the first entry whose name
 * equals it or whose anchored pattern (compiled by kafka_lag_new) matches
 * it; returns its index or -1. */
int kafka_lag_match_group(const struct kafka_lag *kl, const char *group);

/* Fills the derived fields of t from its parts (partition, committed, end,
 * lag, has_ts, first_unconsumed_ts_ms must be set): lag_seconds (negative
 * ages clamped to 0 and counted in st), max_lag, sum_lag, partitions,
 * slowest_partition (largest lag_seconds; ties: larger lag, then lower
 * partition id), max_lag_seconds and consumed_through_ms (the oldest first
 * unconsumed timestamp; caught-up partitions count as now_ms). */
void kafka_lag_topic_finish(struct kafka_lag_topic *t, int64_t now_ms,
                            struct kafka_lag_stats *st);

#endif
