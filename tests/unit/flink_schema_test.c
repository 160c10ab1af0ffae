/*
 * flink_schema_test: series -> InfluxDB point, per kind: counters, meters,
 * gauges, Flink summaries (no _sum) with their quantile fields, Prometheus
 * histogram buckets, folded series, and what is not written.
 */
#include "influx/flink_schema.h"

#include <math.h>
#include <string.h>

#include "pipeline/series_fold.h"
#include "tests/lib/tap.h"

#define L(n, v)                                                                \
    {                                                                          \
        n, v, sizeof(n) - 1, sizeof(v) - 1                                     \
    }

static const struct label task_labels[] = {
    L("flink_cluster", "prod"),
    L("job_name", "orders_enrich"),
    L("subtask_index", "0"),
    L("task_name", "Source:_KafkaSource_orders_"),
};

static const struct label quantile_labels[] = {
    L("flink_cluster", "prod"),
    L("job_name", "orders_enrich"),
    L("quantile", "0.99"),
    L("subtask_index", "0"),
    L("task_name", "Source:_KafkaSource_orders_"),
};

static struct series mk(const char *name, const char *family,
                        const char *metric, enum metric_type type,
                        const struct label *labels, size_t n, double v)
{
    struct series s = {
        .name = name,
        .name_len = strlen(name),
        .metric = metric,
        .metric_len = strlen(metric),
        .family = family,
        .family_len = strlen(family),
        .type = type,
        .labels = labels,
        .nlabels = n,
        .ts_ms = 1718093400000,
        .value = v,
    };
    return s;
}

static bool same_tags(const struct point *p, const struct label *want, size_t n)
{
    if (p->ntags != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(p->tags[i].name, want[i].name) ||
            strcmp(p->tags[i].value, want[i].value))
            return false;
    return true;
}

struct pcase {
    const char *name;
    const char *family;
    const char *metric;
    enum metric_type type;
    double value;
    int want_rc;
    const char *want_measurement;
    const char *want_key;
    enum field_kind want_kind;
    double want_value;
};

#define TASK "flink_taskmanager_job_task_"
#define OP   "flink_taskmanager_job_task_operator_"

static const struct pcase plain[] = {
    {OP "numRecordsIn", OP "numRecordsIn", "numRecordsIn", MT_GAUGE, 62338.0, 0,
     "taskmanager_job_task_operator_numRecordsIn", "count", FIELD_INT, 62338},
    {OP "numRecordsInPerSecond", OP "numRecordsInPerSecond",
     "numRecordsInPerSecond", MT_GAUGE, 6452.3, 0,
     "taskmanager_job_task_operator_numRecordsInPerSecond", "rate", FIELD_FLOAT,
     6452.3},
    {TASK "busyTimeMsPerSecond", TASK "busyTimeMsPerSecond",
     "busyTimeMsPerSecond", MT_GAUGE, 987.0, 0,
     "taskmanager_job_task_busyTimeMsPerSecond", "value", FIELD_FLOAT, 987},
    {TASK "idleTimeMsPerSecond", TASK "idleTimeMsPerSecond",
     "idleTimeMsPerSecond", MT_GAUGE, 13.0, 0,
     "taskmanager_job_task_idleTimeMsPerSecond", "value", FIELD_FLOAT, 13},
    {"flink_taskmanager_Status_JVM_CPU_Load",
     "flink_taskmanager_Status_JVM_CPU_Load", "Load", MT_GAUGE, 0.25, 0,
     "taskmanager_Status_JVM_CPU_Load", "value", FIELD_FLOAT, 0.25},
    {"other_metric", "other_metric", "metric", MT_GAUGE, 1.5, 0, "other_metric",
     "value", FIELD_FLOAT, 1.5},
    /* A counter that is not an integer is not written at all. */
    {OP "numRecordsOut", OP "numRecordsOut", "numRecordsOut", MT_GAUGE, 1.5, 1,
     NULL, NULL, FIELD_INT, 0},
    {OP "numRecordsOut", OP "numRecordsOut", "numRecordsOut", MT_GAUGE, 1e19, 1,
     NULL, NULL, FIELD_INT, 0},
    {OP "numRecordsOut", OP "numRecordsOut", "numRecordsOut", MT_GAUGE,
     -9.223372036854775808e18, 0, "taskmanager_job_task_operator_numRecordsOut",
     "count", FIELD_INT, -9.223372036854775808e18},
    /* Non-finite values are not written. */
    {TASK "busyTimeMsPerSecond", TASK "busyTimeMsPerSecond",
     "busyTimeMsPerSecond", MT_GAUGE, NAN, 1, NULL, NULL, FIELD_FLOAT, 0},
    {OP "numRecordsIn", OP "numRecordsIn", "numRecordsIn", MT_GAUGE, INFINITY,
     1, NULL, NULL, FIELD_INT, 0},
    /* Summary parts. */
    {TASK "mailboxLatencyMs_count", TASK "mailboxLatencyMs", "mailboxLatencyMs",
     MT_SUMMARY, 62338.0, 0, "taskmanager_job_task_mailboxLatencyMs", "count",
     FIELD_INT, 62338},
    {TASK "mailboxLatencyMs_sum", TASK "mailboxLatencyMs", "mailboxLatencyMs",
     MT_SUMMARY, 12.5, 0, "taskmanager_job_task_mailboxLatencyMs", "sum",
     FIELD_FLOAT, 12.5},
};

