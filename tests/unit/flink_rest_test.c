/*
 * flink_rest_test: the REST collector against the real tests/fakeflink.py
 * ($FAKEFLINK, else $srcdir/tests/fakeflink.py), serving the recorded
 * fixtures ($FLINK_FIXTURES, else $srcdir/tests/fixtures/flink) on a free
 * 127.0.0.1 port. Needs python3.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/tap.h"
#include "tests/lib/testutil.h"
#include "flink/flink_rest.h"
#include "util/log.h"

#define JID_A "566bf9d7c55a45f8d1a6e55e9b9b1325"

/* ---- the fake ---- */

/* Lines of the fake's request log that contain needle. */
static int log_count(const struct tu_fake *f, const char *needle)
{
    char line[8192];
    int n = 0;
    FILE *fp = fopen(f->log, "r");
    if (!fp)
        return -1;
    while (fgets(line, sizeof(line), fp))
        if (strstr(line, needle))
            n++;
    fclose(fp);
    return n;
}

/* ---- collected points ---- */

struct cfield {
    char key[64];
    enum field_kind kind;
    double f;
    int64_t i;
};

struct cpoint {
    char meas[32];
    char job[128];
    char task[256];
    size_t task_len;    /* of the whole tag value */
    char task_tail[16]; /* its last 13 bytes */
    char cluster[32];
    struct cfield fields[12];
    size_t nf;
    int64_t ts;
};

struct sink {
    struct cpoint p[64];
    size_t n;
};

static int collect_point(void *ctx, const struct point *p)
{
    struct sink *s = ctx;
    struct cpoint *c;
    if (s->n >= TAP_N(s->p))
        return -1;
    c = &s->p[s->n++];
    memset(c, 0, sizeof(*c));
    snprintf(c->meas, sizeof(c->meas), "%s", p->measurement);
    c->ts = p->ts_ms;
    for (size_t i = 0; i < p->ntags; i++) {
        if (strcmp(p->tags[i].name, "job_name") == 0)
            snprintf(c->job, sizeof(c->job), "%s", p->tags[i].value);
        else if (strcmp(p->tags[i].name, "task_name") == 0) {
            snprintf(c->task, sizeof(c->task), "%s", p->tags[i].value);
            c->task_len = p->tags[i].value_len;
            if (c->task_len >= 13)
                memcpy(c->task_tail, p->tags[i].value + c->task_len - 13, 13);
        } else if (strcmp(p->tags[i].name, "flink_cluster") == 0)
            snprintf(c->cluster, sizeof(c->cluster), "%s", p->tags[i].value);
        else
            return -1;
        /* tags sorted by key */
        if (i > 0 && strcmp(p->tags[i - 1].name, p->tags[i].name) >= 0)
            return -1;
    }
    for (size_t i = 0; i < p->nfields && i < TAP_N(c->fields); i++) {
        snprintf(c->fields[i].key, sizeof(c->fields[i].key), "%s",
                 p->fields[i].key);
        c->fields[i].kind = p->fields[i].kind;
        c->fields[i].f = p->fields[i].f;
        c->fields[i].i = p->fields[i].i;
        c->nf++;
    }
    return 0;
}

static const struct cpoint *find(const struct sink *s, const char *meas,
                                 const char *job, const char *task)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->p[i].meas, meas) == 0 && strcmp(s->p[i].job, job) == 0 &&
            (!task || strcmp(s->p[i].task, task) == 0))
            return &s->p[i];
    return NULL;
}

/* The int field key of p, or INT64_MIN when absent or not an int. */
static int64_t ifield(const struct cpoint *p, const char *key)
{
    for (size_t i = 0; p && i < p->nf; i++)
        if (strcmp(p->fields[i].key, key) == 0)
            return p->fields[i].kind == FIELD_INT ? p->fields[i].i : INT64_MIN;
    return INT64_MIN;
}

static double ffield(const struct cpoint *p, const char *key)
{
    for (size_t i = 0; p && i < p->nf; i++)
        if (strcmp(p->fields[i].key, key) == 0 &&
            p->fields[i].kind == FIELD_FLOAT)
            return p->fields[i].f;
    return NAN;
}

