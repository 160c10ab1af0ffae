#include "agent_status.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

struct hist {
    char *key; /* cluster '\n' group */
    float v[STATUS_HIST_LEN];
    size_t n;
    int64_t last_ms;
};

struct agent_status {
    struct status_job *jobs;
    size_t n_jobs, cap_jobs, jobs_omitted;
    size_t *task_cap; /* per job */
    struct hist *hist;
    size_t n_hist;
};

struct agent_status *agent_status_new(void)
{
    return xcalloc(1, sizeof(struct agent_status));
}

static void free_jobs(struct agent_status *as)
{
    status_jobs_release(as->jobs, as->n_jobs);
    as->n_jobs = 0;
    as->jobs_omitted = 0;
}

void agent_status_free(struct agent_status **asp)
{
    struct agent_status *as = *asp;
    if (!as)
        return;
    free_jobs(as);
    free(as->jobs);
    free(as->task_cap);
    for (size_t i = 0; i < as->n_hist; i++)
        free(as->hist[i].key);
    free(as->hist);
    free(as);
    *asp = NULL;
}

void agent_status_begin(struct agent_status *as)
{
    free_jobs(as);
}

static const char *tag(const struct point *p, const char *name)
{
    for (size_t i = 0; i < p->ntags; i++)
        if (strcmp(p->tags[i].name, name) == 0)
            return p->tags[i].value;
    return NULL;
}

static const struct field *field(const struct point *p, const char *key)
{
    for (size_t i = 0; i < p->nfields; i++)
        if (strcmp(p->fields[i].key, key) == 0)
            return &p->fields[i];
    return NULL;
}

static int64_t fint(const struct point *p, const char *key)
{
    const struct field *f = field(p, key);
    if (!f)
        return -1;
    return f->kind == FIELD_INT ? f->i : (int64_t)f->f;
}

static double fnum(const struct point *p, const char *key)
{
    const struct field *f = field(p, key);
    if (!f)
        return NAN;
    return f->kind == FIELD_INT ? (double)f->i : f->f;
}

/* The job (cluster, name), created when absent; NULL past the cap. Task
 * points follow their job's point, so the last job is tried first. */
static struct status_job *job_of(struct agent_status *as, const char *cluster,
                                 const char *name)
{
    for (size_t n = as->n_jobs; n > 0; n--) {
        struct status_job *j = &as->jobs[n - 1];
        if (strcmp(j->name, name) == 0 && strcmp(j->cluster, cluster) == 0)
            return j;
    }
    if (as->n_jobs >= STATUS_MAX_JOBS) {
        as->jobs_omitted++;
        return NULL;
    }
    if (as->n_jobs == as->cap_jobs) {
        as->jobs =
            xgrow(as->jobs, &as->cap_jobs, as->n_jobs + 1, sizeof(*as->jobs));
        as->task_cap =
            xrealloc(as->task_cap, as->cap_jobs * sizeof(*as->task_cap));
    }
    struct status_job *j = &as->jobs[as->n_jobs];
    memset(j, 0, sizeof(*j));
    as->task_cap[as->n_jobs] = 0;
    as->n_jobs++;
    j->cluster = xstrdup(cluster);
    j->name = xstrdup(name);
    j->uptime_ms = j->restarts = j->last_checkpoint_ms = -1;
    j->last_checkpoint_duration_ms = j->failed_checkpoints = -1;
    return j;
}

void agent_status_point(struct agent_status *as, const struct point *p)
{
    bool is_job = strcmp(p->measurement, "lagwatch_job") == 0;
    bool is_task = strcmp(p->measurement, "lagwatch_task_timing") == 0;
    if (!is_job && !is_task)
        return;
    const char *cluster = tag(p, "flink_cluster");
    const char *name = tag(p, "job_name");
    if (!cluster || !name)
        return;
    struct status_job *j = job_of(as, cluster, name);
    if (!j)
        return;
    if (is_job) {
        j->running = fint(p, "running") == 1;
        j->uptime_ms = fint(p, "uptime_ms");
        j->restarts = fint(p, "restarts");
        j->last_checkpoint_ms = fint(p, "last_checkpoint_completed_ms");
        j->last_checkpoint_duration_ms = fint(p, "last_checkpoint_duration_ms");
        j->failed_checkpoints = fint(p, "failed_checkpoints");
        return;
    }
    const char *task = tag(p, "task_name");
    if (!task)
        return;
    if (j->n_tasks >= STATUS_MAX_TASKS) {
        j->tasks_omitted++;
        return;
    }
    size_t *cap = &as->task_cap[j - as->jobs];
    j->tasks = xgrow(j->tasks, cap, j->n_tasks + 1, sizeof(*j->tasks));
    struct status_task *t = &j->tasks[j->n_tasks++];
    t->name = xstrdup(task);
    t->busy = fnum(p, "busy_ratio_max");
    t->backpressured = fnum(p, "backpressured_ratio_max");
    t->idle = fnum(p, "idle_ratio_min");
    t->record_us = fnum(p, "record_time_us_max");
    t->watermark_lag_ms = fnum(p, "watermark_lag_ms");
    t->bottleneck = fint(p, "bottleneck") == 1;
}

