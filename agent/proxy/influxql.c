/*
 * The grammar follows InfluxDB 1.x's influxql package (the spec in its
 * docs, "InfluxQL reference"): keywords are case-insensitive, identifiers
 * are unquoted ([A-Za-z_][A-Za-z0-9_]*) or double-quoted, strings are
 * single-quoted, regexes are /.../ where a regex may stand, durations are
 * an integer followed by a unit (ns u µ ms s m h d w). Operator precedence,
 * lowest first: OR; AND; = != <> < <= > >= =~ !~; + - | ^; * / % &.
 */
#include "proxy/influxql_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/xalloc.h"

/* ------------------------------------------------------------------ */
/* Expressions                                                          */

static void expr_free(struct iql_expr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nargs; i++)
        expr_free(e->args[i]);
    free(e->args);
    free(e->s);
    free(e->ident_type);
    free(e);
}

static struct iql_expr *expr_new(struct parser *p, enum iql_expr_kind k,
                                 size_t start)
{
    if (++p->nodes > INFLUXQL_MAX_NODES) {
        iql_fail(p, "query too complex: more than %u expression nodes",
                 INFLUXQL_MAX_NODES);
        return NULL;
    }
    struct iql_expr *e = xcalloc(1, sizeof(*e));
    e->kind = k;
    e->span.start = start;
    return e;
}

static void expr_add(struct iql_expr *e, struct iql_expr *a)
{
    e->args = xrealloc(e->args, (e->nargs + 1) * sizeof(*e->args));
    e->args[e->nargs++] = a;
}

static struct iql_expr *parse_expr(struct parser *p, int minprec);

static int prec(enum iql_op op)
{
    switch (op) {
    case IQL_OP_OR:
        return 1;
    case IQL_OP_AND:
        return 2;
    case IQL_OP_EQ:
    case IQL_OP_NEQ:
    case IQL_OP_LT:
    case IQL_OP_LTE:
    case IQL_OP_GT:
    case IQL_OP_GTE:
    case IQL_OP_EQREGEX:
    case IQL_OP_NEQREGEX:
        return 4;
    case IQL_OP_ADD:
    case IQL_OP_SUB:
    case IQL_OP_BITOR:
    case IQL_OP_BITXOR:
        return 5;
    case IQL_OP_MUL:
    case IQL_OP_DIV:
    case IQL_OP_MOD:
    case IQL_OP_BITAND:
        return 6;
    default:
        return 0;
    }
}

/* The binary operator at the current token, IQL_OP_NONE when none. */
static enum iql_op cur_binop(const struct parser *p)
{
    if (p->cur.kind == TK_OP)
        return p->cur.op;
    if (iql_is_kw(p, "AND"))
        return IQL_OP_AND;
    if (iql_is_kw(p, "OR"))
        return IQL_OP_OR;
    return IQL_OP_NONE;
}

