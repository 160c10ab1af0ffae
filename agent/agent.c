#include "agent.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "agent_metrics.h"
#include "agent_status.h"
#include "flink/flink_rest.h"
#include "flink/reporters.h"
#include "flink/scrape.h"
#include "kafka/lagcollect.h"
#include "prom/expo.h"
#include "prom/expo_flink.h"
#include "sink.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Cap on one cycle's /metrics model of Flink series (interned, about 25
 * bytes per series plus distinct strings): what does not fit is counted in
 * lagwatch_exposition_samples_dropped. */
#define AGENT_EXPO_MAX_BYTES ((size_t)256 << 20)

struct agent {
    const struct config *cfg;
    struct clock_steps steps; /* the cycles' wall stamps, for a step back */
    struct agent_metrics *metrics;
    struct scraper *scraper;
    struct reporters *reporters;
    struct lagcollect *lag;
    /* The push sinks the configuration names, in sink.c's order. */
    struct sink **sinks;
    size_t n_sinks;
    /* Reporter targets: the configured ones first, then those discovered
     * through each cluster's JobManager this cycle. */
    struct reporter_target *targets;
    size_t n_targets;
    size_t n_static_targets;
    /* One REST collector (and scraper, for its own concurrency limit) per
     * flink cluster that has a rest_url; NULL elsewhere. */
    struct flink_rest **rest;
    struct scraper **rest_scrapers;
    /* Reporter URLs discovered per cluster; the last good answer is kept
     * when a discovery fails. */
    char ***disc_urls;
    size_t *n_disc;
    uint64_t *rest_truncated; /* flink_rest labels_truncated, last seen */
    struct agent_cycle_report report;
    bool sink_failed;
    /* The /metrics model being filled by this cycle (Flink series and
     * derived timing); handed over by agent_take_metrics. It is the pull
     * side, not one of the sinks (sink.h says why). */
    struct expo *expo;
    uint64_t expo_dropped; /* of the last cycle's model */
    /* What the last model held: the next one is sized for it up front
     * instead of growing and rehashing its tables through the cycle. */
    struct expo_size expo_size;
    struct agent_status *status; /* the status page's view of the cycle */
};

/* Kafka lag points go to the sinks only: /metrics has them from the
 * collector itself (lagcollect_write_metrics). With agent.align every
 * point carries the cycle's aligned timestamp, the sweep's own time
 * included, so two agents write identical points (lagwatch.yml(5),
 * agent.align). */
static int on_point(void *vag, const struct point *p)
{
    struct agent *ag = vag;
    struct point q = *p;
    if (ag->cfg->agent.align)
        q.ts_ms = ag->report.ts_ms;
    if (sink_write_point_all(ag->sinks, ag->n_sinks, &q) < 0)
        ag->sink_failed = true;
    ag->report.points_out++;
    return 0;
}

/* REST points (derived timing, job state) are also exposed on /metrics. */
static int on_rest_point(void *vag, const struct point *p)
{
    struct agent *ag = vag;
    expo_flink_point(ag->expo, p); /* a refusal is counted by the model */
    agent_status_point(ag->status, p);
    return on_point(ag, p);
}

static int on_series(void *vag, const struct series *s)
{
    struct agent *ag = vag;
    expo_flink_series(ag->expo, s, ag->cfg->trim.fold);
    if (sink_write_series_all(ag->sinks, ag->n_sinks, s) < 0)
        ag->sink_failed = true;
    ag->report.points_out++;
    return 0;
}

static bool has_target(const struct agent *ag, const char *url)
{
    for (size_t i = 0; i < ag->n_targets; i++)
        if (strcmp(ag->targets[i].url, url) == 0)
            return true;
    return false;
}

/* Refreshes the discovered reporter URLs of every cluster that asks for
 * discovery and rebuilds the target list: configured targets first, then
 * discovered ones not already configured. */
