/*
 * agent_metrics: the agent's own lagwatch_* families on /metrics
 * (lagwatch-metrics(7)): build and cycle totals, the scrape outcome of
 * every reporter endpoint seen, and the JobManager REST collectors'
 * counters. The sinks (sinks/sink.h) and the Kafka collector write their
 * own families; the agent calls them after these.
 *
 * Owns the cumulative counters (reporter endpoints come and go with
 * discovery, so they are kept by URL). One thread: the agent's.
 */
#ifndef AGENT_AGENT_METRICS_H
#define AGENT_AGENT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "config.h"
#include "flink/reporters.h"

struct agent_metrics;
struct expo;
struct flink_rest;

struct agent_metrics *agent_metrics_new(void);
/* NULL-safe; sets *mp to NULL. */
void agent_metrics_free(struct agent_metrics **mp);

/* Adds the cycle just finished: r's counts, a failure when rc < 0, and
 * the outcome res[i] of reporter targets[i] for i < n. */
void agent_metrics_account(struct agent_metrics *m,
                           const struct agent_cycle_report *r, int rc,
                           const struct reporter_result *res,
                           const struct reporter_target *targets, size_t n);

/* Writes the totals, the last cycle's duration and start (last), the
 * /metrics samples the last cycle left out (expo_dropped) and the per-
 * endpoint scrape families. */
void agent_metrics_write(const struct agent_metrics *m,
                         const struct agent_cycle_report *last,
                         uint64_t expo_dropped, struct expo *out);

/* Writes the lagwatch_rest_* families of rest[i], the collector of
 * cfg->flink[i] (NULL when that cluster has no rest_url); nothing when
 * no cluster has one. */
void agent_metrics_write_rest(const struct config *cfg,
                              struct flink_rest *const *rest, struct expo *out);

#endif
