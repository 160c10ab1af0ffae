#include "proxy/merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/xalloc.h"

/* One node series (a key series). */
struct member {
    const char *name;
    json_t *tags;    /* borrowed; may be NULL */
    json_t *columns; /* borrowed */
    json_t *values;  /* borrowed */
    char *key;       /* name + all tags: the key series */
    char *outkey;    /* name + tags not stripped: the output series */
    size_t node;
    bool shardless; /* every stripped tag empty or absent */
};

static bool stripped(const struct merge_spec *sp, const char *k)
{
    for (size_t i = 0; i < sp->nstrip; i++)
        if (strcmp(sp->strip_tags[i], k) == 0)
            return true;
    return false;
}

/* name \1 k \2 v \1 k \2 v ... in key order (what influxd sorts by). */
static char *series_key(const char *name, json_t *tags,
                        const struct merge_spec *sp, bool strip)
{
    struct buf b;
    buf_init(&b, 0);
    buf_adds(&b, name);
    if (tags && json_is_object(tags)) {
        size_t n = json_object_size(tags), k = 0;
        const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
        const char *kk;
        json_t *v;
        json_object_foreach(tags, kk, v) keys[k++] = kk;
        for (size_t i = 1; i < k; i++)
            for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
                const char *t = keys[j];
                keys[j] = keys[j - 1];
                keys[j - 1] = t;
            }
        for (size_t i = 0; i < k; i++) {
            if (strip && stripped(sp, keys[i]))
                continue;
            const char *s = json_string_value(json_object_get(tags, keys[i]));
            buf_addc(&b, '\1');
            buf_adds(&b, keys[i]);
            buf_addc(&b, '\2');
            buf_adds(&b, s ? s : "");
        }
        free(keys);
    }
    buf_addc(&b, '\0');
    return buf_detach(&b, NULL);
}

static json_t *out_tags(json_t *tags, const struct merge_spec *sp)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    if (tags && json_is_object(tags))
        json_object_foreach(tags, k, v) if (!stripped(sp, k))
            json_object_set(o, k, v);
    return o;
}

static int cmp_member(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    int c = strcmp(x->outkey, y->outkey);
    if (c)
        return c;
    c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x->node < y->node ? -1 : x->node > y->node;
}

static int64_t row_time(json_t *row)
{
    json_t *t = json_array_get(row, 0);
    if (json_is_integer(t))
        return (int64_t)json_integer_value(t);
    return (int64_t)json_number_value(t);
}

json_t *merge_time_value(int64_t t, const char *epoch)
{
    if (epoch) {
        int64_t d = 1;
        if (strcmp(epoch, "u") == 0 || strcmp(epoch, "\xc2\xb5") == 0)
            d = 1000;
        else if (strcmp(epoch, "ms") == 0)
            d = 1000000;
        else if (strcmp(epoch, "s") == 0)
            d = 1000000000LL;
        else if (strcmp(epoch, "m") == 0)
            d = 60LL * 1000000000LL;
        else if (strcmp(epoch, "h") == 0)
            d = 3600LL * 1000000000LL;
        return json_integer(t / d);
    }
    time_t sec = (time_t)(t / 1000000000LL);
    int64_t frac = t % 1000000000LL;
    if (frac < 0) {
        frac += 1000000000LL;
        sec--;
    }
    struct tm tm;
    char s[64], f[16] = "";
    if (!gmtime_r(&sec, &tm))
        return json_null();
    if (frac) {
        snprintf(f, sizeof(f), ".%09lld", (long long)frac);
        size_t l = strlen(f);
        while (l > 1 && f[l - 1] == '0')
            f[--l] = '\0';
    }
    snprintf(s, sizeof(s), "%04d-%02d-%02dT%02d:%02d:%02d%sZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, f);
    return json_string(s);
}

/* A row of the output with its time, the key series it came from. */
struct entry {
    int64_t t;
    const struct member *m;
    json_t *row;
    char *rk; /* by_value: the row's values, compact JSON */
};

static int cmp_entry(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->rk && y->rk)
        return strcmp(x->rk, y->rk);
    int c = strcmp(x->m->key, y->m->key);
    if (c)
        return c;
    return x->m->node < y->m->node ? -1 : x->m->node > y->m->node;
}

