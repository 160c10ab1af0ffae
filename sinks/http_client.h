/*
 * http_client: what every lagwatch HTTP sink (InfluxDB /write, Prometheus
 * remote write) does the same way: the libcurl options of its write handle
 * and the URL it may show in a log line.
 */
#ifndef SINKS_HTTP_CLIENT_H
#define SINKS_HTTP_CLIENT_H

#include <stdint.h>

#include <curl/curl.h>

#include "util/buf.h"

/* No signals, connect and whole-request timeouts of timeout_ms, TCP
 * keep-alive, basic auth when user is set (pass may be NULL), and the
 * response body appended to resp: only its start matters (a server's error
 * text), so what passes resp's cap is ignored, not an error. Reset resp
 * before each request. Secrets stay in libcurl, never in a log line. */
void http_client_setup(CURL *c, uint64_t timeout_ms, struct buf *resp,
                       const char *user, const char *pass);

/* One POST of data[len] on c (set up by http_client_setup, whose resp
 * buffer the caller resets before); url and hdr NULL keep what is set.
 * Returns the HTTP status, or 0 on a transport error with the reason in
 * err. *ns gets the time the request took. */
long http_client_post(CURL *c, const char *url, struct curl_slist *hdr,
                      const void *data, size_t len, char *err, size_t errlen,
                      uint64_t *ns);

/* A copy of url without "user:password@" (the caller frees it), so that
 * log lines never carry a secret. */
char *http_client_url_for_log(const char *url);

/* Appends s to b with every byte outside [A-Za-z0-9] and keep as %XX:
 * keep "-._~" for a URL query value (RFC 3986 unreserved), "-_" for a
 * name that must be one safe path component. */
void http_client_add_pct(struct buf *b, const char *s, const char *keep);

#endif
