/*
 * trim_fold: the fold groups of one trim cycle (step 6 of trim.h), a
 * self-contained aggregation table. A group is keyed by the series name and
 * its labels without subtask_index, and keeps the max, sum and count of the
 * values folded into it and the latest timestamp. trim_fold_flush() hands
 * every group out as a folded series and empties the table, keeping its
 * memory, so that in steady state nothing is allocated per sample.
 *
 * Ownership: the table copies the key, metric and family of a group; the
 * series it hands out point into the table and are valid during the
 * callback only.
 *
 * Not thread-safe: it belongs to one trim.
 */
#ifndef AGENT_PIPELINE_TRIM_FOLD_H
#define AGENT_PIPELINE_TRIM_FOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/sample.h"

struct trim_fold;

enum trim_fold_added {
    TRIM_FOLD_INTO,    /* folded into an existing group */
    TRIM_FOLD_OPENED,  /* the first sample of a new group */
    TRIM_FOLD_REFUSED, /* a new group was needed and may_open was false */
};

struct trim_fold *trim_fold_new(void);
/* NULL-safe; sets *fp = NULL. */
void trim_fold_free(struct trim_fold **fp);

/* Folds the series (not yet folded; a finite value: the caller skips NaN
 * and Inf) into the group of its name and labels without labels[skip], its
 * subtask_index; opens a new group only when may_open (the caller's
 * max_series budget). */
enum trim_fold_added trim_fold_add(struct trim_fold *f, const struct series *in,
                                   size_t skip, bool may_open);

/* Hands every group to out(ctx, series) as a folded series, adds their
 * number to *emitted and empties the table. Returns -1 if a callback
 * returned non-zero (the others are still handed out), else 0. */
int trim_fold_flush(struct trim_fold *f, series_fn out, void *ctx,
                    uint64_t *emitted);

#endif
