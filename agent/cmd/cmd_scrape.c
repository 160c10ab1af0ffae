/*
 * lagwatch scrape URL [-c FILE] [--format line|prom]: fetch one
 * PrometheusReporter endpoint and trim it with the config's rules (the
 * built-in defaults without -c), or collect one JobManager REST base URL,
 * and print the result.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "cmd/cmd.h"
#include "util/clock.h"
#include "config.h"
#include "prom/expo.h"
#include "prom/expo_flink.h"
#include "flink/flink_rest.h"
#include "prom/fmt_prom.h"
#include "influx/flink_schema.h"
#include "influx/lineproto.h"
#include "util/log.h"
#include "flink/reporters.h"
#include "flink/scrape.h"
#include "flink/task_timing.h"

struct scrape_out {
    bool prom;
    struct fmt_prom_opts prom_opts;
    struct flink_schema_opts schema_opts;
    struct flink_schema_scratch scratch;
    struct expo *expo; /* --format prom of REST points */
    struct buf line;
    uint64_t unwritable;
};

static int print_series(void *vo, const struct series *s)
{
    struct scrape_out *o = vo;
    buf_reset(&o->line);
    if (o->prom) {
        fmt_prom_series(&o->line, s, &o->prom_opts);
    } else {
        struct point p;
        if (flink_schema_point(s, &o->schema_opts, &p, &o->scratch) != 0) {
            o->unwritable++;
            return 0;
        }
        struct lineproto_stats ls = {0};
        if (lineproto_encode(&o->line, &p, &ls) != 0) {
            o->unwritable++;
            return 0;
        }
    }
    if (fwrite(o->line.data, 1, o->line.len, stdout) != o->line.len)
        return -1;
    return 0;
}

static int print_point(void *vo, const struct point *p)
{
    struct scrape_out *o = vo;
    if (o->prom)
        return expo_flink_point(o->expo, p) < 0 ? -1 : 0;
    buf_reset(&o->line);
    struct lineproto_stats ls = {0};
    if (lineproto_encode(&o->line, p, &ls) != 0) {
        o->unwritable++;
        return 0;
    }
    if (fwrite(o->line.data, 1, o->line.len, stdout) != o->line.len)
        return -1;
    return 0;
}

/* A PrometheusReporter endpoint ends in /metrics (the reporter serves
 * nothing else); any other URL is taken as a JobManager REST base URL. */
static bool is_reporter_url(const char *url)
{
    size_t n = strcspn(url, "?#");
    return n >= 8 && memcmp(url + n - 8, "/metrics", 8) == 0;
}

/* One JobManager REST collection: lagwatch_job and lagwatch_task_timing
 * points, as `run` writes them. */
static int scrape_rest(const char *url, const struct config *cfg,
                       struct scrape_out *o, int64_t now)
{
    char err[1024];
    int rc = EXIT_RUNTIME;
    struct flink_rest *fr = NULL;
    struct scraper *sc = NULL;
    struct cfg_flink fl = {
        .name = "",
        .rest_url = (char *)url,
        .rest_concurrency = 8,
        .bottleneck_threshold = TASK_TIMING_DEFAULT_BUSY_THRESHOLD,
    };
    /* With -c, the settings of the cluster that has this rest_url. */
    for (size_t i = 0; i < cfg->n_flink; i++)
        if (cfg->flink[i].rest_url && strcmp(cfg->flink[i].rest_url, url) == 0)
            fl = cfg->flink[i];
    struct flink_rest_opts ro = {
        .busy_threshold = fl.bottleneck_threshold,
        .max_response_bytes = cfg->agent.max_response_bytes,
        .max_label_bytes = cfg->trim.max_label_bytes,
    };
    fr = flink_rest_new(&fl, &ro, err, sizeof(err));
    if (!fr) {
        fprintf(stderr, "lagwatch: %s\n", err);
        rc = EXIT_USAGE;
        goto out;
    }
    struct scraper_opts so = {
        .timeout_ms = cfg->agent.scrape_timeout_ms,
        .max_bytes = cfg->agent.max_response_bytes,
        .concurrency = fl.rest_concurrency,
    };
    sc = scraper_new(&so);
    if (!sc) {
        fprintf(stderr, "lagwatch: cannot create the HTTP scraper\n");
        goto out;
    }
    if (o->prom)
        o->expo = expo_new(256u << 20);
    rc = flink_rest_collect(fr, sc, now, print_point, o) < 0 ? EXIT_RUNTIME : 0;
    if (o->prom) {
        buf_reset(&o->line);
        expo_write_text(o->expo, &o->line);
        if (fwrite(o->line.data, 1, o->line.len, stdout) != o->line.len)
            rc = EXIT_RUNTIME;
    }
    fflush(stdout);
    const struct flink_rest_stats *fs = flink_rest_stats(fr);
    fprintf(stderr,
            "collected '%s': %llu REST requests, %llu errors, %llu job and "
            "task timing points\n",
            url, (unsigned long long)fs->requests_last,
            (unsigned long long)fs->errors_last,
            (unsigned long long)fs->points_last);
out:
    expo_free(&o->expo);
    scraper_free(&sc);
    flink_rest_free(&fr);
    return rc;
}

