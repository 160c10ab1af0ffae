/*
 * kafka_result: the result of a Kafka lag sweep (kafka_lag) as a plain tree
 * of structs, and the pure functions on it: the per-topic reduction
 * (slowest partition, consumed_through), the consumed_through hold for
 * partitions whose time lag is unknown, deep copy and free. Each topic
 * also carries the catch-up estimate (catch_up, produce_rate,
 * consume_rate, catch_up_s), filled by kafka_rates after the sweep, for
 * /metrics, /api/v1/lag, `lagwatch lag` and any other reader.
 *
 * Nothing here talks to Kafka, so all of it is unit-tested on hand-built
 * data. Threads: results are plain values; any thread may use its own.
 */
#ifndef AGENT_KAFKA_RESULT_H
#define AGENT_KAFKA_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kafka_lag_part {
    int32_t partition;
    int64_t committed; /* with lag_from_earliest and no commit: earliest */
    int64_t end;
    int64_t earliest;   /* log start offset; -1 when it was not read */
    int64_t lag;        /* end - committed, >= 0 */
    double lag_seconds; /* now - first unconsumed timestamp, >= 0; 0 when
                           !has_ts (the report shows it as unknown) */
    int64_t first_unconsumed_ts_ms; /* caught up: the sweep's time */
    int64_t lost_records; /* data_loss: earliest - committed (at most lag) */
    bool has_commit;
    bool has_ts;    /* false: lag > 0 but the timestamp could not be read in
                       time; lag_seconds is then unknown and the partition
                       does not lower consumed_through (see
                       kafka_lag_topic_hold) */
    bool data_loss; /* retention deleted records at or after the committed
                       offset: the log starts above it, and the first
                       unconsumed message is the earliest one left */
};

/* Will the group catch up on the topic (kafka_rates.h)? */
enum kafka_catch_up {
    KAFKA_CATCH_UP_UNKNOWN = 0, /* fewer than two comparable sweeps */
    KAFKA_CATCH_UP_GAINING,     /* consuming faster than produced */
    KAFKA_CATCH_UP_NEVER,       /* lagging and not gaining: +Inf */
};

/* "gaining", "never" or "unknown", for JSON and the table. */
const char *kafka_catch_up_name(enum kafka_catch_up st);

struct kafka_lag_topic {
    char *topic;
    const char *ts_type; /* "CreateTime", "LogAppendTime" or "unknown" */
    int64_t max_lag;
    double max_lag_seconds;
    int32_t slowest_partition; /* -1 when there are no partitions */
    int64_t sum_lag;
    size_t partitions;       /* == n_parts */
    size_t ts_unknown_parts; /* lagging partitions without a timestamp */
    size_t data_loss_parts;  /* partitions with data_loss */
    int64_t consumed_through_ms;
    /* From the sweeps of the last kafka[].rate_window (kafka_rates.h):
     * records per second produced (log-end offsets) and consumed
     * (committed offsets), and when the sum lag reaches 0 at those rates
     * (seconds; INFINITY when NEVER; NAN and rates 0 when UNKNOWN). */
    enum kafka_catch_up catch_up;
    double produce_rate, consume_rate, catch_up_s;
    struct kafka_lag_part *parts; /* sorted by partition */
    size_t n_parts;
};

struct kafka_lag_group {
    char *group;
    char *job; /* the configured job_name (normalized); NULL when unmapped */
    struct kafka_lag_topic *topics; /* sorted by topic name */
    size_t n_topics;
};

struct kafka_lag_cluster {
    char *name;
    bool stale;          /* the last sweep failed; this is an older result */
    char *error;         /* why the last sweep failed, or NULL */
    int64_t swept_at_ms; /* when this result was measured */
    struct kafka_lag_group *groups; /* in configuration order */
    size_t n_groups;
};

/* NULL-safe; sets *cp to NULL. */
void kafka_lag_cluster_free(struct kafka_lag_cluster **cp);
/* Deep copy; the caller owns it. */
struct kafka_lag_cluster *
kafka_lag_cluster_dup(const struct kafka_lag_cluster *c);

/* Sets kp's committed, end, lag (end - committed, >= 0) and, when the log
 * starts above a lagging committed offset (earliest >= 0; -1 = not read),
 * data_loss and lost_records (the deleted unconsumed records, at most
 * lag). Returns the offset of the first unconsumed message that still
 * exists: max(committed, earliest); when it is >= end, everything left to
 * consume was deleted. */
int64_t kafka_lag_part_offsets(struct kafka_lag_part *kp, int64_t committed,
                               int64_t earliest, int64_t end);

/* Fills the derived fields of t from its parts (partition, committed, end,
 * lag, has_ts, data_loss, first_unconsumed_ts_ms must be set): lag_seconds
 * (negative ages clamped to 0 and counted in *clamped), max_lag, sum_lag,
 * partitions, ts_unknown_parts, data_loss_parts, slowest_partition (largest
 * lag_seconds; ties: larger lag, then lower partition id; a partition of
 * unknown age ranks as age 0), max_lag_seconds (of the slowest partition)
 * and consumed_through_ms (the oldest first unconsumed timestamp;
 * caught-up partitions count as now_ms, partitions of unknown age not at
 * all: kafka_lag_topic_hold handles them). */
void kafka_lag_topic_finish(struct kafka_lag_topic *t, int64_t now_ms,
                            uint64_t *clamped);

/* consumed_through promises that every earlier message was consumed, so
 * when a lagging partition of t has no timestamp it must not advance:
 * t keeps the value of group's topic in prev (the last good result,
 * NULL-safe; committed offsets only move forward, so it still holds), or
 * 0 ("nothing is promised") when prev has none. */
void kafka_lag_topic_hold(struct kafka_lag_topic *t, const char *group,
                          const struct kafka_lag_cluster *prev);

#endif
