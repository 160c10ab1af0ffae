#include "proxy/plan.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/xalloc.h"

#define MAX_EDITS 8

struct edit {
    size_t start, end; /* replaced range of the statement text */
    char *with;
};

/* Appends the identifier quoted as InfluxQL wants it. */
static void add_ident(struct buf *b, const char *s)
{
    buf_addc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            buf_addc(b, '\\');
        buf_addc(b, *s);
    }
    buf_addc(b, '"');
}

static char *detach(struct buf *b)
{
    buf_addc(b, '\0');
    return buf_detach(b, NULL);
}

static bool grouped_by(const struct iql_stmt *st, const char *tag)
{
    for (size_t i = 0; i < st->ngroup_tags; i++)
        if (strcmp(st->group_tags[i], tag) == 0)
            return true;
    return false;
}

static void edit_add(struct edit *e, size_t *n, size_t start, size_t end,
                     char *with)
{
    e[*n].start = start;
    e[*n].end = end;
    e[*n].with = with;
    (*n)++;
}

/* The LIMIT family as the nodes get it: n+o rows (and s+so series when
 * series limits can be pushed), the offsets applied after the merge. */
static char *limit_text(const struct iql_stmt *st, bool series)
{
    struct buf b;
    buf_init(&b, 0);
    buf_addc(&b, ' ');
    if (st->limit >= 0)
        buf_addf(&b, "LIMIT %lld ",
                 (long long)(st->limit + (st->offset > 0 ? st->offset : 0)));
    if (series && st->slimit >= 0)
        buf_addf(&b, "SLIMIT %lld ",
                 (long long)(st->slimit + (st->soffset > 0 ? st->soffset : 0)));
    return detach(&b);
}

static const char *const decomposable[] = {"count", "sum",    "min",   "max",
                                           "mean",  "spread", "first", "last"};

static int fn_of(const char *s)
{
    for (int i = 0; i < 8; i++)
        if (strcmp(s, decomposable[i]) == 0)
            return i;
    return -1;
}

static void refuse_fn(char *err, size_t errlen, const char *fn,
                      char *const *shard_by, const char *why)
{
    snprintf(err, errlen,
             "%s%s does not merge over several InfluxDB nodes%s: make the "
             "statement routable: filter on \"%s\" (WHERE \"%s\" = '...') "
             "or add GROUP BY \"%s\" (lagwatch(8), PROXY)",
             fn, fn[0] ? "()" : "this statement", why, shard_by[0], shard_by[0],
             shard_by[0]);
}

/* A raw field the pushed-down GROUP BY would change: a wildcard or regex
 * (the grouped tags leave the columns) or a shard_by tag itself. */
static bool changes_with_group(const struct iql_expr *e, char *const *shard_by,
                               size_t n)
{
    if (e->kind == IQL_E_WILDCARD || e->kind == IQL_E_REGEX)
        return true;
    if (e->kind == IQL_E_IDENT)
        for (size_t i = 0; i < n; i++)
            if (strcmp(e->s, shard_by[i]) == 0)
                return true;
    for (size_t i = 0; i < e->nargs; i++)
        if (changes_with_group(e->args[i], shard_by, n))
            return true;
    return false;
}

static bool all_grouped_by(const struct iql_stmt *st, char *const *shard_by,
                           size_t n)
{
    if (st->group_star)
        return true;
    for (size_t i = 0; i < n; i++)
        if (!grouped_by(st, shard_by[i]))
            return false;
    return true;
}

/* Every subquery level groups by every shard_by tag, so that each node's
 * inner series are whole keys (lagwatch(8), PROXY, "Subqueries"). */
static bool subs_by_key(const struct iql_stmt *st, char *const *shard_by,
                        size_t n)
{
    for (size_t i = 0; i < st->nsources; i++) {
        const struct iql_stmt *sub = st->sources[i].sub;
        if (sub && (!all_grouped_by(sub, shard_by, n) ||
                    !subs_by_key(sub, shard_by, n)))
            return false;
    }
    return true;
}

