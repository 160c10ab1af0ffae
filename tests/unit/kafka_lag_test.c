/*
 * Unit tests of kafka_lag and lag_report that need no broker: group
 * selection by name and pattern, the per-topic reduction (slowest
 * partition, consumed_through, clamping) and the three renderings.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util/buf.h"
#include "kafka/kafka_lag.h"
#include "kafka/lag_report.h"
#include "tests/lib/tap.h"

#define NOW 1763600000000LL

/* ================ group matching ================ */

/* Nothing listens on port 9 of loopback; no request is ever sent. */
static char *loopback9[] = {"127.0.0.1:9"};

static struct cfg_kafka base_cfg(struct cfg_kafka_group *groups, size_t n)
{
    return (struct cfg_kafka){
        .name = "main",
        .brokers = loopback9,
        .n_brokers = 1,
        .groups = groups,
        .n_groups = n,
    };
}

static struct kafka_lag *new_kl(struct cfg_kafka_group *groups, size_t n,
                                char *err, size_t errlen)
{
    struct cfg_kafka cfg = base_cfg(groups, n);
    return kafka_lag_new(&cfg, err, errlen);
}

/* `lagwatch check` (config load) and start-up (kafka_lag_new) accept the
 * same group patterns: "(?<=\\C)a" is only invalid in UTF mode, "\\x{100}"
 * only valid in it, and both sides compile in UTF mode (lagwatch.yml(5),
 * KAFKA). */
TAP_CASE(check_and_start_agree_on_patterns)
{
    static const char *const patterns[] = {
        "(?<=\\C)a", "\\x{100}", "caf\\x{e9}-.*", "a{2,1}", "flink-.*", "(",
    };
    for (size_t i = 0; i < TAP_N(patterns); i++) {
        char yaml[512], err[512] = "", err2[512] = "";
        snprintf(yaml, sizeof(yaml),
                 "kafka:\n  - name: k\n    brokers: [\"127.0.0.1:9\"]\n"
                 "    groups:\n      - pattern: '%s'\n",
                 patterns[i]);
        struct config *cfg =
            config_load_string("t.yml", yaml, strlen(yaml), err, sizeof(err));
        struct cfg_kafka_group g = {.pattern = (char *)patterns[i]};
        struct kafka_lag *kl = new_kl(&g, 1, err2, sizeof(err2));
        printf("# %s: check %s, start %s\n", patterns[i], cfg ? "accepts" : err,
               kl ? "accepts" : err2);
        bool agree = !cfg == !kl;
        config_free(&cfg);
        kafka_lag_free(&kl);
        TAP_OK(agree);
    }
}

TAP_CASE(match_groups)
{
    struct cfg_kafka_group groups[] = {
        {.name = "orders"},
        {.pattern = "flink-.*", .job = "a"},
        {.pattern = "flink-orders-.*", .job = "b"},
        {.pattern = "x|y"},
        {.name = "flink-named"},
    };
    static const struct {
        const char *group;
        int want;
    } cases[] = {
        {"orders", 0},
        {"orders2", -1},
        {"xorders", -1},
        {"flink-x", 1},
        {"flink-", 1},
        {"flink-orders-1", 1}, /* the first matching entry wins */
        {"aflink-x", -1},      /* anchored at the start */
        {"x", 3},
        {"y", 3},
        {"xy", -1}, /* anchored at the end, around the alternation */
        {"flink-named", 1},
        {"", -1},
    };
    char err[256] = "";
    struct kafka_lag *kl = new_kl(groups, TAP_N(groups), err, sizeof(err));
    TAP_OK(kl);
    for (size_t i = 0; i < TAP_N(cases); i++) {
        int got = kafka_lag_match_group(kl, cases[i].group);
        if (got != cases[i].want) {
            kafka_lag_free(&kl);
            TAP_FAIL_("group '%s': want %d, got %d", cases[i].group,
                      cases[i].want, got);
        }
    }
    kafka_lag_free(&kl);
    TAP_OK(!kl);
    kafka_lag_free(&kl); /* NULL-safe */
}

