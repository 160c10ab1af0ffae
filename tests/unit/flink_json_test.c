/*
 * flink_json_test: the REST parsers against every recorded fixture
 * (tests/fixtures/flink, or $FLINK_FIXTURES), expected values taken from
 * the fixture README's tables and files, plus hostile documents: a table of
 * hand-written ones and every fixture with each value in turn replaced by
 * each JSON type, and every fixture cut short.
 */
#include <jansson.h>
#include <math.h>

#include "tests/lib/tap.h"
#include "tests/lib/testutil.h"
#include "flink/flink_json.h"

#define JID_A  "566bf9d7c55a45f8d1a6e55e9b9b1325"
#define JID_B  "1ff135342e825ce1158d003d9a0b2361"
#define JID_C  "fdfb462fd6fad8dbf82d5644ef7d9967"
#define V_SRC  "5e6a0a2edd70e34dc1d77cffb7decc0c"
#define V_WIN  "9823beb1e6ba3ad74de45321ad915a36"
#define V_SINK "683447c10cc8af11dd4eabbd1fcfb980"
#define V_BSRC "d330a5494d14cf1a4cc346363c234038"
#define V_BWIN "d178403035c9a8c4668dc8f46a423cf9"

/* Fixtures are recorded JobManager answers of a few KiB. */
#define MAX_FIXTURE (1u << 24)

static char *slurp(const char *name, size_t *len)
{
    char path[2048];
    tu_fixture_path(path, sizeof(path), name);
    return tu_slurp(path, MAX_FIXTURE, len);
}

#define LOAD(var, len, name)                                                   \
    size_t len = 0;                                                            \
    char *var = slurp(name, &len);                                             \
    if (!var)                                                                  \
    TAP_FAIL_("cannot read fixture %s (set FLINK_FIXTURES)", name)

TAP_CASE(jobs_overview)
{
    struct flink_jobs j;
    char err[256];
    LOAD(s, n, "jobs-overview.json");
    TAP_EQ_INT(0, flink_json_jobs_overview(s, n, &j, err, sizeof(err)));
    free(s);
    TAP_EQ_INT(3, j.n);
    TAP_EQ_INT(0, j.skipped);
    TAP_EQ_STR(JID_A, j.v[0].jid);
    TAP_EQ_STR("orders-enrich", j.v[0].name);
    TAP_EQ_STR("RUNNING", j.v[0].state);
    TAP_EQ_INT(1718006362114LL, j.v[0].start_time_ms);
    TAP_EQ_STR("clickstream-sessionize", j.v[1].name);
    TAP_EQ_STR(JID_C, j.v[2].jid);
    TAP_EQ_STR("CANCELED", j.v[2].state);
    TAP_OK(flink_job_state_terminal(j.v[2].state));
    TAP_OK(!flink_job_state_terminal(j.v[0].state));
    TAP_OK(!flink_job_state_terminal("RESTARTING"));
    flink_jobs_release(&j);
    flink_jobs_release(&j); /* released twice: harmless */
}

TAP_CASE(job_details_a_and_b)
{
    struct flink_job_details d;
    char err[256];
    LOAD(s, n, "job-" JID_A ".json");
    TAP_EQ_INT(0, flink_json_job_details(s, n, &d, err, sizeof(err)));
    free(s);
    TAP_EQ_STR(JID_A, d.jid);
    TAP_EQ_STR("orders-enrich", d.name);
    TAP_EQ_INT(4, d.n);
    TAP_OK(d.has_plan);
    TAP_EQ_STR(V_SRC, d.v[0].id);
    TAP_EQ_STR("Source: KafkaSource[orders]", d.v[0].name);
    TAP_EQ_STR(V_WIN, d.v[2].id);
    TAP_EQ_STR("Window(TumblingEventTimeWindows(60000), EventTimeTrigger, "
               "OrderStatsAggregator, PassThroughWindowFunction)",
               d.v[2].name);
    for (size_t i = 0; i < 4; i++)
        TAP_EQ_INT(4, d.v[i].parallelism);
    /* plan: Source -> Map -> Window -> Sink */
    TAP_EQ_INT(0, d.v[0].n_upstream);
    for (size_t i = 1; i < 4; i++) {
        TAP_EQ_INT(1, d.v[i].n_upstream);
        TAP_EQ_INT(i - 1, d.v[i].upstream[0]);
    }
    flink_job_details_release(&d);

    LOAD(b, bn, "job-" JID_B ".json");
    TAP_EQ_INT(0, flink_json_job_details(b, bn, &d, err, sizeof(err)));
    free(b);
    TAP_EQ_INT(2, d.n);
    TAP_EQ_STR("Source: Custom Source -> Timestamps/Watermarks", d.v[0].name);
    TAP_EQ_STR("SessionWindow[gap=\"30 min\"] -> Sink: Print to Std. Out",
               d.v[1].name);
    TAP_EQ_INT(2, d.v[1].parallelism);
    TAP_EQ_INT(1, d.v[1].n_upstream);
    TAP_EQ_INT(0, d.v[1].upstream[0]);
    flink_job_details_release(&d);
}

