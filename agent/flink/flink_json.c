#include "flink/flink_json.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* A job graph this large is not a job graph; it bounds the plan work. */
#define FLINK_MAX_VERTICES 4096
#define FLINK_MAX_ID_LEN   64
#define FLINK_MAX_HOST_LEN 253

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static json_t *load(const char *s, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(s, len, 0, &je);
    if (!root)
        set_err(err, errlen, "invalid JSON at line %d column %d: %s", je.line,
                je.column, je.text);
    return root;
}

/* A number from a JSON number or a numeric string ("98.0", "NaN"); -1 for
 * anything else, including +-Inf, which Flink never sends. */
static int num_of(const json_t *j, double *out)
{
    if (json_is_integer(j)) {
        *out = (double)json_integer_value(j);
        return 0;
    }
    if (json_is_real(j)) {
        *out = json_real_value(j);
        return isfinite(*out) ? 0 : -1;
    }
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        char *end = NULL;
        double v;
        if (strcmp(s, "NaN") == 0) {
            *out = NAN;
            return 0;
        }
        if (*s == '\0' || json_string_length(j) > 64)
            return -1;
        errno = 0;
        v = strtod(s, &end);
        if (*end != '\0' || errno == ERANGE || !isfinite(v))
            return -1;
        *out = v;
        return 0;
    }
    return -1;
}

static int i64_of(const json_t *j, int64_t *out)
{
    if (json_is_integer(j)) {
        *out = (int64_t)json_integer_value(j);
        return 0;
    }
    if (json_is_real(j)) {
        double v = json_real_value(j);
        if (!isfinite(v) || v < -9.2e18 || v > 9.2e18)
            return -1;
        *out = (int64_t)v;
        return 0;
    }
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        char *end = NULL;
        long long v;
        if (*s == '\0')
            return -1;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (*end != '\0' || errno == ERANGE)
            return -1;
        *out = (int64_t)v;
        return 0;
    }
    return -1;
}

static int64_t i64_key(const json_t *obj, const char *key)
{
    int64_t v;
    if (!json_is_object(obj) || i64_of(json_object_get(obj, key), &v) < 0)
        return -1;
    return v;
}

static const char *str_key(const json_t *obj, const char *key)
{
    const json_t *j = json_object_get(obj, key);
    return json_is_string(j) ? json_string_value(j) : NULL;
}

/* Ids go into URL paths: only [0-9A-Za-z], so nothing in them can change
 * the request (no '/', '..', '?', '%'). */
static bool valid_id(const char *s)
{
    size_t n = 0;
    if (!s)
        return false;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                  (c >= 'A' && c <= 'Z');
        if (!ok || n >= FLINK_MAX_ID_LEN)
            return false;
    }
    return n > 0;
}

/* ======================= jobs overview ======================= */

bool flink_job_state_terminal(const char *state)
{
    static const char *const terminal[] = {"FINISHED", "CANCELED", "FAILED",
                                           "SUSPENDED"};
    for (size_t i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++)
        if (strcmp(state, terminal[i]) == 0)
            return true;
    return false;
}

int flink_json_jobs_overview(const char *s, size_t len, struct flink_jobs *out,
                             char *err, size_t errlen)
{
    int rc = -1;
    json_t *root = load(s, len, err, errlen);
    const json_t *jobs;

    memset(out, 0, sizeof(*out));
    if (!root)
        goto out;
    jobs = json_object_get(root, "jobs");
    if (!json_is_array(jobs)) {
        set_err(err, errlen, "no \"jobs\" array");
        goto out;
    }
    out->v = xcalloc(json_array_size(jobs) + 1, sizeof(*out->v));
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        const json_t *j = json_array_get(jobs, i);
        const char *jid = str_key(j, "jid");
        const char *name = str_key(j, "name");
        const char *state = str_key(j, "state");
        struct flink_job_summary *js;
        if (!valid_id(jid) || !name || !state) {
            out->skipped++;
            continue;
        }
        js = &out->v[out->n++];
        js->jid = xstrdup(jid);
        js->name = xstrdup(name);
        js->state = xstrdup(state);
        js->start_time_ms = i64_key(j, "start-time");
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

void flink_jobs_release(struct flink_jobs *j)
{
    for (size_t i = 0; i < j->n; i++) {
        free(j->v[i].jid);
        free(j->v[i].name);
        free(j->v[i].state);
    }
    free(j->v);
    memset(j, 0, sizeof(*j));
}

/* ======================= job details ======================= */

struct id_index {
    const char *id;
    size_t idx;
};

static int id_index_cmp(const void *a, const void *b)
{
    const struct id_index *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c != 0)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static long id_lookup(const struct id_index *ix, size_t n, const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ix[mid].id, id);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n && strcmp(ix[lo].id, id) == 0)
        return (long)ix[lo].idx;
    return -1;
}