int plan_build(struct plan *pl, const char *q, const struct iql_stmt *st,
               char *const *shard_by, size_t n_shard_by, unsigned replicas,
               const char *epoch, char *err, size_t errlen)
{
    struct edit ed[MAX_EDITS];
    size_t ned = 0;
    int rc = -1;
    memset(pl, 0, sizeof(*pl));
    struct merge_spec *sp = &pl->spec;
    sp->limit = st->limit;
    sp->offset = st->offset;
    sp->slimit = st->slimit;
    sp->soffset = st->soffset;
    sp->desc = st->order_desc;
    sp->epoch = epoch;
    sp->fill = IQL_FILL_NULL;
    sp->shard_tags = shard_by;
    sp->nshard = n_shard_by;

    if (st->kind != IQL_SELECT) {
        sp->kind = st->kind == IQL_SHOW_DATABASES ||
                           st->kind == IQL_SHOW_RETENTION_POLICIES
                       ? MERGE_SHOW_ORDERED
                   : st->kind == IQL_SHOW_FIELD_KEYS ? MERGE_SHOW_FIELDS
                                                     : MERGE_SHOW_SORTED;
        sp->slimit = sp->soffset = -1;
        if (st->limit >= 0 || st->offset >= 0)
            edit_add(ed, &ned, st->limit_start, st->limit_end,
                     limit_text(st, false));
        goto text;
    }
    if (st->group_regex) {
        snprintf(err, errlen,
                 "GROUP BY /regex/ does not merge over several InfluxDB "
                 "nodes: name the tags, or filter on \"%s\" (lagwatch(8), "
                 "PROXY)",
                 shard_by[0]);
        goto out;
    }
    if (st->tz && !epoch) {
        snprintf(err, errlen,
                 "tz() over several InfluxDB nodes needs the epoch "
                 "parameter (the proxy merges epoch times; lagwatch(8), "
                 "PROXY)");
        goto out;
    }
    bool has_sub = false;
    for (size_t i = 0; i < st->nsources; i++)
        if (st->sources[i].sub)
            has_sub = true;
    if (has_sub &&
        (st->nsources != 1 || !subs_by_key(st, shard_by, n_shard_by))) {
        snprintf(err, errlen,
                 "a subquery over several InfluxDB nodes must be the only "
                 "source and GROUP BY \"%s\" at every level: add it, or "
                 "filter on \"%s\" (lagwatch(8), PROXY)",
                 shard_by[0], shard_by[0]);
        goto out;
    }
    bool all_grouped = all_grouped_by(st, shard_by, n_shard_by);
    sp->keep_tags = st->ngroup_tags > 0 || st->group_star;
    if (all_grouped) {
        /* Every output series is one key's: whatever the functions, the
         * nodes' series are the answer (one copy of each). */
        sp->kind = MERGE_RAW;
        sp->dedupe = true;
        goto series_limits;
    }
    sp->dedupe = replicas > 1;
    bool agg = influxql_has_aggregate(st);
    if (has_sub && !agg) {
        /* raw rows of inner per-key series: each node's rows are its keys'
         * (Grafana's variable queries); unioned, ordered by time */
        if (st->ngroup_tags > 0 || st->group_time) {
            snprintf(err, errlen,
                     "a raw SELECT over a subquery on several InfluxDB "
                     "nodes cannot GROUP BY: filter on \"%s\" "
                     "(lagwatch(8), PROXY)",
                     shard_by[0]);
            goto out;
        }
        sp->kind = MERGE_RAW;
        sp->by_value = true;
        goto series_limits;
    }
    sp->strip_tags = shard_by;
    sp->nstrip = n_shard_by;
    sp->kind = agg ? MERGE_AGG : MERGE_RAW;
    for (size_t i = 0; !agg && i < st->nfields; i++)
        if (changes_with_group(st->fields[i].expr, shard_by, n_shard_by)) {
            snprintf(err, errlen,
                     "raw points over several InfluxDB nodes need named "
                     "fields (not *, a regex or the \"%s\" tag): name the "
                     "fields, filter on \"%s\" or add GROUP BY \"%s\" "
                     "(lagwatch(8), PROXY)",
                     shard_by[0], shard_by[0], shard_by[0]);
            goto out;
        }
    if (agg) {
        if (st->nfields > sizeof(pl->fields) / sizeof(pl->fields[0])) {
            snprintf(err, errlen, "too many fields to merge (at most 64)");
            goto out;
        }
        struct buf b;
        buf_init(&b, 0);
        /* "SELECT+mean(v)": the list may touch the keyword */
        if (st->fields_span.start > 0 &&
            !isspace((unsigned char)q[st->fields_span.start - 1]))
            buf_addc(&b, ' ');
        for (size_t i = 0; i < st->nfields; i++) {
            const struct iql_expr *e = st->fields[i].expr;
            if (e->kind != IQL_E_CALL) {
                buf_release(&b);
                refuse_fn(err, errlen, "", shard_by,
                          " (an expression over aggregates)");
                goto out;
            }
            int fn = fn_of(e->s);
            if (fn < 0) {
                buf_release(&b);
                refuse_fn(err, errlen, e->s, shard_by, "");
                goto out;
            }
            if (e->nargs != 1 || e->args[0]->kind != IQL_E_IDENT) {
                buf_release(&b);
                refuse_fn(err, errlen, e->s, shard_by,
                          " unless its argument is one field");
                goto out;
            }
            if ((fn == MF_FIRST || fn == MF_LAST) &&
                (st->group_time || st->nfields > 1)) {
                buf_release(&b);
                refuse_fn(err, errlen, e->s, shard_by,
                          " with GROUP BY time() or other fields (the "
                          "nodes do not say the time of the point they "
                          "select)");
                goto out;
            }
            struct merge_field *f = &pl->fields[i];
            f->fn = (enum merge_fn)fn;
            /* influxd names a column by its alias or function, repeated
             * names get _1, _2... */
            const char *base = st->fields[i].alias ? st->fields[i].alias : e->s;
            unsigned dup = 0;
            for (size_t k = 0; k < i; k++) {
                const char *ob = st->fields[k].alias ? st->fields[k].alias
                                                     : st->fields[k].expr->s;
                if (strcmp(ob, base) == 0)
                    dup++;
            }
            struct buf nb;
            buf_init(&nb, 0);
            buf_adds(&nb, base);
            if (dup)
                buf_addf(&nb, "_%u", dup);
            f->out_name = detach(&nb);
            struct buf cb;
            buf_init(&cb, 0);
            buf_addf(&cb, "lw%zua", i);
            f->col_a = detach(&cb);
            const struct iql_span *as = &e->args[0]->span;
            int alen = (int)(as->end - as->start);
            const char *arg = q + as->start;
            if (i)
                buf_adds(&b, ", ");
            if (fn == MF_MEAN || fn == MF_SPREAD) {
                buf_init(&cb, 0);
                buf_addf(&cb, "lw%zub", i);
                f->col_b = detach(&cb);
                buf_addf(&b, "%s(%.*s) AS \"%s\", %s(%.*s) AS \"%s\"",
                         fn == MF_MEAN ? "sum" : "max", alen, arg, f->col_a,
                         fn == MF_MEAN ? "count" : "min", alen, arg, f->col_b);
            } else {
                buf_addf(&b, "%s(%.*s) AS \"%s\"", e->s, alen, arg, f->col_a);
            }
        }
        sp->fields = pl->fields;
        sp->nfields = st->nfields;
        edit_add(ed, &ned, st->fields_span.start, st->fields_span.end,
                 detach(&b));
        if (st->fill == IQL_FILL_LINEAR) {
            refuse_fn(err, errlen, "fill(linear)", shard_by, "");
            goto out;
        }
        if (st->fill == IQL_FILL_PREVIOUS && st->order_desc) {
            refuse_fn(err, errlen, "fill(previous)", shard_by,
                      " with ORDER BY time DESC");
            goto out;
        }
        sp->fill = st->fill;
        sp->fill_value = st->fill_value;
    }
    /* the shard_by tags into GROUP BY */
    struct buf g;
    buf_init(&g, 0);
    bool first = st->group_span.end == st->group_span.start;
    buf_adds(&g, first ? " GROUP BY " : "");
    for (size_t i = 0; i < n_shard_by; i++) {
        if (grouped_by(st, shard_by[i]))
            continue;
        if (!first)
            buf_adds(&g, ", ");
        first = false;
        add_ident(&g, shard_by[i]);
    }
    buf_addc(&g, ' ');
    size_t at = st->group_span.end > st->group_span.start ? st->group_span.end
                                                          : st->group_insert;
    edit_add(ed, &ned, at, at, detach(&g));
    if (agg && (st->fill == IQL_FILL_NUMBER || st->fill == IQL_FILL_PREVIOUS))
        edit_add(ed, &ned, st->fill_span.start, st->fill_span.end,
                 xstrdup("fill(null)"));
    if (st->limit >= 0 || st->offset >= 0 || st->slimit >= 0 ||
        st->soffset >= 0)
        edit_add(ed, &ned, st->limit_start, st->limit_end,
                 limit_text(st, false));
    goto text;
series_limits:
    /* the nodes' series are the output's: series limits push down too */
    sp->slimit = st->slimit;
    if (st->limit >= 0 || st->offset >= 0 || st->slimit >= 0 ||
        st->soffset >= 0)
        edit_add(ed, &ned, st->limit_start, st->limit_end,
                 limit_text(st, true));
text:;
    struct buf t;
    buf_init(&t, 0);
    size_t pos = st->span.start;
    for (size_t i = 0; i < ned; i++) {
        buf_add(&t, q + pos, ed[i].start - pos);
        buf_adds(&t, ed[i].with);
        pos = ed[i].end;
    }
    buf_add(&t, q + pos, st->span.end - pos);
    pl->text = detach(&t);
    rc = 0;
out:
    for (size_t i = 0; i < ned; i++)
        free(ed[i].with);
    if (rc < 0)
        plan_release(pl);
    return rc;
}

void plan_release(struct plan *pl)
{
    for (size_t i = 0; i < sizeof(pl->fields) / sizeof(pl->fields[0]); i++) {
        free(pl->fields[i].out_name);
        free(pl->fields[i].col_a);
        free(pl->fields[i].col_b);
    }
    free(pl->text);
    memset(pl, 0, sizeof(*pl));
}
