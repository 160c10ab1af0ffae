#include "http_client.h"

#include <string.h>

#include "util/xalloc.h"

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct buf *b = ctx;
    size_t len = size * nmemb;
    if (!b->max || b->len + len <= b->max)
        buf_add(b, p, len);
    return len;
}

void http_client_setup(CURL *c, uint64_t timeout_ms, struct buf *resp,
                       const char *user, const char *pass)
{
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    if (user) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, pass ? pass : "");
    }
}

char *http_client_url_for_log(const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *at = strchr(host, '@');
    const char *slash = strchr(host, '/');
    if (!at || (slash && slash < at))
        return xstrdup(url);
    struct buf b = BUF_INIT;
    buf_add(&b, url, (size_t)(host - url));
    buf_adds(&b, at + 1);
    return buf_detach(&b, NULL);
}
