/*
 * agent: the collection core that `lagwatch run` drives.
 *
 * Owns, for one loaded configuration, the collectors, the pipeline and the
 * sinks. One cycle runs
 *
 *   collectors: reporter endpoints (flink/reporters.h: scrape, parse,
 *               trim, fold) -> trimmed series
 *               JobManager REST (flink/flink_rest.h) -> job and timing
 *               points
 *               Kafka lag (kafka/lagcollect.h) -> lag points
 *   -> the /metrics model of the cycle (series and REST points), handed
 *      over by agent_take_metrics
 *   -> every configured sink (sinks/sink.h, in a loop: InfluxDB ring,
 *      remote write), which queue and send in their own threads;
 *      agent_drain() waits for them.
 *
 * Not thread-safe: one thread drives an agent.
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

struct agent_cycle_report {
    int64_t ts_ms;
    double duration_s;
    uint64_t targets;
    uint64_t targets_failed;
    uint64_t samples_scraped;
    uint64_t parse_errors;
    uint64_t series_kept;
    uint64_t samples_dropped;       /* by trim rules and caps */
    uint64_t samples_folded;        /* folded into per-task series */
    uint64_t samples_scrape_failed; /* of targets that failed half way */
    uint64_t labels_truncated;      /* values cut to max_label_bytes */
    uint64_t clock_steps_back;      /* 1 when the wall clock went back */
    uint64_t points_out;            /* series and points handed to the sinks */
    uint64_t targets_discovered;    /* reporter targets found via REST */
    uint64_t rest_requests;         /* JobManager REST requests this cycle */
    uint64_t rest_errors;
    uint64_t rest_points; /* lagwatch_job and lagwatch_task_timing */
};

/* Borrows cfg, which must outlive the agent. NULL with the reason in err
 * when cfg configures no sink or a collector or sink cannot start. */
struct agent *agent_new(const struct config *cfg, char *err, size_t errlen);
void agent_free(struct agent **agp);

/* Runs one collection cycle. Returns 0 when every target was collected and
 * everything was handed to every sink, -1 otherwise (failures are logged).
 * The report stays valid until the next cycle or agent_free. */
int agent_cycle(struct agent *ag, struct agent_cycle_report **rep);
/* The same with the cycle's timestamp given: every series and point of
 * the cycle carries ts_ms (the aligned start with agent.align). */
int agent_cycle_at(struct agent *ag, int64_t ts_ms,
                   struct agent_cycle_report **rep);

/* Waits for the sinks to write everything queued so far, sharing the
 * deadline (sink_drain_all). 0 when all of it was written, 1 when nothing
 * was lost but some is still spooled (a node down, the deadline), -1 when
 * anything was dropped. */
int agent_drain(struct agent *ag, uint64_t timeout_ms);

/* Human-readable summary of the last cycle (what was collected, then each
 * sink's lines: where it went), for `run --once` and the demo. */
void agent_print_report(struct agent *ag, FILE *out);

struct lagcollect;
/* The Kafka lag of the last cycle (for /api/v1/lag and /api/v1/ready). */
const struct lagcollect *agent_lagcollect(const struct agent *ag);

struct status;
/* The status snapshot of the last completed cycle (serve/status.h) for the
 * status page; the caller owns it (status_free). */
struct status *agent_take_status(struct agent *ag);

struct expo;
/* Hands over the /metrics model of the last completed cycle: its trimmed
 * Flink series, derived timing, Kafka lag and the self-metrics (the
 * agent's, agent_metrics.h, then each sink's). The caller owns
 * it (expo_free); a second call before the next cycle gets the
 * self-metrics only. */
struct expo *agent_take_metrics(struct agent *ag);

#endif
