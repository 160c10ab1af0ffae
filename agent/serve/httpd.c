/*
 * httpd: libmicrohttpd glue. See httpd.h for the contract.
 */
#include "serve/httpd.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "util/gzip.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/xalloc.h"

#define HTTPD_MAGIC 0x48545450u /* "HTTP" */

#define DEFAULT_MAX_CONNECTIONS 64
#define DEFAULT_TIMEOUT_S       10
#define DEFAULT_REQUEST_BYTES   (16 * 1024)
#define DEFAULT_RESPONSE_BYTES  (64 * 1024 * 1024)
#define DEFAULT_THREADS         2
/* libmicrohttpd also builds the response header block in the per-connection
 * pool, so a smaller pool starves replies, not just requests. */
#define MIN_REQUEST_BYTES 4096
/* Below this, gzip framing and CPU cost more than the bytes saved. */
#define GZIP_MIN_BYTES       1024
#define DEFAULT_CONTENT_TYPE "text/plain; charset=utf-8"
#define REALM                "lagwatch"

struct route {
    char *path;
    httpd_handler_fn fn;
    void *ctx;
    size_t max_body; /* > 0: POST accepted, its body capped at this */
};

/* A POST body being received (libmicrohttpd's per-request closure); freed
 * by on_completed, also when the client goes away mid-upload. */
struct upload {
    struct buf body;
    bool over; /* passed the route's cap: answered 413 */
};

struct httpd {
    unsigned magic;
    struct MHD_Daemon *mhd;
    int fd; /* our listen socket; libmicrohttpd gets a dup */
    unsigned port;
    char *listen;
    unsigned max_connections;
    unsigned timeout_s;
    size_t max_request_bytes;
    size_t max_response_bytes;
    unsigned threads;
    char *bearer;
    char *user;
    char *password;
    char *tls_cert; /* PEM text, read at httpd_new() */
    char *tls_key;
    struct route *routes;
    size_t nroutes, routes_cap;
};

/* ---- listen address ---------------------------------------------------- */

static int parse_port(const char *s, unsigned *port)
{
    char *end = NULL;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > 65535)
        return -1;
    *port = (unsigned)v;
    return 0;
}

/* Fills ss from "a.b.c.d:port", "[v6]:port" or ":port" (dual-stack any). */
static int parse_listen(const char *spec, struct sockaddr_storage *ss,
                        socklen_t *sslen, char *err, size_t errlen)
{
    char host[64];
    const char *colon;
    const char *hs = spec;
    size_t hlen;
    bool v6 = false;
    unsigned port = 0;

    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':')
            goto bad;
        hs = spec + 1;
        hlen = (size_t)(close - hs);
        colon = close + 1;
        v6 = true;
    } else {
        colon = strrchr(spec, ':');
        if (!colon)
            goto bad;
        hlen = (size_t)(colon - spec);
    }
    if (hlen >= sizeof(host) || parse_port(colon + 1, &port) < 0)
        goto bad;
    memcpy(host, hs, hlen);
    host[hlen] = '\0';

    memset(ss, 0, sizeof(*ss));
    if (hlen == 0 || v6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (hlen == 0)
            a6->sin6_addr = in6addr_any;
        else if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
            goto bad;
        *sslen = sizeof(*a6);
        return 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        goto bad;
    *sslen = sizeof(*a4);
    return 0;
bad:
    snprintf(err, errlen,
             "cannot listen on '%s': want IPv4:port, [IPv6]:port or :port",
             spec);
    return -1;
}

static int open_listener(struct httpd *h, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    int fd = -1;
    int one = 1, zero = 0;

    if (parse_listen(h->listen, &ss, &sslen, err, errlen) < 0)
        return -1;
    bool any6 =
        ss.ss_family == AF_INET6 &&
        IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr);
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 && any6 && errno == EAFNOSUPPORT) {
        /* A host without IPv6: ":port" falls back to every IPv4 address. */
        uint16_t port = ((struct sockaddr_in6 *)&ss)->sin6_port;
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        memset(&ss, 0, sizeof(ss));
        a4->sin_family = AF_INET;
        a4->sin_port = port;
        a4->sin_addr.s_addr = htonl(INADDR_ANY);
        sslen = sizeof(*a4);
        any6 = false;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    }
    if (fd < 0)
        goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    if (any6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
        goto fail;
    if (bind(fd, (struct sockaddr *)&ss, sslen) < 0)
        goto fail;
    if (listen(fd, 128) < 0)
        goto fail;
    sslen = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0)
        goto fail;
    if (ss.ss_family == AF_INET6)
        h->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    else
        h->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    h->fd = fd;
    return 0;
