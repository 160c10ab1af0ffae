/*
 * fuzz_influxql: the proxy's InfluxQL parser (proxy/influxql.h) on any
 * text, and the tree it builds for what it accepts.
 *
 * Input: the whole input is the query text. Properties:
 *   - a refusal carries a message, NUL-terminated inside the buffer;
 *   - an accepted text has 1..INFLUXQL_MAX_STATEMENTS statements, at most
 *     INFLUXQL_MAX_NODES expression nodes, parentheses and subqueries at
 *     most INFLUXQL_MAX_DEPTH deep, regexes at most INFLUXQL_MAX_REGEX bytes;
 *   - the tree is well formed: every expression has the arity of its kind,
 *     a binary node an operator, the strings its kind documents; every
 *     source is exactly one of name, regex, subquery; GROUP BY time() has a
 *     positive interval; the LIMIT family is -1 or more;
 *   - every span lies inside its statement's, a child's inside its
 *     parent's, statements in order and disjoint;
 *   - re-parsing one statement's span alone gives one statement and the same
 *     tree (a digest of every kind, operator, string, number and span
 *     relative to the statement), so a statement can be forwarded verbatim;
 *   - what the proxy does next holds: qroute_stmt_keys() pins at most
 *     QROUTE_MAX_KEYS non-empty keys, one value per shard tag, and the node
 *     statement plan_build() writes parses again as one statement of the
 *     same kind;
 *   - influxql_has_aggregate() and influxql_free() on every tree (ASan:
 *     no leak, no double free).
 * Once at start: a text over INFLUXQL_MAX_TEXT and an expression nested past
 * INFLUXQL_MAX_DEPTH are refused.
 */
#include <ctype.h>
#include <math.h>

#include "proxy/influxql.h"
#include "proxy/plan.h"
#include "proxy/qroute.h"
#include "tests/fuzz/fuzz_common.h"

struct walk {
    const char *text;
    size_t len;
    struct iql_span in; /* the statement being walked */
    size_t base;        /* span offsets are digested relative to this */
    size_t nodes;
    uint64_t h;
    bool show; /* walking a SHOW statement */
};

static void h_str(struct walk *w, const char *s)
{
    static const char none = 1;
    w->h = s ? fuzz_hash(w->h, s, strlen(s) + 1) : fuzz_hash(w->h, &none, 1);
}

static void h_int(struct walk *w, int64_t v)
{
    w->h = fuzz_hash(w->h, &v, sizeof(v));
}

/* Spans of expressions and fields end at the next token, blanks
 * included; the statement's is trimmed: digest them cut at its end. */
static void h_span(struct walk *w, struct iql_span s)
{
    if (s.end > w->in.end)
        s.end = w->in.end;
    if (s.start > s.end)
        s.start = s.end;
    /* unset (0) in a SHOW: no position to compare */
    if (s.start < w->base || (w->show && s.start == s.end)) {
        h_int(w, -1);
        return;
    }
    h_int(w, (int64_t)(s.start - w->base));
    h_int(w, (int64_t)(s.end - w->base));
}

/* An empty span (a clause that is absent) may sit anywhere. */
static void check_span(const struct walk *w, struct iql_span s,
                       struct iql_span outer, const char *what)
{
    if (s.start == s.end)
        return;
    /* past the outer end by blanks only (see h_span) */
    while (s.end > outer.end && s.end > s.start &&
           isspace((unsigned char)w->text[s.end - 1]))
        s.end--;
    FUZZ_CHECK(s.start <= s.end && s.start >= outer.start && s.end <= outer.end,
               "%s span [%zu,%zu) outside [%zu,%zu) (text %zu bytes)", what,
               s.start, s.end, outer.start, outer.end, w->len);
}

