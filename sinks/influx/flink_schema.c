#include "influx/flink_schema.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/flinkcat.h"
#include "pipeline/series_fold.h"
#include "util/xalloc.h"

enum role {
    ROLE_PLAIN = 0,
    ROLE_COUNT,
    ROLE_SUM,
    ROLE_QUANTILE,
    ROLE_BUCKET,
};

void flink_schema_scratch_release(struct flink_schema_scratch *sc)
{
    free(sc->tags);
    free(sc->text);
    sc->tags = NULL;
    sc->text = NULL;
    sc->tags_cap = 0;
    sc->text_cap = 0;
}

static bool has_suffix(const char *s, size_t n, const char *suf, size_t sn)
{
    return n > sn && memcmp(s + n - sn, suf, sn) == 0;
}

static const struct label *find_label(const struct series *s, const char *name,
                                      size_t len)
{
    for (size_t i = 0; i < s->nlabels; i++)
        if (s->labels[i].name_len == len &&
            memcmp(s->labels[i].name, name, len) == 0)
            return &s->labels[i];
    return NULL;
}

/* Which part of a summary or histogram s is, and the length of the name
 * without its suffix. */
static enum role role_of(const struct series *s, size_t *base_len)
{
    *base_len = s->name_len;
    if (s->type != MT_SUMMARY && s->type != MT_HISTOGRAM)
        return ROLE_PLAIN;
    if (has_suffix(s->name, s->name_len, "_count", 6)) {
        *base_len = s->name_len - 6;
        return ROLE_COUNT;
    }
    if (has_suffix(s->name, s->name_len, "_sum", 4)) {
        *base_len = s->name_len - 4;
        return ROLE_SUM;
    }
    if (s->type == MT_HISTOGRAM &&
        has_suffix(s->name, s->name_len, "_bucket", 7) &&
        find_label(s, "le", 2)) {
        *base_len = s->name_len - 7;
        return ROLE_BUCKET;
    }
    if (s->type == MT_SUMMARY && find_label(s, "quantile", 8))
        return ROLE_QUANTILE;
    return ROLE_PLAIN;
}

/* Writes the field key of a quantile q into p; returns its length. */
static size_t quantile_key(const struct label *q, char *p)
{
    static const struct {
        const char *q;
        const char *key;
    } known[] = {
        {"0.5", "p50"},  {"0.75", "p75"}, {"0.95", "p95"},
        {"0.98", "p98"}, {"0.99", "p99"}, {"0.999", "p999"},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strlen(known[i].q) == q->value_len &&
            memcmp(known[i].q, q->value, q->value_len) == 0) {
            size_t n = strlen(known[i].key);
            memcpy(p, known[i].key, n);
            return n;
        }
    }
    size_t n = 0;
    p[n++] = 'q';
    for (size_t i = 0; i < q->value_len; i++)
        if (q->value[i] >= '0' && q->value[i] <= '9')
            p[n++] = q->value[i];
    return n;
}

static size_t bucket_key(const struct label *le, char *p)
{
    size_t n = 0;
    memcpy(p, "le_", 3);
    n = 3;
    if (le->value_len == 4 && memcmp(le->value, "+Inf", 4) == 0) {
        memcpy(p + n, "inf", 3);
        return n + 3;
    }
    for (size_t i = 0; i < le->value_len; i++) {
        char c = le->value[i];
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
            (c >= 'A' && c <= 'Z'))
            p[n++] = c;
        else if (c == '.')
            p[n++] = '_';
        else if (c == '-')
            p[n++] = 'm';
    }
    return n;
}

/* Tags of s without the label called drop (NULL: none). */
static void set_tags(const struct series *s, const struct label *drop,
                     struct point *out, struct flink_schema_scratch *sc)
{
    if (!drop) {
        out->tags = s->labels;
        out->ntags = s->nlabels;
        return;
    }
    if (s->nlabels > sc->tags_cap)
        sc->tags =
            xgrow(sc->tags, &sc->tags_cap, s->nlabels, sizeof(*sc->tags));
    size_t n = 0;
    for (size_t i = 0; i < s->nlabels; i++)
        if (&s->labels[i] != drop)
            sc->tags[n++] = s->labels[i];
    out->tags = sc->tags;
    out->ntags = n;
}

/* flinkcat_kind() through the one-entry cache in sc. */
static enum flink_kind kind_of(const struct series *s,
                               struct flink_schema_scratch *sc)
{
    size_t n = s->metric_len;
    if (n && n == sc->kind_metric_len &&
        memcmp(sc->kind_metric, s->metric, n) == 0)
        return (enum flink_kind)sc->kind;
    enum flink_kind k = flinkcat_kind(s->metric, n);
    if (n <= sizeof(sc->kind_metric)) {
        memcpy(sc->kind_metric, s->metric, n);
        sc->kind_metric_len = n;
        sc->kind = (int)k;
    }
    return k;
}