TAP_CASE(job_metrics)
{
    static const struct {
        const char *file;
        size_t n;
        double uptime, restarts, failed;
    } cases[] = {
        {"job-" JID_A "-metrics.json", 16, 87036979, 1, 3},
        {"job-" JID_B "-metrics.json", 16, 23400345, 0, 0},
        {"job-" JID_C "-metrics.json", 0, NAN, NAN, NAN},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        struct flink_metrics m;
        char err[256];
        double v;
        LOAD(s, n, cases[i].file);
        TAP_EQ_INT(0, flink_json_metrics(s, n, &m, err, sizeof(err)));
        free(s);
        TAP_EQ_INT(cases[i].n, m.n);
        if (cases[i].n == 0) {
            TAP_EQ_INT(-1, flink_metrics_get(&m, "uptime", &v));
        } else {
            TAP_EQ_INT(0, flink_metrics_get(&m, "uptime", &v));
            TAP_EQ_DBL(cases[i].uptime, v, 0);
            TAP_EQ_INT(0, flink_metrics_get(&m, "numRestarts", &v));
            TAP_EQ_DBL(cases[i].restarts, v, 0);
            TAP_EQ_INT(0,
                       flink_metrics_get(&m, "numberOfFailedCheckpoints", &v));
            TAP_EQ_DBL(cases[i].failed, v, 0);
            /* a string that is not a number is kept but not numeric */
            TAP_EQ_INT(-1,
                       flink_metrics_get(&m, "lastCheckpointExternalPath", &v));
        }
        flink_metrics_release(&m);
    }
}

/* Window: ids "<k>.<metric>" in HashSet order, string values; subtask 2
 * is the hot one (987 busy, 13 idle, 6452.3 records in at operator scope,
 * which the task-scope timing ignores). */
TAP_CASE(vertex_metrics_per_subtask)
{
    struct flink_metrics m;
    struct task_timing_subtask st[4];
    char err[256];
    double v;
    LOAD(s, n, "vertex-" V_WIN "-metrics.json");
    TAP_EQ_INT(0, flink_json_metrics(s, n, &m, err, sizeof(err)));
    free(s);
    TAP_EQ_INT(14, m.n);
    for (size_t k = 0; k < 4; k++)
        task_timing_subtask_clear(&st[k]);
    /* 4 subtasks x busy/idle/bp = 12; the 2 operator-scoped ids ignored */
    TAP_EQ_INT(12, flink_metrics_subtask_timing(&m, st, 4));
    TAP_EQ_DBL(98.0, st[0].busy_ms, 0);
    TAP_EQ_DBL(902.0, st[0].idle_ms, 0);
    TAP_EQ_DBL(85.0, st[1].busy_ms, 0);
    TAP_EQ_DBL(987.0, st[2].busy_ms, 0);
    TAP_EQ_DBL(13.0, st[2].idle_ms, 0);
    TAP_EQ_DBL(0.0, st[2].bp_ms, 0);
    TAP_EQ_DBL(103.0, st[3].busy_ms, 0);
    TAP_EQ_DBL(897.0, st[3].idle_ms, 0);
    TAP_OK(isnan(st[2].records_in));
    TAP_EQ_INT(0, flink_metrics_get(
                      &m,
                      "2.Window(TumblingEventTimeWindows(60000)__EventTime"
                      "Trigger__OrderStatsAggregator__.numRecordsInPerSecond",
                      &v));
    TAP_EQ_DBL(6452.3, v, 0);
    /* fewer subtasks than ids: indices >= n are ignored */
    for (size_t k = 0; k < 4; k++)
        task_timing_subtask_clear(&st[k]);
    TAP_EQ_INT(6, flink_metrics_subtask_timing(&m, st, 2));
    TAP_OK(isnan(st[2].busy_ms));
    flink_metrics_release(&m);

    /* job B legacy source: quoted NaN busy, Long.MIN_VALUE watermark */
    LOAD(b, bn, "vertex-" V_BSRC "-metrics.json");
    TAP_EQ_INT(0, flink_json_metrics(b, bn, &m, err, sizeof(err)));
    free(b);
    TAP_EQ_INT(4, m.n);
    for (size_t k = 0; k < 2; k++)
        task_timing_subtask_clear(&st[k]);
    TAP_EQ_INT(2, flink_metrics_subtask_timing(&m, st, 2));
    TAP_OK(isnan(st[0].busy_ms) && isnan(st[1].busy_ms));
    TAP_EQ_INT(0, flink_metrics_get(
                      &m, "0.Timestamps/Watermarks.currentInputWatermark", &v));
    TAP_EQ_DBL(-9223372036854775808.0, v, 0);
    flink_metrics_release(&m);
}

