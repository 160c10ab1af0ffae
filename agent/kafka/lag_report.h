/*
 * lag_report: renders Kafka lag results (struct kafka_lag_cluster) as the
 * /api/v1/lag JSON document (lagwatch(8), HTTP ENDPOINTS; also printed by
 * `lagwatch lag --json`), as a kafka-consumer-groups style table, and as
 * kafka_consumergroup_lag points (lagwatch(8), DATA WRITTEN TO INFLUXDB).
 *
 * Group ids, topics and error texts come from brokers and are untrusted:
 * JSON escapes them (invalid UTF-8 becomes U+FFFD), the table replaces
 * control characters.
 */
#ifndef AGENT_LAG_REPORT_H
#define AGENT_LAG_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "util/buf.h"
#include "kafka/kafka_lag.h"
#include "pipeline/sample.h"

#define LAG_REPORT_MEASUREMENT "kafka_consumergroup_lag"

/* Appends {"clusters":[...]} for the n clusters to out. Every documented field
 * is present; added fields: cluster "error" (when set) and "swept_at_ms";
 * group "job" (when mapped); topic "ts_type" and "partition_count";
 * partition "has_commit" and "first_unconsumed_ts_ms". A lagging
 * partition whose timestamp could not be read has "lag_seconds":null and
 * "ts_unknown":true (its topic "ts_unknown_partitions"); one whose
 * committed offset is below the log start has "data_loss":true and
 * "lost_records" (its topic "data_loss_partitions"). Returns -1 when out
 * hit its cap. */
int lag_report_json(struct buf *out,
                    const struct kafka_lag_cluster *const *clusters, size_t n);

/* Writes the table GROUP TOPIC PARTITION COMMITTED END LAG LAG_SECONDS,
 * and after each group/topic a summary line naming the slowest partition
 * (and one counting partitions of unknown time lag and with data loss,
 * when there are any; such rows read "unknown" and "DATA LOSS"). Returns -1 on
 * a write error. */
int lag_report_table(FILE *f, const struct kafka_lag_cluster *c);

/* Calls fn once per group and topic of c with a kafka_consumergroup_lag
 * point stamped with c->swept_at_ms. Nothing for a stale result (its
 * points were written when it was fresh). Stops at and returns fn's first
 * non-zero return. The point and its strings are valid during the call
 * only. */
int lag_report_points(const struct kafka_lag_cluster *c, point_fn fn,
                      void *ctx);

#endif
