#include "influx/influx.h"

#include <assert.h>
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "http_client.h"
#include "influx/influx_api.h"
#include "influx/influx_rec.h"
#include "influx/lineproto.h"
#include "outbox.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/gzip.h"
#include "util/log.h"
#include "util/xalloc.h"

/* A batch is queued at batch_size points or at this many bytes, whichever
 * comes first: ~1 MiB keeps one request well under influxd's default
 * max-body-size (25 MB) and bounds the memory of a split after a 413. */
#define BATCH_MAX_BYTES (1024 * 1024)
/* influxd's answers are short JSON; anything longer is clipped. */
#define RESP_MAX_BYTES (64 * 1024)
/* How much of influxd's error text goes into a log line. */
#define ERR_CLIP        300
#define BACKOFF_BASE_MS 200
/* Also the longest gap between two /ping probes of a node marked down. */
#define BACKOFF_MAX_MS 5000
/* How often a spool that another sink still holds is tried again. */
#define SPOOL_REOPEN_MS 1000
/* influx_sink_free() waits this long for queued batches. */
#define FREE_DRAIN_MS 2000
#define SINK_MAGIC    0x1f1a5e57u
/* A record read back (influx_rec.h, pointing into it) or a part of it;
 * the outbox's meta of a record is the wall-clock ms it was formed at. */
struct batch {
    const char *data;
    size_t len;
    const uint32_t *ends;
    size_t npoints;
    /* A batch written for another destination than the node's configured
     * one goes there: NULL for the node's own. */
    const char *write_url;
    const struct influx_dest *dest;
};

struct node {
    struct influx_sink *s;
    size_t idx;
    char *name;
    char *url;      /* without userinfo, for log lines */
    char *log_name; /* "node 'NAME' (URL)", the outbox's name */
    char *base_url; /* with userinfo, for /write URLs of replayed batches */
    char *write_url;
    char *query_url;
    char *ping_url;
    struct influx_dest dest; /* where live batches go */
    char *auth_hdr;          /* v2 token header or NULL; secret */
    bool basic_auth;         /* username/password go to this node */
    char *spool_path;        /* NULL: no spool configured */
    struct outbox *ob;

    pthread_mutex_t mu;
    /* Under mu: the batch being filled and the HTTP counters. */
    struct buf cur;
    uint32_t *cur_ends;
    size_t cur_points;
    uint64_t cur_since_ms;
    struct lineproto_stats lps;
    uint64_t bytes_sent;
    uint64_t write_ns_total;
    uint64_t write_count;

    /* Sender thread only (the outbox's ops). */
    CURL *curl;
    struct curl_slist *hdr_plain, *hdr_gzip, *hdr_form;
    struct gzip *zs; /* NULL when gzip is off or could not be set up */
    struct buf gz;
    struct buf resp;
    char *replay_target; /* "db/rp" last announced as differing */
};

struct influx_sink {
    unsigned magic;
    char *user;
    char *pass;
    size_t batch_size;
    uint64_t flush_ms;
    uint64_t timeout_ms;
    unsigned max_retries;
    uint64_t queue_max;
    bool create_db;
    bool gzip;
    struct node *nodes;
    size_t n;
};

/* ------------------------------------------------------------------ */
/* URLs */

/* ------------------------------------------------------------------ */
/* Batching (node mutex held) */

/* Closes the current batch into a record and hands it to the outbox. */
static void enqueue_cur_locked(struct node *nd)
{
    size_t n = nd->cur_points;
    if (n == 0)
        return;
    size_t len;
    char *rec = influx_rec_encode(&nd->dest, nd->cur_ends, n, nd->cur.data,
                                  nd->cur.len, &len);
    nd->cur_points = 0;
    buf_reset(&nd->cur);
    outbox_put(nd->ob, rec, len, (uint32_t)n, (uint64_t)clock_wall_ms());
}

/* The outbox's timer: a partial batch is queued flush_ms after its first
 * point. */
