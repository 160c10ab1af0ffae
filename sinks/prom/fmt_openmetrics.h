/*
 * fmt_openmetrics: the OpenMetrics 1.0 text writer of an expo model.
 *
 * A counter family "x_total" is written as family "x" with samples
 * "x_total" (what OpenMetrics requires); a counter whose name lacks the
 * suffix is written as unknown, so that every format gives Prometheus the
 * same sample names. HELP and label values escape backslash, double quote
 * and line feed. The exposition ends with "# EOF".
 */
#ifndef SINKS_FMT_OPENMETRICS_H
#define SINKS_FMT_OPENMETRICS_H

#include "util/buf.h"
#include "prom/expo.h"

/* Appends e to out. 0, or -1 when out's cap was reached. */
int fmt_openmetrics_write(const struct expo *e, struct buf *out);

#endif