struct rig {
    struct tu_fake fk;
    struct cfg_flink cfg;
    char url[256];
    struct scraper *sc;
    struct flink_rest *fr;
};

static int rig_open(struct rig *r, const char *scenario, const char *prefix,
                    uint64_t timeout_ms, uint64_t max_body)
{
    struct scraper_opts so = {timeout_ms, 1 << 20, 8, NULL};
    struct flink_rest_opts fo = {0, max_body, 0};
    char err[256];
    memset(r, 0, sizeof(*r));
    if (tu_fake_start(&r->fk, scenario) < 0)
        return -1;
    snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d%s/", r->fk.port,
             prefix ? prefix : "");
    r->cfg.name = "prod";
    r->cfg.rest_url = r->url;
    r->cfg.discover_port = 9249;
    r->sc = scraper_new(&so);
    r->fr = flink_rest_new(&r->cfg, &fo, err, sizeof(err));
    if (!r->sc || !r->fr)
        return -1;
    return 0;
}

static void rig_close(struct rig *r)
{
    flink_rest_free(&r->fr);
    scraper_free(&r->sc);
    tu_fake_stop(&r->fk);
}

#define OPEN(r, ...)                                                           \
    do {                                                                       \
        if (rig_open(&(r), __VA_ARGS__) < 0) {                                 \
            rig_close(&(r));                                                   \
            TAP_FAIL_("cannot start fakeflink (FAKEFLINK, python3?)");         \
        }                                                                      \
    } while (0)

/* Checks a case body with the rig closed on every exit. */
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            rig_close(&r);                                                     \
            TAP_FAIL_("check failed: %s", #cond);                              \
        }                                                                      \
    } while (0)

#define JID_B "1ff135342e825ce1158d003d9a0b2361"
#define WINDOW_TASK                                                            \
    "Window_TumblingEventTimeWindows_60000___EventTimeTrigger__"               \
    "OrderStatsAggregator__PassThroughWindowFunction_"

static bool near(double got, double want)
{
    if (isnan(want))
        return isnan(got);
    return fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want));
}

/*
 * lagwatch_task_timing of every task of both RUNNING jobs, from the
 * fixtures (--static): ratios are scenario.json's timing_ms_per_s / 1000
 * (max busy, max backPressured, min idle over subtasks); record_time_us_max
 * is max over subtasks of busy_ms * 1000 / numRecordsInPerSecond, the rates
 * being the task-scope flink_taskmanager_job_task_numRecordsInPerSecond
 * samples of the prometheus fixtures. NaN = the field must be absent:
 * sources take 0.0 records in (no record time), job B's legacy source has
 * NaN busy time (no busy ratio, no slowest subtask).
 *
 * Job A: Window subtask 2 (987 ms busy, 6452.3 rec/s) is the bottleneck: it
 * is the busiest task that is not backpressured (bp 0), 0.987 >= 0.8, and
 * the Map->Filter task upstream of it is backpressured (0.829 > 0.1).
 * Job B: no bottleneck: its source has no busy time at all and
 * SessionWindow, the only task with one, is at 0.302 < 0.8 with nothing
 * backpressured.
 *
 * wm_min: the lowest task-scope
 * flink_taskmanager_job_task_currentInputWatermark over the subtasks in the
 * prometheus fixtures (INT64_MIN: sources have no such gauge, so no
 * watermark_lag_ms field); watermark_lag_ms = the cycle's ts - wm_min,
 * clamped to 0 (so 0 for the small ts of most cases below):
 *   Map->Filter    min(1718093297801, ..801, ..799, ..518) = 1718093297518
 *   Window         min(1718093297028, ..059, 1718093268440, 1718093296993)
 *                  = 1718093268440
 *   Sink           1718093268440 on all four subtasks
 *   SessionWindow  1718093397620 on both subtasks
 */
