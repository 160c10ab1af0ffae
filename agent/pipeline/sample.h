/*
 * sample: the value types that flow through the pipeline.
 *
 *   exposition text --promparse--> struct sample
 *                   --trim-------> struct series   (labels trimmed, folded)
 *                   --schema-----> struct point    (InfluxDB measurement,
 *                                                  tags, typed fields)
 *
 * All three are views: every pointer is borrowed from the producer and valid
 * only for the duration of the callback that receives it. Strings are
 * NUL-terminated and also carry their length.
 */
#ifndef AGENT_SAMPLE_H
#define AGENT_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct label {
    const char *name;
    const char *value;
    uint32_t name_len;
    uint32_t value_len;
};

/* The TYPE of the family a sample belongs to (Prometheus text format). */
enum metric_type {
    MT_UNTYPED = 0,
    MT_COUNTER,
    MT_GAUGE,
    MT_SUMMARY,
    MT_HISTOGRAM,
};

/* One line of Prometheus exposition. */
struct sample {
    const char *name; /* full sample name, e.g. "x_count" */
    size_t name_len;
    /* The family name from the TYPE line the sample belongs to ("x" for
     * "x_count" of summary "x"), or the sample name when there was none. */
    const char *family;
    size_t family_len;
    enum metric_type type;
    /* The HELP text of the family, or NULL. Flink's reporter writes
     * "<metric> (scope: <scope>)", which names the Flink metric exactly. */
    const char *help;
    size_t help_len;
    const struct label *labels; /* in exposition order */
    size_t nlabels;
    double value; /* may be NaN or +-Inf */
    int64_t ts_ms;
    bool has_ts;
};

typedef int (*sample_fn)(void *ctx, const struct sample *s);

/* A trimmed series, ready to be mapped to a store's schema. */
struct series {
    const char *name; /* Prometheus name, e.g. flink_taskmanager_job_... */
    size_t name_len;
    /* The Flink metric name ("numRecordsIn"), from HELP's scope when the
     * reporter gave one, else the last '_'-separated part of the family. */
    const char *metric;
    size_t metric_len;
    const char *family; /* as in struct sample */
    size_t family_len;
    enum metric_type type;
    const struct label *labels; /* sorted by name, unique, no empty value */
    size_t nlabels;
    int64_t ts_ms;
    bool folded;
    double value; /* when !folded */
    double max;   /* when folded: over the folded subtasks */
    double sum;
    uint32_t count; /* number of subtasks folded; avg = sum / count */
};

typedef int (*series_fn)(void *ctx, const struct series *s);

enum field_kind {
    FIELD_FLOAT = 0,
    FIELD_INT,
    FIELD_BOOL,
    FIELD_STRING,
};

struct field {
    const char *key;
    enum field_kind kind;
    double f;
    int64_t i;
    bool b;
    const char *s;
};

/* An InfluxDB point. Tags should be sorted by key (what influxd prefers). */
struct point {
    const char *measurement;
    const struct label *tags;
    size_t ntags;
    const struct field *fields;
    size_t nfields;
    int64_t ts_ms;
};

typedef int (*point_fn)(void *ctx, const struct point *p);

#endif
