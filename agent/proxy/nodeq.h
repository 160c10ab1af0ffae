/*
 * nodeq: InfluxQL requests to several InfluxDB nodes at once (curl multi),
 * each with its own whole-request timeout and response-size cap, at most
 * max_parallel in flight. The proxy's only way to talk to a node
 * (lagwatch(8), PROXY, "Limits").
 *
 * Requests are POSTs of an application/x-www-form-urlencoded body to
 * BASE/query (so no query text is limited by a URL length); node
 * credentials are the configured ones, never the client's.
 *
 * Threads: nodeq_run() blocks the calling thread; several request
 * threads may each run their own, sharing only the connection cache.
 */
#ifndef AGENT_PROXY_NODEQ_H
#define AGENT_PROXY_NODEQ_H

#include <stddef.h>
#include <stdint.h>

struct nodeq_req {
    const char *base_url; /* node URL, no trailing "/query" */
    const char *form;     /* the urlencoded body: q=...&db=...&epoch=... */
    const char *user;     /* basic auth, optional */
    const char *pass;
};

struct nodeq_res {
    long status; /* HTTP status; 0 = transport error, timeout or cap */
    char *body;  /* heap, NUL-terminated; NULL on transport error */
    size_t len;
    char err[256]; /* why status is 0 */
    uint64_t ns;   /* time the request took */
};

/* A connection cache shared by every nodeq_run() (libcurl's share
 * interface, locked): the proxy's requests reuse keep-alive connections to
 * the nodes instead of connecting per statement. Any thread. */
struct nodeq_share;
struct nodeq_share *nodeq_share_new(void); /* NULL: out of memory */
void nodeq_share_free(struct nodeq_share **sp);

/* Runs n requests; res[i] answers reqs[i]. share may be NULL. Returns 0,
 * or -1 when curl cannot be set up at all (every res then has the
 * reason). */
int nodeq_run(const struct nodeq_req *reqs, struct nodeq_res *res, size_t n,
              uint64_t timeout_ms, size_t max_bytes, unsigned max_parallel,
              struct nodeq_share *share);

void nodeq_res_release(struct nodeq_res *res, size_t n);

#endif
