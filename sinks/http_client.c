#include "http_client.h"

#include <stdio.h>
#include <string.h>

#include "util/clock.h"
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

long http_client_post(CURL *c, const char *url, struct curl_slist *hdr,
                      const void *data, size_t len, char *err, size_t errlen,
                      uint64_t *ns)
{
    char cerr[CURL_ERROR_SIZE] = "";
    long status = 0;
    if (url)
        curl_easy_setopt(c, CURLOPT_URL, url);
    if (hdr)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    uint64_t t0 = clock_mono_ns();
    CURLcode rc = curl_easy_perform(c);
    *ns = clock_mono_ns() - t0;
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
        return 0;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
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

void http_client_add_pct(struct buf *b, const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || (c && strchr(keep, c))) {
            buf_addc(b, (char)c);
        } else {
            buf_addc(b, '%');
            buf_addc(b, hex[c >> 4]);
            buf_addc(b, hex[c & 15]);
        }
    }
}
