/*
 * task_timing_test: derived task timing and the bottleneck rule, with
 * expected numbers computed by hand from the inputs stated in each case.
 */
#include <math.h>

#include "tests/lib/tap.h"
#include "flink/task_timing.h"

#define N_  NAN
#define EPS 1e-9

/* A job of up to 6 tasks of up to 4 subtasks; a chain unless ups says
 * otherwise. */
struct job {
    const char *names[6];
    size_t n_sub[6];
    /* per task, per subtask: busy, bp, idle, records in */
    struct task_timing_subtask st[6][4];
    size_t ups[6][2]; /* upstream indices + 1, 0 = none */
    size_t n;
};

static long run(const struct job *j, double thr, struct task_timing_result *out)
{
    struct task_timing_task t[6];
    size_t up[6][2];
    for (size_t i = 0; i < j->n; i++) {
        size_t nu = 0;
        for (size_t k = 0; k < 2; k++)
            if (j->ups[i][k])
                up[i][nu++] = j->ups[i][k] - 1;
        t[i] = (struct task_timing_task){j->names[i], j->st[i], j->n_sub[i],
                                         up[i], nu};
    }
    return task_timing_compute(t, j->n, thr, out);
}

/*
 * Recorded job A (orders-enrich, fixtures README timing table):
 *   Source      busy 559/535/578/531, idle 58/61/70/49, bp 383/404/352/420
 *   Map->Filter busy 156/146/164/142, idle 31/27/35/29, bp 813/827/801/829
 *   Window      busy 98/85/987/103, idle 902/915/13/897, bp 0
 *   Sink        busy 39/42/48/37, idle 961/958/952/963, bp 0
 * Records in per second: Window subtask 2 6452.3 (recorded); the others are
 * chosen here: Window 1610, 1590, -, 1620; Source 0 (a source has no
 * input); Map 3000 each; Sink 0 except subtask 0 = 40.
 * Expected:
 *   Source: busy max 0.578, bp max 0.420, idle min 0.049, no record time
 *           (no records in), slowest subtask 2
 *   Map:    busy max 0.164, bp max 0.829, idle min 0.027,
 *           record time max = 164 * 1000 / 3000 = 54.666.. us, slowest 2
 *   Window: busy max 0.987, bp 0, idle min 0.013, slowest 2,
 *           record time max = 987 * 1000 / 6452.3 = 152.96870883250932 us
 *           (subtask 0: 98000/1610 = 60.87, 1: 53.46, 3: 63.58)
 *   Sink:   record time 39 * 1000 / 40 = 975 us, slowest 2 (48)
 *   Bottleneck: Window (not backpressured, busiest, 0.987 >= 0.8, Map
 *   upstream is backpressured at 0.829 > 0.1).
 */
static const struct job job_a = {
    {"Source: KafkaSource[orders]",
     "Map: enrich customer (cache=LRU) -> Filter: status != 'TEST'",
     "Window(TumblingEventTimeWindows(60000), ...)",
     "Sink: influxdb[orders_enriched]"},
    {4, 4, 4, 4},
    {{{559, 383, 58, 0, N_},
      {535, 404, 61, 0, N_},
      {578, 352, 70, 0, N_},
      {531, 420, 49, 0, N_}},
     {{156, 813, 31, 3000, N_},
      {146, 827, 27, 3000, N_},
      {164, 801, 35, 3000, N_},
      {142, 829, 29, 3000, N_}},
     {{98, 0, 902, 1610, N_},
      {85, 0, 915, 1590, N_},
      {987, 0, 13, 6452.3, N_},
      {103, 0, 897, 1620, N_}},
     {{39, 0, 961, 40, N_},
      {42, 0, 958, 0, N_},
      {48, 0, 952, 0, N_},
      {37, 0, 963, 0, N_}}},
    {{0}, {1}, {2}, {3}},
    4,
};

