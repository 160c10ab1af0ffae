#include "serve/endpoint.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom/expo.h"
#include "hashring/hashring.h"
#include "route/ring_config.h"
#include "route/router.h"
#include "serve/httpd.h"
#include "serve/status.h"
#include "serve/status_page.h"
#include "util/clock.h"
#include "util/jsonw.h"
#include "util/log.h"
#include "kafka/ready.h"
#include "util/secret.h"
#include "util/xalloc.h"

/* A published exposition. Handlers take a reference under the lock and
 * copy outside it, so a slow client never holds the lock. The encodings
 * are filled lazily under enc_lock (the model itself is read-only). */
struct snapshot {
    struct endpoint_data d;
    unsigned refs;
    pthread_mutex_t enc_lock;
    char *enc[EXPO_FORMAT_N_];
    size_t enc_len[EXPO_FORMAT_N_];
    bool enc_failed[EXPO_FORMAT_N_];
};

static void snapshot_free(struct snapshot *s)
{
    expo_free(&s->d.metrics);
    for (int f = 0; f < EXPO_FORMAT_N_; f++)
        free(s->enc[f]);
    pthread_mutex_destroy(&s->enc_lock);
    free(s->d.lag_json);
    for (size_t i = 0; i < s->d.n_lag; i++)
        kafka_lag_cluster_free(&s->d.lag[i]);
    free(s->d.lag);
    status_free(&s->d.status);
    free(s);
}

/* The ring as /api/v1/ring answers it, replaced whole on reload. */
struct ringview {
    struct hashring *ring;
    char **shard_by;
    size_t n_shard_by;
    unsigned replicas;
    char *agent_name;
    char fingerprint[HASHRING_FINGERPRINT_LEN + 1];
    unsigned refs;
};

struct endpoint {
    struct httpd *httpd;
    struct ringview *ring;
    pthread_mutex_t lock;
    struct snapshot *snap;
    bool ready;
};

/* Drops one reference under ep->lock; true when it was the last. */
static bool unref(struct endpoint *ep, unsigned *refs)
{
    pthread_mutex_lock(&ep->lock);
    bool last = --*refs == 0;
    pthread_mutex_unlock(&ep->lock);
    return last;
}

static void snapshot_unref(struct endpoint *ep, struct snapshot *s)
{
    if (s && unref(ep, &s->refs))
        snapshot_free(s);
}

static struct snapshot *snapshot_get(struct endpoint *ep)
{
    pthread_mutex_lock(&ep->lock);
    struct snapshot *s = ep->snap;
    if (s)
        s->refs++;
    pthread_mutex_unlock(&ep->lock);
    return s;
}

/* The encoding of s in format f, made by the first request that needs
 * it; NULL when it does not fit a response (max bytes, as the body). */
static const char *snapshot_encoding(struct snapshot *s, enum expo_format f,
                                     size_t max, size_t *len)
{
    pthread_mutex_lock(&s->enc_lock);
    if (!s->enc[f] && !s->enc_failed[f]) {
        struct buf b;
        buf_init(&b, max);
        if (expo_encode(s->d.metrics, f, &b) < 0) {
            log_error("cannot serve /metrics as '%s': the exposition "
                      "passes the %zu-byte response cap",
                      expo_content_type(f), max);
            s->enc_failed[f] = true;
            buf_release(&b);
        } else {
            s->enc[f] = buf_detach(&b, &s->enc_len[f]);
        }
    }
    const char *p = s->enc[f];
    *len = s->enc_len[f];
    pthread_mutex_unlock(&s->enc_lock);
    return p;
}

static void handle_metrics(void *ctx, const struct httpd_request *req,
                           struct httpd_response *resp)
{
    struct endpoint *ep = ctx;
    struct snapshot *s = snapshot_get(ep);
    if (!s) {
        resp->status = 503;
        resp->content_type = "text/plain; charset=utf-8";
        buf_adds(&resp->body, "no cycle has completed yet\n");
        return;
    }
    enum expo_format f = expo_negotiate(req->accept);
    log_debug("serving /metrics as '%s' for Accept '%.200s'",
              expo_content_type(f), req->accept ? req->accept : "");
    size_t len;
    const char *body = snapshot_encoding(s, f, resp->body.max, &len);
    if (!body || buf_add(&resp->body, body, len) < 0) {
        resp->status = 500;
        resp->content_type = "text/plain; charset=utf-8";
        buf_reset(&resp->body);
        buf_adds(&resp->body, "the exposition is too large\n");
    } else {
        resp->content_type = expo_content_type(f);
    }
    snapshot_unref(ep, s);
}

