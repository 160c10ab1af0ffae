/*
 * influx_api: everything that differs between the two write APIs a ring
 * node may speak (lagwatch.yml(5) SINKS, sinks.influxdb.nodes[].api):
 *
 *   v1  POST <url>/write?db=DB[&rp=RP]&precision=ms        (InfluxDB 1.x)
 *   v2  POST <url>/api/v2/write?org=ORG&bucket=B&precision=ms
 *       with "Authorization: Token <token>" when a token_file is set
 *       (InfluxDB 2/3, VictoriaMetrics)
 *
 * It resolves where a node's batches go (struct influx_dest), builds the
 * node's write, query and ping URLs and its auth header, says which /ping
 * answers mean "serving", and encodes and decodes the destination that a
 * spooled batch carries, so that a replay goes to the database/retention
 * policy or org/bucket the batch was written for (see influx.h).
 *
 * Spool record headers (host byte order is not involved: lengths are
 * little endian u16):
 *   "LWI2" | u16 len | u16 len | database | retention policy | pad   (v1)
 *   "LWV2" | u16 len | u16 len | org      | bucket           | pad   (v2)
 * padded with zero bytes to a multiple of 4. "LWI2" is the record of
 * every spool written before v2 nodes existed, read unchanged. A v2 record
 * has its own magic so that no reader, old or new, can take an org for a
 * database: an older lagwatch counts an "LWV2" record as not a batch
 * (dropped, logged) instead of writing it elsewhere.
 *
 * Pure functions over plain values: no I/O, no locks, no globals; any
 * thread. Every returned string is heap-allocated and owned by the caller;
 * a struct influx_dest owns its strings (influx_dest_free()).
 */
#ifndef SINKS_INFLUX_API_H
#define SINKS_INFLUX_API_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "util/buf.h"

enum influx_api_version { INFLUX_API_V1 = 0, INFLUX_API_V2 = 1 };

/* Longest database, retention policy, org or bucket name a spool record
 * can carry. */
#define INFLUX_API_NAME_MAX 0xffffu

/* Where a batch is written. v1: db (non-empty) and rp ("" for the
 * database's default policy), org and bucket NULL. v2: org and bucket
 * (non-empty), db and rp NULL. */
struct influx_dest {
    enum influx_api_version api;
    char *db, *rp;
    char *org, *bucket;
};

/* The API of a node's config: v2 when cn->api is "v2", else v1 (config.c
 * accepts only "v1", "v2" or nothing). */
enum influx_api_version influx_api_of(const struct cfg_influx_node *cn);

/* Resolves the destination of node cn of cfg into d: v1 uses
 * sinks.influxdb.database and retention_policy; v2 uses the node's org and
 * bucket, the bucket defaulting to "DATABASE" or, with a retention policy,
 * "DATABASE/RETENTION_POLICY" (InfluxDB's v1-compatibility naming). 0, or
 * -1 with a reason naming the node in err (d is then empty). */
int influx_dest_for_node(struct influx_dest *d,
                         const struct cfg_influx_node *cn,
                         const struct cfg_influx *cfg, char *err,
                         size_t errlen);

/* Frees d's strings and zeroes it; NULL-safe. */
void influx_dest_free(struct influx_dest *d);

/* Same API and same names. */
bool influx_dest_equal(const struct influx_dest *a,
                       const struct influx_dest *b);

/* Appends "database 'D' retention policy 'R'" or "org 'O' bucket 'B'" to
 * out, for log lines. */
void influx_dest_describe(const struct influx_dest *d, struct buf *out);

/* Whether lagwatch may create the destination on a 404 "database not
 * found" (sinks.influxdb.create_database): v1 only; a v2 bucket is never
 * created. */
bool influx_dest_can_create(const struct influx_dest *d);

/* URLs from base, the node's url without trailing '/' (it may carry
 * userinfo); names are percent-encoded. */
char *influx_api_write_url(const char *base, const struct influx_dest *d);
char *influx_api_query_url(const char *base); /* /query (CREATE DATABASE) */
char *influx_api_ping_url(const char *base);

/* Whether the HTTP status of GET /ping means the node serves: influxd 1.x
 * answers 204 (and only 204 is taken, as before v2 nodes); for v2 any 2xx,
 * as InfluxDB 2 and VictoriaMetrics answer 204 and InfluxDB 3 answers
 * 200. */
bool influx_api_ping_ok(enum influx_api_version api, long status);

/* The request header a node sends with every request: "Authorization:
 * Token <token>" for a v2 node with a token, else NULL. The result holds
 * the secret: overwrite it before freeing. */
char *influx_api_auth_header(const struct cfg_influx_node *cn);

/* Whether sinks.influxdb.username/password go to the node as HTTP basic
 * auth: always for v1; for v2 only without a token (VictoriaMetrics
 * -httpAuth.*, a proxy), since a token replaces them. */
bool influx_api_sends_basic(const struct cfg_influx_node *cn);

/* Length of d's spool record header (a multiple of 4), and the header
 * itself written to out (that many bytes, padding zeroed). d's names must
 * be at most INFLUX_API_NAME_MAX bytes (influx_dest_for_node checks). */
size_t influx_api_rec_head_len(const struct influx_dest *d);
void influx_api_rec_head(const struct influx_dest *d, unsigned char *out);

/* Reads the header of a spool record of len bytes into out (copies).
 * Returns the header length (a multiple of 4), or 0 when rec does not
 * start with a valid header (out is then empty). */
size_t influx_api_rec_parse(const void *rec, size_t len,
                            struct influx_dest *out);

#endif