static struct iql_expr *parse_call(struct parser *p, char *name, size_t start)
{
    struct iql_expr *e = expr_new(p, IQL_E_CALL, start);
    if (!e) {
        free(name);
        return NULL;
    }
    for (char *c = name; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    e->s = name;
    iql_next(p); /* ( */
    if (p->cur.kind == TK_RPAREN) {
        iql_next(p);
        e->span.end = p->cur.start;
        return e;
    }
    for (;;) {
        struct iql_expr *a = NULL;
        char *re;
        if (p->cur.kind == TK_OP && p->cur.op == IQL_OP_MUL) {
            a = expr_new(p, IQL_E_WILDCARD, p->cur.start);
            iql_next(p);
        } else if ((re = iql_take_regex(p)) != NULL) {
            a = expr_new(p, IQL_E_REGEX, p->cur.start);
            if (a)
                a->s = re;
            else
                free(re);
            iql_next(p);
        } else if (!p->failed) {
            a = parse_expr(p, 1);
        }
        if (!a) {
            expr_free(e);
            return NULL;
        }
        a->span.end = a->span.end ? a->span.end : p->cur.start;
        expr_add(e, a);
        if (p->cur.kind == TK_COMMA) {
            iql_next(p);
            continue;
        }
        if (!iql_expect_tok(p, TK_RPAREN, ")")) {
            expr_free(e);
            return NULL;
        }
        break;
    }
    e->span.end = p->cur.start;
    return e;
}

/* A leaf that keeps the current token's unescaped text (a string or a
 * parameter), moving past the token. */
static struct iql_expr *expr_take_val(struct parser *p, enum iql_expr_kind k,
                                      size_t start)
{
    struct iql_expr *e = expr_new(p, k, start);
    if (!e)
        return NULL;
    e->s = p->cur.val;
    p->cur.val = NULL;
    iql_next(p);
    return e;
}

static struct iql_expr *parse_unary(struct parser *p)
{
    size_t start = p->cur.start;
    struct iql_expr *e = NULL;
    switch (p->cur.kind) {
    case TK_LPAREN: {
        iql_next(p);
        struct iql_expr *in = parse_expr(p, 1);
        if (!in)
            return NULL;
        if (!iql_expect_tok(p, TK_RPAREN, ")")) {
            expr_free(in);
            return NULL;
        }
        e = expr_new(p, IQL_E_PAREN, start);
        if (!e) {
            expr_free(in);
            return NULL;
        }
        expr_add(e, in);
        break;
    }
    case TK_IDENT:
        if (strcasecmp(p->cur.val, "true") == 0 ||
            strcasecmp(p->cur.val, "false") == 0) {
            e = expr_new(p, IQL_E_BOOL, start);
            if (e)
                e->num = strcasecmp(p->cur.val, "true") == 0;
            iql_next(p);
            break;
        }
        if (p->pos < p->len) {
            size_t save = p->pos;
            iql_skip_space(p);
            bool call = p->pos < p->len && p->t[p->pos] == '(';
            p->pos = save;
            if (call) {
                char *name = p->cur.val;
                p->cur.val = NULL;
                iql_next(p);
                return parse_call(p, name, start);
            }
        }
        if (iql_reserved(p->cur.val)) {
            iql_expected(p, "identifier, string, number, bool");
            return NULL;
        }
        /* fall through */
    case TK_QIDENT:
        e = expr_new(p, IQL_E_IDENT, start);
        if (!e)
            return NULL;
        e->s = p->cur.val;
        p->cur.val = NULL;
        iql_next(p);
        if (p->cur.kind == TK_DCOLON) {
            iql_next(p);
            if (p->cur.kind != TK_IDENT) {
                iql_expected(p, "field, tag, integer, float, string, boolean");
                expr_free(e);
                return NULL;
            }
            e->ident_type = p->cur.val;
            p->cur.val = NULL;
            iql_next(p);
        }
        break;
    case TK_STRING:
        e = expr_take_val(p, IQL_E_STRING, start);
        break;
    case TK_NUMBER:
    case TK_INTEGER:
    case TK_DURATION:
        e = expr_new(p,
                     p->cur.kind == TK_NUMBER    ? IQL_E_NUMBER
                     : p->cur.kind == TK_INTEGER ? IQL_E_INTEGER
                                                 : IQL_E_DURATION,
                     start);
        if (!e)
            return NULL;
        e->num = p->cur.num;
        e->dur_ns = p->cur.dur_ns;
        e->s = xstrndup(p->t + p->cur.start, p->cur.end - p->cur.start);
        iql_next(p);
        break;
    case TK_PARAM:
        e = expr_take_val(p, IQL_E_PARAM, start);
        break;
    case TK_OP:
        if (p->cur.op == IQL_OP_SUB || p->cur.op == IQL_OP_ADD) {
            enum iql_op op = p->cur.op;
            iql_next(p);
            if (++p->depth > INFLUXQL_MAX_DEPTH) {
                iql_fail(p, "query too deeply nested: more than %u levels",
                         INFLUXQL_MAX_DEPTH);
                return NULL;
            }
            struct iql_expr *in = parse_unary(p);
            p->depth--;
            if (!in)
                return NULL;
            if (op == IQL_OP_ADD)
                return in;
            if (in->kind == IQL_E_NUMBER || in->kind == IQL_E_INTEGER ||
                in->kind == IQL_E_DURATION) {
                in->num = -in->num;
                in->dur_ns = -in->dur_ns;
                in->span.start = start;
                return in;
            }
            e = expr_new(p, IQL_E_UNARY, start);
            if (!e) {
                expr_free(in);
                return NULL;
            }
            e->op = IQL_OP_SUB;
            expr_add(e, in);
            break;
        }
        /* fall through */
    default:
        iql_expected(p, "identifier, string, number, bool");
        return NULL;
    }
    if (e)
        e->span.end = p->cur.start;
    return e;
}

static struct iql_expr *parse_expr(struct parser *p, int minprec)
{
    if (++p->depth > INFLUXQL_MAX_DEPTH) {
        iql_fail(p, "query too deeply nested: more than %u levels",
                 INFLUXQL_MAX_DEPTH);
        return NULL;
    }
    size_t start = p->cur.start;
    struct iql_expr *lhs = parse_unary(p);
    while (lhs && !p->failed) {
        enum iql_op op = cur_binop(p);
        int pr = prec(op);
        if (pr == 0 || pr < minprec)
            break;
        iql_next(p);
        struct iql_expr *rhs = NULL;
        char *re = NULL;
        if ((op == IQL_OP_EQREGEX || op == IQL_OP_NEQREGEX) &&
            (re = iql_take_regex(p)) != NULL) {
            rhs = expr_new(p, IQL_E_REGEX, p->cur.start);
            if (rhs) {
                rhs->s = re;
                iql_next(p);
                rhs->span.end = p->cur.start;
            } else {
                free(re);
            }
        } else if (!p->failed) {
            rhs = parse_expr(p, pr + 1);
        }
        struct iql_expr *b = rhs ? expr_new(p, IQL_E_BINARY, start) : NULL;
        if (!b) {
            expr_free(lhs);
            expr_free(rhs);
            lhs = NULL;
            break;
        }
        b->op = op;
        expr_add(b, lhs);
        expr_add(b, rhs);
        b->span.end = p->cur.start;
        lhs = b;
    }
    p->depth--;
    if (p->failed) {
        expr_free(lhs);
        return NULL;
    }
    return lhs;
}

/* ------------------------------------------------------------------ */
/* Clauses                                                              */

static bool parse_int_clause(struct parser *p, const char *kw, int64_t *out)
{
    if (!iql_accept_kw(p, kw))
        return true;
    if (p->cur.kind != TK_INTEGER) {
        iql_expected(p, "integer");
        return false;
    }
    if (p->cur.num > 9e18) {
        iql_fail(p, "%s value too large", kw);
        return false;
    }
    *out = (int64_t)p->cur.num;
    iql_next(p);
    return true;
}

static bool parse_limits(struct parser *p, struct iql_stmt *st, bool series)
{
    st->limit_start = p->cur.start;
    if (!parse_int_clause(p, "LIMIT", &st->limit) ||
        !parse_int_clause(p, "OFFSET", &st->offset))
        return false;
    if (series && (!parse_int_clause(p, "SLIMIT", &st->slimit) ||
                   !parse_int_clause(p, "SOFFSET", &st->soffset)))
        return false;
    st->limit_end = p->cur.start;
    if (st->limit_end == st->limit_start)
        st->limit_end = st->limit_start;
    return true;
}

static void stmt_free(struct iql_stmt *st);

static void sources_free(struct iql_source *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].db);
        free(s[i].rp);
        free(s[i].name);
        free(s[i].regex);
        if (s[i].sub) {
            stmt_free(s[i].sub);
            free(s[i].sub);
        }
    }
    free(s);
}