static const char scrape_usage[] =
    "usage: lagwatch scrape URL [-c FILE] [--format line|prom]\n";

int cmd_scrape(int argc, char **argv)
{
    const char *path = NULL;
    const char *format = "line";
    int rc = EXIT_USAGE;
    struct config *cfg = NULL;
    struct scraper *sc = NULL;
    struct reporters *rep = NULL;
    struct scrape_out o;
    memset(&o, 0, sizeof(o));
    buf_init(&o.line, 0);
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        CMD_COMMON_OPTIONS,
    };
    int c;
    optind = 1;
    while ((c = cmd_getopt(argc, argv, "c:f:h", opts, scrape_usage,
                           scrape_usage, &path, &rc)) > 0)
        if (c == 'f')
            format = optarg;
    if (c == 0)
        goto out;
    if (optind != argc - 1) {
        fputs(scrape_usage, stderr);
        goto out;
    }
    const char *url = argv[optind];
    if (strcmp(format, "line") != 0 && strcmp(format, "prom") != 0) {
        fprintf(stderr, "lagwatch: unknown --format '%s' (line or prom)\n",
                format);
        goto out;
    }
    o.prom = strcmp(format, "prom") == 0;

    char err[1024];
    if (path) {
        cfg = config_load(path, err, sizeof(err));
    } else {
        static const char defaults[] = "agent: {}\n";
        cfg = config_load_string("(built-in defaults)", defaults,
                                 sizeof(defaults) - 1, err, sizeof(err));
    }
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    enum log_level lvl;
    if (log_level_parse(cfg->agent.log_level, &lvl) == 0)
        log_set_level(lvl);

    o.schema_opts.fold_fields = cfg->trim.fold;
    o.prom_opts.fold = cfg->trim.fold;
    o.prom_opts.timestamps = false;

    int64_t now = clock_wall_ms();
    if (!is_reporter_url(url)) {
        rc = scrape_rest(url, cfg, &o, now);
        goto out;
    }
    struct scraper_opts so = {
        .timeout_ms = cfg->agent.scrape_timeout_ms,
        .max_bytes = cfg->agent.max_response_bytes,
        .concurrency = 1,
    };
    sc = scraper_new(&so);
    rep = reporters_new(&cfg->trim, print_series, &o, err, sizeof(err));
    if (!sc || !rep) {
        fprintf(stderr, "lagwatch: %s\n", sc ? err : "cannot create scraper");
        rc = EXIT_RUNTIME;
        goto out;
    }
    struct reporter_target t = {.url = url, .cluster = ""};
    struct reporters_stats st;
    rc = reporters_collect(rep, sc, &t, 1, now, &st) < 0 ? EXIT_RUNTIME : 0;
    fflush(stdout);
    fprintf(stderr,
            "scraped %llu samples from '%s', kept %llu series "
            "(%llu folded, %llu dropped, %llu parse errors)\n",
            (unsigned long long)st.samples, url,
            (unsigned long long)st.series_out, (unsigned long long)st.folded_in,
            (unsigned long long)st.dropped,
            (unsigned long long)st.parse_errors);
out:
    reporters_free(&rep);
    scraper_free(&sc);
    flink_schema_scratch_release(&o.scratch);
    buf_release(&o.line);
    config_free(&cfg);
    return rc;
}
