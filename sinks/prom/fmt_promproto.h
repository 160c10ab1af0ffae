/*
 * fmt_promproto: the protobuf writer of an expo model, the delimited
 * io.prometheus.client.MetricFamily stream (sinks/metrics.proto) that
 * Prometheus scrapes when it asks for
 * "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
 * encoding=delimited": per family, a varint length then the message.
 * Families are packed one at a time, so the extra memory is that of the
 * largest family.
 */
#ifndef SINKS_FMT_PROMPROTO_H
#define SINKS_FMT_PROMPROTO_H

#include "util/buf.h"
#include "prom/expo.h"

/* Appends e to out. 0, or -1 when out's cap was reached. */
int fmt_promproto_write(const struct expo *e, struct buf *out);

#endif