static void add_upstream(struct flink_vertex *v, size_t u, size_t *cap)
{
    for (size_t k = 0; k < v->n_upstream; k++)
        if (v->upstream[k] == u)
            return;
    v->upstream =
        xgrow(v->upstream, cap, v->n_upstream + 1, sizeof(*v->upstream));
    v->upstream[v->n_upstream++] = u;
}

static void parse_plan(const json_t *plan, struct flink_job_details *d)
{
    const json_t *nodes = json_object_get(plan, "nodes");
    struct id_index *ix;
    size_t *caps;

    if (!json_is_array(nodes))
        return;
    d->has_plan = true;
    ix = xcalloc(d->n + 1, sizeof(*ix));
    caps = xcalloc(d->n + 1, sizeof(*caps));
    for (size_t i = 0; i < d->n; i++)
        ix[i] = (struct id_index){d->v[i].id, i};
    qsort(ix, d->n, sizeof(*ix), id_index_cmp);
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        const json_t *node = json_array_get(nodes, i);
        const json_t *inputs = json_object_get(node, "inputs");
        const char *id = str_key(node, "id");
        long vi;
        if (!id || !json_is_array(inputs))
            continue;
        vi = id_lookup(ix, d->n, id);
        if (vi < 0)
            continue;
        for (size_t k = 0; k < json_array_size(inputs); k++) {
            const char *in = str_key(json_array_get(inputs, k), "id");
            long ui = in ? id_lookup(ix, d->n, in) : -1;
            if (ui >= 0 && ui != vi)
                add_upstream(&d->v[vi], (size_t)ui, &caps[vi]);
        }
    }
    free(ix);
    free(caps);
}

int flink_json_job_details(const char *s, size_t len,
                           struct flink_job_details *out, char *err,
                           size_t errlen)
{
    int rc = -1;
    json_t *root = load(s, len, err, errlen);
    const json_t *vertices;
    const char *jid, *name, *state;

    memset(out, 0, sizeof(*out));
    if (!root)
        goto out;
    jid = str_key(root, "jid");
    name = str_key(root, "name");
    state = str_key(root, "state");
    vertices = json_object_get(root, "vertices");
    if (!valid_id(jid) || !name || !state) {
        set_err(err, errlen, "no valid \"jid\", \"name\" and \"state\"");
        goto out;
    }
    if (!json_is_array(vertices)) {
        set_err(err, errlen, "no \"vertices\" array");
        goto out;
    }
    if (json_array_size(vertices) > FLINK_MAX_VERTICES) {
        set_err(err, errlen, "%zu vertices, more than %d",
                json_array_size(vertices), FLINK_MAX_VERTICES);
        goto out;
    }
    out->jid = xstrdup(jid);
    out->name = xstrdup(name);
    out->state = xstrdup(state);
    out->v = xcalloc(json_array_size(vertices) + 1, sizeof(*out->v));
    for (size_t i = 0; i < json_array_size(vertices); i++) {
        const json_t *jv = json_array_get(vertices, i);
        const char *vid = str_key(jv, "id");
        const char *vname = str_key(jv, "name");
        int64_t par = i64_key(jv, "parallelism");
        struct flink_vertex *v;
        if (!valid_id(vid) || !vname || par < 1 ||
            par > FLINK_MAX_PARALLELISM) {
            set_err(err, errlen,
                    "vertex %zu: no valid \"id\", \"name\" and "
                    "\"parallelism\"",
                    i);
            goto out;
        }
        v = &out->v[out->n++];
        v->id = xstrdup(vid);
        v->name = xstrdup(vname);
        v->parallelism = (size_t)par;
    }
    parse_plan(json_object_get(root, "plan"), out);
    rc = 0;
out:
    if (rc < 0)
        flink_job_details_release(out);
    json_decref(root);
    return rc;
}

void flink_job_details_release(struct flink_job_details *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].id);
        free(d->v[i].name);
        free(d->v[i].upstream);
    }
    free(d->v);
    free(d->jid);
    free(d->name);
    free(d->state);
    memset(d, 0, sizeof(*d));
}

/* ======================= metric lists ======================= */

