/*
 * labelcut: the one rule for a label value over the byte limit
 * (trim.max_label_bytes, lagwatch.yml(5), TRIM): the value is kept, cut to
 * the limit and ended in '~' and 12 hex digits of the XXH3 hash of the
 * whole value, so that two long values sharing a prefix (Flink SQL
 * operator names) stay two series, and the same value is always cut the
 * same way. The cut never splits a UTF-8 sequence.
 *
 * Pure functions on caller-owned memory; any thread.
 */
#ifndef AGENT_PIPELINE_LABELCUT_H
#define AGENT_PIPELINE_LABELCUT_H

#include <stddef.h>

#define LABELCUT_HASH_HEX 12
#define LABELCUT_SUFFIX   (1 + LABELCUT_HASH_HEX)
/* Below this limit there is no room for a useful prefix: the caller drops
 * the label (or sample) as before. */
#define LABELCUT_MIN (2 * LABELCUT_SUFFIX)

/* Writes the cut form of v[0..n) (n > max) into out, which has room for
 * max + 1 bytes (NUL-terminated), and returns its length (at most max).
 * Returns 0 when max < LABELCUT_MIN. */
size_t labelcut(const char *v, size_t n, size_t max, char *out);

#endif
