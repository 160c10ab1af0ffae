/*
 * endpoint: lagwatch's own HTTP endpoints on agent.listen.
 *
 *   GET /metrics   the exposition of the last completed cycle, in the
 *                  format the Accept header asks for (text 0.0.4,
 *                  OpenMetrics 1.0 or protobuf delimited; see expo.h)
 *   GET /healthz   200 while the process runs
 *   GET /readyz    200 once a configuration is loaded and a first cycle
 *                  has completed, 503 before
 *   GET /api/v1/lag
 *                  the Kafka lag of the last sweep (JSON, the document
 *                  `lagwatch lag --json` prints)
 *   GET /api/v1/ready?group=G[&topic=T][&cluster=C]&until=T
 *                  200 when every message before T has been consumed,
 *                  425 with the current consumed_through otherwise, 404
 *                  for an unknown group, 400 for a bad parameter
 *   GET /          the status page (HTML, serve/status_page.h; JSON for
 *                  Accept: application/json); ?job=X answers "where is
 *                  job X" from the ring
 *   GET /api/v1/status
 *                  the status snapshot as JSON (serve/status.h)
 *   GET /api/v1/ring?key=K
 *                  the owning node(s) of shard key K (JSON); 404 when no
 *                  sinks.influxdb ring is configured
 *
 * /metrics serves an immutable snapshot swapped in whole at the end of each
 * cycle, so a scrape never waits for collection and never sees a mix of
 * two cycles. The snapshot holds the model; each format is encoded from it
 * by the first request that asks for it and kept until the next snapshot
 * (so a format nobody scrapes costs nothing, and one scraped by several
 * servers is encoded once per cycle). Handlers run on the HTTP server's
 * threads; publishing happens on the collection thread.
 */
#ifndef AGENT_ENDPOINT_H
#define AGENT_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "kafka/kafka_lag.h"

struct endpoint;
struct expo;
struct status;

/* Binds a->listen ("host:port") and starts serving with a's connection
 * cap, TLS files and auth (the bearer token and basic-auth password files
 * are read now, see secret.h; the secrets are not logged). NULL with a
 * message naming the address or file in err when it cannot start. */
struct endpoint *endpoint_new(const struct cfg_agent *a, char *err,
                              size_t errlen);

/* Reads a's bearer token and basic-auth password files (either may be
 * unset: NULL), for an httpd with the agent's client auth (the proxy has
 * the same, lagwatch(8), PROXY). -1 with the file named in err. Free both
 * with secret_free. */
int endpoint_read_auth(const struct cfg_agent *a, char **token, char **password,
                       char *err, size_t errlen);

/* True when an endpoint built for a differs from one built for b: another
 * listen address, connection cap or TLS/auth setting. Secret files are
 * read at creation, so an endpoint with any of them is rebuilt on every
 * reload (a rotated token takes effect on SIGHUP). */
bool endpoint_needs_rebuild(const struct cfg_agent *a,
                            const struct cfg_agent *b);
void endpoint_free(struct endpoint **epp);

/* What one cycle publishes. */
struct endpoint_data {
    struct expo *metrics; /* the /metrics model */
    char *lag_json;       /* heap; the /api/v1/lag body */
    size_t lag_json_len;
    struct kafka_lag_cluster **lag; /* heap array of heap results */
    size_t n_lag;
    struct status *status; /* the status page's snapshot, or NULL */
};

/* Replaces the snapshot with d's contents, taking ownership of all of them
 * (d itself is reset). Any thread. */
void endpoint_publish(struct endpoint *ep, struct endpoint_data *d);

/* Marks the agent ready (first cycle done) or not (reload in progress). */
void endpoint_set_ready(struct endpoint *ep, bool ready);

unsigned endpoint_port(const struct endpoint *ep);

/* Installs the ring of cfg's sinks.influxdb section for /api/v1/ring
 * (copied; call again after a reload), or none when cfg has no such
 * section. Returns -1 with err when the ring cannot be built. */
int endpoint_set_ring(struct endpoint *ep, const struct config *cfg, char *err,
                      size_t errlen);

#endif
