#include "agent.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prom/expo.h"
#include "prom/expo_flink.h"
#include "flink/flink_rest.h"
#include "prom/fmt_prom.h"
#include "influx/flink_schema.h"
#include "hashring/hashring.h"
#include "influx/influx.h"
#include "kafka/lagcollect.h"
#include "util/log.h"
#include "remote_write/remote_write.h"
#include "flink/reporters.h"
#include "route/ring_config.h"
#include "route/router.h"
#include "flink/scrape.h"
#include "util/xalloc.h"

#define AGENT_MAX_REPLICAS ROUTER_MAX_REPLICAS
/* Cap on one cycle's /metrics model of Flink series (interned, about 25
 * bytes per series plus distinct strings): what does not fit is counted in
 * lagwatch_exposition_samples_dropped. */
#define AGENT_EXPO_MAX_BYTES ((size_t)256 << 20)

/* Cumulative scrape outcomes of one reporter URL (targets come and go with
 * discovery, so they are keyed by URL rather than by position). */
struct target_stats {
    char *url;
    const char *cluster;
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
    uint64_t unwritable;
};

struct agent {
    const struct config *cfg;
    struct agent_totals totals;
    struct target_stats *tstats;
    size_t n_tstats;
    size_t cap_tstats;
    struct scraper *scraper;
    struct reporters *reporters;
    struct lagcollect *lag;
    struct hashring *ring;
    struct router *router;
    struct influx_sink *sink;
    struct remote_write *rw; /* NULL unless sinks.remote_write is set */
    unsigned rw_fold;        /* REMOTE_WRITE_FOLD_* */
    struct flink_schema_opts schema_opts;
    struct flink_schema_scratch scratch;
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
    char fingerprint[HASHRING_FINGERPRINT_LEN + 1];
    struct agent_cycle_report report;
    bool sink_failed;
    /* The /metrics model being filled by this cycle (Flink series and
     * derived timing); handed over by agent_take_metrics. */
    struct expo *expo;
    uint64_t expo_dropped; /* of the last cycle's model */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sends one mapped point to its owner node(s). */
static int route_point(struct agent *ag, const struct point *p)
{
    size_t owners[AGENT_MAX_REPLICAS];
    size_t n = router_route(ag->router, p->tags, p->ntags, owners);
    for (size_t i = 0; i < n; i++) {
        if (influx_sink_write(ag->sink, owners[i], p) < 0) {
            ag->sink_failed = true;
            continue;
        }
        ag->report.nodes[owners[i]].points_routed++;
    }
    ag->report.points_out++;
    return 0;
}

static int on_point(void *vag, const struct point *p)
{
    struct agent *ag = vag;
    if (ag->rw && remote_write_point(ag->rw, p) < 0)
        ag->sink_failed = true;
    return route_point(ag, p);
}

/* REST points (derived timing, job state) are also exposed on /metrics. */
static int on_rest_point(void *vag, const struct point *p)
{
    struct agent *ag = vag;
    expo_flink_point(ag->expo, p); /* a refusal is counted by the model */
    return on_point(ag, p);
}

static int on_series(void *vag, const struct series *s)
{
    struct agent *ag = vag;
    expo_flink_series(ag->expo, s, ag->schema_opts.fold_fields);
    if (ag->rw && remote_write_series(ag->rw, s, ag->rw_fold) < 0)
        ag->sink_failed = true;
    struct point p;
    if (flink_schema_point(s, &ag->schema_opts, &p, &ag->scratch) != 0) {
        ag->report.points_unwritable++;
        return 0;
    }
    return route_point(ag, &p);
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

static struct target_stats *target_stats_for(struct agent *ag, const char *url,
                                             const char *cluster)
{
    for (size_t i = 0; i < ag->n_tstats; i++)
        if (strcmp(ag->tstats[i].url, url) == 0)
            return &ag->tstats[i];
    ag->tstats = xgrow(ag->tstats, &ag->cap_tstats, ag->n_tstats + 1,
                       sizeof(*ag->tstats));
    struct target_stats *ts = &ag->tstats[ag->n_tstats++];
    memset(ts, 0, sizeof(*ts));
    ts->url = xstrdup(url);
    ts->cluster = cluster;
    return ts;
}

/* Adds the cycle just finished to the cumulative self-metrics. */
static void account(struct agent *ag, const struct agent_cycle_report *r,
                    int rc)
{
    struct agent_totals *t = &ag->totals;
    t->cycles++;
    if (rc < 0)
        t->cycles_failed++;
    t->samples += r->samples_scraped;
    t->parse_errors += r->parse_errors;
    t->series_kept += r->series_kept;
    t->dropped += r->samples_dropped;
    t->folded += r->samples_folded;
    t->unwritable += r->points_unwritable;
    size_t n;
    const struct reporter_result *res = reporters_results(ag->reporters, &n);
    for (size_t i = 0; i < n; i++) {
        struct target_stats *ts =
            target_stats_for(ag, res[i].url, ag->targets[i].cluster);
        ts->scrapes++;
        if (!res[i].ok)
            ts->errors++;
        ts->up = res[i].ok;
        ts->last_duration_s = res[i].duration_s;
        ts->last_samples = res[i].samples;
    }
}

struct agent *agent_new(const struct config *cfg, char *err, size_t errlen)
{
    struct agent *ag = xcalloc(1, sizeof(*ag));
    ag->cfg = cfg;

    if (!cfg->influx.enabled || cfg->influx.n_nodes == 0) {
        snprintf(err, errlen, "%s: sinks.influxdb has no nodes", cfg->path);
        goto fail;
    }
    ag->ring = ring_config_new(&cfg->influx, err, errlen);
    if (!ag->ring)
        goto fail;
    hashring_fingerprint(ag->ring, ag->fingerprint);
    ag->router =
        router_new(ag->ring, cfg->influx.shard_by, cfg->influx.n_shard_by,
                   cfg->influx.replicas, cfg->agent.name);

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

    if (flink_schema_opts_from_cfg(&cfg->trim, &ag->schema_opts, err, errlen) <
        0)
        goto fail;

    struct influx_spool_opts so_spool = {
        .dir = cfg->agent.spool_dir,
        .max_bytes = cfg->agent.spool_max_bytes,
        .fsync = cfg->agent.spool_fsync,
    };
    ag->sink = influx_sink_new(&cfg->influx, &so_spool, err, errlen);
    if (!ag->sink)
        goto fail;
    if (cfg->remote_write.enabled) {
        char *rdir = NULL;
        if (cfg->agent.spool_dir &&
            asprintf(&rdir, "%s/remote_write", cfg->agent.spool_dir) < 0)
            rdir = NULL;
        struct remote_write_spool rw_spool = {
            .dir = rdir,
            .max_bytes = cfg->agent.spool_max_bytes,
            .fsync = cfg->agent.spool_fsync,
        };
        ag->rw = remote_write_new(&cfg->remote_write, &rw_spool, err, errlen);
        free(rdir);
        if (!ag->rw)
            goto fail;
        unsigned ff = ag->schema_opts.fold_fields;
        ag->rw_fold = (ff & FLINK_SCHEMA_MAX ? REMOTE_WRITE_FOLD_MAX : 0) |
                      (ff & FLINK_SCHEMA_SUM ? REMOTE_WRITE_FOLD_SUM : 0) |
                      (ff & FLINK_SCHEMA_AVG ? REMOTE_WRITE_FOLD_AVG : 0);
    }
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
    for (size_t i = 0; i < cfg->n_flink; i++) {
        const struct cfg_flink *fl = &cfg->flink[i];
        if (!fl->rest_url)
            continue;
        struct flink_rest_opts ro = {
            .busy_threshold = fl->bottleneck_threshold,
            .max_response_bytes = cfg->agent.max_response_bytes,
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

    ag->report.n_nodes = cfg->influx.n_nodes;
    ag->report.nodes = xcalloc(cfg->influx.n_nodes, sizeof(*ag->report.nodes));
    for (size_t i = 0; i < cfg->influx.n_nodes; i++) {
        ag->report.nodes[i].name = cfg->influx.nodes[i].name;
        ag->report.nodes[i].url = cfg->influx.nodes[i].url;
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
    influx_sink_free(&ag->sink);
    remote_write_free(&ag->rw);
    reporters_free(&ag->reporters);
    scraper_free(&ag->scraper);
    router_free(&ag->router);
    hashring_free(&ag->ring);
    flink_schema_scratch_release(&ag->scratch);
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
    for (size_t i = 0; i < ag->n_tstats; i++)
        free(ag->tstats[i].url);
    free(ag->tstats);
    free(ag->targets);
    free(ag->report.nodes);
    free(ag);
    *agp = NULL;
}

int agent_cycle(struct agent *ag, struct agent_cycle_report **rep)
{
    struct agent_cycle_report *r = &ag->report;
    double t0 = mono_s();
    int rc = 0;

    r->ts_ms = now_ms();
    r->points_out = 0;
    r->points_unwritable = 0;
    for (size_t i = 0; i < r->n_nodes; i++)
        r->nodes[i].points_routed = 0;
    ag->sink_failed = false;
    expo_free(&ag->expo);
    ag->expo = expo_new(AGENT_EXPO_MAX_BYTES);

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
    influx_sink_flush(ag->sink);
    if (ag->rw)
        remote_write_flush(ag->rw);
    if (ag->sink_failed)
        rc = -1;
    account(ag, r, rc);
    r->duration_s = mono_s() - t0;
    agent_refresh_nodes(ag);
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
    double t0 = mono_s();
    int rc = influx_sink_drain(ag->sink, timeout_ms);
    if (ag->rw) {
        /* both sinks share the deadline */
        double spent_ms = (mono_s() - t0) * 1000.0;
        uint64_t left =
            spent_ms < (double)timeout_ms ? timeout_ms - (uint64_t)spent_ms : 0;
        int rrc = remote_write_drain(ag->rw, left);
        if (rrc < 0 || (rrc > 0 && rc == 0))
            rc = rrc;
    }
    agent_refresh_nodes(ag);
    return rc;
}

void agent_refresh_nodes(struct agent *ag)
{
    for (size_t i = 0; i < ag->report.n_nodes; i++) {
        struct influx_node_stats ns;
        influx_sink_node_stats(ag->sink, i, &ns);
        struct agent_node_report *nr = &ag->report.nodes[i];
        nr->points_written = ns.points_written;
        nr->points_dropped = ns.points_dropped;
        nr->points_retried = ns.points_retried;
        nr->points_spooled = ns.points_spooled;
        nr->spool_points = ns.spool_points;
        snprintf(nr->last_error, sizeof(nr->last_error), "%s", ns.last_error);
    }
}

void agent_print_report(struct agent *ag, FILE *out)
{
    const struct agent_cycle_report *r = &ag->report;
    size_t n;
    const struct reporter_result *res = reporters_results(ag->reporters, &n);
    fprintf(out, "ring fingerprint: %s\n", ag->fingerprint);
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
    fprintf(out,
            "points mapped: %" PRIu64 " (%" PRIu64
            " not writable: no finite field)\n",
            r->points_out, r->points_unwritable);
    for (size_t i = 0; i < r->n_nodes; i++) {
        const struct agent_node_report *nr = &r->nodes[i];
        fprintf(out,
                "  node %-12s %-28s routed %6" PRIu64 "  written %6" PRIu64
                "  spooled %" PRIu64 " (waiting %" PRIu64 ")  dropped %" PRIu64
                "%s%s\n",
                nr->name, nr->url, nr->points_routed, nr->points_written,
                nr->points_spooled, nr->spool_points, nr->points_dropped,
                nr->last_error[0] ? "  last error: " : "", nr->last_error);
    }
    if (ag->rw) {
        struct remote_write_stats rs;
        remote_write_get_stats(ag->rw, &rs);
        fprintf(out,
                "  remote write %-28s sent %6" PRIu64 "  failed %" PRIu64
                "  dropped %" PRIu64 "  spooled %" PRIu64 " (waiting %" PRIu64
                ")%s%s\n",
                ag->cfg->remote_write.url, rs.samples_sent, rs.samples_failed,
                rs.samples_dropped, rs.samples_spooled, rs.spool_samples,
                rs.last_error[0] ? "  last error: " : "", rs.last_error);
    }
}

const struct lagcollect *agent_lagcollect(const struct agent *ag)
{
    return ag->lag;
}

const char *agent_ring_fingerprint(const struct agent *ag)
{
    return ag->fingerprint;
}

/* ==================== self-metrics (/metrics) ====================== */

#define L1(n, v)                                                               \
    {                                                                          \
        n, v, (uint32_t)strlen(n), (uint32_t)strlen(v)                         \
    }

static void counter(struct expo *out, const char *name, const char *help,
                    double v)
{
    expo_family(out, name, "counter", help);
    expo_sample(out, name, NULL, 0, v);
}

static void gauge(struct expo *out, const char *name, const char *help,
                  double v)
{
    expo_family(out, name, "gauge", help);
    expo_sample(out, name, NULL, 0, v);
}

static void write_targets(struct agent *ag, struct expo *out)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"lagwatch_scrape_up", "gauge",
         "1 when the last scrape of the reporter endpoint succeeded"},
        {"lagwatch_scrape_duration_seconds", "gauge",
         "Duration of the last scrape of the reporter endpoint"},
        {"lagwatch_scrape_samples", "gauge",
         "Samples parsed from the last scrape of the reporter endpoint"},
        {"lagwatch_scrapes_total", "counter",
         "Scrapes of the reporter endpoint"},
        {"lagwatch_scrape_errors_total", "counter",
         "Failed scrapes of the reporter endpoint"},
    };
    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        expo_family(out, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < ag->n_tstats; i++) {
            const struct target_stats *ts = &ag->tstats[i];
            struct label l[] = {L1("flink_cluster", ts->cluster),
                                L1("target", ts->url)};
            double v = f == 0   ? (ts->up ? 1 : 0)
                       : f == 1 ? ts->last_duration_s
                       : f == 2 ? (double)ts->last_samples
                       : f == 3 ? (double)ts->scrapes
                                : (double)ts->errors;
            expo_sample(out, fam[f].name, l, 2, v);
        }
    }
}

static void write_nodes(struct agent *ag, struct expo *out)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"lagwatch_points_written_total", "counter",
         "Points InfluxDB accepted, per node"},
        {"lagwatch_points_dropped_total", "counter",
         "Points lost, per node: refused for good by InfluxDB, spool cap "
         "reached, corrupt spool record, or no spool; each drop is logged "
         "with its reason"},
        {"lagwatch_points_retried_total", "counter",
         "Points sent again after a failed write, per node"},
        {"lagwatch_points_invalid_total", "counter",
         "Points that InfluxDB cannot store and were never sent, per node"},
        {"lagwatch_write_requests_total", "counter",
         "Write requests sent, per node"},
        {"lagwatch_write_duration_seconds_total", "counter",
         "Time spent in write requests, per node"},
        {"lagwatch_write_bytes_total", "counter",
         "Request bytes sent on the wire (after gzip), per node"},
        {"lagwatch_node_up", "gauge",
         "1 when the last exchange with the InfluxDB node succeeded"},
        {"lagwatch_points_spooled_total", "counter",
         "Points written to the node's disk spool, per node"},
        {"lagwatch_points_replayed_total", "counter",
         "Points written to InfluxDB from the node's spool, per node"},
        {"lagwatch_spool_bytes", "gauge",
         "Size of the node's spool segment files"},
        {"lagwatch_spool_points", "gauge",
         "Points waiting in the node's spool"},
        {"lagwatch_spool_dropped_points_total", "counter",
         "Part of lagwatch_points_dropped_total lost in the spool (cap "
         "reached, corrupt record, I/O error), per node"},
        {"lagwatch_node_down", "gauge",
         "1 while the node is marked down and probed with /ping"},
    };
    const struct cfg_influx *ci = &ag->cfg->influx;
    struct influx_node_stats *ns = xcalloc(ci->n_nodes, sizeof(*ns));
    for (size_t i = 0; i < ci->n_nodes; i++)
        influx_sink_node_stats(ag->sink, i, &ns[i]);
    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        expo_family(out, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < ci->n_nodes; i++) {
            struct label l[] = {L1("node", ci->nodes[i].name)};
            const struct influx_node_stats *s = &ns[i];
            double v = f == 0    ? (double)s->points_written
                       : f == 1  ? (double)s->points_dropped
                       : f == 2  ? (double)s->points_retried
                       : f == 3  ? (double)s->points_skipped_invalid
                       : f == 4  ? (double)s->write_count
                       : f == 5  ? (double)s->write_ns_total / 1e9
                       : f == 6  ? (double)s->bytes_sent
                       : f == 7  ? (double)s->up
                       : f == 8  ? (double)s->points_spooled
                       : f == 9  ? (double)s->points_replayed
                       : f == 10 ? (double)s->spool_bytes
                       : f == 11 ? (double)s->spool_points
                       : f == 12 ? (double)s->points_dropped_spool
                                 : (double)s->down;
            expo_sample(out, fam[f].name, l, 1, v);
        }
    }
    free(ns);
}