static uint64_t node_tick(void *ctx, uint64_t now_ms)
{
    struct node *nd = ctx;
    uint64_t next = UINT64_MAX;
    pthread_mutex_lock(&nd->mu);
    if (nd->cur_points && now_ms >= nd->cur_since_ms + nd->s->flush_ms)
        enqueue_cur_locked(nd);
    if (nd->cur_points)
        next = nd->cur_since_ms + nd->s->flush_ms;
    pthread_mutex_unlock(&nd->mu);
    return next;
}

/* ------------------------------------------------------------------ */
/* HTTP (sender thread) */

static int gzip_body(struct node *nd, const char *data, size_t len)
{
    if (!nd->zs)
        return -1;
    return gzip_encode(nd->zs, data, len, &nd->gz);
}

/* One request. Returns the HTTP status, or 0 on a transport error (with
 * the reason in err); the answer's body is in nd->resp. */
static long http_post(struct node *nd, const char *url, struct curl_slist *hdr,
                      const char *data, size_t len, char *err, size_t errlen)
{
    buf_reset(&nd->resp);
    if (!nd->curl) {
        snprintf(err, errlen, "cannot create a curl handle");
        return 0;
    }
    uint64_t dt;
    long status =
        http_client_post(nd->curl, url, hdr, data, len, err, errlen, &dt);
    pthread_mutex_lock(&nd->mu);
    nd->write_ns_total += dt;
    nd->write_count++;
    if (status)
        nd->bytes_sent += len;
    pthread_mutex_unlock(&nd->mu);
    return status;
}

static long post_write(struct node *nd, const char *url, const char *data,
                       size_t len, char *err, size_t errlen)
{
    if (nd->s->gzip) {
        if (gzip_body(nd, data, len) < 0) {
            snprintf(err, errlen, "cannot gzip the request body");
            return 0;
        }
        return http_post(nd, url, nd->hdr_gzip, nd->gz.data, nd->gz.len, err,
                         errlen);
    }
    return http_post(nd, url, nd->hdr_plain, data, len, err, errlen);
}

