/*
 * plan: how a statement that needs several nodes is asked and merged
 * (lagwatch(8), PROXY, "Merging"): the text each node gets and the merge
 * spec (merge.h) of the answers. Pure, any thread.
 *
 *   SHOW ...                LIMIT n OFFSET o becomes LIMIT n+o, the rest
 *                           verbatim; merged as sets
 *   SELECT grouped by every shard_by tag (or GROUP BY *)
 *                           each output series is one key's: verbatim but
 *                           for the LIMIT family (n+o, SLIMIT s+so);
 *                           unioned, a key answered twice counted once
 *   SELECT raw (no aggregate)
 *                           GROUP BY the shard_by tags added; rows merged
 *   SELECT of count, sum, min, max, mean, spread (any GROUP BY time), or
 *   one first or last (without GROUP BY time)
 *                           each field pushed down (mean as sum and
 *                           count, spread as max and min) as "lwN[ab]",
 *                           GROUP BY the shard_by tags added, fill(number|
 *                           previous) as fill(null), the LIMIT family
 *                           applied after the merge
 * Everything else is refused with a message saying how to make the
 * statement routable.
 */
#ifndef AGENT_PROXY_PLAN_H
#define AGENT_PROXY_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "proxy/influxql.h"
#include "proxy/merge.h"

struct plan {
    char *text; /* the statement for the nodes (heap) */
    struct merge_spec spec;
    struct merge_field fields[64];
};

/* Fills pl for st (whose text is q) over shard_by with replicas; epoch
 * is the client's (NULL: RFC 3339). Returns -1 with the client's error in
 * err. Release with plan_release. */
int plan_build(struct plan *pl, const char *q, const struct iql_stmt *st,
               char *const *shard_by, size_t n_shard_by, unsigned replicas,
               const char *epoch, char *err, size_t errlen);
void plan_release(struct plan *pl);

#endif
