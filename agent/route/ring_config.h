/*
 * ring_config: the hash ring of a configuration's sinks.influxdb (node
 * names, weights and vnodes; lagwatch.yml(5), SINKS). The one place that
 * turns configuration into a ring, so that the agent, lagwatch ring and
 * /api/v1/ring always agree on the owners.
 */
#ifndef AGENT_ROUTE_RING_CONFIG_H
#define AGENT_ROUTE_RING_CONFIG_H

#include <stddef.h>

#include "config.h"
#include "hashring/hashring.h"

/* Builds the ring of ci's nodes. Returns NULL with the reason in err when
 * ci has no nodes or the ring refuses them (see hashring_new). The caller
 * frees it with hashring_free. */
struct hashring *ring_config_new(const struct cfg_influx *ci, char *err,
                                 size_t errlen);

#endif