static void write_remote_write(struct agent *ag, struct expo *out)
{
    if (!ag->rw)
        return;
    struct remote_write_stats rs;
    remote_write_get_stats(ag->rw, &rs);
    counter(out, "lagwatch_remote_write_samples_sent_total",
            "Samples the remote-write receiver accepted",
            (double)rs.samples_sent);
    counter(out, "lagwatch_remote_write_samples_failed_total",
            "Samples the remote-write receiver refused (4xx other than "
            "429), not retried",
            (double)rs.samples_failed);
    counter(out, "lagwatch_remote_write_samples_dropped_total",
            "Samples given up on (queue full, retries exhausted); each "
            "drop is logged with its reason",
            (double)rs.samples_dropped);
    counter(out, "lagwatch_remote_write_samples_skipped_total",
            "Samples never sent: non-finite value or invalid label set",
            (double)rs.samples_skipped);
    counter(out, "lagwatch_remote_write_samples_spooled_total",
            "Samples written to the remote-write disk spool",
            (double)rs.samples_spooled);
    counter(out, "lagwatch_remote_write_samples_replayed_total",
            "Samples sent from the remote-write disk spool",
            (double)rs.samples_replayed);
    gauge(out, "lagwatch_remote_write_spool_samples",
          "Samples waiting in the remote-write disk spool",
          (double)rs.spool_samples);
    gauge(out, "lagwatch_remote_write_spool_bytes",
          "Size of the remote-write spool segment files",
          (double)rs.spool_bytes);
    counter(out, "lagwatch_remote_write_requests_total",
            "Remote-write requests sent, retries included",
            (double)rs.requests);
    counter(out, "lagwatch_remote_write_retries_total",
            "Remote-write requests sent again after a 5xx, 429 or "
            "transport error",
            (double)rs.retries);
    counter(out, "lagwatch_remote_write_bytes_total",
            "Remote-write request bytes sent (snappy-compressed)",
            (double)rs.bytes_sent);
    gauge(out, "lagwatch_remote_write_queue_bytes",
          "Compressed remote-write requests waiting in memory",
          (double)rs.queue_bytes);
    gauge(out, "lagwatch_remote_write_up",
          "1 when the last exchange with the remote-write "
          "receiver got an answer below 500",
          rs.up);
}