/* groups[].exclude, kafka[].exclude_groups, kafka[].topics and
 * exclude_topics: "every flink-.* group except the test ones, on topics of
 * its own" (lagwatch.yml(5), KAFKA). */
TAP_CASE(selection)
{
    struct cfg_kafka_group groups[] = {
        {.pattern = "flink-.*", .exclude = "flink-test-.*", .job = "a"},
        {.pattern = "flink-test-keep", .job = "b"},
        {.pattern = "other-.*"},
        {.name = "other-named"},
    };
    struct cfg_kafka cfg = base_cfg(groups, TAP_N(groups));
    cfg.exclude_groups = "other-tmp.*";
    cfg.topics = "orders\\..*";
    cfg.exclude_topics = ".*\\.dlq";
    char err[256] = "";
    struct kafka_lag *kl = kafka_lag_new(&cfg, err, sizeof(err));
    if (!kl)
        printf("# %s\n", err);
    TAP_OK(kl);
    static const struct {
        const char *group;
        int want;
    } gcases[] = {
        {"flink-orders", 0},
        {"flink-test-1", -1},   /* excluded from entry 0, no other takes it */
        {"flink-test-keep", 1}, /* excluded from entry 0, entry 1 takes it */
        {"other-a", 2},
        {"other-tmp-1", -1}, /* exclude_groups */
        {"xflink-test-1", -1},
    };
    for (size_t i = 0; kl && i < TAP_N(gcases); i++)
        TAP_EQ_INT(gcases[i].want, kafka_lag_match_group(kl, gcases[i].group));
    static const struct {
        const char *topic;
        bool want;
    } tcases[] = {
        {"orders.eu", true},    {"orders.eu.dlq", false}, /* exclude_topics */
        {"orders", false}, /* topics is anchored */
        {"payments.eu", false}, {"xorders.eu", false},
    };
    for (size_t i = 0; kl && i < TAP_N(tcases); i++)
        TAP_EQ_INT(tcases[i].want,
                   kafka_lag_topic_selected(kl, tcases[i].topic));
    kafka_lag_free(&kl);
    /* A bad selection pattern fails start-up naming the key. */
    cfg.exclude_topics = "(";
    kl = kafka_lag_new(&cfg, err, sizeof(err));
    TAP_OK(!kl && strstr(err, "exclude_topics '('") != NULL);
    kafka_lag_free(&kl);
}

TAP_CASE(bad_pattern_rejected)
{
    struct cfg_kafka_group groups[] = {{.pattern = "flink-("}};
    char err[256] = "";
    struct kafka_lag *kl = new_kl(groups, TAP_N(groups), err, sizeof(err));
    TAP_OK(!kl);
    TAP_OK(strstr(err, "'flink-('") != NULL);
    TAP_OK(strstr(err, "cluster 'main'") != NULL);
}

/* ================ topic reduction ================ */

struct part_in {
    int32_t partition;
    int64_t committed, end;
    int64_t ts; /* first unconsumed; 0 = caught up */
    bool has_ts;
};

static void build(struct kafka_lag_topic *t, struct kafka_lag_part *parts,
                  const struct part_in *in, size_t n)
{
    memset(t, 0, sizeof(*t));
    t->topic = "t";
    t->ts_type = "CreateTime";
    t->parts = parts;
    t->n_parts = n;
    for (size_t i = 0; i < n; i++) {
        memset(&parts[i], 0, sizeof(parts[i]));
        parts[i].partition = in[i].partition;
        parts[i].committed = in[i].committed;
        parts[i].end = in[i].end;
        parts[i].lag = in[i].end - in[i].committed;
        parts[i].first_unconsumed_ts_ms = in[i].ts;
        parts[i].has_ts = in[i].has_ts;
        parts[i].has_commit = true;
    }
}

