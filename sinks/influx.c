#include "influx.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <zlib.h>

#include "buf.h"
#include "lineproto.h"
#include "log.h"
#include "xalloc.h"

/* A batch is queued at batch_size points or at this many bytes, whichever
 * comes first: ~1 MiB keeps one request well under influxd's default
 * max-body-size (25 MB) and bounds the memory of a split after a 413. */
#define BATCH_MAX_BYTES (1024 * 1024)
/* influxd's answers are short JSON; anything longer is clipped. */
#define RESP_MAX_BYTES (64 * 1024)
/* How much of influxd's error text goes into a log line. */
#define ERR_CLIP 300
#define BACKOFF_BASE_MS 200
#define BACKOFF_MAX_MS 30000
/* influx_sink_free() waits this long for queued batches. */
#define FREE_DRAIN_MS 2000
#define SINK_MAGIC 0x1f1a5e57u

struct batch {
    struct batch *next;
    char *data;
    size_t len;
    uint32_t *ends; /* ends[i]: offset just past line i's newline; string
                       fields may hold raw newlines, so lines are not
                       found by scanning */
    size_t npoints;
};

struct node {
    struct influx_sink *s;
    size_t idx;
    char *name;
    char *url;     /* without userinfo, for log lines */
    char *write_url;
    char *query_url;
    pthread_t thread;
    bool started;

    pthread_mutex_t mu;
    pthread_cond_t wake; /* writer: new batch, first point, stop */
    pthread_cond_t idle; /* drain: pending reached 0 */
    /* Under mu. */
    struct buf cur;
    uint32_t *cur_ends;
    size_t cur_points;
    uint64_t cur_since_ms;
    struct batch *head, *tail;
    uint64_t queued_bytes;
    size_t pending; /* queued plus in flight */
    bool stop;
    bool refusing; /* queue full: dropping new batches */
    uint64_t refused_points;
    struct influx_node_stats st;
    struct lineproto_stats lps;
    uint64_t dropped_seen; /* st.points_dropped at the last drain */

    /* Writer thread only. */
    CURL *curl;
    struct curl_slist *hdr_plain, *hdr_gzip, *hdr_form;
    z_stream zs;
    bool zs_ok;
    struct buf gz;
    struct buf resp;
    unsigned seed;
};

struct influx_sink {
    unsigned magic;
    char *db;
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

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct timespec abs_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
                          .tv_nsec = (long)(ms % 1000) * 1000000};
    return ts;
}

/* ------------------------------------------------------------------ */
/* URLs */

static void add_pct(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            buf_addc(b, (char)c);
        } else {
            buf_addc(b, '%');
            buf_addc(b, hex[c >> 4]);
            buf_addc(b, hex[c & 15]);
        }
    }
}

/* The URL without "user:pass@", so that log lines never carry a secret. */
static char *url_for_log(const char *url)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    const char *at = strchr(host, '@');
    const char *slash = strchr(host, '/');
    if (!at || (slash && slash < at))
        return xstrdup(url);
    struct buf b = BUF_INIT;
    buf_add(&b, url, (size_t)(host - url));
    buf_adds(&b, at + 1);
    return buf_detach(&b, NULL);
}

/* ------------------------------------------------------------------ */
/* Queue (node mutex held) */

static void batch_free(struct batch *b)
{
    if (!b)
        return;
    free(b->data);
    free(b->ends);
    free(b);
}

