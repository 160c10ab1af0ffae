/*
 * outbox: the delivery engine of one destination (an InfluxDB node, a
 * remote-write receiver). The protocol hands over ready-to-send records
 * (opaque byte blobs with an item count: points or samples) and the outbox
 * gets them there, in order, through one sender thread:
 *
 *   - a bounded in-memory queue (opts.queue_max_bytes) in front of the
 *     sender, so that outbox_put never waits on the network;
 *   - with a spool (opts.spool_dir, see spool.h), a record whose send fails
 *     with a retryable error goes to the spool together with everything
 *     queued behind it, and so does every new record while the spool is not
 *     empty, so that the destination gets them in the order they were put.
 *     A full queue also sends new records to the spool (outbox_put then
 *     waits for the disk). The spool is replayed oldest first with
 *     exponential backoff (opts.backoff_min_ms doubling to
 *     opts.backoff_max_ms, +-25% jitter);
 *   - after opts.down_after consecutive failures the destination is marked
 *     down: drain stops waiting for it and, with a probe callback, the probe
 *     must answer before the next replay attempt (also before the first
 *     replay of a spool found at start);
 *   - without a spool (none configured, or it cannot be opened) a failing
 *     record is retried in place opts.max_retries times, then dropped; a
 *     full queue drops new records;
 *   - the spool is opened lazily (at start when its directory exists, else
 *     on first need). One that cannot be opened (another sink holds its
 *     lock: the sink a reload replaces) is tried again every
 *     opts.spool_reopen_ms, logged once per streak and once more when it
 *     opens; what it holds is then resumed.
 *
 * Every loss is counted and logged with the destination's name: refused by
 * the destination, queue full or retries exhausted without a spool, spool
 * I/O errors, the spool's cap and corrupt records (spool.h).
 *
 * Ownership: a record belongs to the outbox from outbox_put on; opts'
 * strings are copied; ctx stays the caller's and must outlive the outbox.
 *
 * Threads: outbox_put, outbox_poke, outbox_drain, outbox_get_stats and
 * outbox_stop from any thread; the ops run on the sender thread with no
 * outbox lock held (except accepted and resumed, see there), so an op may
 * take the protocol's own lock, and the protocol may call outbox_put and
 * outbox_poke while holding that lock.
 */
#ifndef SINKS_OUTBOX_H
#define SINKS_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct outbox;

/* A record as the ops see it; data stays owned by the outbox. */
struct outbox_rec {
    const void *data;
    size_t len;
    uint32_t items;
    uint64_t meta; /* the protocol's, kept in the spool record */
    bool replayed; /* read back from the spool */
};

enum outbox_status {
    OUTBOX_SENT,    /* delivered (minus refused and dropped below) */
    OUTBOX_RETRY,   /* retryable failure, nothing delivered */
    OUTBOX_REFUSED, /* refused as a whole, never to be retried */
};

/* What send reports; the outbox clears it before each call. */
struct outbox_result {
    enum outbox_status status;
    /* With OUTBOX_SENT, items not delivered, already logged by the
     * protocol: refused by the destination (e.g. an InfluxDB partial
     * write) or given up on after in-place retries. */
    uint32_t refused;
    uint32_t dropped;
    bool answered; /* the destination answered (the "up" state) */
    char why[512]; /* reason of a failure or partial delivery */
};

struct outbox_ops {
    /* Sender thread start and end: the protocol's per-thread state (a
     * curl handle). Optional. */
    void (*setup)(void *ctx);
    void (*teardown)(void *ctx);
    /* One delivery attempt of r. Required. */
    void (*send)(void *ctx, const struct outbox_rec *r,
                 struct outbox_result *res);
    /* Whether the destination serves again (InfluxDB /ping). Optional:
     * without, a down destination is tried with the next replay. */
    bool (*probe)(void *ctx);
    /* Called when the sender is idle and on each wake-up: the protocol's
     * timers (a partial batch's flush interval). Returns the monotonic ms
     * of the next wanted call, UINT64_MAX for none. Optional. */
    uint64_t (*tick)(void *ctx, uint64_t now_ms);
    /* A record put in this process was delivered (spooled false) or
     * appended to the spool (true); for debug logs. May run on the
     * putting thread with outbox locks held: it must not call the outbox.
     * Optional. */
    void (*accepted)(void *ctx, const struct outbox_rec *r, bool spooled);
    /* A spool found with records in it was opened; for the log line. The
     * same rules as accepted. Optional: without, a generic line is
     * logged. */
    void (*resumed)(void *ctx, uint64_t items, uint64_t bytes);
};

