/*
 * trim_test: label trimming, relabeling, job_name normalization, subtask
 * folding and caps, on hand-built Flink-shaped samples and on the recorded
 * reporter fixtures (through the real parser). Fixtures are read from
 * $FLINK_FIXTURES, else $srcdir/tests/fixtures/flink.
 *
 *   trim_test [CASE]
 *   trim_test --bench [SAMPLES]   trim a generated Flink stream, print
 *   trim_test --bench-staged [SAMPLES]   the same through a target stage
 *                                 (as the reporters trim), committed
 *                                 ns/sample
 */
#include "pipeline/trim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline/promparse.h"
#include "tests/lib/tap.h"
#include "tests/lib/testutil.h"

#define L(n, v)                                                                \
    {                                                                          \
        n, v, sizeof(n) - 1, sizeof(v) - 1                                     \
    }
#define OP   "flink_taskmanager_job_task_operator_"
#define TASK "flink_taskmanager_job_task_"

/* ====================== Helpers ===================================== */

/* Collects emitted series rendered as
 *   name[metric]{a=v,...} value        (direct)
 *   name[metric]{a=v,...} max/sum/count (folded)
 * one per line. */
struct coll {
    char out[65536];
    size_t len;
    size_t n;
    size_t nfolded;
    int fail_after; /* return -1 from the callback after this many; 0 off */
};

static int collect(void *ctx, const struct series *s)
{
    struct coll *c = ctx;
    size_t room = sizeof(c->out) - c->len;
    int w = snprintf(c->out + c->len, room, "%s[%s]{", s->name, s->metric);
    c->len += w > 0 && (size_t)w < room ? (size_t)w : 0;
    for (size_t i = 0; i < s->nlabels; i++) {
        room = sizeof(c->out) - c->len;
        w = snprintf(c->out + c->len, room, "%s%s=%s", i ? "," : "",
                     s->labels[i].name, s->labels[i].value);
        c->len += w > 0 && (size_t)w < room ? (size_t)w : 0;
    }
    room = sizeof(c->out) - c->len;
    if (s->folded)
        w = snprintf(c->out + c->len, room, "} %g/%g/%u @%lld\n", s->max,
                     s->sum, s->count, (long long)s->ts_ms);
    else
        w = snprintf(c->out + c->len, room, "} %g @%lld\n", s->value,
                     (long long)s->ts_ms);
    c->len += w > 0 && (size_t)w < room ? (size_t)w : 0;
    c->n++;
    c->nfolded += s->folded;
    if (c->fail_after && c->n >= (size_t)c->fail_after)
        return -1;
    return 0;
}

static char *default_drop[] = {"task_attempt_id", "task_attempt_num", "tm_id",
                               "host"};
static char *default_fold[] = {"numRecords.*", "numBytes.*",
                               ".*TimeMsPerSecond"};

static struct cfg_trim default_cfg(void)
{
    struct cfg_trim c = {
        .drop_labels = default_drop,
        .n_drop_labels = 4,
        .drop_labels_match = "flink_taskmanager_job_.*",
        .fold_metrics = default_fold,
        .n_fold_metrics = 3,
        .max_series = 1000000,
        .max_label_bytes = 4096,
    };
    return c;
}

/* An operator-scope sample as the reporter writes it (label order too). */
struct opsample {
    struct label l[11];
    struct sample s;
    char sub[16];
};

static void op_sample(struct opsample *o, const char *name, const char *help,
                      const char *task_name, int subtask, double v)
{
    snprintf(o->sub, sizeof(o->sub), "%d", subtask);
    const struct label l[11] = {
        L("job_id", "566bf9d7c55a45f8d1a6e55e9b9b1325"),
        L("task_id", "b37523a53b4a3ee20463513755ac0ecd"),
        L("task_attempt_id", "5d96cf7f_b37523a5_0_1"),
        L("host", "10_42_1_17"),
        L("operator_id", "b37523a53b4a3ee20463513755ac0ecd"),
        L("operator_name", "Map:_enrich_customer__cache_LRU_"),
        {"task_name", task_name, 9, (uint32_t)strlen(task_name)},
        L("task_attempt_num", "1"),
        L("job_name", "orders-enrich"),
        L("tm_id", "10_42_1_17:6122_4d5c1a"),
        {"subtask_index", o->sub, 13, (uint32_t)strlen(o->sub)},
    };
    memcpy(o->l, l, sizeof(l));
    memset(&o->s, 0, sizeof(o->s));
    o->s.name = name;
    o->s.name_len = strlen(name);
    o->s.family = name;
    o->s.family_len = strlen(name);
    o->s.type = MT_GAUGE;
    o->s.help = help;
    o->s.help_len = help ? strlen(help) : 0;
    o->s.labels = o->l;
    o->s.nlabels = 11;
    o->s.value = v;
}

static const struct label cluster[] = {L("flink_cluster", "prod")};

/* ====================== Cases ======================================= */

TAP_CASE(operator_series_trimmed_sorted_normalized)
{
    struct coll c = {0};
    struct cfg_trim cfg = default_cfg();
    char err[256];
    struct trim *t = trim_new(&cfg, collect, &c, err, sizeof(err));
    TAP_OK(t != NULL);
    struct opsample o;
    op_sample(&o, OP "currentOutputWatermark",
              "currentOutputWatermark (scope: taskmanager_job_task_operator)",
              "Map", 2, 1718093268440.0);
    TAP_EQ_INT(0, trim_sample(t, &o.s, cluster, 1, 1718093400000));
    TAP_EQ_STR(OP "currentOutputWatermark[currentOutputWatermark]{"
                  "flink_cluster=prod,job_id=566bf9d7c55a45f8d1a6e55e9b9b1325,"
                  "job_name=orders_enrich,"
                  "operator_id=b37523a53b4a3ee20463513755ac0ecd,"
                  "operator_name=Map:_enrich_customer__cache_LRU_,"
                  "subtask_index=2,task_id=b37523a53b4a3ee20463513755ac0ecd,"
                  "task_name=Map} 1.71809e+12 @1718093400000\n",
               c.out);
    struct trim_stats st;
    trim_get_stats(t, &st);
    TAP_EQ_U64(1, st.samples_in);
    TAP_EQ_U64(1, st.series_out);
    trim_free(&t);
    TAP_OK(t == NULL);
    trim_free(&t);
}