fail:
    snprintf(err, errlen, "cannot listen on '%s': %s", h->listen,
             strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* ---- construction ------------------------------------------------------ */

static char *dup_opt(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

struct httpd *httpd_new(const struct httpd_opts *o, char *err, size_t errlen)
{
    struct httpd *h = xcalloc(1, sizeof(*h));

    h->magic = HTTPD_MAGIC;
    h->fd = -1;
    h->listen = xstrdup(o->listen ? o->listen : "");
    h->max_connections =
        o->max_connections ? o->max_connections : DEFAULT_MAX_CONNECTIONS;
    h->timeout_s =
        o->connection_timeout_s ? o->connection_timeout_s : DEFAULT_TIMEOUT_S;
    h->max_request_bytes =
        o->max_request_bytes ? o->max_request_bytes : DEFAULT_REQUEST_BYTES;
    h->max_response_bytes =
        o->max_response_bytes ? o->max_response_bytes : DEFAULT_RESPONSE_BYTES;
    h->threads = o->threads ? o->threads : DEFAULT_THREADS;
    h->bearer = dup_opt(o->bearer_token);
    h->user = dup_opt(o->basic_user);
    h->password = dup_opt(o->basic_password);

    if (h->max_request_bytes < MIN_REQUEST_BYTES) {
        snprintf(err, errlen, "max_request_bytes %zu is below %d",
                 h->max_request_bytes, MIN_REQUEST_BYTES);
        goto fail;
    }
    if (h->threads > h->max_connections) {
        /* libmicrohttpd splits the connection limit across its threads. */
        snprintf(err, errlen, "threads %u exceed max_connections %u",
                 h->threads, h->max_connections);
        goto fail;
    }
    if (h->bearer && !h->bearer[0]) {
        snprintf(err, errlen, "bearer token is empty");
        goto fail;
    }
    if (!h->user != !h->password) {
        snprintf(err, errlen, "basic auth needs both a user and a password");
        goto fail;
    }
    if (h->user && (!h->user[0] || strchr(h->user, ':'))) {
        snprintf(err, errlen, "basic auth user is empty or contains ':'");
        goto fail;
    }
    if (!o->tls_cert_file != !o->tls_key_file) {
        snprintf(err, errlen, "TLS needs both a certificate and a key file");
        goto fail;
    }
    if (o->tls_cert_file) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            snprintf(err, errlen,
                     "cannot serve HTTPS: libmicrohttpd was "
                     "built without TLS support");
            goto fail;
        }
        h->tls_cert = secret_read_pem(o->tls_cert_file, "TLS certificate file",
                                      SECRET_MAX_PEM_BYTES, err, errlen);
        if (!h->tls_cert)
            goto fail;
        h->tls_key = secret_read_pem(o->tls_key_file, "TLS key file",
                                     SECRET_MAX_PEM_BYTES, err, errlen);
        if (!h->tls_key)
            goto fail;
    }
    if (open_listener(h, err, errlen) < 0)
        goto fail;
    return h;
fail:
    httpd_free(&h);
    return NULL;
}

int httpd_route(struct httpd *h, const char *path, httpd_handler_fn fn,
                void *ctx)
{
    assert(h->magic == HTTPD_MAGIC);
    if (h->mhd)
        return -1;
    for (size_t i = 0; i < h->nroutes; i++)
        if (strcmp(h->routes[i].path, path) == 0)
            return -1;
    h->routes =
        xgrow(h->routes, &h->routes_cap, h->nroutes + 1, sizeof(*h->routes));
    h->routes[h->nroutes].path = xstrdup(path);
    h->routes[h->nroutes].fn = fn;
    h->routes[h->nroutes].ctx = ctx;
    h->routes[h->nroutes].max_body = 0;
    h->nroutes++;
    return 0;
}

int httpd_route_post(struct httpd *h, const char *path, httpd_handler_fn fn,
                     void *ctx, size_t max_body)
{
    if (max_body == 0 || httpd_route(h, path, fn, ctx) < 0)
        return -1;
    h->routes[h->nroutes - 1].max_body = max_body;
    return 0;
}

unsigned httpd_port(const struct httpd *h)
{
    return h->port;
}

void httpd_free(struct httpd **hp)
{
    struct httpd *h = *hp;
    if (!h)
        return;
    assert(h->magic == HTTPD_MAGIC);
    if (h->mhd)
        MHD_stop_daemon(h->mhd); /* joins its threads: no handler runs now */
    if (h->fd >= 0)
        close(h->fd);
    for (size_t i = 0; i < h->nroutes; i++)
        free(h->routes[i].path);
    free(h->routes);
    free(h->listen);
    free(h->bearer);
    free(h->user);
    free(h->password);
    free(h->tls_cert);
    secret_free(&h->tls_key);
    h->magic = 0;
    free(h);
    *hp = NULL;
}