TAP_CASE(recorded_job_a)
{
    struct task_timing_result r[4];
    long b = run(&job_a, 0.8, r);
    TAP_EQ_INT(2, b);

    TAP_EQ_DBL(0.578, r[0].busy_ratio_max, EPS);
    TAP_EQ_DBL(0.420, r[0].backpressured_ratio_max, EPS);
    TAP_EQ_DBL(0.049, r[0].idle_ratio_min, EPS);
    TAP_OK(isnan(r[0].record_time_us_max));
    TAP_EQ_INT(2, r[0].slowest_subtask);
    TAP_OK(!r[0].bottleneck);

    TAP_EQ_DBL(0.164, r[1].busy_ratio_max, EPS);
    TAP_EQ_DBL(0.829, r[1].backpressured_ratio_max, EPS);
    TAP_EQ_DBL(0.027, r[1].idle_ratio_min, EPS);
    TAP_EQ_DBL(164000.0 / 3000.0, r[1].record_time_us_max, EPS);
    TAP_EQ_INT(2, r[1].slowest_subtask);
    TAP_OK(!r[1].bottleneck);

    TAP_EQ_DBL(0.987, r[2].busy_ratio_max, EPS);
    TAP_EQ_DBL(0.0, r[2].backpressured_ratio_max, EPS);
    TAP_EQ_DBL(0.013, r[2].idle_ratio_min, EPS);
    TAP_EQ_DBL(152.96870883250932, r[2].record_time_us_max, 1e-9);
    TAP_EQ_INT(2, r[2].slowest_subtask);
    TAP_OK(r[2].bottleneck);

    TAP_EQ_DBL(0.048, r[3].busy_ratio_max, EPS);
    TAP_EQ_DBL(975.0, r[3].record_time_us_max, EPS);
    TAP_EQ_INT(2, r[3].slowest_subtask);
    TAP_OK(!r[3].bottleneck);
}

/* The threshold is configurable: at 0.99 Window (0.987) no longer
 * qualifies, and nobody else is eligible. */
TAP_CASE(threshold_is_configurable)
{
    struct task_timing_result r[4];
    TAP_EQ_INT(-1, run(&job_a, 0.99, r));
    TAP_OK(!r[2].bottleneck);
    TAP_EQ_INT(2, run(&job_a, 0.987, r));
}