TAP_CASE(plain_and_summary_parts)
{
    struct flink_schema_scratch sc = FLINK_SCHEMA_SCRATCH_INIT;
    struct flink_schema_opts o = {0};
    uint64_t skipped = 0;
    for (size_t i = 0; i < TAP_N(plain); i++) {
        const struct pcase *c = &plain[i];
        struct series s = mk(c->name, c->family, c->metric, c->type,
                             task_labels, TAP_N(task_labels), c->value);
        struct point p;
        int rc = flink_schema_point(&s, &o, &p, &sc);
        if (rc != c->want_rc)
            printf("# case %zu (%s): rc %d\n", i, c->name, rc);
        TAP_EQ_INT(c->want_rc, rc);
        if (rc) {
            skipped++;
            TAP_EQ_U64(skipped, sc.skipped_nonfinite + sc.skipped_nonintegral);
            continue;
        }
        TAP_EQ_STR(c->want_measurement, p.measurement);
        TAP_OK(same_tags(&p, task_labels, TAP_N(task_labels)));
        TAP_EQ_INT(1, p.nfields);
        TAP_EQ_STR(c->want_key, p.fields[0].key);
        TAP_EQ_INT(c->want_kind, p.fields[0].kind);
        if (c->want_kind == FIELD_INT)
            TAP_EQ_INT((long long)c->want_value, p.fields[0].i);
        else
            TAP_EQ_DBL(c->want_value, p.fields[0].f, 0);
        TAP_EQ_INT(1718093400000, p.ts_ms);
    }
    TAP_EQ_U64(2, sc.skipped_nonfinite);
    TAP_EQ_U64(2, sc.skipped_nonintegral);
    flink_schema_scratch_release(&sc);
}

/* The kind of the last metric is remembered in the scratch: runs and
 * changes of metric (one too long to remember among them) must each get
 * their own field. */
TAP_CASE(metric_kind_follows_changes)
{
    static const struct {
        const char *metric;
        const char *key;
        enum field_kind kind;
    } m[] = {
        {"numRecordsIn", "count", FIELD_INT},
        {"numRecordsInPerSecond", "rate", FIELD_FLOAT},
        {"busyTimeMsPerSecond", "value", FIELD_FLOAT},
        {"numRecordsIn_but_a_name_longer_than_sixty_four_bytes_is_not_cached",
         "value", FIELD_FLOAT},
        {"numRecordsInX", "value", FIELD_FLOAT},
    };
    static const size_t order[] = {0, 0, 1, 1, 0, 2, 3, 3, 0, 4, 0, 3, 2};
    struct flink_schema_scratch sc = FLINK_SCHEMA_SCRATCH_INIT;
    struct flink_schema_opts o = {0};
    for (size_t i = 0; i < TAP_N(order); i++) {
        char metric[128];
        snprintf(metric, sizeof(metric), "%s", m[order[i]].metric);
        struct series s = mk(OP "x", OP "x", metric, MT_GAUGE, task_labels,
                             TAP_N(task_labels), 42);
        struct point p;
        TAP_EQ_INT(0, flink_schema_point(&s, &o, &p, &sc));
        TAP_EQ_STR(m[order[i]].key, p.fields[0].key);
        TAP_EQ_INT(m[order[i]].kind, p.fields[0].kind);
        /* the same text at another address, then changed in place */
        metric[0] = 'X';
    }
    flink_schema_scratch_release(&sc);
}

