/*
 * router: which InfluxDB node(s) a point belongs to.
 *
 * The shard key is built exactly as lagwatch(8), RING says: the values
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

/* The most owners a point can have: sinks.influxdb.replicas is checked
 * against it at load (lagwatch.yml(5), SINKS), so the router never has to
 * lower a configured value. Callers size owner arrays with it. */
#define ROUTER_MAX_REPLICAS 16

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

/* The shard key of a key given as text (`lagwatch ring --key`, GET
 * /api/v1/ring?key=) into key (reset first). With several shard_by tags the
 * text is their values joined by "," and each value is normalized on its
 * own, so the separators survive; with one tag the whole text is that
 * tag's value, a "," in it normalized like any other character (lagwatch(8),
 * RING). Stateless: any thread may call it. */
void router_normalize_key(struct buf *key, const char *text, size_t n_shard_by);

/* Owners of a key given as text (router_normalize_key), e.g. `ring --key`. */
size_t router_route_key(struct router *rt, const char *key, size_t *out);

unsigned router_replicas(const struct router *rt);

#endif
