/*
 * httpd_test: drives agent/serve/httpd.c over loopback with libcurl and raw
 * sockets, on a port chosen by the kernel.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "util/buf.h"
#include "serve/httpd.h"
#include "tests/lib/tap.h"
#include "tests/lib/testutil.h"

/* ---- handlers ---------------------------------------------------------- */

static void h_hello(void *ctx, const struct httpd_request *req,
                    struct httpd_response *resp)
{
    const char *name = httpd_query(req, "name");
    const char *x = httpd_query(req, "x");
    (void)ctx;
    buf_addf(&resp->body, "name=%s\nx=%s\n", name ? name : "(none)",
             x ? x : "(none)");
}

/* Repetitive text like an exposition, long enough to be gzipped. */
static void h_big(void *ctx, const struct httpd_request *req,
                  struct httpd_response *resp)
{
    (void)ctx;
    (void)req;
    for (int i = 0; i < 200; i++)
        buf_addf(&resp->body, "flink_taskmanager_rows{job=\"j\",i=\"%d\"} %d\n",
                 i, i * 7);
}

static void h_early(void *ctx, const struct httpd_request *req,
                    struct httpd_response *resp)
{
    (void)ctx;
    (void)req;
    resp->status = 425;
    resp->content_type = "application/json";
    buf_adds(&resp->body, "{\"ready\":false}");
    httpd_response_header(resp, "X-Consumed-Through", "1763600000");
}

/* Echoes a POST body: its length, Content-Type and text. */
static void h_echo(void *ctx, const struct httpd_request *req,
                   struct httpd_response *resp)
{
    (void)ctx;
    buf_addf(&resp->body, "%s %zu %s %s", req->method, req->body_len,
             req->content_type ? req->content_type : "-",
             req->body ? req->body : "(none)");
}

/* ---- client helpers ---------------------------------------------------- */

struct reply {
    long status;
    struct buf body;
    struct buf headers;
    double seconds;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    buf_add(ud, p, size * n);
    return size * n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* method: "GET", "HEAD", "POST" or any custom; hdr: one extra header line or
 * NULL; userpwd: "user:pass" for basic auth or NULL; cainfo: the CA file
 * that must verify an https server, or NULL. Returns the curl code. */
static int fetch_url(const char *url, const char *cainfo, const char *method,
                     const char *hdr, const char *userpwd, struct reply *r)
{
    struct curl_slist *hl = NULL;
    CURL *c = curl_easy_init();

    buf_init(&r->body, 0);
    buf_init(&r->headers, 0);
    r->status = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (cainfo)
        curl_easy_setopt(c, CURLOPT_CAINFO, cainfo);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "a=1");
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (hdr) {
        hl = curl_slist_append(hl, hdr);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    }
    if (userpwd) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    }
    double t0 = now_s();
    CURLcode rc = curl_easy_perform(c);
    r->seconds = now_s() - t0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return (int)rc;
}

static int fetch(unsigned port, const char *method, const char *path,
                 const char *hdr, const char *userpwd, struct reply *r)
{
    char url[8192];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    return fetch_url(url, NULL, method, hdr, userpwd, r);
}

static void reply_release(struct reply *r)
{
    buf_release(&r->body);
    buf_release(&r->headers);
}

/* The value of response header name (first one), copied into out. */
static const char *header(const struct reply *r, const char *name, char *out,
                          size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = r->headers.data;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            break;
        if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (*v == ' ')
                v++;
            snprintf(out, outlen, "%.*s", (int)(eol - v), v);
            return out;
        }
        p = eol + 2;
    }
    return NULL;
}

static size_t count_header(const struct reply *r, const char *name)
{
    size_t n = 0, nlen = strlen(name);
    const char *p = r->headers.data;
    while (*p) {
        if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':')
            n++;
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            break;
        p = eol + 2;
    }
    return n;
}

static int raw_connect(unsigned port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads until EOF or timeout into out; returns 0 on EOF, -1 on timeout. */
static int read_to_eof(int fd, struct buf *out, int timeout_ms)
{
    char chunk[4096];
    double deadline = now_s() + timeout_ms / 1000.0;
    for (;;) {
        int left = (int)((deadline - now_s()) * 1000);
        if (left <= 0)
            return -1;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, left) <= 0)
            return -1;
        ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0)
            return 0; /* EOF or reset: the server closed it */
        buf_add(out, chunk, (size_t)n);
    }
}

