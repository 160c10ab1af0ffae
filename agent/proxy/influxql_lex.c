/*
 * influxql_lex: the InfluxQL tokens (identifiers, quoted names, strings,
 * numbers, durations, parameters, operators, regexes) and the parser's
 * helpers for reading them; the grammar is in influxql.c.
 */
#include "proxy/influxql_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/xalloc.h"

/* ------------------------------------------------------------------ */
/* Errors                                                               */

void iql_fail(struct parser *p, const char *fmt, ...)
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
void iql_tok_text(const struct parser *p, char *out, size_t n)
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
void iql_expected(struct parser *p, const char *what)
{
    char found[80];
    iql_tok_text(p, found, sizeof(found));
    unsigned line = 1, col = 1;
    for (size_t i = 0; i < p->cur.start && i < p->len; i++) {
        if (p->t[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    iql_fail(p,
             "error parsing query: found %s, expected %s at line %u, char %u",
             found, what, line, col);
}

/* ------------------------------------------------------------------ */
/* Lexer                                                                */

void iql_skip_space(struct parser *p)
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

void iql_next(struct parser *p)
{
    struct token *tk = &p->cur;
    free(tk->val);
    memset(tk, 0, sizeof(*tk));
    iql_skip_space(p);
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
char *iql_take_regex(struct parser *p)
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
        iql_fail(p, "regular expression longer than %u bytes",
                 INFLUXQL_MAX_REGEX);
        return NULL;
    }
    if (!closed) {
        buf_release(&b);
        iql_fail(p,
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

bool iql_is_kw(const struct parser *p, const char *kw)
{
    return p->cur.kind == TK_IDENT && strcasecmp(p->cur.val, kw) == 0;
}

bool iql_accept_kw(struct parser *p, const char *kw)
{
    if (!iql_is_kw(p, kw))
        return false;
    iql_next(p);
    return true;
}

bool iql_expect_kw(struct parser *p, const char *kw)
{
    if (iql_accept_kw(p, kw))
        return true;
    iql_expected(p, kw);
    return false;
}

bool iql_expect_tok(struct parser *p, enum tok k, const char *what)
{
    if (p->cur.kind == k) {
        iql_next(p);
        return true;
    }
    iql_expected(p, what);
    return false;
}

/* Words that cannot be unquoted identifiers (influxql's keyword list, the
 * ones that matter where an identifier may stand). */
bool iql_reserved(const char *s)
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
char *iql_take_ident(struct parser *p, const char *what)
{
    if ((p->cur.kind == TK_IDENT && !iql_reserved(p->cur.val)) ||
        p->cur.kind == TK_QIDENT) {
        char *s = p->cur.val;
        p->cur.val = NULL;
        iql_next(p);
        return s;
    }
    iql_expected(p, what);
    return NULL;
}
