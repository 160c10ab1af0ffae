#include "agent_metrics.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "flink/flink_rest.h"
#include "prom/expo.h"
#include "util/xalloc.h"

/* Cumulative scrape outcomes of one reporter URL. */
struct target_stats {
    char *url;
    const char *cluster; /* borrowed from the agent's configuration */
    uint64_t scrapes;
    uint64_t errors;
    double last_duration_s;
    uint64_t last_samples;
    bool up;
};

struct agent_totals {
    uint64_t cycles;
    uint64_t cycles_failed;
    uint64_t samples;
    uint64_t parse_errors;
    uint64_t series_kept;
    uint64_t dropped;
    uint64_t folded;
    uint64_t scrape_failed;
    uint64_t labels_truncated;
    uint64_t clock_steps_back;
};

struct agent_metrics {
    struct agent_totals totals;
    struct target_stats *tstats;
    size_t n_tstats;
    size_t cap_tstats;
};

struct agent_metrics *agent_metrics_new(void)
{
    return xcalloc(1, sizeof(struct agent_metrics));
}

void agent_metrics_free(struct agent_metrics **mp)
{
    struct agent_metrics *m = *mp;
    if (!m)
        return;
    for (size_t i = 0; i < m->n_tstats; i++)
        free(m->tstats[i].url);
    free(m->tstats);
    free(m);
    *mp = NULL;
}

static struct target_stats *
target_stats_for(struct agent_metrics *m, const char *url, const char *cluster)
{
    for (size_t i = 0; i < m->n_tstats; i++)
        if (strcmp(m->tstats[i].url, url) == 0)
            return &m->tstats[i];
    m->tstats =
        xgrow(m->tstats, &m->cap_tstats, m->n_tstats + 1, sizeof(*m->tstats));
    struct target_stats *ts = &m->tstats[m->n_tstats++];
    memset(ts, 0, sizeof(*ts));
    ts->url = xstrdup(url);
    ts->cluster = cluster;
    return ts;
}

void agent_metrics_account(struct agent_metrics *m,
                           const struct agent_cycle_report *r, int rc,
                           const struct reporter_result *res,
                           const struct reporter_target *targets, size_t n)
{
    struct agent_totals *t = &m->totals;
    t->cycles++;
    if (rc < 0)
        t->cycles_failed++;
    t->samples += r->samples_scraped;
    t->parse_errors += r->parse_errors;
    t->series_kept += r->series_kept;
    t->dropped += r->samples_dropped;
    t->folded += r->samples_folded;
    t->scrape_failed += r->samples_scrape_failed;
    t->labels_truncated += r->labels_truncated;
    t->clock_steps_back += r->clock_steps_back;
    for (size_t i = 0; i < n; i++) {
        struct target_stats *ts =
            target_stats_for(m, res[i].url, targets[i].cluster);
        ts->scrapes++;
        if (!res[i].ok)
            ts->errors++;
        ts->up = res[i].ok;
        ts->last_duration_s = res[i].duration_s;
        ts->last_samples = res[i].samples;
    }
}

/* The cumulative counters after the cycle families. */
static const struct {
    const char *name, *help;
    size_t off;
} total_fams[] = {
    {"lagwatch_samples_scraped_total", "Samples parsed from reporter endpoints",
     offsetof(struct agent_totals, samples)},
    {"lagwatch_samples_malformed_total", "Malformed exposition lines skipped",
     offsetof(struct agent_totals, parse_errors)},
    {"lagwatch_series_kept_total",
     "Series kept after trimming (folded series count once)",
     offsetof(struct agent_totals, series_kept)},
    {"lagwatch_samples_trimmed_total", "Samples dropped by trim rules and caps",
     offsetof(struct agent_totals, dropped)},
    {"lagwatch_samples_folded_total", "Samples folded into per-task series",
     offsetof(struct agent_totals, folded)},
    {"lagwatch_labels_truncated_total",
     "Label values over trim.max_label_bytes kept, cut and ended in a hash "
     "of the whole value",
     offsetof(struct agent_totals, labels_truncated)},
    {"lagwatch_clock_steps_back_total",
     "Cycles whose wall-clock stamp was before the previous cycle's",
     offsetof(struct agent_totals, clock_steps_back)},
};

enum target_value { TV_UP, TV_DURATION, TV_SAMPLES, TV_SCRAPES, TV_ERRORS };
static const struct {
    const char *name, *type, *help;
    enum target_value v;
} target_fams[] = {
    {"lagwatch_scrape_up", "gauge",
     "1 when the last scrape of the reporter endpoint succeeded", TV_UP},
    {"lagwatch_scrape_duration_seconds", "gauge",
     "Duration of the last scrape of the reporter endpoint", TV_DURATION},
    {"lagwatch_scrape_samples", "gauge",
     "Samples parsed from the last scrape of the reporter endpoint",
     TV_SAMPLES},
    {"lagwatch_scrapes_total", "counter", "Scrapes of the reporter endpoint",
     TV_SCRAPES},
    {"lagwatch_scrape_errors_total", "counter",
     "Failed scrapes of the reporter endpoint", TV_ERRORS},
};