TAP_CASE(topic_finish_table)
{
    static const struct {
        const char *name;
        struct part_in in[4];
        size_t n;
        int32_t slowest;
        double max_lag_seconds;
        int64_t max_lag, sum_lag, consumed_through;
        uint64_t clamped;
    } cases[] = {
        {"time beats records",
         {{0, 15, 20, NOW - 3585000, true},
          {1, 2, 20, NOW - 598000, true},
          {2, 20, 20, 0, true}},
         3,
         0,
         3585.0,
         18,
         23,
         NOW - 3585000,
         0},
        {"time tie goes to the larger record lag",
         {{0, 0, 3, NOW - 5000, true},
          {1, 0, 7, NOW - 5000, true},
          {2, 0, 1, NOW - 1000, true}},
         3,
         1,
         5.0,
         7,
         11,
         NOW - 5000,
         0},
        {"full tie goes to the lower partition",
         {{3, 0, 4, NOW - 2500, true},
          {1, 0, 4, NOW - 2500, true},
          {2, 0, 4, NOW - 2500, true}},
         3,
         1,
         2.5,
         4,
         12,
         NOW - 2500,
         0},
        {"all caught up",
         {{2, 5, 5, 0, true}, {0, 9, 9, 0, true}, {1, 0, 0, 0, true}},
         3,
         0,
         0.0,
         0,
         0,
         NOW,
         0},
        {"future timestamp clamped to zero age",
         {{0, 0, 2, NOW + 60000, true}, {1, 0, 1, NOW - 1000, true}},
         2,
         1,
         1.0,
         2,
         3,
         NOW - 1000,
         1},
        {"unread timestamp neither ages nor holds back consumed_through",
         {{0, 0, 9, 0, false}, {1, 0, 1, NOW - 700, true}},
         2,
         1,
         0.7,
         9,
         10,
         NOW - 700,
         0},
        {"single partition",
         {{7, 10, 130, NOW - 4500, true}},
         1,
         7,
         4.5,
         120,
         120,
         NOW - 4500,
         0},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        struct kafka_lag_topic t;
        struct kafka_lag_part parts[4];
        struct kafka_lag_stats st;
        memset(&st, 0, sizeof(st));
        build(&t, parts, cases[i].in, cases[i].n);
        kafka_lag_topic_finish(&t, NOW, &st.negative_age_clamped);
        if (t.slowest_partition != cases[i].slowest ||
            t.max_lag != cases[i].max_lag || t.sum_lag != cases[i].sum_lag ||
            t.consumed_through_ms != cases[i].consumed_through ||
            fabs(t.max_lag_seconds - cases[i].max_lag_seconds) > 1e-9 ||
            st.negative_age_clamped != cases[i].clamped ||
            t.partitions != cases[i].n)
            TAP_FAIL_("%s: slowest %d max_lag %lld sum %lld through %lld "
                      "max_s %g clamped %llu",
                      cases[i].name, (int)t.slowest_partition,
                      (long long)t.max_lag, (long long)t.sum_lag,
                      (long long)t.consumed_through_ms, t.max_lag_seconds,
                      (unsigned long long)st.negative_age_clamped);
        for (size_t j = 0; j < t.n_parts; j++) {
            if (t.parts[j].lag_seconds < 0)
                TAP_FAIL_("%s: negative lag_seconds", cases[i].name);
        }
    }
}

TAP_CASE(part_offsets_data_loss)
{
    static const struct {
        const char *name;
        int64_t committed, earliest, end;
        int64_t lag, first, lost;
        bool loss;
    } cases[] = {
        {"log start below the commit", 10, 5, 30, 20, 10, 0, false},
        {"log start at the commit", 10, 10, 30, 20, 10, 0, false},
        {"log start not read", 10, -1, 30, 20, 10, 0, false},
        {"retention passed the commit", 10, 25, 30, 20, 25, 15, true},
        {"everything unconsumed deleted", 10, 30, 30, 20, 30, 20, true},
        {"caught up: nothing lost", 30, 40, 30, 0, 40, 0, false},
        {"commit ahead of the end", 35, 0, 30, 0, 35, 0, false},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        struct kafka_lag_part kp;
        memset(&kp, 0, sizeof(kp));
        int64_t first = kafka_lag_part_offsets(&kp, cases[i].committed,
                                               cases[i].earliest, cases[i].end);
        if (first != cases[i].first || kp.lag != cases[i].lag ||
            kp.lost_records != cases[i].lost || kp.data_loss != cases[i].loss ||
            kp.committed != cases[i].committed || kp.end != cases[i].end)
            TAP_FAIL_("%s: first %lld lag %lld lost %lld loss %d",
                      cases[i].name, (long long)first, (long long)kp.lag,
                      (long long)kp.lost_records, (int)kp.data_loss);
    }
}

