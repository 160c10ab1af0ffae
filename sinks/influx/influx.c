#include "influx/influx.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <time.h>

#include <curl/curl.h>
#include <zlib.h>

#include "util/buf.h"
#include "influx/influx_api.h"
#include "influx/lineproto.h"
#include "http_client.h"
#include "util/log.h"
#include "spool.h"
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
/* A spool record: the destination header of influx_api.h ("LWI2"
 * database and retention policy, or "LWV2" org and bucket) | u32 line
 * ends (host order: a spool never leaves its machine) | the lines. The
 * destination travels with the batch so that a replay after a config
 * change still goes where the batch was written for. */
#define REC_NAME_MAX INFLUX_API_NAME_MAX

struct batch {
    struct batch *next;
    char *data;
    size_t len;
    uint32_t *ends; /* ends[i]: offset just past line i's newline; string
                       fields may hold raw newlines, so lines are not
                       found by scanning */
    size_t npoints;
    int64_t formed_ms;      /* wall clock when the batch was closed */
    int64_t ts_min, ts_max; /* point timestamps, for the debug log */
    /* A replayed batch goes where it was written for: NULL for the
     * node's configured database. */
    const char *write_url;
    const struct influx_dest *dest;
};

struct node {
    struct influx_sink *s;
    size_t idx;
    char *name;
    char *url;      /* without userinfo, for log lines */
    char *base_url; /* with userinfo, for /write URLs of replayed batches */
    char *write_url;
    char *query_url;
    char *ping_url;
    struct influx_dest dest; /* where live batches go */
    char *auth_hdr;          /* v2 token header or NULL; secret */
    bool basic_auth;         /* username/password go to this node */
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
    int64_t cur_ts_min, cur_ts_max;
    struct batch *head, *tail;
    uint64_t queued_bytes;
    size_t pending; /* queued plus in flight */
    bool stop;
    bool refusing; /* queue full: dropping new batches */
    uint64_t refused_points;
    struct influx_node_stats st;
    struct lineproto_stats lps;
    uint64_t dropped_seen; /* total dropped at the last drain */
    bool spooling;         /* new batches go to the spool (it is not empty) */
    bool down;             /* marked down: probe /ping before replaying */

    /* The spool: sp and these counters under spool_mu. Lock order: mu,
     * then spool_mu; a batch is handed from mu to spool_mu hand over hand
     * so that spool appends keep the order in which batches were closed. */
    pthread_mutex_t spool_mu;
    struct spool *sp;        /* NULL until opened */
    char *spool_path;        /* NULL: no spool configured */
    bool spool_unclaimed;    /* exists on disk but could not be opened */
    uint64_t spool_retry_ms; /* next open attempt after a failure */
    uint64_t points_spooled;
    uint64_t points_replayed;
    uint64_t spool_io_dropped; /* could not be spooled nor kept */

    /* Writer thread only. */
    unsigned fails; /* consecutive retryable failures */
    bool probe;     /* /ping before the next replay (resumed spool) */
    CURL *curl;
    struct curl_slist *hdr_plain, *hdr_gzip, *hdr_form;
    z_stream zs;
    bool zs_ok;
    struct buf gz;
    struct buf resp;
    unsigned seed;
    char *replay_target; /* "db/rp" last announced as differing */
};