static void apply_limits(json_t *values, int64_t limit, int64_t offset)
{
    if (offset > 0) {
        for (int64_t i = 0; i < offset && json_array_size(values) > 0; i++)
            json_array_remove(values, 0);
    }
    if (limit >= 0)
        while ((int64_t)json_array_size(values) > limit)
            json_array_remove(values, json_array_size(values) - 1);
}

static void reverse(json_t *values)
{
    size_t n = json_array_size(values);
    for (size_t i = 0; i < n / 2; i++) {
        json_t *a = json_incref(json_array_get(values, i));
        json_t *b = json_incref(json_array_get(values, n - 1 - i));
        json_array_set_new(values, i, b);
        json_array_set_new(values, n - 1 - i, a);
    }
}

static int col_index(json_t *columns, const char *name)
{
    for (size_t i = 0; i < json_array_size(columns); i++) {
        const char *s = json_string_value(json_array_get(columns, i));
        if (s && strcmp(s, name) == 0)
            return (int)i;
    }
    return -1;
}

/* Accumulator of one output column over one bucket. */
struct acc {
    bool has_a, has_b;
    bool float_a, float_b;
    double a, b;    /* sum / min / max / sum of a mean / max of a spread */
    int64_t ia, ib; /* the same, integer */
    int64_t t;      /* first/last: the point time */
    json_t *v;      /* first/last: the value (borrowed) */
};

static void acc_num(json_t *v, bool *has, bool *isf, double *d, int64_t *i,
                    int how /* 0 add, 1 min, 2 max */)
{
    if (!json_is_number(v))
        return;
    bool vf = json_is_real(v);
    double vd = json_number_value(v);
    int64_t vi = vf ? 0 : (int64_t)json_integer_value(v);
    if (!*has) {
        *has = true;
        *isf = vf;
        *d = vd;
        *i = vi;
        return;
    }
    if (vf)
        *isf = true;
    if (how == 0) {
        *d += vd;
        *i += vi;
    } else if ((how == 1 && vd < *d) || (how == 2 && vd > *d)) {
        *d = vd;
        *i = vi;
    }
}

static json_t *num_value(bool isf, double d, int64_t i)
{
    return isf ? json_real(d) : json_integer(i);
}

static json_t *acc_value(const struct merge_field *f, const struct acc *a)
{
    switch (f->fn) {
    case MF_COUNT:
    case MF_SUM:
    case MF_MIN:
    case MF_MAX:
        return a->has_a ? num_value(a->float_a, a->a, a->ia) : json_null();
    case MF_MEAN: {
        double c = a->float_b ? a->b : (double)a->ib;
        if (!a->has_a || !a->has_b || c == 0)
            return json_null();
        return json_real((a->float_a ? a->a : (double)a->ia) / c);
    }
    case MF_SPREAD:
        if (!a->has_a || !a->has_b)
            return json_null();
        if (!a->float_a && !a->float_b)
            return json_integer(a->ia - a->ib);
        return json_real((a->float_a ? a->a : (double)a->ia) -
                         (a->float_b ? a->b : (double)a->ib));
    case MF_FIRST:
    case MF_LAST:
        return a->v ? json_incref(a->v) : json_null();
    }
    return json_null();
}

static void acc_add(const struct merge_field *f, struct acc *a, json_t *row,
                    int ca, int cb, int64_t t)
{
    json_t *va = ca >= 0 ? json_array_get(row, (size_t)ca) : NULL;
    json_t *vb = cb >= 0 ? json_array_get(row, (size_t)cb) : NULL;
    switch (f->fn) {
    case MF_COUNT:
    case MF_SUM:
        acc_num(va, &a->has_a, &a->float_a, &a->a, &a->ia, 0);
        break;
    case MF_MIN:
        acc_num(va, &a->has_a, &a->float_a, &a->a, &a->ia, 1);
        break;
    case MF_MAX:
        acc_num(va, &a->has_a, &a->float_a, &a->a, &a->ia, 2);
        break;
    case MF_MEAN:
        acc_num(va, &a->has_a, &a->float_a, &a->a, &a->ia, 0);
        acc_num(vb, &a->has_b, &a->float_b, &a->b, &a->ib, 0);
        break;
    case MF_SPREAD:
        acc_num(va, &a->has_a, &a->float_a, &a->a, &a->ia, 2);
        acc_num(vb, &a->has_b, &a->float_b, &a->b, &a->ib, 1);
        break;
    case MF_FIRST:
    case MF_LAST:
        if (!va || json_is_null(va))
            break;
        if (!a->v || (f->fn == MF_FIRST ? t < a->t : t > a->t)) {
            a->v = va;
            a->t = t;
        }
        break;
    }
}