/* ---- request helpers --------------------------------------------------- */

const char *httpd_query(const struct httpd_request *req, const char *key)
{
    const char *v = NULL;
    size_t vlen = 0;
    if (MHD_lookup_connection_value_n(req->conn_, MHD_GET_ARGUMENT_KIND, key,
                                      strlen(key), &v, &vlen) != MHD_YES)
        return NULL;
    return v ? v : "";
}

static bool bad_header_text(const char *s)
{
    return !s || strpbrk(s, "\r\n") != NULL;
}

int httpd_response_header(struct httpd_response *resp, const char *name,
                          const char *value)
{
    static const char *const managed[] = {
        "Content-Length", "Content-Encoding",
        "Content-Type",   "Transfer-Encoding",
        "Vary",           "Connection",
    };
    if (resp->nheaders_ >= HTTPD_MAX_HEADERS || !name[0] ||
        bad_header_text(name) || bad_header_text(value) || strchr(name, ':'))
        return -1;
    for (size_t i = 0; i < sizeof(managed) / sizeof(managed[0]); i++)
        if (strcasecmp(name, managed[i]) == 0)
            return -1;
    resp->hname_[resp->nheaders_] = xstrdup(name);
    resp->hvalue_[resp->nheaders_] = xstrdup(value);
    resp->nheaders_++;
    return 0;
}

/* Compares in time that depends only on the secret's length, so a network
 * peer cannot find the token byte by byte. */
static bool secret_eq(const char *given, size_t glen, const char *secret)
{
    size_t slen = strlen(secret);
    volatile unsigned char diff = glen != slen;
    for (size_t i = 0; i < slen; i++) {
        unsigned char g = i < glen ? (unsigned char)given[i] : 0;
        diff |= g ^ (unsigned char)secret[i];
    }
    return diff == 0;
}

static bool auth_ok(const struct httpd *h, struct MHD_Connection *conn)
{
    if (!h->bearer && !h->user)
        return true;
    if (h->bearer) {
        const char *a =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        if (a && strncasecmp(a, "Bearer ", 7) == 0) {
            const char *t = a + 7;
            while (*t == ' ')
                t++;
            size_t n = strlen(t);
            while (n > 0 && t[n - 1] == ' ')
                n--;
            if (secret_eq(t, n, h->bearer))
                return true;
        }
    }
    if (h->user) {
        char *pass = NULL;
        char *user = MHD_basic_auth_get_username_password(conn, &pass);
        bool ok = false;
        if (user && pass) {
            /* Both compared always, so timing does not tell which failed. */
            bool u = secret_eq(user, strlen(user), h->user);
            bool p = secret_eq(pass, strlen(pass), h->password);
            ok = u & p;
        }
        if (pass) {
            memset(pass, 0, strlen(pass));
            MHD_free(pass);
        }
        if (user)
            MHD_free(user);
        if (ok)
            return true;
    }
    return false;
}

/* True when Accept-Encoding lists gzip (or *) with a non-zero q. */
static bool accepts_gzip(const char *ae)
{
    const char *p = ae;
    if (!ae)
        return false;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *tok = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t tlen = (size_t)(p - tok);
        bool match = (tlen == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
                     (tlen == 6 && strncasecmp(tok, "x-gzip", 6) == 0) ||
                     (tlen == 1 && tok[0] == '*');
        bool zero_q = false;
        while (*p && *p != ',') {
            if ((*p == 'q' || *p == 'Q') && p[1] == '=') {
                char *end = NULL;
                double q = strtod(p + 2, &end);
                zero_q = end != p + 2 && q <= 0.0;
                p = end != p + 2 ? end : p + 2;
                continue;
            }
            p++;
        }
        if (match && !zero_q)
            return true;
    }
    return false;
}

/* Replaces body with its gzip encoding; -1 leaves body as it was. A
 * deflate state per response: requests run on several threads. */
static int gzip_body(struct buf *body)
{
    struct gzip *gz = gzip_new();
    struct buf out = BUF_INIT;
    int rc = -1;
    if (!gz || gzip_encode(gz, body->data, body->len, &out) != 0)
        goto out;
    buf_release(body);
    *body = out;
    out = (struct buf)BUF_INIT;
    rc = 0;
out:
    gzip_free(&gz);
    buf_release(&out);
    return rc;
}

/* ---- the access handler ------------------------------------------------ */