/* CREATE DATABASE "db" through /query; 0 on success. */
static int create_database(struct node *nd, const char *db)
{
    struct buf q = BUF_INIT, body = BUF_INIT;
    char err[CURL_ERROR_SIZE + 64] = "";
    int rc = -1;
    buf_adds(&q, "CREATE DATABASE \"");
    for (const char *p = db; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_addc(&q, '\\');
        buf_addc(&q, *p);
    }
    buf_addc(&q, '"');
    buf_adds(&body, "q=");
    http_client_add_pct(&body, q.data, "-._~");
    long status = http_post(nd, nd->query_url, nd->hdr_form, body.data,
                            body.len, err, sizeof(err));
    if (status == 200 && !strstr(nd->resp.data, "\"error\"")) {
        log_info("created database '%s' on node '%s' (%s)", db, nd->name,
                 nd->url);
        rc = 0;
        goto out;
    }
    log_error("cannot create database '%s' on node '%s' (%s): %s", db, nd->name,
              nd->url, status ? nd->resp.data : err);
out:
    buf_release(&q);
    buf_release(&body);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Records */

/* Reads an outbox record (influx_rec.h) into b, which points into it, and
 * its destination into *ir (the caller releases it). When the record was
 * written for another destination than the node's configured one (a config
 * change, or a node switched between api v1 and v2), *url (the caller frees
 * it) says where it goes: a batch is never replayed into a database or
 * bucket it was not written for (logged once per change). False when the
 * record is not a batch. */
static bool rec_to_batch(struct node *nd, const struct outbox_rec *r,
                         struct batch *b, struct influx_rec *ir, char **url)
{
    *url = NULL;
    if (!influx_rec_parse(r->data, r->len, r->items, ir))
        return false;
    b->data = ir->lines;
    b->len = ir->len;
    b->ends = ir->ends;
    b->npoints = ir->npoints;
    if (influx_dest_equal(&ir->dest, &nd->dest))
        return true;
    b->dest = &ir->dest;
    *url = influx_api_write_url(nd->base_url, &ir->dest);
    struct buf u = BUF_INIT, conf = BUF_INIT;
    influx_dest_describe(&ir->dest, &u);
    if (!nd->replay_target || strcmp(nd->replay_target, u.data) != 0) {
        influx_dest_describe(&nd->dest, &conf);
        log_info("spooled points of node '%s' (%s) were written for %s: "
                 "replaying them there, not into the configured %s",
                 nd->name, nd->url, u.data, conf.data);
        free(nd->replay_target);
        nd->replay_target = buf_detach(&u, NULL);
    }
    buf_release(&u);
    buf_release(&conf);
    return true;
}

static uint64_t parse_dropped(const char *body)
{
    const char *p = strstr(body, "dropped=");
    return p ? strtoull(p + 8, NULL, 10) : 0;
}

static size_t count_str(const char *hay, const char *needle)
{
    size_t n = 0;
    size_t nl = strlen(needle);
    for (const char *p = strstr(hay, needle); p; p = strstr(p + nl, needle))
        n++;
    return n;
}

/* ------------------------------------------------------------------ */
/* Sending a record (sender thread) */

enum send_res { SEND_DONE, SEND_RETRY };

/* Lines [lo, hi) of b will never be written: the whole record is refused
 * (the outbox counts and logs it), a part of it is counted here. */
static void refuse(struct node *nd, const struct batch *b, size_t lo, size_t hi,
                   struct outbox_result *res)
{
    if (lo == 0 && hi == b->npoints) {
        res->status = OUTBOX_REFUSED;
        return;
    }
    res->refused += (uint32_t)(hi - lo);
    log_error("dropping %zu points for node '%s' (%s): %s", hi - lo, nd->name,
              nd->url, res->why);
}

/* A partial write: influxd wrote the lines it could. dropped=N counts the
 * points it refused; lines it could not parse are not in N, each is named
 * in an "unable to parse" clause. */
static void on_partial(struct node *nd, size_t n, const char *body,
                       struct outbox_result *res)
{
    uint64_t lost = parse_dropped(body) + count_str(body, "unable to parse");
    if (lost > n)
        lost = n;
    res->refused += (uint32_t)lost;
    snprintf(res->why, sizeof(res->why), "partial write: %.*s", ERR_CLIP, body);
    log_warn("partial write to node '%s' (%s), %llu of %zu points dropped: "
             "%.*s",
             nd->name, nd->url, (unsigned long long)lost, n, ERR_CLIP, body);
}

static void send_retrying(struct node *nd, const struct batch *b, size_t lo,
                          size_t hi, struct outbox_result *res);

/* One attempt at lines [lo, hi) of b (including the database creation
 * and the halves of a 413). SEND_DONE: written, or refused for good and
 * counted in res; SEND_RETRY: a retryable failure, the reason in res. */
static enum send_res send_once(struct node *nd, const struct batch *b,
                               size_t lo, size_t hi, struct outbox_result *res)
{
    struct influx_sink *s = nd->s;
    size_t off = lo ? b->ends[lo - 1] : 0;
    size_t len = b->ends[hi - 1] - off;
    const char *data = b->data + off;
    size_t n = hi - lo;
    bool tried_create = false;
    char *why = res->why;
    size_t whylen = sizeof(res->why);
    char err[CURL_ERROR_SIZE + 64];
    for (;;) {
        err[0] = '\0';
        long status =
            post_write(nd, b->write_url ? b->write_url : nd->write_url, data,
                       len, err, sizeof(err));
        const char *body = nd->resp.data;
        res->answered = status != 0 && (status < 500 || status == 429);
        if (status >= 200 && status < 300)
            return SEND_DONE;
        if (status == 0 || status >= 500 || status == 429) {
            if (status >= 500 && strstr(body, "retention policy not found")) {
                /* influxd says 500 but nothing will change by retrying */
                res->answered = true;
                snprintf(why, whylen, "HTTP %ld: %.*s", status, ERR_CLIP, body);
                refuse(nd, b, lo, hi, res);
                return SEND_DONE;
            }
            if (status == 0)
                snprintf(why, whylen, "%s", err);
            else
                snprintf(why, whylen, "HTTP %ld: %.*s", status, ERR_CLIP, body);
            return SEND_RETRY;
        }
        if (status == 400 && strstr(body, "partial write")) {
            on_partial(nd, n, body, res);
            return SEND_DONE;
        }
        const struct influx_dest *d = b->dest ? b->dest : &nd->dest;
        if (status == 404 && strstr(body, "database not found") &&
            s->create_db && influx_dest_can_create(d) && !tried_create) {
            tried_create = true;
            if (create_database(nd, d->db) == 0)
                continue;
        }
        if (status == 413 && n > 1) {
            size_t mid = lo + n / 2;
            log_info("node '%s' (%s) refused %zu bytes as too large: "
                     "splitting %zu points in two",
                     nd->name, nd->url, len, n);
            send_retrying(nd, b, lo, mid, res);
            send_retrying(nd, b, mid, hi, res);
            return SEND_DONE;
        }
        snprintf(why, whylen, "HTTP %ld: %.*s", status, ERR_CLIP, body);
        refuse(nd, b, lo, hi, res);
        return SEND_DONE;
    }
}

/* A half of a split batch: retried in place cfg->max_retries times (the
 * outbox's backoff), then dropped. */
static void send_retrying(struct node *nd, const struct batch *b, size_t lo,
                          size_t hi, struct outbox_result *res)
{
    struct influx_sink *s = nd->s;
    size_t n = hi - lo;
    for (unsigned attempt = 0;; attempt++) {
        if (send_once(nd, b, lo, hi, res) == SEND_DONE)
            return;
        bool stopping = false;
        if (attempt < s->max_retries) {
            log_warn("cannot write %zu points to node '%s' (%s), retry %u "
                     "of %u: %s",
                     n, nd->name, nd->url, attempt + 1, s->max_retries,
                     res->why);
            outbox_count_retry(nd->ob, (uint32_t)n);
            stopping = outbox_backoff(nd->ob, attempt + 1);
            if (!stopping)
                continue;
        }
        res->dropped += (uint32_t)n;
        log_error("dropping %zu points for node '%s' (%s): %s after %u "
                  "retries: %s",
                  n, nd->name, nd->url, stopping ? "stopping" : "giving up",
                  attempt, res->why);
        return;
    }
}

/* The outbox's send: one attempt at a record, from memory or the spool. */
static void node_send(void *ctx, const struct outbox_rec *r,
                      struct outbox_result *res)
{
    struct node *nd = ctx;
    struct batch b = {0};
    struct influx_rec ir;
    char *url = NULL;
    if (!rec_to_batch(nd, r, &b, &ir, &url)) {
        res->status = OUTBOX_REFUSED;
        snprintf(res->why, sizeof(res->why), "spool record is not a batch");
        return;
    }
    b.write_url = url;
    if (send_once(nd, &b, 0, b.npoints, res) == SEND_RETRY)
        res->status = OUTBOX_RETRY;
    influx_rec_release(&ir);
    free(url);
}

/* At debug level every batch accepted (written or spooled) is logged:
 * lagwatch(8), INFLUXDB. */
static void node_accepted(void *ctx, const struct outbox_rec *r, bool spooled)
{
    struct node *nd = ctx;
    if (!log_enabled(LOG_LVL_DEBUG))
        return;
    struct influx_rec ir;
    if (!influx_rec_parse(r->data, r->len, r->items, &ir))
        return;
    int64_t lo, hi;
    influx_rec_ts_range(&ir, &lo, &hi);
    influx_rec_release(&ir);
    if (spooled)
        log_debug("batch accepted node=%s points=%zu via=spool "
                  "formed_ms=%lld ts_min=%lld ts_max=%lld",
                  nd->name, ir.npoints, (long long)r->meta, (long long)lo,
                  (long long)hi);
    else
        log_debug("batch accepted node=%s points=%zu via=write "
                  "formed_ms=%lld ts_min=%lld ts_max=%lld age_ms=%lld",
                  nd->name, ir.npoints, (long long)r->meta, (long long)lo,
                  (long long)hi,
                  (long long)clock_wall_ms() - (long long)r->meta);
}

/* GET /ping: influxd answers 204 once it is serving (v2: any 2xx, see
 * influx_api_ping_ok()). */
static bool node_probe(void *ctx)
{
    struct node *nd = ctx;
    if (!nd->curl)
        return false;
    CURL *c = nd->curl;
    buf_reset(&nd->resp);
    curl_easy_setopt(c, CURLOPT_URL, nd->ping_url);
    /* the token header too: a v2 server may require it on /ping */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, nd->hdr_plain);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    log_debug("probe node=%s url=%s status=%ld", nd->name, nd->url, status);
    return influx_api_ping_ok(nd->dest.api, status);
}

