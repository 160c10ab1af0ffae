#include "prom/expo_flink.h"

#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "pipeline/series_fold.h"

/* Long enough for any Prometheus name lagwatch keeps; a longer one is
 * refused like a sample over the cap. */
#define NAME_MAX_BYTES 1024

/* The family of value `suffix` of s, declared when new: the help text is
 * formatted only then, not for every sample. */
static size_t family_of(struct expo *e, const struct series *s,
                        const char *suffix, enum metric_type type,
                        const char *what)
{
    char name[NAME_MAX_BYTES];
    size_t sl = strlen(suffix);
    if (s->name_len + sl >= sizeof(name))
        return EXPO_NO_FAMILY;
    memcpy(name, s->name, s->name_len);
    memcpy(name + s->name_len, suffix, sl);
    size_t n = s->name_len + sl;
    size_t fi = expo_family_find(e, name, n);
    if (fi != EXPO_NO_FAMILY)
        return fi;
    char help[NAME_MAX_BYTES + 128];
    int h = snprintf(help, sizeof(help), "Flink metric %.*s%s",
                     (int)(s->metric_len < 512 ? s->metric_len : 512),
                     s->metric, what);
    if (h < 0)
        return EXPO_NO_FAMILY;
    if ((size_t)h >= sizeof(help))
        h = (int)sizeof(help) - 1;
    return expo_family_index(e, name, n, type, help, (size_t)h);
}

int expo_flink_series(struct expo *e, const struct series *s, unsigned fold)
{
    /* a folded value is always a gauge: a max or avg of counters is not
     * monotonic */
    enum metric_type t = s->folded ? MT_GAUGE
                         : s->type == MT_COUNTER || s->type == MT_GAUGE
                             ? s->type
                             : MT_UNTYPED;
    struct series_value vals[SERIES_FOLD_MAX_VALUES];
    size_t fam[SERIES_FOLD_MAX_VALUES];
    double v[SERIES_FOLD_MAX_VALUES];
    size_t n = series_fold_values(s, fold, vals);
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        fam[k] = family_of(e, s, vals[i].suffix, t, vals[i].help);
        if (fam[k] == EXPO_NO_FAMILY) {
            rc = -1;
            continue;
        }
        v[k++] = vals[i].value;
    }
    /* one interning of the label set for all the values */
    if (expo_add_values(e, fam, v, k, s->labels, s->nlabels) < 0)
        rc = -1;
    return rc;
}

struct field_map {
    const char *measurement;
    const char *field;
    const char *name;
    double scale;
    const char *help;
};

static const struct field_map fields[] = {
    {"lagwatch_task_timing", "busy_ratio_max", "lagwatch_task_busy_ratio_max",
     1, "Highest share of time a subtask of the task was busy (0..1)"},
    {"lagwatch_task_timing", "backpressured_ratio_max",
     "lagwatch_task_backpressured_ratio_max", 1,
     "Highest share of time a subtask of the task was back-pressured (0..1)"},
    {"lagwatch_task_timing", "idle_ratio_min", "lagwatch_task_idle_ratio_min",
     1, "Lowest share of time a subtask of the task was idle (0..1)"},
    {"lagwatch_task_timing", "record_time_us_max",
     "lagwatch_task_record_time_seconds_max", 1e-6,
     "Highest busy time per record over the subtasks of the task"},
    {"lagwatch_task_timing", "slowest_subtask", "lagwatch_task_slowest_subtask",
     1, "Index of the busiest subtask of the task"},
    {"lagwatch_task_timing", "bottleneck", "lagwatch_task_bottleneck", 1,
     "1 when the task is the job's bottleneck (busy, not back-pressured, "
     "its upstream back-pressured)"},
    {"lagwatch_task_timing", "watermark_lag_ms",
     "lagwatch_task_watermark_lag_seconds", 1e-3,
     "Time since the lowest input watermark over the subtasks of the task"},
    {"lagwatch_job", "running", "lagwatch_job_running", 1,
     "1 while the job runs"},
    {"lagwatch_job", "uptime_ms", "lagwatch_job_uptime_seconds", 1e-3,
     "Time since the job last (re)started"},
    {"lagwatch_job", "restarts", "lagwatch_job_restarts", 1,
     "Restarts of the job"},
    {"lagwatch_job", "last_checkpoint_completed_ms",
     "lagwatch_job_last_checkpoint_completed_timestamp_seconds", 1e-3,
     "When the latest completed checkpoint was acknowledged, Unix time"},
    {"lagwatch_job", "last_checkpoint_duration_ms",
     "lagwatch_job_last_checkpoint_duration_seconds", 1e-3,
     "Duration of the latest completed checkpoint"},
    {"lagwatch_job", "last_checkpoint_size_bytes",
     "lagwatch_job_last_checkpoint_size_bytes", 1,
     "Size of the latest completed checkpoint"},
    {"lagwatch_job", "completed_checkpoints",
     "lagwatch_job_checkpoints_completed", 1,
     "Checkpoints completed, as the JobManager counts them"},
    {"lagwatch_job", "failed_checkpoints", "lagwatch_job_checkpoints_failed", 1,
     "Checkpoints failed, as the JobManager counts them"},
    {"lagwatch_job", "in_progress_checkpoints",
     "lagwatch_job_checkpoints_in_progress", 1, "Checkpoints in progress"},
};

