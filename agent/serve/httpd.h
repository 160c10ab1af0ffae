/*
 * httpd: the small embedded HTTP server behind /metrics, /healthz, /readyz
 * and the /api/v1 endpoints, built on libmicrohttpd.
 *
 * It serves GET and HEAD (and POST on routes registered with
 * httpd_route_post; anything else gets 405 with `Allow`), routes
 * by exact path (404 otherwise), can require a bearer token or basic auth
 * (401 with `WWW-Authenticate`), gzips bodies over 1 KiB when the client
 * accepts it, and caps what a client can cost: connections, header bytes,
 * query argument length, idle time. Connections are event-driven (epoll in a
 * small thread pool), so a slow client holds a socket, never a thread.
 *
 * Lifecycle: httpd_new() parses the listen address and binds (so "address
 * in use" is reported at once and httpd_port() is known), httpd_route()
 * registers handlers, httpd_start() starts serving, httpd_free() stops.
 * Routes are immutable once started, so request threads read them without
 * a lock. All of these are called from one (the owning) thread.
 *
 * Handlers run on libmicrohttpd's threads, several at once: a handler must
 * only read shared state that is immutable or protected by its own lock
 * (the agent serves snapshots swapped under a mutex).
 */
#ifndef AGENT_HTTPD_H
#define AGENT_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

struct MHD_Connection;

/* One request as a handler sees it; valid only during the handler call. */
struct httpd_request {
    const char *method;          /* "GET", "HEAD" or "POST" */
    const char *path;            /* URL-decoded path, without the query */
    const char *accept;          /* Accept header or NULL */
    const char *accept_encoding; /* Accept-Encoding header or NULL */
    /* HEAD: build the body anyway, its length is the Content-Length. */
    bool head;
    /* POST (httpd_route_post only): the whole body, NUL-terminated (it may
     * hold NUL bytes of its own: use body_len), and its Content-Type. */
    const char *body;
    size_t body_len;
    const char *content_type;
    const char *content_encoding; /* e.g. "gzip"; NULL when absent */
    struct MHD_Connection *conn_; /* private */
};

/* The first value of query argument key, URL-decoded; "" for `?key` without
 * `=`; NULL when absent. Owned by the request. Every argument was checked to
 * be at most HTTPD_MAX_ARG_BYTES long and free of NUL bytes (else 400). */
const char *httpd_query(const struct httpd_request *req, const char *key);

#define HTTPD_MAX_ARG_BYTES 4096
#define HTTPD_MAX_HEADERS   4

/* What a handler fills. Before the call: status 200, content_type
 * "text/plain; charset=utf-8", an empty body capped at max_response_bytes.
 * A body that hit its cap (buf_error) is answered with 500. */
struct httpd_response {
    int status;
    const char *content_type; /* must be a static string */
    struct buf body;
    /* Extra headers, copied by httpd_response_header(); private. */
    char *hname_[HTTPD_MAX_HEADERS];
    char *hvalue_[HTTPD_MAX_HEADERS];
    size_t nheaders_;
};

/* Adds a response header (both strings are copied). Returns -1 when
 * HTTPD_MAX_HEADERS are already set, the name is empty or has a ':', either
 * string has a CR or LF, or the name is one httpd manages itself
 * (Content-Length, Content-Encoding, Content-Type, Transfer-Encoding, Vary,
 * Connection). Names may repeat. */
int httpd_response_header(struct httpd_response *resp, const char *name,
                          const char *value);

/* Called on a libmicrohttpd thread, concurrently with other handlers. */
typedef void (*httpd_handler_fn)(void *ctx, const struct httpd_request *req,
                                 struct httpd_response *resp);

/* Zero fields take the defaults shown. Strings are copied by httpd_new().
 * listen (required): "127.0.0.1:9743", "[::1]:9743" or ":9743" (every
 * interface, IPv6 dual-stack where available); port 0 = any free port. */
struct httpd_opts {
    const char *listen;
    unsigned max_connections;      /* 64 */
    unsigned connection_timeout_s; /* 10: idle connections are closed */
    size_t max_request_bytes;      /* 16 KiB (>= 4 KiB): request + headers */
    size_t max_response_bytes;     /* 64 MiB: cap on a handler's body */
    unsigned threads;              /* 2 (<= max_connections) */
    const char *bearer_token;      /* require "Authorization: Bearer <t>" */
    const char *basic_user;        /* with basic_password: basic auth */
    const char *basic_password;
    const char *tls_cert_file; /* with tls_key_file: serve HTTPS */
    const char *tls_key_file;
};

/* Checks the options, reads the TLS files and binds the listen socket.
 * Returns NULL with the reason in err (e.g. "cannot listen on
 * '127.0.0.1:9743': Address already in use"). Auth, when set, guards every
 * route; with both bearer_token and basic auth, either is accepted. The
 * process should ignore SIGPIPE (TLS writes to a vanished peer raise it). */
struct httpd *httpd_new(const struct httpd_opts *o, char *err, size_t errlen);

/* Routes exact path to fn (path is copied; ctx is passed through, not
 * owned, and must outlive h). Only before httpd_start(). Returns -1 for a
 * duplicate path or after the start. */
int httpd_route(struct httpd *h, const char *path, httpd_handler_fn fn,
                void *ctx);

/* As httpd_route, and the route also takes POST with a body of at most
 * max_body bytes (> 0; a larger one is answered 413 without calling fn).
 * The body is buffered whole, so max_body bounds the memory a request
 * costs. */
int httpd_route_post(struct httpd *h, const char *path, httpd_handler_fn fn,
                     void *ctx, size_t max_body);

/* Starts serving on libmicrohttpd's threads; -1 with the reason in err. */
int httpd_start(struct httpd *h, char *err, size_t errlen);

/* The bound port (the chosen one when the listen port was 0). */
unsigned httpd_port(const struct httpd *h);

/* Stops accepting, waits for in-flight handlers, closes every connection
 * and frees everything. NULL-safe; sets *hp = NULL. */
void httpd_free(struct httpd **hp);

#endif
