/*
 * rwproto: the Prometheus remote write 1.0 request body.
 *
 * Builds a prometheus.WriteRequest (sinks/remote_write.proto; encoded here
 * straight from the caller's strings into the body as each sample is
 * added, no intermediate structures; the unit test reads it back with
 * protobuf-c) of one TimeSeries per sample, as the specification wants it
 * (https://prometheus.io/docs/specs/remote_write_spec/): a __name__ label,
 * label names sorted and unique, names restricted to Prometheus'
 * character set, label values valid UTF-8, and compresses it with snappy's
 * block format. Sending is remote_write.h's job.
 *
 * Strings are copied into the batch, so a caller's labels are only read
 * during the call. Not thread-safe: one batch is used by one thread at a
 * time (the sink holds its lock).
 */
#ifndef SINKS_RWPROTO_H
#define SINKS_RWPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "pipeline/sample.h"

/* A WriteRequest being built: one TimeSeries of one sample per add. */
struct rwproto_batch;

struct rwproto_batch *rwproto_batch_new(void);
void rwproto_batch_free(struct rwproto_batch **bp);
void rwproto_batch_reset(struct rwproto_batch *b);

/* Adds the series name+suffix{labels} with one sample. The name becomes
 * the __name__ label; characters a Prometheus name cannot hold become
 * '_' (':' is kept in the metric name), labels with an empty value or
 * named __name__ are left out, and the labels are sorted by name as the
 * specification requires. Returns 0 when added, 1 when skipped (value
 * not finite, two label names equal once sanitized, a label value that is
 * not UTF-8, a name or value longer than RWPROTO_MAX_STRING, or
 * RWPROTO_MAX_LABELS labels or more), -1 when the batch is full (its
 * encoded body would pass RWPROTO_BATCH_MAX_BYTES; the batch is
 * unchanged). */
int rwproto_batch_add(struct rwproto_batch *b, const char *name,
                      size_t name_len, const char *suffix,
                      const struct label *labels, size_t nlabels, double v,
                      int64_t ts_ms);

size_t rwproto_batch_samples(const struct rwproto_batch *b);
/* Bytes of the encoded body so far (what encode appends). */
size_t rwproto_batch_bytes(const struct rwproto_batch *b);

/* Appends the batch serialized as a prometheus.WriteRequest to out
 * (uncompressed). Returns 0, or -1 when out's cap was reached. */
int rwproto_batch_encode(const struct rwproto_batch *b, struct buf *out);

/* Appends the batch's WriteRequest compressed with snappy's block format
 * to out, in one pass over the body as built (no copy first). Returns 0,
 * or -1 (out's cap, snappy error). */
int rwproto_batch_compress(const struct rwproto_batch *b, struct buf *out);

/* Appends in[0..len) compressed with snappy's block format to out.
 * Returns 0, or -1 (out's cap, snappy error). */
int rwproto_compress(const void *in, size_t len, struct buf *out);

#define RWPROTO_MAX_STRING      65536
#define RWPROTO_MAX_LABELS      256
#define RWPROTO_BATCH_MAX_BYTES (8u << 20)

#endif