static bool parse_select(struct parser *p, struct iql_stmt *st);

static bool parse_sources(struct parser *p, struct iql_stmt *st)
{
    for (;;) {
        if (p->cur.kind == TK_LPAREN) {
            /* a subquery: (SELECT ...) */
            if (++p->depth > INFLUXQL_MAX_DEPTH) {
                iql_fail(p, "query too deeply nested: more than %u levels",
                         INFLUXQL_MAX_DEPTH);
                return false;
            }
            iql_next(p);
            struct iql_stmt *sub = xcalloc(1, sizeof(*sub));
            sub->limit = sub->offset = sub->slimit = sub->soffset = -1;
            sub->span.start = p->cur.start;
            st->sources = xrealloc(st->sources,
                                   (st->nsources + 1) * sizeof(*st->sources));
            struct iql_source *s = &st->sources[st->nsources++];
            memset(s, 0, sizeof(*s));
            s->sub = sub;
            if (!iql_expect_kw(p, "SELECT") || !parse_select(p, sub))
                return false;
            sub->span.end = p->cur.start;
            if (!iql_expect_tok(p, TK_RPAREN, ")"))
                return false;
            p->depth--;
            if (p->cur.kind != TK_COMMA)
                return true;
            iql_next(p);
            continue;
        }
        st->sources =
            xrealloc(st->sources, (st->nsources + 1) * sizeof(*st->sources));
        struct iql_source *s = &st->sources[st->nsources++];
        memset(s, 0, sizeof(*s));
        char *parts[3] = {NULL, NULL, NULL};
        size_t np = 0;
        for (;;) {
            char *re = iql_take_regex(p);
            if (re) {
                s->regex = re;
                iql_next(p);
                break;
            }
            if (p->failed) /* an unterminated /re/ after "db." */
                goto bad;
            if (np > 0 && p->cur.kind == TK_DOT) { /* db..m: default rp */
                parts[np++] = NULL;
            } else {
                char *id = iql_take_ident(p, "identifier");
                if (!id)
                    goto bad;
                parts[np++] = id;
            }
            if (p->cur.kind != TK_DOT || np == 3)
                break;
            iql_next(p);
        }
        if (!s->regex && np == 0)
            goto bad;
        if (s->regex) {
            if (np >= 1)
                s->db = parts[0];
            if (np >= 2)
                s->rp = parts[1];
        } else if (np == 1) {
            s->name = parts[0];
        } else if (np == 2) {
            s->rp = parts[0];
            s->name = parts[1];
        } else {
            s->db = parts[0];
            s->rp = parts[1];
            s->name = parts[2];
        }
        if (p->cur.kind != TK_COMMA)
            return true;
        iql_next(p);
        continue;
bad:
        for (size_t i = 0; i < np; i++)
            free(parts[i]);
        return false;
    }
}