TAP_CASE(finish_counts_unknown_and_loss)
{
    struct kafka_lag_topic t;
    struct kafka_lag_part parts[3];
    static const struct part_in in[] = {
        {0, 0, 9, 0, false},         /* lagging, timestamp unread */
        {1, 0, 4, NOW - 2000, true}, /* data loss, earliest read */
        {2, 5, 5, 0, true},          /* caught up */
    };
    build(&t, parts, in, TAP_N(in));
    parts[1].data_loss = true;
    parts[1].lost_records = 3;
    uint64_t clamped = 0;
    kafka_lag_topic_finish(&t, NOW, &clamped);
    TAP_EQ_INT(1, (long long)t.ts_unknown_parts);
    TAP_EQ_INT(1, (long long)t.data_loss_parts);
    /* The data-loss partition ages from the earliest message left. */
    TAP_EQ_DBL(2.0, parts[1].lag_seconds, 1e-9);
    TAP_EQ_INT(1, t.slowest_partition);
    TAP_EQ_INT(NOW - 2000, t.consumed_through_ms);

    /* The unread partition holds consumed_through at the last result. */
    struct kafka_lag_topic prev_t = {.topic = "t",
                                     .consumed_through_ms = NOW - 60000};
    struct kafka_lag_group prev_g = {
        .group = "g", .topics = &prev_t, .n_topics = 1};
    struct kafka_lag_cluster prev = {
        .name = "main", .groups = &prev_g, .n_groups = 1};
    kafka_lag_topic_hold(&t, "g", &prev);
    TAP_EQ_INT(NOW - 60000, t.consumed_through_ms);
    kafka_lag_topic_hold(&t, "other", &prev);
    TAP_EQ_INT(0, t.consumed_through_ms); /* no earlier promise */
    t.consumed_through_ms = NOW - 2000;
    kafka_lag_topic_hold(&t, "g", NULL);
    TAP_EQ_INT(0, t.consumed_through_ms);
    /* Without unknown partitions nothing is held. */
    parts[0].has_ts = true;
    parts[0].first_unconsumed_ts_ms = NOW - 1000;
    kafka_lag_topic_finish(&t, NOW, &clamped);
    kafka_lag_topic_hold(&t, "g", &prev);
    TAP_EQ_INT(NOW - 2000, t.consumed_through_ms);
}