static enum MHD_Result arg_check(void *cls, enum MHD_ValueKind kind,
                                 const char *key, size_t klen,
                                 const char *value, size_t vlen)
{
    bool *bad = cls;
    (void)kind;
    if (klen > HTTPD_MAX_ARG_BYTES || vlen > HTTPD_MAX_ARG_BYTES ||
        memchr(key, '\0', klen) || (value && memchr(value, '\0', vlen))) {
        *bad = true;
        return MHD_NO;
    }
    return MHD_YES;
}

static const struct route *find_route(const struct httpd *h, const char *path)
{
    for (size_t i = 0; i < h->nroutes; i++)
        if (strcmp(h->routes[i].path, path) == 0)
            return &h->routes[i];
    return NULL;
}

static void set_text(struct httpd_response *resp, int status, const char *text)
{
    resp->status = status;
    resp->content_type = DEFAULT_CONTENT_TYPE;
    buf_reset(&resp->body);
    buf_adds(&resp->body, text);
}

/* Builds resp for one request; returns true when the body may be gzipped
 * (a handler's answer, as opposed to our short error texts). */
static bool dispatch(struct httpd *h, struct MHD_Connection *conn,
                     const char *url, const char *method,
                     const struct upload *up, struct httpd_response *resp)
{
    bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    const struct route *prt = find_route(h, url);
    bool post =
        up && prt && prt->max_body && strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    if (!head && !post && strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
        set_text(resp, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
        httpd_response_header(resp, "Allow",
                              prt && prt->max_body ? "GET, HEAD, POST"
                                                   : "GET, HEAD");
        return false;
    }
    if (!auth_ok(h, conn)) {
        set_text(resp, MHD_HTTP_UNAUTHORIZED, "unauthorized\n");
        if (h->bearer)
            httpd_response_header(resp, "WWW-Authenticate",
                                  "Bearer realm=\"" REALM "\"");
        if (h->user)
            httpd_response_header(resp, "WWW-Authenticate",
                                  "Basic realm=\"" REALM
                                  "\", charset=\"UTF-8\"");
        return false;
    }
    const struct route *rt = find_route(h, url);
    if (!rt) {
        set_text(resp, MHD_HTTP_NOT_FOUND, "not found\n");
        return false;
    }
    bool bad_arg = false;
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, arg_check,
                                &bad_arg);
    if (bad_arg) {
        set_text(resp, MHD_HTTP_BAD_REQUEST, "bad query argument\n");
        return false;
    }
    if (post && up->over) {
        char msg[96];
        snprintf(msg, sizeof(msg), "request body larger than %zu bytes\n",
                 rt->max_body);
        set_text(resp, MHD_HTTP_CONTENT_TOO_LARGE, msg);
        return false;
    }
    struct httpd_request req = {
        .method = method,
        .path = url,
        .accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                              MHD_HTTP_HEADER_ACCEPT),
        .accept_encoding = MHD_lookup_connection_value(
            conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING),
        .head = head,
        .body = post ? up->body.data : NULL,
        .body_len = post ? up->body.len : 0,
        .content_type = MHD_lookup_connection_value(
            conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .content_encoding = MHD_lookup_connection_value(
            conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING),
        .conn_ = conn,
    };
    rt->fn(rt->ctx, &req, resp);
    if (buf_error(&resp->body)) {
        log_warn("cannot answer '%.200s': response larger than %zu bytes", url,
                 h->max_response_bytes);
        for (size_t i = 0; i < resp->nheaders_; i++) {
            free(resp->hname_[i]);
            free(resp->hvalue_[i]);
        }
        resp->nheaders_ = 0;
        resp->body.max = 0;
        set_text(resp, MHD_HTTP_INTERNAL_SERVER_ERROR, "response too large\n");
        return false;
    }
    if (resp->status < 100 || resp->status > 599)
        resp->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    if (!resp->content_type)
        resp->content_type = DEFAULT_CONTENT_TYPE;
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    struct httpd *h = cls;
    struct httpd_response resp = {
        .status = MHD_HTTP_OK,
        .content_type = DEFAULT_CONTENT_TYPE,
    };
    struct MHD_Response *mr = NULL;
    enum MHD_Result ret = MHD_NO;
    bool gzipped = false;

    assert(h->magic == HTTPD_MAGIC);
    (void)version;
    /* A POST to a route that takes one: libmicrohttpd calls back once
     * with no data, then per received chunk, then once more; the body is
     * kept (up to the route's cap) and the handler runs on the last call. */
    struct upload *up = *req_cls;
    if (!up && strcmp(method, MHD_HTTP_METHOD_POST) == 0) {
        const struct route *rt = find_route(h, url);
        if (rt && rt->max_body) {
            up = xcalloc(1, sizeof(*up));
            buf_init(&up->body, rt->max_body + 1);
            *req_cls = up;
            return MHD_YES;
        }
    }
    if (up && *upload_size) {
        if (!up->over && (buf_add(&up->body, upload, *upload_size) < 0 ||
                          up->body.len + 1 > up->body.max))
            up->over = true;
        *upload_size = 0;
        return MHD_YES;
    }
    if (up && !up->over)
        buf_addc(&up->body, '\0'); /* NUL-terminated for the handler */
    if (up && !up->over)
        up->body.len--;
    buf_init(&resp.body, h->max_response_bytes);

    bool may_gzip = dispatch(h, conn, url, method, up, &resp);
    if (may_gzip) {
        const char *ae = MHD_lookup_connection_value(
            conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
        if (resp.body.len > GZIP_MIN_BYTES && accepts_gzip(ae))
            gzipped = gzip_body(&resp.body) == 0;
    }

    size_t len = 0;
    char *data = buf_detach(&resp.body, &len);
    mr = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!mr) {
        free(data);
        goto out;
    }
    if (MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp.content_type) != MHD_YES)
        goto out;
    if (may_gzip && MHD_add_response_header(mr, MHD_HTTP_HEADER_VARY,
                                            "Accept-Encoding") != MHD_YES)
        goto out;
    if (gzipped && MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_ENCODING,
                                           "gzip") != MHD_YES)
        goto out;
    for (size_t i = 0; i < resp.nheaders_; i++)
        if (MHD_add_response_header(mr, resp.hname_[i], resp.hvalue_[i]) !=
            MHD_YES)
            goto out;
    ret = MHD_queue_response(conn, (unsigned)resp.status, mr);
    if (resp.status >= 400)
        log_debug("http request failed: method=%s path='%.200s' status=%d",
                  method, url, resp.status);