static int discover(struct agent *ag)
{
    const struct config *cfg = ag->cfg;
    int rc = 0;
    size_t total = ag->n_static_targets;
    for (size_t i = 0; i < cfg->n_flink; i++) {
        if (!ag->rest[i] || !cfg->flink[i].discover_port)
            continue;
        char **urls = NULL;
        size_t n = 0;
        if (flink_rest_discover_reporters(ag->rest[i], ag->rest_scrapers[i],
                                          &urls, &n) < 0) {
            rc = -1; /* logged; the last good list is kept */
        } else {
            for (size_t j = 0; j < ag->n_disc[i]; j++)
                free(ag->disc_urls[i][j]);
            free(ag->disc_urls[i]);
            ag->disc_urls[i] = urls;
            ag->n_disc[i] = n;
        }
        total += ag->n_disc[i];
    }
    if (total == ag->n_static_targets)
        return rc;
    ag->targets = xrealloc(ag->targets, total * sizeof(*ag->targets));
    ag->n_targets = ag->n_static_targets;
    for (size_t i = 0; i < cfg->n_flink; i++) {
        for (size_t j = 0; j < ag->n_disc[i]; j++) {
            if (has_target(ag, ag->disc_urls[i][j]))
                continue;
            ag->targets[ag->n_targets].url = ag->disc_urls[i][j];
            ag->targets[ag->n_targets].cluster = cfg->flink[i].name;
            ag->n_targets++;
        }
    }
    ag->report.targets_discovered = ag->n_targets - ag->n_static_targets;
    return rc;
}

struct agent *agent_new(const struct config *cfg, char *err, size_t errlen)
{
    struct agent *ag = xcalloc(1, sizeof(*ag));
    ag->cfg = cfg;

    ag->metrics = agent_metrics_new();
    ag->status = agent_status_new();
    if (sink_open_all(cfg, &ag->sinks, &ag->n_sinks, err, errlen) < 0)
        goto fail;

    struct scraper_opts so = {
        .timeout_ms = cfg->agent.scrape_timeout_ms,
        .max_bytes = cfg->agent.max_response_bytes,
        .concurrency = cfg->agent.scrape_concurrency,
    };
    ag->scraper = scraper_new(&so);
    if (!ag->scraper) {
        snprintf(err, errlen, "cannot create the HTTP scraper");
        goto fail;
    }
    ag->reporters = reporters_new(&cfg->trim, on_series, ag, err, errlen);
    if (!ag->reporters)
        goto fail;

    ag->lag = lagcollect_new(cfg, err, errlen);
    if (!ag->lag)
        goto fail;

    for (size_t i = 0; i < cfg->n_flink; i++)
        ag->n_static_targets += cfg->flink[i].n_reporters;
    ag->targets = xcalloc(ag->n_static_targets ? ag->n_static_targets : 1,
                          sizeof(*ag->targets));
    size_t k = 0;
    for (size_t i = 0; i < cfg->n_flink; i++) {
        for (size_t j = 0; j < cfg->flink[i].n_reporters; j++) {
            ag->targets[k].url = cfg->flink[i].reporters[j];
            ag->targets[k].cluster = cfg->flink[i].name;
            k++;
        }
    }
    ag->n_targets = ag->n_static_targets;

    size_t nf = cfg->n_flink ? cfg->n_flink : 1;
    ag->rest = xcalloc(nf, sizeof(*ag->rest));
    ag->rest_scrapers = xcalloc(nf, sizeof(*ag->rest_scrapers));
    ag->disc_urls = xcalloc(nf, sizeof(*ag->disc_urls));
    ag->n_disc = xcalloc(nf, sizeof(*ag->n_disc));
    ag->rest_truncated = xcalloc(nf, sizeof(*ag->rest_truncated));
    for (size_t i = 0; i < cfg->n_flink; i++) {
        const struct cfg_flink *fl = &cfg->flink[i];
        if (!fl->rest_url)
            continue;
        struct flink_rest_opts ro = {
            .busy_threshold = fl->bottleneck_threshold,
            .max_response_bytes = cfg->agent.max_response_bytes,
            .max_label_bytes = cfg->trim.max_label_bytes,
        };
        ag->rest[i] = flink_rest_new(fl, &ro, err, errlen);
        if (!ag->rest[i])
            goto fail;
        struct scraper_opts rso = {
            .timeout_ms = cfg->agent.scrape_timeout_ms,
            .max_bytes = cfg->agent.max_response_bytes,
            .concurrency = fl->rest_concurrency,
        };
        ag->rest_scrapers[i] = scraper_new(&rso);
        if (!ag->rest_scrapers[i]) {
            snprintf(err, errlen, "cannot create the REST scraper of '%s'",
                     fl->name);
            goto fail;
        }
    }

    return ag;
fail:
    agent_free(&ag);
    return NULL;
}