/* ------------------------------------------------------------------ */
/* Sender thread setup */

static void writer_setup(void *ctx)
{
    struct node *nd = ctx;
    struct influx_sink *s = nd->s;
    nd->curl = curl_easy_init();
    if (nd->curl) {
        http_client_setup(nd->curl, s->timeout_ms, &nd->resp,
                          nd->basic_auth ? s->user : NULL,
                          nd->basic_auth ? s->pass : NULL);
    } else {
        log_error("cannot create a curl handle for node '%s' (%s)", nd->name,
                  nd->url);
    }
    /* "Expect:" off: curl would wait for 100-continue on large bodies. */
    static const char *const common[] = {"Expect:", NULL};
    struct curl_slist **lists[] = {&nd->hdr_plain, &nd->hdr_gzip,
                                   &nd->hdr_form};
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; common[j]; j++)
            *lists[i] = curl_slist_append(*lists[i], common[j]);
    for (size_t i = 0; nd->auth_hdr && i < 3; i++)
        *lists[i] = curl_slist_append(*lists[i], nd->auth_hdr);
    nd->hdr_plain =
        curl_slist_append(nd->hdr_plain, "Content-Type: text/plain; "
                                         "charset=utf-8");
    nd->hdr_gzip = curl_slist_append(nd->hdr_gzip, "Content-Type: text/plain; "
                                                   "charset=utf-8");
    nd->hdr_gzip = curl_slist_append(nd->hdr_gzip, "Content-Encoding: gzip");
    nd->hdr_form =
        curl_slist_append(nd->hdr_form, "Content-Type: "
                                        "application/x-www-form-urlencoded");
    /* util/gzip says why level 1 (libdeflate, one shot per body) */
    nd->zs = nd->s->gzip ? gzip_new() : NULL;
}