static bool to_int64(double v, int64_t *out)
{
    /* 2^63 is exact as a double; [-2^63, 2^63) is the int64 range. */
    if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
        return false;
    if (v != floor(v))
        return false;
    *out = (int64_t)v;
    return true;
}

static void float_field(struct field *f, const char *key, double v)
{
    memset(f, 0, sizeof(*f));
    f->key = key;
    f->kind = FIELD_FLOAT;
    f->f = v;
}

static int folded_fields(const struct series *s,
                         const struct flink_schema_opts *o, const char *prefix,
                         size_t plen, char *text, struct point *out,
                         struct flink_schema_scratch *sc)
{
    if (s->count == 0 || !isfinite(s->max) || !isfinite(s->sum)) {
        sc->skipped_nonfinite++;
        return 1;
    }
    struct series_value vals[SERIES_FOLD_MAX_VALUES];
    size_t nf = series_fold_values(s, o->fold_fields, vals);
    for (size_t i = 0; i < nf; i++) {
        const char *key = vals[i].field;
        if (plen) {
            /* text has room for four "<prefix>_<field>\0" keys. */
            size_t flen = strlen(vals[i].field);
            memcpy(text, prefix, plen);
            text[plen] = '_';
            memcpy(text + plen + 1, vals[i].field, flen + 1);
            key = text;
            text += plen + flen + 2;
        }
        if (vals[i].integer) {
            /* subtasks: an integer field, as a count is (lagwatch(8),
             * SCHEMA) */
            memset(&sc->fields[i], 0, sizeof(sc->fields[i]));
            sc->fields[i].key = key;
            sc->fields[i].kind = FIELD_INT;
            sc->fields[i].i = (int64_t)vals[i].value;
        } else {
            float_field(&sc->fields[i], key, vals[i].value);
        }
    }
    out->fields = sc->fields;
    out->nfields = nf;
    return nf ? 0 : 1;
}

int flink_schema_point(const struct series *s,
                       const struct flink_schema_opts *o, struct point *out,
                       struct flink_schema_scratch *sc)
{
    size_t base_len;
    enum role role = role_of(s, &base_len);
    const struct label *drop = NULL;
    if (role == ROLE_QUANTILE)
        drop = find_label(s, "quantile", 8);
    else if (role == ROLE_BUCKET)
        drop = find_label(s, "le", 2);

    /* Room for the measurement and up to three generated keys, reserved
     * at once so that no pointer into text moves afterwards. */
    size_t keymax = drop ? drop->value_len + 8 : 8;
    size_t need = base_len + 1 + 5 * (keymax + 10);
    if (need > sc->text_cap)
        sc->text = xgrow(sc->text, &sc->text_cap, need, 1);
    char *text = sc->text;

    const char *m = s->name;
    size_t mlen = base_len;
    if (mlen > 6 && memcmp(m, "flink_", 6) == 0) {
        m += 6;
        mlen -= 6;
    }
    if (base_len == s->name_len) {
        out->measurement = m; /* the name's own NUL ends it */
    } else {
        memcpy(text, m, mlen);
        text[mlen] = '\0';
        out->measurement = text;
        text += mlen + 1;
    }
    set_tags(s, drop, out, sc);
    out->ts_ms = s->ts_ms;

    /* The role's field name: also the prefix of folded fields. */
    char *rkey = text;
    size_t rlen = 0;
    switch (role) {
    case ROLE_COUNT:
        rlen = 5;
        memcpy(rkey, "count", 5);
        break;
    case ROLE_SUM:
        rlen = 3;
        memcpy(rkey, "sum", 3);
        break;
    case ROLE_QUANTILE:
        rlen = quantile_key(drop, rkey);
        break;
    case ROLE_BUCKET:
        rlen = bucket_key(drop, rkey);
        break;
    case ROLE_PLAIN:
        break;
    }
    rkey[rlen] = '\0';
    text += rlen + 1;

    if (s->folded)
        return folded_fields(s, o, rkey, rlen, text, out, sc);

    struct field *f = &sc->fields[0];
    out->fields = f;
    out->nfields = 1;
    if (!isfinite(s->value)) {
        sc->skipped_nonfinite++;
        return 1;
    }
    bool as_int = false;
    const char *key = rkey;
    if (role == ROLE_PLAIN) {
        switch (kind_of(s, sc)) {
        case FLINK_COUNTER:
            key = "count";
            as_int = true;
            break;
        case FLINK_METER:
            key = "rate";
            break;
        case FLINK_GAUGE:
        case FLINK_HISTOGRAM:
            key = "value";
            break;
        }
    } else if (role == ROLE_COUNT) {
        as_int = true;
    }
    if (!as_int) {
        float_field(f, key, s->value);
        return 0;
    }
    int64_t iv;
    if (!to_int64(s->value, &iv)) {
        sc->skipped_nonintegral++;
        return 1;
    }
    memset(f, 0, sizeof(*f));
    f->key = key;
    f->kind = FIELD_INT;
    f->i = iv;
    return 0;
}