static bool parse_on(struct parser *p, struct iql_stmt *st)
{
    if (!iql_accept_kw(p, "ON"))
        return true;
    st->on_db = iql_take_ident(p, "identifier");
    return st->on_db != NULL;
}

static bool parse_where(struct parser *p, struct iql_stmt *st)
{
    if (!iql_accept_kw(p, "WHERE"))
        return true;
    st->where = parse_expr(p, 1);
    return st->where != NULL;
}

static bool parse_group_by(struct parser *p, struct iql_stmt *st)
{
    st->group_insert = p->cur.start;
    st->group_span.start = st->group_span.end = p->cur.start;
    if (!iql_is_kw(p, "GROUP"))
        return true;
    iql_next(p);
    if (!iql_expect_kw(p, "BY"))
        return false;
    for (;;) {
        char *re;
        if (p->cur.kind == TK_OP && p->cur.op == IQL_OP_MUL) {
            st->group_star = true;
            iql_next(p);
        } else if ((re = iql_take_regex(p)) != NULL) {
            free(re);
            st->group_regex = true;
            iql_next(p);
        } else if (p->failed) {
            return false;
        } else if (iql_is_kw(p, "time")) {
            iql_next(p);
            if (!iql_expect_tok(p, TK_LPAREN, "("))
                return false;
            if (p->cur.kind != TK_DURATION) {
                iql_expected(p, "duration");
                return false;
            }
            if (p->cur.dur_ns <= 0) {
                /* influxd's words; a zero interval has no buckets */
                iql_fail(p, "time dimension must have a positive duration");
                return false;
            }
            st->group_time = true;
            st->group_interval_ns = p->cur.dur_ns;
            iql_next(p);
            if (p->cur.kind == TK_COMMA) {
                iql_next(p);
                bool neg = false;
                if (p->cur.kind == TK_OP && p->cur.op == IQL_OP_SUB) {
                    neg = true;
                    iql_next(p);
                }
                if (p->cur.kind != TK_DURATION) {
                    iql_expected(p, "duration");
                    return false;
                }
                st->group_offset_ns = neg ? -p->cur.dur_ns : p->cur.dur_ns;
                iql_next(p);
            }
            if (!iql_expect_tok(p, TK_RPAREN, ")"))
                return false;
        } else {
            char *id = iql_take_ident(p, "identifier, time(), * or regex");
            if (!id)
                return false;
            st->group_tags = xrealloc(st->group_tags,
                                      (st->ngroup_tags + 1) * sizeof(char *));
            st->group_tags[st->ngroup_tags++] = id;
        }
        st->group_span.end = p->cur.start;
        if (p->cur.kind != TK_COMMA)
            break;
        iql_next(p);
    }
    /* the span ends with the last dimension, not the whitespace after it */
    while (st->group_span.end > st->group_span.start &&
           isspace((unsigned char)p->t[st->group_span.end - 1]))
        st->group_span.end--;
    return true;
}

