/*
 * promparse: a streaming parser for the Prometheus text exposition format
 * 0.0.4, turning an HTTP body into struct sample callbacks.
 *
 * The body is pushed in chunks exactly as it arrives (a line may be split
 * anywhere, even inside an escape or a "\r\n"); nothing but one line is ever
 * held, so memory is bounded by max_line whatever the body size.
 *
 * Every sample carries its family (from the TYPE/HELP lines before it), so a
 * consumer can tell "x_count" of summary "x" from a gauge named "x_count".
 * Flink's reporter writes summaries without a "_sum" line: that is fine here,
 * samples are matched to the family one by one and nothing is required.
 *
 * A malformed line is skipped and counted, never fatal: one bad series must
 * not cost a whole scrape. The first max_logged_errors per body are logged
 * (target, 1-based line number, reason, clipped excerpt); the rest are only
 * counted, and the caller logs the total from promparse_get_stats().
 *
 * Not thread-safe: one parser per scrape thread, reused with
 * promparse_reset() for the next body.
 */
#ifndef AGENT_PROMPARSE_H
#define AGENT_PROMPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/sample.h"

#define PROMPARSE_DEFAULT_MAX_LINE          65536
#define PROMPARSE_DEFAULT_MAX_LABELS        128
#define PROMPARSE_DEFAULT_MAX_LOGGED_ERRORS 10

struct promparse_opts {
    /* Names the source in log lines, e.g. the scrape URL; copied. NULL
     * logs as "-". */
    const char *target;
    size_t max_line;            /* bytes per line, \n excluded; 0: default */
    size_t max_labels;          /* labels per sample; 0: default */
    unsigned max_logged_errors; /* per body; 0: default */
    /* Testing: use the SSE2 label scan even on a CPU with AVX2. */
    bool no_avx2;
};

struct promparse_stats {
    uint64_t lines;    /* lines seen, comments and blank lines included */
    uint64_t samples;  /* samples handed to the callback */
    uint64_t errors;   /* malformed lines skipped */
    uint64_t families; /* families opened by HELP or TYPE lines */
    /* Samples whose label set took the fast scan (a reporter's plain
     * {name="value",...}): for tests and profiling only. */
    uint64_t fast_labels;
};

struct promparse;

/* Returns a parser that calls fn(ctx, sample) for every sample line, or
 * NULL if the C numeric locale cannot be created. o may be NULL (all
 * defaults). The sample and every pointer in it are valid only during the
 * call; strings are NUL-terminated. fn returns 0 to go on, -1 to abort the
 * body (later feeds then return -1 until promparse_reset()). */
struct promparse *promparse_new(const struct promparse_opts *o, sample_fn fn,
                                void *ctx);

/* Pushes the next len bytes of the body. Returns -1 if the callback aborted
 * the parse (now or earlier in this body), else 0; malformed input is never
 * an error here, see the stats. */
int promparse_feed(struct promparse *p, const char *data, size_t len);

/* Ends the body: parses a last line that had no newline. Same return as
 * promparse_feed(). */
int promparse_finish(struct promparse *p);

/* Prepares for a new body, keeping allocations: stats, line number, family
 * state and the abort flag are cleared. target (copied) replaces the one
 * given before; NULL keeps it. */
void promparse_reset(struct promparse *p, const char *target);

/* During the callback only: an id of the sample's label names, in order,
 * or 0 when not known. Two samples of one parser with the same nonzero id
 * have the same names in the same order, across bodies too, for as long as
 * the parser lives; an id is never reused by a parser made later at the
 * same address. trim_sample_shaped() takes it with the parser as source,
 * so that trim skips comparing the names of every sample of a family. */
uint64_t promparse_label_shape(const struct promparse *p);

void promparse_get_stats(const struct promparse *p,
                         struct promparse_stats *out);

/* NULL-safe; sets *pp = NULL. */
void promparse_free(struct promparse **pp);

#endif
