/*
 * http_client: the libcurl options every lagwatch HTTP sink sets on its
 * write handle (InfluxDB /write, Prometheus remote write).
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

#endif