void agent_free(struct agent **agp)
{
    struct agent *ag = *agp;
    if (!ag)
        return;
    lagcollect_free(&ag->lag);
    expo_free(&ag->expo);
    sink_free_all(&ag->sinks, ag->n_sinks);
    reporters_free(&ag->reporters);
    scraper_free(&ag->scraper);
    for (size_t i = 0; ag->rest && i < ag->cfg->n_flink; i++) {
        flink_rest_free(&ag->rest[i]);
        scraper_free(&ag->rest_scrapers[i]);
        for (size_t j = 0; j < ag->n_disc[i]; j++)
            free(ag->disc_urls[i][j]);
        free(ag->disc_urls[i]);
    }
    free(ag->rest);
    free(ag->rest_scrapers);
    free(ag->disc_urls);
    free(ag->n_disc);
    free(ag->rest_truncated);
    agent_metrics_free(&ag->metrics);
    agent_status_free(&ag->status);
    free(ag->targets);
    free(ag);
    *agp = NULL;
}

int agent_cycle(struct agent *ag, struct agent_cycle_report **rep)
{
    return agent_cycle_at(ag, clock_wall_ms(), rep);
}

int agent_cycle_at(struct agent *ag, int64_t ts_ms,
                   struct agent_cycle_report **rep)
{
    struct agent_cycle_report *r = &ag->report;
    double t0 = clock_mono_s();
    int rc = 0;

    r->ts_ms = ts_ms;
    /* Points keep the wall time even after a step back (lagwatch(8),
     * FAULTS): the step is logged and counted. */
    int64_t back = clock_step_back(&ag->steps, r->ts_ms);
    r->clock_steps_back = back > 0;
    if (back > 0)
        log_warn("the wall clock went back %" PRId64 " ms since the last "
                 "cycle: this cycle's points are stamped before the last "
                 "ones",
                 back);
    agent_status_begin(ag->status);
    r->points_out = 0;
    sink_cycle_begin_all(ag->sinks, ag->n_sinks);
    ag->sink_failed = false;
    expo_free(&ag->expo);
    ag->expo = expo_new(AGENT_EXPO_MAX_BYTES);
    expo_presize(ag->expo, &ag->expo_size);

    if (discover(ag) < 0)
        rc = -1;
    struct reporters_stats st;
    if (reporters_collect(ag->reporters, ag->scraper, ag->targets,
                          ag->n_targets, r->ts_ms, &st) < 0)
        rc = -1;
    r->targets = st.targets;
    r->targets_failed = st.targets_failed;
    r->samples_scraped = st.samples;
    r->parse_errors = st.parse_errors;
    r->series_kept = st.series_out;
    r->samples_dropped = st.dropped;
    r->samples_folded = st.folded_in;
    r->samples_scrape_failed = st.dropped_scrape_failed;
    r->labels_truncated = st.labels_truncated;

    r->rest_requests = 0;
    r->rest_errors = 0;
    r->rest_points = 0;
    for (size_t i = 0; i < ag->cfg->n_flink; i++) {
        if (!ag->rest[i])
            continue;
        if (flink_rest_collect(ag->rest[i], ag->rest_scrapers[i], r->ts_ms,
                               on_rest_point, ag) < 0)
            rc = -1;
        const struct flink_rest_stats *fs = flink_rest_stats(ag->rest[i]);
        uint64_t before = ag->rest_truncated[i];
        ag->rest_truncated[i] = fs->labels_truncated;
        r->labels_truncated += fs->labels_truncated - before;
        r->rest_requests += fs->requests_last;
        r->rest_errors += fs->errors_last;
        r->rest_points += fs->points_last;
    }

    uint64_t lag_timeout = ag->cfg->agent.scrape_timeout_ms;
    if (lagcollect_sweep(ag->lag,
                         lag_timeout > 600000 ? 600000 : (int)lag_timeout,
                         on_point, ag) < 0)
        rc = -1;