TAP_CASE(json_unknown_and_loss)
{
    struct kafka_lag_part parts[2];
    static const struct part_in in[] = {
        {0, 0, 9, 0, false},
        {1, 2, 12, NOW - 1500, true},
    };
    struct kafka_lag_topic t;
    build(&t, parts, in, TAP_N(in));
    kafka_lag_part_offsets(&parts[1], 2, 7, 12);
    uint64_t clamped = 0;
    kafka_lag_topic_finish(&t, NOW, &clamped);
    struct kafka_lag_group g = {.group = "g", .topics = &t, .n_topics = 1};
    struct kafka_lag_cluster c = {
        .name = "main", .swept_at_ms = NOW, .groups = &g, .n_groups = 1};
    const struct kafka_lag_cluster *one = &c;
    struct buf b = BUF_INIT;
    TAP_EQ_INT(0, lag_report_json(&b, &one, 1));
    const char *want =
        "\"partition_count\":2,\"ts_unknown_partitions\":1,"
        "\"data_loss_partitions\":1,\"partitions\":[{\"partition\":0,"
        "\"committed\":0,\"end\":9,\"lag\":9,\"lag_seconds\":null,"
        "\"ts_unknown\":true,\"has_commit\":true},{\"partition\":1,"
        "\"committed\":2,\"end\":12,\"lag\":10,\"lag_seconds\":1.5,"
        "\"has_commit\":true,\"data_loss\":true,\"lost_records\":5,"
        "\"first_unconsumed_ts_ms\":1763599998500}]";
    bool found = strstr(b.data, want) != NULL;
    if (!found)
        printf("# got %s\n", b.data);
    buf_release(&b);
    TAP_OK(found);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    TAP_OK(f);
    int rc = lag_report_table(f, &c);
    fclose(f);
    bool unknown = strstr(text, " 9     unknown\n") != NULL;
    bool loss = strstr(text, "1.500 DATA LOSS\n") != NULL;
    bool summary = strstr(text, "1 partitions of unknown time lag, 1 with "
                                "data loss") != NULL;
    if (!unknown || !loss || !summary)
        printf("# table\n%s", text);
    free(text);
    TAP_EQ_INT(0, rc);
    TAP_OK(unknown && loss && summary);
}

/* ================ renderings ================ */

static struct kafka_lag_part sample_parts[] = {
    {.partition = 0,
     .committed = 10,
     .end = 130,
     .lag = 120,
     .first_unconsumed_ts_ms = NOW - 4500,
     .has_commit = true,
     .has_ts = true},
    {.partition = 3,
     .committed = 5,
     .end = 285,
     .lag = 280,
     .first_unconsumed_ts_ms = NOW - 1250,
     .has_commit = true,
     .has_ts = true},
};

static struct kafka_lag_topic sample_topic = {
    .topic = "t",
    .ts_type = "CreateTime",
    .parts = sample_parts,
    .n_parts = 2,
};

static struct kafka_lag_group sample_groups[] = {
    {.group = "g",
     .job = "orders-enrich",
     .topics = &sample_topic,
     .n_topics = 1},
    {.group = "q\"\\\n\x01\xff\xc3\xa9", .topics = NULL, .n_topics = 0},
};

static struct kafka_lag_cluster sample_cluster = {
    .name = "main",
    .swept_at_ms = NOW,
    .groups = sample_groups,
    .n_groups = 2,
};

static void finish_sample(void)
{
    struct kafka_lag_stats st;
    memset(&st, 0, sizeof(st));
    kafka_lag_topic_finish(&sample_topic, NOW, &st.negative_age_clamped);
}

TAP_CASE(json_document)
{
    finish_sample();
    struct buf b = BUF_INIT;
    const struct kafka_lag_cluster *one = &sample_cluster;
    TAP_EQ_INT(0, lag_report_json(&b, &one, 1));
    const char *want =
        "{\"clusters\":[{\"name\":\"main\",\"stale\":false,"
        "\"swept_at_ms\":1763600000000,\"groups\":[{\"group\":\"g\","
        "\"job\":\"orders-enrich\",\"topics\":[{\"topic\":\"t\","
        "\"ts_type\":\"CreateTime\",\"max_lag\":280,"
        "\"max_lag_seconds\":4.5,\"slowest_partition\":0,\"sum_lag\":400,"
        "\"consumed_through_ms\":1763599995500,\"catch_up\":\"unknown\","
        "\"catch_up_s\":null,\"produce_rate\":null,\"consume_rate\":null,"
        "\"partition_count\":2,"
        "\"partitions\":[{\"partition\":0,\"committed\":10,\"end\":130,"
        "\"lag\":120,\"lag_seconds\":4.5,\"has_commit\":true,"
        "\"first_unconsumed_ts_ms\":1763599995500},{\"partition\":3,"
        "\"committed\":5,\"end\":285,\"lag\":280,\"lag_seconds\":1.25,"
        "\"has_commit\":true,\"first_unconsumed_ts_ms\":1763599998750}]}]},"
        "{\"group\":\"q\\\"\\\\\\u000a\\u0001\\ufffd\xc3\xa9\","
        "\"topics\":[]}]}]}";
    int same = strcmp(want, b.data) == 0;
    if (!same)
        printf("# got %s\n", b.data);
    buf_release(&b);
    TAP_OK(same);
}