static void write_rest(struct agent *ag, struct expo *out)
{
    const struct config *cfg = ag->cfg;
    bool any = false;
    for (size_t i = 0; i < cfg->n_flink; i++)
        any = any || ag->rest[i];
    if (!any)
        return;
    expo_family(out, "lagwatch_rest_requests_total", "counter",
                "JobManager REST requests sent");
    for (size_t i = 0; i < cfg->n_flink; i++) {
        if (!ag->rest[i])
            continue;
        struct label l[] = {L1("flink_cluster", cfg->flink[i].name)};
        expo_sample(out, "lagwatch_rest_requests_total", l, 1,
                    (double)flink_rest_stats(ag->rest[i])->requests_total);
    }
    expo_family(out, "lagwatch_rest_requests_last_cycle", "gauge",
                "JobManager REST requests of the last cycle (grows with "
                "jobs and vertices, not subtasks)");
    for (size_t i = 0; i < cfg->n_flink; i++) {
        if (!ag->rest[i])
            continue;
        struct label l[] = {L1("flink_cluster", cfg->flink[i].name)};
        expo_sample(out, "lagwatch_rest_requests_last_cycle", l, 1,
                    (double)flink_rest_stats(ag->rest[i])->requests_last);
    }
    expo_family(out, "lagwatch_rest_errors_total", "counter",
                "Failed JobManager REST requests, by kind");
    for (size_t i = 0; i < cfg->n_flink; i++) {
        if (!ag->rest[i])
            continue;
        const struct flink_rest_stats *fs = flink_rest_stats(ag->rest[i]);
        for (int k = 0; k < FLINK_REST_ERR_N_; k++) {
            struct label l[] = {
                L1("flink_cluster", cfg->flink[i].name),
                L1("kind", flink_rest_err_name((enum flink_rest_err)k))};
            expo_sample(out, "lagwatch_rest_errors_total", l, 2,
                        (double)fs->errors_total[k]);
        }
    }
    expo_family(out, "lagwatch_rest_duration_seconds", "gauge",
                "Wall time of the last JobManager REST collection");
    for (size_t i = 0; i < cfg->n_flink; i++) {
        if (!ag->rest[i])
            continue;
        struct label l[] = {L1("flink_cluster", cfg->flink[i].name)};
        expo_sample(out, "lagwatch_rest_duration_seconds", l, 1,
                    flink_rest_stats(ag->rest[i])->duration_s_last);
    }
}

