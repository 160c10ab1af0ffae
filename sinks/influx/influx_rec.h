/*
 * influx_rec: the record of one InfluxDB batch, as the node's outbox
 * queues it and its spool keeps it (outbox.h, spool.h):
 *
 *   the destination header of influx_api.h ("LWI2" database and
 *   retention policy, or "LWV2" org and bucket, padded to a multiple of
 *   4) | u32 line ends (host order: a spool never leaves its machine) |
 *   the lines of line protocol
 *
 * The destination travels with the batch so that a replay after a config
 * change still goes where the batch was written for (lagwatch(8),
 * INFLUXDB). The line ends are kept because string fields
 * may hold raw newlines: lines are never found by scanning. Spools written
 * by earlier versions use the same format.
 *
 * Pure functions; any thread.
 */
#ifndef SINKS_INFLUX_REC_H
#define SINKS_INFLUX_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "influx/influx_api.h"

/* Longest database, retention policy, org or bucket name a record can
 * carry. */
#define INFLUX_REC_NAME_MAX INFLUX_API_NAME_MAX

/* A parsed record: the lines point into the record's bytes, dest is a
 * copy (influx_rec_release). */
struct influx_rec {
    const char *lines;
    size_t len;
    const uint32_t *ends; /* ends[i]: offset just past line i's newline */
    size_t npoints;
    struct influx_dest dest;
};

/* The record of npoints lines[len] ending at ends[], for destination d
 * (names of at most INFLUX_REC_NAME_MAX bytes). Returns it (malloc'd, the
 * caller owns it) with its length in *rec_len. */
char *influx_rec_encode(const struct influx_dest *d, const uint32_t *ends,
                        size_t npoints, const char *lines, size_t len,
                        size_t *rec_len);

/* Parses rec[len] holding points lines (the spool's count); rec must be
 * 4-byte aligned (malloc'd). False when it is not a well-formed record
 * (out then needs no release). */
bool influx_rec_parse(const void *rec, size_t len, uint32_t points,
                      struct influx_rec *out);

/* Frees what influx_rec_parse copied; NULL-safe. */
void influx_rec_release(struct influx_rec *r);

/* The smallest and largest timestamp of the record's lines (each ends
 * with " <ms>\n"), for the debug log. */
void influx_rec_ts_range(const struct influx_rec *r, int64_t *lo, int64_t *hi);

#endif
