#include "remote_write/remote_write.h"

#include "prom/expo_flink.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "http_client.h"
#include "pipeline/series_fold.h"
#include "util/log.h"
#include "remote_write/rwproto.h"
#include "util/secret.h"
#include "spool.h"
#include "util/xalloc.h"

/* Receivers answer errors with a short text; longer answers are clipped. */
#define RESP_MAX_BYTES (64 * 1024)
#define ERR_CLIP       300
/* remote_write_free() waits this long for queued requests. */
#define FREE_DRAIN_MS 2000
/* A spool that cannot be opened (locked by the sink being replaced on a
 * reload, a full disk) is tried again this often. */
#define SPOOL_REOPEN_MS 2000
#define RW_MAGIC        0x52573130u /* "RW10" */

struct req {
    struct req *next;
    char *body; /* snappy-compressed WriteRequest */
    size_t len;
    size_t samples;
};

struct remote_write {
    uint32_t magic; /* it travels through pthread_create's void * */
    char *url;      /* as configured, for requests */
    char *log_url;  /* without userinfo, for log lines */
    char *user;
    char *pass;
    unsigned batch_size;
    unsigned max_retries;
    uint64_t timeout_ms;
    uint64_t min_backoff_ms;
    uint64_t max_backoff_ms;
    uint64_t queue_max_bytes;
    /* Sender thread only. */
    CURL *curl;
    struct curl_slist *hdr;
    struct buf resp;
    unsigned seed;
    char *spool_path; /* NULL: no spool */
    uint64_t spool_max;
    bool spool_fsync;
    uint64_t spool_retry; /* monotonic ms of the next open attempt */
    bool spool_failed;    /* the last open attempt failed */
    struct spool *sp;     /* NULL until opened */
    uint64_t sp_dropped;  /* spool's dropped + corrupt points seen so far */
    uint64_t next_try;    /* monotonic ms of the next replay attempt */
    unsigned fails;       /* consecutive failed replays */
    pthread_t thread;
    bool started;