static void enqueue_cur_locked(struct node *nd)
{
    struct influx_sink *s = nd->s;
    size_t n = nd->cur_points;
    if (n == 0)
        return;
    nd->cur_points = 0;
    /* No spool yet (a later issue replaces this drop with a disk spool):
     * a full queue refuses the whole new batch, and says so once per
     * change of state. */
    if (nd->queued_bytes + nd->cur.len > s->queue_max) {
        nd->st.points_dropped += n;
        nd->st.batches_failed++;
        nd->refused_points += n;
        if (!nd->refusing) {
            nd->refusing = true;
            log_warn("queue of node '%s' (%s) is full (%llu bytes): "
                     "dropping new batches",
                     nd->name, nd->url, (unsigned long long)s->queue_max);
        }
        buf_reset(&nd->cur);
        return;
    }
    if (nd->refusing) {
        log_info("queue of node '%s' (%s) accepts batches again after "
                 "dropping %llu points",
                 nd->name, nd->url, (unsigned long long)nd->refused_points);
        nd->refusing = false;
        nd->refused_points = 0;
    }
    struct batch *b = xcalloc(1, sizeof(*b));
    size_t cap = nd->cur.cap;
    b->data = buf_detach(&nd->cur, &b->len);
    /* Partial batches (flushes) would otherwise pin a full-size block. */
    if (cap > 2 * b->len + 4096)
        b->data = xrealloc(b->data, b->len + 1);
    b->ends = nd->cur_ends;
    nd->cur_ends = NULL;
    b->npoints = n;
    if (nd->tail)
        nd->tail->next = b;
    else
        nd->head = b;
    nd->tail = b;
    nd->queued_bytes += b->len;
    nd->pending++;
    pthread_cond_signal(&nd->wake);
}

/* ------------------------------------------------------------------ */
/* HTTP (writer thread) */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct buf *b = ctx;
    /* Past the cap the rest is ignored, not an error: only the start of
     * influxd's message matters. */
    buf_add(b, p, size * nmemb);
    return size * nmemb;
}