TAP_CASE(json_stale_and_cap)
{
    struct kafka_lag_cluster c = {.name = "main",
                                  .stale = true,
                                  .error = "cannot read metadata: down",
                                  .swept_at_ms = 0};
    struct buf b = BUF_INIT;
    const struct kafka_lag_cluster *one = &c;
    TAP_EQ_INT(0, lag_report_json(&b, &one, 1));
    TAP_EQ_STR("{\"clusters\":[{\"name\":\"main\",\"stale\":true,"
               "\"error\":\"cannot read metadata: down\","
               "\"swept_at_ms\":0,\"groups\":[]}]}",
               b.data);
    buf_release(&b);

    struct buf small;
    buf_init(&small, 16);
    int rc = lag_report_json(&small, &one, 1);
    buf_release(&small);
    TAP_EQ_INT(-1, rc);
}

TAP_CASE(dup_is_deep_and_equal)
{
    finish_sample();
    struct kafka_lag_cluster *d = kafka_lag_cluster_dup(&sample_cluster);
    struct buf a = BUF_INIT, b = BUF_INIT;
    const struct kafka_lag_cluster *one = &sample_cluster, *two = d;
    lag_report_json(&a, &one, 1);
    lag_report_json(&b, &two, 1);
    int same = strcmp(a.data, b.data) == 0;
    int deep = d->groups[0].topics[0].parts != sample_parts &&
               d->groups[0].group != sample_groups[0].group;
    buf_release(&a);
    buf_release(&b);
    kafka_lag_cluster_free(&d);
    TAP_OK(!d);
    TAP_OK(same);
    TAP_OK(deep);
}

TAP_CASE(table_output)
{
    finish_sample();
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    TAP_OK(f);
    int rc = lag_report_table(f, &sample_cluster);
    fclose(f);
    const char *want_lines[] = {
        /* GROUP is as wide as the longest group id (8 bytes). */
        "GROUP    TOPIC PARTITION    COMMITTED          END        LAG "
        "LAG_SECONDS\n",
        "g        t             0           10          130        120 "
        "      4.500\n",
        "g        t             3            5          285        280 "
        "      1.250\n",
        "# g t: slowest partition 0 (4.500 s behind), max lag 280, sum lag "
        "400, 2 partitions, CreateTime\n",
    };
    bool found = true;
    for (size_t i = 0; i < TAP_N(want_lines) && found; i++) {
        found = strstr(text, want_lines[i]) != NULL;
        if (!found)
            printf("# missing %s# in\n%s", want_lines[i], text);
    }
    /* The hostile group id is printed without control characters. */
    bool clean = strchr(text, '\x01') == NULL;
    free(text);
    TAP_EQ_INT(0, rc);
    TAP_OK(found);
    TAP_OK(clean);
}

struct collected {
    int n;
    char tags[512];
    char fields[512];
    int64_t ts;
};

static int collect(void *ctx, const struct point *p)
{
    struct collected *c = ctx;
    c->n++;
    size_t o = 0;
    o += (size_t)snprintf(c->tags + o, sizeof(c->tags) - o, "%s",
                          p->measurement);
    for (size_t i = 0; i < p->ntags; i++)
        o += (size_t)snprintf(c->tags + o, sizeof(c->tags) - o, ",%.*s=%.*s",
                              (int)p->tags[i].name_len, p->tags[i].name,
                              (int)p->tags[i].value_len, p->tags[i].value);
    o = 0;
    for (size_t i = 0; i < p->nfields; i++) {
        const struct field *f = &p->fields[i];
        if (f->kind == FIELD_INT)
            o += (size_t)snprintf(c->fields + o, sizeof(c->fields) - o,
                                  "%s%s=%lldi", i ? "," : "", f->key,
                                  (long long)f->i);
        else
            o += (size_t)snprintf(c->fields + o, sizeof(c->fields) - o,
                                  "%s%s=%g", i ? "," : "", f->key, f->f);
    }
    c->ts = p->ts_ms;
    return 0;
}