/* A server with the test routes, or NULL (err printed). */
static struct httpd *serve(struct httpd_opts *o)
{
    char err[256] = "";
    if (!o->listen)
        o->listen = "127.0.0.1:0";
    struct httpd *h = httpd_new(o, err, sizeof(err));
    if (!h) {
        printf("# httpd_new: %s\n", err);
        return NULL;
    }
    if (httpd_route(h, "/hello", h_hello, NULL) < 0 ||
        httpd_route(h, "/big", h_big, NULL) < 0 ||
        httpd_route(h, "/api/v1/ready", h_early, NULL) < 0 ||
        httpd_route_post(h, "/echo", h_echo, NULL, 64) < 0 ||
        httpd_start(h, err, sizeof(err)) < 0) {
        printf("# httpd start: %s\n", err);
        httpd_free(&h);
    }
    return h;
}

/* ---- cases ------------------------------------------------------------- */

TAP_CASE(query_arguments_are_decoded)
{
    static const struct {
        const char *path;
        const char *want;
    } cases[] = {
        {"/hello", "name=(none)\nx=(none)\n"},
        {"/hello?name=a%20b%26c&x=%E2%9C%93", "name=a b&c\nx=\xe2\x9c\x93\n"},
        {"/hello?name=+plus+", "name= plus \nx=(none)\n"},
        {"/hello?name=&x=1", "name=\nx=1\n"},
        {"/hello?name", "name=\nx=(none)\n"},
        {"/hello?name=first&name=second", "name=first\nx=(none)\n"},
        {"/hello?x=%2Fa%3Db", "name=(none)\nx=/a=b\n"},
    };
    struct httpd_opts o = {0};
    struct httpd *h = serve(&o);
    TAP_OK(h != NULL);
    for (size_t i = 0; i < TAP_N(cases); i++) {
        struct reply r;
        int rc = fetch(httpd_port(h), "GET", cases[i].path, NULL, NULL, &r);
        bool ok = rc == 0 && r.status == 200 &&
                  strcmp(r.body.data, cases[i].want) == 0;
        if (!ok)
            printf("# %s: rc %d status %ld body '%s'\n", cases[i].path, rc,
                   r.status, r.body.data);
        reply_release(&r);
        if (!ok) {
            httpd_free(&h);
            TAP_OK(ok);
        }
    }
    httpd_free(&h);
    TAP_OK(h == NULL);
}

TAP_CASE(long_or_nul_argument_is_400)
{
    static char path[6000];
    struct httpd_opts o = {0}; /* default 16 KiB request cap */
    struct httpd *h = serve(&o);
    struct reply r;
    long st[3];
    TAP_OK(h != NULL);

    memcpy(path, "/hello?name=", 12);
    memset(path + 12, 'a', HTTPD_MAX_ARG_BYTES);
    path[12 + HTTPD_MAX_ARG_BYTES] = '\0';
    fetch(httpd_port(h), "GET", path, NULL, NULL, &r);
    st[0] = r.status;
    reply_release(&r);
    memcpy(path + 12 + HTTPD_MAX_ARG_BYTES, "a", 2);
    fetch(httpd_port(h), "GET", path, NULL, NULL, &r);
    st[1] = r.status;
    reply_release(&r);
    fetch(httpd_port(h), "GET", "/hello?name=a%00b", NULL, NULL, &r);
    st[2] = r.status;
    reply_release(&r);
    httpd_free(&h);
    TAP_EQ_INT(200, st[0]);
    TAP_EQ_INT(400, st[1]);
    TAP_EQ_INT(400, st[2]);
}

TAP_CASE(unknown_path_is_404)
{
    struct httpd_opts o = {0};
    struct httpd *h = serve(&o);
    struct reply r;
    TAP_OK(h != NULL);
    int rc = fetch(httpd_port(h), "GET", "/hello/", NULL, NULL, &r);
    long st = r.status;
    bool body_ok = strcmp(r.body.data, "not found\n") == 0;
    reply_release(&r);
    httpd_free(&h);
    TAP_EQ_INT(0, rc);
    TAP_EQ_INT(404, st);
    TAP_OK(body_ok);
}