/* Task-scope "<k>.currentInputWatermark" (a Long gauge as a string, as the
 * fake serves it from the reporter fixtures) fills watermark_ms;
 * operator-scope watermarks (recorded above: "2.Window(...).
 * currentInputWatermark", "0.Timestamps/Watermarks.currentInputWatermark")
 * stay ignored; Long.MIN_VALUE is kept as the number it is (task_timing
 * treats <= 0 as "no watermark"). */
TAP_CASE(vertex_metrics_task_watermark)
{
    static const char body[] =
        "[{\"id\":\"2.currentInputWatermark\",\"value\":\"1718093268440\"},"
        "{\"id\":\"0.currentInputWatermark\",\"value\":\"1718093297028\"},"
        "{\"id\":\"1.currentInputWatermark\","
        "\"value\":\"-9223372036854775808\"},"
        "{\"id\":\"0.busyTimeMsPerSecond\",\"value\":\"98.0\"},"
        "{\"id\":\"3.Op.currentInputWatermark\",\"value\":\"5\"},"
        "{\"id\":\"7.currentInputWatermark\",\"value\":\"5\"}]";
    struct flink_metrics m;
    struct task_timing_subtask st[4];
    char err[256];
    TAP_EQ_INT(
        0, flink_json_metrics(body, sizeof(body) - 1, &m, err, sizeof(err)));
    for (size_t k = 0; k < 4; k++)
        task_timing_subtask_clear(&st[k]);
    /* 3 watermarks + 1 busy; operator scope and subtask 7 >= 4 ignored */
    TAP_EQ_INT(4, flink_metrics_subtask_timing(&m, st, 4));
    TAP_EQ_DBL(1718093297028.0, st[0].watermark_ms, 0);
    TAP_EQ_DBL(-9223372036854775808.0, st[1].watermark_ms, 0);
    TAP_EQ_DBL(1718093268440.0, st[2].watermark_ms, 0);
    TAP_OK(isnan(st[3].watermark_ms));
    TAP_EQ_DBL(98.0, st[0].busy_ms, 0);
    flink_metrics_release(&m);
}

TAP_CASE(checkpoints_recorded)
{
    struct flink_checkpoints c;
    char err[256];
    LOAD(s, n, "checkpoints.json");
    TAP_EQ_INT(0, flink_json_checkpoints(s, n, &c, err, sizeof(err)));
    free(s);
    TAP_OK(c.has_counts);
    TAP_EQ_INT(1, c.restored);
    TAP_EQ_INT(1391, c.total);
    TAP_EQ_INT(1, c.in_progress);
    TAP_EQ_INT(1387, c.completed);
    TAP_EQ_INT(3, c.failed);
    TAP_OK(c.has_latest);
    TAP_EQ_INT(1390, c.latest_id);
    TAP_EQ_INT(1718093321818LL, c.latest_ack_ms);
    TAP_EQ_INT(1718093278700LL, c.latest_trigger_ms);
    TAP_EQ_INT(43118, c.latest_duration_ms);
    TAP_EQ_INT(187311204, c.latest_size_bytes);
    TAP_EQ_INT(8, c.history_n[FLINK_CKP_COMPLETED]);
    TAP_EQ_INT(1, c.history_n[FLINK_CKP_FAILED]);
    TAP_EQ_INT(1, c.history_n[FLINK_CKP_IN_PROGRESS]);
    TAP_EQ_INT(0, c.history_n[FLINK_CKP_UNKNOWN]);
}

