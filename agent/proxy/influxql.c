/*
 * The grammar follows InfluxDB 1.x's influxql package (the spec in its
 * docs, "InfluxQL reference"): keywords are case-insensitive, identifiers
 * are unquoted ([A-Za-z_][A-Za-z0-9_]*) or double-quoted, strings are
 * single-quoted, regexes are /.../ where a regex may stand, durations are
 * an integer followed by a unit (ns u µ ms s m h d w). Operator precedence,
 * lowest first: OR; AND; = != <> < <= > >= =~ !~; + - | ^; * / % &.
 */
#include "proxy/influxql.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/xalloc.h"

enum tok {
    TK_EOF,
    TK_IDENT,  /* unquoted */
    TK_QIDENT, /* "quoted" */
    TK_STRING,
    TK_NUMBER,
    TK_INTEGER,
    TK_DURATION,
    TK_PARAM,
    TK_OP, /* binary operator in op, '*' included */
    TK_LPAREN,
    TK_RPAREN,
    TK_COMMA,
    TK_SEMI,
    TK_DOT,
    TK_DCOLON,
    TK_ILLEGAL,
};

struct token {
    enum tok kind;
    enum iql_op op;
    size_t start, end;
    char *val; /* unescaped text of idents, strings, params */
    double num;
    int64_t dur_ns;
};

struct parser {
    const char *t;
    size_t len;
    size_t pos; /* the lexer's position after cur */
    struct token cur;
    char *err;
    size_t errlen;
    bool failed;
    unsigned depth;
    size_t nodes;
};

/* ------------------------------------------------------------------ */
/* Errors                                                               */

