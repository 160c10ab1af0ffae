/*
 * expo: one cycle's /metrics exposition as a model of metric families, the
 * single source every wire format is written from (text 0.0.4 here,
 * OpenMetrics in fmt_openmetrics, protobuf in fmt_promproto).
 *
 * Samples may arrive in any order (Flink series come interleaved across
 * targets); each joins its family, so the encoders write every family's
 * samples together, families in the order they were first seen and samples
 * in arrival order. Strings and label sets are interned (every metric of a
 * Flink task has the same labels), so memory grows with series and
 * distinct strings, not with label repetition. The model is capped in bytes:
 * a sample that does not fit is refused and counted (expo_dropped), never
 * half-stored. Once built the model is read-only and may be encoded from
 * several threads at once.
 *
 * A family is named as in the text format 0.0.4: a counter keeps its
 * "_total" suffix (OpenMetrics strips it from the family name). Every
 * sample of a family carries the family's name.
 */
#ifndef SINKS_EXPO_H
#define SINKS_EXPO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/buf.h"
#include "pipeline/sample.h"

struct expo;

struct expo_family {
    const char *name; /* NUL-terminated, interned */
    const char *help; /* "" when none was given */
    enum metric_type type;
    uint32_t first; /* index into the sample array, EXPO_NONE when empty */
    uint32_t last;
    size_t nsamples;
};

struct expo_sample {
    const struct label *labels; /* strings NUL-terminated, interned */
    uint32_t nlabels;
    uint32_t next; /* the family's next sample, EXPO_NONE at the end */
    double value;
};

#define EXPO_NONE UINT32_MAX

/* max_bytes caps the model (0 = unlimited). */
struct expo *expo_new(size_t max_bytes);
void expo_free(struct expo **ep);

/* What a model holds, to size the next one like it. */
struct expo_size {
    size_t strs, lsets, samples, fams;
};
void expo_size_of(const struct expo *e, struct expo_size *out);

/* Sizes the tables and arrays of an empty model for what another one held
 * (the previous cycle's): a cycle then rebuilds its model without growing
 * and rehashing them step by step. Capacity only, no cap is charged. */
void expo_presize(struct expo *e, const struct expo_size *like);

/* Changes the cap, e.g. lifts it (0) for the few self-metrics added after a
 * cycle's series so that those always fit. */
void expo_set_max_bytes(struct expo *e, size_t max_bytes);

/* Declares a family (type "counter" or "gauge"; anything else, summary and
 * histogram included, is untyped: the model holds single-valued samples).
 * Declaring it again keeps the first type and help. Returns 0, -1 when it
 * did not fit. Same call style as fmt_prom_family. */
int expo_family(struct expo *e, const char *name, const char *type,
                const char *help);

/* Adds a sample to family name, declared before (or, if not, created
 * untyped without help). labels are copied. Returns 0, -1 when the sample
 * did not fit (counted in expo_dropped). Same call style as
 * fmt_prom_sample. */
int expo_sample(struct expo *e, const char *name, const struct label *labels,
                size_t nlabels, double v);

/* An unlabelled counter or gauge family with its one sample: most of
 * lagwatch's own lagwatch_* metrics. Returns as expo_sample. */
int expo_counter(struct expo *e, const char *name, const char *help, double v);
int expo_gauge(struct expo *e, const char *name, const char *help, double v);

/* A struct label of two NUL-terminated strings, for self-metrics. */
#define EXPO_LABEL(n, v)                                                       \
    {                                                                          \
        (n), (v), (uint32_t)strlen(n), (uint32_t)strlen(v)                     \
    }

/* Both in one call, with lengths (name and help need no NUL). */
int expo_add(struct expo *e, const char *name, size_t name_len,
             enum metric_type type, const char *help, size_t help_len,
             const struct label *labels, size_t nlabels, double v);

/* The index of family name, or EXPO_NO_FAMILY when it was not declared:
 * lets a caller build help text only for a new family. */
#define EXPO_NO_FAMILY SIZE_MAX
size_t expo_family_find(struct expo *e, const char *name, size_t name_len);

/* The index of family name, declared as by expo_add when new;
 * EXPO_NO_FAMILY when it did not fit. */
size_t expo_family_index(struct expo *e, const char *name, size_t name_len,
                         enum metric_type type, const char *help,
                         size_t help_len);

/* Adds nv samples, sample i to family fam[i] (indices from
 * expo_family_index) with value v[i], all with the same labels, which are
 * interned once: the values of a folded series. Returns 0, -1 when they
 * did not fit (each refused one counted in expo_dropped). */
int expo_add_values(struct expo *e, const size_t *fam, const double *v,
                    size_t nv, const struct label *labels, size_t nlabels);

/* Samples (and families) refused because the cap was reached. */
uint64_t expo_dropped(const struct expo *e);
/* Bytes the model accounts against its cap. */
size_t expo_bytes(const struct expo *e);

const struct expo_family *expo_families(const struct expo *e, size_t *n);
const struct expo_sample *expo_samples(const struct expo *e, size_t *n);

/* The Prometheus type name of t ("counter", ..., "untyped"). */
const char *expo_type_name(enum metric_type t);

/* ---- wire formats ---- */

enum expo_format {
    EXPO_TEXT = 0,    /* text/plain; version=0.0.4 */
    EXPO_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
    EXPO_PROTOBUF,    /* delimited io.prometheus.client.MetricFamily */
    EXPO_FORMAT_N_,
};

/* Picks the format for an Accept header the way a Prometheus client
 * library does: the supported media range with the highest q wins, ties go
 * to the earlier one; text 0.0.4 when accept is NULL, empty, or names
 * nothing supported. */
enum expo_format expo_negotiate(const char *accept);

/* The Content-Type to answer with (a static string). */
const char *expo_content_type(enum expo_format f);

/* Appends e in format f to out. 0, or -1 when out's cap was reached. */
int expo_encode(const struct expo *e, enum expo_format f, struct buf *out);

/* The text 0.0.4 writer (fmt_prom's HELP, TYPE and sample lines). */
int expo_write_text(const struct expo *e, struct buf *out);

#endif