    ag->expo_dropped = expo_dropped(ag->expo);
    if (ag->expo_dropped)
        log_warn("/metrics keeps %zu bytes of series per cycle: %" PRIu64
                 " samples left out",
                 AGENT_EXPO_MAX_BYTES, ag->expo_dropped);
    sink_flush_all(ag->sinks, ag->n_sinks);
    if (ag->sink_failed)
        rc = -1;
    size_t nres;
    const struct reporter_result *res = reporters_results(ag->reporters, &nres);
    agent_metrics_account(ag->metrics, r, rc, res, ag->targets, nres);
    r->duration_s = clock_mono_s() - t0;
    log_info("cycle done targets=%" PRIu64 " failed=%" PRIu64
             " samples=%" PRIu64 " series_kept=%" PRIu64 " points=%" PRIu64
             " duration=%.3fs",
             r->targets, r->targets_failed, r->samples_scraped, r->series_kept,
             r->points_out, r->duration_s);
    *rep = r;
    return rc;
}

int agent_drain(struct agent *ag, uint64_t timeout_ms)
{
    return sink_drain_all(ag->sinks, ag->n_sinks, timeout_ms);
}

void agent_print_report(struct agent *ag, FILE *out)
{
    const struct agent_cycle_report *r = &ag->report;
    size_t n;
    const struct reporter_result *res = reporters_results(ag->reporters, &n);
    fprintf(out, "scraped %zu endpoint(s) in %.3f s:\n", n, r->duration_s);
    for (size_t i = 0; i < n; i++) {
        if (res[i].ok)
            fprintf(out,
                    "  %-40s ok   %6" PRIu64 " samples %8" PRIu64 " bytes\n",
                    res[i].url, res[i].samples, res[i].bytes);
        else
            fprintf(out, "  %-40s FAIL %s\n", res[i].url, res[i].error);
    }
    fprintf(out,
            "samples scraped: %" PRIu64 "  kept after trimming: %" PRIu64
            " series (%" PRIu64 " samples folded over subtasks, %" PRIu64
            " dropped)\n",
            r->samples_scraped, r->series_kept, r->samples_folded,
            r->samples_dropped);
    if (r->series_kept > 0)
        fprintf(out, "reduction: %.2fx fewer series than samples\n",
                (double)r->samples_scraped / (double)r->series_kept);
    if (r->targets_discovered)
        fprintf(out,
                "reporter endpoints discovered through REST: %" PRIu64 "\n",
                r->targets_discovered);
    for (size_t i = 0; i < ag->cfg->n_flink; i++) {
        if (!ag->rest[i])
            continue;
        const struct flink_rest_stats *fs = flink_rest_stats(ag->rest[i]);
        fprintf(out,
                "JobManager REST %s: %" PRIu64 " requests, %" PRIu64
                " errors, %" PRIu64 " job and task timing points\n",
                ag->cfg->flink[i].rest_url, fs->requests_last, fs->errors_last,
                fs->points_last);
    }
    lagcollect_print(ag->lag, out);
    sink_print_all(ag->sinks, ag->n_sinks, out);
}

const struct lagcollect *agent_lagcollect(const struct agent *ag)
{
    return ag->lag;
}

/* lagwatch's self-metrics as of the last completed cycle: the agent's
 * own, each sink's, then the Kafka collector's. */
static void write_metrics(struct agent *ag, struct expo *out)
{
    agent_metrics_write(ag->metrics, &ag->report, ag->expo_dropped, out);
    agent_metrics_write_rest(ag->cfg, ag->rest, out);
    sink_write_metrics_all(ag->sinks, ag->n_sinks, out);
    lagcollect_write_metrics(ag->lag, out);
}

struct expo *agent_take_metrics(struct agent *ag)
{
    struct expo *e = ag->expo ? ag->expo : expo_new(0);
    ag->expo = NULL;
    expo_size_of(e, &ag->expo_size);
    /* the self-metrics always fit: they grow with targets and nodes */
    expo_set_max_bytes(e, 0);
    write_metrics(ag, e);
    return e;
}

struct status *agent_take_status(struct agent *ag)
{
    size_t nres;
    const struct reporter_result *res = reporters_results(ag->reporters, &nres);
    size_t nlag;
    const struct kafka_lag_cluster *const *lag =
        lagcollect_results(ag->lag, &nlag);
    struct agent_status_in in = {
        .cfg = ag->cfg,
        .ts_ms = ag->report.ts_ms,
        .cycle_s = ag->report.duration_s,
        .res = res,
        .targets = ag->targets,
        .n_res = nres,
        .rest = ag->rest,
        .lag = lag,
        .n_lag = nlag,
        .sinks = ag->sinks,
        .n_sinks = ag->n_sinks,
    };
    struct status *st = agent_status_build(ag->status, &in);
    st->align = ag->cfg->agent.align;
    return st;
}
