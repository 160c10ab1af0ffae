/*
 * endpoint: lagwatch's own HTTP endpoints on agent.listen.
 *
 *   GET /metrics   the exposition of the last completed cycle
 *   GET /healthz   200 while the process runs
 *   GET /readyz    200 once a configuration is loaded and a first cycle
 *                  has completed, 503 before
 *   GET /api/v1/ring?key=K
 *                  the owning node(s) of shard key K (JSON)
 *
 * /metrics serves an immutable snapshot swapped in whole at the end of each
 * cycle, so a scrape never waits for collection and never sees a mix of
 * two cycles. Handlers run on the HTTP server's threads; publishing happens
 * on the collection thread.
 */
#ifndef AGENT_ENDPOINT_H
#define AGENT_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct endpoint;

/* Binds listen ("host:port") and starts serving. NULL with a message in
 * err when the address cannot be bound. */
struct endpoint *endpoint_new(const char *listen, char *err, size_t errlen);
void endpoint_free(struct endpoint **epp);

/* Replaces the /metrics snapshot. Takes ownership of text (heap, len
 * bytes). Any thread. */
void endpoint_publish(struct endpoint *ep, char *text, size_t len);

/* Marks the agent ready (first cycle done) or not (reload in progress). */
void endpoint_set_ready(struct endpoint *ep, bool ready);

unsigned endpoint_port(const struct endpoint *ep);

/* Installs the ring of cfg's sinks.influxdb section for /api/v1/ring
 * (copied; call again after a reload). Returns -1 with err when the ring
 * cannot be built. */
int endpoint_set_ring(struct endpoint *ep, const struct config *cfg,
                      char *err, size_t errlen);

#endif