static const struct want_task {
    const char *job, *task;
    double busy, bp, idle, rec_us;
    int64_t slowest, bottleneck, wm_min;
} want_tasks[] = {
    {"orders_enrich", "Source:_KafkaSource_orders_", 0.578, 0.420, 0.049, NAN,
     2, 0, INT64_MIN},
    {"orders_enrich",
     "Map:_enrich_customer__cache_LRU_____Filter:_status_____TEST_", 0.164,
     0.829, 0.027, 164.0 * 1000 / 3106.3, 2, 0, 1718093297518LL},
    {"orders_enrich", WINDOW_TASK, 0.987, 0.0, 0.013, 987.0 * 1000 / 6452.3, 2,
     1, 1718093268440LL},
    {"orders_enrich", "Sink:_influxdb_orders_enriched_", 0.048, 0.0, 0.952,
     48.0 * 1000 / 41.4, 2, 0, 1718093268440LL},
    {"clickstream_sessionize", "Source:_Custom_Source____Timestamps_Watermarks",
     NAN, 0.0, 0.0, NAN, INT64_MIN, 0, INT64_MIN},
    {"clickstream_sessionize",
     "SessionWindow_gap__30_min______Sink:_Print_to_Std__Out", 0.302, 0.0,
     0.698, 302.0 * 1000 / 848.0, 1, 0, 1718093397620LL},
};

/* 0 when s holds exactly the point want describes (fields and count). */
static int check_task(const struct sink *s, const struct want_task *w)
{
    int64_t ts = 0;
    int64_t wm_lag = INT64_MIN;
    const struct cpoint *p = find(s, "lagwatch_task_timing", w->job, w->task);
    const double f[4] = {w->busy, w->bp, w->idle, w->rec_us};
    static const char *const keys[4] = {"busy_ratio_max",
                                        "backpressured_ratio_max",
                                        "idle_ratio_min", "record_time_us_max"};
    size_t nf = 1; /* bottleneck */
    if (!p) {
        printf("# no task point %s/%s\n", w->job, w->task);
        return -1;
    }
    ts = p->ts;
    if (w->wm_min != INT64_MIN)
        wm_lag = ts > w->wm_min ? ts - w->wm_min : 0;
    for (size_t i = 0; i < 4; i++) {
        if (!near(ffield(p, keys[i]), f[i])) {
            printf("# %s/%s: %s %.17g, want %.17g\n", w->job, w->task, keys[i],
                   ffield(p, keys[i]), f[i]);
            return -1;
        }
        nf += !isnan(f[i]);
    }
    nf += w->slowest != INT64_MIN;
    nf += wm_lag != INT64_MIN;
    if (ifield(p, "slowest_subtask") != w->slowest ||
        ifield(p, "bottleneck") != w->bottleneck ||
        ifield(p, "watermark_lag_ms") != wm_lag || p->nf != nf) {
        printf("# %s/%s: slowest %lld bottleneck %lld watermark lag %lld "
               "fields %zu\n",
               w->job, w->task, (long long)ifield(p, "slowest_subtask"),
               (long long)ifield(p, "bottleneck"),
               (long long)ifield(p, "watermark_lag_ms"), p->nf);
        return -1;
    }
    return 0;
}

static size_t count_meas(const struct sink *s, const char *meas,
                         const char *job)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        if ((!meas || strcmp(s->p[i].meas, meas) == 0) &&
            (!job || strcmp(s->p[i].job, job) == 0))
            n++;
    return n;
}

/*
 * One cycle against the recorded cluster. Expected requests: 1 overview +
 * 2 live jobs x (metrics, checkpoints, details) + 4 + 2 vertices x 1 = 13;
 * the CANCELED run of orders-enrich costs nothing. Job A's values come from
 * job-<A>-metrics.json (uptime 87036979, numRestarts 1) and
 * checkpoints.json (latest completed 1390: ack 1718093321818, 43118 ms,
 * 187311204 bytes; counts 1387 / 3 / 1). The fake has no checkpoints for
 * job B: a 404, the cycle's only error. Every vertex request is answered,
 * so both jobs get one task point per vertex (want_tasks).
 */