/* Older discriminators, and latest.completed null: the completed history
 * entry with the highest id (7, not 5) stands in. */
TAP_CASE(checkpoints_discriminators)
{
    static const char doc[] =
        "{\"counts\":{\"completed\":\"2\",\"failed\":1.0},"
        "\"latest\":{\"completed\":null},\"history\":["
        "{\"@class\":\"completed\",\"id\":5,\"latest_ack_timestamp\":50,"
        "\"end_to_end_duration\":5,\"checkpointed_size\":500},"
        "{\"clazz\":\"completed\",\"id\":7,\"latest_ack_timestamp\":70,"
        "\"end_to_end_duration\":7,\"checkpointed_size\":7.0E2},"
        "{\"clazz\":\"failed\",\"id\":8},"
        "{\"status\":\"IN_PROGRESS\",\"id\":9},"
        "{\"className\":\"weird\",\"id\":10},3,null]}";
    struct flink_checkpoints c;
    char err[256];
    TAP_EQ_INT(
        0, flink_json_checkpoints(doc, sizeof(doc) - 1, &c, err, sizeof(err)));
    TAP_EQ_INT(2, c.completed);
    TAP_EQ_INT(1, c.failed);
    TAP_EQ_INT(-1, c.total);
    TAP_OK(c.has_latest);
    TAP_EQ_INT(7, c.latest_id);
    TAP_EQ_INT(70, c.latest_ack_ms);
    TAP_EQ_INT(700, c.latest_size_bytes);
    TAP_EQ_INT(2, c.history_n[FLINK_CKP_COMPLETED]);
    TAP_EQ_INT(1, c.history_n[FLINK_CKP_FAILED]);
    TAP_EQ_INT(1, c.history_n[FLINK_CKP_IN_PROGRESS]);
    TAP_EQ_INT(1, c.history_n[FLINK_CKP_UNKNOWN]);
}

TAP_CASE(taskmanagers)
{
    static const struct {
        const char *doc;
        size_t n, skipped;
        const char *host0;
    } cases[] = {
        {"{\"taskmanagers\":[{\"id\":\"tm-pod-0\",\"path\":"
         "\"akka.tcp://flink@10.1.2.3:6122/user/rpc/taskmanager_0\"}]}",
         1, 0, "10.1.2.3"},
        {"{\"taskmanagers\":[{\"id\":\"host-a.example:6122-abcdef\"}]}", 1, 0,
         "host-a.example"},
        {"{\"taskmanagers\":[{\"id\":\"x\",\"path\":"
         "\"pekko.tcp://flink@[fd00::1]:6122/user\"}]}",
         1, 0, "[fd00::1]"},
        /* a pod name names no host; hostile characters are refused */
        {"{\"taskmanagers\":[{\"id\":\"tm-pod-1\"},{\"id\":\"a/b:1-x\"},"
         "{\"id\":\"x\",\"path\":\"akka://flink@evil host:1/\"},"
         "{\"id\":5},7,{\"id\":\"[zz]:1-x\"}]}",
         0, 6, NULL},
    };
    struct flink_taskmanagers t;
    char err[256];
    LOAD(s, n, "taskmanagers.json");
    TAP_EQ_INT(0, flink_json_taskmanagers(s, n, &t, err, sizeof(err)));
    free(s);
    TAP_EQ_INT(2, t.n);
    TAP_EQ_STR("10.42.1.17:6122-4d5c1a", t.v[0].id);
    TAP_EQ_STR("10.42.1.17", t.v[0].host);
    TAP_EQ_STR("10.42.2.9", t.v[1].host);
    flink_taskmanagers_release(&t);
    for (size_t i = 0; i < TAP_N(cases); i++) {
        TAP_EQ_INT(0,
                   flink_json_taskmanagers(cases[i].doc, strlen(cases[i].doc),
                                           &t, err, sizeof(err)));
        TAP_EQ_INT(cases[i].n, t.n);
        TAP_EQ_INT(cases[i].skipped, t.skipped);
        if (cases[i].host0)
            TAP_EQ_STR(cases[i].host0, t.v[0].host);
        flink_taskmanagers_release(&t);
    }
}

