/*
 * series_fold: which aggregates of a series folded over subtasks are kept
 * (trim.fold_subtasks.fields, lagwatch.yml(5), TRIM) and the one expansion
 * of a series into the values every sink writes.
 *
 * A plain series is one value, suffix "". A folded series is one value per
 * configured aggregate, always in the order max, sum, avg:
 *
 *   suffix  field  value
 *   _max    max    series.max
 *   _sum    sum    series.sum
 *   _avg    avg    series.sum / series.count
 *   _subtasks subtasks series.count (always, whatever the set; an integer:
 *                  how many subtask series went in, so a dashboard tells a
 *                  fold missing a failed TaskManager's subtasks from a full
 *                  one, lagwatch(8), FAULTS)
 *
 * /metrics and remote write name a value <series name><suffix>; InfluxDB
 * names the field <field> (or <summary field>_<field>). Because every sink
 * expands through series_fold_values(), the names agree by construction. A
 * folded series of no subtask (count 0) has no value.
 *
 * Pure functions on caller-owned data; any thread.
 */
#ifndef AGENT_PIPELINE_SERIES_FOLD_H
#define AGENT_PIPELINE_SERIES_FOLD_H

#include <stdbool.h>
#include <stddef.h>

/* Only a pointer: config.c, which has its own struct field, includes this
 * header for series_fold_parse. */
struct series;

/* Bits of a fold set. 0 (no field configured) means all three. */
enum series_fold {
    SERIES_FOLD_MAX = 1,
    SERIES_FOLD_SUM = 2,
    SERIES_FOLD_AVG = 4,
};
#define SERIES_FOLD_ALL (SERIES_FOLD_MAX | SERIES_FOLD_SUM | SERIES_FOLD_AVG)
/* The most values one series expands to. */
#define SERIES_FOLD_MAX_VALUES 4

struct series_value {
    const char *suffix; /* "" for a plain series, "_max", "_sum", "_avg" */
    const char *field;  /* NULL for a plain series, "max", "sum", "avg" */
    const char *help;   /* "" or ", maximum over the subtasks", ... */
    double value;       /* may be NaN or +-Inf */
    bool integer;       /* a count (_subtasks): written as an integer */
};

/* The bit of a configured field name ("max", "sum", "avg"); 0 for any
 * other name. */
unsigned series_fold_parse(const char *name);

/* Writes the values of s under the fold set fold (SERIES_FOLD_* bits, 0 =
 * all) into out, in the order above (_subtasks last), and returns how many
 * (0 to SERIES_FOLD_MAX_VALUES). */
size_t series_fold_values(const struct series *s, unsigned fold,
                          struct series_value out[SERIES_FOLD_MAX_VALUES]);

#endif