TAP_CASE(quantile_fields)
{
    static const struct {
        const char *q;
        const char *key;
    } qs[] = {
        {"0.5", "p50"},   {"0.75", "p75"},      {"0.95", "p95"},
        {"0.98", "p98"},  {"0.99", "p99"},      {"0.999", "p999"},
        {"0.25", "q025"}, {"0.9999", "q09999"}, {"1", "q1"},
    };
    struct flink_schema_scratch sc = FLINK_SCHEMA_SCRATCH_INIT;
    struct flink_schema_opts o = {0};
    for (size_t i = 0; i < TAP_N(qs); i++) {
        struct label ls[TAP_N(quantile_labels)];
        memcpy(ls, quantile_labels, sizeof(ls));
        ls[2].value = qs[i].q;
        ls[2].value_len = (uint32_t)strlen(qs[i].q);
        struct series s =
            mk(TASK "mailboxLatencyMs", TASK "mailboxLatencyMs",
               "mailboxLatencyMs", MT_SUMMARY, ls, TAP_N(ls), 21.0);
        struct point p;
        TAP_EQ_INT(0, flink_schema_point(&s, &o, &p, &sc));
        TAP_EQ_STR("taskmanager_job_task_mailboxLatencyMs", p.measurement);
        TAP_EQ_INT(1, p.nfields);
        TAP_EQ_STR(qs[i].key, p.fields[0].key);
        TAP_EQ_INT(FIELD_FLOAT, p.fields[0].kind);
        TAP_EQ_DBL(21.0, p.fields[0].f, 0);
        /* The quantile label became the field: the tags are those of the
         * _count line, so InfluxDB merges them into one point. */
        TAP_OK(same_tags(&p, task_labels, TAP_N(task_labels)));
    }
    flink_schema_scratch_release(&sc);
}

TAP_CASE(flink_summary_without_sum)
{
    /* What Flink writes for one histogram: _count and six quantiles, no
     * _sum. Every point lands on one measurement and tag set. */
    static const char *const q[] = {"0.5",  "0.75", "0.95",
                                    "0.98", "0.99", "0.999"};
    static const char *const keys[] = {"count", "p50", "p75", "p95",
                                       "p98",   "p99", "p999"};
    struct flink_schema_scratch sc = FLINK_SCHEMA_SCRATCH_INIT;
    struct flink_schema_opts o = {0};
    char meas[7][128];
    for (size_t i = 0; i < 7; i++) {
        struct label ls[TAP_N(quantile_labels)];
        memcpy(ls, quantile_labels, sizeof(ls));
        struct series s;
        if (i == 0) {
            s = mk("flink_taskmanager_job_latency_x_latency_count",
                   "flink_taskmanager_job_latency_x_latency", "latency",
                   MT_SUMMARY, task_labels, TAP_N(task_labels), 2078.0);
        } else {
            ls[2].value = q[i - 1];
            ls[2].value_len = (uint32_t)strlen(q[i - 1]);
            s = mk("flink_taskmanager_job_latency_x_latency",
                   "flink_taskmanager_job_latency_x_latency", "latency",
                   MT_SUMMARY, ls, TAP_N(ls), 1180.0 + (double)i);
        }
        struct point p;
        TAP_EQ_INT(0, flink_schema_point(&s, &o, &p, &sc));
        TAP_EQ_STR(keys[i], p.fields[0].key);
        TAP_EQ_INT(i == 0 ? FIELD_INT : FIELD_FLOAT, p.fields[0].kind);
        TAP_OK(same_tags(&p, task_labels, TAP_N(task_labels)));
        snprintf(meas[i], sizeof(meas[i]), "%s", p.measurement);
        TAP_EQ_STR("taskmanager_job_latency_x_latency", meas[i]);
    }
    flink_schema_scratch_release(&sc);
}

TAP_CASE(histogram_buckets)
{
    static const struct {
        const char *le;
        const char *key;
    } b[] = {{"0.005", "le_0_005"},
             {"+Inf", "le_inf"},
             {"10", "le_10"},
             {"1e-05", "le_1em05"}};
    struct flink_schema_scratch sc = FLINK_SCHEMA_SCRATCH_INIT;
    struct flink_schema_opts o = {0};
    for (size_t i = 0; i < TAP_N(b); i++) {
        struct label ls[] = {L("job", "x"), L("le", "")};
        ls[1].value = b[i].le;
        ls[1].value_len = (uint32_t)strlen(b[i].le);
        struct series s = mk("http_seconds_bucket", "http_seconds", "seconds",
                             MT_HISTOGRAM, ls, 2, 7.0);
        struct point p;
        TAP_EQ_INT(0, flink_schema_point(&s, &o, &p, &sc));
        TAP_EQ_STR("http_seconds", p.measurement);
        TAP_EQ_STR(b[i].key, p.fields[0].key);
        TAP_EQ_INT(FIELD_FLOAT, p.fields[0].kind);
        TAP_EQ_INT(1, p.ntags);
        TAP_EQ_STR("job", p.tags[0].name);
    }
    flink_schema_scratch_release(&sc);
}