TAP_CASE(error_body)
{
    char msg[128];
    LOAD(s, n, "error-404-unknown-path.json");
    TAP_EQ_INT(0, flink_json_error_message(s, n, msg, sizeof(msg)));
    free(s);
    TAP_EQ_STR("Not found: /jobs/" JID_A "/vertices/" V_SRC
               "/jm-operator-metrics",
               msg);
    TAP_EQ_INT(-1, flink_json_error_message("<html>", 6, msg, sizeof(msg)));
    TAP_EQ_INT(
        -1, flink_json_error_message("{\"errors\":[1]}", 14, msg, sizeof(msg)));
}

/* ---- hostile documents ---- */

enum which { P_JOBS, P_DETAILS, P_METRICS, P_CKP, P_TMS };

/* Runs one parser; on success checks invariants the callers rely on.
 * Returns the parser's rc, or 99 when an invariant is broken. */
static int run_parser(enum which w, const char *s, size_t n)
{
    char err[256];
    int rc = -1, bad = 0;
    err[0] = '\0';
    switch (w) {
    case P_JOBS: {
        struct flink_jobs j;
        rc = flink_json_jobs_overview(s, n, &j, err, sizeof(err));
        for (size_t i = 0; rc == 0 && i < j.n; i++)
            bad |= !j.v[i].jid || !j.v[i].name || !j.v[i].state ||
                   strspn(j.v[i].jid,
                          "0123456789abcdefABCDEF"
                          "ghijklmnopqrstuvwxyz"
                          "GHIJKLMNOPQRSTUVWXYZ") != strlen(j.v[i].jid);
        flink_jobs_release(&j);
        break;
    }
    case P_DETAILS: {
        struct flink_job_details d;
        rc = flink_json_job_details(s, n, &d, err, sizeof(err));
        for (size_t i = 0; rc == 0 && i < d.n; i++) {
            bad |= d.v[i].parallelism < 1 ||
                   d.v[i].parallelism > FLINK_MAX_PARALLELISM;
            for (size_t k = 0; k < d.v[i].n_upstream; k++)
                bad |= d.v[i].upstream[k] >= d.n || d.v[i].upstream[k] == i;
        }
        flink_job_details_release(&d);
        break;
    }
    case P_METRICS: {
        struct flink_metrics m;
        struct task_timing_subtask st[4];
        rc = flink_json_metrics(s, n, &m, err, sizeof(err));
        if (rc == 0)
            flink_metrics_subtask_timing(&m, st, 4);
        for (size_t i = 0; rc == 0 && i < m.n; i++)
            bad |= !m.v[i].numeric && !isnan(m.v[i].value);
        flink_metrics_release(&m);
        break;
    }
    case P_CKP: {
        struct flink_checkpoints c;
        rc = flink_json_checkpoints(s, n, &c, err, sizeof(err));
        break;
    }
    case P_TMS: {
        struct flink_taskmanagers t;
        rc = flink_json_taskmanagers(s, n, &t, err, sizeof(err));
        for (size_t i = 0; rc == 0 && i < t.n; i++)
            bad |= !t.v[i].host || strpbrk(t.v[i].host, "/ ?#@%") != NULL;
        flink_taskmanagers_release(&t);
        break;
    }
    }
    if (rc < 0 && err[0] == '\0')
        return 99; /* a failure must say why */
    return bad ? 99 : rc;
}