int flink_json_metrics(const char *s, size_t len, struct flink_metrics *out,
                       char *err, size_t errlen)
{
    int rc = -1;
    json_t *root = load(s, len, err, errlen);

    memset(out, 0, sizeof(*out));
    if (!root)
        goto out;
    if (!json_is_array(root)) {
        set_err(err, errlen, "not a JSON array of metrics");
        goto out;
    }
    out->v = xcalloc(json_array_size(root) + 1, sizeof(*out->v));
    for (size_t i = 0; i < json_array_size(root); i++) {
        const json_t *e = json_array_get(root, i);
        const char *id = str_key(e, "id");
        struct flink_metric *m;
        if (!id)
            continue;
        m = &out->v[out->n++];
        m->id = xstrdup(id);
        m->numeric = num_of(json_object_get(e, "value"), &m->value) == 0;
        if (!m->numeric)
            m->value = NAN;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

void flink_metrics_release(struct flink_metrics *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].id);
    free(m->v);
    memset(m, 0, sizeof(*m));
}

int flink_metrics_get(const struct flink_metrics *m, const char *id,
                      double *value)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->v[i].numeric && strcmp(m->v[i].id, id) == 0) {
            *value = m->v[i].value;
            return 0;
        }
    }
    return -1;
}

size_t flink_metrics_subtask_timing(const struct flink_metrics *m,
                                    struct task_timing_subtask *st, size_t n)
{
    size_t set = 0;
    for (size_t i = 0; i < m->n; i++) {
        const char *id = m->v[i].id;
        char *end = NULL;
        unsigned long k;
        struct task_timing_subtask *t;
        if (!m->v[i].numeric || *id < '0' || *id > '9')
            continue;
        errno = 0;
        k = strtoul(id, &end, 10);
        if (errno == ERANGE || *end != '.' || k >= n)
            continue;
        t = &st[k];
        end++;
        if (strcmp(end, "busyTimeMsPerSecond") == 0)
            t->busy_ms = m->v[i].value;
        else if (strcmp(end, "backPressuredTimeMsPerSecond") == 0)
            t->bp_ms = m->v[i].value;
        else if (strcmp(end, "idleTimeMsPerSecond") == 0)
            t->idle_ms = m->v[i].value;
        else if (strcmp(end, "numRecordsInPerSecond") == 0)
            t->records_in = m->v[i].value;
        else if (strcmp(end, "currentInputWatermark") == 0)
            t->watermark_ms = m->v[i].value;
        else
            continue;
        set++;
    }
    return set;
}

/* ======================= checkpoints ======================= */

static enum flink_checkpoint_kind ckp_kind(const json_t *e)
{
    static const char *const keys[] = {"className", "@class", "clazz"};
    static const struct {
        const char *disc, *status;
        enum flink_checkpoint_kind kind;
    } kinds[] = {
        {"completed", "COMPLETED", FLINK_CKP_COMPLETED},
        {"failed", "FAILED", FLINK_CKP_FAILED},
        {"in_progress", "IN_PROGRESS", FLINK_CKP_IN_PROGRESS},
    };
    const char *status = str_key(e, "status");
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        const char *d = str_key(e, keys[k]);
        if (!d)
            continue;
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
            if (strcmp(d, kinds[i].disc) == 0)
                return kinds[i].kind;
    }
    for (size_t i = 0; status && i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(status, kinds[i].status) == 0)
            return kinds[i].kind;
    return FLINK_CKP_UNKNOWN;
}

static void take_latest(struct flink_checkpoints *c, const json_t *e)
{
    c->has_latest = true;
    c->latest_id = i64_key(e, "id");
    c->latest_ack_ms = i64_key(e, "latest_ack_timestamp");
    c->latest_trigger_ms = i64_key(e, "trigger_timestamp");
    c->latest_duration_ms = i64_key(e, "end_to_end_duration");
    c->latest_size_bytes = i64_key(e, "checkpointed_size");
}

