/*
 * jsonw: JSON string literals for the documents lagwatch writes by hand.
 *
 * Strings may come from brokers, JobManagers or query parameters, so
 * anything may be in them: quotes and backslashes are escaped, control
 * characters and DEL become \u00XX, and every byte of invalid UTF-8 becomes
 * \ufffd, so the output is always valid JSON whatever the input.
 */
#ifndef AGENT_JSONW_H
#define AGENT_JSONW_H

#include <stddef.h>

#include "util/buf.h"

/* Appends the len bytes of s as a quoted JSON string. */
void jsonw_str(struct buf *b, const char *s, size_t len);

/* The same without the quotes. */
void jsonw_escape(struct buf *b, const char *s, size_t len);

/* jsonw_str() of the NUL-terminated s. */
void jsonw_cstr(struct buf *b, const char *s);

/* jsonw_str() and jsonw_escape() of at most max bytes of the NUL-terminated
 * s, for text echoed from a request: a clip may cut a UTF-8 sequence, whose
 * bytes then come out as \ufffd, which is still valid JSON. */
void jsonw_cstrn(struct buf *b, const char *s, size_t max);
void jsonw_escape_cstrn(struct buf *b, const char *s, size_t max);

/* Appends seconds with millisecond precision and no trailing zeros
 * ("4.5", "12"); a value that is not finite is written as 0. */
void jsonw_seconds(struct buf *b, double v);

#endif