/* Table of bottleneck decisions, each with the reason stated. */
static const struct {
    const char *what;
    struct job j;
    double thr;
    long want;
} bn_cases[] = {
    /* A(bp 0.5) -> B(bp 0.3) -> C(busy 0.9): C, upstream transitively bp */
    {"chain with backpressure two hops upstream",
     {{"A", "B", "C"},
      {1, 1, 1},
      {{{400, 500, 100, N_, N_}},
       {{600, 300, 100, N_, N_}},
       {{900, 0, 100, N_, N_}}},
      {{0}, {1}, {2}},
      3},
     0.8,
     2},
    /* no backpressure anywhere, only B >= 0.8: B */
    {"no backpressure, one busy task",
     {{"A", "B", "C"},
      {1, 2, 1},
      {{{300, 0, 700, N_, N_}},
       {{200, 0, 800, N_, N_}, {850, 0, 150, N_, N_}},
       {{100, 0, 900, N_, N_}}},
      {{0}, {1}, {2}},
      3},
     0.8,
     1},
    /* no backpressure, B 0.85 and C 0.95 both >= 0.8: none */
    {"no backpressure, two busy tasks",
     {{"A", "B", "C"},
      {1, 1, 1},
      {{{300, 0, 700, N_, N_}},
       {{850, 0, 150, N_, N_}},
       {{950, 0, 50, N_, N_}}},
      {{0}, {1}, {2}},
      3},
     0.8,
     -1},
    /* source-only job, busy 0.95, nothing backpressured: the source */
    {"source-only job",
     {{"S"}, {2}, {{{950, 0, 50, N_, N_}, {700, 0, 300, N_, N_}}}, {{0}}, 1},
     0.8,
     0},
    /* source-only job at 0.5 busy: below threshold, none */
    {"source-only job, not busy",
     {{"S"}, {1}, {{{500, 0, 500, N_, N_}}}, {{0}}, 1},
     0.8,
     -1},
    /* backpressure at C (0.3) but busy B (0.9) is upstream of C, not
     * downstream: A -> B -> C -> D(busy 0.2). Non-bp tasks: A(0.1),
     * B(0.9), D(0.2); busiest B has no bp upstream and some task is bp:
     * none (rule b needs a job without backpressure). */
    {"busy task only downstream of nothing backpressured",
     {{"A", "B", "C", "D"},
      {1, 1, 1, 1},
      {{{100, 0, 900, N_, N_}},
       {{900, 0, 100, N_, N_}},
       {{500, 300, 200, N_, N_}},
       {{200, 0, 800, N_, N_}}},
      {{0}, {1}, {2}, {3}},
      4},
     0.8,
     -1},
    /* exactly 0.1 backpressure is "ok" in Flink's UI: not backpressured,
     * so A (bp 0.1, busy 0.9) is eligible and the only busy task */
    {"backpressure of exactly 0.1 is not backpressure",
     {{"A", "B"},
      {1, 1},
      {{{900, 100, 0, N_, N_}}, {{200, 0, 800, N_, N_}}},
      {{0}, {1}},
      2},
     0.8,
     0},
    /* fan-in: A(bp 0.6) and X feed C; C busy 0.95: C */
    {"fan-in with one backpressured input",
     {{"A", "X", "C"},
      {1, 1, 1},
      {{{300, 600, 100, N_, N_}},
       {{100, 0, 900, N_, N_}},
       {{950, 0, 50, N_, N_}}},
      {{0}, {0}, {1, 2}},
      3},
     0.8,
     2},
    /* cycle in a hostile plan: A <-> B, nothing bp, only B busy: B */
    {"cycle in the graph terminates",
     {{"A", "B"},
      {1, 1},
      {{{100, 0, 900, N_, N_}}, {{900, 0, 100, N_, N_}}},
      {{2}, {1}},
      2},
     0.8,
     1},
    /* every metric missing (older Flink without the timing gauges) */
    {"all metrics missing",
     {{"A", "B"},
      {2, 1},
      {{{N_, N_, N_, N_, N_}, {N_, N_, N_, N_, N_}}, {{N_, N_, N_, N_, N_}}},
      {{0}, {1}},
      2},
     0.8,
     -1},
};

TAP_CASE(bottleneck_table)
{
    for (size_t i = 0; i < TAP_N(bn_cases); i++) {
        struct task_timing_result r[6];
        long got = run(&bn_cases[i].j, bn_cases[i].thr, r);
        if (got != bn_cases[i].want)
            TAP_FAIL_("%s: want %ld, got %ld", bn_cases[i].what,
                      bn_cases[i].want, got);
        for (size_t k = 0; k < bn_cases[i].j.n; k++)
            if (r[k].bottleneck != ((long)k == got))
                TAP_FAIL_("%s: flag of task %zu", bn_cases[i].what, k);
    }
}

/*
 * Recorded job B (clickstream-sessionize): the legacy SourceFunction has
 * busy NaN, idle 0, bp 0 on both subtasks; the session window has busy
 * 288/302, idle 712/698, bp 0, records in chosen 120 and 151.
 * Expected source: busy and record time undefined, no slowest subtask,
 * bp max 0, idle min 0. Window: busy 0.302, slowest 1, record time
 * max(288000/120 = 2400, 302000/151 = 2000) = 2400 us. No bottleneck
 * (0.302 < 0.8).
 */