out:
    if (mr)
        MHD_destroy_response(mr);
    for (size_t i = 0; i < resp.nheaders_; i++) {
        free(resp.hname_[i]);
        free(resp.hvalue_[i]);
    }
    buf_release(&resp.body);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct upload *up = *req_cls;
    if (up) {
        buf_release(&up->body);
        free(up);
        *req_cls = NULL;
    }
}

/* libmicrohttpd's own complaints (timeouts, resets, oversized requests) are
 * about single clients: debug level, one line each. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    (void)cls;
    if (!log_enabled(LOG_LVL_DEBUG))
        return;
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_debug("libmicrohttpd: %s", line);
}

int httpd_start(struct httpd *h, char *err, size_t errlen)
{
    struct MHD_OptionItem opts[16];
    size_t n = 0;
    /* ITC lets MHD_stop_daemon() wake its polling threads at once: on a
     * listen socket it was handed, it cannot wake them otherwise, and a
     * stop (every reload that rebuilds the endpoint) then waited for the
     * poll timeout, the 10 s connection timeout. */
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    int fd = -1;

    assert(h->magic == HTTPD_MAGIC);
    if (h->mhd) {
        snprintf(err, errlen, "cannot start server on '%s': already started",
                 h->listen);
        return -1;
    }
    /* epoll keeps idle and slow clients off the worker threads. */
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL;
    else
        flags |= MHD_USE_POLL;
    /* libmicrohttpd closes the socket it is given when it stops; it gets a
     * duplicate so that ours stays valid for httpd_port() and is closed
     * exactly once. Should the start fail, the duplicate may leak: the
     * caller is about to exit then. */
    fd = fcntl(h->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot start server on '%s': %s", h->listen,
                 strerror(errno));
        return -1;
    }

#define OPT(o, v, p) opts[n++] = (struct MHD_OptionItem){(o), (v), (p)}
    OPT(MHD_OPTION_LISTEN_SOCKET, fd, NULL);
    OPT(MHD_OPTION_CONNECTION_LIMIT, (intptr_t)h->max_connections, NULL);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)h->timeout_s, NULL);
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)h->max_request_bytes,
        NULL);
    if (h->threads > 1)
        OPT(MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)h->threads, NULL);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL);
    if (h->tls_cert) {
        flags |= MHD_USE_TLS;
        OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert);
        OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key);
    }
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
    assert(n <= sizeof(opts) / sizeof(opts[0]));

    /* The logger goes first so that start-up complaints reach it. */
    h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                              MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
                              MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!h->mhd) {
        snprintf(err, errlen,
                 "cannot start server on '%s': libmicrohttpd refused the "
                 "options (see debug log)",
                 h->listen);
        return -1;
    }
    return 0;
}