static void walk_expr(struct walk *w, const struct iql_expr *e,
                      struct iql_span outer, unsigned parens)
{
    FUZZ_CHECK(e != NULL, "NULL expression");
    w->nodes++;
    check_span(w, e->span, outer, "expression");
    h_int(w, e->kind);
    h_int(w, e->op);
    h_span(w, e->span);
    size_t want = 0;
    switch (e->kind) {
    case IQL_E_IDENT:
    case IQL_E_STRING:
    case IQL_E_PARAM:
        FUZZ_CHECK(e->s != NULL, "kind %d without a string", e->kind);
        break;
    case IQL_E_REGEX:
        FUZZ_CHECK(e->s != NULL, "regex without a pattern");
        FUZZ_CHECK(strlen(e->s) <= INFLUXQL_MAX_REGEX, "regex of %zu bytes",
                   strlen(e->s));
        break;
    case IQL_E_DURATION:
        FUZZ_CHECK(e->s != NULL, "duration without its text");
        h_int(w, e->dur_ns);
        break;
    case IQL_E_NUMBER:
    case IQL_E_INTEGER:
    case IQL_E_BOOL: {
        double v = isnan(e->num) ? NAN : e->num;
        w->h = fuzz_hash(w->h, &v, sizeof(v));
        if (e->kind == IQL_E_BOOL)
            FUZZ_CHECK(e->num == 0 || e->num == 1, "bool %g", e->num);
        break;
    }
    case IQL_E_WILDCARD:
        break;
    case IQL_E_CALL:
        FUZZ_CHECK(e->s != NULL, "call without a name");
        want = e->nargs;
        break;
    case IQL_E_BINARY:
        FUZZ_CHECK(e->op >= IQL_OP_OR && e->op <= IQL_OP_BITXOR, "binary op %d",
                   e->op);
        want = 2;
        break;
    case IQL_E_UNARY:
    case IQL_E_PAREN:
        want = 1;
        break;
    default:
        FUZZ_CHECK(0, "expression kind %d", e->kind);
    }
    if (e->kind != IQL_E_BINARY)
        FUZZ_CHECK(e->op == IQL_OP_NONE || e->kind == IQL_E_UNARY,
                   "kind %d with op %d", e->kind, e->op);
    FUZZ_CHECK(e->nargs == want, "kind %d with %zu args", e->kind, e->nargs);
    h_str(w, e->s);
    h_str(w, e->ident_type);
    if (e->kind == IQL_E_PAREN) {
        parens++;
        FUZZ_CHECK(parens <= INFLUXQL_MAX_DEPTH, "parentheses %u deep", parens);
    }
    for (size_t i = 0; i < e->nargs; i++)
        walk_expr(w, e->args[i], e->span, parens);
}

