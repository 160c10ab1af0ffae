/*
 * gzip: whole bodies encoded as gzip (RFC 1952, one member) in one shot with
 * libdeflate and a reusable compressor, for HTTP responses (/metrics,
 * lagwatch(8), HTTP ENDPOINTS) and request bodies (the InfluxDB sink), and
 * decoded (the proxy's gzip /write bodies, lagwatch(8), PROXY).
 * Level 1: exposition text and line protocol are very repetitive, so the
 * fastest level already gets most of the ratio at a fraction of the CPU.
 *
 * Ownership: the caller owns the output buffer; its cap (struct buf max)
 * bounds the encoding, which fails rather than pass it.
 *
 * Threads: a struct gzip is used by one thread at a time; make one per
 * thread that encodes.
 */
#ifndef AGENT_UTIL_GZIP_H
#define AGENT_UTIL_GZIP_H

#include <stddef.h>

#include "util/buf.h"

struct gzip;

/* NULL when libdeflate cannot set up a compressor (out of memory). */
struct gzip *gzip_new(void);
/* NULL-safe; sets *gzp = NULL. */
void gzip_free(struct gzip **gzp);

/* Replaces the contents of out with the gzip encoding of data[0..len).
 * Returns 0, or -1 when compression fails or the worst-case encoding would pass
 * out's cap; out is then empty. */
int gzip_encode(struct gzip *gz, const void *data, size_t len, struct buf *out);

/* Replaces the contents of out with the decoding of the gzip stream
 * data[0..len) (a request body with Content-Encoding: gzip). Returns 0;
 * -1 when the stream is corrupt or truncated, -2 when the decoded bytes
 * would pass out's cap (a gzip bomb stops there); out is then empty. Any
 * thread. */
int gzip_decode(const void *data, size_t len, struct buf *out);

#endif
