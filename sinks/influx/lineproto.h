/*
 * lineproto: the InfluxDB 1.x line protocol encoder, one struct point to one
 * line, with the escaping influxd 1.6 actually undoes (measured against
 * influxd 1.6.7: tests/integration/influx_roundtrip.sh and the comments in
 * lineproto.c), so that every name and value it writes round-trips
 * byte-exact.
 *
 * What influxd would reject is removed before it reaches the wire, because
 * one bad value can make influxd refuse a whole batch:
 *   - fields with a NaN or +-Inf float value are dropped;
 *   - fields whose key cannot be written (empty, "time", newline, trailing
 *     backslash or one before a byte that needs escaping) or whose string
 *     value is NULL are dropped;
 *   - tags with an empty key or value are dropped;
 *   - the point is skipped when its measurement or a tag cannot be written
 *     (empty or '#'-led measurement, newline, trailing backslash, a
 *     backslash before a measurement byte that needs escaping, tag key
 *     "time", duplicate tag keys), when no field remains, or when the line
 *     would pass the line cap.
 * Every drop and skip is counted in struct lineproto_stats.
 *
 * Timestamps are written in milliseconds: send with precision=ms. Floats
 * are written so that they parse back to the same bits; integers carry the
 * 'i' suffix. Tags are written in the order given (influxd sorts them; the
 * caller sorting them saves influxd the work).
 */
#ifndef SINKS_LINEPROTO_H
#define SINKS_LINEPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "pipeline/sample.h"

/* Default cap on one encoded line, newline included. */
#define LINEPROTO_MAX_LINE (64 * 1024)

struct lineproto_stats {
    uint64_t points;            /* lines written */
    uint64_t skipped_no_fields; /* no writable field left */
    uint64_t skipped_newline;   /* newline in measurement or tag */
    uint64_t skipped_invalid;   /* other unwritable measurement or tag */
    uint64_t skipped_too_long;  /* line over the cap */
    uint64_t fields_nonfinite;  /* NaN / +-Inf fields dropped */
    uint64_t fields_invalid;    /* unwritable field key or NULL string */
    uint64_t tags_empty;        /* tags dropped for an empty key or value */
};

/* Appends one line for p, newline included, to out.
 * Returns 0 when the line was written, 1 when the point was skipped (counted
 * in st, out unchanged), -1 when out refused the bytes (its cap; out is
 * truncated back to its length on entry, its sticky error stays set).
 * st may be NULL. Any thread; out and st must not be shared unlocked. */
int lineproto_encode(struct buf *out, const struct point *p,
                     struct lineproto_stats *st);
/* Same with an explicit cap on the line length (bytes, newline included). */
int lineproto_encode_max(struct buf *out, const struct point *p,
                         struct lineproto_stats *st, size_t max_line);

/* Sum of the skipped_* counters: points that never reach the wire. */
uint64_t lineproto_stats_skipped(const struct lineproto_stats *st);

/* Writes the shortest-found decimal form of a finite double that parses
 * back to the same bits, NUL-terminated, into p (at least 32 bytes).
 * Returns the length. Exposed for tests. */
size_t lineproto_format_float(char *p, double v);

#endif
