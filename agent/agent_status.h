/*
 * agent_status: builds the status snapshot (serve/status.h) of each cycle
 * for the status page and /api/v1/status (lagwatch(8), STATUS PAGE).
 *
 * Keeps what the snapshot needs across cycles and nothing else: the jobs
 * and tasks of the REST points seen this cycle (lagwatch_job and
 * lagwatch_task_timing, the points the sinks get), and per consumer group
 * the last hour of its time lag in a fixed ring of STATUS_HIST_LEN samples
 * (memory bounded by STATUS_MAX_GROUPS). Everything in a built snapshot is
 * copied: it shares nothing with the agent.
 *
 * Not thread-safe: the agent's collection thread only.
 */
#ifndef AGENT_AGENT_STATUS_H
#define AGENT_AGENT_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "flink/flink_rest.h"
#include "flink/reporters.h"
#include "kafka/kafka_result.h"
#include "pipeline/sample.h"
#include "serve/status.h"
#include "sink.h"

struct agent_status;

struct agent_status_in {
    const struct config *cfg;
    int64_t ts_ms;
    double cycle_s;
    const struct reporter_result *res; /* parallel to targets */
    const struct reporter_target *targets;
    size_t n_res;
    struct flink_rest *const *rest; /* per cfg->flink entry, NULL: none */
    const struct kafka_lag_cluster *const *lag; /* NULL entries skipped */
    size_t n_lag;
    struct sink *const *sinks;
    size_t n_sinks;
};

struct agent_status *agent_status_new(void);
void agent_status_free(struct agent_status **asp);

/* A cycle starts: forgets the jobs of the previous one. */
void agent_status_begin(struct agent_status *as);

/* Takes note of a REST point (other measurements are ignored). */
void agent_status_point(struct agent_status *as, const struct point *p);

/* The snapshot of the cycle; the caller owns it (status_free). version,
 * config_path and fingerprint are left for the caller to fill. */
struct status *agent_status_build(struct agent_status *as,
                                  const struct agent_status_in *in);

#endif
