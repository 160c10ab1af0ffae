/*
 * spool: a bounded on-disk FIFO of ready-to-send batches, one directory per
 * destination (an InfluxDB node, a remote-write URL), that survives a crash
 * of the process (SIGKILL included).
 *
 * Layout: DIR/<20-digit first sequence number>.seg segment files, each a run
 * of records appended in order and never rewritten:
 *
 *   u32 magic "LWS1" | u32 payload length | u64 sequence | u64 meta |
 *   u32 points | u32 CRC-32 (zlib) of the 24 header bytes after the magic
 *   up to the CRC, then of the payload | payload
 *
 * all little-endian. A new segment starts when the last one reaches an
 * eighth of the cap (clamped to 64 KiB..64 MiB), so the cap is enforced by
 * unlinking whole segments, oldest first. What is acknowledged is only
 * remembered in memory (plus a fully acknowledged segment is unlinked), so
 * after a crash the unacknowledged tail of the head segment and possibly a
 * few acknowledged records are replayed again: delivery is at-least-once.
 *
 * Open scans every segment: a record with a bad magic, an impossible length
 * or a torn end discards the rest of that segment (the last segment is
 * truncated there so that appends continue cleanly); a complete record with
 * a bad CRC is skipped. Both are logged once with the file and offset and
 * counted in the stats (points as the record's header says, when it is
 * legible: a torn record's header is); nothing corrupt is ever returned by
 * peek (CRCs are checked again on every read).
 *
 * The cap (max_bytes) bounds the bytes of the segment files. An append that
 * would exceed it first unlinks the oldest segments that do not hold a
 * record currently peeked, and counts their unacknowledged records and
 * points as dropped (with one warning line); a record that cannot fit even
 * then is itself dropped and counted.
 *
 * DIR/lock is flock()ed while the spool is open: a second spool_open of
 * the same directory (another process, or another sink in this one) fails
 * until the first is closed.
 *
 * Not thread-safe: one spool is used by one thread at a time (callers that
 * append from one thread and replay from another hold their own mutex).
 */
#ifndef SINKS_SPOOL_H
#define SINKS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest payload of one record; bigger ones are refused by append. */
#define SPOOL_MAX_RECORD (256u << 20)

struct spool;

struct spool_stats {
    uint64_t bytes;           /* size of the segment files */
    uint64_t records;         /* not yet acknowledged */
    uint64_t points;          /* in those records */
    uint64_t appended_points; /* since open */
    uint64_t acked_points;    /* since open */
    uint64_t dropped_records; /* by the cap, since open */
    uint64_t dropped_points;
    uint64_t corrupt_records; /* skipped at open or on read, since open */
    uint64_t corrupt_points;  /* points of those whose header was legible */
    uint64_t corrupt_bytes;   /* bytes skipped or truncated */
};

/* A record returned by spool_peek_oldest; data is owned by the spool until
 * spool_ack / spool_release. */
struct spool_rec {
    void *data;
    size_t len;
    uint32_t points;
    uint64_t meta;
    uint64_t seq;
};

/* Opens (creating it and its parents, mode 0750) the spool in dir and
 * scans its segments. max_bytes is the cap (0: no cap); fsync: append
 * returns only once the record is on stable storage (fdatasync). Returns
 * NULL with the reason in err. */
struct spool *spool_open(const char *dir, uint64_t max_bytes, bool fsync,
                         char *err, size_t errlen);

/* Appends one record at the tail. Returns 0 when stored (and synced, under
 * the fsync policy), 1 when the record alone does not fit under the cap
 * (it is counted as dropped and logged), -1 with the reason in err on an
 * I/O error (nothing is stored: a partial write is cut off again). */
int spool_append(struct spool *sp, const void *data, size_t len,
                 uint32_t points, uint64_t meta, char *err, size_t errlen);

/* The oldest unacknowledged record, which stays pinned (the cap never
 * drops it) until spool_ack or spool_release. Returns 1 with the record in
 * rec, 0 when the spool is empty, -1 with the reason in err on an I/O
 * error. Corrupt records met on the way are skipped, logged and counted. At
 * most one record is pinned at a time: peek releases the previous one. */
int spool_peek_oldest(struct spool *sp, struct spool_rec *rec, char *err,
                      size_t errlen);

/* Acknowledges the record returned by the last peek (it was delivered or
 * given up on) and frees rec->data. A fully acknowledged segment is
 * unlinked. */
void spool_ack(struct spool *sp, struct spool_rec *rec);

/* Unpins the record of the last peek without acknowledging it (it will be
 * returned again) and frees rec->data. */
void spool_release(struct spool *sp, struct spool_rec *rec);

/* Bytes of the segment files. */
uint64_t spool_bytes(const struct spool *sp);
/* True when no record is waiting. */
bool spool_empty(const struct spool *sp);
void spool_get_stats(const struct spool *sp, struct spool_stats *out);
const char *spool_dir(const struct spool *sp);

/* Closes the files; the segments stay on disk for the next open. NULL-safe;
 * sets *spp to NULL. */
void spool_close(struct spool **spp);

#endif