void agent_write_metrics(struct agent *ag, struct expo *out)
{
    gauge(out, "lagwatch_exposition_samples_dropped",
          "Flink samples of the last cycle left out of /metrics: "
          "over its memory cap",
          (double)ag->expo_dropped);
    const struct agent_totals *t = &ag->totals;
    struct label bl[] = {L1("version", PACKAGE_VERSION)};
    expo_family(out, "lagwatch_build_info", "gauge",
                "Always 1; the version label names the build");
    expo_sample(out, "lagwatch_build_info", bl, 1, 1);
    char vn[16];
    snprintf(vn, sizeof(vn), "%u", ag->cfg->influx.vnodes);
    struct label rl[] = {L1("fingerprint", ag->fingerprint), L1("vnodes", vn)};
    expo_family(out, "lagwatch_ring_info", "gauge",
                "Always 1; agents with the same nodes, weights and "
                "vnodes have the same fingerprint");
    expo_sample(out, "lagwatch_ring_info", rl, 2, 1);

    counter(out, "lagwatch_cycles_total", "Collection cycles run",
            (double)t->cycles);
    counter(out, "lagwatch_cycle_failures_total",
            "Cycles in which a target, a request or a write failed",
            (double)t->cycles_failed);
    gauge(out, "lagwatch_cycle_duration_seconds",
          "Duration of the last collection cycle", ag->report.duration_s);
    gauge(out, "lagwatch_last_cycle_timestamp_seconds",
          "Start of the last collection cycle, Unix time",
          (double)ag->report.ts_ms / 1000.0);

    counter(out, "lagwatch_samples_scraped_total",
            "Samples parsed from reporter endpoints", (double)t->samples);
    counter(out, "lagwatch_samples_malformed_total",
            "Malformed exposition lines skipped", (double)t->parse_errors);
    counter(out, "lagwatch_series_kept_total",
            "Series kept after trimming (folded series count once)",
            (double)t->series_kept);
    counter(out, "lagwatch_samples_trimmed_total",
            "Samples dropped by trim rules and caps", (double)t->dropped);
    counter(out, "lagwatch_samples_folded_total",
            "Samples folded into per-task series", (double)t->folded);
    counter(out, "lagwatch_points_unwritable_total",
            "Series with no value InfluxDB can store (NaN, +-Inf)",
            (double)t->unwritable);

    write_targets(ag, out);
    write_nodes(ag, out);
    write_rest(ag, out);
    write_remote_write(ag, out);
    lagcollect_write_metrics(ag->lag, out);
}

struct expo *agent_take_metrics(struct agent *ag)
{
    struct expo *e = ag->expo ? ag->expo : expo_new(0);
    ag->expo = NULL;
    /* the self-metrics always fit: they grow with targets and nodes */
    expo_set_max_bytes(e, 0);
    agent_write_metrics(ag, e);
    return e;
}
