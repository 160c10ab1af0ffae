/*
 * influx: the per-node batching writer to InfluxDB 1.x (/write, line
 * protocol, precision=ms), or per node to the InfluxDB v2 write API
 * (/api/v2/write, org and bucket, a token; influx_api.h has everything that
 * differs: URLs, headers, /ping, the spool record's destination).
 *
 * The caller picks the node of each point (the ring lives elsewhere) and
 * hands the point over; the sink encodes it into that node's current batch
 * and never waits on the network. Each node has its own outbox (outbox.h):
 * a bounded in-memory queue (cfg->queue_max_bytes) served by its own
 * writer thread with its own keep-alive curl handle, so a slow or dead
 * node delays only its own shard.
 *
 * Server answers (influxd 1.6): 204 written; 400 "partial write" counts
 * influxd's dropped=N (the offending lines are logged once, the rest of the
 * batch is written by influxd); other 400s drop the batch (no retry); 404
 * "database not found" creates the database once when cfg->create_database;
 * 413 splits the batch in halves down to one line; 500 "retention policy
 * not found" drops at once. Other 5xx, 429 and transport errors are
 * retryable.
 *
 * With a spool (influx_spool_opts.dir): a batch whose write fails with a
 * retryable error goes to the node's spool DIR/<node name> (see spool.h)
 * together with everything queued behind it, and so do all new batches of
 * that node while its spool is not empty, so that they arrive in order
 * (appended by the writer thread: influx_sink_write never waits for the
 * disk, except when the in-memory queue is full). The
 * writer replays the spool oldest first with exponential backoff and
 * jitter; after cfg->max_retries consecutive failures (at least 1) the node
 * is marked down and /ping is probed before each replay attempt. A full
 * in-memory queue (cfg->queue_max_bytes, e.g. a slow node) also sends new
 * batches to the spool. A spooled batch carries the database and
 * retention policy (v2: org and bucket) it was written for and is replayed
 * there even when the configuration changed meanwhile (logged once per
 * change). A database is created on 404 only for v1 destinations. At start an
 * existing spool is resumed; spools of nodes no longer configured are left
 * on disk and logged (spool DIR/remote_write belongs to the remote-write
 * sink). The spool of a
 * node is locked (flock) while a sink uses it; one still locked by the
 * sink a reload replaces is tried again every second (logged once) and
 * resumed when it opens. Without a spool (or when it
 * cannot be opened) a failing batch is retried in place cfg->max_retries
 * times, then dropped.
 *
 * Every loss (spool cap, corrupt spool record, 4xx that can never succeed,
 * no spool) is counted in points_dropped and logged with node and URL.
 */
#ifndef SINKS_INFLUX_H
#define SINKS_INFLUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pipeline/sample.h"

struct influx_sink;

struct influx_node_stats {
    uint64_t points_written;
    uint64_t points_dropped; /* refused by influxd, spool cap, corrupt
                                spool records, or gave up without spool */
    uint64_t points_retried; /* points in requests sent again */
    uint64_t batches_written;
    uint64_t batches_failed;
    uint64_t bytes_sent;             /* request bodies on the wire (gzipped) */
    uint64_t write_ns_total;         /* time in HTTP requests */
    uint64_t write_count;            /* HTTP requests */
    uint64_t points_skipped_invalid; /* never encoded, see lineproto.h */
    uint64_t points_spooled;         /* appended to the node's spool */
    uint64_t points_replayed;        /* written from the spool */
    uint64_t spool_bytes;            /* size of the spool's segment files */
    uint64_t queue_bytes;            /* records waiting in memory */
    uint64_t spool_points;           /* points waiting in the spool */
    uint64_t points_dropped_spool;   /* part of points_dropped: spool cap,
                                        corrupt records, spool I/O errors */
    char last_error[256];            /* "" when none yet */
    int up;   /* 1 after an answer from influxd, 0 after a
                 transport error or 5xx */
    int down; /* marked down: /ping is probed before replay */
};

/* Where batches that cannot be written now wait (agent.spool_*). */
struct influx_spool_opts {
    const char *dir;    /* parent of the per-node spools; NULL: none */
    uint64_t max_bytes; /* cap of EACH node's spool; 0: no cap */
    bool fsync;         /* fdatasync every spooled batch */
};

/* Starts one writer thread per node (node index i is cfg->nodes[i]). cfg and
 * spool are copied; the caller keeps ownership; spool may be NULL (no
 * spool). Returns NULL with a reason in err on a bad config or when a
 * thread cannot start. */
struct influx_sink *influx_sink_new(const struct cfg_influx *cfg,
                                    const struct influx_spool_opts *spool,
                                    char *err, size_t errlen);

/* Encodes p into the current batch of node (< number of nodes); p is only
 * read during the call. Returns 0 when accepted (a later loss is counted in
 * the stats), 1 when the point was skipped as unwritable (counted in
 * points_skipped_invalid), -1 on an internal error. Never blocks on the
 * network. Any thread. */
int influx_sink_write(struct influx_sink *s, size_t node,
                      const struct point *p);

/* Queues every partial batch now. Any thread. */
void influx_sink_flush(struct influx_sink *s);

/* Flushes, then waits at most timeout_ms until every node's in-memory
 * queue is empty and its spool replayed, not waiting for a node marked
 * down. Returns 0 when everything handed over was written, 1 when nothing
 * was lost but points are still queued or spooled (a node down or the
 * deadline), -1 when points were dropped since the previous drain. Any
 * thread. */
int influx_sink_drain(struct influx_sink *s, uint64_t timeout_ms);

/* Thread-safe snapshot of one node's counters. */
void influx_sink_node_stats(struct influx_sink *s, size_t node,
                            struct influx_node_stats *out);

/* Drains with a short deadline, stops the threads, spools what is left in
 * memory (or counts it as dropped without a spool), frees. NULL-safe; sets
 * *sp to NULL. Not concurrently with any other call on the sink. */
void influx_sink_free(struct influx_sink **sp);

#endif
