#include "flink/task_timing.h"

#include <math.h>
#include <stdlib.h>

#include "util/xalloc.h"

void task_timing_subtask_clear(struct task_timing_subtask *st)
{
    st->busy_ms = NAN;
    st->bp_ms = NAN;
    st->idle_ms = NAN;
    st->records_in = NAN;
    st->watermark_ms = NAN;
}

int task_timing_watermark_lag(const struct task_timing_result *r, int64_t ts_ms,
                              int64_t *lag_ms)
{
    double wm = r->watermark_min_ms;
    if (!isfinite(wm) || wm <= 0.0)
        return -1;
    /* checked before the conversion: a double >= 2^63 has no int64 */
    if (wm >= (double)ts_ms)
        *lag_ms = 0;
    else
        *lag_ms = ts_ms - (int64_t)wm;
    return 0;
}

static void task_one(const struct task_timing_task *t,
                     struct task_timing_result *r)
{
    double best_busy = -1.0;
    r->busy_ratio_max = NAN;
    r->backpressured_ratio_max = NAN;
    r->idle_ratio_min = NAN;
    r->record_time_us_max = NAN;
    r->watermark_min_ms = NAN;
    r->slowest_subtask = -1;
    r->bottleneck = false;

    for (size_t i = 0; i < t->n_subtasks; i++) {
        const struct task_timing_subtask *st = &t->subtasks[i];
        if (isfinite(st->busy_ms)) {
            double ratio = st->busy_ms / 1000.0;
            if (isnan(r->busy_ratio_max) || ratio > r->busy_ratio_max)
                r->busy_ratio_max = ratio;
            /* strict > keeps the lowest index on ties */
            if (st->busy_ms > best_busy) {
                best_busy = st->busy_ms;
                r->slowest_subtask = (long)i;
            }
            if (isfinite(st->records_in) && st->records_in > 0.0) {
                double us = st->busy_ms * 1000.0 / st->records_in;
                if (isfinite(us) && (isnan(r->record_time_us_max) ||
                                     us > r->record_time_us_max))
                    r->record_time_us_max = us;
            }
        }
        if (isfinite(st->bp_ms)) {
            double ratio = st->bp_ms / 1000.0;
            if (isnan(r->backpressured_ratio_max) ||
                ratio > r->backpressured_ratio_max)
                r->backpressured_ratio_max = ratio;
        }
        if (isfinite(st->idle_ms)) {
            double ratio = st->idle_ms / 1000.0;
            if (isnan(r->idle_ratio_min) || ratio < r->idle_ratio_min)
                r->idle_ratio_min = ratio;
        }
        if (isfinite(st->watermark_ms) && st->watermark_ms > 0.0 &&
            (isnan(r->watermark_min_ms) ||
             st->watermark_ms < r->watermark_min_ms))
            r->watermark_min_ms = st->watermark_ms;
    }
}

static bool is_backpressured(const struct task_timing_result *r)
{
    /* NaN compares false: undefined is not backpressured */
    return r->backpressured_ratio_max > TASK_TIMING_BACKPRESSURED;
}

/* Whether any task upstream of c, transitively, is backpressured. */
static bool upstream_backpressured(const struct task_timing_task *tasks,
                                   size_t n,
                                   const struct task_timing_result *out,
                                   size_t c)
{
    bool *seen = xcalloc(n, sizeof(*seen));
    size_t *stack = xmalloc(n * sizeof(*stack));
    size_t top = 0;
    bool found = false;

    seen[c] = true;
    stack[top++] = c;
    while (top > 0 && !found) {
        const struct task_timing_task *t = &tasks[stack[--top]];
        for (size_t k = 0; k < t->n_upstream; k++) {
            size_t u = t->upstream[k];
            if (u >= n || seen[u])
                continue;
            if (is_backpressured(&out[u])) {
                found = true;
                break;
            }
            seen[u] = true;
            stack[top++] = u; /* each index is pushed once: top <= n */
        }
    }
    free(seen);
    free(stack);
    return found;
}

long task_timing_compute(const struct task_timing_task *tasks, size_t n,
                         double busy_threshold, struct task_timing_result *out)
{
    long cand = -1;
    bool any_bp = false;
    size_t n_busy = 0;

    for (size_t i = 0; i < n; i++) {
        task_one(&tasks[i], &out[i]);
        if (is_backpressured(&out[i]))
            any_bp = true;
        if (out[i].busy_ratio_max >= busy_threshold)
            n_busy++;
    }
    for (size_t i = 0; i < n; i++) {
        if (is_backpressured(&out[i]) || isnan(out[i].busy_ratio_max))
            continue;
        if (cand < 0 || out[i].busy_ratio_max > out[cand].busy_ratio_max)
            cand = (long)i;
    }
    if (cand < 0 || !(out[cand].busy_ratio_max >= busy_threshold))
        return -1;
    if (upstream_backpressured(tasks, n, out, (size_t)cand) ||
        (!any_bp && n_busy == 1)) {
        out[cand].bottleneck = true;
        return cand;
    }
    return -1;
}
