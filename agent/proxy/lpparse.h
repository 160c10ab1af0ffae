/*
 * lpparse: one line of InfluxDB 1.x line protocol parsed into a struct
 * point (pipeline/sample.h), with influxd's escaping (the inverse of
 * sinks/influx/lineproto.h): in the measurement "\,", "\ ", "\=" and "\""
 * stand for the character; in tag keys and values "\,", "\ " and "\=";
 * in field keys those and "\""; in string field values "\"" and "\\";
 * any other backslash is literal.
 * Field values: floats, integers (123i), unsigned (123u, up to INT64_MAX),
 * booleans (t T true True TRUE f F false False FALSE) and "strings". The
 * timestamp is optional (then now_ns) and read in the request's precision
 * (ns, u, ms, s, m, h); the point carries milliseconds (what the ring's
 * writer sends, lineproto.h), sub-millisecond digits truncated.
 *
 * Bounds: at most LPPARSE_MAX_TAGS tags and LPPARSE_MAX_FIELDS fields; a
 * line holding a NUL byte is refused (the point's strings are C strings),
 * and so is a time before INT64_MIN / 10^6 whole milliseconds.
 * Pure; a struct lp_line is used by one thread.
 */
#ifndef AGENT_PROXY_LPPARSE_H
#define AGENT_PROXY_LPPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/sample.h"
#include "util/buf.h"

#define LPPARSE_MAX_TAGS   256
#define LPPARSE_MAX_FIELDS 1024

/* The parsed line; every pointer of point points into text (owned). */
struct lp_line {
    struct buf text; /* unescaped names and values, NUL-separated */
    struct label tags[LPPARSE_MAX_TAGS];
    struct field fields[LPPARSE_MAX_FIELDS];
    struct point point;
};

/* Nanoseconds per unit of precision p ("ns" "n" "u" "ms" "s" "m" "h", or
 * NULL / "" for ns); 0 for anything else. */
int64_t lpparse_precision(const char *p);

/* Parses line[0..len) (no newline). Returns 0, or -1 with influxd's
 * reason ("missing fields", "invalid field format", "bad timestamp", ...)
 * in err. Tags are sorted by key, as influxd stores them. */
int lpparse_line(struct lp_line *l, const char *line, size_t len,
                 int64_t prec_ns, int64_t now_ns, char *err, size_t errlen);

void lpparse_release(struct lp_line *l);

/* The next line of a /write body[0..len) from *pos on, as influxd reads
 * one: leading blanks and trailing CRs dropped, empty lines and "#"
 * comments skipped. Returns false at the end of the body; else sets *line
 * and *ll (not NUL-terminated) and moves *pos past the line. */
bool lpparse_next_line(const char *body, size_t len, size_t *pos,
                       const char **line, size_t *ll);

#endif