int flink_json_checkpoints(const char *s, size_t len,
                           struct flink_checkpoints *out, char *err,
                           size_t errlen)
{
    int rc = -1;
    json_t *root = load(s, len, err, errlen);
    const json_t *counts, *latest, *completed, *history;
    const json_t *best = NULL;
    int64_t best_id = -1;

    memset(out, 0, sizeof(*out));
    out->restored = out->total = out->in_progress = -1;
    out->completed = out->failed = -1;
    out->latest_id = out->latest_ack_ms = out->latest_trigger_ms = -1;
    out->latest_duration_ms = out->latest_size_bytes = -1;
    if (!root)
        goto out;
    if (!json_is_object(root)) {
        set_err(err, errlen, "not a JSON object");
        goto out;
    }
    counts = json_object_get(root, "counts");
    if (json_is_object(counts)) {
        out->has_counts = true;
        out->restored = i64_key(counts, "restored");
        out->total = i64_key(counts, "total");
        out->in_progress = i64_key(counts, "in_progress");
        out->completed = i64_key(counts, "completed");
        out->failed = i64_key(counts, "failed");
    }
    history = json_object_get(root, "history");
    for (size_t i = 0; json_is_array(history) && i < json_array_size(history);
         i++) {
        const json_t *e = json_array_get(history, i);
        enum flink_checkpoint_kind k;
        int64_t id;
        if (!json_is_object(e))
            continue;
        k = ckp_kind(e);
        out->history_n[k]++;
        id = i64_key(e, "id");
        if (k == FLINK_CKP_COMPLETED && (!best || id > best_id)) {
            best = e;
            best_id = id;
        }
    }
    latest = json_object_get(root, "latest");
    completed =
        json_is_object(latest) ? json_object_get(latest, "completed") : NULL;
    if (json_is_object(completed))
        take_latest(out, completed);
    else if (best)
        take_latest(out, best);
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* ======================= taskmanagers ======================= */

static bool host_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == '_';
}

/* Copies the host that starts at p and ends at ':' (or at one of stop or
 * the end) when it is a plain hostname/IPv4 or a bracketed IPv6 literal;
 * any other character refuses it. */
static char *host_from(const char *p, const char *stop)
{
    size_t n = 0;
    if (*p == '[') {
        n = 1;
        while (p[n] && p[n] != ']' && n <= FLINK_MAX_HOST_LEN) {
            char c = p[n];
            bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                      (c >= 'A' && c <= 'F') || c == ':' || c == '.';
            if (!ok)
                return NULL;
            n++;
        }
        if (p[n] != ']' || n < 3)
            return NULL;
        return xstrndup(p, n + 1);
    }
    while (p[n] && p[n] != ':' && !strchr(stop, p[n])) {
        if (!host_char(p[n]) || n >= FLINK_MAX_HOST_LEN)
            return NULL;
        n++;
    }
    return n > 0 ? xstrndup(p, n) : NULL;
}

static char *tm_host(const char *id, const char *path)
{
    char *host = NULL;
    if (path) {
        const char *at = strchr(path, '@');
        if (at)
            host = host_from(at + 1, "/");
    }
    /* standalone ResourceIDs are "<rpc address>:<port>-<6 hex>"; a pod name
     * or container id has no ':' and names no reachable host */
    if (!host && id && strchr(id, ':'))
        host = host_from(id, "");
    return host;
}

int flink_json_taskmanagers(const char *s, size_t len,
                            struct flink_taskmanagers *out, char *err,
                            size_t errlen)
{
    int rc = -1;
    json_t *root = load(s, len, err, errlen);
    const json_t *tms;

    memset(out, 0, sizeof(*out));
    if (!root)
        goto out;
    tms = json_object_get(root, "taskmanagers");
    if (!json_is_array(tms)) {
        set_err(err, errlen, "no \"taskmanagers\" array");
        goto out;
    }
    out->v = xcalloc(json_array_size(tms) + 1, sizeof(*out->v));
    for (size_t i = 0; i < json_array_size(tms); i++) {
        const json_t *t = json_array_get(tms, i);
        const char *id = str_key(t, "id");
        char *host = id ? tm_host(id, str_key(t, "path")) : NULL;
        if (!host) {
            out->skipped++;
            continue;
        }
        out->v[out->n].id = xstrdup(id);
        out->v[out->n].host = host;
        out->n++;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

void flink_taskmanagers_release(struct flink_taskmanagers *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].id);
        free(t->v[i].host);
    }
    free(t->v);
    memset(t, 0, sizeof(*t));
}

int flink_json_error_message(const char *s, size_t len, char *out,
                             size_t outlen)
{
    int rc = -1;
    json_t *root = json_loadb(s, len, 0, NULL);
    const json_t *errors = json_object_get(root, "errors");
    const json_t *first = json_array_get(errors, 0);
    if (json_is_string(first) && outlen > 0) {
        snprintf(out, outlen, "%s", json_string_value(first));
        rc = 0;
    }
    json_decref(root);
    return rc;
}
