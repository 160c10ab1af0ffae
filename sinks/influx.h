/*
 * influx: the per-node batching writer to InfluxDB 1.x (/write, line
 * protocol, precision=ms).
 *
 * The caller picks the node of each point (the ring lives elsewhere) and
 * hands the point over; the sink encodes it into that node's current batch
 * and never waits on the network. Each node has a bounded in-memory queue
 * (cfg->queue_max_bytes) served by its own writer thread with its own
 * keep-alive curl handle, so a slow or dead node delays only its own shard.
 *
 * Server answers (influxd 1.6): 204 written; 400 "partial write" counts
 * influxd's dropped=N; other 400s drop the batch (no retry); 404 "database
 * not found" creates the database once when cfg->create_database; 413
 * splits the batch in halves down to one line; 500 "retention policy not
 * found" drops at once; other 5xx, 429 and transport errors retry with
 * exponential backoff and jitter up to cfg->max_retries, then drop.
 * Every loss is counted in points_dropped and logged with node and URL.
 */
#ifndef SINKS_INFLUX_H
#define SINKS_INFLUX_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "sample.h"

struct influx_sink;

struct influx_node_stats {
    uint64_t points_written;
    uint64_t points_dropped; /* queue full, refused by influxd, gave up */
    uint64_t points_retried; /* points in requests sent again */
    uint64_t batches_written;
    uint64_t batches_failed;
    uint64_t bytes_sent;     /* request bodies on the wire (gzipped) */
    uint64_t write_ns_total; /* time in HTTP requests */
    uint64_t write_count;    /* HTTP requests */
    uint64_t points_skipped_invalid; /* never encoded, see lineproto.h */
    char last_error[256];    /* "" when none yet */
    int up;                  /* 1 after an answer from influxd, 0 after a
                                transport error or 5xx */
};

/* Starts one writer thread per node (node index i is cfg->nodes[i]). cfg is
 * copied; the caller keeps ownership. Returns NULL with a reason in err on
 * a bad config or when a thread cannot start. */
struct influx_sink *influx_sink_new(const struct cfg_influx *cfg, char *err,
                                    size_t errlen);

/* Encodes p into the current batch of node (< number of nodes); p is only
 * read during the call. Returns 0 when accepted (a later loss is counted in
 * the stats), 1 when the point was skipped as unwritable (counted in
 * points_skipped_invalid), -1 on an internal error. Never blocks on the
 * network. Any thread. */
int influx_sink_write(struct influx_sink *s, size_t node,
                      const struct point *p);

/* Queues every partial batch now. Any thread. */
void influx_sink_flush(struct influx_sink *s);

/* Flushes, then waits until every queued batch is written or given up, at
 * most timeout_ms. Returns 0 when every point queued since the previous
 * drain was written, -1 when some were dropped or the time ran out. Any
 * thread. */
int influx_sink_drain(struct influx_sink *s, uint64_t timeout_ms);

/* Thread-safe snapshot of one node's counters. */
void influx_sink_node_stats(struct influx_sink *s, size_t node,
                            struct influx_node_stats *out);

/* Drains with a short deadline, stops the threads, counts what is left as
 * dropped, frees. NULL-safe; sets *sp to NULL. Not concurrently with any
 * other call on the sink. */
void influx_sink_free(struct influx_sink **sp);

#endif