TAP_CASE(one_cycle_recorded)
{
    struct rig r;
    struct sink s = {0};
    const struct flink_rest_stats *st;
    const struct cpoint *a, *b;
    OPEN(r, NULL, NULL, 5000, 0);
    int rc = flink_rest_collect(r.fr, r.sc, 1718093400000LL, collect_point, &s);
    st = flink_rest_stats(r.fr);
    CHECK(st->requests_last == 13);
    CHECK(log_count(&r.fk, "GET ") == 13);
    /* one request per vertex, all subtasks' five task metrics */
    CHECK(log_count(&r.fk, "/vertices/") == 6);
    CHECK(log_count(&r.fk, "/vertices/9823beb1e6ba3ad74de45321ad915a36/"
                           "metrics?get=0.busyTimeMsPerSecond,"
                           "0.backPressuredTimeMsPerSecond,"
                           "0.idleTimeMsPerSecond,0.numRecordsInPerSecond,"
                           "0.currentInputWatermark,"
                           "1.busyTimeMsPerSecond") == 1);
    CHECK(log_count(&r.fk, "3.currentInputWatermark 200 ") == 4);
    CHECK(log_count(&r.fk, "1.currentInputWatermark 200 ") == 2);
    CHECK(log_count(&r.fk, " 404 ") == 0);
    CHECK(log_count(&r.fk, "/jobs/" JID_B "/checkpoints 200 ") == 1);
    CHECK(log_count(&r.fk, "/jobs/fdfb462fd6fad8dbf82d5644ef7d9967") == 0);

    a = find(&s, "lagwatch_job", "orders_enrich", NULL);
    b = find(&s, "lagwatch_job", "clickstream_sessionize", NULL);
    CHECK(a && b);
    CHECK(strcmp(a->cluster, "prod") == 0);
    CHECK(a->ts == 1718093400000LL);
    CHECK(ifield(a, "running") == 1);
    CHECK(ifield(a, "uptime_ms") == 87036979);
    CHECK(ifield(a, "restarts") == 1);
    CHECK(ifield(a, "last_checkpoint_completed_ms") == 1718093321818LL);
    CHECK(ifield(a, "last_checkpoint_duration_ms") == 43118);
    CHECK(ifield(a, "last_checkpoint_size_bytes") == 187311204);
    CHECK(ifield(a, "completed_checkpoints") == 1387);
    CHECK(ifield(a, "failed_checkpoints") == 3);
    CHECK(ifield(a, "in_progress_checkpoints") == 1);
    CHECK(ifield(b, "running") == 1);
    CHECK(ifield(b, "uptime_ms") == 23400345);
    CHECK(ifield(b, "restarts") == 0);
    /* Job B's checkpoints: tests/fixtures/flink/PROVENANCE.md. */
    CHECK(ifield(b, "failed_checkpoints") == 0);
    CHECK(ifield(b, "completed_checkpoints") == 77);
    CHECK(ifield(b, "last_checkpoint_duration_ms") == 812);
    CHECK(ifield(b, "last_checkpoint_size_bytes") == 3188210);
    CHECK(ifield(b, "last_checkpoint_completed_ms") == 1718093359000LL);

    for (size_t i = 0; i < TAP_N(want_tasks); i++)
        CHECK(check_task(&s, &want_tasks[i]) == 0);
    /* the same lags spelled out: 1718093400000 - wm_min of want_tasks */
    CHECK(ifield(find(&s, "lagwatch_task_timing", "orders_enrich", WINDOW_TASK),
                 "watermark_lag_ms") == 131560);
    CHECK(ifield(find(&s, "lagwatch_task_timing", "orders_enrich",
                      "Sink:_influxdb_orders_enriched_"),
                 "watermark_lag_ms") == 131560);
    CHECK(ifield(find(&s, "lagwatch_task_timing", "orders_enrich",
                      "Map:_enrich_customer__cache_LRU_____Filter:_status_"
                      "____TEST_"),
                 "watermark_lag_ms") == 102482);
    CHECK(ifield(find(&s, "lagwatch_task_timing", "clickstream_sessionize",
                      "SessionWindow_gap__30_min______Sink:_Print_to_Std__"
                      "Out"),
                 "watermark_lag_ms") == 2380);
    CHECK(ifield(find(&s, "lagwatch_task_timing", "orders_enrich",
                      "Source:_KafkaSource_orders_"),
                 "watermark_lag_ms") == INT64_MIN);
    for (size_t i = 0; i < s.n; i++)
        if (strcmp(s.p[i].meas, "lagwatch_task_timing") == 0)
            CHECK(strcmp(s.p[i].cluster, "prod") == 0 &&
                  s.p[i].ts == 1718093400000LL);
    CHECK(count_meas(&s, "lagwatch_task_timing", NULL) == TAP_N(want_tasks));
    CHECK(s.n == 2 + TAP_N(want_tasks));
    CHECK(st->points_last == s.n);
    CHECK(st->errors_last == 0);
    CHECK(rc == 0);
    rig_close(&r);
}

