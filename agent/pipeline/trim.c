#include "pipeline/trim.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashring/hashring.h"
#include "pipeline/labelcut.h"
#include "pipeline/labelset.h"
#include "pipeline/relabel.h"
#include "pipeline/trim_fold.h"
#include "util/buf.h"
#include "util/bytes_eq.h"
#include "util/xalloc.h"

#define DEFAULT_MAX_SERIES      1000000u
#define DEFAULT_MAX_LABEL_BYTES 4096u
#define DEFAULT_DROP_MATCH      "flink_taskmanager_job_.*"
/* Names longer than this are matched every time instead of cached. */
#define CACHE_MAX 512
/* Label-name sequences remembered (direct-mapped, power of two) and the
 * most labels (sample plus extra) a remembered sequence may have. */
#define PLAN_SLOTS      16
#define PLAN_MAX_LABELS 32

/* What step 5 of trim_sample() does to a sequence of label names, worked
 * out once: the exposition writes the labels of every series of a family
 * in the same order, so sorting, overriding and dropping by name are the
 * same for all of them and only the values need looking at per sample. */
enum plan_kind {
    PK_PLAIN = 0,
    PK_JOB,     /* job_name: normalized */
    PK_SUBTASK, /* subtask_index */
};

struct plan {
    bool valid;
    bool drop;    /* built with drop_labels applied */
    uint32_t nin; /* sample labels */
    uint32_t nextra;
    uint32_t nout;                      /* labels kept, at most nin + nextra */
    uint32_t name_len[PLAN_MAX_LABELS]; /* of the input names, in order */
    uint32_t name_off[PLAN_MAX_LABELS]; /* into names */
    uint8_t order[PLAN_MAX_LABELS];     /* input index, in sorted order */
    uint8_t kind[PLAN_MAX_LABELS];      /* enum plan_kind, by order */
    char *names;
    size_t names_cap;
    /* The promparse_label_shape() id (and its parser) of the last sample
     * that matched the plan: a sample with the same id has the same names,
     * so only the extra labels are compared. shape 0: none. */
    const void *shape_src;
    uint64_t shape;
};

/* Samples of one family arrive one after the other, so the last answer of
 * a regex is nearly always the next one. */
struct match_cache {
    char s[CACHE_MAX];
    size_t len;
    bool valid;
    bool result;
};

struct trim {
    series_fn out;
    void *ctx;
    struct relabel *rl; /* NULL without rules: no __name__ work at all */
    struct labelset *ls;
    struct relabel_regex *drop_re;
    struct match_cache drop_cache;
    char **drop;
    size_t *drop_len;
    size_t ndrop;
    struct relabel_regex **fold_re;
    size_t nfold;
    struct match_cache fold_cache;
    uint64_t max_series;
    uint64_t max_label_bytes;
    uint64_t cycle_series; /* direct series + fold groups this cycle */

    /* HELP text of the last family and the metric name taken from it. */
    struct buf help;
    struct buf metric;
    bool help_valid;

    struct trim_fold *fold;

    /* The working label array when there are no relabel rules (the
     * labelset is then only the arena), and the sort keys. */
    struct label *work;
    size_t work_cap;
    uint64_t *sort_keys;
    size_t sort_cap;
    /* The last job_name seen and its normalized form: one job's samples
     * come in runs. */
    char *job_raw;
    size_t job_raw_len;
    size_t job_raw_cap;
    char *job_norm;
    size_t job_norm_len;
    bool job_valid;

    struct plan plans[PLAN_SLOTS];

    /* Values cut to max_label_bytes for the sample being trimmed: the
     * bytes, and which label points where (fixed up once all are cut, as
     * the buffer may move). */
    struct buf trunc;
    struct trunc_fix {
        size_t label;
        size_t off;
    } * trunc_fix;
    size_t ntrunc;
    size_t trunc_cap;

    /* The stage of the sample being trimmed (trim_sample_staged()), or
     * NULL: emit at once. */
    struct trim_stage *stage;
    /* Labels of a staged series being committed. */
    struct label *replay;
    size_t replay_cap;

