/*
 * status_page_test: the status page (HTML) and /api/v1/status (JSON)
 * rendered from a hand-built snapshot with hostile names (<script>,
 * quotes), the bottleneck call-out and the backpressure levels (10% / 50%),
 * the "where is job" answer, NaN as null, the response cap; and
 * agent_status: REST points into jobs and tasks, and a group's history
 * kept to STATUS_HIST_LEN samples of one per STATUS_HIST_STEP_MS.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "agent_status.h"
#include "serve/status.h"
#include "serve/status_page.h"
#include "tests/lib/tap.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define EVIL "<script>alert(\"x\")</script>'"

static struct status *snapshot(void)
{
    struct status *st = xcalloc(1, sizeof(*st));
    st->version = xstrdup("9.9.9");
    st->agent_name = xstrdup("a<b>");
    st->config_path = xstrdup("/etc/lagwatch/lagwatch.yml");
    st->interval_ms = 15000;
    st->cycle_s = 1.5;
    st->cycle_ts_ms = 1700000000000;
    st->n_targets = 1;
    st->targets = xcalloc(1, sizeof(*st->targets));
    st->targets[0].url = xstrdup("http://tm:9249/metrics");
    st->targets[0].cluster = xstrdup("prod");
    st->targets[0].kind = "reporter";
    st->targets[0].error = xstrdup("connect: <refused>");
    st->n_jobs = 1;
    st->jobs = xcalloc(1, sizeof(*st->jobs));
    struct status_job *j = &st->jobs[0];
    j->cluster = xstrdup("prod");
    j->name = xstrdup(EVIL);
    j->running = true;
    j->uptime_ms = 90061000;
    j->restarts = 2;
    j->last_checkpoint_ms = st->cycle_ts_ms - 5000;
    j->last_checkpoint_duration_ms = 1200;
    j->failed_checkpoints = 0;
    j->n_tasks = 3;
    j->tasks = xcalloc(3, sizeof(*j->tasks));
    const char *names[] = {"src", "slow\"op", "sink"};
    double busy[] = {0.05, 0.5, 0.1}, bp[] = {0.7, 0.05, 0.3};
    for (int k = 0; k < 3; k++) {
        j->tasks[k].name = xstrdup(names[k]);
        j->tasks[k].busy = busy[k];
        j->tasks[k].backpressured = bp[k];
        j->tasks[k].idle = 1 - busy[k] - bp[k];
        j->tasks[k].record_us = k == 0 ? NAN : 12.5;
        j->tasks[k].watermark_lag_ms = NAN;
    }
    j->tasks[1].bottleneck = true;
    st->n_groups = 1;
    st->groups = xcalloc(1, sizeof(*st->groups));
    st->groups[0].cluster = xstrdup("main");
    st->groups[0].group = xstrdup("g\"<1>");
    st->groups[0].lag_seconds = 125;
    st->groups[0].lag_records = 42;
    st->groups[0].catch_up_s = NAN;
    st->groups[0].n_hist = 3;
    st->groups[0].hist[0] = 1;
    st->groups[0].hist[1] = 60;
    st->groups[0].hist[2] = 125;
    st->n_nodes = 1;
    st->nodes = xcalloc(1, sizeof(*st->nodes));
    st->nodes[0].sink = xstrdup("sinks.influxdb");
    st->nodes[0].name = xstrdup("influx-a");
    st->nodes[0].url = xstrdup("http://influx:8086");
    st->nodes[0].up = true;
    return st;
}

static void owners(void *ctx, const char *key, struct buf *out)
{
    (void)ctx;
    buf_adds(out, key[0] == '<' ? "influx-a" : "influx-a, influx<b>");
}

TAP_CASE(html_escapes_hostile_names)
{
    struct status *st = snapshot();
    struct buf b;
    buf_init(&b, 0);
    TAP_OK(status_page_html(&b, st, NULL, NULL, NULL, st->cycle_ts_ms) == 0);
    const char *h = b.data;
    /* exactly one <script would be the page's own; it has none */
    TAP_OK(strstr(h, "<script") == NULL);
    TAP_OK(strstr(h, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;"));
    TAP_OK(strstr(h, "slow&quot;op"));
    TAP_OK(strstr(h, "g&quot;&lt;1&gt;"));
    TAP_OK(strstr(h, "connect: &lt;refused&gt;"));
    TAP_OK(strstr(h, "<title>lagwatch a&lt;b&gt;</title>"));
    TAP_OK(strstr(h, "http://") != NULL);
    TAP_OK(strstr(h, "src=") == NULL); /* no external asset */
    buf_release(&b);
    status_free(&st);
    TAP_OK(st == NULL);
}

TAP_CASE(html_bottleneck_and_levels)
{
    struct status *st = snapshot();
    struct buf b;
    buf_init(&b, 0);
    TAP_OK(status_page_html(&b, st, NULL, NULL, NULL, st->cycle_ts_ms) == 0);
    const char *h = b.data;
    TAP_OK(strstr(h, "<tr class=\"bn\"><td>slow&quot;op <span "
                     "class=\"bnmark\">&larr; bottleneck</span>"));
    /* only the bottleneck task's row is marked */
    const char *first = strstr(h, "<tr class=\"bn\">");
    TAP_OK(first && !strstr(first + 1, "<tr class=\"bn\">"));
    /* 10% and 50%: 0.05 OK, 0.3 LOW, 0.7 HIGH */
    TAP_OK(strstr(h, ">HIGH</span> 70%"));
    TAP_OK(strstr(h, ">OK</span> 5%"));
    TAP_OK(strstr(h, ">LOW</span> 30%"));
    /* busy 0.5 of a 200 px bar */
    TAP_OK(strstr(h, "<rect width=\"100\" height=\"12\" fill=\"#ee6464\"/>"));
    TAP_OK(strstr(h, "12.5 &micro;s"));
    TAP_OK(strstr(h, "1d1h")); /* uptime 90061 s */
    TAP_OK(strstr(h, "5.0s ago"));
    TAP_OK(strstr(h, "<polyline"));
    buf_release(&b);
    status_free(&st);
}

TAP_CASE(where_is_job)
{
    struct status *st = snapshot();
    struct buf b;
    buf_init(&b, 0);
    TAP_OK(status_page_html(&b, st, "\"><script>x", owners, NULL, 0) == 0);
    TAP_OK(strstr(b.data, "<script") == NULL);
    TAP_OK(strstr(b.data, "value=\"&quot;&gt;&lt;script&gt;x\""));
    TAP_OK(strstr(b.data, "(not among the jobs seen this cycle) is written "
                          "to: <b>influx-a, influx&lt;b&gt;</b>"));
    buf_reset(&b);
    TAP_OK(status_page_html(&b, st, EVIL, owners, NULL, 0) == 0);
    TAP_OK(strstr(b.data, "is written to: <b>influx-a</b>"));
    TAP_OK(strstr(b.data, "(not among") == NULL);
    TAP_OK(strstr(b.data, "<details open>"));
    buf_reset(&b);
    TAP_OK(status_page_html(&b, st, "x", NULL, NULL, 0) == 0);
    TAP_OK(strstr(b.data, "no sinks.influxdb ring is configured"));
    buf_release(&b);
    status_free(&st);
}

TAP_CASE(json_document)
{
    struct status *st = snapshot();
    struct buf b;
    buf_init(&b, 0);
    TAP_OK(status_json(&b, st, owners, NULL) == 0);
    json_error_t e;
    json_t *d = json_loads(b.data, 0, &e);
    TAP_OK(d != NULL);
    json_t *j = json_array_get(json_object_get(d, "jobs"), 0);
    TAP_EQ_STR(EVIL, json_string_value(json_object_get(j, "name")));
    TAP_EQ_STR("slow\"op", json_string_value(json_object_get(j, "bottleneck")));
    TAP_EQ_STR("influx-a", json_string_value(json_object_get(j, "nodes")));
    json_t *t0 = json_array_get(json_object_get(j, "tasks"), 0);
    TAP_OK(json_is_null(json_object_get(t0, "record_time_us")));
    TAP_EQ_DBL(0.7, json_real_value(json_object_get(t0, "backpressured_ratio")),
               1e-9);
    json_t *g = json_array_get(json_object_get(d, "groups"), 0);
    TAP_EQ_STR("g\"<1>", json_string_value(json_object_get(g, "group")));
    TAP_EQ_INT(3, json_array_size(json_object_get(g, "lag_seconds_history")));
    TAP_OK(json_is_null(json_object_get(g, "catch_up_s")));
    TAP_EQ_STR("unknown", json_string_value(json_object_get(g, "catch_up")));
    TAP_EQ_STR("influx-a",
               json_string_value(json_object_get(
                   json_array_get(json_object_get(d, "nodes"), 0), "name")));
    json_decref(d);
    buf_release(&b);
    status_free(&st);
}

/* The group's catch-up is its slowest topic's: never when any topic is not
 * gaining, unknown while any is unknown, else the longest estimate; the page
 * and the JSON say which. */
TAP_CASE(group_catch_up)
{
    struct config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.agent.name = "t";
    cfg.agent.interval_ms = 1000;
    struct kafka_lag_topic topics[2] = {
        {.topic = "a", .catch_up = KAFKA_CATCH_UP_GAINING, .catch_up_s = 90},
        {.topic = "b", .catch_up = KAFKA_CATCH_UP_GAINING, .catch_up_s = 600},
    };
    struct kafka_lag_group grp = {
        .group = "g", .topics = topics, .n_topics = 2};
    struct kafka_lag_cluster cl = {
        .name = "main", .groups = &grp, .n_groups = 1};
    const struct kafka_lag_cluster *lag[] = {&cl};
    struct agent_status_in in = {.cfg = &cfg, .lag = lag, .n_lag = 1};
    static const struct {
        enum kafka_catch_up b;
        double want_s;
        const char *state;
    } cases[] = {
        {KAFKA_CATCH_UP_GAINING, 600, "gaining"},
        {KAFKA_CATCH_UP_UNKNOWN, NAN, "unknown"},
        {KAFKA_CATCH_UP_NEVER, INFINITY, "never"},
    };
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < TAP_N(cases); i++) {
        struct agent_status *as = agent_status_new();
        topics[1].catch_up = cases[i].b;
        agent_status_begin(as);
        struct status *st = agent_status_build(as, &in);
        TAP_OK(st && st->n_groups == 1);
        double got = st->groups[0].catch_up_s;
        if (isnan(cases[i].want_s))
            TAP_OK(isnan(got));
        else
            TAP_OK(got == cases[i].want_s);
        buf_reset(&b);
        TAP_OK(status_json(&b, st, NULL, NULL) == 0);
        json_error_t e;
        json_t *d = json_loads(b.data, 0, &e);
        TAP_OK(d != NULL);
        json_t *g = json_array_get(json_object_get(d, "groups"), 0);
        TAP_EQ_STR(cases[i].state,
                   json_string_value(json_object_get(g, "catch_up")));
        json_decref(d);
        buf_reset(&b);
        TAP_OK(status_page_html(&b, st, "x", NULL, NULL, 0) == 0);
        if (isinf(cases[i].want_s))
            TAP_OK(strstr(b.data, "never (not gaining)") != NULL);
        if (cases[i].want_s == 600)
            TAP_OK(strstr(b.data, "never (not gaining)") == NULL);
        status_free(&st);
        agent_status_free(&as);
    }
    buf_release(&b);
}