/* The same cycle through the fake's /v1 prefix gives the same points. */
TAP_CASE(v1_prefix)
{
    struct rig r;
    struct sink s = {0};
    OPEN(r, NULL, "/v1", 5000, 0);
    flink_rest_collect(r.fr, r.sc, 1, collect_point, &s);
    CHECK(log_count(&r.fk, "GET /v1/jobs/") == 13);
    for (size_t i = 0; i < TAP_N(want_tasks); i++)
        CHECK(check_task(&s, &want_tasks[i]) == 0);
    CHECK(s.n == 2 + TAP_N(want_tasks));
    rig_close(&r);
}

/*
 * stop-after=1: cycle 1 sees clickstream-sessionize RUNNING (5 requests
 * for it: metrics, checkpoints, details, 2 vertices); from cycle 2 on it is
 * CANCELED: one lagwatch_job point with running=0 and nothing else, then no
 * point at all, and no request for a terminal job. orders-enrich goes on
 * unchanged (1 job + 4 task points per cycle). Without job B's missing
 * checkpoints, cycles 2 and 3 have no error: 1 + 3 + 4 = 8 requests.
 */
TAP_CASE(stop_reported_once)
{
    struct rig r;
    static struct sink s[3];
    const struct cpoint *b;
    int rc[3];
    memset(s, 0, sizeof(s));
    OPEN(r, "stop-after=1", NULL, 5000, 0);
    for (int c = 0; c < 3; c++)
        rc[c] = flink_rest_collect(r.fr, r.sc, 1000 * (c + 1), collect_point,
                                   &s[c]);
    CHECK(rc[0] == 0 && rc[1] == 0 && rc[2] == 0);
    CHECK(flink_rest_stats(r.fr)->requests_last == 8);
    CHECK(log_count(&r.fk, "/jobs/" JID_B) == 5);
    b = find(&s[0], "lagwatch_job", "clickstream_sessionize", NULL);
    CHECK(b && ifield(b, "running") == 1);
    CHECK(count_meas(&s[0], "lagwatch_task_timing", "clickstream_sessionize") ==
          2);
    b = find(&s[1], "lagwatch_job", "clickstream_sessionize", NULL);
    CHECK(b && ifield(b, "running") == 0 && b->nf == 1 && b->ts == 2000);
    CHECK(count_meas(&s[1], NULL, "clickstream_sessionize") == 1);
    CHECK(count_meas(&s[2], NULL, "clickstream_sessionize") == 0);
    for (int c = 0; c < 3; c++) {
        CHECK(count_meas(&s[c], "lagwatch_job", "orders_enrich") == 1);
        for (size_t i = 0; i < 4; i++)
            CHECK(check_task(&s[c], &want_tasks[i]) == 0);
    }
    CHECK(s[1].n == 6 && s[2].n == 5);
    rig_close(&r);
}

