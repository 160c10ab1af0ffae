/*
 * proxy: the InfluxDB 1.x HTTP API for the whole ring (lagwatch(8),
 * PROXY): GET /ping, GET /query and GET /metrics (its own
 * lagwatch_proxy_* counters, lagwatch-metrics(7)) on proxy.listen.
 *
 * Each statement of a /query is parsed (influxql.h), routed by the
 * shard_by tags its WHERE pins (qroute.h) over the ring of
 * sinks.influxdb, and either forwarded verbatim to its one owner or, when
 * it needs several nodes, rewritten (proxy_plan.h), sent to them in
 * parallel (nodeq.h) and merged (merge.h). Node credentials are the
 * configured ones; client auth and TLS are agent's (agent.bearer_token_file,
 * agent.basic_auth_*, agent.tls_*), the same as on agent.listen.
 *
 * Threads: proxy_new/proxy_free on the owning thread; requests are served
 * on the HTTP server's threads (httpd.h), the ring and router are
 * read-only after creation (routing takes the proxy's lock: the router
 * keeps a scratch buffer), the counters are under that lock.
 */
#ifndef AGENT_PROXY_PROXY_H
#define AGENT_PROXY_PROXY_H

#include <stddef.h>

#include "config.h"

struct proxy;

/* Builds the ring of cfg->influx (v1 nodes only), binds cfg->proxy.listen
 * and starts serving. NULL with the reason (naming the address, file or
 * node) in err. */
struct proxy *proxy_new(const struct config *cfg, char *err, size_t errlen);
unsigned proxy_port(const struct proxy *p);
void proxy_free(struct proxy **pp);

#endif