/* The aggregate rows of one output series (members ms[0..n)). */
static json_t *agg_rows(const struct merge_spec *sp, struct entry *e, size_t ne,
                        const struct member *ms, size_t nm, char *err,
                        size_t errlen)
{
    size_t nf = sp->nfields;
    int *ca = xcalloc(nm * nf + 1, sizeof(int));
    int *cb = xcalloc(nm * nf + 1, sizeof(int));
    for (size_t m = 0; m < nm; m++)
        for (size_t f = 0; f < nf; f++) {
            ca[m * nf + f] = col_index(ms[m].columns, sp->fields[f].col_a);
            cb[m * nf + f] = sp->fields[f].col_b
                                 ? col_index(ms[m].columns, sp->fields[f].col_b)
                                 : -1;
            if (ca[m * nf + f] < 0 ||
                (sp->fields[f].col_b && cb[m * nf + f] < 0)) {
                snprintf(err, errlen,
                         "a node's answer lacks the pushed-down column '%s'",
                         sp->fields[f].col_a);
                free(ca);
                free(cb);
                return NULL;
            }
        }
    bool selector = nf == 1 && (sp->fields[0].fn == MF_FIRST ||
                                sp->fields[0].fn == MF_LAST);
    json_t *values = json_array();
    struct acc *acc = xcalloc(nf, sizeof(*acc));
    size_t i = 0;
    while (i < ne) {
        size_t j = i;
        memset(acc, 0, nf * sizeof(*acc));
        /* one bucket: the same time (a selector: the whole series) */
        while (j < ne && (selector || e[j].t == e[i].t)) {
            size_t m = (size_t)(e[j].m - ms);
            for (size_t f = 0; f < nf; f++)
                acc_add(&sp->fields[f], &acc[f], e[j].row, ca[m * nf + f],
                        cb[m * nf + f], e[j].t);
            j++;
        }
        int64_t t = selector && acc[0].v ? acc[0].t : e[i].t;
        json_t *row = json_array();
        json_array_append_new(row, json_integer(t));
        for (size_t f = 0; f < nf; f++)
            json_array_append_new(row, acc_value(&sp->fields[f], &acc[f]));
        json_array_append_new(values, row);
        i = j;
    }
    free(acc);
    free(ca);
    free(cb);
    /* fill(previous|number) after the merge (the nodes filled null) */
    if (sp->fill == IQL_FILL_PREVIOUS || sp->fill == IQL_FILL_NUMBER) {
        for (size_t f = 1; f <= nf; f++) {
            json_t *prev = NULL;
            for (size_t r = 0; r < json_array_size(values); r++) {
                json_t *row = json_array_get(values, r);
                json_t *v = json_array_get(row, f);
                if (!json_is_null(v)) {
                    prev = v;
                    continue;
                }
                if (sp->fill == IQL_FILL_NUMBER) {
                    double fv = sp->fill_value;
                    json_array_set_new(row, f,
                                       fv == (double)(int64_t)fv
                                           ? json_integer((int64_t)fv)
                                           : json_real(fv));
                } else if (prev) {
                    json_array_set(row, f, prev);
                }
            }
        }
    }
    return values;
}

