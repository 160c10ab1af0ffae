/*
 * influxql_int: what the InfluxQL lexer (influxql_lex.c) and parser
 * (influxql.c) share; private to those two files. The lexer turns the
 * statement text into tokens one at a time (iql_next() fills p->cur); the
 * helpers below are the parser's vocabulary for reading them. Errors are
 * sticky: after iql_fail() every helper is a no-op and p->failed holds.
 */
#ifndef AGENT_PROXY_INFLUXQL_INT_H
#define AGENT_PROXY_INFLUXQL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/influxql.h"

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

void iql_fail(struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void iql_tok_text(const struct parser *p, char *out, size_t n);
void iql_expected(struct parser *p, const char *what);
void iql_skip_space(struct parser *p);
void iql_next(struct parser *p);
char *iql_take_regex(struct parser *p);
bool iql_is_kw(const struct parser *p, const char *kw);
bool iql_accept_kw(struct parser *p, const char *kw);
bool iql_expect_kw(struct parser *p, const char *kw);
bool iql_expect_tok(struct parser *p, enum tok k, const char *what);
bool iql_reserved(const char *s);
char *iql_take_ident(struct parser *p, const char *what);

#endif