static void writer_teardown(void *ctx)
{
    struct node *nd = ctx;
    curl_easy_cleanup(nd->curl);
    nd->curl = NULL;
    curl_slist_free_all(nd->hdr_plain);
    curl_slist_free_all(nd->hdr_gzip);
    curl_slist_free_all(nd->hdr_form);
    nd->hdr_plain = nd->hdr_gzip = nd->hdr_form = NULL;
    gzip_free(&nd->zs);
    buf_release(&nd->gz);
    buf_release(&nd->resp);
}

/* ------------------------------------------------------------------ */
/* Public API */

static int node_init(struct influx_sink *s, struct node *nd, size_t idx,
                     const struct cfg_influx_node *cn,
                     const struct cfg_influx *cfg, char *err, size_t errlen)
{
    nd->s = s;
    nd->idx = idx;
    /* free() destroys these for every node with a name */
    nd->name = xstrdup(cn->name ? cn->name : "");
    pthread_mutex_init(&nd->mu, NULL);
    buf_init(&nd->cur, 0);
    buf_init(&nd->gz, 0);
    buf_init(&nd->resp, RESP_MAX_BYTES);
    if (!cn->url || (strncmp(cn->url, "http://", 7) != 0 &&
                     strncmp(cn->url, "https://", 8) != 0)) {
        snprintf(err, errlen, "bad url '%s' for node '%s': want http(s)://",
                 cn->url ? cn->url : "", nd->name);
        return -1;
    }
    size_t ulen = strlen(cn->url);
    while (ulen > 0 && cn->url[ulen - 1] == '/')
        ulen--;
    char *base = xstrndup(cn->url, ulen);
    nd->base_url = base;
    nd->url = http_client_url_for_log(base);
    if (influx_dest_for_node(&nd->dest, cn, cfg, err, errlen) < 0)
        return -1;
    nd->write_url = influx_api_write_url(base, &nd->dest);
    nd->query_url = influx_api_query_url(base);
    nd->ping_url = influx_api_ping_url(base);
    nd->auth_hdr = influx_api_auth_header(cn);
    nd->basic_auth = influx_api_sends_basic(cn);
    return 0;
}