static int merge_select(const struct merge_spec *sp, struct member *ms,
                        size_t nm, json_t *series_out, char *err, size_t errlen)
{
    qsort(ms, nm, sizeof(*ms), cmp_member);
    /* With dedupe, a key series answered by several nodes is one copy:
     * aggregates keep the first node's, raw rows drop repeated times. */
    for (size_t i = 1; i < nm; i++)
        if (sp->dedupe && !sp->by_value &&
            strcmp(ms[i].key, ms[i - 1].key) == 0 &&
            ms[i].node != ms[i - 1].node && ms[i].shardless) {
            snprintf(err, errlen,
                     "points without the shard_by tags of measurement '%s' "
                     "are on several nodes; with replicas > 1 the proxy "
                     "cannot tell their copies from distinct points: filter "
                     "or group on the shard_by tags",
                     ms[i].name);
            return -1;
        }
    size_t i = 0;
    while (i < nm) {
        size_t j = i + 1;
        while (j < nm && strcmp(ms[j].outkey, ms[i].outkey) == 0)
            j++;
        size_t ne = 0;
        for (size_t k = i; k < j; k++) {
            if (sp->kind == MERGE_RAW &&
                !json_equal(ms[k].columns, ms[i].columns)) {
                snprintf(err, errlen,
                         "the nodes answer measurement '%s' with different "
                         "columns; name the fields instead of '*'",
                         ms[i].name);
                return -1;
            }
            if (sp->kind == MERGE_AGG && sp->dedupe && k > i &&
                strcmp(ms[k].key, ms[k - 1].key) == 0)
                continue;
            ne += json_array_size(ms[k].values);
        }
        struct entry *e = xcalloc(ne ? ne : 1, sizeof(*e));
        size_t n = 0;
        for (size_t k = i; k < j; k++) {
            if (sp->kind == MERGE_AGG && sp->dedupe && k > i &&
                strcmp(ms[k].key, ms[k - 1].key) == 0)
                continue;
            for (size_t r = 0; r < json_array_size(ms[k].values); r++) {
                json_t *row = json_array_get(ms[k].values, r);
                e[n].t = row_time(row);
                e[n].m = &ms[k];
                e[n].row = row;
                e[n].rk = sp->by_value ? json_dumps(row, JSON_COMPACT) : NULL;
                n++;
            }
        }
        qsort(e, n, sizeof(*e), cmp_entry);
        json_t *values;
        if (sp->kind == MERGE_RAW) {
            values = json_array();
            for (size_t k = 0; k < n; k++) {
                if (sp->dedupe && k > 0 && e[k].t == e[k - 1].t &&
                    (sp->by_value ? e[k].rk && e[k - 1].rk &&
                                        strcmp(e[k].rk, e[k - 1].rk) == 0
                                  : strcmp(e[k].m->key, e[k - 1].m->key) == 0))
                    continue;
                json_array_append_new(values, json_copy(e[k].row));
            }
        } else {
            values = agg_rows(sp, e, n, ms + i, j - i, err, errlen);
        }
        for (size_t k = 0; k < n; k++)
            free(e[k].rk);
        free(e);
        if (!values)
            return -1;
        if (sp->desc)
            reverse(values);
        apply_limits(values, sp->limit, sp->offset);
        for (size_t r = 0; r < json_array_size(values); r++) {
            json_t *row = json_array_get(values, r);
            json_array_set_new(row, 0,
                               merge_time_value(row_time(row), sp->epoch));
        }
        if (json_array_size(values) > 0) {
            json_t *s = json_object();
            json_object_set_new(s, "name", json_string(ms[i].name));
            if (sp->keep_tags)
                json_object_set_new(s, "tags", out_tags(ms[i].tags, sp));
            json_t *cols;
            if (sp->kind == MERGE_AGG) {
                cols = json_array();
                json_array_append_new(cols, json_string("time"));
                for (size_t f = 0; f < sp->nfields; f++)
                    json_array_append_new(cols,
                                          json_string(sp->fields[f].out_name));
            } else {
                cols = json_copy(ms[i].columns);
            }
            json_object_set_new(s, "columns", cols);
            json_object_set_new(s, "values", values);
            json_array_append_new(series_out, s);
        } else {
            json_decref(values);
        }
        i = j;
    }
    return 0;
}

/* The dedupe key of a SHOW row. */
static char *row_key(json_t *row, bool first_only)
{
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < json_array_size(row); i++) {
        if (i)
            buf_addc(&b, '\1');
        json_t *v = json_array_get(row, i);
        if (json_is_string(v)) {
            buf_adds(&b, json_string_value(v));
        } else {
            char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            buf_adds(&b, d ? d : "");
            free(d);
        }
        if (first_only)
            break;
    }
    buf_addc(&b, '\0');
    return buf_detach(&b, NULL);
}

struct srow {
    char *key;
    json_t *row;
    size_t seq;
};

