/*
 * reporters: collects Flink PrometheusReporter endpoints.
 *
 * One collection fetches every endpoint concurrently and streams each body
 * through the exposition parser into the trimmer, so a large scrape is never
 * held whole in memory. Trimmed series go to the output callback as they are
 * produced; series folded over subtasks (which may span TaskManagers) are
 * emitted once every endpoint has completed.
 */
#ifndef AGENT_REPORTERS_H
#define AGENT_REPORTERS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pipeline/sample.h"

struct scraper;
struct reporters;

struct reporter_target {
    const char *url;
    const char *cluster; /* value of the flink_cluster label */
};

/* Outcome of one endpoint in the last collection. */
struct reporter_result {
    const char *url;
    bool ok;
    char error[256];
    double duration_s;
    uint64_t bytes;
    uint64_t samples;
    uint64_t parse_errors;
};

struct reporters_stats {
    uint64_t targets;
    uint64_t targets_failed;
    uint64_t samples;      /* parsed from the expositions */
    uint64_t parse_errors; /* malformed lines skipped */
    uint64_t bytes;
    uint64_t series_out; /* series handed to the output after trimming */
    uint64_t dropped;    /* samples dropped by trimming rules or caps */
    uint64_t folded_in;  /* samples folded into per-task series */
};

/* The trim config is compiled here; out receives every series. */
struct reporters *reporters_new(const struct cfg_trim *trim, series_fn out,
                                void *ctx, char *err, size_t errlen);
void reporters_free(struct reporters **rp);

/* Scrapes the n targets with sc, timestamps every series with ts_ms (unless
 * the exposition carries its own), and fills st. Returns 0 when every
 * target succeeded, -1 when any failed (each failure is logged once, naming
 * its URL) or the output callback aborted. */
int reporters_collect(struct reporters *r, struct scraper *sc,
                      const struct reporter_target *targets, size_t n,
                      int64_t ts_ms, struct reporters_stats *st);

/* Per-target outcomes of the last collection (n as passed to collect). */
const struct reporter_result *reporters_results(const struct reporters *r,
                                                size_t *n);

#endif