TAP_CASE(jvm_series_keep_host_and_tm_id)
{
    struct coll c = {0};
    struct cfg_trim cfg = default_cfg();
    char err[256];
    struct trim *t = trim_new(&cfg, collect, &c, err, sizeof(err));
    TAP_OK(t != NULL);
    const struct label l[] = {L("host", "10_42_1_17"),
                              L("tm_id", "10_42_1_17:6122_4d5c1a")};
    struct sample s = {
        .name = "flink_taskmanager_Status_JVM_CPU_Load",
        .name_len = 37,
        .family = "flink_taskmanager_Status_JVM_CPU_Load",
        .family_len = 37,
        .type = MT_GAUGE,
        .labels = l,
        .nlabels = 2,
        .value = 0.25,
        .ts_ms = 1718093399000,
        .has_ts = true,
    };
    TAP_EQ_INT(0, trim_sample(t, &s, cluster, 1, 1718093400000));
    /* No HELP: the metric is the family's last '_' part; the sample's own
     * timestamp wins over the cycle's. */
    TAP_EQ_STR("flink_taskmanager_Status_JVM_CPU_Load[Load]{"
               "flink_cluster=prod,host=10_42_1_17,"
               "tm_id=10_42_1_17:6122_4d5c1a} 0.25 @1718093399000\n",
               c.out);
    trim_free(&t);
}

TAP_CASE(extra_label_overrides_and_empty_values_go)
{
    struct coll c = {0};
    struct cfg_trim cfg = default_cfg();
    char err[256];
    struct trim *t = trim_new(&cfg, collect, &c, err, sizeof(err));
    TAP_OK(t != NULL);
    const struct label l[] = {L("flink_cluster", "from-sample"), L("empty", ""),
                              L("b", "2"), L("a", "1")};
    struct sample s = {
        .name = "m", .name_len = 1, .labels = l, .nlabels = 4, .value = 1};
    const struct label extra[] = {L("flink_cluster", "prod"), L("c", "3")};
    TAP_EQ_INT(0, trim_sample(t, &s, extra, 2, 5));
    TAP_EQ_STR("m[m]{a=1,b=2,c=3,flink_cluster=prod} 1 @5\n", c.out);
    trim_free(&t);
}

TAP_CASE(job_name_normalized_like_the_ring)
{
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"orders-enrich", "orders_enrich"},
        {"orders_enrich", "orders_enrich"},
        {"a b.c:d", "a_b_c:d"},
        {"caf\xc3\xa9 \xe2\x82\xac", "caf___"},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        struct coll c = {0};
        struct cfg_trim cfg = default_cfg();
        char err[256];
        struct trim *t = trim_new(&cfg, collect, &c, err, sizeof(err));
        TAP_OK(t != NULL);
        struct label l = {"job_name", cases[i].in, 8,
                          (uint32_t)strlen(cases[i].in)};
        struct sample s = {.name = "flink_jobmanager_job_uptime",
                           .name_len = 27,
                           .labels = &l,
                           .nlabels = 1};
        TAP_EQ_INT(0, trim_sample(t, &s, NULL, 0, 0));
        char want[256];
        snprintf(want, sizeof(want),
                 "flink_jobmanager_job_uptime[uptime]{job_name=%s} 0 @0\n",
                 cases[i].want);
        TAP_EQ_STR(want, c.out);
        trim_free(&t);
    }
}

TAP_CASE(invalid_samples_dropped_and_counted)
{
    struct coll c = {0};
    struct cfg_trim cfg = default_cfg();
    cfg.max_label_bytes = 8;
    char err[256];
    struct trim *t = trim_new(&cfg, collect, &c, err, sizeof(err));
    TAP_OK(t != NULL);
    const struct label dup[] = {L("a", "1"), L("b", "2"), L("a", "3")};
    const struct label longv[] = {L("a", "123456789")};
    const struct label longn[] = {L("abcdefghi", "1")};
    const struct label fine[] = {L("abcdefgh", "12345678")};
    struct sample s = {.name = "m", .name_len = 1, .value = 1};
    s.labels = dup;
    s.nlabels = 3;
    TAP_EQ_INT(0, trim_sample(t, &s, NULL, 0, 0));
    s.labels = longv;
    s.nlabels = 1;
    TAP_EQ_INT(0, trim_sample(t, &s, NULL, 0, 0));
    s.labels = longn;
    TAP_EQ_INT(0, trim_sample(t, &s, NULL, 0, 0));
    s.labels = fine;
    TAP_EQ_INT(0, trim_sample(t, &s, NULL, 0, 0));
    struct sample longname = {.name = "m23456789", .name_len = 9};
    TAP_EQ_INT(0, trim_sample(t, &longname, NULL, 0, 0));
    struct trim_stats st;
    trim_get_stats(t, &st);
    TAP_EQ_U64(5, st.samples_in);
    TAP_EQ_U64(4, st.dropped_invalid);
    TAP_EQ_U64(1, st.series_out);
    TAP_EQ_STR("m[m]{abcdefgh=12345678} 1 @0\n", c.out);
    trim_free(&t);
}

