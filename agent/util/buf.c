#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

char buf_empty_[1];

void buf_init(struct buf *b, size_t max)
{
    b->data = buf_empty_;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->err = false;
}

void buf_release(struct buf *b)
{
    size_t max = b->max;
    if (b->cap)
        free(b->data);
    buf_init(b, max);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->cap)
        b->data[0] = '\0';
    b->err = false;
}

int buf_reserve(struct buf *b, size_t n)
{
    if (b->err)
        return -1;
    if (b->max && (n > b->max || b->len > b->max - n)) {
        b->err = true;
        return -1;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t c = b->cap ? b->cap : 64;
    while (c < need)
        c *= 2;
    if (b->cap) {
        b->data = xrealloc(b->data, c);
    } else {
        b->data = xmalloc(c);
        b->data[0] = '\0';
    }
    b->cap = c;
    return 0;
}

int buf_add(struct buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_adds(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

int buf_addc(struct buf *b, char c)
{
    if (buf_reserve(b, 1) < 0)
        return -1;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}

int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, cp);
    va_end(cp);
    if (n < 0) {
        b->err = true;
        return -1;
    }
    if ((size_t)n < sizeof(small))
        return buf_add(b, small, (size_t)n);
    if (buf_reserve(b, (size_t)n) < 0)
        return -1;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void buf_truncate(struct buf *b, size_t n)
{
    if (n >= b->len)
        return;
    b->len = n;
    b->data[n] = '\0';
}

char *buf_detach(struct buf *b, size_t *len)
{
    char *s;
    if (len)
        *len = b->len;
    if (b->cap) {
        s = b->data;
    } else {
        s = xstrdup("");
    }
    size_t max = b->max;
    buf_init(b, max);
    return s;
}
