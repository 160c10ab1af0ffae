/*
 * remote_write: the Prometheus remote write 1.0 sink (sinks.remote_write).
 *
 * The same data that goes to InfluxDB also goes, as Prometheus series, to
 * any remote-write receiver (Prometheus with
 * --web.enable-remote-write-receiver, VictoriaMetrics, Mimir, Thanos):
 *
 *   - a trimmed reporter series keeps its Prometheus name and labels; a
 *     series folded over subtasks becomes <name>_max, <name>_sum and
 *     <name>_avg, exactly as GET /metrics shows it: both name the values
 *     through series_fold_values() (pipeline/series_fold.h);
 *   - an InfluxDB point (lagwatch_job, lagwatch_task_timing,
 *     kafka_consumergroup_lag) becomes one series per numeric field,
 *     <measurement>_<field>, with the tags as labels; string fields are
 *     left out;
 *   - the timestamp is the point's, in ms; non-finite values are skipped,
 *     as on the InfluxDB side.
 *
 * Samples are collected into a batch (cfg->batch_size samples at most);
 * a full or flushed batch is encoded as a WriteRequest and compressed with
 * snappy (rwproto.h), then handed to the sink's outbox (outbox.h: one
 * sender thread with its own keep-alive curl handle, a queue bounded by
 * cfg->queue_max_bytes), so the caller never waits on the network. The
 * sender POSTs each request in order with Content-Encoding: snappy,
 * Content-Type: application/x-protobuf, X-Prometheus-Remote-Write-Version:
 * 0.1.0 and User-Agent: lagwatch/VERSION. 2xx is success; any other status
 * but 429 (400: bad sample, out of order, ...) is not retried and counts as
 * failed; 5xx, 429 and transport errors are retryable:
 *
 *   - with a spool (remote_write_spool.dir, normally
 *     agent.spool_dir/remote_write; see spool.h) the request goes to the
 *     spool at once, and so does every later request while the spool is
 *     not empty, so that the receiver gets each series in timestamp order
 *     (Prometheus refuses out-of-order samples); so does a request that
 *     finds the in-memory queue full. The sender replays the spool oldest
 *     first with exponential backoff (cfg->min_backoff_ms doubling to
 *     cfg->max_backoff_ms) and jitter, for as long as it takes; the
 *     spool's cap is what bounds the loss. An existing spool is resumed at
 *     start (one still locked by the sink a reload replaces as soon as it
 *     is free); on shutdown what is still in memory is spooled.
 *   - without a spool (none configured, or it cannot be opened) the
 *     request is retried in place cfg->max_retries times, then dropped,
 *     and a request that finds the queue full is dropped.
 *
 * Every loss (queue full without a spool, spool cap, corrupt spool record,
 * refusal, no spool) is counted and logged, with the URL.
 */
#ifndef SINKS_REMOTE_WRITE_H
#define SINKS_REMOTE_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pipeline/sample.h"

struct remote_write;

struct remote_write_stats {
    uint64_t samples_queued;   /* accepted into a request */
    uint64_t samples_spooled;  /* appended to the spool */
    uint64_t samples_replayed; /* sent from the spool (part of sent) */
    uint64_t spool_bytes;      /* size of the spool's segment files */
    uint64_t spool_samples;    /* samples waiting in the spool */
    uint64_t samples_sent;     /* acknowledged by the receiver (2xx) */
    uint64_t samples_failed;   /* refused (4xx other than 429), not retried */
    uint64_t samples_dropped;  /* queue full, retries exhausted, shutdown */
    uint64_t samples_skipped;  /* non-finite or unencodable, never queued */
    uint64_t requests;         /* HTTP requests, retries included */
    uint64_t retries;          /* requests sent again after a failure */
    uint64_t bytes_sent;       /* request bodies on the wire (snappy) */
    uint64_t queue_bytes;      /* now waiting in memory */
    int up;                    /* 1 after a 2xx or 4xx answer, 0 after a
                                  transport error or 5xx */
    char last_error[256];      /* "" when none yet */
};

/* Where requests that cannot be sent now wait (agent.spool_*). */
struct remote_write_spool {
    const char *dir;    /* the spool directory itself; NULL: no spool */
    uint64_t max_bytes; /* cap; 0: none */
    bool fsync;         /* fdatasync every spooled request */
};

/* Starts the sender thread. cfg and spool are copied; spool may be NULL.
 * Returns NULL with a reason in err (no URL, unreadable password file,
 * thread or curl failure); a spool that cannot be opened is logged and
 * the sink runs without. */
struct remote_write *remote_write_new(const struct cfg_remote_write *cfg,
                                      const struct remote_write_spool *spool,
                                      char *err, size_t errlen);

/* Adds the sample(s) of a trimmed series, named by series_fold_values().
 * fold is the configured fold set (SERIES_FOLD_* bits, cfg_trim.fold; 0
 * means all three). Returns the number of
 * samples accepted (a later loss is counted in the stats), -1 on an
 * internal error. Never blocks on the network. Any thread. */
int remote_write_series(struct remote_write *rw, const struct series *s,
                        unsigned fold);

/* Adds one sample per numeric field of p (bool as 0/1). Same returns. */
int remote_write_point(struct remote_write *rw, const struct point *p);

/* Queues the partial batch now. Any thread. */
void remote_write_flush(struct remote_write *rw);

/* Flushes, then waits at most timeout_ms until every request in memory is
 * sent, spooled or given up and the spool is replayed (not waiting for a
 * receiver that is failing). Returns 0 when everything was sent, 1 when
 * nothing was lost but samples still wait (in the spool or, at the
 * deadline, in memory), -1 when samples were failed or dropped since the
 * previous drain. Any thread. */
int remote_write_drain(struct remote_write *rw, uint64_t timeout_ms);

/* Thread-safe snapshot of the counters. */
void remote_write_get_stats(struct remote_write *rw,
                            struct remote_write_stats *out);

/* Drains with a short deadline, stops the thread, spools what is left in
 * memory (counts it as dropped without a spool), frees. NULL-safe; sets
 * *rwp to NULL. */
void remote_write_free(struct remote_write **rwp);

#endif
