/*
 * qroute: which shard keys a query's WHERE clause pins (lagwatch(8),
 * PROXY, "Routing"). Pure: no I/O, any thread.
 *
 * A clause pins the shard_by tags when every row it can match has, for
 * each tag, a value from a finite set the clause names: `tag = 'v'`,
 * `tag =~ /^v$/`, Grafana's `tag =~ /^(a|b)$/` (literal alternatives;
 * backslash-escaped punctuation is literal), ORs of those, and ANDs where
 * either side pins (the intersection when both do). Anything else - a
 * bound parameter, a comparison other than = and =~, an OR with one side
 * unpinned, an empty value (a point without the shard tags is routed by a
 * fallback key: route/router.h) - does not pin, and the query fans out.
 * Keys are the values joined by "," in shard_by order, as
 * router_normalize_key() takes them; with several shard_by tags a value
 * holding a "," does not pin either (the text would be ambiguous).
 */
#ifndef AGENT_PROXY_QROUTE_H
#define AGENT_PROXY_QROUTE_H

#include <stddef.h>

#include "proxy/influxql.h"

/* The most keys one statement routes to; more fan out. */
#define QROUTE_MAX_KEYS 1024

/* Returns the number of keys (>= 1) with a heap array of heap strings in
 * *keys (free with qroute_keys_free), or 0 (and *keys NULL) when where
 * (NULL: no WHERE) does not pin every shard_by tag. */
size_t qroute_keys(const struct iql_expr *where, char *const *shard_by,
                   size_t n_shard_by, char ***keys);
void qroute_keys_free(char **keys, size_t n);

/* The same over a statement: its WHERE and those of its subqueries, all
 * of which restrict the rows (their pins intersect). */
size_t qroute_stmt_keys(const struct iql_stmt *st, char *const *shard_by,
                        size_t n_shard_by, char ***keys);

/* True when the literal regex pattern re is exactly ^v$ or ^(a|b...)$ of
 * literals; the unescaped alternatives go to *out (heap) and their count
 * is returned; 0 otherwise. Exposed for the unit test. */
size_t qroute_regex_literals(const char *re, char ***out);

#endif