TAP_CASE(legacy_source_nan_busy)
{
    static const struct job jb = {
        {"Source: Custom Source -> Timestamps/Watermarks",
         "SessionWindow[gap=\"30 min\"] -> Sink: Print to Std. Out"},
        {2, 2},
        {{{N_, 0, 0, 50, N_}, {N_, 0, 0, 60, N_}},
         {{288, 0, 712, 120, N_}, {302, 0, 698, 151, N_}}},
        {{0}, {1}},
        2,
    };
    struct task_timing_result r[2];
    TAP_EQ_INT(-1, run(&jb, 0.8, r));
    TAP_OK(isnan(r[0].busy_ratio_max));
    TAP_OK(isnan(r[0].record_time_us_max));
    TAP_EQ_INT(-1, r[0].slowest_subtask);
    TAP_EQ_DBL(0.0, r[0].backpressured_ratio_max, EPS);
    TAP_EQ_DBL(0.0, r[0].idle_ratio_min, EPS);
    TAP_EQ_DBL(0.302, r[1].busy_ratio_max, EPS);
    TAP_EQ_INT(1, r[1].slowest_subtask);
    TAP_EQ_DBL(2400.0, r[1].record_time_us_max, EPS);
}

/* Older Flink (before 1.13) has idle time but no busy or backpressured
 * time: everything but idle_ratio_min is undefined, nothing is named. */
TAP_CASE(missing_metrics_older_flink)
{
    static const struct job jo = {
        {"Source", "Map"},
        {2, 2},
        {{{N_, N_, 300, N_, N_}, {N_, N_, 200, N_, N_}},
         {{N_, N_, 900, 10, N_}, {N_, N_, 950, 20, N_}}},
        {{0}, {1}},
        2,
    };
    struct task_timing_result r[2];
    TAP_EQ_INT(-1, run(&jo, 0.8, r));
    for (size_t i = 0; i < 2; i++) {
        TAP_OK(isnan(r[i].busy_ratio_max));
        TAP_OK(isnan(r[i].backpressured_ratio_max));
        TAP_OK(isnan(r[i].record_time_us_max));
        TAP_EQ_INT(-1, r[i].slowest_subtask);
    }
    TAP_EQ_DBL(0.2, r[0].idle_ratio_min, EPS);
    TAP_EQ_DBL(0.9, r[1].idle_ratio_min, EPS);
}

/* Ties on busy go to the lowest index; zero records, infinite values and
 * a zero-subtask task never yield Inf. */
TAP_CASE(ties_and_degenerate_values)
{
    static const struct job jt = {
        {"T", "Z", "E"},
        {4, 2, 0},
        {{{500, 0, 500, 0, N_},
          {700, 0, 300, 0, N_},
          {700, 0, 300, 0, N_},
          {INFINITY, 0, 0, 1, N_}},
         {{0, 0, 1000, 5, N_}, {400, 0, 600, INFINITY, N_}}},
        {{0}, {1}, {2}},
        3,
    };
    struct task_timing_result r[3];
    TAP_EQ_INT(-1, run(&jt, 0.8, r));
    TAP_EQ_INT(1, r[0].slowest_subtask);
    TAP_EQ_DBL(0.7, r[0].busy_ratio_max, EPS);
    TAP_OK(isnan(r[0].record_time_us_max));
    /* Z: subtask 0 busy 0 with 5 rec/s = 0 us; subtask 1 Inf rate skipped */
    TAP_EQ_DBL(0.0, r[1].record_time_us_max, EPS);
    TAP_EQ_INT(1, r[1].slowest_subtask);
    TAP_OK(isnan(r[2].busy_ratio_max));
    TAP_EQ_INT(-1, r[2].slowest_subtask);
}

TAP_CASE(subtask_clear_sets_nan)
{
    struct task_timing_subtask st = {1, 2, 3, 4, 5};
    task_timing_subtask_clear(&st);
    TAP_OK(isnan(st.busy_ms) && isnan(st.bp_ms) && isnan(st.idle_ms) &&
           isnan(st.records_in) && isnan(st.watermark_ms));
}

