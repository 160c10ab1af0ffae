/*
 * agent: the collection core that `lagwatch run` drives.
 *
 * Owns, for one loaded configuration, the scraper, the reporter collector,
 * the ring, the router and the InfluxDB sink. One cycle scrapes every
 * target, trims, maps each series to the InfluxDB schema, routes it over the
 * ring and hands it to the sink, whose per-node writer threads send it in
 * the background; agent_drain() waits for them.
 */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/buf.h"
#include "config.h"

struct agent;

struct agent_node_report {
    const char *name;
    const char *url;
    uint64_t points_routed;  /* this cycle */
    uint64_t points_written; /* since start */
    uint64_t points_dropped; /* since start */
    uint64_t points_retried; /* since start */
    uint64_t points_spooled; /* since start */
    uint64_t spool_points;   /* waiting in the spool now */
    char last_error[256];
};

struct agent_cycle_report {
    int64_t ts_ms;
    double duration_s;
    uint64_t targets;
    uint64_t targets_failed;
    uint64_t samples_scraped;
    uint64_t parse_errors;
    uint64_t series_kept;
    uint64_t samples_dropped;    /* by trim rules and caps */
    uint64_t samples_folded;     /* folded into per-task series */
    uint64_t points_out;         /* mapped points, before replication */
    uint64_t points_unwritable;  /* e.g. every field NaN */
    uint64_t targets_discovered; /* reporter targets found via REST */
    uint64_t rest_requests;      /* JobManager REST requests this cycle */
    uint64_t rest_errors;
    uint64_t rest_points; /* lagwatch_job and lagwatch_task_timing */
    size_t n_nodes;
    struct agent_node_report *nodes; /* owned by the agent */
};

/* Borrows cfg, which must outlive the agent. */
struct agent *agent_new(const struct config *cfg, char *err, size_t errlen);
void agent_free(struct agent **agp);

/* Runs one collection cycle. Returns 0 when every target was collected and
 * every point was handed to the sink, -1 otherwise (failures are logged).
 * The report stays valid until the next cycle or agent_free. */
int agent_cycle(struct agent *ag, struct agent_cycle_report **rep);

/* Waits for the sink to write everything queued so far (see
 * influx_sink_drain). 0 when all of it was written, 1 when nothing was lost
 * but some is still spooled (a node down, the deadline), -1 when anything
 * was dropped. */
int agent_drain(struct agent *ag, uint64_t timeout_ms);

/* Refreshes the per-node totals of the last report from the sink. */
void agent_refresh_nodes(struct agent *ag);

/* Human-readable summary of the last cycle (what was collected and where
 * it went), for `run --once` and the demo. */
void agent_print_report(struct agent *ag, FILE *out);

const char *agent_ring_fingerprint(const struct agent *ag);

struct lagcollect;
/* The Kafka lag of the last cycle (for /api/v1/lag and /api/v1/ready). */
const struct lagcollect *agent_lagcollect(const struct agent *ag);

struct expo;
/* Adds lagwatch's self-metrics (lagwatch_* families with HELP and TYPE) as
 * of the last completed cycle to the /metrics model out. */
void agent_write_metrics(struct agent *ag, struct expo *out);

/* Hands over the /metrics model of the last completed cycle: its trimmed
 * Flink series, derived timing, Kafka lag and self-metrics. The caller owns
 * it (expo_free); a second call before the next cycle gets the
 * self-metrics only. */
struct expo *agent_take_metrics(struct agent *ag);

#endif
