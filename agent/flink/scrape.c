/*
 * scrape: concurrent HTTP GETs with libcurl's multi interface.
 *
 * At most opts.concurrency easy handles sit in the multi handle at once; the
 * rest wait in order and are added as slots free up, so a queued target's
 * timeout does not start ticking before its transfer does. Easy handles are
 * kept in a small pool between runs and the multi handle keeps the
 * connection cache, so a scrape every interval reuses its keep-alive
 * connections instead of reconnecting.
 */
#include "flink/scrape.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/xalloc.h"

#ifdef PACKAGE_VERSION
#define SCRAPE_DEFAULT_UA "lagwatch/" PACKAGE_VERSION
#else
#define SCRAPE_DEFAULT_UA "lagwatch"
#endif

/* Zero option fields mean "use the default"; a scrape must always have a
 * deadline and a size cap. */
#define SCRAPE_DEFAULT_TIMEOUT_MS  10000
#define SCRAPE_DEFAULT_MAX_BYTES   (64u * 1024 * 1024)
#define SCRAPE_DEFAULT_CONCURRENCY 4
/* Error bodies are read and discarded (keeps the connection reusable), but
 * only this much of them. */
#define SCRAPE_MAX_ERROR_BODY (64u * 1024)
/* Per transfer, so concurrency times this is held while scraping. */
#define SCRAPE_RECV_BUFFER (256L * 1024)
#define SCRAPE_DEFAULT_ACCEPT                                                  \
    "text/plain;version=0.0.4;q=1,application/json;q=0.9,*/*;q=0.1"

struct scrape_slot {
    CURL *easy;
    const struct scrape_target *t;
    struct curl_slist *headers;
    uint64_t max_bytes;
    uint64_t bytes;     /* delivered to on_data */
    uint64_t discarded; /* error-body bytes read and dropped */
    bool too_big;
    bool aborted;
    struct timespec start;
    char errbuf[CURL_ERROR_SIZE];
};

struct scraper {
    CURLM *multi;
    uint64_t timeout_ms;
    uint64_t max_bytes;
    unsigned concurrency;
    char *user_agent;
    struct scrape_slot *slots; /* concurrency entries; easy kept between runs */
};

static pthread_once_t scrape_global_once = PTHREAD_ONCE_INIT;
static CURLcode scrape_global_rc = CURLE_FAILED_INIT;