TAP_CASE(other_methods_are_405)
{
    static const char *const methods[] = {"POST", "PUT", "DELETE", "PATCH",
                                          "OPTIONS"};
    struct httpd_opts o = {0};
    struct httpd *h = serve(&o);
    TAP_OK(h != NULL);
    for (size_t i = 0; i < TAP_N(methods); i++) {
        struct reply r;
        char allow[64];
        fetch(httpd_port(h), methods[i], "/hello", NULL, NULL, &r);
        const char *a = header(&r, "Allow", allow, sizeof(allow));
        bool ok = r.status == 405 && a && strcmp(a, "GET, HEAD") == 0 &&
                  strcmp(r.body.data, "method not allowed\n") == 0;
        if (!ok)
            printf("# %s: status %ld allow %s\n", methods[i], r.status,
                   a ? a : "(none)");
        reply_release(&r);
        if (!ok) {
            httpd_free(&h);
            TAP_OK(ok);
        }
    }
    httpd_free(&h);
}

/* A route registered with httpd_route_post takes POST bodies up to its
 * cap (413 beyond, the handler not called), and still GET. */
TAP_CASE(post_routes_take_bodies)
{
    struct httpd_opts o = {0};
    struct httpd *h = serve(&o);
    TAP_OK(h != NULL);
    if (!h)
        return;
    struct reply r;
    fetch(httpd_port(h), "POST", "/echo", NULL, NULL, &r);
    TAP_EQ_INT(200, (int)r.status);
    TAP_EQ_STR("POST 3 application/x-www-form-urlencoded a=1", r.body.data);
    reply_release(&r);
    fetch(httpd_port(h), "GET", "/echo", NULL, NULL, &r);
    TAP_EQ_STR("GET 0 - (none)", r.body.data);
    reply_release(&r);
    /* 65 bytes: one over */
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", httpd_port(h));
    CURL *c = curl_easy_init();
    char big[66];
    memset(big, 'x', 65);
    big[65] = '\0';
    struct buf body;
    buf_init(&body, 0);
    long status = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, big);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    TAP_EQ_INT(413, (int)status);
    TAP_OK(strstr(body.data, "larger than 64 bytes") != NULL);
    buf_release(&body);
    /* a GET-only route still refuses POST */
    char allow[64];
    fetch(httpd_port(h), "POST", "/hello", NULL, NULL, &r);
    TAP_EQ_INT(405, (int)r.status);
    reply_release(&r);
    fetch(httpd_port(h), "PUT", "/echo", NULL, NULL, &r);
    const char *a = header(&r, "Allow", allow, sizeof(allow));
    TAP_EQ_STR("GET, HEAD, POST", a ? a : "(none)");
    reply_release(&r);
    httpd_free(&h);
}

TAP_CASE(head_has_headers_and_no_body)
{
    struct httpd_opts o = {0};
    struct httpd *h = serve(&o);
    struct reply g, hd;
    char cl[32], ct[64];
    TAP_OK(h != NULL);
    fetch(httpd_port(h), "GET", "/big", NULL, NULL, &g);
    int rc = fetch(httpd_port(h), "HEAD", "/big", NULL, NULL, &hd);
    httpd_free(&h);
    size_t glen = g.body.len;
    const char *l = header(&hd, "Content-Length", cl, sizeof(cl));
    const char *t = header(&hd, "Content-Type", ct, sizeof(ct));
    size_t hlen = hd.body.len;
    long st = hd.status;
    reply_release(&g);
    reply_release(&hd);
    TAP_EQ_INT(0, rc);
    TAP_EQ_INT(200, st);
    TAP_OK(glen > 1024);
    TAP_EQ_INT(0, hlen);
    TAP_OK(l != NULL);
    TAP_EQ_INT(glen, strtoul(l, NULL, 10));
    TAP_EQ_STR("text/plain; charset=utf-8", t);
}

