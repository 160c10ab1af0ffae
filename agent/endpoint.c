#include "endpoint.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "log.h"
#include "xalloc.h"

/* A published exposition. Handlers take a reference under the lock and
 * copy outside it, so a slow client never holds the lock. */
struct snapshot {
    char *text;
    size_t len;
    unsigned refs;
};

struct endpoint {
    struct httpd *httpd;
    pthread_mutex_t lock;
    struct snapshot *snap;
    bool ready;
};

static void snapshot_unref(struct endpoint *ep, struct snapshot *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&ep->lock);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&ep->lock);
    if (last) {
        free(s->text);
        free(s);
    }
}

static void handle_metrics(void *ctx, const struct httpd_request *req,
                           struct httpd_response *resp)
{
    struct endpoint *ep = ctx;
    (void)req;
    pthread_mutex_lock(&ep->lock);
    struct snapshot *s = ep->snap;
    if (s)
        s->refs++;
    pthread_mutex_unlock(&ep->lock);
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (!s) {
        resp->status = 503;
        resp->content_type = "text/plain; charset=utf-8";
        buf_adds(&resp->body, "no cycle has completed yet\n");
        return;
    }
    if (buf_add(&resp->body, s->text, s->len) < 0)
        resp->status = 500;
    snapshot_unref(ep, s);
}

static void handle_healthz(void *ctx, const struct httpd_request *req,
                           struct httpd_response *resp)
{
    (void)ctx;
    (void)req;
    buf_adds(&resp->body, "ok\n");
}

static void handle_readyz(void *ctx, const struct httpd_request *req,
                          struct httpd_response *resp)
{
    struct endpoint *ep = ctx;
    (void)req;
    pthread_mutex_lock(&ep->lock);
    bool ready = ep->ready;
    pthread_mutex_unlock(&ep->lock);
    if (ready) {
        buf_adds(&resp->body, "ready\n");
    } else {
        resp->status = 503;
        buf_adds(&resp->body, "not ready: first cycle not done\n");
    }
}

struct endpoint *endpoint_new(const char *listen, char *err, size_t errlen)
{
    struct endpoint *ep = xcalloc(1, sizeof(*ep));
    pthread_mutex_init(&ep->lock, NULL);
    struct httpd_opts o = {.listen = listen};
    ep->httpd = httpd_new(&o, err, errlen);
    if (!ep->httpd)
        goto fail;
    if (httpd_route(ep->httpd, "/metrics", handle_metrics, ep) < 0 ||
        httpd_route(ep->httpd, "/healthz", handle_healthz, ep) < 0 ||
        httpd_route(ep->httpd, "/readyz", handle_readyz, ep) < 0) {
        snprintf(err, errlen, "cannot register the HTTP routes");
        goto fail;
    }
    if (httpd_start(ep->httpd, err, errlen) < 0)
        goto fail;
    return ep;
fail:
    endpoint_free(&ep);
    return NULL;
}

void endpoint_free(struct endpoint **epp)
{
    struct endpoint *ep = *epp;
    if (!ep)
        return;
    /* Stops the server and waits for handlers, so no reference is left. */
    httpd_free(&ep->httpd);
    if (ep->snap) {
        free(ep->snap->text);
        free(ep->snap);
    }
    pthread_mutex_destroy(&ep->lock);
    free(ep);
    *epp = NULL;
}

void endpoint_publish(struct endpoint *ep, char *text, size_t len)
{
    struct snapshot *s = xcalloc(1, sizeof(*s));
    s->text = text;
    s->len = len;
    s->refs = 1;
    pthread_mutex_lock(&ep->lock);
    struct snapshot *old = ep->snap;
    ep->snap = s;
    pthread_mutex_unlock(&ep->lock);
    snapshot_unref(ep, old);
}

void endpoint_set_ready(struct endpoint *ep, bool ready)
{
    pthread_mutex_lock(&ep->lock);
    ep->ready = ready;
    pthread_mutex_unlock(&ep->lock);
}

unsigned endpoint_port(const struct endpoint *ep)
{
    return httpd_port(ep->httpd);
}
