#include "serve/status.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include "util/jsonw.h"

void status_free(struct status **sp)
{
    struct status *st = *sp;
    if (!st)
        return;
    for (size_t i = 0; i < st->n_targets; i++) {
        free(st->targets[i].url);
        free(st->targets[i].cluster);
        free(st->targets[i].error);
    }
    status_jobs_release(st->jobs, st->n_jobs);
    for (size_t i = 0; i < st->n_groups; i++) {
        free(st->groups[i].cluster);
        free(st->groups[i].group);
        free(st->groups[i].job);
        free(st->groups[i].slowest_topic);
    }
    for (size_t i = 0; i < st->n_nodes; i++) {
        free(st->nodes[i].sink);
        free(st->nodes[i].name);
        free(st->nodes[i].url);
        free(st->nodes[i].error);
    }
    free(st->targets);
    free(st->jobs);
    free(st->groups);
    free(st->nodes);
    free(st->version);
    free(st->agent_name);
    free(st->config_path);
    free(st->fingerprint);
    free(st);
    *sp = NULL;
}

void status_jobs_release(struct status_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct status_job *j = &jobs[i];
        for (size_t k = 0; k < j->n_tasks; k++)
            free(j->tasks[k].name);
        free(j->tasks);
        free(j->cluster);
        free(j->name);
    }
}

long status_job_bottleneck(const struct status_job *j)
{
    for (size_t k = 0; k < j->n_tasks; k++)
        if (j->tasks[k].bottleneck)
            return (long)k;
    return -1;
}

static void key(struct buf *b, bool *first, const char *k)
{
    if (!*first)
        buf_addc(b, ',');
    *first = false;
    jsonw_cstr(b, k);
    buf_addc(b, ':');
}

static void kstr(struct buf *b, bool *first, const char *k, const char *v)
{
    key(b, first, k);
    if (v)
        jsonw_cstr(b, v);
    else
        buf_adds(b, "null");
}

static void kint(struct buf *b, bool *first, const char *k, int64_t v)
{
    key(b, first, k);
    buf_addf(b, "%" PRId64, v);
}

/* NaN (undefined) is null: JSON has no NaN. */
static void knum(struct buf *b, bool *first, const char *k, double v)
{
    key(b, first, k);
    if (isfinite(v))
        buf_addf(b, "%.6g", v);
    else
        buf_adds(b, "null");
}

static void kbool(struct buf *b, bool *first, const char *k, bool v)
{
    key(b, first, k);
    buf_adds(b, v ? "true" : "false");
}

static void json_targets(struct buf *b, const struct status *st)
{
    buf_adds(b, "[");
    for (size_t i = 0; i < st->n_targets; i++) {
        const struct status_target *t = &st->targets[i];
        bool f = true;
        buf_adds(b, i ? ",{" : "{");
        kstr(b, &f, "url", t->url);
        kstr(b, &f, "cluster", t->cluster);
        kstr(b, &f, "kind", t->kind);
        kbool(b, &f, "up", t->ok);
        kint(b, &f, "last_scrape_ms", t->last_ms);
        knum(b, &f, "duration_s", t->duration_s);
        kint(b, &f, "samples", (int64_t)t->samples);
        kint(b, &f, "bytes", (int64_t)t->bytes);
        kint(b, &f, "requests", (int64_t)t->requests);
        kstr(b, &f, "error", t->error);
        buf_addc(b, '}');
    }
    buf_adds(b, "]");
}

static void json_jobs(struct buf *b, const struct status *st,
                      status_owners_fn owners, void *ctx)
{
    struct buf ow;
    buf_init(&ow, 4096);
    buf_adds(b, "[");
    for (size_t i = 0; i < st->n_jobs && !buf_error(b); i++) {
        const struct status_job *j = &st->jobs[i];
        bool f = true;
        buf_adds(b, i ? ",{" : "{");
        kstr(b, &f, "cluster", j->cluster);
        kstr(b, &f, "name", j->name);
        kbool(b, &f, "running", j->running);
        kint(b, &f, "uptime_ms", j->uptime_ms);
        kint(b, &f, "restarts", j->restarts);
        kint(b, &f, "last_checkpoint_ms", j->last_checkpoint_ms);
        kint(b, &f, "last_checkpoint_duration_ms",
             j->last_checkpoint_duration_ms);
        kint(b, &f, "failed_checkpoints", j->failed_checkpoints);
        long bn = status_job_bottleneck(j);
        kstr(b, &f, "bottleneck", bn >= 0 ? j->tasks[bn].name : NULL);
        if (owners) {
            buf_reset(&ow);
            owners(ctx, j->name, &ow);
            kstr(b, &f, "nodes", ow.len ? ow.data : "");
        }
        key(b, &f, "tasks");
        buf_addc(b, '[');
        for (size_t k = 0; k < j->n_tasks; k++) {
            const struct status_task *t = &j->tasks[k];
            bool g = true;
            buf_adds(b, k ? ",{" : "{");
            kstr(b, &g, "name", t->name);
            knum(b, &g, "busy_ratio", t->busy);
            knum(b, &g, "backpressured_ratio", t->backpressured);
            knum(b, &g, "idle_ratio", t->idle);
            knum(b, &g, "record_time_us", t->record_us);
            knum(b, &g, "watermark_lag_ms", t->watermark_lag_ms);
            kbool(b, &g, "bottleneck", t->bottleneck);
            buf_addc(b, '}');
        }
        buf_adds(b, "]}");
    }
    buf_adds(b, "]");
    buf_release(&ow);
}

