/*
 * scrape: concurrent HTTP GETs with libcurl's multi interface.
 *
 * One scraper_run() fetches a batch of targets at once (up to the
 * concurrency limit), streaming each body to the target's data callback as
 * it arrives, so a large exposition is parsed without ever being held whole.
 * Every target has a timeout and a response-size cap; gzip and deflate are
 * accepted. One failing target never stops the others: each gets its own
 * done callback with the outcome.
 */
#ifndef AGENT_SCRAPE_H
#define AGENT_SCRAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Called with each chunk of the (decompressed) body. Return 0 to go on,
 * -1 to abort this target (it then completes with error "aborted"). */
typedef int (*scrape_data_fn)(void *user, const char *data, size_t len);

struct scrape_result {
    bool ok;                  /* transfer done, HTTP 2xx, under the size cap */
    long http_status;         /* 0 if no response */
    const char *error;        /* NULL when ok; human-readable cause otherwise,
                                 e.g. "timeout after 10000 ms", "HTTP 500",
                                 "response larger than 67108864 bytes" */
    const char *content_type; /* NULL if none */
    double duration_s;
    uint64_t bytes; /* body bytes delivered to data_fn */
};

/* Called once per target when it completes, whatever the outcome. The
 * result's strings are valid only during the call. */
typedef void (*scrape_done_fn)(void *user, const struct scrape_result *r);

struct scrape_target {
    const char *url;
    const char *accept; /* Accept header value, or NULL for a default */
    scrape_data_fn on_data;
    scrape_done_fn on_done;
    void *user;
};

struct scraper_opts {
    uint64_t timeout_ms;    /* whole transfer, per target */
    uint64_t max_bytes;     /* cap on the decompressed body, per target */
    unsigned concurrency;   /* transfers in flight at once */
    const char *user_agent; /* NULL: "lagwatch/<version>" */
};

struct scraper;

struct scraper *scraper_new(const struct scraper_opts *opts);
void scraper_free(struct scraper **sp);

/* Fetches all n targets concurrently and returns when every one has
 * completed (each done callback has been called exactly once). Returns 0,
 * or -1 only on a local failure of the scraper itself (then no callback
 * ran). Targets may be added to a later run freely; connections are
 * reused between runs. Not thread-safe: one thread per scraper. */
int scraper_run(struct scraper *s, const struct scrape_target *targets,
                size_t n);

#endif