/* The snapshot for a lag document, or NULL with resp set to a 503. */
static struct snapshot *lag_snapshot(struct endpoint *ep,
                                     struct httpd_response *resp)
{
    struct snapshot *s = snapshot_get(ep);
    resp->content_type = "application/json";
    if (!s) {
        resp->status = 503;
        buf_adds(&resp->body, "{\"error\":\"no sweep has completed yet\"}\n");
    }
    return s;
}

static void handle_lag(void *ctx, const struct httpd_request *req,
                       struct httpd_response *resp)
{
    struct endpoint *ep = ctx;
    (void)req;
    struct snapshot *s = lag_snapshot(ep, resp);
    if (!s)
        return;
    if (buf_add(&resp->body, s->d.lag_json, s->d.lag_json_len) < 0)
        resp->status = 500;
    snapshot_unref(ep, s);
}

static void handle_ready(void *ctx, const struct httpd_request *req,
                         struct httpd_response *resp)
{
    struct endpoint *ep = ctx;
    struct snapshot *s = lag_snapshot(ep, resp);
    if (!s)
        return;
    resp->status = ready_eval(
        (const struct kafka_lag_cluster *const *)s->d.lag, s->d.n_lag,
        httpd_query(req, "group"), httpd_query(req, "topic"),
        httpd_query(req, "cluster"), httpd_query(req, "until"), &resp->body);
    snapshot_unref(ep, s);
}

static void ringview_free(struct ringview *rv)
{
    if (!rv)
        return;
    hashring_free(&rv->ring);
    for (size_t i = 0; i < rv->n_shard_by; i++)
        free(rv->shard_by[i]);
    free(rv->shard_by);
    free(rv->agent_name);
    free(rv);
}

static void ringview_unref(struct endpoint *ep, struct ringview *rv)
{
    if (rv && unref(ep, &rv->refs))
        ringview_free(rv);
}

/* The ring of the moment, referenced, or NULL. */
static struct ringview *ringview_get(struct endpoint *ep)
{
    pthread_mutex_lock(&ep->lock);
    struct ringview *rv = ep->ring;
    if (rv)
        rv->refs++;
    pthread_mutex_unlock(&ep->lock);
    return rv;
}

/* GET /api/v1/ring?key=K: the key is normalized as the router does
 * (router_normalize_key; lagwatch(8), RING), then looked up. */
static void handle_ring(void *ctx, const struct httpd_request *req,
                        struct httpd_response *resp)
{
    struct endpoint *ep = ctx;
    const char *key = httpd_query(req, "key");
    resp->content_type = "application/json";
    if (!key) {
        resp->status = 400;
        buf_adds(&resp->body, "{\"error\":\"missing parameter 'key'\"}\n");
        return;
    }
    struct ringview *rv = ringview_get(ep);
    if (!rv) {
        /* InfluxDB is optional (lagwatch.yml(5), SINKS): without it there
         * is no ring to ask, now or until a reload configures one. */
        resp->status = 404;
        buf_adds(&resp->body,
                 "{\"error\":\"no sinks.influxdb ring configured\"}\n");
        return;
    }
    struct buf norm;
    buf_init(&norm, 0);
    router_normalize_key(&norm, key, rv->n_shard_by);
    size_t owners[ROUTER_MAX_REPLICAS];
    unsigned rep =
        rv->replicas > ROUTER_MAX_REPLICAS ? ROUTER_MAX_REPLICAS : rv->replicas;
    size_t n = hashring_lookup(rv->ring, norm.data, norm.len, rep, owners);
    buf_adds(&resp->body, "{\"key\":");
    jsonw_cstr(&resp->body, key);
    buf_adds(&resp->body, ",\"normalized\":");
    jsonw_cstr(&resp->body, norm.data);
    buf_adds(&resp->body, ",\"owners\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_addc(&resp->body, ',');
        jsonw_cstr(&resp->body, hashring_node_name(rv->ring, owners[i]));
    }
    buf_adds(&resp->body, "],\"fingerprint\":");
    jsonw_cstr(&resp->body, rv->fingerprint);
    buf_adds(&resp->body, "}\n");
    buf_release(&norm);
    ringview_unref(ep, rv);
}