    pthread_mutex_t mu;
    pthread_cond_t wake; /* sender: new request, stop */
    pthread_cond_t idle; /* drain: progress */
    /* Under mu. */
    struct buf pb;
    struct rwproto_batch *cur;
    struct req *head, *tail;
    size_t pending; /* queued in memory + in flight */
    bool failing;   /* the last attempt failed with a retryable error */
    bool stop;
    bool lost_since_drain;
    struct remote_write_stats st;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* An absolute CLOCK_MONOTONIC deadline for pthread_cond_timedwait. */
static struct timespec abs_ms(uint64_t mono)
{
    struct timespec ts = {.tv_sec = (time_t)(mono / 1000),
                          .tv_nsec = (long)(mono % 1000) * 1000000};
    return ts;
}

/* Copies src into dst[n], cut short when longer. */
static void copy_clip(char *dst, size_t n, const char *src)
{
    size_t len = strnlen(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Under mu. */
static void count_lost(struct remote_write *rw, size_t samples, bool refused,
                       const char *why)
{
    if (refused)
        rw->st.samples_failed += samples;
    else
        rw->st.samples_dropped += samples;
    rw->lost_since_drain = true;
    copy_clip(rw->st.last_error, sizeof(rw->st.last_error), why);
}

static void lost(struct remote_write *rw, size_t samples, bool refused,
                 const char *why)
{
    pthread_mutex_lock(&rw->mu);
    count_lost(rw, samples, refused, why);
    pthread_mutex_unlock(&rw->mu);
}

/* Encodes and queues the current batch. Under mu. */
static void seal(struct remote_write *rw)
{
    struct rwproto_batch *b = rw->cur;
    size_t n = rwproto_batch_samples(b);
    if (n == 0)
        return;
    struct buf z = BUF_INIT;
    buf_reset(&rw->pb);
    if (rwproto_batch_encode(b, &rw->pb) < 0 ||
        rwproto_compress(rw->pb.data, rw->pb.len, &z) < 0) {
        count_lost(rw, n, false, "cannot encode a request");
        log_error("dropping %zu samples for '%s': cannot encode the request", n,
                  rw->log_url);
        goto out;
    }
    if (rw->st.queue_bytes + z.len > rw->queue_max_bytes) {
        count_lost(rw, n, false, "queue full");
        log_error("dropping %zu samples for '%s': queue full (%zu bytes "
                  "waiting, queue_max_bytes reached)",
                  n, rw->log_url, (size_t)rw->st.queue_bytes);
        goto out;
    }
    struct req *r = xcalloc(1, sizeof(*r));
    r->body = buf_detach(&z, &r->len);
    r->samples = n;
    if (rw->tail)
        rw->tail->next = r;
    else
        rw->head = r;
    rw->tail = r;
    rw->pending++;
    rw->st.queue_bytes += r->len;
    rw->st.samples_queued += n;
    pthread_cond_signal(&rw->wake);
out:
    buf_release(&z);
    rwproto_batch_reset(b);
}

/* Adds one sample, sealing the batch when full. Returns 1 when added, 0
 * when skipped. Under mu. */
static int add_locked(struct remote_write *rw, const char *name,
                      size_t name_len, const char *suffix,
                      const struct label *labels, size_t nlabels, double v,
                      int64_t ts_ms)
{
    int rc = rwproto_batch_add(rw->cur, name, name_len, suffix, labels, nlabels,
                               v, ts_ms);
    if (rc < 0) {
        seal(rw);
        rc = rwproto_batch_add(rw->cur, name, name_len, suffix, labels, nlabels,
                               v, ts_ms);
    }
    if (rc != 0) {
        rw->st.samples_skipped++;
        return 0;
    }
    if (rwproto_batch_samples(rw->cur) >= rw->batch_size)
        seal(rw);
    return 1;
}

int remote_write_series(struct remote_write *rw, const struct series *s,
                        unsigned fold)
{
    int n = 0;
    struct series_value vals[SERIES_FOLD_MAX_VALUES];
    size_t nv = series_fold_values(s, fold, vals);
    pthread_mutex_lock(&rw->mu);
    for (size_t i = 0; i < nv; i++)
        n += add_locked(rw, s->name, s->name_len,
                        vals[i].suffix[0] ? vals[i].suffix : NULL, s->labels,
                        s->nlabels, vals[i].value, s->ts_ms);
    pthread_mutex_unlock(&rw->mu);
    return n;
}

int remote_write_point(struct remote_write *rw, const struct point *p)
{
    /* The same names and units /metrics uses (expo_flink_field), and the
     * same label for the Kafka cluster (cluster_name, as
     * kafka-lag-exporter), so a series is one series wherever it lands. */
    bool lag = strcmp(p->measurement, "kafka_consumergroup_lag") == 0;
    struct label tags[32];
    size_t nt = p->ntags < 32 ? p->ntags : 32;
    for (size_t i = 0; i < nt; i++) {
        tags[i] = p->tags[i];
        if (lag && strcmp(tags[i].name, "kafka_cluster") == 0) {
            tags[i].name = "cluster_name";
            tags[i].name_len = 12;
        }
    }
    int n = 0;
    char name[256];
    pthread_mutex_lock(&rw->mu);
    for (size_t i = 0; i < p->nfields; i++) {
        double v;
        if (expo_flink_field(p, i, name, sizeof(name), &v) < 0) {
            if (p->fields[i].kind != FIELD_STRING)
                rw->st.samples_skipped++;
            continue; /* a string has no Prometheus sample value */
        }
        n += add_locked(rw, name, strlen(name), "", tags, nt, v, p->ts_ms);
    }
    pthread_mutex_unlock(&rw->mu);
    return n;
}

void remote_write_flush(struct remote_write *rw)
{
    pthread_mutex_lock(&rw->mu);
    seal(rw);
    pthread_mutex_unlock(&rw->mu);
}

/* Whether drain must still wait: requests in memory, or a spool being
 * replayed to a receiver that answers. Under mu. */
static bool busy(const struct remote_write *rw)
{
    return rw->pending > 0 || (rw->st.spool_samples > 0 && !rw->failing);
}

int remote_write_drain(struct remote_write *rw, uint64_t timeout_ms)
{
    uint64_t until = mono_ms() + timeout_ms;
    struct timespec ts = abs_ms(until);
    pthread_mutex_lock(&rw->mu);
    seal(rw);
    while (busy(rw) && mono_ms() < until)
        pthread_cond_timedwait(&rw->idle, &rw->mu, &ts);
    int rc = rw->lost_since_drain                          ? -1
             : rw->pending > 0 || rw->st.spool_samples > 0 ? 1
                                                           : 0;
    rw->lost_since_drain = false;
    pthread_mutex_unlock(&rw->mu);
    return rc;
}

void remote_write_get_stats(struct remote_write *rw,
                            struct remote_write_stats *out)
{
    pthread_mutex_lock(&rw->mu);
    *out = rw->st;
    pthread_mutex_unlock(&rw->mu);
}

/* ---- sender thread ------------------------------------------------ */

enum outcome { SENT, REFUSED, RETRY };

/* One POST. Fills why on anything but SENT. */
static enum outcome post(struct remote_write *rw, const void *body, size_t len,
                         char *why, size_t whylen)
{
    char cerr[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURL *c = rw->curl;
    buf_reset(&rw->resp);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);

    enum outcome o;
    if (rc != CURLE_OK) {
        snprintf(why, whylen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
        o = RETRY;
    } else if (status >= 200 && status < 300) {
        o = SENT;
    } else {
        /* The receiver's answer is one line of text; keep it printable. */
        for (size_t i = 0; i < rw->resp.len; i++)
            if (rw->resp.data[i] == '\n' || rw->resp.data[i] == '\r')
                rw->resp.data[i] = ' ';
        while (rw->resp.len > 0 && rw->resp.data[rw->resp.len - 1] == ' ')
            buf_truncate(&rw->resp, rw->resp.len - 1);
        snprintf(why, whylen, "HTTP %ld: %.*s", status, ERR_CLIP,
                 rw->resp.data);
        o = status == 429 || status >= 500 ? RETRY : REFUSED;
    }
    pthread_mutex_lock(&rw->mu);
    rw->st.requests++;
    if (rc == CURLE_OK)
        rw->st.bytes_sent += len;
    rw->st.up = rc == CURLE_OK && status < 500;
    rw->failing = o == RETRY;
    pthread_mutex_unlock(&rw->mu);
    return o;
}

static uint64_t backoff_ms(struct remote_write *rw, unsigned attempt)
{
    uint64_t ms = rw->min_backoff_ms;
    for (unsigned i = 1; i < attempt && ms < rw->max_backoff_ms; i++)
        ms *= 2;
    if (ms > rw->max_backoff_ms)
        ms = rw->max_backoff_ms;
    /* +-25% jitter so that agents do not retry in lockstep */
    return ms * 3 / 4 + (uint64_t)rand_r(&rw->seed) % (ms / 2 + 1);
}

/* Sleeps the backoff of attempt (1-based); true when the sink stops. */
static bool backoff_wait(struct remote_write *rw, unsigned attempt)
{
    uint64_t until = mono_ms() + backoff_ms(rw, attempt);
    struct timespec ts = abs_ms(until);
    pthread_mutex_lock(&rw->mu);
    while (!rw->stop && mono_ms() < until)
        pthread_cond_timedwait(&rw->wake, &rw->mu, &ts);
    bool stop = rw->stop;
    pthread_mutex_unlock(&rw->mu);
    return stop;
}

static void sent(struct remote_write *rw, size_t samples, bool replayed)
{
    pthread_mutex_lock(&rw->mu);
    rw->st.samples_sent += samples;
    if (replayed)
        rw->st.samples_replayed += samples;
    pthread_mutex_unlock(&rw->mu);
}

static void refused(struct remote_write *rw, size_t samples, const char *why)
{
    lost(rw, samples, true, why);
    log_error("remote write to '%s' refused %zu samples, not retried: %s",
              rw->log_url, samples, why);
}

/* Publishes the spool's size and counts what it dropped (cap, corrupt
 * records) since the last look. */
static void spool_account(struct remote_write *rw)
{
    struct spool_stats ss;
    spool_get_stats(rw->sp, &ss);
    uint64_t dropped = ss.dropped_points + ss.corrupt_points;
    pthread_mutex_lock(&rw->mu);
    rw->st.spool_bytes = ss.bytes;
    rw->st.spool_samples = ss.points;
    if (dropped > rw->sp_dropped) {
        /* spool.c logged each loss with its reason */
        count_lost(rw, dropped - rw->sp_dropped, false,
                   "spool cap reached or corrupt spool record");
        rw->sp_dropped = dropped;
    }
    pthread_cond_broadcast(&rw->idle);
    pthread_mutex_unlock(&rw->mu);
}

static bool spool_waiting(const struct remote_write *rw)
{
    return rw->sp && !spool_empty(rw->sp);
}

/* Opens the spool when it is not open yet; false when there is none or it
 * cannot be opened now (logged; tried again SPOOL_REOPEN_MS later). The
 * open is lazy because on a reload the old sink holds the spool's lock
 * until it has drained. */
static bool spool_ready(struct remote_write *rw)
{
    if (rw->sp)
        return true;
    if (!rw->spool_path || mono_ms() < rw->spool_retry)
        return false;
    char err[512];
    rw->sp = spool_open(rw->spool_path, rw->spool_max, rw->spool_fsync, err,
                        sizeof(err));
    if (!rw->sp) {
        rw->spool_retry = mono_ms() + SPOOL_REOPEN_MS;
        /* once per streak: on a reload this lasts until the old sink is
         * gone */
        if (!rw->spool_failed)
            log_warn("cannot open the remote write spool for '%s' yet, "
                     "retrying every %d ms: %s",
                     rw->log_url, SPOOL_REOPEN_MS, err);
        rw->spool_failed = true;
        return false;
    }
    if (rw->spool_failed)
        log_info("remote write spool '%s' opened", rw->spool_path);
    rw->spool_failed = false;
    spool_account(rw);
    if (!spool_empty(rw->sp)) {
        struct spool_stats ss;
        spool_get_stats(rw->sp, &ss);
        log_info("remote write to '%s': resuming %" PRIu64
                 " spooled samples from '%s'",
                 rw->log_url, ss.points, rw->spool_path);
    }
    return true;
}

/* Appends a request at the spool's tail (behind older ones). */
static void to_spool(struct remote_write *rw, const struct req *r)
{
    char err[256];
    int rc = spool_append(rw->sp, r->body, r->len, (uint32_t)r->samples, 0, err,
                          sizeof(err));
    if (rc < 0) {
        lost(rw, r->samples, false, err);
        log_error("dropping %zu samples for '%s': %s", r->samples, rw->log_url,
                  err);
    } else if (rc == 0) {
        pthread_mutex_lock(&rw->mu);
        rw->st.samples_spooled += r->samples;
        pthread_mutex_unlock(&rw->mu);
    }
    spool_account(rw);
}

/* A request from memory: with a spool, one attempt and then the spool;
 * without, retried in place and then dropped. */
static void deliver(struct remote_write *rw, const struct req *r)
{
    char why[512];
    for (unsigned attempt = 0;; attempt++) {
        enum outcome o = post(rw, r->body, r->len, why, sizeof(why));
        if (o == SENT) {
            sent(rw, r->samples, false);
            return;
        }
        if (o == REFUSED) {
            refused(rw, r->samples, why);
            return;
        }
        if (spool_ready(rw)) {
            log_warn("remote write to '%s' failed, spooling %zu samples: %s",
                     rw->log_url, r->samples, why);
            to_spool(rw, r);
            rw->fails = 1;
            rw->next_try = mono_ms() + backoff_ms(rw, rw->fails);
            return;
        }
        if (attempt >= rw->max_retries) {
            lost(rw, r->samples, false, why);
            log_error("dropping %zu samples for '%s' after %u attempts: %s",
                      r->samples, rw->log_url, attempt + 1, why);
            return;
        }
        log_warn("remote write to '%s' failed, retrying: %s", rw->log_url, why);
        if (backoff_wait(rw, attempt + 1)) {
            lost(rw, r->samples, false, "shutting down");
            log_error("dropping %zu samples for '%s': shutting down while "
                      "retrying (%s)",
                      r->samples, rw->log_url, why);
            return;
        }
        pthread_mutex_lock(&rw->mu);
        rw->st.retries++;
        pthread_mutex_unlock(&rw->mu);
    }
}

/* Sends the spool's oldest request once. */
static void replay_one(struct remote_write *rw)
{
    char err[256], why[512];
    struct spool_rec rec;
    int rc = spool_peek_oldest(rw->sp, &rec, err, sizeof(err));
    if (rc < 0) {
        log_error("cannot read the remote write spool '%s': %s",
                  spool_dir(rw->sp), err);
        rw->fails++;
        rw->next_try = mono_ms() + backoff_ms(rw, rw->fails);
        return;
    }
    if (rc == 0) {
        spool_account(rw);
        return;
    }
    if (rw->fails > 0) {
        pthread_mutex_lock(&rw->mu);
        rw->st.retries++;
        pthread_mutex_unlock(&rw->mu);
    }
    enum outcome o = post(rw, rec.data, rec.len, why, sizeof(why));
    if (o == RETRY) {
        spool_release(rw->sp, &rec);
        rw->fails++;
        rw->next_try = mono_ms() + backoff_ms(rw, rw->fails);
        spool_account(rw);
        if (rw->fails == 1 || rw->fails % 10 == 0) {
            struct spool_stats ss;
            spool_get_stats(rw->sp, &ss);
            log_warn("remote write to '%s' failed (%u in a row), %" PRIu64
                     " samples wait in the spool: %s",
                     rw->log_url, rw->fails, ss.points, why);
        }
        return;
    }
    if (o == SENT)
        sent(rw, rec.points, true);
    else
        refused(rw, rec.points, why);
    if (rw->fails > 0)
        log_info("remote write to '%s' recovered, replaying the spool",
                 rw->log_url);
    rw->fails = 0;
    rw->next_try = 0;
    spool_ack(rw->sp, &rec);
    spool_account(rw);
}

/* Takes the oldest request from memory. Under mu. */
static struct req *pop(struct remote_write *rw)
{
    struct req *r = rw->head;
    if (!r)
        return NULL;
    rw->head = r->next;
    if (!rw->head)
        rw->tail = NULL;
    rw->st.queue_bytes -= r->len;
    return r;
}

static void done(struct remote_write *rw, struct req *r)
{
    free(r->body);
    free(r);
    pthread_mutex_lock(&rw->mu);
    rw->pending--;
    pthread_cond_broadcast(&rw->idle);
    pthread_mutex_unlock(&rw->mu);
}

static void *sender_main(void *vrw)
{
    struct remote_write *rw = vrw;
    assert(rw->magic == RW_MAGIC);
    for (;;) {
        /* at start, to resume a spool left by an earlier run */
        (void)spool_ready(rw);
        pthread_mutex_lock(&rw->mu);
        for (;;) {
            if (rw->stop || rw->head)
                break;
            /* the next thing to do without a request: a replay, or
             * another attempt to open the spool */
            uint64_t due = UINT64_MAX;
            if (spool_waiting(rw))
                due = rw->next_try;
            else if (rw->spool_path && !rw->sp)
                due = rw->spool_retry;
            if (due != UINT64_MAX && mono_ms() >= due)
                break;
            if (due != UINT64_MAX) {
                struct timespec ts = abs_ms(due);
                pthread_cond_timedwait(&rw->wake, &rw->mu, &ts);
            } else {
                pthread_cond_wait(&rw->wake, &rw->mu);
            }
        }
        bool stop = rw->stop;
        struct req *r = stop ? NULL : pop(rw);
        pthread_mutex_unlock(&rw->mu);
        if (stop)
            break;
        if (!r) {
            if (spool_waiting(rw))
                replay_one(rw);
            continue;
        }
        /* Behind a non-empty spool a request waits its turn there, so
         * that the receiver gets every series in timestamp order. */
        if (spool_waiting(rw))
            to_spool(rw, r);
        else
            deliver(rw, r);
        done(rw, r);
    }
    /* What is still in memory survives in the spool. */
    for (;;) {
        pthread_mutex_lock(&rw->mu);
        struct req *r = pop(rw);
        pthread_mutex_unlock(&rw->mu);
        if (!r)
            break;
        if (spool_ready(rw)) {
            to_spool(rw, r);
        } else {
            lost(rw, r->samples, false, "shutting down");
            log_error("dropping %zu samples for '%s': shutting down with "
                      "the receiver unreachable",
                      r->samples, rw->log_url);
        }
        done(rw, r);
    }
    return NULL;
}

/* ---- construction ------------------------------------------------- */

/* The URL without "user:password@", for log lines. */
static char *strip_userinfo(const char *url)
{
    const char *hs = strstr(url, "://");
    const char *host = hs ? hs + 3 : url;
    const char *at = strchr(host, '@');
    const char *slash = strchr(host, '/');
    if (!at || (slash && slash < at))
        return xstrdup(url);
    size_t pre = (size_t)(host - url);
    char *s = xmalloc(pre + strlen(at + 1) + 1);
    memcpy(s, url, pre);
    strcpy(s + pre, at + 1);
    return s;
}

static int setup_curl(struct remote_write *rw, char *err, size_t errlen)
{
    rw->curl = curl_easy_init();
    if (!rw->curl) {
        snprintf(err, errlen, "cannot create a curl handle for '%s'",
                 rw->log_url);
        return -1;
    }
    const char *hdrs[] = {
        "Content-Encoding: snappy",
        "Content-Type: application/x-protobuf",
        "X-Prometheus-Remote-Write-Version: 0.1.0",
        "User-Agent: lagwatch/" PACKAGE_VERSION,
        "Expect:", /* no 100-continue round trip for large bodies */
    };
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        struct curl_slist *h = curl_slist_append(rw->hdr, hdrs[i]);
        if (!h) {
            snprintf(err, errlen, "cannot build the request headers");
            return -1;
        }
        rw->hdr = h;
    }
    CURL *c = rw->curl;
    curl_easy_setopt(c, CURLOPT_URL, rw->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, rw->hdr);
    http_client_setup(c, rw->timeout_ms, &rw->resp, rw->user, rw->pass);
    return 0;
}

struct remote_write *remote_write_new(const struct cfg_remote_write *cfg,
                                      const struct remote_write_spool *spool,
                                      char *err, size_t errlen)
{
    struct remote_write *rw = xcalloc(1, sizeof(*rw));
    rw->magic = RW_MAGIC;
    pthread_mutex_init(&rw->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rw->wake, &ca);
    pthread_cond_init(&rw->idle, &ca);
    pthread_condattr_destroy(&ca);
    buf_init(&rw->resp, RESP_MAX_BYTES);
    buf_init(&rw->pb, 0);
    rw->cur = rwproto_batch_new();

    if (!cfg->url || !*cfg->url) {
        snprintf(err, errlen, "sinks.remote_write has no url");
        goto fail;
    }
    rw->url = xstrdup(cfg->url);
    rw->log_url = strip_userinfo(cfg->url);
    rw->batch_size = cfg->batch_size ? cfg->batch_size : 2000;
    rw->max_retries = cfg->max_retries;
    rw->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 10000;
    rw->min_backoff_ms = cfg->min_backoff_ms ? cfg->min_backoff_ms : 500;
    rw->max_backoff_ms = cfg->max_backoff_ms ? cfg->max_backoff_ms : 30000;
    if (rw->max_backoff_ms < rw->min_backoff_ms)
        rw->max_backoff_ms = rw->min_backoff_ms;
    rw->queue_max_bytes =
        cfg->queue_max_bytes ? cfg->queue_max_bytes : 64ULL << 20;
    rw->seed = (unsigned)mono_ms() ^ (unsigned)(uintptr_t)rw;
    if (cfg->username)
        rw->user = xstrdup(cfg->username);
    if (cfg->password_file) {
        rw->pass =
            secret_read_file(cfg->password_file, "remote write password file",
                             false, err, errlen);
        if (!rw->pass)
            goto fail;
    }
    if (setup_curl(rw, err, errlen) < 0)
        goto fail;

    if (spool && spool->dir) {
        rw->spool_path = xstrdup(spool->dir);
        rw->spool_max = spool->max_bytes;
        rw->spool_fsync = spool->fsync;
        /* now, so that a drain right after the start knows what waits;
         * when this fails the sender thread tries again */
        (void)spool_ready(rw);
    }

    if (pthread_create(&rw->thread, NULL, sender_main, rw) != 0) {
        snprintf(err, errlen, "cannot start the remote write thread for '%s'",
                 rw->log_url);
        goto fail;
    }
    rw->started = true;
    return rw;
fail:
    remote_write_free(&rw);
    return NULL;
}

void remote_write_free(struct remote_write **rwp)
{
    struct remote_write *rw = *rwp;
    if (!rw)
        return;
    if (rw->started) {
        (void)remote_write_drain(rw, FREE_DRAIN_MS);
        pthread_mutex_lock(&rw->mu);
        rw->stop = true;
        pthread_cond_broadcast(&rw->wake);
        pthread_mutex_unlock(&rw->mu);
        pthread_join(rw->thread, NULL);
    }
    spool_close(&rw->sp);
    if (rw->curl)
        curl_easy_cleanup(rw->curl);
    curl_slist_free_all(rw->hdr);
    rwproto_batch_free(&rw->cur);
    buf_release(&rw->resp);
    buf_release(&rw->pb);
    pthread_cond_destroy(&rw->wake);
    pthread_cond_destroy(&rw->idle);
    pthread_mutex_destroy(&rw->mu);
    secret_free(&rw->pass);
    free(rw->spool_path);
    free(rw->user);
    free(rw->url);
    free(rw->log_url);
    free(rw);
    *rwp = NULL;
}
