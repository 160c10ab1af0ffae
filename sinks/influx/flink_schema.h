/*
 * flink_schema: maps a trimmed series to an InfluxDB point in the schema of
 * Flink's own InfluxdbReporter (lagwatch(8), DATA WRITTEN TO INFLUXDB), so
 * that existing dashboards keep working.
 *
 *   measurement  the series name without "flink_" (and without the
 *                _count/_sum/_bucket suffix of a summary or histogram):
 *                flink_taskmanager_job_task_operator_numRecordsIn ->
 *                taskmanager_job_task_operator_numRecordsIn
 *   tags         the series labels (already sorted by trim), minus the
 *                quantile / le label that became a field name
 *   fields       plain series, by the Flink type of series.metric
 *                (flinkcat): counter -> "count" (integer), meter -> "rate",
 *                gauge and unknown -> "value";
 *                summary (Flink histograms): <f>_count -> "count" (integer),
 *                <f>_sum -> "sum", quantile q -> "p50", "p75", "p95",
 *                "p98", "p99", "p999", other q -> "q" + its digits
 *                ("0.25" -> "q025");
 *                histogram buckets: <f>_bucket{le="x"} -> "le_" + x with
 *                '.' as '_', '-' as 'm' and "+Inf" as "inf" (float, since
 *                a bucket count may be fractional in Prometheus);
 *                folded series: the configured subset of "max", "sum",
 *                "avg" (series_fold_values), prefixed with the summary field
 * when the folded series was a summary part ("p99_max", "count_sum").
 *
 * INVARIANT: a field keeps one type forever; InfluxDB rejects a write that
 * changes it. Only "count" of a plain counter or of a summary is an
 * integer, every other field is a float, and a field name never changes
 * kind with the data: a counter value that is not an integer (or is outside
 * int64) is not written at all rather than written as a float.
 *
 * The count line and the quantile lines of one summary become separate
 * points with the same measurement, tags and timestamp: InfluxDB merges the
 * fields of such points into one, so a dashboard sees one row with count,
 * p50, ... p999 (Flink's reporter writes no _sum).
 */
#ifndef SINKS_FLINK_SCHEMA_H
#define SINKS_FLINK_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pipeline/sample.h"

struct flink_schema_opts {
    /* Aggregates of a folded series: SERIES_FOLD_* bits
     * (pipeline/series_fold.h; cfg_trim.fold), 0 means all three. */
    unsigned fold_fields;
};

/* Reused across calls so that mapping allocates nothing in steady state.
 * Zero-initialize it (FLINK_SCHEMA_SCRATCH_INIT); release it when done. */
struct flink_schema_scratch {
    struct label *tags;
    size_t tags_cap;
    char *text; /* measurement and generated field keys */
    size_t text_cap;
    struct field fields[4]; /* SERIES_FOLD_MAX_VALUES */
    /* Points not written, for the caller's counters. */
    uint64_t skipped_nonfinite;   /* NaN/Inf value, or a fold of nothing */
    uint64_t skipped_nonintegral; /* counter not an int64 integer */
    /* The last metric looked up in flinkcat and its kind: series of one
     * family come one after the other. kind_metric_len 0: none. */
    char kind_metric[64];
    size_t kind_metric_len;
    int kind;
};

#define FLINK_SCHEMA_SCRATCH_INIT                                              \
    {                                                                          \
        0                                                                      \
    }

void flink_schema_scratch_release(struct flink_schema_scratch *sc);

/* Maps s. Returns 0 with out filled (its pointers point into s and
 * scratch: valid until the next call with that scratch or until s goes), or
 * 1 when there is nothing to write (counted in scratch). */
int flink_schema_point(const struct series *s,
                       const struct flink_schema_opts *o, struct point *out,
                       struct flink_schema_scratch *scratch);

#endif