/* status_owners_fn over a ringview: the nodes /api/v1/ring names for the
 * shard key. */
static void ring_owners(void *ctx, const char *key, struct buf *out)
{
    struct ringview *rv = ctx;
    struct buf norm;
    buf_init(&norm, 0);
    router_normalize_key(&norm, key, rv->n_shard_by);
    size_t owners[ROUTER_MAX_REPLICAS];
    unsigned rep =
        rv->replicas > ROUTER_MAX_REPLICAS ? ROUTER_MAX_REPLICAS : rv->replicas;
    size_t n = hashring_lookup(rv->ring, norm.data, norm.len, rep, owners);
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_adds(out, ", ");
        buf_adds(out, hashring_node_name(rv->ring, owners[i]));
    }
    buf_release(&norm);
}

static bool wants_json(const struct httpd_request *req)
{
    return req->accept && strstr(req->accept, "application/json") &&
           !strstr(req->accept, "text/html");
}

/* GET / (HTML, or JSON for Accept: application/json) and GET
 * /api/v1/status: the status page of the last cycle (lagwatch(8), STATUS
 * PAGE). */
static void serve_status(struct endpoint *ep, const struct httpd_request *req,
                         struct httpd_response *resp, bool json)
{
    struct snapshot *s = snapshot_get(ep);
    if (!s || !s->d.status) {
        resp->status = 503;
        resp->content_type = "text/plain; charset=utf-8";
        buf_adds(&resp->body, "no cycle has completed yet\n");
        snapshot_unref(ep, s);
        return;
    }
    struct ringview *rv = ringview_get(ep);
    int rc;
    if (json) {
        resp->content_type = "application/json";
        rc = status_json(&resp->body, s->d.status, rv ? ring_owners : NULL, rv);
    } else {
        resp->content_type = "text/html; charset=utf-8";
        rc = status_page_html(&resp->body, s->d.status, httpd_query(req, "job"),
                              rv ? ring_owners : NULL, rv, clock_wall_ms());
    }
    if (rc < 0) {
        log_error("cannot serve the status page: it passes the %zu-byte "
                  "response cap",
                  resp->body.max);
        resp->status = 500;
        resp->content_type = "text/plain; charset=utf-8";
        buf_reset(&resp->body);
        buf_adds(&resp->body, "the status page is too large\n");
    }
    ringview_unref(ep, rv);
    snapshot_unref(ep, s);
}

static void handle_root(void *ctx, const struct httpd_request *req,
                        struct httpd_response *resp)
{
    serve_status(ctx, req, resp, wants_json(req));
}

static void handle_status(void *ctx, const struct httpd_request *req,
                          struct httpd_response *resp)
{
    serve_status(ctx, req, resp, true);
}

static struct ringview *ringview_new(const struct config *cfg, char *err,
                                     size_t errlen)
{
    const struct cfg_influx *ci = &cfg->influx;
    struct hashring *r = ring_config_new(ci, err, errlen);
    if (!r)
        return NULL;
    struct ringview *rv = xcalloc(1, sizeof(*rv));
    rv->ring = r;
    rv->n_shard_by = ci->n_shard_by;
    rv->shard_by = xcalloc(ci->n_shard_by ? ci->n_shard_by : 1, sizeof(char *));
    for (size_t i = 0; i < ci->n_shard_by; i++)
        rv->shard_by[i] = xstrdup(ci->shard_by[i]);
    rv->replicas = ci->replicas;
    rv->agent_name = xstrdup(cfg->agent.name);
    hashring_fingerprint(r, rv->fingerprint);
    rv->refs = 1;
    return rv;
}

