#include "proxy/qroute.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/xalloc.h"

/* A set of values; all = no restriction. */
struct vset {
    bool all;
    char **v;
    size_t n;
};

static void vset_free(struct vset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static bool vset_has(const struct vset *s, const char *v)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], v) == 0)
            return true;
    return false;
}

static void vset_add(struct vset *s, const char *v)
{
    if (vset_has(s, v))
        return;
    s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
    s->v[s->n++] = xstrdup(v);
}

static struct vset all(void)
{
    struct vset s = {.all = true};
    return s;
}

void qroute_keys_free(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

static bool is_meta(char c)
{
    return strchr(".[]()*+?{}|^$\\", c) != NULL;
}

size_t qroute_regex_literals(const char *re, char ***out)
{
    *out = NULL;
    size_t len = strlen(re);
    if (len < 2 || re[0] != '^' || re[len - 1] != '$' ||
        (len >= 3 && re[len - 2] == '\\'))
        return 0;
    const char *p = re + 1, *end = re + len - 1;
    bool group = false;
    if (p < end && *p == '(') {
        if (end - p < 2 || end[-1] != ')' || (end - p >= 3 && end[-2] == '\\'))
            return 0;
        group = true;
        p++;
        end--;
        if (p + 1 < end && p[0] == '?' && p[1] == ':')
            p += 2;
    }
    struct buf cur;
    buf_init(&cur, len + 1);
    char **vals = NULL;
    size_t n = 0;
    bool ok = true;
    for (; ok; p++) {
        if (p == end || (group && *p == '|')) {
            buf_addc(&cur, '\0');
            vals = xrealloc(vals, (n + 1) * sizeof(*vals));
            vals[n++] = xstrdup(cur.data);
            buf_reset(&cur);
            if (p == end)
                break;
            continue;
        }
        if (*p == '\\') {
            char c = p + 1 < end ? p[1] : '\0';
            /* escaped punctuation is that character; \d, \w... are not */
            if (c == '\0' ||
                !(is_meta(c) || c == '/' || c == '-' || c == '_' || c == ',' ||
                  c == ':' || c == '=' || c == '"' || c == '\'' || c == ' ' ||
                  c == '#' || c == '@' || c == '!' || c == '%' || c == '&' ||
                  c == '~' || c == '<' || c == '>')) {
                ok = false;
                break;
            }
            buf_addc(&cur, c);
            p++;
            continue;
        }
        if (is_meta(*p)) {
            ok = false;
            break;
        }
        buf_addc(&cur, *p);
    }
    buf_release(&cur);
    if (!ok) {
        qroute_keys_free(vals, n);
        return 0;
    }
    *out = vals;
    return n;
}

/* The tag the expression names: an identifier that is not cast to a
 * field. */
static bool names_tag(const struct iql_expr *e, const char *tag)
{
    return e->kind == IQL_E_IDENT && strcmp(e->s, tag) == 0 &&
           (!e->ident_type || strcmp(e->ident_type, "tag") == 0);
}

/* Both restrictions at once (the AND of two clauses). */
static struct vset vset_and(struct vset a, struct vset b)
{
    if (a.all)
        return b;
    if (b.all)
        return a;
    struct vset s = {0};
    for (size_t i = 0; i < a.n; i++)
        if (vset_has(&b, a.v[i]))
            vset_add(&s, a.v[i]);
    vset_free(&a);
    vset_free(&b);
    return s;
}

static struct vset pins(const struct iql_expr *e, const char *tag)
{
    if (!e)
        return all();
    if (e->kind == IQL_E_PAREN)
        return pins(e->args[0], tag);
    if (e->kind != IQL_E_BINARY)
        return all();
    const struct iql_expr *l = e->args[0], *r = e->args[1];
    if (e->op == IQL_OP_AND || e->op == IQL_OP_OR) {
        struct vset a = pins(l, tag), b = pins(r, tag);
        if (e->op == IQL_OP_AND)
            return vset_and(a, b); /* may be empty: nothing matches */
        if (a.all || b.all) {
            vset_free(&a);
            vset_free(&b);
            return all();
        }
        for (size_t i = 0; i < b.n; i++)
            vset_add(&a, b.v[i]);
        vset_free(&b);
        return a;
    }
    if (e->op == IQL_OP_EQ) {
        const struct iql_expr *id = names_tag(l, tag) ? l : r;
        const struct iql_expr *v = id == l ? r : l;
        if (!names_tag(id, tag) || v->kind != IQL_E_STRING || !v->s[0])
            return all();
        struct vset s = {0};
        vset_add(&s, v->s);
        return s;
    }
    if (e->op == IQL_OP_EQREGEX && names_tag(l, tag) &&
        r->kind == IQL_E_REGEX) {
        char **lit;
        size_t n = qroute_regex_literals(r->s, &lit);
        struct vset s = {0};
        bool empty = false;
        for (size_t i = 0; i < n; i++) {
            if (!lit[i][0])
                empty = true;
            vset_add(&s, lit[i]);
        }
        qroute_keys_free(lit, n);
        if (n == 0 || empty) {
            vset_free(&s);
            return all();
        }
        return s;
    }
    return all();
}

/* A statement's WHERE and those of its subqueries all restrict the rows. */
static struct vset pins_stmt(const struct iql_stmt *st, const char *tag)
{
    struct vset s = pins(st->where, tag);
    for (size_t i = 0; i < st->nsources; i++)
        if (st->sources[i].sub)
            s = vset_and(s, pins_stmt(st->sources[i].sub, tag));
    return s;
}

static size_t keys_of(const struct iql_expr *where, const struct iql_stmt *st,
                      char *const *shard_by, size_t n_shard_by, char ***keys);

size_t qroute_keys(const struct iql_expr *where, char *const *shard_by,
                   size_t n_shard_by, char ***keys)
{
    *keys = NULL;
    if (!where)
        return 0;
    return keys_of(where, NULL, shard_by, n_shard_by, keys);
}

size_t qroute_stmt_keys(const struct iql_stmt *st, char *const *shard_by,
                        size_t n_shard_by, char ***keys)
{
    *keys = NULL;
    return keys_of(NULL, st, shard_by, n_shard_by, keys);
}

static size_t keys_of(const struct iql_expr *where, const struct iql_stmt *st,
                      char *const *shard_by, size_t n_shard_by, char ***keys)
{
    *keys = NULL;
    if (n_shard_by == 0)
        return 0;
    struct vset *sets = xcalloc(n_shard_by, sizeof(*sets));
    size_t total = 1, nk = 0;
    char **out = NULL;
    bool pinned = true;
    for (size_t i = 0; i < n_shard_by && pinned; i++) {
        sets[i] = st ? pins_stmt(st, shard_by[i]) : pins(where, shard_by[i]);
        if (sets[i].all) {
            pinned = false;
            break;
        }
        for (size_t j = 0; j < sets[i].n; j++)
            if (n_shard_by > 1 && strchr(sets[i].v[j], ','))
                pinned = false;
        if (sets[i].n == 0) {
            total = 0;
        } else if (total > QROUTE_MAX_KEYS / sets[i].n) {
            pinned = false;
        } else {
            total *= sets[i].n;
        }
    }
    if (pinned && total == 0) {
        /* contradictory (a = 'x' AND a = 'y'): nothing matches anywhere;
         * still route to one key's owner so that influxd answers. */
        out = xcalloc(1, sizeof(*out));
        out[0] = xstrdup(sets[0].n ? sets[0].v[0] : "-");
        nk = 1;
    } else if (pinned) {
        out = xcalloc(total, sizeof(*out));
        struct buf b;
        buf_init(&b, 0);
        for (size_t k = 0; k < total; k++) {
            buf_reset(&b);
            size_t rest = k;
            for (size_t i = 0; i < n_shard_by; i++) {
                size_t j = rest % sets[i].n;
                rest /= sets[i].n;
                if (i)
                    buf_addc(&b, ',');
                buf_adds(&b, sets[i].v[j]);
            }
            buf_addc(&b, '\0');
            out[nk++] = xstrdup(b.data);
        }
        buf_release(&b);
    }
    for (size_t i = 0; i < n_shard_by; i++)
        vset_free(&sets[i]);
    free(sets);
    *keys = out;
    return nk;
}