/*
 * watermark_min_ms and watermark_lag_ms. Watermarks <= 0 are "no watermark
 * yet" (Long.MIN_VALUE, -9223372036854775808, arrives as the double
 * -9.223372036854775808e18) and are skipped; NaN/Inf are missing. Lag =
 * ts - min, clamped to 0; no usable watermark on any subtask: no field.
 * Rows: the recorded Window task of job A (fixtures), ts 1718093400000.
 */
#define LMIN (-9223372036854775808.0)
static const struct {
    const char *what;
    double wm[4];
    size_t n;
    int64_t ts;
    int want_rc;
    double want_min;
    int64_t want_lag;
} wm_cases[] = {
    {"recorded Window task: min 1718093268440",
     {1718093297028.0, 1718093297059.0, 1718093268440.0, 1718093296993.0},
     4,
     1718093400000LL,
     0,
     1718093268440.0,
     131560},
    {"Long.MIN_VALUE subtask ignored",
     {LMIN, 1718093297059.0, 1718093297000.0, N_},
     4,
     1718093400000LL,
     0,
     1718093297000.0,
     103000},
    {"zero and negative ignored",
     {0.0, -5.0, 1718093399000.0, 1718093399500.0},
     4,
     1718093400000LL,
     0,
     1718093399000.0,
     1000},
    {"no subtask has a watermark: no field",
     {LMIN, LMIN, N_, 0.0},
     4,
     1718093400000LL,
     -1,
     N_,
     0},
    {"no subtasks at all: no field", {0}, 0, 1718093400000LL, -1, N_, 0},
    {"watermark ahead of the clock clamps to 0",
     {1718093400250.0, 1718093401000.0, N_, N_},
     4,
     1718093400000LL,
     0,
     1718093400250.0,
     0},
    {"equal to the clock: 0",
     {1718093400000.0, N_, N_, N_},
     1,
     1718093400000LL,
     0,
     1718093400000.0,
     0},
    {"Long.MAX_VALUE (end of input) clamps to 0, no overflow",
     {9223372036854775807.0, N_, N_, N_},
     1,
     1718093400000LL,
     0,
     9223372036854775807.0,
     0},
    {"infinity is missing",
     {INFINITY, 1718093390000.0, N_, N_},
     2,
     1718093400000LL,
     0,
     1718093390000.0,
     10000},
};

TAP_CASE(watermark_lag)
{
    for (size_t c = 0; c < TAP_N(wm_cases); c++) {
        struct task_timing_subtask st[4];
        struct task_timing_task t = {"T", st, wm_cases[c].n, NULL, 0};
        struct task_timing_result r;
        int64_t lag = -12345;
        int rc;
        for (size_t k = 0; k < 4; k++) {
            task_timing_subtask_clear(&st[k]);
            st[k].watermark_ms = wm_cases[c].wm[k];
        }
        task_timing_compute(&t, 1, 0.8, &r);
        rc = task_timing_watermark_lag(&r, wm_cases[c].ts, &lag);
        printf("# %s\n", wm_cases[c].what);
        TAP_EQ_INT(wm_cases[c].want_rc, rc);
        if (wm_cases[c].want_rc == 0) {
            TAP_EQ_DBL(wm_cases[c].want_min, r.watermark_min_ms, 0.0);
            TAP_EQ_INT(wm_cases[c].want_lag, lag);
        } else {
            TAP_OK(isnan(r.watermark_min_ms));
            TAP_EQ_INT(-12345, lag);
        }
        /* the watermark alone defines none of the timing fields */
        TAP_OK(isnan(r.busy_ratio_max) && r.slowest_subtask == -1);
    }
}

static const struct tap_case cases[] = {
    TAP_ENTRY(recorded_job_a),
    TAP_ENTRY(threshold_is_configurable),
    TAP_ENTRY(bottleneck_table),
    TAP_ENTRY(legacy_source_nan_busy),
    TAP_ENTRY(missing_metrics_older_flink),
    TAP_ENTRY(ties_and_degenerate_values),
    TAP_ENTRY(subtask_clear_sets_nan),
    TAP_ENTRY(watermark_lag),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
