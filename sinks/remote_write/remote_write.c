#include "remote_write/remote_write.h"

#include "prom/expo_flink.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "http_client.h"
#include "outbox.h"
#include "pipeline/series_fold.h"
#include "remote_write/rwproto.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/xalloc.h"

/* Receivers answer errors with a short text; longer answers are clipped. */
#define RESP_MAX_BYTES (64 * 1024)
#define ERR_CLIP       300
/* remote_write_free() waits this long for queued requests. */
#define FREE_DRAIN_MS 2000
/* A spool that cannot be opened (locked by the sink being replaced on a
 * reload, a full disk) is tried again this often. */
#define SPOOL_REOPEN_MS 1000

struct remote_write {
    char *url;     /* as configured, for requests */
    char *log_url; /* without userinfo, for log lines */
    char *log_name;
    char *user;
    char *pass;
    unsigned batch_size;
    uint64_t timeout_ms;
    struct outbox *ob;
    /* Sender thread only (the outbox's send). */
    CURL *curl;
    struct curl_slist *hdr;
    struct buf resp;

    pthread_mutex_t mu;
    /* Under mu. */
    struct rwproto_batch *cur;
    uint64_t samples_queued;
    uint64_t samples_skipped;
    uint64_t requests;
    uint64_t bytes_sent;
    uint64_t unencodable; /* dropped before the outbox */
    uint64_t unencodable_seen;
};

