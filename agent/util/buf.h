/*
 * buf: the one growable byte buffer, used for all string building.
 *
 * Invariants: data is never NULL once anything was added (BUF_INIT points at
 * a static empty string) and is always NUL-terminated; len excludes the NUL.
 * Every buffer has a cap (max, 0 = unlimited): an append that would pass it
 * sets the sticky error flag and is dropped, so callers append freely and
 * check buf_error() once at the end.
 */
#ifndef AGENT_BUF_H
#define AGENT_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap; /* allocated bytes, 0 while data points at the static "" */
    size_t max; /* cap on len, 0 = unlimited */
    bool err;   /* sticky: an append was refused */
};

extern char buf_empty_[];
#define BUF_INIT                                                               \
    {                                                                          \
        buf_empty_, 0, 0, 0, false                                             \
    }

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* Empties the buffer and clears the error, keeping the allocation. */
void buf_reset(struct buf *b);
/* Makes room for n more bytes; returns -1 (and sets err) past the cap. */
int buf_reserve(struct buf *b, size_t n);
int buf_add(struct buf *b, const void *p, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Shortens to n bytes (n <= len). */
void buf_truncate(struct buf *b, size_t n);
/* Hands the heap string to the caller (free() it); b is reset to BUF_INIT
 * with the same cap. */
char *buf_detach(struct buf *b, size_t *len);
static inline bool buf_error(const struct buf *b)
{
    return b->err;
}

#endif