TAP_CASE(gzip_is_negotiated)
{
    static const struct {
        const char *path;
        const char *accept_encoding; /* NULL: no header */
        bool want_gzip;
    } cases[] = {
        {"/big", NULL, false},
        {"/big", "Accept-Encoding: gzip", true},
        {"/big", "Accept-Encoding: deflate, gzip;q=0.5", true},
        {"/big", "Accept-Encoding: GZIP", true},
        {"/big", "Accept-Encoding: *", true},
        {"/big", "Accept-Encoding: gzip;q=0", false},
        {"/big", "Accept-Encoding: gzip; q=0.000, br", false},
        {"/big", "Accept-Encoding: identity", false},
        {"/big", "Accept-Encoding: gzipped", false},
        {"/hello", "Accept-Encoding: gzip", false}, /* under 1 KiB */
    };
    struct httpd_opts o = {0};
    struct httpd *h = serve(&o);
    struct reply plain;
    TAP_OK(h != NULL);
    fetch(httpd_port(h), "GET", "/big", NULL, NULL, &plain);
    for (size_t i = 0; i < TAP_N(cases); i++) {
        struct reply r;
        struct buf dec = BUF_INIT;
        char ce[32], vary[64];
        fetch(httpd_port(h), "GET", cases[i].path, cases[i].accept_encoding,
              NULL, &r);
        const char *e = header(&r, "Content-Encoding", ce, sizeof(ce));
        const char *v = header(&r, "Vary", vary, sizeof(vary));
        bool gz = e && strcmp(e, "gzip") == 0;
        bool ok = r.status == 200 && gz == cases[i].want_gzip && v &&
                  strcmp(v, "Accept-Encoding") == 0;
        if (ok && gz)
            ok = tu_gunzip(&r.body, &dec) == 0 && dec.len == plain.body.len &&
                 memcmp(dec.data, plain.body.data, dec.len) == 0 &&
                 r.body.len < plain.body.len / 2;
        else if (ok && strcmp(cases[i].path, "/big") == 0)
            ok = strcmp(r.body.data, plain.body.data) == 0;
        if (!ok)
            printf("# case %zu: status %ld encoding %s len %zu\n", i, r.status,
                   e ? e : "(none)", r.body.len);
        buf_release(&dec);
        reply_release(&r);
        if (!ok) {
            reply_release(&plain);
            httpd_free(&h);
            TAP_OK(ok);
        }
    }
    reply_release(&plain);
    httpd_free(&h);
}

TAP_CASE(handler_sets_status_and_headers)
{
    struct httpd_opts o = {0};
    struct httpd *h = serve(&o);
    struct reply r;
    char xc[32], ct[64];
    TAP_OK(h != NULL);
    fetch(httpd_port(h), "GET", "/api/v1/ready?group=g", NULL, NULL, &r);
    httpd_free(&h);
    long st = r.status;
    bool body_ok = strcmp(r.body.data, "{\"ready\":false}") == 0;
    const char *x = header(&r, "X-Consumed-Through", xc, sizeof(xc));
    const char *t = header(&r, "Content-Type", ct, sizeof(ct));
    reply_release(&r);
    TAP_EQ_INT(425, st);
    TAP_OK(body_ok);
    TAP_EQ_STR("1763600000", x);
    TAP_EQ_STR("application/json", t);
}

TAP_CASE(response_header_rules)
{
    struct httpd_response resp = {0};
    static const struct {
        const char *name, *value;
        int want;
    } cases[] = {
        {"X-A", "1", 0},
        {"X-Bad", "a\r\nSet-Cookie: x", -1},
        {"X-B\n", "1", -1},
        {"content-length", "5", -1},
        {"Content-Encoding", "gzip", -1},
        {"", "1", -1},
        {"X-B", "2", 0},
        {"X-C", "3", 0},
        {"X-D", "4", 0},
        {"X-E", "5", -1}, /* over HTTPD_MAX_HEADERS */
    };
    int got[TAP_N(cases)];
    for (size_t i = 0; i < TAP_N(cases); i++)
        got[i] = httpd_response_header(&resp, cases[i].name, cases[i].value);
    size_t n = resp.nheaders_;
    for (size_t i = 0; i < resp.nheaders_; i++) {
        free(resp.hname_[i]);
        free(resp.hvalue_[i]);
    }
    for (size_t i = 0; i < TAP_N(cases); i++)
        TAP_EQ_INT(cases[i].want, got[i]);
    TAP_EQ_INT(HTTPD_MAX_HEADERS, n);
}

TAP_CASE(oversized_body_is_500)
{
    struct httpd_opts o = {.max_response_bytes = 100};
    struct httpd *h = serve(&o);
    struct reply r, small;
    TAP_OK(h != NULL);
    fetch(httpd_port(h), "GET", "/big", NULL, NULL, &r);
    fetch(httpd_port(h), "GET", "/hello", NULL, NULL, &small);
    httpd_free(&h);
    long st = r.status, st_small = small.status;
    bool body_ok = strcmp(r.body.data, "response too large\n") == 0;
    reply_release(&r);
    reply_release(&small);
    TAP_EQ_INT(500, st);
    TAP_OK(body_ok);
    TAP_EQ_INT(200, st_small);
}

