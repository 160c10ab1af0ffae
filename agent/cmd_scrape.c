/*
 * lagwatch scrape URL [-c FILE] [--format line|prom]: fetch one
 * PrometheusReporter endpoint, trim it with the config's rules (the
 * built-in defaults without -c) and print the result.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cmd.h"
#include "config.h"
#include "fmt_prom.h"
#include "flink_schema.h"
#include "lineproto.h"
#include "log.h"
#include "reporters.h"
#include "scrape.h"

struct scrape_out {
    bool prom;
    struct fmt_prom_opts prom_opts;
    struct flink_schema_opts schema_opts;
    struct flink_schema_scratch scratch;
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
        {"config", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'h':
            fputs(scrape_usage, stdout);
            rc = 0;
            goto out;
        default:
            fputs(scrape_usage, stderr);
            goto out;
        }
    }
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

    if (flink_schema_opts_from_cfg(&cfg->trim, &o.schema_opts, err,
                                   sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    unsigned ff = o.schema_opts.fold_fields ? o.schema_opts.fold_fields
                                            : (FLINK_SCHEMA_MAX | FLINK_SCHEMA_SUM | FLINK_SCHEMA_AVG);
    o.prom_opts.fold_max = ff & FLINK_SCHEMA_MAX;
    o.prom_opts.fold_sum = ff & FLINK_SCHEMA_SUM;
    o.prom_opts.fold_avg = ff & FLINK_SCHEMA_AVG;
    o.prom_opts.timestamps = false;

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
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    struct reporters_stats st;
    rc = reporters_collect(rep, sc, &t, 1, now, &st) < 0 ? EXIT_RUNTIME : 0;
    fflush(stdout);
    fprintf(stderr,
            "scraped %llu samples from '%s', kept %llu series "
            "(%llu folded, %llu dropped, %llu parse errors)\n",
            (unsigned long long)st.samples, url,
            (unsigned long long)st.series_out,
            (unsigned long long)st.folded_in, (unsigned long long)st.dropped,
            (unsigned long long)st.parse_errors);
out:
    reporters_free(&rep);
    scraper_free(&sc);
    flink_schema_scratch_release(&o.scratch);
    buf_release(&o.line);
    config_free(&cfg);
    return rc;
}