static void add_targets(struct status *st, const struct agent_status_in *in)
{
    const struct config *cfg = in->cfg;
    size_t n = in->n_res;
    for (size_t i = 0; i < cfg->n_flink; i++)
        n += in->rest[i] != NULL;
    if (n > STATUS_MAX_TARGETS) {
        st->targets_omitted = n - STATUS_MAX_TARGETS;
        n = STATUS_MAX_TARGETS;
    }
    st->targets = xcalloc(n ? n : 1, sizeof(*st->targets));
    for (size_t i = 0; i < cfg->n_flink && st->n_targets < n; i++) {
        if (!in->rest[i])
            continue;
        const struct flink_rest_stats *fs = flink_rest_stats(in->rest[i]);
        struct status_target *t = &st->targets[st->n_targets++];
        t->url = xstrdup(cfg->flink[i].rest_url);
        t->cluster = xstrdup(cfg->flink[i].name);
        t->kind = "jobmanager";
        t->ok = fs->errors_last == 0;
        t->last_ms = in->ts_ms;
        t->duration_s = fs->duration_s_last;
        t->samples = fs->points_last;
        t->requests = fs->requests_last;
        if (!t->ok) {
            char e[128];
            snprintf(e, sizeof(e),
                     "%llu of %llu requests failed (see the log and "
                     "lagwatch_rest_errors_total)",
                     (unsigned long long)fs->errors_last,
                     (unsigned long long)fs->requests_last);
            t->error = xstrdup(e);
        }
    }
    for (size_t i = 0; i < in->n_res && st->n_targets < n; i++) {
        const struct reporter_result *r = &in->res[i];
        struct status_target *t = &st->targets[st->n_targets++];
        t->url = xstrdup(r->url);
        t->cluster = xstrdup(in->targets[i].cluster);
        t->kind = "reporter";
        t->ok = r->ok;
        t->last_ms = in->ts_ms;
        t->duration_s = r->duration_s;
        t->samples = r->samples;
        t->bytes = r->bytes;
        if (!r->ok)
            t->error = xstrdup(r->error);
    }
}

/* The group's history, created when absent (NULL past the cap). */
static struct hist *hist_of(struct agent_status *as, const char *cluster,
                            const char *group)
{
    size_t kl = strlen(cluster) + strlen(group) + 2;
    char *key = xmalloc(kl);
    snprintf(key, kl, "%s\n%s", cluster, group);
    for (size_t i = 0; i < as->n_hist; i++) {
        if (strcmp(as->hist[i].key, key) == 0) {
            free(key);
            return &as->hist[i];
        }
    }
    if (as->n_hist >= STATUS_MAX_GROUPS) {
        free(key);
        return NULL;
    }
    as->hist = xrealloc(as->hist, (as->n_hist + 1) * sizeof(*as->hist));
    struct hist *h = &as->hist[as->n_hist++];
    memset(h, 0, sizeof(*h));
    h->key = key;
    return h;
}

/* One sample per STATUS_HIST_STEP_MS at most; the oldest falls out. */
static void hist_push(struct hist *h, int64_t ts_ms, double v)
{
    if (h->n && ts_ms - h->last_ms < STATUS_HIST_STEP_MS) {
        h->v[h->n - 1] = (float)v; /* the latest value of this step */
        return;
    }
    if (h->n == STATUS_HIST_LEN) {
        memmove(h->v, h->v + 1, (STATUS_HIST_LEN - 1) * sizeof(h->v[0]));
        h->n--;
    }
    h->v[h->n++] = (float)v;
    h->last_ms = ts_ms;
}