/* The directory name of a node's spool: the node name with every byte
 * outside [A-Za-z0-9_-] as %XX, so that any name is one safe path
 * component and a node keeps its spool across reloads by name. */
static void spool_name(struct buf *b, const char *name)
{
    if (!name[0])
        buf_adds(b, "%");
    http_client_add_pct(b, name, "-_");
}

/* Spools of nodes that are not configured (any more) stay on disk: say so
 * once at start. */
static void report_orphans(struct influx_sink *s, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    struct buf want = BUF_INIT;
    while ((de = readdir(d)) != NULL) {
        /* remote_write: the remote-write sink's spool, proxy_write the
         * proxy's /write spools (agent.spool_dir is shared; config.c
         * reserves those node names) */
        if (de->d_name[0] == '.' || strcmp(de->d_name, "remote_write") == 0 ||
            strcmp(de->d_name, "proxy_write") == 0)
            continue;
        bool known = false;
        for (size_t i = 0; i < s->n && !known; i++) {
            buf_reset(&want);
            spool_name(&want, s->nodes[i].name);
            known = strcmp(want.data, de->d_name) == 0;
        }
        if (!known)
            log_warn("spool directory '%s/%s' belongs to no configured "
                     "node: kept on disk, resumed when a node of that name "
                     "comes back",
                     dir, de->d_name);
    }
    buf_release(&want);
    closedir(d);
}

static const struct outbox_ops node_ops = {
    .setup = writer_setup,
    .teardown = writer_teardown,
    .send = node_send,
    .probe = node_probe,
    .tick = node_tick,
    .accepted = node_accepted,
};

/* Starts the node's outbox on its spool DIR/<spool_name>, or none. */
static int node_start(struct influx_sink *s, struct node *nd,
                      const struct influx_spool_opts *spool, char *err,
                      size_t errlen)
{
    struct buf b = BUF_INIT;
    buf_addf(&b, "node '%s' (%s)", nd->name, nd->url);
    nd->log_name = buf_detach(&b, NULL);
    if (spool && spool->dir && spool->dir[0]) {
        buf_adds(&b, spool->dir);
        buf_addc(&b, '/');
        spool_name(&b, nd->name);
        nd->spool_path = buf_detach(&b, NULL);
    }
    buf_release(&b);
    struct outbox_opts o = {
        .name = nd->log_name,
        .unit = "points",
        .ops = &node_ops,
        .ctx = nd,
        .queue_max_bytes = s->queue_max,
        .spool_dir = nd->spool_path,
        .spool_max_bytes = spool ? spool->max_bytes : 0,
        .spool_fsync = spool ? spool->fsync : false,
        .spool_reopen_ms = SPOOL_REOPEN_MS,
        .max_retries = s->max_retries,
        .down_after = s->max_retries ? s->max_retries : 1,
        .backoff_min_ms = BACKOFF_BASE_MS,
        .backoff_max_ms = BACKOFF_MAX_MS,
    };
    nd->ob = outbox_new(&o, err, errlen);
    return nd->ob ? 0 : -1;
}

