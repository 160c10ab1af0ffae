#include "flink/flink_rest.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/buf.h"
#include "util/errstate.h"
#include "flink/flink_json.h"
#include "hashring/hashring.h"
#include "util/log.h"
#include "flink/task_timing.h"
#include "pipeline/labelcut.h"
#include "util/xalloc.h"

#define FLINK_REST_MAGIC 0x464c4b52u
/* Job names remembered between cycles (to report a stop once). */
#define MAX_TRACKED_JOBS 100000
#define MAX_URL          8192

struct job_mem {
    char *name; /* normalized */
    bool seen_running;
    bool seen_now;
};

struct flink_rest {
    unsigned magic;
    const struct cfg_flink *cfg;
    char *base; /* rest_url without trailing '/' */
    double busy_threshold;
    uint64_t max_body;
    size_t max_label_bytes;
    char *cut;           /* a cut task_name, max_label_bytes + 1 */
    bool cut_logged;     /* the first cut is logged, once */
    struct job_mem *mem; /* sorted by name */
    size_t n_mem, cap_mem;
    struct flink_rest_stats st;
    uint64_t errors_cycle;
    uint64_t requests_cycle;
    /* A URL that keeps failing is logged when it starts and when it is
     * back; st.errors_total counts every failure. */
    struct errstate *failing;
};

struct req {
    unsigned magic;
    char *url;
    struct buf body;
    bool used, ok;
    long status;
    char *error;
};

static const char *const metric_names[] = {
    "busyTimeMsPerSecond",   "backPressuredTimeMsPerSecond",
    "idleTimeMsPerSecond",   "numRecordsInPerSecond",
    "currentInputWatermark",
};
#define N_METRIC_NAMES (sizeof(metric_names) / sizeof(metric_names[0]))

const char *flink_rest_err_name(enum flink_rest_err e)
{
    static const char *const names[FLINK_REST_ERR_N_] = {
        "transport", "timeout", "http", "too_large", "parse",
    };
    return (unsigned)e < FLINK_REST_ERR_N_ ? names[e] : "unknown";
}

static char *norm_dup(const char *s)
{
    size_t len = strlen(s);
    return xcheck(hashring_normalize_dup(s, len, NULL), len + 1);
}

/* ======================= lifecycle ======================= */

struct flink_rest *flink_rest_new(const struct cfg_flink *cfg,
                                  const struct flink_rest_opts *o, char *err,
                                  size_t errlen)
{
    struct flink_rest *fr = NULL;
    const char *u = cfg->rest_url;
    size_t len;

    if (!u ||
        (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)) {
        snprintf(err, errlen,
                 "flink cluster '%s': rest_url '%s' is not an "
                 "http(s) URL",
                 cfg->name ? cfg->name : "", u ? u : "");
        return NULL;
    }
    len = strlen(u);
    while (len > 0 && u[len - 1] == '/')
        len--;
    if (len > MAX_URL / 2) {
        snprintf(err, errlen,
                 "flink cluster '%s': rest_url longer than %d "
                 "bytes",
                 cfg->name ? cfg->name : "", MAX_URL / 2);
        return NULL;
    }
    fr = xcalloc(1, sizeof(*fr));
    fr->magic = FLINK_REST_MAGIC;
    fr->cfg = cfg;
    fr->base = xstrndup(u, len);
    fr->busy_threshold = TASK_TIMING_DEFAULT_BUSY_THRESHOLD;
    fr->max_body = FLINK_REST_DEFAULT_MAX_RESPONSE;
    fr->failing = errstate_new("flink rest url");
    if (o && o->busy_threshold > 0)
        fr->busy_threshold = o->busy_threshold;
    fr->max_label_bytes =
        o && o->max_label_bytes ? (size_t)o->max_label_bytes : 4096;
    fr->cut = xmalloc(fr->max_label_bytes + 1);
    if (o && o->max_response_bytes > 0)
        fr->max_body = o->max_response_bytes;
    return fr;
}

void flink_rest_free(struct flink_rest **frp)
{
    struct flink_rest *fr = *frp;
    if (!fr)
        return;
    for (size_t i = 0; i < fr->n_mem; i++)
        free(fr->mem[i].name);
    free(fr->mem);
    free(fr->base);
    free(fr->cut);
    errstate_free(&fr->failing);
    free(fr);
    *frp = NULL;
}