static void walk_stmt(struct walk *w, const struct iql_stmt *st, unsigned depth)
{
    FUZZ_CHECK(depth <= INFLUXQL_MAX_DEPTH, "subqueries %u deep", depth);
    FUZZ_CHECK(st->kind >= IQL_SELECT && st->kind <= IQL_SHOW_SERIES,
               "statement kind %d", st->kind);
    struct iql_span sp = st->span;
    check_span(w, sp, w->in, "statement");
    struct iql_span saved = w->in;
    bool saved_show = w->show;
    w->in = sp;
    w->show = st->kind != IQL_SELECT;
    h_int(w, st->kind);
    h_span(w, sp);
    h_str(w, st->on_db);
    h_int(w, (int64_t)st->nfields);
    if (st->nfields)
        check_span(w, st->fields_span, sp, "field list");
    for (size_t i = 0; i < st->nfields; i++) {
        const struct iql_field *f = &st->fields[i];
        check_span(w, f->span, sp, "field");
        /* the list's span ends at its last byte, a field's at the next
         * token (blanks included) */
        struct iql_span fs = f->span;
        while (fs.end > fs.start && isspace((unsigned char)w->text[fs.end - 1]))
            fs.end--;
        check_span(w, fs, st->fields_span, "field in its list");
        h_span(w, f->span);
        h_str(w, f->alias);
        walk_expr(w, f->expr, sp, 0);
    }
    h_int(w, (int64_t)st->nsources);
    for (size_t i = 0; i < st->nsources; i++) {
        const struct iql_source *s = &st->sources[i];
        int set = (s->name != NULL) + (s->regex != NULL) + (s->sub != NULL);
        FUZZ_CHECK(set == 1, "source %zu sets %d of name/regex/sub", i, set);
        if (s->regex)
            FUZZ_CHECK(strlen(s->regex) <= INFLUXQL_MAX_REGEX,
                       "source regex of %zu bytes", strlen(s->regex));
        h_str(w, s->db);
        h_str(w, s->rp);
        h_str(w, s->name);
        h_str(w, s->regex);
        if (s->sub) {
            FUZZ_CHECK(st->kind == IQL_SELECT && s->sub->kind == IQL_SELECT,
                       "a subquery of kind %d in kind %d", s->sub->kind,
                       st->kind);
            walk_stmt(w, s->sub, depth + 1);
        }
    }
    if (st->where)
        walk_expr(w, st->where, sp, 0);
    h_int(w, st->group_time);
    if (st->group_time) {
        FUZZ_CHECK(st->group_interval_ns > 0, "GROUP BY time(%lld)",
                   (long long)st->group_interval_ns);
        h_int(w, st->group_interval_ns);
        h_int(w, st->group_offset_ns);
    }
    h_int(w, (int64_t)st->ngroup_tags);
    for (size_t i = 0; i < st->ngroup_tags; i++) {
        FUZZ_CHECK(st->group_tags[i] != NULL, "NULL group tag");
        h_str(w, st->group_tags[i]);
    }
    h_int(w, st->group_star);
    h_int(w, st->group_regex);
    check_span(w, st->group_span, sp, "GROUP BY");
    /* the clauses plan.c edits: inside the statement, blanks or not */
    FUZZ_CHECK(st->group_span.end <= sp.end && st->fill_span.end <= sp.end &&
                   st->limit_end <= sp.end,
               "a clause ends past the statement's end %zu: GROUP BY %zu, "
               "fill %zu, LIMIT %zu",
               sp.end, st->group_span.end, st->fill_span.end, st->limit_end);
    FUZZ_CHECK(st->kind != IQL_SELECT ||
                   (st->group_insert >= sp.start && st->group_insert <= sp.end),
               "group_insert %zu outside [%zu,%zu)", st->group_insert, sp.start,
               sp.end);
    bool grouped =
        st->group_time || st->ngroup_tags || st->group_star || st->group_regex;
    if (grouped && st->kind == IQL_SELECT)
        FUZZ_CHECK(st->group_span.end > st->group_span.start,
                   "a GROUP BY with an empty span");
    h_span(w, st->group_span);
    if (st->kind == IQL_SELECT)
        h_int(w, (int64_t)st->group_insert - (int64_t)w->base);
    h_int(w, st->fill);
    if (st->fill == IQL_FILL_NUMBER) {
        double v = isnan(st->fill_value) ? NAN : st->fill_value;
        w->h = fuzz_hash(w->h, &v, sizeof(v));
    }
    check_span(w, st->fill_span, sp, "fill");
    h_span(w, st->fill_span);
    h_int(w, st->order_desc);
    FUZZ_CHECK(st->limit >= -1 && st->offset >= -1 && st->slimit >= -1 &&
                   st->soffset >= -1,
               "LIMIT family %lld %lld %lld %lld", (long long)st->limit,
               (long long)st->offset, (long long)st->slimit,
               (long long)st->soffset);
    h_int(w, st->limit);
    h_int(w, st->offset);
    h_int(w, st->slimit);
    h_int(w, st->soffset);
    struct iql_span lim = {st->limit_start, st->limit_end};
    check_span(w, lim, sp, "LIMIT family");
    h_span(w, lim);
    h_str(w, st->tz);
    h_int(w, st->with_key_op);
    h_int(w, (int64_t)st->nkeys);
    for (size_t i = 0; i < st->nkeys; i++) {
        FUZZ_CHECK(st->keys[i] != NULL, "NULL WITH KEY value");
        h_str(w, st->keys[i]);
    }
    h_int(w, st->with_meas_op);
    h_str(w, st->with_meas);
    (void)influxql_has_aggregate(st);
    w->in = saved;
    w->show = saved_show;
}

static char err[512];

/* What the proxy does next with an accepted statement: the shard keys its
 * WHERE pins (each a value of the shard tags, at most QROUTE_MAX_KEYS) and
 * the node statement plan_build() writes, which must parse again as one
 * statement of the same kind. */
