/*
 * expo_flink: what a cycle's Flink collection adds to the /metrics model.
 *
 * Trimmed reporter series keep their Prometheus names (flink_ prefix): a
 * series folded over subtasks becomes gauges <name>_max, <name>_sum and
 * <name>_avg (those of the fold set, series_fold_values), as fmt_prom and
 * remote write name them. The
 * derived timing and job points of the JobManager REST collector become one
 * gauge family per field, in base units:
 *
 *   lagwatch_task_timing  -> lagwatch_task_busy_ratio_max,
 *       lagwatch_task_backpressured_ratio_max, lagwatch_task_idle_ratio_min,
 *       lagwatch_task_record_time_seconds_max, lagwatch_task_slowest_subtask,
 *       lagwatch_task_bottleneck {flink_cluster, job_name, task_name}
 *   lagwatch_job -> lagwatch_job_running, lagwatch_job_uptime_seconds,
 *       lagwatch_job_restarts,
 *       lagwatch_job_last_checkpoint_completed_timestamp_seconds,
 *       lagwatch_job_last_checkpoint_duration_seconds,
 *       lagwatch_job_last_checkpoint_size_bytes,
 *       lagwatch_job_checkpoints_completed, lagwatch_job_checkpoints_failed,
 *       lagwatch_job_checkpoints_in_progress {flink_cluster, job_name}
 *
 * A field not listed here is exposed as <measurement prefix>_<field>.
 * Remote write names points the same way (expo_flink_field).
 */
#ifndef SINKS_EXPO_FLINK_H
#define SINKS_EXPO_FLINK_H

#include "prom/expo.h"
#include "pipeline/sample.h"

/* Adds series s. fold: SERIES_FOLD_* bits, 0 = all three. Returns -1
 * when something did not fit (counted by the model). */
int expo_flink_series(struct expo *e, const struct series *s, unsigned fold);

/* Adds the fields of a lagwatch_task_timing or lagwatch_job point; other
 * measurements are ignored. Returns -1 when something did not fit. */
int expo_flink_point(struct expo *e, const struct point *p);

/* The Prometheus sample name of field i of point p, as /metrics and remote
 * write both name it (the families above; kafka_consumergroup_lag fields
 * as lagwatch_kafka_group_topic_<field>, sum_lag as
 * kafka_consumergroup_group_topic_sum_lag, consumed_through_ms as
 * ..._consumed_through_seconds; others <measurement>_<field>), and its
 * value in that family's unit. -1 for a field with no numeric value. */
int expo_flink_field(const struct point *p, size_t i, char *name, size_t n,
                     double *v);

#endif