    struct trim_stats st;
};

/* One target's trimmed series of this cycle, kept until the target is
 * known to have succeeded. Records in rec, each a struct stage_rec then
 * name, metric and family (NUL-terminated) and per label its two lengths
 * (uint32_t) and name and value (NUL-terminated). */
struct trim_stage {
    struct buf rec;
    uint64_t nrec;
    uint64_t direct; /* direct series counted in the cycle's budget */
};

struct stage_rec {
    int64_t ts_ms;
    double value;
    uint32_t name_len, metric_len, family_len, nlabels;
    int32_t sub; /* index of subtask_index (to fold), or -1 */
    uint32_t type;
};

/* ===================== construction ===================== */

struct trim *trim_new(const struct cfg_trim *cfg, series_fn out, void *ctx,
                      char *err, size_t errlen)
{
    struct trim *t = xcalloc(1, sizeof(*t));
    t->out = out;
    t->ctx = ctx;
    t->ls = labelset_new();
    t->fold = trim_fold_new();
    buf_init(&t->help, 0);
    buf_init(&t->metric, 0);
    buf_init(&t->trunc, 0);
    t->max_series = cfg->max_series ? cfg->max_series : DEFAULT_MAX_SERIES;
    t->max_label_bytes =
        cfg->max_label_bytes ? cfg->max_label_bytes : DEFAULT_MAX_LABEL_BYTES;
    if (cfg->n_relabel) {
        char msg[512];
        t->rl = relabel_new(cfg->relabel, cfg->n_relabel, msg, sizeof(msg));
        if (!t->rl) {
            snprintf(err, errlen, "trim.relabel_configs: %s", msg);
            goto fail;
        }
    }
    const char *dm =
        cfg->drop_labels_match ? cfg->drop_labels_match : DEFAULT_DROP_MATCH;
    char msg[512];
    t->drop_re = relabel_regex_new(dm, msg, sizeof(msg));
    if (!t->drop_re) {
        snprintf(err, errlen, "trim.drop_labels_match: %s", msg);
        goto fail;
    }
    t->ndrop = cfg->n_drop_labels;
    t->drop = xcalloc(t->ndrop ? t->ndrop : 1, sizeof(*t->drop));
    t->drop_len = xcalloc(t->ndrop ? t->ndrop : 1, sizeof(*t->drop_len));
    for (size_t i = 0; i < t->ndrop; i++) {
        t->drop[i] = xstrdup(cfg->drop_labels[i]);
        t->drop_len[i] = strlen(t->drop[i]);
    }
    t->fold_re = xcalloc(cfg->n_fold_metrics ? cfg->n_fold_metrics : 1,
                         sizeof(*t->fold_re));
    for (size_t i = 0; i < cfg->n_fold_metrics; i++) {
        t->fold_re[i] =
            relabel_regex_new(cfg->fold_metrics[i], msg, sizeof(msg));
        if (!t->fold_re[i]) {
            snprintf(err, errlen, "trim.fold_subtasks.metrics: %s", msg);
            goto fail;
        }
        t->nfold = i + 1;
    }
    return t;
fail:
    trim_free(&t);
    return NULL;
}

void trim_free(struct trim **tp)
{
    if (!tp || !*tp)
        return;
    struct trim *t = *tp;
    relabel_free(&t->rl);
    labelset_free(&t->ls);
    relabel_regex_free(&t->drop_re);
    for (size_t i = 0; i < t->ndrop; i++)
        free(t->drop[i]);
    free(t->drop);
    free(t->drop_len);
    for (size_t i = 0; i < t->nfold; i++)
        relabel_regex_free(&t->fold_re[i]);
    free(t->fold_re);
    buf_release(&t->help);
    buf_release(&t->metric);
    trim_fold_free(&t->fold);
    free(t->work);
    free(t->sort_keys);
    free(t->job_raw);
    free(t->job_norm);
    for (size_t i = 0; i < PLAN_SLOTS; i++)
        free(t->plans[i].names);
    buf_release(&t->trunc);
    free(t->trunc_fix);
    free(t->replay);
    free(t);
    *tp = NULL;
}