static bool parse_fill(struct parser *p, struct iql_stmt *st)
{
    st->fill_span.start = st->fill_span.end = p->cur.start;
    if (!iql_is_kw(p, "fill"))
        return true;
    iql_next(p);
    if (!iql_expect_tok(p, TK_LPAREN, "("))
        return false;
    bool neg = false;
    if (p->cur.kind == TK_OP && p->cur.op == IQL_OP_SUB) {
        neg = true;
        iql_next(p);
    }
    if (p->cur.kind == TK_NUMBER || p->cur.kind == TK_INTEGER) {
        st->fill = IQL_FILL_NUMBER;
        st->fill_value = neg ? -p->cur.num : p->cur.num;
    } else if (!neg && iql_is_kw(p, "null")) {
        st->fill = IQL_FILL_NULL;
    } else if (!neg && iql_is_kw(p, "none")) {
        st->fill = IQL_FILL_NONE;
    } else if (!neg && iql_is_kw(p, "previous")) {
        st->fill = IQL_FILL_PREVIOUS;
    } else if (!neg && iql_is_kw(p, "linear")) {
        st->fill = IQL_FILL_LINEAR;
    } else {
        iql_expected(p, "null, none, previous, linear or a number");
        return false;
    }
    iql_next(p);
    st->fill_span.end = p->cur.end;
    return iql_expect_tok(p, TK_RPAREN, ")");
}

static bool parse_order(struct parser *p, struct iql_stmt *st)
{
    if (!iql_is_kw(p, "ORDER"))
        return true;
    iql_next(p);
    if (!iql_expect_kw(p, "BY"))
        return false;
    if (!iql_is_kw(p, "time")) {
        iql_fail(p, "error parsing query: only ORDER BY time supported at this "
                    "time");
        return false;
    }
    iql_next(p);
    if (iql_accept_kw(p, "DESC"))
        st->order_desc = true;
    else
        iql_accept_kw(p, "ASC");
    return true;
}

static bool parse_tz(struct parser *p, struct iql_stmt *st)
{
    if (!iql_is_kw(p, "tz"))
        return true;
    iql_next(p);
    if (!iql_expect_tok(p, TK_LPAREN, "("))
        return false;
    if (p->cur.kind != TK_STRING) {
        iql_expected(p, "string");
        return false;
    }
    st->tz = p->cur.val;
    p->cur.val = NULL;
    iql_next(p);
    return iql_expect_tok(p, TK_RPAREN, ")");
}

/* ------------------------------------------------------------------ */
/* Statements                                                           */