TAP_CASE(folds_max_sum_count)
{
    struct coll c = {0};
    struct cfg_trim cfg = default_cfg();
    char err[256];
    struct trim *t = trim_new(&cfg, collect, &c, err, sizeof(err));
    TAP_OK(t != NULL);
    const char *help = "busyTimeMsPerSecond (scope: taskmanager_job_task)";
    /* Window subtasks 98/85/987/103 and Map 156/146/164/142 (fixture
     * scenario), one NaN subtask for the Map task. */
    static const double window[] = {98, 85, 987, 103};
    static const double map[] = {156, NAN, 164, 142};
    struct opsample o;
    for (int i = 0; i < 4; i++) {
        op_sample(&o, TASK "busyTimeMsPerSecond", help, "Window", i, window[i]);
        o.s.has_ts = true;
        o.s.ts_ms = 1000 + i; /* the group keeps the latest */
        TAP_EQ_INT(0, trim_sample(t, &o.s, cluster, 1, 7));
        op_sample(&o, TASK "busyTimeMsPerSecond", help, "Map", i, map[i]);
        TAP_EQ_INT(0, trim_sample(t, &o.s, cluster, 1, 7));
    }
    /* Not folded: metric not in fold_metrics. */
    op_sample(&o, OP "currentOutputWatermark",
              "currentOutputWatermark (scope: taskmanager_job_task_operator)",
              "Map", 0, 5);
    TAP_EQ_INT(0, trim_sample(t, &o.s, cluster, 1, 7));
    /* Not folded: no subtask_index. */
    const struct label jl[] = {L("job_name", "x")};
    struct sample js = {.name = "flink_jobmanager_job_numRecordsIn",
                        .name_len = 33,
                        .labels = jl,
                        .nlabels = 1,
                        .value = 3};
    TAP_EQ_INT(0, trim_sample(t, &js, NULL, 0, 7));
    TAP_EQ_INT(2, c.n);
    TAP_EQ_INT(0, c.nfolded);
    c.len = 0;
    c.out[0] = '\0';
    TAP_EQ_INT(0, trim_flush(t));
    TAP_EQ_INT(4, c.n);
    TAP_EQ_INT(2, c.nfolded);
    const char *base = "{flink_cluster=prod,"
                       "job_id=566bf9d7c55a45f8d1a6e55e9b9b1325,"
                       "job_name=orders_enrich,"
                       "operator_id=b37523a53b4a3ee20463513755ac0ecd,"
                       "operator_name=Map:_enrich_customer__cache_LRU_,"
                       "task_id=b37523a53b4a3ee20463513755ac0ecd,";
    char want[2048];
    snprintf(want, sizeof(want),
             TASK "busyTimeMsPerSecond[busyTimeMsPerSecond]%stask_name=Window}"
                  " 987/1273/4 @1003\n" TASK
                  "busyTimeMsPerSecond[busyTimeMsPerSecond]%stask_name=Map}"
                  " 164/462/3 @7\n",
             base, base);
    TAP_EQ_STR(want, c.out);
    struct trim_stats st;
    trim_get_stats(t, &st);
    TAP_EQ_U64(10, st.samples_in);
    TAP_EQ_U64(7, st.folded_in);
    TAP_EQ_U64(2, st.folded_groups);
    TAP_EQ_U64(1, st.nonfinite_skipped);
    TAP_EQ_U64(4, st.series_out);
    /* The table is empty for the next cycle. */
    c.len = 0;
    TAP_EQ_INT(0, trim_flush(t));
    TAP_EQ_INT(4, c.n);
    op_sample(&o, TASK "busyTimeMsPerSecond", help, "Window", 1, 50);
    TAP_EQ_INT(0, trim_sample(t, &o.s, cluster, 1, 9));
    TAP_EQ_INT(0, trim_flush(t));
    TAP_EQ_INT(5, c.n);
    TAP_OK(strstr(c.out, "task_name=Window} 50/50/1 @9\n") != NULL);
    trim_free(&t);
}

/* Checks the group of task "tN" folded over subtasks 0..2 with values
 * N, N+1, N+2. */
static int check_many(void *ctx, const struct series *s)
{
    size_t *bad = ctx;
    for (size_t i = 0; i < s->nlabels; i++) {
        if (strcmp(s->labels[i].name, "task_name") != 0)
            continue;
        double n = atof(s->labels[i].value + 1);
        if (!s->folded || s->max != n + 2 || s->sum != 3 * n + 3 ||
            s->count != 3)
            (*bad)++;
        return 0;
    }
    (*bad)++;
    return 0;
}

TAP_CASE(fold_groups_many_keys)
{
    /* Enough groups to grow the open-addressing table a few times. */
    size_t bad = 0;
    struct cfg_trim cfg = default_cfg();
    char err[256];
    struct trim *t = trim_new(&cfg, check_many, &bad, err, sizeof(err));
    TAP_OK(t != NULL);
    static char names[5000][16];
    struct opsample o;
    for (int sub = 0; sub < 3; sub++) {
        for (int i = 0; i < 5000; i++) {
            snprintf(names[i], sizeof(names[i]), "t%d", i);
            op_sample(&o, OP "numRecordsIn", "numRecordsIn (scope: x)",
                      names[i], sub, (double)(i + sub));
            TAP_EQ_INT(0, trim_sample(t, &o.s, NULL, 0, 0));
        }
    }
    struct trim_stats st;
    trim_get_stats(t, &st);
    TAP_EQ_U64(5000, st.folded_groups);
    TAP_EQ_U64(15000, st.folded_in);
    TAP_EQ_U64(0, st.series_out);
    TAP_EQ_INT(0, trim_flush(t));
    trim_get_stats(t, &st);
    TAP_EQ_U64(5000, st.series_out);
    TAP_EQ_INT(0, bad);
    trim_free(&t);
}

