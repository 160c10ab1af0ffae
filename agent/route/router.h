/*
 * router: which InfluxDB node(s) a point belongs to.
 *
 * The shard key is built exactly as the SPEC's ring section says: the values
 * of the shard_by tags in order, each normalized (hashring_normalize),
 * joined by ","; an absent tag contributes "". A point that has none of the
 * shard_by tags falls back to its "group" tag (Kafka lag of a group not
 * mapped to a job), then to the agent's own name, so that it still lands on
 * one deterministic node.
 */
#ifndef AGENT_ROUTER_H
#define AGENT_ROUTER_H

#include <stddef.h>

#include "util/buf.h"
#include "pipeline/sample.h"

struct hashring;
struct router;

/* shard_by and agent_name are copied. The ring is borrowed and must outlive
 * the router. */
struct router *router_new(const struct hashring *ring, char *const *shard_by,
                          size_t n_shard_by, unsigned replicas,
                          const char *agent_name);
void router_free(struct router **rp);

/* Writes the shard key of a tag set into key (reset first). */
void router_key(struct router *rt, const struct label *tags, size_t ntags,
                struct buf *key);

/* Owners of the point's shard key: up to replicas node indices into out
 * (first owner first); returns how many. */
size_t router_route(struct router *rt, const struct label *tags, size_t ntags,
                    size_t *out);

/* Owners of a key given as text (normalized here), e.g. `ring --key`. */
size_t router_route_key(struct router *rt, const char *key, size_t *out);

unsigned router_replicas(const struct router *rt);

#endif
