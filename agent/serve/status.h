/*
 * status: the snapshot behind the status page (`/`) and /api/v1/status
 * (lagwatch(8), STATUS PAGE), and its JSON writer.
 *
 * A plain tree of heap structs built once per cycle on the collection
 * thread (agent_status.h fills it), handed over whole to the endpoint with
 * the /metrics model and then only read, by any number of HTTP threads:
 * nothing in it points into agent state. Every array is bounded by the
 * builder (STATUS_MAX_*), so the page and the JSON stay bounded too.
 */
#ifndef SERVE_STATUS_H
#define SERVE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* One group's chart: at most one sample per STATUS_HIST_STEP_MS, the last
 * STATUS_HIST_LEN of them (an hour). */
#define STATUS_HIST_LEN     120
#define STATUS_HIST_STEP_MS 30000
/* Bounds of one snapshot; what passes them is counted in the *_omitted
 * fields and said on the page. */
#define STATUS_MAX_TARGETS 4096
#define STATUS_MAX_JOBS    20000
#define STATUS_MAX_TASKS   256 /* per job */
#define STATUS_MAX_GROUPS  4096
#define STATUS_MAX_NODES   1024

struct status_target {
    char *url;
    char *cluster;
    const char *kind; /* "reporter" or "jobmanager" (static strings) */
    bool ok;
    int64_t last_ms; /* when it was last scraped */
    double duration_s;
    uint64_t samples;  /* reporter: samples; JobManager: points */
    uint64_t bytes;    /* reporter only */
    uint64_t requests; /* JobManager only */
    char *error;       /* NULL when ok */
};

/* NaN where the JobManager gave nothing. */
struct status_task {
    char *name;
    double busy;          /* busy_ratio_max, 0..1 */
    double backpressured; /* backpressured_ratio_max, 0..1 */
    double idle;          /* idle_ratio_min, 0..1 */
    double record_us;     /* record_time_us_max */
    double watermark_lag_ms;
    bool bottleneck;
};

/* -1 where the JobManager gave nothing. */
struct status_job {
    char *cluster;
    char *name;
    bool running;
    int64_t uptime_ms;
    int64_t restarts;
    int64_t last_checkpoint_ms; /* completion time, epoch ms */
    int64_t last_checkpoint_duration_ms;
    int64_t failed_checkpoints;
    struct status_task *tasks;
    size_t n_tasks;
    size_t tasks_omitted;
};

struct status_group {
    char *cluster;
    char *group;
    char *job; /* mapped job_name or NULL */
    char *slowest_topic;
    int32_t slowest_partition;
    double lag_seconds; /* of the slowest partition over its topics */
    int64_t lag_records;
    int64_t consumed_through_ms; /* the lowest over its topics; 0 = none */
    bool stale;
    /* When the group catches up at the rates of kafka[].rate_window
     * (seconds of its slowest topic; INFINITY: not gaining; NaN: unknown,
     * fewer than two comparable sweeps). */
    double catch_up_s;
    /* The chart, oldest first: lag_seconds every STATUS_HIST_STEP_MS. */
    float hist[STATUS_HIST_LEN];
    size_t n_hist;
};

struct status_node {
    char *sink; /* "sinks.influxdb", ... */
    char *name;
    char *url;
    bool up;
    bool down;
    uint64_t queue_bytes;
    uint64_t spool_bytes;
    uint64_t written;
    uint64_t dropped;
    char *error; /* NULL when none */
};

struct status {
    char *version;
    char *agent_name;
    char *config_path;
    int64_t config_loaded_ms;
    int64_t cycle_ts_ms; /* the cycle's timestamp (aligned when align) */
    double cycle_s;
    uint64_t interval_ms;
    bool align;
    char *fingerprint; /* the ring's, NULL without sinks.influxdb */
    struct status_target *targets;
    size_t n_targets, targets_omitted;
    struct status_job *jobs;
    size_t n_jobs, jobs_omitted;
    struct status_group *groups;
    size_t n_groups, groups_omitted;
    struct status_node *nodes;
    size_t n_nodes;
};

/* NULL-safe; sets *sp to NULL. */
void status_free(struct status **sp);

/* Frees what the n jobs own (names, tasks), not the array itself. */
void status_jobs_release(struct status_job *jobs, size_t n);

/* The index of the job's bottleneck task, or -1. */
long status_job_bottleneck(const struct status_job *j);

/* Where a job's points go: appends the owning node names (", "-separated)
 * of shard key key to out. Supplied by the endpoint, which holds the
 * ring; NULL when there is no ring. */
typedef void (*status_owners_fn)(void *ctx, const char *key, struct buf *out);

/* The snapshot as JSON (the /api/v1/status document, lagwatch(8)), with
 * each job's owning nodes when owners is not NULL. -1 when b's cap is
 * reached. */
int status_json(struct buf *b, const struct status *st, status_owners_fn owners,
                void *ctx);

#endif