TAP_CASE(cap_drops_and_counts)
{
    struct coll c = {0};
    struct cfg_trim cfg = default_cfg();
    cfg.max_series = 3;
    char err[256];
    struct trim *t = trim_new(&cfg, collect, &c, err, sizeof(err));
    TAP_OK(t != NULL);
    struct opsample o;
    /* Group 1 (two subtasks) uses one slot of the budget. */
    for (int i = 0; i < 2; i++) {
        op_sample(&o, OP "numRecordsIn", "numRecordsIn (scope: x)", "A", i, 10);
        TAP_EQ_INT(0, trim_sample(t, &o.s, NULL, 0, 0));
    }
    const struct label l[] = {L("a", "1")};
    struct sample s = {.name = "m", .name_len = 1, .labels = l, .nlabels = 1};
    TAP_EQ_INT(0, trim_sample(t, &s, NULL, 0, 0));
    TAP_EQ_INT(0, trim_sample(t, &s, NULL, 0, 0));
    /* Budget spent: a direct series and a new group are dropped, an
     * existing group still folds. */
    TAP_EQ_INT(0, trim_sample(t, &s, NULL, 0, 0));
    op_sample(&o, OP "numRecordsIn", "numRecordsIn (scope: x)", "B", 0, 1);
    TAP_EQ_INT(0, trim_sample(t, &o.s, NULL, 0, 0));
    op_sample(&o, OP "numRecordsIn", "numRecordsIn (scope: x)", "A", 2, 30);
    TAP_EQ_INT(0, trim_sample(t, &o.s, NULL, 0, 0));
    struct trim_stats st;
    trim_get_stats(t, &st);
    TAP_EQ_U64(2, st.dropped_over_cap);
    TAP_EQ_U64(3, st.folded_in);
    TAP_EQ_INT(0, trim_flush(t));
    TAP_EQ_INT(3, c.n);
    TAP_OK(strstr(c.out, "task_name=A} 30/50/3") != NULL);
    /* The budget is per cycle. */
    for (int i = 0; i < 3; i++)
        TAP_EQ_INT(0, trim_sample(t, &s, NULL, 0, 0));
    TAP_EQ_INT(6, c.n);
    trim_get_stats(t, &st);
    TAP_EQ_U64(2, st.dropped_over_cap);
    trim_free(&t);
}