static bool parse_select(struct parser *p, struct iql_stmt *st)
{
    st->kind = IQL_SELECT;
    st->fields_span.start = p->cur.start;
    for (;;) {
        struct iql_field f = {0};
        f.span.start = p->cur.start;
        if (p->cur.kind == TK_OP && p->cur.op == IQL_OP_MUL) {
            f.expr = expr_new(p, IQL_E_WILDCARD, p->cur.start);
            iql_next(p);
            if (f.expr && p->cur.kind == TK_DCOLON) {
                iql_next(p);
                if (p->cur.kind != TK_IDENT) {
                    iql_expected(p, "field or tag");
                    expr_free(f.expr);
                    return false;
                }
                f.expr->ident_type = p->cur.val;
                p->cur.val = NULL;
                iql_next(p);
            }
        } else {
            f.expr = parse_expr(p, 1);
        }
        if (!f.expr)
            return false;
        f.expr->span.end = p->cur.start;
        if (iql_accept_kw(p, "AS")) {
            f.alias = iql_take_ident(p, "identifier");
            if (!f.alias) {
                expr_free(f.expr);
                return false;
            }
        }
        f.span.end = p->cur.start;
        st->fields = xrealloc(st->fields, (st->nfields + 1) * sizeof(f));
        st->fields[st->nfields++] = f;
        if (p->cur.kind != TK_COMMA)
            break;
        iql_next(p);
    }
    st->fields_span.end = p->cur.start;
    while (st->fields_span.end > st->fields_span.start &&
           isspace((unsigned char)p->t[st->fields_span.end - 1]))
        st->fields_span.end--;
    if (iql_is_kw(p, "INTO")) {
        iql_fail(p, "SELECT INTO is not supported by the lagwatch proxy (it "
                    "writes; use /write)");
        return false;
    }
    if (!iql_expect_kw(p, "FROM"))
        return false;
    if (!parse_sources(p, st) || !parse_where(p, st) ||
        !parse_group_by(p, st) || !parse_fill(p, st) || !parse_order(p, st) ||
        !parse_limits(p, st, true) || !parse_tz(p, st))
        return false;
    return true;
}

static bool parse_show_tag_values_key(struct parser *p, struct iql_stmt *st)
{
    if (!iql_expect_kw(p, "WITH") || !iql_expect_kw(p, "KEY"))
        return false;
    if (iql_accept_kw(p, "IN")) {
        st->with_key_op = IQL_OP_NONE;
        if (!iql_expect_tok(p, TK_LPAREN, "("))
            return false;
        for (;;) {
            char *id = iql_take_ident(p, "identifier");
            if (!id)
                return false;
            st->keys = xrealloc(st->keys, (st->nkeys + 1) * sizeof(char *));
            st->keys[st->nkeys++] = id;
            if (p->cur.kind != TK_COMMA)
                break;
            iql_next(p);
        }
        return iql_expect_tok(p, TK_RPAREN, ")");
    }
    if (p->cur.kind != TK_OP ||
        (p->cur.op != IQL_OP_EQ && p->cur.op != IQL_OP_NEQ &&
         p->cur.op != IQL_OP_EQREGEX && p->cur.op != IQL_OP_NEQREGEX)) {
        iql_expected(p, "=, !=, =~, !~ or IN");
        return false;
    }
    st->with_key_op = p->cur.op;
    iql_next(p);
    char *v;
    if (st->with_key_op == IQL_OP_EQREGEX ||
        st->with_key_op == IQL_OP_NEQREGEX) {
        v = iql_take_regex(p);
        if (!v) {
            if (!p->failed)
                iql_expected(p, "regex");
            return false;
        }
        iql_next(p);
    } else {
        v = iql_take_ident(p, "identifier");
        if (!v)
            return false;
    }
    st->keys = xrealloc(st->keys, sizeof(char *));
    st->keys[st->nkeys++] = v;
    return true;
}