int endpoint_set_ring(struct endpoint *ep, const struct config *cfg, char *err,
                      size_t errlen)
{
    /* Without sinks.influxdb there is no ring; a reload that removed it
     * takes the old one away. */
    struct ringview *rv = NULL;
    if (cfg->influx.enabled) {
        rv = ringview_new(cfg, err, errlen);
        if (!rv)
            return -1;
    }
    pthread_mutex_lock(&ep->lock);
    struct ringview *old = ep->ring;
    ep->ring = rv;
    pthread_mutex_unlock(&ep->lock);
    ringview_unref(ep, old);
    return 0;
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

static bool str_differs(const char *a, const char *b)
{
    if (!a || !b)
        return a != b;
    return strcmp(a, b) != 0;
}

bool endpoint_needs_rebuild(const struct cfg_agent *a,
                            const struct cfg_agent *b)
{
    return str_differs(a->listen, b->listen) ||
           a->max_connections != b->max_connections ||
           str_differs(a->tls_cert_file, b->tls_cert_file) ||
           str_differs(a->tls_key_file, b->tls_key_file) ||
           str_differs(a->bearer_token_file, b->bearer_token_file) ||
           str_differs(a->basic_auth_user, b->basic_auth_user) ||
           str_differs(a->basic_auth_password_file,
                       b->basic_auth_password_file) ||
           b->tls_cert_file || b->bearer_token_file ||
           b->basic_auth_password_file;
}

int endpoint_read_auth(const struct cfg_agent *a, char **token, char **password,
                       char *err, size_t errlen)
{
    *token = *password = NULL;
    if (a->bearer_token_file) {
        *token = secret_read_file(a->bearer_token_file, "bearer token file",
                                  true, err, errlen);
        if (!*token)
            return -1;
    }
    if (a->basic_auth_password_file) {
        *password =
            secret_read_file(a->basic_auth_password_file,
                             "basic auth password file", false, err, errlen);
        if (!*password) {
            secret_free(token);
            return -1;
        }
    }
    return 0;
}

struct endpoint *endpoint_new(const struct cfg_agent *a, char *err,
                              size_t errlen)
{
    struct endpoint *ep = xcalloc(1, sizeof(*ep));
    char *token = NULL, *password = NULL;
    pthread_mutex_init(&ep->lock, NULL);
    if (endpoint_read_auth(a, &token, &password, err, errlen) < 0)
        goto fail;
    struct httpd_opts o = {
        .listen = a->listen,
        .max_connections = a->max_connections,
        .bearer_token = token,
        .basic_user = a->basic_auth_user,
        .basic_password = password,
        .tls_cert_file = a->tls_cert_file,
        .tls_key_file = a->tls_key_file,
    };
    /* httpd keeps its own copies of the secrets. */
    ep->httpd = httpd_new(&o, err, errlen);
    secret_free(&token);
    secret_free(&password);
    if (!ep->httpd)
        goto fail;
    if (httpd_route(ep->httpd, "/metrics", handle_metrics, ep) < 0 ||
        httpd_route(ep->httpd, "/healthz", handle_healthz, ep) < 0 ||
        httpd_route(ep->httpd, "/readyz", handle_readyz, ep) < 0 ||
        httpd_route(ep->httpd, "/api/v1/ring", handle_ring, ep) < 0 ||
        httpd_route(ep->httpd, "/api/v1/lag", handle_lag, ep) < 0 ||
        httpd_route(ep->httpd, "/api/v1/ready", handle_ready, ep) < 0 ||
        httpd_route(ep->httpd, "/", handle_root, ep) < 0 ||
        httpd_route(ep->httpd, "/api/v1/status", handle_status, ep) < 0) {
        snprintf(err, errlen, "cannot register the HTTP routes");
        goto fail;
    }
    if (httpd_start(ep->httpd, err, errlen) < 0)
        goto fail;
    return ep;
fail:
    secret_free(&token);
    secret_free(&password);
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
    if (ep->snap)
        snapshot_free(ep->snap);
    ringview_free(ep->ring);
    pthread_mutex_destroy(&ep->lock);
    free(ep);
    *epp = NULL;
}

void endpoint_publish(struct endpoint *ep, struct endpoint_data *d)
{
    struct snapshot *s = xcalloc(1, sizeof(*s));
    s->d = *d;
    memset(d, 0, sizeof(*d));
    s->refs = 1;
    pthread_mutex_init(&s->enc_lock, NULL);
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