const struct flink_rest_stats *flink_rest_stats(const struct flink_rest *fr)
{
    return &fr->st;
}

/* ======================= requests ======================= */

static void req_init(struct flink_rest *fr, struct req *r, char *url)
{
    memset(r, 0, sizeof(*r));
    r->magic = FLINK_REST_MAGIC;
    r->url = url;
    r->used = true;
    buf_init(&r->body, (size_t)fr->max_body);
}

static void req_release(struct req *r)
{
    if (!r->used)
        return;
    free(r->url);
    free(r->error);
    buf_release(&r->body);
    memset(r, 0, sizeof(*r));
}

static int req_on_data(void *user, const char *data, size_t len)
{
    struct req *r = user;
    return buf_add(&r->body, data, len);
}

static void req_on_done(void *user, const struct scrape_result *res)
{
    struct req *r = user;
    r->ok = res->ok && !buf_error(&r->body);
    r->status = res->http_status;
    free(r->error);
    r->error = NULL;
    if (buf_error(&r->body)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "response larger than %llu bytes",
                 (unsigned long long)r->body.max);
        r->error = xstrdup(msg);
    } else if (res->error) {
        r->error = xstrdup(res->error);
    } else if (!res->ok) {
        r->error = xstrdup("failed");
    }
}

static char *make_url(const struct flink_rest *fr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *make_url(const struct flink_rest *fr, const char *fmt, ...)
{
    struct buf b;
    va_list ap;
    buf_init(&b, MAX_URL);
    buf_adds(&b, fr->base);
    va_start(ap, fmt);
    buf_vaddf(&b, fmt, ap);
    va_end(ap);
    if (buf_error(&b)) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

/* Runs every used request of reqs in one scraper batch. */
static void run_batch(struct flink_rest *fr, struct scraper *sc,
                      struct req **reqs, size_t n)
{
    struct scrape_target *t = xcalloc(n + 1, sizeof(*t));
    size_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        if (!reqs[i]->used)
            continue;
        t[nt].url = reqs[i]->url;
        t[nt].accept = "application/json";
        t[nt].on_data = req_on_data;
        t[nt].on_done = req_on_done;
        t[nt].user = reqs[i];
        nt++;
    }
    fr->requests_cycle += nt;
    if (nt > 0 && scraper_run(sc, t, nt) < 0) {
        for (size_t i = 0; i < n; i++) {
            if (!reqs[i]->used)
                continue;
            reqs[i]->ok = false;
            free(reqs[i]->error);
            reqs[i]->error = xstrdup("scraper failure");
        }
    }
    free(t);
}

static void count_err(struct flink_rest *fr, enum flink_rest_err e)
{
    fr->st.errors_total[e]++;
    fr->errors_cycle++;
}

static const char *req_key(const struct req *r)
{
    return r->url ? r->url : "";
}

/* 0 when r succeeded; else one counted error, a warning naming the URL
 * when it starts failing (see errstate.h), -1. */
static int req_check(struct flink_rest *fr, const struct req *r)
{
    const char *e = r->error ? r->error : "failed";
    enum flink_rest_err kind;
    if (r->ok) {
        errstate_ok(fr->failing, req_key(r));
        return 0;
    }
    if (strstr(e, "larger than"))
        kind = FLINK_REST_ERR_TOO_LARGE;
    else if (strncmp(e, "timeout", 7) == 0)
        kind = FLINK_REST_ERR_TIMEOUT;
    else if (r->status != 0 && (r->status < 200 || r->status > 299))
        kind = FLINK_REST_ERR_HTTP;
    else
        kind = FLINK_REST_ERR_TRANSPORT;
    errstate_fail(fr->failing, LOG_LVL_WARN, req_key(r),
                  "cannot fetch '%s': %s", req_key(r), e);
    count_err(fr, kind);
    return -1;
}

static void parse_failed(struct flink_rest *fr, const struct req *r,
                         const char *err)
{
    errstate_fail(fr->failing, LOG_LVL_WARN, req_key(r),
                  "cannot parse '%s': %s", req_key(r), err);
    count_err(fr, FLINK_REST_ERR_PARSE);
}

/* ======================= job memory ======================= */

static long mem_find(const struct flink_rest *fr, const char *name, size_t *pos)
{
    size_t lo = 0, hi = fr->n_mem;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(fr->mem[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    if (lo < fr->n_mem && strcmp(fr->mem[lo].name, name) == 0)
        return (long)lo;
    return -1;
}

static struct job_mem *mem_get(struct flink_rest *fr, const char *name)
{
    size_t pos;
    long i = mem_find(fr, name, &pos);
    if (i >= 0)
        return &fr->mem[i];
    if (fr->n_mem >= MAX_TRACKED_JOBS)
        return NULL;
    fr->mem = xgrow(fr->mem, &fr->cap_mem, fr->n_mem + 1, sizeof(*fr->mem));
    memmove(&fr->mem[pos + 1], &fr->mem[pos],
            (fr->n_mem - pos) * sizeof(*fr->mem));
    fr->n_mem++;
    fr->mem[pos] = (struct job_mem){xstrdup(name), false, false};
    return &fr->mem[pos];
}

/* Forgets names that are neither running nor present: bounded memory. */
static void mem_prune(struct flink_rest *fr)
{
    size_t w = 0;
    for (size_t i = 0; i < fr->n_mem; i++) {
        if (fr->mem[i].seen_running || fr->mem[i].seen_now)
            fr->mem[w++] = fr->mem[i];
        else
            free(fr->mem[i].name);
    }
    fr->n_mem = w;
}

/* ======================= points ======================= */

struct emitter {
    struct flink_rest *fr;
    point_fn fn;
    void *ctx;
    int64_t ts_ms;
    int rc;
};

static struct label mklabel(const char *name, const char *value)
{
    return (struct label){name, value, (uint32_t)strlen(name),
                          (uint32_t)strlen(value)};
}

static void emit(struct emitter *em, const char *measurement, const char *job,
                 const char *task, const struct field *f, size_t nf)
{
    struct label tags[3];
    size_t nt = 0;
    struct point p;
    tags[nt++] = mklabel("flink_cluster", em->fr->cfg->name);
    tags[nt++] = mklabel("job_name", job);
    if (task) {
        tags[nt++] = mklabel("task_name", task);
        /* A task name over the limit is kept, cut the way trim cuts a
         * reporter's (lagwatch.yml(5), TRIM), so both name one task. */
        struct flink_rest *fr = em->fr;
        size_t cl = tags[nt - 1].value_len > fr->max_label_bytes
                        ? labelcut(task, tags[nt - 1].value_len,
                                   fr->max_label_bytes, fr->cut)
                        : 0;
        if (cl) {
            uint32_t full = tags[nt - 1].value_len;
            tags[nt - 1].value = fr->cut;
            tags[nt - 1].value_len = (uint32_t)cl;
            fr->st.labels_truncated++;
            if (!fr->cut_logged)
                log_warn("'%s': a task_name of %u bytes over "
                         "trim.max_label_bytes, cut and ended in a hash "
                         "(further ones are only counted in "
                         "lagwatch_labels_truncated_total)",
                         fr->base, full);
            fr->cut_logged = true;
        }
    }
    p = (struct point){measurement, tags, nt, f, nf, em->ts_ms};
    em->fr->st.points_last++;
    if (em->fn(em->ctx, &p) < 0)
        em->rc = -1;
}

static void add_int(struct field *f, size_t *n, const char *key, int64_t v)
{
    f[(*n)++] = (struct field){.key = key, .kind = FIELD_INT, .i = v};
}

static void add_float(struct field *f, size_t *n, const char *key, double v)
{
    if (isfinite(v))
        f[(*n)++] = (struct field){.key = key, .kind = FIELD_FLOAT, .f = v};
}

static void emit_stopped(struct emitter *em, const char *job)
{
    struct field f[1];
    size_t nf = 0;
    add_int(f, &nf, "running", 0);
    emit(em, "lagwatch_job", job, NULL, f, nf);
}

/* ======================= one cycle ======================= */

struct vreq {
    struct req r;
    size_t vertex;
};

struct jwork {
    const struct flink_job_summary *js;
    char *name; /* normalized */
    int rank;   /* 2 RUNNING, 1 other live state, 0 terminal */
    bool rep;   /* the job reported for its name */
    struct req metrics, ckp, details;
    bool has_details;
    struct flink_job_details det;
    struct vreq *vr;
    size_t n_vr;
};

static int jwork_cmp(const void *a, const void *b)
{
    const struct jwork *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    if (x->rank != y->rank)
        return y->rank - x->rank;
    if (x->js->start_time_ms != y->js->start_time_ms)
        return x->js->start_time_ms > y->js->start_time_ms ? -1 : 1;
    return 0;
}

static void jwork_release(struct jwork *w)
{
    free(w->name);
    req_release(&w->metrics);
    req_release(&w->ckp);
    req_release(&w->details);
    flink_job_details_release(&w->det);
    for (size_t i = 0; i < w->n_vr; i++)
        req_release(&w->vr[i].r);
    free(w->vr);
}

static void plan_vertex_requests(struct flink_rest *fr, struct jwork *w)
{
    size_t cap = 0;
    for (size_t v = 0; v < w->det.n; v++) {
        const struct flink_vertex *fv = &w->det.v[v];
        size_t k = 0;
        while (k < fv->parallelism) {
            struct buf q;
            char *url;
            buf_init(&q, 0);
            /* whole subtasks per request, at least one */
            while (k < fv->parallelism) {
                size_t mark = q.len;
                for (size_t m = 0; m < N_METRIC_NAMES; m++)
                    buf_addf(&q, "%s%zu.%s", q.len ? "," : "", k,
                             metric_names[m]);
                if (q.len > FLINK_REST_MAX_QUERY && mark > 0) {
                    buf_truncate(&q, mark);
                    break;
                }
                k++;
            }
            url = make_url(fr, "/jobs/%s/vertices/%s/metrics?get=%s",
                           w->det.jid, fv->id, q.data);
            buf_release(&q);
            if (!url) {
                log_warn("cannot build the metrics URL of vertex '%s' of "
                         "job '%s'",
                         fv->id, w->det.jid);
                count_err(fr, FLINK_REST_ERR_PARSE);
                break;
            }
            w->vr = xgrow(w->vr, &cap, w->n_vr + 1, sizeof(*w->vr));
            req_init(fr, &w->vr[w->n_vr].r, url);
            w->vr[w->n_vr].vertex = v;
            w->n_vr++;
        }
    }
}

static void emit_job(struct flink_rest *fr, struct emitter *em, struct jwork *w)
{
    struct field f[10];
    size_t nf = 0;
    char perr[256];

    add_int(f, &nf, "running", w->rank == 2 ? 1 : 0);
    if (req_check(fr, &w->metrics) == 0) {
        struct flink_metrics m;
        double v;
        if (flink_json_metrics(w->metrics.body.data, w->metrics.body.len, &m,
                               perr, sizeof(perr)) < 0) {
            parse_failed(fr, &w->metrics, perr);
        } else {
            if ((flink_metrics_get(&m, "uptime", &v) == 0 ||
                 flink_metrics_get(&m, "runningTime", &v) == 0) &&
                isfinite(v) && v >= 0)
                add_int(f, &nf, "uptime_ms", (int64_t)v);
            if ((flink_metrics_get(&m, "numRestarts", &v) == 0 ||
                 flink_metrics_get(&m, "fullRestarts", &v) == 0) &&
                isfinite(v) && v >= 0)
                add_int(f, &nf, "restarts", (int64_t)v);
            flink_metrics_release(&m);
        }
    }
    if (w->ckp.used && !w->ckp.ok && w->ckp.status == 404 &&
        flink_json_error_message(w->ckp.body.data, w->ckp.body.len, perr,
                                 sizeof(perr)) == 0 &&
        strstr(perr, "heckpointing")) {
        log_debug("no checkpoints for job '%s': %s", w->js->name, perr);
    } else if (req_check(fr, &w->ckp) == 0) {
        struct flink_checkpoints c;
        if (flink_json_checkpoints(w->ckp.body.data, w->ckp.body.len, &c, perr,
                                   sizeof(perr)) < 0) {
            parse_failed(fr, &w->ckp, perr);
        } else {
            if (c.has_latest && c.latest_ack_ms >= 0)
                add_int(f, &nf, "last_checkpoint_completed_ms",
                        c.latest_ack_ms);
            if (c.has_latest && c.latest_duration_ms >= 0)
                add_int(f, &nf, "last_checkpoint_duration_ms",
                        c.latest_duration_ms);
            if (c.has_latest && c.latest_size_bytes >= 0)
                add_int(f, &nf, "last_checkpoint_size_bytes",
                        c.latest_size_bytes);
            if (c.completed >= 0)
                add_int(f, &nf, "completed_checkpoints", c.completed);
            if (c.failed >= 0)
                add_int(f, &nf, "failed_checkpoints", c.failed);
            if (c.in_progress >= 0)
                add_int(f, &nf, "in_progress_checkpoints", c.in_progress);
        }
    }
    emit(em, "lagwatch_job", w->name, NULL, f, nf);
}

static void emit_tasks(struct flink_rest *fr, struct emitter *em,
                       struct jwork *w)
{
    size_t nv = w->det.n;
    struct task_timing_subtask **sub = xcalloc(nv + 1, sizeof(*sub));
    struct task_timing_task *tasks = xcalloc(nv + 1, sizeof(*tasks));
    struct task_timing_result *res = xcalloc(nv + 1, sizeof(*res));
    bool *ok = xcalloc(nv + 1, sizeof(*ok));
    bool complete = true;
    char perr[256];

    for (size_t v = 0; v < nv; v++) {
        sub[v] = xcalloc(w->det.v[v].parallelism, sizeof(**sub));
        for (size_t k = 0; k < w->det.v[v].parallelism; k++)
            task_timing_subtask_clear(&sub[v][k]);
        ok[v] = true;
    }
    for (size_t i = 0; i < w->n_vr; i++) {
        struct req *r = &w->vr[i].r;
        size_t v = w->vr[i].vertex;
        struct flink_metrics m;
        if (req_check(fr, r) < 0) {
            ok[v] = false;
            continue;
        }
        if (flink_json_metrics(r->body.data, r->body.len, &m, perr,
                               sizeof(perr)) < 0) {
            parse_failed(fr, r, perr);
            ok[v] = false;
            continue;
        }
        flink_metrics_subtask_timing(&m, sub[v], w->det.v[v].parallelism);
        flink_metrics_release(&m);
    }
    for (size_t v = 0; v < nv; v++) {
        /* a vertex whose URL could not be built has no request at all */
        bool has_req = false;
        for (size_t i = 0; i < w->n_vr && !has_req; i++)
            has_req = w->vr[i].vertex == v;
        if (!has_req)
            ok[v] = false;
        if (!ok[v])
            complete = false;
        tasks[v] = (struct task_timing_task){
            w->det.v[v].name, sub[v], w->det.v[v].parallelism,
            w->det.v[v].upstream, w->det.v[v].n_upstream};
    }
    task_timing_compute(tasks, nv, fr->busy_threshold, res);
    for (size_t v = 0; v < nv; v++) {
        struct field f[7];
        size_t nf = 0;
        int64_t lag;
        char *task;
        if (!ok[v])
            continue;
        add_float(f, &nf, "busy_ratio_max", res[v].busy_ratio_max);
        add_float(f, &nf, "backpressured_ratio_max",
                  res[v].backpressured_ratio_max);
        add_float(f, &nf, "idle_ratio_min", res[v].idle_ratio_min);
        add_float(f, &nf, "record_time_us_max", res[v].record_time_us_max);
        if (res[v].slowest_subtask >= 0)
            add_int(f, &nf, "slowest_subtask", res[v].slowest_subtask);
        if (complete)
            add_int(f, &nf, "bottleneck", res[v].bottleneck ? 1 : 0);
        if (task_timing_watermark_lag(&res[v], em->ts_ms, &lag) == 0)
            add_int(f, &nf, "watermark_lag_ms", lag);
        if (nf == 0)
            continue;
        task = norm_dup(w->det.v[v].name);
        emit(em, "lagwatch_task_timing", w->name, task, f, nf);
        free(task);
    }
    for (size_t v = 0; v < nv; v++)
        free(sub[v]);
    free(sub);
    free(tasks);
    free(res);
    free(ok);
}

int flink_rest_collect(struct flink_rest *fr, struct scraper *sc, int64_t ts_ms,
                       point_fn fn, void *ctx)
{
    struct emitter em = {fr, fn, ctx, ts_ms, 0};
    struct req ov = {0};
    struct req **batch = NULL;
    struct flink_jobs jobs = {0};
    struct jwork *w = NULL;
    size_t nw = 0, nb = 0, cap_b = 0;
    double t0 = clock_mono_s();
    char perr[256];
    char *url;

    fr->requests_cycle = 0;
    fr->errors_cycle = 0;
    fr->st.points_last = 0;

    url = make_url(fr, "/jobs/overview");
    req_init(fr, &ov, url);
    {
        struct req *one = &ov;
        run_batch(fr, sc, &one, 1);
    }
    if (req_check(fr, &ov) < 0)
        goto out;
    if (flink_json_jobs_overview(ov.body.data, ov.body.len, &jobs, perr,
                                 sizeof(perr)) < 0) {
        parse_failed(fr, &ov, perr);
        goto out;
    }
    if (jobs.skipped > 0)
        log_warn("skipped %zu malformed job entries in '%s'", jobs.skipped,
                 ov.url);

    /* one job per normalized name: the live one, RUNNING first, newest */
    w = xcalloc(jobs.n + 1, sizeof(*w));
    for (size_t i = 0; i < jobs.n; i++) {
        if (jobs.v[i].name[0] == '\0')
            continue;
        w[nw].js = &jobs.v[i];
        w[nw].name = norm_dup(jobs.v[i].name);
        w[nw].rank = flink_job_state_terminal(jobs.v[i].state) ? 0
                     : strcmp(jobs.v[i].state, "RUNNING") == 0 ? 2
                                                               : 1;
        nw++;
    }
    qsort(w, nw, sizeof(*w), jwork_cmp);
    for (size_t i = 0; i < fr->n_mem; i++)
        fr->mem[i].seen_now = false;
    for (size_t i = 0; i < nw; i++) {
        struct job_mem *m;
        w[i].rep = i == 0 || strcmp(w[i].name, w[i - 1].name) != 0;
        if (!w[i].rep)
            continue;
        if (w[i].rank == 0) {
            size_t pos;
            long mi = mem_find(fr, w[i].name, &pos);
            if (mi >= 0 && fr->mem[mi].seen_running) {
                emit_stopped(&em, w[i].name);
                fr->mem[mi].seen_running = false;
            }
            continue;
        }
        m = mem_get(fr, w[i].name);
        if (m) {
            m->seen_now = true;
            if (w[i].rank == 2)
                m->seen_running = true;
        }
        url = make_url(fr,
                       "/jobs/%s/metrics?get=uptime,runningTime,numRestarts,"
                       "fullRestarts",
                       w[i].js->jid);
        if (url)
            req_init(fr, &w[i].metrics, url);
        url = make_url(fr, "/jobs/%s/checkpoints", w[i].js->jid);
        if (url)
            req_init(fr, &w[i].ckp, url);
        if (w[i].rank == 2) {
            url = make_url(fr, "/jobs/%s", w[i].js->jid);
            if (url)
                req_init(fr, &w[i].details, url);
        }
    }
    /* gone from the JobManager without a terminal state seen */
    for (size_t i = 0; i < fr->n_mem; i++) {
        if (fr->mem[i].seen_running && !fr->mem[i].seen_now) {
            emit_stopped(&em, fr->mem[i].name);
            fr->mem[i].seen_running = false;
        }
    }
    mem_prune(fr);

    for (size_t i = 0; i < nw; i++) {
        struct req *rs[3] = {&w[i].metrics, &w[i].ckp, &w[i].details};
        for (size_t k = 0; k < 3; k++) {
            if (!rs[k]->used)
                continue;
            batch = xgrow(batch, &cap_b, nb + 1, sizeof(*batch));
            batch[nb++] = rs[k];
        }
    }
    run_batch(fr, sc, batch, nb);

    nb = 0;
    for (size_t i = 0; i < nw; i++) {
        if (!w[i].details.used || req_check(fr, &w[i].details) < 0)
            continue;
        if (flink_json_job_details(w[i].details.body.data,
                                   w[i].details.body.len, &w[i].det, perr,
                                   sizeof(perr)) < 0) {
            parse_failed(fr, &w[i].details, perr);
            continue;
        }
        w[i].has_details = true;
        plan_vertex_requests(fr, &w[i]);
        for (size_t k = 0; k < w[i].n_vr; k++) {
            batch = xgrow(batch, &cap_b, nb + 1, sizeof(*batch));
            batch[nb++] = &w[i].vr[k].r;
        }
    }
    run_batch(fr, sc, batch, nb);

    for (size_t i = 0; i < nw; i++) {
        if (!w[i].rep || w[i].rank == 0)
            continue;
        emit_job(fr, &em, &w[i]);
        if (w[i].has_details)
            emit_tasks(fr, &em, &w[i]);
    }

out:
    for (size_t i = 0; i < nw; i++)
        jwork_release(&w[i]);
    free(w);
    free(batch);
    flink_jobs_release(&jobs);
    req_release(&ov);
    fr->st.cycles++;
    fr->st.requests_last = fr->requests_cycle;
    fr->st.requests_total += fr->requests_cycle;
    fr->st.errors_last = fr->errors_cycle;
    fr->st.duration_s_last = clock_mono_s() - t0;
    errstate_settle(fr->failing);
    log_debug("flink rest cycle of '%s': %llu requests, %llu errors, "
              "%llu points, %.3f s",
              fr->cfg->name, (unsigned long long)fr->requests_cycle,
              (unsigned long long)fr->errors_cycle,
              (unsigned long long)fr->st.points_last, fr->st.duration_s_last);
    return fr->errors_cycle == 0 && em.rc == 0 ? 0 : -1;
}

/* ======================= discovery ======================= */

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int flink_rest_discover_reporters(struct flink_rest *fr, struct scraper *sc,
                                  char ***urls, size_t *n)
{
    int rc = -1;
    struct req r = {0};
    struct req *one = &r;
    struct flink_taskmanagers tms = {0};
    char **out = NULL;
    size_t nout = 0;
    char perr[256];

    *urls = NULL;
    *n = 0;
    if (fr->cfg->discover_port == 0 || fr->cfg->discover_port > 65535) {
        log_warn("cannot discover reporters of '%s': no valid "
                 "discover_reporters port",
                 fr->cfg->name);
        return -1;
    }
    fr->requests_cycle = 0;
    req_init(fr, &r, make_url(fr, "/taskmanagers"));
    run_batch(fr, sc, &one, 1);
    fr->st.requests_total += fr->requests_cycle;
    if (req_check(fr, &r) < 0)
        goto out;
    if (flink_json_taskmanagers(r.body.data, r.body.len, &tms, perr,
                                sizeof(perr)) < 0) {
        parse_failed(fr, &r, perr);
        goto out;
    }
    if (tms.skipped > 0)
        log_warn("skipped %zu TaskManagers without a usable host in '%s'",
                 tms.skipped, r.url);
    out = xcalloc(tms.n + 1, sizeof(*out));
    for (size_t i = 0; i < tms.n; i++) {
        char u[512];
        int len = snprintf(u, sizeof(u), "http://%s:%u/metrics", tms.v[i].host,
                           fr->cfg->discover_port);
        if (len < 0 || (size_t)len >= sizeof(u))
            continue;
        out[nout++] = xstrdup(u);
    }
    qsort(out, nout, sizeof(*out), str_cmp);
    {
        size_t wi = 0;
        for (size_t i = 0; i < nout; i++) {
            if (wi > 0 && strcmp(out[wi - 1], out[i]) == 0)
                free(out[i]);
            else
                out[wi++] = out[i];
        }
        nout = wi;
    }
    *urls = out;
    *n = nout;
    out = NULL;
    rc = 0;
out:
    free(out);
    flink_taskmanagers_release(&tms);
    req_release(&r);
    return rc;
}