TAP_CASE(bearer_auth)
{
    static const struct {
        const char *hdr;
        long want;
    } cases[] = {
        {NULL, 401},
        {"Authorization: Bearer s3cret-token", 200},
        {"Authorization: bearer s3cret-token", 200},
        {"Authorization: Bearer s3cret-toke", 401},
        {"Authorization: Bearer s3cret-token2", 401},
        {"Authorization: Bearer S3cret-token", 401},
        {"Authorization: Bearer ", 401},
        {"Authorization: Basic czNjcmV0LXRva2Vu", 401},
    };
    struct httpd_opts o = {.bearer_token = "s3cret-token"};
    struct httpd *h = serve(&o);
    TAP_OK(h != NULL);
    for (size_t i = 0; i < TAP_N(cases); i++) {
        struct reply r;
        char wa[64];
        fetch(httpd_port(h), "GET", "/hello", cases[i].hdr, NULL, &r);
        const char *w = header(&r, "WWW-Authenticate", wa, sizeof(wa));
        bool ok = r.status == cases[i].want;
        if (ok && r.status == 401)
            ok = w && strcmp(w, "Bearer realm=\"lagwatch\"") == 0;
        if (!ok)
            printf("# case %zu: status %ld www-authenticate %s\n", i, r.status,
                   w ? w : "(none)");
        reply_release(&r);
        if (!ok) {
            httpd_free(&h);
            TAP_OK(ok);
        }
    }
    httpd_free(&h);
}

TAP_CASE(basic_auth)
{
    static const struct {
        const char *userpwd; /* NULL: no credentials */
        long want;
    } cases[] = {
        {NULL, 401},         {"prom:pa:ss", 200}, {"prom:pa:s", 401},
        {"Prom:pa:ss", 401}, {"prom:", 401},      {"prom2:pa:ss", 401},
    };
    struct httpd_opts o = {.basic_user = "prom", .basic_password = "pa:ss"};
    struct httpd *h = serve(&o);
    TAP_OK(h != NULL);
    for (size_t i = 0; i < TAP_N(cases); i++) {
        struct reply r;
        fetch(httpd_port(h), "GET", "/hello", NULL, cases[i].userpwd, &r);
        bool ok = r.status == cases[i].want;
        if (ok && r.status == 401)
            ok = count_header(&r, "WWW-Authenticate") == 1 &&
                 strstr(r.headers.data, "Basic realm=\"lagwatch\"");
        if (!ok)
            printf("# case %zu: status %ld\n", i, r.status);
        reply_release(&r);
        if (!ok) {
            httpd_free(&h);
            TAP_OK(ok);
        }
    }
    httpd_free(&h);
}

TAP_CASE(bearer_or_basic_both_offered)
{
    struct httpd_opts o = {
        .bearer_token = "t", .basic_user = "u", .basic_password = "p"};
    struct httpd *h = serve(&o);
    struct reply a, b, c;
    TAP_OK(h != NULL);
    fetch(httpd_port(h), "GET", "/hello", NULL, NULL, &a);
    fetch(httpd_port(h), "GET", "/hello", "Authorization: Bearer t", NULL, &b);
    fetch(httpd_port(h), "GET", "/hello", NULL, "u:p", &c);
    httpd_free(&h);
    long sa = a.status, sb = b.status, sc = c.status;
    size_t nwa = count_header(&a, "WWW-Authenticate");
    reply_release(&a);
    reply_release(&b);
    reply_release(&c);
    TAP_EQ_INT(401, sa);
    TAP_EQ_INT(2, nwa);
    TAP_EQ_INT(200, sb);
    TAP_EQ_INT(200, sc);
}

/*
 * With max_connections idle sockets held open, the server is full: a new
 * request waits in the listen backlog. The idle sockets are closed after
 * connection_timeout_s, and then the waiting request is served.
 */