/* The Kafka lag points (per group and topic) keep, for Prometheus, the
 * per-topic names /metrics uses (agent/kafka/lag_metrics.c): lagwatch's
 * own, and kafka-lag-exporter's topic-level sum. */
static const struct field_map lag_fields[] = {
    {"kafka_consumergroup_lag", "catch_up_s",
     "kafka_consumergroup_group_catch_up_seconds", 1, ""},
    {"kafka_consumergroup_lag", "produce_rate",
     "lagwatch_kafka_group_topic_produce_rate", 1, ""},
    {"kafka_consumergroup_lag", "consume_rate",
     "lagwatch_kafka_group_topic_consume_rate", 1, ""},
    {"kafka_consumergroup_lag", "max_lag", "lagwatch_kafka_group_topic_max_lag",
     1, ""},
    {"kafka_consumergroup_lag", "max_lag_seconds",
     "lagwatch_kafka_group_topic_max_lag_seconds", 1, ""},
    {"kafka_consumergroup_lag", "sum_lag",
     "kafka_consumergroup_group_topic_sum_lag", 1, ""},
    {"kafka_consumergroup_lag", "slowest_partition",
     "lagwatch_kafka_group_topic_slowest_partition", 1, ""},
    {"kafka_consumergroup_lag", "consumed_through_ms",
     "lagwatch_kafka_group_topic_consumed_through_seconds", 1e-3, ""},
    {"kafka_consumergroup_lag", "partitions",
     "lagwatch_kafka_group_topic_partitions", 1, ""},
};

static const struct field_map *find_map(const char *measurement,
                                        const char *field)
{
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
        if (strcmp(fields[k].measurement, measurement) == 0 &&
            strcmp(fields[k].field, field) == 0)
            return &fields[k];
    for (size_t k = 0; k < sizeof(lag_fields) / sizeof(lag_fields[0]); k++)
        if (strcmp(lag_fields[k].measurement, measurement) == 0 &&
            strcmp(lag_fields[k].field, field) == 0)
            return &lag_fields[k];
    return NULL;
}

static const char *prefix_of(const char *measurement)
{
    if (strcmp(measurement, "lagwatch_task_timing") == 0)
        return "lagwatch_task";
    return measurement;
}

int expo_flink_field(const struct point *p, size_t i, char *name, size_t n,
                     double *v)
{
    const struct field *f = &p->fields[i];
    if (f->kind == FIELD_FLOAT)
        *v = f->f;
    else if (f->kind == FIELD_INT)
        *v = (double)f->i;
    else if (f->kind == FIELD_BOOL)
        *v = f->b ? 1 : 0;
    else
        return -1;
    const struct field_map *m = find_map(p->measurement, f->key);
    int len;
    if (m) {
        len = snprintf(name, n, "%s", m->name);
        *v *= m->scale;
    } else {
        len = snprintf(name, n, "%s_%s", prefix_of(p->measurement), f->key);
    }
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

int expo_flink_point(struct expo *e, const struct point *p)
{
    if (strcmp(p->measurement, "lagwatch_task_timing") != 0 &&
        strcmp(p->measurement, "lagwatch_job") != 0)
        return 0;
    int rc = 0;
    for (size_t i = 0; i < p->nfields; i++) {
        char name[256], help[320];
        double v;
        if (expo_flink_field(p, i, name, sizeof(name), &v) < 0)
            continue;
        const struct field_map *m = find_map(p->measurement, p->fields[i].key);
        if (m)
            snprintf(help, sizeof(help), "%s", m->help);
        else
            snprintf(help, sizeof(help), "Field %.200s of the %s point",
                     p->fields[i].key, p->measurement);
        if (expo_add(e, name, strlen(name), MT_GAUGE, help, strlen(help),
                     p->tags, p->ntags, v) < 0)
            rc = -1;
    }
    return rc;
}