/* Copies src into dst[n], cut to fit. */
static void copy_clip(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void node_set_error(struct node *nd, const char *msg)
{
    pthread_mutex_lock(&nd->mu);
    copy_clip(nd->st.last_error, sizeof(nd->st.last_error), msg);
    pthread_mutex_unlock(&nd->mu);
}

static void node_set_up(struct node *nd, bool up)
{
    pthread_mutex_lock(&nd->mu);
    bool was = nd->st.up;
    nd->st.up = up;
    pthread_mutex_unlock(&nd->mu);
    if (was && !up)
        log_warn("node '%s' (%s) is down", nd->name, nd->url);
    else if (!was && up)
        log_info("node '%s' (%s) is up", nd->name, nd->url);
}

static int gzip_body(struct node *nd, const char *data, size_t len)
{
    if (!nd->zs_ok || deflateReset(&nd->zs) != Z_OK)
        return -1;
    buf_reset(&nd->gz);
    uLong bound = deflateBound(&nd->zs, (uLong)len);
    if (buf_reserve(&nd->gz, bound) < 0)
        return -1;
    nd->zs.next_in = (Bytef *)data;
    nd->zs.avail_in = (uInt)len;
    nd->zs.next_out = (Bytef *)nd->gz.data;
    nd->zs.avail_out = (uInt)bound;
    if (deflate(&nd->zs, Z_FINISH) != Z_STREAM_END)
        return -1;
    nd->gz.len = bound - nd->zs.avail_out;
    return 0;
}

/* One request. Returns the HTTP status, or 0 on a transport error (with
 * the reason in err); the answer's body is in nd->resp. */
static long http_post(struct node *nd, const char *url,
                      struct curl_slist *hdr, const char *data, size_t len,
                      char *err, size_t errlen)
{
    long status = 0;
    buf_reset(&nd->resp);
    if (!nd->curl) {
        snprintf(err, errlen, "cannot create a curl handle");
        return 0;
    }
    CURL *c = nd->curl;
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    uint64_t t0 = mono_ns();
    CURLcode rc = curl_easy_perform(c);
    uint64_t dt = mono_ns() - t0;
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    pthread_mutex_lock(&nd->mu);
    nd->st.write_ns_total += dt;
    nd->st.write_count++;
    if (rc == CURLE_OK)
        nd->st.bytes_sent += len;
    pthread_mutex_unlock(&nd->mu);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
        return 0;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static long post_write(struct node *nd, const char *data, size_t len,
                       char *err, size_t errlen)
{
    if (nd->s->gzip) {
        if (gzip_body(nd, data, len) < 0) {
            snprintf(err, errlen, "cannot gzip the request body");
            return 0;
        }
        return http_post(nd, nd->write_url, nd->hdr_gzip, nd->gz.data,
                         nd->gz.len, err, errlen);
    }
    return http_post(nd, nd->write_url, nd->hdr_plain, data, len, err,
                     errlen);
}

/* CREATE DATABASE "db" through /query; 0 on success. */
static int create_database(struct node *nd)
{
    struct influx_sink *s = nd->s;
    struct buf q = BUF_INIT, body = BUF_INIT;
    char err[CURL_ERROR_SIZE + 64] = "";
    int rc = -1;
    buf_adds(&q, "CREATE DATABASE \"");
    for (const char *p = s->db; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_addc(&q, '\\');
        buf_addc(&q, *p);
    }
    buf_addc(&q, '"');
    buf_adds(&body, "q=");
    add_pct(&body, q.data);
    long status = http_post(nd, nd->query_url, nd->hdr_form, body.data,
                            body.len, err, sizeof(err));
    if (status == 200 && !strstr(nd->resp.data, "\"error\"")) {
        log_info("created database '%s' on node '%s' (%s)", s->db, nd->name,
                 nd->url);
        rc = 0;
        goto out;
    }
    log_error("cannot create database '%s' on node '%s' (%s): %s", s->db,
              nd->name, nd->url,
              status ? nd->resp.data : err);
out:
    buf_release(&q);
    buf_release(&body);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Sending a batch (writer thread) */

static void count_written(struct node *nd, size_t n)
{
    pthread_mutex_lock(&nd->mu);
    nd->st.points_written += n;
    nd->st.batches_written++;
    pthread_mutex_unlock(&nd->mu);
}

static void count_dropped(struct node *nd, size_t n, const char *why)
{
    pthread_mutex_lock(&nd->mu);
    nd->st.points_dropped += n;
    nd->st.batches_failed++;
    copy_clip(nd->st.last_error, sizeof(nd->st.last_error), why);
    pthread_mutex_unlock(&nd->mu);
    log_error("dropping %zu points for node '%s' (%s): %s", n, nd->name,
              nd->url, why);
}

/* Sleeps the backoff of attempt (1-based); returns true when the sink is
 * stopping, and the batch should be given up. */
static bool backoff_wait(struct node *nd, unsigned attempt)
{
    uint64_t ms = BACKOFF_BASE_MS;
    for (unsigned i = 1; i < attempt && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    if (ms > BACKOFF_MAX_MS)
        ms = BACKOFF_MAX_MS;
    /* +-25% jitter so that agents do not retry in lockstep */
    ms = ms * 3 / 4 + (uint64_t)rand_r(&nd->seed) % (ms / 2 + 1);
    uint64_t until = mono_ms() + ms;
    struct timespec ts = abs_ms(until);
    bool stop;
    pthread_mutex_lock(&nd->mu);
    while (!nd->stop && mono_ms() < until)
        pthread_cond_timedwait(&nd->wake, &nd->mu, &ts);
    stop = nd->stop;
    pthread_mutex_unlock(&nd->mu);
    return stop;
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

static void send_range(struct node *nd, const struct batch *b, size_t lo,
                       size_t hi);

/* A partial write: influxd wrote the lines it could. dropped=N counts the
 * points it refused; lines it could not parse are not in N, each is named
 * in an "unable to parse" clause. */
static void on_partial(struct node *nd, size_t n, const char *body)
{
    uint64_t lost = parse_dropped(body) + count_str(body, "unable to parse");
    if (lost > n)
        lost = n;
    char why[ERR_CLIP + 64];
    snprintf(why, sizeof(why), "partial write: %.*s", ERR_CLIP, body);
    pthread_mutex_lock(&nd->mu);
    nd->st.points_written += n - lost;
    nd->st.points_dropped += lost;
    nd->st.batches_written++;
    copy_clip(nd->st.last_error, sizeof(nd->st.last_error), why);
    pthread_mutex_unlock(&nd->mu);
    log_warn("partial write to node '%s' (%s), %llu of %zu points dropped: "
             "%.*s",
             nd->name, nd->url, (unsigned long long)lost, n, ERR_CLIP, body);
}

static void send_range(struct node *nd, const struct batch *b, size_t lo,
                       size_t hi)
{
    struct influx_sink *s = nd->s;
    size_t off = lo ? b->ends[lo - 1] : 0;
    size_t len = b->ends[hi - 1] - off;
    const char *data = b->data + off;
    size_t n = hi - lo;
    bool tried_create = false;
    unsigned attempt = 0;
    char err[CURL_ERROR_SIZE + 64];
    char why[ERR_CLIP + 96];
    for (;;) {
        err[0] = '\0';
        long status = post_write(nd, data, len, err, sizeof(err));
        const char *body = nd->resp.data;
        if (status >= 200 && status < 300) {
            node_set_up(nd, true);
            count_written(nd, n);
            return;
        }
        if (status == 0 || status >= 500 || status == 429) {
            if (status >= 500 && strstr(body, "retention policy not found")) {
                /* influxd says 500 but nothing will change by retrying */
                node_set_up(nd, true);
                snprintf(why, sizeof(why), "HTTP %ld: %.*s", status,
                         ERR_CLIP, body);
                count_dropped(nd, n, why);
                return;
            }
            if (status == 0)
                snprintf(why, sizeof(why), "%s", err);
            else
                snprintf(why, sizeof(why), "HTTP %ld: %.*s", status,
                         ERR_CLIP, body);
            node_set_up(nd, status == 429);
            if (attempt >= s->max_retries) {
                char gave[sizeof(why) + 48];
                snprintf(gave, sizeof(gave), "giving up after %u retries: %s",
                         attempt, why);
                count_dropped(nd, n, gave);
                return;
            }
            attempt++;
            log_warn("cannot write %zu points to node '%s' (%s), retry %u "
                     "of %u: %s",
                     n, nd->name, nd->url, attempt, s->max_retries, why);
            node_set_error(nd, why);
            pthread_mutex_lock(&nd->mu);
            nd->st.points_retried += n;
            pthread_mutex_unlock(&nd->mu);
            if (backoff_wait(nd, attempt)) {
                count_dropped(nd, n, "sink stopping while retrying");
                return;
            }
            continue;
        }
        node_set_up(nd, true);
        if (status == 400 && strstr(body, "partial write")) {
            on_partial(nd, n, body);
            return;
        }
        if (status == 404 && strstr(body, "database not found") &&
            s->create_db && !tried_create) {
            tried_create = true;
            if (create_database(nd) == 0)
                continue;
        }
        if (status == 413 && n > 1) {
            size_t mid = lo + n / 2;
            log_info("node '%s' (%s) refused %zu bytes as too large: "
                     "splitting %zu points in two",
                     nd->name, nd->url, len, n);
            send_range(nd, b, lo, mid);
            send_range(nd, b, mid, hi);
            return;
        }
        snprintf(why, sizeof(why), "HTTP %ld: %.*s", status, ERR_CLIP, body);
        count_dropped(nd, n, why);
        return;
    }
}

/* ------------------------------------------------------------------ */
/* Writer thread */

static void writer_setup(struct node *nd)
{
    struct influx_sink *s = nd->s;
    nd->curl = curl_easy_init();
    if (nd->curl) {
        CURL *c = nd->curl;
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &nd->resp);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        if (s->user) {
            curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
            curl_easy_setopt(c, CURLOPT_USERNAME, s->user);
            curl_easy_setopt(c, CURLOPT_PASSWORD, s->pass ? s->pass : "");
        }
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
    nd->hdr_plain = curl_slist_append(nd->hdr_plain,
                                      "Content-Type: text/plain; "
                                      "charset=utf-8");
    nd->hdr_gzip = curl_slist_append(nd->hdr_gzip,
                                     "Content-Type: text/plain; "
                                     "charset=utf-8");
    nd->hdr_gzip = curl_slist_append(nd->hdr_gzip, "Content-Encoding: gzip");
    nd->hdr_form = curl_slist_append(nd->hdr_form,
                                     "Content-Type: "
                                     "application/x-www-form-urlencoded");
    /* Level 1: most of the ratio on repetitive line protocol, at a
     * fraction of the CPU of the default level. 15 + 16: gzip header. */
    memset(&nd->zs, 0, sizeof(nd->zs));
    nd->zs_ok = deflateInit2(&nd->zs, 1, Z_DEFLATED, 15 + 16, 8,
                             Z_DEFAULT_STRATEGY) == Z_OK;
}

static void writer_teardown(struct node *nd)
{
    curl_easy_cleanup(nd->curl);
    nd->curl = NULL;
    curl_slist_free_all(nd->hdr_plain);
    curl_slist_free_all(nd->hdr_gzip);
    curl_slist_free_all(nd->hdr_form);
    nd->hdr_plain = nd->hdr_gzip = nd->hdr_form = NULL;
    if (nd->zs_ok)
        deflateEnd(&nd->zs);
    nd->zs_ok = false;
    buf_release(&nd->gz);
    buf_release(&nd->resp);
}

static void *writer_main(void *arg)
{
    struct node *nd = arg;
    struct influx_sink *s = nd->s;
    assert(s->magic == SINK_MAGIC);
    writer_setup(nd);
    pthread_mutex_lock(&nd->mu);
    for (;;) {
        if (nd->stop)
            break;
        if (nd->cur_points && mono_ms() >= nd->cur_since_ms + s->flush_ms)
            enqueue_cur_locked(nd);
        if (nd->head) {
            struct batch *b = nd->head;
            nd->head = b->next;
            if (!nd->head)
                nd->tail = NULL;
            nd->queued_bytes -= b->len;
            pthread_mutex_unlock(&nd->mu);
            send_range(nd, b, 0, b->npoints);
            batch_free(b);
            pthread_mutex_lock(&nd->mu);
            nd->pending--;
            if (nd->pending == 0)
                pthread_cond_broadcast(&nd->idle);
            continue;
        }
        if (nd->cur_points) {
            struct timespec ts = abs_ms(nd->cur_since_ms + s->flush_ms);
            pthread_cond_timedwait(&nd->wake, &nd->mu, &ts);
        } else {
            pthread_cond_wait(&nd->wake, &nd->mu);
        }
    }
    pthread_mutex_unlock(&nd->mu);
    writer_teardown(nd);
    return NULL;
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
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&nd->mu, NULL);
    pthread_cond_init(&nd->wake, &ca);
    pthread_cond_init(&nd->idle, &ca);
    pthread_condattr_destroy(&ca);
    buf_init(&nd->cur, 0);
    buf_init(&nd->gz, 0);
    buf_init(&nd->resp, RESP_MAX_BYTES);
    nd->seed = (unsigned)(mono_ns() ^ (idx * 2654435761u));
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
    nd->url = url_for_log(base);
    struct buf b = BUF_INIT;
    buf_adds(&b, base);
    buf_adds(&b, "/write?db=");
    add_pct(&b, cfg->database);
    if (cfg->retention_policy && cfg->retention_policy[0]) {
        buf_adds(&b, "&rp=");
        add_pct(&b, cfg->retention_policy);
    }
    buf_adds(&b, "&precision=ms");
    nd->write_url = buf_detach(&b, NULL);
    buf_adds(&b, base);
    buf_adds(&b, "/query");
    nd->query_url = buf_detach(&b, NULL);
    free(base);

    return 0;
}

struct influx_sink *influx_sink_new(const struct cfg_influx *cfg, char *err,
                                    size_t errlen)
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
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "cannot initialize libcurl");
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->magic = SINK_MAGIC;
    s->db = xstrdup(cfg->database);
    s->user = cfg->username && cfg->username[0] ? xstrdup(cfg->username)
                                                 : NULL;
    s->pass = cfg->password ? xstrdup(cfg->password) : NULL;
    s->batch_size = cfg->batch_size ? cfg->batch_size : 5000;
    s->flush_ms = cfg->flush_interval_ms ? cfg->flush_interval_ms : 1000;
    s->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 10000;
    s->max_retries = cfg->max_retries;
    s->queue_max = cfg->queue_max_bytes ? cfg->queue_max_bytes
                                        : 64ull * 1024 * 1024;
    s->create_db = cfg->create_database;
    s->gzip = cfg->gzip;
    s->nodes = xcalloc(cfg->n_nodes, sizeof(*s->nodes));
    s->n = cfg->n_nodes;
    for (size_t i = 0; i < s->n; i++) {
        if (node_init(s, &s->nodes[i], i, &cfg->nodes[i], cfg, err,
                      errlen) < 0)
            goto fail;
    }
    for (size_t i = 0; i < s->n; i++) {
        struct node *nd = &s->nodes[i];
        int rc = pthread_create(&nd->thread, NULL, writer_main, nd);
        if (rc != 0) {
            snprintf(err, errlen, "cannot start writer for node '%s': %s",
                     nd->name, strerror(rc));
            goto fail;
        }
        nd->started = true;
    }
    return s;
fail:
    influx_sink_free(&s);
    return NULL;
}

int influx_sink_write(struct influx_sink *s, size_t node,
                      const struct point *p)
{
    assert(s->magic == SINK_MAGIC && node < s->n);
    struct node *nd = &s->nodes[node];
    int rc;
    pthread_mutex_lock(&nd->mu);
    if (nd->cur_points == 0) {
        if (!nd->cur_ends)
            nd->cur_ends = xmalloc(s->batch_size * sizeof(*nd->cur_ends));
        /* One block per batch instead of a dozen doublings. */
        if (nd->cur.cap == 0)
            buf_reserve(&nd->cur, BATCH_MAX_BYTES / 4);
    }
    rc = lineproto_encode(&nd->cur, p, &nd->lps);
    if (rc == 0) {
        nd->cur_ends[nd->cur_points++] = (uint32_t)nd->cur.len;
        if (nd->cur_points == 1) {
            nd->cur_since_ms = mono_ms();
            /* the writer arms the flush timer */
            pthread_cond_signal(&nd->wake);
        }
        if (nd->cur_points >= s->batch_size ||
            nd->cur.len >= BATCH_MAX_BYTES)
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
    uint64_t until = mono_ms() + timeout_ms;
    struct timespec ts = abs_ms(until);
    influx_sink_flush(s);
    for (size_t i = 0; i < s->n; i++) {
        struct node *nd = &s->nodes[i];
        pthread_mutex_lock(&nd->mu);
        while (nd->pending > 0 && nd->started) {
            if (pthread_cond_timedwait(&nd->idle, &nd->mu, &ts) ==
                    ETIMEDOUT &&
                nd->pending > 0) {
                rc = -1;
                break;
            }
        }
        if (nd->st.points_dropped != nd->dropped_seen)
            rc = -1;
        nd->dropped_seen = nd->st.points_dropped;
        pthread_mutex_unlock(&nd->mu);
    }
    return rc;
}

void influx_sink_node_stats(struct influx_sink *s, size_t node,
                            struct influx_node_stats *out)
{
    assert(s->magic == SINK_MAGIC && node < s->n);
    struct node *nd = &s->nodes[node];
    pthread_mutex_lock(&nd->mu);
    *out = nd->st;
    out->points_skipped_invalid = lineproto_stats_skipped(&nd->lps);
    pthread_mutex_unlock(&nd->mu);
}

void influx_sink_free(struct influx_sink **sp)
{
    struct influx_sink *s = *sp;
    if (!s)
        return;
    assert(s->magic == SINK_MAGIC);
    bool any_started = false;
    for (size_t i = 0; i < s->n; i++)
        any_started |= s->nodes[i].started;
    if (any_started)
        influx_sink_drain(s, FREE_DRAIN_MS);
    for (size_t i = 0; i < s->n; i++) {
        struct node *nd = &s->nodes[i];
        if (!nd->started)
            continue;
        pthread_mutex_lock(&nd->mu);
        nd->stop = true;
        pthread_cond_broadcast(&nd->wake);
        pthread_mutex_unlock(&nd->mu);
    }
    for (size_t i = 0; i < s->n; i++) {
        struct node *nd = &s->nodes[i];
        if (nd->started)
            pthread_join(nd->thread, NULL);
        uint64_t lost = nd->cur_points;
        for (struct batch *b = nd->head; b;) {
            struct batch *next = b->next;
            lost += b->npoints;
            batch_free(b);
            b = next;
        }
        if (lost)
            log_error("dropping %llu unsent points for node '%s' (%s): "
                      "sink stopped",
                      (unsigned long long)lost, nd->name, nd->url);
        if (nd->name) {
            pthread_mutex_destroy(&nd->mu);
            pthread_cond_destroy(&nd->wake);
            pthread_cond_destroy(&nd->idle);
        }
        buf_release(&nd->cur);
        buf_release(&nd->gz);
        buf_release(&nd->resp);
        free(nd->cur_ends);
        free(nd->name);
        free(nd->url);
        free(nd->write_url);
        free(nd->query_url);
    }
    free(s->nodes);
    free(s->db);
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