struct influx_sink *influx_sink_new(const struct cfg_influx *cfg,
                                    const struct influx_spool_opts *spool,
                                    char *err, size_t errlen)
{
    struct influx_sink *s = NULL;
    if (cfg->n_nodes == 0) {
        snprintf(err, errlen, "no influxdb nodes configured");
        return NULL;
    }
    if (!cfg->database || !cfg->database[0]) {
        snprintf(err, errlen, "no influxdb database configured");
        return NULL;
    }
    if (strlen(cfg->database) > INFLUX_REC_NAME_MAX ||
        (cfg->retention_policy &&
         strlen(cfg->retention_policy) > INFLUX_REC_NAME_MAX)) {
        snprintf(err, errlen,
                 "influxdb database or retention policy name "
                 "longer than %u bytes",
                 INFLUX_REC_NAME_MAX);
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "cannot initialize libcurl");
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->magic = SINK_MAGIC;
    s->user = cfg->username && cfg->username[0] ? xstrdup(cfg->username) : NULL;
    s->pass = cfg->password ? xstrdup(cfg->password) : NULL;
    s->batch_size = cfg->batch_size ? cfg->batch_size : 5000;
    s->flush_ms = cfg->flush_interval_ms ? cfg->flush_interval_ms : 1000;
    s->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 10000;
    s->max_retries = cfg->max_retries;
    s->queue_max =
        cfg->queue_max_bytes ? cfg->queue_max_bytes : 64ull * 1024 * 1024;
    s->create_db = cfg->create_database;
    s->gzip = cfg->gzip;
    s->nodes = xcalloc(cfg->n_nodes, sizeof(*s->nodes));
    s->n = cfg->n_nodes;
    for (size_t i = 0; i < s->n; i++) {
        if (node_init(s, &s->nodes[i], i, &cfg->nodes[i], cfg, err, errlen) < 0)
            goto fail;
    }
    for (size_t i = 0; i < s->n; i++)
        if (node_start(s, &s->nodes[i], spool, err, errlen) < 0)
            goto fail;
    if (spool && spool->dir && spool->dir[0])
        report_orphans(s, spool->dir);
    return s;
fail:
    influx_sink_free(&s);
    return NULL;
}

int influx_sink_write(struct influx_sink *s, size_t node, const struct point *p)
{
    assert(s->magic == SINK_MAGIC && node < s->n);
    struct node *nd = &s->nodes[node];
    int rc;
    pthread_mutex_lock(&nd->mu);
    if (nd->cur_points == 0) {
        if (!nd->cur_ends)
            nd->cur_ends = xmalloc(s->batch_size * sizeof(*nd->cur_ends));
        /* One block per node instead of a dozen doublings per batch. */
        if (nd->cur.cap == 0)
            buf_reserve(&nd->cur, BATCH_MAX_BYTES / 4);
    }
    rc = lineproto_encode(&nd->cur, p, &nd->lps);
    if (rc == 0) {
        nd->cur_ends[nd->cur_points++] = (uint32_t)nd->cur.len;
        if (nd->cur_points == 1) {
            nd->cur_since_ms = clock_mono_ms();
            /* the sender arms the flush timer */
            outbox_poke(nd->ob);
        }
        if (nd->cur_points >= s->batch_size || nd->cur.len >= BATCH_MAX_BYTES)
            enqueue_cur_locked(nd);
    } else if (rc < 0) {
        /* cur has no cap; keep the batch consistent regardless */
        nd->cur.err = false;
    }
    pthread_mutex_unlock(&nd->mu);
    return rc;
}