TAP_CASE(idle_connections_time_out)
{
    enum { N = 2 };
    struct httpd_opts o = {
        .max_connections = N, .connection_timeout_s = 1, .threads = 1};
    struct httpd *h = serve(&o);
    int fds[N];
    int closed = 0;
    TAP_OK(h != NULL);
    for (int i = 0; i < N; i++)
        fds[i] = raw_connect(httpd_port(h));
    double t0 = now_s();
    struct reply r;
    int rc = fetch(httpd_port(h), "GET", "/hello", NULL, NULL, &r);
    long st = r.status;
    double waited = r.seconds;
    reply_release(&r);
    for (int i = 0; i < N; i++) {
        struct buf junk = BUF_INIT;
        if (fds[i] >= 0 && read_to_eof(fds[i], &junk, 3000) == 0)
            closed++;
        buf_release(&junk);
        if (fds[i] >= 0)
            close(fds[i]);
    }
    double total = now_s() - t0;
    httpd_free(&h);
    printf("# request waited %.2fs; idle sockets closed after %.2fs\n", waited,
           total);
    TAP_EQ_INT(0, rc);
    TAP_EQ_INT(200, st);
    TAP_EQ_INT(N, closed);
    TAP_OK(waited >= 0.5); /* it really was held back by the limit */
    TAP_OK(total < 4.0);
}

TAP_CASE(slow_client_does_not_block_others)
{
    struct httpd_opts o = {.threads = 1, .connection_timeout_s = 10};
    struct httpd *h = serve(&o);
    TAP_OK(h != NULL);
    int fd = raw_connect(httpd_port(h));
    const char half[] = "GET /hel";
    ssize_t sent = fd >= 0 ? send(fd, half, strlen(half), MSG_NOSIGNAL) : -1;
    struct reply r;
    int rc = fetch(httpd_port(h), "GET", "/hello?name=fast", NULL, NULL, &r);
    long st = r.status;
    double secs = r.seconds;
    reply_release(&r);
    if (fd >= 0)
        close(fd);
    httpd_free(&h);
    printf("# concurrent request took %.3fs\n", secs);
    TAP_EQ_INT((ssize_t)strlen(half), sent);
    TAP_EQ_INT(0, rc);
    TAP_EQ_INT(200, st);
    TAP_OK(secs < 1.0);
}