static const struct {
    enum which w;
    const char *doc;
    int want;
} hostile[] = {
    {P_JOBS, "", -1},
    {P_JOBS, "<!DOCTYPE html><html>login</html>", -1},
    {P_JOBS, "{\"jobs\":[{\"jid\":\"566b", -1},
    {P_JOBS, "null", -1},
    {P_JOBS, "[]", -1},
    {P_JOBS, "{\"jobs\":{}}", -1},
    {P_JOBS,
     "{\"jobs\":[1,\"x\",null,[],{\"jid\":5,\"name\":[],"
     "\"state\":{}}]}",
     0},
    {P_JOBS,
     "{\"jobs\":[{\"jid\":\"../../x\",\"name\":\"a\","
     "\"state\":\"RUNNING\"}]}",
     0},
    {P_JOBS,
     "{\"jobs\":[{\"jid\":\"ab\",\"name\":\"a\",\"state\":"
     "\"RUNNING\",\"start-time\":\"soon\"}]}",
     0},
    {P_DETAILS, "{}", -1},
    {P_DETAILS,
     "{\"jid\":\"ab\",\"name\":\"n\",\"state\":\"RUNNING\","
     "\"vertices\":{}}",
     -1},
    {P_DETAILS,
     "{\"jid\":\"ab\",\"name\":\"n\",\"state\":\"RUNNING\","
     "\"vertices\":[{\"id\":\"v1\",\"name\":\"x\","
     "\"parallelism\":0}]}",
     -1},
    {P_DETAILS,
     "{\"jid\":\"ab\",\"name\":\"n\",\"state\":\"RUNNING\","
     "\"vertices\":[{\"id\":\"v1\",\"name\":\"x\","
     "\"parallelism\":1e12}]}",
     -1},
    {P_DETAILS,
     "{\"jid\":\"ab\",\"name\":\"n\",\"state\":\"RUNNING\","
     "\"vertices\":[{\"id\":\"v1\",\"name\":\"x\","
     "\"parallelism\":\"4\"}],\"plan\":{\"nodes\":"
     "[{\"id\":\"v1\",\"inputs\":[{\"id\":\"v1\"},{\"id\":\"zz\"},"
     "3,{\"id\":[]}]},5,{\"id\":1}]}}",
     0},
    {P_DETAILS,
     "{\"jid\":\"ab\",\"name\":\"n\",\"state\":\"RUNNING\","
     "\"vertices\":[],\"plan\":7}",
     0},
    {P_METRICS, "{\"id\":\"x\"}", -1},
    {P_METRICS,
     "[{\"id\":\"0.busyTimeMsPerSecond\",\"value\":{}},"
     "{\"id\":\"1.busyTimeMsPerSecond\",\"value\":\"1e999\"},"
     "{\"id\":\"2.busyTimeMsPerSecond\",\"value\":\"Infinity\"},"
     "{\"id\":\"3.busyTimeMsPerSecond\",\"value\":true},"
     "{\"id\":\"99999999999999999999999.busyTimeMsPerSecond\","
     "\"value\":\"1\"},{\"id\":\"-1.busyTimeMsPerSecond\","
     "\"value\":\"1\"},{\"value\":\"1\"},{\"id\":null},7]",
     0},
    {P_CKP, "[]", -1},
    {P_CKP, "{\"counts\":[],\"latest\":[],\"history\":{}}", 0},
    {P_CKP,
     "{\"latest\":{\"completed\":[1]},\"history\":[{\"className\":"
     "7,\"status\":9,\"id\":\"x\"}]}",
     0},
    {P_TMS, "{\"taskmanagers\":\"all\"}", -1},
    {P_TMS, "{\"taskmanagers\":[{\"id\":\"h:1-x\",\"path\":7}]}", 0},
};

TAP_CASE(hostile_table)
{
    for (size_t i = 0; i < TAP_N(hostile); i++) {
        int got =
            run_parser(hostile[i].w, hostile[i].doc, strlen(hostile[i].doc));
        if (got != hostile[i].want)
            TAP_FAIL_("hostile[%zu] %s: want %d, got %d", i, hostile[i].doc,
                      hostile[i].want, got);
    }
}

/* Nesting far deeper than any answer: refused, not a stack overflow. */
TAP_CASE(deep_nesting)
{
    size_t depth = 100000;
    char *s = malloc(2 * depth);
    TAP_OK(s);
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    for (int w = P_JOBS; w <= P_TMS; w++)
        TAP_EQ_INT(-1, run_parser((enum which)w, s, 2 * depth));
    free(s);
}

static const struct {
    const char *file;
    enum which w;
} fixtures[] = {
    {"jobs-overview.json", P_JOBS},
    {"job-" JID_A ".json", P_DETAILS},
    {"job-" JID_B ".json", P_DETAILS},
    {"job-" JID_A "-metrics.json", P_METRICS},
    {"vertex-" V_WIN "-metrics.json", P_METRICS},
    {"vertex-" V_BSRC "-metrics.json", P_METRICS},
    {"checkpoints.json", P_CKP},
    {"taskmanagers.json", P_TMS},
};

static const char *const replacements[] = {
    "null", "\"x\"", "\"NaN\"", "-1", "1e300", "[]", "{}",
};

struct slot {
    json_t *parent;
    const char *key; /* NULL: array index */
    size_t index;
};

/* Subtrees no parser reads: replaced whole, their insides left alone, to
 * keep the test fast. */
