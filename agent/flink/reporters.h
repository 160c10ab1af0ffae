/*
 * reporters: collects Flink PrometheusReporter endpoints.
 *
 * One collection fetches every endpoint concurrently and streams each body
 * through the exposition parser into the trimmer, so a large scrape is never
 * held whole in memory. Each endpoint is all or nothing: its trimmed series
 * are staged (trim.h) and go to the output callback, or into the folds,
 * when the endpoint has completed; an endpoint that fails half way
 * contributes nothing (counted in dropped_scrape_failed). Series folded over
 * subtasks (which may span TaskManagers) are emitted once every endpoint has
 * completed, and carry how many subtasks went in (series.count).
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
    uint64_t discarded; /* trimmed series dropped because it failed */
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
    uint64_t dropped_scrape_failed; /* of failed endpoints: staged, dropped */
    uint64_t labels_truncated;      /* label values cut to max_label_bytes */
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