TAP_CASE(oversized_request_is_refused)
{
    static char req[70 * 1024];
    struct httpd_opts o = {0};
    struct httpd *h = serve(&o);
    struct buf in = BUF_INIT;
    TAP_OK(h != NULL);
    int fd = raw_connect(httpd_port(h));
    int n =
        snprintf(req, sizeof(req), "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + n, 'b', 64 * 1024);
    n += 64 * 1024;
    memcpy(req + n, "\r\n\r\n", 4);
    n += 4;
    size_t off = 0;
    while (fd >= 0 && off < (size_t)n) {
        ssize_t w = send(fd, req + off, (size_t)n - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may close while we still write */
        off += (size_t)w;
    }
    int eof = fd >= 0 ? read_to_eof(fd, &in, 3000) : -1;
    if (fd >= 0)
        close(fd);
    httpd_free(&h);
    printf("# sent %zu of %d bytes; reply '%.40s'\n", off, n, in.data);
    bool got_200 = strncmp(in.data, "HTTP/1.1 200", 12) == 0;
    bool got_error = strncmp(in.data, "HTTP/1.1 4", 10) == 0 || in.len == 0;
    buf_release(&in);
    TAP_OK(fd >= 0);
    TAP_EQ_INT(0, eof); /* the server closed the connection */
    TAP_OK(!got_200);
    TAP_OK(got_error);
}

TAP_CASE(listen_errors)
{
    static const struct {
        const char *listen;
        const char *want; /* NULL: must succeed */
    } cases[] = {
        {"localhost:9743", "cannot listen on 'localhost:9743': want "
                           "IPv4:port, [IPv6]:port or :port"},
        {"127.0.0.1", "cannot listen on '127.0.0.1': want IPv4:port, "
                      "[IPv6]:port or :port"},
        {"127.0.0.1:65536", "cannot listen on '127.0.0.1:65536': want "
                            "IPv4:port, [IPv6]:port or :port"},
        {"127.0.0.1:-1", "cannot listen on '127.0.0.1:-1': want IPv4:port, "
                         "[IPv6]:port or :port"},
        {"[::1:0", "cannot listen on '[::1:0': want IPv4:port, [IPv6]:port "
                   "or :port"},
        {"192.0.2.1:0", "cannot listen on '192.0.2.1:0': Cannot assign "
                        "requested address"},
        {"127.0.0.1:0", NULL},
        {":0", NULL},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        char err[256] = "";
        struct httpd_opts o = {.listen = cases[i].listen};
        struct httpd *h = httpd_new(&o, err, sizeof(err));
        bool ok = cases[i].want ? !h && strcmp(err, cases[i].want) == 0
                                : h && httpd_port(h) > 0;
        if (!ok)
            printf("# %s: got '%s'\n", cases[i].listen, err);
        httpd_free(&h);
        TAP_OK(ok);
    }
}

TAP_CASE(port_in_use_is_reported)
{
    char err[256] = "", want[256], spec[64];
    struct httpd_opts o = {0};
    struct httpd *h = serve(&o);
    TAP_OK(h != NULL);
    snprintf(spec, sizeof(spec), "127.0.0.1:%u", httpd_port(h));
    struct httpd_opts o2 = {.listen = spec};
    struct httpd *h2 = httpd_new(&o2, err, sizeof(err));
    bool refused = h2 == NULL;
    httpd_free(&h2);
    httpd_free(&h);
    snprintf(want, sizeof(want),
             "cannot listen on '%s': Address already in use", spec);
    TAP_OK(refused);
    TAP_EQ_STR(want, err);
}

TAP_CASE(bad_options_are_rejected)
{
    static const struct {
        struct httpd_opts o;
        const char *want;
    } cases[] = {
        {{.listen = ":0", .basic_user = "u"},
         "basic auth needs both a user and a password"},
        {{.listen = ":0", .basic_user = "a:b", .basic_password = "p"},
         "basic auth user is empty or contains ':'"},
        {{.listen = ":0", .bearer_token = ""}, "bearer token is empty"},
        {{.listen = ":0", .tls_cert_file = "/nonexistent/c.pem"},
         "TLS needs both a certificate and a key file"},
        {{.listen = ":0",
          .tls_cert_file = "/nonexistent/c.pem",
          .tls_key_file = "/nonexistent/k.pem"},
         "cannot read TLS certificate file '/nonexistent/c.pem': No such "
         "file or directory"},
        {{.listen = ":0", .max_request_bytes = 100},
         "max_request_bytes 100 is below 4096"},
        {{.listen = ":0", .max_connections = 2, .threads = 4},
         "threads 4 exceed max_connections 2"},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        char err[256] = "";
        struct httpd *h = httpd_new(&cases[i].o, err, sizeof(err));
        bool ok = !h;
        httpd_free(&h);
        TAP_OK(ok);
        TAP_EQ_STR(cases[i].want, err);
    }
}

TAP_CASE(routes_are_fixed_once_started)
{
    struct httpd_opts o = {0};
    struct httpd *h = serve(&o);
    TAP_OK(h != NULL);
    int late = httpd_route(h, "/late", h_hello, NULL);
    httpd_free(&h);

    char err[128];
    struct httpd_opts o2 = {.listen = "127.0.0.1:0"};
    h = httpd_new(&o2, err, sizeof(err));
    TAP_OK(h != NULL);
    int first = httpd_route(h, "/x", h_hello, NULL);
    int dup = httpd_route(h, "/x", h_big, NULL);
    httpd_free(&h);
    TAP_EQ_INT(-1, late);
    TAP_EQ_INT(0, first);
    TAP_EQ_INT(-1, dup);
}

/* A self-signed P-256 certificate for IP 127.0.0.1, valid until 2126, made
 * for this test only with
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
 *     -nodes -days 36500 -subj /CN=127.0.0.1 \
 *     -addext subjectAltName=IP:127.0.0.1 */
static const char test_cert[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBkDCCATagAwIBAgIUQZ374aQExuekEXaA1oPMizx+4VMwCgYIKoZIzj0EAwIw\n"
    "FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyMTAwMTYxOFoYDzIxMjYxMDI4\n"
    "MDAxNjE4WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO\n"
    "PQMBBwNCAASnqJPAsSpsjs7zr43oAoLtKXC7jtBom5CtZEO9vqkYHWOqzBwCmtQq\n"
    "3FKFnxvXaA4AG1EUjnePfimEfjzJoKfXo2QwYjAdBgNVHQ4EFgQUMJCZzPtFs3jS\n"
    "1x/HcrJ7zXt2rcMwHwYDVR0jBBgwFoAUMJCZzPtFs3jS1x/HcrJ7zXt2rcMwDwYD\n"
    "VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0gAMEUC\n"
    "IAev7MyIJQEnHv5DULdwAyT9A4CUb1VFHcsiXP5sVa79AiEAuTXTGoVfwHRWEbbZ\n"
    "0DWdygDbjfM+UF+clBOUcQoudSU=\n"
    "-----END CERTIFICATE-----\n";
static const char test_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgpaDV5QtZZIczkVL9\n"
    "iV3a+bmli/oI9c6uxTL3dVraFCOhRANCAASnqJPAsSpsjs7zr43oAoLtKXC7jtBo\n"
    "m5CtZEO9vqkYHWOqzBwCmtQq3FKFnxvXaA4AG1EUjnePfimEfjzJoKfX\n"
    "-----END PRIVATE KEY-----\n";

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    size_t n = fwrite(text, 1, strlen(text), f);
    int rc = fclose(f);
    return n == strlen(text) && rc == 0 ? 0 : -1;
}

TAP_CASE(serves_https)
{
    char dir[] = "/tmp/httpd_test.XXXXXX";
    char cert[64], key[64], url[128], err[256] = "";
    struct reply r, plain;
    TAP_OK(mkdtemp(dir) != NULL);
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    int wc = write_file(cert, test_cert);
    int wk = write_file(key, test_key);
    struct httpd_opts o = {.tls_cert_file = cert, .tls_key_file = key};
    struct httpd *h = wc == 0 && wk == 0 ? serve(&o) : NULL;
    int rc = -1, rc_plain = -1;
    long st = 0;
    bool body_ok = false;
    if (h) {
        snprintf(url, sizeof(url), "https://127.0.0.1:%u/hello?name=tls",
                 httpd_port(h));
        rc = fetch_url(url, cert, "GET", NULL, NULL, &r);
        st = r.status;
        body_ok = strcmp(r.body.data, "name=tls\nx=(none)\n") == 0;
        reply_release(&r);
        /* Plain HTTP on the TLS port must not get an answer. */
        rc_plain = fetch(httpd_port(h), "GET", "/hello", NULL, NULL, &plain);
        if (plain.status == 200)
            rc_plain = 0;
        reply_release(&plain);
    }
    httpd_free(&h);
    /* A key that does not parse is refused when the server starts. */
    int wbad = write_file(key, "-----BEGIN PRIVATE KEY-----\nnope\n"
                               "-----END PRIVATE KEY-----\n");
    h = httpd_new(&o, err, sizeof(err));
    int start_bad = h ? httpd_start(h, err, sizeof(err)) : 0;
    bool bad_new = h != NULL;
    httpd_free(&h);
    unlink(cert);
    unlink(key);
    rmdir(dir);
    TAP_EQ_INT(0, wc);
    TAP_EQ_INT(0, wk);
    TAP_EQ_INT(0, rc);
    TAP_EQ_INT(200, st);
    TAP_OK(body_ok);
    TAP_OK(rc_plain != 0);
    TAP_EQ_INT(0, wbad);
    TAP_OK(bad_new);
    TAP_EQ_INT(-1, start_bad);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(query_arguments_are_decoded),
    TAP_ENTRY(long_or_nul_argument_is_400),
    TAP_ENTRY(unknown_path_is_404),
    TAP_ENTRY(other_methods_are_405),
    TAP_ENTRY(post_routes_take_bodies),
    TAP_ENTRY(head_has_headers_and_no_body),
    TAP_ENTRY(gzip_is_negotiated),
    TAP_ENTRY(handler_sets_status_and_headers),
    TAP_ENTRY(response_header_rules),
    TAP_ENTRY(oversized_body_is_500),
    TAP_ENTRY(bearer_auth),
    TAP_ENTRY(basic_auth),
    TAP_ENTRY(bearer_or_basic_both_offered),
    TAP_ENTRY(idle_connections_time_out),
    TAP_ENTRY(slow_client_does_not_block_others),
    TAP_ENTRY(oversized_request_is_refused),
    TAP_ENTRY(listen_errors),
    TAP_ENTRY(port_in_use_is_reported),
    TAP_ENTRY(bad_options_are_rejected),
    TAP_ENTRY(routes_are_fixed_once_started),
    TAP_ENTRY(serves_https),
};

int main(int argc, char **argv)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 1;
    int rc = tap_main(cases, TAP_N(cases), argc, argv);
    curl_global_cleanup();
    return rc;
}