static void route_and_plan(const char *text, const struct iql_stmt *st)
{
    static char *by1[] = {"job_name"};
    static char *by2[] = {"flink_cluster", "job_name"};
    for (size_t nby = 1; nby <= 2; nby++) {
        char *const *by = nby == 1 ? by1 : by2;
        char **keys = NULL;
        size_t n = qroute_stmt_keys(st, by, nby, &keys);
        FUZZ_CHECK(n <= QROUTE_MAX_KEYS, "%zu shard keys", n);
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(keys[i] && keys[i][0], "empty shard key %zu", i);
            size_t commas = 0;
            for (const char *c = keys[i]; *c; c++)
                commas += *c == ',';
            FUZZ_CHECK(nby == 1 || commas == nby - 1,
                       "key '%s' for %zu shard tags", keys[i], nby);
        }
        qroute_keys_free(keys, n);
    }
    struct plan pl;
    char perr[512] = "";
    if (plan_build(&pl, text, st, by1, 1, 2, "ms", perr, sizeof(perr)) != 0) {
        FUZZ_CHECK(perr[0], "plan refused without a message");
        return;
    }
    FUZZ_CHECK(pl.text != NULL, "a plan without a text");
    struct iql_query *q =
        influxql_parse(pl.text, strlen(pl.text), err, sizeof(err));
    FUZZ_CHECK(q != NULL, "the node statement '%s' does not parse: %s", pl.text,
               err);
    FUZZ_CHECK(q->nstmts == 1 && q->stmts[0].kind == st->kind,
               "the node statement '%s' is %zu statements", pl.text, q->nstmts);
    influxql_free(&q);
    plan_release(&pl);
}

/* Parses text; on refusal checks the message and returns NULL. */
static struct iql_query *parse(const char *text, size_t len)
{
    memset(err, 0x55, sizeof(err));
    struct iql_query *q = influxql_parse(text, len, err, sizeof(err));
    if (!q) {
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL,
                   "error message not terminated");
        FUZZ_CHECK(err[0] != '\0', "refused without a message");
    }
    return q;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_logs();
    /* the documented caps, once: too long a text, too deep an expression */
    size_t big = INFLUXQL_MAX_TEXT + 1;
    char *t = malloc(big);
    FUZZ_CHECK(t != NULL, "malloc");
    memset(t, ' ', big);
    memcpy(t, "SHOW DATABASES", 14);
    struct iql_query *q = parse(t, big);
    FUZZ_CHECK(q == NULL, "a text of %zu bytes accepted", big);
    size_t n = 7;
    memcpy(t, "SELECT ", n);
    for (unsigned i = 0; i <= INFLUXQL_MAX_DEPTH; i++)
        t[n++] = '(';
    t[n++] = '1';
    for (unsigned i = 0; i <= INFLUXQL_MAX_DEPTH; i++)
        t[n++] = ')';
    memcpy(t + n, " FROM m", 7);
    n += 7;
    q = parse(t, n);
    FUZZ_CHECK(q == NULL, "%u parentheses deep accepted",
               INFLUXQL_MAX_DEPTH + 1);
    free(t);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct iql_query *q = parse(text, size);
    if (!q)
        return 0;
    FUZZ_CHECK(q->nstmts >= 1 && q->nstmts <= INFLUXQL_MAX_STATEMENTS,
               "%zu statements", q->nstmts);
    struct walk w = {.text = text, .len = size};
    size_t prev_end = 0;
    for (size_t i = 0; i < q->nstmts; i++) {
        const struct iql_stmt *st = &q->stmts[i];
        FUZZ_CHECK(st->span.start >= prev_end,
                   "statement %zu starts at %zu, before %zu", i, st->span.start,
                   prev_end);
        prev_end = st->span.end;
        w.in = (struct iql_span){0, size};
        w.base = st->span.start;
        w.h = 0;
        walk_stmt(&w, st, 0);
        uint64_t whole = w.h;

        /* the statement's own text, alone: the same tree */
        size_t off = st->span.start, n = st->span.end - st->span.start;
        char *alone = malloc(n ? n : 1);
        FUZZ_CHECK(alone != NULL, "malloc");
        memcpy(alone, text + off, n);
        struct iql_query *q2 = influxql_parse(alone, n, err, sizeof(err));
        FUZZ_CHECK(q2 != NULL, "statement %zu [%zu,%zu) refused alone: %s", i,
                   off, off + n, err);
        FUZZ_CHECK(q2->nstmts == 1, "statement %zu is %zu alone", i,
                   q2->nstmts);
        struct walk w2 = {.text = alone,
                          .len = n,
                          .in = {0, n},
                          .base = q2->stmts[0].span.start};
        walk_stmt(&w2, &q2->stmts[0], 0);
        FUZZ_CHECK(w2.h == whole,
                   "statement %zu [%zu,%zu) parses differently alone", i, off,
                   off + n);
        influxql_free(&q2);
        FUZZ_CHECK(q2 == NULL, "influxql_free left the pointer");
        free(alone);
        route_and_plan(text, st);
    }
    FUZZ_CHECK(w.nodes <= INFLUXQL_MAX_NODES, "%zu expression nodes", w.nodes);
    influxql_free(&q);
    return 0;
}