static void add_group(struct agent_status *as, struct status *st,
                      const struct kafka_lag_cluster *c,
                      const struct kafka_lag_group *g)
{
    struct status_group *sg = &st->groups[st->n_groups++];
    sg->cluster = xstrdup(c->name);
    sg->group = xstrdup(g->group);
    sg->job = g->job ? xstrdup(g->job) : NULL;
    sg->stale = c->stale;
    /* The group catches up when its slowest topic does: +Inf when any
     * topic is not gaining, unknown (NaN) while any topic is unknown, else
     * the longest estimate (kafka_rates.h). */
    bool never = false, unknown = g->n_topics == 0;
    double longest = 0;
    sg->slowest_partition = -1;
    for (size_t t = 0; t < g->n_topics; t++) {
        const struct kafka_lag_topic *kt = &g->topics[t];
        if (!sg->slowest_topic || kt->max_lag_seconds > sg->lag_seconds) {
            free(sg->slowest_topic);
            sg->slowest_topic = xstrdup(kt->topic);
            sg->slowest_partition = kt->slowest_partition;
            sg->lag_seconds = kt->max_lag_seconds;
        }
        sg->lag_records += kt->sum_lag;
        if (kt->catch_up == KAFKA_CATCH_UP_NEVER)
            never = true;
        else if (kt->catch_up == KAFKA_CATCH_UP_UNKNOWN)
            unknown = true;
        else if (kt->catch_up_s > longest)
            longest = kt->catch_up_s;
        if (kt->consumed_through_ms > 0 &&
            (sg->consumed_through_ms == 0 ||
             kt->consumed_through_ms < sg->consumed_through_ms))
            sg->consumed_through_ms = kt->consumed_through_ms;
    }
    sg->catch_up_s = never ? INFINITY : unknown ? NAN : longest;
    struct hist *h = hist_of(as, c->name, g->group);
    if (!h)
        return;
    /* a stale result is an old measurement: it adds nothing to the chart */
    if (!c->stale)
        hist_push(h, c->swept_at_ms, sg->lag_seconds);
    memcpy(sg->hist, h->v, h->n * sizeof(h->v[0]));
    sg->n_hist = h->n;
}

static void add_groups(struct agent_status *as, struct status *st,
                       const struct agent_status_in *in)
{
    size_t n = 0;
    for (size_t i = 0; i < in->n_lag; i++)
        if (in->lag[i])
            n += in->lag[i]->n_groups;
    size_t cap = n > STATUS_MAX_GROUPS ? STATUS_MAX_GROUPS : n;
    st->groups_omitted = n - cap;
    st->groups = xcalloc(cap ? cap : 1, sizeof(*st->groups));
    for (size_t i = 0; i < in->n_lag; i++) {
        const struct kafka_lag_cluster *c = in->lag[i];
        for (size_t g = 0; c && g < c->n_groups && st->n_groups < cap; g++)
            add_group(as, st, c, &c->groups[g]);
    }
}

static void add_nodes(struct status *st, const struct agent_status_in *in)
{
    struct sink_node_status *ns = xcalloc(STATUS_MAX_NODES, sizeof(*ns));
    size_t n =
        sink_node_status_all(in->sinks, in->n_sinks, ns, STATUS_MAX_NODES);
    st->nodes = xcalloc(n ? n : 1, sizeof(*st->nodes));
    for (size_t i = 0; i < n; i++) {
        struct status_node *o = &st->nodes[i];
        o->sink = xstrdup(ns[i].sink);
        o->name = xstrdup(ns[i].name ? ns[i].name : "");
        o->url = xstrdup(ns[i].url ? ns[i].url : "");
        o->up = ns[i].up;
        o->down = ns[i].down;
        o->queue_bytes = ns[i].queue_bytes;
        o->spool_bytes = ns[i].spool_bytes;
        o->written = ns[i].written;
        o->dropped = ns[i].dropped;
        o->error = ns[i].last_error[0] ? xstrdup(ns[i].last_error) : NULL;
    }
    st->n_nodes = n;
    free(ns);
}

struct status *agent_status_build(struct agent_status *as,
                                  const struct agent_status_in *in)
{
    struct status *st = xcalloc(1, sizeof(*st));
    st->agent_name = xstrdup(in->cfg->agent.name);
    st->cycle_ts_ms = in->ts_ms;
    st->cycle_s = in->cycle_s;
    st->interval_ms = in->cfg->agent.interval_ms;
    add_targets(st, in);
    /* the jobs move over whole; the next cycle starts a new list */
    st->jobs = as->jobs;
    st->n_jobs = as->n_jobs;
    st->jobs_omitted = as->jobs_omitted;
    as->jobs = NULL;
    as->n_jobs = as->cap_jobs = as->jobs_omitted = 0;
    free(as->task_cap);
    as->task_cap = NULL;
    add_groups(as, st, in);
    add_nodes(st, in);
    return st;
}