struct outbox_opts {
    const char *name; /* the destination in log lines, e.g. "node 'a'
                         (http://host:8086)"; never carries a secret */
    const char *unit; /* "points", "samples" */
    const struct outbox_ops *ops;
    void *ctx; /* passed to every op */
    uint64_t queue_max_bytes;
    const char *spool_dir; /* NULL: no spool */
    uint64_t spool_max_bytes;
    bool spool_fsync;
    uint64_t spool_reopen_ms;
    unsigned max_retries; /* in place, without a spool */
    unsigned down_after;  /* consecutive failures; at least 1 */
    uint64_t backoff_min_ms;
    uint64_t backoff_max_ms;
};

struct outbox_stats {
    uint64_t written;         /* items delivered */
    uint64_t refused;         /* items the destination refused */
    uint64_t dropped;         /* items given up: no spool, spool losses */
    uint64_t dropped_spool;   /* part of dropped: spool cap, corrupt
                                 records, spool I/O errors */
    uint64_t retried;         /* items in records sent again */
    uint64_t retries;         /* records sent again */
    uint64_t spooled;         /* items appended to the spool */
    uint64_t replayed;        /* items delivered from the spool */
    uint64_t records_written; /* records delivered (partially included) */
    uint64_t records_failed;  /* records refused or dropped as a whole */
    uint64_t spool_bytes;     /* size of the spool's segment files */
    uint64_t spool_items;     /* items waiting in the spool */
    uint64_t queue_bytes;     /* records waiting in memory */
    int up;                   /* the last attempt got an answer */
    int down;                 /* marked down */
    char last_error[256];     /* "" when none yet */
};

/* Opens an existing spool (resuming it) and starts the sender thread.
 * opts and the strings in it are copied. Returns NULL with the reason in
 * err when the thread cannot start. */
struct outbox *outbox_new(const struct outbox_opts *opts, char *err,
                          size_t errlen);

/* Hands over a record: data (malloc'd, len bytes, items items) is owned by
 * the outbox from now on, whatever happens. Never waits on the network;
 * waits for the disk only when the queue is full. Any thread. */
void outbox_put(struct outbox *ob, void *data, size_t len, uint32_t items,
                uint64_t meta);

/* Makes the sender call ops->tick soon (a new timer). Any thread. */
void outbox_poke(struct outbox *ob);

/* Waits until the monotonic ms until_ms for the queue to empty and the
 * spool to be replayed, not waiting while the destination is down.
 * Returns 0 when everything was delivered, 1 when nothing was lost but
 * records still wait (queue, spool, or a spool not opened yet), -1 when
 * items were refused or dropped since the previous drain. Any thread. */
int outbox_drain(struct outbox *ob, uint64_t until_ms);

/* Sleeps the backoff of attempt (1-based), for in-place retries inside
 * send; true when the outbox is stopping (give up the attempt). Sender
 * thread only. */
bool outbox_backoff(struct outbox *ob, unsigned attempt);

/* Counts items sent again by the protocol inside send (in-place retries).
 * Sender thread only. */
void outbox_count_retry(struct outbox *ob, uint32_t items);

/* Thread-safe snapshot. */
void outbox_get_stats(struct outbox *ob, struct outbox_stats *out);

/* Asks the sender thread to stop after its current step; does not wait.
 * Lets several outboxes stop in parallel before outbox_free. */
void outbox_stop(struct outbox *ob);

/* Stops and joins the sender, spools what is left in memory (or counts it
 * dropped without a spool), closes the spool, frees. NULL-safe; sets *obp
 * to NULL. */
void outbox_free(struct outbox **obp);

#endif