/* A job named with non-ASCII characters: its job_name tag is the name as
 * Flink's PrometheusReporter filters it, one "_" per code point
 * (lagwatch(8), RING), and nothing after it. The fake's reporter applies
 * Flink's filter in Python. The check runs again in a child whose glibc
 * malloc fills every allocation with non-zero bytes (no tcache, perturb),
 * so that a tag cut at the wrong length shows instead of ending in
 * zeroed memory by luck. */
#define NONASCII_NAME                                                          \
    "\xc3\x9c"                                                                 \
    "berweisung caf\xc3\xa9"
#define NONASCII_TAG  "_berweisung_caf_"
#define PERTURBED_ENV "LAGWATCH_TEST_PERTURBED"
TAP_CASE(non_ascii_job_name)
{
    struct rig r;
    static struct sink s;
    if (!getenv(PERTURBED_ENV)) {
        int status = -1;
        pid_t pid = fork();
        TAP_OK(pid >= 0);
        if (pid == 0) {
            setenv("GLIBC_TUNABLES",
                   "glibc.malloc.tcache_count=0:glibc.malloc.perturb=90", 1);
            setenv(PERTURBED_ENV, "1", 1);
            /* the child's TAP lines go to the log, not to the driver */
            if (dup2(2, 1) < 0)
                _exit(127);
            execl("/proc/self/exe", "flink_rest_test", "non_ascii_job_name",
                  (char *)NULL);
            _exit(127);
        }
        TAP_OK(waitpid(pid, &status, 0) == pid);
        TAP_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        return;
    }
    memset(&s, 0, sizeof(s));
    OPEN(r, "rename=" NONASCII_NAME, NULL, 5000, 0);
    int rc = flink_rest_collect(r.fr, r.sc, 1000, collect_point, &s);
    for (size_t i = 0; i < s.n; i++)
        if (strcmp(s.p[i].job, "orders_enrich") != 0 &&
            strcmp(s.p[i].job, NONASCII_TAG) != 0)
            printf("# unexpected job_name tag '%s'\n", s.p[i].job);
    CHECK(rc == 0);
    CHECK(find(&s, "lagwatch_job", NONASCII_TAG, NULL) != NULL);
    CHECK(count_meas(&s, "lagwatch_task_timing", NONASCII_TAG) == 2);
    CHECK(count_meas(&s, NULL, NONASCII_TAG) +
              count_meas(&s, NULL, "orders_enrich") ==
          s.n);
    rig_close(&r);
}

/* A 10 KB task name (Flink SQL) is kept, cut to max_label_bytes (here
 * 4096) and ended in '~' and a hash, as trim cuts the reporter's
 * task_name; counted in labels_truncated. */
TAP_CASE(long_task_name_cut)
{
    struct rig r;
    static struct sink s;
    memset(&s, 0, sizeof(s));
    OPEN(r, "long-names=10240", NULL, 5000, 0);
    int rc = flink_rest_collect(r.fr, r.sc, 1000, collect_point, &s);
    CHECK(rc == 0);
    const struct cpoint *w = NULL;
    for (size_t i = 0; i < s.n; i++)
        if (strncmp(s.p[i].task, WINDOW_TASK, strlen(WINDOW_TASK)) == 0)
            w = &s.p[i];
    CHECK(w != NULL);
    printf("# window task_name: %zu bytes, ends in %s\n", w->task_len,
           w->task_tail);
    CHECK(w->task_len == 4096);
    CHECK(w->task_tail[0] == '~');
    CHECK(strspn(w->task_tail + 1, "0123456789abcdef") == 12);
    CHECK(flink_rest_stats(r.fr)->labels_truncated >= 1);
    /* the other tasks keep their names whole */
    CHECK(find(&s, "lagwatch_task_timing", "orders_enrich",
               "Sink:_influxdb_orders_enriched_") != NULL);
    rig_close(&r);
}