TAP_CASE(cap_is_an_error)
{
    struct status *st = snapshot();
    struct buf b;
    buf_init(&b, 512);
    TAP_EQ_INT(-1, status_page_html(&b, st, NULL, NULL, NULL, 0));
    buf_release(&b);
    buf_init(&b, 64);
    TAP_EQ_INT(-1, status_json(&b, st, NULL, NULL));
    buf_release(&b);
    status_free(&st);
}

static struct point job_point(const char *job, struct label *tags,
                              struct field *f, size_t nf)
{
    tags[0] = (struct label){.name = "flink_cluster", .value = "prod"};
    tags[1] = (struct label){.name = "job_name", .value = job};
    return (struct point){.measurement = "lagwatch_job",
                          .tags = tags,
                          .ntags = 2,
                          .fields = f,
                          .nfields = nf};
}

TAP_CASE(agent_status_jobs_and_history)
{
    struct config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.agent.name = "t";
    cfg.agent.interval_ms = 1000;
    struct agent_status *as = agent_status_new();
    struct label tags[3];
    struct field jf[] = {{.key = "running", .kind = FIELD_INT, .i = 1},
                         {.key = "restarts", .kind = FIELD_INT, .i = 4}};
    struct field tf[] = {
        {.key = "busy_ratio_max", .kind = FIELD_FLOAT, .f = 0.9},
        {.key = "bottleneck", .kind = FIELD_INT, .i = 1},
    };
    struct kafka_lag_topic topic = {.topic = "t",
                                    .max_lag_seconds = 0,
                                    .slowest_partition = 3,
                                    .sum_lag = 7};
    struct kafka_lag_group grp = {
        .group = "g", .topics = &topic, .n_topics = 1};
    struct kafka_lag_cluster cl = {
        .name = "main", .groups = &grp, .n_groups = 1};
    const struct kafka_lag_cluster *lag[] = {&cl};
    struct agent_status_in in = {.cfg = &cfg, .lag = lag, .n_lag = 1};
    struct status *st = NULL;
    for (int c = 0; c < 300; c++) {
        agent_status_begin(as);
        struct point p = job_point("j1", tags, jf, 2);
        agent_status_point(as, &p);
        p = job_point("j1", tags, tf, 2);
        p.measurement = "lagwatch_task_timing";
        tags[2] = (struct label){.name = "task_name", .value = "op"};
        p.ntags = 3;
        agent_status_point(as, &p);
        p.measurement = "kafka_consumergroup_lag"; /* ignored */
        agent_status_point(as, &p);
        /* two sweeps per 30 s step: the second replaces the first */
        cl.swept_at_ms = 1000000 + (int64_t)c * 15000;
        topic.max_lag_seconds = c;
        status_free(&st);
        st = agent_status_build(as, &in);
    }
    TAP_EQ_INT(1, st->n_jobs);
    TAP_EQ_STR("j1", st->jobs[0].name);
    TAP_OK(st->jobs[0].running);
    TAP_EQ_INT(4, st->jobs[0].restarts);
    TAP_EQ_INT(-1, st->jobs[0].uptime_ms);
    TAP_EQ_INT(1, st->jobs[0].n_tasks);
    TAP_EQ_INT(0, status_job_bottleneck(&st->jobs[0]));
    TAP_EQ_INT(1, st->n_groups);
    TAP_EQ_INT(7, st->groups[0].lag_records);
    TAP_EQ_INT(3, st->groups[0].slowest_partition);
    TAP_EQ_INT(STATUS_HIST_LEN, st->groups[0].n_hist);
    TAP_EQ_DBL(299, st->groups[0].hist[STATUS_HIST_LEN - 1], 0);
    TAP_EQ_DBL(297, st->groups[0].hist[STATUS_HIST_LEN - 2], 0);
    /* a stale result adds nothing */
    cl.stale = true;
    cl.swept_at_ms += 60000;
    topic.max_lag_seconds = 5000;
    status_free(&st);
    st = agent_status_build(as, &in);
    TAP_OK(st->groups[0].stale);
    TAP_EQ_DBL(299, st->groups[0].hist[STATUS_HIST_LEN - 1], 0);
    TAP_EQ_INT(0, st->n_jobs); /* no REST point this cycle */
    status_free(&st);
    agent_status_free(&as);
    TAP_OK(as == NULL);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(html_escapes_hostile_names),
    TAP_ENTRY(html_bottleneck_and_levels),
    TAP_ENTRY(where_is_job),
    TAP_ENTRY(json_document),
    TAP_ENTRY(group_catch_up),
    TAP_ENTRY(cap_is_an_error),
    TAP_ENTRY(agent_status_jobs_and_history),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