static bool parse_show(struct parser *p, struct iql_stmt *st)
{
    if (iql_accept_kw(p, "DATABASES")) {
        st->kind = IQL_SHOW_DATABASES;
        return true;
    }
    if (iql_accept_kw(p, "RETENTION")) {
        st->kind = IQL_SHOW_RETENTION_POLICIES;
        return iql_expect_kw(p, "POLICIES") && parse_on(p, st);
    }
    if (iql_accept_kw(p, "MEASUREMENTS")) {
        st->kind = IQL_SHOW_MEASUREMENTS;
        if (!parse_on(p, st))
            return false;
        if (iql_accept_kw(p, "WITH")) {
            if (!iql_expect_kw(p, "MEASUREMENT"))
                return false;
            if (p->cur.kind != TK_OP ||
                (p->cur.op != IQL_OP_EQ && p->cur.op != IQL_OP_EQREGEX)) {
                iql_expected(p, "= or =~");
                return false;
            }
            st->with_meas_op = p->cur.op;
            iql_next(p);
            if (st->with_meas_op == IQL_OP_EQREGEX) {
                st->with_meas = iql_take_regex(p);
                if (!st->with_meas) {
                    if (!p->failed)
                        iql_expected(p, "regex");
                    return false;
                }
                iql_next(p);
            } else if (!(st->with_meas = iql_take_ident(p, "identifier"))) {
                return false;
            }
        }
        return parse_where(p, st) && parse_limits(p, st, false);
    }
    if (iql_accept_kw(p, "TAG")) {
        if (iql_accept_kw(p, "KEYS"))
            st->kind = IQL_SHOW_TAG_KEYS;
        else if (iql_accept_kw(p, "VALUES"))
            st->kind = IQL_SHOW_TAG_VALUES;
        else {
            iql_expected(p, "KEYS or VALUES");
            return false;
        }
        if (!parse_on(p, st))
            return false;
        if (iql_accept_kw(p, "FROM") && !parse_sources(p, st))
            return false;
        if (st->kind == IQL_SHOW_TAG_VALUES &&
            !parse_show_tag_values_key(p, st))
            return false;
        return parse_where(p, st) && parse_limits(p, st, false);
    }
    if (iql_accept_kw(p, "FIELD")) {
        st->kind = IQL_SHOW_FIELD_KEYS;
        if (!iql_expect_kw(p, "KEYS") || !parse_on(p, st))
            return false;
        if (iql_accept_kw(p, "FROM") && !parse_sources(p, st))
            return false;
        return parse_limits(p, st, false);
    }
    if (iql_accept_kw(p, "SERIES")) {
        st->kind = IQL_SHOW_SERIES;
        if (!parse_on(p, st))
            return false;
        if (iql_accept_kw(p, "FROM") && !parse_sources(p, st))
            return false;
        return parse_where(p, st) && parse_limits(p, st, false);
    }
    char found[80];
    iql_tok_text(p, found, sizeof(found));
    iql_fail(p,
             "SHOW %s is not supported by the lagwatch proxy (it answers SHOW "
             "DATABASES, RETENTION POLICIES, MEASUREMENTS, TAG KEYS, TAG "
             "VALUES, FIELD KEYS and SERIES; lagwatch(8), PROXY)",
             found);
    return false;
}

static void stmt_free(struct iql_stmt *st)
{
    for (size_t i = 0; i < st->nfields; i++) {
        expr_free(st->fields[i].expr);
        free(st->fields[i].alias);
    }
    free(st->fields);
    sources_free(st->sources, st->nsources);
    expr_free(st->where);
    for (size_t i = 0; i < st->ngroup_tags; i++)
        free(st->group_tags[i]);
    free(st->group_tags);
    free(st->tz);
    for (size_t i = 0; i < st->nkeys; i++)
        free(st->keys[i]);
    free(st->keys);
    free(st->with_meas);
    free(st->on_db);
}

void influxql_free(struct iql_query **qp)
{
    struct iql_query *q = *qp;
    if (!q)
        return;
    for (size_t i = 0; i < q->nstmts; i++)
        stmt_free(&q->stmts[i]);
    free(q->stmts);
    free(q);
    *qp = NULL;
}

static void clamp_end(size_t *at, size_t end)
{
    if (*at > end)
        *at = end;
}