TAP_CASE(folded_fields)
{
    struct flink_schema_scratch sc = FLINK_SCHEMA_SCRATCH_INIT;
    static const struct label folded_labels[] = {
        L("flink_cluster", "prod"),
        L("job_name", "orders_enrich"),
    };
    struct series s = mk(TASK "busyTimeMsPerSecond", TASK "busyTimeMsPerSecond",
                         "busyTimeMsPerSecond", MT_GAUGE, folded_labels, 2, 0);
    s.folded = true;
    s.max = 987;
    s.sum = 1273;
    s.count = 4;
    struct flink_schema_opts all = {0};
    struct point p;
    TAP_EQ_INT(0, flink_schema_point(&s, &all, &p, &sc));
    TAP_EQ_STR("taskmanager_job_task_busyTimeMsPerSecond", p.measurement);
    TAP_EQ_INT(4, p.nfields);
    TAP_EQ_STR("max", p.fields[0].key);
    TAP_EQ_DBL(987, p.fields[0].f, 0);
    TAP_EQ_STR("sum", p.fields[1].key);
    TAP_EQ_DBL(1273, p.fields[1].f, 0);
    TAP_EQ_STR("avg", p.fields[2].key);
    TAP_EQ_DBL(318.25, p.fields[2].f, 1e-12);
    for (size_t i = 0; i < 3; i++)
        TAP_EQ_INT(FIELD_FLOAT, p.fields[i].kind);
    /* how many subtasks went in: an integer, whatever the fold set */
    TAP_EQ_STR("subtasks", p.fields[3].key);
    TAP_EQ_INT(FIELD_INT, p.fields[3].kind);
    TAP_EQ_INT(4, p.fields[3].i);

    /* A folded counter is floats too: max/sum/avg never share a name with
     * the integer "count". */
    struct series c = s;
    c.name = OP "numRecordsIn";
    c.name_len = strlen(c.name);
    c.metric = "numRecordsIn";
    c.metric_len = 12;
    struct flink_schema_opts max_avg = {SERIES_FOLD_MAX | SERIES_FOLD_AVG};
    TAP_EQ_INT(0, flink_schema_point(&c, &max_avg, &p, &sc));
    TAP_EQ_INT(3, p.nfields);
    TAP_EQ_STR("max", p.fields[0].key);
    TAP_EQ_STR("avg", p.fields[1].key);
    TAP_EQ_STR("subtasks", p.fields[2].key);
    TAP_EQ_INT(FIELD_FLOAT, p.fields[0].kind);

    /* A folded summary quantile keeps its role as a prefix. */
    struct series q =
        mk(TASK "mailboxLatencyMs", TASK "mailboxLatencyMs", "mailboxLatencyMs",
           MT_SUMMARY, quantile_labels, TAP_N(quantile_labels), 0);
    q.folded = true;
    q.max = 21;
    q.sum = 40;
    q.count = 2;
    TAP_EQ_INT(0, flink_schema_point(&q, &all, &p, &sc));
    TAP_EQ_STR("taskmanager_job_task_mailboxLatencyMs", p.measurement);
    TAP_EQ_INT(4, p.nfields);
    TAP_EQ_STR("p99_max", p.fields[0].key);
    TAP_EQ_STR("p99_sum", p.fields[1].key);
    TAP_EQ_STR("p99_avg", p.fields[2].key);
    TAP_EQ_DBL(20, p.fields[2].f, 0);
    TAP_EQ_STR("p99_subtasks", p.fields[3].key);
    TAP_EQ_INT(2, p.fields[3].i);
    TAP_EQ_INT(TAP_N(quantile_labels) - 1, p.ntags);

    /* Nothing folded (all subtasks NaN) or a non-finite sum: no point. */
    s.count = 0;
    TAP_EQ_INT(1, flink_schema_point(&s, &all, &p, &sc));
    s.count = 2;
    s.sum = INFINITY;
    TAP_EQ_INT(1, flink_schema_point(&s, &all, &p, &sc));
    TAP_EQ_U64(2, sc.skipped_nonfinite);
    flink_schema_scratch_release(&sc);
    flink_schema_scratch_release(&sc); /* idempotent */
}

static const struct tap_case tcases[] = {
    TAP_ENTRY(plain_and_summary_parts), TAP_ENTRY(metric_kind_follows_changes),
    TAP_ENTRY(quantile_fields),         TAP_ENTRY(flink_summary_without_sum),
    TAP_ENTRY(histogram_buckets),       TAP_ENTRY(folded_fields),
};

int main(int argc, char **argv)
{
    return tap_main(tcases, TAP_N(tcases), argc, argv);
}