static void fail(struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail(struct parser *p, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
}

/* The token as influxd's messages name it. */
static void tok_text(const struct parser *p, char *out, size_t n)
{
    if (p->cur.kind == TK_EOF) {
        snprintf(out, n, "EOF");
        return;
    }
    size_t l = p->cur.end - p->cur.start;
    if (l > 64)
        l = 64;
    snprintf(out, n, "%.*s", (int)l, p->t + p->cur.start);
}

/* "found X, expected Y at line L, char C" (1-based, as influxd). */
static void expected(struct parser *p, const char *what)
{
    char found[80];
    tok_text(p, found, sizeof(found));
    unsigned line = 1, col = 1;
    for (size_t i = 0; i < p->cur.start && i < p->len; i++) {
        if (p->t[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    fail(p, "error parsing query: found %s, expected %s at line %u, char %u",
         found, what, line, col);
}

/* ------------------------------------------------------------------ */
/* Lexer                                                                */

static void skip_space(struct parser *p)
{
    for (;;) {
        while (p->pos < p->len && isspace((unsigned char)p->t[p->pos]))
            p->pos++;
        if (p->pos + 1 < p->len && p->t[p->pos] == '-' &&
            p->t[p->pos + 1] == '-') {
            while (p->pos < p->len && p->t[p->pos] != '\n')
                p->pos++;
            continue;
        }
        if (p->pos + 1 < p->len && p->t[p->pos] == '/' &&
            p->t[p->pos + 1] == '*') {
            const char *e = NULL;
            for (size_t i = p->pos + 2; i + 1 < p->len; i++)
                if (p->t[i] == '*' && p->t[i + 1] == '/') {
                    e = p->t + i;
                    break;
                }
            p->pos = e ? (size_t)(e - p->t) + 2 : p->len;
            continue;
        }
        return;
    }
}

/* Scans a quoted run ending at q (backslash escapes q, '\\', n). */
static bool scan_quoted(struct parser *p, char q, struct buf *b)
{
    p->pos++; /* the opening quote */
    while (p->pos < p->len) {
        char c = p->t[p->pos++];
        if (c == q)
            return !buf_error(b);
        if (c == '\\' && p->pos < p->len) {
            char n = p->t[p->pos++];
            if (n == q || n == '\\')
                buf_addc(b, n);
            else if (n == 'n')
                buf_addc(b, '\n');
            else {
                buf_addc(b, '\\');
                buf_addc(b, n);
            }
        } else if (c == '\n') {
            return false;
        } else {
            buf_addc(b, c);
        }
    }
    return false;
}

static const struct {
    const char *unit;
    int64_t ns;
} units[] = {
    {"ns", 1},
    {"u", 1000},
    {"\xc2\xb5", 1000},
    {"ms", 1000000},
    {"s", 1000000000LL},
    {"m", 60LL * 1000000000LL},
    {"h", 3600LL * 1000000000LL},
    {"d", 86400LL * 1000000000LL},
    {"w", 7LL * 86400LL * 1000000000LL},
};

static void scan_number(struct parser *p, struct token *tk)
{
    size_t s = p->pos;
    while (p->pos < p->len && isdigit((unsigned char)p->t[p->pos]))
        p->pos++;
    bool frac = false;
    if (p->pos < p->len && p->t[p->pos] == '.') {
        frac = true;
        p->pos++;
        while (p->pos < p->len && isdigit((unsigned char)p->t[p->pos]))
            p->pos++;
    }
    char tmp[64];
    size_t l = p->pos - s;
    if (l >= sizeof(tmp)) {
        tk->kind = TK_ILLEGAL;
        return;
    }
    memcpy(tmp, p->t + s, l);
    tmp[l] = '\0';
    tk->num = strtod(tmp, NULL);
    tk->kind = frac ? TK_NUMBER : TK_INTEGER;
    if (frac)
        return;
    /* A unit right after the digits makes a duration: longest match. */
    size_t best = 0;
    int64_t mult = 0;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t ul = strlen(units[i].unit);
        if (p->pos + ul <= p->len &&
            memcmp(p->t + p->pos, units[i].unit, ul) == 0 && ul > best) {
            best = ul;
            mult = units[i].ns;
        }
    }
    if (best) {
        size_t e = p->pos + best;
        /* "5min" is an identifier tail, not a duration */
        if (e < p->len && (isalnum((unsigned char)p->t[e]) || p->t[e] == '_'))
            return;
        p->pos = e;
        tk->kind = TK_DURATION;
        if (tk->num > 9.2e18 / (double)mult)
            tk->kind = TK_ILLEGAL;
        else
            tk->dur_ns = (int64_t)tk->num * mult;
    }
}

static void next(struct parser *p)
{
    struct token *tk = &p->cur;
    free(tk->val);
    memset(tk, 0, sizeof(*tk));
    skip_space(p);
    tk->start = p->pos;
    if (p->pos >= p->len) {
        tk->kind = TK_EOF;
        tk->end = p->pos;
        return;
    }
    char c = p->t[p->pos];
    char n = p->pos + 1 < p->len ? p->t[p->pos + 1] : '\0';
    if (isalpha((unsigned char)c) || c == '_') {
        while (p->pos < p->len &&
               (isalnum((unsigned char)p->t[p->pos]) || p->t[p->pos] == '_'))
            p->pos++;
        tk->kind = TK_IDENT;
        tk->val = xstrndup(p->t + tk->start, p->pos - tk->start);
    } else if (c == '"' || c == '\'') {
        struct buf b;
        buf_init(&b, INFLUXQL_MAX_TEXT);
        if (scan_quoted(p, c, &b)) {
            tk->kind = c == '"' ? TK_QIDENT : TK_STRING;
            buf_addc(&b, '\0');
            tk->val = buf_detach(&b, NULL);
        } else {
            tk->kind = TK_ILLEGAL;
            buf_release(&b);
        }
    } else if (isdigit((unsigned char)c) ||
               (c == '.' && isdigit((unsigned char)n))) {
        scan_number(p, tk);
    } else if (c == '$') {
        p->pos++;
        size_t s = p->pos;
        while (p->pos < p->len &&
               (isalnum((unsigned char)p->t[p->pos]) || p->t[p->pos] == '_'))
            p->pos++;
        tk->kind = p->pos > s ? TK_PARAM : TK_ILLEGAL;
        tk->val = xstrndup(p->t + s, p->pos - s);
    } else {
        /* punctuation and operators, the two-byte ones first */
        static const struct {
            const char *s;
            enum tok kind;
            enum iql_op op;
        } ops[] = {
            {"=~", TK_OP, IQL_OP_EQREGEX},  {"!=", TK_OP, IQL_OP_NEQ},
            {"!~", TK_OP, IQL_OP_NEQREGEX}, {"<=", TK_OP, IQL_OP_LTE},
            {"<>", TK_OP, IQL_OP_NEQ},      {">=", TK_OP, IQL_OP_GTE},
            {"::", TK_DCOLON, IQL_OP_NONE}, {"=", TK_OP, IQL_OP_EQ},
            {"<", TK_OP, IQL_OP_LT},        {">", TK_OP, IQL_OP_GT},
            {"+", TK_OP, IQL_OP_ADD},       {"-", TK_OP, IQL_OP_SUB},
            {"*", TK_OP, IQL_OP_MUL},       {"/", TK_OP, IQL_OP_DIV},
            {"%", TK_OP, IQL_OP_MOD},       {"&", TK_OP, IQL_OP_BITAND},
            {"|", TK_OP, IQL_OP_BITOR},     {"^", TK_OP, IQL_OP_BITXOR},
            {"(", TK_LPAREN, IQL_OP_NONE},  {")", TK_RPAREN, IQL_OP_NONE},
            {",", TK_COMMA, IQL_OP_NONE},   {";", TK_SEMI, IQL_OP_NONE},
            {".", TK_DOT, IQL_OP_NONE},
        };
        tk->kind = TK_ILLEGAL;
        p->pos++;
        for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
            size_t l = strlen(ops[k].s);
            if (ops[k].s[0] == c && (l == 1 || ops[k].s[1] == n)) {
                tk->kind = ops[k].kind;
                tk->op = ops[k].op;
                p->pos += l - 1;
                break;
            }
        }
    }
    tk->end = p->pos;
}

/* When the current token is a '/' where a regex may stand, rescans from
 * it as a regex and returns the pattern (heap), else NULL. */
static char *take_regex(struct parser *p)
{
    if (p->cur.kind != TK_OP || p->cur.op != IQL_OP_DIV)
        return NULL;
    size_t i = p->cur.start + 1;
    struct buf b;
    buf_init(&b, INFLUXQL_MAX_REGEX + 1);
    bool closed = false;
    while (i < p->len) {
        char c = p->t[i++];
        if (c == '/') {
            closed = true;
            break;
        }
        if (c == '\\' && i < p->len && p->t[i] == '/') {
            buf_addc(&b, '/');
            i++;
        } else if (c == '\n') {
            break;
        } else {
            buf_addc(&b, c);
        }
    }
    if (buf_error(&b)) {
        buf_release(&b);
        fail(p, "regular expression longer than %u bytes", INFLUXQL_MAX_REGEX);
        return NULL;
    }
    if (!closed) {
        buf_release(&b);
        fail(p,
             "error parsing query: unterminated regular expression at "
             "char %zu",
             p->cur.start + 1);
        return NULL;
    }
    buf_addc(&b, '\0');
    p->pos = i;
    p->cur.end = i;
    return buf_detach(&b, NULL);
}

static bool is_kw(const struct parser *p, const char *kw)
{
    return p->cur.kind == TK_IDENT && strcasecmp(p->cur.val, kw) == 0;
}

static bool accept_kw(struct parser *p, const char *kw)
{
    if (!is_kw(p, kw))
        return false;
    next(p);
    return true;
}

static bool expect_kw(struct parser *p, const char *kw)
{
    if (accept_kw(p, kw))
        return true;
    expected(p, kw);
    return false;
}

static bool expect_tok(struct parser *p, enum tok k, const char *what)
{
    if (p->cur.kind == k) {
        next(p);
        return true;
    }
    expected(p, what);
    return false;
}

/* Words that cannot be unquoted identifiers (influxql's keyword list, the
 * ones that matter where an identifier may stand). */
static bool reserved(const char *s)
{
    static const char *const kw[] = {
        "ALL",    "ALTER",  "AND",      "AS",          "ASC",         "BEGIN",
        "BY",     "CREATE", "DELETE",   "DESC",        "DROP",        "FIELD",
        "FILL",   "FROM",   "GROUP",    "IN",          "INTO",        "KEY",
        "KEYS",   "LIMIT",  "OFFSET",   "ON",          "OR",          "ORDER",
        "SELECT", "SERIES", "SHOW",     "SLIMIT",      "SOFFSET",     "TAG",
        "WHERE",  "WITH",   "DATABASE", "MEASUREMENT", "MEASUREMENTS"};
    for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
        if (strcasecmp(s, kw[i]) == 0)
            return true;
    return false;
}

/* An identifier (unquoted and not reserved, or quoted): heap copy. */
static char *take_ident(struct parser *p, const char *what)
{
    if ((p->cur.kind == TK_IDENT && !reserved(p->cur.val)) ||
        p->cur.kind == TK_QIDENT) {
        char *s = p->cur.val;
        p->cur.val = NULL;
        next(p);
        return s;
    }
    expected(p, what);
    return NULL;
}

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
        fail(p, "query too complex: more than %u expression nodes",
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
    if (is_kw(p, "AND"))
        return IQL_OP_AND;
    if (is_kw(p, "OR"))
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
    next(p); /* ( */
    if (p->cur.kind == TK_RPAREN) {
        next(p);
        e->span.end = p->cur.start;
        return e;
    }
    for (;;) {
        struct iql_expr *a = NULL;
        char *re;
        if (p->cur.kind == TK_OP && p->cur.op == IQL_OP_MUL) {
            a = expr_new(p, IQL_E_WILDCARD, p->cur.start);
            next(p);
        } else if ((re = take_regex(p)) != NULL) {
            a = expr_new(p, IQL_E_REGEX, p->cur.start);
            if (a)
                a->s = re;
            else
                free(re);
            next(p);
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
            next(p);
            continue;
        }
        if (!expect_tok(p, TK_RPAREN, ")")) {
            expr_free(e);
            return NULL;
        }
        break;
    }
    e->span.end = p->cur.start;
    return e;
}

static struct iql_expr *parse_unary(struct parser *p)
{
    size_t start = p->cur.start;
    struct iql_expr *e = NULL;
    switch (p->cur.kind) {
    case TK_LPAREN: {
        next(p);
        struct iql_expr *in = parse_expr(p, 1);
        if (!in)
            return NULL;
        if (!expect_tok(p, TK_RPAREN, ")")) {
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
            next(p);
            break;
        }
        if (p->pos < p->len) {
            size_t save = p->pos;
            skip_space(p);
            bool call = p->pos < p->len && p->t[p->pos] == '(';
            p->pos = save;
            if (call) {
                char *name = p->cur.val;
                p->cur.val = NULL;
                next(p);
                return parse_call(p, name, start);
            }
        }
        if (reserved(p->cur.val)) {
            expected(p, "identifier, string, number, bool");
            return NULL;
        }
        /* fall through */
    case TK_QIDENT:
        e = expr_new(p, IQL_E_IDENT, start);
        if (!e)
            return NULL;
        e->s = p->cur.val;
        p->cur.val = NULL;
        next(p);
        if (p->cur.kind == TK_DCOLON) {
            next(p);
            if (p->cur.kind != TK_IDENT) {
                expected(p, "field, tag, integer, float, string, boolean");
                expr_free(e);
                return NULL;
            }
            e->ident_type = p->cur.val;
            p->cur.val = NULL;
            next(p);
        }
        break;
    case TK_STRING:
        e = expr_new(p, IQL_E_STRING, start);
        if (!e)
            return NULL;
        e->s = p->cur.val;
        p->cur.val = NULL;
        next(p);
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
        next(p);
        break;
    case TK_PARAM:
        e = expr_new(p, IQL_E_PARAM, start);
        if (!e)
            return NULL;
        e->s = p->cur.val;
        p->cur.val = NULL;
        next(p);
        break;
    case TK_OP:
        if (p->cur.op == IQL_OP_SUB || p->cur.op == IQL_OP_ADD) {
            enum iql_op op = p->cur.op;
            next(p);
            if (++p->depth > INFLUXQL_MAX_DEPTH) {
                fail(p, "query too deeply nested: more than %u levels",
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
        expected(p, "identifier, string, number, bool");
        return NULL;
    }
    if (e)
        e->span.end = p->cur.start;
    return e;
}

static struct iql_expr *parse_expr(struct parser *p, int minprec)
{
    if (++p->depth > INFLUXQL_MAX_DEPTH) {
        fail(p, "query too deeply nested: more than %u levels",
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
        next(p);
        struct iql_expr *rhs = NULL;
        char *re = NULL;
        if ((op == IQL_OP_EQREGEX || op == IQL_OP_NEQREGEX) &&
            (re = take_regex(p)) != NULL) {
            rhs = expr_new(p, IQL_E_REGEX, p->cur.start);
            if (rhs) {
                rhs->s = re;
                next(p);
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
    if (!accept_kw(p, kw))
        return true;
    if (p->cur.kind != TK_INTEGER) {
        expected(p, "integer");
        return false;
    }
    if (p->cur.num > 9e18) {
        fail(p, "%s value too large", kw);
        return false;
    }
    *out = (int64_t)p->cur.num;
    next(p);
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
                fail(p, "query too deeply nested: more than %u levels",
                     INFLUXQL_MAX_DEPTH);
                return false;
            }
            next(p);
            struct iql_stmt *sub = xcalloc(1, sizeof(*sub));
            sub->limit = sub->offset = sub->slimit = sub->soffset = -1;
            sub->span.start = p->cur.start;
            st->sources = xrealloc(st->sources,
                                   (st->nsources + 1) * sizeof(*st->sources));
            struct iql_source *s = &st->sources[st->nsources++];
            memset(s, 0, sizeof(*s));
            s->sub = sub;
            if (!expect_kw(p, "SELECT") || !parse_select(p, sub))
                return false;
            sub->span.end = p->cur.start;
            if (!expect_tok(p, TK_RPAREN, ")"))
                return false;
            p->depth--;
            if (p->cur.kind != TK_COMMA)
                return true;
            next(p);
            continue;
        }
        st->sources =
            xrealloc(st->sources, (st->nsources + 1) * sizeof(*st->sources));
        struct iql_source *s = &st->sources[st->nsources++];
        memset(s, 0, sizeof(*s));
        char *parts[3] = {NULL, NULL, NULL};
        size_t np = 0;
        for (;;) {
            char *re = take_regex(p);
            if (re) {
                s->regex = re;
                next(p);
                break;
            }
            if (p->failed) /* an unterminated /re/ after "db." */
                goto bad;
            if (np > 0 && p->cur.kind == TK_DOT) { /* db..m: default rp */
                parts[np++] = NULL;
            } else {
                char *id = take_ident(p, "identifier");
                if (!id)
                    goto bad;
                parts[np++] = id;
            }
            if (p->cur.kind != TK_DOT || np == 3)
                break;
            next(p);
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
        next(p);
        continue;
bad:
        for (size_t i = 0; i < np; i++)
            free(parts[i]);
        return false;
    }
}

static bool parse_on(struct parser *p, struct iql_stmt *st)
{
    if (!accept_kw(p, "ON"))
        return true;
    st->on_db = take_ident(p, "identifier");
    return st->on_db != NULL;
}

static bool parse_where(struct parser *p, struct iql_stmt *st)
{
    if (!accept_kw(p, "WHERE"))
        return true;
    st->where = parse_expr(p, 1);
    return st->where != NULL;
}

static bool parse_group_by(struct parser *p, struct iql_stmt *st)
{
    st->group_insert = p->cur.start;
    st->group_span.start = st->group_span.end = p->cur.start;
    if (!is_kw(p, "GROUP"))
        return true;
    next(p);
    if (!expect_kw(p, "BY"))
        return false;
    for (;;) {
        char *re;
        if (p->cur.kind == TK_OP && p->cur.op == IQL_OP_MUL) {
            st->group_star = true;
            next(p);
        } else if ((re = take_regex(p)) != NULL) {
            free(re);
            st->group_regex = true;
            next(p);
        } else if (p->failed) {
            return false;
        } else if (is_kw(p, "time")) {
            next(p);
            if (!expect_tok(p, TK_LPAREN, "("))
                return false;
            if (p->cur.kind != TK_DURATION) {
                expected(p, "duration");
                return false;
            }
            if (p->cur.dur_ns <= 0) {
                /* influxd's words; a zero interval has no buckets */
                fail(p, "time dimension must have a positive duration");
                return false;
            }
            st->group_time = true;
            st->group_interval_ns = p->cur.dur_ns;
            next(p);
            if (p->cur.kind == TK_COMMA) {
                next(p);
                bool neg = false;
                if (p->cur.kind == TK_OP && p->cur.op == IQL_OP_SUB) {
                    neg = true;
                    next(p);
                }
                if (p->cur.kind != TK_DURATION) {
                    expected(p, "duration");
                    return false;
                }
                st->group_offset_ns = neg ? -p->cur.dur_ns : p->cur.dur_ns;
                next(p);
            }
            if (!expect_tok(p, TK_RPAREN, ")"))
                return false;
        } else {
            char *id = take_ident(p, "identifier, time(), * or regex");
            if (!id)
                return false;
            st->group_tags = xrealloc(st->group_tags,
                                      (st->ngroup_tags + 1) * sizeof(char *));
            st->group_tags[st->ngroup_tags++] = id;
        }
        st->group_span.end = p->cur.start;
        if (p->cur.kind != TK_COMMA)
            break;
        next(p);
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
    if (!is_kw(p, "fill"))
        return true;
    next(p);
    if (!expect_tok(p, TK_LPAREN, "("))
        return false;
    bool neg = false;
    if (p->cur.kind == TK_OP && p->cur.op == IQL_OP_SUB) {
        neg = true;
        next(p);
    }
    if (p->cur.kind == TK_NUMBER || p->cur.kind == TK_INTEGER) {
        st->fill = IQL_FILL_NUMBER;
        st->fill_value = neg ? -p->cur.num : p->cur.num;
    } else if (!neg && is_kw(p, "null")) {
        st->fill = IQL_FILL_NULL;
    } else if (!neg && is_kw(p, "none")) {
        st->fill = IQL_FILL_NONE;
    } else if (!neg && is_kw(p, "previous")) {
        st->fill = IQL_FILL_PREVIOUS;
    } else if (!neg && is_kw(p, "linear")) {
        st->fill = IQL_FILL_LINEAR;
    } else {
        expected(p, "null, none, previous, linear or a number");
        return false;
    }
    next(p);
    st->fill_span.end = p->cur.end;
    return expect_tok(p, TK_RPAREN, ")");
}

static bool parse_order(struct parser *p, struct iql_stmt *st)
{
    if (!is_kw(p, "ORDER"))
        return true;
    next(p);
    if (!expect_kw(p, "BY"))
        return false;
    if (!is_kw(p, "time")) {
        fail(p, "error parsing query: only ORDER BY time supported at this "
                "time");
        return false;
    }
    next(p);
    if (accept_kw(p, "DESC"))
        st->order_desc = true;
    else
        accept_kw(p, "ASC");
    return true;
}

static bool parse_tz(struct parser *p, struct iql_stmt *st)
{
    if (!is_kw(p, "tz"))
        return true;
    next(p);
    if (!expect_tok(p, TK_LPAREN, "("))
        return false;
    if (p->cur.kind != TK_STRING) {
        expected(p, "string");
        return false;
    }
    st->tz = p->cur.val;
    p->cur.val = NULL;
    next(p);
    return expect_tok(p, TK_RPAREN, ")");
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
            next(p);
            if (f.expr && p->cur.kind == TK_DCOLON) {
                next(p);
                if (p->cur.kind != TK_IDENT) {
                    expected(p, "field or tag");
                    expr_free(f.expr);
                    return false;
                }
                f.expr->ident_type = p->cur.val;
                p->cur.val = NULL;
                next(p);
            }
        } else {
            f.expr = parse_expr(p, 1);
        }
        if (!f.expr)
            return false;
        f.expr->span.end = p->cur.start;
        if (accept_kw(p, "AS")) {
            f.alias = take_ident(p, "identifier");
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
        next(p);
    }
    st->fields_span.end = p->cur.start;
    while (st->fields_span.end > st->fields_span.start &&
           isspace((unsigned char)p->t[st->fields_span.end - 1]))
        st->fields_span.end--;
    if (is_kw(p, "INTO")) {
        fail(p, "SELECT INTO is not supported by the lagwatch proxy (it "
                "writes; use /write)");
        return false;
    }
    if (!expect_kw(p, "FROM"))
        return false;
    if (!parse_sources(p, st) || !parse_where(p, st) ||
        !parse_group_by(p, st) || !parse_fill(p, st) || !parse_order(p, st) ||
        !parse_limits(p, st, true) || !parse_tz(p, st))
        return false;
    return true;
}

static bool parse_show_tag_values_key(struct parser *p, struct iql_stmt *st)
{
    if (!expect_kw(p, "WITH") || !expect_kw(p, "KEY"))
        return false;
    if (accept_kw(p, "IN")) {
        st->with_key_op = IQL_OP_NONE;
        if (!expect_tok(p, TK_LPAREN, "("))
            return false;
        for (;;) {
            char *id = take_ident(p, "identifier");
            if (!id)
                return false;
            st->keys = xrealloc(st->keys, (st->nkeys + 1) * sizeof(char *));
            st->keys[st->nkeys++] = id;
            if (p->cur.kind != TK_COMMA)
                break;
            next(p);
        }
        return expect_tok(p, TK_RPAREN, ")");
    }
    if (p->cur.kind != TK_OP ||
        (p->cur.op != IQL_OP_EQ && p->cur.op != IQL_OP_NEQ &&
         p->cur.op != IQL_OP_EQREGEX && p->cur.op != IQL_OP_NEQREGEX)) {
        expected(p, "=, !=, =~, !~ or IN");
        return false;
    }
    st->with_key_op = p->cur.op;
    next(p);
    char *v;
    if (st->with_key_op == IQL_OP_EQREGEX ||
        st->with_key_op == IQL_OP_NEQREGEX) {
        v = take_regex(p);
        if (!v) {
            if (!p->failed)
                expected(p, "regex");
            return false;
        }
        next(p);
    } else {
        v = take_ident(p, "identifier");
        if (!v)
            return false;
    }
    st->keys = xrealloc(st->keys, sizeof(char *));
    st->keys[st->nkeys++] = v;
    return true;
}

static bool parse_show(struct parser *p, struct iql_stmt *st)
{
    if (accept_kw(p, "DATABASES")) {
        st->kind = IQL_SHOW_DATABASES;
        return true;
    }
    if (accept_kw(p, "RETENTION")) {
        st->kind = IQL_SHOW_RETENTION_POLICIES;
        return expect_kw(p, "POLICIES") && parse_on(p, st);
    }
    if (accept_kw(p, "MEASUREMENTS")) {
        st->kind = IQL_SHOW_MEASUREMENTS;
        if (!parse_on(p, st))
            return false;
        if (accept_kw(p, "WITH")) {
            if (!expect_kw(p, "MEASUREMENT"))
                return false;
            if (p->cur.kind != TK_OP ||
                (p->cur.op != IQL_OP_EQ && p->cur.op != IQL_OP_EQREGEX)) {
                expected(p, "= or =~");
                return false;
            }
            st->with_meas_op = p->cur.op;
            next(p);
            if (st->with_meas_op == IQL_OP_EQREGEX) {
                st->with_meas = take_regex(p);
                if (!st->with_meas) {
                    if (!p->failed)
                        expected(p, "regex");
                    return false;
                }
                next(p);
            } else if (!(st->with_meas = take_ident(p, "identifier"))) {
                return false;
            }
        }
        return parse_where(p, st) && parse_limits(p, st, false);
    }
    if (accept_kw(p, "TAG")) {
        if (accept_kw(p, "KEYS"))
            st->kind = IQL_SHOW_TAG_KEYS;
        else if (accept_kw(p, "VALUES"))
            st->kind = IQL_SHOW_TAG_VALUES;
        else {
            expected(p, "KEYS or VALUES");
            return false;
        }
        if (!parse_on(p, st))
            return false;
        if (accept_kw(p, "FROM") && !parse_sources(p, st))
            return false;
        if (st->kind == IQL_SHOW_TAG_VALUES &&
            !parse_show_tag_values_key(p, st))
            return false;
        return parse_where(p, st) && parse_limits(p, st, false);
    }
    if (accept_kw(p, "FIELD")) {
        st->kind = IQL_SHOW_FIELD_KEYS;
        if (!expect_kw(p, "KEYS") || !parse_on(p, st))
            return false;
        if (accept_kw(p, "FROM") && !parse_sources(p, st))
            return false;
        return parse_limits(p, st, false);
    }
    if (accept_kw(p, "SERIES")) {
        st->kind = IQL_SHOW_SERIES;
        if (!parse_on(p, st))
            return false;
        if (accept_kw(p, "FROM") && !parse_sources(p, st))
            return false;
        return parse_where(p, st) && parse_limits(p, st, false);
    }
    char found[80];
    tok_text(p, found, sizeof(found));
    fail(p,
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
        fail(&p, "query too long: %zu bytes, at most %u", len,
             INFLUXQL_MAX_TEXT);
        goto out;
    }
    if (memchr(text, '\0', len)) {
        fail(&p, "query contains a NUL byte");
        goto out;
    }
    next(&p);
    for (;;) {
        while (p.cur.kind == TK_SEMI)
            next(&p);
        if (p.cur.kind == TK_EOF)
            break;
        if (q->nstmts == INFLUXQL_MAX_STATEMENTS) {
            fail(&p, "too many statements: at most %u",
                 INFLUXQL_MAX_STATEMENTS);
            goto out;
        }
        q->stmts = xrealloc(q->stmts, (q->nstmts + 1) * sizeof(*q->stmts));
        struct iql_stmt *st = &q->stmts[q->nstmts++];
        memset(st, 0, sizeof(*st));
        st->limit = st->offset = st->slimit = st->soffset = -1;
        st->span.start = p.cur.start;
        bool ok;
        if (accept_kw(&p, "SELECT")) {
            ok = parse_select(&p, st);
        } else if (accept_kw(&p, "SHOW")) {
            ok = parse_show(&p, st);
        } else if (p.cur.kind == TK_IDENT &&
                   (is_kw(&p, "DROP") || is_kw(&p, "CREATE") ||
                    is_kw(&p, "DELETE") || is_kw(&p, "ALTER") ||
                    is_kw(&p, "GRANT") || is_kw(&p, "REVOKE") ||
                    is_kw(&p, "KILL") || is_kw(&p, "EXPLAIN") ||
                    is_kw(&p, "SET"))) {
            fail(&p,
                 "%s statements are not supported by the lagwatch proxy "
                 "(it answers SELECT and SHOW; run them on each node; "
                 "lagwatch(8), PROXY)",
                 p.cur.val);
            ok = false;
        } else {
            expected(&p, "SELECT, SHOW");
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
            expected(&p, ";");
            goto out;
        }
        if (p.cur.kind == TK_ILLEGAL)
            goto out;
    }
    if (q->nstmts == 0)
        fail(&p, "error parsing query: found EOF, expected SELECT, SHOW at "
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
