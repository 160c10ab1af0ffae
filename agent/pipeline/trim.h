/*
 * trim: turns parsed samples into the series lagwatch stores.
 *
 * For every sample, in this order:
 *   1. labels = the sample's labels plus the extra labels (flink_cluster,
 *      ...); an extra label replaces a sample label of the same name;
 *   2. relabel_configs, with the metric name as "__name__" (a rule may
 *      rename the metric or drop the sample);
 *   3. drop_labels, only when the (possibly renamed) metric name matches
 *      drop_labels_match: dropping host and tm_id from a TaskManager's JVM
 *      series would merge two TaskManagers;
 *   4. job_name is normalized with hashring_normalize(), so a job seen over
 *      REST and through a reporter is one tag value on one ring node;
 *   5. empty values are dropped, labels are sorted by name; a duplicate name
 *      or a name longer than max_label_bytes drops the sample; a value
 *      longer than that is cut to max_label_bytes, ending in '~' and 12 hex
 *      digits of a hash of the whole value (two long values that share the
 *      prefix stay two series; counted in labels_truncated); below 26
 *      bytes of max_label_bytes there is no room for that and the sample
 *      is dropped;
 *   6. when the Flink metric name (series.metric) matches one of
 *      fold_metrics and the series has a subtask_index label, the value is
 *      folded into the group of the same name and other labels (max, sum and
 *      count over finite values; NaN and Inf are skipped and counted);
 *      otherwise the series goes to the callback at once.
 * trim_flush() emits the fold groups (folded = true, no subtask_index) and
 * starts the next cycle.
 *
 * Staging (all-or-nothing targets, lagwatch(8), FAULTS): a sample trimmed
 * with trim_sample_staged() goes into the target's stage instead of to the
 * callback or a fold group; trim_stage_commit() then hands the target's
 * series out and folds its subtasks, trim_stage_discard() forgets them, so
 * a target that fails half way contributes nothing to the cycle and a fold
 * counts only the subtasks of the targets that succeeded. A stage holds
 * trimmed series (smaller than the exposition they came from, whose size
 * the scraper caps) and its direct series count against max_series.
 *
 * Memory is bounded: direct series plus fold groups per cycle are capped by
 * max_series; past the cap samples are dropped and counted. In steady state
 * nothing is allocated per sample.
 *
 * Not thread-safe: one trim per pipeline thread.
 */
#ifndef AGENT_TRIM_H
#define AGENT_TRIM_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pipeline/sample.h"

struct trim;

struct trim_stats {
    uint64_t samples_in;
    uint64_t series_out;            /* direct and folded series emitted */
    uint64_t dropped_relabel;       /* by a keep/drop rule */
    uint64_t dropped_invalid;       /* no name, duplicate label, too long */
    uint64_t folded_in;             /* samples that went into a fold group */
    uint64_t folded_groups;         /* fold groups created */
    uint64_t nonfinite_skipped;     /* NaN/Inf values not folded */
    uint64_t dropped_over_cap;      /* past max_series in a cycle */
    uint64_t labels_truncated;      /* values cut to max_label_bytes */
    uint64_t dropped_scrape_failed; /* staged series discarded */
};

/* The staged series of one target (see above). Owned by the caller, used
 * with one trim. */
struct trim_stage;
struct trim_stage *trim_stage_new(void);
/* NULL-safe; sets *sp = NULL. */
void trim_stage_free(struct trim_stage **sp);

/* Compiles cfg (its regexes and relabel rules; cfg may be freed after).
 * A max_series or max_label_bytes of 0 means the default (1000000, 4096).
 * On error returns NULL with a message in err. out(ctx, series) receives
 * every series; the series and its strings are valid during the call only. */
struct trim *trim_new(const struct cfg_trim *cfg, series_fn out, void *ctx,
                      char *err, size_t errlen);
/* NULL-safe; sets *tp = NULL. */
void trim_free(struct trim **tp);

/* Trims one sample. extra labels (nextra may be 0) are added to the sample's
 * labels. The series carries the sample's timestamp when it has one, else
 * ts_ms. Returns 0 (emitted, folded, or dropped and counted) or -1 when the
 * callback returned non-zero. */
int trim_sample(struct trim *t, const struct sample *s,
                const struct label *extra, size_t nextra, int64_t ts_ms);

/* trim_sample() for a sample whose label names carry an id from their
 * source (shape_src, e.g. the parser): samples of one source with the same
 * nonzero shape must have the same label names in the same order, as
 * promparse_label_shape() guarantees; then trim compares the names of a
 * family's first sample only. shape 0 means unknown (same as
 * trim_sample()). */
int trim_sample_shaped(struct trim *t, const struct sample *s,
                       const void *shape_src, uint64_t shape,
                       const struct label *extra, size_t nextra, int64_t ts_ms);

/* trim_sample_shaped() into stage st (NULL: at once). */
int trim_sample_staged(struct trim *t, struct trim_stage *st,
                       const struct sample *s, const void *shape_src,
                       uint64_t shape, const struct label *extra, size_t nextra,
                       int64_t ts_ms);
/* Hands out the stage's direct series and folds its subtask series, in
 * the order they were trimmed, and empties it. Returns -1 if a callback
 * returned non-zero (the others are still handed out), else 0. */
int trim_stage_commit(struct trim *t, struct trim_stage *st);
/* Forgets the stage's series (counted in dropped_scrape_failed); returns
 * how many. */
uint64_t trim_stage_discard(struct trim *t, struct trim_stage *st);

/* Emits every fold group of this cycle and resets the cycle (fold table
 * and the max_series budget): call it once per scrape cycle even when
 * nothing folds. Returns -1 if a callback returned non-zero (the others are
 * still emitted), else 0. */
int trim_flush(struct trim *t);

void trim_get_stats(const struct trim *t, struct trim_stats *out);
/* trim_stats.labels_truncated alone: cheap enough to ask per sample. */
uint64_t trim_labels_truncated(const struct trim *t);

#endif