static void json_groups(struct buf *b, const struct status *st)
{
    buf_adds(b, "[");
    for (size_t i = 0; i < st->n_groups; i++) {
        const struct status_group *g = &st->groups[i];
        bool f = true;
        buf_adds(b, i ? ",{" : "{");
        kstr(b, &f, "cluster", g->cluster);
        kstr(b, &f, "group", g->group);
        kstr(b, &f, "job", g->job);
        kstr(b, &f, "slowest_topic", g->slowest_topic);
        kint(b, &f, "slowest_partition", g->slowest_partition);
        knum(b, &f, "lag_seconds", g->lag_seconds);
        kint(b, &f, "lag_records", g->lag_records);
        kint(b, &f, "consumed_through_ms", g->consumed_through_ms);
        kbool(b, &f, "stale", g->stale);
        /* JSON has no infinity: the state says what a null means */
        kstr(b, &f, "catch_up",
             isfinite(g->catch_up_s) ? "gaining"
             : isinf(g->catch_up_s)  ? "never"
                                     : "unknown");
        knum(b, &f, "catch_up_s", g->catch_up_s);
        key(b, &f, "history_step_s");
        buf_addf(b, "%d", STATUS_HIST_STEP_MS / 1000);
        key(b, &f, "lag_seconds_history");
        buf_addc(b, '[');
        for (size_t k = 0; k < g->n_hist; k++)
            buf_addf(b, k ? ",%.6g" : "%.6g", (double)g->hist[k]);
        buf_adds(b, "]}");
    }
    buf_adds(b, "]");
}

static void json_nodes(struct buf *b, const struct status *st)
{
    buf_adds(b, "[");
    for (size_t i = 0; i < st->n_nodes; i++) {
        const struct status_node *n = &st->nodes[i];
        bool f = true;
        buf_adds(b, i ? ",{" : "{");
        kstr(b, &f, "sink", n->sink);
        kstr(b, &f, "name", n->name);
        kstr(b, &f, "url", n->url);
        kbool(b, &f, "up", n->up);
        kbool(b, &f, "down", n->down);
        kint(b, &f, "queue_bytes", (int64_t)n->queue_bytes);
        kint(b, &f, "spool_bytes", (int64_t)n->spool_bytes);
        kint(b, &f, "points_written", (int64_t)n->written);
        kint(b, &f, "points_dropped", (int64_t)n->dropped);
        kstr(b, &f, "error", n->error);
        buf_addc(b, '}');
    }
    buf_adds(b, "]");
}

int status_json(struct buf *b, const struct status *st, status_owners_fn owners,
                void *ctx)
{
    bool f = true;
    buf_addc(b, '{');
    kstr(b, &f, "version", st->version);
    kstr(b, &f, "agent", st->agent_name);
    kstr(b, &f, "config_file", st->config_path);
    kint(b, &f, "config_loaded_ms", st->config_loaded_ms);
    kint(b, &f, "cycle_ts_ms", st->cycle_ts_ms);
    knum(b, &f, "cycle_duration_s", st->cycle_s);
    kint(b, &f, "interval_ms", (int64_t)st->interval_ms);
    kbool(b, &f, "align", st->align);
    kstr(b, &f, "fingerprint", st->fingerprint);
    key(b, &f, "targets");
    json_targets(b, st);
    kint(b, &f, "targets_omitted", (int64_t)st->targets_omitted);
    key(b, &f, "jobs");
    json_jobs(b, st, owners, ctx);
    kint(b, &f, "jobs_omitted", (int64_t)st->jobs_omitted);
    key(b, &f, "groups");
    json_groups(b, st);
    kint(b, &f, "groups_omitted", (int64_t)st->groups_omitted);
    key(b, &f, "nodes");
    json_nodes(b, st);
    buf_adds(b, "}\n");
    return buf_error(b) ? -1 : 0;
}
