/*
 * kafka_lag: measures consumer-group lag of one Kafka cluster (lagwatch(8),
 * KAFKA LAG), in records and in time.
 *
 * A sweep reads, in this order so that lag can never come out negative:
 *   1. the groups: configured names, plus ListGroups matched against the
 *      anchored patterns (probed on a short-lived handle, because a failed
 *      group listing can leave a librdkafka handle unusable);
 *   2. topic metadata, then the committed offsets of each group: one
 *      OffsetFetch without a partition list per group (complete on Kafka);
 *      where the cluster answers that with nothing (the 2.0.2 mock),
 *      explicit lists instead (a group's first sweep: every partition;
 *      later: its topics plus KAFKA_LAG_CHUNK others in rotation); the
 *      group's topics are those with at least one committed partition;
 *   3. the log-end offsets of those partitions, then the log start offsets
 *      of the lagging ones (ListOffsets, batched per leader, in chunks): a
 *      committed offset below the log start is data loss;
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
#include "kafka/kafka_result.h"

#define KAFKA_LAG_CHUNK          1000 /* partitions per OffsetFetch / ListOffsets */
#define KAFKA_LAG_CACHE_MAX      1000000 /* timestamp cache entries */
#define KAFKA_LAG_MAX_PARTITIONS 1000000 /* cap on cluster metadata */
#define KAFKA_LAG_MAX_GROUPS     100000  /* cap on listed groups */

/* Cumulative over the life of a struct kafka_lag. */
struct kafka_lag_stats {
    uint64_t sweeps;
    uint64_t sweep_errors;
    uint64_t req_metadata;
    uint64_t req_list_groups;
    uint64_t req_offset_fetch;     /* all of them, including: */
    uint64_t req_offset_fetch_all; /* one per group: every committed
                                      partition (no partition list) */
    uint64_t req_list_offsets;     /* one per leader per chunk, including: */
    uint64_t req_list_offsets_earliest; /* log start offsets */
    uint64_t reader_assigns;            /* reader handles created (one per sweep
                                           that needs timestamps) */
    uint64_t reader_messages;           /* messages and EOF events read */
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
    /* Gauges of the last successful sweep. */
    uint64_t last_data_loss;  /* partitions whose committed offset is below
                                 the log start (retention deleted records
                                 the group had not consumed) */
    uint64_t last_ts_unknown; /* lagging partitions of unknown time lag */
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

/* ---- building blocks, exposed for the unit tests ---- */

/* Which configured entry selects group id: the first entry whose name
 * equals it or whose anchored pattern (compiled by kafka_lag_new) matches
 * it; returns its index or -1. */
int kafka_lag_match_group(const struct kafka_lag *kl, const char *group);

/* Whether kafka[].topics / exclude_topics let the sweeps measure topic. */
bool kafka_lag_topic_selected(const struct kafka_lag *kl, const char *topic);

#endif
