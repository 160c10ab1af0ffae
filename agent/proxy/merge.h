/*
 * merge: one statement's answer from the answers of several InfluxDB
 * nodes (lagwatch(8), PROXY, "Merging"). Pure (jansson values in and
 * out, no I/O), any thread.
 *
 * SELECT answers arrive with the shard_by tags pushed into GROUP BY (the
 * proxy rewrites the statement, proxy_plan.h), so that every node series
 * is one "key series": the data of one shard key. Key series are combined
 * into the output series (their tags without the pushed-down ones):
 *   raw     rows merged by time (ORDER BY time DESC: descending); with
 *           dedupe (replicas > 1) a row of a key series already seen from
 *           another node (same key series, same time) is dropped
 *   agg     per time bucket: count and sum add, min and max compare, mean
 *           = sum of the sums / sum of the counts, spread = max of the
 *           maxima - min of the minima, first/last (only without GROUP BY
 *           time) the value with the earliest/latest point time; with
 *           dedupe a key series seen from several nodes counts once
 * then fill(number|previous) (pushed down as fill(null)), LIMIT/OFFSET per
 * output series, SLIMIT/SOFFSET over the output series sorted as influxd
 * sorts them (by name, then tag set), and the time column converted from
 * the nanoseconds the nodes were asked for to the client's epoch or RFC
 * 3339. SHOW answers merge as sets (rows of each series unioned and
 * sorted; databases and retention policies keep the first node's order).
 *
 * Ownership: the inputs are borrowed; *out is a new reference.
 */
#ifndef AGENT_PROXY_MERGE_H
#define AGENT_PROXY_MERGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/influxql.h"

enum merge_kind {
    MERGE_SHOW_ORDERED, /* SHOW DATABASES, RETENTION POLICIES */
    MERGE_SHOW_SORTED,  /* the other SHOW statements */
    MERGE_SHOW_FIELDS,  /* SHOW FIELD KEYS: a key's first type wins */
    MERGE_RAW,
    MERGE_AGG,
};

enum merge_fn {
    MF_COUNT,
    MF_SUM,
    MF_MIN,
    MF_MAX,
    MF_MEAN,
    MF_SPREAD,
    MF_FIRST,
    MF_LAST
};

/* One output column of an aggregate: its name as influxd would print it
 * and the node columns it is made of (col_b: the count of a mean, the
 * minimum of a spread). */
struct merge_field {
    enum merge_fn fn;
    char *out_name;
    char *col_a, *col_b;
};

struct merge_spec {
    enum merge_kind kind;
    struct merge_field *fields;
    size_t nfields;
    char *const *strip_tags; /* pushed-down tags to drop from the output */
    size_t nstrip;
    char *const *shard_tags; /* shard_by: a series without them is the */
    size_t nshard;           /* fallback key's (dedupe refuses those) */
    bool keep_tags;          /* the client grouped by tags: output has "tags" */
    bool dedupe;             /* replicas > 1: the same key series is one copy */
    /* raw rows of a subquery's outer statement: rows carry their key in
     * their values, so ties in time are ordered, and copies (dedupe) told
     * apart, by the row's values */
    bool by_value;
    bool desc;
    int64_t limit, offset, slimit, soffset; /* -1 = absent */
    enum iql_fill fill;
    double fill_value;
    const char *epoch; /* "ns" "u" "µ" "ms" "s" "m" "h", NULL = RFC 3339 */
};

/* Merges the statement results nodes[0..n) (each an object with optional
 * "series"; errors were handled by the caller) into *out. Returns -1 with
 * a message for the client in err when they cannot be merged exactly. */
int merge_results(const struct merge_spec *sp, json_t *const *nodes, size_t n,
                  json_t **out, char *err, size_t errlen);

/* Writes t (nanoseconds) as influxd does for epoch (NULL: RFC 3339 with
 * trailing zeros of the fraction removed) into a new JSON value. */
json_t *merge_time_value(int64_t t, const char *epoch);

#endif