void trim_get_stats(const struct trim *t, struct trim_stats *out)
{
    *out = t->st;
}

uint64_t trim_labels_truncated(const struct trim *t)
{
    return t->st.labels_truncated;
}

/* ===================== per-sample helpers ===================== */

static bool cached_match(struct match_cache *c, const char *s, size_t n,
                         struct relabel_regex *const *re, size_t nre)
{
    if (c->valid && c->len == n && memcmp(c->s, s, n) == 0)
        return c->result;
    bool r = false;
    for (size_t i = 0; i < nre && !r; i++)
        r = relabel_regex_match(re[i], s, n);
    if (n <= CACHE_MAX) {
        memcpy(c->s, s, n);
        c->len = n;
        c->valid = true;
        c->result = r;
    }
    return r;
}

static inline bool name_is(const struct label *l, const char *name, size_t len)
{
    return l->name_len == len && bytes_eq(l->name, name, len);
}

static bool is_dropped(const struct trim *t, const struct label *l)
{
    for (size_t i = 0; i < t->ndrop; i++)
        if (l->name_len == t->drop_len[i] &&
            bytes_eq(l->name, t->drop[i], l->name_len))
            return true;
    return false;
}

static int name_cmp(const struct label *a, const struct label *b)
{
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);
    if (c)
        return c;
    return (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

/* The first 8 bytes of a name as a big-endian integer, zero-padded: keys
 * order like the names (a name holds no NUL), and most names differ in
 * them, so the sort compares integers. */
static inline uint64_t prefix_key(const struct label *l)
{
    uint64_t k = 0;
    if (l->name_len >= 8) {
        memcpy(&k, l->name, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        k = __builtin_bswap64(k);
#endif
        return k;
    }
    for (uint32_t i = 0; i < 8; i++)
        k = (k << 8) | (i < l->name_len ? (unsigned char)l->name[i] : 0);
    return k;
}

/* Insertion sort: about a dozen labels. Returns -1 on a duplicate name. */
static int sort_labels(struct trim *t, struct label *v, size_t n)
{
    if (n > t->sort_cap)
        t->sort_keys =
            xgrow(t->sort_keys, &t->sort_cap, n, sizeof(*t->sort_keys));
    uint64_t *k = t->sort_keys;
    for (size_t i = 0; i < n; i++)
        k[i] = prefix_key(&v[i]);
    for (size_t i = 1; i < n; i++) {
        struct label x = v[i];
        uint64_t xk = k[i];
        size_t j = i;
        while (j > 0) {
            int c;
            if (k[j - 1] != xk)
                c = k[j - 1] < xk ? -1 : 1;
            else
                c = name_cmp(&v[j - 1], &x);
            if (c == 0)
                return -1;
            if (c < 0)
                break;
            v[j] = v[j - 1];
            k[j] = k[j - 1];
            j--;
        }
        v[j] = x;
        k[j] = xk;
    }
    return 0;
}

/* job_name normalized as the ring does, from a one-entry cache. */
static void normalize_job(struct trim *t, struct label *l)
{
    if (!(t->job_valid && t->job_raw_len == l->value_len &&
          memcmp(t->job_raw, l->value, l->value_len) == 0)) {
        size_t n = l->value_len;
        if (n + 1 > t->job_raw_cap)
            t->job_raw = xgrow(t->job_raw, &t->job_raw_cap, n + 1, 1);
        memcpy(t->job_raw, l->value, n);
        t->job_raw_len = n;
        free(t->job_norm);
        t->job_norm = xcheck(
            hashring_normalize_dup(l->value, n, &t->job_norm_len), n + 1);
        t->job_valid = true;
    }
    l->value = t->job_norm;
    l->value_len = (uint32_t)t->job_norm_len;
}

static void store_help(struct trim *t, const char *help, size_t hlen,
                       size_t mlen)
{
    /* Unlimited buffers: these cannot fail (xalloc aborts on out of
     * memory). */
    buf_reset(&t->help);
    (void)buf_add(&t->help, help, hlen);
    buf_reset(&t->metric);
    (void)buf_add(&t->metric, help, mlen);
    t->help_valid = true;
}

/* The Flink metric name: from HELP "<metric> (scope: <scope>)" when the
 * reporter wrote one, else the last '_'-separated part of the family. */
static const char *metric_of(struct trim *t, const struct sample *s,
                             size_t *len)
{
    if (s->help && s->help_len) {
        if (t->help_valid && t->help.len == s->help_len &&
            memcmp(t->help.data, s->help, s->help_len) == 0) {
            *len = t->metric.len;
            return t->metric.data;
        }
        static const char scope[] = " (scope: ";
        const char *p = memmem(s->help, s->help_len, scope, sizeof(scope) - 1);
        if (p && p > s->help) {
            store_help(t, s->help, s->help_len, (size_t)(p - s->help));
            *len = t->metric.len;
            return t->metric.data;
        }
    }
    const char *f = s->family ? s->family : s->name;
    size_t flen = s->family ? s->family_len : s->name_len;
    const char *u = memrchr(f, '_', flen);
    if (!u || (size_t)(u - f) + 1 == flen) {
        *len = flen;
        return f;
    }
    *len = flen - (size_t)(u + 1 - f);
    return u + 1;
}

/* ===================== label plans ===================== */

static inline const struct label *
input_label(const struct sample *s, const struct label *extra, size_t i)
{
    return i < s->nlabels ? &s->labels[i] : &extra[i - s->nlabels];
}

static size_t plan_slot(const struct sample *s, const struct label *extra,
                        size_t nextra, bool drop)
{
    size_t nin = s->nlabels + nextra;
    size_t h = nin * 31 + (drop ? 7 : 0);
    if (nin) {
        h += input_label(s, extra, 0)->name_len * 5;
        h += input_label(s, extra, nin - 1)->name_len * 3;
    }
    return h & (PLAN_SLOTS - 1);
}

/* Whether the plan was built for these extra names and drop answer, and
 * as many sample labels. */
static bool plan_frame_matches(const struct plan *pl, const struct sample *s,
                               const struct label *extra, size_t nextra,
                               bool drop)
{
    if (!pl->valid || pl->drop != drop || pl->nin != s->nlabels ||
        pl->nextra != nextra)
        return false;
    for (size_t e = 0; e < nextra; e++) {
        const struct label *l = &extra[e];
        size_t i = s->nlabels + e;
        if (l->name_len != pl->name_len[i] ||
            !bytes_eq(l->name, pl->names + pl->name_off[i], l->name_len))
            return false;
    }
    return true;
}

static bool plan_matches(const struct plan *pl, const struct sample *s,
                         const struct label *extra, size_t nextra, bool drop)
{
    if (!plan_frame_matches(pl, s, extra, nextra, drop))
        return false;
    for (size_t i = 0; i < s->nlabels; i++) {
        const struct label *l = &s->labels[i];
        if (l->name_len != pl->name_len[i] ||
            !bytes_eq(l->name, pl->names + pl->name_off[i], l->name_len))
            return false;
    }
    return true;
}

static inline bool overridden(const struct label *l, const struct label *extra,
                              size_t nextra);
static int stage_put(struct trim_stage *st, const struct series *se, long sub);

/* Works out the plan of the sample's label names into pl. It is left
 * invalid when the names need the general path: too many, a kept name
 * over max_label_bytes or a repeated kept name (those depend on which
 * values are empty). */
static void plan_build(struct trim *t, struct plan *pl, const struct sample *s,
                       const struct label *extra, size_t nextra, bool drop)
{
    size_t nin = s->nlabels + nextra;
    pl->valid = false;
    if (nin > PLAN_MAX_LABELS)
        return;
    size_t need = 0;
    for (size_t i = 0; i < nin; i++)
        need += input_label(s, extra, i)->name_len;
    if (need + 1 > pl->names_cap)
        pl->names = xgrow(pl->names, &pl->names_cap, need + 1, 1);
    size_t off = 0, nout = 0;
    for (size_t i = 0; i < nin; i++) {
        const struct label *l = input_label(s, extra, i);
        pl->name_len[i] = l->name_len;
        pl->name_off[i] = (uint32_t)off;
        memcpy(pl->names + off, l->name, l->name_len);
        off += l->name_len;
        if (i < s->nlabels && overridden(l, extra, nextra))
            continue;
        if (drop && is_dropped(t, l))
            continue;
        if (l->name_len > t->max_label_bytes)
            return;
        /* insertion by name */
        size_t j = nout;
        while (j > 0) {
            int c = name_cmp(input_label(s, extra, pl->order[j - 1]), l);
            if (c == 0)
                return;
            if (c < 0)
                break;
            pl->order[j] = pl->order[j - 1];
            j--;
        }
        pl->order[j] = (uint8_t)i;
        nout++;
    }
    for (size_t j = 0; j < nout; j++) {
        const struct label *l = input_label(s, extra, pl->order[j]);
        pl->kind[j] = name_is(l, "job_name", 8)         ? PK_JOB
                      : name_is(l, "subtask_index", 13) ? PK_SUBTASK
                                                        : PK_PLAIN;
    }
    pl->nin = (uint32_t)s->nlabels;
    pl->nextra = (uint32_t)nextra;
    pl->nout = (uint32_t)nout;
    pl->drop = drop;
    pl->valid = true;
}

/* Cuts label v[o]'s value to max_label_bytes: a prefix, '~' and a hash of
 * the full value, so that two long values sharing the prefix stay two
 * series. The bytes go to t->trunc; trunc_fixup() points the labels at
 * them. Returns -1 when max_label_bytes has no room for it. */
static int truncate_value(struct trim *t, struct label *v, size_t o)
{
    struct label *l = &v[o];
    size_t max = (size_t)t->max_label_bytes;
    if (max < LABELCUT_MIN)
        return -1;
    if (t->ntrunc == t->trunc_cap)
        t->trunc_fix = xgrow(t->trunc_fix, &t->trunc_cap, t->ntrunc + 1,
                             sizeof(*t->trunc_fix));
    size_t off = t->trunc.len;
    /* Unlimited buffer: cannot fail (xalloc aborts on out of memory). */
    (void)buf_reserve(&t->trunc, max + 1);
    size_t n = labelcut(l->value, l->value_len, max, t->trunc.data + off);
    t->trunc.len = off + n + 1;
    t->trunc_fix[t->ntrunc].label = o;
    t->trunc_fix[t->ntrunc].off = off;
    t->ntrunc++;
    l->value_len = (uint32_t)n;
    l->value = NULL; /* set by trunc_fixup() */
    return 0;
}

static void trunc_fixup(struct trim *t, struct label *v)
{
    for (size_t i = 0; i < t->ntrunc; i++)
        v[t->trunc_fix[i].label].value = t->trunc.data + t->trunc_fix[i].off;
    t->st.labels_truncated += t->ntrunc;
}

/* Step 5 by the plan: the kept labels with a value, in name order, into
 * t->work. Returns their number, or -1 when a value is too long; *sub is
 * the index of subtask_index or -1. */
static long plan_apply(struct trim *t, const struct plan *pl,
                       const struct sample *s, const struct label *extra,
                       long *sub)
{
    struct label *v = t->work;
    size_t o = 0;
    *sub = -1;
    for (size_t j = 0; j < pl->nout; j++) {
        const struct label *l = input_label(s, extra, pl->order[j]);
        if (l->value_len == 0)
            continue;
        /* copied straight to v: a copy on the stack, written in parts
         * and read whole, stalls store forwarding */
        struct label *d = &v[o];
        *d = *l;
        if (pl->kind[j] == PK_JOB)
            normalize_job(t, d);
        else if (pl->kind[j] == PK_SUBTASK)
            *sub = (long)o;
        if (d->value_len > t->max_label_bytes && truncate_value(t, v, o) < 0)
            return -1;
        o++;
    }
    trunc_fixup(t, v);
    return (long)o;
}

/* ===================== folding ===================== */

static int fold_add(struct trim *t, const struct series *se, size_t subtask)
{
    if (!isfinite(se->value)) {
        t->st.nonfinite_skipped++;
        return 0;
    }
    switch (
        trim_fold_add(t->fold, se, subtask, t->cycle_series < t->max_series)) {
    case TRIM_FOLD_OPENED:
        t->cycle_series++;
        t->st.folded_groups++;
        t->st.folded_in++;
        break;
    case TRIM_FOLD_INTO:
        t->st.folded_in++;
        break;
    case TRIM_FOLD_REFUSED:
        t->st.dropped_over_cap++;
        break;
    }
    return 0;
}

/* ===================== the pipeline step ===================== */

static inline bool overridden(const struct label *l, const struct label *extra,
                              size_t nextra)
{
    for (size_t e = 0; e < nextra; e++)
        if (name_is(l, extra[e].name, extra[e].name_len))
            return true;
    return false;
}

/* Step 5 the general way on v[0..*n): returns -1 when the sample is
 * invalid; *sub is the index of subtask_index or -1. */
static int labels_general(struct trim *t, struct label *v, size_t *n, bool drop,
                          long *sub)
{
    size_t o = 0;
    bool has_subtask = false;
    for (size_t i = 0; i < *n; i++) {
        struct label l = v[i];
        if (l.value_len == 0 || (drop && is_dropped(t, &l)))
            continue;
        if (name_is(&l, "job_name", 8))
            normalize_job(t, &l);
        else if (name_is(&l, "subtask_index", 13))
            has_subtask = true;
        if (l.name_len > t->max_label_bytes)
            return -1;
        v[o] = l;
        if (l.value_len > t->max_label_bytes && truncate_value(t, v, o) < 0)
            return -1;
        o++;
    }
    /* before sorting: the fix-ups name positions */
    trunc_fixup(t, v);
    *n = o;
    if (sort_labels(t, v, o) < 0)
        return -1;
    *sub = -1;
    if (has_subtask) {
        size_t i = 0;
        while (!name_is(&v[i], "subtask_index", 13))
            i++;
        *sub = (long)i;
    }
    return 0;
}

static int trim_one(struct trim *t, const struct sample *s,
                    const void *shape_src, uint64_t shape,
                    const struct label *extra, size_t nextra, int64_t ts_ms);

int trim_sample(struct trim *t, const struct sample *s,
                const struct label *extra, size_t nextra, int64_t ts_ms)
{
    return trim_sample_shaped(t, s, NULL, 0, extra, nextra, ts_ms);
}

int trim_sample_shaped(struct trim *t, const struct sample *s,
                       const void *shape_src, uint64_t shape,
                       const struct label *extra, size_t nextra, int64_t ts_ms)
{
    return trim_sample_staged(t, NULL, s, shape_src, shape, extra, nextra,
                              ts_ms);
}

int trim_sample_staged(struct trim *t, struct trim_stage *stage,
                       const struct sample *s, const void *shape_src,
                       uint64_t shape, const struct label *extra, size_t nextra,
                       int64_t ts_ms)
{
    t->stage = stage;
    int rc = trim_one(t, s, shape_src, shape, extra, nextra, ts_ms);
    t->stage = NULL;
    return rc;
}

static int trim_one(struct trim *t, const struct sample *s,
                    const void *shape_src, uint64_t shape,
                    const struct label *extra, size_t nextra, int64_t ts_ms)
{
    t->st.samples_in++;
    t->ntrunc = 0;
    buf_reset(&t->trunc);
    const char *name = s->name;
    size_t name_len = s->name_len;
    struct label *v;
    size_t n;
    long sub = -1;
    if (t->rl) {
        struct labelset *ls = t->ls;
        labelset_clear(ls);
        for (size_t i = 0; i < s->nlabels; i++) {
            const struct label *l = &s->labels[i];
            if (!overridden(l, extra, nextra))
                labelset_push(ls, l->name, l->name_len, l->value, l->value_len);
        }
        for (size_t e = 0; e < nextra; e++)
            labelset_push(ls, extra[e].name, extra[e].name_len, extra[e].value,
                          extra[e].value_len);
        labelset_push(ls, "__name__", 8, s->name, s->name_len);
        if (relabel_apply(t->rl, ls)) {
            t->st.dropped_relabel++;
            return 0;
        }
        long i = labelset_find(ls, "__name__", 8);
        if (i < 0) {
            t->st.dropped_invalid++;
            return 0;
        }
        v = labelset_items(ls, &n);
        name = v[i].value;
        name_len = v[i].value_len;
        labelset_del_at(ls, (size_t)i);
        n--;
    } else {
        size_t need = s->nlabels + nextra;
        if (need > t->work_cap)
            t->work = xgrow(t->work, &t->work_cap, need, sizeof(*t->work));
        v = t->work;
        n = 0;
        if (name_len > t->max_label_bytes) {
            t->st.dropped_invalid++;
            return 0;
        }
        bool drop = t->ndrop && cached_match(&t->drop_cache, name, name_len,
                                             &t->drop_re, 1);
        struct plan *pl = &t->plans[plan_slot(s, extra, nextra, drop)];
        bool known = shape && pl->shape == shape &&
                     pl->shape_src == shape_src &&
                     plan_frame_matches(pl, s, extra, nextra, drop);
        if (!known) {
            if (!plan_matches(pl, s, extra, nextra, drop))
                plan_build(t, pl, s, extra, nextra, drop);
            pl->shape_src = shape_src;
            pl->shape = shape;
        }
        if (pl->valid) {
            long k = plan_apply(t, pl, s, extra, &sub);
            if (k < 0) {
                t->st.dropped_invalid++;
                return 0;
            }
            n = (size_t)k;
            goto labels_done;
        }
        for (size_t i = 0; i < s->nlabels; i++)
            if (!overridden(&s->labels[i], extra, nextra))
                v[n++] = s->labels[i];
        for (size_t e = 0; e < nextra; e++)
            v[n++] = extra[e];
        if (labels_general(t, v, &n, drop, &sub) < 0) {
            t->st.dropped_invalid++;
            return 0;
        }
        goto labels_done;
    }
    if (name_len > t->max_label_bytes) {
        t->st.dropped_invalid++;
        return 0;
    }
    bool drop = t->ndrop &&
                cached_match(&t->drop_cache, name, name_len, &t->drop_re, 1);
    if (labels_general(t, v, &n, drop, &sub) < 0) {
        t->st.dropped_invalid++;
        return 0;
    }
labels_done:;
    size_t metric_len;
    const char *metric = metric_of(t, s, &metric_len);
    int64_t ts = s->has_ts ? s->ts_ms : ts_ms;

    struct series se = {
        .name = name,
        .name_len = name_len,
        .metric = metric,
        .metric_len = metric_len,
        .family = s->family ? s->family : s->name,
        .family_len = s->family ? s->family_len : s->name_len,
        .type = s->type,
        .labels = v,
        .nlabels = n,
        .ts_ms = ts,
        .folded = false,
        .value = s->value,
    };
    if (sub >= 0 && t->nfold &&
        cached_match(&t->fold_cache, metric, metric_len, t->fold_re,
                     t->nfold)) {
        if (t->stage)
            return stage_put(t->stage, &se, sub);
        return fold_add(t, &se, (size_t)sub);
    }

    if (t->cycle_series >= t->max_series) {
        t->st.dropped_over_cap++;
        return 0;
    }
    t->cycle_series++;
    if (t->stage) {
        t->stage->direct++;
        return stage_put(t->stage, &se, -1);
    }
    t->st.series_out++;
    return t->out(t->ctx, &se) ? -1 : 0;
}

/* ===================== staging ===================== */

struct trim_stage *trim_stage_new(void)
{
    struct trim_stage *st = xcalloc(1, sizeof(*st));
    buf_init(&st->rec, 0);
    return st;
}

void trim_stage_free(struct trim_stage **sp)
{
    if (!sp || !*sp)
        return;
    buf_release(&(*sp)->rec);
    free(*sp);
    *sp = NULL;
}

static inline char *put_str(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    p[n] = '\0';
    return p + n + 1;
}

/* One record, written in place after a single reservation: this runs for
 * every sample of a reporter. */
static int stage_put(struct trim_stage *st, const struct series *se, long sub)
{
    size_t need = sizeof(struct stage_rec) + se->name_len + se->metric_len +
                  se->family_len + 3;
    for (size_t i = 0; i < se->nlabels; i++)
        need += 2 * sizeof(uint32_t) + se->labels[i].name_len +
                se->labels[i].value_len + 2;
    struct buf *b = &st->rec;
    /* Unlimited buffer: cannot fail (xalloc aborts on out of memory). */
    (void)buf_reserve(b, need);
    char *p = b->data + b->len;
    struct stage_rec h = {
        .ts_ms = se->ts_ms,
        .value = se->value,
        .name_len = (uint32_t)se->name_len,
        .metric_len = (uint32_t)se->metric_len,
        .family_len = (uint32_t)se->family_len,
        .nlabels = (uint32_t)se->nlabels,
        .sub = (int32_t)sub,
        .type = (uint32_t)se->type,
    };
    memcpy(p, &h, sizeof(h));
    p += sizeof(h);
    p = put_str(p, se->name, se->name_len);
    p = put_str(p, se->metric, se->metric_len);
    p = put_str(p, se->family, se->family_len);
    for (size_t i = 0; i < se->nlabels; i++) {
        const struct label *l = &se->labels[i];
        uint32_t lens[2] = {l->name_len, l->value_len};
        memcpy(p, lens, sizeof(lens));
        p += sizeof(lens);
        p = put_str(p, l->name, l->name_len);
        p = put_str(p, l->value, l->value_len);
    }
    b->len = (size_t)(p - b->data);
    st->nrec++;
    return 0;
}

static void stage_reset(struct trim_stage *st)
{
    buf_reset(&st->rec);
    st->nrec = 0;
    st->direct = 0;
}

int trim_stage_commit(struct trim *t, struct trim_stage *st)
{
    int rc = 0;
    const char *p = st->rec.data;
    const char *end = p + st->rec.len;
    while (p < end) {
        struct stage_rec h;
        memcpy(&h, p, sizeof(h));
        p += sizeof(h);
        struct series se = {
            .ts_ms = h.ts_ms,
            .value = h.value,
            .type = (enum metric_type)h.type,
        };
        se.name = p;
        se.name_len = h.name_len;
        p += h.name_len + 1;
        se.metric = p;
        se.metric_len = h.metric_len;
        p += h.metric_len + 1;
        se.family = p;
        se.family_len = h.family_len;
        p += h.family_len + 1;
        if (h.nlabels > t->replay_cap)
            t->replay =
                xgrow(t->replay, &t->replay_cap, h.nlabels, sizeof(*t->replay));
        for (uint32_t i = 0; i < h.nlabels; i++) {
            struct label *l = &t->replay[i];
            uint32_t lens[2];
            memcpy(lens, p, sizeof(lens));
            p += sizeof(lens);
            l->name_len = lens[0];
            l->value_len = lens[1];
            l->name = p;
            p += lens[0] + 1;
            l->value = p;
            p += lens[1] + 1;
        }
        se.labels = t->replay;
        se.nlabels = h.nlabels;
        if (h.sub >= 0) {
            (void)fold_add(t, &se, (size_t)h.sub);
            continue;
        }
        t->st.series_out++;
        if (t->out(t->ctx, &se))
            rc = -1;
    }
    stage_reset(st);
    return rc;
}

uint64_t trim_stage_discard(struct trim *t, struct trim_stage *st)
{
    uint64_t n = st->nrec;
    /* Its direct series no longer take room in the cycle's budget. */
    t->cycle_series -=
        st->direct < t->cycle_series ? st->direct : t->cycle_series;
    t->st.dropped_scrape_failed += n;
    stage_reset(st);
    return n;
}

int trim_flush(struct trim *t)
{
    int rc = trim_fold_flush(t->fold, t->out, t->ctx, &t->st.series_out);
    t->cycle_series = 0;
    return rc;
}
