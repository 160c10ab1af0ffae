/*
 * task_timing: derived per-task timing of one Flink job (pure computation).
 *
 * Input: for every task (job vertex) the per-subtask task metrics
 * busyTimeMsPerSecond, backPressuredTimeMsPerSecond, idleTimeMsPerSecond and
 * numRecordsInPerSecond (NaN when missing), and the job graph edges (the
 * upstream tasks of each task, from the plan's inputs). Output: the fields of
 * the measurement lagwatch_task_timing. A value that is not finite counts as
 * missing; no output is ever +-Inf.
 *
 *   busy_ratio_max          max over subtasks of busy / 1000
 *   backpressured_ratio_max max over subtasks of backPressured / 1000
 *   idle_ratio_min          min over subtasks of idle / 1000
 *   record_time_us_max      max over subtasks of the time one record takes,
 *                           busy / 1000 (s per s) / records in per s * 1e6,
 *                           i.e. busy_ms * 1000 / records_per_s microseconds;
 *                           a subtask counts only when busy is defined and
 *                           records in per second is > 0; undefined (NaN)
 *                           when no subtask counts
 *   watermark_min_ms        min over subtasks of currentInputWatermark
 *                           (epoch ms); a value <= 0 (Long.MIN_VALUE before
 *                           the first watermark) counts as missing, so a
 *                           subtask still waiting cannot pull the min down
 *                           to "never"; NaN when no subtask has one
 *                           (sources register no task-level gauge)
 *   slowest_subtask         the subtask with the highest busy time (ties:
 *                           lowest index); -1 when busy is undefined on
 *                           every subtask (legacy SourceFunction tasks): the
 *                           record time needs busy time too, so there is
 *                           nothing left to rank by
 *
 * A task is backpressured when backpressured_ratio_max > 0.1 (Flink's web UI
 * shows "ok" up to 10% and "low" above it).
 *
 * Bottleneck rule (at most one task per job per cycle): among the tasks that
 * are not backpressured themselves (backpressured_ratio_max <= 0.1 or
 * undefined), take the one with the highest busy_ratio_max (ties: the first
 * in job order). It is the bottleneck when its busy_ratio_max is
 * >= busy_threshold (default 0.8, configurable) and either
 *   (a) some task upstream of it, transitively through the plan's inputs,
 *       is backpressured (backpressured_ratio_max > 0.1), or
 *   (b) no task of the job is backpressured and it is the only task of the
 *       job whose busy_ratio_max is >= busy_threshold.
 * Otherwise the job has no bottleneck this cycle: a busy task with nothing
 * waiting on it is just well used, and two equally busy tasks with no
 * backpressure give no evidence which one limits the job.
 */
#ifndef AGENT_TASK_TIMING_H
#define AGENT_TASK_TIMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TASK_TIMING_BACKPRESSURED          0.1
#define TASK_TIMING_DEFAULT_BUSY_THRESHOLD 0.8

/* One subtask's task-scope metrics; NaN where missing. */
struct task_timing_subtask {
    double busy_ms;      /* busyTimeMsPerSecond */
    double bp_ms;        /* backPressuredTimeMsPerSecond */
    double idle_ms;      /* idleTimeMsPerSecond */
    double records_in;   /* numRecordsInPerSecond */
    double watermark_ms; /* currentInputWatermark, epoch ms */
};

struct task_timing_task {
    const char *name; /* borrowed, only for the caller's convenience */
    const struct task_timing_subtask *subtasks;
    size_t n_subtasks;
    const size_t *upstream; /* indices into the task array; out-of-range
                               and self entries are ignored */
    size_t n_upstream;
};

struct task_timing_result {
    double busy_ratio_max;          /* NaN = undefined */
    double backpressured_ratio_max; /* NaN = undefined */
    double idle_ratio_min;          /* NaN = undefined */
    double record_time_us_max;      /* NaN = undefined */
    double watermark_min_ms;        /* NaN = undefined */
    long slowest_subtask;           /* -1 = none */
    bool bottleneck;
};

/* Sets every field of st to NaN (missing). */
void task_timing_subtask_clear(struct task_timing_subtask *st);

/* Computes out[i] for each of the n tasks of one job, bottleneck included.
 * Returns the index of the bottleneck task, or -1 when there is none. The
 * graph may contain cycles (hostile input); they are walked once. */
long task_timing_compute(const struct task_timing_task *tasks, size_t n,
                         double busy_threshold, struct task_timing_result *out);

/* The field watermark_lag_ms at ts_ms: ts_ms - r->watermark_min_ms,
 * clamped to 0 (a JobManager clock ahead of ours, or a watermark at
 * Long.MAX_VALUE after the end of input). Returns -1 when the task has no
 * watermark (the field is left out), else 0. */
int task_timing_watermark_lag(const struct task_timing_result *r, int64_t ts_ms,
                              int64_t *lag_ms);

#endif