static void scrape_global_init(void)
{
    scrape_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static double scrape_elapsed_s(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) +
           (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static size_t scrape_on_body(char *data, size_t size, size_t nmemb, void *user)
{
    struct scrape_slot *sl = user;
    size_t len = size * nmemb;
    long code = 0;

    if (curl_easy_getinfo(sl->easy, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
        code = 0;
    if (code < 200 || code > 299) {
        /* The status decides the outcome; only the connection wants the
         * rest of this body, and not at any size. */
        sl->discarded += len;
        return sl->discarded > SCRAPE_MAX_ERROR_BODY ? 0 : len;
    }
    if (len > sl->max_bytes - sl->bytes) {
        sl->too_big = true;
        return 0; /* any value != len makes curl abort the transfer */
    }
    if (len > 0 && sl->t->on_data &&
        sl->t->on_data(sl->t->user, data, len) != 0) {
        sl->aborted = true;
        return 0;
    }
    sl->bytes += len;
    return len;
}

static int scrape_setup(struct scraper *s, struct scrape_slot *sl, char *err,
                        size_t errlen)
{
    const char *accept = sl->t->accept ? sl->t->accept : SCRAPE_DEFAULT_ACCEPT;
    char *hdr = NULL;
    struct curl_slist *tmp = NULL;
    long timeout = s->timeout_ms > LONG_MAX ? LONG_MAX : (long)s->timeout_ms;
    CURLcode rc = CURLE_OK;
    int ret = -1;
    size_t hlen;

    if (!sl->easy) {
        sl->easy = curl_easy_init();
        if (!sl->easy) {
            snprintf(err, errlen, "cannot create a curl handle");
            goto out;
        }
    } else {
        /* Keeps the handle's live connections and DNS cache. */
        curl_easy_reset(sl->easy);
    }
    hlen = strlen("Accept: ") + strlen(accept) + 1;
    hdr = xmalloc(hlen);
    snprintf(hdr, hlen, "Accept: %s", accept);
    tmp = curl_slist_append(NULL, hdr);
    if (!tmp) {
        snprintf(err, errlen, "cannot build request headers");
        goto out;
    }
    sl->headers = tmp;
    sl->errbuf[0] = '\0';

#define SETOPT(opt, val)                                                       \
    do {                                                                       \
        rc = curl_easy_setopt(sl->easy, (opt), (val));                         \
        if (rc != CURLE_OK) {                                                  \
            snprintf(err, errlen, "cannot set %s: %s", #opt,                   \
                     curl_easy_strerror(rc));                                  \
            goto out;                                                          \
        }                                                                      \
    } while (0)

    SETOPT(CURLOPT_URL, sl->t->url);
    SETOPT(CURLOPT_PRIVATE, (void *)sl);
    SETOPT(CURLOPT_ERRORBUFFER, sl->errbuf);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_TIMEOUT_MS, timeout);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, timeout);
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    /* "" offers every encoding this libcurl decodes (gzip, deflate, ...);
     * the callback then sees decompressed bytes, which the cap counts. */
    SETOPT(CURLOPT_ACCEPT_ENCODING, "");
    SETOPT(CURLOPT_HTTPHEADER, sl->headers);
    SETOPT(CURLOPT_USERAGENT, s->user_agent);
    SETOPT(CURLOPT_WRITEFUNCTION, scrape_on_body);
    SETOPT(CURLOPT_WRITEDATA, (void *)sl);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    /* A reporter answers tens of MB: curl's default 16 KiB receive buffer
     * means thousands of recv calls and callbacks per scrape (and as many
     * lines split across chunks for the parser to carry over). */
    SETOPT(CURLOPT_BUFFERSIZE, SCRAPE_RECV_BUFFER);
#undef SETOPT
    ret = 0;
out:
    free(hdr);
    return ret;
}

static void scrape_finish(struct scraper *s, struct scrape_slot *sl,
                          CURLcode rc, const char *local_err)
{
    struct scrape_result r = {0};
    char msg[CURL_ERROR_SIZE + 64];
    char *ct = NULL;

    r.duration_s = scrape_elapsed_s(&sl->start);
    r.bytes = sl->bytes;
    if (sl->easy && !local_err) {
        if (curl_easy_getinfo(sl->easy, CURLINFO_RESPONSE_CODE,
                              &r.http_status) != CURLE_OK)
            r.http_status = 0;
        if (curl_easy_getinfo(sl->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK)
            r.content_type = ct;
    }

    if (local_err) {
        snprintf(msg, sizeof(msg), "%s", local_err);
    } else if (sl->too_big) {
        /* names the setting: a large reporter (a 200,000-series job is
         * ~90 MB) passes the default, and the fix is one line of config */
        snprintf(msg, sizeof(msg),
                 "response larger than %" PRIu64
                 " bytes (agent.max_response_bytes)",
                 s->max_bytes);
    } else if (sl->aborted) {
        snprintf(msg, sizeof(msg), "aborted");
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(msg, sizeof(msg), "timeout after %" PRIu64 " ms",
                 s->timeout_ms);
    } else if (r.http_status != 0 &&
               (r.http_status < 200 || r.http_status > 299)) {
        /* Checked before other curl errors: a discarded error body shows
         * up as a write error, but the status is the real cause. */
        snprintf(msg, sizeof(msg), "HTTP %ld", r.http_status);
    } else if (rc != CURLE_OK) {
        snprintf(msg, sizeof(msg), "%s",
                 sl->errbuf[0] ? sl->errbuf : curl_easy_strerror(rc));
    } else {
        msg[0] = '\0';
    }
    r.ok = msg[0] == '\0';
    r.error = r.ok ? NULL : msg;
    if (sl->t->on_done)
        sl->t->on_done(sl->t->user, &r);

    curl_slist_free_all(sl->headers);
    sl->headers = NULL;
    sl->t = NULL;
}

struct scraper *scraper_new(const struct scraper_opts *opts)
{
    struct scraper *s = NULL;
    CURLMcode mrc;

    pthread_once(&scrape_global_once, scrape_global_init);
    if (scrape_global_rc != CURLE_OK) {
        log_error("cannot initialise libcurl: %s",
                  curl_easy_strerror(scrape_global_rc));
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->timeout_ms =
        opts->timeout_ms ? opts->timeout_ms : SCRAPE_DEFAULT_TIMEOUT_MS;
    s->max_bytes = opts->max_bytes ? opts->max_bytes : SCRAPE_DEFAULT_MAX_BYTES;
    s->concurrency =
        opts->concurrency ? opts->concurrency : SCRAPE_DEFAULT_CONCURRENCY;
    s->user_agent =
        xstrdup(opts->user_agent ? opts->user_agent : SCRAPE_DEFAULT_UA);
    s->slots = xcalloc(s->concurrency, sizeof(*s->slots));
    s->multi = curl_multi_init();
    if (!s->multi) {
        log_error("cannot create a curl multi handle");
        goto fail;
    }
    mrc = curl_multi_setopt(s->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                            (long)s->concurrency);
    if (mrc != CURLM_OK) {
        log_error("cannot limit connections to %u: %s", s->concurrency,
                  curl_multi_strerror(mrc));
        goto fail;
    }
    return s;
fail:
    scraper_free(&s);
    return NULL;
}

void scraper_free(struct scraper **sp)
{
    struct scraper *s = *sp;

    if (!s)
        return;
    for (unsigned i = 0; i < s->concurrency; i++) {
        if (s->slots[i].easy)
            curl_easy_cleanup(s->slots[i].easy);
        curl_slist_free_all(s->slots[i].headers);
    }
    if (s->multi)
        curl_multi_cleanup(s->multi);
    free(s->slots);
    free(s->user_agent);
    free(s);
    *sp = NULL;
}

/* Starts target t in a free slot; a target that cannot even start is
 * completed at once with the reason. Returns 1 if it is now in flight. */
static int scrape_start(struct scraper *s, struct scrape_slot *sl,
                        const struct scrape_target *t)
{
    char err[256];
    CURLMcode mrc;

    sl->t = t;
    sl->bytes = 0;
    sl->discarded = 0;
    sl->too_big = false;
    sl->aborted = false;
    clock_gettime(CLOCK_MONOTONIC, &sl->start);
    sl->max_bytes = s->max_bytes;
    if (scrape_setup(s, sl, err, sizeof(err)) != 0) {
        scrape_finish(s, sl, CURLE_OK, err);
        return 0;
    }
    mrc = curl_multi_add_handle(s->multi, sl->easy);
    if (mrc != CURLM_OK) {
        snprintf(err, sizeof(err), "cannot start transfer: %s",
                 curl_multi_strerror(mrc));
        scrape_finish(s, sl, CURLE_OK, err);
        return 0;
    }
    return 1;
}

/* Fills free slots from the queue; returns how many are in flight. */
static unsigned scrape_fill(struct scraper *s,
                            const struct scrape_target *targets, size_t n,
                            size_t *next, unsigned active)
{
    for (unsigned i = 0; i < s->concurrency && *next < n; i++) {
        /* A target that fails to start leaves its slot free for the next
         * one, hence the inner loop. */
        while (!s->slots[i].t && *next < n)
            active +=
                (unsigned)scrape_start(s, &s->slots[i], &targets[(*next)++]);
    }
    return active;
}

/* A broken multi handle: nothing more can be fetched, so every target not
 * yet completed is completed with the reason. */
static void scrape_fail_all(struct scraper *s,
                            const struct scrape_target *targets, size_t n,
                            size_t *next, CURLMcode mrc)
{
    char err[256];
    struct scrape_slot tmp;

    snprintf(err, sizeof(err), "scraper failure: %s", curl_multi_strerror(mrc));
    for (unsigned i = 0; i < s->concurrency; i++) {
        if (!s->slots[i].t)
            continue;
        /* Best effort: the multi handle is already failing. */
        (void)curl_multi_remove_handle(s->multi, s->slots[i].easy);
        scrape_finish(s, &s->slots[i], CURLE_OK, err);
    }
    for (; *next < n; (*next)++) {
        memset(&tmp, 0, sizeof(tmp));
        tmp.t = &targets[*next];
        clock_gettime(CLOCK_MONOTONIC, &tmp.start);
        scrape_finish(s, &tmp, CURLE_OK, err);
    }
}

int scraper_run(struct scraper *s, const struct scrape_target *targets,
                size_t n)
{
    size_t next = 0;
    unsigned active = 0;
    int running = 0;
    CURLMcode mrc;
    CURLMsg *msg;
    int left;

    if (n == 0)
        return 0;
    active = scrape_fill(s, targets, n, &next, active);
    while (active > 0) {
        mrc = curl_multi_perform(s->multi, &running);
        if (mrc != CURLM_OK)
            goto broken;
        for (;;) {
            msg = curl_multi_info_read(s->multi, &left);
            if (!msg)
                break;
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct scrape_slot *sl = NULL;
            CURL *easy = msg->easy_handle;
            CURLcode rc = msg->data.result;

            if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&sl) !=
                    CURLE_OK ||
                !sl)
                continue;
            /* msg points into the multi handle: done with it before the
             * handle is removed. */
            mrc = curl_multi_remove_handle(s->multi, easy);
            scrape_finish(s, sl, rc, NULL);
            active--;
            if (mrc != CURLM_OK)
                goto broken;
        }
        active = scrape_fill(s, targets, n, &next, active);
        if (active == 0)
            break;
        mrc = curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
        if (mrc != CURLM_OK)
            goto broken;
    }
    return 0;
broken:
    scrape_fail_all(s, targets, n, &next, mrc);
    return 0;
}