TAP_CASE(relabel_before_drop_labels)
{
    struct coll c = {0};
    struct cfg_trim cfg = default_cfg();
    struct cfg_relabel rules[] = {
        /* Drop the Kafka consumer gauges. */
        {.action = RELABEL_DROP,
         .source_labels = (char *[]){"__name__"},
         .n_source_labels = 1,
         .regex = ".*_KafkaConsumer_.*"},
        /* Rename task-scope metrics out of drop_labels_match: they then
         * keep host. */
        {.action = RELABEL_REPLACE,
         .source_labels = (char *[]){"__name__"},
         .n_source_labels = 1,
         .regex = "flink_taskmanager_job_task_(.*)",
         .target_label = "__name__",
         .replacement = "task_$1"},
        {.action = RELABEL_LABELDROP, .regex = "job_id|task_id|operator_.*"},
    };
    cfg.relabel = rules;
    cfg.n_relabel = 3;
    char err[256];
    struct trim *t = trim_new(&cfg, collect, &c, err, sizeof(err));
    if (!t)
        printf("# %s\n", err);
    TAP_OK(t != NULL);
    struct opsample o;
    op_sample(&o, OP "KafkaSourceReader_KafkaConsumer_records_lag_max",
              "records-lag-max (scope: x)", "S", 0, 5);
    TAP_EQ_INT(0, trim_sample(t, &o.s, cluster, 1, 0));
    op_sample(&o, TASK "isBackPressured", NULL, "S", 0, 1);
    TAP_EQ_INT(0, trim_sample(t, &o.s, cluster, 1, 0));
    TAP_EQ_STR("task_isBackPressured[isBackPressured]{flink_cluster=prod,"
               "host=10_42_1_17,job_name=orders_enrich,subtask_index=0,"
               "task_attempt_id=5d96cf7f_b37523a5_0_1,task_attempt_num=1,"
               "task_name=S,tm_id=10_42_1_17:6122_4d5c1a} 1 @0\n",
               c.out);
    struct trim_stats st;
    trim_get_stats(t, &st);
    TAP_EQ_U64(1, st.dropped_relabel);
    trim_free(&t);

    struct cfg_relabel bad = {.action = RELABEL_REPLACE, .line = 4, .col = 9};
    cfg.relabel = &bad;
    cfg.n_relabel = 1;
    TAP_OK(trim_new(&cfg, collect, &c, err, sizeof(err)) == NULL);
    TAP_EQ_STR("trim.relabel_configs: 4:9: relabel action 'replace' "
               "requires 'target_label'",
               err);
    cfg = default_cfg();
    cfg.fold_metrics = (char *[]){"(bad"};
    cfg.n_fold_metrics = 1;
    TAP_OK(trim_new(&cfg, collect, &c, err, sizeof(err)) == NULL);
    TAP_OK(strncmp(err, "trim.fold_subtasks.metrics: invalid regex '(bad'",
                   48) == 0);
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

/* trim works out what to do with a sequence of label names once and
 * reuses it while the names repeat; with a relabel rule it takes the
 * general path every time. A rule that keeps everything must then change
 * nothing: the same random stream (a few label-name shapes, reordered,
 * empty and overlong (> 60 bytes) values, duplicates, names overriding
 * the extra label, metrics in and out of drop_labels_match and
 * fold_metrics, with and without the extra label) gives the same series
 * and counters both ways. */
TAP_CASE(label_plans_match_general_path)
{
    static const char *const names[] = {
        "job_name",
        "subtask_index",
        "host",
        "tm_id",
        "task_name",
        "a",
        "flink_cluster",
        "zz_a_name_longer_than_16",
        "b",
        "operator_id",
    };
    static const char *const values[] = {
        "",
        "x",
        "orders-enrich",
        "0",
        "1",
        "2",
        "a value that is longer than sixty bytes, which is far too long here",
        "ünïcode job",
    };
    static const char *const metrics[] = {
        OP "numRecordsIn",
        TASK "busyTimeMsPerSecond",
        "flink_taskmanager_Status_JVM_CPU_Load",
        OP "currentInputWatermark",
    };
    static const size_t shapes[][6] = {
        {0, 1, 2, 3, 4, 9},
        {4, 0, 1, 5, 8, 2},
        {6, 0, 1, 3, 7, 9},
        {1, 0, 5, 8, 9, 4},
    };
    struct coll c1 = {0}, c2 = {0};
    struct cfg_trim cfg = default_cfg();
    cfg.max_label_bytes = 60;
    char err[256];
    struct trim *fast = trim_new(&cfg, collect, &c1, err, sizeof(err));
    struct cfg_relabel keep = {.action = RELABEL_KEEP,
                               .source_labels = (char *[]){"__name__"},
                               .n_source_labels = 1,
                               .regex = ".*"};
    cfg.relabel = &keep;
    cfg.n_relabel = 1;
    struct trim *gen = trim_new(&cfg, collect, &c2, err, sizeof(err));
    TAP_OK(fast && gen);
    uint64_t seed = 0x9e3779b97f4a7c15u;
    for (int cycle = 0; cycle < 3; cycle++) {
        for (int i = 0; i < 4000; i++) {
            struct label l[8];
            size_t n = 0;
            uint64_t r = xorshift(&seed);
            const size_t *shape = shapes[r % 4];
            size_t len = 3 + (r >> 8) % 4;
            for (size_t k = 0; k < len; k++) {
                const char *nm = names[shape[k]];
                if ((r >> 16) % 16 == 0) /* another shape now and then */
                    nm = names[xorshift(&seed) % 10];
                uint64_t vr = xorshift(&seed);
                const char *v = values[1 + vr % 5];
                if (vr % 97 == 0)
                    v = values[6]; /* over max_label_bytes */
                else if (vr % 7 == 0)
                    v = values[7];
                if (vr % 13 == 0)
                    v = "";
                l[n++] = (struct label){nm, v, (uint32_t)strlen(nm),
                                        (uint32_t)strlen(v)};
            }
            struct sample sm = {0};
            sm.name = metrics[(r >> 24) % 4];
            sm.name_len = strlen(sm.name);
            sm.labels = l;
            sm.nlabels = n;
            sm.value = (double)(r % 1000);
            size_t ne = (r >> 32) % 5 ? 1 : 0;
            c1.len = c2.len = 0;
            c1.out[0] = c2.out[0] = '\0';
            TAP_EQ_INT(0, trim_sample(fast, &sm, cluster, ne, 5));
            TAP_EQ_INT(0, trim_sample(gen, &sm, cluster, ne, 5));
            TAP_EQ_STR(c2.out, c1.out);
        }
        c1.len = c2.len = 0;
        c1.out[0] = c2.out[0] = '\0';
        TAP_EQ_INT(0, trim_flush(fast));
        TAP_EQ_INT(0, trim_flush(gen));
        TAP_EQ_STR(c2.out, c1.out);
    }
    struct trim_stats s1, s2;
    trim_get_stats(fast, &s1);
    trim_get_stats(gen, &s2);
    TAP_OK(memcmp(&s1, &s2, sizeof(s1)) == 0);
    printf("# in %llu out %llu invalid %llu folded %llu\n",
           (unsigned long long)s1.samples_in, (unsigned long long)s1.series_out,
           (unsigned long long)s1.dropped_invalid,
           (unsigned long long)s1.folded_in);
    TAP_OK(s1.dropped_invalid > 0 && s1.folded_in > 0 && s1.series_out > 0);
    trim_free(&fast);
    trim_free(&gen);
}

/* Two parsers feed one trim_sample_shaped() trim and, line for line, one
 * trim_sample() trim: the shape ids let the first skip comparing names,
 * which must change nothing. The lines are drawn from label-name shapes
 * that share lengths and first and last names (so they share plan slots),
 * with blanks or escapes now and then (the parser's general path: shape
 * 0), and the two parsers interleave (their ids must not mix). */
struct shaped_pair {
    struct promparse *pp;
    struct trim *shaped;
    struct trim *plain;
};

static int shaped_feed(void *ctx, const struct sample *s)
{
    struct shaped_pair *sp = ctx;
    uint64_t shape = promparse_label_shape(sp->pp);
    if (trim_sample_shaped(sp->shaped, s, sp->pp, shape, cluster, 1, 7) < 0)
        return -1;
    return trim_sample(sp->plain, s, cluster, 1, 7);
}

TAP_CASE(shaped_samples_match_unshaped)
{
    static const char *const shapes[][5] = {
        {"job_name", "subtask_index", "ab", "tm_id", "zz"},
        {"job_name", "subtask_index", "ba", "tm_id", "zz"},
        {"job_name", "subtask_index", "tm_id", "ab", "zz"},
        {"job_name", "host", "ab", "tm_id", "zz"},
        {"job_name", "subtask_index", "ab", "flink_cluster", "zz"},
        {"job_name", "subtask_index", "ab", "tm_id", "zy"},
    };
    static const char *const metrics[] = {
        OP "numRecordsIn",
        TASK "busyTimeMsPerSecond",
        "flink_taskmanager_Status_JVM_CPU_Load",
    };
    struct coll c1 = {0}, c2 = {0};
    struct cfg_trim cfg = default_cfg();
    cfg.max_label_bytes = 64; /* the longest metric name: 63 */
    char err[256];
    struct shaped_pair sp[2];
    struct trim *shaped = trim_new(&cfg, collect, &c1, err, sizeof(err));
    struct trim *plain = trim_new(&cfg, collect, &c2, err, sizeof(err));
    TAP_OK(shaped && plain);
    for (int i = 0; i < 2; i++) {
        sp[i].shaped = shaped;
        sp[i].plain = plain;
        sp[i].pp = promparse_new(NULL, shaped_feed, &sp[i]);
        TAP_OK(sp[i].pp != NULL);
    }
    uint64_t seed = 0x2545f4914f6cdd1du;
    size_t nonzero = 0;
    for (int cycle = 0; cycle < 3; cycle++) {
        for (int i = 0; i < 3000; i++) {
            uint64_t r = xorshift(&seed);
            /* runs of one shape, as in a family */
            const char *const *sh =
                shapes[(r % 64 < 56 ? (size_t)i / 40 : r % 6) % 6];
            char line[512];
            size_t n = (size_t)snprintf(line, sizeof(line), "%s{",
                                        metrics[(r >> 8) % 3]);
            size_t nl = 3 + (r >> 12) % 3;
            for (size_t k = 0; k < nl; k++) {
                uint64_t vr = xorshift(&seed);
                static const char long_v[] =
                    "a value over max_label_bytes (64), which is well over "
                    "that: 80 bytes long.......";
                const char *v = vr % 11 == 0   ? ""
                                : vr % 5 == 0  ? "x"
                                : vr % 89 == 0 ? long_v
                                               : "yy";
                n += (size_t)snprintf(line + n, sizeof(line) - n,
                                      "%s%s=\"%s%s\",",
                                      (r >> 20) % 29 == 0 ? " " : "", sh[k], v,
                                      (r >> 24) % 31 == 0 ? "\\n" : "");
            }
            n += (size_t)snprintf(line + n, sizeof(line) - n, "} %u\n",
                                  (unsigned)(r >> 40) % 1000);
            c1.len = c2.len = 0;
            c1.out[0] = c2.out[0] = '\0';
            struct shaped_pair *p = &sp[(r >> 30) % 2];
            TAP_EQ_INT(0, promparse_feed(p->pp, line, n));
            TAP_EQ_STR(c2.out, c1.out);
            nonzero += c1.n > 0;
        }
        c1.len = c2.len = 0;
        c1.out[0] = c2.out[0] = '\0';
        TAP_EQ_INT(0, trim_flush(shaped));
        TAP_EQ_INT(0, trim_flush(plain));
        TAP_EQ_STR(c2.out, c1.out);
        promparse_reset(sp[0].pp, NULL);
    }
    struct trim_stats s1, s2;
    trim_get_stats(shaped, &s1);
    trim_get_stats(plain, &s2);
    TAP_OK(memcmp(&s1, &s2, sizeof(s1)) == 0);
    /* the long values were cut, not dropped */
    TAP_OK(s1.labels_truncated > 0);
    printf("# in %llu out %llu invalid %llu folded %llu, %zu lines "
           "with output\n",
           (unsigned long long)s1.samples_in, (unsigned long long)s1.series_out,
           (unsigned long long)s1.dropped_invalid,
           (unsigned long long)s1.folded_in, nonzero);
    TAP_OK(s1.folded_in > 0 && s1.series_out > 0);
    for (int i = 0; i < 2; i++)
        promparse_free(&sp[i].pp);
    trim_free(&shaped);
    trim_free(&plain);
}

TAP_CASE(callback_error_propagates)
{
    struct coll c = {.fail_after = 1};
    struct cfg_trim cfg = default_cfg();
    char err[256];
    struct trim *t = trim_new(&cfg, collect, &c, err, sizeof(err));
    TAP_OK(t != NULL);
    struct sample s = {.name = "m", .name_len = 1};
    TAP_EQ_INT(-1, trim_sample(t, &s, NULL, 0, 0));
    struct opsample o;
    op_sample(&o, OP "numRecordsIn", "numRecordsIn (scope: x)", "A", 0, 1);
    TAP_EQ_INT(0, trim_sample(t, &o.s, NULL, 0, 0));
    TAP_EQ_INT(-1, trim_flush(t));
    trim_free(&t);
}

/* ====================== Recorded fixtures =========================== */

struct fixture_ctx {
    struct trim *t;
    struct coll *c;
};

static int feed_trim(void *ctx, const struct sample *s)
{
    struct fixture_ctx *f = ctx;
    return trim_sample(f->t, s, cluster, 1, 1718093400000);
}

/* The collector's buffer is too small for a whole fixture; count what the
 * checks need instead. */
struct fixture_seen {
    size_t series, folded, jvm_with_host, attempt_labels, source_busy_ok;
    size_t bad_order;
};

static int check_series(void *ctx, const struct series *s)
{
    struct fixture_seen *fs = ctx;
    fs->series++;
    fs->folded += s->folded;
    bool host = false;
    for (size_t i = 0; i < s->nlabels; i++) {
        if (i && strcmp(s->labels[i - 1].name, s->labels[i].name) >= 0)
            fs->bad_order++;
        if (!strcmp(s->labels[i].name, "host"))
            host = true;
        if (!strcmp(s->labels[i].name, "task_attempt_id") ||
            !strcmp(s->labels[i].name, "task_attempt_num"))
            fs->attempt_labels++;
    }
    if (host && !strncmp(s->name, "flink_taskmanager_Status_JVM", 28))
        fs->jvm_with_host++;
    if (s->folded && !strcmp(s->metric, "busyTimeMsPerSecond")) {
        for (size_t i = 0; i < s->nlabels; i++)
            if (!strcmp(s->labels[i].name, "task_name") &&
                !strcmp(s->labels[i].value, "Source:_KafkaSource_orders_") &&
                s->max == 559 && s->sum == 1094 && s->count == 2)
                fs->source_busy_ok++;
    }
    return 0;
}

TAP_CASE(taskmanager_fixture_through_parser)
{
    char path[4096];
    tu_fixture_path(path, sizeof(path), "prometheus/taskmanager-1.prom");
    size_t len;
    char *body = tu_slurp(path, (size_t)1 << 30, &len);
    if (!body)
        printf("# cannot read '%s': %s\n", path, strerror(errno));
    TAP_OK(body != NULL);
    struct fixture_seen fs = {0};
    struct cfg_trim cfg = default_cfg();
    char err[256];
    struct fixture_ctx fc = {
        .t = trim_new(&cfg, check_series, &fs, err, sizeof(err))};
    struct promparse *p = promparse_new(NULL, feed_trim, &fc);
    TAP_OK(fc.t && p);
    TAP_EQ_INT(0, promparse_feed(p, body, len));
    TAP_EQ_INT(0, promparse_finish(p));
    TAP_EQ_INT(0, trim_flush(fc.t));
    struct promparse_stats ps;
    promparse_get_stats(p, &ps);
    struct trim_stats st;
    trim_get_stats(fc.t, &st);
    printf("# %" PRIu64 " samples -> %" PRIu64 " series (%zu folded)\n",
           st.samples_in, st.series_out, fs.folded);
    TAP_EQ_U64(ps.samples, st.samples_in);
    TAP_OK(ps.samples > 400);
    /* Every sample is accounted for. */
    TAP_EQ_U64(st.samples_in, (st.series_out - st.folded_groups) +
                                  st.folded_in + st.nonfinite_skipped +
                                  st.dropped_invalid + st.dropped_relabel +
                                  st.dropped_over_cap);
    TAP_EQ_U64(0, st.dropped_invalid);
    TAP_OK(st.folded_groups > 0 && st.folded_in >= 2 * st.folded_groups);
    TAP_OK(st.series_out < st.samples_in);
    TAP_EQ_INT(0, fs.bad_order);
    TAP_EQ_INT(0, fs.attempt_labels);
    TAP_OK(fs.jvm_with_host > 0);
    TAP_EQ_INT(1, fs.source_busy_ok);
    promparse_free(&p);
    trim_free(&fc.t);
    free(body);
}

/* ====================== Benchmark =================================== */

static int count_only(void *ctx, const struct series *s)
{
    (void)s;
    (*(uint64_t *)ctx)++;
    return 0;
}

static int bench(long total, bool staged)
{
    /* A TaskManager's operator scope: 20 metrics x 5 operators x 4
     * subtasks per scrape, half of them folded by the default rules. */
    static const char *const metrics[] = {
        "numRecordsIn",
        "numRecordsOut",
        "numRecordsInPerSecond",
        "numRecordsOutPerSecond",
        "numBytesIn",
        "numBytesOut",
        "currentInputWatermark",
        "currentOutputWatermark",
        "numLateRecordsDropped",
        "watermarkLag",
        "pendingRecords",
        "currentEmitEventTimeLag",
        "currentFetchEventTimeLag",
        "sourceIdleTime",
        "numRecordsInErrors",
        "busyTimeMsPerSecond",
        "idleTimeMsPerSecond",
        "backPressuredTimeMsPerSecond",
        "commitsSucceeded",
        "commitsFailed",
    };
    enum { NM = sizeof(metrics) / sizeof(metrics[0]), NOP = 5, NSUB = 4 };
    static char names[NM][128], helps[NM][128];
    static char opnames[NOP][64], subs[NSUB][4];
    static struct opsample samples[NM * NOP * NSUB];
    size_t ns = 0;
    for (int m = 0; m < NM; m++) {
        snprintf(names[m], sizeof(names[m]), OP "%s", metrics[m]);
        snprintf(helps[m], sizeof(helps[m]),
                 "%s (scope: taskmanager_job_task_operator)", metrics[m]);
    }
    for (int m = 0; m < NM; m++)
        for (int op = 0; op < NOP; op++)
            for (int sub = 0; sub < NSUB; sub++) {
                snprintf(opnames[op], sizeof(opnames[op]),
                         "Operator_%d_with_a_realistic_name", op);
                snprintf(subs[sub], sizeof(subs[sub]), "%d", sub);
                struct opsample *o = &samples[ns++];
                op_sample(o, names[m], helps[m], opnames[op], sub,
                          1000.0 + m + op + sub);
            }
    uint64_t got = 0;
    struct cfg_trim cfg = default_cfg();
    char err[256];
    struct trim *t = trim_new(&cfg, count_only, &got, err, sizeof(err));
    if (!t) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    struct trim_stage *stage = staged ? trim_stage_new() : NULL;
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    long done = 0;
    while (done < total) {
        for (size_t i = 0; i < ns; i++)
            trim_sample_staged(t, stage, &samples[i].s, NULL, 0, cluster, 1,
                               1718093400000);
        if (stage)
            trim_stage_commit(t, stage);
        trim_flush(t);
        done += (long)ns;
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    double ns_total =
        (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    struct trim_stats st;
    trim_get_stats(t, &st);
    printf("trim%s: %ld samples (11 labels + flink_cluster), %" PRIu64
           " series out, %" PRIu64 " folded in: %.1f ns/sample, "
           "%.2f M samples/s\n",
           staged ? " (staged, committed)" : "", done, got, st.folded_in,
           ns_total / (double)done, (double)done / ns_total * 1e3);
    trim_stage_free(&stage);
    trim_free(&t);
    return 0;
}

/* Two targets (TaskManagers) serve the subtasks of one operator; the
 * second fails half way: none of its series, direct or folded, reaches
 * the output, the fold counts the first's subtasks only, and a later
 * cycle where both succeed is whole again (lagwatch(8), FAULTS). */
TAP_CASE(staged_target_is_all_or_nothing)
{
    struct coll c = {0};
    struct cfg_trim cfg = default_cfg();
    char err[256];
    struct trim *t = trim_new(&cfg, collect, &c, err, sizeof(err));
    struct trim_stage *a = trim_stage_new();
    struct trim_stage *b = trim_stage_new();
    TAP_OK(t && a && b);
    struct opsample o;
    const struct label jvm_l[] = {L("host", "tm2"), L("tm_id", "tm2_1")};
    struct sample jvm = {.name = "flink_taskmanager_Status_JVM_CPU_Load",
                         .name_len = 37,
                         .labels = jvm_l,
                         .nlabels = 2,
                         .value = 0.5};
    for (int cycle = 0; cycle < 2; cycle++) {
        c.len = 0;
        c.n = c.nfolded = 0;
        c.out[0] = '\0';
        /* interleaved, as the scraper's callbacks are */
        for (int sub = 0; sub < 4; sub++) {
            op_sample(&o, OP "numRecordsIn", NULL, "Map", sub, 10 + sub);
            TAP_EQ_INT(0, trim_sample_staged(t, sub % 2 ? b : a, &o.s, NULL, 0,
                                             cluster, 1, 1000));
        }
        TAP_EQ_INT(0,
                   trim_sample_staged(t, b, &jvm, NULL, 0, cluster, 1, 1000));
        TAP_EQ_INT(0, (int)c.n); /* nothing before the targets complete */
        TAP_EQ_INT(0, trim_stage_commit(t, a));
        if (cycle == 0)
            TAP_EQ_U64(3, trim_stage_discard(t, b));
        else
            TAP_EQ_INT(0, trim_stage_commit(t, b));
        TAP_EQ_INT(0, trim_flush(t));
        TAP_EQ_INT(cycle == 0 ? 1 : 2, (int)c.n);
        TAP_EQ_INT(1, (int)c.nfolded);
        if (cycle == 0)
            TAP_OK(strstr(c.out, " 12/22/2 @1000\n") != NULL); /* 10 + 12 */
        else
            TAP_OK(strstr(c.out, " 13/46/4 @1000\n") != NULL);
        TAP_OK((strstr(c.out, "JVM_CPU_Load") != NULL) == (cycle == 1));
    }
    struct trim_stats st;
    trim_get_stats(t, &st);
    TAP_EQ_U64(3, st.dropped_scrape_failed);
    TAP_EQ_U64(6, st.folded_in);
    trim_stage_free(&a);
    trim_stage_free(&b);
    trim_stage_free(&b); /* NULL-safe */
    trim_free(&t);
}

/* A 10 KB operator name (Flink SQL) is kept, cut to max_label_bytes and
 * ended in a hash of the whole name: two names that share the first 9 KB
 * stay two series, the same name is cut the same way every time, and no
 * UTF-8 character is split. */
TAP_CASE(long_values_cut_with_a_hash)
{
    struct coll c = {0};
    struct cfg_trim cfg = default_cfg();
    char err[256];
    struct trim *t = trim_new(&cfg, collect, &c, err, sizeof(err));
    TAP_OK(t != NULL);
    static char v1[10240], v2[10240];
    for (size_t i = 0; i < sizeof(v1); i++)
        v1[i] = (char)('a' + i % 26);
    /* a two-byte character across the cut point */
    v1[4096 - 13 - 1] = (char)0xc3;
    v1[4096 - 13] = (char)0xa9;
    memcpy(v2, v1, sizeof(v1));
    v2[9999] = 'Z';
    const char *vals[] = {v1, v2, v1};
    char first[4200] = "";
    for (int k = 0; k < 3; k++) {
        struct label l[] = {{"operator_name", vals[k], 13, sizeof(v1)},
                            L("job_name", "sql")};
        struct sample sm = {
            .name = "m", .name_len = 1, .labels = l, .nlabels = 2, .value = k};
        c.len = 0;
        c.n = 0;
        TAP_EQ_INT(0, trim_sample(t, &sm, NULL, 0, 0));
        TAP_EQ_INT(1, (int)c.n);
        const char *val = strstr(c.out, "operator_name=");
        TAP_OK(val != NULL);
        val += 14;
        size_t len = strcspn(val, "}");
        /* the prefix stops before the split character: one byte short */
        TAP_EQ_INT(4095, (int)len);
        TAP_OK(memcmp(val, v1, 4096 - 13 - 1) == 0);
        TAP_OK(val[4096 - 13 - 1] == '~');
        TAP_EQ_INT(12, (int)strspn(val + 4096 - 13, "0123456789abcdef"));
        if (k == 0)
            memcpy(first, val, len);
        else if (k == 1)
            TAP_OK(memcmp(first, val, len) != 0);
        else
            TAP_OK(memcmp(first, val, len) == 0);
    }
    struct trim_stats st;
    trim_get_stats(t, &st);
    TAP_EQ_U64(3, st.labels_truncated);
    TAP_EQ_U64(0, st.dropped_invalid);
    TAP_EQ_U64(3, st.series_out);
    trim_free(&t);
}

static const struct tap_case tcases[] = {
    TAP_ENTRY(operator_series_trimmed_sorted_normalized),
    TAP_ENTRY(jvm_series_keep_host_and_tm_id),
    TAP_ENTRY(extra_label_overrides_and_empty_values_go),
    TAP_ENTRY(job_name_normalized_like_the_ring),
    TAP_ENTRY(invalid_samples_dropped_and_counted),
    TAP_ENTRY(folds_max_sum_count),
    TAP_ENTRY(fold_groups_many_keys),
    TAP_ENTRY(cap_drops_and_counts),
    TAP_ENTRY(relabel_before_drop_labels),
    TAP_ENTRY(callback_error_propagates),
    TAP_ENTRY(label_plans_match_general_path),
    TAP_ENTRY(shaped_samples_match_unshaped),
    TAP_ENTRY(taskmanager_fixture_through_parser),
    TAP_ENTRY(staged_target_is_all_or_nothing),
    TAP_ENTRY(long_values_cut_with_a_hash),
};

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--bench") == 0 ||
                     strcmp(argv[1], "--bench-staged") == 0))
        return bench(argc > 2 ? strtol(argv[2], NULL, 10) : 4000000,
                     strcmp(argv[1], "--bench-staged") == 0);
    return tap_main(tcases, TAP_N(tcases), argc, argv);
}
