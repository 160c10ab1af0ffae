#include "proxy/nodeq.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/xalloc.h"

struct slot {
    CURL *c;
    struct buf body;
    char cerr[CURL_ERROR_SIZE];
    char *url;
    bool over; /* the body passed the cap */
    uint64_t t0;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct slot *s = ctx;
    size_t len = size * nmemb;
    if (buf_add(&s->body, p, len) < 0) {
        s->over = true;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    return len;
}

static void finish(struct slot *s, CURLcode rc, struct nodeq_res *r,
                   size_t max_bytes)
{
    r->ns = clock_mono_ns() - s->t0;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &r->status);
        r->len = s->body.len;
        buf_addc(&s->body, '\0');
        r->body = buf_detach(&s->body, NULL);
    } else if (s->over) {
        snprintf(r->err, sizeof(r->err),
                 "response larger than %zu bytes (proxy.max_response_bytes)",
                 max_bytes);
    } else {
        snprintf(r->err, sizeof(r->err), "%s",
                 s->cerr[0] ? s->cerr : curl_easy_strerror(rc));
    }
}

struct nodeq_share {
    CURLSH *sh;
    pthread_mutex_t lock[CURL_LOCK_DATA_LAST];
};

static void share_lock(CURL *c, curl_lock_data d, curl_lock_access a, void *ctx)
{
    (void)c;
    (void)a;
    struct nodeq_share *s = ctx;
    pthread_mutex_lock(&s->lock[d]);
}

static void share_unlock(CURL *c, curl_lock_data d, void *ctx)
{
    (void)c;
    struct nodeq_share *s = ctx;
    pthread_mutex_unlock(&s->lock[d]);
}

struct nodeq_share *nodeq_share_new(void)
{
    struct nodeq_share *s = xcalloc(1, sizeof(*s));
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&s->lock[i], NULL);
    s->sh = curl_share_init();
    if (!s->sh ||
        curl_share_setopt(s->sh, CURLSHOPT_LOCKFUNC, share_lock) !=
            CURLSHE_OK ||
        curl_share_setopt(s->sh, CURLSHOPT_UNLOCKFUNC, share_unlock) !=
            CURLSHE_OK ||
        curl_share_setopt(s->sh, CURLSHOPT_USERDATA, s) != CURLSHE_OK ||
        curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) !=
            CURLSHE_OK ||
        curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) !=
            CURLSHE_OK)
        nodeq_share_free(&s);
    return s;
}

void nodeq_share_free(struct nodeq_share **sp)
{
    struct nodeq_share *s = *sp;
    if (!s)
        return;
    if (s->sh)
        curl_share_cleanup(s->sh);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&s->lock[i]);
    free(s);
    *sp = NULL;
}

int nodeq_run(const struct nodeq_req *reqs, struct nodeq_res *res, size_t n,
              uint64_t timeout_ms, size_t max_bytes, unsigned max_parallel,
              struct nodeq_share *share)
{
    int rc = -1;
    struct slot *slots = xcalloc(n ? n : 1, sizeof(*slots));
    CURLM *m = curl_multi_init();
    struct curl_slist *hdr =
        curl_slist_append(NULL, "Content-Type: "
                                "application/x-www-form-urlencoded");
    for (size_t i = 0; i < n; i++)
        memset(&res[i], 0, sizeof(res[i]));
    if (!m || !hdr) {
        for (size_t i = 0; i < n; i++)
            snprintf(res[i].err, sizeof(res[i].err), "cannot set up curl");
        goto out;
    }
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      (long)(max_parallel ? max_parallel : 16));
    for (size_t i = 0; i < n; i++) {
        struct slot *s = &slots[i];
        buf_init(&s->body, max_bytes);
        s->c = curl_easy_init();
        if (!s->c) {
            snprintf(res[i].err, sizeof(res[i].err), "cannot set up curl");
            continue;
        }
        struct buf u;
        buf_init(&u, 0);
        buf_adds(&u, reqs[i].base_url);
        while (u.len && u.data[u.len - 1] == '/')
            buf_truncate(&u, u.len - 1);
        buf_adds(&u, "/query");
        buf_addc(&u, '\0');
        s->url = buf_detach(&u, NULL);
        curl_easy_setopt(s->c, CURLOPT_URL, s->url);
        curl_easy_setopt(s->c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(s->c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
        curl_easy_setopt(s->c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
        curl_easy_setopt(s->c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(s->c, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(s->c, CURLOPT_ERRORBUFFER, s->cerr);
        curl_easy_setopt(s->c, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(s->c, CURLOPT_POSTFIELDS, reqs[i].form);
        curl_easy_setopt(s->c, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(s->c, CURLOPT_PRIVATE, (void *)s);
        if (share)
            curl_easy_setopt(s->c, CURLOPT_SHARE, share->sh);
        if (reqs[i].user) {
            curl_easy_setopt(s->c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
            curl_easy_setopt(s->c, CURLOPT_USERNAME, reqs[i].user);
            curl_easy_setopt(s->c, CURLOPT_PASSWORD,
                             reqs[i].pass ? reqs[i].pass : "");
        }
        s->t0 = clock_mono_ns();
        if (curl_multi_add_handle(m, s->c) != CURLM_OK) {
            snprintf(res[i].err, sizeof(res[i].err), "cannot start request");
            curl_easy_cleanup(s->c);
            s->c = NULL;
        }
    }
    int running = 1;
    while (running) {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct slot *s = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            if (s)
                finish(s, msg->data.result, &res[s - slots], max_bytes);
        }
        if (running && curl_multi_poll(m, NULL, 0, 100, NULL) != CURLM_OK)
            break;
    }
    rc = 0;
out:
    for (size_t i = 0; i < n; i++) {
        struct slot *s = &slots[i];
        if (s->c) {
            if (m)
                curl_multi_remove_handle(m, s->c);
            curl_easy_cleanup(s->c);
        }
        if (!res[i].body && !res[i].err[0])
            snprintf(res[i].err, sizeof(res[i].err), "no answer");
        buf_release(&s->body);
        free(s->url);
    }
    free(slots);
    curl_slist_free_all(hdr);
    if (m)
        curl_multi_cleanup(m);
    return rc;
}

void nodeq_res_release(struct nodeq_res *res, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(res[i].body);
        res[i].body = NULL;
    }
}
