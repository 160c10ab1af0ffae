/*
 * xalloc: allocation that aborts on out-of-memory.
 *
 * lagwatch is a restartable daemon: an allocation failure is logged with its
 * size and the process aborts, so error paths only handle operational
 * failures. Anything sized by the network or a user has its own explicit cap
 * and fails gracefully before it gets here.
 */
#ifndef AGENT_XALLOC_H
#define AGENT_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns p, or aborts as the functions above do when p is NULL: for a
 * library's allocating call that reports out-of-memory as NULL (n, the
 * size asked for, goes to the log). */
void *xcheck(void *p, size_t n);
/* Grows an array of elem_size elements to hold at least need elements. */
void *xgrow(void *p, size_t *cap, size_t need, size_t elem_size);

#endif