/* A job restarted under a new jid stays one series (job_name), and a jid
 * that vanishes between two requests of a cycle is a counted 404 while the
 * cycle goes on. restart-after=2: cycle 1 is the recorded cluster; in cycle
 * 2 the overview still lists the old jid but its routes answer 404 (3
 * errors); cycle 3 sees jid ...a001 with numRestarts 1 + 1 = 2. The old
 * CANCELED run of the same name never yields a running=0 point. */
TAP_CASE(restart_keeps_one_series)
{
    struct rig r;
    static struct sink s[3];
    const struct cpoint *p[3];
    memset(s, 0, sizeof(s));
    OPEN(r, "restart-after=2", NULL, 5000, 0);
    for (int c = 0; c < 3; c++)
        flink_rest_collect(r.fr, r.sc, 1000 * (c + 1), collect_point, &s[c]);
    for (int c = 0; c < 3; c++) {
        size_t n_job = 0;
        p[c] = find(&s[c], "lagwatch_job", "orders_enrich", NULL);
        CHECK(p[c] && ifield(p[c], "running") == 1);
        for (size_t i = 0; i < s[c].n; i++)
            if (strcmp(s[c].p[i].meas, "lagwatch_job") == 0 &&
                strcmp(s[c].p[i].job, "orders_enrich") == 0)
                n_job++;
        CHECK(n_job == 1);
    }
    CHECK(ifield(p[0], "restarts") == 1);
    CHECK(ifield(p[1], "restarts") == INT64_MIN);
    CHECK(ifield(p[2], "restarts") == 2);
    CHECK(ifield(p[2], "completed_checkpoints") == 1387);
    CHECK(log_count(&r.fk, "/jobs/" JID_A " 404") == 1);
    CHECK(log_count(&r.fk, "/jobs/566bf9d7c55a45f8d1a6e55e9b9ba001 200") == 1);
    /* cycle 2: no details for the vanished jid, so no task point; cycle
     * 3: the vertex routes of the new jid give the recorded timing */
    CHECK(count_meas(&s[1], "lagwatch_task_timing", "orders_enrich") == 0);
    for (int c = 0; c < 3; c += 2)
        for (size_t i = 0; i < 4; i++)
            CHECK(check_task(&s[c], &want_tasks[i]) == 0);
    CHECK(log_count(&r.fk, "/jobs/566bf9d7c55a45f8d1a6e55e9b9ba001/vertices/"
                           "9823beb1e6ba3ad74de45321ad915a36/metrics?get="
                           "0.busyTimeMsPerSecond,") == 1);
    rig_close(&r);
}

/* Whole-cycle faults via the fake's /fault/ prefixes: one counted error of
 * the right kind, no point, no crash. */
TAP_CASE(faults)
{
    static const struct {
        const char *prefix;
        uint64_t timeout_ms, max_body;
        enum flink_rest_err kind;
    } cases[] = {
        {"/fault/500", 5000, 0, FLINK_REST_ERR_HTTP},
        {"/fault/html", 5000, 0, FLINK_REST_ERR_PARSE},
        {"/fault/truncate", 5000, 0, FLINK_REST_ERR_PARSE},
        {"/fault/reset", 5000, 0, FLINK_REST_ERR_TRANSPORT},
        {"/fault/slow/3000", 300, 0, FLINK_REST_ERR_TIMEOUT},
        {"", 5000, 100, FLINK_REST_ERR_TOO_LARGE},
    };
    struct rig r;
    OPEN(r, NULL, NULL, 5000, 0); /* one fake, a client per case */
    for (size_t i = 0; i < TAP_N(cases); i++) {
        struct scraper_opts so = {cases[i].timeout_ms, 1 << 20, 8, NULL};
        struct flink_rest_opts fo = {0, cases[i].max_body, 0};
        struct cfg_flink cfg = {0};
        struct scraper *sc = scraper_new(&so);
        struct flink_rest *fr;
        struct sink s = {0};
        const struct flink_rest_stats *st;
        char url[256], err[128];
        int rc;
        bool good;
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", r.fk.port,
                 cases[i].prefix);
        cfg.name = "prod";
        cfg.rest_url = url;
        fr = flink_rest_new(&cfg, &fo, err, sizeof(err));
        CHECK(sc && fr);
        rc = flink_rest_collect(fr, sc, 1, collect_point, &s);
        st = flink_rest_stats(fr);
        good = rc == -1 && s.n == 0 && st->requests_last == 1 &&
               st->errors_last == 1 && st->errors_total[cases[i].kind] == 1;
        if (!good)
            printf("# fault '%s': rc %d, points %zu, requests %llu, "
                   "errors %llu, %s errors %llu\n",
                   cases[i].prefix, rc, s.n,
                   (unsigned long long)st->requests_last,
                   (unsigned long long)st->errors_last,
                   flink_rest_err_name(cases[i].kind),
                   (unsigned long long)st->errors_total[cases[i].kind]);
        flink_rest_free(&fr);
        scraper_free(&sc);
        CHECK(good);
    }
    rig_close(&r);
}

