/*
 * flink_json: parsers for the Flink JobManager REST responses lagwatch uses.
 *
 * Every parser takes the raw body (not NUL-terminated, already size-capped
 * by the fetcher), fills a caller-owned result and returns 0, or -1 with a
 * message in err. Input is untrusted: wrong types anywhere, missing keys,
 * NaN as a string, numbers where strings belong and the reverse give either
 * a clean -1 or a result with that item left out, never a crash. Results
 * own their strings; release them with the matching *_release(), which is
 * safe on a zeroed or already released result. Any thread; no shared state.
 *
 * Numbers: Flink writes doubles like Java (4.5678901E7) and NaN as the
 * string "NaN"; metric values in [{"id","value"}] lists are strings
 * ("902", "98.0", "NaN", "-9223372036854775808"). Both forms are accepted
 * wherever a number is expected.
 */
#ifndef AGENT_FLINK_JSON_H
#define AGENT_FLINK_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flink/task_timing.h"

/* Flink's own upper bound on parallelism (KeyGroupRangeAssignment). */
#define FLINK_MAX_PARALLELISM 32768

/* ---- GET /jobs/overview ---- */

struct flink_job_summary {
    char *jid; /* validated: 1-64 chars of [0-9A-Za-z] */
    char *name;
    char *state;           /* JobStatus, e.g. "RUNNING" */
    int64_t start_time_ms; /* -1 when absent */
};

struct flink_jobs {
    struct flink_job_summary *v;
    size_t n;
    size_t skipped; /* entries left out for bad types or ids */
};

int flink_json_jobs_overview(const char *s, size_t len, struct flink_jobs *out,
                             char *err, size_t errlen);
void flink_jobs_release(struct flink_jobs *j);

/* FINISHED, CANCELED, FAILED and SUSPENDED: the job will not run again
 * under this jid. */
bool flink_job_state_terminal(const char *state);

/* ---- GET /jobs/:jid (vertices and plan) ---- */

struct flink_vertex {
    char *id; /* validated like a jid */
    char *name;
    size_t parallelism; /* 1 .. FLINK_MAX_PARALLELISM */
    size_t *upstream;   /* indices into flink_job_details.v, from the plan */
    size_t n_upstream;
};

struct flink_job_details {
    char *jid;
    char *name;
    char *state;
    struct flink_vertex *v;
    size_t n;
    bool has_plan; /* false: no edges known, every task is a root */
};

int flink_json_job_details(const char *s, size_t len,
                           struct flink_job_details *out, char *err,
                           size_t errlen);
void flink_job_details_release(struct flink_job_details *d);

/* ---- [{"id","value"}] metric lists (job, vertex, TM metrics) ---- */

struct flink_metric {
    char *id;
    double value; /* NaN when the value is "NaN" or not a number */
    bool numeric; /* value parsed as a number (NaN included) */
};

struct flink_metrics {
    struct flink_metric *v;
    size_t n;
};

int flink_json_metrics(const char *s, size_t len, struct flink_metrics *out,
                       char *err, size_t errlen);
void flink_metrics_release(struct flink_metrics *m);
/* The numeric value of id; -1 when absent or not numeric. */
int flink_metrics_get(const struct flink_metrics *m, const char *id,
                      double *value);

/* Fills st[k] from ids "<k>.busyTimeMsPerSecond",
 * "<k>.backPressuredTimeMsPerSecond", "<k>.idleTimeMsPerSecond",
 * "<k>.numRecordsInPerSecond" and "<k>.currentInputWatermark" for k < n
 * (task scope only; operator-scoped ids "<k>.<operator>.<metric>" are
 * ignored). Fields not present are left as they were, so one vertex's
 * answer may come in several chunks: clear the array with
 * task_timing_subtask_clear() first. Returns the number of values set. */
size_t flink_metrics_subtask_timing(const struct flink_metrics *m,
                                    struct task_timing_subtask *st, size_t n);

/* ---- GET /jobs/:jid/checkpoints ---- */

enum flink_checkpoint_kind {
    FLINK_CKP_UNKNOWN = 0,
    FLINK_CKP_COMPLETED,
    FLINK_CKP_FAILED,
    FLINK_CKP_IN_PROGRESS,
};

struct flink_checkpoints {
    bool has_counts;
    int64_t restored, total, in_progress, completed, failed;
    /* The latest completed checkpoint: latest.completed, or when that is
     * null the completed history entry with the highest id. */
    bool has_latest;
    int64_t latest_id;
    int64_t latest_ack_ms;      /* latest_ack_timestamp */
    int64_t latest_trigger_ms;  /* trigger_timestamp */
    int64_t latest_duration_ms; /* end_to_end_duration */
    int64_t latest_size_bytes;  /* checkpointed_size */
    /* (every count and latest_* field is -1 when absent) */
    /* History entries by kind, from the discriminator className (1.19),
     * @class (older) or clazz (1.15 spec), else from status. */
    size_t history_n[4];
};

int flink_json_checkpoints(const char *s, size_t len,
                           struct flink_checkpoints *out, char *err,
                           size_t errlen);

/* ---- GET /taskmanagers ---- */

struct flink_taskmanager {
    char *id;
    char *host; /* from path "<proto>://flink@HOST:port/..." or id
                   "HOST:port-xxxxxx"; validated hostname/IP chars */
};

struct flink_taskmanagers {
    struct flink_taskmanager *v;
    size_t n;
    size_t skipped;
};

int flink_json_taskmanagers(const char *s, size_t len,
                            struct flink_taskmanagers *out, char *err,
                            size_t errlen);
void flink_taskmanagers_release(struct flink_taskmanagers *t);

/* The first message of a Flink error body {"errors":["..."]} copied into
 * out (truncated to outlen), or -1 when the body is not one. */
int flink_json_error_message(const char *s, size_t len, char *out,
                             size_t outlen);

#endif