static double target_value(const struct target_stats *ts, enum target_value v)
{
    switch (v) {
    case TV_UP:
        return ts->up ? 1 : 0;
    case TV_DURATION:
        return ts->last_duration_s;
    case TV_SAMPLES:
        return (double)ts->last_samples;
    case TV_SCRAPES:
        return (double)ts->scrapes;
    case TV_ERRORS:
    default:
        return (double)ts->errors;
    }
}

void agent_metrics_write(const struct agent_metrics *m,
                         const struct agent_cycle_report *last,
                         uint64_t expo_dropped, struct expo *out)
{
    const struct agent_totals *t = &m->totals;
    expo_gauge(out, "lagwatch_exposition_samples_dropped",
               "Flink samples of the last cycle left out of /metrics: "
               "over its memory cap",
               (double)expo_dropped);
    struct label bl[] = {EXPO_LABEL("version", PACKAGE_VERSION)};
    expo_family(out, "lagwatch_build_info", "gauge",
                "Always 1; the version label names the build");
    expo_sample(out, "lagwatch_build_info", bl, 1, 1);

    expo_counter(out, "lagwatch_cycles_total", "Collection cycles run",
                 (double)t->cycles);
    expo_counter(out, "lagwatch_cycle_failures_total",
                 "Cycles in which a target, a request or a write failed",
                 (double)t->cycles_failed);
    expo_gauge(out, "lagwatch_cycle_duration_seconds",
               "Duration of the last collection cycle", last->duration_s);
    expo_gauge(out, "lagwatch_last_cycle_timestamp_seconds",
               "Start of the last collection cycle, Unix time",
               (double)last->ts_ms / 1000.0);
    for (size_t f = 0; f < sizeof(total_fams) / sizeof(total_fams[0]); f++) {
        const void *at = (const char *)t + total_fams[f].off;
        expo_counter(out, total_fams[f].name, total_fams[f].help,
                     (double)*(const uint64_t *)at);
    }
    /* A target that fails half way contributes nothing (lagwatch(8),
     * FAULTS): what it had already sent is counted here. */
    expo_family(out, "lagwatch_samples_dropped_total", "counter",
                "Trimmed samples left out of the cycle, by reason "
                "(scrape_failed: of a reporter endpoint that failed half way, "
                "which contributes nothing)");
    struct label rl[] = {EXPO_LABEL("reason", "scrape_failed")};
    expo_sample(out, "lagwatch_samples_dropped_total", rl, 1,
                (double)t->scrape_failed);

    for (size_t f = 0; f < sizeof(target_fams) / sizeof(target_fams[0]); f++) {
        expo_family(out, target_fams[f].name, target_fams[f].type,
                    target_fams[f].help);
        for (size_t i = 0; i < m->n_tstats; i++) {
            const struct target_stats *ts = &m->tstats[i];
            struct label l[] = {EXPO_LABEL("flink_cluster", ts->cluster),
                                EXPO_LABEL("target", ts->url)};
            expo_sample(out, target_fams[f].name, l, 2,
                        target_value(ts, target_fams[f].v));
        }
    }
}

/* One sample per cluster with a REST collector, labelled flink_cluster. */
static void rest_family(const struct config *cfg,
                        struct flink_rest *const *rest, struct expo *out,
                        const char *name, const char *type, const char *help,
                        double (*value)(const struct flink_rest_stats *))
{
    expo_family(out, name, type, help);
    for (size_t i = 0; i < cfg->n_flink; i++) {
        if (!rest[i])
            continue;
        struct label l[] = {EXPO_LABEL("flink_cluster", cfg->flink[i].name)};
        expo_sample(out, name, l, 1, value(flink_rest_stats(rest[i])));
    }
}

static double rest_requests_total(const struct flink_rest_stats *fs)
{
    return (double)fs->requests_total;
}

static double rest_requests_last(const struct flink_rest_stats *fs)
{
    return (double)fs->requests_last;
}

static double rest_duration_last(const struct flink_rest_stats *fs)
{
    return fs->duration_s_last;
}

void agent_metrics_write_rest(const struct config *cfg,
                              struct flink_rest *const *rest, struct expo *out)
{
    bool any = false;
    for (size_t i = 0; i < cfg->n_flink; i++)
        any = any || rest[i];
    if (!any)
        return;
    rest_family(cfg, rest, out, "lagwatch_rest_requests_total", "counter",
                "JobManager REST requests sent", rest_requests_total);
    rest_family(cfg, rest, out, "lagwatch_rest_requests_last_cycle", "gauge",
                "JobManager REST requests of the last cycle (grows with "
                "jobs and vertices, not subtasks)",
                rest_requests_last);
    expo_family(out, "lagwatch_rest_errors_total", "counter",
                "Failed JobManager REST requests, by kind");
    for (size_t i = 0; i < cfg->n_flink; i++) {
        if (!rest[i])
            continue;
        const struct flink_rest_stats *fs = flink_rest_stats(rest[i]);
        for (int k = 0; k < FLINK_REST_ERR_N_; k++) {
            struct label l[] = {EXPO_LABEL("flink_cluster", cfg->flink[i].name),
                                EXPO_LABEL("kind", flink_rest_err_name((
                                                       enum flink_rest_err)k))};
            expo_sample(out, "lagwatch_rest_errors_total", l, 2,
                        (double)fs->errors_total[k]);
        }
    }
    rest_family(cfg, rest, out, "lagwatch_rest_duration_seconds", "gauge",
                "Wall time of the last JobManager REST collection",
                rest_duration_last);
}