TAP_CASE(points)
{
    finish_sample();
    struct collected got;
    memset(&got, 0, sizeof(got));
    TAP_EQ_INT(0, lag_report_points(&sample_cluster, collect, &got));
    TAP_EQ_INT(1, got.n); /* the second group has no topic */
    TAP_EQ_STR("kafka_consumergroup_lag,group=g,job_name=orders_enrich,"
               "kafka_cluster=main,topic=t",
               got.tags);
    TAP_EQ_STR("consumed_through_ms=1763599995500i,max_lag=280i,"
               "max_lag_seconds=4.5,partitions=2i,slowest_partition=0i,"
               "sum_lag=400i",
               got.fields);
    TAP_EQ_INT(NOW, got.ts);

    /* Catch-up fields: rates once known, catch_up_s only while gaining
     * (line protocol has no +Inf); JSON says which. */
    sample_topic.catch_up = KAFKA_CATCH_UP_GAINING;
    sample_topic.produce_rate = 10;
    sample_topic.consume_rate = 30;
    sample_topic.catch_up_s = 20;
    memset(&got, 0, sizeof(got));
    TAP_EQ_INT(0, lag_report_points(&sample_cluster, collect, &got));
    TAP_EQ_STR("catch_up_s=20,consume_rate=30,consumed_through_ms="
               "1763599995500i,max_lag=280i,max_lag_seconds=4.5,partitions="
               "2i,produce_rate=10,slowest_partition=0i,sum_lag=400i",
               got.fields);
    struct buf b = BUF_INIT;
    const struct kafka_lag_cluster *one = &sample_cluster;
    TAP_EQ_INT(0, lag_report_json(&b, &one, 1));
    TAP_OK(strstr(b.data,
                  "\"catch_up\":\"gaining\",\"catch_up_s\":20,"
                  "\"produce_rate\":10.000,\"consume_rate\":30.000") != NULL);
    buf_release(&b);
    sample_topic.catch_up = KAFKA_CATCH_UP_NEVER;
    sample_topic.catch_up_s = INFINITY;
    memset(&got, 0, sizeof(got));
    TAP_EQ_INT(0, lag_report_points(&sample_cluster, collect, &got));
    TAP_OK(strstr(got.fields, "catch_up_s") == NULL &&
           strstr(got.fields, "produce_rate=10") != NULL);
    TAP_EQ_INT(0, lag_report_json(&b, &one, 1));
    TAP_OK(strstr(b.data, "\"catch_up\":\"never\",\"catch_up_s\":null,") !=
           NULL);
    buf_release(&b);
    sample_topic.catch_up = KAFKA_CATCH_UP_UNKNOWN;

    struct kafka_lag_cluster stale = sample_cluster;
    stale.stale = true;
    memset(&got, 0, sizeof(got));
    TAP_EQ_INT(0, lag_report_points(&stale, collect, &got));
    TAP_EQ_INT(0, got.n);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(match_groups),
    TAP_ENTRY(selection),
    TAP_ENTRY(check_and_start_agree_on_patterns),
    TAP_ENTRY(bad_pattern_rejected),
    TAP_ENTRY(topic_finish_table),
    TAP_ENTRY(json_document),
    TAP_ENTRY(json_stale_and_cap),
    TAP_ENTRY(dup_is_deep_and_equal),
    TAP_ENTRY(table_output),
    TAP_ENTRY(points),
    TAP_ENTRY(part_offsets_data_loss),
    TAP_ENTRY(finish_counts_unknown_and_loss),
    TAP_ENTRY(json_unknown_and_loss),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
