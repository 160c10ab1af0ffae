/*
 * fmt_prom: Prometheus text exposition (0.0.4) of trimmed series.
 *
 * A series folded over subtasks becomes one sample per configured
 * aggregate, named <name>_max, <name>_sum and <name>_avg
 * (series_fold_values).
 */
#ifndef SINKS_FMT_PROM_H
#define SINKS_FMT_PROM_H

#include <stdbool.h>

#include "util/buf.h"
#include "pipeline/sample.h"

struct fmt_prom_opts {
    unsigned fold;   /* SERIES_FOLD_* bits, 0 = all three */
    bool timestamps; /* append the series timestamp in ms */
};

/* Appends the sample line(s) of s to out. Returns 0, or -1 when out's cap
 * was reached. */
int fmt_prom_series(struct buf *out, const struct series *s,
                    const struct fmt_prom_opts *o);

/* Appends a float the way Prometheus writes it (NaN, +Inf, -Inf, shortest
 * round-trip decimal otherwise). */
int fmt_prom_value(struct buf *out, double v);

/* Appends "# HELP" (escaped) and "# TYPE" lines of a family. */
int fmt_prom_family(struct buf *out, const char *name, const char *type,
                    const char *help);

/* Appends one sample line: name{labels} value. */
int fmt_prom_sample(struct buf *out, const char *name,
                    const struct label *labels, size_t nlabels, double v);

/* Appends {name="value",...} with values escaped (nothing for n == 0):
 * the label block of the text format and of OpenMetrics alike. */
int fmt_prom_labels(struct buf *out, const struct label *labels, size_t n);

/* Appends a label value with \\, \" and \n escaped. */
int fmt_prom_label_value(struct buf *out, const char *s, size_t len);

#endif