static bool unread_subtree(const char *key)
{
    static const char *const keys[] = {
        "metrics",
        "timestamps",
        "tasks",
        "status-counts",
        "summary",
        "totalResource",
        "freeResource",
        "hardware",
        "memoryConfiguration",
        "optimizer_properties",
    };
    for (size_t i = 0; i < TAP_N(keys); i++)
        if (strcmp(key, keys[i]) == 0)
            return true;
    return false;
}

static void collect_slots(json_t *j, struct slot **v, size_t *n, size_t *cap)
{
    const char *key;
    json_t *child;
    size_t i;
    if (json_is_object(j)) {
        json_object_foreach(j, key, child)
        {
            if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 64;
                *v = realloc(*v, *cap * sizeof(**v));
            }
            (*v)[(*n)++] = (struct slot){j, key, 0};
            if (!unread_subtree(key))
                collect_slots(child, v, n, cap);
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, child)
        {
            if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 64;
                *v = realloc(*v, *cap * sizeof(**v));
            }
            (*v)[(*n)++] = (struct slot){j, NULL, i};
            collect_slots(child, v, n, cap);
        }
    }
}

/* Every value of every fixture replaced in turn by every JSON type: the
 * parser returns 0 or -1 with a reason and its result keeps its
 * invariants; ASan/UBSan watch the rest. */
TAP_CASE(mutated_fixtures)
{
    size_t runs = 0;
    for (size_t f = 0; f < TAP_N(fixtures); f++) {
        struct slot *slots = NULL;
        size_t ns = 0, cap = 0;
        json_error_t je;
        json_t *root;
        LOAD(s, n, fixtures[f].file);
        root = json_loadb(s, n, 0, &je);
        free(s);
        TAP_OK(root);
        collect_slots(root, &slots, &ns, &cap);
        TAP_OK(ns > 0);
        for (size_t i = 0; i < ns; i++) {
            struct slot *sl = &slots[i];
            json_t *old = sl->key ? json_object_get(sl->parent, sl->key)
                                  : json_array_get(sl->parent, sl->index);
            json_incref(old);
            for (size_t r = 0; r < TAP_N(replacements); r++) {
                json_t *nv = json_loads(replacements[r], JSON_DECODE_ANY, NULL);
                char *doc;
                int got;
                if (sl->key)
                    json_object_set_new(sl->parent, sl->key, nv);
                else
                    json_array_set_new(sl->parent, sl->index, nv);
                doc = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
                got = run_parser(fixtures[f].w, doc, strlen(doc));
                runs++;
                if (got != 0 && got != -1)
                    TAP_FAIL_("%s slot %zu -> %s: invariant broken",
                              fixtures[f].file, i, replacements[r]);
                free(doc);
            }
            if (sl->key)
                json_object_set_new(sl->parent, sl->key, old);
            else
                json_array_set_new(sl->parent, sl->index, old);
        }
        free(slots);
        json_decref(root);
    }
    printf("# %zu mutated documents parsed\n", runs);
    TAP_OK(runs > 500);
}

/* Every fixture cut at many lengths: always -1 with a reason (the one
 * exception is a cut that leaves a complete document, impossible here
 * because each file is one JSON value without trailing text). */
TAP_CASE(truncated_fixtures)
{
    for (size_t f = 0; f < TAP_N(fixtures); f++) {
        LOAD(s, n, fixtures[f].file);
        size_t step = n / 37 + 1;
        for (size_t cut = 0; cut < n - 1; cut += step) {
            int got = run_parser(fixtures[f].w, s, cut);
            if (got != -1) {
                free(s);
                TAP_FAIL_("%s cut at %zu: want -1, got %d", fixtures[f].file,
                          cut, got);
            }
        }
        free(s);
    }
}

static const struct tap_case cases[] = {
    TAP_ENTRY(jobs_overview),
    TAP_ENTRY(job_details_a_and_b),
    TAP_ENTRY(job_metrics),
    TAP_ENTRY(vertex_metrics_per_subtask),
    TAP_ENTRY(vertex_metrics_task_watermark),
    TAP_ENTRY(checkpoints_recorded),
    TAP_ENTRY(checkpoints_discriminators),
    TAP_ENTRY(taskmanagers),
    TAP_ENTRY(error_body),
    TAP_ENTRY(hostile_table),
    TAP_ENTRY(deep_nesting),
    TAP_ENTRY(mutated_fixtures),
    TAP_ENTRY(truncated_fixtures),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