static int cmp_srow(const void *a, const void *b)
{
    const struct srow *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_srow_seq(const void *a, const void *b)
{
    const struct srow *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void merge_show(const struct merge_spec *sp, struct member *ms,
                       size_t nm, json_t *series_out)
{
    qsort(ms, nm, sizeof(*ms), cmp_member);
    size_t i = 0;
    while (i < nm) {
        size_t j = i + 1;
        while (j < nm && strcmp(ms[j].outkey, ms[i].outkey) == 0)
            j++;
        size_t nr = 0;
        for (size_t k = i; k < j; k++)
            nr += json_array_size(ms[k].values);
        struct srow *r = xcalloc(nr ? nr : 1, sizeof(*r));
        size_t n = 0;
        /* seq: node order first (members are sorted by node within a key) */
        for (size_t node = 0, done = 0; done < j - i; node++)
            for (size_t k = i; k < j; k++) {
                if (ms[k].node != node)
                    continue;
                done++;
                for (size_t x = 0; x < json_array_size(ms[k].values); x++) {
                    r[n].row = json_array_get(ms[k].values, x);
                    r[n].key = row_key(r[n].row, sp->kind != MERGE_SHOW_SORTED);
                    r[n].seq = n;
                    n++;
                }
            }
        qsort(r, n, sizeof(*r), cmp_srow);
        size_t u = 0;
        for (size_t k = 0; k < n; k++) {
            if (u > 0 && strcmp(r[u - 1].key, r[k].key) == 0) {
                free(r[k].key);
                continue;
            }
            r[u++] = r[k];
        }
        if (sp->kind == MERGE_SHOW_ORDERED)
            qsort(r, u, sizeof(*r), cmp_srow_seq);
        json_t *values = json_array();
        for (size_t k = 0; k < u; k++) {
            json_array_append(values, r[k].row);
            free(r[k].key);
        }
        free(r);
        apply_limits(values, sp->limit, sp->offset);
        json_t *s = json_object();
        json_object_set_new(s, "name", json_string(ms[i].name));
        if (ms[i].tags)
            json_object_set(s, "tags", ms[i].tags);
        json_object_set(s, "columns", ms[i].columns);
        json_object_set_new(s, "values", values);
        json_array_append_new(series_out, s);
        i = j;
    }
}

int merge_results(const struct merge_spec *sp, json_t *const *nodes, size_t n,
                  json_t **out, char *err, size_t errlen)
{
    int rc = -1;
    size_t nm = 0, cap = 0;
    struct member *ms = NULL;
    json_t *series_out = json_array();
    bool show = sp->kind != MERGE_RAW && sp->kind != MERGE_AGG;
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *series = json_object_get(nodes[i], "series");
        for (size_t s = 0; s < json_array_size(series); s++) {
            json_t *o = json_array_get(series, s);
            const char *name = json_string_value(json_object_get(o, "name"));
            json_t *cols = json_object_get(o, "columns");
            json_t *vals = json_object_get(o, "values");
            if (!json_is_array(cols) || (vals && !json_is_array(vals))) {
                snprintf(err, errlen,
                         "a node's answer is not InfluxDB's "
                         "series shape");
                goto out;
            }
            if (!vals)
                continue;
            ms = xgrow(ms, &cap, nm + 1, sizeof(*ms));
            struct member *m = &ms[nm++];
            memset(m, 0, sizeof(*m));
            m->name = name ? name : "";
            m->tags = json_object_get(o, "tags");
            m->columns = cols;
            m->values = vals;
            m->node = i;
            m->key = series_key(m->name, m->tags, sp, false);
            m->outkey = series_key(m->name, m->tags, sp, !show);
            m->shardless = true;
            for (size_t t = 0; t < sp->nshard; t++) {
                const char *v = json_string_value(
                    json_object_get(m->tags, sp->shard_tags[t]));
                if (v && v[0])
                    m->shardless = false;
            }
            if (show)
                continue;
            for (size_t r = 0; r < json_array_size(vals); r++) {
                json_t *t = json_array_get(json_array_get(vals, r), 0);
                if (!json_is_integer(t)) {
                    snprintf(err, errlen,
                             "a node answered without epoch "
                             "times");
                    goto out;
                }
            }
        }
    }
    if (show) {
        merge_show(sp, ms, nm, series_out);
    } else if (merge_select(sp, ms, nm, series_out, err, errlen) < 0) {
        goto out;
    }
    if (!show && (sp->soffset > 0 || sp->slimit >= 0))
        apply_limits(series_out, sp->slimit, sp->soffset);
    *out = json_object();
    if (json_array_size(series_out) > 0)
        json_object_set(*out, "series", series_out);
    rc = 0;
out:
    for (size_t i = 0; i < nm; i++) {
        free(ms[i].key);
        free(ms[i].outkey);
    }
    free(ms);
    json_decref(series_out);
    return rc;
}