/* Encodes the current batch into a request for the outbox. Under mu. */
static void seal(struct remote_write *rw)
{
    struct rwproto_batch *b = rw->cur;
    size_t n = rwproto_batch_samples(b);
    if (n == 0)
        return;
    struct buf z = BUF_INIT;
    if (rwproto_batch_compress(b, &z) < 0) {
        rw->unencodable += n;
        log_error("dropping %zu samples for '%s': cannot encode the request", n,
                  rw->log_url);
        buf_release(&z);
    } else {
        size_t len;
        char *body = buf_detach(&z, &len);
        rw->samples_queued += n;
        outbox_put(rw->ob, body, len, (uint32_t)n, 0);
    }
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
        rw->samples_skipped++;
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
                rw->samples_skipped++;
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

int remote_write_drain(struct remote_write *rw, uint64_t timeout_ms)
{
    uint64_t until = clock_mono_ms() + timeout_ms;
    remote_write_flush(rw);
    int rc = outbox_drain(rw->ob, until);
    pthread_mutex_lock(&rw->mu);
    if (rw->unencodable != rw->unencodable_seen)
        rc = -1;
    rw->unencodable_seen = rw->unencodable;
    pthread_mutex_unlock(&rw->mu);
    return rc;
}

void remote_write_get_stats(struct remote_write *rw,
                            struct remote_write_stats *out)
{
    struct outbox_stats os;
    outbox_get_stats(rw->ob, &os);
    memset(out, 0, sizeof(*out));
    out->samples_spooled = os.spooled;
    out->samples_replayed = os.replayed;
    out->spool_bytes = os.spool_bytes;
    out->spool_samples = os.spool_items;
    out->samples_sent = os.written;
    out->samples_failed = os.refused;
    out->samples_dropped = os.dropped;
    out->retries = os.retries;
    out->queue_bytes = os.queue_bytes;
    out->up = os.up;
    memcpy(out->last_error, os.last_error, sizeof(out->last_error));
    pthread_mutex_lock(&rw->mu);
    out->samples_queued = rw->samples_queued;
    out->samples_skipped = rw->samples_skipped;
    out->samples_dropped += rw->unencodable;
    out->requests = rw->requests;
    out->bytes_sent = rw->bytes_sent;
    pthread_mutex_unlock(&rw->mu);
}

/* ---- sender thread (the outbox's ops) ----------------------------- */

/* One POST: 2xx sent; 429, 5xx and transport errors retryable; any other
 * answer refused (lagwatch(8), REMOTE WRITE). */
static void rw_send(void *ctx, const struct outbox_rec *r,
                    struct outbox_result *res)
{
    struct remote_write *rw = ctx;
    uint64_t ns;
    buf_reset(&rw->resp);
    long status = http_client_post(rw->curl, NULL, NULL, r->data, r->len,
                                   res->why, sizeof(res->why), &ns);
    pthread_mutex_lock(&rw->mu);
    rw->requests++;
    if (status)
        rw->bytes_sent += r->len;
    pthread_mutex_unlock(&rw->mu);
    res->answered = status != 0 && status < 500;
    if (status == 0) {
        res->status = OUTBOX_RETRY;
        return;
    }
    if (status >= 200 && status < 300)
        return;
    /* The receiver's answer is one line of text; keep it printable. */
    for (size_t i = 0; i < rw->resp.len; i++)
        if (rw->resp.data[i] == '\n' || rw->resp.data[i] == '\r')
            rw->resp.data[i] = ' ';
    while (rw->resp.len > 0 && rw->resp.data[rw->resp.len - 1] == ' ')
        buf_truncate(&rw->resp, rw->resp.len - 1);
    snprintf(res->why, sizeof(res->why), "HTTP %ld: %.*s", status, ERR_CLIP,
             rw->resp.data);
    res->status =
        status == 429 || status >= 500 ? OUTBOX_RETRY : OUTBOX_REFUSED;
}

static void rw_resumed(void *ctx, uint64_t items, uint64_t bytes)
{
    struct remote_write *rw = ctx;
    log_info("remote write to '%s': resuming %llu spooled samples (%llu "
             "bytes)",
             rw->log_url, (unsigned long long)items, (unsigned long long)bytes);
}

static const struct outbox_ops rw_ops = {
    .send = rw_send,
    .resumed = rw_resumed,
};

/* ---- construction ------------------------------------------------- */

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
    pthread_mutex_init(&rw->mu, NULL);
    buf_init(&rw->resp, RESP_MAX_BYTES);
    rw->cur = rwproto_batch_new();

    if (!cfg->url || !*cfg->url) {
        snprintf(err, errlen, "sinks.remote_write has no url");
        goto fail;
    }
    rw->url = xstrdup(cfg->url);
    rw->log_url = http_client_url_for_log(cfg->url);
    struct buf nb = BUF_INIT;
    buf_addf(&nb, "remote-write receiver '%s'", rw->log_url);
    rw->log_name = buf_detach(&nb, NULL);
    rw->batch_size = cfg->batch_size ? cfg->batch_size : 2000;
    rw->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 10000;
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
    /* With a spool a failing request waits there, replayed for as long as
     * it takes; the receiver counts as down at the first failure, so that
     * a drain does not wait for it (lagwatch(8), REMOTE WRITE). */
    struct outbox_opts o = {
        .name = rw->log_name,
        .unit = "samples",
        .ops = &rw_ops,
        .ctx = rw,
        .queue_max_bytes =
            cfg->queue_max_bytes ? cfg->queue_max_bytes : 64ULL << 20,
        .spool_dir = spool ? spool->dir : NULL,
        .spool_max_bytes = spool ? spool->max_bytes : 0,
        .spool_fsync = spool ? spool->fsync : false,
        .spool_reopen_ms = SPOOL_REOPEN_MS,
        .max_retries = cfg->max_retries,
        .down_after = 1,
        .backoff_min_ms = cfg->min_backoff_ms ? cfg->min_backoff_ms : 500,
        .backoff_max_ms = cfg->max_backoff_ms ? cfg->max_backoff_ms : 30000,
    };
    rw->ob = outbox_new(&o, err, errlen);
    if (!rw->ob)
        goto fail;
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
    if (rw->ob) {
        (void)remote_write_drain(rw, FREE_DRAIN_MS);
        outbox_stop(rw->ob);
        /* the partial batch joins the leftovers the outbox spools */
        remote_write_flush(rw);
        outbox_free(&rw->ob);
    }
    if (rw->curl)
        curl_easy_cleanup(rw->curl);
    curl_slist_free_all(rw->hdr);
    rwproto_batch_free(&rw->cur);
    buf_release(&rw->resp);
    pthread_mutex_destroy(&rw->mu);
    secret_free(&rw->pass);
    free(rw->user);
    free(rw->url);
    free(rw->log_url);
    free(rw->log_name);
    free(rw);
    *rwp = NULL;
}
