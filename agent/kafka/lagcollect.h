/*
 * lagcollect: the Kafka lag sweeps of every configured cluster, for one
 * agent cycle at a time.
 *
 * Keeps the latest result per cluster: a sweep that fails leaves the last
 * good result in place, marked stale with the error (nothing is
 * fabricated), and no points are written for a stale result. Results feed
 * the kafka_consumergroup_lag points, the kafka-lag-exporter-style series
 * on /metrics, and /api/v1/lag and /api/v1/ready.
 */
#ifndef AGENT_LAGCOLLECT_H
#define AGENT_LAGCOLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/buf.h"
#include "config.h"
#include "kafka/kafka_lag.h"
#include "pipeline/sample.h"

struct lagcollect;

/* One kafka_lag per cfg->kafka[] entry; cfg must outlive the collector.
 * NULL with a message in err when a cluster cannot be set up. */
struct lagcollect *lagcollect_new(const struct config *cfg, char *err,
                                  size_t errlen);
void lagcollect_free(struct lagcollect **lcp);

/* Sweeps every cluster (each within timeout_ms) and hands the points of
 * every fresh result to fn. Returns 0 when every sweep succeeded, -1 when
 * any failed (logged once per change of state) or fn failed. */
int lagcollect_sweep(struct lagcollect *lc, int timeout_ms, point_fn fn,
                     void *ctx);

/* The latest result per cluster, in configuration order; an entry is NULL
 * until its first sweep. Valid until the next sweep. */
const struct kafka_lag_cluster *const *
lagcollect_results(const struct lagcollect *lc, size_t *n);

/* Deep copies of the latest results (the caller frees each with
 * kafka_lag_cluster_free and the array with free); NULL entries skipped. */
struct kafka_lag_cluster **lagcollect_copy(const struct lagcollect *lc,
                                           size_t *n);

struct expo;
/* Adds the kafka-lag-exporter-style series and lagwatch_kafka_*
 * self-metrics to the /metrics model out. */
void lagcollect_write_metrics(const struct lagcollect *lc, struct expo *out);

/* One summary line per group and topic, for `run --once`. */
void lagcollect_print(const struct lagcollect *lc, FILE *out);

size_t lagcollect_count(const struct lagcollect *lc);

#endif