void influx_sink_flush(struct influx_sink *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct node *nd = &s->nodes[i];
        pthread_mutex_lock(&nd->mu);
        enqueue_cur_locked(nd);
        pthread_mutex_unlock(&nd->mu);
    }
}

int influx_sink_drain(struct influx_sink *s, uint64_t timeout_ms)
{
    int rc = 0;
    uint64_t until = clock_mono_ms() + timeout_ms;
    influx_sink_flush(s);
    for (size_t i = 0; i < s->n; i++) {
        int r = outbox_drain(s->nodes[i].ob, until);
        if (r < 0 || (r > 0 && rc == 0))
            rc = r;
    }
    return rc;
}

void influx_sink_node_stats(struct influx_sink *s, size_t node,
                            struct influx_node_stats *out)
{
    assert(s->magic == SINK_MAGIC && node < s->n);
    struct node *nd = &s->nodes[node];
    struct outbox_stats os;
    outbox_get_stats(nd->ob, &os);
    memset(out, 0, sizeof(*out));
    out->points_written = os.written;
    out->points_dropped = os.refused + os.dropped;
    out->points_retried = os.retried;
    out->batches_written = os.records_written;
    out->batches_failed = os.records_failed;
    out->points_spooled = os.spooled;
    out->points_replayed = os.replayed;
    out->spool_bytes = os.spool_bytes;
    out->queue_bytes = os.queue_bytes;
    out->spool_points = os.spool_items;
    out->points_dropped_spool = os.dropped_spool;
    memcpy(out->last_error, os.last_error, sizeof(out->last_error));
    out->up = os.up;
    out->down = os.down;
    pthread_mutex_lock(&nd->mu);
    out->bytes_sent = nd->bytes_sent;
    out->write_ns_total = nd->write_ns_total;
    out->write_count = nd->write_count;
    out->points_skipped_invalid = lineproto_stats_skipped(&nd->lps);
    pthread_mutex_unlock(&nd->mu);
}

void influx_sink_free(struct influx_sink **sp)
{
    struct influx_sink *s = *sp;
    if (!s)
        return;
    assert(s->magic == SINK_MAGIC);
    bool all_started = true;
    for (size_t i = 0; i < s->n; i++)
        all_started &= s->nodes[i].ob != NULL;
    if (all_started)
        influx_sink_drain(s, FREE_DRAIN_MS);
    for (size_t i = 0; i < s->n; i++)
        if (s->nodes[i].ob)
            outbox_stop(s->nodes[i].ob);
    for (size_t i = 0; i < s->n; i++) {
        struct node *nd = &s->nodes[i];
        if (nd->ob) {
            /* the partial batch joins the leftovers the outbox spools */
            pthread_mutex_lock(&nd->mu);
            enqueue_cur_locked(nd);
            pthread_mutex_unlock(&nd->mu);
            outbox_free(&nd->ob);
        }
        if (nd->name)
            pthread_mutex_destroy(&nd->mu);
        buf_release(&nd->cur);
        buf_release(&nd->gz);
        buf_release(&nd->resp);
        free(nd->cur_ends);
        free(nd->name);
        free(nd->url);
        free(nd->log_name);
        free(nd->base_url);
        free(nd->replay_target);
        free(nd->write_url);
        free(nd->query_url);
        free(nd->ping_url);
        influx_dest_free(&nd->dest);
        if (nd->auth_hdr) /* do not leave the token in freed memory */
            explicit_bzero(nd->auth_hdr, strlen(nd->auth_hdr));
        free(nd->auth_hdr);
        free(nd->spool_path);
    }
    free(s->nodes);
    free(s->user);
    if (s->pass) {
        /* do not leave the secret in freed memory */
        memset(s->pass, 0, strlen(s->pass));
        free(s->pass);
    }
    s->magic = 0;
    free(s);
    curl_global_cleanup();
    *sp = NULL;
}