struct iql_query *influxql_parse(const char *text, size_t len, char *err,
                                 size_t errlen)
{
    struct parser p = {.t = text, .len = len, .err = err, .errlen = errlen};
    struct iql_query *q = xcalloc(1, sizeof(*q));
    if (len > INFLUXQL_MAX_TEXT) {
        iql_fail(&p, "query too long: %zu bytes, at most %u", len,
                 INFLUXQL_MAX_TEXT);
        goto out;
    }
    if (memchr(text, '\0', len)) {
        iql_fail(&p, "query contains a NUL byte");
        goto out;
    }
    iql_next(&p);
    for (;;) {
        while (p.cur.kind == TK_SEMI)
            iql_next(&p);
        if (p.cur.kind == TK_EOF)
            break;
        if (q->nstmts == INFLUXQL_MAX_STATEMENTS) {
            iql_fail(&p, "too many statements: at most %u",
                     INFLUXQL_MAX_STATEMENTS);
            goto out;
        }
        q->stmts = xrealloc(q->stmts, (q->nstmts + 1) * sizeof(*q->stmts));
        struct iql_stmt *st = &q->stmts[q->nstmts++];
        memset(st, 0, sizeof(*st));
        st->limit = st->offset = st->slimit = st->soffset = -1;
        st->span.start = p.cur.start;
        bool ok;
        if (iql_accept_kw(&p, "SELECT")) {
            ok = parse_select(&p, st);
        } else if (iql_accept_kw(&p, "SHOW")) {
            ok = parse_show(&p, st);
        } else if (p.cur.kind == TK_IDENT &&
                   (iql_is_kw(&p, "DROP") || iql_is_kw(&p, "CREATE") ||
                    iql_is_kw(&p, "DELETE") || iql_is_kw(&p, "ALTER") ||
                    iql_is_kw(&p, "GRANT") || iql_is_kw(&p, "REVOKE") ||
                    iql_is_kw(&p, "KILL") || iql_is_kw(&p, "EXPLAIN") ||
                    iql_is_kw(&p, "SET"))) {
            iql_fail(&p,
                     "%s statements are not supported by the lagwatch proxy "
                     "(it answers SELECT and SHOW; run them on each node; "
                     "lagwatch(8), PROXY)",
                     p.cur.val);
            ok = false;
        } else {
            iql_expected(&p, "SELECT, SHOW");
            ok = false;
        }
        if (!ok)
            goto out;
        st->span.end = p.cur.start;
        while (st->span.end > st->span.start &&
               isspace((unsigned char)text[st->span.end - 1]))
            st->span.end--;
        /* a clause last in the statement ended at the next token, past
         * the trimmed statement: plan.c's edits must stay inside it */
        clamp_end(&st->limit_start, st->span.end);
        clamp_end(&st->limit_end, st->span.end);
        clamp_end(&st->group_span.start, st->span.end);
        clamp_end(&st->group_span.end, st->span.end);
        clamp_end(&st->group_insert, st->span.end);
        clamp_end(&st->fill_span.start, st->span.end);
        clamp_end(&st->fill_span.end, st->span.end);
        clamp_end(&st->fields_span.end, st->span.end);
        if (p.cur.kind != TK_SEMI && p.cur.kind != TK_EOF) {
            iql_expected(&p, ";");
            goto out;
        }
        if (p.cur.kind == TK_ILLEGAL)
            goto out;
    }
    if (q->nstmts == 0)
        iql_fail(&p, "error parsing query: found EOF, expected SELECT, SHOW at "
                     "line 1, char 1");
out:
    free(p.cur.val);
    if (p.failed)
        influxql_free(&q);
    return q;
}

bool influxql_is_aggregate(const char *fn)
{
    static const char *const agg[] = {"count",
                                      "sum",
                                      "mean",
                                      "median",
                                      "mode",
                                      "spread",
                                      "stddev",
                                      "min",
                                      "max",
                                      "first",
                                      "last",
                                      "percentile",
                                      "sample",
                                      "distinct",
                                      "top",
                                      "bottom",
                                      "integral",
                                      "derivative",
                                      "non_negative_derivative",
                                      "difference",
                                      "non_negative_difference",
                                      "moving_average",
                                      "cumulative_sum",
                                      "elapsed",
                                      "holt_winters",
                                      "holt_winters_with_fit",
                                      "count_hll",
                                      "sum_hll"};
    for (size_t i = 0; i < sizeof(agg) / sizeof(agg[0]); i++)
        if (strcmp(fn, agg[i]) == 0)
            return true;
    return false;
}

static bool expr_has_aggregate(const struct iql_expr *e)
{
    if (!e)
        return false;
    if (e->kind == IQL_E_CALL && influxql_is_aggregate(e->s))
        return true;
    for (size_t i = 0; i < e->nargs; i++)
        if (expr_has_aggregate(e->args[i]))
            return true;
    return false;
}

bool influxql_has_aggregate(const struct iql_stmt *st)
{
    for (size_t i = 0; i < st->nfields; i++)
        if (expr_has_aggregate(st->fields[i].expr))
            return true;
    return false;
}