/* Nothing listens: a transport error, and the next cycle tries again. */
TAP_CASE(unreachable)
{
    struct sockaddr_in sa = {0};
    socklen_t sl = sizeof(sa);
    struct scraper_opts so = {2000, 1 << 20, 4, NULL};
    struct cfg_flink cfg = {0};
    char url[64], err[128];
    struct sink s = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct scraper *sc;
    struct flink_rest *fr;
    TAP_OK(fd >= 0);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    TAP_OK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    TAP_OK(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    close(fd); /* the port is now (very likely) closed */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
    cfg.name = "prod";
    cfg.rest_url = url;
    sc = scraper_new(&so);
    fr = flink_rest_new(&cfg, NULL, err, sizeof(err));
    TAP_OK(sc && fr);
    for (int c = 0; c < 2; c++)
        TAP_EQ_INT(-1, flink_rest_collect(fr, sc, 1, collect_point, &s));
    TAP_EQ_INT(0, s.n);
    TAP_EQ_INT(2, flink_rest_stats(fr)->cycles);
    TAP_EQ_INT(2, flink_rest_stats(fr)->errors_total[FLINK_REST_ERR_TRANSPORT]);
    flink_rest_free(&fr);
    flink_rest_free(&fr); /* NULL-safe */
    scraper_free(&sc);
}

TAP_CASE(discover_reporters)
{
    struct rig r;
    char **urls = NULL;
    size_t n = 0;
    OPEN(r, NULL, NULL, 5000, 0);
    CHECK(flink_rest_discover_reporters(r.fr, r.sc, &urls, &n) == 0);
    CHECK(n == 2);
    CHECK(strcmp(urls[0], "http://10.42.1.17:9249/metrics") == 0);
    CHECK(strcmp(urls[1], "http://10.42.2.9:9249/metrics") == 0);
    for (size_t i = 0; i < n; i++)
        free(urls[i]);
    free(urls);
    rig_close(&r);
}

TAP_CASE(bad_config)
{
    static const char *const bad[] = {NULL, "", "ftp://x", "jobmanager:8081"};
    for (size_t i = 0; i < TAP_N(bad); i++) {
        struct cfg_flink cfg = {0};
        char err[256] = "";
        cfg.name = "prod";
        cfg.rest_url = (char *)bad[i];
        TAP_OK(!flink_rest_new(&cfg, NULL, err, sizeof(err)));
        TAP_OK(strstr(err, "rest_url") != NULL);
    }
}

static const struct tap_case cases[] = {
    TAP_ENTRY(one_cycle_recorded),
    TAP_ENTRY(v1_prefix),
    TAP_ENTRY(stop_reported_once),
    TAP_ENTRY(restart_keeps_one_series),
    TAP_ENTRY(non_ascii_job_name),
    TAP_ENTRY(long_task_name_cut),
    TAP_ENTRY(faults),
    TAP_ENTRY(unreachable),
    TAP_ENTRY(discover_reporters),
    TAP_ENTRY(bad_config),
};

int main(int argc, char **argv)
{
    log_set_level(LOG_LVL_ERROR);
    return tap_main(cases, TAP_N(cases), argc, argv);
}
