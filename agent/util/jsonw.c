#include "util/jsonw.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (at most len bytes), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t len)
{
    unsigned char c = p[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (len < need || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return need;
}

void jsonw_escape(struct buf *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            buf_addc(b, '\\');
            buf_addc(b, (char)c);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            buf_addf(b, "\\u%04x", c);
            i++;
        } else {
            size_t n = utf8_seq(p + i, len - i);
            if (n == 0) {
                /* One replacement per bad byte: simple and never longer
                 * than 6 bytes of output per input byte. */
                buf_adds(b, "\\ufffd");
                i++;
            } else {
                buf_add(b, p + i, n);
                i += n;
            }
        }
    }
}

void jsonw_str(struct buf *b, const char *s, size_t len)
{
    buf_addc(b, '"');
    jsonw_escape(b, s, len);
    buf_addc(b, '"');
}

void jsonw_cstr(struct buf *b, const char *s)
{
    jsonw_str(b, s, strlen(s));
}

void jsonw_cstrn(struct buf *b, const char *s, size_t max)
{
    jsonw_str(b, s, strnlen(s, max));
}

void jsonw_escape_cstrn(struct buf *b, const char *s, size_t max)
{
    jsonw_escape(b, s, strnlen(s, max));
}

void jsonw_seconds(struct buf *b, double v)
{
    char tmp[64];
    if (!isfinite(v))
        v = 0;
    snprintf(tmp, sizeof(tmp), "%.3f", v);
    size_t len = strlen(tmp);
    while (len > 1 && tmp[len - 1] == '0')
        len--;
    if (len > 0 && tmp[len - 1] == '.')
        len--;
    buf_add(b, tmp, len);
}
