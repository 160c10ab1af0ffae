/*
 * flink_rest: the Flink JobManager REST collector.
 *
 * One collect call is one cycle. It turns the JobManager's view into points
 * of two measurements (lagwatch(8), DATA WRITTEN TO INFLUXDB):
 *
 *   lagwatch_job          tags flink_cluster, job_name; integer fields
 *                         running (1 = RUNNING, 0 = any other state; an int
 *                         forever, never a boolean), uptime_ms, restarts
 *                         (numRestarts, else fullRestarts on old Flink),
 *                         last_checkpoint_completed_ms (latest_ack_timestamp
 *                         of the latest completed checkpoint),
 *                         last_checkpoint_duration_ms (end_to_end_duration),
 *                         last_checkpoint_size_bytes (checkpointed_size),
 *                         completed_checkpoints, failed_checkpoints,
 *                         in_progress_checkpoints; a field is left out when
 *                         the JobManager did not give it
 *   lagwatch_task_timing  tags flink_cluster, job_name, task_name; float
 *                         fields busy_ratio_max, backpressured_ratio_max,
 *                         idle_ratio_min, record_time_us_max (each left out
 *                         when undefined); integer fields slowest_subtask
 *                         and bottleneck (0/1, an int forever; left out for
 *                         every task of a job whose timing was incomplete
 *                         this cycle, since the rule compares all tasks);
 *                         integer field watermark_lag_ms (an int forever):
 *                         the cycle's ts_ms minus the lowest
 *                         currentInputWatermark over the task's subtasks
 *                         (values <= 0, i.e. no watermark yet, ignored),
 *                         clamped to 0; left out when no subtask has one
 *                         (sources)
 *
 * job_name and task_name are normalized like the PrometheusReporter writes
 * label values (hashring_normalize_dup: every code point outside
 * [A-Za-z0-9:_] becomes one '_'). A job is identified by its name, never its
 * jid, so a job resubmitted under a new jid continues the same series. When
 * several jids share a name, the one that is not terminal wins (RUNNING first,
 * then the latest start). A job seen RUNNING that is then FINISHED, CANCELED,
 * FAILED or SUSPENDED (or gone from the JobManager) gets one last point with
 * running=0 and is not reported again until it runs again.
 *
 * Requests per cycle (grow with jobs and vertices, not with subtasks x
 * metrics): GET /jobs/overview; per job that is not terminal
 * /jobs/:jid/metrics?get=uptime,runningTime,numRestarts,fullRestarts and
 * /jobs/:jid/checkpoints, plus for a RUNNING job /jobs/:jid (vertices and
 * plan) and per vertex /jobs/:jid/vertices/:vid/metrics?get=<k>.<metric>,...
 * with busyTimeMsPerSecond, backPressuredTimeMsPerSecond,
 * idleTimeMsPerSecond, numRecordsInPerSecond and currentInputWatermark of
 * every subtask k. That
 * non-aggregated route silently drops unknown names (older Flink, legacy
 * sources), unlike subtasks/metrics, where one unknown name empties the
 * answer. Its query is split into several requests only when it would pass
 * FLINK_REST_MAX_QUERY bytes (Flink's Netty rejects request lines over
 * 4096 bytes): about 20 subtasks per request.
 *
 * Failures (JobManager unreachable, timeout, non-2xx such as a job that
 * vanished between two requests, HTML or truncated JSON, a body over the
 * cap) give one warning naming the URL and one counted error each; the
 * rest of the cycle goes on. A 404 from /checkpoints saying checkpointing
 * is not enabled is not an error.
 *
 * Not thread-safe: one thread per collector (and per scraper).
 */
#ifndef AGENT_FLINK_REST_H
#define AGENT_FLINK_REST_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pipeline/sample.h"
#include "flink/scrape.h"

#define FLINK_REST_MAX_QUERY            3000
#define FLINK_REST_DEFAULT_MAX_RESPONSE (16u << 20)

struct flink_rest_opts {
    double busy_threshold;       /* bottleneck threshold; 0 = 0.8 */
    uint64_t max_response_bytes; /* cap on each body; 0 = 16 MiB */
    /* task_name values longer than this are cut as trim cuts label values
     * (pipeline/labelcut.h); 0 = 4096, as trim.max_label_bytes */
    uint64_t max_label_bytes;
};

enum flink_rest_err {
    FLINK_REST_ERR_TRANSPORT = 0, /* connect refused, reset, DNS, ... */
    FLINK_REST_ERR_TIMEOUT,
    FLINK_REST_ERR_HTTP,      /* non-2xx status */
    FLINK_REST_ERR_TOO_LARGE, /* body over max_response_bytes */
    FLINK_REST_ERR_PARSE,     /* not the JSON document expected */
    FLINK_REST_ERR_N_,
};

struct flink_rest_stats {
    uint64_t cycles;
    uint64_t requests_last; /* requests of the last cycle */
    uint64_t requests_total;
    uint64_t errors_last; /* errors of the last cycle */
    uint64_t errors_total[FLINK_REST_ERR_N_];
    uint64_t points_last;      /* points handed to point_fn last cycle */
    double duration_s_last;    /* wall time of the last cycle */
    uint64_t labels_truncated; /* task_name values cut, in total */
};

struct flink_rest;

/* cfg must have a rest_url (http:// or https://) and stays owned by the
 * caller; it must outlive the collector. o may be NULL for defaults.
 * Returns NULL with a message in err on bad input. */
struct flink_rest *flink_rest_new(const struct cfg_flink *cfg,
                                  const struct flink_rest_opts *o, char *err,
                                  size_t errlen);
void flink_rest_free(struct flink_rest **frp);

/* Runs one cycle with sc (timeouts and concurrency are the scraper's) and
 * hands every point, stamped ts_ms, to fn. Points are views valid during
 * the call only. Returns 0 when every request and every fn call succeeded,
 * -1 otherwise (points of the parts that worked are emitted either way). */
int flink_rest_collect(struct flink_rest *fr, struct scraper *sc, int64_t ts_ms,
                       point_fn fn, void *ctx);

/* GET /taskmanagers and builds http://<tm host>:<discover_port>/metrics
 * for each distinct TaskManager host (from its RPC path, else from a
 * "host:port-xxxxxx" id). On success *urls is a heap array of n heap
 * strings, the caller frees each and the array. Returns -1 (one log line)
 * when discovery is off, the request fails or the answer is not valid. */
int flink_rest_discover_reporters(struct flink_rest *fr, struct scraper *sc,
                                  char ***urls, size_t *n);

const struct flink_rest_stats *flink_rest_stats(const struct flink_rest *fr);
const char *flink_rest_err_name(enum flink_rest_err e);

#endif