struct influx_sink {
    unsigned magic;
    char *db;
    char *rp; /* "" when none */
    char *user;
    char *pass;
    size_t batch_size;
    uint64_t flush_ms;
    uint64_t timeout_ms;
    unsigned max_retries;
    uint64_t queue_max;
    bool create_db;
    bool gzip;
    uint64_t spool_max;
    bool spool_fsync;
    unsigned down_after;
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

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Opens the node's spool when it is not open yet (spool_mu held); false
 * when there is none or it cannot be opened now (logged, retried later). */
static bool spool_ready(struct node *nd)
{
    struct influx_sink *s = nd->s;
    if (nd->sp)
        return true;
    if (!nd->spool_path)
        return false;
    uint64_t now = mono_ms();
    if (now < nd->spool_retry_ms)
        return false;
    char err[512];
    nd->sp = spool_open(nd->spool_path, s->spool_max, s->spool_fsync, err,
                        sizeof(err));
    if (!nd->sp) {
        nd->spool_retry_ms = now + SPOOL_REOPEN_MS;
        log_error("cannot open the spool of node '%s' (%s): %s", nd->name,
                  nd->url, err);
        return false;
    }
    nd->spool_unclaimed = false;
    return true;
}

/* Appends b to the node's spool (spool_mu held). Returns false when it
 * could not be stored (no spool, I/O error): the caller keeps or drops
 * it. A batch refused by the cap counts as handled (the spool counted it
 * as dropped). The record is the line ends, then the lines. */
static bool spool_put(struct node *nd, const struct batch *b)
{
    if (!spool_ready(nd))
        return false;
    size_t elen = b->npoints * sizeof(*b->ends);
    size_t hlen = influx_api_rec_head_len(&nd->dest);
    char *rec = xcalloc(1, hlen + elen + b->len + 1);
    influx_api_rec_head(&nd->dest, (unsigned char *)rec);
    memcpy(rec + hlen, b->ends, elen);
    memcpy(rec + hlen + elen, b->data, b->len);
    char err[512];
    int rc =
        spool_append(nd->sp, rec, hlen + elen + b->len, (uint32_t)b->npoints,
                     (uint64_t)b->formed_ms, err, sizeof(err));
    free(rec);
    if (rc < 0) {
        log_error("cannot spool %zu points for node '%s' (%s): %s", b->npoints,
                  nd->name, nd->url, err);
        return false;
    }
    if (rc == 0) {
        nd->points_spooled += b->npoints;
        log_debug("batch accepted node=%s points=%zu via=spool "
                  "formed_ms=%lld ts_min=%lld ts_max=%lld",
                  nd->name, b->npoints, (long long)b->formed_ms,
                  (long long)b->ts_min, (long long)b->ts_max);
    }
    return true;
}

static void batch_list_free(struct batch *b)
{
    while (b) {
        struct batch *next = b->next;
        batch_free(b);
        b = next;
    }
}

/* Spools first and then the list rest, in order (spool_mu held); what
 * cannot be spooled is dropped and counted. Frees them all. */
static void spool_list(struct node *nd, struct batch *first, struct batch *rest)
{
    uint64_t lost = 0;
    if (first) {
        first->next = rest;
        rest = first;
    }
    for (struct batch *b = rest; b; b = b->next)
        if (!spool_put(nd, b))
            lost += b->npoints;
    if (lost) {
        nd->spool_io_dropped += lost;
        log_error("dropping %llu points for node '%s' (%s): they can be "
                  "neither written nor spooled",
                  (unsigned long long)lost, nd->name, nd->url);
    }
    batch_list_free(rest);
}

/* Detaches the in-memory queue (mu held). */
static struct batch *take_queue_locked(struct node *nd)
{
    struct batch *q = nd->head;
    size_t n = 0;
    for (struct batch *b = q; b; b = b->next)
        n++;
    nd->head = nd->tail = NULL;
    nd->queued_bytes = 0;
    nd->pending -= n;
    if (nd->pending == 0)
        pthread_cond_broadcast(&nd->idle);
    return q;
}

/* Spools b and the in-memory queue, b first when it is older (a batch the
 * writer had taken from the queue), else last. Called with mu held;
 * returns with mu held, having released it while the batches went to
 * disk. */
static void to_spool_locked(struct node *nd, struct batch *b, bool b_first)
{
    struct batch *q = take_queue_locked(nd);
    nd->spooling = true;
    pthread_mutex_lock(&nd->spool_mu);
    pthread_mutex_unlock(&nd->mu);
    if (b_first) {
        spool_list(nd, b, q);
    } else {
        struct batch **endp = &q;
        while (*endp)
            endp = &(*endp)->next;
        *endp = b;
        spool_list(nd, NULL, q);
    }
    pthread_mutex_unlock(&nd->spool_mu);
    pthread_mutex_lock(&nd->mu);
    pthread_cond_signal(&nd->wake);
}

static void enqueue_cur_locked(struct node *nd)
{
    struct influx_sink *s = nd->s;
    size_t n = nd->cur_points;
    if (n == 0)
        return;
    nd->cur_points = 0;
    struct batch *b = xcalloc(1, sizeof(*b));
    size_t cap = nd->cur.cap;
    b->data = buf_detach(&nd->cur, &b->len);
    /* Partial batches (flushes) would otherwise pin a full-size block. */
    if (cap > 2 * b->len + 4096)
        b->data = xrealloc(b->data, b->len + 1);
    b->ends = nd->cur_ends;
    nd->cur_ends = NULL;
    b->npoints = n;
    b->formed_ms = (int64_t)wall_ms();
    b->ts_min = nd->cur_ts_min;
    b->ts_max = nd->cur_ts_max;
    bool full = nd->queued_bytes + b->len > s->queue_max;
    /* In place of a full queue (a slow node): to disk now. Behind a
     * non-empty spool the batch is queued as usual and the writer thread
     * spools it (order kept), so that the caller never waits for the disk.
     * A batch the writer has in flight at that moment may end up spooled
     * after these when it fails. */
    if (full && nd->spool_path) {
        pthread_mutex_lock(&nd->spool_mu);
        bool ok = spool_ready(nd);
        pthread_mutex_unlock(&nd->spool_mu);
        if (ok) {
            to_spool_locked(nd, b, false);
            return;
        }
        /* no spool now: the queue, or a counted drop */
    }
    if (full) {
        nd->st.points_dropped += n;
        nd->st.batches_failed++;
        nd->refused_points += n;
        if (!nd->refusing) {
            nd->refusing = true;
            log_warn("queue of node '%s' (%s) is full (%llu bytes) and "
                     "there is no spool: dropping new batches",
                     nd->name, nd->url, (unsigned long long)s->queue_max);
        }
        batch_free(b);
        return;
    }
    if (nd->refusing) {
        log_info("queue of node '%s' (%s) accepts batches again after "
                 "dropping %llu points",
                 nd->name, nd->url, (unsigned long long)nd->refused_points);
        nd->refusing = false;
        nd->refused_points = 0;
    }
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
static long http_post(struct node *nd, const char *url, struct curl_slist *hdr,
                      const char *data, size_t len, char *err, size_t errlen)
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
    add_pct(&body, q.data);
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
    while (!nd->stop && mono_ms() < until) {
        if (nd->spooling && nd->head) {
            /* new batches behind the spool go to disk meanwhile */
            to_spool_locked(nd, NULL, true);
            continue;
        }
        pthread_cond_timedwait(&nd->wake, &nd->mu, &ts);
    }
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

enum send_res { SEND_DONE, SEND_RETRY };

#define WHY_LEN (ERR_CLIP + CURL_ERROR_SIZE + 160)

static void send_retrying(struct node *nd, const struct batch *b, size_t lo,
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

/* One attempt at lines [lo, hi) of b (including the database creation
 * and the halves of a 413). SEND_DONE: written, or refused for good and
 * counted; SEND_RETRY: a retryable failure, nothing counted, the reason in
 * why. */
static enum send_res send_once(struct node *nd, const struct batch *b,
                               size_t lo, size_t hi, char *why, size_t whylen)
{
    struct influx_sink *s = nd->s;
    size_t off = lo ? b->ends[lo - 1] : 0;
    size_t len = b->ends[hi - 1] - off;
    const char *data = b->data + off;
    size_t n = hi - lo;
    bool tried_create = false;
    char err[CURL_ERROR_SIZE + 64];
    for (;;) {
        err[0] = '\0';
        long status =
            post_write(nd, b->write_url ? b->write_url : nd->write_url, data,
                       len, err, sizeof(err));
        const char *body = nd->resp.data;
        if (status >= 200 && status < 300) {
            node_set_up(nd, true);
            count_written(nd, n);
            return SEND_DONE;
        }
        if (status == 0 || status >= 500 || status == 429) {
            if (status >= 500 && strstr(body, "retention policy not found")) {
                /* influxd says 500 but nothing will change by retrying */
                node_set_up(nd, true);
                snprintf(why, whylen, "HTTP %ld: %.*s", status, ERR_CLIP, body);
                count_dropped(nd, n, why);
                return SEND_DONE;
            }
            if (status == 0)
                snprintf(why, whylen, "%s", err);
            else
                snprintf(why, whylen, "HTTP %ld: %.*s", status, ERR_CLIP, body);
            node_set_up(nd, status == 429);
            node_set_error(nd, why);
            return SEND_RETRY;
        }
        node_set_up(nd, true);
        if (status == 400 && strstr(body, "partial write")) {
            on_partial(nd, n, body);
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
            send_retrying(nd, b, lo, mid);
            send_retrying(nd, b, mid, hi);
            return SEND_DONE;
        }
        snprintf(why, whylen, "HTTP %ld: %.*s", status, ERR_CLIP, body);
        count_dropped(nd, n, why);
        return SEND_DONE;
    }
}

/* Without a spool: retries in place cfg->max_retries times, then drops. */
static void send_retrying(struct node *nd, const struct batch *b, size_t lo,
                          size_t hi)
{
    struct influx_sink *s = nd->s;
    size_t n = hi - lo;
    char why[WHY_LEN];
    for (unsigned attempt = 0;; attempt++) {
        if (send_once(nd, b, lo, hi, why, sizeof(why)) == SEND_DONE)
            return;
        if (attempt >= s->max_retries) {
            char gave[WHY_LEN + 48];
            snprintf(gave, sizeof(gave), "giving up after %u retries: %s",
                     attempt, why);
            count_dropped(nd, n, gave);
            return;
        }
        log_warn("cannot write %zu points to node '%s' (%s), retry %u "
                 "of %u: %s",
                 n, nd->name, nd->url, attempt + 1, s->max_retries, why);
        pthread_mutex_lock(&nd->mu);
        nd->st.points_retried += n;
        pthread_mutex_unlock(&nd->mu);
        if (backoff_wait(nd, attempt + 1)) {
            count_dropped(nd, n, "sink stopping while retrying");
            return;
        }
    }
}

/* GET /ping: influxd answers 204 once it is serving (v2: any 2xx, see
 * influx_api_ping_ok()). */
static bool probe_ping(struct node *nd)
{
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

/* A retryable failure: counts it, marks the node down after down_after in
 * a row, and waits the backoff. Returns true when the sink is stopping. */
static bool on_failure(struct node *nd, const char *why)
{
    struct influx_sink *s = nd->s;
    nd->fails++;
    if (nd->fails >= s->down_after) {
        pthread_mutex_lock(&nd->mu);
        bool was = nd->down;
        nd->down = true;
        pthread_cond_broadcast(&nd->idle);
        pthread_mutex_unlock(&nd->mu);
        if (!was)
            log_warn("node '%s' (%s) marked down after %u failed writes, "
                     "probing /ping before replaying its spool: %s",
                     nd->name, nd->url, nd->fails, why);
    }
    return backoff_wait(nd, nd->fails);
}

/* The live batch b failed with a retryable error: it goes to the spool
 * with everything queued behind it (or, with no spool, is retried in
 * place). Frees b. */
static void spool_failed(struct node *nd, struct batch *b, const char *why)
{
    pthread_mutex_lock(&nd->spool_mu);
    bool ok = spool_ready(nd);
    pthread_mutex_unlock(&nd->spool_mu);
    if (!ok) {
        send_retrying(nd, b, 0, b->npoints);
        batch_free(b);
        return;
    }
    log_warn("cannot write %zu points to node '%s' (%s), spooling them: %s",
             b->npoints, nd->name, nd->url, why);
    pthread_mutex_lock(&nd->mu);
    to_spool_locked(nd, b, true);
    pthread_mutex_unlock(&nd->mu);
    on_failure(nd, why);
}

/* Reads a spool record (see REC_NAME_MAX) into b, which points into
 * rec->data, and its destination into *dest (the caller frees it). When
 * the record was written for another destination than the node's
 * configured one (a config change, or a node switched between api v1 and
 * v2), *url (the caller frees it) says where it goes: a batch is never
 * replayed into a database or bucket it was not written for. False when
 * the record is not a batch. */
static bool rec_to_batch(struct node *nd, const struct spool_rec *rec,
                         struct batch *b, struct influx_dest *dest, char **url)
{
    *url = NULL;
    size_t hlen = influx_api_rec_parse(rec->data, rec->len, dest);
    size_t elen = (size_t)rec->points * sizeof(uint32_t);
    if (hlen == 0 || rec->points == 0 || rec->len - hlen < elen)
        return false;
    /* hlen is a multiple of 4 and rec->data comes from malloc: aligned */
    b->ends = (uint32_t *)(void *)((char *)rec->data + hlen);
    b->data = (char *)rec->data + hlen + elen;
    b->len = rec->len - hlen - elen;
    b->npoints = rec->points;
    for (size_t i = 0; i < b->npoints; i++)
        if (b->ends[i] > b->len || (i > 0 && b->ends[i] < b->ends[i - 1]))
            return false;
    if (influx_dest_equal(dest, &nd->dest))
        return true;
    *url = influx_api_write_url(nd->base_url, dest);
    struct buf u = BUF_INIT, conf = BUF_INIT;
    influx_dest_describe(dest, &u);
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

/* One step of replaying the spool: probe when down, send the oldest
 * record, acknowledge it when done. When the spool is empty, leaves the
 * spooling state. */
static void replay_step(struct node *nd)
{
    char why[WHY_LEN];
    bool down;
    pthread_mutex_lock(&nd->mu);
    down = nd->down;
    pthread_mutex_unlock(&nd->mu);
    if (down || nd->probe) {
        if (!probe_ping(nd)) {
            on_failure(nd, "no answer to /ping");
            return;
        }
        pthread_mutex_lock(&nd->mu);
        nd->down = false;
        pthread_mutex_unlock(&nd->mu);
        nd->fails = 0;
        nd->probe = false;
        log_info("node '%s' (%s) answers /ping: replaying its spool", nd->name,
                 nd->url);
    }
    struct spool_rec rec;
    char err[512];
    pthread_mutex_lock(&nd->spool_mu);
    int rc = nd->sp ? spool_peek_oldest(nd->sp, &rec, err, sizeof(err)) : 0;
    pthread_mutex_unlock(&nd->spool_mu);
    if (rc < 0) {
        log_error("cannot read the spool of node '%s' (%s): %s", nd->name,
                  nd->url, err);
        on_failure(nd, err);
        return;
    }
    if (rc == 0) {
        /* Both locks: no append can slip in between the check and the
         * switch back to the in-memory queue. */
        pthread_mutex_lock(&nd->mu);
        pthread_mutex_lock(&nd->spool_mu);
        if (!nd->sp || spool_empty(nd->sp)) {
            nd->spooling = false;
            pthread_cond_broadcast(&nd->idle);
            log_info("spool of node '%s' (%s) replayed: %llu points so far",
                     nd->name, nd->url,
                     (unsigned long long)nd->points_replayed);
        }
        pthread_mutex_unlock(&nd->spool_mu);
        pthread_mutex_unlock(&nd->mu);
        return;
    }
    struct batch b = {0};
    struct influx_dest dest;
    char *url = NULL;
    enum send_res r = SEND_DONE;
    if (!rec_to_batch(nd, &rec, &b, &dest, &url)) {
        count_dropped(nd, rec.points, "spool record is not a batch");
    } else {
        b.dest = &dest;
        b.write_url = url;
        r = send_once(nd, &b, 0, b.npoints, why, sizeof(why));
    }
    influx_dest_free(&dest);
    free(url);
    pthread_mutex_lock(&nd->spool_mu);
    if (r == SEND_DONE) {
        nd->points_replayed += rec.points;
        spool_ack(nd->sp, &rec);
    } else {
        spool_release(nd->sp, &rec);
    }
    pthread_mutex_unlock(&nd->spool_mu);
    if (r == SEND_DONE) {
        nd->fails = 0;
        return;
    }
    pthread_mutex_lock(&nd->mu);
    nd->st.points_retried += b.npoints;
    pthread_mutex_unlock(&nd->mu);
    on_failure(nd, why);
}

/* ------------------------------------------------------------------ */
/* Writer thread */

static void writer_setup(struct node *nd)
{
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

/* A spool left on disk that another sink held when this one started (a
 * reload): claimed as soon as it is free. Called without locks. */
static void claim_spool(struct node *nd)
{
    pthread_mutex_lock(&nd->mu);
    pthread_mutex_lock(&nd->spool_mu);
    if (nd->spool_unclaimed && spool_ready(nd) && !spool_empty(nd->sp)) {
        struct spool_stats st;
        spool_get_stats(nd->sp, &st);
        nd->spooling = true;
        nd->probe = true;
        log_info("resuming the spool of node '%s' (%s): %llu points, %llu "
                 "bytes",
                 nd->name, nd->url, (unsigned long long)st.points,
                 (unsigned long long)st.bytes);
    }
    pthread_mutex_unlock(&nd->spool_mu);
    pthread_mutex_unlock(&nd->mu);
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
        if (nd->head && nd->spooling) {
            /* behind a non-empty spool: to disk, in order, on this thread
             * so that the pipeline never waits for an fsync */
            to_spool_locked(nd, NULL, true);
            continue;
        }
        if (nd->head) {
            struct batch *b = nd->head;
            nd->head = b->next;
            b->next = NULL;
            if (!nd->head)
                nd->tail = NULL;
            nd->queued_bytes -= b->len;
            pthread_mutex_unlock(&nd->mu);
            char why[WHY_LEN];
            if (send_once(nd, b, 0, b->npoints, why, sizeof(why)) ==
                SEND_DONE) {
                nd->fails = 0;
                log_debug("batch accepted node=%s points=%zu via=write "
                          "formed_ms=%lld ts_min=%lld ts_max=%lld "
                          "age_ms=%lld",
                          nd->name, b->npoints, (long long)b->formed_ms,
                          (long long)b->ts_min, (long long)b->ts_max,
                          (long long)wall_ms() - (long long)b->formed_ms);
                batch_free(b);
            } else {
                spool_failed(nd, b, why);
            }
            pthread_mutex_lock(&nd->mu);
            nd->pending--;
            if (nd->pending == 0)
                pthread_cond_broadcast(&nd->idle);
            continue;
        }
        if (nd->spooling) {
            pthread_mutex_unlock(&nd->mu);
            replay_step(nd);
            pthread_mutex_lock(&nd->mu);
            continue;
        }
        if (nd->spool_unclaimed) {
            pthread_mutex_unlock(&nd->mu);
            claim_spool(nd);
            pthread_mutex_lock(&nd->mu);
            if (nd->spooling || nd->stop)
                continue;
        }
        uint64_t wake_at = UINT64_MAX;
        if (nd->cur_points)
            wake_at = nd->cur_since_ms + s->flush_ms;
        if (nd->spool_unclaimed && mono_ms() + SPOOL_REOPEN_MS < wake_at)
            wake_at = mono_ms() + SPOOL_REOPEN_MS;
        if (wake_at != UINT64_MAX) {
            struct timespec ts = abs_ms(wake_at);
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
    pthread_mutex_init(&nd->spool_mu, NULL);
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
    nd->base_url = base;
    nd->url = url_for_log(base);
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
    static const char hex[] = "0123456789ABCDEF";
    if (!name[0])
        buf_adds(b, "%");
    for (const char *p = name; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '_') {
            buf_addc(b, (char)c);
        } else {
            buf_addc(b, '%');
            buf_addc(b, hex[c >> 4]);
            buf_addc(b, hex[c & 15]);
        }
    }
}

/* Opens an existing spool of nd at start (before the threads run). */
static void spool_resume(struct node *nd)
{
    struct stat sb;
    if (stat(nd->spool_path, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return; /* created on first need */
    if (!spool_ready(nd)) {
        /* another sink (the one a reload replaces) still holds it */
        nd->spool_unclaimed = true;
        return;
    }
    if (spool_empty(nd->sp))
        return;
    struct spool_stats st;
    spool_get_stats(nd->sp, &st);
    nd->spooling = true;
    nd->probe = true; /* before the first replay; the writer owns it */
    log_info("resuming the spool of node '%s' (%s): %llu points, %llu bytes",
             nd->name, nd->url, (unsigned long long)st.points,
             (unsigned long long)st.bytes);
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
        /* remote_write: the remote-write sink's spool (agent.spool_dir is
         * shared; config.c reserves that node name) */
        if (de->d_name[0] == '.' || strcmp(de->d_name, "remote_write") == 0)
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
    if (strlen(cfg->database) > REC_NAME_MAX ||
        (cfg->retention_policy &&
         strlen(cfg->retention_policy) > REC_NAME_MAX)) {
        snprintf(err, errlen,
                 "influxdb database or retention policy name "
                 "longer than %u bytes",
                 REC_NAME_MAX);
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "cannot initialize libcurl");
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->magic = SINK_MAGIC;
    s->db = xstrdup(cfg->database);
    s->rp = xstrdup(cfg->retention_policy ? cfg->retention_policy : "");
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
    s->down_after = cfg->max_retries ? cfg->max_retries : 1;
    if (spool) {
        s->spool_max = spool->max_bytes;
        s->spool_fsync = spool->fsync;
    }
    s->nodes = xcalloc(cfg->n_nodes, sizeof(*s->nodes));
    s->n = cfg->n_nodes;
    for (size_t i = 0; i < s->n; i++) {
        if (node_init(s, &s->nodes[i], i, &cfg->nodes[i], cfg, err, errlen) < 0)
            goto fail;
    }
    if (spool && spool->dir && spool->dir[0]) {
        struct buf b = BUF_INIT;
        for (size_t i = 0; i < s->n; i++) {
            struct node *nd = &s->nodes[i];
            buf_reset(&b);
            buf_adds(&b, spool->dir);
            buf_addc(&b, '/');
            spool_name(&b, nd->name);
            nd->spool_path = xstrdup(b.data);
            spool_resume(nd);
        }
        buf_release(&b);
        report_orphans(s, spool->dir);
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

int influx_sink_write(struct influx_sink *s, size_t node, const struct point *p)
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
        if (nd->cur_points == 1 || p->ts_ms < nd->cur_ts_min)
            nd->cur_ts_min = p->ts_ms;
        if (nd->cur_points == 1 || p->ts_ms > nd->cur_ts_max)
            nd->cur_ts_max = p->ts_ms;
        if (nd->cur_points == 1) {
            nd->cur_since_ms = mono_ms();
            /* the writer arms the flush timer */
            pthread_cond_signal(&nd->wake);
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

/* Points lost so far on nd (mu held; takes spool_mu). */
static uint64_t dropped_total_locked(struct node *nd, uint64_t *spool_part)
{
    uint64_t sp = 0;
    pthread_mutex_lock(&nd->spool_mu);
    sp = nd->spool_io_dropped;
    if (nd->sp) {
        struct spool_stats st;
        spool_get_stats(nd->sp, &st);
        sp += st.dropped_points + st.corrupt_points;
    }
    pthread_mutex_unlock(&nd->spool_mu);
    if (spool_part)
        *spool_part = sp;
    return nd->st.points_dropped + sp;
}

int influx_sink_drain(struct influx_sink *s, uint64_t timeout_ms)
{
    int rc = 0;
    bool left = false;
    uint64_t until = mono_ms() + timeout_ms;
    struct timespec ts = abs_ms(until);
    influx_sink_flush(s);
    for (size_t i = 0; i < s->n; i++) {
        struct node *nd = &s->nodes[i];
        pthread_mutex_lock(&nd->mu);
        /* A node marked down is not waited for: its spool keeps the
         * points. */
        while (nd->started &&
               (nd->pending > 0 || (nd->spooling && !nd->down))) {
            if (pthread_cond_timedwait(&nd->idle, &nd->mu, &ts) == ETIMEDOUT)
                break;
        }
        if (nd->pending > 0 || nd->spooling || nd->spool_unclaimed)
            left = true;
        uint64_t dropped = dropped_total_locked(nd, NULL);
        if (dropped != nd->dropped_seen)
            rc = -1;
        nd->dropped_seen = dropped;
        pthread_mutex_unlock(&nd->mu);
    }
    return rc < 0 ? -1 : left ? 1 : 0;
}

void influx_sink_node_stats(struct influx_sink *s, size_t node,
                            struct influx_node_stats *out)
{
    assert(s->magic == SINK_MAGIC && node < s->n);
    struct node *nd = &s->nodes[node];
    pthread_mutex_lock(&nd->mu);
    *out = nd->st;
    out->points_skipped_invalid = lineproto_stats_skipped(&nd->lps);
    out->down = nd->down;
    out->points_dropped = dropped_total_locked(nd, &out->points_dropped_spool);
    pthread_mutex_lock(&nd->spool_mu);
    out->points_spooled = nd->points_spooled;
    out->points_replayed = nd->points_replayed;
    if (nd->sp) {
        struct spool_stats st;
        spool_get_stats(nd->sp, &st);
        out->spool_bytes = st.bytes;
        out->spool_points = st.points;
    }
    pthread_mutex_unlock(&nd->spool_mu);
    pthread_mutex_unlock(&nd->mu);
}

/* After the writer stopped: what is still in memory goes to the spool
 * (behind what is there), or is counted as dropped without one. */
static void keep_leftovers(struct node *nd)
{
    pthread_mutex_lock(&nd->mu);
    if (nd->spool_path)
        nd->spooling = true; /* enqueue spools the partial batch */
    enqueue_cur_locked(nd);
    struct batch *q = take_queue_locked(nd);
    pthread_mutex_unlock(&nd->mu);
    if (!q)
        return;
    if (nd->spool_path) {
        pthread_mutex_lock(&nd->spool_mu);
        spool_list(nd, NULL, q);
        pthread_mutex_unlock(&nd->spool_mu);
        return;
    }
    uint64_t lost = 0;
    for (struct batch *b = q; b; b = b->next)
        lost += b->npoints;
    batch_list_free(q);
    log_error("dropping %llu unsent points for node '%s' (%s): sink stopped "
              "and no spool is configured",
              (unsigned long long)lost, nd->name, nd->url);
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
        if (nd->name) {
            keep_leftovers(nd);
            spool_close(&nd->sp);
            pthread_mutex_destroy(&nd->mu);
            pthread_mutex_destroy(&nd->spool_mu);
            pthread_cond_destroy(&nd->wake);
            pthread_cond_destroy(&nd->idle);
        }
        buf_release(&nd->cur);
        buf_release(&nd->gz);
        buf_release(&nd->resp);
        free(nd->cur_ends);
        free(nd->name);
        free(nd->url);
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
    free(s->db);
    free(s->rp);
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
